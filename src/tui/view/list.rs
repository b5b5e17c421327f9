//! The findings of the current view: only the rows on screen are built, so
//! the cost of a frame does not grow with the backlog.

use super::sidebar::short_rule;
use super::{is_focused, pane_block};
use crate::domain::{Row, Severity, Status};
use crate::text::inert;
use crate::tui::format::{age, fit_start, pad};
use crate::tui::model::{Model, Pane};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect) {
    let theme = &model.theme;
    let focused = is_focused(model, Pane::List);
    let mut title = vec![Span::raw(format!(
        " {} · {} ",
        model.filter.view.label(),
        model.visible.len()
    ))];
    if let Some(scope) = &model.filter.scope {
        let text = match scope.suggested {
            Some(_) => format!("suggested to close under \"{}\" ", inert(&scope.label)),
            None => format!("in memory \"{}\" ", inert(&scope.label)),
        };
        title.push(Span::styled(text, theme.key));
    }
    let filter = model.filter.to_line();
    if !filter.is_empty() {
        title.push(Span::styled(format!("/{} ", inert(&filter)), theme.key));
    }
    let block = pane_block(Line::from(title), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;

    if model.index.is_empty() {
        frame.render_widget(Paragraph::new(empty_backlog(model)), inner);
        return;
    }
    if model.visible.is_empty() {
        let filter = model.filter.to_line();
        let first = if filter.is_empty() {
            "No findings here.".to_string()
        } else {
            format!("No findings in this view match /{}.", inert(&filter))
        };
        let lines = vec![
            Line::from(Span::styled(first, theme.dim)),
            Line::from(Span::styled(
                "Choose another view on the left, or change the filter (/; Backspace clears it).",
                theme.dim,
            )),
        ];
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }

    let cols = Columns::for_width(width);
    let range = model.targets();
    let in_range = |id: i64| model.visual.is_some() && range.contains(&id);
    let mut lines = Vec::with_capacity(inner.height as usize);
    lines.push(Line::from(Span::styled(cols.header(width), theme.dim)));
    let rows = (inner.height as usize).saturating_sub(1);
    for (n, &pos) in model
        .visible
        .iter()
        .enumerate()
        .skip(model.list.offset)
        .take(rows)
    {
        let row = &model.index.rows[pos as usize];
        let marker = if in_range(row.id) {
            "▌"
        } else if model.marked.contains(&row.id) {
            "●"
        } else {
            " "
        };
        let mut line = cols.line(model, row, width, marker);
        if n == model.list.selected {
            let sel = if focused {
                theme.selected
            } else {
                theme.selected_unfocused
            };
            line = line.patch_style(sel);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// What to show when there is nothing at all: how to get findings in.
fn empty_backlog(model: &Model) -> Vec<Line<'static>> {
    let t = &model.theme;
    vec![
        Line::from(Span::styled("The backlog is empty.", t.heading)),
        Line::from(""),
        Line::from("Import scanner output:"),
        Line::from(Span::styled("  semgrep scan --json -o results.json", t.key)),
        Line::from(Span::styled(
            "  sift import results.json --project NAME",
            t.key,
        )),
        Line::from(""),
        Line::from("Or look around in the demo backlog:"),
        Line::from(Span::styled("  sift demo", t.key)),
    ]
}

/// Column widths for a list width; narrow lists drop status and age.
struct Columns {
    status: bool,
    age: bool,
    rule: usize,
    location: usize,
}

impl Columns {
    const MARK: usize = 1;
    const SEV: usize = 4;
    const VERDICT: usize = 2;
    const STATUS: usize = 8;
    const AGE: usize = 4;

    fn for_width(width: usize) -> Columns {
        let status = width >= 56;
        let age = width >= 44;
        let fixed = Self::MARK
            + Self::SEV
            + 1
            + Self::VERDICT
            + 1
            + if status { Self::STATUS + 1 } else { 0 }
            + if age { Self::AGE + 1 } else { 0 };
        let rest = width.saturating_sub(fixed + 1);
        let rule = rest * 9 / 20;
        Columns {
            status,
            age,
            rule,
            location: rest - rule,
        }
    }

    fn header(&self, width: usize) -> String {
        let mut s = format!(" {} {} ", pad("SEV", Self::SEV), pad("AI", Self::VERDICT));
        if self.status {
            s += &pad("STATUS", Self::STATUS);
            s.push(' ');
        }
        s += &pad("RULE", self.rule);
        s.push(' ');
        s += &pad("LOCATION", self.location);
        if self.age {
            s.push(' ');
            s += &format!("{:>w$}", "AGE", w = Self::AGE);
        }
        pad(&s, width)
    }

    fn line(&self, model: &Model, row: &Row, width: usize, marker: &str) -> Line<'static> {
        let t = &model.theme;
        let mut spans = vec![
            Span::styled(marker.to_string(), t.key),
            Span::styled(
                pad(severity_label(row.severity), Self::SEV),
                t.severity(row.severity),
            ),
            Span::raw(" "),
            Span::styled(
                pad(row.verdict.map_or("--", |v| v.short()), Self::VERDICT),
                t.verdict(row.verdict),
            ),
            Span::raw(" "),
        ];
        if self.status {
            // A trailing … says the backend has not acknowledged it yet.
            let status = if row.pending {
                format!("{}…", status_label(row.status))
            } else {
                status_label(row.status).to_string()
            };
            spans.push(Span::styled(
                pad(&status, Self::STATUS),
                t.status(row.status),
            ));
            spans.push(Span::raw(" "));
        }
        let rule = inert(short_rule(model.index.rules.get(row.rule))).into_owned();
        spans.push(Span::styled(pad(&rule, self.rule), t.text));
        spans.push(Span::raw(" "));
        let location = format!("{}:{}", inert(model.index.paths.get(row.path)), row.line);
        spans.push(Span::styled(
            pad(&fit_start(&location, self.location), self.location),
            t.text,
        ));
        if self.age {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                format!("{:>w$}", age(model.now, row.relevant_since), w = Self::AGE),
                t.dim,
            ));
        }
        let used: usize = spans.iter().map(|s| s.width()).sum();
        spans.push(Span::raw(" ".repeat(width.saturating_sub(used))));
        Line::from(spans)
    }
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "CRIT",
        Severity::High => "HIGH",
        Severity::Medium => "MED",
        Severity::Low => "LOW",
    }
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::Reviewing => "review",
        Status::Fixing => "to-fix",
        Status::Ignored => "ignored",
        Status::Fixed => "fixed",
        Status::ProvisionallyIgnored => "prov-ig",
    }
}
