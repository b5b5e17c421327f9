//! `sift conflicts`: the reviewer's decisions that a colleague's crossed
//! (the backend left them alone: someone else decided the finding since the
//! reviewer saw it), and settling them: `keep` sends yours again over
//! theirs, `drop` lets theirs stand.

use super::sync::OutboxDecision;
use super::{Context, Exit, output, words};
use crate::domain::{TriageReason, TriageState};
use crate::store::Pending;
use crate::sync::conflict_sentence;
use crate::text::inert;
use crate::wire::timestamp;
use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;

#[derive(Args)]
pub struct ConflictsArgs {
    #[command(subcommand)]
    pub settle: Option<Settle>,
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Settle {
    /// Keep your decisions over your colleagues': they are sent again
    /// now, and applied if no one changed the findings once more.
    Keep(SettleArgs),
    /// Drop your decisions: your colleagues' stand.
    Drop(SettleArgs),
}

#[derive(Args)]
pub struct SettleArgs {
    /// Finding ids, as `sift conflicts` lists them.
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub ids: Vec<i64>,
    /// Every conflict.
    #[arg(long, conflicts_with = "ids")]
    pub all: bool,
}

/// A decision in conflict, for `--json` (`sift conflicts`, `sift sync`,
/// `sift triage`): the decision as `sift sync` lists the outbox, its
/// message saying what happened, and what the finding holds.
#[derive(Serialize)]
pub struct ConflictEntry<'a> {
    #[serde(flatten)]
    pub decision: OutboxDecision<'a>,
    /// What the finding holds on the backend, and who set it when.
    pub theirs: Theirs<'a>,
}

#[derive(Serialize)]
pub struct Theirs<'a> {
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    pub by: Option<&'a str>,
    pub at: Option<String>,
}

impl<'a> ConflictEntry<'a> {
    /// None for a decision not in conflict.
    pub fn of(p: &'a Pending) -> Option<ConflictEntry<'a>> {
        let c = p.conflict.as_ref()?;
        let mut decision = OutboxDecision::from(p);
        decision.message = Some(conflict_sentence(c, &p.change, p.created_at));
        Some(ConflictEntry {
            decision,
            theirs: Theirs {
                triage_state: c.state,
                triage_reason: c.reason,
                by: c.by.as_deref(),
                at: c.at.map(timestamp::format),
            },
        })
    }

    pub fn list(rows: &'a [Pending]) -> Vec<ConflictEntry<'a>> {
        rows.iter().filter_map(ConflictEntry::of).collect()
    }
}

/// `sift conflicts --json`.
#[derive(Serialize)]
struct ConflictsOutput<'a> {
    /// The conflicts left, after settling.
    conflicts: Vec<ConflictEntry<'a>>,
    /// `keep` or `drop`, when settling.
    #[serde(skip_serializing_if = "Option::is_none")]
    settled: Option<&'static str>,
    /// The decisions settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    decisions: Option<Vec<ConflictEntry<'a>>>,
    /// Kept decisions the backend acknowledged now.
    acknowledged: usize,
    /// Kept decisions not sent yet (the backend is unavailable).
    pending: usize,
    offline_reason: Option<&'a str>,
}

/// One line per conflict: the finding, your decision, what happened.
pub fn print_lines(rows: &[Pending]) -> Result<()> {
    for p in rows {
        if let Some(c) = &p.conflict {
            say!(
                "{}\t{}\tconflict: {}",
                p.finding_id,
                p.change.describe(),
                inert(&conflict_sentence(c, &p.change, p.created_at))
            );
        }
    }
    Ok(())
}

/// What the commands that send say after the lines, on stderr.
pub fn explain(n: usize) {
    if n > 0 {
        eprintln!(
            "sift: a colleague decided {} before your {} reached the server; {} kept, not \
             applied. `sift conflicts keep ID` sends yours again, `sift conflicts drop ID` lets \
             theirs stand.",
            if n == 1 { "a finding" } else { "findings" },
            words::decisions(n),
            if n == 1 { "it is" } else { "they are" }
        );
    }
}

pub fn run(ctx: &Context, args: ConflictsArgs) -> Result<Exit> {
    let json = args.json;
    ctx.require_existing_store()?;
    let mut store = ctx.open_store()?;
    let Some(settle) = args.settle else {
        let conflicts = store.conflicts()?;
        if json {
            output::print(&ConflictsOutput {
                conflicts: ConflictEntry::list(&conflicts),
                settled: None,
                decisions: None,
                acknowledged: 0,
                pending: 0,
                offline_reason: None,
            })?;
        } else if conflicts.is_empty() {
            say!("no conflicts");
        } else {
            print_lines(&conflicts)?;
        }
        return Ok(exit(conflicts.len(), 0));
    };
    let (keep, SettleArgs { ids, all }) = match settle {
        Settle::Keep(a) => (true, a),
        Settle::Drop(a) => (false, a),
    };
    let before = store.conflicts()?;
    let unknown: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !before.iter().any(|p| p.finding_id == *id))
        .collect();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(i64::to_string).collect();
        eprintln!(
            "sift: no decision of yours is in conflict on {}; nothing was settled. `sift \
             conflicts` lists those that are.",
            list.join(", ")
        );
        return Ok(Exit::BadInput);
    }
    let chosen: Vec<Pending> = before
        .into_iter()
        .filter(|p| all || ids.contains(&p.finding_id))
        .collect();
    let outbox_ids: Vec<i64> = chosen.iter().map(|p| p.id).collect();
    if keep {
        store.keep_mine(&outbox_ids)?;
    } else {
        store.take_theirs(&outbox_ids)?;
    }
    // Kept decisions go now; a pass also brings the colleagues' decisions
    // to the store after a drop.
    let report = ctx.sync_pass(&mut store);
    let left = store.conflicts()?;
    let still: Vec<Pending> = store
        .pending()?
        .into_iter()
        .filter(|p| outbox_ids.contains(&p.id))
        .collect();
    let waiting: Vec<i64> = still
        .iter()
        .filter(|p| p.rejected.is_none())
        .map(|p| p.id)
        .collect();
    let acknowledged = if keep {
        outbox_ids.len() - still.len()
    } else {
        0
    };
    let offline_reason = report.offline.as_ref().map(|o| o.reason.as_str());
    if json {
        output::print(&ConflictsOutput {
            conflicts: ConflictEntry::list(&left),
            settled: Some(if keep { "keep" } else { "drop" }),
            decisions: Some(ConflictEntry::list(&chosen)),
            acknowledged,
            pending: waiting.len(),
            offline_reason,
        })?;
    } else {
        if keep {
            say!(
                "kept {}; sent {}",
                words::decisions(chosen.len()),
                acknowledged
            );
        } else {
            say!(
                "dropped {}: your colleagues' stand",
                words::decisions(chosen.len())
            );
        }
        print_lines(&left)?;
        if !waiting.is_empty() {
            eprintln!(
                "sift: {} not sent yet: {}. The next `sift sync`, or the console, will send {}.",
                words::decisions(waiting.len()),
                inert(offline_reason.unwrap_or("the backend did not acknowledge them")),
                words::it_them(waiting.len())
            );
        }
        explain(left.len());
    }
    Ok(exit(left.len(), waiting.len()))
}

/// Conflicts left win over decisions waiting, which win over success.
fn exit(conflicts: usize, waiting: usize) -> Exit {
    if conflicts > 0 {
        Exit::Conflict
    } else {
        Exit::of_outbox(false, waiting > 0)
    }
}
