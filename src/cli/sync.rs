//! `sift sync`: one pass over the outbox; says what is still waiting, what
//! the backend rejected, decisions and memory changes, and which decisions
//! a colleague's crossed.

use super::conflicts::{self, ConflictEntry};
use super::{Context, Exit, output, words};
use crate::domain::{TriageReason, TriageState};
use crate::store::{Pending, PendingMemoryChange};
use crate::text::inert;
use crate::wire::timestamp;
use anyhow::Result;
use clap::Args;
use serde::Serialize;

#[derive(Args)]
pub struct SyncArgs {
    /// Send the decisions and memory changes the backend rejected again
    /// (once the cause is fixed).
    #[arg(long, conflicts_with = "drop_rejected")]
    pub retry_rejected: bool,
    /// Give up on the decisions and memory changes the backend rejected.
    #[arg(long)]
    pub drop_rejected: bool,
    #[arg(long)]
    pub json: bool,
}

/// `sift sync --json`.
#[derive(Serialize)]
pub struct SyncOutput<'a> {
    pub acknowledged: usize,
    pub pending: usize,
    pub rejected: Vec<OutboxDecision<'a>>,
    pub memory_changes_acknowledged: usize,
    pub memory_changes_pending: usize,
    pub rejected_memory_changes: Vec<OutboxMemoryChange<'a>>,
    /// Decisions not applied because a colleague decided the findings
    /// first: kept until `sift conflicts keep|drop`.
    pub conflicts: Vec<ConflictEntry<'a>>,
    pub offline_reason: Option<&'a str>,
    /// With `--drop-rejected`: the decisions given up on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<Vec<OutboxDecision<'a>>>,
    /// With `--drop-rejected`: the memory changes given up on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_memory_changes: Option<Vec<OutboxMemoryChange<'a>>>,
}

/// A decision in the outbox.
#[derive(Serialize)]
pub struct OutboxDecision<'a> {
    pub id: i64,
    pub new_triage_state: Option<TriageState>,
    pub new_triage_reason: Option<TriageReason>,
    pub new_note: Option<&'a str>,
    pub actor: &'a str,
    pub created_at: String,
    /// The backend's message, for a rejected decision; what happened, for
    /// one in conflict.
    pub message: Option<String>,
}

impl<'a> From<&'a Pending> for OutboxDecision<'a> {
    fn from(p: &'a Pending) -> Self {
        OutboxDecision {
            id: p.finding_id,
            new_triage_state: p.change.state,
            new_triage_reason: p.change.reason,
            new_note: p.change.note.as_deref(),
            actor: &p.actor,
            created_at: timestamp::format(p.created_at),
            message: p.rejected.clone(),
        }
    }
}

/// A memory change in the outbox.
#[derive(Serialize)]
pub struct OutboxMemoryChange<'a> {
    /// `create`, `update` or `delete`.
    pub op: &'static str,
    pub memory_id: &'a str,
    pub actor: &'a str,
    pub created_at: String,
    /// The backend's message, for a rejected change.
    pub message: Option<&'a str>,
}

impl<'a> From<&'a PendingMemoryChange> for OutboxMemoryChange<'a> {
    fn from(c: &'a PendingMemoryChange) -> Self {
        OutboxMemoryChange {
            op: c.change.verb(),
            memory_id: c.change.memory_id(),
            actor: &c.actor,
            created_at: timestamp::format(c.created_at),
            message: c.rejected.as_deref(),
        }
    }
}

