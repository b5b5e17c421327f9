//! The filter line: live, incremental, and Esc puts the old filter back.

use super::refilter;
use crate::tui::action::{Action, Effect};
use crate::tui::model::{FilterInput, Model, Overlay};
use crossterm::event::{KeyCode, KeyModifiers};

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

pub fn update(model: &mut Model, action: Action) -> Vec<Effect> {
    let Action::TextInput(key) = action else {
        return Vec::new();
    };
    let Some(Overlay::Filter(input)) = model.overlays.last_mut() else {
        return Vec::new();
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            model.filter = input.before.clone();
            model.close();
            return refilter(model);
        }
        KeyCode::Enter => {
            if let Some(error) = &input.error {
                model.notice = Some(format!("Filter not applied: {error}"));
                return Vec::new();
            }
            model.close();
            return Vec::new();
        }
        KeyCode::Char('u') if ctrl => {
            input.text.clear();
            input.cursor = 0;
        }
        KeyCode::Char('w') if ctrl => {
            let head = input.text[..input.cursor].trim_end();
            let start = head.rfind(' ').map_or(0, |i| i + 1);
            input.text.replace_range(start..input.cursor, "");
            input.cursor = start;
        }
        KeyCode::Char(c) if !ctrl => {
            input.text.insert(input.cursor, c);
            input.cursor += c.len_utf8();
        }
        KeyCode::Backspace => {
            if let Some(c) = input.text[..input.cursor].chars().next_back() {
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
            if let Some(c) = input.text[..input.cursor].chars().next_back() {
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
