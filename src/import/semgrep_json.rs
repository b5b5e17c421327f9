//! `semgrep scan --json` output (ARCHITECTURE §5).
//!
//! The results are turned into findings as they are parsed, one at a time:
//! a scan of 100,000 results is never held as parsed JSON as well.

use super::{
    Context, ImportError, Span, context_from_text, identity_key, lenient_offset, lenient_u32,
    meta_string, meta_strings, null_default, real,
};
use crate::domain::{
    Confidence, Finding, Identity, Location, ResultKey, Rule, ScanError, ScanResults, ScanState,
    Severity, TriageState,
};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

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

/// A result as a survey reads it: checked as [`Match`] is, but only what
/// places it kept (the rule's metadata, free-form and often most of a
/// result, is skipped: the stream's check limits its depth).
#[derive(Deserialize)]
struct Surveyed {
    check_id: String,
    path: String,
    #[serde(default, deserialize_with = "null_default")]
    start: Position,
    #[serde(default, deserialize_with = "null_default")]
    end: Position,
    #[serde(default, deserialize_with = "null_default")]
    extra: SurveyedExtra,
}

/// [`Extra`] as a survey reads it.
#[derive(Deserialize, Default)]
struct SurveyedExtra {
    #[serde(default, deserialize_with = "null_default")]
    message: String,
    #[serde(rename = "severity", default)]
    _severity: Option<Unkept>,
    #[serde(rename = "metadata", default)]
    _metadata: IgnoredAny,
    #[serde(default)]
    lines: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(rename = "is_ignored", default)]
    _is_ignored: Option<bool>,
    #[serde(rename = "fix", default)]
    _fix: Option<Unkept>,
}

/// A string, checked and not kept.
struct Unkept;

impl<'de> Deserialize<'de> for Unkept {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Unkept, D::Error> {
        d.deserialize_str(UnkeptVisitor)
    }
}

struct UnkeptVisitor;

impl Visitor<'_> for UnkeptVisitor {
    type Value = Unkept;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Unkept, E> {
        Ok(Unkept)
    }
}

/// What identifies a result, from a [`Match`] or a [`Surveyed`] one.
struct Seen<'m> {
    check_id: &'m str,
    path: &'m str,
    message: &'m str,
    lines: Option<&'m str>,
    fingerprint: Option<&'m str>,
}

impl<'m> Seen<'m> {
    fn of(m: &'m Match) -> Seen<'m> {
        Seen {
            check_id: &m.check_id,
            path: &m.path,
            message: &m.extra.message,
            lines: m.extra.lines.as_deref(),
            fingerprint: m.extra.fingerprint.as_deref(),
        }
    }
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
    let mut scan = Scan::new(ctx, Mode::Whole);
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
        ..
    } = scan;
    let errors = errors.into_iter().map(scan_error).collect();
    Ok(ctx.scan_results(findings, identities, &derived, errors))
}

/// The first pass over a file read as a stream: every result checked as
/// [`load`] checks it, only what placing it needs kept. The scan without
/// its findings, and that for each result; a `serde_json` error (the
/// caller reads the file whole to say what is wrong with it).
pub(super) fn survey(
    file: impl std::io::Read,
    ctx: &mut Context,
) -> Result<(ScanResults, Vec<ResultKey>, bool), serde_json::Error> {
    let mut scan = Scan::new(ctx, Mode::Survey(Names::default()));
    let mut reader = serde_json::Deserializer::from_reader(file);
    let errors = (&mut scan).deserialize(&mut reader)?;
    reader.end()?;
    let Scan {
        ctx,
        keys,
        derived,
        other_format,
        ..
    } = scan;
    let mut keys = keys;
    let numbered: Vec<_> = derived.iter().map(|(_, k)| k.clone()).collect();
    for ((i, _), id) in derived.iter().zip(super::number_keys(&numbered)) {
        keys[*i].match_based_id = id;
    }
    let errors = errors.into_iter().map(scan_error).collect();
    let head = ctx.scan_results(Vec::new(), Vec::new(), &[], errors);
    let head = ScanResults {
        warnings: ctx.warnings(keys.len()),
        ..head
    };
    Ok((head, keys, other_format))
}

