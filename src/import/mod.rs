//! Importers: `semgrep scan --json`, `semgrep scan --sarif` and Semgrep API
//! findings dumps, turned into [`ScanResults`] for a backend.
//!
//! The format is recognised from the content, not the file name. Everything
//! read here is outside data: nothing panics on it, and a file that is not
//! what it claims to be fails as a whole with a message naming the file, the
//! line and column, and the field.

mod api_dump;
mod identity;
mod json_error;
mod sarif;
mod semgrep_json;
mod source;

pub(crate) use crate::wire::lenient::{lenient_offset, lenient_u32, null_default};
pub(crate) use identity::{Span, identity_key, number_keys, real};
pub(crate) use source::context_from_text;
pub use source::{code_around, file_in_tree};

use crate::domain::{
    CodeContext, Evidence, Finding, Identity, ResultKey, ScanError, ScanResults, ScanSource,
    code_hash,
};
use json_error::{json_error, line_column, short_debug};
use serde_json::Value;
use source::SourceTree;
use std::path::{Path, PathBuf};

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

/// A `semgrep scan --json` file imported without holding it or its
/// findings: read once through ([`survey_file`]), keeping only what places
/// each result among the known findings, then again while the store takes
/// its findings a chunk at a time ([`StreamedScan::read_findings`]).
pub struct StreamedScan {
    /// The scan without its findings: its names, errors and warnings.
    pub scan: ScanResults,
    /// What places each result, in the file's order.
    pub keys: Vec<ResultKey>,
    pub reader: FindingsReader,
}

/// Reads a surveyed file's findings again.
pub struct FindingsReader {
    path: PathBuf,
    ctx: Context,
}

impl FindingsReader {
    /// Hands the findings of the file to `take` a chunk at a time, in the
    /// order of `keys` (the survey's), each under the identity it gave.
    pub fn read_findings(
        &mut self,
        keys: &[ResultKey],
        take: &mut dyn FnMut(Vec<Finding>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let file = std::fs::File::open(&self.path)
            .map_err(|e| anyhow::anyhow!("{}: cannot read the file: {e}", self.ctx.origin))?;
        // The survey checked the file: only its byte order mark is left out.
        let reader = std::io::BufReader::with_capacity(READ_BUFFER, Checked::bom_only(file));
        semgrep_json::read_findings(reader, &mut self.ctx, keys, take)
    }
}

/// Surveys `path` when it is `semgrep scan --json` output that reads well
/// as a stream; `None` otherwise (another format, or a file with something
/// wrong in it): [`load_file`] then reads it whole, and says what is wrong.
pub fn survey_file(path: &Path, opts: &ImportOptions) -> Option<StreamedScan> {
    let origin = path.display().to_string();
    let file = std::fs::File::open(path).ok()?;
    let mut ctx = Context::new(&origin, opts).ok()?;
    let reader = std::io::BufReader::with_capacity(READ_BUFFER, Checked::new(file));
    let (scan, keys, other_format) = semgrep_json::survey(reader, &mut ctx).ok()?;
    if other_format {
        return None;
    }
    Some(StreamedScan {
        scan,
        keys,
        reader: FindingsReader {
            path: path.to_path_buf(),
            ctx,
        },
    })
}

/// How much of a file is read at a time.
const READ_BUFFER: usize = 256 * 1024;

/// Deepest nesting a file read as a stream may have: `serde_json` skips
/// what a result holds beyond what sift reads without counting how deep it
/// nests, and the whole file's check refuses more than 128 levels.
const STREAM_MAX_DEPTH: usize = 100;

/// A file read as a stream, refused (an error of the read) where reading
/// it whole would refuse it though `serde_json` streaming would not: text
/// that is not UTF-8 anywhere, or nesting deeper than `STREAM_MAX_DEPTH`.
/// A byte order mark at its start is left out, as [`load_str`] leaves it.
struct Checked<R> {
    inner: R,
    /// Whether the text is checked (else only the mark is left out).
    checks: bool,
    started: bool,
    /// The first bytes, read to look for the mark and not handed on yet.
    head: Vec<u8>,
    /// The start of a character the last read cut (at most 3 bytes).
    partial: Vec<u8>,
    in_string: bool,
    escaped: bool,
    depth: usize,
}

impl<R: std::io::Read> Checked<R> {
    fn new(inner: R) -> Checked<R> {
        Checked {
            inner,
            checks: true,
            started: false,
            head: Vec::new(),
            partial: Vec::new(),
            in_string: false,
            escaped: false,
            depth: 0,
        }
    }

