//! Decisions in the outbox: written before the console shows them, sent in
//! bulk triage calls of identical decisions, shown as pending until the
//! backend acknowledges them.

use super::{Kind, Row, Which, insert};
use crate::domain::{RowUpdate, Status, TriageChange, TriageConflict, TriageReason, TriageState};
use crate::store::Store;
use crate::wire::timestamp;
use crate::wire::v1::Conflict;
use anyhow::{Context, Result};
use rusqlite::Transaction;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

/// Per finding with pending decisions: the latest pending state change, if
/// any of them changes the state.
pub(in crate::store) type Overlay = HashMap<i64, Option<(TriageState, Option<TriageReason>)>>;

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
    /// A request carried it: the backend may have applied it.
    pub sent: bool,
    /// The finding's triage state as the reviewer saw it when deciding,
    /// sent as the decision's precondition (none for a note alone).
    pub seen: Option<TriageState>,
    /// Someone else decided the finding since: the backend left it alone,
    /// and it waits for the reviewer to keep it or take theirs.
    pub conflict: Option<TriageConflict>,
}

/// Identical decisions by one reviewer, to send in one bulk triage call
/// under one request key.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub change: TriageChange,
    pub actor: String,
    pub outbox_ids: Vec<i64>,
    pub finding_ids: Vec<i64>,
    /// Sent with the request; the same decisions sent again carry it again.
    pub request_key: String,
    /// Per finding, the state the reviewer saw (decisions that have one).
    pub preconditions: Vec<(i64, TriageState)>,
}

/// A decision as the outbox keeps it.
#[derive(Serialize, Deserialize)]
struct Body {
    state: Option<String>,
    reason: Option<String>,
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conflict: Option<Conflict>,
}

impl Body {
    fn of(change: &TriageChange, seen: Option<TriageState>) -> Body {
        Body {
            state: change.state.map(|s| s.as_str().into()),
            reason: change.reason.map(|r| r.as_str().into()),
            note: change.note.clone(),
            // A note alone changes no state, so it crosses no one's.
            seen: seen
                .filter(|_| change.state.is_some())
                .map(|s| s.as_str().into()),
            conflict: None,
        }
    }
}

fn decode(row: Row) -> Result<Pending> {
    let damaged = || format!("decision {} in the outbox is damaged", row.id);
    let body: Body = serde_json::from_str(&row.body).with_context(damaged)?;
    Ok(Pending {
        id: row.id,
        finding_id: row.subject.parse().with_context(damaged)?,
        change: TriageChange {
            state: body.state.as_deref().and_then(TriageState::parse),
            reason: body.reason.as_deref().and_then(TriageReason::parse),
            note: body.note,
        },
        actor: row.actor,
        created_at: row.created_at,
        attempts: row.attempts,
        last_error: row.last_error,
        rejected: row.rejected,
        sent: row.request_key.is_some(),
        seen: body.seen.as_deref().and_then(TriageState::parse),
        conflict: body.conflict.and_then(Conflict::into_domain),
    })
}

impl Store {
    /// Writes decisions to the outbox in one transaction; returns their
    /// outbox ids in the same order.
    pub fn record(&self, decisions: &[(i64, TriageChange)], actor: &str) -> Result<Vec<i64>> {
        let tx = self.write_tx()?;
        let ids = record_in(&tx, decisions, &[], actor)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Every decision not acknowledged yet, oldest first, including those
    /// the backend rejected.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        self.decisions(Which::All)
    }

    /// The decisions the backend refused, oldest first.
    pub fn rejected(&self) -> Result<Vec<Pending>> {
        self.decisions(Which::Rejected)
    }

    fn decisions(&self, which: Which) -> Result<Vec<Pending>> {
        self.change_rows(Kind::Triage, which)?
            .into_iter()
            .map(decode)
            .collect()
    }

    /// Decisions not acknowledged yet, including rejected ones.
    pub fn pending_count(&self) -> Result<usize> {
        self.count_changes(Some(Kind::Triage), Which::All)
    }

    /// Decisions the sync will still send.
    pub fn decisions_waiting(&self) -> Result<usize> {
        self.count_changes(Some(Kind::Triage), Which::Waiting)
    }

