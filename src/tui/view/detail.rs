//! The selected finding, everything a reviewer needs to decide: the lines
//! `update` keeps for it (see `detail_lines`), scrolled.

use super::{PaneMemo, draw_pane, is_focused, key_hints, put_lines_kept};
use crate::tui::action::Action;
use crate::tui::keymap::Context;
use crate::tui::model::{Model, Pane};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, memo: &mut PaneMemo) {
    let focused = is_focused(model, Pane::Detail);
    let title = match (&model.detail.finding, model.detail.requested) {
        // Still the previous finding: the cursor has not rested yet.
        (Some(f), Some(id)) if f.id != id => format!(" Finding {id} … "),
        (Some(f), _) => format!(" Finding {} ", f.id),
        (None, Some(id)) => format!(" Finding {id} "),
        (None, None) => " Finding ".into(),
    };
    // Zoomed, the pane stands alone: where it is in the list, and the way
    // on and back.
    let title = if model.zoom {
        let hints = key_hints(
            model,
            Context::Detail,
            &[
                (
                    &[&[Action::NextFinding], &[Action::PrevFinding]],
                    "next/prev",
                ),
                (&[&[Action::Zoom], &[Action::Back]], "panes"),
            ],
        );
        format!(
            "{title}· {} of {} · {} ",
            model.list.selected + 1,
            model.visible.len(),
            hints.join(" · ")
        )
    } else {
        title
    };
    let buf = frame.buffer_mut();
    let title = Line::from(title);
    let inner = draw_pane(buf, area, title, focused, &model.theme, &mut memo.border);
    let visible = model.detail.lines.lines.iter().skip(model.detail.scroll);
    put_lines_kept(buf, inner, visible, &mut memo.lines);
}
