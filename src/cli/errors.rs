//! Errors as a reviewer reads them: a full disk said plainly, a reader that
//! went away early not treated as a failure.

use super::Context;
use rusqlite::ffi;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The disk holding the store is full. Said instead of SQLite's error about
/// its WAL or shared-memory file, which names no cause a reviewer knows.
#[derive(Debug, thiserror::Error)]
#[error(
    "the disk holding {} is full (no space left on device); nothing was lost, free some \
     space and run the command again",
    .dir.display()
)]
pub struct DiskFull {
    pub dir: PathBuf,
}

/// True when the error, or one of its causes, says the disk is full: an I/O
/// error "no space left on device" (ENOSPC), SQLite's SQLITE_FULL, or the
/// I/O error SQLite gives when it cannot grow its shared-memory (`-shm`)
/// file next to the WAL, which is what a full disk looks like when a store
/// is opened.
pub fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if cause.is::<DiskFull>() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_disk_full(io);
        }
        if let Some(sql) = cause.downcast_ref::<rusqlite::Error>() {
            return sqlite_disk_full(sql);
        }
        false
    })
}

fn io_disk_full(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::StorageFull || e.raw_os_error() == Some(libc::ENOSPC)
}

fn sqlite_disk_full(e: &rusqlite::Error) -> bool {
    let rusqlite::Error::SqliteFailure(failure, message) = e else {
        return false;
    };
    if failure.code == rusqlite::ErrorCode::DiskFull {
        return true;
    }
    if failure.code != rusqlite::ErrorCode::SystemIoFailure {
        return false;
    }
    // The shared-memory file cannot be opened, grown or mapped.
    let shm = [
        ffi::SQLITE_IOERR_SHMOPEN,
        ffi::SQLITE_IOERR_SHMSIZE,
        ffi::SQLITE_IOERR_SHMMAP,
    ];
    let names_wal_files = message.as_deref().is_some_and(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("-shm") || m.contains("-wal") || m.contains("shared-memory")
    });
    shm.contains(&failure.extended_code) || names_wal_files
}

/// A reader that stopped early (`sift findings | head`) is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                .is_some_and(|k| k == ErrorKind::BrokenPipe)
    })
}

/// A full disk, said plainly, for the store in `dir`.
pub fn disk_full(dir: &Path) -> anyhow::Error {
    DiskFull {
        dir: dir.to_path_buf(),
    }
    .into()
}

/// The error as the reviewer is told it: a full disk (under the store the
/// command was using) in plain words; anything else as it is.
pub fn explain(e: anyhow::Error, ctx: &Context) -> anyhow::Error {
    if e.chain().any(|c| c.is::<DiskFull>()) || !is_disk_full(&e) {
        return e;
    }
    match ctx.store_in_use() {
        Some(dir) => disk_full(&dir),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    fn sqlite(code: i32, message: Option<&str>) -> anyhow::Error {
        let e = rusqlite::Error::SqliteFailure(ffi::Error::new(code), message.map(str::to_string));
        anyhow::Error::new(e).context("cannot switch the store to WAL mode")
    }

    #[test]
    fn a_full_disk_is_recognised_in_every_form() {
        assert!(is_disk_full(&sqlite(ffi::SQLITE_FULL, None)));
        assert!(is_disk_full(&sqlite(
            ffi::SQLITE_FULL,
            Some("database or disk is full")
        )));
        // What opening a store on a full disk gives (seen on a full tmpfs).
        assert!(is_disk_full(&sqlite(
            ffi::SQLITE_IOERR_SHMSIZE,
            Some("disk I/O error")
        )));
        assert!(is_disk_full(&sqlite(ffi::SQLITE_IOERR_SHMOPEN, None)));
        assert!(is_disk_full(&sqlite(ffi::SQLITE_IOERR_SHMMAP, None)));
        assert!(is_disk_full(&sqlite(
            ffi::SQLITE_IOERR,
            Some("cannot write /data/sift.db-wal")
        )));
        let io = std::io::Error::from_raw_os_error(28);
        assert!(is_disk_full(
            &anyhow::Error::new(io).context("cannot write the findings")
        ));
        let io = std::io::Error::from(ErrorKind::StorageFull);
        assert!(is_disk_full(&anyhow::Error::new(io)));
        let said = disk_full(Path::new("/srv/sift"));
        assert!(is_disk_full(&said));
        assert_eq!(
            said.to_string(),
            "the disk holding /srv/sift is full (no space left on device); nothing was lost, \
             free some space and run the command again"
        );
    }

    #[test]
    fn other_errors_are_not_a_full_disk() {
        assert!(!is_disk_full(&sqlite(
            ffi::SQLITE_IOERR,
            Some("disk I/O error")
        )));
        assert!(!is_disk_full(&sqlite(ffi::SQLITE_IOERR_SHMLOCK, None)));
        assert!(!is_disk_full(&sqlite(ffi::SQLITE_NOTADB, None)));
        assert!(!is_disk_full(&sqlite(ffi::SQLITE_READONLY, None)));
        assert!(!is_disk_full(&anyhow::Error::new(std::io::Error::from(
            ErrorKind::PermissionDenied
        ))));
        assert!(!is_disk_full(&anyhow::anyhow!("no space left on the form")));
        let wrapped: anyhow::Result<()> =
            Err(std::io::Error::from(ErrorKind::NotFound)).context("cannot read x");
        assert!(!is_disk_full(&wrapped.unwrap_err()));
    }

    #[test]
    fn a_broken_pipe_is_recognised() {
        let e = anyhow::Error::new(std::io::Error::from(ErrorKind::BrokenPipe)).context("writing");
        assert!(is_broken_pipe(&e));
        assert!(!is_broken_pipe(&anyhow::anyhow!("broken pipe")));
    }
}
