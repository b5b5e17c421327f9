//! The list pane when the store holds no findings at all: how to get some
//! in, in commands that carry the options sift was started with.

use super::{is_focused, pane_block};
use crate::text::inert;
use crate::tui::model::{Model, Pane};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

pub fn draw(frame: &mut Frame, model: &Model, area: Rect) {
    let title = Line::from(format!(" {} · 0 ", model.filter.view.label()));
    let block = pane_block(title, is_focused(model, Pane::List), &model.theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(
        Paragraph::new(lines(model)).wrap(Wrap { trim: false }),
        inner,
    );
}

/// The hint, its commands as the reviewer would type them again.
pub fn lines(model: &Model) -> Vec<Line<'static>> {
    let t = &model.theme;
    // The command may hold a path from the environment: made inert.
    let sift = inert(&model.command).into_owned();
    vec![
        Line::from(Span::styled("The backlog is empty.", t.heading)),
        Line::from(""),
        Line::from("Import a scan (shown within a minute):"),
        Line::from(Span::styled("  semgrep scan --json -o results.json", t.key)),
        Line::from(Span::styled(format!("  {sift} import results.json"), t.key)),
        Line::from(""),
        Line::from("Or look around in the demo backlog:"),
        Line::from(Span::styled("  sift demo", t.key)),
    ]
}
