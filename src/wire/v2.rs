//! Semgrep API v2 (experimental) memory shapes: `/api/ai/deployments/
//! {deploymentId}/memories…` (ARCHITECTURE §6), camelCase as
//! proto3 JSON writes it.
//!
//! Reading is tolerant (ids as strings or numbers, unknown stages and
//! fields kept); writing leaves out what is unset. A v2 memory is scoped to
//! at most one repository (or project tag, or the whole organisation) and
//! one rule or vulnerability class (or all rules), plus path prefixes.

use crate::domain::{self, MemoryStage, RuleScope, Scope};
use crate::wire::lenient::{loose_i64, loose_string, loose_strings, null_default};
use crate::wire::timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

pub const STAGE_LIVE: &str = "AI_MEMORY_STAGE_LIVE";
pub const STAGE_SUGGESTED: &str = "AI_MEMORY_STAGE_SUGGESTED";
pub const STAGE_DELETED: &str = "AI_MEMORY_STAGE_DELETED";
pub const CONTEXT_TRIAGE: &str = "TRIAGE";
pub const CONTEXT_GUIDANCE: &str = "GUIDANCE";

/// `protos.ai.v1.Memory`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub rule_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub rule_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub repository_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub repository_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<String>,
    /// `TRIAGE`, `GUIDANCE`.
    #[serde(
        default,
        deserialize_with = "loose_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub context: Vec<String>,
    /// `AI_MEMORY_STAGE_LIVE`, `…_SUGGESTED`, `…_DELETED`.
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stage: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub path_prefixes: Vec<String>,
    #[serde(
        default,
        deserialize_with = "loose_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub vulnerability_class: Option<String>,
    #[serde(
        default,
        deserialize_with = "loose_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_tag_id: Option<i64>,
    /// What sift does not model (`suggestionSources`, `preanalysisCounts`,
    /// fields added later), kept as it came.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Memory {
    pub fn is_deleted(&self) -> bool {
        self.stage
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(STAGE_DELETED))
    }

    /// Into the domain: the repository (by name, else `id:N`) is the
    /// project, the rule (by name, else id) or the vulnerability class the
    /// rules. An unknown or missing stage is taken as live.
    pub fn into_domain(self, now: OffsetDateTime) -> domain::Memory {
        let wide: Option<SiftScope> = self
            .extra
            .get(SIFT_SCOPE)
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let mut m = self.into_domain_narrow(now);
        if let Some(wide) = wide {
            if !wide.projects.is_empty() {
                m.scope.projects = wide.projects;
            }
            if !wide.rules.is_empty() {
                m.scope.rules = RuleScope::Rules(wide.rules);
            }
        }
        m
    }

    fn into_domain_narrow(self, now: OffsetDateTime) -> domain::Memory {
        let project = self
            .repository_name
            .clone()
            .or_else(|| self.repository_id.as_ref().map(|id| format!("id:{id}")));
        let rules = match (self.rule_name.or(self.rule_id), self.vulnerability_class) {
            (Some(rule), _) => RuleScope::Rules(vec![rule]),
            (None, Some(class)) => RuleScope::Class(class),
            (None, None) => RuleScope::All,
        };
        let created_at = self
            .created_at
            .as_deref()
            .and_then(timestamp::parse)
            .unwrap_or(now);
        domain::Memory {
            id: self.id.unwrap_or_default(),
            content: self.content.unwrap_or_default(),
            scope: Scope {
                projects: project.into_iter().collect(),
                rules,
                path_prefixes: self.path_prefixes,
            },
            stage: self
                .stage
                .as_deref()
                .and_then(MemoryStage::parse)
                .unwrap_or(MemoryStage::Live),
            guidance: self
                .context
                .iter()
                .any(|c| c.eq_ignore_ascii_case(CONTEXT_GUIDANCE)),
            created_by: self.created_by.unwrap_or_default(),
            created_at,
            updated_at: created_at,
        }
    }

    /// From the domain. The v2 API scopes a memory to at most one
    /// repository and one rule: a wider scope is refused with a sentence
    /// saying so. `repository_id` is the project's id on the backend.
    pub fn from_domain(
        m: &domain::Memory,
        repository_id: Option<String>,
    ) -> Result<Memory, String> {
        let repository_name = match m.scope.projects.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => {
                return Err(format!(
                    "the API scopes a memory to one project or all; this one names {}",
                    m.scope.projects.len()
                ));
            }
        };
        let (rule, class) = match &m.scope.rules {
            RuleScope::All => (None, None),
            RuleScope::Rules(rules) => match rules.as_slice() {
                [] => (None, None),
                [one] => (Some(one.clone()), None),
                _ => {
                    return Err(format!(
                        "the API scopes a memory to one rule, a class or all; this one names {} rules",
                        rules.len()
                    ));
                }
            },
            RuleScope::Class(c) => (None, Some(c.clone())),
        };
        Ok(Memory {
            id: Some(m.id.clone()).filter(|id| !id.is_empty()),
            content: Some(m.content.clone()),
            rule_id: rule.clone(),
            rule_name: rule,
            repository_id: repository_id.filter(|_| repository_name.is_some()),
            repository_name,
            created_at: Some(timestamp::format(m.created_at)),
            created_by: Some(m.created_by.clone()).filter(|b| !b.is_empty()),
            context: vec![
                if m.guidance {
                    CONTEXT_GUIDANCE
                } else {
                    CONTEXT_TRIAGE
                }
                .to_string(),
            ],
            stage: Some(
                match m.stage {
                    MemoryStage::Live => STAGE_LIVE,
                    MemoryStage::Suggested => STAGE_SUGGESTED,
                }
                .to_string(),
            ),
            path_prefixes: m.scope.path_prefixes.clone(),
            vulnerability_class: class,
            project_tag_id: None,
            extra: serde_json::Map::new(),
        })
    }
}

