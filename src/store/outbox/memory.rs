//! Memory changes in the outbox: creating, editing, deleting and activating
//! memories is written here first and stays until the backend acknowledges
//! it, like decisions. The console and scripts see the memories with these
//! changes applied.

use super::{Kind, Row, Which, insert};
use crate::domain::{Memory, MemoryChange};
use crate::store::Store;
use crate::store::memories::{StoredMemory, write_memory};
use crate::wire::timestamp;
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
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

/// A memory change as the outbox keeps it.
#[derive(Serialize, Deserialize)]
struct Body {
    op: String,
    memory: Option<StoredMemory>,
}

impl Body {
    fn of(change: &MemoryChange) -> Body {
        Body {
            op: change.verb().into(),
            memory: match change {
                MemoryChange::Create(m) | MemoryChange::Update(m) => Some(StoredMemory::of(m)),
                MemoryChange::Delete(_) => None,
            },
        }
    }
}

fn decode(row: Row) -> Result<PendingMemoryChange> {
    let damaged = || format!("memory change {} is damaged", row.id);
    let body: Body = serde_json::from_str(&row.body).with_context(damaged)?;
    let memory = || -> Result<Memory> {
        Ok(body
            .memory
            .context("it has no memory")
            .with_context(damaged)?
            .into_memory())
    };
    let change = match body.op.as_str() {
        "create" => MemoryChange::Create(memory()?),
        "update" => MemoryChange::Update(memory()?),
        _ => MemoryChange::Delete(row.subject),
    };
    Ok(PendingMemoryChange {
        id: row.id,
        change,
        actor: row.actor,
        created_at: row.created_at,
        attempts: row.attempts,
        last_error: row.last_error,
        rejected: row.rejected,
    })
}

impl Store {
    /// Writes a memory change to the outbox; returns its outbox id.
    pub fn record_memory_change(&self, change: &MemoryChange, actor: &str) -> Result<i64> {
        let tx = self.write_tx()?;
        let id = record_in(&tx, change, actor)?;
        tx.commit()?;
        Ok(id)
    }

    /// Memory changes not acknowledged yet, oldest first, rejected included.
    pub fn memory_changes(&self) -> Result<Vec<PendingMemoryChange>> {
        self.memory_rows(Which::All)
    }

    fn memory_rows(&self, which: Which) -> Result<Vec<PendingMemoryChange>> {
        self.change_rows(Kind::Memory, which)?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// The next change to send, marked as sent: the oldest one neither
    /// rejected nor out in another process's request. Changes to one memory
    /// go in order: none overtakes one that is out.
    pub fn next_memory_change(&self) -> Result<Option<PendingMemoryChange>> {
        let tx = self.write_tx()?;
        let rows = self.change_rows(Kind::Memory, Which::Waiting)?;
        let mut out_now = HashSet::new();
        let mut next = None;
        for row in rows {
            if row.in_flight {
                out_now.insert(row.subject.clone());
            } else if !out_now.contains(&row.subject) {
                next = Some(row);
                break;
            }
        }
        let Some(row) = next else {
            return Ok(None);
        };
        let key = row.request_key.clone();
        let (_, taken) = self.claim(&tx, &[row.id], key.as_deref())?;
        tx.commit()?;
        if taken.is_empty() {
            return Ok(None);
        }
        decode(row).map(Some)
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
    pub fn acknowledge_memory_change(&self, outbox_id: i64, stored: Option<&Memory>) -> Result<()> {
        let tx = self.write_tx()?;
        let row: Option<(String, String)> = tx
            .query_row(
                "SELECT body, subject FROM changes WHERE id = ?1 AND kind = 'memory'",
                [outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((body, local_id)) = row {
            let op = serde_json::from_str::<Body>(&body)
                .map(|b| b.op)
                .unwrap_or_default();
            tx.execute("DELETE FROM changes WHERE id = ?1", [outbox_id])?;
            match (op.as_str(), stored) {
                ("delete", _) => {
                    tx.execute("DELETE FROM memories WHERE id = ?1", [&local_id])?;
                    tx.execute(
                        "DELETE FROM ai_suggestions WHERE memory_id = ?1",
                        [&local_id],
                    )?;
                }
                (_, Some(m)) => {
                    if m.id != local_id {
                        tx.execute("DELETE FROM memories WHERE id = ?1", [&local_id])?;
                        rename_pending(&tx, &local_id, &m.id)?;
                        tx.execute(
                            "UPDATE OR REPLACE ai_suggestions SET memory_id = ?2 WHERE memory_id = ?1",
                            params![local_id, m.id],
                        )?;
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
    pub fn record_memory_failure(&self, outbox_id: i64, error: &str) -> Result<()> {
        self.record_failure(&[outbox_id], error)
    }

    /// The backend refused the change: it stays, with its message, but is
    /// not sent again.
    pub fn mark_memory_rejected(&self, outbox_id: i64, message: &str) -> Result<()> {
        self.mark_rejected(&[outbox_id], message)
    }

    /// Memory changes the sync will still send.
    pub fn memory_changes_waiting(&self) -> Result<usize> {
        self.count_changes(Some(Kind::Memory), Which::Waiting)
    }

    /// Memory changes the backend refused.
    pub fn memory_changes_rejected(&self) -> Result<usize> {
        self.count_changes(Some(Kind::Memory), Which::Rejected)
    }

    /// Sends rejected memory changes again at the next pass.
    pub fn retry_rejected_memory_changes(&self) -> Result<usize> {
        self.retry_rejected_of(Kind::Memory)
    }

    /// The memory changes the backend refused.
    pub fn rejected_memory_changes(&self) -> Result<Vec<PendingMemoryChange>> {
        self.memory_rows(Which::Rejected)
    }

    /// Gives up on the rejected memory changes; returns what was dropped.
    pub fn drop_rejected_memory_changes(&self) -> Result<Vec<PendingMemoryChange>> {
        let rejected = self.rejected_memory_changes()?;
        let ids: Vec<i64> = rejected.iter().map(|c| c.id).collect();
        self.drop_unsent(&ids)?;
        Ok(rejected)
    }
}

pub(in crate::store) fn record_in(
    tx: &Transaction,
    change: &MemoryChange,
    actor: &str,
) -> Result<i64> {
    let body = serde_json::to_string(&Body::of(change))?;
    insert(
        tx,
        Kind::Memory,
        change.memory_id(),
        &body,
        actor,
        &timestamp::format(OffsetDateTime::now_utc()),
    )
}

/// Later changes to a memory follow it to the id the backend gave it.
fn rename_pending(tx: &Transaction, from: &str, to: &str) -> Result<()> {
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT id, body FROM changes WHERE kind = 'memory' AND subject = ?1")?
        .query_map([from], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, json) in rows {
        let mut body: Body = serde_json::from_str(&json)?;
        if let Some(stored) = body.memory.take() {
            let mut m = stored.into_memory();
            m.id = to.to_string();
            body.memory = Some(StoredMemory::of(&m));
        }
        tx.execute(
            "UPDATE changes SET body = ?2, subject = ?3 WHERE id = ?1",
            params![id, serde_json::to_string(&body)?, to],
        )?;
    }
    Ok(())
}
