//! Moving through the list, the left pane and the detail pane.

use super::detail::max_scroll;
use super::selection_changed;
use crate::tui::action::{Action, Effect};
use crate::tui::model::{Cursor, Model, Pane, SidebarEntry};

/// Rows kept visible above and below the cursor when scrolling.
const SCROLLOFF: usize = 3;

pub fn move_focused(model: &mut Model, action: &Action) -> Vec<Effect> {
    let p = model.panes();
    match model.focus {
        Pane::List => move_focused_list(model, action),
        Pane::Sidebar => {
            let rows = p.sidebar_rows();
            let len = model.sidebar_entries.len();
            let before = model.sidebar.selected;
            move_cursor(&mut model.sidebar, len, rows, action);
            step_over_heading(model, before, rows);
            Vec::new()
        }
        Pane::Detail => {
            let rows = p.detail_rows();
            let max = max_scroll(model, rows);
            let d = &mut model.detail.scroll;
            *d = match action {
                Action::Down => *d + 1,
                Action::Up => d.saturating_sub(1),
                Action::PageDown => *d + rows.saturating_sub(1).max(1),
                Action::PageUp => d.saturating_sub(rows.saturating_sub(1).max(1)),
                Action::HalfPageDown => *d + (rows / 2).max(1),
                Action::HalfPageUp => d.saturating_sub((rows / 2).max(1)),
                Action::Top => 0,
                Action::Bottom => max,
                _ => *d,
            }
            .min(max);
            Vec::new()
        }
    }
}

/// Moves the list cursor, whichever pane has the focus.
pub fn move_focused_list(model: &mut Model, action: &Action) -> Vec<Effect> {
    let before = model.selected_id();
    let rows = model.panes().list_rows();
    move_cursor(&mut model.list, model.visible.len(), rows, action);
    selection_changed(model, before)
}

/// Headings are not selectable: keep going in the direction of travel, or
/// back off at the ends.
fn step_over_heading(model: &mut Model, before: usize, rows: usize) {
    let len = model.sidebar_entries.len();
    let is_heading =
        |i: usize| matches!(model.sidebar_entries.get(i), Some(SidebarEntry::Heading(_)));
    let c = &mut model.sidebar;
    if !is_heading(c.selected) {
        return;
    }
    let forward = c.selected >= before;
    c.selected = if forward && c.selected + 1 < len {
        c.selected + 1
    } else if c.selected > 0 {
        c.selected - 1
    } else {
        c.selected + 1
    };
    scroll_into_view(c, len, rows);
}

pub(super) fn move_cursor(c: &mut Cursor, len: usize, rows: usize, action: &Action) {
    if len == 0 {
        *c = Cursor::default();
        return;
    }
    let last = len - 1;
    let page = rows.saturating_sub(1).max(1);
    c.selected = match action {
        Action::Down => (c.selected + 1).min(last),
        Action::Up => c.selected.saturating_sub(1),
        Action::PageDown => (c.selected + page).min(last),
        Action::PageUp => c.selected.saturating_sub(page),
        Action::HalfPageDown => (c.selected + (rows / 2).max(1)).min(last),
        Action::HalfPageUp => c.selected.saturating_sub((rows / 2).max(1)),
        Action::Top => 0,
        Action::Bottom => last,
        _ => c.selected,
    };
    scroll_into_view(c, len, rows);
}

/// Keeps the cursor on screen with a margin, scrolling as little as
/// possible (fewer bytes over SSH than re-centring).
fn scroll_into_view(c: &mut Cursor, len: usize, rows: usize) {
    let rows = rows.max(1);
    let margin = SCROLLOFF.min(rows.saturating_sub(1) / 2);
    if c.selected < c.offset + margin {
        c.offset = c.selected.saturating_sub(margin);
    } else if c.selected + margin >= c.offset + rows {
        c.offset = c.selected + margin + 1 - rows;
    }
    c.offset = c.offset.min(len.saturating_sub(rows));
}

/// After a resize, a refilter or a focus change. (The detail pane's scroll
/// is kept within its lines as they are computed: `detail::keep_lines`.)
pub fn clamp_all(model: &mut Model) {
    let p = model.panes();
    for (cursor, len, rows) in [
        (&mut model.list, model.visible.len(), p.list_rows()),
        (
            &mut model.sidebar,
            model.sidebar_entries.len(),
            p.sidebar_rows(),
        ),
    ] {
        cursor.selected = cursor.selected.min(len.saturating_sub(1));
        scroll_into_view(cursor, len, rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_scrolls_with_a_margin() {
        let mut c = Cursor::default();
        for _ in 0..7 {
            move_cursor(&mut c, 100, 10, &Action::Down);
        }
        assert_eq!(
            (c.selected, c.offset),
            (7, 1),
            "keeps 3 rows below the cursor"
        );
        move_cursor(&mut c, 100, 10, &Action::Bottom);
        assert_eq!((c.selected, c.offset), (99, 90));
        move_cursor(&mut c, 100, 10, &Action::Top);
        assert_eq!((c.selected, c.offset), (0, 0));
        move_cursor(&mut c, 0, 10, &Action::Down);
        assert_eq!(c, Cursor::default());
    }
}
