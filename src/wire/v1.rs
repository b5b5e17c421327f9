//! Semgrep API v1 finding shapes (`GET /api/v1/deployments/{slug}/findings`).
//!
//! Reading is tolerant: every field but `id` may be missing or null, ids may
//! be numbers or strings, and unknown enum values fall back to neutral ones.
//! Writing follows the spec's shape.

use super::timestamp;
use crate::domain::{
    self, ComponentRisk, Confidence, ScanState, Severity, TriageReason, TriageState, Verdict,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindingsPage {
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Repository {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, deserialize_with = "null_default")]
    pub file_path: String,
    #[serde(default, deserialize_with = "null_default")]
    pub line: u32,
    #[serde(default, deserialize_with = "null_default")]
    pub column: u32,
    #[serde(default, deserialize_with = "null_default")]
    pub end_line: u32,
    #[serde(default, deserialize_with = "null_default")]
    pub end_column: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    #[serde(default)]
    pub confidence: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub subcategories: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub vulnerability_classes: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub cwe_names: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub owasp_names: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Autotriage {
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Autofix {
    #[serde(default, deserialize_with = "null_default")]
    pub fix_code: String,
    #[serde(default, deserialize_with = "null_default")]
    pub explanation: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Guidance {
    #[serde(default, deserialize_with = "null_default")]
    pub summary: String,
    #[serde(default, deserialize_with = "null_default")]
    pub instructions: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Component {
    #[serde(default, deserialize_with = "null_default")]
    pub tag: String,
    #[serde(default)]
    pub risk: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RuleExplanation {
    #[serde(default, deserialize_with = "null_default")]
    pub summary: String,
    #[serde(default, deserialize_with = "null_default")]
    pub explanation: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Assistant {
    #[serde(default)]
    pub autotriage: Option<Autotriage>,
    #[serde(default)]
    pub autofix: Option<Autofix>,
    #[serde(default)]
    pub guidance: Option<Guidance>,
    #[serde(default)]
    pub component: Option<Component>,
    #[serde(default)]
    pub rule_explanation: Option<RuleExplanation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    #[serde(deserialize_with = "int_or_string")]
    pub id: i64,
    #[serde(rename = "ref", default, deserialize_with = "null_default")]
    pub git_ref: String,
    #[serde(default)]
    pub first_seen_scan_id: Option<i64>,
    #[serde(default)]
    pub syntactic_id: Option<String>,
    #[serde(default)]
    pub match_based_id: Option<String>,
    #[serde(default)]
    pub repository: Option<Repository>,
    #[serde(default)]
    pub line_of_code_url: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub triage_state: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub confidence: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub categories: Vec<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub relevant_since: Option<String>,
    #[serde(default)]
    pub state_updated_at: Option<String>,
    #[serde(default)]
    pub triaged_at: Option<String>,
    #[serde(default)]
    pub triage_comment: Option<String>,
    #[serde(default)]
    pub triage_reason: Option<String>,
    #[serde(default)]
    pub rule_name: Option<String>,
    #[serde(default)]
    pub rule_message: Option<String>,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub sourcing_policy: Option<Value>,
    #[serde(default)]
    pub external_ticket: Option<Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub review_comments: Vec<Value>,
    #[serde(default)]
    pub rule: Option<Rule>,
    #[serde(default)]
    pub assistant: Option<Assistant>,
}

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn int_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrString {
        Int(i64),
        Str(String),
    }
    match IntOrString::deserialize(d)? {
        IntOrString::Int(n) => Ok(n),
        IntOrString::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("id '{s}' is not a number"))),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

impl Finding {
    /// Into the domain. `now` stands in for missing timestamps.
    pub fn into_domain(self, now: OffsetDateTime) -> domain::Finding {
        let rule = self.rule.unwrap_or_default();
        let rule_name = non_empty(rule.name)
            .or(self.rule_name)
            .unwrap_or_else(|| "unknown-rule".into());
        let rule_message = non_empty(rule.message)
            .or_else(|| self.rule_message.clone())
            .unwrap_or_default();
        let loc = self.location.unwrap_or_default();
        let confidence = self
            .confidence
            .as_deref()
            .and_then(Confidence::parse_loose)
            .or_else(|| rule.confidence.as_deref().and_then(Confidence::parse_loose));
        let created_at = self
            .created_at
            .as_deref()
            .and_then(timestamp::parse)
            .unwrap_or(now);
        let repository = self.repository.unwrap_or_default();
        let assistant = self.assistant.map(|a| domain::Assistant {
            verdict: a
                .autotriage
                .as_ref()
                .and_then(|t| t.verdict.as_deref())
                .and_then(Verdict::parse),
            verdict_reason: a.autotriage.map(|t| t.reason).unwrap_or_default(),
            autofix_code: a.autofix.and_then(|f| non_empty(f.fix_code)),
            guidance: a
                .guidance
                .filter(|g| !(g.summary.is_empty() && g.instructions.is_empty()))
                .map(|g| domain::Guidance {
                    summary: g.summary,
                    instructions: g.instructions,
                }),
            component: a
                .component
                .filter(|c| !c.tag.is_empty())
                .map(|c| domain::Component {
                    tag: c.tag,
                    risk: c.risk.as_deref().and_then(ComponentRisk::parse),
                }),
            rule_explanation: a
                .rule_explanation
                .filter(|e| !(e.summary.is_empty() && e.explanation.is_empty()))
                .map(|e| domain::RuleExplanation {
                    summary: e.summary,
                    explanation: e.explanation,
                }),
        });
        domain::Finding {
            id: self.id,
            project: non_empty(repository.name).unwrap_or_else(|| "unknown".into()),
            repository_url: repository.url,
            git_ref: non_empty(self.git_ref).unwrap_or_else(|| "main".into()),
            match_based_id: self
                .match_based_id
                .clone()
                .or(self.syntactic_id.clone())
                .unwrap_or_else(|| format!("id:{}", self.id)),
            syntactic_id: self.syntactic_id,
            message: self.rule_message.unwrap_or_else(|| rule_message.clone()),
            rule: domain::Rule {
                name: rule_name,
                message: rule_message,
                category: rule.category.or_else(|| self.categories.first().cloned()),
                confidence,
                subcategories: rule.subcategories,
                vulnerability_classes: rule.vulnerability_classes,
                cwe_names: rule.cwe_names,
                owasp_names: rule.owasp_names,
                references: Vec::new(),
                technologies: Vec::new(),
            },
            severity: self
                .severity
                .as_deref()
                .and_then(Severity::parse_loose)
                .unwrap_or(Severity::Medium),
            confidence: confidence.unwrap_or(Confidence::Medium),
            location: domain::Location {
                path: loc.file_path,
                line: loc.line,
                column: loc.column,
                end_line: loc.end_line.max(loc.line),
                end_column: loc.end_column,
            },
            line_of_code_url: self.line_of_code_url,
            state: self
                .state
                .as_deref()
                .and_then(ScanState::parse)
                .unwrap_or(ScanState::Unresolved),
            triage_state: self
                .triage_state
                .as_deref()
                .and_then(TriageState::parse)
                .unwrap_or(TriageState::Untriaged),
            triage_reason: self.triage_reason.as_deref().and_then(TriageReason::parse),
            triage_comment: self.triage_comment,
            triaged_at: self.triaged_at.as_deref().and_then(timestamp::parse),
            created_at,
            relevant_since: self
                .relevant_since
                .as_deref()
                .and_then(timestamp::parse)
                .unwrap_or(created_at),
            assistant,
            code: None,
            activity: Vec::new(),
        }
    }

    pub fn from_domain(f: &domain::Finding) -> Finding {
        let rule = Rule {
            name: f.rule.name.clone(),
            message: f.rule.message.clone(),
            confidence: f.rule.confidence.map(|c| c.as_str().to_string()),
            category: f.rule.category.clone(),
            subcategories: f.rule.subcategories.clone(),
            vulnerability_classes: f.rule.vulnerability_classes.clone(),
            cwe_names: f.rule.cwe_names.clone(),
            owasp_names: f.rule.owasp_names.clone(),
        };
        let assistant = f.assistant.as_ref().map(|a| Assistant {
            autotriage: a.verdict.map(|v| Autotriage {
                verdict: Some(v.as_str().to_string()),
                reason: a.verdict_reason.clone(),
            }),
            autofix: a.autofix_code.as_ref().map(|code| Autofix {
                fix_code: code.clone(),
                explanation: String::new(),
            }),
            guidance: a.guidance.as_ref().map(|g| Guidance {
                summary: g.summary.clone(),
                instructions: g.instructions.clone(),
            }),
            component: a.component.as_ref().map(|c| Component {
                tag: c.tag.clone(),
                risk: c.risk.map(|r| r.as_str().to_string()),
            }),
            rule_explanation: a.rule_explanation.as_ref().map(|e| RuleExplanation {
                summary: e.summary.clone(),
                explanation: e.explanation.clone(),
            }),
        });
        Finding {
            id: f.id,
            git_ref: f.git_ref.clone(),
            first_seen_scan_id: None,
            syntactic_id: f.syntactic_id.clone(),
            match_based_id: Some(f.match_based_id.clone()),
            repository: Some(Repository {
                name: f.project.clone(),
                url: f.repository_url.clone(),
            }),
            line_of_code_url: f.line_of_code_url.clone(),
            state: Some(f.state.as_str().into()),
            triage_state: Some(f.triage_state.as_str().into()),
            status: Some(f.status().as_str().into()),
            severity: Some(f.severity.as_str().into()),
            confidence: Some(f.confidence.as_str().into()),
            categories: f.rule.category.iter().cloned().collect(),
            created_at: Some(timestamp::format(f.created_at)),
            relevant_since: Some(timestamp::format(f.relevant_since)),
            state_updated_at: None,
            triaged_at: f.triaged_at.map(timestamp::format),
            triage_comment: f.triage_comment.clone(),
            triage_reason: f.triage_reason.map(|r| r.as_str().into()),
            rule_name: Some(f.rule.name.clone()),
            rule_message: Some(f.message.clone()),
            location: Some(Location {
                file_path: f.location.path.clone(),
                line: f.location.line,
                column: f.location.column,
                end_line: f.location.end_line,
                end_column: f.location.end_column,
            }),
            sourcing_policy: None,
            external_ticket: None,
            review_comments: Vec::new(),
            rule: Some(rule),
            assistant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sparse_finding_with_nulls_and_string_ids() {
        let json = r#"{"id": "42", "ref": null, "categories": null, "assistant": {"autotriage": null,
            "component": {"tag": "payments", "risk": "sky-high"}}, "severity": "critical",
            "location": {"file_path": "a.py", "line": 3, "column": null, "end_line": 3, "end_column": 9}}"#;
        let f: Finding = serde_json::from_str(json).unwrap();
        let d = f.into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.id, 42);
        assert_eq!(d.git_ref, "main");
        assert_eq!(d.severity, Severity::Critical);
        let a = d.assistant.unwrap();
        assert_eq!(a.verdict, None);
        assert_eq!(
            a.component.unwrap().risk,
            None,
            "unknown risk is dropped, not fatal"
        );
    }

    #[test]
    fn round_trips_through_the_domain() {
        let json = r#"{"id": 7, "ref": "refs/pull/3/merge", "match_based_id": "abc_0",
            "repository": {"name": "acme/web", "url": "https://git.example/acme/web"},
            "state": "unresolved", "triage_state": "provisionally_ignored", "severity": "high",
            "confidence": "high", "created_at": "2024-08-01T10:00:00.000000Z",
            "rule": {"name": "r1", "message": "m", "cwe_names": ["CWE-89"]},
            "rule_message": "m filled",
            "location": {"file_path": "a.py", "line": 3, "column": 1, "end_line": 4, "end_column": 9},
            "assistant": {"autotriage": {"verdict": "false_positive", "reason": "constant"}}}"#;
        let d = serde_json::from_str::<Finding>(json)
            .unwrap()
            .into_domain(OffsetDateTime::UNIX_EPOCH);
        let back = serde_json::to_value(Finding::from_domain(&d)).unwrap();
        assert_eq!(back["status"], "provisionally_ignored");
        assert_eq!(back["repository"]["name"], "acme/web");
        assert_eq!(back["rule"]["cwe_names"][0], "CWE-89");
        assert_eq!(back["rule_message"], "m filled");
        assert_eq!(back["assistant"]["autotriage"]["reason"], "constant");
        assert_eq!(back["created_at"], "2024-08-01T10:00:00.000000Z");
    }
}
