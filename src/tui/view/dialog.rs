//! The dialogs: ignore (reason, note, and "remember this"), accept a false
//! positive and remember why, reject a true positive (reason and required
//! comment), a note, and a memory alone. The memory part shows its scope
//! and how many findings it covers as it is edited.

use super::{Hint, centered, key, key_hints, untrusted};
use crate::domain::{MAX_MEMORY_CHARS, MAX_NOTE_CHARS, TriageReason};
use crate::tui::action::Action;
use crate::tui::format::fit;
use crate::tui::keymap::Context;
use crate::tui::model::{
    Dialog, DialogKind, DialogLayout, Field, MemoryForm, Model, Picker, ProjectOption, RuleOption,
};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};
use ratatui_textarea::TextArea;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, dialog: &Dialog) {
    let theme = &model.theme;
    let (w, h) = dialog.frame_size();
    let rect = centered(area, w, h);
    let layout = dialog.layout(area.height);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.border_focused)
        .title(title(dialog));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let width = inner.width as usize;
    let footer = footer(model, dialog, width);
    let body = Rect {
        height: inner.height.saturating_sub(footer.len() as u16),
        ..inner
    };
    frame.render_widget(
        Paragraph::new(footer),
        Rect {
            y: body.bottom(),
            height: inner.bottom() - body.bottom(),
            ..inner
        },
    );
    if let Some(form) = &dialog.memory {
        if let Some(picker) = &form.picker {
            return draw_picker(frame, picker, body, theme);
        }
        if let Some(scroll) = form.listing {
            return draw_listing(frame, model, form, scroll, body);
        }
    }
    let mut stack = Stack { area: body };
    let fields = &layout.shown;
    if fields.contains(&Field::Reason) {
        let focused = dialog.field == Field::Reason;
        let mark = if focused { "▸ " } else { "  " };
        let mut spans = vec![Span::styled(
            format!("{mark}Reason "),
            if focused { theme.key } else { theme.dim },
        )];
        for r in TriageReason::ALL {
            // Brackets as well as reverse video, for terminals without colour.
            let (text, style) = if *r == dialog.reason {
                (format!("[{}]", r.label()), theme.selected)
            } else {
                (format!(" {} ", r.label()), theme.text)
            };
            spans.push(Span::styled(text, style));
        }
        stack.line(frame, Line::from(spans));
    }
    if fields.contains(&Field::Note) {
        text_box(
            frame,
            &mut stack,
            &dialog.note,
            layout.note,
            "Note",
            dialog.field == Field::Note,
            theme,
        );
    }
    if fields.contains(&Field::Remember) {
        let on = dialog.memory.is_some();
        stack.line(
            frame,
            Line::from(vec![
                label("", dialog.field == Field::Remember, theme),
                Span::styled(if on { "[x]" } else { "[ ]" }, theme.text),
                Span::styled(
                    match key(model, Context::Dialog, Action::Remember) {
                        Some(key) => format!(" Remember this: a memory for Assistant ({key})"),
                        None => " Remember this: a memory for Assistant".into(),
                    },
                    theme.text,
                ),
            ]),
        );
    }
    if let Some(form) = &dialog.memory {
        draw_form(frame, &mut stack, model, dialog, form, &layout);
    }
}

fn title(dialog: &Dialog) -> String {
    // Every finding it will decide, those the memory applies to included.
    let n = dialog.deciding();
    let chosen = dialog.targets.len();
    let mut what = if n == 1 {
        "1 finding".to_string()
    } else {
        format!("{n} findings")
    };
    if n > chosen {
        what += &format!(" ({chosen} chosen, {} in the memory's scope)", n - chosen);
    }
    match dialog.kind {
        DialogKind::Ignore => format!(" Ignore {what} "),
        DialogKind::AcceptFalsePositive => {
            format!(" Accept the false-positive verdict on {what} ")
        }
        DialogKind::RejectTruePositive => format!(" Reject Assistant's verdict on {what} "),
        DialogKind::Note => format!(" Note on {what} "),
        DialogKind::Memory => match dialog.memory.as_deref() {
            Some(f) if f.editing.is_some() => " Edit memory ".into(),
            Some(f) if f.guidance => " Customize fix: guidance for this rule ".into(),
            _ => " New memory ".into(),
        },
    }
}

