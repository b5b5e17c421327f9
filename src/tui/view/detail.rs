//! The selected finding, everything a reviewer needs to decide.

use super::{age, fit, is_focused, pane_block};
use crate::domain::{Finding, Status, TriageState, Verdict};
use crate::text::{inert, inert_lines};
use crate::tui::model::{Model, Pane};
use crate::tui::theme::Theme;
use crate::wire::timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub fn draw(frame: &mut Frame, model: &Model, area: Rect) {
    let focused = is_focused(model, Pane::Detail);
    let title = match (&model.detail.finding, model.detail.requested) {
        // Still the previous finding: the cursor has not rested yet.
        (Some(f), Some(id)) if f.id != id => format!(" Finding {id} … "),
        (Some(f), _) => format!(" Finding {} ", f.id),
        (None, Some(id)) => format!(" Finding {id} "),
        (None, None) => " Finding ".into(),
    };
    let block = pane_block(Line::from(title), focused, &model.theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = content(model, inner.width);
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(model.detail.scroll)
        .take(inner.height as usize)
        .collect();
    frame.render_widget(Paragraph::new(visible), inner);
}

/// How many lines the detail pane has at a width, for scrolling.
pub fn content_height(model: &Model, width: u16) -> usize {
    content(model, width).len()
}

fn content(model: &Model, width: u16) -> Vec<Line<'static>> {
    let theme = &model.theme;
    let width = width.max(1) as usize;
    match (&model.detail.finding, &model.detail.error) {
        (_, Some(error)) => {
            let mut w = Writer::new(width, theme);
            w.styled("Cannot show this finding:", theme.error);
            w.wrapped(error, theme.text);
            w.lines
        }
        (Some(f), None) => finding_lines(f, &model.memories, model.now, width, theme),
        (None, None) if model.detail.requested.is_some() => {
            vec![Line::from(Span::styled("Loading…", theme.dim))]
        }
        (None, None) => vec![Line::from(Span::styled("No finding selected.", theme.dim))],
    }
}

/// Accumulates wrapped, inert lines.
struct Writer<'t> {
    width: usize,
    theme: &'t Theme,
    lines: Vec<Line<'static>>,
}

impl<'t> Writer<'t> {
    fn new(width: usize, theme: &'t Theme) -> Self {
        Writer {
            width,
            theme,
            lines: Vec::new(),
        }
    }

    fn blank(&mut self) {
        self.lines.push(Line::from(""));
    }

    fn section(&mut self, title: &str) {
        self.blank();
        let rule = "─".repeat(self.width.saturating_sub(title.width() + 4));
        self.lines.push(Line::from(Span::styled(
            format!("── {title} {rule}"),
            self.theme.heading,
        )));
    }

    /// Our own text, one line, cut to the width.
    fn styled(&mut self, text: &str, style: Style) {
        self.lines
            .push(Line::from(Span::styled(fit(text, self.width), style)));
    }

    /// Untrusted text, made inert and word-wrapped.
    fn wrapped(&mut self, text: &str, style: Style) {
        for line in inert_lines(text) {
            for piece in wrap(&line, self.width) {
                self.lines.push(Line::from(Span::styled(piece, style)));
            }
        }
    }

    /// A label and untrusted value: "Label  value", wrapped under the value.
    fn field(&mut self, label: &str, value: &str) {
        let label_w = 11;
        let value_w = self.width.saturating_sub(label_w).max(1);
        for (i, piece) in inert_lines(value)
            .flat_map(|l| wrap(&l, value_w))
            .enumerate()
        {
            let head = if i == 0 {
                format!("{label:<label_w$}")
            } else {
                " ".repeat(label_w)
            };
            self.lines.push(Line::from(vec![
                Span::styled(head, self.theme.dim),
                Span::styled(piece, self.theme.text),
            ]));
        }
    }
}

