//! Semgrep API v1 finding shapes (`GET /api/v1/deployments/{slug}/findings`).
//!
//! Reading is tolerant: every field but `id` may be missing or null, ids may
//! be numbers or strings, and unknown enum values fall back to neutral ones.
//! Writing follows the spec's shape.

use super::lenient::{
    id_or_zero, ids_int_or_string, int_or_string, null_default, opt_int_or_string, string_or_list,
};
use super::timestamp;
use crate::domain::{
    self, ComponentRisk, Confidence, ScanState, Severity, Status, TriageChange, TriageConflict,
    TriageReason, TriageState, Verdict,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FindingsPage {
    pub findings: Vec<Finding>,
    /// `sift serve`'s answer to `triage_apart` (`wire::TRIAGE_APART`): the
    /// findings whose only changes since the change cursor are to their
    /// triage, which the client holds the rest of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triaged: Vec<TriagedFinding>,
    /// `sift serve`'s answer to `as_stored` (`wire::AS_STORED`): findings
    /// as its store holds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<StoredRow>,
    /// The stored rules of the findings in `stored`, by name, as the
    /// server's store holds them.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub rules: HashMap<String, Box<RawValue>>,
}

/// A finding as `sift serve`'s store holds it: the columns of its row that
/// win over its document, named by project and rule rather than by the
/// store's own numbers, its stored document (the v1 finding without what
/// the row holds) and the code around the match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRow {
    pub id: i64,
    pub project: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub match_based_id: String,
    pub rule: String,
    pub message: String,
    pub state: String,
    pub triage_state: String,
    #[serde(default)]
    pub triage_reason: Option<String>,
    #[serde(default)]
    pub triage_comment: Option<String>,
    #[serde(default)]
    pub triaged_at: Option<String>,
    #[serde(default)]
    pub code_start: Option<u32>,
    #[serde(default)]
    pub code: Option<String>,
    pub doc: Box<RawValue>,
}

/// A finding's triage alone, named by its identity: in the fields and
/// forms of `Finding`, and all of them required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriagedFinding {
    pub id: i64,
    pub repository: Repository,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub match_based_id: String,
    pub triage_state: String,
    pub triage_reason: Option<String>,
    pub triage_comment: Option<String>,
    pub triaged_at: Option<String>,
    pub relevant_since: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Repository {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

impl Rule {
    pub fn from_domain(rule: &domain::Rule) -> Rule {
        Rule {
            name: rule.name.clone(),
            message: rule.message.clone(),
            confidence: rule.confidence.map(|c| c.as_str().to_string()),
            category: rule.category.clone(),
            subcategories: rule.subcategories.clone(),
            vulnerability_classes: rule.vulnerability_classes.clone(),
            cwe_names: rule.cwe_names.clone(),
            owasp_names: rule.owasp_names.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Autotriage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autotriage: Option<Autotriage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autofix: Option<Autofix>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<Guidance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Component>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_explanation: Option<RuleExplanation>,
    /// Not in the Semgrep API: who made sift's own Assistant's judgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_by: Option<JudgedBy>,
    /// Not in the Semgrep API: sift's own Assistant gave no verdict, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_verdict: Option<String>,
    /// Not in the Semgrep API: who wrote sift's own Assistant's guidance
    /// and fix, and how far its review trusts the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_by: Option<FixedBy>,
    /// Not in the Semgrep API: sift's own Assistant wrote no fix, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_fix: Option<String>,
}

impl Assistant {
    /// Into the domain. `now` stands in for missing timestamps.
    pub fn into_domain(self, now: OffsetDateTime) -> domain::Assistant {
        let a = self;
        domain::Assistant {
            verdict: a
                .autotriage
                .as_ref()
                .and_then(|t| t.verdict.as_deref())
                .and_then(Verdict::parse),
            judged_by: a.judged_by.map(|j| domain::Judge {
                provider: j.provider,
                model: j.model,
                prompt_version: j.prompt_version,
                at: j.at.as_deref().and_then(timestamp::parse).unwrap_or(now),
                memories: j.memory_ids,
            }),
            no_verdict: a.no_verdict.and_then(non_empty),
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
            no_fix: a.no_fix.and_then(non_empty),
            fixed_by: a.fixed_by.map(|f| domain::FixProvenance {
                confidence: f
                    .confidence
                    .as_deref()
                    .and_then(domain::FixConfidence::parse),
                review: f.review,
                replaces: f.replaces,
                judge: domain::Judge {
                    provider: f.judge.provider,
                    model: f.judge.model,
                    prompt_version: f.judge.prompt_version,
                    at: f
                        .judge
                        .at
                        .as_deref()
                        .and_then(timestamp::parse)
                        .unwrap_or(now),
                    memories: f.judge.memory_ids,
                },
            }),
        }
    }

    pub fn from_domain(a: &domain::Assistant) -> Assistant {
        Assistant {
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
            judged_by: a.judged_by.as_ref().map(|j| JudgedBy {
                provider: j.provider.clone(),
                model: j.model.clone(),
                prompt_version: j.prompt_version,
                at: Some(timestamp::format(j.at)),
                memory_ids: j.memories.clone(),
            }),
            no_verdict: a.no_verdict.clone(),
            no_fix: a.no_fix.clone(),
            fixed_by: a.fixed_by.as_ref().map(|f| FixedBy {
                confidence: f.confidence.map(|c| c.as_str().to_string()),
                review: f.review.clone(),
                replaces: f.replaces.clone(),
                judge: JudgedBy {
                    provider: f.judge.provider.clone(),
                    model: f.judge.model.clone(),
                    prompt_version: f.judge.prompt_version,
                    at: Some(timestamp::format(f.judge.at)),
                    memory_ids: f.judge.memories.clone(),
                },
            }),
        }
    }
}

/// sift's own Assistant's fix provenance (`assistant.fixed_by`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FixedBy {
    /// `low`, `medium` or `high`; absent for guidance without a fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub review: String,
    /// The matched lines the fix replaces, as they were when it was written.
    #[serde(default, deserialize_with = "null_default")]
    pub replaces: String,
    #[serde(flatten)]
    pub judge: JudgedBy,
}

/// sift's own Assistant's provenance (`assistant.judged_by`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JudgedBy {
    #[serde(default)]
    pub provider: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub prompt_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub memory_ids: Vec<String>,
}

/// The policy that brought a finding in (`SastFinding_PolicyReference`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyReference {
    #[serde(
        default,
        deserialize_with = "opt_int_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
}

