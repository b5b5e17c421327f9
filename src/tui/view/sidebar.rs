//! The left pane: views with live counts, then projects and rules.

use super::{PaneMemo, draw_pane, is_focused, put_lines_kept};
use crate::domain::BacklogView;
use crate::text::inert;
use crate::tui::format::pad;
use crate::tui::model::{Model, Pane, SidebarEntry};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn draw(frame: &mut Frame, model: &Model, area: Rect, memo: &mut PaneMemo) {
    let theme = &model.theme;
    let focused = is_focused(model, Pane::Sidebar);
    let buf = frame.buffer_mut();
    let title = Line::from(" Backlog ");
    let inner = draw_pane(buf, area, title, focused, theme, &mut memo.border);
    let width = inner.width as usize;
    let rows = inner.height as usize;
    let count_of = |entry: &SidebarEntry| -> Option<usize> {
        match entry {
            SidebarEntry::View(v) => {
                let i = BacklogView::ALL.iter().position(|x| x == v)?;
                Some(model.facets.views[i])
            }
            SidebarEntry::Project(p) => Some(
                model
                    .facets
                    .projects
                    .iter()
                    .find(|(id, _)| id == p)
                    .map_or(0, |(_, n)| *n),
            ),
            SidebarEntry::Rule(r) => Some(
                model
                    .facets
                    .rules
                    .iter()
                    .find(|(id, _)| id == r)
                    .map_or(0, |(_, n)| *n),
            ),
            SidebarEntry::Heading(_) => None,
        }
    };
    let lines: Vec<Line> = model
        .sidebar_entries
        .iter()
        .enumerate()
        .skip(model.sidebar.offset)
        .take(rows)
        .map(|(i, entry)| {
            if let SidebarEntry::Heading(title) = entry {
                return Line::from(Span::styled(pad(title, width), theme.heading));
            }
            let (name, chosen) = match entry {
                SidebarEntry::View(v) => (v.label().to_string(), model.filter.view == *v),
                SidebarEntry::Project(p) => {
                    let name = model.index.projects.get(*p);
                    (
                        inert(name).into_owned(),
                        model.filter.projects.iter().any(|n| n == name),
                    )
                }
                SidebarEntry::Rule(r) => {
                    let name = model.index.rules.get(*r);
                    (
                        inert(short_rule(name)).into_owned(),
                        model.filter.rules.iter().any(|n| n == name),
                    )
                }
                SidebarEntry::Heading(_) => unreachable!("handled above"),
            };
            let count = count_of(entry).map(|n| n.to_string()).unwrap_or_default();
            let marker = if chosen { "● " } else { "  " };
            let name_w = width.saturating_sub(count.len() + 3);
            let text = format!("{marker}{} {count}", pad(&name, name_w));
            let mut style = if chosen {
                theme.heading.patch(theme.text)
            } else {
                theme.text
            };
            if chosen {
                style = style.add_modifier(ratatui::style::Modifier::BOLD);
            }
            if i == model.sidebar.selected {
                style = style.patch(if focused {
                    theme.selected
                } else {
                    theme.selected_unfocused
                });
            }
            Line::from(Span::styled(pad(&text, width), style))
        })
        .collect();
    put_lines_kept(buf, inner, &lines, &mut memo.lines);
}

/// The last part of a dotted rule id, which is what people recognise.
pub fn short_rule(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}
