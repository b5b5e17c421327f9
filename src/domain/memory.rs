//! Memories: an organisation's rules of thumb for Assistant, with a scope.

use super::index::FindingIndex;
use super::query::{BacklogView, Filter, ScopeFilter};
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

/// Projects x rules x optional path prefixes. No projects means all projects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    pub projects: Vec<String>,
    pub rules: RuleScope,
    pub path_prefixes: Vec<String>,
}

impl Scope {
    pub fn covers(&self, project: &str, rule: &str, classes: &[String], path: &str) -> bool {
        let project_ok = self.projects.is_empty() || self.projects.iter().any(|p| p == project);
        let rule_ok = match &self.rules {
            RuleScope::All => true,
            RuleScope::Rules(rules) => rules.iter().any(|r| r == rule),
            RuleScope::Class(class) => classes.iter().any(|c| c.eq_ignore_ascii_case(class)),
        };
        let path_ok = self.path_prefixes.is_empty()
            || self
                .path_prefixes
                .iter()
                .any(|p| path.starts_with(p.as_str()));
        project_ok && rule_ok && path_ok
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
                    .filter(|(_, cs)| cs.iter().any(|c| c.eq_ignore_ascii_case(class)))
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

impl FindingIndex {
    /// Positions (in list order) of the findings a scope covers; with
    /// `undecided_only`, those still open or provisionally ignored.
    pub fn in_scope(&self, scope: &Scope, classes: &RuleClasses, undecided_only: bool) -> Vec<u32> {
        let filter = Filter {
            view: BacklogView::All,
            scope: Some(ScopeFilter {
                label: String::new(),
                scope: scope.resolved(classes),
            }),
            ..Filter::default()
        };
        let mut found = self.select(&filter);
        if undecided_only {
            found.retain(|&p| self.rows[p as usize].status.is_undecided());
        }
        found
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
