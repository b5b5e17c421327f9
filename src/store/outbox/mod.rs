//! The outbox: every change a reviewer makes (a decision, a memory change)
//! is written here first, in a transaction, and stays until the backend
//! acknowledges it. The console shows the store with the changes waiting
//! here applied.
//!
//! One table holds every kind of change, in the order they were made; ids
//! are never reused, so a late acknowledgement can only remove what it
//! sent. A change the backend refused (a 400: sending it again will not
//! help) is kept with the backend's message, not sent again, and does not
//! hold back later changes.
//!
//! When a request leaves, its changes get its key and the time it left. A
//! resend (after a timeout or a crash) carries the same key, so a backend
//! that saw the key answers as it did and changes nothing, even if someone
//! decided the same findings in between. While a request is out, other
//! processes on the store leave its changes alone.

mod decisions;
mod memory;

pub use decisions::{Batch, Pending};
pub(super) use decisions::{Overlay, record_in as record_decisions_in};
pub use memory::PendingMemoryChange;
pub(super) use memory::record_in as record_memory_change_in;

use super::Store;
use anyhow::Result;
use rusqlite::{Transaction, params};
use time::OffsetDateTime;

/// A request that left this long ago without an answer is given up on:
/// another process may send its changes again (longer than any request's
/// time limit).
const IN_FLIGHT_SECS: i64 = 60;

/// The kinds of change the outbox holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Triage,
    Memory,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Triage => "triage",
            Kind::Memory => "memory",
        }
    }
}

/// One change as stored; each kind reads its `subject` and `body`.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub id: i64,
    pub subject: String,
    pub body: String,
    pub actor: String,
    pub created_at: OffsetDateTime,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub rejected: Option<String>,
    pub request_key: Option<String>,
    /// A request carrying it is out now (left less than a minute ago).
    pub in_flight: bool,
}

/// Which rows of a kind to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Which {
    All,
    /// Refused by the backend (conflicts aside).
    Rejected,
    /// Decisions the backend left alone because someone else decided the
    /// finding since: not sent again until the reviewer settles them.
    Conflicted,
    /// Still to be sent: not rejected, not in conflict.
    Waiting,
}

/// A conflict is kept in the decision's body; like a refusal, it stops the
/// decision from being sent (`rejected` holds its sentence).
const IN_CONFLICT: &str = "json_extract(body, '$.conflict') IS NOT NULL";

impl Which {
    fn sql(self) -> String {
        match self {
            Which::All => String::new(),
            Which::Rejected => format!("AND rejected IS NOT NULL AND NOT ({IN_CONFLICT})"),
            Which::Conflicted => format!("AND rejected IS NOT NULL AND {IN_CONFLICT}"),
            Which::Waiting => "AND rejected IS NULL".into(),
        }
    }
}

