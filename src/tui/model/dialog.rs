//! A dialog: what it decides, its fields, and the memory it may write.

use super::Cursor;
use crate::domain::{Memory, RuleScope, Scope, TriageReason};
use crate::tui::action::Action;
use crate::tui::keymap::{Context, Typing};
use ratatui_textarea::TextArea;
use std::collections::BTreeSet;

/// A dialog's text box: long lines wrap at words (or inside a word too
/// long for a line), so the beginning of a note never scrolls out of sight.
pub fn text_field(lines: Vec<String>, placeholder: &str) -> TextArea<'static> {
    let mut area = TextArea::new(lines);
    area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
    area.set_placeholder_text(placeholder.to_string());
    area
}

/// A dialog's body at one terminal height: its text boxes' heights (a
/// framed box from 3 lines, a bare line below) and the fields that fit, in
/// order. A field that does not fit is neither drawn nor reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogLayout {
    pub note: u16,
    pub text: u16,
    pub shown: Vec<Field>,
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

impl Field {
    /// Whether it is typed into (rather than chosen from).
    pub fn is_text(self) -> bool {
        matches!(self, Field::Note | Field::Text | Field::Paths)
    }
}

impl Dialog {
    /// Where its keys are looked up: its list or listing when one is open
    /// over the form, else the dialog's keys, the focused field taking
    /// what is typed.
    pub fn key_context(&self) -> (Context, Typing) {
        match self.memory.as_deref() {
            Some(form) if form.listing.is_some() => (Context::InScope, Typing::Nothing),
            Some(form) if form.picker.is_some() => (Context::Picker, Typing::Narrowing),
            _ if self.field.is_text() => (Context::Dialog, Typing::Text),
            _ => (Context::Dialog, Typing::Nothing),
        }
    }

    /// Whether the dialog has a use for `action`. A key bound to one it has
    /// no use for goes to the field being typed in, as an unbound key does
    /// (Ctrl-R, "remember this", is the note's redo where there is nothing
    /// to remember).
    pub fn takes(&self, action: &Action) -> bool {
        match action {
            Action::Remember => self.fields().contains(&Field::Remember),
            Action::ListInScope => self.memory.is_some(),
            _ => true,
        }
    }

    /// The findings it will decide: its targets, and with "Ignore them
    /// too" on, those in the memory's scope.
    pub fn deciding(&self) -> usize {
        let applied = match self.memory.as_deref() {
            Some(f) if f.apply && !f.guidance && self.kind != DialogKind::Memory => f.preview.len(),
            _ => 0,
        };
        self.targets.len() + applied
    }

    /// The dialog's frame at most (columns, rows); smaller terminals get
    /// what they have.
    pub fn frame_size(&self) -> (u16, u16) {
        match self.memory {
            Some(_) => (84, 30),
            None => (76, 16),
        }
    }

    /// How the dialog's body is laid out on a `height`-row terminal, so the
    /// view draws exactly the fields that update lets the reviewer reach.
    pub fn layout(&self, height: u16) -> DialogLayout {
        // The frame's borders and the two footer lines.
        let body = self.frame_size().1.min(height).saturating_sub(4);
        let fields = self.fields();
        let has = |f: Field| fields.contains(&f);
        let note = self.kind != DialogKind::Memory;
        let form = self.memory.as_deref();
        // One-line rows: reason, remember, projects, rules, paths, and
        // "applies to" with its toggle (or the guidance's line).
        let lines = u16::from(has(Field::Reason))
            + u16::from(has(Field::Remember))
            + form.map_or(0, |_| 3 + if has(Field::Apply) { 2 } else { 1 });
        let boxes = u16::from(note) + u16::from(form.is_some());
        let room = body.saturating_sub(lines);
        // Text boxes take a line each at least, framed (3 lines and more)
        // when there is room: the note first, then the memory's text.
        let mut extra = room.saturating_sub(boxes);
        let grow = |extra: &mut u16, want: u16| {
            let more = want.saturating_sub(1).min(*extra);
            *extra -= more;
            1 + more
        };
        let (note_h, text_h) = match (note, form.is_some()) {
            (true, false) => (grow(&mut extra, u16::MAX), 0),
            (true, true) => {
                // The memory's text gets a frame too before the note grows.
                let n = if extra >= 4 { grow(&mut extra, 3) } else { 1 };
                let t = grow(&mut extra, 6);
                // What is left lets a long note be read too.
                let more = if n >= 3 { extra.min(5) } else { 0 };
                (n + more, t)
            }
            (false, _) => (0, grow(&mut extra, 6)),
        };
        // Top to bottom, the fields whose rows fit.
        let mut used = 0;
        let mut shown = Vec::new();
        for field in fields {
            let rows = match field {
                Field::Note => note_h,
                Field::Text => text_h,
                Field::Apply => 2,
                _ => 1,
            };
            used += rows;
            if used > body {
                break;
            }
            shown.push(field);
        }
        DialogLayout {
            note: note_h,
            text: text_h,
            shown,
        }
    }

    /// The fields, in Tab order.
    pub fn fields(&self) -> Vec<Field> {
        let mut fields = match self.kind {
            DialogKind::Ignore => vec![Field::Reason, Field::Note, Field::Remember],
            DialogKind::AcceptFalsePositive => vec![Field::Note, Field::Remember],
            DialogKind::RejectTruePositive => vec![Field::Reason, Field::Note],
            DialogKind::Note => vec![Field::Note],
            DialogKind::Memory => Vec::new(),
        };
        if let Some(form) = &self.memory {
            fields.extend([Field::Text, Field::Projects, Field::Rules, Field::Paths]);
            if !form.guidance {
                fields.push(Field::Apply);
            }
        }
        fields
    }
}

impl MemoryForm {
    /// The scope the form shows now.
    pub fn scope(&self) -> Scope {
        let projects = match self.projects.get(self.project_at) {
            Some(ProjectOption::One(p)) => vec![p.clone()],
            Some(ProjectOption::Chosen) => self.chosen_projects.clone(),
            _ => Vec::new(),
        };
        let rules = match self.rules.get(self.rule_at) {
            Some(RuleOption::One(r)) => RuleScope::Rules(vec![r.clone()]),
            Some(RuleOption::Class(c)) => RuleScope::Class(c.clone()),
            Some(RuleOption::Chosen) => RuleScope::Rules(self.chosen_rules.clone()),
            _ => RuleScope::All,
        };
        let path_prefixes = self
            .paths
            .lines()
            .join(",")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Scope {
            projects,
            rules,
            path_prefixes,
        }
    }

    /// "Chosen" with nothing chosen: the scope would be wider than it
    /// looks.
    pub fn chosen_nothing(&self) -> bool {
        (self.projects.get(self.project_at) == Some(&ProjectOption::Chosen)
            && self.chosen_projects.is_empty())
            || (self.rules.get(self.rule_at) == Some(&RuleOption::Chosen)
                && self.chosen_rules.is_empty())
    }
}
