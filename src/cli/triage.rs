//! `sift triage`: decisions on findings, all or none, recorded in the
//! outbox and sent in one sync pass.

use super::conflicts::{self, ConflictEntry};
use super::context::Refresh;
use super::{Context, Exit, output, usage_error, words};
use crate::domain::{Intent, TriageReason, TriageState};
use crate::store::Pending;
use crate::text::inert;
use anyhow::Result;
use clap::Args;
use serde::Serialize;

#[derive(Args)]
#[command(group = clap::ArgGroup::new("decision").args(["accept", "reject", "state"]))]
pub struct TriageArgs {
    /// Finding ids: the `id` values of `sift findings --json`.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<i64>,
    /// Agree with Assistant's verdict.
    #[arg(long)]
    pub accept: bool,
    /// Disagree with Assistant's verdict. Rejecting a true positive
    /// ignores the finding and needs --note.
    #[arg(long)]
    pub reject: bool,
    /// Set the status: ignored, reviewing, fixing (to-fix) or reopened
    /// (open).
    #[arg(long, value_name = "S", value_parser = parse_state)]
    pub state: Option<TriageState>,
    /// Why it is ignored (with --state ignored or --reject):
    /// false_positive, acceptable_risk, no_time, duplicate,
    /// no_triage_reason.
    #[arg(long, value_name = "R", value_parser = parse_reason)]
    pub reason: Option<TriageReason>,
    /// A note, at most 3,000 characters. Alone, it is added without
    /// changing the status.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[arg(long)]
    pub json: bool,
}

fn parse_state(s: &str) -> Result<TriageState, String> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "ignored" | "ignore" => Ok(TriageState::Ignored),
        "reviewing" | "review" => Ok(TriageState::Reviewing),
        "fixing" | "to-fix" | "tofix" | "fix" => Ok(TriageState::Fixing),
        "reopened" | "reopen" | "open" => Ok(TriageState::Reopened),
        _ => Err("expected ignored, reviewing, fixing (to-fix) or reopened (open)".into()),
    }
}

/// An ignore reason: the wire names, or the console's ("Acceptable risk",
/// "No reason").
pub fn parse_reason(s: &str) -> Result<TriageReason, String> {
    let name = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    let name = if name == "no_reason" {
        "no_triage_reason"
    } else {
        &name
    };
    TriageReason::parse(name).ok_or_else(|| {
        "expected false_positive, acceptable_risk, no_time, duplicate or no_triage_reason".into()
    })
}

/// `sift triage --json`.
#[derive(Serialize)]
pub struct TriageOutput<'a> {
    pub recorded: usize,
    pub acknowledged: usize,
    pub pending: usize,
    pub rejected: usize,
    /// Decisions not applied because a colleague decided the findings
    /// first (kept until `sift conflicts keep|drop`).
    pub conflicts: Vec<ConflictEntry<'a>>,
    pub decisions: Vec<DecisionOutcome<'a>>,
    /// Why each decision that makes no sense was refused; only when
    /// nothing was recorded for that reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Vec<Refusal<'a>>>,
    pub error: Option<String>,
}

/// What became of one recorded decision.
#[derive(Serialize)]
pub struct DecisionOutcome<'a> {
    pub id: i64,
    pub new_triage_state: Option<TriageState>,
    pub new_triage_reason: Option<TriageReason>,
    pub new_note: Option<&'a str>,
    /// `acknowledged`, `pending`, `rejected` or `conflict`.
    pub result: &'static str,
    /// The backend's message, for a rejected decision; what the colleague
    /// did, for a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A decision that makes no sense, and why.
#[derive(Serialize)]
pub struct Refusal<'a> {
    pub id: i64,
    pub why: &'a str,
}

pub fn run(ctx: &Context, args: TriageArgs) -> Result<Exit> {
    let TriageArgs {
        ids,
        accept,
        reject,
        state,
        reason,
        note,
        json,
    } = args;
    let intent = match (accept, reject, state) {
        (true, _, _) => Intent::Accept { comment: note },
        (_, true, _) => Intent::Reject {
            reason,
            comment: note,
        },
        (_, _, Some(state)) => Intent::SetState {
            state,
            reason,
            note,
        },
        _ => match note {
            Some(note) => Intent::Note(note),
            None => usage_error(
                &["triage"],
                "say what to do: --accept, --reject, --state S, or --note TEXT alone",
            ),
        },
    };
    let reason_fits = matches!(
        intent,
        Intent::Reject { .. }
            | Intent::SetState {
                state: TriageState::Ignored,
                ..
            }
    );
    if reason.is_some() && !reason_fits {
        usage_error(
            &["triage"],
            "--reason goes with --state ignored or --reject",
        );
    }
    // The ids are checked against the cache: fill it first.
    ctx.refresh(Refresh::IfEmpty)?;
    triage(ctx, &ids, &intent, json)
}

