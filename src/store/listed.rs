//! A finding written in the Semgrep API v1 shape straight from what the
//! store holds: its stored document read in place (strings borrowed, not
//! copied), the row's columns that override it, and what is laid over it.
//!
//! The output is byte for byte what `v1::Finding::from_domain` of
//! [`Stored::finding`] serialises to (tests compare the two): each field is
//! taken as `v1::Finding::into_domain`, `DetailRow::into_finding` and the
//! overlays take it, without building the `Finding`, and written by hand
//! in `v1::Finding`'s order: a document's string that held no escape is
//! copied as it is, and the assistant is written from the document unless
//! sift's own answers lie over it. This is what makes `sift findings
//! --json` of a large backlog, and `sift serve`'s pages, cheap: no
//! allocation for most fields, no domain round trip, one escape pass at
//! most. A document this reader does not take goes the domain way, which
//! says what is wrong with it.

use super::findings::{Stored, pending_activity, with_own_judgement};
use crate::domain::{
    Activity, ComponentRisk, Confidence, ScanState, Severity, Status, TriageReason, TriageState,
    Verdict,
};
use crate::wire::lenient::{int_or_string, null_default};
use crate::wire::{timestamp, v1};
use anyhow::{Context, Result};
use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use time::OffsetDateTime;

/// One finding as the store holds it, for output written straight from it
/// ([`super::Store::render_stored`]).
pub struct StoredFinding<'a>(pub(super) &'a Stored<'a>);

impl StoredFinding<'_> {
    pub fn id(&self) -> i64 {
        self.0.id
    }

    /// The finding put together, as `Store::load_findings` reads it.
    pub fn finding(&self) -> Result<crate::domain::Finding> {
        self.0.finding()
    }

    /// Its history, oldest first, decisions still in the outbox last (as
    /// `Finding::activity` holds it).
    pub fn history(&self) -> impl Iterator<Item = Cow<'_, Activity>> {
        let stored = self.0.activity.iter().map(Cow::Borrowed);
        let pending = self
            .0
            .pending
            .iter()
            .map(|p| Cow::Owned(pending_activity(p)));
        stored.chain(pending)
    }

    /// Writes `{` and the finding's fields in the v1 shape, as
    /// `serde_json` writes `v1::Finding::from_domain(&self.finding()?)`,
    /// without the closing `}`: the caller adds its own fields first.
    pub fn write_v1_fields(&self, out: &mut Vec<u8>) -> Result<()> {
        if let Ok(doc) = serde_json::from_str::<Doc<'_>>(self.0.doc) {
            return write_fields(self.0, doc, out);
        }
        // The domain way, which names what is damaged.
        let wire = v1::Finding::from_domain(&self.0.finding()?);
        serde_json::to_writer(&mut *out, &wire)?;
        out.pop(); // its `}`
        Ok(())
    }
}

impl StoredFinding<'_> {
    /// Whether sift's own Assistant answers or decisions waiting in the
    /// outbox lie over what the store holds: then only the v1 shape says
    /// what the finding is.
    pub fn is_overlaid(&self) -> bool {
        self.0.judged.is_some() || self.0.fixed.is_some() || !self.0.pending.is_empty()
    }

    /// Writes the finding as the store holds it (`v1::StoredRow`): the
    /// row's columns that win over its document, and its document as
    /// stored, checked only to be JSON.
    pub fn write_stored_row(&self, out: &mut Vec<u8>) -> Result<()> {
        let s = self.0;
        serde_json::from_str::<IgnoredAny>(s.doc)
            .with_context(|| format!("finding {} is damaged in the store", s.id))?;
        let mut o = Object::open(out);
        o.int("id", s.id)?;
        o.str("project", Str::plain(s.project))?;
        if let Some(url) = s.url {
            o.str("url", Str::plain(url))?;
        }
        o.str("ref", Str::plain(s.git_ref))?;
        o.str("match_based_id", Str::plain(s.match_based_id))?;
        o.str("rule", Str::plain(&s.rule.rule.name))?;
        o.str("message", Str::plain(s.message))?;
        o.str("state", Str::plain(s.state))?;
        o.str("triage_state", Str::plain(s.triage_state))?;
        let optional = [
            ("triage_reason", s.triage_reason),
            ("triage_comment", s.triage_comment),
            ("triaged_at", s.triaged_at),
            ("code", s.code),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                o.str(key, Str::plain(value))?;
            }
        }
        if let Some(start) = s.code_start {
            o.int("code_start", start)?;
        }
        o.key("doc");
        o.out.extend_from_slice(s.doc.as_bytes());
        o.close();
        Ok(())
    }
}

/// What a finding's document gives its `findings` row, read in place as
/// `v1::Finding::into_domain` reads it: for a pull that stores documents as
/// they came (`store::import_stored`) without putting each finding
/// together. The row's own columns (state, triage) win over the
/// document's where the domain way takes them.
pub(super) struct DocColumns {
    pub url: Option<String>,
    pub severity: Severity,
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub state: ScanState,
    pub triage_state: TriageState,
    pub relevant_since: i64,
    pub verdict: Option<Verdict>,
    pub component: Option<String>,
    pub risk: Option<ComponentRisk>,
}

