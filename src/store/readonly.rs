//! The store opened for reading only, for when it cannot be written: the
//! disk is full, so SQLite cannot even create or grow the WAL's
//! shared-memory file that an ordinary open needs.

use super::{DB_FILE, MIGRATIONS, Store};
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

impl Store {
    /// Opens the existing store in `dir` read-only through SQLite's
    /// `immutable=1`: no lock, no WAL or shared-memory file, no migration,
    /// nothing written. What the WAL holds that is not yet in the database
    /// file is not seen. A store of an older or newer schema is refused.
    ///
    /// The store is attached to an empty in-memory database, which keeps
    /// what SQLite sorts in memory, and makes the connection name no file:
    /// a reader that would open a second connection on the store's file
    /// (which needs the shared-memory file) reads on this one instead.
    pub fn open_read_only_immutable(dir: &Path) -> Result<Store> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            bail!("there is no store {}", path.display());
        }
        let cannot = || format!("cannot open the store {} read-only", path.display());
        let conn = Connection::open_with_flags(
            ":memory:",
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .with_context(cannot)?;
        let uri = format!("file:{}?immutable=1", uri_path(&path)?);
        conn.execute("ATTACH DATABASE ?1 AS store", [&uri])
            .with_context(cannot)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let version: usize =
            conn.pragma_query_value(Some("store"), "user_version", |r| r.get(0))?;
        if version != MIGRATIONS.len() {
            bail!(
                "the store {} has schema {version} and this sift reads schema {}; it cannot \
                 be read without upgrading it",
                path.display(),
                MIGRATIONS.len()
            );
        }
        Ok(Store { conn, path })
    }
}

/// `path` for a `file:` URI: every byte but unreserved ones and `/`
/// percent-encoded, so `?`, `#` and `%` in a directory name stay part of it.
fn uri_path(path: &Path) -> Result<String> {
    let Some(text) = path.to_str() else {
        bail!("the store's path {} is not UTF-8", path.display());
    };
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_for_the_uri() {
        assert_eq!(
            uri_path(Path::new("/tmp/a b?#%/sift.db")).unwrap(),
            "/tmp/a%20b%3F%23%25/sift.db"
        );
    }
}
