//! Every user intent (named for the keymap) and every effect `update` asks
//! the runtime to carry out.

use crate::domain::{BacklogView, Finding};
use crossterm::event::KeyEvent;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    Help,
    Down,
    Up,
    PageDown,
    PageUp,
    HalfPageDown,
    HalfPageUp,
    Top,
    Bottom,
    /// Next pane (Tab).
    FocusNext,
    FocusPrev,
    /// Pane to the left / right (h / l).
    FocusLeft,
    FocusRight,
    /// Open the selection: a finding's details, or a view, project or rule.
    Open,
    /// Close a dialog, leave the detail pane, or clear a transient message.
    Back,
    /// Edit the filter line.
    Filter,
    ClearFilter,
    NextView,
    PrevView,
    Suspend,
    /// Switch to a view directly (keys 1-8).
    ShowView(ViewName),
    /// Not bindable: everything below comes from the runtime.
    #[serde(skip)]
    Resize(u16, u16),
    #[serde(skip)]
    TextInput(KeyEvent),
    #[serde(skip)]
    DetailLoaded(Box<Finding>),
    #[serde(skip)]
    DetailFailed(i64, String),
}

/// A view's name as written in the keymap (`{ show_view = "production" }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ViewName(pub BacklogView);

impl TryFrom<String> for ViewName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        BacklogView::parse(&s)
            .map(ViewName)
            .ok_or_else(|| format!("unknown view '{s}'"))
    }
}

impl Action {
    /// What the help overlay says the action does.
    pub fn describe(&self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Help => "show or hide this help".into(),
            Action::Down => "move down".into(),
            Action::Up => "move up".into(),
            Action::PageDown => "page down".into(),
            Action::PageUp => "page up".into(),
            Action::HalfPageDown => "half a page down".into(),
            Action::HalfPageUp => "half a page up".into(),
            Action::Top => "go to the top".into(),
            Action::Bottom => "go to the bottom".into(),
            Action::FocusNext => "next pane".into(),
            Action::FocusPrev => "previous pane".into(),
            Action::FocusLeft => "pane to the left".into(),
            Action::FocusRight => "pane to the right".into(),
            Action::Open => "open the selection".into(),
            Action::Back => "back / close".into(),
            Action::Filter => "filter (text, or key:value such as sev:high)".into(),
            Action::ClearFilter => "clear the filter".into(),
            Action::NextView => "next backlog view".into(),
            Action::PrevView => "previous backlog view".into(),
            Action::Suspend => "suspend to the shell".into(),
            Action::ShowView(v) => format!("view: {}", v.0.label()),
            Action::Resize(..)
            | Action::TextInput(_)
            | Action::DetailLoaded(_)
            | Action::DetailFailed(..) => String::new(),
        }
    }
}

/// Work `update` hands to the runtime; results come back as actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Load a finding's details (latest request wins).
    LoadDetail(i64),
    /// Stop the process with SIGTSTP after restoring the terminal.
    Suspend,
}
