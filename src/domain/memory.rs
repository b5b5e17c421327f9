//! Memories: an organisation's rules of thumb for Assistant, with a scope.

use super::decision::Intent;
use super::enums::{TriageReason, TriageState};
use super::path_scope::{PathScope, glob_problem};
use std::collections::HashMap;
use time::OffsetDateTime;

/// Rule id -> its vulnerability classes, for class scopes.
pub type RuleClasses = HashMap<String, Vec<String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryStage {
    Live,
    Suggested,
}

impl MemoryStage {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryStage::Live => "live",
            MemoryStage::Suggested => "suggested",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "live" | "active" | "ai_memory_stage_live" => Some(MemoryStage::Live),
            "suggested" | "ai_memory_stage_suggested" => Some(MemoryStage::Suggested),
            _ => None,
        }
    }
}

/// Which rules a memory speaks about.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RuleScope {
    #[default]
    All,
    Rules(Vec<String>),
    /// Every rule of a vulnerability class, e.g. "SQL Injection".
    Class(String),
}

/// Projects x rules x optional paths. No projects means all projects; each
/// path is a prefix or a glob (see `path_scope`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    pub projects: Vec<String>,
    pub rules: RuleScope,
    pub path_prefixes: Vec<String>,
}

impl Scope {
    pub fn covers(&self, project: &str, rule: &str, classes: &[String], path: &str) -> bool {
        self.covers_project(project) && self.covers_rule_of(rule, classes) && self.covers_path(path)
    }

    /// No paths, or one that covers this path (a prefix that starts it, a
    /// glob that matches it). To match many paths, read them once with
    /// [`Scope::paths`].
    pub fn covers_path(&self, path: &str) -> bool {
        self.paths().covers(path)
    }

    /// The scope's paths, read once to be matched against many paths.
    pub fn paths(&self) -> PathScope {
        PathScope::new(&self.path_prefixes)
    }

    /// All projects, or this one among them.
    pub fn covers_project(&self, project: &str) -> bool {
        self.projects.is_empty() || self.projects.iter().any(|p| p == project)
    }

    /// All rules, this one among them, or its class (`classes`: the rule's).
    pub fn covers_rule_of(&self, rule: &str, classes: &[String]) -> bool {
        match &self.rules {
            RuleScope::All => true,
            RuleScope::Rules(rules) => rules.iter().any(|r| r == rule),
            RuleScope::Class(class) => classes.iter().any(|c| same_class(c, class)),
        }
    }

    /// The projects for a reader: their names, or "all projects".
    pub fn projects_text(&self) -> String {
        if self.projects.is_empty() {
            "all projects".into()
        } else {
            self.projects.join(", ")
        }
    }

    /// The rules for a reader: their ids, "class: X", or "all rules".
    pub fn rules_text(&self) -> String {
        match &self.rules {
            RuleScope::All => "all rules".into(),
            RuleScope::Rules(rules) => rules.join(", "),
            RuleScope::Class(class) => format!("class: {class}"),
        }
    }
}

impl Scope {
    /// The same scope with a class turned into the rules of that class, so
    /// it can be matched without the rule metadata.
    pub fn resolved(&self, classes: &RuleClasses) -> Scope {
        let rules = match &self.rules {
            RuleScope::Class(class) => {
                let mut rules: Vec<String> = classes
                    .iter()
                    .filter(|(_, cs)| cs.iter().any(|c| same_class(c, class)))
                    .map(|(rule, _)| rule.clone())
                    .collect();
                rules.sort();
                RuleScope::Rules(rules)
            }
            other => other.clone(),
        };
        Scope {
            rules,
            ..self.clone()
        }
    }