/// A ticket tracking a finding elsewhere (`ExternalTicket`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalTicket {
    #[serde(
        default,
        alias = "externalSlug",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_slug: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_int_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<i64>,
    #[serde(
        default,
        alias = "linkedIssueIds",
        deserialize_with = "ids_int_or_string",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub linked_issue_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    #[serde(deserialize_with = "int_or_string")]
    pub id: i64,
    #[serde(rename = "ref", default, deserialize_with = "null_default")]
    pub git_ref: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen_scan_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syntactic_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_based_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Repository>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_of_code_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triaged_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcing_policy: Option<PolicyReference>,
    #[serde(
        default,
        alias = "externalTicket",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_ticket: Option<ExternalTicket>,
    #[serde(default, deserialize_with = "null_default")]
    pub review_comments: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<Assistant>,
    /// Not in the Semgrep API: the rule's own fix for this match, kept from
    /// the scanner's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_fix: Option<String>,
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
        let assistant = self.assistant.map(|a| a.into_domain(now));
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
            confidence,
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
            rule_fix: self.rule_fix.and_then(non_empty),
            platform: domain::PlatformRecord {
                first_seen_scan_id: self.first_seen_scan_id,
                state_updated_at: self.state_updated_at.as_deref().and_then(timestamp::parse),
                sourcing_policy: self.sourcing_policy.map(|p| domain::PolicyReference {
                    id: p.id,
                    name: p.name,
                    slug: p.slug,
                }),
                external_ticket: self.external_ticket.map(|t| domain::ExternalTicket {
                    external_slug: t.external_slug,
                    id: t.id,
                    linked_issue_ids: t.linked_issue_ids,
                    url: t.url,
                }),
            },
            code: None,
            activity: Vec::new(),
        }
    }

    pub fn from_domain(f: &domain::Finding) -> Finding {
        Finding {
            rule: Some(Rule::from_domain(&f.rule)),
            ..Finding::from_domain_without_rule(f)
        }
    }

    /// `from_domain` without the rule, which the store keeps once for all
    /// its findings.
    pub fn from_domain_without_rule(f: &domain::Finding) -> Finding {
        let assistant = f.assistant.as_ref().map(Assistant::from_domain);
        Finding {
            id: f.id,
            git_ref: f.git_ref.clone(),
            first_seen_scan_id: f.platform.first_seen_scan_id,
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
            confidence: f.confidence.map(|c| c.as_str().into()),
            categories: f.rule.category.iter().cloned().collect(),
            created_at: Some(timestamp::format(f.created_at)),
            relevant_since: Some(timestamp::format(f.relevant_since)),
            state_updated_at: f.platform.state_updated_at.map(timestamp::format),
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
            sourcing_policy: f
                .platform
                .sourcing_policy
                .as_ref()
                .map(|p| PolicyReference {
                    id: p.id,
                    name: p.name.clone(),
                    slug: p.slug.clone(),
                }),
            external_ticket: f.platform.external_ticket.as_ref().map(|t| ExternalTicket {
                external_slug: t.external_slug.clone(),
                id: t.id,
                linked_issue_ids: t.linked_issue_ids.clone(),
                url: t.url.clone(),
            }),
            review_comments: Vec::new(),
            rule: None,
            assistant,
            rule_fix: f.rule_fix.clone(),
        }
    }
}

// Deployments and projects ---------------------------------------------------

/// `GET /api/v1/deployments`: the deployment the token reaches (one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListDeploymentsResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub deployments: Vec<Deployment>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// Numeric; the routes that take a deployment id (v2 memories) use it.
    #[serde(default, deserialize_with = "id_or_zero")]
    pub id: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// What the findings, projects and triage routes take.
    #[serde(default, deserialize_with = "null_default")]
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<EndpointReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointReference {
    #[serde(default, deserialize_with = "null_default")]
    pub url: String,
}

/// `GET /api/v1/deployments/{slug}/projects`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListProjectsResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub projects: Vec<Project>,
}

/// The spec's `ListProject`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Project {
    #[serde(default, deserialize_with = "id_or_zero")]
    pub id: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Declared as a string holding an array; read either, write an array.
    #[serde(default, deserialize_with = "string_or_list")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_scan_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_branch: Option<String>,
}

