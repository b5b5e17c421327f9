//! What opens over the panes: a stack, so closing the top one returns to
//! whatever was under it (a dialog opened from the memory pane goes back
//! to the pane).

use super::{Cursor, Dialog, Model};
use crate::domain::Filter;
use crate::tui::keymap::{Context, Typing};

/// One thing open over the panes.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// Typing the findings' filter (in the status line).
    Filter(Box<FilterInput>),
    /// The keys (`?`).
    Help { scroll: usize },
    /// A decision's or a memory's dialog.
    Dialog(Box<Dialog>),
    /// The memory pane, in place of the panes.
    Memories(Box<MemoryPane>),
    /// A decision on many findings, asked before it is recorded.
    Confirm(Box<crate::tui::action::BulkQuestion>),
}

impl Overlay {
    /// Whether it takes the whole screen, so nothing under it shows.
    pub fn covers_panes(&self) -> bool {
        matches!(self, Overlay::Memories(_))
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilterInput {
    pub text: String,
    /// Byte position of the cursor in `text`.
    pub cursor: usize,
    /// The filter before editing, restored by Esc.
    pub before: Filter,
    /// Why the current text is not applied.
    pub error: Option<String>,
}

/// The memory pane: every memory with what it covers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemoryPane {
    /// Positions in `Model::memories`, in display order (filtered, sorted).
    pub order: Vec<usize>,
    /// Per memory (same positions as `Model::memories`): undecided findings
    /// in its scope.
    pub impact: Vec<usize>,
    pub cursor: Cursor,
    /// Words the memories must contain (text, scope or author).
    pub filter: String,
    /// Asking to confirm deleting the memory with this id.
    pub confirm_delete: Option<String>,
    /// Asking to confirm closing every finding suggested under this memory.
    pub confirm_close: Option<String>,
    /// Typing into the filter.
    pub filtering: bool,
    pub by_impact: bool,
}

impl Model {
    /// The overlay on top, which takes the keys; none when the panes do.
    pub fn top(&self) -> Option<&Overlay> {
        self.overlays.last()
    }

    pub fn top_mut(&mut self) -> Option<&mut Overlay> {
        self.overlays.last_mut()
    }

    /// Opens `overlay` over whatever is open.
    pub fn open(&mut self, overlay: Overlay) {
        self.overlays.push(overlay);
    }

    /// Closes the top overlay, showing what was under it.
    pub fn close(&mut self) -> Option<Overlay> {
        self.overlays.pop()
    }

    /// The dialog on top, if one is.
    pub fn dialog(&self) -> Option<&Dialog> {
        match self.top() {
            Some(Overlay::Dialog(d)) => Some(d),
            _ => None,
        }
    }

    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        match self.top_mut() {
            Some(Overlay::Dialog(d)) => Some(d),
            _ => None,
        }
    }

    /// The memory pane, on top or under a dialog opened from it.
    pub fn memory_pane(&self) -> Option<&MemoryPane> {
        self.overlays.iter().rev().find_map(|o| match o {
            Overlay::Memories(pane) => Some(pane.as_ref()),
            _ => None,
        })
    }

    /// Where a key press is looked up, and which keys are typed rather
    /// than looked up, as things stand.
    pub fn key_context(&self) -> (Context, Typing) {
        match self.top() {
            None | Some(Overlay::Help { .. }) => (Context::of(self.focus), Typing::Nothing),
            Some(Overlay::Filter(_)) => (Context::Filter, Typing::Text),
            Some(Overlay::Dialog(dialog)) => dialog.key_context(),
            Some(Overlay::Confirm(_)) => (Context::Confirm, Typing::Nothing),
            Some(Overlay::Memories(pane))
                if pane.confirm_delete.is_some() || pane.confirm_close.is_some() =>
            {
                (Context::Confirm, Typing::Nothing)
            }
            Some(Overlay::Memories(pane)) if pane.filtering => (Context::Filter, Typing::Text),
            Some(Overlay::Memories(_)) => (Context::Memories, Typing::Nothing),
        }
    }

    pub fn memory_pane_mut(&mut self) -> Option<&mut MemoryPane> {
        self.overlays.iter_mut().rev().find_map(|o| match o {
            Overlay::Memories(pane) => Some(pane.as_mut()),
            _ => None,
        })
    }
}
