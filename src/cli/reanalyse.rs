//! `sift memories reanalyse ID` and `sift memories suggestions ID`: the
//! backlog judged again under a memory, and what it suggests closing.

use super::context::block_on;
use super::memories::Refused;
use super::{Context, Exit, output, words};
use crate::assistant::reanalyse::reanalyse;
use crate::assistant::{NOT_CONFIGURED, Provider};
use crate::config;
use crate::domain::Memory;
use crate::store::Store;
use crate::text::inert;
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use std::sync::Arc;

#[derive(Args)]
pub struct ReanalyseArgs {
    /// The memory's id (`sift memories list`).
    pub id: String,
    /// Requests at once (default: the config's `jobs`, else 4).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SuggestionJson<'a> {
    id: i64,
    reason: &'a str,
}

#[derive(Serialize)]
struct ReanalyseOutput<'a> {
    memory: &'a str,
    in_scope: usize,
    questions: usize,
    reused: usize,
    suggested: Vec<SuggestionJson<'a>>,
    failed: usize,
    input_tokens: u64,
    output_tokens: u64,
    stopped: Option<&'a str>,
}

pub fn run(ctx: &Context, args: ReanalyseArgs) -> Result<Exit> {
    if ctx.backend()?.is_remote() {
        bail!(
            "re-analysis under a memory uses sift's own Assistant on sift's own store; on the \
             Semgrep API, Semgrep's Assistant re-analyses"
        );
    }
    let Some(mut settings) = config::assistant(ctx.flags.profile.as_deref(), &ctx.config)? else {
        bail!("{NOT_CONFIGURED}");
    };
    if let Some(jobs) = args.jobs {
        settings.jobs = jobs.clamp(1, 64);
    }
    let shared = ctx.shared_store()?;
    let provider = Arc::new(Provider::new(settings)?);
    let done = block_on(reanalyse(&shared, provider, &args.id, Arc::new(|_| {})))?;
    let done = match done {
        Ok(done) => done,
        Err(e) => {
            let why = format!("{e:#}");
            if args.json {
                output::print(&serde_json::json!({ "error": why }))?;
            }
            eprintln!("sift: {}", inert(&why));
            return Ok(Exit::BadInput);
        }
    };
    let report = &done.report;
    if args.json {
        output::print(&ReanalyseOutput {
            memory: &done.memory_id,
            in_scope: done.in_scope,
            questions: report.questions,
            reused: report.reused,
            suggested: done
                .suggested
                .iter()
                .map(|(id, reason)| SuggestionJson { id: *id, reason })
                .collect(),
            failed: report.failed.len(),
            input_tokens: report.input_tokens,
            output_tokens: report.output_tokens,
            stopped: report.stopped.as_deref(),
        })?;
    } else {
        say!(
            "{} in the scope of memory {} judged again: {} suggested to close",
            words::undecided_findings(done.in_scope),
            inert(&done.memory_id),
            done.suggested.len()
        );
        for (id, reason) in &done.suggested {
            say!("{id}\t{}", inert(reason));
        }
        if !done.suggested.is_empty() {
            say!(
                "nothing is closed: `sift memories accept-suggestions {}` closes them",
                inert(&done.memory_id)
            );
        }
        if let Some(why) = &report.stopped {
            eprintln!("sift: stopped: {}", inert(why));
        } else if let Some((_, why)) = report.failed.first() {
            eprintln!(
                "sift: {} got no answer this time ({}); run it again to ask for them",
                words::findings(report.failed.len()),
                inert(why)
            );
        }
    }
    Ok(if report.stopped.is_some() {
        Exit::Error
    } else if !report.failed.is_empty() {
        Exit::Pending
    } else {
        Exit::Ok
    })
}

/// A suggested memory drafted from the note on ignored finding `id`, or
/// none when the note holds nothing to remember.
pub fn draft(ctx: &Context, store: &Store, id: i64, author: &str) -> Result<Option<Memory>> {
    if ctx.backend()?.is_remote() {
        bail!("drafting memories uses sift's own Assistant on sift's own store");
    }
    let Some(settings) = config::assistant(ctx.flags.profile.as_deref(), &ctx.config)? else {
        bail!("{NOT_CONFIGURED}");
    };
    let Some(f) = store.load_finding(id)? else {
        return Err(Refused(format!("no finding has the id {id}")).into());
    };
    let (Some(reason), Some(note)) = (
        f.triage_reason,
        f.triage_comment.as_deref().filter(|n| !n.trim().is_empty()),
    ) else {
        return Err(Refused(format!(
            "finding {id} is not ignored with a note: there is nothing to draft from"
        ))
        .into());
    };
    let memories = store.memories_in_view()?.0;
    let classes = store.rule_classes()?;
    let evidence = crate::assistant::prompt::gather(store, &f, &memories, &classes)?;
    let provider = Provider::new(settings)?;
    let drafted = block_on(crate::assistant::draft::draft(
        &provider, &f, &evidence, reason, note, author,
    ))?;
    drafted.map_err(|why| anyhow::anyhow!("no draft from the AI provider: {}", inert(&why)))
}

/// `sift memories suggestions ID`.
pub fn list(store: &Store, memory: &Memory, json: bool) -> Result<Exit> {
    let suggested = store.suggestions(&memory.id)?;
    if json {
        output::print(&serde_json::json!({
            "memory": memory.id,
            "suggested": suggested
                .iter()
                .map(|s| SuggestionJson { id: s.finding_id, reason: &s.reason })
                .collect::<Vec<_>>(),
        }))?;
    } else {
        for s in &suggested {
            say!("{}\t{}", s.finding_id, inert(&s.reason));
        }
    }
    Ok(Exit::Ok)
}
