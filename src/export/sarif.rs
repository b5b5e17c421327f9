//! The SARIF 2.1.0 export: one run of the tool "sift", a rule for each rule
//! the findings name, and a result for each finding, its decisions as
//! `suppressions` so they travel to any SARIF viewer; what only sift knows
//! (triage state, verdict, history) is in the result's `properties.sift`.
//!
//! The log is written as the findings are read: the rules first (from the
//! index, one finding loaded for each), then the results one a line.

use super::{Record, Records, Review, json::write_value};
use crate::domain::{FindingIndex, Severity, Status, TriageState};
use crate::store::Store;
use anyhow::Result;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// The schema the log declares (and the tests validate it against).
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The key of sift's identity in `fingerprints` and `partialFingerprints`:
/// Semgrep's own name for it, which sift's SARIF import reads back.
const FINGERPRINT: &str = "matchBasedId/v1";

/// The rules of the exported findings, in order of first appearance.
pub struct Rules {
    list: Vec<ReportingDescriptor>,
    positions: HashMap<String, usize>,
}

impl Rules {
    /// The rules the findings at `positions` name, each described from the
    /// first of its findings.
    pub fn of(store: &Store, index: &FindingIndex, positions: &[u32]) -> Result<Rules> {
        let mut first: HashMap<u32, (i64, Severity)> = HashMap::new();
        let mut order = Vec::new();
        for row in positions.iter().filter_map(|&p| index.rows.get(p as usize)) {
            first.entry(row.rule).or_insert_with(|| {
                order.push(row.rule);
                (row.id, row.severity)
            });
        }
        let ids: Vec<i64> = order.iter().map(|r| first[r].0).collect();
        let mut rules = Rules {
            list: Vec::with_capacity(order.len()),
            positions: HashMap::with_capacity(order.len()),
        };
        for page in ids.chunks(super::PAGE) {
            for f in store.load_findings(page)? {
                if rules.positions.contains_key(&f.rule.name) {
                    continue;
                }
                let description = [&f.rule.message, &f.message]
                    .into_iter()
                    .find(|m| !m.trim().is_empty())
                    .cloned()
                    .unwrap_or_else(|| f.rule.name.clone());
                let mut tags: Vec<String> = f.rule.category.iter().cloned().collect();
                tags.extend(f.rule.cwe_names.iter().cloned());
                tags.extend(f.rule.owasp_names.iter().cloned());
                rules
                    .positions
                    .insert(f.rule.name.clone(), rules.list.len());
                rules.list.push(ReportingDescriptor {
                    name: crate::domain::rule_short_name(&f.rule.name).to_string(),
                    id: f.rule.name.clone(),
                    short_description: Text {
                        text: first_sentence(&description).to_string(),
                    },
                    full_description: Text { text: description },
                    default_configuration: Configuration {
                        level: level(f.severity),
                    },
                    help_uri: f.rule.references.first().cloned(),
                    properties: RuleProperties {
                        tags,
                        precision: f.rule.confidence.map(|c| c.as_str()),
                    },
                });
            }
        }
        Ok(rules)
    }
}

pub fn write(
    rules: &Rules,
    records: &mut Records<'_>,
    out: &mut (impl Write + ?Sized),
) -> Result<()> {
    out.write_all(b"{\"$schema\": ")?;
    write_value(out, &SCHEMA)?;
    out.write_all(b", \"version\": \"2.1.0\", \"runs\": [{\n\"tool\": ")?;
    write_value(
        out,
        &Tool {
            driver: Driver {
                name: "sift",
                version: env!("CARGO_PKG_VERSION"),
                semantic_version: env!("CARGO_PKG_VERSION"),
                rules: &rules.list,
            },
        },
    )?;
    out.write_all(b",\n\"results\": [")?;
    records.write_each(out, (b"\n  ", b",\n  "), |record, text| {
        write_value(text, &SarifResult::of(record, rules))
    })?;
    out.write_all(b"\n]}]}\n")?;
    Ok(())
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: &'a [ReportingDescriptor],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Text,
    full_description: Text,
    default_configuration: Configuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct RuleProperties {
    /// Category, CWE and OWASP names.
    tags: Vec<String>,
    /// The rule's confidence, under the name code-scanning tools read.
    #[serde(skip_serializing_if = "Option::is_none")]
    precision: Option<&'static str>,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule_index: Option<usize>,
    level: &'static str,
    message: Text,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    /// Semgrep writes its identity here and sift's import reads it back;
    /// code-scanning services read `partialFingerprints`.
    fingerprints: BTreeMap<&'static str, &'a str>,
    partial_fingerprints: BTreeMap<&'static str, &'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suppressions: Vec<Suppression>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    /// Relative to the project's root.
    uri: String,
}

/// Positions are 1-based; a 0 (unknown) is left out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<u32>,
}

#[derive(Serialize)]
struct Suppression {
    kind: &'static str,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    justification: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<Decided>,
}