impl DocColumns {
    /// `None` when this reader does not take the document: the domain way
    /// then says what is wrong with it.
    pub fn read(doc: &str) -> Option<DocColumns> {
        let doc = serde_json::from_str::<Doc<'_>>(doc).ok()?;
        let (severity, state, triage_state) = (doc.severity(), doc.state(), doc.triage_state());
        let time = |t: &Option<Text<'_>>| t.as_ref().and_then(|t| timestamp::parse(t.as_str()));
        let relevant_since = time(&doc.relevant_since)
            .or_else(|| time(&doc.created_at))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let location = doc.location.unwrap_or_default();
        let assistant = doc.assistant;
        let verdict = assistant
            .as_ref()
            .and_then(|a| a.autotriage.as_ref())
            .and_then(|t| t.verdict.as_ref())
            .and_then(|v| Verdict::parse(v.as_str()));
        let component = assistant.and_then(|a| a.component).and_then(|c| {
            c.tag
                .filter(|t| !t.as_str().is_empty())
                .map(|t| (t, c.risk))
        });
        Some(DocColumns {
            url: doc.repository.and_then(|r| r.url).map(Text::into_string),
            severity,
            path: location
                .file_path
                .map(Text::into_string)
                .unwrap_or_default(),
            line: location.line,
            column: location.column,
            state,
            triage_state,
            relevant_since: relevant_since.unix_timestamp(),
            verdict,
            risk: component
                .as_ref()
                .and_then(|(_, risk)| risk.as_ref())
                .and_then(|r| ComponentRisk::parse(r.as_str())),
            component: component.map(|(tag, _)| tag.into_string()),
        })
    }
}

/// The fields of `stored` in the v1 shape, `doc` its document.
fn write_fields(stored: &Stored<'_>, doc: Doc<'_>, out: &mut Vec<u8>) -> Result<()> {
    let rule = &stored.rule.rule;
    // As `v1::Finding::into_domain` reads them, the stored rule in place
    // of the document's, the row's message (`DetailRow::into_finding`).
    let rule_name = non_empty(&rule.name)
        .or(doc.rule_name.as_ref().map(Text::as_str))
        .unwrap_or("unknown-rule");
    let rule_message = non_empty(&rule.message).unwrap_or(stored.message);
    let confidence = doc
        .confidence
        .as_ref()
        .and_then(|c| Confidence::parse_loose(c.as_str()))
        .or_else(|| rule.confidence.as_deref().and_then(Confidence::parse_loose));
    let category = match &rule.category {
        Some(c) => Some(Str::plain(c)),
        None => doc
            .categories
            .as_ref()
            .and_then(|c| c.0.as_ref().map(Text::json)),
    };
    let created_at = doc
        .created_at
        .as_ref()
        .and_then(|t| timestamp::reformat(t.as_str()));
    let relevant_since = doc
        .relevant_since
        .as_ref()
        .and_then(|t| timestamp::reformat(t.as_str()));
    let (severity, doc_state, doc_triage) = (doc.severity(), doc.state(), doc.triage_state());
    let location = doc.location.unwrap_or_default();

    // The row's columns win over the document; a column the domain way
    // would not take is left to it.
    let state = ScanState::parse(stored.state).unwrap_or(doc_state);
    let mut triage_state = TriageState::parse(stored.triage_state).unwrap_or(doc_triage);
    let mut triage_reason = stored.triage_reason.and_then(TriageReason::parse);
    let mut triage_comment = stored.triage_comment;
    for p in stored.pending {
        if let Some(s) = p.change.state {
            triage_state = s;
            triage_reason = p.change.reason;
            if let Some(note) = &p.change.note {
                triage_comment = Some(note.as_str());
            }
        }
    }
    let triaged_at = stored.triaged_at.and_then(timestamp::parse);

    // Written field by field in `v1::Finding`'s order, as `serde_json`
    // writes it; what it leaves out is left out.
    let mut o = Object::open(out);
    o.int("id", stored.id)?;
    o.str("ref", Str::plain(stored.git_ref))?;
    if let Some(id) = doc.first_seen_scan_id {
        o.int("first_seen_scan_id", id)?;
    }
    if let Some(id) = &doc.syntactic_id {
        o.str("syntactic_id", id.json())?;
    }
    o.str("match_based_id", Str::plain(stored.match_based_id))?;
    let url = match stored.url {
        Some(url) => Some(Str::plain(url)),
        None => doc
            .repository
            .as_ref()
            .and_then(|r| r.url.as_ref())
            .map(Text::json),
    };
    o.key("repository");
    let mut repository = Object::open(o.out);
    repository.str("name", Str::plain(stored.project))?;
    if let Some(url) = url {
        repository.str("url", url)?;
    }
    repository.close();
    if let Some(url) = &doc.line_of_code_url {
        o.str("line_of_code_url", url.json())?;
    }
    o.str("state", Str::safe(state.as_str()))?;
    o.str("triage_state", Str::safe(triage_state.as_str()))?;
    o.str(
        "status",
        Str::safe(Status::derive(state, triage_state).as_str()),
    )?;
    o.str("severity", Str::safe(severity.as_str()))?;
    if let Some(c) = confidence {
        o.str("confidence", Str::safe(c.as_str()))?;
    }
    o.key("categories");
    o.out.push(b'[');
    if let Some(c) = category {
        c.write(o.out)?;
    }
    o.out.push(b']');
    let created = created_at.unwrap_or(Cow::Borrowed(timestamp::EPOCH));
    o.str("created_at", Str::safe(&created))?;
    let relevant = relevant_since.unwrap_or(created);
    o.str("relevant_since", Str::safe(&relevant))?;
    if let Some(at) = doc
        .state_updated_at
        .as_ref()
        .and_then(|t| timestamp::reformat(t.as_str()))
    {
        o.str("state_updated_at", Str::safe(&at))?;
    }
    if let Some(at) = triaged_at {
        o.str("triaged_at", Str::safe(&timestamp::format(at)))?;
    }
    if let Some(comment) = triage_comment {
        o.str("triage_comment", Str::plain(comment))?;
    }
    if let Some(reason) = triage_reason {
        o.str("triage_reason", Str::safe(reason.as_str()))?;
    }
    o.str("rule_name", Str::plain(rule_name))?;
    o.str("rule_message", Str::plain(stored.message))?;
    o.key("location");
    let mut at = Object::open(o.out);
    let path = location
        .file_path
        .as_ref()
        .map_or(Str::safe(""), Text::json);
    at.str("file_path", path)?;
    at.int("line", location.line)?;
    at.int("column", location.column)?;
    at.int("end_line", location.end_line.max(location.line))?;
    at.int("end_column", location.end_column)?;
    at.close();
    if let Some(policy) = &doc.sourcing_policy {
        o.value("sourcing_policy", policy)?;
    }
    if let Some(ticket) = &doc.external_ticket {
        o.value("external_ticket", ticket)?;
    }
    o.key("review_comments");
    o.out.extend_from_slice(b"[]");
    o.key("rule");
    stored.rule_json.borrow_mut().write(
        o.out,
        stored.rule_id,
        Rule {
            name: rule_name,
            message: rule_message,
            confidence: confidence.map(Confidence::as_str),
            category: category.map(|c| c.text),
            subcategories: &rule.subcategories,
            vulnerability_classes: &rule.vulnerability_classes,
            cwe_names: &rule.cwe_names,
            owasp_names: &rule.owasp_names,
        },
    )?;
    write_assistant(&mut o, stored, doc.assistant)?;
    if let Some(fix) = doc
        .rule_fix
        .as_ref()
        .filter(|f| non_empty(f.as_str()).is_some())
    {
        o.str("rule_fix", fix.json())?;
    }
    Ok(())
}

