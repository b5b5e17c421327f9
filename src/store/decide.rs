//! Decisions as the console and scripts make them: resolved against each
//! finding as it stands (with pending decisions applied), then recorded in
//! the outbox in one transaction.

use super::Store;
use crate::domain::{
    Before, Decided, DecisionContext, Intent, MemoryChange, TriageChange, TriageState, Undone,
    resolve,
};
use anyhow::Result;

impl Store {
    /// Resolves and records. With `all_or_nothing`, a single refusal (or an
    /// unknown id) records nothing.
    pub fn decide(
        &self,
        intents: &[(i64, Intent)],
        actor: &str,
        all_or_nothing: bool,
    ) -> Result<Decided> {
        self.decide_with_memory(intents, None, actor, all_or_nothing)
    }

    /// `decide`, and a memory change recorded in the same transaction (the
    /// memory is recorded even when no decision is).
    pub fn decide_with_memory(
        &self,
        intents: &[(i64, Intent)],
        memory: Option<&MemoryChange>,
        actor: &str,
        all_or_nothing: bool,
    ) -> Result<Decided> {
        let mut decided = self.resolve_intents(intents)?;
        if all_or_nothing && !decided.refused.is_empty() {
            decided.changes.clear();
            decided.before.clear();
            return Ok(decided);
        }
        let tx = self.write_tx()?;
        if let Some(change) = memory {
            decided.memory_outbox_id =
                Some(super::outbox::record_memory_change_in(&tx, change, actor)?);
        }
        // Each decision carries the state the reviewer saw it in (pending
        // decisions applied), so a backend can tell when a colleague decided
        // the finding since.
        let seen: Vec<Option<TriageState>> = decided
            .before
            .iter()
            .map(|b| Some(b.triage_state))
            .collect();
        decided.outbox_ids =
            super::outbox::record_decisions_in(&tx, &decided.changes, &seen, actor)?;
        tx.commit()?;
        let changed: Vec<i64> = decided.changes.iter().map(|(id, _)| *id).collect();
        decided.updates = self.row_updates(&changed)?;
        Ok(decided)
    }

    /// What deciding would change and refuse, each finding as it stands;
    /// nothing is recorded (`--dry-run` says it, `decide` records it).
    pub fn resolve_intents(&self, intents: &[(i64, Intent)]) -> Result<Decided> {
        let ids: Vec<i64> = intents.iter().map(|(id, _)| *id).collect();
        let findings = self.load_findings(&ids)?;
        let mut decided = Decided::default();
        for (id, intent) in intents {
            let Some(f) = findings.iter().find(|f| f.id == *id) else {
                decided.refused.push((*id, "no finding has this id".into()));
                continue;
            };
            let context = DecisionContext {
                status: f.status(),
                triage_state: f.triage_state,
                verdict: f.verdict(),
                verdict_reason: f
                    .assistant
                    .as_ref()
                    .map_or("", |a| a.verdict_reason.as_str()),
            };
            match resolve(intent, context) {
                Ok(change) => {
                    decided.before.push(Before {
                        finding_id: *id,
                        triage_state: f.triage_state,
                        triage_reason: f.triage_reason,
                        changed_state: change.state.is_some(),
                    });
                    decided.changes.push((*id, change));
                }
                Err(why) => decided.refused.push((*id, why)),
            }
        }
        Ok(decided)
    }

    /// Takes back decisions (`outbox_ids[i]` was made on `before[i]`): one
    /// not sent yet is dropped; one a request carried (the backend may have
    /// it, and has applied it to the finding's copies on other refs too)
    /// is answered with a decision restoring the earlier state, which goes
    /// out after it. Both happen in one transaction, so a sync sending at
    /// that moment cannot slip between them.
    pub fn undo(
        &self,
        outbox_ids: &[i64],
        before: &[Before],
        label: &str,
        actor: &str,
    ) -> Result<Undone> {
        let tx = self.write_tx()?;
        let mut undone = Undone::default();
        let mut restore = Vec::new();
        {
            let mut drop_unsent = tx.prepare_cached(
                "DELETE FROM changes WHERE id = ?1 AND kind = 'triage'
                   AND (request_key IS NULL OR rejected IS NOT NULL)",
            )?;
            for (outbox_id, b) in outbox_ids.iter().zip(before) {
                if drop_unsent.execute([outbox_id])? > 0 {
                    undone.taken_back += 1;
                    continue;
                }
                if !b.changed_state {
                    undone
                        .notes
                        .push("a note the backend already has stays".into());
                    continue;
                }
                // Semgrep does not let reviewers set "untriaged" or
                // "provisionally ignored": reopening is the closest, and a
                // reopened finding is undecided in every view.
                let state = match b.triage_state {
                    TriageState::Untriaged => TriageState::Reopened,
                    TriageState::ProvisionallyIgnored => {
                        undone
                            .notes
                            .push("provisionally ignored findings come back as open".into());
                        TriageState::Reopened
                    }
                    s => s,
                };
                restore.push((
                    b.finding_id,
                    TriageChange {
                        state: Some(state),
                        reason: (state == TriageState::Ignored)
                            .then_some(b.triage_reason)
                            .flatten(),
                        note: Some(format!("Undo: {label}")),
                    },
                ));
            }
        }
        super::outbox::record_decisions_in(&tx, &restore, &[], actor)?;
        tx.commit()?;
        undone.answered = restore.len();
        undone.notes.sort();
        undone.notes.dedup();
        let ids: Vec<i64> = before.iter().map(|b| b.finding_id).collect();
        undone.updates = self.row_updates(&ids)?;
        Ok(undone)
    }
}