/// The second pass: the findings made again, `CHUNK` at a time, handed to
/// `take` in order; `keys` are the first pass's.
pub(super) fn read_findings(
    file: impl std::io::Read,
    ctx: &mut Context,
    keys: &[ResultKey],
    take: &mut dyn FnMut(Vec<Finding>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut scan = Scan::new(
        ctx,
        Mode::Chunks {
            keys,
            take,
            failed: None,
        },
    );
    let mut reader = serde_json::Deserializer::from_reader(file);
    let read = (&mut scan)
        .deserialize(&mut reader)
        .and_then(|_| reader.end());
    if let Mode::Chunks {
        failed: Some(e), ..
    } = scan.mode
    {
        return Err(e);
    }
    read.map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (was it changed while it was imported?)",
            scan.ctx.origin
        )
    })?;
    let rest = std::mem::take(&mut scan.findings);
    if let Mode::Chunks { take, .. } = &mut scan.mode
        && !rest.is_empty()
    {
        take(rest)?;
    }
    Ok(())
}

/// Findings the second pass hands over at a time.
const CHUNK: usize = 2_000;

/// What is done with each result as it is read.
enum Mode<'k> {
    /// Made a finding and kept, with its identity ([`load`]).
    Whole,
    /// Only what placing it needs kept ([`survey`]).
    Survey(Names),
    /// Made a finding under the identity the first pass gave it, and handed
    /// on a chunk at a time ([`read_findings`]).
    Chunks {
        keys: &'k [ResultKey],
        take: &'k mut dyn FnMut(Vec<Finding>) -> anyhow::Result<()>,
        /// What `take` said when it failed (the parse is stopped).
        failed: Option<anyhow::Error>,
    },
}

/// Rule ids, paths and messages, each kept once however many results
/// repeat it.
#[derive(Default)]
struct Names(std::collections::HashSet<Arc<str>>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(kept) = self.0.get(name) {
            return kept.clone();
        }
        let kept: Arc<str> = Arc::from(name);
        self.0.insert(kept.clone());
        kept
    }
}

/// The findings read so far.
struct Scan<'c> {
    ctx: &'c mut Context,
    mode: Mode<'c>,
    /// How many results were read.
    read: usize,
    findings: Vec<Finding>,
    identities: Vec<Identity>,
    /// In a survey, what places each result.
    keys: Vec<ResultKey>,
    /// Identities to derive once every result is read, for results whose
    /// fingerprint is hidden: (result, (key, line, column)).
    derived: Vec<(usize, (String, u32, u32))>,
    /// The file has keys another format has (`runs`, `findings`): the
    /// format is told from the whole file (`super::detect`).
    other_format: bool,
}

