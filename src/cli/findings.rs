//! `sift findings`: the findings the console would list, as lines or in the
//! Semgrep API v1 shape.

use super::context::Refresh;
use super::names::{Known, UnknownNames};
use super::{Context, Exit, output};
use crate::domain::{
    BacklogView, ComponentRisk, Filter, Finding, FindingIndex, Severity, SortBy, Status,
    VerdictFilter,
};
use crate::export::{self, HistoryEntry};
use crate::store::StoredFinding;
use crate::text::inert;
use crate::wire::v1;
use anyhow::{Context as _, Result};
use clap::Args;
use serde::Serialize;
use std::io::{IoSlice, Write};

#[derive(Args)]
pub struct FindingsArgs {
    #[command(flatten)]
    pub selection: Selection,
    /// Print `{"findings": [...]}` in the Semgrep API v1 shape.
    #[arg(long)]
    pub json: bool,
}

/// Which findings a command works on, as the console's views and filter
/// choose them (`sift findings`, `sift assist`).
#[derive(Args, Clone)]
pub struct Selection {
    /// pre-production, needs-review, production, to-fix, reviewing,
    /// ignored, fixed or all (default: pre-production; for `sift assist`,
    /// all).
    #[arg(long, value_parser = parse_view)]
    pub view: Option<BacklogView>,
    /// open, reviewing, fixing (to-fix), ignored, fixed, provisionally_ignored.
    #[arg(long, value_delimiter = ',', value_parser = parse_status)]
    pub status: Vec<Status>,
    /// true_positive (tp), false_positive (fp) or none.
    #[arg(long, value_delimiter = ',', value_parser = parse_verdict)]
    pub verdict: Vec<VerdictFilter>,
    /// A project (repository) name (repeatable).
    #[arg(long)]
    pub project: Vec<String>,
    /// Rule id, or the short name the list shows (repeatable).
    #[arg(long)]
    pub rule: Vec<String>,
    /// low, medium, high, critical.
    #[arg(long, value_delimiter = ',', value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Words to find in the rule id, path or message.
    #[arg(long)]
    pub text: Option<String>,
    /// Findings an Assistant tagged with this component (part of the tag,
    /// e.g. `pay` for "payments").
    #[arg(long)]
    pub component: Vec<String>,
    /// high, low or neutral: the component's risk.
    #[arg(long, value_delimiter = ',', value_parser = parse_risk)]
    pub risk: Vec<ComponentRisk>,
    /// The order: severity (default: most severe, then newest), risk
    /// (high-risk components first), age (oldest first), rule or file.
    #[arg(long, value_parser = parse_sort)]
    pub sort: Option<SortBy>,
    /// The console's filter line, e.g. `severity:high,critical rule:sqli
    /// payments` (keys: severity, status, verdict, project, rule,
    /// component, risk, sort, view; other words are searched for). The
    /// options above add to it.
    #[arg(long = "filter", value_name = "EXPR")]
    pub filter_line: Option<String>,
}

impl Selection {
    /// The filter, with `view` when none was given; an error names what in
    /// `--filter` makes no sense.
    pub fn filter(&self, view: BacklogView) -> Result<Filter, String> {
        let mut filter = Filter {
            view,
            ..Filter::default()
        };
        if let Some(line) = &self.filter_line {
            filter
                .apply_line(line)
                .map_err(|e| format!("--filter: {e}"))?;
        }
        match self.view {
            // Two views named: neither is dropped without a word.
            Some(given) if filter.view != view && filter.view != given => {
                return Err(format!(
                    "--view {} and --filter's view:{} name two views; give one",
                    given.slug(),
                    filter.view.slug()
                ));
            }
            Some(given) => filter.view = given,
            None => {}
        }
        filter.severities.extend(&self.severity);
        filter.statuses.extend(&self.status);
        filter.verdicts.extend(&self.verdict);
        filter.projects.extend(self.project.iter().cloned());
        filter.rules.extend(self.rule.iter().cloned());
        filter.words.extend(
            self.text
                .iter()
                .flat_map(|t| t.split_whitespace().map(str::to_string)),
        );
        filter.components.extend(self.component.iter().cloned());
        filter.risks.extend(&self.risk);
        filter.sort = self.sort.unwrap_or(filter.sort);
        Ok(filter)
    }

    /// The positions of the findings it selects in `index`, or the
    /// `--project` and `--rule` names the store does not know, or what in
    /// `--filter` cannot be read (`cli::run` says it, exit 3).
    pub fn select(&self, index: &FindingIndex, view: BacklogView) -> Result<Vec<u32>> {
        self.select_with_filter(index, view).map(|(_, found)| found)
    }

