//! The scanned source tree, read for code context and for what
//! recognises a match on a rescan. Nothing outside the root is read; large
//! files are skipped and the cache is bounded.

use super::ImportError;
use super::identity::Span;
use crate::domain::{CodeContext, code_hash};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

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
    pub(super) root: PathBuf,
    cache: HashMap<String, Option<Rc<SourceFile>>>,
    cached_bytes: usize,
    /// How many scanned paths were found under the root.
    pub(super) found: usize,
}

impl SourceTree {
    pub(super) fn open(root: &Path) -> Result<SourceTree, ImportError> {
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
    pub(super) fn file(&mut self, path: &str) -> Option<Rc<SourceFile>> {
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

    pub(super) fn context(&self, line: u32, end_line: u32) -> Option<CodeContext> {
        self.context_around(line, end_line, CONTEXT_LINES, MAX_CONTEXT_LINES)
    }

    /// `around` lines before and after the match, at most `max` lines.
    fn context_around(
        &self,
        line: u32,
        end_line: u32,
        around: u32,
        max: usize,
    ) -> Option<CodeContext> {
        if line == 0 || line > self.lines() {
            return None;
        }
        let end_line = end_line.clamp(line, self.lines());
        let first = line.saturating_sub(around).max(1);
        let last = end_line.saturating_add(around).min(self.lines());
        let lines = (first..=last)
            .take(max)
            .map(|n| cap_line(&String::from_utf8_lossy(self.line(n))))
            .collect();
        Some(CodeContext {
            start_line: first,
            lines,
        })
    }

    /// Hashes of the matched lines and of the two nearest non-blank lines
    /// before and after them (`domain::identity`).
    pub(super) fn lines_and_around(&self, line: u32, end_line: u32) -> Option<(u64, u64, u64)> {
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
    pub(super) fn matched_text(&self, span: &Span) -> Option<String> {
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

/// The code around a finding, read again from its source tree: `around`
/// lines before and after the match, at most `max` lines. None when the
/// tree or the file is gone (or too large to read).
pub fn code_around(
    root: &Path,
    path: &str,
    line: u32,
    end_line: u32,
    around: u32,
    max: usize,
) -> Option<CodeContext> {
    let mut tree = SourceTree::open(root).ok()?;
    tree.file(path)?.context_around(line, end_line, around, max)
}

/// A finding's file in its source tree, as it is now: its path relative to
/// the tree's root (with `/`) and its bytes. None when the tree or the file
/// is gone, too large, or outside the tree.
pub fn file_in_tree(root: &Path, path: &str) -> Option<(String, Vec<u8>)> {
    let tree = SourceTree::open(root).ok()?;
    let found = tree.find(path)?;
    let relative = found.strip_prefix(&tree.root).ok()?;
    let relative: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if std::fs::metadata(&found).ok()?.len() > MAX_SOURCE_BYTES {
        return None;
    }
    Some((relative.join("/"), std::fs::read(&found).ok()?))
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
