//! Importers: `semgrep scan --json`, `semgrep scan --sarif` and Semgrep API
//! findings dumps, turned into [`ScanResults`] for a backend.
//!
//! The format is recognised from the content, not the file name. Everything
//! read here is outside data: nothing panics on it, and a file that is not
//! what it claims to be fails as a whole with a message naming the file, the
//! line and column, and the field.

mod api_dump;
mod sarif;
mod semgrep_json;

use crate::domain::{CodeContext, Evidence, ScanResults, code_hash};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

/// How to label what a file holds, and where its sources are.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The project name; by default the repo root's folder name, else the
    /// file's stem (a Semgrep API dump names its own projects).
    pub project: Option<String>,
    /// The git ref scanned; by default `main` (a dump names its own refs).
    pub git_ref: Option<String>,
    /// The scanned source tree, for code context and for identities when the
    /// scanner hid them ("requires login").
    pub repo_root: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{origin}: cannot read the file: {source}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--repo-root {}: {source}", path.display())]
    RepoRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or JSON cut short.
    #[error("{origin}: line {line}, column {column}: {message}")]
    Syntax {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid JSON with a field of the wrong type, or a required field missing.
    #[error("{origin}: line {line}, column {column}: {field}: {message}")]
    Type {
        origin: String,
        line: usize,
        column: usize,
        /// Where in the document, like `results[3].start.line`.
        field: String,
        message: String,
    },
    #[error("{origin}: not semgrep JSON, SARIF or a Semgrep API findings dump ({detail})")]
    UnknownFormat { origin: String, detail: String },
}

/// The formats [`load_str`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    SemgrepJson,
    Sarif,
    ApiDump,
}

/// Reads one file and returns one [`ScanResults`] per (project, ref) in it.
pub fn load_file(path: &Path, opts: &ImportOptions) -> Result<Vec<ScanResults>, ImportError> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
        origin: origin.clone(),
        source,
    })?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            let (line, column) = line_column(&bytes, e.valid_up_to());
            return Err(ImportError::Syntax {
                origin,
                line,
                column,
                message: "the file is not UTF-8 text".into(),
            });
        }
    };
    load_str(&origin, text, opts)
}

/// Like [`load_file`] for text already read; `origin` names it in messages
/// and, without a project or repo root, gives the project its name.
pub fn load_str(
    origin: &str,
    text: &str,
    opts: &ImportOptions,
) -> Result<Vec<ScanResults>, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::UnknownFormat {
            origin: origin.into(),
            detail: "the file is empty".into(),
        });
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(origin, text, &e))?;
    let format = detect(&doc).map_err(|detail| ImportError::UnknownFormat {
        origin: origin.into(),
        detail,
    })?;
    drop(doc);
    let mut ctx = Context::new(origin, opts)?;
    match format {
        Format::SemgrepJson => semgrep_json::load(text, &mut ctx).map(|scan| vec![scan]),
        Format::Sarif => sarif::load(text, &mut ctx).map(|scan| vec![scan]),
        Format::ApiDump => api_dump::load(text, &mut ctx),
    }
}

