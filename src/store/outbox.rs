//! The outbox: every decision is written here first, in a transaction, and
//! stays until the backend acknowledges it. The console shows findings with
//! their pending decisions applied.
//!
//! A decision the backend refused (a 400: sending it again will not help) is
//! marked rejected with the backend's message: it stays, so nothing is lost,
//! but it is not sent again and does not hold back later decisions.

use super::Store;
use crate::domain::{Status, TriageChange, TriageReason, TriageState};
use crate::wire::timestamp;
use anyhow::Result;
use rusqlite::params;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// Per finding with pending decisions: the latest pending state change, if
/// any of them changes the state.
pub(super) type Overlay = HashMap<i64, Option<(TriageState, Option<TriageReason>)>>;

/// A decision waiting for the backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: i64,
    pub finding_id: i64,
    pub change: TriageChange,
    pub actor: String,
    pub created_at: OffsetDateTime,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// The backend refused it, with this message; it is not sent again.
    pub rejected: Option<String>,
}

/// Identical decisions by one reviewer, to send in one bulk triage call.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub change: TriageChange,
    pub actor: String,
    pub outbox_ids: Vec<i64>,
    pub finding_ids: Vec<i64>,
}

/// How a finding shows after its decisions, for the console's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowUpdate {
    pub id: i64,
    pub triage_state: TriageState,
    pub status: Status,
    pub pending: bool,
}