/// The count or the error, and the keys.
fn footer<'a>(model: &Model, dialog: &Dialog, width: usize) -> Vec<Line<'a>> {
    let theme = &model.theme;
    let (count, max) = match (dialog.field, &dialog.memory) {
        (Field::Text | Field::Projects | Field::Rules | Field::Paths | Field::Apply, Some(f)) => (
            f.text.lines().join("\n").trim().chars().count(),
            MAX_MEMORY_CHARS,
        ),
        _ => (
            dialog.note.lines().join("\n").trim().chars().count(),
            MAX_NOTE_CHARS,
        ),
    };
    use Action::*;
    let choices: &[Action] = &[PrevChoice, NextChoice];
    let (context, hints): (Context, &[Hint]) = match dialog.memory.as_deref() {
        Some(f) if f.picker.is_some() => (
            Context::Picker,
            &[
                (&[], "type to narrow"),
                (&[&[Up, Down]], "move"),
                (&[&[Choose]], "choose"),
                (&[&[KeepChoice]], "keep"),
                (&[&[Back]], "back"),
            ],
        ),
        Some(f) if f.listing.is_some() => (
            Context::InScope,
            &[(&[&[Up, Down]], "scroll"), (&[&[Back]], "back")],
        ),
        Some(_) => (
            Context::Dialog,
            &[
                (&[&[NextField]], "field"),
                (&[choices, &[Choose]], "choose"),
                (&[&[ListInScope]], "findings"),
                (&[&[Save]], "save"),
                (&[&[Cancel]], "cancel"),
            ],
        ),
        None => (
            Context::Dialog,
            match dialog.kind {
                DialogKind::Note => &[
                    (&[&[Save]], "save"),
                    (&[&[NewLine]], "new line"),
                    (&[&[OpenEditor]], "$EDITOR"),
                    (&[&[Cancel]], "cancel"),
                ],
                DialogKind::Ignore => &[
                    (&[&[NextField]], "field"),
                    (&[choices], "reason"),
                    (&[&[Remember]], "remember"),
                    (&[&[Save]], "save"),
                    (&[&[NewLine]], "new line"),
                    (&[&[Cancel]], ""),
                ],
                _ => &[
                    (&[&[NextField]], "field"),
                    (&[choices], "reason"),
                    (&[&[Save]], "save"),
                    (&[&[NewLine]], "new line"),
                    (&[&[OpenEditor]], "$EDITOR"),
                    (&[&[Cancel]], ""),
                ],
            },
        ),
    };
    let hint = key_hints(model, context, hints).join(" · ");
    vec![
        Line::from(match &dialog.error {
            Some(e) => untrusted(&fit(e, width), theme.error),
            None => Span::styled(format!("{count}/{max}"), theme.dim),
        }),
        Line::from(Span::styled(fit(&hint, width), theme.dim)),
    ]
}

/// Lays lines and boxes out from the top of an area.
struct Stack {
    area: Rect,
}

impl Stack {
    fn take(&mut self, height: u16) -> Rect {
        let h = height.min(self.area.height);
        let r = Rect {
            height: h,
            ..self.area
        };
        self.area.y += h;
        self.area.height -= h;
        r
    }

    fn line(&mut self, frame: &mut Frame, line: Line) {
        let r = self.take(1);
        frame.render_widget(Paragraph::new(line), r);
    }
}