/// The finding's `"assistant"`, as `v1::Assistant::from_domain` of the
/// domain's (the document's, under sift's own Assistant's answers) writes
/// it. Without answers or sift's provenance, which nearly every finding
/// lacks, it is written from the document as `into_domain` reads it.
fn write_assistant(
    o: &mut Object<'_>,
    stored: &Stored<'_>,
    doc: Option<AssistantDoc<'_>>,
) -> Result<()> {
    let plain = stored.judged.is_none()
        && stored.fixed.is_none()
        && doc
            .as_ref()
            .is_none_or(|a| a.judged_by.is_none() && a.fixed_by.is_none());
    if !plain {
        let mut assistant = doc.map(|a| a.into_wire().into_domain(OffsetDateTime::UNIX_EPOCH));
        if let Some(answer) = stored.judged {
            with_own_judgement(&mut assistant, answer);
        }
        if let Some(record) = stored.fixed {
            super::fixes::with_own_fix(&mut assistant, record);
        }
        if let Some(a) = &assistant {
            o.value("assistant", &v1::Assistant::from_domain(a))?;
        }
        return Ok(());
    }
    let Some(a) = doc else {
        return Ok(());
    };
    // As `v1` reads a string that is null or missing: empty.
    let empty = |t: &Option<Text<'_>>| t.as_ref().is_none_or(|t| t.as_str().is_empty());
    o.key("assistant");
    let mut w = Object::open(&mut *o.out);
    let verdict = a
        .autotriage
        .as_ref()
        .and_then(|t| t.verdict.as_ref())
        .and_then(|v| Verdict::parse(v.as_str()));
    if let Some(verdict) = verdict {
        w.key("autotriage");
        let mut t = Object::open(&mut *w.out);
        t.str("verdict", Str::safe(verdict.as_str()))?;
        let reason = a.autotriage.as_ref().and_then(|t| t.reason.as_ref());
        t.str("reason", reason.map_or(Str::safe(""), Text::json))?;
        t.close();
    }
    if let Some(code) = a
        .autofix
        .as_ref()
        .and_then(|f| f.fix_code.as_ref())
        .filter(|c| non_empty(c.as_str()).is_some())
    {
        w.key("autofix");
        let mut f = Object::open(&mut *w.out);
        f.str("fix_code", code.json())?;
        f.str("explanation", Str::safe(""))?;
        f.close();
    }
    if let Some(g) = a
        .guidance
        .as_ref()
        .filter(|g| !(empty(&g.summary) && empty(&g.instructions)))
    {
        w.key("guidance");
        let mut g_out = Object::open(&mut *w.out);
        g_out.str("summary", or_empty(&g.summary))?;
        g_out.str("instructions", or_empty(&g.instructions))?;
        g_out.close();
    }
    if let Some(c) = a.component.as_ref().filter(|c| !empty(&c.tag)) {
        w.key("component");
        let mut c_out = Object::open(&mut *w.out);
        c_out.str("tag", or_empty(&c.tag))?;
        let risk = c
            .risk
            .as_ref()
            .and_then(|r| ComponentRisk::parse(r.as_str()));
        if let Some(risk) = risk {
            c_out.str("risk", Str::safe(risk.as_str()))?;
        }
        c_out.close();
    }
    if let Some(e) = a
        .rule_explanation
        .as_ref()
        .filter(|e| !(empty(&e.summary) && empty(&e.explanation)))
    {
        w.key("rule_explanation");
        let mut e_out = Object::open(&mut *w.out);
        e_out.str("summary", or_empty(&e.summary))?;
        e_out.str("explanation", or_empty(&e.explanation))?;
        e_out.close();
    }
    if let Some(why) = a
        .no_verdict
        .as_ref()
        .filter(|w| non_empty(w.as_str()).is_some())
    {
        w.str("no_verdict", why.json())?;
    }
    if let Some(why) = a
        .no_fix
        .as_ref()
        .filter(|w| non_empty(w.as_str()).is_some())
    {
        w.str("no_fix", why.json())?;
    }
    w.close();
    Ok(())
}

/// A string to write: as it is when known to need no escape (sift's own
/// words, or a string of the document that held no escape) or found to
/// need none, else escaped as `serde_json` escapes it.
#[derive(Clone, Copy)]
struct Str<'a> {
    text: &'a str,
    verbatim: bool,
}