impl Store {
    /// Writes decisions to the outbox in one transaction; returns their
    /// outbox ids in the same order.
    pub fn record(&mut self, decisions: &[(i64, TriageChange)], actor: &str) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let ids = record_in(&tx, decisions, actor)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Takes back decisions that were not sent yet; returns the outbox ids
    /// that were still there (the others were already acknowledged).
    pub fn drop_pending(&mut self, outbox_ids: &[i64]) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut dropped = Vec::new();
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            for &id in outbox_ids {
                if delete.execute([id])? > 0 {
                    dropped.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// Every decision not acknowledged yet, oldest first, including those
    /// the backend rejected.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        self.outbox_rows("")
    }

    /// The decisions the backend refused, oldest first.
    pub fn rejected(&self) -> Result<Vec<Pending>> {
        self.outbox_rows("WHERE rejected IS NOT NULL")
    }

    fn outbox_rows(&self, filter: &str) -> Result<Vec<Pending>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id, finding_id, new_triage_state, new_triage_reason, new_note, actor,
                    created_at, attempts, last_error, rejected
             FROM outbox {filter} ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(Pending {
                id: r.get(0)?,
                finding_id: r.get(1)?,
                change: TriageChange {
                    state: r
                        .get::<_, Option<String>>(2)?
                        .as_deref()
                        .and_then(TriageState::parse),
                    reason: r
                        .get::<_, Option<String>>(3)?
                        .as_deref()
                        .and_then(TriageReason::parse),
                    note: r.get(4)?,
                },
                actor: r.get(5)?,
                created_at: timestamp::parse(&r.get::<_, String>(6)?)
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                attempts: r.get(7)?,
                last_error: r.get(8)?,
                rejected: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Decisions not acknowledged yet, including rejected ones.
    pub fn pending_count(&self) -> Result<usize> {
        self.count("")
    }

    /// Decisions and memory changes the backend refused.
    pub fn rejected_count(&self) -> Result<usize> {
        Ok(self.count("WHERE rejected IS NOT NULL")? + self.memory_changes_rejected()?)
    }

    /// Decisions and memory changes the sync will still send (rejected ones
    /// are not).
    pub fn waiting_count(&self) -> Result<usize> {
        Ok(self.count("WHERE rejected IS NULL")? + self.memory_changes_waiting()?)
    }

    fn count(&self, filter: &str) -> Result<usize> {
        let n: i64 = self
            .conn
            .prepare_cached(&format!("SELECT count(*) FROM outbox {filter}"))?
            .query_row([], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The next bulk call: the oldest decision still to send and every later
    /// identical one by the same reviewer, at most `max`, never overtaking
    /// an earlier decision on the same finding. Rejected decisions are
    /// skipped.
    pub fn next_batch(&self, max: usize) -> Result<Option<Batch>> {
        let pending: Vec<Pending> = self
            .pending()?
            .into_iter()
            .filter(|p| p.rejected.is_none())
            .collect();
        let Some(first) = pending.first() else {
            return Ok(None);
        };
        let mut batch = Batch {
            change: first.change.clone(),
            actor: first.actor.clone(),
            outbox_ids: Vec::new(),
            finding_ids: Vec::new(),
        };
        let mut seen = HashSet::new();
        for p in &pending {
            if !seen.insert(p.finding_id) {
                continue;
            }
            if p.change == batch.change && p.actor == batch.actor && batch.outbox_ids.len() < max {
                batch.outbox_ids.push(p.id);
                batch.finding_ids.push(p.finding_id);
            }
        }
        Ok(Some(batch))
    }

    /// The backend has the decisions: they leave the outbox.
    pub fn acknowledge(&mut self, outbox_ids: &[i64]) -> Result<()> {
        self.drop_pending(outbox_ids)?;
        Ok(())
    }

    /// Remembers why sending failed, for the status bar and `sift sync`.
    pub fn record_failure(&mut self, outbox_ids: &[i64], error: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            )?;
            for id in outbox_ids {
                update.execute(params![id, error])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The backend refused the decisions: they stay, with its message, but
    /// are not sent again.
    pub fn mark_rejected(&mut self, outbox_ids: &[i64], message: &str) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, rejected = ?2
                 WHERE id = ?1",
            )?;
            for id in outbox_ids {
                update.execute(params![id, message])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sends rejected decisions again at the next pass (after the cause was
    /// fixed); returns how many.
    pub fn retry_rejected(&mut self) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE outbox SET rejected = NULL WHERE rejected IS NOT NULL",
            [],
        )?)
    }

    /// Gives up on the rejected decisions; returns what was dropped.
    pub fn drop_rejected(&mut self) -> Result<Vec<Pending>> {
        let rejected = self.rejected()?;
        let ids: Vec<i64> = rejected.iter().map(|p| p.id).collect();
        self.drop_pending(&ids)?;
        Ok(rejected)
    }

    /// The latest pending state change per finding (a note alone changes
    /// nothing), and which findings have anything pending.
    pub(super) fn pending_overlay(&self) -> Result<Overlay> {
        let mut overlay = Overlay::new();
        for p in self.pending()? {
            let entry = overlay.entry(p.finding_id).or_insert(None);
            if let Some(state) = p.change.state {
                *entry = Some((state, p.change.reason));
            }
        }
        Ok(overlay)
    }

    /// How findings show now, with pending decisions applied.
    pub fn row_updates(&self, finding_ids: &[i64]) -> Result<Vec<RowUpdate>> {
        let overlay = self.pending_overlay()?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, triage_state FROM findings WHERE id = ?1")?;
        let mut out = Vec::with_capacity(finding_ids.len());
        for &id in finding_ids {
            let Ok((state, triage)) = stmt.query_row([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            }) else {
                continue;
            };
            let state = crate::domain::ScanState::parse(&state)
                .unwrap_or(crate::domain::ScanState::Unresolved);
            let mut triage_state = TriageState::parse(&triage).unwrap_or(TriageState::Untriaged);
            let pending = overlay.get(&id);
            if let Some(Some((s, _))) = pending {
                triage_state = *s;
            }
            out.push(RowUpdate {
                id,
                triage_state,
                status: Status::derive(state, triage_state),
                pending: pending.is_some(),
            });
        }
        Ok(out)
    }
}

/// Writes decisions to the outbox inside a transaction; returns their
/// outbox ids in the same order.
pub(super) fn record_in(
    tx: &rusqlite::Transaction,
    decisions: &[(i64, TriageChange)],
    actor: &str,
) -> Result<Vec<i64>> {
    let now = timestamp::format(OffsetDateTime::now_utc());
    let mut ids = Vec::with_capacity(decisions.len());
    let mut insert = tx.prepare_cached(
        "INSERT INTO outbox (finding_id, new_triage_state, new_triage_reason, new_note,
            actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (finding_id, change) in decisions {
        insert.execute(params![
            finding_id,
            change.state.map(|s| s.as_str()),
            change.reason.map(|r| r.as_str()),
            change.note,
            actor,
            now
        ])?;
        ids.push(tx.last_insert_rowid());
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(state: Option<TriageState>, note: &str) -> TriageChange {
        TriageChange {
            state,
            reason: None,
            note: (!note.is_empty()).then(|| note.to_string()),
        }
    }

    #[test]
    fn batches_group_identical_decisions_in_order() {
        let mut store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        let reviewing = change(Some(TriageState::Reviewing), "");
        store
            .record(
                &[
                    (1, fixing.clone()),
                    (2, reviewing.clone()),
                    (3, fixing.clone()),
                    (2, fixing.clone()), // after its own earlier decision
                ],
                "alice",
            )
            .unwrap();
        let b = store.next_batch(3000).unwrap().unwrap();
        assert_eq!(b.change, fixing);
        assert_eq!(
            b.finding_ids,
            vec![1, 3],
            "finding 2 waits for its earlier decision"
        );
        store.acknowledge(&b.outbox_ids).unwrap();
        let b = store.next_batch(3000).unwrap().unwrap();
        assert_eq!((b.change, b.finding_ids.clone()), (reviewing, vec![2]));
        store.acknowledge(&b.outbox_ids).unwrap();
        let b = store.next_batch(1).unwrap().unwrap();
        assert_eq!(b.finding_ids, vec![2]);
        store.acknowledge(&b.outbox_ids).unwrap();
        assert!(store.next_batch(3000).unwrap().is_none());
    }

    #[test]
    fn batches_are_capped() {
        let mut store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        let decisions: Vec<_> = (1..=5).map(|id| (id, fixing.clone())).collect();
        store.record(&decisions, "alice").unwrap();
        assert_eq!(
            store.next_batch(3).unwrap().unwrap().finding_ids,
            vec![1, 2, 3]
        );
    }

    #[test]
    fn dropping_reports_what_was_still_pending() {
        let mut store = Store::in_memory().unwrap();
        let ids = store
            .record(
                &[(1, change(None, "a note")), (2, change(None, "b"))],
                "alice",
            )
            .unwrap();
        store.acknowledge(&ids[..1]).unwrap();
        assert_eq!(store.drop_pending(&ids).unwrap(), vec![ids[1]]);
        assert_eq!(store.pending_count().unwrap(), 0);
    }

    #[test]
    fn failures_are_counted() {
        let mut store = Store::in_memory().unwrap();
        let ids = store.record(&[(1, change(None, "n"))], "alice").unwrap();
        store.record_failure(&ids, "backend answered 500").unwrap();
        store.record_failure(&ids, "timed out").unwrap();
        let p = &store.pending().unwrap()[0];
        assert_eq!(
            (p.attempts, p.last_error.as_deref()),
            (2, Some("timed out"))
        );
    }

    #[test]
    fn batches_hold_one_reviewer() {
        let mut store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        store.record(&[(1, fixing.clone())], "alice").unwrap();
        store.record(&[(2, fixing.clone())], "bob").unwrap();
        store.record(&[(3, fixing.clone())], "alice").unwrap();
        let b = store.next_batch(3000).unwrap().unwrap();
        assert_eq!(
            (b.actor.as_str(), b.finding_ids.clone()),
            ("alice", vec![1, 3])
        );
        store.acknowledge(&b.outbox_ids).unwrap();
        let b = store.next_batch(3000).unwrap().unwrap();
        assert_eq!((b.actor.as_str(), b.finding_ids), ("bob", vec![2]));
    }

    #[test]
    fn rejected_decisions_stay_but_do_not_block() {
        let mut store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        let reviewing = change(Some(TriageState::Reviewing), "");
        let ids = store
            .record(&[(1, fixing.clone()), (1, reviewing.clone())], "alice")
            .unwrap();
        store
            .mark_rejected(&ids[..1], "the backend answered 400")
            .unwrap();
        let b = store.next_batch(3000).unwrap().unwrap();
        assert_eq!((b.change, b.finding_ids), (reviewing, vec![1]));
        assert_eq!(store.pending_count().unwrap(), 2);
        assert_eq!(store.rejected_count().unwrap(), 1);
        assert_eq!(store.waiting_count().unwrap(), 1);
        let r = store.rejected().unwrap();
        assert_eq!(r[0].rejected.as_deref(), Some("the backend answered 400"));

        assert_eq!(store.retry_rejected().unwrap(), 1);
        assert_eq!(store.next_batch(3000).unwrap().unwrap().change, fixing);
        store.mark_rejected(&ids[..1], "no").unwrap();
        assert_eq!(store.drop_rejected().unwrap().len(), 1);
        assert_eq!(store.pending_count().unwrap(), 1);
    }
}