fn detect(doc: &Value) -> Result<Format, String> {
    let Some(top) = doc.as_object() else {
        return Err(format!("the top level is {}, not an object", kind_of(doc)));
    };
    if top.contains_key("runs") {
        Ok(Format::Sarif)
    } else if top.get("findings").is_some_and(Value::is_array) {
        Ok(Format::ApiDump)
    } else if top.contains_key("results") {
        Ok(Format::SemgrepJson)
    } else if top.contains_key("findings") {
        Ok(Format::ApiDump) // its typed reading names the wrong type
    } else {
        let mut keys: Vec<String> = top.keys().take(6).map(|k| short_debug(k, 40)).collect();
        if top.len() > keys.len() {
            keys.push("…".into());
        }
        Err(if keys.is_empty() {
            "an empty object".into()
        } else {
            format!(
                "no \"results\", \"runs\" or \"findings\"; top-level keys: {}",
                keys.join(", ")
            )
        })
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What every importer needs: names, the time, and the source tree.
pub(crate) struct Context {
    pub origin: String,
    pub project: String,
    /// Whether `project` came from the options (it overrides a dump's names).
    pub project_given: bool,
    pub git_ref: String,
    pub git_ref_given: bool,
    pub now: time::OffsetDateTime,
    pub tree: Option<SourceTree>,
}

impl Context {
    fn new(origin: &str, opts: &ImportOptions) -> Result<Context, ImportError> {
        let tree = match &opts.repo_root {
            Some(root) => Some(SourceTree::open(root)?),
            None => None,
        };
        let given_project = opts
            .project
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let project = given_project
            .map(str::to_string)
            .or_else(|| {
                tree.as_ref()
                    .and_then(|t| t.root.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .or_else(|| {
                Path::new(origin)
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "unknown".into());
        let given_ref = opts
            .git_ref
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        Ok(Context {
            origin: origin.into(),
            project,
            project_given: given_project.is_some(),
            git_ref: given_ref.unwrap_or("main").to_string(),
            git_ref_given: given_ref.is_some(),
            now: time::OffsetDateTime::now_utc(),
            tree,
        })
    }

    /// Typed reading of the whole file; errors name the file, position and field.
    pub fn parse<T: serde::de::DeserializeOwned>(&self, text: &str) -> Result<T, ImportError> {
        serde_json::from_str(text).map_err(|e| json_error(&self.origin, text, &e))
    }

    /// Source lines around a match, read from the repo root.
    pub fn code_from_tree(&mut self, path: &str, line: u32, end_line: u32) -> Option<CodeContext> {
        let file = self.tree.as_mut()?.file(path)?;
        file.context(line, end_line)
    }

    /// The matched text, read from the repo root.
    pub fn matched_text(&mut self, path: &str, span: &Span) -> Option<String> {
        let file = self.tree.as_mut()?.file(path)?;
        file.matched_text(span)
    }

    /// What recognises this match on a rescan: its position and length,
    /// and the code from the repo root or, without one, the matched lines
    /// the scanner copied (`scanner_lines`, when real).
    pub fn evidence(&mut self, path: &str, span: &Span, scanner_lines: Option<&str>) -> Evidence {
        let mut evidence = Evidence {
            line: span.line,
            column: span.col,
            length: span
                .offset
                .zip(span.end_offset)
                .and_then(|(s, e)| u32::try_from(e.checked_sub(s)?).ok()),
            lines: real(scanner_lines).map(|l| code_hash([l])),
            ..Evidence::default()
        };
        if let Some(file) = self.tree.as_mut().and_then(|t| t.file(path)) {
            if let Some(text) = file.matched_text(span) {
                evidence.snippet = Some(code_hash([text.as_str()]));
            }
            if let Some((lines, before, after)) = file.lines_and_around(span.line, span.end_line) {
                evidence.lines = Some(lines);
                evidence.before = Some(before);
                evidence.after = Some(after);
            }
        }
        evidence
    }

    /// Warnings about the import as a whole, once every result was read.
    pub fn warnings(&self, results: usize) -> Vec<String> {
        match &self.tree {
            Some(tree) if results > 0 && tree.found == 0 => vec![format!(
                "--repo-root {}: none of the scanned files is under it, so no code was read \
                 (was the scan run in another folder?)",
                tree.root.display()
            )],
            _ => Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------
// Errors with positions and field paths.

/// How deep serde_json lets JSON nest before it refuses it.
const MAX_JSON_DEPTH: usize = 128;

fn json_error(origin: &str, text: &str, e: &serde_json::Error) -> ImportError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let raw = full.strip_suffix(&suffix).unwrap_or(&full);
    match e.classify() {
        serde_json::error::Category::Data => {
            let mut at = offset_of(text, line, column);
            let (mut line, mut column) = (line, column);
            if raw.starts_with("invalid type: map") || raw.starts_with("invalid type: sequence") {
                // serde stops before a refused object or array: point at it.
                let bytes = text.as_bytes();
                let mut i = at + 1;
                while matches!(
                    bytes.get(i),
                    Some(b' ' | b'\t' | b'\n' | b'\r' | b':' | b',')
                ) {
                    i += 1;
                }
                if matches!(bytes.get(i), Some(b'{' | b'[')) {
                    at = i;
                    (line, column) = line_column(bytes, i);
                }
            }
            ImportError::Type {
                origin: origin.into(),
                line,
                column,
                field: format_path(&path_at(text.as_bytes(), at)),
                message: clean_message(&friendly_type_message(raw)),
            }
        }
        // serde_json refuses deeper nesting rather than exhaust the stack.
        _ if raw.starts_with("recursion limit exceeded") => ImportError::Syntax {
            origin: origin.into(),
            line,
            column,
            message: format!(
                "the JSON is nested more than {MAX_JSON_DEPTH} levels deep; sift reads at most \
                 {MAX_JSON_DEPTH} (scanner output needs fewer than ten)"
            ),
        },
        serde_json::error::Category::Eof => ImportError::Syntax {
            origin: origin.into(),
            line,
            column,
            message: format!("{} (the file looks truncated)", clean_message(raw)),
        },
        _ => ImportError::Syntax {
            origin: origin.into(),
            line,
            column,
            message: format!("{} (not valid JSON)", clean_message(raw)),
        },
    }
}

/// serde's "invalid type: map, expected a sequence" in the words of JSON.
fn friendly_type_message(raw: &str) -> String {
    let Some(rest) = raw.strip_prefix("invalid type: ") else {
        return raw.to_string();
    };
    let Some((found, expected)) = rest.split_once(", expected ") else {
        return raw.to_string();
    };
    let found = match found {
        "map" => "an object".to_string(),
        "sequence" => "an array".to_string(),
        "unit value" | "null" => "null".to_string(),
        f => f
            .replacen("floating point", "number", 1)
            .replacen("integer", "number", 1),
    };
    let expected = if expected.starts_with("struct ") || expected == "a map" {
        "an object"
    } else if expected == "a sequence" {
        "an array"
    } else if expected == "a borrowed string" {
        "a string"
    } else {
        expected
    };
    format!("expected {expected}, found {found}")
}

/// Messages quote outside text: keep them short and free of control characters.
fn clean_message(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i >= 300 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn short_debug(text: &str, max: usize) -> String {
    let short: String = text.chars().take(max).collect();
    let mut out = format!("{short:?}");
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// 1-based line and column of a byte offset, as serde_json counts them.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, before.len() - line_start + 1)
}

/// The byte serde_json's (line, column) points at.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = 0;
    if line > 1 {
        let mut seen = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                seen += 1;
                if seen == line - 1 {
                    start = i + 1;
                    break;
                }
            }
        }
    }
    (start + column.saturating_sub(1)).min(bytes.len())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn format_path(path: &[Seg]) -> String {
    if path.is_empty() {
        return "(top level)".into();
    }
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => {
                let plain = !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if plain {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                } else {
                    out.push_str(&format!("[{}]", short_debug(k, 60)));
                }
            }
        }
    }
    out
}

/// The path of the innermost JSON value that holds byte `at` of `text`.
/// Tolerant of anything: it only walks down and never fails.
fn path_at(bytes: &[u8], at: usize) -> Vec<Seg> {
    let mut path = Vec::new();
    let mut pos = skip_ws(bytes, 0);
    // Each turn of the loop stands at the start of a value that holds `at`.
    loop {
        if at <= pos {
            // Before the value: serde points there when it refuses a container.
            return path;
        }
        match bytes.get(pos) {
            Some(b'{') => {
                pos += 1;
                let mut descended = false;
                loop {
                    pos = skip_ws(bytes, pos);
                    if bytes.get(pos) != Some(&b'"') {
                        break;
                    }
                    let key_start = pos;
                    pos = skip_value(bytes, pos);
                    let key = decode_key(&bytes[key_start..pos]);
                    if at < pos {
                        path.push(Seg::Key(key));
                        return path;
                    }
                    pos = skip_ws(bytes, pos);
                    if bytes.get(pos) == Some(&b':') {
                        pos = skip_ws(bytes, pos + 1);
                    }
                    let end = skip_value(bytes, pos);
                    if at < end {
                        path.push(Seg::Key(key));
                        descended = true;
                        break;
                    }
                    pos = skip_ws(bytes, end);
                    if bytes.get(pos) == Some(&b',') && at > pos {
                        pos += 1;
                    } else {
                        break;
                    }
                }
                if !descended {
                    return path;
                }
            }
            Some(b'[') => {
                pos += 1;
                let mut index = 0;
                let mut descended = false;
                loop {
                    pos = skip_ws(bytes, pos);
                    if matches!(bytes.get(pos), None | Some(b']')) {
                        break;
                    }
                    let end = skip_value(bytes, pos);
                    if at < end {
                        path.push(Seg::Index(index));
                        descended = true;
                        break;
                    }
                    pos = skip_ws(bytes, end);
                    if bytes.get(pos) == Some(&b',') && at > pos {
                        pos += 1;
                        index += 1;
                    } else {
                        break;
                    }
                }
                if !descended {
                    return path;
                }
            }
            _ => return path,
        }
    }
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while matches!(bytes.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// The end (exclusive) of the value starting at `pos`; the end of the text
/// when it is cut short. Always moves forward.
fn skip_value(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos;
    let mut depth = 0usize;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return i.max(pos + 1).min(bytes.len());
                    }
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                b',' | b' ' | b'\t' | b'\n' | b'\r' | b':' if depth == 0 => {
                    return i.max(pos + 1).min(bytes.len());
                }
                _ => {}
            }
        }
        i += 1;
    }
    bytes.len().max(pos + 1)
}

fn decode_key(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    serde_json::from_str::<String>(&text).unwrap_or_else(|_| text.trim_matches('"').to_string())
}

// ---------------------------------------------------------------------------
// Lenient pieces of typed reading.

/// A missing or null field reads as its default.
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A line or column: any JSON number, clamped to `0..=u32::MAX` (negative,
/// fractional and huge values are not worth failing a file for); null is 0.
/// Anything else is the wrong type.
pub(crate) fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?
        .map_or(0, |n| n.clamp(0, u32::MAX as i64) as u32))
}

/// A byte offset: negative (the scanner's "unknown") and null are `None`.
pub(crate) fn lenient_offset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(d.deserialize_any(NumberVisitor)?
        .filter(|&n| n >= 0)
        .map(|n| n as u64))
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `as` saturates, and NaN becomes 0.
        Ok(Some(v as i64))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Rule metadata is free-form: a value that is a string or a list of strings
/// gives those strings; anything else gives nothing.
pub(crate) fn meta_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str())
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn meta_string(v: Option<&Value>) -> Option<String> {
    meta_strings(v).into_iter().next()
}

// ---------------------------------------------------------------------------
// Identity for scanner output that hides its fingerprints.

/// The scanner writes this instead of fingerprints and lines when logged out.
pub(crate) const REQUIRES_LOGIN: &str = "requires login";

/// A fingerprint or lines value that carries real data.
pub(crate) fn real(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.trim().is_empty() && t.trim() != REQUIRES_LOGIN)
}