    fn bom_only(inner: R) -> Checked<R> {
        Checked {
            checks: false,
            ..Checked::new(inner)
        }
    }

    fn refuse(what: &str) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
    }

    /// Checks bytes just read; `bytes` follow `self.partial`.
    fn check(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut rest = bytes;
        if !self.partial.is_empty() {
            // Complete the character the last read cut.
            let width = match self.partial[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let need = (width - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..need]);
            rest = &rest[need..];
            if self.partial.len() < width {
                return Ok(());
            }
            if std::str::from_utf8(&self.partial).is_err() {
                return Err(Self::refuse("the file is not UTF-8 text"));
            }
            self.partial.clear();
        }
        if let Err(e) = std::str::from_utf8(rest) {
            if e.error_len().is_some() {
                return Err(Self::refuse("the file is not UTF-8 text"));
            }
            self.partial.extend_from_slice(&rest[e.valid_up_to()..]);
        }
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            i += 1;
            if self.escaped {
                self.escaped = false;
                continue;
            }
            if self.in_string {
                // Most of the text is in strings: to their next quote or
                // backslash at once.
                match memchr::memchr2(b'"', b'\\', &bytes[i - 1..]) {
                    None => return Ok(()),
                    Some(at) => i += at,
                }
                match bytes.get(i - 1) {
                    Some(b'\\') => self.escaped = true,
                    _ => self.in_string = false,
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => {
                    self.depth += 1;
                    if self.depth > STREAM_MAX_DEPTH {
                        return Err(Self::refuse("the JSON is nested too deep"));
                    }
                }
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }
}

impl<R: std::io::Read> std::io::Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.started {
            self.started = true;
            let mut head = [0; 3];
            let mut got = 0;
            while got < head.len() {
                match self.inner.read(&mut head[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            if head[..got] != *b"\xEF\xBB\xBF" {
                self.head.extend_from_slice(&head[..got]);
            }
        }
        let n = if self.head.is_empty() {
            self.inner.read(buf)?
        } else {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            n
        };
        if !self.checks {
            return Ok(n);
        }
        if n == 0 && !self.partial.is_empty() {
            return Err(Self::refuse("the file is not UTF-8 text"));
        }
        self.check(&buf[..n])?;
        Ok(n)
    }
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
    // The whole file is checked here, so that no importer starts on a file
    // cut short; only its top-level keys are kept.
    let top: Shape = serde_json::from_str(text).map_err(|e| json_error(origin, text, &e))?;
    let format = detect(&top).map_err(|detail| ImportError::UnknownFormat {
        origin: origin.into(),
        detail,
    })?;
    let mut ctx = Context::new(origin, opts)?;
    match format {
        Format::SemgrepJson => semgrep_json::load(text, &mut ctx).map(|scan| vec![scan]),
        Format::Sarif => sarif::load(text, &mut ctx).map(|scan| vec![scan]),
        Format::ApiDump => api_dump::load(text, &mut ctx),
    }
}

fn detect(top: &Shape) -> Result<Format, String> {
    let Shape::Object(keys) = top else {
        return Err(format!("the top level is {}, not an object", top.kind()));
    };
    let kind_of = |key: &str| {
        keys.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, kind)| kind)
    };
    if kind_of("runs").is_some() {
        Ok(Format::Sarif)
    } else if kind_of("findings").is_some_and(|k| matches!(k, Shape::Array)) {
        Ok(Format::ApiDump)
    } else if kind_of("results").is_some() {
        Ok(Format::SemgrepJson)
    } else if kind_of("findings").is_some() {
        Ok(Format::ApiDump) // its typed reading names the wrong type
    } else {
        // The first keys in the file's order, each once, as a map lists them.
        let mut names: Vec<&str> = Vec::new();
        for (k, _) in keys {
            if !names.contains(&k.as_str()) {
                names.push(k);
            }
        }
        names.sort_unstable();
        let mut shown: Vec<String> = names.iter().take(6).map(|k| short_debug(k, 40)).collect();
        if names.len() > shown.len() {
            shown.push("…".into());
        }
        Err(if shown.is_empty() {
            "an empty object".into()
        } else {
            format!(
                "no \"results\", \"runs\" or \"findings\"; top-level keys: {}",
                shown.join(", ")
            )
        })
    }
}

/// What a JSON document is, without its content: for an object, its keys
/// and what each value is. Reading one checks the whole text (syntax and
/// nesting depth, as parsing it would) and keeps next to nothing.
#[derive(Debug)]
enum Shape {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object(Vec<(String, Shape)>),
}

impl Shape {
    fn kind(&self) -> &'static str {
        match self {
            Shape::Null => "null",
            Shape::Bool => "a boolean",
            Shape::Number => "a number",
            Shape::String => "a string",
            Shape::Array => "an array",
            Shape::Object(_) => "an object",
        }
    }
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor { top: true })
    }
}

