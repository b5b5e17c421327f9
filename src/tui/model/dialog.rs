//! A dialog: what it decides, its fields, and the memory it may write.

use super::Cursor;
use crate::domain::{Memory, RuleScope, Scope, TriageReason};
use crate::tui::action::Action;
use crate::tui::keymap::{Context, Typing};
use ratatui_textarea::TextArea;
use std::collections::BTreeSet;

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