    /// Short words for lists: "all projects × SQL Injection under app/".
    pub fn summary(&self) -> String {
        let projects = match self.projects.as_slice() {
            [] => "all projects".to_string(),
            [one] => one.clone(),
            many => format!("{} projects", many.len()),
        };
        let rules = match &self.rules {
            RuleScope::All => "all rules".to_string(),
            RuleScope::Rules(r) if r.len() == 1 => {
                r[0].rsplit('.').next().unwrap_or(&r[0]).to_string()
            }
            RuleScope::Rules(r) => format!("{} rules", r.len()),
            RuleScope::Class(c) => c.clone(),
        };
        let mut s = format!("{projects} × {rules}");
        if !self.path_prefixes.is_empty() {
            s += &format!(" under {}", self.path_prefixes.join(", "));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Memory {
    pub id: String,
    pub content: String,
    pub scope: Scope,
    pub stage: MemoryStage,
    /// Guidance memories shape fix advice; the others shape triage.
    pub guidance: bool,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Memory {
    /// A new memory: live, written by `author` now, with an id the backend
    /// may replace when it stores it.
    pub fn new(content: String, scope: Scope, guidance: bool, author: &str) -> Memory {
        let now = whole_seconds_now();
        Memory {
            id: new_memory_id(),
            content,
            scope,
            stage: MemoryStage::Live,
            guidance,
            created_by: author.to_string(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Marks the memory changed now.
    pub fn touch(&mut self) {
        self.updated_at = whole_seconds_now();
    }

    /// The note on each finding a memory is applied to: it names the memory
    /// by its text (its id may change when the backend stores it).
    pub fn applied_note(&self) -> String {
        const SHOWN: usize = 200;
        let text: String = self
            .content
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let short: String = text.chars().take(SHOWN).collect();
        let more = if text.chars().count() > SHOWN {
            "…"
        } else {
            ""
        };
        format!("Ignored under the memory \"{short}{more}\"")
    }

    /// Applying the memory: one ignore decision per finding (ids), with
    /// `reason` and the note naming the memory.
    pub fn apply_intents(&self, finding_ids: &[i64], reason: TriageReason) -> Vec<(i64, Intent)> {
        let note = self.applied_note();
        finding_ids
            .iter()
            .map(|&id| {
                let intent = Intent::SetState {
                    state: TriageState::Ignored,
                    reason: Some(reason),
                    note: Some(note.clone()),
                };
                (id, intent)
            })
            .collect()
    }

    /// Closing the findings a re-analysis under this memory suggested,
    /// each with the Assistant's reason: ignored as false positives.
    pub fn suggestion_intents(&self, accepted: &[(i64, String)]) -> Vec<(i64, Intent)> {
        let note = self.applied_note();
        accepted
            .iter()
            .map(|(id, reason)| {
                let intent = Intent::SetState {
                    state: TriageState::Ignored,
                    reason: Some(TriageReason::FalsePositive),
                    note: Some(format!(
                        "{note}. The Assistant, re-analysing under it: {reason}"
                    )),
                };
                (*id, intent)
            })
            .collect()
    }

    /// Why the memory cannot be saved, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.content.trim().is_empty() {
            return Some("the memory needs a text".into());
        }
        let n = self.content.chars().count();
        if n > MAX_MEMORY_CHARS {
            return Some(format!(
                "the memory is {n} characters; at most {MAX_MEMORY_CHARS}"
            ));
        }
        if let Some(c) = self
            .content
            .chars()
            .find(|&c| hidden(c) && c != '\n' && c != '\t')
        {
            return Some(format!(
                "the memory's text holds a control character (U+{:04X})",
                u32::from(c)
            ));
        }
        if let RuleScope::Rules(r) = &self.scope.rules
            && r.is_empty()
        {
            return Some("choose at least one rule, or all rules".into());
        }
        let rules = match &self.scope.rules {
            RuleScope::Rules(r) => r.clone(),
            RuleScope::Class(c) => vec![c.clone()],
            RuleScope::All => Vec::new(),
        };
        for (what, names) in [("project", &self.scope.projects), ("rule", &rules)] {
            if let Some(p) = names.iter().find_map(|n| name_problem(n, MAX_NAME_CHARS)) {
                return Some(format!("a {what} name {p}"));
            }
        }
        let prefixes = &self.scope.path_prefixes;
        if prefixes.len() > MAX_PATH_PREFIXES {
            return Some(format!(
                "the memory has {} path prefixes; at most {MAX_PATH_PREFIXES}",
                prefixes.len()
            ));
        }
        if let Some(p) = prefixes
            .iter()
            .find_map(|n| name_problem(n, MAX_PATH_PREFIX_CHARS))
        {
            return Some(format!("a path prefix {p}"));
        }
        prefixes.iter().find_map(|p| glob_problem(p))
    }
}

/// Longest memory text accepted (as long as a triage note may be).
pub const MAX_MEMORY_CHARS: usize = super::decision::MAX_NOTE_CHARS;
/// Most path prefixes in one memory's scope.
pub const MAX_PATH_PREFIXES: usize = 100;
/// Longest path prefix, project or rule name in a scope.
pub const MAX_PATH_PREFIX_CHARS: usize = 1_000;
const MAX_NAME_CHARS: usize = 1_000;

/// A character that does not show as itself: C0 and C1 controls, DEL, bidi
/// overrides and isolates, zero-width characters.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// What is wrong with a name in a scope: empty, too long, or holding
/// characters that do not show.
fn name_problem(name: &str, max: usize) -> Option<String> {
    if name.trim().is_empty() {
        return Some("is empty".into());
    }
    let n = name.chars().count();
    if n > max {
        return Some(format!("is {n} characters; at most {max}"));
    }
    name.chars().find(|&c| hidden(c)).map(|c| {
        format!(
            "holds a control or invisible character (U+{:04X})",
            u32::from(c)
        )
    })
}

/// Class names as rules and memories spell them, compared loosely.
pub fn same_class(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Memory times are kept to the second: they go through text (the store,
/// the wire) and must come back equal.
fn whole_seconds_now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A local id for a memory not yet stored by the backend: "mem-" and 16 hex
/// digits from the clock and the process, unique enough for one store.
pub fn new_memory_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i128(OffsetDateTime::now_utc().unix_timestamp_nanos());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    format!("mem-{:016x}", h.finish())
}

/// A change to the memories, as the outbox keeps it and the sync sends it.
#[derive(Debug, Clone, PartialEq)]
pub enum MemoryChange {
    Create(Memory),
    Update(Memory),
    Delete(String),
}

impl MemoryChange {
    pub fn memory_id(&self) -> &str {
        match self {
            MemoryChange::Create(m) | MemoryChange::Update(m) => &m.id,
            MemoryChange::Delete(id) => id,
        }
    }

    /// "create", "update", "delete": how the outbox and scripts name it.
    pub fn verb(&self) -> &'static str {
        match self {
            MemoryChange::Create(_) => "create",
            MemoryChange::Update(_) => "update",
            MemoryChange::Delete(_) => "delete",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_finds_what_a_scope_covers() {
        use crate::domain::{IndexBuilder, IndexEntry, Lifecycle, Severity, Status, TriageState};
        let mut b = IndexBuilder::default();
        let rows = [
            (1, "acme/web", "py.sqli", "app/db.py", Status::Open),
            (2, "acme/web", "py.sqli", "tests/db.py", Status::Open),
            (3, "acme/web", "py.xss", "app/view.py", Status::Open),
            (4, "acme/api", "py.sqli", "app/db.py", Status::Open),
            (5, "acme/web", "py.sqli", "app/old.py", Status::Ignored),
        ];
        for (id, project, rule, path, status) in rows {
            b.push(IndexEntry {
                id,
                relevant_since: id,
                project,
                rule,
                path,
                message: "m",
                git_ref: "main",
                line: 1,
                severity: Severity::High,
                status,
                triage_state: TriageState::Untriaged,
                verdict: None,
                component: "",
                risk: None,
                lifecycle: Lifecycle::Production,
                pending: false,
            });
        }
        let index = b.finish();
        let classes: RuleClasses =
            [("py.sqli".to_string(), vec!["SQL Injection".to_string()])].into();
        let ids = |scope: &Scope, open: bool| -> Vec<i64> {
            let mut ids: Vec<i64> = index
                .in_scope(scope, &classes, open)
                .into_iter()
                .map(|p| index.rows[p as usize].id)
                .collect();
            ids.sort();
            ids
        };
        let scope = Scope {
            projects: vec!["acme/web".into()],
            rules: RuleScope::Class("sql injection".into()),
            path_prefixes: vec!["app/".into()],
        };
        assert_eq!(
            ids(&scope, true),
            vec![1],
            "project x class x path, open only"
        );
        assert_eq!(ids(&scope, false), vec![1, 5]);
        assert_eq!(ids(&Scope::default(), true), vec![1, 2, 3, 4]);
        assert_eq!(scope.summary(), "acme/web × sql injection under app/");
    }

    #[test]
    fn scope_is_projects_times_rules_times_paths() {
        let scope = Scope {
            projects: vec!["acme/web".into()],
            rules: RuleScope::Class("SQL Injection".into()),
            path_prefixes: vec!["app/".into()],
        };
        let classes = vec!["SQL Injection".to_string()];
        assert!(scope.covers("acme/web", "any-rule", &classes, "app/db.py"));
        assert!(!scope.covers("acme/api", "any-rule", &classes, "app/db.py"));
        assert!(!scope.covers("acme/web", "any-rule", &[], "app/db.py"));
        assert!(!scope.covers("acme/web", "any-rule", &classes, "lib/db.py"));
        assert!(Scope::default().covers("x", "y", &[], "z"));
    }
}
