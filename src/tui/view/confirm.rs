//! The question before a decision on many findings: how many it decides,
//! what it leaves out and why, and the copies on other refs it changes too.

use super::{centered, key};
use crate::tui::action::{Action, BulkQuestion};
use crate::tui::format::wrap;
use crate::tui::keymap::Context;
use crate::tui::model::Model;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, question: &BulkQuestion) {
    let theme = &model.theme;
    let outcomes: Vec<String> = question
        .outcomes
        .iter()
        .map(|(what, n)| format!("{n} {what}"))
        .collect();
    let mut said = vec![format!(
        "{}.",
        crate::tui::format::capitalise(&outcomes.join(", "))
    )];
    if question.copies > 0 {
        said.push(format!(
            "It also changes {} cop{} of them on other refs: a decision applies to a finding on every ref of its project.",
            question.copies,
            if question.copies == 1 { "y" } else { "ies" }
        ));
    }
    for (why, n) in &question.skipped {
        said.push(format!("Left out: {n} ({why})."));
    }
    let yes = key(model, Context::Confirm, Action::Confirm).unwrap_or_else(|| "y".into());
    let rect = centered(area, 72, 4 + 2 * said.len() as u16 + 2);
    let width = rect.width.saturating_sub(2).max(1) as usize;
    let mut lines: Vec<Line> = Vec::new();
    for text in &said {
        lines.extend(
            wrap(text, width)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, theme.text))),
        );
    }
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled(yes, theme.key),
        Span::styled(" decides · any other key: nothing is decided", theme.dim),
    ]));
    let n = question.intents.len();
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Thick)
        .border_style(theme.border_focused)
        .title(format!(" Decide {n} findings? "));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