/// Reads a value's shape; below the top level, objects keep no keys.
struct ShapeVisitor {
    top: bool,
}

/// A value below the top level, checked and dropped.
pub(super) struct Skipped;

impl<'de> serde::Deserialize<'de> for Skipped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Skipped, D::Error> {
        // `deserialize_any`, not `IgnoredAny`: serde_json then counts the
        // nesting depth as it does for any value.
        d.deserialize_any(ShapeVisitor { top: false })
            .map(|_| Skipped)
    }
}

impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Bool)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Number)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Number)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Number)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::String)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_none<E>(self) -> Result<Shape, E> {
        Ok(Shape::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<Skipped>()?.is_some() {}
        Ok(Shape::Array)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut keys = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.top {
                let value = map.next_value_seed(TopValue)?;
                keys.push((key.into_owned(), value));
            } else {
                map.next_value::<Skipped>()?;
            }
        }
        Ok(Shape::Object(keys))
    }
}

/// A top-level value: its shape, its own keys not kept.
struct TopValue;

impl<'de> serde::de::DeserializeSeed<'de> for TopValue {
    type Value = Shape;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(ShapeVisitor { top: false })
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

    /// A scanner's findings as the store takes them: those whose identity
    /// was derived (`derived`: a finding's place and its key) numbered
    /// across the file.
    pub fn scan_results(
        &self,
        mut findings: Vec<Finding>,
        identities: Vec<Identity>,
        derived: &[(usize, (String, u32, u32))],
        errors: Vec<ScanError>,
    ) -> ScanResults {
        let keys: Vec<_> = derived.iter().map(|(_, k)| k.clone()).collect();
        for ((i, _), id) in derived.iter().zip(number_keys(&keys)) {
            findings[*i].match_based_id = id;
        }
        ScanResults {
            origin: self.origin.clone(),
            source: ScanSource::Scanner,
            project: self.project.clone(),
            repository_url: None,
            git_ref: self.git_ref.clone(),
            warnings: self.warnings(findings.len()),
            source_root: self.tree.as_ref().map(|t| t.root.clone()),
            findings,
            identities,
            errors,
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// `text` read through `Checked`, `at_a_time` bytes a read.
    fn read_checked(text: &[u8], at_a_time: usize) -> std::io::Result<Vec<u8>> {
        let mut checked = Checked::new(text);
        let mut out = Vec::new();
        let mut buf = vec![0; at_a_time];
        loop {
            let n = checked.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn a_stream_is_checked_however_its_reads_cut_it() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let fine = format!(
            r#"{{"a": "é \" ✓ [[[ \\", "b": {}, "c": "🦀{{"}}"#,
            nested(STREAM_MAX_DEPTH - 1)
        );
        let deep = format!(r#"{{"a": "]]]]", "b": {}}}"#, nested(STREAM_MAX_DEPTH));
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), fine.as_bytes()].concat();
        let cut = &fine.as_bytes()[..fine.find('é').unwrap_or(0) + 1];
        for at_a_time in [1, 2, 3, 5, 64, 4096] {
            assert_eq!(
                read_checked(fine.as_bytes(), at_a_time).unwrap(),
                fine.as_bytes()
            );
            assert_eq!(read_checked(&with_bom, at_a_time).unwrap(), fine.as_bytes());
            assert!(
                read_checked(deep.as_bytes(), at_a_time).is_err(),
                "{at_a_time}"
            );
            let not_utf8 = fine.replacen('✓', "\u{1}", 1).replacen('\u{1}', "", 1);
            let mut bytes = not_utf8.into_bytes();
            bytes.insert(12, 0xFF);
            assert!(read_checked(&bytes, at_a_time).is_err(), "{at_a_time}");
            assert!(read_checked(cut, at_a_time).is_err(), "cut in a character");
        }
    }
}
