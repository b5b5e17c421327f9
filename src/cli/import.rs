//! `sift import`: scanner output into the embedded backend's store.

use super::{Context, Exit, output};
use crate::domain::ScanError;
use crate::domain::ScanResults;
use crate::import::{ImportOptions, StreamedScan};
use crate::store::ImportSummary;
use crate::store::{ScanToStore, Store};
use crate::text::inert;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// Files to import; all are read before anything is stored.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: the repo root's name, or the file's name).
    #[arg(long)]
    pub project: Option<String>,
    /// Git ref the scan ran on (default: main), e.g. refs/pull/12/merge.
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// The scanned source tree, for code context and stable identities.
    #[arg(long, value_name = "DIR")]
    pub repo_root: Option<PathBuf>,
    /// List every error the scanner reported, not only how many of each
    /// kind (`--json` always lists them).
    #[arg(long)]
    pub errors: bool,
    #[arg(long)]
    pub json: bool,
}

/// `sift import --json`.
#[derive(Serialize)]
pub struct ImportOutput<'a> {
    pub imported: Vec<Imported<'a>>,
    pub scanner_errors: Vec<ScannerError<'a>>,
    pub warnings: Vec<String>,
    /// Why nothing was imported; only when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl<'a> ImportOutput<'a> {
    /// Nothing imported, because of `error`.
    pub fn failed(error: &'a str) -> ImportOutput<'a> {
        ImportOutput {
            imported: Vec::new(),
            scanner_errors: Vec::new(),
            warnings: Vec::new(),
            error: Some(error),
        }
    }
}

/// What one scan's import changed.
#[derive(Serialize)]
pub struct Imported<'a> {
    pub origin: &'a str,
    pub project: &'a str,
    #[serde(rename = "ref")]
    pub git_ref: &'a str,
    pub new: usize,
    pub updated: usize,
    /// Held already as the scan has them: nothing written.
    pub unchanged: usize,
    pub fixed: usize,
    /// The scanner's own errors in it.
    pub errors: usize,
}

impl<'a> From<&'a ImportSummary> for Imported<'a> {
    fn from(s: &'a ImportSummary) -> Self {
        Imported {
            origin: &s.origin,
            project: &s.project,
            git_ref: &s.git_ref,
            new: s.new,
            updated: s.updated,
            unchanged: s.unchanged,
            fixed: s.fixed,
            errors: s.errors,
        }
    }
}

/// An error the scanner reported in its output.
#[derive(Serialize)]
pub struct ScannerError<'a> {
    pub origin: &'a str,
    pub level: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub message: &'a str,
    pub path: Option<&'a str>,
}

pub fn run(ctx: &Context, args: ImportArgs) -> Result<Exit> {
    ctx.embedded_only("`sift import`")?;
    let dir = ctx.data_dir()?;
    let opts = ImportOptions {
        project: args.project,
        git_ref: args.git_ref,
        repo_root: args.repo_root,
    };
    // Every file is read (and checked) before anything is stored; a semgrep
    // file is read as a stream, twice, rather than held.
    let mut whole = Vec::new();
    let mut streamed = Vec::new();
    for file in &args.files {
        if let Some(s) = crate::import::survey_file(file, &opts) {
            streamed.push((whole.len(), s));
            continue;
        }
        match crate::import::load_file(file, &opts) {
            Ok(s) => whole.push(s),
            Err(e) => {
                let error = e.to_string();
                eprintln!("sift: {}", inert(&error));
                eprintln!("sift: nothing was imported");
                if args.json {
                    output::print(&ImportOutput::failed(&error))?;
                }
                return Ok(Exit::BadInput);
            }
        }
    }
    let mut store = ctx.open_store_in(&dir)?;
    let summaries = store_in_order(&mut store, &whole, &mut streamed)?;
    // The scans in the files' order, without the findings of those streamed.
    let mut scans: Vec<&ScanResults> = Vec::new();
    let mut streamed_scans = streamed.iter().peekable();
    for (i, file) in whole.iter().enumerate() {
        while let Some((_, s)) = streamed_scans.next_if(|(at, _)| *at == i) {
            scans.push(&s.scan);
        }
        scans.extend(file);
    }
    scans.extend(streamed_scans.map(|(_, s)| &s.scan));
    let warnings: Vec<String> = scans
        .iter()
        .copied()
        .flat_map(|s| {
            let failed = s.failed_warning();
            s.warnings
                .iter()
                .chain(&failed)
                .map(|w| format!("{}: {w}", s.origin))
                .collect::<Vec<_>>()
        })
        .collect();
    if args.json {
        let scanner_errors = scans
            .iter()
            .copied()
            .flat_map(|s| {
                s.errors.iter().map(|e| ScannerError {
                    origin: &s.origin,
                    level: &e.level,
                    kind: &e.kind,
                    message: &e.message,
                    path: e.path.as_deref(),
                })
            })
            .collect();
        output::print(&ImportOutput {
            imported: summaries.iter().map(Imported::from).collect(),
            scanner_errors,
            warnings,
            error: None,
        })?;
        return Ok(Exit::Ok);
    }
    for w in &warnings {
        eprintln!("sift: warning: {}", inert(w));
    }
    for (s, scan) in summaries.iter().zip(scans.iter().copied()) {
        say!(
            "{}: {} @ {}: {} new, {} updated, {} unchanged, {} fixed",
            inert(&s.origin),
            inert(&s.project),
            inert(&s.git_ref),
            s.new,
            s.updated,
            s.unchanged,
            s.fixed
        );
        if scan.errors.is_empty() {
            continue;
        }
        say!("  {}", errors_by_kind(&scan.errors, args.errors));
        if !args.errors {
            continue;
        }
        for e in &scan.errors {
            let path = e
                .path
                .as_deref()
                .map(|p| format!(" in {p}"))
                .unwrap_or_default();
            say!(
                "  scanner {} ({}){}: {}",
                inert(&e.level),
                inert(&e.kind),
                inert(&path),
                inert(&e.message)
            );
        }
    }
    Ok(Exit::Ok)
}