/// Where a match is, as the scanner gives it (1-based lines and columns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub line: u32,
    pub col: u32,
    pub offset: Option<u64>,
    pub end_line: u32,
    pub end_col: u32,
    pub end_offset: Option<u64>,
}

/// The part of a derived identity that does not depend on other matches:
/// sha256 over the rule, the path, and the matched text (whitespace
/// normalised) or, without sources, the message. Line numbers are left out
/// so that code moving up or down keeps its identity.
pub(crate) fn identity_key(rule: &str, path: &str, matched: Option<&str>, message: &str) -> String {
    let mut h = Sha256::new();
    let (kind, text) = match matched {
        Some(m) => ("code", m.split_whitespace().collect::<Vec<_>>().join(" ")),
        None => ("message", message.to_string()),
    };
    for part in [rule, path, kind, text.as_str()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `_<index>` to each key, the index counting equal keys in the file
/// ordered by position, the way the scanner numbers its fingerprints.
/// `items` holds (key, line, column).
pub(crate) fn number_keys(items: &[(String, u32, u32)]) -> Vec<String> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, la, ca) = &items[a];
        let (kb, lb, cb) = &items[b];
        (ka, la, ca, a).cmp(&(kb, lb, cb, b))
    });
    let mut out = vec![String::new(); items.len()];
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for i in order {
        let key = items[i].0.as_str();
        let n = counts.entry(key).or_insert(0);
        out[i] = format!("{key}_{n}");
        *n += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Source files under the repo root.

/// Longest line kept in a code context, in characters.
const MAX_LINE_CHARS: usize = 500;
/// Most lines kept in a code context.
const MAX_CONTEXT_LINES: usize = 40;
/// Lines of context before and after a match.
const CONTEXT_LINES: u32 = 3;
/// Larger files are not read for context.
const MAX_SOURCE_BYTES: u64 = 32 << 20;
/// How much source text is kept in memory at once.
const CACHE_BUDGET: usize = 256 << 20;

pub(crate) struct SourceTree {
    root: PathBuf,
    cache: HashMap<String, Option<Rc<SourceFile>>>,
    cached_bytes: usize,
    /// How many scanned paths were found under the root.
    found: usize,
}

impl SourceTree {
    fn open(root: &Path) -> Result<SourceTree, ImportError> {
        let canonical = root
            .canonicalize()
            .map_err(|source| ImportError::RepoRoot {
                path: root.to_path_buf(),
                source,
            })?;
        if !canonical.is_dir() {
            return Err(ImportError::RepoRoot {
                path: root.to_path_buf(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Ok(SourceTree {
            root: canonical,
            cache: HashMap::new(),
            cached_bytes: 0,
            found: 0,
        })
    }

    /// The file a finding's path names. Paths often start with the scanned
    /// folder ("webapp/app/x.py" for a root at .../webapp), so leading
    /// components are dropped one by one until a file is found. Nothing
    /// outside the root is read.
    fn file(&mut self, path: &str) -> Option<Rc<SourceFile>> {
        if let Some(hit) = self.cache.get(path) {
            return hit.clone();
        }
        let found = self
            .find(path)
            .and_then(|p| SourceFile::read(&p))
            .map(Rc::new);
        if let Some(f) = &found {
            self.found += 1;
            self.cached_bytes += f.bytes.len();
            if self.cached_bytes > CACHE_BUDGET {
                self.cache.clear();
                self.cached_bytes = f.bytes.len();
            }
        }
        self.cache.insert(path.to_string(), found.clone());
        found
    }

    fn find(&self, path: &str) -> Option<PathBuf> {
        let p = Path::new(path);
        // An absolute path inside the root is taken relative to it.
        let p = p.strip_prefix(&self.root).unwrap_or(p);
        let mut parts = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => parts.push(s),
                Component::ParentDir if !parts.is_empty() => return None,
                _ => {}
            }
        }
        for skip in 0..parts.len() {
            let mut candidate = self.root.clone();
            candidate.extend(&parts[skip..]);
            if candidate.is_file() {
                // A symlink may lead out of the tree.
                let real = candidate.canonicalize().ok()?;
                return real.starts_with(&self.root).then_some(real);
            }
        }
        None
    }
}

pub(crate) struct SourceFile {
    bytes: Vec<u8>,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn read(path: &Path) -> Option<SourceFile> {
        if std::fs::metadata(path).ok()?.len() > MAX_SOURCE_BYTES {
            return None;
        }
        Some(SourceFile::new(std::fs::read(path).ok()?))
    }

    fn new(bytes: Vec<u8>) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' && i + 1 < bytes.len())
                .map(|(i, _)| i + 1),
        );
        if bytes.is_empty() {
            line_starts.clear();
        }
        SourceFile { bytes, line_starts }
    }

    fn lines(&self) -> u32 {
        u32::try_from(self.line_starts.len()).unwrap_or(u32::MAX)
    }

    /// Line `n` (1-based) without its end of line.
    fn line(&self, n: u32) -> &[u8] {
        let i = (n as usize).saturating_sub(1);
        let Some(&start) = self.line_starts.get(i) else {
            return &[];
        };
        let end = self
            .line_starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.bytes.len());
        let mut line = &self.bytes[start..end];
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        line
    }

    fn context(&self, line: u32, end_line: u32) -> Option<CodeContext> {
        if line == 0 || line > self.lines() {
            return None;
        }
        let end_line = end_line.clamp(line, self.lines());
        let first = line.saturating_sub(CONTEXT_LINES).max(1);
        let last = end_line.saturating_add(CONTEXT_LINES).min(self.lines());
        let lines = (first..=last)
            .take(MAX_CONTEXT_LINES)
            .map(|n| cap_line(&String::from_utf8_lossy(self.line(n))))
            .collect();
        Some(CodeContext {
            start_line: first,
            lines,
        })
    }

    /// Hashes of the matched lines and of the two nearest non-blank lines
    /// before and after them (`domain::identity`).
    fn lines_and_around(&self, line: u32, end_line: u32) -> Option<(u64, u64, u64)> {
        if line == 0 || line > self.lines() {
            return None;
        }
        let end_line = end_line.clamp(line, self.lines());
        let text = |n: u32| String::from_utf8_lossy(self.line(n)).into_owned();
        let matched: Vec<String> = (line..=end_line).map(text).collect();
        let non_blank = |n: &u32| !self.line(*n).trim_ascii().is_empty();
        let mut before: Vec<String> = (1..line)
            .rev()
            .filter(non_blank)
            .take(2)
            .map(text)
            .collect();
        before.reverse();
        let after: Vec<String> = (end_line + 1..=self.lines())
            .filter(non_blank)
            .take(2)
            .map(text)
            .collect();
        let hash = |v: &[String]| code_hash(v.iter().map(String::as_str));
        Some((hash(&matched), hash(&before), hash(&after)))
    }

    /// The text from the match's start to its end. Byte offsets are used when
    /// they agree with the line numbers; otherwise lines and columns (as bytes).
    fn matched_text(&self, span: &Span) -> Option<String> {
        if span.line == 0 || span.line > self.lines() {
            return None;
        }
        let by_offsets = match (span.offset, span.end_offset) {
            (Some(s), Some(e)) => {
                let (s, e) = (usize::try_from(s).ok()?, usize::try_from(e).ok()?);
                let agrees = s <= e
                    && e <= self.bytes.len()
                    && self
                        .line_starts
                        .get(span.line as usize - 1)
                        .is_some_and(|&ls| ls <= s)
                    && self
                        .line_starts
                        .get(span.line as usize)
                        .is_none_or(|&next| s < next);
                agrees.then_some((s, e))
            }
            _ => None,
        };
        let (s, e) = match by_offsets {
            Some(r) => r,
            None => {
                let end_line = span.end_line.clamp(span.line, self.lines());
                let s = self.column_offset(span.line, span.col.max(1));
                let e = if span.end_col == 0 {
                    self.column_offset(end_line, u32::MAX)
                } else {
                    self.column_offset(end_line, span.end_col)
                };
                (s, e.max(s))
            }
        };
        let text = String::from_utf8_lossy(&self.bytes[s..e]);
        (!text.trim().is_empty()).then(|| text.into_owned())
    }

    /// Byte offset of a 1-based column on a line, clamped to the line.
    fn column_offset(&self, line: u32, col: u32) -> usize {
        let Some(&start) = self.line_starts.get((line as usize).saturating_sub(1)) else {
            return self.bytes.len();
        };
        let len = self.line(line).len();
        start + (col as usize).saturating_sub(1).min(len)
    }
}