/// The extension field that carries a scope wider than v2's (several
/// projects or rules) between sift and `sift serve`; other clients see the
/// first project and rule in the standard fields.
pub const SIFT_SCOPE: &str = "siftScope";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SiftScope {
    #[serde(default)]
    projects: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
}

impl Memory {
    /// From the domain, whatever the scope: a scope wider than v2's goes
    /// in the `siftScope` extension, its first project and rule in the
    /// standard fields.
    pub fn from_domain_wide(m: &domain::Memory, repository_id: Option<String>) -> Memory {
        if let Ok(v2) = Memory::from_domain(m, repository_id.clone()) {
            return v2;
        }
        let mut narrow = m.clone();
        narrow.scope.projects.truncate(1);
        let rules = match &m.scope.rules {
            RuleScope::Rules(r) if r.len() > 1 => {
                narrow.scope.rules = RuleScope::Rules(r[..1].to_vec());
                r.clone()
            }
            _ => Vec::new(),
        };
        let mut v2 = Memory::from_domain(&narrow, repository_id).unwrap_or_default();
        let wide = SiftScope {
            projects: if m.scope.projects.len() > 1 {
                m.scope.projects.clone()
            } else {
                Vec::new()
            },
            rules,
        };
        if let Ok(v) = serde_json::to_value(wide) {
            v2.extra.insert(SIFT_SCOPE.into(), v);
        }
        v2
    }
}

/// `{"memory": …}`: create and update requests and responses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryEnvelope {
    #[serde(default)]
    pub memory: Option<Memory>,
}

/// `{"memories": […]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoriesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub memories: Vec<Memory>,
}

/// `POST …/memories/list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListMemoriesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<MemoryFilter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryFilter {
    #[serde(
        default,
        deserialize_with = "loose_strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub repository_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact_scope: bool,
}