/// Records decisions on findings, all or none, then sends them in one sync
/// pass.
fn triage(ctx: &Context, ids: &[i64], intent: &Intent, json: bool) -> Result<Exit> {
    let mut unique = Vec::with_capacity(ids.len());
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    let mut store = ctx.open_store()?;
    // Resolved against the findings as they stand (pending decisions
    // applied), the same way as in the console; all or nothing.
    let intents: Vec<(i64, Intent)> = unique.iter().map(|&id| (id, intent.clone())).collect();
    let decided = store.decide(&intents, &ctx.reviewer, true)?;
    let refused = decided.refused;
    if !refused.is_empty() {
        let error = format!(
            "nothing was recorded: {} of {} decisions make no sense",
            refused.len(),
            unique.len()
        );
        if json {
            output::print(&TriageOutput {
                recorded: 0,
                acknowledged: 0,
                pending: 0,
                rejected: 0,
                conflicts: Vec::new(),
                decisions: Vec::new(),
                refused: Some(
                    refused
                        .iter()
                        .map(|(id, why)| Refusal { id: *id, why })
                        .collect(),
                ),
                error: Some(error),
            })?;
        } else {
            for (id, why) in &refused {
                eprintln!("sift: {id}: {}", inert(why));
            }
            eprintln!("sift: nothing was recorded");
        }
        return Ok(Exit::BadInput);
    }
    // Durable before anything is sent.
    let (changes, outbox_ids) = (decided.changes, decided.outbox_ids);
    let mut report = ctx.sync_pass(&mut store);
    if report.offline.is_none() && wait_for_other_senders(&store, &outbox_ids)? {
        // What another process was sending is still here: its request
        // failed; send it now.
        report = ctx.sync_pass(&mut store);
    }
    let left: Vec<Pending> = store
        .pending()?
        .into_iter()
        .filter(|p| outbox_ids.contains(&p.id))
        .collect();
    let outcome = |outbox_id: i64| match left.iter().find(|p| p.id == outbox_id) {
        None => ("acknowledged", None),
        Some(p) => match (&p.conflict, &p.rejected) {
            (Some(_), _) => (
                "conflict",
                ConflictEntry::of(p).and_then(|entry| entry.decision.message),
            ),
            (None, Some(message)) => ("rejected", Some(message.clone())),
            (None, None) => ("pending", None),
        },
    };
    let crossed: Vec<Pending> = left
        .iter()
        .filter(|p| p.conflict.is_some())
        .cloned()
        .collect();
    let rejected: Vec<&Pending> = left
        .iter()
        .filter(|p| p.rejected.is_some() && p.conflict.is_none())
        .collect();
    let pending = left.len() - rejected.len() - crossed.len();
    let offline_reason = report.offline.as_ref().map(|o| o.reason.as_str());

    if json {
        let decisions = changes
            .iter()
            .zip(&outbox_ids)
            .map(|((id, change), outbox_id)| {
                let (result, message) = outcome(*outbox_id);
                DecisionOutcome {
                    id: *id,
                    new_triage_state: change.state,
                    new_triage_reason: change.reason,
                    new_note: change.note.as_deref(),
                    result,
                    message,
                }
            })
            .collect();
        let error = match (pending, rejected.first()) {
            (_, Some(r)) => r.rejected.clone(),
            (n, None) if n > 0 => offline_reason.map(str::to_string),
            _ => None,
        };
        output::print(&TriageOutput {
            recorded: changes.len(),
            acknowledged: changes.len() - left.len(),
            pending,
            rejected: rejected.len(),
            conflicts: ConflictEntry::list(&crossed),
            decisions,
            refused: None,
            error,
        })?;
    } else {
        for ((id, change), outbox_id) in changes.iter().zip(&outbox_ids) {
            let (result, message) = outcome(*outbox_id);
            let result = match message {
                Some(m) => format!("{result}: {}", inert(&m)),
                None => result.to_string(),
            };
            say!("{id}\t{}\t{result}", change.describe());
        }
        if pending > 0 {
            eprintln!(
                "sift: {} {} recorded but not sent yet: {}. The next `sift sync`, or the console, will send {}.",
                words::decisions(pending),
                words::is_are(pending),
                inert(offline_reason.unwrap_or("the backend did not acknowledge them")),
                words::it_them(pending)
            );
        }
        if !rejected.is_empty() {
            eprintln!(
                "sift: the backend rejected {}; kept, and listed by `sift sync`.",
                words::decisions(rejected.len())
            );
        }
        conflicts::explain(crossed.len());
    }
    if !crossed.is_empty() {
        return Ok(Exit::Conflict);
    }
    Ok(Exit::of_outbox(!rejected.is_empty(), pending > 0))
}

/// Another process on the store (a console, another script) may be sending
/// some of these decisions: waits until its request is answered, so the
/// outcome said is the backend's. True when some are still waiting.
fn wait_for_other_senders(store: &crate::store::Store, outbox_ids: &[i64]) -> Result<bool> {
    let deadline = std::time::Instant::now() + crate::sync::SyncConfig::default().request_timeout;
    while !store.in_flight(outbox_ids)?.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let pending = store.pending()?;
    Ok(pending
        .iter()
        .any(|p| outbox_ids.contains(&p.id) && p.rejected.is_none()))
}
