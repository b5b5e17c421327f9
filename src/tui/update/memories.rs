//! The memory pane: every memory with the findings its scope covers, and a
//! jump to those findings.

use super::refilter;
use crate::domain::{BacklogView, ScopeFilter};
use crate::tui::action::{Action, Effect};
use crate::tui::model::{MemoryPane, Mode, Model, Pane};
use crossterm::event::KeyCode;

/// Rows of memories on screen: the terminal less the status bar, the
/// pane's border and its header.
pub fn rows(model: &Model) -> usize {
    (model.height as usize).saturating_sub(4).max(1)
}

pub fn open(model: &mut Model) -> Vec<Effect> {
    let impact = model
        .memories
        .iter()
        .map(|m| {
            model
                .index
                .in_scope(&m.scope, &model.rule_classes, true)
                .len()
        })
        .collect();
    let mut pane = MemoryPane {
        impact,
        ..MemoryPane::default()
    };
    arrange(model, &mut pane);
    model.mode = Mode::Memories(Box::new(pane));
    Vec::new()
}

/// Filters and sorts the memories into `order`, keeping the cursor on the
/// same memory when it is still listed.
fn arrange(model: &Model, pane: &mut MemoryPane) {
    let current = pane.order.get(pane.cursor.selected).copied();
    let words: Vec<String> = pane
        .filter
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut order: Vec<usize> = (0..model.memories.len())
        .filter(|&i| {
            let m = &model.memories[i];
            let haystack =
                format!("{} {} {}", m.content, m.scope.summary(), m.created_by).to_lowercase();
            words.iter().all(|w| haystack.contains(w.as_str()))
        })
        .collect();
    if pane.by_impact {
        order.sort_by(|&a, &b| pane.impact[b].cmp(&pane.impact[a]).then(a.cmp(&b)));
    } else {
        order.sort_by(|&a, &b| {
            model.memories[b]
                .created_at
                .cmp(&model.memories[a].created_at)
                .then(a.cmp(&b))
        });
    }
    pane.order = order;
    pane.cursor.selected = current
        .and_then(|c| pane.order.iter().position(|&i| i == c))
        .unwrap_or(0);
    pane.cursor.offset = 0;
}

pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    let rows = rows(model);
    let Mode::Memories(pane) = &mut model.mode else {
        return Vec::new();
    };
    if pane.filtering {
        if let Action::TextInput(key) = action {
            match key.code {
                KeyCode::Esc => {
                    pane.filter.clear();
                    pane.filtering = false;
                }
                KeyCode::Enter => pane.filtering = false,
                KeyCode::Backspace => {
                    pane.filter.pop();
                }
                KeyCode::Char(c) => pane.filter.push(c),
                _ => return Vec::new(),
            }
            let mut pane = std::mem::take(pane.as_mut());
            arrange(model, &mut pane);
            model.mode = Mode::Memories(Box::new(pane));
        }
        return Vec::new();
    }
    match action {
        Action::Down
        | Action::Up
        | Action::PageDown
        | Action::PageUp
        | Action::HalfPageDown
        | Action::HalfPageUp
        | Action::Top
        | Action::Bottom => {
            let len = pane.order.len();
            super::nav::move_cursor(&mut pane.cursor, len, rows, &action);
        }
        Action::Filter => pane.filtering = true,
        Action::SortByImpact => {
            pane.by_impact = !pane.by_impact;
            let mut pane = std::mem::take(pane.as_mut());
            arrange(model, &mut pane);
            model.mode = Mode::Memories(Box::new(pane));
        }
        Action::Open => return jump(model),
        Action::Memories | Action::Back => model.mode = Mode::Normal,
        Action::Quit => model.quit = true,
        _ => {}
    }
    Vec::new()
}

/// The findings in the selected memory's scope, in the list.
fn jump(model: &mut Model) -> Vec<Effect> {
    let Mode::Memories(pane) = &model.mode else {
        return Vec::new();
    };
    let Some(memory) = pane
        .order
        .get(pane.cursor.selected)
        .map(|&i| &model.memories[i])
    else {
        return Vec::new();
    };
    let label: String = memory
        .content
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join(" ");
    model.filter = crate::domain::Filter {
        view: BacklogView::All,
        scope: Some(ScopeFilter {
            label,
            scope: memory.scope.resolved(&model.rule_classes),
        }),
        ..Default::default()
    };
    model.mode = Mode::Normal;
    model.focus = Pane::List;
    model.list.selected = 0;
    model.list.offset = 0;
    refilter(model)
}
