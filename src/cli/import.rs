//! `sift import`: scanner output into the embedded backend's store.

use super::{Context, Exit, output};
use crate::import::ImportOptions;
use crate::store::ImportSummary;
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
    let mut scans = Vec::new();
    for file in &args.files {
        match crate::import::load_file(file, &opts) {
            Ok(s) => scans.extend(s),
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
    let summaries = store.import(&scans)?;
    let warnings: Vec<String> = scans
        .iter()
        .flat_map(|s| s.warnings.iter().map(|w| format!("{}: {w}", s.origin)))
        .collect();
    if args.json {
        let scanner_errors = scans
            .iter()
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
    for (s, scan) in summaries.iter().zip(&scans) {
        say!(
            "{}: {} @ {}: {} new, {} updated, {} fixed",
            inert(&s.origin),
            inert(&s.project),
            inert(&s.git_ref),
            s.new,
            s.updated,
            s.fixed
        );
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
