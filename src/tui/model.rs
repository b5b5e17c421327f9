//! The Model: plain data that the views read and `update` changes.

use super::keymap::Keymap;
use super::theme::Theme;
use crate::domain::Before;
use crate::domain::{
    BacklogView, Facets, Filter, Finding, FindingIndex, Memory, Row, RuleClasses, TriageReason,
};
use ratatui_textarea::TextArea;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sidebar,
    List,
    Detail,
}

/// A selectable line of the left pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SidebarEntry {
    View(BacklogView),
    /// A project id in the index.
    Project(u32),
    /// A rule id in the index.
    Rule(u32),
    /// A section title; the cursor steps over it.
    Heading(&'static str),
}

/// A selection in a scrolling list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub selected: usize,
    /// The first row on screen.
    pub offset: usize,
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

#[derive(Debug, Clone)]
pub enum Mode {
    Normal,
    Filter(Box<FilterInput>),
    Help { scroll: usize },
    Dialog(Box<Dialog>),
    Memories(Box<MemoryPane>),
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
    /// Typing into the filter.
    pub filtering: bool,
    pub by_impact: bool,
}

/// What a dialog decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogKind {
    /// Ignore with a reason and an optional note (and perhaps remember).
    Ignore,
    /// Accept a false-positive verdict and remember why.
    AcceptFalsePositive,
    /// Reject a true-positive verdict: ignore with a reason and a comment
    /// (required).
    RejectTruePositive,
    /// A note, without changing the status.
    Note,
    /// A memory alone: new, edited, or guidance for fixes.
    Memory,
}

/// A part of a dialog that takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Reason,
    Note,
    /// The "remember this" toggle.
    Remember,
    Text,
    Projects,
    Rules,
    Paths,
    Apply,
}

#[derive(Debug, Clone)]
pub struct Dialog {
    pub kind: DialogKind,
    /// The findings it decides.
    pub targets: Vec<i64>,
    pub reason: TriageReason,
    pub note: TextArea<'static>,
    /// Why saving was refused.
    pub error: Option<String>,
    pub field: Field,
    /// The memory part, when "remember this" is on (always for Memory).
    pub memory: Option<Box<MemoryForm>>,
    /// The memory pane to return to, when the dialog was opened from it.
    pub back_to: Option<Box<MemoryPane>>,
    /// Saved or cancelled.
    pub closed: bool,
}

/// A choice of projects for a memory's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectOption {
    One(String),
    All,
    /// The projects picked from the list.
    Chosen,
}

/// A choice of rules for a memory's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOption {
    One(String),
    Class(String),
    All,
    /// The rules picked from the list.
    Chosen,
}

/// The memory being written: its text, its scope picked from lists, and
/// the findings it would apply to, kept up to date as the scope changes.
#[derive(Debug, Clone)]
pub struct MemoryForm {
    pub text: TextArea<'static>,
    pub projects: Vec<ProjectOption>,
    pub project_at: usize,
    pub chosen_projects: Vec<String>,
    pub rules: Vec<RuleOption>,
    pub rule_at: usize,
    pub chosen_rules: Vec<String>,
    /// Path prefixes, separated by commas or spaces.
    pub paths: TextArea<'static>,
    /// Also ignore the undecided findings in scope.
    pub apply: bool,
    /// Guidance for fixes rather than triage.
    pub guidance: bool,
    /// The memory as it was, when editing one.
    pub editing: Option<Memory>,
    /// Undecided findings the edited memory covered before.
    pub covered_before: Option<usize>,
    /// Undecided findings in scope now (ids), less the dialog's targets.
    pub preview: Vec<i64>,
    pub picker: Option<Picker>,
    /// Showing the findings in `preview` (scrolled this far) instead of
    /// the form.
    pub listing: Option<usize>,
}

/// Picking projects or rules from a list: type to narrow it, Space to
/// choose.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picker {
    pub rules: bool,
    pub items: Vec<String>,
    pub chosen: BTreeSet<String>,
    pub filter: String,
    pub cursor: Cursor,
}

impl Picker {
    /// The items the filter lets through.
    pub fn shown(&self) -> Vec<&String> {
        let needle = self.filter.to_lowercase();
        self.items
            .iter()
            .filter(|i| i.to_lowercase().contains(&needle))
            .collect()
    }
}

/// One decision, as `u` takes it back.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoEntry {
    pub label: String,
    pub outbox_ids: Vec<i64>,
    pub before: Vec<Before>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detail {
    pub finding: Option<Box<Finding>>,
    /// The finding asked for; a late answer for another one is dropped.
    pub requested: Option<i64>,
    pub error: Option<String>,
    pub scroll: usize,
}

#[derive(Debug)]
pub struct Model {
    pub index: FindingIndex,
    pub filter: Filter,
    /// Positions in `index.rows` of the findings listed, in order.
    pub visible: Vec<u32>,
    pub facets: Facets,
    pub sidebar_entries: Vec<SidebarEntry>,
    pub list: Cursor,
    pub sidebar: Cursor,
    pub focus: Pane,
    pub mode: Mode,
    pub detail: Detail,
    pub width: u16,
    pub height: u16,
    /// What the status bar names as the backend, e.g. "embedded ~/.local/share/sift".
    pub backend: String,
    /// Unix seconds, for ages.
    pub now: i64,
    /// A one-line notice in the status bar until the next key.
    pub notice: Option<String>,
    pub keymap: Keymap,
    pub theme: Theme,
    /// Findings marked for a bulk decision (ids).
    pub marked: BTreeSet<i64>,
    /// Where a visual range started (a position in `visible`).
    pub visual: Option<usize>,
    /// Decisions this session, latest last.
    pub undo: Vec<UndoEntry>,
    /// What the sync says, for the status bar.
    pub sync: String,
    /// The reviewer, the author of the memories they write.
    pub actor: String,
    pub memories: Vec<Memory>,
    /// Memories with changes not yet acknowledged by the backend.
    pub pending_memories: HashSet<String>,
    pub rule_classes: RuleClasses,
    /// Said after accepting or rejecting a verdict when the backend cannot
    /// take Assistant feedback (the Semgrep API with a token).
    pub verdict_feedback: Option<String>,
    pub quit: bool,
}

impl Model {
    pub fn new(index: FindingIndex, backend: String, keymap: Keymap, now: i64) -> Model {
        Model {
            index,
            filter: Filter::default(),
            visible: Vec::new(),
            facets: Facets::default(),
            sidebar_entries: Vec::new(),
            list: Cursor::default(),
            sidebar: Cursor::default(),
            focus: Pane::List,
            mode: Mode::Normal,
            detail: Detail::default(),
            width: 80,
            height: 24,
            backend,
            now,
            notice: None,
            keymap,
            theme: Theme::color(),
            marked: BTreeSet::new(),
            visual: None,
            undo: Vec::new(),
            sync: String::new(),
            actor: String::new(),
            memories: Vec::new(),
            pending_memories: HashSet::new(),
            rule_classes: RuleClasses::new(),
            verdict_feedback: None,
            quit: false,
        }
    }

    /// The finding under the list cursor.
    pub fn selected_row(&self) -> Option<&Row> {
        self.visible
            .get(self.list.selected)
            .map(|&i| &self.index.rows[i as usize])
    }

    pub fn selected_id(&self) -> Option<i64> {
        self.selected_row().map(|r| r.id)
    }
}
