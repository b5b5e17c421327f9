//! `semgrep scan --json` output (ARCHITECTURE §5).
//!
//! The results are turned into findings as they are parsed, one at a time:
//! a scan of 100,000 results is never held as parsed JSON as well.

use super::{
    Context, ImportError, Span, context_from_text, identity_key, lenient_offset, lenient_u32,
    meta_string, meta_strings, null_default, real,
};
use crate::domain::{
    Confidence, Finding, Identity, Location, Rule, ScanError, ScanResults, ScanState, Severity,
    TriageState,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// The scanner's own errors; null is none.
#[derive(Deserialize)]
struct Errors(#[serde(deserialize_with = "null_default")] Vec<CliError>);

#[derive(Deserialize)]
struct Match {
    check_id: String,
    path: String,
    #[serde(default, deserialize_with = "null_default")]
    start: Position,
    #[serde(default, deserialize_with = "null_default")]
    end: Position,
    #[serde(default, deserialize_with = "null_default")]
    extra: Extra,
}

#[derive(Deserialize, Default)]
struct Position {
    #[serde(default, deserialize_with = "lenient_u32")]
    line: u32,
    #[serde(default, deserialize_with = "lenient_u32")]
    col: u32,
    #[serde(default, deserialize_with = "lenient_offset")]
    offset: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Extra {
    #[serde(default, deserialize_with = "null_default")]
    message: String,
    #[serde(default)]
    severity: Option<String>,
    /// Free-form: whatever the rule's author wrote.
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    lines: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    is_ignored: Option<bool>,
    /// The rule's own fix for this match (`fix:` in the rule).
    #[serde(default)]
    fix: Option<String>,
}

#[derive(Deserialize)]
struct CliError {
    #[serde(default)]
    level: Option<String>,
    /// A string, or `["PartialParsing", [...]]` for variants with arguments.
    #[serde(rename = "type", default)]
    kind: Value,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    short_msg: Option<String>,
    #[serde(default)]
    long_msg: Option<String>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    spans: Value,
}

pub(super) fn load(text: &str, ctx: &mut Context) -> Result<ScanResults, ImportError> {
    let mut scan = Scan {
        ctx,
        findings: Vec::new(),
        identities: Vec::new(),
        derived: Vec::new(),
    };
    let mut reader = serde_json::Deserializer::from_str(text);
    let errors = (&mut scan)
        .deserialize(&mut reader)
        .and_then(|errors| reader.end().map(|()| errors))
        .map_err(|e| super::json_error::json_error(&scan.ctx.origin, text, &e))?;
    let Scan {
        ctx,
        findings,
        identities,
        derived,
    } = scan;
    let errors = errors.into_iter().map(scan_error).collect();
    Ok(ctx.scan_results(findings, identities, &derived, errors))
}

/// The findings read so far.
struct Scan<'c> {
    ctx: &'c mut Context,
    findings: Vec<Finding>,
    identities: Vec<Identity>,
    /// Identities to derive once every result is read, for results whose
    /// fingerprint is hidden: (finding, (key, line, column)).
    derived: Vec<(usize, (String, u32, u32))>,
}

/// The top-level object: `results` (required) read into the scan,
/// `errors` returned, the rest skipped.
impl<'de> DeserializeSeed<'de> for &mut Scan<'_> {
    type Value = Vec<CliError>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Scan<'_> {
    type Value = Vec<CliError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct Output")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut results, mut errors) = (false, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "results" if results => return Err(de::Error::duplicate_field("results")),
                "results" => {
                    map.next_value_seed(Results(&mut *self))?;
                    results = true;
                }
                "errors" if errors.is_some() => {
                    return Err(de::Error::duplicate_field("errors"));
                }
                "errors" => errors = Some(map.next_value::<Errors>()?.0),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !results {
            return Err(de::Error::missing_field("results"));
        }
        Ok(errors.unwrap_or_default())
    }
}

