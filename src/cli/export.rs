//! `sift export`: the findings a selection shows, each with its decision
//! history, as SARIF 2.1.0, JSON or CSV, on stdout or in a file that
//! appears whole or not at all.

use super::context::Refresh;
use super::findings::Selection;
use super::{Context, Exit};
use crate::domain::BacklogView;
use crate::export::{self, ExportSummary, Format};
use crate::text::inert;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// sarif (2.1.0, decisions as suppressions), json or csv.
    #[arg(long, value_parser = parse_format)]
    pub format: Format,
    /// Write to FILE instead of stdout; an existing FILE is kept unless
    /// --force.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| "expected sarif, json or csv".into())
}

pub fn run(ctx: &Context, args: ExportArgs) -> Result<Exit> {
    if let Some(path) = &args.output
        && path.exists()
        && !args.force
    {
        eprintln!(
            "sift: {} exists; --force replaces it",
            inert(&path.display().to_string())
        );
        return Ok(Exit::BadInput);
    }
    ctx.refresh(Refresh::Always)?;
    let store = ctx.read_store()?;
    let index = store.load_index()?;
    let (filter, positions) = args
        .selection
        .select_with_filter(&index, BacklogView::PreProduction)?;
    let write = |out: &mut dyn Write| {
        export::write_selected(
            &store,
            &index,
            &positions,
            &filter,
            args.format,
            &mut &mut *out,
        )
    };
    match &args.output {
        None => {
            let stdout = std::io::stdout();
            write(&mut BufWriter::new(stdout.lock()))?;
        }
        Some(path) => {
            let summary = write_file(path, args.force, write)?;
            say!(
                "Exported {} to {}{}",
                counted(summary.findings, "finding"),
                inert(&path.display().to_string()),
                history_words(&summary)
            );
        }
    }
    if positions.is_empty() {
        args.selection.say_none_matched(&index);
    }
    Ok(Exit::Ok)
}

/// Writes the export beside `path` and renames it into place, so a failed
/// export leaves no half file and an existing one stays unless `force`.
fn write_file(
    path: &Path,
    force: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<ExportSummary>,
) -> Result<ExportSummary> {
    let shown = inert(&path.display().to_string()).into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".sift-export-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in the folder of {shown}"))?;
    let mut out = BufWriter::new(temp.as_file());
    let summary = write(&mut out).with_context(|| format!("cannot export to {shown}"))?;
    out.flush()
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot export to {shown}"))?;
    drop(out);
    let placed = if force {
        temp.persist(path).map(drop)
    } else {
        // Refuses a file that appeared since the check above.
        temp.persist_noclobber(path).map(drop)
    };
    placed.map_err(|e| e.error).with_context(|| {
        if !force && path.exists() {
            format!("{shown} appeared meanwhile; --force replaces it")
        } else {
            format!("cannot export to {shown}")
        }
    })?;
    Ok(summary)
}

fn counted(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// ` (3 history entries, 1 not synced yet)`.
fn history_words(summary: &ExportSummary) -> String {
    let entries = match summary.history {
        1 => "1 history entry".to_string(),
        n => format!("{n} history entries"),
    };
    match summary.not_synced {
        0 => format!(" ({entries})"),
        n => format!(" ({entries}, {n} not synced yet)"),
    }
}
