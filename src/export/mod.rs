//! Exports of what a reviewer sees: the findings a filter selects, each
//! with its decision history, as JSON ([`json`]), CSV ([`csv`]) or SARIF
//! 2.1.0 ([`sarif`]), written to any `io::Write` as they are read.
//!
//! Findings are read from the store a page at a time and written at once,
//! so an export of a million findings holds one page, not the document.
//! `sift export` and the console both call [`write`] (or
//! [`write_selected`] with an index they already hold).

pub mod csv;
pub mod json;
pub mod sarif;

use crate::domain::{
    Activity, ComponentRisk, Confidence, Filter, Finding, FindingIndex, Severity, Status,
    TriageChange, TriageReason, TriageState, Verdict, rule_short_name,
};
use crate::store::Store;
use crate::wire::timestamp;
use anyhow::Result;
use serde::Serialize;
use std::io::Write;

/// Findings read from the store at a time.
const PAGE: usize = 500;

/// The formats an export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"export": {...}, "findings": [...]}`, one finding a line.
    Json,
    /// One row a finding, a header row first.
    Csv,
    /// SARIF 2.1.0, one run; decisions as `suppressions`.
    Sarif,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Sarif, Format::Json, Format::Csv];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Sarif => "sarif",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        let text = text.to_ascii_lowercase();
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub findings: usize,
    /// Entries of the findings' histories, decisions and notes.
    pub history: usize,
    /// Of those, decisions still waiting in the outbox.
    pub not_synced: usize,
}

/// The findings `filter` selects, in its order, written as `format`.
pub fn write(
    store: &Store,
    filter: &Filter,
    format: Format,
    out: &mut (impl Write + ?Sized),
) -> Result<ExportSummary> {
    let index = store.load_index()?;
    let positions = index.select(filter);
    write_selected(store, &index, &positions, filter, format, out)
}

/// The findings at `positions` in `index` (as `FindingIndex::select` gives
/// them for `filter`), written as `format`. `filter` is only described in
/// the export's header.
pub fn write_selected(
    store: &Store,
    index: &FindingIndex,
    positions: &[u32],
    filter: &Filter,
    format: Format,
    out: &mut (impl Write + ?Sized),
) -> Result<ExportSummary> {
    let ids: Vec<i64> = positions
        .iter()
        .filter_map(|&p| index.rows.get(p as usize).map(|r| r.id))
        .collect();
    let mut records = Records::new(store, &ids);
    match format {
        Format::Json => json::write(&Header::of(filter), &mut records, out)?,
        Format::Csv => csv::write(&mut records, out)?,
        Format::Sarif => {
            let rules = sarif::Rules::of(store, index, positions)?;
            sarif::write(&rules, &mut records, out)?
        }
    }
    out.flush()?;
    Ok(records.summary)
}

/// The exported findings, read from the store a page at a time (two at
/// once: [`Store::render_findings`]) and written as they are rendered, and
/// what has been written so far.
pub struct Records<'a> {
    store: &'a Store,
    ids: &'a [i64],
    summary: ExportSummary,
}

impl<'a> Records<'a> {
    pub fn new(store: &'a Store, ids: &'a [i64]) -> Records<'a> {
        Records {
            store,
            ids,
            summary: ExportSummary::default(),
        }
    }

    /// Writes every record to `out` as `render` writes it, `first` before
    /// the first record and `next` before each other one.
    pub fn write_each(
        &mut self,
        out: &mut (impl Write + ?Sized),
        (first, next): (&[u8], &[u8]),
        render: impl Fn(&Record, &mut Vec<u8>) -> Result<()> + Sync,
    ) -> Result<()> {
        let mut written = false;
        let summary = &mut self.summary;
        self.store.render_findings(
            self.ids,
            |found| {
                let mut text = Vec::new();
                let mut part = ExportSummary::default();
                for finding in &found {
                    let record = Record::of(finding);
                    let history = &record.review.history;
                    part.findings += 1;
                    part.history += history.len();
                    part.not_synced += history.iter().filter(|h| !h.synced).count();
                    text.extend_from_slice(next);
                    render(&record, &mut text)?;
                }
                Ok((text, part))
            },
            |(text, part)| {
                if part.findings == 0 {
                    return Ok(());
                }
                // The chunk's first record is led like any other: unless
                // it is the very first, which is led by `first`.
                let text = match written {
                    false => {
                        out.write_all(first)?;
                        &text[next.len()..]
                    }
                    true => &text[..],
                };
                out.write_all(text)?;
                written = true;
                summary.findings += part.findings;
                summary.history += part.history;
                summary.not_synced += part.not_synced;
                Ok(())
            },
        )
    }
}

/// What the export says of itself: which sift, when, and what it selected.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub tool: &'static str,
    pub version: &'static str,
    pub exported_at: String,
    /// The view's command-line name, e.g. `needs-review`.
    pub view: &'static str,
    /// The rest of the filter as the console's filter line writes it.
    pub filter: String,
}

impl Header {
    fn of(filter: &Filter) -> Header {
        Header {
            tool: "sift",
            version: env!("CARGO_PKG_VERSION"),
            exported_at: timestamp::format(time::OffsetDateTime::now_utc()),
            view: filter.view.slug(),
            filter: filter.to_line(),
        }
    }
}

