//! The local SQLite store: the embedded backend's data, and later the cache
//! of a remote backend.

/// The next change number, as SQL: every statement that inserts a finding
/// or changes one of its listed columns sets `change_seq` to it, so that
/// `sift serve`'s change cursor and the index snapshot see the row again
/// (migrations 9 and 11). A statement computes it once: each changes one
/// row.
macro_rules! next_change {
    () => {
        "(SELECT coalesce(max(change_seq), 0) + 1 FROM findings)"
    };
}

/// What a statement that changes a finding's content (anything but its
/// triage) sets beside it: the next change number, and the content changed
/// with it (migration 12).
macro_rules! content_changed {
    () => {
        concat!("change_seq = ", next_change!(), ", content_seq = 0")
    };
}

/// What a statement that changes only a finding's triage sets beside it:
/// the next change number, and where its content last changed, kept
/// (migration 12; SQLite reads the row's values before the change).
macro_rules! triage_changed {
    () => {
        concat!(
            "change_seq = ",
            next_change!(),
            ", content_seq = CASE content_seq WHEN 0 THEN change_seq ELSE content_seq END"
        )
    };
}

mod assistant;
mod checkpoints;
mod copy;
mod decide;
mod digest;
mod findings;
mod fixes;
mod identity;
mod index_snapshot;
mod listed;
mod listing;
mod memories;
mod outbox;
mod readonly;
mod suggestions;
mod triage;

