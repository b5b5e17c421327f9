//! The filter line: live, incremental, and Esc puts the old filter back.

use super::refilter;
use crate::tui::action::{Action, Effect};
use crate::tui::model::{FilterInput, Model, Overlay};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

pub fn start(model: &mut Model) -> Vec<Effect> {
    let text = model.filter.to_line();
    let text = if text.is_empty() { text } else { text + " " };
    model.open(Overlay::Filter(Box::new(FilterInput {
        cursor: text.len(),
        text,
        before: model.filter.clone(),
        error: None,
    })));
    Vec::new()
}

/// The keys of the filter line: Enter keeps the filter, Esc puts the old
/// one back, the rest edits the line, which is applied as it changes.
pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    let Some(Overlay::Filter(input)) = model.overlays.last_mut() else {
        return Vec::new();
    };
    match action {
        Action::CancelFilter => {
            model.filter = input.before.clone();
            model.close();
            return refilter(model);
        }
        Action::KeepFilter => {
            if let Some(error) = &input.error {
                model.notice = Some(format!("Filter not applied: {error}"));
                return Vec::new();
            }
            model.close();
            return Vec::new();
        }
        Action::ClearLine => {
            input.text.clear();
            input.cursor = 0;
        }
        Action::DeleteWord => {
            let head = input.text[..input.cursor].trim_end();
            let start = head.rfind(' ').map_or(0, |i| i + 1);
            input.text.replace_range(start..input.cursor, "");
            input.cursor = start;
        }
        Action::TextInput(key) => {
            if !edit(input, key) {
                return Vec::new();
            }
        }
        _ => return Vec::new(),
    }
    let mut next = model.filter.clone();
    match next.apply_line(&input.text) {
        Ok(()) => {
            input.error = None;
            if next != model.filter {
                model.filter = next;
                return refilter(model);
            }
        }
        Err(e) => input.error = Some(e),
    }
    Vec::new()
}

/// Types or edits at the cursor; false for a key that does neither.
fn edit(input: &mut FilterInput, key: KeyEvent) -> bool {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let before = |input: &FilterInput| input.text[..input.cursor].chars().next_back();
    match key.code {
        KeyCode::Char(c) if !ctrl => {
            input.text.insert(input.cursor, c);
            input.cursor += c.len_utf8();
        }
        KeyCode::Backspace => {
            if let Some(c) = before(input) {
                input.cursor -= c.len_utf8();
                input.text.remove(input.cursor);
            }
        }
        KeyCode::Delete => {
            if input.cursor < input.text.len() {
                input.text.remove(input.cursor);
            }
        }
        KeyCode::Left => {
            if let Some(c) = before(input) {
                input.cursor -= c.len_utf8();
            }
        }
        KeyCode::Right => {
            if let Some(c) = input.text[input.cursor..].chars().next() {
                input.cursor += c.len_utf8();
            }
        }
        KeyCode::Home => input.cursor = 0,
        KeyCode::End => input.cursor = input.text.len(),
        _ => return false,
    }
    true
}