    /// The next bulk call, marked as sent. When the oldest decision still
    /// to send was sent before without an answer, the same decisions again
    /// under the same key. Otherwise the oldest decision and every later
    /// identical one by the same reviewer, at most `max`, never overtaking
    /// an earlier decision on the same finding. Rejected decisions are
    /// skipped, and so are those another request carries now.
    pub fn next_batch(&self, max: usize) -> Result<Option<Batch>> {
        let tx = self.write_tx()?;
        let pending: Vec<(Option<String>, Pending)> = self
            .change_rows(Kind::Triage, Which::Waiting)?
            .into_iter()
            .filter(|r| !r.in_flight)
            .map(|r| Ok((r.request_key.clone(), decode(r)?)))
            .collect::<Result<_>>()?;
        let Some((key, first)) = pending.first() else {
            return Ok(None);
        };
        let (change, actor) = (first.change.clone(), first.actor.clone());
        let chosen: Vec<&Pending> = match key {
            // A resend: exactly what the first request carried.
            Some(key) => pending
                .iter()
                .filter(|(k, _)| k.as_deref() == Some(key))
                .map(|(_, p)| p)
                .collect(),
            None => {
                let mut seen = HashSet::new();
                let mut chosen = Vec::new();
                for (k, p) in &pending {
                    if !seen.insert(p.finding_id) {
                        continue;
                    }
                    if k.is_none() && p.change == change && p.actor == actor && chosen.len() < max {
                        chosen.push(p);
                    }
                }
                chosen
            }
        };
        let ids: Vec<i64> = chosen.iter().map(|p| p.id).collect();
        let (request_key, taken) = self.claim(&tx, &ids, key.as_deref())?;
        let sent: Vec<&&Pending> = chosen.iter().filter(|p| taken.contains(&p.id)).collect();
        let finding_ids = sent.iter().map(|p| p.finding_id).collect();
        let preconditions = sent
            .iter()
            .filter_map(|p| Some((p.finding_id, p.seen?)))
            .collect();
        tx.commit()?;
        Ok(Some(Batch {
            change,
            actor,
            outbox_ids: taken,
            finding_ids,
            request_key,
            preconditions,
        }))
    }

    /// Sends rejected decisions again at the next pass (after the cause was
    /// fixed); returns how many.
    pub fn retry_rejected(&self) -> Result<usize> {
        self.retry_rejected_of(Kind::Triage)
    }

    /// Gives up on the rejected decisions; returns what was dropped.
    pub fn drop_rejected(&self) -> Result<Vec<Pending>> {
        let rejected = self.rejected()?;
        let ids: Vec<i64> = rejected.iter().map(|p| p.id).collect();
        self.drop_unsent(&ids)?;
        Ok(rejected)
    }

    /// The decisions in conflict with a colleague's, oldest first.
    pub fn conflicts(&self) -> Result<Vec<Pending>> {
        self.decisions(Which::Conflicted)
    }

    /// The backend left this decision alone: someone else decided the
    /// finding since the reviewer saw it. It is kept, not sent again, until
    /// the reviewer settles it.
    pub fn mark_conflicted(&self, outbox_id: i64, conflict: &TriageConflict) -> Result<()> {
        let wire = serde_json::to_string(&Conflict::from_domain(conflict))?;
        let why = format!(
            "someone else set the finding to {} since you saw it",
            conflict.theirs()
        );
        self.conn.execute(
            "UPDATE changes SET body = json_set(body, '$.conflict', json(?2)),
                rejected = ?3, last_error = ?3, attempts = attempts + 1, sent_at = NULL
             WHERE id = ?1 AND kind = 'triage'",
            rusqlite::params![outbox_id, wire, why],
        )?;
        Ok(())
    }

    /// Keeps the reviewer's decisions over the colleague's: they go again
    /// at the next pass, under a new key, on the finding as the colleague
    /// left it (if someone changed it once more, that is a new conflict).
    /// Returns how many.
    pub fn keep_mine(&self, outbox_ids: &[i64]) -> Result<usize> {
        self.settle(
            outbox_ids,
            &format!(
                "UPDATE changes SET
                    body = json_set(json_remove(body, '$.conflict'), '$.seen',
                                    json_extract(body, '$.conflict.triage_state')),
                    rejected = NULL, last_error = NULL, request_key = NULL, sent_at = NULL
                 WHERE id = ?1 AND kind = 'triage' {}",
                Which::Conflicted.sql()
            ),
        )
    }

    /// Takes the colleague's decisions: the reviewer's conflicting ones are
    /// dropped. Returns how many.
    pub fn take_theirs(&self, outbox_ids: &[i64]) -> Result<usize> {
        self.settle(
            outbox_ids,
            &format!(
                "DELETE FROM changes WHERE id = ?1 AND kind = 'triage' {}",
                Which::Conflicted.sql()
            ),
        )
    }