/// "▸ Projects  " for the focused field, "  Projects  " otherwise.
fn label<'a>(name: &str, focused: bool, theme: &Theme) -> Span<'a> {
    let mark = if focused { "▸ " } else { "  " };
    let text = if name.is_empty() {
        mark.to_string()
    } else {
        format!("{mark}{name:<9}")
    };
    Span::styled(text, if focused { theme.key } else { theme.dim })
}

/// A text box: framed from 3 lines, else one bare line after its name.
fn text_box(
    frame: &mut Frame,
    stack: &mut Stack,
    area: &TextArea<'static>,
    height: u16,
    name: &str,
    focused: bool,
    theme: &Theme,
) {
    let rect = stack.take(height);
    if rect.height == 0 {
        return;
    }
    let mut area = area.clone();
    if !focused {
        area.set_cursor_style(Style::default());
    }
    if rect.height < 3 {
        let head = label(name, focused, theme);
        let head_w = (head.content.chars().count() as u16).min(rect.width);
        frame.render_widget(Paragraph::new(Line::from(head)), rect);
        let rest = Rect {
            x: rect.x + head_w,
            width: rect.width - head_w,
            ..rect
        };
        frame.render_widget(&area, rest);
        return;
    }
    let mark = if focused { "▸ " } else { "" };
    area.set_block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(if focused {
                theme.border_focused
            } else {
                theme.border
            })
            .title(format!(" {mark}{name} ")),
    );
    frame.render_widget(&area, rect);
}

