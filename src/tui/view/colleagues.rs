//! What the status bar says about decisions a colleague's crossed: how
//! many wait to be settled, and, on such a finding, what happened and the
//! keys that settle it.

use super::key_hints;
use crate::sync::conflict_sentence;
use crate::tui::action::Action;
use crate::tui::keymap::Context;
use crate::tui::model::Model;

/// "1 conflict", "3 conflicts"; none when there are none.
pub fn count(model: &Model) -> Option<String> {
    match model.conflicts.len() {
        0 => None,
        1 => Some("1 conflict".into()),
        n => Some(format!("{n} conflicts")),
    }
}

/// On a finding whose decision a colleague's crossed:
/// "K keep yours · T take theirs: ana set this to fixing 3s before you set
/// it to ignored; theirs reached the server first". Untrusted: made inert
/// by the caller.
pub fn on_selected(model: &Model) -> Option<String> {
    let id = model.selected_id()?;
    let mine = model.conflicts.iter().rev().find(|p| p.finding_id == id)?;
    let conflict = mine.conflict.as_ref()?;
    // The keys first: a narrow status bar cuts the sentence, not them.
    let mut text = key_hints(
        model,
        Context::of(model.focus),
        &[
            (&[&[Action::KeepMine]], "keep yours"),
            (&[&[Action::TakeTheirs]], "take theirs"),
        ],
    )
    .join(" · ");
    if !text.is_empty() {
        text += ": ";
    }
    text += &conflict_sentence(conflict, &mine.change, mine.created_at);
    Some(text)
}
