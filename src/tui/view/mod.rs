//! Pure functions of `&Model` that draw the console. No I/O here; the only
//! state is what one frame keeps to draw the next with less work (`Memo`).

mod colleagues;
mod confirm;
pub mod detail;
mod dialog;
mod empty;
mod help;
mod list;
mod memories;
mod sidebar;
mod status;

use super::action::Action;
use super::format::fit;
use super::keymap::Context;
use super::layout;
use super::model::{Model, Overlay, Pane, SyncState};
use super::theme::Theme;
use crate::sync::SyncStatus;
use ratatui::Frame;
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

/// `lines` one under another from the top of `area`, each cut at its
/// width: a paragraph without wrapping, less the per-character work a
/// paragraph does on every frame (the panes redraw on every key). The
/// cells of a line that reads as it did on the last frame (`memo`) are
/// copied instead of laid out again.
pub fn put_lines_kept<'a, 'l: 'a>(
    buf: &mut Buffer,
    area: Rect,
    lines: impl IntoIterator<Item = &'a Line<'l>>,
    memo: &mut LinesMemo,
) {
    let width = usize::from(area.width);
    if width == 0 {
        return;
    }
    let mut n = 0;
    for (line, y) in lines.into_iter().zip(area.top()..area.bottom()) {
        let start = buf.index_of(area.x, y);
        match memo.0.get(n) {
            Some((kept, cells)) if cells.len() == width && same_line(kept, line) => {
                buf.content[start..start + width].clone_from_slice(cells);
            }
            _ => {
                buf.set_line(area.x, y, line, area.width);
                let drawn = (owned_line(line), buf.content[start..start + width].to_vec());
                match memo.0.get_mut(n) {
                    Some(slot) => *slot = drawn,
                    None => memo.0.push(drawn),
                }
            }
        }
        n += 1;
    }
    memo.0.truncate(n);
}