    fn settle(&self, outbox_ids: &[i64], sql: &str) -> Result<usize> {
        let tx = self.write_tx()?;
        let mut settled = 0;
        {
            let mut statement = tx.prepare(sql)?;
            for &id in outbox_ids {
                settled += statement.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(settled)
    }

    /// The latest pending state change per finding (a note alone changes
    /// nothing), and which findings have anything pending. A decision in
    /// conflict is not applied: the finding shows what the backend holds.
    pub(in crate::store) fn pending_overlay(&self) -> Result<Overlay> {
        let mut overlay = Overlay::new();
        for p in self.pending()?.into_iter().filter(|p| p.conflict.is_none()) {
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
/// `seen[i]`, when there is one, is the state the reviewer saw the finding
/// of `decisions[i]` in: the decision's precondition.
pub(in crate::store) fn record_in(
    tx: &Transaction,
    decisions: &[(i64, TriageChange)],
    seen: &[Option<TriageState>],
    actor: &str,
) -> Result<Vec<i64>> {
    let now = timestamp::format(OffsetDateTime::now_utc());
    let mut ids = Vec::with_capacity(decisions.len());
    for (i, (finding_id, change)) in decisions.iter().enumerate() {
        let seen = seen.get(i).copied().flatten();
        let body = serde_json::to_string(&Body::of(change, seen))?;
        ids.push(insert(
            tx,
            Kind::Triage,
            &finding_id.to_string(),
            &body,
            actor,
            &now,
        )?);
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
        let store = Store::in_memory().unwrap();
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
        let store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        let decisions: Vec<_> = (1..=5).map(|id| (id, fixing.clone())).collect();
        store.record(&decisions, "alice").unwrap();
        assert_eq!(
            store.next_batch(3).unwrap().unwrap().finding_ids,
            vec![1, 2, 3]
        );
    }

    #[test]
    fn a_batch_out_is_left_alone_and_a_failed_one_is_resent_under_its_key() {
        let store = Store::in_memory().unwrap();
        let fixing = change(Some(TriageState::Fixing), "");
        store
            .record(&[(1, fixing.clone()), (2, fixing.clone())], "alice")
            .unwrap();
        let first = store.next_batch(3000).unwrap().unwrap();
        // Another process looks while the request is out: nothing to send.
        assert_eq!(store.next_batch(3000).unwrap(), None);
        // A decision made meanwhile does not join the batch that is out.
        store.record(&[(3, fixing.clone())], "alice").unwrap();
        let other = store.next_batch(3000).unwrap().unwrap();
        assert_eq!(other.finding_ids, vec![3]);
        assert_ne!(other.request_key, first.request_key);
        // The first request timed out: the same decisions, the same key.
        store
            .record_failure(&first.outbox_ids, "timed out")
            .unwrap();
        let again = store.next_batch(3000).unwrap().unwrap();
        assert_eq!(
            (again.finding_ids.clone(), again.request_key.clone()),
            (vec![1, 2], first.request_key.clone())
        );
    }

    #[test]
    fn only_unsent_decisions_can_be_dropped() {
        let store = Store::in_memory().unwrap();
        let ids = store
            .record(
                &[(1, change(None, "a note")), (2, change(None, "b"))],
                "alice",
            )
            .unwrap();
        let sent = store.next_batch(1).unwrap().unwrap();
        assert_eq!(sent.outbox_ids, ids[..1]);
        assert_eq!(store.drop_unsent(&ids).unwrap(), vec![ids[1]]);
        assert_eq!(store.pending_count().unwrap(), 1, "the sent one stays");
        store.acknowledge(&sent.outbox_ids).unwrap();
        assert_eq!(store.pending_count().unwrap(), 0);
    }

    #[test]
    fn ids_are_never_reused() {
        let store = Store::in_memory().unwrap();
        let first = store.record(&[(1, change(None, "n"))], "alice").unwrap();
        store.acknowledge(&first).unwrap();
        let second = store.record(&[(2, change(None, "n"))], "bob").unwrap();
        assert!(second[0] > first[0], "{second:?} after {first:?}");
        // A late acknowledgement of the first removes nothing of the second.
        store.acknowledge(&first).unwrap();
        assert_eq!(store.pending_count().unwrap(), 1);
    }

    #[test]
    fn failures_are_counted() {
        let store = Store::in_memory().unwrap();
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
        let store = Store::in_memory().unwrap();
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
        let store = Store::in_memory().unwrap();
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

    #[test]
    fn dropping_reports_what_was_still_pending() {
        let store = Store::in_memory().unwrap();
        let ids = store
            .record(
                &[(1, change(None, "a note")), (2, change(None, "b"))],
                "alice",
            )
            .unwrap();
        store.acknowledge(&ids[..1]).unwrap();
        assert_eq!(store.drop_unsent(&ids).unwrap(), vec![ids[1]]);
        assert_eq!(store.pending_count().unwrap(), 0);
    }
}