/// One exported finding: where it is, what the scan said, and what
/// reviewers and Assistants decided.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: i64,
    pub project: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The identity Semgrep and sift keep across scans and refs.
    pub match_based_id: String,
    /// The full rule id.
    pub rule: String,
    /// Its last part, as the console's list shows it.
    pub rule_name: String,
    pub rule_message: String,
    pub severity: Severity,
    pub confidence: Option<Confidence>,
    pub path: String,
    /// 0 when the scanner did not say.
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
    pub message: String,
    #[serde(flatten)]
    pub review: Review,
}

/// What was decided about a finding, by people and Assistants.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub status: Status,
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    /// The latest note a decision carried.
    pub triage_comment: Option<String>,
    pub triaged_at: Option<String>,
    pub verdict: Option<Verdict>,
    pub verdict_reason: Option<String>,
    /// `semgrep` (Semgrep Assistant) or `sift` (sift's own Assistant).
    pub verdict_by: Option<&'static str>,
    /// For sift's own Assistant: `provider/model`.
    pub verdict_model: Option<String>,
    /// sift's own Assistant was asked and gave no verdict: why.
    pub no_verdict: Option<String>,
    pub component: Option<String>,
    pub risk: Option<ComponentRisk>,
    /// Code that replaces the matched lines.
    pub fix: Option<String>,
    /// `semgrep` (Semgrep Assistant), `sift` (sift's own Assistant) or
    /// `rule` (the rule's own fix).
    pub fix_by: Option<&'static str>,
    /// Every decision and note, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// One entry of a finding's history: a decision, a note, or what a scan
/// or the platform recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub by: String,
    /// In words, e.g. "set to ignored (false positive)", "added a note".
    pub action: String,
    /// The triage state a decision set; none for notes and scan events.
    pub triage_state: Option<TriageState>,
    pub reason: Option<TriageReason>,
    pub note: Option<String>,
    /// False for a decision still waiting in the outbox for the backend.
    pub synced: bool,
}

impl HistoryEntry {
    pub fn of(a: &Activity) -> HistoryEntry {
        let change = TriageChange::from_activity(&a.action);
        HistoryEntry {
            at: timestamp::format(a.at),
            by: a.actor.clone(),
            action: a.action.clone(),
            triage_state: change.as_ref().and_then(|c| c.state),
            reason: change.and_then(|c| c.reason),
            note: a.note.clone(),
            synced: !a.pending,
        }
    }
}

/// A finding's history, oldest first.
pub fn history(f: &Finding) -> Vec<HistoryEntry> {
    f.activity.iter().map(HistoryEntry::of).collect()
}

impl Record {
    pub fn of(f: &Finding) -> Record {
        let a = f.assistant.as_ref();
        let verdict = f.verdict();
        let own_judge = a.and_then(|a| a.judged_by.as_ref());
        let component = a.and_then(|a| a.component.as_ref());
        let (fix, fix_by) = match a.and_then(|a| a.autofix_code.as_ref()) {
            Some(code) => (
                Some(code.clone()),
                Some(if a.is_some_and(|a| a.fixed_by.is_some()) {
                    "sift"
                } else {
                    "semgrep"
                }),
            ),
            None => (f.rule_fix.clone(), f.rule_fix.as_ref().map(|_| "rule")),
        };
        Record {
            id: f.id,
            project: f.project.clone(),
            git_ref: f.git_ref.clone(),
            match_based_id: f.match_based_id.clone(),
            rule: f.rule.name.clone(),
            rule_name: rule_short_name(&f.rule.name).to_string(),
            rule_message: f.rule.message.clone(),
            severity: f.severity,
            confidence: f.confidence,
            path: f.location.path.clone(),
            line: f.location.line,
            column: f.location.column,
            end_line: f.location.end_line,
            end_column: f.location.end_column,
            message: f.message.clone(),
            review: Review {
                status: f.status(),
                triage_state: f.triage_state,
                triage_reason: f.triage_reason,
                triage_comment: f.triage_comment.clone(),
                triaged_at: f.triaged_at.map(timestamp::format),
                verdict,
                verdict_reason: a
                    .map(|a| a.verdict_reason.clone())
                    .filter(|r| verdict.is_some() && !r.is_empty()),
                verdict_by: verdict.map(|_| {
                    if own_judge.is_some() {
                        "sift"
                    } else {
                        "semgrep"
                    }
                }),
                verdict_model: own_judge.map(|j| format!("{}/{}", j.provider, j.model)),
                no_verdict: a.and_then(|a| a.no_verdict.clone()),
                component: component.map(|c| c.tag.clone()),
                risk: component.and_then(|c| c.risk),
                fix,
                fix_by,
                history: history(f),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn history_entries_read_the_decision_back() {
        let at = datetime!(2026-03-02 10:00:00 UTC);
        let entry = |action: &str, pending| {
            HistoryEntry::of(&Activity {
                at,
                actor: "carol".into(),
                action: action.into(),
                note: Some("test fixture".into()),
                pending,
            })
        };
        let ignored = entry("set to ignored (acceptable risk)", true);
        assert_eq!(ignored.triage_state, Some(TriageState::Ignored));
        assert_eq!(ignored.reason, Some(TriageReason::AcceptableRisk));
        assert!(!ignored.synced);
        assert_eq!(ignored.at, "2026-03-02T10:00:00.000000Z");
        let note = entry("added a note", false);
        assert_eq!((note.triage_state, note.reason), (None, None));
        assert!(note.synced);
        let scan = entry("fixed: no longer reported", false);
        assert_eq!(scan.triage_state, None);
        assert_eq!(scan.action, "fixed: no longer reported");
    }

    #[test]
    fn formats_parse_their_names() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("SARIF"), Some(Format::Sarif));
        assert_eq!(Format::parse("xml"), None);
    }
}