pub use assistant::{Answer, AnswerKind, ComponentTag, Example, Judgement};
pub use checkpoints::wait_for_checkpoints;
pub use copy::{COPY_FILE_PREFIX, CopyKept, remove_stale_copies};
/// Platform records as a pull brings them (`{"findings": [...]}`), one
/// scan of acme/web main: for other modules' tests.
#[cfg(test)]
pub(crate) use findings::pull_tests::pulled;
pub use findings::{
    ImportSummary, PullKept, PulledPage, RENDERED_FINDING_BYTES, ReadFindings, RenderedChunk,
    ScanToStore, by_project,
};
pub use fixes::{FixAnswer, FixOutcome, FixRecord};
pub use listed::StoredFinding;
pub use listing::{Change, ChangedRow, ListingRow, ProjectRow};
pub use outbox::{Batch, Pending, PendingMemoryChange};
pub use suggestions::Suggestion;
// Plain data, kept in the domain; named here too for code that knows them
// as the store's.
pub use crate::domain::{Before, Decided, RowUpdate, Undone};
pub use triage::Applied;

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Each entry upgrades the schema by one version (`PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_outbox.sql"),
    include_str!("migrations/0003_memory_outbox.sql"),
    include_str!("migrations/0004_finding_evidence.sql"),
    include_str!("migrations/0005_changes.sql"),
    include_str!("migrations/0006_assistant.sql"),
    include_str!("migrations/0007_assistant_more.sql"),
    include_str!("migrations/0008_change_seq.sql"),
    include_str!("migrations/0009_numbered_by_the_import.sql"),
    include_str!("migrations/0010_scans_by_project.sql"),
    include_str!("migrations/0011_cheaper_row_changes.sql"),
    include_str!("migrations/0012_content_seq.sql"),
];

pub const DB_FILE: &str = "sift.db";

/// SQLite's page cache during a large write, in KiB (its default is 2 MB).
/// A transaction that touches more pages than the cache holds writes them
/// to the WAL again and again and reads them back: an import of 3,000
/// findings made 40 writes and 20 reads a finding with the default.
const WRITE_CACHE_KIB: i64 = 64 * 1024;

/// Gives the memory of a large write's page cache back when dropped, and
/// its statement journals back to a file.
struct WriteCache<'a> {
    conn: &'a Connection,
    before: i64,
    temp_store: Option<i64>,
}

impl Drop for WriteCache<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.pragma_update(None, "cache_size", self.before) {
            tracing::warn!("cannot shrink the store's page cache again: {e}");
        }
        if let Some(before) = self.temp_store
            && let Err(e) = self.conn.pragma_update(None, "temp_store", before)
        {
            tracing::warn!("cannot put the store's temporary files back: {e}");
        }
    }
}

/// How much of the store's file a long read maps into memory (SQLite's
/// `mmap_size`): each page it touches is read from the kernel's page cache
/// in place, not copied in by a system call. The mapped pages are that
/// cache, shared, and count in the process's resident size.
const READ_MAP_BYTES: i64 = 1 << 30;

/// Reads through the mapped file until dropped (see [`READ_MAP_BYTES`]).
struct MappedReads<'a> {
    conn: &'a Connection,
}

impl Drop for MappedReads<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.pragma_update(None, "mmap_size", 0) {
            tracing::warn!("cannot stop mapping the store's file: {e}");
        }
    }
}

/// The store's log, once it starts again, is cut back to this size.
const LOG_KEPT_BYTES: i64 = 64 << 20;

/// A new store's page size.
const PAGE_BYTES: i64 = 16 * 1024;

/// `PRAGMA temp_store` for memory.
const TEMP_STORE_MEMORY: i64 = 2;

/// Prepared statements a connection keeps.
const STATEMENT_CACHE: usize = 64;

/// How long a write waits for another process's write to finish.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        let mut store = Store { conn, path };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// A store that lives in memory only, for tests.
    pub fn in_memory() -> Result<Store> {
        let mut store = Store {
            conn: Connection::open_in_memory()?,
            path: PathBuf::from(":memory:"),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// Moves whenever findings change (an import, a triage), whoever
    /// changed them.
    pub fn findings_version(&self) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT value FROM meta WHERE key = 'findings_version'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Tells other consoles on this store that something changed.
    fn bump_version(&self) -> Result<()> {
        bump_findings_version(&self.conn).map(|_| ())
    }
}

/// The findings version as a transaction sees it.
fn current_findings_version(tx: &Connection) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT value FROM meta WHERE key = 'findings_version'",
        [],
        |r| r.get(0),
    )?)
}

/// Bumps the findings version inside a transaction that changes findings;
/// returns the new version.
fn bump_findings_version(tx: &Connection) -> Result<i64> {
    Ok(tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'findings_version' RETURNING value",
        [],
        |r| r.get(0),
    )?)
}

impl Store {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `read` of `n` rows in one read transaction, not one (and its locks)
    /// for each statement: the same picture of every row, and most of the
    /// cost of a read by id saved. Inside an open transaction, or for one
    /// row, it runs as it is.
    fn in_snapshot<T>(&self, n: usize, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let snapshot = match self.conn.is_autocommit() && n > 1 {
            true => Some(self.conn.unchecked_transaction()?),
            false => None,
        };
        let found = read()?;
        if let Some(tx) = snapshot {
            tx.finish()?;
        }
        Ok(found)
    }

    /// A page cache that holds a large write, until the guard is dropped
    /// (a console's connection keeps the small default otherwise).
    fn write_cache(&self) -> Result<WriteCache<'_>> {
        let before: i64 = self
            .conn
            .pragma_query_value(None, "cache_size", |r| r.get(0))?;
        self.conn
            .pragma_update(None, "cache_size", -WRITE_CACHE_KIB)?;
        // Each statement with a trigger (every write to `findings`) copies
        // the pages it changes to a statement journal; once one outgrew
        // SQLite's 64 KiB, every later one in the transaction went to a
        // temporary file: a sixth of an import's time in pwrite. In memory
        // it is a copy. Switching drops temporary tables, so it is done
        // only when there are none.
        let temp_store: i64 = self
            .conn
            .pragma_query_value(None, "temp_store", |r| r.get(0))?;
        let no_temp_objects: bool =
            self.conn
                .query_row("SELECT count(*) = 0 FROM sqlite_temp_master", [], |r| {
                    r.get(0)
                })?;
        let temp_store = if temp_store != TEMP_STORE_MEMORY && no_temp_objects {
            self.conn
                .pragma_update(None, "temp_store", TEMP_STORE_MEMORY)?;
            Some(temp_store)
        } else {
            None
        };
        Ok(WriteCache {
            conn: &self.conn,
            before,
            temp_store,
        })
    }

    /// Reads of many findings in an order of their own (an export: every
    /// page of the store, at random) through the mapped file, until the
    /// guard is dropped: a third of their time was copying pages in.
    fn mapped_reads(&self) -> Result<MappedReads<'_>> {
        self.conn.pragma_update(None, "mmap_size", READ_MAP_BYTES)?;
        Ok(MappedReads { conn: &self.conn })
    }

    /// A transaction that will write: it takes the write lock at once,
    /// waiting for other writers up to the busy timeout, instead of
    /// failing at its first write when another process got there first.
    fn write_tx(&self) -> Result<Transaction<'_>> {
        Ok(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?)
    }

    fn configure(&self) -> Result<()> {
        // Writers queue for the lock (see `write_tx`) rather than fail.
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // An import cycles through about twenty statements a finding: with
        // rusqlite's default of 16 kept, each would be parsed again.
        self.conn
            .set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // A new store's pages are 16 KiB, not SQLite's 4: a first pull of
        // 100,000 findings made 220,000 system calls writing 4 KiB log
        // frames and checkpointing them, a fifth of its time. A store
        // that exists keeps its size (a no-op: WAL mode fixes it).
        self.conn.pragma_update(None, "page_size", PAGE_BYTES)?;
        // WAL lets a console read while an import or `sift serve` writes.
        // Two processes opening a new store at once both switch it, and
        // SQLite refuses one at once rather than let them wait on each
        // other: it tries again, as a writer waits for the lock.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match self.conn.pragma_update(None, "journal_mode", "WAL") {
                Err(e)
                    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                switched => break switched.context("cannot switch the store to WAL mode")?,
            }
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A long pull's log grows to a few hundred megabytes between
        // checkpoints (store/checkpoints.rs): cut back when it starts again.
        self.conn
            .pragma_update(None, "journal_size_limit", LOG_KEPT_BYTES)?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            bail!(
                "the store {} was written by a newer sift (schema {version}); upgrade sift",
                self.path.display()
            );
        }
        let began = std::time::Instant::now();
        if version > 0 && version < MIGRATIONS.len() && std::io::stderr().is_terminal() {
            // Every command opens the store before it draws anything: a
            // reviewer would otherwise wait on a silent terminal (17 s at
            // a million findings) and may stop it.
            eprintln!(
                "sift: upgrading the store at {} for this version of sift (once; a large backlog takes a while)",
                crate::text::inert(&self.path.display().to_string())
            );
        }
        let mut upgraded = false;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process opening the store at the same time may have
            // upgraded it while this one waited for the write lock.
            let now: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if now > i {
                continue;
            }
            tx.execute_batch(sql)
                .with_context(|| format!("store migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1)?;
            tx.commit()?;
            upgraded = true;
        }
        // An upgrade may rebuild an index: seconds on a large store, once.
        if upgraded && version > 0 {
            tracing::info!(
                "store {} upgraded from schema {version} to {} in {:.1} s",
                self.path.display(),
                MIGRATIONS.len(),
                began.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::OptionalExtension;
    use time::OffsetDateTime;

    /// A store as version 10 left it: the decided-findings index that
    /// migration 11 replaces, and an update trigger of the kind it drops
    /// (on one column here; version 10's watched every listed column);
    /// without the column migration 12 adds.
    const SCHEMA_10: &str = "
        ALTER TABLE findings DROP COLUMN content_seq;
        DROP INDEX findings_decided;
        CREATE INDEX findings_decided ON findings (project_id, rule_id)
            WHERE triage_state IN ('ignored', 'fixing', 'reviewing');
        CREATE TRIGGER findings_changed AFTER UPDATE OF triage_state ON findings
        WHEN OLD.triage_state IS NOT NEW.triage_state
        BEGIN
            UPDATE findings SET change_seq = (SELECT max(change_seq) FROM findings) + 1
            WHERE id = NEW.id;
        END;
        PRAGMA user_version = 10;";

    #[test]
    fn two_processes_opening_a_new_store_at_once_both_open_it() {
        for _ in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|scope| {
                let opening: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            start.wait();
                            Store::open(dir.path()).map(drop)
                        })
                    })
                    .collect();
                for opened in opening {
                    opened.join().unwrap().unwrap();
                }
            });
        }
    }

    #[test]
    fn two_processes_opening_an_older_store_at_once_both_open_it() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            store.conn.execute_batch(SCHEMA_10).unwrap();
            drop(store);
            let start = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                let opens: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            Store::open(dir.path()).map(|_| ())
                        })
                    })
                    .collect();
                for open in opens {
                    open.join().unwrap().unwrap();
                }
            });
        }
    }

    #[test]
    fn an_upgrade_from_schema_10_keeps_the_findings_and_their_examples() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        crate::demo::seed(&mut store, Some(200), OffsetDateTime::UNIX_EPOCH).unwrap();
        let decided = |store: &Store| -> (i64, String, String) {
            store
                .conn
                .query_row(
                    "SELECT f.id, p.name, r.name FROM findings f
                     JOIN projects p ON p.id = f.project_id JOIN rules r ON r.id = f.rule_id
                     WHERE f.triage_state = 'ignored' ORDER BY f.id LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap()
        };
        let (id, project, rule) = decided(&store);
        // Examples for another finding of the rule: the decided one.
        let other: i64 = store
            .conn
            .query_row(
                "SELECT f.id FROM findings f JOIN rules r ON r.id = f.rule_id
                 WHERE r.name = ?1 AND f.id != ?2 LIMIT 1",
                rusqlite::params![rule, id],
                |r| r.get(0),
            )
            .unwrap();
        let examples = store.decided_examples(&project, &rule, other, 50).unwrap();
        assert!(examples.iter().any(|e| e.finding_id == id), "{examples:?}");
        let count = store.count_findings().unwrap();
        store.conn.execute_batch(SCHEMA_10).unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        let schema = |name: &str| -> Option<String> {
            store
                .conn
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .unwrap()
        };
        assert_eq!(schema("findings_changed"), None, "the trigger is gone");
        let index = schema("findings_decided").unwrap();
        assert!(!index.contains(" IN "), "{index}");
        assert_eq!(store.count_findings().unwrap(), count);
        assert_eq!(decided(&store), (id, project.clone(), rule.clone()));
        let again = store.decided_examples(&project, &rule, other, 50).unwrap();
        assert_eq!(
            again.iter().map(|e| e.finding_id).collect::<Vec<_>>(),
            examples.iter().map(|e| e.finding_id).collect::<Vec<_>>()
        );
    }
}