/// Stores the files' scans in one transaction, in the files' order:
/// `whole` those read whole (each file's), `streamed` those read as a
/// stream, each with the number of files read whole before it.
fn store_in_order(
    store: &mut Store,
    whole: &[Vec<ScanResults>],
    streamed: &mut [(usize, StreamedScan)],
) -> Result<Vec<crate::store::ImportSummary>> {
    let mut to_store: Vec<ScanToStore> = Vec::new();
    let mut streamed = streamed.iter_mut().peekable();
    for i in 0..=whole.len() {
        while let Some((_, s)) = streamed.next_if(|(before, _)| *before == i) {
            let StreamedScan { scan, keys, reader } = s;
            let keys: &[_] = keys;
            to_store.push(ScanToStore::Streamed {
                scan,
                keys,
                read: Box::new(move |take| reader.read_findings(keys, take)),
            });
        }
        if let Some(file) = whole.get(i) {
            to_store.extend(file.iter().map(ScanToStore::Whole));
        }
    }
    store.import_scans(&mut to_store)
}

/// "33 scanner errors: 20 Syntax error, 12 Timeout, 1 Other": the kinds,
/// most frequent first. A real scan can report hundreds, each a paragraph;
/// the count per kind is what a reviewer reads first.
fn errors_by_kind(errors: &[ScanError], listed: bool) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for e in errors {
        match kinds.iter_mut().find(|(kind, _)| *kind == e.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((&e.kind, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let each: Vec<String> = kinds
        .iter()
        .map(|(kind, n)| format!("{n} {}", inert(kind)))
        .collect();
    let noun = if errors.len() == 1 { "error" } else { "errors" };
    let more = if listed { "" } else { " (--errors lists them)" };
    format!("{} scanner {noun}: {}{more}", errors.len(), each.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: &str) -> ScanError {
        ScanError {
            level: "error".into(),
            kind: kind.into(),
            message: "m".into(),
            path: None,
        }
    }

    #[test]
    fn errors_are_counted_by_kind_most_frequent_first() {
        let mut errors = vec![error("Other")];
        errors.extend((0..12).map(|_| error("Timeout")));
        errors.extend((0..20).map(|_| error("Syntax error")));
        errors.push(error("Lexical error"));
        assert_eq!(
            errors_by_kind(&errors, false),
            "34 scanner errors: 20 Syntax error, 12 Timeout, 1 Lexical error, 1 Other \
             (--errors lists them)"
        );
        assert_eq!(
            errors_by_kind(&[error("Timeout\u{1b}[2J")], true),
            "1 scanner error: 1 Timeout␛[2J"
        );
    }
}