/// `POST …/memories/ids`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryIdsRequest {
    #[serde(default, deserialize_with = "loose_strings")]
    pub memory_ids: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_reference_example_and_writes_it_back() {
        let json = json!({
            "memory": {
                "content": "Values passed through sanitize_sql() in app/db/util.py are safe; treat SQL injection findings on them as false positives.",
                "ruleId": "python.lang.security.audit.formatted-sql-query.formatted-sql-query",
                "repositoryId": "456789",
                "context": ["TRIAGE"],
                "stage": "AI_MEMORY_STAGE_LIVE",
                "pathPrefixes": ["app/"]
            }
        });
        let env: MemoryEnvelope = serde_json::from_value(json.clone()).unwrap();
        let m = env.memory.clone().unwrap();
        assert_eq!(m.repository_id.as_deref(), Some("456789"));
        assert_eq!(serde_json::to_value(&env).unwrap(), json, "nothing added");
        let d = m.into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.scope.projects, vec!["id:456789"]);
        assert_eq!(
            d.scope.rules,
            RuleScope::Rules(vec![
                "python.lang.security.audit.formatted-sql-query.formatted-sql-query".into()
            ])
        );
        assert_eq!(d.scope.path_prefixes, vec!["app/"]);
        assert_eq!(d.stage, MemoryStage::Live);
        assert!(!d.guidance);
    }

    #[test]
    fn reads_numbers_unknown_stages_and_extra_fields() {
        let m: Memory = serde_json::from_value(json!({
            "id": 17, "repositoryId": 42, "repositoryName": "acme/web", "projectTagId": "9",
            "vulnerabilityClass": "SQL Injection", "stage": "AI_MEMORY_STAGE_SOMETHING_NEW",
            "context": ["GUIDANCE"], "preanalysisCounts": {"newlyFalsePositive": "3"},
            "createdAt": "2026-01-02T03:04:05Z", "createdBy": "ann", "pathPrefixes": null
        }))
        .unwrap();
        assert_eq!(m.id.as_deref(), Some("17"));
        assert_eq!(m.project_tag_id, Some(9));
        assert_eq!(m.extra["preanalysisCounts"]["newlyFalsePositive"], "3");
        let d = m.into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.scope.projects, vec!["acme/web"]);
        assert_eq!(d.scope.rules, RuleScope::Class("SQL Injection".into()));
        assert_eq!(d.stage, MemoryStage::Live, "unknown stages read as live");
        assert!(d.guidance);
        assert_eq!(d.created_by, "ann");
        let deleted: Memory = serde_json::from_value(json!({"stage": STAGE_DELETED})).unwrap();
        assert!(deleted.is_deleted());
    }

    fn memory(projects: &[&str], rules: RuleScope) -> domain::Memory {
        domain::Memory {
            id: "m-1".into(),
            content: "ConfigService is an internal backend service".into(),
            scope: Scope {
                projects: projects.iter().map(|p| p.to_string()).collect(),
                rules,
                path_prefixes: vec![],
            },
            stage: MemoryStage::Suggested,
            guidance: false,
            created_by: "alice".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn writes_one_project_and_one_rule_at_most() {
        let m = memory(&["acme/web"], RuleScope::Rules(vec!["r1".into()]));
        let v = serde_json::to_value(Memory::from_domain(&m, Some("7".into())).unwrap()).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "m-1",
                "content": "ConfigService is an internal backend service",
                "ruleId": "r1", "ruleName": "r1",
                "repositoryId": "7", "repositoryName": "acme/web",
                "createdAt": "1970-01-01T00:00:00.000000Z", "createdBy": "alice",
                "context": ["TRIAGE"], "stage": "AI_MEMORY_STAGE_SUGGESTED"
            })
        );
        let org_wide = Memory::from_domain(&memory(&[], RuleScope::All), None).unwrap();
        assert!(org_wide.repository_id.is_none() && org_wide.rule_id.is_none());
        assert!(Memory::from_domain(&memory(&["a", "b"], RuleScope::All), None).is_err());
        let two_rules = RuleScope::Rules(vec!["r1".into(), "r2".into()]);
        assert!(Memory::from_domain(&memory(&[], two_rules), None).is_err());
        let class =
            Memory::from_domain(&memory(&[], RuleScope::Class("XSS".into())), None).unwrap();
        assert_eq!(class.vulnerability_class.as_deref(), Some("XSS"));
    }

    #[test]
    fn wide_scopes_travel_in_an_extension() {
        let two = RuleScope::Rules(vec!["r1".into(), "r2".into()]);
        let m = memory(&["acme/web", "acme/api"], two.clone());
        let v2 = Memory::from_domain_wide(&m, None);
        assert_eq!(v2.repository_name.as_deref(), Some("acme/web"));
        assert_eq!(v2.rule_name.as_deref(), Some("r1"));
        let back = serde_json::from_value::<Memory>(serde_json::to_value(&v2).unwrap())
            .unwrap()
            .into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(back.scope, m.scope);
        let narrow = memory(&["acme/web"], RuleScope::All);
        assert!(Memory::from_domain_wide(&narrow, None).extra.is_empty());
    }

    #[test]
    fn list_filters_read_and_write() {
        let r: ListMemoriesRequest = serde_json::from_value(
            json!({"filter": {"repositoryIds": ["1", 2], "exactScope": true}}),
        )
        .unwrap();
        let f = r.filter.unwrap();
        assert_eq!(f.repository_ids, vec!["1", "2"]);
        assert!(f.exact_scope);
        let empty = ListMemoriesRequest::default();
        assert_eq!(serde_json::to_value(&empty).unwrap(), json!({}));
        let list: MemoriesResponse = serde_json::from_value(json!({"memories": null})).unwrap();
        assert!(list.memories.is_empty());
    }
}
