//! The memory pane: the memories, and the selected one with its scope and
//! the findings it covers.

use super::{key, pane_block, untrusted};
use crate::domain::{Memory, MemoryStage};
use crate::text::inert_lines;
use crate::tui::action::Action;
use crate::tui::format::{fit, pad, wrap};
use crate::tui::keymap::Context;
use crate::tui::model::{MemoryPane, Model};
use crate::wire::timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, pane: &MemoryPane) {
    let body = Rect {
        height: area.height.saturating_sub(1),
        ..area
    };
    let (list, detail) = if body.width >= 90 {
        let w = body.width * 11 / 20;
        (
            Rect { width: w, ..body },
            Rect {
                x: body.x + w,
                width: body.width - w,
                ..body
            },
        )
    } else {
        let h = body.height / 2;
        (
            Rect { height: h, ..body },
            Rect {
                y: body.y + h,
                height: body.height - h,
                ..body
            },
        )
    };
    draw_list(frame, model, list, pane);
    draw_detail(frame, model, detail, pane);
}

fn draw_list(frame: &mut Frame, model: &Model, area: Rect, pane: &MemoryPane) {
    let theme = &model.theme;
    let sort = if pane.by_impact {
        "by impact"
    } else {
        "newest first"
    };
    let mut title = format!(" Memories · {} · {sort} ", pane.order.len());
    if !pane.filter.is_empty() || pane.filtering {
        title += &format!("/{} ", pane.filter);
    }
    let block = pane_block(Line::from(untrusted(&title, theme.text)), true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    if model.memories.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                "No memories yet. They record what your team knows, scoped to projects and rules.",
                theme.dim,
            ))),
            inner,
        );
        return;
    }
    let mut lines = vec![Line::from(Span::styled(
        pad(" STAGE  IN SCOPE  MEMORY", width),
        theme.dim,
    ))];
    let rows = model
        .memory_rows()
        .min(inner.height.saturating_sub(1) as usize);
    for (n, &i) in pane
        .order
        .iter()
        .enumerate()
        .skip(pane.cursor.offset)
        .take(rows)
    {
        let Some(m) = model.memories.get(i) else {
            continue;
        };
        let first = inert_lines(&m.content)
            .next()
            .unwrap_or_default()
            .into_owned();
        let stage = match m.stage {
            MemoryStage::Live => "live",
            MemoryStage::Suggested => "sugg.",
        };
        // Not acknowledged by the backend yet, like a pending decision.
        let pending = if model.pending_memories.contains(&m.id) {
            "…"
        } else {
            " "
        };
        let to_close = match model.suggestion_counts.get(&m.id) {
            Some(n) if *n > 0 => format!("{n} to close · "),
            _ => String::new(),
        };
        let text = format!(
            " {stage:<5}{pending} {:>8}  {to_close}{first}",
            pane.impact.get(i).copied().unwrap_or(0)
        );
        let style = if n == pane.cursor.selected {
            theme.selected
        } else {
            theme.text
        };
        lines.push(Line::from(Span::styled(pad(&text, width), style)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_detail(frame: &mut Frame, model: &Model, area: Rect, pane: &MemoryPane) {
    let theme = &model.theme;
    let block = pane_block(Line::from(" Memory "), false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(&i) = pane.order.get(pane.cursor.selected) else {
        return;
    };
    let Some(m) = model.memories.get(i) else {
        return;
    };
    let impact = pane.impact.get(i).copied().unwrap_or(0);
    let width = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    if pane.confirm_close.is_some() {
        let n = model.suggestion_counts.get(&m.id).copied().unwrap_or(0);
        let mut question = format!(
            "Close the {n} finding(s) suggested under this memory? Each is ignored as a false \
             positive, with a note naming the memory and the Assistant's reason."
        );
        if let Some(key) = key(model, Context::Confirm, Action::Confirm) {
            question += &format!(" {key} closes them, any other key does not.");
        }
        for piece in wrap(&question, width) {
            lines.push(Line::from(Span::styled(piece, theme.error)));
        }
        lines.push(Line::from(""));
    }
    if pane.confirm_delete.is_some() {
        let all = model
            .index
            .in_scope(&m.scope, &model.rule_classes, false)
            .len();
        let mut question = format!(
            "Delete this memory? It covers {} open findings ({all} in all); decisions made under it stay.",
            impact
        );
        if let Some(key) = key(model, Context::Confirm, Action::Confirm) {
            question += &format!(" {key} deletes, any other key keeps it.");
        }
        for piece in wrap(&question, width) {
            lines.push(Line::from(Span::styled(piece, theme.error)));
        }
        lines.push(Line::from(""));
    }
    for l in inert_lines(&m.content) {
        for piece in wrap(&l, width) {
            lines.push(Line::from(Span::styled(piece, theme.heading)));
        }
    }
    lines.push(Line::from(""));
    if model.pending_memories.contains(&m.id) {
        lines.push(Line::from(Span::styled(
            "Pending: the backend has not acknowledged the change yet.",
            theme.dim,
        )));
    }
    for (label, value) in scope_fields(m) {
        lines.push(Line::from(vec![
            Span::styled(format!("{label:<10}"), theme.dim),
            untrusted(&fit(&value, width.saturating_sub(10)), theme.text),
        ]));
    }
    lines.push(Line::from(""));
    let in_scope = model.index.in_scope(&m.scope, &model.rule_classes, false);
    let mut applies = format!(
        "Applies to {} open findings in scope ({} in all).",
        impact,
        in_scope.len()
    );
    if let Some(key) = key(model, Context::Memories, Action::Open) {
        applies += &format!(" {key} lists them.");
    }
    lines.push(Line::from(Span::styled(fit(&applies, width), theme.key)));
    for &p in in_scope.iter().take(inner.height as usize) {
        let r = &model.index.rows[p as usize];
        let rule = model.index.rules.get(r.rule);
        let text = format!(
            "  {} {}:{}",
            rule.rsplit('.').next().unwrap_or(rule),
            model.index.paths.get(r.path),
            r.line
        );
        lines.push(Line::from(untrusted(&fit(&text, width), theme.dim)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Scope, stage and authorship as label/value pairs.
fn scope_fields(m: &Memory) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("Id", m.id.clone()),
        ("Projects", m.scope.projects_text()),
        ("Rules", m.scope.rules_text()),
    ];
    if !m.scope.path_prefixes.is_empty() {
        fields.push(("Paths", m.scope.path_prefixes.join(", ")));
    }
    let stage = match m.stage {
        MemoryStage::Live => "live",
        MemoryStage::Suggested => "suggested (not used until activated)",
    };
    fields.push(("Stage", stage.into()));
    fields.push((
        "For",
        if m.guidance { "fix guidance" } else { "triage" }.into(),
    ));
    fields.push(("By", m.created_by.clone()));
    if m.updated_at > m.created_at {
        fields.push(("Updated", timestamp::format(m.updated_at)[..10].to_string()));
    }
    fields.push(("Created", timestamp::format(m.created_at)[..10].to_string()));
    fields
}