/// Who made the decision a suppression stands for, and when.
#[derive(Serialize)]
struct Decided {
    by: String,
    at: String,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    sift: SiftProperties<'a>,
}

/// What only sift knows about a result.
#[derive(Serialize)]
struct SiftProperties<'a> {
    id: i64,
    project: &'a str,
    #[serde(rename = "ref")]
    git_ref: &'a str,
    severity: Severity,
    confidence: Option<crate::domain::Confidence>,
    #[serde(flatten)]
    review: &'a Review,
}

impl<'a> SarifResult<'a> {
    fn of(r: &'a Record, rules: &Rules) -> SarifResult<'a> {
        let text = [&r.message, &r.rule_message]
            .into_iter()
            .find(|m| !m.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| r.rule.clone());
        let locations = if r.path.is_empty() {
            Vec::new()
        } else {
            let known = |n: u32| (n > 0).then_some(n);
            vec![Location {
                physical_location: PhysicalLocation {
                    artifact_location: ArtifactLocation {
                        uri: uri_of(&r.path),
                    },
                    region: known(r.line).map(|start_line| Region {
                        start_line,
                        start_column: known(r.column),
                        end_line: known(r.end_line).filter(|&l| l >= start_line),
                        end_column: known(r.end_column),
                    }),
                },
            }]
        };
        let identity = BTreeMap::from([(FINGERPRINT, r.match_based_id.as_str())]);
        SarifResult {
            rule_id: &r.rule,
            rule_index: rules.positions.get(&r.rule).copied(),
            level: level(r.severity),
            message: Text { text },
            locations,
            fingerprints: identity.clone(),
            partial_fingerprints: identity,
            suppressions: suppression(&r.review).into_iter().collect(),
            properties: ResultProperties {
                sift: SiftProperties {
                    id: r.id,
                    project: &r.project,
                    git_ref: &r.git_ref,
                    severity: r.severity,
                    confidence: r.confidence,
                    review: &r.review,
                },
            },
        }
    }
}

/// The decision as SARIF viewers understand it:
///
/// - ignored by a reviewer: accepted, external (sift or Semgrep decided);
/// - muted by the scan (`nosemgrep` in the code): accepted, in source;
/// - reviewing, or provisionally ignored by Semgrep Assistant: under review
///   (not suppressed, but someone is looking);
/// - anything else, including a finding reopened or set to fix after an
///   ignore: no suppression. A "rejected" one would say as much, but
///   viewers that treat any suppression as hiding the result would hide a
///   finding a reviewer wants fixed; the history in `properties` keeps the
///   withdrawn ignore.
fn suppression(review: &Review) -> Option<Suppression> {
    let (kind, status) = match (review.triage_state, review.status) {
        (TriageState::Ignored, Status::Ignored | Status::Fixed) => ("external", "accepted"),
        (_, Status::Ignored) => ("inSource", "accepted"),
        (TriageState::Reviewing, Status::Reviewing | Status::Fixed) => ("external", "underReview"),
        (_, Status::ProvisionallyIgnored) => ("external", "underReview"),
        _ => return None,
    };
    // The decision that set the state, if this store's history has it.
    let decision = review
        .history
        .iter()
        .rev()
        .find(|h| h.triage_state == Some(review.triage_state));
    let note = decision
        .and_then(|d| d.note.clone())
        .or_else(|| review.triage_comment.clone())
        .filter(|n| !n.trim().is_empty());
    let justification = match (kind, review.triage_reason) {
        ("inSource", _) => Some("ignored in the code (nosemgrep)".to_string()),
        (_, Some(reason)) if status == "accepted" => Some(match note {
            Some(note) => format!("{}: {note}", reason.label()),
            None => reason.label().to_string(),
        }),
        _ if review.status == Status::ProvisionallyIgnored => note.or_else(|| {
            review
                .verdict_reason
                .as_ref()
                .map(|r| format!("Assistant: {r}"))
        }),
        _ => note,
    };
    Some(Suppression {
        kind,
        status,
        justification,
        properties: decision.map(|d| Decided {
            by: d.by.clone(),
            at: d.at.clone(),
        }),
    })
}

/// Up to the first ". ", the full stop kept.
fn first_sentence(text: &str) -> &str {
    text.find(". ").map_or(text, |end| &text[..=end])
}

/// A relative path as a URI reference: every byte but unreserved ones and
/// `/` percent-encoded, so a space or a `#` in a file name stays a path.
fn uri_of(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_of("src/api/auth.py"), "src/api/auth.py");
        assert_eq!(uri_of("docs/a b#1.md"), "docs/a%20b%231.md");
        assert_eq!(uri_of("é"), "%C3%A9");
    }

    #[test]
    fn short_descriptions_are_the_first_sentence() {
        assert_eq!(first_sentence("Use a query. Never format."), "Use a query.");
        assert_eq!(first_sentence("One sentence."), "One sentence.");
    }

    #[test]
    fn severities_map_to_levels() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
    }
}
