//! Pure functions of `&Model` that draw the console. No I/O here.

pub mod detail;
mod dialog;
mod help;
mod list;
mod memories;
mod sidebar;
mod status;

use super::layout;
use super::model::{Mode, Model, Pane};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

pub fn draw(frame: &mut Frame, model: &Model) {
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
    let panes = layout::panes(area.width, area.height, model.focus);
    let memory_pane = match &model.mode {
        Mode::Memories(pane) => Some(pane),
        Mode::Dialog(d) => d.back_to.as_ref(),
        _ => None,
    };
    if let Some(pane) = memory_pane {
        memories::draw(frame, model, area, pane);
        status::draw(frame, model, panes.status);
        if let Mode::Dialog(d) = &model.mode {
            dialog::draw(frame, model, area, d);
        }
        return;
    }
    if let Some(r) = panes.sidebar {
        sidebar::draw(frame, model, r);
    }
    if let Some(r) = panes.list {
        list::draw(frame, model, r);
    }
    if let Some(r) = panes.detail {
        detail::draw(frame, model, r);
    }
    status::draw(frame, model, panes.status);
    match &model.mode {
        Mode::Help { scroll } => help::draw(frame, model, area, *scroll),
        Mode::Dialog(d) => dialog::draw(frame, model, area, d),
        Mode::Normal | Mode::Filter(_) | Mode::Memories(_) => {}
    }
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
    model.focus == pane && matches!(model.mode, Mode::Normal | Mode::Filter(_))
}

/// Cuts `text` to `width` display columns, marking the cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Like [`fit`], but keeps the end (for paths).
pub fn fit_start(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        tail.push(c);
        used += w;
    }
    let mut out = String::from(if width > 0 { "…" } else { "" });
    out.extend(tail.into_iter().rev());
    out
}

/// Pads or cuts to exactly `width` columns.
pub fn pad(text: &str, width: usize) -> String {
    let mut s = fit(text, width);
    let w = s.width();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    s
}

/// A span of text that may come from outside: always made inert first.
pub fn untrusted<'a>(text: &str, style: Style) -> Span<'a> {
    Span::styled(crate::text::inert(text).into_owned(), style)
}

/// Age as a reviewer reads it: 45s, 12m, 5h, 3d, 7w, 4mo, 2y.
pub fn age(now: i64, then: i64) -> String {
    let s = (now - then).max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s if s < 86_400 * 14 => format!("{}d", s / 86_400),
        s if s < 86_400 * 60 => format!("{}w", s / (86_400 * 7)),
        s if s < 86_400 * 730 => format!("{}mo", s / (86_400 * 30)),
        s => format!("{}y", s / (86_400 * 365)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_text() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit_start("src/app/views.py", 9), "…views.py");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(fit("x", 0), "");
    }

    #[test]
    fn ages() {
        assert_eq!(age(100, 100), "0s");
        assert_eq!(age(7_200, 0), "2h");
        assert_eq!(age(86_400 * 3, 0), "3d");
        assert_eq!(age(86_400 * 100, 0), "3mo");
        assert_eq!(age(0, 100), "0s", "clock skew never shows a negative age");
    }
}
