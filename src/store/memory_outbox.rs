//! The memory outbox: creating, editing, deleting and activating memories
//! is written here first and stays until the backend acknowledges it, like
//! decisions (outbox.rs). The console and scripts see the memories with
//! these changes applied.

use super::Store;
use super::memories::{StoredMemory, write_memory};
use crate::domain::{Memory, MemoryChange};
use crate::wire::timestamp;
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, params};
use std::collections::HashSet;
use time::OffsetDateTime;

/// A memory change waiting for the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMemoryChange {
    pub id: i64,
    pub change: MemoryChange,
    pub actor: String,
    pub created_at: OffsetDateTime,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The backend refused it, with this message; it is not sent again.
    pub rejected: Option<String>,
}

impl Store {
    /// Writes a memory change to the outbox; returns its outbox id.
    pub fn record_memory_change(&mut self, change: &MemoryChange, actor: &str) -> Result<i64> {
        let tx = self.conn.transaction()?;
        let id = record_in(&tx, change, actor)?;
        tx.commit()?;
        Ok(id)
    }

    /// Memory changes not acknowledged yet, oldest first, rejected included.
    pub fn memory_changes(&self) -> Result<Vec<PendingMemoryChange>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, op, memory_id, memory, actor, created_at, attempts, last_error, rejected
             FROM memory_outbox ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, u32>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, op, memory_id, memory, actor, created, attempts, last_error, rejected) = row?;
            let memory = || -> Result<Memory> {
                let json = memory.as_deref().unwrap_or("null");
                let stored: StoredMemory = serde_json::from_str(json)
                    .with_context(|| format!("memory change {id} is damaged"))?;
                Ok(stored.into_memory())
            };
            let change = match op.as_str() {
                "create" => MemoryChange::Create(memory()?),
                "update" => MemoryChange::Update(memory()?),
                _ => MemoryChange::Delete(memory_id),
            };
            out.push(PendingMemoryChange {
                id,
                change,
                actor,
                created_at: timestamp::parse(&created).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                attempts,
                last_error,
                rejected,
            });
        }
        Ok(out)
    }

    /// The next change to send: the oldest one not rejected.
    pub fn next_memory_change(&self) -> Result<Option<PendingMemoryChange>> {
        Ok(self
            .memory_changes()?
            .into_iter()
            .find(|c| c.rejected.is_none()))
    }

    /// The memories as the reviewer sees them: the backend's, with the
    /// changes still in the outbox applied; and the ids of those changed.
    pub fn memories_in_view(&self) -> Result<(Vec<Memory>, HashSet<String>)> {
        let mut memories = self.memories()?;
        let mut pending = HashSet::new();
        for c in self.memory_changes()? {
            let id = c.change.memory_id().to_string();
            memories.retain(|m| m.id != id);
            match c.change {
                MemoryChange::Create(m) | MemoryChange::Update(m) => memories.push(m),
                MemoryChange::Delete(_) => {}
            }
            pending.insert(id);
        }
        memories.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok((memories, pending))
    }

    /// The backend has the change. `stored` is the memory as it keeps it
    /// (its id may differ from the local one: later changes follow it).
    pub fn acknowledge_memory_change(
        &mut self,
        outbox_id: i64,
        stored: Option<&Memory>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let row: Option<(String, String)> = tx
            .query_row(
                "SELECT op, memory_id FROM memory_outbox WHERE id = ?1",
                [outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((op, local_id)) = row {
            tx.execute("DELETE FROM memory_outbox WHERE id = ?1", [outbox_id])?;
            match (op.as_str(), stored) {
                ("delete", _) => {
                    tx.execute("DELETE FROM memories WHERE id = ?1", [&local_id])?;
                }
                (_, Some(m)) => {
                    if m.id != local_id {
                        tx.execute("DELETE FROM memories WHERE id = ?1", [&local_id])?;
                        rename_pending(&tx, &local_id, &m.id)?;
                        tx.execute(
                            "INSERT OR REPLACE INTO memory_ids (local_id, backend_id)
                             VALUES (?1, ?2)",
                            params![local_id, m.id],
                        )?;
                    }
                    write_memory(&tx, m)?;
                }
                (_, None) => {}
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The id a memory created here has now: the backend's, once it gave
    /// one, else the local one.
    pub fn memory_id_now(&self, local_id: &str) -> Result<String> {
        let backend: Option<String> = self
            .conn
            .query_row(
                "SELECT backend_id FROM memory_ids WHERE local_id = ?1",
                [local_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(backend.unwrap_or_else(|| local_id.to_string()))
    }

    /// Remembers why sending failed, for the status bar and `sift sync`.
    pub fn record_memory_failure(&mut self, outbox_id: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE memory_outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![outbox_id, error],
        )?;
        Ok(())
    }

    /// The backend refused the change: it stays, with its message, but is
    /// not sent again.
    pub fn mark_memory_rejected(&mut self, outbox_id: i64, message: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE memory_outbox SET attempts = attempts + 1, last_error = ?2, rejected = ?2
             WHERE id = ?1",
            params![outbox_id, message],
        )?;
        Ok(())
    }

    /// Memory changes the sync will still send.
    pub fn memory_changes_waiting(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM memory_outbox WHERE rejected IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Memory changes the backend refused.
    pub fn memory_changes_rejected(&self) -> Result<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM memory_outbox WHERE rejected IS NOT NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Sends rejected memory changes again at the next pass.
    pub fn retry_rejected_memory_changes(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE memory_outbox SET rejected = NULL WHERE rejected IS NOT NULL",
            [],
        )?)
    }

    /// The memory changes the backend refused.
    pub fn rejected_memory_changes(&self) -> Result<Vec<PendingMemoryChange>> {
        Ok(self
            .memory_changes()?
            .into_iter()
            .filter(|c| c.rejected.is_some())
            .collect())
    }

    /// Gives up on the rejected memory changes; returns what was dropped.
    pub fn drop_rejected_memory_changes(&mut self) -> Result<Vec<PendingMemoryChange>> {
        let rejected = self.rejected_memory_changes()?;
        self.conn
            .execute("DELETE FROM memory_outbox WHERE rejected IS NOT NULL", [])?;
        Ok(rejected)
    }
}

pub(super) fn record_in(
    tx: &rusqlite::Transaction,
    change: &MemoryChange,
    actor: &str,
) -> Result<i64> {
    let memory = match change {
        MemoryChange::Create(m) | MemoryChange::Update(m) => {
            Some(serde_json::to_string(&StoredMemory::of(m))?)
        }
        MemoryChange::Delete(_) => None,
    };
    tx.execute(
        "INSERT INTO memory_outbox (op, memory_id, memory, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            change.verb(),
            change.memory_id(),
            memory,
            actor,
            timestamp::format(OffsetDateTime::now_utc()),
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Later changes to a memory follow it to the id the backend gave it.
fn rename_pending(tx: &rusqlite::Transaction, from: &str, to: &str) -> Result<()> {
    let mut select = tx.prepare(
        "SELECT id, memory FROM memory_outbox WHERE memory_id = ?1 AND memory IS NOT NULL",
    )?;
    let rows: Vec<(i64, String)> = select
        .query_map([from], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, json) in rows {
        let mut m = serde_json::from_str::<StoredMemory>(&json)?.into_memory();
        m.id = to.to_string();
        tx.execute(
            "UPDATE memory_outbox SET memory = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(&StoredMemory::of(&m))?],
        )?;
    }
    tx.execute(
        "UPDATE memory_outbox SET memory_id = ?2 WHERE memory_id = ?1",
        params![from, to],
    )?;
    Ok(())
}