/// The lines an area showed on the last frame, top first, with their cells.
#[derive(Default)]
pub struct LinesMemo(Vec<(Line<'static>, Vec<Cell>)>);

/// `a == b` for a kept line and this frame's: one lifetime for both, which
/// `==` does not work out on its own.
fn same_line<'x>(a: &Line<'x>, b: &Line<'x>) -> bool {
    a == b
}

fn owned_line(line: &Line<'_>) -> Line<'static> {
    Line {
        style: line.style,
        alignment: line.alignment,
        spans: line
            .spans
            .iter()
            .map(|s| Span::styled(s.content.to_string(), s.style))
            .collect(),
    }
}

/// A pane's border and title as the last frame drew them.
#[derive(Default)]
pub struct BorderMemo {
    drawn: Option<(Rect, Line<'static>, bool)>,
    cells: Vec<Cell>,
}

/// A pane's border and title as `pane_block` draws them, copied from the
/// last frame when the pane's place, title and focus are the same (ratatui
/// draws a border cell by cell, styling the whole pane first); the area
/// inside it.
fn draw_pane(
    buf: &mut Buffer,
    area: Rect,
    title: Line<'_>,
    focused: bool,
    theme: &Theme,
    memo: &mut BorderMemo,
) -> Rect {
    let area = area.intersection(buf.area);
    let kept = memo
        .drawn
        .as_ref()
        .is_some_and(|(a, t, f)| *a == area && *f == focused && same_line(t, &title));
    let owned = (!kept).then(|| owned_line(&title));
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    match owned {
        _ if area.is_empty() => {}
        None => {
            for (i, cell) in border_cells(buf, area).into_iter().zip(&memo.cells) {
                buf.content[i] = cell.clone();
            }
        }
        Some(owned) => {
            ratatui::widgets::Widget::render(block, area, buf);
            memo.cells = border_cells(buf, area)
                .into_iter()
                .map(|i| buf.content[i].clone())
                .collect();
            memo.drawn = Some((area, owned, focused));
        }
    }
    inner
}

/// The places in `buf` of the cells on the edge of `area` (not empty),
/// row by row.
fn border_cells(buf: &Buffer, area: Rect) -> Vec<usize> {
    let last = usize::from(area.width - 1);
    let mut cells = Vec::new();
    for y in area.top()..area.bottom() {
        let start = buf.index_of(area.left(), y);
        if y == area.top() || y + 1 == area.bottom() {
            cells.extend(start..=start + last);
        } else {
            cells.push(start);
            if last > 0 {
                cells.push(start + last);
            }
        }
    }
    cells
}

/// A pane's border and lines as the last frame drew them.
#[derive(Default)]
pub struct PaneMemo {
    border: BorderMemo,
    lines: LinesMemo,
}

/// What the views keep from one frame for the next, to draw it with less
/// work; the frame is the same without it.
#[derive(Default)]
pub struct Memo {
    list: list::ListMemo,
    sidebar: PaneMemo,
    detail: PaneMemo,
}

/// The screen drawn from scratch (off screen, in tests).
pub fn draw(frame: &mut Frame, model: &Model) {
    draw_with(frame, model, &mut Memo::default());
}

/// The screen, with what the frame before it left in `memo`.
pub fn draw_with(frame: &mut Frame, model: &Model, memo: &mut Memo) {
    let area = frame.area();
    if layout::too_small(area.width, area.height) {
        let w = area.width as usize;
        let lines = vec![
            Line::from(fit("too small", w)),
            Line::from(fit(&format!("{}x{}", area.width, area.height), w)),
            Line::from(fit(
                &format!("need {}x{}", layout::MIN_WIDTH, layout::MIN_HEIGHT),
                w,
            )),
        ];
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let panes = layout::panes(area.width, area.height, model.focus, model.zoom);
    // The bottom of the screen: the panes, or the last overlay that covers
    // them; the status line; then the overlays above, in order.
    let covering = model.overlays.iter().rposition(Overlay::covers_panes);
    let above = match covering {
        Some(i) => {
            if let Overlay::Memories(pane) = &model.overlays[i] {
                memories::draw(frame, model, area, pane);
            }
            i + 1
        }
        None => {
            if let Some(r) = panes.sidebar {
                sidebar::draw(frame, model, r, &mut memo.sidebar);
            }
            if let Some(r) = panes.list {
                if model.index.is_empty() {
                    empty::draw(frame, model, r);
                } else {
                    list::draw(frame, model, r, &mut memo.list);
                }
            }
            if let Some(r) = panes.detail {
                detail::draw(frame, model, r, &mut memo.detail);
            }
            0
        }
    };
    status::draw(frame, model, panes.status);
    for overlay in &model.overlays[above..] {
        match overlay {
            Overlay::Help { scroll } => help::draw(frame, model, area, *scroll),
            Overlay::Dialog(d) => dialog::draw(frame, model, area, d),
            Overlay::Confirm(q) => confirm::draw(frame, model, area, q),
            // The filter is typed in the status line; the memory pane
            // covers the panes.
            Overlay::Filter(_) | Overlay::Memories(_) => {}
        }
    }
}

/// The status line alone, where `draw` puts it: all a sync's report of
/// where it stands changes on screen.
pub fn draw_status_line(frame: &mut Frame, model: &Model) {
    let area = frame.area();
    if !layout::too_small(area.width, area.height) {
        let panes = layout::panes(area.width, area.height, model.focus, model.zoom);
        status::draw(frame, model, panes.status);
    }
}

/// Whether something on screen reads the clock: the ages in the list and
/// the detail pane, or when the sync last answered. The runtime then wakes
/// as the minute turns, and redraws if the text reads differently.
pub fn tells_time(model: &Model) -> bool {
    let sync = matches!(
        model.sync,
        SyncState::Reported(SyncStatus::Synced { .. } | SyncStatus::Offline { .. })
    );
    let panes = !model.overlays.iter().any(Overlay::covers_panes);
    sync || (panes && (!model.visible.is_empty() || model.detail.finding.is_some()))
}

/// A hint: groups of actions, whose keys are shown (those of a group run
/// together, "←→", groups apart, "←→ Space"), and what they do.
type Hint<'a> = (&'a [&'a [Action]], &'a str);

/// Hints from the live keymap, so they cannot drift from it. A hint whose
/// actions are all unbound is left out; one with no actions is said as it
/// is; one with nothing to say shows its keys alone.
fn key_hints(model: &Model, context: Context, hints: &[Hint]) -> Vec<String> {
    hints
        .iter()
        .filter_map(|(groups, what)| {
            if groups.is_empty() {
                return Some(what.to_string());
            }
            let keys: Vec<String> = groups
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .filter_map(|a| model.keymap.key_in(context, a))
                        .collect::<String>()
                })
                .filter(|k| !k.is_empty())
                .collect();
            if keys.is_empty() {
                return None;
            }
            let keys = keys.join(" ");
            Some(if what.is_empty() {
                keys
            } else {
                format!("{keys} {what}")
            })
        })
        .collect()
}

/// The first key bound to `action` in `context`, as hints write it.
fn key(model: &Model, context: Context, action: Action) -> Option<String> {
    model.keymap.key_in(context, &action)
}

/// A pane's frame, highlighted when it has the focus.
fn pane_block<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(title)
}

fn is_focused(model: &Model, pane: Pane) -> bool {
    model.focus == pane && matches!(model.top(), None | Some(Overlay::Filter(_)))
}

/// A span of text that may come from outside: always made inert first.
pub fn untrusted<'a>(text: &str, style: Style) -> Span<'a> {
    Span::styled(crate::text::inert(text).into_owned(), style)
}

/// Centred box of at most `w` x `h` inside `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
