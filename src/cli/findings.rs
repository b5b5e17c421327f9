//! `sift findings`: the findings the console would list, as lines or in the
//! Semgrep API v1 shape.

use super::context::Refresh;
use super::{Context, Exit, output};
use crate::domain::{BacklogView, Filter, Severity, Status, VerdictFilter};
use crate::text::inert;
use crate::wire::v1;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::Write;

#[derive(Args)]
pub struct FindingsArgs {
    /// pre-production, needs-review, production, to-fix, reviewing,
    /// ignored, fixed or all.
    #[arg(long, default_value = "pre-production", value_parser = parse_view)]
    pub view: BacklogView,
    /// open, reviewing, fixing (to-fix), ignored, fixed, provisionally_ignored.
    #[arg(long, value_delimiter = ',', value_parser = parse_status)]
    pub status: Vec<Status>,
    /// true_positive (tp), false_positive (fp) or none.
    #[arg(long, value_delimiter = ',', value_parser = parse_verdict)]
    pub verdict: Vec<VerdictFilter>,
    #[arg(long)]
    pub project: Vec<String>,
    /// Full rule id.
    #[arg(long)]
    pub rule: Vec<String>,
    /// low, medium, high, critical.
    #[arg(long, value_delimiter = ',', value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Words to find in the rule id, path or message.
    #[arg(long)]
    pub text: Option<String>,
    /// Print `{"findings": [...]}` in the Semgrep API v1 shape.
    #[arg(long)]
    pub json: bool,
}

fn parse_view(s: &str) -> Result<BacklogView, String> {
    BacklogView::parse(s).ok_or_else(|| {
        let all: Vec<_> = BacklogView::ALL.iter().map(|v| v.slug()).collect();
        format!("expected one of {}", all.join(", "))
    })
}

fn parse_status(s: &str) -> Result<Status, String> {
    Status::parse_loose(s).ok_or_else(|| {
        "expected open, reviewing, fixing, ignored, fixed or provisionally_ignored".into()
    })
}

fn parse_verdict(s: &str) -> Result<VerdictFilter, String> {
    VerdictFilter::parse(s).ok_or_else(|| "expected true_positive, false_positive or none".into())
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse_loose(s).ok_or_else(|| "expected low, medium, high or critical".into())
}

pub fn run(ctx: &Context, args: FindingsArgs) -> Result<Exit> {
    ctx.refresh(Refresh::Always)?;
    let filter = Filter {
        view: args.view,
        severities: args.severity,
        statuses: args.status,
        verdicts: args.verdict,
        projects: args.project,
        rules: args.rule,
        words: args
            .text
            .map(|t| t.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        scope: None,
    };
    let store = ctx.open_store()?;
    let index = store.load_index()?;
    let selected = index.select(&filter);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        // Streamed in chunks so a large backlog is never held twice.
        out.write_all(b"{\"findings\": [")?;
        let mut first = true;
        let ids: Vec<i64> = selected
            .iter()
            .map(|&i| index.rows[i as usize].id)
            .collect();
        for chunk in ids.chunks(500) {
            for f in store.load_findings(chunk)? {
                if !first {
                    out.write_all(b",")?;
                }
                first = false;
                out.write_all(b"\n  ")?;
                out.write_all(output::to_line(&v1::Finding::from_domain(&f))?.as_bytes())?;
            }
        }
        out.write_all(b"\n]}\n")?;
    } else {
        for &pos in &selected {
            let r = &index.rows[pos as usize];
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}:{}",
                r.id,
                r.severity,
                r.status,
                r.verdict.map_or("none", |v| v.as_str()),
                inert(index.projects.get(r.project)),
                inert(index.rules.get(r.rule)),
                inert(index.paths.get(r.path)),
                r.line
            )?;
        }
    }
    out.flush().context("cannot write the findings")?;
    Ok(Exit::Ok)
}
