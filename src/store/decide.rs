//! Decisions as the console and scripts make them: resolved against each
//! finding as it stands (with pending decisions applied), then recorded in
//! the outbox in one transaction.

use super::{RowUpdate, Store};
use crate::domain::{
    DecisionContext, Intent, MemoryChange, TriageChange, TriageReason, TriageState, resolve,
};
use anyhow::Result;

/// How a finding stood before a decision, for undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Before {
    pub finding_id: i64,
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    /// False for a note alone: there is no state to restore.
    pub changed_state: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decided {
    /// Outbox ids of what was recorded.
    pub outbox_ids: Vec<i64>,
    /// What was recorded, per finding.
    pub changes: Vec<(i64, TriageChange)>,
    /// Findings the intent made no sense for, and why.
    pub refused: Vec<(i64, String)>,
    pub before: Vec<Before>,
    /// How the decided findings show now.
    pub updates: Vec<RowUpdate>,
    /// The memory change recorded with the decisions, if any.
    pub memory_outbox_id: Option<i64>,
}

impl Store {
    /// Resolves and records. With `all_or_nothing`, a single refusal (or an
    /// unknown id) records nothing.
    pub fn decide(
        &mut self,
        intents: &[(i64, Intent)],
        actor: &str,
        all_or_nothing: bool,
    ) -> Result<Decided> {
        self.decide_with_memory(intents, None, actor, all_or_nothing)
    }

    /// `decide`, and a memory change recorded in the same transaction (the
    /// memory is recorded even when no decision is).
    pub fn decide_with_memory(
        &mut self,
        intents: &[(i64, Intent)],
        memory: Option<&MemoryChange>,
        actor: &str,
        all_or_nothing: bool,
    ) -> Result<Decided> {
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
        if all_or_nothing && !decided.refused.is_empty() {
            decided.changes.clear();
            decided.before.clear();
            return Ok(decided);
        }
        let tx = self.conn.transaction()?;
        if let Some(change) = memory {
            decided.memory_outbox_id = Some(super::memory_outbox::record_in(&tx, change, actor)?);
        }
        decided.outbox_ids = super::outbox::record_in(&tx, &decided.changes, actor)?;
        tx.commit()?;
        let changed: Vec<i64> = decided.changes.iter().map(|(id, _)| *id).collect();
        decided.updates = self.row_updates(&changed)?;
        Ok(decided)
    }

    /// Takes back a decision: what is still in the outbox is dropped; what
    /// the backend already has is answered with a decision restoring the
    /// earlier state. Returns the findings' new look and what could not be
    /// restored exactly.
    pub fn undo(
        &mut self,
        outbox_ids: &[i64],
        before: &[Before],
        label: &str,
        actor: &str,
    ) -> Result<(Vec<RowUpdate>, Vec<String>)> {
        let still_pending: Vec<(i64, i64)> = {
            let pending = self.pending()?;
            outbox_ids
                .iter()
                .filter_map(|id| pending.iter().find(|p| p.id == *id))
                .map(|p| (p.id, p.finding_id))
                .collect()
        };
        let dropped =
            self.drop_pending(&still_pending.iter().map(|(o, _)| *o).collect::<Vec<_>>())?;
        let dropped_findings: Vec<i64> = still_pending
            .iter()
            .filter(|(o, _)| dropped.contains(o))
            .map(|(_, f)| *f)
            .collect();
        let mut notes = Vec::new();
        let mut restore = Vec::new();
        for b in before
            .iter()
            .filter(|b| !dropped_findings.contains(&b.finding_id))
        {
            if !b.changed_state {
                notes.push("a note the backend already has stays".into());
                continue;
            }
            // Semgrep does not let reviewers set "untriaged" or
            // "provisionally ignored": reopening is the closest.
            let state = match b.triage_state {
                TriageState::Untriaged | TriageState::ProvisionallyIgnored => {
                    if b.triage_state == TriageState::ProvisionallyIgnored {
                        notes.push("provisionally ignored findings come back as open".into());
                    }
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
        if !restore.is_empty() {
            self.record(&restore, actor)?;
        }
        notes.sort();
        notes.dedup();
        let ids: Vec<i64> = before.iter().map(|b| b.finding_id).collect();
        Ok((self.row_updates(&ids)?, notes))
    }
}