/// The `results` array, each result made a finding as soon as it is read.
struct Results<'s, 'c>(&'s mut Scan<'c>);

impl<'de> DeserializeSeed<'de> for Results<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Results<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(m) = seq.next_element::<Match>()? {
            self.0.add(m);
        }
        Ok(())
    }
}

impl Scan<'_> {
    fn add(&mut self, m: Match) {
        let ctx = &mut *self.ctx;
        let span = Span {
            line: m.start.line,
            col: m.start.col,
            offset: m.start.offset,
            end_line: m.end.line.max(m.start.line),
            end_col: m.end.col,
            end_offset: m.end.offset,
        };
        let code = ctx
            .code_from_tree(&m.path, span.line, span.end_line)
            .or_else(|| {
                real(m.extra.lines.as_deref()).and_then(|l| context_from_text(l, span.line))
            });
        let fingerprint = real(m.extra.fingerprint.as_deref());
        self.identities.push(Identity {
            evidence: ctx.evidence(&m.path, &span, m.extra.lines.as_deref()),
            fingerprinted: fingerprint.is_some(),
        });
        let match_based_id = match fingerprint {
            Some(fp) => fp.to_string(),
            None => {
                let matched = ctx.matched_text(&m.path, &span);
                let key = identity_key(&m.check_id, &m.path, matched.as_deref(), &m.extra.message);
                self.derived
                    .push((self.findings.len(), (key, span.line, span.col)));
                String::new()
            }
        };
        let rule = rule_of(&m.check_id, &m.extra);
        self.findings.push(Finding {
            id: 0,
            project: ctx.project.clone(),
            repository_url: None,
            git_ref: ctx.git_ref.clone(),
            match_based_id,
            syntactic_id: None,
            message: m.extra.message,
            severity: m
                .extra
                .severity
                .as_deref()
                .and_then(Severity::parse_loose)
                .unwrap_or(Severity::Medium),
            confidence: rule.confidence,
            rule,
            location: Location {
                path: m.path,
                line: span.line,
                column: span.col,
                end_line: span.end_line,
                end_column: m.end.col,
            },
            line_of_code_url: None,
            state: if m.extra.is_ignored == Some(true) {
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
            // Scanner output carries no Assistant data; a rule's `fix` is not one.
            assistant: None,
            rule_fix: m.extra.fix.filter(|f| !f.trim().is_empty()),
            platform: Default::default(),
            code,
            activity: Vec::new(),
        });
    }
}

fn rule_of(check_id: &str, extra: &Extra) -> Rule {
    let meta = |key: &str| extra.metadata.get(key);
    Rule {
        name: check_id.to_string(),
        message: extra.message.clone(),
        category: meta_string(meta("category")),
        confidence: meta_string(meta("confidence")).and_then(|c| Confidence::parse_loose(c.trim())),
        subcategories: meta_strings(meta("subcategory")),
        vulnerability_classes: meta_strings(meta("vulnerability_class")),
        cwe_names: meta_strings(meta("cwe")),
        owasp_names: meta_strings(meta("owasp")),
        references: meta_strings(meta("references")),
        technologies: meta_strings(meta("technology")),
    }
}

fn scan_error(e: CliError) -> ScanError {
    let kind = match &e.kind {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .first()
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        _ => "unknown".to_string(),
    };
    let mut message = e
        .message
        .or(e.short_msg)
        .or(e.long_msg)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| kind.clone());
    if let Some(rule) = e.rule_id.filter(|r| !r.is_empty()) {
        message = format!("{message} (rule {rule})");
    }
    let path = e.path.filter(|p| !p.is_empty()).or_else(|| {
        let span = e.spans.as_array()?.first()?;
        span.get("file").and_then(Value::as_str).map(str::to_string)
    });
    ScanError {
        level: e.level.unwrap_or_else(|| "error".into()),
        kind,
        message,
        path,
    }
}
