//! The CSV export (RFC 4180): a header row, then one row a finding; its
//! history is one cell, an entry a line.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a
//! formula (CSV injection: `=cmd|' /C calc'!A0`), so such a cell gets a
//! leading apostrophe, which spreadsheets show as text. No control
//! character arrives raw: newlines stay inside quoted cells, the others
//! become visible (`text::inert`).

use super::{HistoryEntry, Record, Records};
use anyhow::Result;
use std::borrow::Cow;
use std::io::Write;

const COLUMNS: [&str; 28] = [
    "id",
    "project",
    "ref",
    "match_based_id",
    "rule",
    "rule_name",
    "severity",
    "confidence",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "message",
    "status",
    "triage_state",
    "triage_reason",
    "triage_comment",
    "triaged_at",
    "verdict",
    "verdict_reason",
    "verdict_by",
    "verdict_model",
    "component",
    "risk",
    "fix_by",
    "fix",
    "history",
];

pub fn write(records: &mut Records<'_>, out: &mut (impl Write + ?Sized)) -> Result<()> {
    write_row(out, COLUMNS.iter().map(|c| Cow::Borrowed(*c)))?;
    records.write_each(out, (b"", b""), |r, text| {
        Ok(write_row(text, cells(r).into_iter())?)
    })
}

/// The record's cells, in [`COLUMNS`] order.
fn cells(r: &Record) -> Vec<Cow<'_, str>> {
    let text = |s: &str| Cow::Owned(s.to_string());
    let opt = |s: Option<&str>| Cow::Owned(s.unwrap_or_default().to_string());
    let num = |n: u32| Cow::Owned(n.to_string());
    let v = &r.review;
    let cells = vec![
        Cow::Owned(r.id.to_string()),
        text(&r.project),
        text(&r.git_ref),
        text(&r.match_based_id),
        text(&r.rule),
        text(&r.rule_name),
        text(r.severity.as_str()),
        opt(r.confidence.map(|c| c.as_str())),
        text(&r.path),
        num(r.line),
        num(r.column),
        num(r.end_line),
        num(r.end_column),
        text(&r.message),
        text(v.status.as_str()),
        text(v.triage_state.as_str()),
        opt(v.triage_reason.map(|t| t.as_str())),
        opt(v.triage_comment.as_deref()),
        opt(v.triaged_at.as_deref()),
        opt(v.verdict.map(|t| t.as_str())),
        opt(v.verdict_reason.as_deref()),
        opt(v.verdict_by),
        opt(v.verdict_model.as_deref()),
        opt(v.component.as_deref()),
        opt(v.risk.map(|t| t.as_str())),
        opt(v.fix_by),
        opt(v.fix.as_deref()),
        Cow::Owned(
            v.history
                .iter()
                .map(history_line)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ];
    debug_assert_eq!(cells.len(), COLUMNS.len());
    cells
}

/// `2026-03-02T10:00:00Z carol: set to ignored (false positive): the note
/// (not synced)`, on one line.
fn history_line(h: &HistoryEntry) -> String {
    let mut line = format!("{} {}: {}", h.at, h.by, h.action);
    if let Some(note) = h.note.as_deref().filter(|n| !n.is_empty()) {
        line.push_str(": ");
        line.push_str(&note.lines().collect::<Vec<_>>().join(" / "));
    }
    if !h.synced {
        line.push_str(" (not synced)");
    }
    line
}

fn write_row<'a>(
    out: &mut (impl Write + ?Sized),
    cells: impl Iterator<Item = Cow<'a, str>>,
) -> std::io::Result<()> {
    for (i, c) in cells.enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(quoted(&defused(&visible(&c))).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// The text with every control or invisible character made visible, but
/// its line breaks kept (as `\n`).
fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(crate::text::needs_marking) {
        return Cow::Borrowed(text);
    }
    let lines: Vec<Cow<str>> = crate::text::inert_lines(text).collect();
    Cow::Owned(lines.join("\n"))
}

/// A cell a spreadsheet would take for a formula, made text. Leading
/// spaces do not hide one.
fn defused(cell: &str) -> Cow<'_, str> {
    if cell.trim_start().starts_with(['=', '+', '-', '@']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell, quoted when it holds a comma, a quote or a line break.
fn quoted(cell: &str) -> Cow<'_, str> {
    if cell.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", cell.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut out = Vec::new();
        write_row(&mut out, std::iter::once(Cow::Borrowed(text))).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn cells_are_quoted_when_they_must_be() {
        assert_eq!(cell("plain"), "plain\r\n");
        assert_eq!(cell("a, b"), "\"a, b\"\r\n");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"\r\n");
        assert_eq!(cell("crlf\r\nline"), "\"crlf\nline\"\r\n");
    }

    #[test]
    fn formulas_become_text() {
        for f in ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "  =1"] {
            assert_eq!(cell(f), format!("'{f}\r\n"));
        }
        assert_eq!(cell("=1,2"), "\"'=1,2\"\r\n");
        assert_eq!(cell("a=b"), "a=b\r\n");
        // A tab becomes spaces, and the formula behind them is still found.
        assert_eq!(cell("\t=1"), "'    =1\r\n");
    }

    #[test]
    fn no_control_character_arrives_raw() {
        let out = cell("\u{1b}[31mred\u{1b}[0m\ttab\u{7}\u{9b}2J \u{202e}gnp.exe\rx");
        assert!(
            !out.trim_end_matches("\r\n")
                .chars()
                .any(crate::text::needs_marking),
            "{out:?}"
        );
        assert!(out.contains("red"), "{out:?}");
    }
}
