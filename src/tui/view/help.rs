//! The `?` overlay, generated from the live keymap.

use super::{centered, key};
use crate::tui::action::Action;
use crate::tui::format::fit;
use crate::tui::keymap::Context;
use crate::tui::model::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

const FILTER_HELP: &[&str] = &[
    "words           match rule id, path or message (all words must match)",
    "sev:high,crit   severity: low, medium, high, critical",
    "status:open     open, reviewing, to-fix, ignored, fixed, provisionally_ignored",
    "verdict:fp      tp, fp or none",
    "project:NAME    rule:RULE-ID or its short name    view:production",
    "component:pay   risk:high,low,neutral    sort:severity|risk|age|rule|file",
];

/// What the list's short words and marks mean.
const LEGEND: &[&str] = &[
    "TP FP --         the Assistant's verdict: true positive, false positive, none",
    "open review to-fix ignored fixed   the finding's status",
    "prov-ig          provisionally ignored: judged a false positive, nobody decided",
    "…                a decision the backend has not acknowledged yet",
    "● ▌              marked (Space), in the visual range (V)",
];

/// " Keys — ? or Esc to close, j/k to scroll ", from the keymap.
fn title(model: &Model) -> String {
    let context = Context::of(model.focus);
    let close: Vec<String> = [Action::Help, Action::Back]
        .into_iter()
        .filter_map(|a| key(model, context, a))
        .collect();
    let scroll: Vec<String> = [Action::Down, Action::Up]
        .into_iter()
        .filter_map(|a| key(model, context, a))
        .collect();
    let mut title = " Keys".to_string();
    if !close.is_empty() {
        title += &format!(" — {} to close", close.join(" or "));
    }
    if !scroll.is_empty() {
        title += &format!(", {} to scroll", scroll.join("/"));
    }
    title + " "
}

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, scroll: usize) {
    let theme = &model.theme;
    let rect = centered(area, 76, area.height.saturating_sub(2).max(3));
    let mut lines: Vec<Line> = Vec::new();
    // A section per context, the focused pane's first.
    for (context, rows) in model.keymap.help(model.focus) {
        let filter = context == Context::Filter;
        if rows.is_empty() && !filter {
            continue;
        }
        lines.push(Line::from(Span::styled(context.title(), theme.heading)));
        for (keys, what) in rows {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<18}"), theme.key),
                Span::styled(what, theme.text),
            ]));
        }
        if filter {
            // What a filter may say.
            for row in FILTER_HELP {
                lines.push(Line::from(Span::styled(format!("  {row}"), theme.text)));
            }
        }
        lines.push(Line::from(""));
    }
    lines.push(Line::from(Span::styled("In the list", theme.heading)));
    for row in LEGEND {
        lines.push(Line::from(Span::styled(format!("  {row}"), theme.text)));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.border_focused)
        .title(title(model));
    let inner = block.inner(rect);
    let max_scroll = lines.len().saturating_sub(inner.height as usize);
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(scroll.min(max_scroll))
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if text.chars().count() > inner.width as usize {
                Line::from(Span::styled(fit(&text, inner.width as usize), theme.text))
            } else {
                l
            }
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(block, rect);
    frame.render_widget(Paragraph::new(lines), inner);
}