pub fn run(ctx: &Context, args: SyncArgs) -> Result<Exit> {
    let SyncArgs {
        retry_rejected,
        drop_rejected,
        json,
    } = args;
    // No store, nothing to send: a data directory that holds none is a
    // mistake to say, not a store to create.
    ctx.require_existing_store()?;
    let mut store = ctx.open_store()?;
    let (dropped, dropped_memory) = if drop_rejected {
        (
            store.drop_rejected()?,
            store.drop_rejected_memory_changes()?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    if retry_rejected {
        store.retry_rejected()?;
        store.retry_rejected_memory_changes()?;
    }
    // With --offline nothing is sent: the report says what waits, and why.
    let report = ctx.sync_pass(&mut store);
    // A pass that ran and could not fetch; --offline runs none.
    let fetch_failed = !ctx.offline && report.offline.is_some();
    let rejected = store.rejected()?;
    let rejected_memory = store.rejected_memory_changes()?;
    let crossed = store.conflicts()?;
    // `waiting` counts both; each is reported in its own words.
    let memory_waiting = store.memory_changes_waiting()?;
    let decisions_waiting = report.waiting.saturating_sub(memory_waiting);
    let offline_reason = report.offline.as_ref().map(|o| o.reason.as_str());
    if json {
        fn list(rows: &[Pending]) -> Vec<OutboxDecision<'_>> {
            rows.iter().map(OutboxDecision::from).collect()
        }
        fn memory_list(rows: &[PendingMemoryChange]) -> Vec<OutboxMemoryChange<'_>> {
            rows.iter().map(OutboxMemoryChange::from).collect()
        }
        output::print(&SyncOutput {
            acknowledged: report.acknowledged,
            pending: decisions_waiting,
            rejected: list(&rejected),
            memory_changes_acknowledged: report.memory_changes_acknowledged,
            memory_changes_pending: memory_waiting,
            rejected_memory_changes: memory_list(&rejected_memory),
            conflicts: ConflictEntry::list(&crossed),
            offline_reason,
            dropped: drop_rejected.then(|| list(&dropped)),
            dropped_memory_changes: drop_rejected.then(|| memory_list(&dropped_memory)),
        })?;
    } else {
        if !dropped.is_empty() {
            say!(
                "dropped {} the backend had rejected",
                words::decisions(dropped.len())
            );
        }
        if !dropped_memory.is_empty() {
            say!(
                "dropped {} the backend had rejected",
                words::memory_changes(dropped_memory.len())
            );
        }
        let sent = report.acknowledged + report.memory_changes_acknowledged;
        let nothing_left = report.waiting == 0
            && rejected.is_empty()
            && rejected_memory.is_empty()
            && crossed.is_empty();
        if sent == 0 && nothing_left {
            say!("nothing to send");
        }
        if report.acknowledged > 0 {
            say!("sent {}", words::decisions(report.acknowledged));
        }
        if report.memory_changes_acknowledged > 0 {
            say!(
                "sent {}",
                words::memory_changes(report.memory_changes_acknowledged)
            );
        }
        for p in &rejected {
            say!(
                "{}\t{}\trejected: {}",
                p.finding_id,
                p.change.describe(),
                inert(p.rejected.as_deref().unwrap_or(""))
            );
        }
        for c in &rejected_memory {
            say!(
                "{}\t{} memory\trejected: {}",
                inert(c.change.memory_id()),
                c.change.verb(),
                inert(c.rejected.as_deref().unwrap_or(""))
            );
        }
        conflicts::print_lines(&crossed)?;
        if report.waiting > 0 {
            eprintln!(
                "sift: {} {} not sent yet: {}. {} kept; the next `sift sync`, or the console, will send {}.",
                words::decisions_and_memory_changes(decisions_waiting, memory_waiting),
                words::is_are(report.waiting),
                inert(offline_reason.unwrap_or("the backend did not acknowledge them")),
                if report.waiting == 1 {
                    "It is"
                } else {
                    "They are"
                },
                words::it_them(report.waiting)
            );
        } else if let (true, Some(reason)) = (fetch_failed, offline_reason) {
            eprintln!(
                "sift: everything is sent, but fetching changes failed: {}",
                inert(reason)
            );
        }
        if !rejected.is_empty() || !rejected_memory.is_empty() {
            eprintln!(
                "sift: the backend rejected {}; they are kept. `sift sync --retry-rejected` sends them again, `--drop-rejected` gives up on them.",
                words::decisions_and_memory_changes(rejected.len(), rejected_memory.len())
            );
        }
        conflicts::explain(crossed.len());
    }
    let rejected_any = !rejected.is_empty() || !rejected_memory.is_empty();
    Ok(match Exit::of_outbox(rejected_any, report.waiting > 0) {
        _ if !crossed.is_empty() => Exit::Conflict,
        Exit::Ok if fetch_failed => Exit::Error,
        exit => exit,
    })
}