/// Writes one change inside a transaction; returns its id.
pub(super) fn insert(
    tx: &Transaction,
    kind: Kind,
    subject: &str,
    body: &str,
    actor: &str,
    now: &str,
) -> Result<i64> {
    tx.prepare_cached(
        "INSERT INTO changes (kind, subject, body, actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![kind.as_str(), subject, body, actor, now])?;
    Ok(tx.last_insert_rowid())
}

/// A fresh request key: 128 random bits.
fn new_request_key() -> Result<String> {
    crate::ids::random_hex(16)
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

impl Store {
    /// The changes of a kind, oldest first.
    pub(super) fn change_rows(&self, kind: Kind, which: Which) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, subject, body, actor, created_at, attempts, last_error, rejected,
                    request_key, sent_at
             FROM changes WHERE kind = ?1 {} ORDER BY id",
            which.sql()
        ))?;
        let fresh = now_secs() - IN_FLIGHT_SECS;
        let rows = stmt.query_map([kind.as_str()], |r| {
            Ok(Row {
                id: r.get(0)?,
                subject: r.get(1)?,
                body: r.get(2)?,
                actor: r.get(3)?,
                created_at: crate::wire::timestamp::parse(&r.get::<_, String>(4)?)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                rejected: r.get(7)?,
                request_key: r.get(8)?,
                in_flight: r.get::<_, Option<i64>>(9)?.is_some_and(|at| at > fresh),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many changes of a kind (or of every kind).
    pub(super) fn count_changes(&self, kind: Option<Kind>, which: Which) -> Result<usize> {
        let n: i64 = match kind {
            Some(kind) => self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM changes WHERE kind = ?1 {}",
                    which.sql()
                ))?
                .query_row([kind.as_str()], |r| r.get(0))?,
            None => self
                .conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM changes WHERE 1 {}",
                    which.sql()
                ))?
                .query_row([], |r| r.get(0))?,
        };
        Ok(n as usize)
    }

    /// Marks rows as carried by a request that leaves now: under their
    /// existing key (a resend), or a new one. Only rows still there and not
    /// refused are taken; returns the key and the rows taken.
    pub(super) fn claim(
        &self,
        tx: &Transaction,
        ids: &[i64],
        key: Option<&str>,
    ) -> Result<(String, Vec<i64>)> {
        let key = match key {
            Some(k) => k.to_string(),
            None => new_request_key()?,
        };
        let mut update = tx.prepare_cached(
            "UPDATE changes SET request_key = ?2, sent_at = ?3
             WHERE id = ?1 AND rejected IS NULL AND (request_key IS NULL OR request_key = ?2)",
        )?;
        let now = now_secs();
        let mut taken = Vec::with_capacity(ids.len());
        for &id in ids {
            if update.execute(params![id, key, now])? > 0 {
                taken.push(id);
            }
        }
        Ok((key, taken))
    }

    /// The backend has the changes: they leave the outbox.
    pub fn acknowledge(&self, ids: &[i64]) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM changes WHERE id = ?1")?;
            for &id in ids {
                delete.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Remembers why sending failed, for the status bar and `sift sync`;
    /// the changes may be sent again at once.
    pub fn record_failure(&self, ids: &[i64], error: &str) -> Result<()> {
        self.update_rows(
            ids,
            "UPDATE changes SET attempts = attempts + 1, last_error = ?2, sent_at = NULL
             WHERE id = ?1",
            error,
        )
    }

    /// The backend refused the changes: they stay, with its message, but
    /// are not sent again.
    pub fn mark_rejected(&self, ids: &[i64], message: &str) -> Result<()> {
        self.update_rows(
            ids,
            "UPDATE changes SET attempts = attempts + 1, last_error = ?2, rejected = ?2,
                sent_at = NULL
             WHERE id = ?1",
            message,
        )
    }

    fn update_rows(&self, ids: &[i64], sql: &str, text: &str) -> Result<()> {
        let tx = self.write_tx()?;
        {
            let mut update = tx.prepare_cached(sql)?;
            for &id in ids {
                update.execute(params![id, text])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sends refused changes of a kind again at the next pass (after the
    /// cause was fixed), under a new key; returns how many.
    pub(super) fn retry_rejected_of(&self, kind: Kind) -> Result<usize> {
        Ok(self.conn.execute(
            &format!(
                "UPDATE changes SET rejected = NULL, request_key = NULL
                 WHERE kind = ?1 {}",
                Which::Rejected.sql()
            ),
            [kind.as_str()],
        )?)
    }

    /// Takes back changes not sent yet; returns the ids that were dropped.
    /// A change that a request carried may have reached the backend: it
    /// stays, and the caller answers it with another change.
    pub fn drop_unsent(&self, ids: &[i64]) -> Result<Vec<i64>> {
        let tx = self.write_tx()?;
        let mut dropped = Vec::new();
        {
            let mut delete = tx.prepare_cached(
                "DELETE FROM changes WHERE id = ?1 AND (request_key IS NULL OR rejected IS NOT NULL)",
            )?;
            for &id in ids {
                if delete.execute([id])? > 0 {
                    dropped.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// Which of these changes a request (perhaps another process's) is
    /// carrying now.
    pub fn in_flight(&self, ids: &[i64]) -> Result<Vec<i64>> {
        let fresh = now_secs() - IN_FLIGHT_SECS;
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM changes WHERE id = ?1 AND rejected IS NULL AND sent_at > ?2",
        )?;
        let mut out = Vec::new();
        for &id in ids {
            if stmt.exists(params![id, fresh])? {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Changes (of every kind) not acknowledged yet, rejected ones
    /// included.
    pub fn outbox_len(&self) -> Result<usize> {
        self.count_changes(None, Which::All)
    }

    /// Decisions and memory changes the backend refused.
    pub fn rejected_count(&self) -> Result<usize> {
        self.count_changes(None, Which::Rejected)
    }

    /// Decisions in conflict with a colleague's, waiting for the reviewer.
    pub fn conflict_count(&self) -> Result<usize> {
        self.count_changes(Some(Kind::Triage), Which::Conflicted)
    }

    /// Decisions and memory changes the sync will still send.
    pub fn waiting_count(&self) -> Result<usize> {
        self.count_changes(None, Which::Waiting)
    }

    /// When the backend asked not to be asked again before (Retry-After),
    /// as unix seconds; 0 when it did not.
    pub fn not_before(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'not_before'", [], |r| {
                r.get(0)
            })?)
    }

    /// Remembers the backend's Retry-After for every process on the store.
    pub fn set_not_before(&self, at: i64) -> Result<()> {
        self.conn
            .execute("UPDATE meta SET value = ?1 WHERE key = 'not_before'", [at])?;
        Ok(())
    }
}
