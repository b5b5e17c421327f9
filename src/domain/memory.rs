//! Memories: an organisation's rules of thumb for Assistant, with a scope.

use time::OffsetDateTime;

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
