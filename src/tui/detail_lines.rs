//! The detail pane's lines: what the selected finding says, wrapped to the
//! pane's width. Computed once per finding and width (and again when the
//! memories that may cover it change, or its age moves on) by `update`,
//! which keeps them in the model: the view draws them, scrolling counts
//! them. Pure; neither update nor view.

use crate::domain::{
    CodeContext, Finding, FixConfidence, Memory, MemoryStage, Status, TriageState, Verdict,
};
use crate::text::{inert, inert_lines};
use crate::tui::format::{age, age_changes_at, chop, fit, wrap};
use crate::tui::highlight::Highlight;
use crate::tui::theme::Theme;
use crate::wire::timestamp;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use std::ops::Range;
use unicode_width::UnicodeWidthStr;

/// What the pane shows.
#[derive(Debug, Clone, Copy)]
pub enum Shown<'a> {
    Finding(&'a Finding),
    /// Why the finding could not be loaded.
    Error(&'a str),
    /// The finding asked for has not arrived yet.
    Loading,
    /// No finding is selected.
    Nothing,
}

/// What the pane shows beside the finding's own record: the lowest fix
/// rating shown, the fix a reviewer's new guidance replaced (shown as
/// "before"), why a re-analysis suggests closing it, and the colours of
/// its code.
#[derive(Debug, Clone, Copy)]
pub struct Aside<'a> {
    pub min: FixConfidence,
    pub before: Option<&'a FixBefore>,
    /// The memory's first words and the Assistant's reason.
    pub suggestion: Option<(&'a str, &'a str)>,
    pub colours: Option<&'a Highlight>,
    /// The other refs the finding is on: its decisions change them too.
    pub other_refs: &'a [String],
}

/// A finding's fix as it was before `c` asked for a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct FixBefore {
    pub finding: i64,
    pub code: Option<String>,
    pub confidence: Option<FixConfidence>,
}

/// The lines, and what they were computed for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DetailLines {
    pub lines: Vec<Line<'static>>,
    /// The width they are wrapped to (0: not computed).
    pub width: u16,
    /// The `Detail::version` they show.
    pub version: u64,
    /// When a time in them (the finding's age) would read differently,
    /// in unix seconds.
    pub stale_at: Option<i64>,
}

impl DetailLines {
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Whether these are the lines of `version` at `width` at time `now`.
    pub fn current(&self, version: u64, width: u16, now: i64) -> bool {
        self.version == version && self.width == width && self.stale_at.is_none_or(|at| now < at)
    }
}