fn draw_form(
    frame: &mut Frame,
    stack: &mut Stack,
    model: &Model,
    dialog: &Dialog,
    form: &MemoryForm,
    layout: &DialogLayout,
) {
    let theme = &model.theme;
    let kind = if form.guidance { "Guidance" } else { "Memory" };
    let shown = |f: Field| layout.shown.contains(&f);
    if !shown(Field::Text) {
        return;
    }
    text_box(
        frame,
        stack,
        &form.text,
        layout.text,
        kind,
        dialog.field == Field::Text,
        theme,
    );
    let pick = key(model, Context::Dialog, Action::Choose);
    let chosen = |names: &[String], what: &str| match names {
        [] => match &pick {
            Some(key) => format!("chosen: none yet ({key} to pick {what})"),
            None => "chosen: none yet".into(),
        },
        [one] => format!("chosen: {one}"),
        many => format!("chosen: {} {what}", many.len()),
    };
    let project = match form.projects.get(form.project_at) {
        Some(ProjectOption::One(p)) => p.clone(),
        Some(ProjectOption::All) => "all projects".into(),
        _ => chosen(&form.chosen_projects, "projects"),
    };
    let rule = match form.rules.get(form.rule_at) {
        Some(RuleOption::One(r)) => r.clone(),
        Some(RuleOption::Class(c)) => format!("class: {c}"),
        Some(RuleOption::All) => "all rules".into(),
        _ => chosen(&form.chosen_rules, "rules"),
    };
    for (field, name, value, of) in [
        (
            Field::Projects,
            "Projects",
            project,
            (form.project_at, form.projects.len()),
        ),
        (
            Field::Rules,
            "Rules",
            rule,
            (form.rule_at, form.rules.len()),
        ),
    ] {
        if !shown(field) {
            return;
        }
        let focused = dialog.field == field;
        let (left, right) = if focused { ("‹ ", " ›") } else { ("", "") };
        // Room for the label, the arrows and "n/m".
        let value = fit(&value, (stack.area.width as usize).saturating_sub(24));
        stack.line(
            frame,
            Line::from(vec![
                label(name, focused, theme),
                Span::styled(left, theme.dim),
                untrusted(&value, if focused { theme.selected } else { theme.text }),
                Span::styled(right, theme.dim),
                Span::styled(format!("  {}/{}", of.0 + 1, of.1), theme.dim),
            ]),
        );
    }
    if !shown(Field::Paths) {
        return;
    }
    let paths = form.paths.lines().join(" ");
    let focused = dialog.field == Field::Paths;
    let mut spans = vec![label("Paths", focused, theme)];
    if paths.trim().is_empty() && !focused {
        spans.push(Span::styled("any path", theme.dim));
    } else {
        spans.push(untrusted(&paths, theme.text));
        if focused {
            spans.push(Span::styled("▏", theme.key));
        }
    }
    stack.line(frame, Line::from(spans));
    if form.guidance {
        stack.line(
            frame,
            Line::from(Span::styled(
                "  Guidance shapes the fixes Assistant suggests; it ignores nothing.",
                theme.dim,
            )),
        );
        return;
    }
    // What it applies to shows with the toggle that applies it, or not at
    // all.
    if !shown(Field::Apply) {
        return;
    }
    let n = form.preview.len();
    let others = if dialog.targets.is_empty() {
        ""
    } else {
        " other"
    };
    let mut preview = format!(
        "  Applies to {n}{others} open finding{} in scope",
        plural(n)
    );
    if let Some(before) = form.covered_before {
        preview += &format!(" (was {before})");
    }
    if let Some(key) = key(model, Context::Dialog, Action::ListInScope) {
        preview += &format!(" · {key} lists them");
    }
    stack.line(frame, Line::from(Span::styled(preview, theme.heading)));
    let focused = dialog.field == Field::Apply;
    let reason = match dialog.kind {
        DialogKind::Ignore => dialog.reason.label().to_lowercase(),
        _ => "false positive".into(),
    };
    stack.line(
        frame,
        Line::from(vec![
            label("", focused, theme),
            Span::styled(if form.apply { "[x]" } else { "[ ]" }, theme.text),
            Span::styled(
                format!(" Ignore them too ({reason}), each with a note naming the memory"),
                theme.text,
            ),
        ]),
    );
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn draw_picker(frame: &mut Frame, picker: &Picker, area: Rect, theme: &Theme) {
    let what = if picker.rules { "rules" } else { "projects" };
    let shown = picker.shown();
    let mut lines = vec![Line::from(vec![
        Span::styled(
            format!("Choose {what} ({} chosen) ", picker.chosen.len()),
            theme.heading,
        ),
        Span::styled("/", theme.dim),
        untrusted(&picker.filter, theme.text),
    ])];
    let rows = (area.height as usize).saturating_sub(1).max(1);
    let start = picker.cursor.selected.saturating_sub(rows - 1);
    for (i, item) in shown.iter().enumerate().skip(start).take(rows) {
        let mark = if picker.chosen.contains(*item) {
            "[x] "
        } else {
            "[ ] "
        };
        let style = if i == picker.cursor.selected {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::from(vec![
            Span::styled(mark, style),
            untrusted(&fit(item, (area.width as usize).saturating_sub(4)), style),
        ]));
    }
    if shown.is_empty() {
        lines.push(Line::from(Span::styled("Nothing matches", theme.dim)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The findings the memory would apply to.
fn draw_listing(frame: &mut Frame, model: &Model, form: &MemoryForm, scroll: usize, area: Rect) {
    let theme = &model.theme;
    let width = area.width as usize;
    let n = form.preview.len();
    let mut lines = vec![Line::from(Span::styled(
        format!("{n} open finding{} in scope", plural(n)),
        theme.heading,
    ))];
    let rows = (area.height as usize).saturating_sub(1);
    for id in form.preview.iter().skip(scroll).take(rows) {
        let Some(row) = model.index.position_of(*id).map(|p| &model.index.rows[p]) else {
            continue;
        };
        let rule = model.index.rules.get(row.rule);
        let rule = rule.rsplit('.').next().unwrap_or(rule);
        let text = format!(
            "{:<8} {:<4} {} {}:{}",
            id,
            super::list::severity_label(row.severity),
            rule,
            model.index.paths.get(row.path),
            row.line
        );
        lines.push(Line::from(untrusted(&fit(&text, width), theme.text)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}