impl<'a> Str<'a> {
    fn plain(text: &'a str) -> Str<'a> {
        Str {
            text,
            verbatim: false,
        }
    }

    /// Text known to need no escape: sift's own words for states,
    /// severities and the like, and timestamps in sift's form.
    fn safe(text: &'a str) -> Str<'a> {
        Str {
            text,
            verbatim: true,
        }
    }

    fn write(self, out: &mut Vec<u8>) -> Result<()> {
        if self.verbatim || !needs_escape(self.text.as_bytes()) {
            out.push(b'"');
            out.extend_from_slice(self.text.as_bytes());
            out.push(b'"');
        } else {
            serde_json::to_writer(&mut *out, self.text)?;
        }
        Ok(())
    }
}

/// Whether `serde_json` escapes anything in `text`: a control character
/// (below 0x20), a quote or a backslash; nothing else. Eight bytes at a
/// time: most text needs no escape, and serde_json looks at each byte.
fn needs_escape(text: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `v` is zero: the high bit of that byte of the result is
    // set (a false one only ever follows a true one).
    let any_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // A byte below 0x20: subtracting 0x20 borrows into its high bit.
    let any_control = |w: u64| w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0;
    let mut words = text.chunks_exact(8);
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if any_control(w)
            || any_zero(w ^ (ONES * u64::from(b'"')))
            || any_zero(w ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A string of the document to write, empty when null or missing (as `v1`
/// reads it).
fn or_empty<'t>(text: &'t Option<Text<'_>>) -> Str<'t> {
    text.as_ref().map_or(Str::safe(""), Text::json)
}

/// A JSON object written a field at a time, without spaces, as
/// `serde_json` writes a struct.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Object<'o> {
        Object { out, empty: true }
    }

    fn key(&mut self, key: &str) {
        self.out.push(if self.empty { b'{' } else { b',' });
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    fn str(&mut self, key: &str, value: Str<'_>) -> Result<()> {
        self.key(key);
        value.write(self.out)
    }

    fn int(&mut self, key: &str, value: impl Into<i64>) -> Result<()> {
        self.value(key, &value.into())
    }

    fn value(&mut self, key: &str, value: &impl Serialize) -> Result<()> {
        self.key(key);
        Ok(serde_json::to_writer(&mut *self.out, value)?)
    }

    fn close(self) {
        self.out
            .extend_from_slice(if self.empty { b"{}" } else { b"}" });
    }
}

/// The `"rule"` object each rule last had written, and what it was written
/// from besides the stored rule's lists: the findings of a rule write the
/// same one, nearly always.
#[derive(Default)]
pub(super) struct RuleJson(std::collections::HashMap<i64, (RuleFrom, Vec<u8>)>);

/// A rule object's name, message, confidence and category.
type RuleFrom = (String, String, Option<String>, Option<String>);

impl RuleJson {
    /// Writes `rule` (of the stored rule `rule_id`), as it was written
    /// last when it is the same.
    fn write(&mut self, out: &mut Vec<u8>, rule_id: i64, rule: Rule<'_>) -> Result<()> {
        let (from, json) = self.0.entry(rule_id).or_default();
        let same = !json.is_empty()
            && from.0 == rule.name
            && from.1 == rule.message
            && from.2.as_deref() == rule.confidence
            && from.3.as_deref() == rule.category;
        if !same {
            json.clear();
            serde_json::to_writer(&mut *json, &rule)?;
            *from = (
                rule.name.to_string(),
                rule.message.to_string(),
                rule.confidence.map(str::to_string),
                rule.category.map(str::to_string),
            );
        }
        out.extend_from_slice(json);
        Ok(())
    }
}

/// `text`, unless it is blank (as `v1`'s `non_empty`).
fn non_empty(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

/// A finding's stored document, read as `v1::Finding` reads it (the same
/// fields, types and leniency), its strings borrowed where they hold no
/// escape.
#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(rename = "id", deserialize_with = "int_or_string")]
    _id: i64,
    // The row's columns and the stored rule win over the fields read only
    // to take what `v1` takes (named `_…`).
    #[serde(rename = "ref", default, borrow)]
    _git_ref: Option<Text<'a>>,
    #[serde(default)]
    first_seen_scan_id: Option<i64>,
    #[serde(default, borrow)]
    syntactic_id: Option<Text<'a>>,
    #[serde(rename = "match_based_id", default, borrow)]
    _match_based_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    repository: Option<RepositoryDoc<'a>>,
    #[serde(default, borrow)]
    line_of_code_url: Option<Text<'a>>,
    #[serde(default, borrow)]
    state: Option<Text<'a>>,
    #[serde(default, borrow)]
    triage_state: Option<Text<'a>>,
    #[serde(rename = "status", default, borrow)]
    _status: Option<Text<'a>>,
    #[serde(default, borrow)]
    severity: Option<Text<'a>>,
    #[serde(default, borrow)]
    confidence: Option<Text<'a>>,
    #[serde(default, borrow)]
    categories: Option<FirstText<'a>>,
    #[serde(default, borrow)]
    created_at: Option<Text<'a>>,
    #[serde(default, borrow)]
    relevant_since: Option<Text<'a>>,
    #[serde(default, borrow)]
    state_updated_at: Option<Text<'a>>,
    #[serde(rename = "triaged_at", default, borrow)]
    _triaged_at: Option<Text<'a>>,
    #[serde(rename = "triage_comment", default, borrow)]
    _triage_comment: Option<Text<'a>>,
    #[serde(rename = "triage_reason", default, borrow)]
    _triage_reason: Option<Text<'a>>,
    #[serde(default, borrow)]
    rule_name: Option<Text<'a>>,
    #[serde(rename = "rule_message", default, borrow)]
    _rule_message: Option<Text<'a>>,
    #[serde(default, borrow)]
    location: Option<LocationDoc<'a>>,
    #[serde(default)]
    sourcing_policy: Option<v1::PolicyReference>,
    #[serde(default, alias = "externalTicket")]
    external_ticket: Option<v1::ExternalTicket>,
    #[serde(rename = "review_comments", default)]
    _review_comments: Option<Vec<IgnoredAny>>,
    #[serde(rename = "rule", default)]
    _rule: Option<v1::Rule>,
    #[serde(default, borrow)]
    assistant: Option<AssistantDoc<'a>>,
    #[serde(default, borrow)]
    rule_fix: Option<Text<'a>>,
}

impl Doc<'_> {
    /// As `v1::Finding::into_domain` reads them.
    fn severity(&self) -> Severity {
        self.severity
            .as_ref()
            .and_then(|s| Severity::parse_loose(s.as_str()))
            .unwrap_or(Severity::Medium)
    }

    fn state(&self) -> ScanState {
        self.state
            .as_ref()
            .and_then(|s| ScanState::parse(s.as_str()))
            .unwrap_or(ScanState::Unresolved)
    }

    fn triage_state(&self) -> TriageState {
        self.triage_state
            .as_ref()
            .and_then(|s| TriageState::parse(s.as_str()))
            .unwrap_or(TriageState::Untriaged)
    }
}

/// `v1::Assistant` as the document holds it, its strings borrowed: the same
/// fields, each taking what `v1`'s takes (a string, null or nothing).
#[derive(Deserialize)]
struct AssistantDoc<'a> {
    #[serde(default, borrow)]
    autotriage: Option<AutotriageDoc<'a>>,
    #[serde(default, borrow)]
    autofix: Option<AutofixDoc<'a>>,
    #[serde(default, borrow)]
    guidance: Option<GuidanceDoc<'a>>,
    #[serde(default, borrow)]
    component: Option<ComponentDoc<'a>>,
    #[serde(default, borrow)]
    rule_explanation: Option<ExplanationDoc<'a>>,
    #[serde(default)]
    judged_by: Option<v1::JudgedBy>,
    #[serde(default, borrow)]
    no_verdict: Option<Text<'a>>,
    #[serde(default)]
    fixed_by: Option<v1::FixedBy>,
    #[serde(default, borrow)]
    no_fix: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct AutotriageDoc<'a> {
    #[serde(default, borrow)]
    verdict: Option<Text<'a>>,
    #[serde(default, borrow)]
    reason: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct AutofixDoc<'a> {
    #[serde(default, borrow)]
    fix_code: Option<Text<'a>>,
    #[serde(default, borrow)]
    explanation: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct GuidanceDoc<'a> {
    #[serde(default, borrow)]
    summary: Option<Text<'a>>,
    #[serde(default, borrow)]
    instructions: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ComponentDoc<'a> {
    #[serde(default, borrow)]
    tag: Option<Text<'a>>,
    #[serde(default, borrow)]
    risk: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ExplanationDoc<'a> {
    #[serde(default, borrow)]
    summary: Option<Text<'a>>,
    #[serde(default, borrow)]
    explanation: Option<Text<'a>>,
}

impl AssistantDoc<'_> {
    /// As `v1` reads it.
    fn into_wire(self) -> v1::Assistant {
        let owned = |t: Option<Text<'_>>| t.map(Text::into_string).unwrap_or_default();
        v1::Assistant {
            autotriage: self.autotriage.map(|t| v1::Autotriage {
                verdict: t.verdict.map(Text::into_string),
                reason: owned(t.reason),
            }),
            autofix: self.autofix.map(|f| v1::Autofix {
                fix_code: owned(f.fix_code),
                explanation: owned(f.explanation),
            }),
            guidance: self.guidance.map(|g| v1::Guidance {
                summary: owned(g.summary),
                instructions: owned(g.instructions),
            }),
            component: self.component.map(|c| v1::Component {
                tag: owned(c.tag),
                risk: c.risk.map(Text::into_string),
            }),
            rule_explanation: self.rule_explanation.map(|e| v1::RuleExplanation {
                summary: owned(e.summary),
                explanation: owned(e.explanation),
            }),
            judged_by: self.judged_by,
            no_verdict: self.no_verdict.map(Text::into_string),
            fixed_by: self.fixed_by,
            no_fix: self.no_fix.map(Text::into_string),
        }
    }
}

#[derive(Deserialize)]
struct RepositoryDoc<'a> {
    #[serde(rename = "name", default, borrow)]
    _name: Option<Text<'a>>,
    #[serde(default, borrow)]
    url: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
struct LocationDoc<'a> {
    #[serde(default, borrow)]
    file_path: Option<Text<'a>>,
    #[serde(default, deserialize_with = "null_default")]
    line: u32,
    #[serde(default, deserialize_with = "null_default")]
    column: u32,
    #[serde(default, deserialize_with = "null_default")]
    end_line: u32,
    #[serde(default, deserialize_with = "null_default")]
    end_column: u32,
}