fn finding_lines(
    f: &Finding,
    memories: &[crate::domain::Memory],
    now: i64,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut w = Writer::new(width, theme);
    let short = f.rule.name.rsplit('.').next().unwrap_or(&f.rule.name);
    w.wrapped(short, theme.heading);
    if short != f.rule.name {
        w.wrapped(&f.rule.name, theme.dim);
    }
    w.blank();
    w.wrapped(&f.message, theme.text);
    w.blank();

    w.lines.push(Line::from(vec![
        Span::styled(format!("{:<11}", "Severity"), theme.dim),
        Span::styled(
            f.severity.as_str().to_uppercase(),
            theme.severity(f.severity),
        ),
        Span::styled("  confidence ", theme.dim),
        Span::styled(f.confidence.map_or("unknown", |c| c.as_str()), theme.text),
    ]));
    w.field("Status", &status_text(f));
    if let Some(comment) = f.triage_comment.as_deref().filter(|c| !c.is_empty()) {
        w.field("Note", comment);
    }
    for cwe in &f.rule.cwe_names {
        w.field("CWE", cwe);
    }
    for owasp in &f.rule.owasp_names {
        w.field("OWASP", owasp);
    }
    if !f.rule.vulnerability_classes.is_empty() {
        w.field("Class", &f.rule.vulnerability_classes.join(", "));
    }
    w.field("Project", &f.project);
    w.field("Ref", &f.git_ref);
    let loc = &f.location;
    w.field(
        "Location",
        &format!("{}:{}:{}", loc.path, loc.line, loc.column),
    );
    w.field(
        "First seen",
        &format!(
            "{} ago ({})",
            age(now, f.relevant_since.unix_timestamp()),
            &timestamp::format(f.relevant_since)[..10]
        ),
    );

    w.section("Assistant");
    match &f.assistant {
        None => w.styled("Not analysed by Assistant.", theme.dim),
        Some(a) => {
            match a.verdict {
                Some(Verdict::TruePositive) => {
                    w.styled("Verdict: true positive — fix it", theme.verdict(a.verdict))
                }
                Some(Verdict::FalsePositive) => {
                    w.styled(
                        "Verdict: false positive — safe to ignore",
                        theme.verdict(a.verdict),
                    );
                    if !a.verdict_reason.is_empty() {
                        w.wrapped(&a.verdict_reason, theme.text);
                    }
                }
                None => w.styled("No verdict.", theme.dim),
            }
            if let Some(c) = &a.component {
                let risk = c
                    .risk
                    .map(|r| format!(" ({} risk)", r.as_str()))
                    .unwrap_or_default();
                w.field("Component", &format!("{}{risk}", c.tag));
            }
        }
    }

    let covering: Vec<&crate::domain::Memory> = memories
        .iter()
        .filter(|m| {
            m.scope.covers(
                &f.project,
                &f.rule.name,
                &f.rule.vulnerability_classes,
                &f.location.path,
            )
        })
        .collect();
    if !covering.is_empty() {
        w.section("Memories that cover it");
        for m in covering {
            let stage = match m.stage {
                crate::domain::MemoryStage::Live => "live",
                crate::domain::MemoryStage::Suggested => "suggested",
            };
            w.wrapped(
                &format!("• {} ({stage}, {})", m.content, m.scope.summary()),
                theme.text,
            );
        }
    }
    w.section("Code");
    match &f.code {
        Some(code) => code_lines(&mut w, f, code),
        None => w.styled(
            "No code context (import with --repo-root to add it).",
            theme.dim,
        ),
    }

    if let Some(fix) = &f.rule_fix {
        w.section("Fix from the rule");
        for line in inert_lines(fix) {
            w.lines.push(Line::from(Span::styled(
                fit(&format!("  {line}"), width),
                theme.text,
            )));
        }
    }

    if let Some(a) = &f.assistant {
        if let Some(e) = &a.rule_explanation {
            w.section("Why this rule applies");
            if !e.summary.is_empty() {
                w.wrapped(&e.summary, theme.heading);
            }
            w.wrapped(&e.explanation, theme.text);
        }
        if let Some(g) = &a.guidance {
            w.section("Guidance");
            if !g.summary.is_empty() {
                w.wrapped(&g.summary, theme.heading);
            }
            w.wrapped(&g.instructions, theme.text);
        }
        if let Some(fix) = &a.autofix_code {
            w.section("Suggested fix");
            for line in inert_lines(fix) {
                w.lines.push(Line::from(Span::styled(
                    fit(&format!("  {line}"), width),
                    theme.text,
                )));
            }
        }
    }
    if !f.rule.references.is_empty() {
        w.section("References");
        for r in &f.rule.references {
            w.wrapped(r, theme.dim);
        }
    }

    w.section("Activity");
    w.field(&timestamp::format(f.created_at)[..10], "first detected");
    for a in &f.activity {
        let when = &timestamp::format(a.at)[..10];
        let pending = if a.pending { " (pending)" } else { "" };
        w.field(when, &format!("{}: {}{pending}", a.actor, a.action));
        if let Some(note) = a.note.as_deref().filter(|n| !n.is_empty()) {
            for line in inert_lines(note).flat_map(|l| wrap(&l, width.saturating_sub(13).max(1))) {
                w.lines.push(Line::from(Span::styled(
                    format!("{:13}{line}", ""),
                    theme.dim,
                )));
            }
        }
    }
    w.lines
}

fn status_text(f: &Finding) -> String {
    let status = f.status();
    let mut s = status.label().to_string();
    if let (Status::Ignored, Some(r)) = (status, f.triage_reason) {
        s += &format!(" ({})", r.label().to_lowercase());
    }
    if f.triage_state == TriageState::Reopened {
        s += " (reopened)";
    }
    s
}

fn code_lines(w: &mut Writer, f: &Finding, code: &crate::domain::CodeContext) {
    let first = f.location.line;
    let last = f.location.end_line.max(first);
    let last_no = code.start_line as usize + code.lines.len();
    let num_w = last_no.to_string().len();
    for (i, text) in code.lines.iter().enumerate() {
        let no = code.start_line + i as u32;
        let matched = no >= first && no <= last;
        let marker = if matched { "▶" } else { " " };
        let text = inert(text);
        let body = fit(&format!("{marker}{no:>num_w$} │ {text}"), w.width);
        let style = if matched {
            w.theme.matched_line
        } else {
            w.theme.text
        };
        w.lines.push(Line::from(Span::styled(body, style)));
    }
}

/// Word-wraps one inert line to `width` columns; words longer than a line
/// are broken.
pub(super) fn wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for word in line.split(' ') {
        let ww = word.width();
        if used > 0 && used + 1 + ww > width {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        if used > 0 {
            current.push(' ');
            used += 1;
        }
        if ww <= width - used {
            current.push_str(word);
            used += ww;
            continue;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width {
                out.push(std::mem::take(&mut current));
                used = 0;
            }
            current.push(c);
            used += cw;
        }
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_breaks_long_ones() {
        assert_eq!(
            wrap("the quick brown fox", 9),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
    }
}
