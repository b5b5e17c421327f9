//! `sift fix ID`: the finding's fix as a unified diff that `git apply`
//! accepts in the source tree given at import: the rule's own fix when it
//! has one, else the Assistant's (sift's own asks for one when there is
//! none, or with `--again`).

use super::context::block_on;
use super::{Context, Exit, output};
use crate::assistant::run::{self, RunOptions, Task};
use crate::assistant::{NOT_CONFIGURED, Provider, fix};
use crate::config;
use crate::domain::FixConfidence;
use crate::domain::patch::{self, PatchError};
use crate::text::inert;
use anyhow::{Result, bail};
use clap::Args;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use std::sync::Arc;

#[derive(Args)]
pub struct FixArgs {
    /// The finding's id (as `sift findings` prints it).
    pub id: i64,
    /// Ask sift's own Assistant for a new fix even if there is one.
    #[arg(long)]
    pub again: bool,
    /// Never ask the AI provider: print the fix there is, or say there is
    /// none.
    #[arg(long, conflicts_with = "again")]
    pub no_ask: bool,
    /// Print the fix, its rating, its guidance and the diff as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Whose fix it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Author {
    /// The rule's own `fix`: it wins over any Assistant's.
    Rule,
    /// Semgrep's Assistant (from the platform).
    Semgrep,
    /// sift's own Assistant.
    Sift,
}

#[derive(Serialize)]
struct FixOutput<'a> {
    id: i64,
    author: Author,
    /// low, medium or high: the review pass's rating of sift's own fixes.
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<FixConfidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review: Option<&'a str>,
    /// The path the diff names, relative to the source tree.
    path: &'a str,
    diff: &'a str,
}

pub fn run(ctx: &Context, args: FixArgs) -> Result<Exit> {
    let min = config::min_fix_confidence(ctx.flags.profile.as_deref(), &ctx.config)?;
    let store = ctx.read_store()?;
    let Some(f) = store.load_finding(args.id)? else {
        return refuse(&args, &format!("no finding has the id {}", args.id));
    };
    let has_fix = f.rule_fix.is_some()
        || f.assistant
            .as_ref()
            .is_some_and(|a| a.autofix_code.is_some());
    if f.rule_fix.is_none() && (args.again || !has_fix) && !args.no_ask {
        ask(ctx, &args)?;
    }
    let Some(f) = store.load_finding(args.id)? else {
        return refuse(
            &args,
            &format!("finding {} is gone from the store", args.id),
        );
    };
    let Some(root) = store.source_root(&f.project)? else {
        bail!(
            "sift fix makes the diff against the project's source tree, and {} has none: import \
             the scan again with --repo-root DIR",
            inert(&f.project)
        );
    };
    let Some((path, bytes)) = crate::import::file_in_tree(&root, &f.location.path) else {
        bail!(
            "{} is not in the source tree {} (moved, deleted, or too large)",
            inert(&f.location.path),
            root.display()
        );
    };
    let Ok(file) = String::from_utf8(bytes) else {
        bail!("{} is not UTF-8 text: no diff can be made", inert(&path));
    };
    let loc = &f.location;
    let matched = patch::lines_of(&file, loc.line, loc.end_line);
    let (author, new_text, expected) = match (&f.rule_fix, f.assistant.as_ref()) {
        (Some(rule_fix), _) => {
            if let Err(why) = fix::shown_fix(&f, min) {
                return refuse(&args, &format!("finding {}: {why}", f.id));
            }
            let Some(new) = matched.as_deref().and_then(|m| {
                patch::span_replaced(
                    m,
                    loc.column,
                    loc.end_line.saturating_sub(loc.line),
                    loc.end_column,
                    rule_fix,
                )
            }) else {
                return refuse(
                    &args,
                    "the file changed since the scan: the rule's fix no longer fits",
                );
            };
            (Author::Rule, new, None)
        }
        (None, a) => {
            let code = match fix::shown_fix(&f, min) {
                Ok(code) => code,
                Err(why) => return refuse(&args, &format!("finding {}: {why}", f.id)),
            };
            let by = a.and_then(|a| a.fixed_by.as_ref());
            let new = patch::reindent(&code, matched.as_deref().unwrap_or(""));
            match by {
                Some(by) => (Author::Sift, new, Some(by.replaces.clone())),
                None => (Author::Semgrep, new, None),
            }
        }
    };
    let diff = match patch::unified_diff(
        &path,
        &file,
        loc.line,
        loc.end_line,
        expected.as_deref(),
        &new_text,
    ) {
        Ok(diff) => diff,
        Err(e @ (PatchError::Stale | PatchError::OutOfRange { .. })) => {
            return refuse(
                &args,
                &format!(
                    "finding {}: {e} (sift fix {} --again asks for a new one)",
                    f.id, f.id
                ),
            );
        }
        Err(e) => return refuse(&args, &format!("finding {}: {e}", f.id)),
    };
    let a = f.assistant.as_ref().filter(|_| author != Author::Rule);
    if args.json {
        output::print(&FixOutput {
            id: f.id,
            author,
            confidence: a
                .and_then(|a| a.fixed_by.as_ref())
                .and_then(|b| b.confidence),
            summary: a
                .and_then(|a| a.guidance.as_ref())
                .map(|g| g.summary.as_str()),
            instructions: a
                .and_then(|a| a.guidance.as_ref())
                .map(|g| g.instructions.as_str()),
            review: a
                .and_then(|a| a.fixed_by.as_ref())
                .map(|b| b.review.as_str()),
            path: &path,
            diff: &diff,
        })?;
        return Ok(Exit::Ok);
    }
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        // The file's own lines may hold anything: shown inert on a terminal,
        // byte for byte into a pipe (for git apply).
        for line in diff.split_inclusive('\n') {
            writeln!(out, "{}", inert(line.trim_end_matches(['\n', '\r'])))?;
        }
    } else {
        out.write_all(diff.as_bytes())?;
    }
    Ok(Exit::Ok)
}

/// Asks sift's own Assistant for a fix for the finding, stored as it comes.
fn ask(ctx: &Context, args: &FixArgs) -> Result<()> {
    if ctx.backend()?.is_remote() {
        bail!(
            "finding {} has no fix; on the Semgrep API, Semgrep's own Assistant writes them",
            args.id
        );
    }
    let Some(settings) = config::assistant(ctx.flags.profile.as_deref(), &ctx.config)? else {
        bail!(
            "finding {} has no fix to print, and {NOT_CONFIGURED}",
            args.id
        );
    };
    let shared = ctx.shared_store()?;
    let opts = RunOptions {
        task: Task::Fixes,
        again: args.again,
        attach: true,
        on_demand: true,
        ..RunOptions::default()
    };
    let provider = Arc::new(Provider::new(settings)?);
    let report = block_on(run::run(
        &shared,
        provider,
        vec![args.id],
        opts,
        Arc::new(|_| {}),
    ))??;
    if let Some(why) = report
        .stopped
        .or(report.failed.first().map(|(_, w)| w.clone()))
    {
        // Not always the provider's doing: a finding without code is
        // never asked about.
        bail!("finding {} got no fix: {}", args.id, inert(&why));
    }
    Ok(())
}

/// Nothing to print, and why (exit code 3).
fn refuse(args: &FixArgs, why: &str) -> Result<Exit> {
    if args.json {
        output::print(&serde_json::json!({ "error": why }))?;
    }
    eprintln!("sift: {}", inert(why));
    Ok(Exit::BadInput)
}