// Bulk triage ----------------------------------------------------------------

/// `POST /api/v1/deployments/{slug}/triage`. Read tolerantly (ids as numbers
/// or strings, any value kept as text for [`BulkTriageRequest::validate`] to
/// judge); written in the spec's shape, absent fields left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BulkTriageRequest {
    /// `sast`, `sca` or `secrets`; required.
    #[serde(default, deserialize_with = "null_default")]
    pub issue_type: String,
    #[serde(
        default,
        deserialize_with = "ids_int_or_string",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub issue_ids: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_triage_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_triage_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_note: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_int_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<i64>,
    /// Not in the Semgrep API, sent to `sift serve` only: per finding, the
    /// triage state the reviewer saw when deciding. A finding someone else
    /// decided since is not triaged; the answer lists it in
    /// `sift_conflicts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sift_preconditions: Vec<Precondition>,
    /// The listing filters (`status`, `repos`, `ref`, `rules`, …) that
    /// select findings when there are no `issue_ids`.
    #[serde(flatten)]
    pub filters: serde_json::Map<String, Value>,
}

/// Most findings one bulk triage call selects (the spec's `limit`).
pub const MAX_TRIAGE_LIMIT: i64 = 3_000;

/// Which findings a valid bulk triage call applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum TriageSelection {
    Ids(Vec<i64>),
    /// Findings matching the filters, at most `limit` of them.
    Filter {
        query: Box<FindingsQuery>,
        limit: usize,
    },
}

/// A bulk triage call that passed [`BulkTriageRequest::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTriage {
    pub issue_type: String,
    pub selection: TriageSelection,
    pub change: TriageChange,
    /// Findings to leave alone unless their triage state is still this.
    pub preconditions: Vec<(i64, TriageState)>,
}

impl BulkTriageRequest {
    /// The call sift sends for one change to many findings.
    pub fn for_change(issue_type: &str, issue_ids: &[i64], change: &TriageChange) -> Self {
        BulkTriageRequest {
            issue_type: issue_type.to_string(),
            issue_ids: issue_ids.to_vec(),
            new_triage_state: change.state.map(|s| s.as_str().to_string()),
            new_triage_reason: change
                .reason
                .filter(|_| change.state == Some(TriageState::Ignored))
                .map(|r| r.as_str().to_string()),
            new_note: change.note.clone(),
            limit: None,
            sift_preconditions: Vec::new(),
            filters: serde_json::Map::new(),
        }
    }

    /// The same call, applied only to findings still as the reviewer saw
    /// them (`sift serve` only).
    pub fn with_preconditions(mut self, seen: &[(i64, TriageState)]) -> Self {
        self.sift_preconditions = seen
            .iter()
            .map(|&(issue_id, state)| Precondition {
                issue_id,
                triage_state: state.as_str().to_string(),
            })
            .collect();
        self
    }

    /// Checks the call as the API describes it (its `BulkTriageRequest`
    /// schema and documented rules, ARCHITECTURE §6); the error is a
    /// sentence for `{"error": ...}`.
    pub fn validate(&self) -> Result<ValidTriage, String> {
        let issue_type = self.issue_type.trim().to_ascii_lowercase();
        match issue_type.as_str() {
            "" => return Err("issue_type is required: sast, sca or secrets".into()),
            "sast" | "sca" | "secrets" => {}
            other => {
                return Err(format!(
                    "issue_type '{other}' is not one of sast, sca, secrets"
                ));
            }
        }
        let state = match self.new_triage_state.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_new_triage_state(text)?),
        };
        let note = self.new_note.clone().filter(|n| !n.trim().is_empty());
        if state.is_none() && note.is_none() {
            return Err("one of new_triage_state or new_note is required".into());
        }
        let reason = match self.new_triage_reason.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(TriageReason::parse(&text.to_ascii_lowercase()).ok_or_else(
                || {
                    format!(
                        "new_triage_reason '{text}' is not one of acceptable_risk, \
                         false_positive, no_time, no_triage_reason, duplicate"
                    )
                },
            )?),
        };
        if reason.is_some() && state != Some(TriageState::Ignored) {
            return Err("new_triage_reason is allowed only with new_triage_state ignored".into());
        }
        if let Some(n) = &note {
            let chars = n.chars().count();
            if chars > domain::MAX_NOTE_CHARS {
                return Err(format!(
                    "new_note is {chars} characters long; at most {} are allowed",
                    domain::MAX_NOTE_CHARS
                ));
            }
        }
        let limit = self.limit.unwrap_or(MAX_TRIAGE_LIMIT);
        if !(1..=MAX_TRIAGE_LIMIT).contains(&limit) {
            return Err(format!(
                "limit must be between 1 and {MAX_TRIAGE_LIMIT}, not {limit}"
            ));
        }
        let selection = if !self.issue_ids.is_empty() {
            if self.issue_ids.len() as i64 > limit {
                return Err(format!(
                    "{} issue_ids given; at most {limit} per call",
                    self.issue_ids.len()
                ));
            }
            TriageSelection::Ids(self.issue_ids.clone())
        } else {
            let query = FindingsQuery::from_json_filters(&self.filters)?;
            if !query.has_filters() {
                return Err("give issue_ids, or filters that select the findings".into());
            }
            TriageSelection::Filter {
                query: Box::new(query),
                limit: limit as usize,
            }
        };
        let mut preconditions = Vec::with_capacity(self.sift_preconditions.len());
        for p in &self.sift_preconditions {
            let seen = TriageState::parse(p.triage_state.trim()).ok_or_else(|| {
                format!(
                    "sift_preconditions: '{}' is not a triage state",
                    p.triage_state
                )
            })?;
            preconditions.push((p.issue_id, seen));
        }
        Ok(ValidTriage {
            issue_type,
            selection,
            change: TriageChange {
                state,
                reason,
                note,
            },
            preconditions,
        })
    }
}