/// A code context from text the scanner gave (matched lines or a snippet).
pub(crate) fn context_from_text(text: &str, start_line: u32) -> Option<CodeContext> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    if text.trim().is_empty() {
        return None;
    }
    let lines = text
        .split('\n')
        .take(MAX_CONTEXT_LINES)
        .map(|l| cap_line(l.strip_suffix('\r').unwrap_or(l)))
        .collect();
    Some(CodeContext {
        start_line: start_line.max(1),
        lines,
    })
}

fn cap_line(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((cut, _)) => {
            let keep = line[..cut]
                .char_indices()
                .nth(MAX_LINE_CHARS - 1)
                .map_or(cut, |(i, _)| i);
            format!("{}…", &line[..keep])
        }
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_path(json: &str) -> String {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Pos {
            line: u32,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct M {
            check_id: String,
            start: Pos,
        }
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct Out {
            results: Vec<M>,
        }
        let e = serde_json::from_str::<Out>(json).err().expect("an error");
        format_path(&path_at(
            json.as_bytes(),
            offset_of(json, e.line(), e.column()),
        ))
    }

    #[test]
    fn type_errors_name_the_field() {
        let ok = r#"{"check_id": "a", "start": {"line": 1}}"#;
        assert_eq!(
            error_path(&format!(
                r#"{{"results": [{ok}, {{"check_id": "b", "start": {{"line": "7"}}}}]}}"#
            )),
            "results[1].start.line"
        );
        assert_eq!(error_path(r#"{"results": {"a": 1}}"#), "results");
        assert_eq!(
            error_path("{\n  \"results\": [\n    {\"start\": {\"line\": 3}}\n  ]\n}"),
            "results[0]"
        );
        assert_eq!(
            error_path(r#"{"results": [{"check_id": 5, "start": {"line": 3}}]}"#),
            "results[0].check_id"
        );
        assert_eq!(error_path(r#"{"results": [null]}"#), "results[0]");
        assert_eq!(
            error_path(r#"{"results": [{"check_id": "x", "start": []}]}"#),
            "results[0].start"
        );
    }

    #[test]
    fn path_finder_survives_junk() {
        for junk in [
            "",
            "{",
            "[",
            "{\"a\"",
            "{\"a\":",
            "[1,",
            "\"abc",
            "}}}]]",
            "{\"a\\\"b\": [1, {\"c\": ",
        ] {
            for at in 0..junk.len() + 2 {
                let _ = path_at(junk.as_bytes(), at);
            }
        }
        assert_eq!(
            format_path(&[Seg::Key("semgrep.dev".into()), Seg::Index(2)]),
            "[\"semgrep.dev\"][2]"
        );
    }

    #[test]
    fn keys_are_numbered_by_position() {
        let items = vec![
            ("b".to_string(), 9, 1),
            ("a".to_string(), 5, 1),
            ("b".to_string(), 2, 4),
            ("b".to_string(), 2, 1),
        ];
        assert_eq!(number_keys(&items), ["b_2", "a_0", "b_1", "b_0"]);
    }

    #[test]
    fn lines_are_capped_without_splitting_characters() {
        let long = "é".repeat(800);
        let capped = cap_line(&long);
        assert_eq!(capped.chars().count(), MAX_LINE_CHARS);
        assert!(capped.ends_with('…'));
        assert_eq!(cap_line("short"), "short");
    }

    #[test]
    fn matched_text_uses_offsets_or_columns() {
        let f = SourceFile::new(b"a = 1\nrun(x)  # here\n\xff\xfe bad\n".to_vec());
        let span = Span {
            line: 2,
            col: 1,
            offset: Some(6),
            end_line: 2,
            end_col: 7,
            end_offset: Some(12),
        };
        assert_eq!(f.matched_text(&span).as_deref(), Some("run(x)"));
        let no_offsets = Span {
            offset: None,
            end_offset: None,
            ..span
        };
        assert_eq!(f.matched_text(&no_offsets).as_deref(), Some("run(x)"));
        let wrong_offsets = Span {
            offset: Some(0),
            end_offset: Some(3),
            ..span
        };
        assert_eq!(f.matched_text(&wrong_offsets).as_deref(), Some("run(x)"));
        let ctx = f.context(3, 3).unwrap();
        assert_eq!(ctx.start_line, 1);
        assert_eq!(ctx.lines.len(), 3);
        assert!(ctx.lines[2].ends_with(" bad"));
        assert!(f.context(4, 4).is_none());
        assert!(f.context(0, 0).is_none());
        let huge = Span {
            line: u32::MAX,
            end_line: u32::MAX,
            ..span
        };
        assert!(f.matched_text(&huge).is_none());
    }
}