/// The pane's lines for what it shows, `width` columns wide.
pub fn detail_lines(
    shown: Shown,
    memories: &[Memory],
    fixes: Aside,
    now: i64,
    width: u16,
    theme: &Theme,
    version: u64,
) -> DetailLines {
    let columns = width.max(1) as usize;
    let (lines, stale_at) = match shown {
        Shown::Error(error) => {
            let mut w = Writer::new(columns, theme);
            w.styled("Cannot show this finding:", theme.error);
            w.wrapped(error, theme.text);
            (w.lines, None)
        }
        Shown::Finding(f) => {
            let then = f.relevant_since.unix_timestamp();
            (
                finding_lines(f, memories, fixes, now, columns, theme),
                Some(age_changes_at(now, then)),
            )
        }
        Shown::Loading => (vec![Line::from(Span::styled("Loading…", theme.dim))], None),
        Shown::Nothing => (
            vec![Line::from(Span::styled("No finding selected.", theme.dim))],
            None,
        ),
    };
    DetailLines {
        lines,
        width,
        version,
        stale_at,
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

    /// A line of code (untrusted, made inert here), broken at the width
    /// rather than cut: the first piece after `head`, the rest after as
    /// many spaces and `more`. `spans` are byte ranges of `text` and their
    /// styles, in order; the rest of the text has `style`.
    fn code(
        &mut self,
        head: &str,
        more: &str,
        text: &str,
        spans: &[(Range<usize>, Style)],
        style: Style,
    ) {
        let gutter = head.width();
        let room = self.width.saturating_sub(gutter).max(1);
        let mut pieces: Vec<(String, Style)> = Vec::new();
        let mut at = 0;
        // Colours computed for other text (the code changed) are dropped.
        let fits = |r: &Range<usize>, at: usize| {
            r.start >= at
                && r.end <= text.len()
                && text.is_char_boundary(r.start)
                && text.is_char_boundary(r.end)
        };
        for (r, s) in spans {
            if !fits(r, at) {
                continue;
            }
            if r.start > at {
                pieces.push((inert(&text[at..r.start]).into_owned(), style));
            }
            pieces.push((inert(&text[r.clone()]).into_owned(), style.patch(*s)));
            at = r.end;
        }
        if at < text.len() {
            pieces.push((inert(&text[at..]).into_owned(), style));
        }
        for (i, row) in chop(&pieces, room).into_iter().enumerate() {
            let lead = if i == 0 {
                Span::styled(head.to_string(), style)
            } else {
                Span::styled(format!("{:>gutter$}", more), self.theme.dim)
            };
            let mut line = vec![lead];
            line.extend(row.into_iter().map(|(t, s)| Span::styled(t, s)));
            self.lines.push(Line::from(line));
        }
    }

    /// A label and untrusted value: "Label  value", wrapped under the value.
    fn field(&mut self, label: &str, value: &str) {
        // Labels are at most ten characters: one space always follows.
        debug_assert!(label.chars().count() < 11, "{label}");
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
    memories: &[Memory],
    fixes: Aside,
    now: i64,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut w = Writer::new(width, theme);
    // What it is and where, then the code: the evidence comes before what
    // anyone judged about it.
    // The rule's full id is under "About the rule" (R copies it).
    let short = f.rule.name.rsplit('.').next().unwrap_or(&f.rule.name);
    w.wrapped(short, theme.heading);
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
    let loc = &f.location;
    w.field(
        "Location",
        &format!("{}:{}:{}", loc.path, loc.line, loc.column),
    );
    w.field("Project", &format!("{} · ref {}", f.project, f.git_ref));
    if !fixes.other_refs.is_empty() {
        w.field(
            "Also on",
            &format!(
                "{} (the same finding; a decision changes it there too)",
                fixes.other_refs.join(", ")
            ),
        );
    }

    w.section("Code");
    match &f.code {
        Some(code) => code_lines(&mut w, f, code, fixes.colours),
        None => w.styled(
            "No code context (import with --repo-root to add it).",
            theme.dim,
        ),
    }
    if let Some(fix) = &f.rule_fix {
        w.section("Fix from the rule");
        for line in fix.split('\n') {
            w.code("  ", "", line, &[], theme.text);
        }
    }

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
                None => match &a.no_verdict {
                    Some(why) => w.wrapped(&format!("No verdict: {why}"), theme.dim),
                    None => w.styled("No verdict.", theme.dim),
                },
            }
            // sift's own Assistant says who judged, and with what.
            if let Some(j) = &a.judged_by {
                if a.verdict == Some(Verdict::TruePositive) && !a.verdict_reason.is_empty() {
                    w.wrapped(&a.verdict_reason, theme.text);
                }
                w.field(
                    "Judged by",
                    &format!(
                        "{} ({}), {} ago",
                        j.model,
                        j.provider,
                        age(now, j.at.unix_timestamp())
                    ),
                );
                w.field("Memories", &memory_texts(&j.memories, memories));
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
    if let Some((memory, reason)) = fixes.suggestion {
        w.section("Suggested to close");
        w.wrapped(
            &format!("Under the memory \"{memory}\": {reason}"),
            theme.text,
        );
        w.styled(
            "a closes it (ignored as a false positive, the memory named)",
            theme.dim,
        );
    }
    if let Some(a) = &f.assistant {
        // The rule's own fix wins over an Assistant's.
        if f.rule_fix.is_none() {
            suggested_fix(&mut w, f, memories, fixes, now);
        }
        if let Some(g) = &a.guidance {
            w.section("Guidance");
            if !g.summary.is_empty() {
                w.wrapped(&g.summary, theme.heading);
            }
            w.wrapped(&g.instructions, theme.text);
        }
        if let Some(e) = &a.rule_explanation {
            w.section("Why this rule applies");
            if !e.summary.is_empty() {
                w.wrapped(&e.summary, theme.heading);
            }
            w.wrapped(&e.explanation, theme.text);
        }
    }

    let covering: Vec<&Memory> = memories
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
        // One line each: M lists them in full.
        w.section(&format!("Memories that cover it ({})", covering.len()));
        for m in covering {
            let stage = match m.stage {
                MemoryStage::Live => "",
                MemoryStage::Suggested => " (suggested)",
            };
            let first = inert_lines(&m.content).next().unwrap_or_default();
            w.styled(
                &format!("• {first}{stage} · {}", inert(&m.scope.summary())),
                theme.text,
            );
        }
    }

    w.section("About the rule");
    w.field("Rule", &f.rule.name);
    for cwe in &f.rule.cwe_names {
        w.field("CWE", cwe);
    }
    for owasp in &f.rule.owasp_names {
        w.field("OWASP", owasp);
    }
    if !f.rule.vulnerability_classes.is_empty() {
        w.field("Class", &f.rule.vulnerability_classes.join(", "));
    }
    for r in &f.rule.references {
        w.field("Reference", r);
    }

    w.section("Activity");
    w.field(
        "First seen",
        &format!(
            "{} ago ({})",
            age(now, f.relevant_since.unix_timestamp()),
            &timestamp::format(f.relevant_since)[..10]
        ),
    );
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

/// An Assistant's fix as a diff against the matched lines: with its
/// rating, review and provenance when sift's own wrote it; hidden below the
/// rating the team set; marked stale when the code changed since.
fn suggested_fix(w: &mut Writer, f: &Finding, memories: &[Memory], fixes: Aside, now: i64) {
    let Some(a) = &f.assistant else { return };
    let theme = w.theme;
    let matched = f
        .code
        .as_ref()
        .and_then(|c| crate::assistant::fix::matched(f, c));
    if let Some(code) = &a.autofix_code {
        match &a.fixed_by {
            None => {
                w.section("Suggested fix");
                diff_lines(w, matched.as_deref(), code);
            }
            Some(by) => {
                let rating = by.confidence.map_or("unrated", |c| c.as_str());
                w.section(&format!("Suggested fix · {rating} confidence"));
                let below = by.confidence.is_none_or(|c| c < fixes.min);
                let stale = matched
                    .as_deref()
                    .is_some_and(|m| !same_lines(m, &by.replaces));
                if below {
                    w.styled(
                        &format!(
                            "Hidden: rated {rating}, below min_fix_confidence ({}).",
                            fixes.min
                        ),
                        theme.dim,
                    );
                } else if stale {
                    w.styled(
                        "Stale: the code changed since this fix was written (J asks again).",
                        theme.error,
                    );
                } else {
                    diff_lines(w, matched.as_deref().or(Some(&by.replaces)), code);
                    w.styled(
                        "y copies the fix · sift fix ID prints it as a patch",
                        theme.dim,
                    );
                }
            }
        }
    }
    if let (Some(why), None, None) = (&a.no_fix, &a.autofix_code, &a.fixed_by) {
        w.section("Suggested fix");
        w.wrapped(&format!("None: {why}"), theme.dim);
    }
    if let Some(by) = &a.fixed_by {
        if a.autofix_code.is_none() {
            w.section("Suggested fix");
            w.styled("None: guidance only.", theme.dim);
        }
        if !by.review.is_empty() {
            w.field("Review", &by.review);
        }
        w.field(
            "Written by",
            &format!(
                "{} ({}), {} ago",
                by.judge.model,
                by.judge.provider,
                age(now, by.judge.at.unix_timestamp())
            ),
        );
        w.field("Guided by", &memory_texts(&by.judge.memories, memories));
    }
    if let Some(before) = fixes.before.filter(|b| b.finding == f.id) {
        let rating = before.confidence.map_or("unrated", |c| c.as_str());
        w.section(&format!("Before your guidance · {rating} confidence"));
        match &before.code {
            Some(code) => diff_lines(w, matched.as_deref(), code),
            None => w.styled("No fix.", theme.dim),
        }
    }
}

/// The texts of the memories an answer used (their ids when a memory is
/// gone), or "none".
fn memory_texts(ids: &[String], memories: &[Memory]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    ids.iter()
        .map(|id| {
            memories
                .iter()
                .find(|m| m.id == *id)
                .map_or(id.as_str(), |m| m.content.as_str())
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `old` as removed lines (when known) and `new` as added ones.
fn diff_lines(w: &mut Writer, old: Option<&str>, new: &str) {
    let (removed, added) = (w.theme.removed, w.theme.added);
    for line in old.into_iter().flat_map(|o| o.split('\n')) {
        w.code(
            "- ",
            "",
            line.strip_suffix('\r').unwrap_or(line),
            &[],
            removed,
        );
    }
    for line in new.split('\n') {
        w.code(
            "+ ",
            "",
            line.strip_suffix('\r').unwrap_or(line),
            &[],
            added,
        );
    }
}

fn same_lines(a: &str, b: &str) -> bool {
    a.lines()
        .map(str::trim_end)
        .eq(b.lines().map(str::trim_end))
}

fn code_lines(w: &mut Writer, f: &Finding, code: &CodeContext, colours: Option<&Highlight>) {
    let first = f.location.line;
    let last = f.location.end_line.max(first);
    let last_no = code.start_line as usize + code.lines.len();
    let num_w = last_no.to_string().len();
    let theme = w.theme;
    for (i, text) in code.lines.iter().enumerate() {
        let no = code.start_line + i as u32;
        let matched = no >= first && no <= last;
        let marker = if matched { "▶" } else { " " };
        let style = if matched {
            theme.matched_line
        } else {
            theme.text
        };
        let spans: Vec<(Range<usize>, Style)> = colours
            .and_then(|h| h.lines.get(i))
            .map(|spans| {
                spans
                    .iter()
                    .map(|(r, t)| (r.clone(), theme.token(*t)))
                    .collect()
            })
            .unwrap_or_default();
        w.code(
            &format!("{marker}{no:>num_w$} │ "),
            "┆ ",
            text,
            &spans,
            style,
        );
    }
}