/// The states a reviewer may set: `open` is taken for `reopened`; `fixed`
/// and `provisionally_ignored` are Semgrep's to set.
fn parse_new_triage_state(text: &str) -> Result<TriageState, String> {
    match text.to_ascii_lowercase().as_str() {
        "ignored" => Ok(TriageState::Ignored),
        "reviewing" => Ok(TriageState::Reviewing),
        "fixing" => Ok(TriageState::Fixing),
        "reopened" | "open" => Ok(TriageState::Reopened),
        s @ ("fixed" | "provisionally_ignored") => Err(format!(
            "new_triage_state '{s}' is set by Semgrep and cannot be set by triage"
        )),
        _ => Err(format!(
            "new_triage_state '{text}' is not one of ignored, reviewing, fixing, reopened"
        )),
    }
}

/// One of `sift_preconditions`: leave the finding alone unless its triage
/// state is still `triage_state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    #[serde(deserialize_with = "int_or_string")]
    pub issue_id: i64,
    pub triage_state: String,
}

/// One of `sift_conflicts`: a finding not triaged because someone else
/// decided it since the reviewer saw it, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    #[serde(deserialize_with = "int_or_string")]
    pub issue_id: i64,
    pub triage_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage_reason: Option<String>,
    /// Who decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Conflict {
    pub fn from_domain(c: &TriageConflict) -> Conflict {
        Conflict {
            issue_id: c.finding_id,
            triage_state: c.state.as_str().to_string(),
            triage_reason: c.reason.map(|r| r.as_str().to_string()),
            by: c.by.clone(),
            at: c.at.map(timestamp::format),
        }
    }

    /// None when the state is not one sift knows.
    pub fn into_domain(self) -> Option<TriageConflict> {
        Some(TriageConflict {
            finding_id: self.issue_id,
            state: TriageState::parse(&self.triage_state)?,
            reason: self.triage_reason.as_deref().and_then(TriageReason::parse),
            by: self.by,
            at: self.at.as_deref().and_then(timestamp::parse),
        })
    }
}

/// `{"num_triaged": n, "triaged_issues": [...]}`, and from `sift serve`
/// the findings left alone because a colleague decided them since.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkTriageResponse {
    // Both required (the API's spec says so): an answer without them does
    // not say the decisions were applied, and they stay in the outbox.
    #[serde(deserialize_with = "opt_int_or_string")]
    pub num_triaged: Option<i64>,
    #[serde(deserialize_with = "ids_int_or_string")]
    pub triaged_issues: Vec<i64>,
    /// Not in the Semgrep API (`sift serve` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sift_conflicts: Vec<Conflict>,
}

impl BulkTriageResponse {
    pub fn new(triaged: Vec<i64>) -> Self {
        BulkTriageResponse {
            num_triaged: Some(triaged.len() as i64),
            triaged_issues: triaged,
            sift_conflicts: Vec::new(),
        }
    }
}

/// The error body sift serve writes, `{"error": "..."}` (plus a `code`
/// where the API documents one). Semgrep's own error bodies are not
/// documented; a client reads this shape, then `message` or `detail`,
/// then the text as it came.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default, alias = "message", alias = "detail")]
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

// Listing findings -------------------------------------------------------------

/// The smallest and largest `page_size` the API accepts, and its default.
pub const MIN_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 3_000;
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The query of `GET …/findings` (and the filters of bulk triage). Array
/// parameters are read both as repeated keys and comma-joined; written as
/// repeated keys, as the spec's OpenAPI defaults say.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingsQuery {
    /// `sast` (the default), `sca`, `ai_sast`.
    pub issue_type: String,
    pub page: u64,
    pub page_size: u32,
    pub dedup: bool,
    pub git_ref: Option<String>,
    pub repos: Vec<String>,
    pub repository_ids: Vec<i64>,
    /// The spec takes one status; more are accepted.
    pub statuses: Vec<Status>,
    pub severities: Vec<Severity>,
    pub triage_reasons: Vec<TriageReason>,
    pub rules: Vec<String>,
    pub categories: Vec<String>,
    pub confidence: Vec<Confidence>,
    pub autotriage_verdicts: Vec<Verdict>,
    pub component_tags: Vec<String>,
    /// Epoch seconds: findings relevant since then.
    pub since: Option<f64>,
}

impl Default for FindingsQuery {
    fn default() -> Self {
        FindingsQuery {
            issue_type: "sast".into(),
            page: 0,
            page_size: DEFAULT_PAGE_SIZE,
            dedup: false,
            git_ref: None,
            repos: Vec::new(),
            repository_ids: Vec::new(),
            statuses: Vec::new(),
            severities: Vec::new(),
            triage_reasons: Vec::new(),
            rules: Vec::new(),
            categories: Vec::new(),
            confidence: Vec::new(),
            autotriage_verdicts: Vec::new(),
            component_tags: Vec::new(),
            since: None,
        }
    }
}