    /// [`Selection::select`], with the filter it made.
    pub fn select_with_filter(
        &self,
        index: &FindingIndex,
        view: BacklogView,
    ) -> Result<(Filter, Vec<u32>)> {
        let filter = self
            .filter(view)
            .map_err(|problem| UnknownNames(vec![problem]))?;
        Known::in_index(index).check(&filter.projects, &filter.rules)?;
        let found = index.select(&filter);
        Ok((filter, found))
    }

    /// Says on stderr that nothing matched, when the store has findings: an
    /// empty answer a new reader would take for an empty backlog.
    pub fn say_none_matched(&self, index: &FindingIndex) {
        if index.is_empty() {
            return;
        }
        let view = self
            .filter(BacklogView::PreProduction)
            .map_or(BacklogView::PreProduction, |f| f.view);
        eprintln!(
            "sift: no findings match in the {} view ({} in the store; `--view all` lists every view)",
            view.label().to_lowercase(),
            index.len()
        );
    }
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

fn parse_risk(s: &str) -> Result<ComponentRisk, String> {
    ComponentRisk::parse(&s.to_ascii_lowercase())
        .ok_or_else(|| "expected high, low or neutral".into())
}

fn parse_sort(s: &str) -> Result<SortBy, String> {
    SortBy::parse(s).ok_or_else(|| "expected severity, risk, age, rule or file".into())
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse_loose(s).ok_or_else(|| "expected low, medium, high or critical".into())
}

/// One finding of `sift findings --json`: the Semgrep API v1 shape, and
/// its history (decisions and notes, oldest first, those still waiting in
/// the outbox marked `"synced": false`), which the v1 shape has no room for.
#[derive(Serialize)]
pub struct ListedFinding {
    #[serde(flatten)]
    pub finding: v1::Finding,
    pub history: Vec<HistoryEntry>,
}

impl ListedFinding {
    pub fn of(f: &Finding) -> ListedFinding {
        ListedFinding {
            finding: v1::Finding::from_domain(f),
            history: export::history(f),
        }
    }

    /// What `output::to_line` writes of `ListedFinding::of` the finding,
    /// from the store's rows without putting the finding together.
    pub fn write(finding: &StoredFinding<'_>, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        finding.write_v1_fields(out)?;
        out.extend_from_slice(b",\"history\":");
        let history: Vec<HistoryEntry> = finding.history().map(|a| HistoryEntry::of(&a)).collect();
        serde_json::to_writer(&mut *out, &history)?;
        out.push(b'}');
        if crate::text::below_del(&out[start..]) {
            return Ok(());
        }
        let written = std::str::from_utf8(&out[start..]).context("a finding is not UTF-8")?;
        if let std::borrow::Cow::Owned(escaped) = output::escape_hidden(written) {
            out.truncate(start);
            out.extend_from_slice(escaped.as_bytes());
        }
        Ok(())
    }
}

/// `sift findings --json` when it lists nothing because of `error`.
#[derive(Serialize)]
pub struct FindingsFailed<'a> {
    pub findings: Vec<ListedFinding>,
    pub error: &'a str,
}

impl<'a> FindingsFailed<'a> {
    pub fn new(error: &'a str) -> FindingsFailed<'a> {
        FindingsFailed {
            findings: Vec::new(),
            error,
        }
    }
}

pub fn run(ctx: &Context, args: FindingsArgs) -> Result<Exit> {
    ctx.refresh(Refresh::Always)?;
    let store = ctx.read_store()?;
    let index = store.load_index()?;
    let selected = args.selection.select(&index, BacklogView::PreProduction)?;
    let stdout = std::io::stdout();
    if args.json {
        // Streamed so a large backlog is never held twice, each chunk of
        // findings in one system call from where it was written.
        let mut out = stdout.lock();
        out.write_all(b"{\"findings\": [")?;
        let ids: Vec<i64> = selected
            .iter()
            .map(|&i| index.rows[i as usize].id)
            .collect();
        let mut separator: &[u8] = b"\n  ";
        store.render_stored(&ids, true, ListedFinding::write, |chunk| {
            let mut slices = Vec::new();
            for finding in chunk.findings() {
                slices.push(IoSlice::new(separator));
                slices.push(IoSlice::new(finding));
                separator = b",\n  ";
            }
            Ok(output::write_all_vectored(&mut out, &mut slices)?)
        })?;
        out.write_all(b"\n]}\n")?;
        out.flush().context("cannot write the findings")?;
    } else {
        let mut out = std::io::BufWriter::new(stdout.lock());
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
        out.flush().context("cannot write the findings")?;
    }
    if selected.is_empty() && !args.json {
        args.selection.say_none_matched(&index);
    }
    Ok(Exit::Ok)
}
