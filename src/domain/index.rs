//! The compact in-memory index of every finding: what the list, the counts
//! and the filters need, and nothing more. Details are loaded on demand.

use super::enums::{Severity, Status, TriageState, Verdict};
use super::finding::Lifecycle;
use std::collections::HashMap;

/// One finding in the index. Strings are ids into the index's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    pub id: i64,
    /// Unix seconds.
    pub relevant_since: i64,
    pub project: u32,
    pub rule: u32,
    pub path: u32,
    pub message: u32,
    pub git_ref: u32,
    pub line: u32,
    pub severity: Severity,
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    pub lifecycle: Lifecycle,
}

/// An append-only table of distinct strings.
#[derive(Debug, Default, Clone)]
pub struct StringTable {
    strings: Vec<Box<str>>,
}

impl StringTable {
    pub fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.strings
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, s.as_ref()))
    }

    pub fn find(&self, text: &str) -> Option<u32> {
        self.strings
            .iter()
            .position(|s| s.as_ref() == text)
            .map(|i| i as u32)
    }
}

#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Box<str>, u32>,
    table: StringTable,
}

impl Interner {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        let id = self.table.strings.len() as u32;
        self.table.strings.push(text.into());
        self.ids.insert(text.into(), id);
        id
    }
}

/// The finding fields the index keeps, as the store hands them over.
pub struct IndexEntry<'a> {
    pub id: i64,
    pub relevant_since: i64,
    pub project: &'a str,
    pub rule: &'a str,
    pub path: &'a str,
    pub message: &'a str,
    pub git_ref: &'a str,
    pub line: u32,
    pub severity: Severity,
    pub status: Status,
    pub triage_state: TriageState,
    pub verdict: Option<Verdict>,
    pub lifecycle: Lifecycle,
}

#[derive(Debug, Default)]
pub struct IndexBuilder {
    rows: Vec<Row>,
    projects: Interner,
    rules: Interner,
    paths: Interner,
    messages: Interner,
    refs: Interner,
}

impl IndexBuilder {
    pub fn with_capacity(n: usize) -> Self {
        IndexBuilder {
            rows: Vec::with_capacity(n),
            ..Default::default()
        }
    }

    pub fn push(&mut self, e: IndexEntry<'_>) {
        let row = Row {
            id: e.id,
            relevant_since: e.relevant_since,
            project: self.projects.intern(e.project),
            rule: self.rules.intern(e.rule),
            path: self.paths.intern(e.path),
            message: self.messages.intern(e.message),
            git_ref: self.refs.intern(e.git_ref),
            line: e.line,
            severity: e.severity,
            status: e.status,
            triage_state: e.triage_state,
            verdict: e.verdict,
            lifecycle: e.lifecycle,
        };
        self.rows.push(row);
    }

    pub fn finish(mut self) -> FindingIndex {
        // The list order: most severe first, then newest, then highest id.
        self.rows.sort_unstable_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.relevant_since.cmp(&a.relevant_since))
                .then(b.id.cmp(&a.id))
        });
        self.rows.shrink_to_fit();
        FindingIndex {
            rows: self.rows,
            projects: self.projects.table,
            rules: self.rules.table,
            paths: self.paths.table,
            messages: self.messages.table,
            refs: self.refs.table,
        }
    }
}

/// Every finding, in list order.
#[derive(Debug, Default)]
pub struct FindingIndex {
    pub rows: Vec<Row>,
    pub projects: StringTable,
    pub rules: StringTable,
    pub paths: StringTable,
    pub messages: StringTable,
    pub refs: StringTable,
}

impl FindingIndex {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn position_of(&self, id: i64) -> Option<usize> {
        self.rows.iter().position(|r| r.id == id)
    }
}