fn parse_list<T>(
    key: &str,
    values: &[String],
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Vec<T>, String> {
    values
        .iter()
        .map(|v| parse(v).ok_or_else(|| format!("{key} '{v}' is not one of {expected}")))
        .collect()
}

impl FindingsQuery {
    /// From query pairs as they came (`repos=a&repos=b`, `repos=a,b`).
    /// Unknown parameters are ignored; known ones with bad values are
    /// refused with a sentence for `{"error": ...}`.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, String>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut by_key: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in pairs {
            let key = k.as_ref().trim().trim_end_matches("[]").to_string();
            let split = v
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.extend(split),
                None => by_key.push((key, split.collect())),
            }
        }
        let mut q = FindingsQuery::default();
        for (key, values) in &by_key {
            let single = || -> Result<Option<&String>, String> {
                match values.as_slice() {
                    [] => Ok(None),
                    [one] => Ok(Some(one)),
                    _ => Err(format!("{key} takes one value")),
                }
            };
            let lower: Vec<String> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
            match key.as_str() {
                "issue_type" => {
                    if let Some(t) = single()? {
                        let t = t.to_ascii_lowercase();
                        if !matches!(t.as_str(), "sast" | "sca" | "ai_sast") {
                            return Err(format!(
                                "issue_type '{t}' is not one of sast, sca, ai_sast"
                            ));
                        }
                        q.issue_type = t;
                    }
                }
                "page" => {
                    if let Some(p) = single()? {
                        q.page = p.parse().map_err(|_| {
                            format!("page must be a whole number from 0, not '{p}'")
                        })?;
                    }
                }
                "page_size" => {
                    if let Some(p) = single()? {
                        let n: u32 = p
                            .parse()
                            .map_err(|_| format!("page_size must be a whole number, not '{p}'"))?;
                        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&n) {
                            return Err(format!(
                                "page_size must be between {MIN_PAGE_SIZE} and {MAX_PAGE_SIZE}, not {n}"
                            ));
                        }
                        q.page_size = n;
                    }
                }
                "dedup" => {
                    if let Some(d) = single()? {
                        q.dedup = match d.to_ascii_lowercase().as_str() {
                            "true" | "1" | "yes" => true,
                            "false" | "0" | "no" => false,
                            _ => return Err(format!("dedup must be true or false, not '{d}'")),
                        };
                    }
                }
                "ref" => q.git_ref = single()?.cloned(),
                "since" => {
                    if let Some(s) = single()? {
                        let t: f64 = s
                            .parse()
                            .ok()
                            .filter(|t: &f64| t.is_finite())
                            .ok_or_else(|| format!("since must be epoch seconds, not '{s}'"))?;
                        q.since = Some(t);
                    }
                }
                "repos" => q.repos.extend(values.iter().cloned()),
                "repository_ids" => {
                    for v in values {
                        q.repository_ids.push(
                            v.parse()
                                .map_err(|_| format!("repository_ids '{v}' is not a number"))?,
                        );
                    }
                }
                "status" => q.statuses.extend(parse_list(
                    key,
                    &lower,
                    Status::parse,
                    "open, fixed, ignored, reviewing, fixing, provisionally_ignored",
                )?),
                "severities" => q.severities.extend(parse_list(
                    key,
                    &lower,
                    Severity::parse,
                    "low, medium, high, critical",
                )?),
                "triage_reasons" => q.triage_reasons.extend(parse_list(
                    key,
                    &lower,
                    TriageReason::parse,
                    "acceptable_risk, false_positive, no_time, no_triage_reason, duplicate",
                )?),
                "confidence" => q.confidence.extend(parse_list(
                    key,
                    &lower,
                    Confidence::parse,
                    "low, medium, high",
                )?),
                "autotriage_verdict" => q.autotriage_verdicts.extend(parse_list(
                    key,
                    &lower,
                    Verdict::parse,
                    "true_positive, false_positive",
                )?),
                "rules" => q.rules.extend(values.iter().cloned()),
                "categories" => q.categories.extend(values.iter().cloned()),
                "component_tags" => q.component_tags.extend(values.iter().cloned()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// From the filters of a bulk triage body: strings, numbers, booleans
    /// or arrays of them.
    pub fn from_json_filters(filters: &serde_json::Map<String, Value>) -> Result<Self, String> {
        let mut pairs = Vec::new();
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        for (key, value) in filters {
            // Paging does not apply to triage.
            if matches!(key.as_str(), "page" | "page_size" | "deployment_slug") {
                continue;
            }
            match value {
                Value::Null => {}
                Value::Array(items) => {
                    pairs.extend(items.iter().filter_map(scalar).map(|s| (key.clone(), s)))
                }
                other => {
                    if let Some(s) = scalar(other) {
                        pairs.push((key.clone(), s));
                    }
                }
            }
        }
        FindingsQuery::from_pairs(pairs)
    }

    /// True when something narrows the selection (paging and dedup do not).
    pub fn has_filters(&self) -> bool {
        self.git_ref.is_some()
            || self.since.is_some()
            || !(self.repos.is_empty()
                && self.repository_ids.is_empty()
                && self.statuses.is_empty()
                && self.severities.is_empty()
                && self.triage_reasons.is_empty()
                && self.rules.is_empty()
                && self.categories.is_empty()
                && self.confidence.is_empty()
                && self.autotriage_verdicts.is_empty()
                && self.component_tags.is_empty())
    }

    /// As query pairs, arrays as repeated keys.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("issue_type", self.issue_type.clone()),
            ("page", self.page.to_string()),
            ("page_size", self.page_size.to_string()),
        ];
        if self.dedup {
            out.push(("dedup", "true".into()));
        }
        if let Some(r) = &self.git_ref {
            out.push(("ref", r.clone()));
        }
        if let Some(s) = self.since {
            out.push(("since", s.to_string()));
        }
        let each = |out: &mut Vec<(&'static str, String)>, key, items: Vec<String>| {
            out.extend(items.into_iter().map(|v| (key, v)));
        };
        each(&mut out, "repos", self.repos.clone());
        each(
            &mut out,
            "repository_ids",
            self.repository_ids.iter().map(i64::to_string).collect(),
        );
        each(
            &mut out,
            "status",
            self.statuses.iter().map(|s| s.as_str().into()).collect(),
        );
        each(
            &mut out,
            "severities",
            self.severities.iter().map(|s| s.as_str().into()).collect(),
        );
        each(
            &mut out,
            "triage_reasons",
            self.triage_reasons
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
        );
        each(&mut out, "rules", self.rules.clone());
        each(&mut out, "categories", self.categories.clone());
        each(
            &mut out,
            "confidence",
            self.confidence.iter().map(|s| s.as_str().into()).collect(),
        );
        each(
            &mut out,
            "autotriage_verdict",
            self.autotriage_verdicts
                .iter()
                .map(|s| s.as_str().into())
                .collect(),
        );
        each(&mut out, "component_tags", self.component_tags.clone());
        out
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

    // From the spec's schemas, the API's documented examples and the
    // awkward cases real answers hold.

    #[test]
    fn reads_the_composed_sast_finding() {
        let json = include_str!("../../tests/fixtures/wire/sast_finding.json");
        let f: Finding = serde_json::from_str(json).unwrap();
        let d = f.into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.id, 73537200);
        assert_eq!(d.project, "acme/webapp");
        assert_eq!(
            d.rule.name,
            "python.lang.security.audit.formatted-sql-query.formatted-sql-query"
        );
        assert_eq!(d.severity, Severity::High);
        assert_eq!(d.location.line, 42);
        let a = d.assistant.unwrap();
        assert_eq!(a.verdict, Some(Verdict::TruePositive));
        assert_eq!(a.component.unwrap().risk, Some(ComponentRisk::High));
        assert!(a.guidance.unwrap().instructions.contains("placeholder"));
    }

    #[test]
    fn reads_the_composed_sca_finding() {
        let json = include_str!("../../tests/fixtures/wire/sca_finding.json");
        let d = serde_json::from_str::<Finding>(json)
            .unwrap()
            .into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.id, 73537136);
        assert!(d.assistant.is_none());
        assert_eq!(
            d.relevant_since,
            timestamp::parse("2024-07-11T20:46:25.268845Z").unwrap()
        );
    }

    #[test]
    fn reads_the_awkward_cases() {
        // A false positive whose unavailable parts are null, camelCase
        // external_ticket with a string id, the spec's space-separated
        // timestamps, enum values sift does not know, and review comments
        // with a numeric note id.
        let json = r#"{"id": 9, "ref": "refs/pull/12/merge", "state": "unresolved",
            "triage_state": "provisionally_ignored", "status": "provisionally_ignored",
            "severity": "extreme", "confidence": "certain", "categories": ["security"],
            "created_at": "2020-11-18 23:28:12.391807+00:00",
            "relevant_since": "2020-11-18T23:28:12.391Z", "state_updated_at": null,
            "triaged_at": null, "triage_comment": null, "triage_reason": "new_reason",
            "rule_name": "r", "rule_message": null, "location": null,
            "externalTicket": {"externalSlug": "OPS-1", "id": "77", "linkedIssueIds": ["9"]},
            "review_comments": [{"external_discussion_id": "d", "external_note_id": 42}],
            "assistant": {"autotriage": {"verdict": "false_positive", "reason": "constant"},
                          "autofix": null, "guidance": null, "component": null,
                          "rule_explanation": null}}"#;
        let f: Finding = serde_json::from_str(json).unwrap();
        let ticket = f.external_ticket.as_ref().unwrap();
        assert_eq!(ticket.external_slug.as_deref(), Some("OPS-1"));
        assert_eq!(
            (ticket.id, ticket.linked_issue_ids.clone()),
            (Some(77), vec![9])
        );
        let d = f.into_domain(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(d.severity, Severity::Medium, "unknown severity is neutral");
        assert_eq!(d.triage_state, TriageState::ProvisionallyIgnored);
        assert_eq!(d.triage_reason, None);
        assert_eq!(
            d.created_at,
            timestamp::parse("2020-11-18T23:28:12.391807Z").unwrap()
        );
        let a = d.assistant.unwrap();
        assert_eq!(a.verdict, Some(Verdict::FalsePositive));
        assert!(a.guidance.is_none() && a.component.is_none());
        // An assistant that is absent altogether, or null.
        for json in [r#"{"id": 1}"#, r#"{"id": 1, "assistant": null}"#] {
            let d = serde_json::from_str::<Finding>(json)
                .unwrap()
                .into_domain(OffsetDateTime::UNIX_EPOCH);
            assert!(d.assistant.is_none());
        }
    }

    #[test]
    fn deployments_read_tolerantly_and_write_the_spec_shape() {
        let json = r#"{"deployments": [{"id": 4821, "name": "Acme Corp", "slug": "acme-corp",
            "findings": {"url": "https://semgrep.dev/api/v1/deployments/acme-corp/findings"}}]}"#;
        let r: ListDeploymentsResponse = serde_json::from_str(json).unwrap();
        assert_eq!(r.deployments[0].id, 4821);
        assert_eq!(r.deployments[0].slug, "acme-corp");
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::from_str::<Value>(json).unwrap(),
            "written back exactly"
        );
        // "number" ids, string ids, no findings link, unknown fields.
        for json in [
            r#"{"deployments": [{"id": 120.0, "name": "n", "slug": "s"}]}"#,
            r#"{"deployments": [{"id": "120", "name": "n", "slug": "s", "extra": true}]}"#,
        ] {
            let r: ListDeploymentsResponse = serde_json::from_str(json).unwrap();
            assert_eq!(r.deployments[0].id, 120);
            assert!(r.deployments[0].findings.is_none());
        }
        let empty: ListDeploymentsResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.deployments.is_empty());
    }

    #[test]
    fn projects_take_tags_as_a_list_or_a_string() {
        let json = r#"{"projects": [
            {"id": 1234567, "name": "returntocorp/semgrep", "tags": ["tag"],
             "url": "https://github.com/returntocorp/semgrep",
             "created_at": "2020-11-18 23:28:12.391807+00:00",
             "latest_scan_at": "2023-01-13 20:51:51.449081+00:00",
             "default_branch": "refs/heads/main", "primary_branch": "refs/heads/custom-main"},
            {"id": "7", "name": "acme/api", "tags": "internal"},
            {"id": 8, "name": "acme/web", "tags": null}]}"#;
        let r: ListProjectsResponse = serde_json::from_str(json).unwrap();
        assert_eq!(r.projects[0].tags, vec!["tag"]);
        assert_eq!(
            r.projects[0].primary_branch.as_deref(),
            Some("refs/heads/custom-main")
        );
        assert_eq!(r.projects[1].id, 7);
        assert_eq!(r.projects[1].tags, vec!["internal"]);
        assert!(r.projects[2].tags.is_empty());
        let written = serde_json::to_value(&r.projects[2]).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"id": 8, "name": "acme/web", "tags": []})
        );
    }

    fn change(
        state: Option<TriageState>,
        reason: Option<TriageReason>,
        note: Option<&str>,
    ) -> TriageChange {
        TriageChange {
            state,
            reason,
            note: note.map(str::to_string),
        }
    }

    #[test]
    fn bulk_triage_is_written_in_the_spec_shape() {
        let ignore = change(
            Some(TriageState::Ignored),
            Some(TriageReason::FalsePositive),
            Some("Input is validated by schema middleware before reaching this sink."),
        );
        let body = BulkTriageRequest::for_change("sast", &[73537200, 73537201], &ignore);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({
                "issue_type": "sast",
                "issue_ids": [73537200, 73537201],
                "new_triage_state": "ignored",
                "new_triage_reason": "false_positive",
                "new_note": "Input is validated by schema middleware before reaching this sink."
            })
        );
        // A note alone; a reason never travels without "ignored".
        let note = BulkTriageRequest::for_change("sast", &[1], &change(None, None, Some("n")));
        assert_eq!(
            serde_json::to_value(&note).unwrap(),
            serde_json::json!({"issue_type": "sast", "issue_ids": [1], "new_note": "n"})
        );
        let odd = change(Some(TriageState::Fixing), Some(TriageReason::NoTime), None);
        let fix = BulkTriageRequest::for_change("sast", &[1], &odd);
        assert_eq!(
            serde_json::to_value(&fix).unwrap(),
            serde_json::json!({"issue_type": "sast", "issue_ids": [1], "new_triage_state": "fixing"})
        );
        // What is written validates, and means the same change.
        let valid = body.validate().unwrap();
        assert_eq!(valid.change, ignore);
        assert_eq!(
            valid.selection,
            TriageSelection::Ids(vec![73537200, 73537201])
        );
    }

    #[test]
    fn bulk_triage_reads_string_ids_and_the_open_alias() {
        let body: BulkTriageRequest = serde_json::from_str(
            r#"{"issue_type": "sast", "issue_ids": ["73537200", 73537201],
                "new_triage_state": "open", "deployment_slug": "acme"}"#,
        )
        .unwrap();
        let valid = body.validate().unwrap();
        assert_eq!(
            valid.selection,
            TriageSelection::Ids(vec![73537200, 73537201])
        );
        assert_eq!(valid.change.state, Some(TriageState::Reopened));
        assert!(serde_json::from_str::<BulkTriageRequest>(r#"{"issue_ids": ["x"]}"#).is_err());
    }

    #[test]
    fn bulk_triage_is_validated_as_the_spec_says() {
        let check = |json: &str| -> Result<ValidTriage, String> {
            serde_json::from_str::<BulkTriageRequest>(json)
                .map_err(|e| e.to_string())?
                .validate()
        };
        let refused = |json: &str, words: &str| {
            let e = check(json).expect_err(json);
            assert!(e.contains(words), "{json}: {e}");
        };
        refused(
            r#"{"issue_ids": [1], "new_triage_state": "ignored"}"#,
            "issue_type is required",
        );
        refused(
            r#"{"issue_type": "dast", "issue_ids": [1], "new_note": "n"}"#,
            "issue_type",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1]}"#,
            "new_triage_state or new_note",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "fixing",
                "new_triage_reason": "no_time"}"#,
            "only with new_triage_state ignored",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_note": "n",
                "new_triage_reason": "false_positive"}"#,
            "only with new_triage_state ignored",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "fixed"}"#,
            "set by Semgrep",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "provisionally_ignored"}"#,
            "set by Semgrep",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "closed"}"#,
            "not one of",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "ignored",
                "new_triage_reason": "bored"}"#,
            "not one of",
        );
        let long = "x".repeat(3_001);
        refused(
            &format!(r#"{{"issue_type": "sast", "issue_ids": [1], "new_note": "{long}"}}"#),
            "at most 3000",
        );
        let exact = "é".repeat(3_000);
        assert!(
            check(&format!(
                r#"{{"issue_type": "sast", "issue_ids": [1], "new_note": "{exact}"}}"#
            ))
            .is_ok()
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_note": "n", "limit": 0}"#,
            "limit",
        );
        refused(
            r#"{"issue_type": "sast", "issue_ids": [1], "new_note": "n", "limit": 3001}"#,
            "limit",
        );
        refused(
            r#"{"issue_type": "sast", "new_note": "n"}"#,
            "issue_ids, or filters",
        );
        refused(
            r#"{"issue_type": "sast", "new_note": "n", "severities": ["huge"]}"#,
            "severities",
        );
        // Filters select instead of ids.
        let by_filter = check(
            r#"{"issue_type": "sast", "new_triage_state": "reviewing", "repos": ["acme/web"],
                "severities": "high,critical", "since": "1717334400", "limit": 10}"#,
        )
        .unwrap();
        let TriageSelection::Filter { query, limit } = by_filter.selection else {
            panic!("a filter selection")
        };
        assert_eq!(limit, 10);
        assert_eq!(query.repos, vec!["acme/web"]);
        assert_eq!(query.severities, vec![Severity::High, Severity::Critical]);
        assert_eq!(query.since, Some(1_717_334_400.0));
    }

    #[test]
    fn bulk_triage_response_reads_and_writes() {
        let r: BulkTriageResponse = serde_json::from_str(
            r#"{"num_triaged": 3, "triaged_issues": [73537200, "73537201", 73540012]}"#,
        )
        .unwrap();
        assert_eq!(r.triaged_issues, vec![73537200, 73537201, 73540012]);
        // An answer that does not say what it triaged is not an answer.
        for partial in [
            r#"{}"#,
            r#"{"num_triaged": 1}"#,
            r#"{"triaged_issues": [1]}"#,
        ] {
            assert!(
                serde_json::from_str::<BulkTriageResponse>(partial).is_err(),
                "{partial}"
            );
        }
        assert_eq!(
            serde_json::to_value(BulkTriageResponse::new(vec![1, 2])).unwrap(),
            serde_json::json!({"num_triaged": 2, "triaged_issues": [1, 2]})
        );
    }

    #[test]
    fn findings_query_takes_repeated_and_comma_joined_arrays() {
        let repeated = FindingsQuery::from_pairs([
            ("issue_type", "sast"),
            ("severities", "high"),
            ("severities", "critical"),
            ("repos", "acme/web"),
            ("repos", "acme/api"),
            ("page", "2"),
            ("page_size", "500"),
            ("dedup", "true"),
            ("unknown", "ignored"),
        ])
        .unwrap();
        let joined = FindingsQuery::from_pairs([
            ("severities", "high,critical"),
            ("repos", "acme/web,acme/api"),
            ("page", "2"),
            ("page_size", "500"),
            ("dedup", "true"),
        ])
        .unwrap();
        assert_eq!(repeated, joined);
        assert_eq!(
            repeated.severities,
            vec![Severity::High, Severity::Critical]
        );
        // Written as repeated keys, and read back the same.
        let back = FindingsQuery::from_pairs(repeated.to_pairs()).unwrap();
        assert_eq!(back, repeated);
    }

    #[test]
    fn findings_query_refuses_bad_values() {
        for (k, v, words) in [
            ("page_size", "99", "between 100 and 3000"),
            ("page_size", "3001", "between 100 and 3000"),
            ("page_size", "lots", "whole number"),
            ("page", "-1", "whole number"),
            ("issue_type", "dast", "issue_type"),
            ("status", "closed", "status 'closed'"),
            ("severities", "high,extreme", "severities 'extreme'"),
            ("dedup", "maybe", "dedup"),
            ("since", "yesterday", "epoch seconds"),
            ("triage_reasons", "bored", "triage_reasons"),
        ] {
            let e = FindingsQuery::from_pairs([(k, v)]).expect_err(k);
            assert!(e.contains(words), "{k}={v}: {e}");
        }
        let q =
            FindingsQuery::from_pairs([("page_size", "3000"), ("since", "1636942398.45")]).unwrap();
        assert_eq!(q.page_size, 3000);
        assert_eq!(q.since, Some(1636942398.45));
    }
}
