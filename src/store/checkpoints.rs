//! Checkpoints of the store's log on a thread of their own while a long
//! write goes on (a pull). Copying the log into the database, and the
//! fsync that follows, took a fifth of a 100,000-finding pull, the writer
//! waiting on the disk.

use super::{BUSY_TIMEOUT, Store};
use anyhow::Result;
use rusqlite::Connection;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// The log's size past which the writer checkpoints once itself, between
/// two transactions, so that the log starts again from its beginning
/// instead of growing with the pull.
const LOG_LIMIT_BYTES: i64 = 256 << 20;

/// Checkpoints the log on its own thread until dropped; the writer's own
/// automatic checkpoints are off meanwhile.
pub(super) struct BackgroundCheckpoints<'a> {
    writer: &'a Connection,
    autocheckpoint: i64,
    page_size: i64,
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Held by whichever connection checkpoints.
    checkpointing: Mutex<()>,
    /// Frames in the log at the last checkpoint.
    log_frames: AtomicI64,
}

impl Store {
    /// Checkpoints on another thread, with its own connection, until the
    /// guard is dropped. A store without a file keeps its own checkpoints.
    pub(super) fn background_checkpoints(&self) -> Result<BackgroundCheckpoints<'_>> {
        let autocheckpoint: i64 =
            self.conn
                .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?;
        let page_size: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        let shared = Arc::new(Shared::default());
        let mut guard = BackgroundCheckpoints {
            writer: &self.conn,
            autocheckpoint,
            page_size,
            wake: None,
            thread: None,
            shared: shared.clone(),
        };
        let Some(file) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(guard);
        };
        let conn = Connection::open(file)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let (wake, woken) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("sift-checkpoints".into())
            .spawn(move || checkpoint_when_woken(&conn, &woken, &shared))?;
        guard.wake = Some(wake);
        guard.thread = Some(thread);
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(guard)
    }
}

impl BackgroundCheckpoints<'_> {
    /// After each commit: the log is checkpointed while the writer goes
    /// on; once it has grown past `LOG_LIMIT_BYTES`, the writer checkpoints
    /// it here, so that its next transaction starts the log again.
    pub(super) fn committed(&self) -> Result<()> {
        let Some(wake) = &self.wake else {
            return Ok(());
        };
        let frames = self.shared.log_frames.load(Ordering::Relaxed);
        if frames * self.page_size > LOG_LIMIT_BYTES {
            let _one = self
                .shared
                .checkpointing
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let frames = checkpoint(self.writer)?;
            self.shared.log_frames.store(frames, Ordering::Relaxed);
        } else {
            // Already awake: it checkpoints this commit too.
            let _ = wake.try_send(());
        }
        Ok(())
    }
}

/// Checkpoint threads making their last checkpoint after the write they
/// served is over.
static FINISHING: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits for the checkpoint threads still making their last checkpoint,
/// before the process ends. One cut short left its log behind, a few
/// hundred megabytes after a large pull, which the next process to open
/// the store read whole and copied again: two seconds at the start of the
/// command after a 100,000-finding `sift sync`.
pub fn wait_for_checkpoints() {
    let threads = std::mem::take(&mut *FINISHING.lock().unwrap_or_else(|e| e.into_inner()));
    for thread in threads {
        if thread.join().is_err() {
            tracing::warn!("the store's checkpoint thread panicked");
        }
    }
}

impl Drop for BackgroundCheckpoints<'_> {
    /// The thread makes its last checkpoint and ends on its own, the
    /// writer's data committed already: the writer does not wait for it,
    /// the process does before it ends (`wait_for_checkpoints`).
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let mut finishing = FINISHING.lock().unwrap_or_else(|e| e.into_inner());
            finishing.retain(|t| !t.is_finished());
            finishing.push(thread);
        }
        if let Err(e) = self
            .writer
            .pragma_update(None, "wal_autocheckpoint", self.autocheckpoint)
        {
            tracing::warn!("cannot give the store its own checkpoints back: {e}");
        }
    }
}

fn checkpoint_when_woken(conn: &Connection, woken: &mpsc::Receiver<()>, shared: &Shared) {
    while woken.recv().is_ok() {
        let _one = shared
            .checkpointing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match checkpoint(conn) {
            Ok(frames) => shared.log_frames.store(frames, Ordering::Relaxed),
            Err(e) => tracing::warn!("cannot checkpoint the store's log: {e:#}"),
        }
    }
}

/// A checkpoint that waits for no one: the frames in the log.
fn checkpoint(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn autocheckpoint(store: &Store) -> i64 {
        store
            .conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn the_thread_checkpoints_the_log_and_the_writer_gets_its_own_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = autocheckpoint(&store);
        let file_len = || std::fs::metadata(store.path()).unwrap().len();
        let len_before = file_len();
        {
            let guard = store.background_checkpoints().unwrap();
            assert_eq!(autocheckpoint(&store), 0);
            store
                .conn
                .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (zeroblob(100000));")
                .unwrap();
            guard.committed().unwrap();
        }
        assert_eq!(autocheckpoint(&store), before);
        // Only a checkpoint writes the database file itself; the process
        // waits for the thread's last one.
        wait_for_checkpoints();
        assert!(file_len() >= len_before + 100_000, "no checkpoint");
    }
}