/// A string of the document: borrowed from it unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }

    fn into_string(self) -> String {
        self.0.into_owned()
    }

    /// To write: as it is when borrowed, for it held no escape.
    fn json(&self) -> Str<'_> {
        Str {
            text: &self.0,
            verbatim: matches!(self.0, Cow::Borrowed(_)),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(v)))
    }
}

/// A list of strings, of which only the first is kept.
struct FirstText<'a>(Option<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(FirstTextVisitor)
    }
}

struct FirstTextVisitor;

impl<'de> Visitor<'de> for FirstTextVisitor {
    type Value = FirstText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstText<'de>, A::Error> {
        let first = seq.next_element::<Text<'de>>()?;
        while seq.next_element::<Text<'de>>()?.is_some() {}
        Ok(FirstText(first))
    }
}

/// `v1::Rule` as it serialises.
#[derive(Serialize)]
struct Rule<'a> {
    name: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    subcategories: &'a [String],
    vulnerability_classes: &'a [String],
    cwe_names: &'a [String],
    owasp_names: &'a [String],
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::domain::{ComponentRisk, FixConfidence, Judge, ScanResults, TriageChange, Verdict};
    use crate::store::{Answer, ComponentTag, FixAnswer, FixOutcome, FixRecord, Judgement, Store};
    use time::macros::datetime;

    /// Platform records with what a backend may send: odd cases, escapes,
    /// characters a terminal acts on, fields left out or null.
    const RECORDS: &str = r#"{"findings": [
      {"id": 9001, "ref": "main", "match_based_id": "m_1", "repository": {"name": "acme/web"},
       "rule": {"name": "r.one", "message": "m", "confidence": "HIGH"},
       "rule_message": "quote \" backslash \\ newline \n tab \t \u0001 del \u007f bidi \u202e c1 \u009b crab \ud83e\udd80 é",
       "location": {"file_path": "a\"b\u2066.py", "line": 9, "end_line": 3, "column": null},
       "severity": "High", "categories": ["c1", "c2"], "created_at": "not a time",
       "relevant_since": "2026-01-02T03:04:05+02:00", "state_updated_at": "2026-01-02T03:04:05Z",
       "triage_state": "reviewing", "state": "muted", "triage_comment": "why \u202e",
       "triaged_at": "2026-01-03T00:00:00Z", "triage_reason": "false_positive",
       "sourcing_policy": {"id": "12", "name": "policy"},
       "externalTicket": {"externalSlug": "JIRA-1", "linkedIssueIds": ["4", 5]},
       "review_comments": [{"x": 1}], "line_of_code_url": null, "unknown": [1, {"a": 2}],
       "assistant": {"autotriage": {"verdict": "bogus", "reason": "r"},
         "guidance": {"summary": "", "instructions": ""}, "autofix": {"fix_code": "  "},
         "component": {"tag": "", "risk": "high"}, "rule_explanation": {"summary": "s"},
         "no_verdict": " ", "judged_by": {"provider": "p", "model": "m", "at": "garbage"}},
       "rule_fix": " "},
      {"id": "9002", "ref": "", "syntactic_id": "syn-2", "repository": {"name": "acme/web", "url": "https://x.example/web"},
       "rule": {"name": "r.two", "message": "", "category": "cat"}, "rule_name": "r.two",
       "severity": "weird", "confidence": null, "categories": null, "location": null,
       "assistant": {"autotriage": {"verdict": "true_positive", "reason": ""},
         "autofix": {"fix_code": "fixed()", "explanation": "e"},
         "guidance": {"summary": "g", "instructions": "i"},
         "component": {"tag": "payments", "risk": "bogus"}}},
      {"id": 9003, "ref": "main", "match_based_id": "m_3", "repository": {"name": "acme/web"},
       "rule": {"name": "r.one"}, "rule_fix": "use_safe()", "assistant": null},
      {"id": 9004, "ref": "main", "match_based_id": "m_4", "repository": {"name": "acme/web"},
       "rule": {"name": "r.three", "message": "three"}, "severity": "low",
       "assistant": {"autotriage": {"verdict": "false_positive", "reason": "semgrep's"}}}
    ]}"#;

    fn platform(json: &str) -> ScanResults {
        crate::store::findings::pull_tests::pulled(json).remove(0)
    }

    fn judge(memories: &[&str]) -> Judge {
        Judge {
            provider: "openai".into(),
            model: "gpt \u{202e}".into(),
            prompt_version: 3,
            at: datetime!(2026-03-02 10:00:00 UTC),
            memories: memories.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn verdict(store: &Store, key: &str, judgement: Judgement, ids: &[i64]) {
        let answer = Answer {
            judgement,
            judge: judge(&["mem-1", "mem-2"]),
            input_tokens: 1,
            output_tokens: 1,
        };
        store.record_verdict(key, &answer, ids).unwrap();
    }

    fn fix(store: &Store, key: &str, outcome: FixOutcome, ids: &[i64]) {
        let record = FixRecord {
            outcome,
            judge: judge(&[]),
            input_tokens: 1,
            output_tokens: 1,
        };
        store.record_fix(key, &record, ids).unwrap();
    }

    /// A store holding findings of every kind the listing meets.
    fn varied() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-03-01 09:00:00 UTC);
        crate::demo::seed(&mut store, Some(400), now).unwrap();
        store.import(&[platform(RECORDS)]).unwrap();
        let demo: Vec<i64> = store
            .listing_rows()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .filter(|id| *id < 9000)
            .collect();
        // sift's own Assistant: verdicts (one on Semgrep's), no verdict, fixes.
        let judged = Judgement::Verdict {
            verdict: Verdict::FalsePositive,
            reason: "a test \"fixture\"\n".into(),
            component: Some(ComponentTag {
                tag: "auth".into(),
                risk: ComponentRisk::High,
            }),
        };
        verdict(&store, "v1", judged, &[demo[0], demo[1], 9003, 9004]);
        let none = Judgement::NoVerdict {
            why: "refused".into(),
        };
        verdict(&store, "v2", none, &[demo[2], 9001]);
        let written = FixOutcome::Written(FixAnswer {
            summary: "s".into(),
            instructions: "i".into(),
            fix_code: "safe()".into(),
            confidence: Some(FixConfidence::High),
            review: "ok".into(),
            replaces: "unsafe()".into(),
        });
        fix(&store, "f1", written, &[demo[3], demo[0], 9002, 9003]);
        let guidance = FixOutcome::Written(FixAnswer {
            summary: "s".into(),
            instructions: "i".into(),
            fix_code: String::new(),
            confidence: None,
            review: String::new(),
            replaces: String::new(),
        });
        fix(&store, "f2", guidance, &[demo[4]]);
        let not = FixOutcome::NotWritten { why: "no".into() };
        fix(&store, "f3", not, &[demo[5], 9001]);
        // Decided here, and decisions waiting in the outbox, with notes.
        let ignored = TriageChange {
            state: Some(TriageState::Ignored),
            reason: Some(TriageReason::AcceptableRisk),
            note: Some("fine \u{9b}".into()),
        };
        store
            .apply_triage(&[demo[6], 9002], &ignored, "ana", now, None)
            .unwrap();
        let reviewing = TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: None,
        };
        let note = TriageChange {
            state: None,
            reason: None,
            note: Some("a note".into()),
        };
        store
            .record(
                &[
                    (demo[7], ignored.clone()),
                    (demo[7], reviewing.clone()),
                    (demo[8], note),
                    (9001, reviewing),
                ],
                "bo",
            )
            .unwrap();
        // Columns the domain way does not take, and rules without a name,
        // message or category.
        store
            .conn
            .execute(
                "UPDATE findings SET state = 'bogus', triage_state = 'bogus',
                    triage_reason = 'bogus', triaged_at = 'bogus' WHERE id = ?1",
                [demo[9]],
            )
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE rules SET doc = '{\"name\": \" \", \"message\": \"\"}'
                 WHERE id = (SELECT rule_id FROM findings WHERE id = 9002)",
                [],
            )
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE rules SET doc = '{\"name\": \"\"}'
                 WHERE id = (SELECT rule_id FROM findings WHERE id = 9004)",
                [],
            )
            .unwrap();
        (dir, store)
    }

    /// Sets finding `id`'s stored document.
    fn set_doc(store: &Store, id: i64, doc: &str) {
        store
            .conn
            .execute(
                "UPDATE finding_details SET doc = ?2 WHERE finding_id = ?1",
                rusqlite::params![id, doc],
            )
            .unwrap();
    }

    /// Each finding of `ids` written straight from the store and the
    /// domain way; how many compared.
    fn compare(store: &Store, ids: &[i64]) -> usize {
        let mut compared = 0;
        store
            .render_stored(
                ids,
                true,
                |f, out| {
                    let mut fast = Vec::new();
                    let written = f.write_v1_fields(&mut fast);
                    match f.finding() {
                        Ok(finding) => {
                            let wire = serde_json::to_string(&v1::Finding::from_domain(&finding))?;
                            fast.push(b'}');
                            assert_eq!(String::from_utf8(fast)?, wire, "finding {}", f.id());
                            let history: Vec<Activity> = f.history().map(Cow::into_owned).collect();
                            assert_eq!(history, finding.activity, "finding {}", f.id());
                        }
                        Err(e) => {
                            let fast = written.expect_err("a damaged finding is refused");
                            assert_eq!(fast.to_string(), e.to_string());
                        }
                    }
                    out.push(b'.');
                    Ok(())
                },
                |chunk| {
                    compared += chunk.findings().map(<[u8]>::len).sum::<usize>();
                    Ok(())
                },
            )
            .unwrap();
        compared
    }

    #[test]
    fn a_string_is_escaped_exactly_when_serde_json_would() {
        // Every ASCII character and a few others, at every place of a word
        // of eight and around it.
        let others = ['é', '\u{7f}', '\u{85}', '\u{202e}', '😀'];
        for c in (0..0x80u8).map(char::from).chain(others) {
            for len in [1, 7, 8, 9, 16, 17] {
                for at in 0..len {
                    let mut text: Vec<char> = vec!['a'; len];
                    text[at] = c;
                    let text: String = text.into_iter().collect();
                    let escaped = serde_json::to_string(&text).unwrap() != format!("\"{text}\"");
                    assert_eq!(
                        needs_escape(text.as_bytes()),
                        escaped,
                        "{c:?} at {at} of {len}"
                    );
                }
            }
        }
        assert!(!needs_escape(b""));
    }

    #[test]
    fn written_straight_from_the_store_as_the_domain_way_writes_it() {
        let (_dir, store) = varied();
        let ids: Vec<i64> = store.listing_rows().unwrap().iter().map(|r| r.id).collect();
        assert!(ids.len() > 400, "{}", ids.len());
        assert_eq!(compare(&store, &ids), ids.len());
    }

    /// A long list's history is read in one pass: each finding's is still
    /// its own, as it reads alone, oldest first, and entries of the same
    /// time stay in the order they were recorded.
    #[test]
    fn a_long_lists_history_read_at_once_is_each_findings_own() {
        let (_dir, store) = varied();
        let ids: Vec<i64> = store.listing_rows().unwrap().iter().map(|r| r.id).collect();
        let first = ids[0];
        for (at, action) in [
            ("2026-01-03T00:00:00Z", "late"),
            ("2026-01-01T00:00:00Z", "early"),
            ("2026-01-02T00:00:00Z", "same time, first"),
            ("2026-01-02T00:00:00.000Z", "same time, second"),
        ] {
            store
                .conn
                .execute(
                    "INSERT INTO activity (finding_id, at, actor, action) VALUES (?1, ?2, 'r', ?3)",
                    rusqlite::params![first, at, action],
                )
                .unwrap();
        }
        // Long enough for several chunks, with a short history beside it.
        let long: Vec<i64> = ids.iter().cycle().take(5_000).copied().collect();
        let entries: usize = store
            .conn
            .query_row("SELECT count(*) FROM activity", [], |r| r.get(0))
            .unwrap();
        assert!(entries > 100 && entries < long.len(), "{entries}");
        let seen = std::sync::Mutex::new(Vec::new());
        store
            .render_stored(
                &long,
                true,
                |f, _| {
                    let history: Vec<Activity> = f.history().map(Cow::into_owned).collect();
                    seen.lock().unwrap().push((f.id(), history));
                    Ok(())
                },
                |_| Ok(()),
            )
            .unwrap();
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), long.len());
        for (id, history) in &seen {
            let alone = store.load_finding(*id).unwrap().unwrap();
            assert_eq!(history, &alone.activity, "finding {id}");
        }
        let (_, history) = seen.iter().find(|(id, _)| *id == first).unwrap();
        let added: Vec<&str> = history
            .iter()
            .map(|a| a.action.as_str())
            .filter(|a| a.contains("time") || *a == "late" || *a == "early")
            .collect();
        assert_eq!(
            added,
            ["early", "same time, first", "same time, second", "late"]
        );
    }

    #[test]
    fn history_is_read_only_when_asked_for() {
        let (_dir, store) = varied();
        let ids: Vec<i64> = store.listing_rows().unwrap().iter().map(|r| r.id).collect();
        let histories = |with_history: bool| {
            let seen = std::sync::Mutex::new(Vec::new());
            store
                .render_stored(
                    &ids,
                    with_history,
                    |f, _| {
                        let pending = f.history().filter(|a| a.pending).count();
                        let all = f.history().count();
                        seen.lock().unwrap().push((f.id(), all, pending));
                        Ok(())
                    },
                    |_| Ok(()),
                )
                .unwrap();
            let mut seen: Vec<(i64, usize, usize)> = seen.into_inner().unwrap();
            seen.sort();
            seen
        };
        let (with, without) = (histories(true), histories(false));
        assert!(with.iter().any(|(_, all, pending)| all > pending));
        assert!(without.iter().any(|(_, _, pending)| *pending > 0));
        for ((id, _, pending), (same_id, all, also_pending)) in with.iter().zip(&without) {
            assert_eq!((id, pending), (same_id, also_pending));
            assert_eq!(
                all, also_pending,
                "finding {id}: only what waits in the outbox"
            );
        }
    }

    #[test]
    fn each_finding_of_a_rule_writes_the_rule_its_document_gives() {
        let (_dir, store) = varied();
        let rows = store.listing_rows().unwrap();
        let rule = rows[0].rule.clone();
        let targets: Vec<i64> = rows
            .iter()
            .filter(|r| r.rule == rule)
            .map(|r| r.id)
            .take(8)
            .collect();
        assert!(targets.len() > 4, "{}", targets.len());
        // What the rule object takes from the document, finding by
        // finding, and timestamps in and out of the form sift writes.
        let docs = [
            r#"{"id": 1, "confidence": "low", "categories": ["a"], "created_at": "2026-02-30T00:00:00.000000Z"}"#,
            r#"{"id": 2, "confidence": "high", "categories": ["b"], "relevant_since": "2026-06-30T23:59:60.000000Z"}"#,
            r#"{"id": 3, "rule_name": "x", "rule_message": "y\n", "created_at": "2026-01-01T00:00:59.999999Z"}"#,
            r#"{"id": 4, "categories": ["a\u0000"], "state_updated_at": "2026-01-01T00:00:00Z"}"#,
            r#"{"id": 5, "confidence": "low", "categories": ["a"], "created_at": " 2026-01-01T00:00:00.000000Z"}"#,
        ];
        for (id, doc) in targets.iter().zip(docs.iter().cycle()) {
            set_doc(&store, *id, doc);
        }
        assert_eq!(compare(&store, &targets), targets.len());
    }

    /// Stored documents of every shape: read by both ways, then refused by
    /// both alike.
    pub(in crate::store) const DOCUMENTS: [&str; 22] = [
        r#"{"id": 5}"#,
        r#"{"id": "6", "repository": {"name": null, "url": "https://y.example"}}"#,
        r#"{"id": 7, "categories": null, "location": null, "assistant": null, "rule": null}"#,
        r#"{"id": 8, "match_based_id": "x\u0000y", "ref": null, "review_comments": null}"#,
        r#"{"id": 9, "rule": {"name": "other", "subcategories": ["a"]}, "confidence": "low"}"#,
        r#"{"id": 10, "categories": ["only"], "location": {"file_path": null, "line": "3"}}"#,
        r#"{"id": 17, "assistant": {}}"#,
        r#"{"id": 18, "assistant": {"autotriage": null, "autofix": {"fix_code": null}, "component": {"tag": "t", "risk": null}, "no_fix": "x \u001b"}}"#,
        r#"{"id": 19, "assistant": {"autotriage": {"verdict": "true\u005fpositive", "reason": "a\"b"}, "guidance": {"instructions": "i"}}}"#,
        r#"{"id": 20, "assistant": {"fixed_by": {"confidence": "high", "provider": "p"}, "rule_explanation": {"explanation": "e"}}}"#,
        r#"{"id": 21, "assistant": {"autofix": {"fix_code": "f", "explanation": "dropped"}, "component": {"tag": "", "risk": "high"}}}"#,
        // Refused by both ways alike.
        r#"{"id": "x"}"#,
        r#"{"id": 11, "location": {"line": -1}}"#,
        r#"{"id": 12, "severity": 3}"#,
        r#"{"id": 13, "categories": [1]}"#,
        r#"{"id": 14, "id": 15}"#,
        r#"{"id": 22, "assistant": {"guidance": {"summary": 3}}}"#,
        r#"{"id": 23, "assistant": {"no_verdict": ["x"]}}"#,
        r#"{"id": 24, "assistant": {"autotriage": {"verdict": "true_positive", "verdict": "x"}}}"#,
        r#"{"ref": "main"}"#,
        "not json",
        r#"{"id": 16} trailing"#,
    ];

    #[test]
    fn documents_of_any_shape_are_written_as_the_domain_way_writes_them() {
        let (_dir, store) = varied();
        let targets: Vec<i64> = [9001, 9002, 9003]
            .into_iter()
            .chain(store.listing_rows().unwrap().iter().map(|r| r.id).take(20))
            .collect();
        for doc in DOCUMENTS {
            for &id in &targets {
                set_doc(&store, id, doc);
            }
            assert_eq!(compare(&store, &targets), targets.len(), "{doc}");
        }
    }
}