/// The top-level object: `results` (required) read into the scan,
/// `errors` returned, the rest skipped.
impl<'c> Scan<'c> {
    fn new(ctx: &'c mut Context, mode: Mode<'c>) -> Scan<'c> {
        Scan {
            ctx,
            mode,
            read: 0,
            findings: Vec::new(),
            identities: Vec::new(),
            keys: Vec::new(),
            derived: Vec::new(),
            other_format: false,
        }
    }
}

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
                other => {
                    if matches!(self.mode, Mode::Survey(_)) {
                        self.other_format |= matches!(other, "runs" | "findings");
                        // As deep as the whole file's check lets it be.
                        map.next_value::<super::Skipped>()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
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
        if let Mode::Survey(_) = self.0.mode {
            while let Some(m) = seq.next_element::<Surveyed>()? {
                self.0.survey(m);
            }
            return Ok(());
        }
        while let Some(m) = seq.next_element::<Match>()? {
            self.0.add(m).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl Scan<'_> {
    /// Keeps what places one result (a survey).
    fn survey(&mut self, m: Surveyed) {
        let i = self.read;
        self.read += 1;
        let Mode::Survey(names) = &mut self.mode else {
            return;
        };
        let span = Span {
            line: m.start.line,
            col: m.start.col,
            offset: m.start.offset,
            end_line: m.end.line.max(m.start.line),
            end_col: m.end.col,
            end_offset: m.end.offset,
        };
        let result = Seen {
            check_id: &m.check_id,
            path: &m.path,
            message: &m.extra.message,
            lines: m.extra.lines.as_deref(),
            fingerprint: m.extra.fingerprint.as_deref(),
        };
        let (identity, match_based_id) = identify(self.ctx, &result, &span);
        let match_based_id = match_based_id.unwrap_or_else(|derived| {
            self.derived.push((i, derived));
            String::new()
        });
        self.keys.push(ResultKey {
            rule: names.get(&m.check_id),
            path: names.get(&m.path),
            message: names.get(&m.extra.message),
            identity,
            match_based_id,
        });
    }

    /// Takes one result as the mode says; an error stops the parse.
    fn add(&mut self, m: Match) -> Result<(), String> {
        let i = self.read;
        self.read += 1;
        let span = Span {
            line: m.start.line,
            col: m.start.col,
            offset: m.start.offset,
            end_line: m.end.line.max(m.start.line),
            end_col: m.end.col,
            end_offset: m.end.offset,
        };
        let ctx = &mut *self.ctx;
        match &mut self.mode {
            Mode::Whole => {
                let (identity, match_based_id) = identify(ctx, &Seen::of(&m), &span);
                self.identities.push(identity);
                let match_based_id = match_based_id.unwrap_or_else(|derived| {
                    self.derived.push((i, derived));
                    String::new()
                });
                self.findings.push(finding(ctx, m, &span, match_based_id));
            }
            // Surveyed results come to `survey`.
            Mode::Survey(_) => {}
            Mode::Chunks { keys, take, failed } => {
                let Some(key) = keys.get(i) else {
                    return Err("the file holds more results than when it was first read".into());
                };
                let f = finding(ctx, m, &span, key.match_based_id.clone());
                self.findings.push(f);
                if self.findings.len() >= CHUNK
                    && let Err(e) = take(std::mem::take(&mut self.findings))
                {
                    let message = format!("{e:#}");
                    *failed = Some(e);
                    return Err(message);
                }
            }
        }
        Ok(())
    }
}

/// What recognises a result on a rescan, and its match-based id: the
/// scanner's fingerprint, or (when the scanner hid it) the key to derive
/// it from once the whole file is read, with the result's line and column.
fn identify(
    ctx: &mut Context,
    m: &Seen<'_>,
    span: &Span,
) -> (Identity, Result<String, (String, u32, u32)>) {
    let fingerprint = real(m.fingerprint);
    let identity = Identity {
        evidence: ctx.evidence(m.path, span, m.lines),
        fingerprinted: fingerprint.is_some(),
    };
    let match_based_id = match fingerprint {
        Some(fp) => Ok(fp.to_string()),
        None => {
            let matched = ctx.matched_text(m.path, span);
            let key = identity_key(m.check_id, m.path, matched.as_deref(), m.message);
            Err((key, span.line, span.col))
        }
    };
    (identity, match_based_id)
}

/// The result as a finding.
fn finding(ctx: &mut Context, m: Match, span: &Span, match_based_id: String) -> Finding {
    let code = ctx
        .code_from_tree(&m.path, span.line, span.end_line)
        .or_else(|| real(m.extra.lines.as_deref()).and_then(|l| context_from_text(l, span.line)));
    let rule = rule_of(&m.check_id, &m.extra);
    Finding {
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
