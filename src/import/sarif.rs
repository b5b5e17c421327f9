//! SARIF 2.1.0 as `semgrep scan --sarif` writes it (ARCHITECTURE §5).
//!
//! SARIF keeps less than the JSON output: rule metadata survives only as
//! tags, and there are no byte offsets.

use super::{
    Context, ImportError, Span, context_from_text, identity_key, lenient_u32, null_default, real,
};
use crate::domain::{
    Confidence, Finding, Identity, Location, Rule, ScanError, ScanResults, ScanState, Severity,
    TriageState,
};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
struct Log {
    runs: Vec<Run>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    #[serde(default, deserialize_with = "null_default")]
    tool: Tool,
    #[serde(default, deserialize_with = "null_default")]
    results: Vec<SarifResult>,
    #[serde(default, deserialize_with = "null_default")]
    invocations: Vec<Invocation>,
}

#[derive(Deserialize, Default)]
struct Tool {
    #[serde(default, deserialize_with = "null_default")]
    driver: Driver,
}

#[derive(Deserialize, Default)]
struct Driver {
    #[serde(default, deserialize_with = "null_default")]
    rules: Vec<RuleDescriptor>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RuleDescriptor {
    #[serde(default, deserialize_with = "null_default")]
    id: String,
    #[serde(default)]
    full_description: Option<Message>,
    #[serde(default)]
    help: Option<Help>,
    #[serde(default)]
    help_uri: Option<String>,
    #[serde(default)]
    default_configuration: Option<Configuration>,
    #[serde(default)]
    properties: Option<RuleProperties>,
}

#[derive(Deserialize, Default)]
struct Message {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct Help {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    markdown: Option<String>,
}

#[derive(Deserialize, Default)]
struct Configuration {
    #[serde(default)]
    level: Option<String>,
}

#[derive(Deserialize, Default)]
struct RuleProperties {
    #[serde(default, deserialize_with = "null_default")]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule_index: Option<i64>,
    #[serde(default)]
    rule: Option<RuleReference>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    message: Message,
    #[serde(default, deserialize_with = "null_default")]
    locations: Vec<SarifLocation>,
    #[serde(default, deserialize_with = "null_default")]
    fingerprints: HashMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    suppressions: Vec<Suppression>,
    /// The rule's own fix, as replacements of the matched region.
    #[serde(default, deserialize_with = "null_default")]
    fixes: Vec<Fix>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Fix {
    #[serde(default, deserialize_with = "null_default")]
    artifact_changes: Vec<ArtifactChange>,
}

#[derive(Deserialize, Default)]
struct ArtifactChange {
    #[serde(default, deserialize_with = "null_default")]
    replacements: Vec<Replacement>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Replacement {
    #[serde(default)]
    inserted_content: Option<Message>,
}

#[derive(Deserialize)]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    #[serde(default)]
    physical_location: Option<PhysicalLocation>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    #[serde(default)]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize, Default)]
struct ArtifactLocation {
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Region {
    #[serde(default, deserialize_with = "lenient_u32")]
    start_line: u32,
    #[serde(default, deserialize_with = "lenient_u32")]
    start_column: u32,
    #[serde(default, deserialize_with = "lenient_u32")]
    end_line: u32,
    #[serde(default, deserialize_with = "lenient_u32")]
    end_column: u32,
    #[serde(default)]
    snippet: Option<Message>,
}

#[derive(Deserialize)]
struct Suppression {
    /// `accepted` when absent; a `rejected` suppression does not apply.
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    #[serde(default, deserialize_with = "null_default")]
    tool_execution_notifications: Vec<Notification>,
    #[serde(default, deserialize_with = "null_default")]
    tool_configuration_notifications: Vec<Notification>,
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    descriptor: Option<RuleReference>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    message: Message,
    #[serde(default, deserialize_with = "null_default")]
    locations: Vec<SarifLocation>,
}

/// What a run's rules table says about one rule.
struct RuleInfo {
    rule: Rule,
    severity: Option<Severity>,
}

pub(super) fn load(text: &str, ctx: &mut Context) -> Result<ScanResults, ImportError> {
    let log: Log = ctx.parse(text)?;
    let mut findings = Vec::new();
    let mut identities = Vec::new();
    let mut errors = Vec::new();
    let mut derived: Vec<(usize, (String, u32, u32))> = Vec::new();
    for run in log.runs {
        let table: Vec<RuleInfo> = run.tool.driver.rules.into_iter().map(rule_info).collect();
        let by_id: HashMap<&str, &RuleInfo> =
            table.iter().map(|r| (r.rule.name.as_str(), r)).collect();
        for r in run.results {
            let index = r.rule_index.or(r.rule.as_ref().and_then(|x| x.index));
            let rule_id = r
                .rule_id
                .clone()
                .or_else(|| r.rule.as_ref().and_then(|x| x.id.clone()))
                .filter(|id| !id.is_empty());
            let info = match &rule_id {
                Some(id) => by_id.get(id.as_str()).copied(),
                None => None,
            }
            .or_else(|| {
                index
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| table.get(i))
            });
            let rule_id = rule_id
                .or_else(|| info.map(|i| i.rule.name.clone()))
                .unwrap_or_else(|| "unknown-rule".into());
            let message = r.message.text.clone().unwrap_or_default();
            let physical = r
                .locations
                .into_iter()
                .find_map(|l| l.physical_location)
                .unwrap_or_default();
            let path = physical
                .artifact_location
                .and_then(|a| a.uri)
                .map(|u| uri_to_path(&u))
                .unwrap_or_default();
            let region = physical.region.unwrap_or_default();
            let span = Span {
                line: region.start_line,
                col: region.start_column.max(1),
                offset: None,
                end_line: region.end_line.max(region.start_line),
                end_col: region.end_column,
                end_offset: None,
            };
            let snippet = region.snippet.and_then(|s| s.text);
            let code = ctx
                .code_from_tree(&path, span.line, span.end_line)
                .or_else(|| real(snippet.as_deref()).and_then(|s| context_from_text(s, span.line)));
            let fingerprint = real(r.fingerprints.get("matchBasedId/v1").map(String::as_str));
            identities.push(Identity {
                // semgrep's snippet is the matched lines, even logged out.
                evidence: ctx.evidence(&path, &span, snippet.as_deref()),
                fingerprinted: fingerprint.is_some(),
            });
            let rule_fix = r
                .fixes
                .iter()
                .flat_map(|f| &f.artifact_changes)
                .flat_map(|c| &c.replacements)
                .find_map(|r| r.inserted_content.as_ref()?.text.clone())
                .filter(|t| !t.trim().is_empty());
            let match_based_id = match fingerprint {
                Some(fp) => fp.to_string(),
                None => {
                    let matched = ctx.matched_text(&path, &span);
                    let key = identity_key(&rule_id, &path, matched.as_deref(), &message);
                    derived.push((findings.len(), (key, span.line, span.col)));
                    String::new()
                }
            };
            let mut rule = info.map(|i| i.rule.clone()).unwrap_or_default();
            rule.name = rule_id;
            if rule.message.is_empty() {
                rule.message = message.clone();
            }
            let severity = r
                .level
                .as_deref()
                .and_then(level_severity)
                .or(info.and_then(|i| i.severity))
                .unwrap_or(Severity::Medium);
            let muted = r.suppressions.iter().any(|s| {
                s.status
                    .as_deref()
                    .is_none_or(|st| st.eq_ignore_ascii_case("accepted"))
            });
            findings.push(Finding {
                id: 0,
                project: ctx.project.clone(),
                repository_url: None,
                git_ref: ctx.git_ref.clone(),
                match_based_id,
                syntactic_id: None,
                message,
                severity,
                confidence: rule.confidence,
                rule,
                location: Location {
                    path,
                    line: span.line,
                    column: span.col,
                    end_line: span.end_line,
                    end_column: span.end_col,
                },
                line_of_code_url: None,
                state: if muted {
                    ScanState::Muted
                } else {
                    ScanState::Unresolved
                },
                triage_state: TriageState::Untriaged,
                triage_reason: None,
                triage_comment: None,
                triaged_at: None,
                created_at: ctx.now,
                relevant_since: ctx.now,
                assistant: None,
                rule_fix,
                platform: Default::default(),
                code,
                activity: Vec::new(),
            });
        }
        for inv in run.invocations {
            let notes = inv
                .tool_execution_notifications
                .into_iter()
                .chain(inv.tool_configuration_notifications);
            errors.extend(notes.map(scan_error));
        }
    }
    Ok(ctx.scan_results(findings, identities, &derived, errors))
}

/// SARIF levels; `none` is informational.
fn level_severity(level: &str) -> Option<Severity> {
    match level.to_ascii_lowercase().as_str() {
        "none" => Some(Severity::Low),
        other => Severity::parse_loose(other),
    }
}

fn rule_info(d: RuleDescriptor) -> RuleInfo {
    let mut rule = Rule {
        name: d.id,
        message: d
            .full_description
            .and_then(|m| m.text)
            .or_else(|| d.help.as_ref().and_then(|h| h.text.clone()))
            .unwrap_or_default(),
        ..Rule::default()
    };
    let tags = d.properties.map(|p| p.tags).unwrap_or_default();
    for tag in tags {
        let t = tag.trim();
        if let Some(owasp) = t.strip_prefix("OWASP-") {
            rule.owasp_names.push(owasp.to_string());
        } else if t.starts_with("CWE-") {
            rule.cwe_names.push(t.to_string());
        } else if let Some(conf) = t.strip_suffix(" CONFIDENCE") {
            rule.confidence = Confidence::parse_loose(conf.trim());
        } else if t == "security" {
            // Semgrep adds this tag to rules with a CWE, i.e. security rules.
            rule.category = Some("security".into());
        }
    }
    if let Some(uri) = d.help_uri.filter(|u| !u.trim().is_empty()) {
        rule.references.push(uri);
    }
    if let Some(md) = d.help.and_then(|h| h.markdown) {
        for url in markdown_references(&md) {
            if !rule.references.contains(&url) {
                rule.references.push(url);
            }
        }
    }
    RuleInfo {
        rule,
        severity: d
            .default_configuration
            .and_then(|c| c.level)
            .as_deref()
            .and_then(level_severity),
    }
}

/// The links semgrep lists under "References:" in a rule's help markdown:
/// ` - [https://…](https://…)`.
fn markdown_references(md: &str) -> Vec<String> {
    let Some((_, refs)) = md.split_once("References:") else {
        return Vec::new();
    };
    refs.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("- [")?;
            let (_, rest) = l.split_once("](")?;
            let url = rest.strip_suffix(')')?;
            (!url.is_empty()).then(|| url.to_string())
        })
        .collect()
}

/// Semgrep writes the scanned path as is; other tools write URIs.
fn uri_to_path(uri: &str) -> String {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    if !path.contains('%') {
        return path.to_string();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scan_error(n: Notification) -> ScanError {
    let kind = n
        .descriptor
        .and_then(|d| d.id)
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let path = n
        .locations
        .into_iter()
        .find_map(|l| l.physical_location?.artifact_location?.uri)
        .map(|u| uri_to_path(&u));
    ScanError {
        level: n.level.unwrap_or_else(|| "error".into()),
        message: n
            .message
            .text
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| kind.clone()),
        kind,
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_decoded_without_panicking() {
        assert_eq!(uri_to_path("src/a%20b.py"), "src/a b.py");
        assert_eq!(uri_to_path("file:///x/y.py"), "/x/y.py");
        assert_eq!(uri_to_path("100%"), "100%");
        assert_eq!(uri_to_path("%4"), "%4");
        assert_eq!(uri_to_path("%zz%41"), "%zzA");
    }

    #[test]
    fn references_come_from_help_markdown() {
        let md = "Msg\n\n<b>References:</b>\n - [https://a.example](https://a.example)\n - [b](https://b.example)\n";
        assert_eq!(
            markdown_references(md),
            ["https://a.example", "https://b.example"]
        );
        assert!(markdown_references("no refs").is_empty());
    }
}
