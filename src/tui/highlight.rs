//! Syntax highlighting of a finding's code context: each line cut into
//! spans of a kind (keyword, string, comment…) that the theme colours.
//! syntect parses; sift only keeps the kind of each span, so the colours
//! stay the console's sixteen ANSI ones (and none under NO_COLOR).
//!
//! Parsing is slow next to a key (the grammars load once, in tens of
//! milliseconds), so it runs on the store's thread after a finding loads
//! and its result is cached there (see `runtime::StoreWorker`).

use std::ops::Range;
use std::sync::OnceLock;
use syntect::parsing::{ParseState, Scope, ScopeStack, ScopeStackOp, SyntaxReference, SyntaxSet};

/// What a span of code is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Keyword,
    Str,
    Comment,
    Number,
    Constant,
    Function,
    Type,
}

/// Per line of the code context, the spans that have a kind (byte ranges
/// of the line as stored; text between them is plain).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Highlight {
    pub lines: Vec<Vec<(Range<usize>, Token)>>,
}

/// The kinds, by the first scope name they start: the first match wins, so
/// the more precise come first.
const KINDS: &[(&str, Token)] = &[
    ("comment", Token::Comment),
    ("string", Token::Str),
    ("constant.numeric", Token::Number),
    ("constant.character", Token::Str),
    ("constant.language", Token::Constant),
    ("entity.name.function", Token::Function),
    ("support.function", Token::Function),
    ("variable.function", Token::Function),
    ("meta.function-call", Token::Function),
    ("entity.name.type", Token::Type),
    ("entity.name.class", Token::Type),
    ("support.type", Token::Type),
    ("support.class", Token::Type),
    ("storage.type", Token::Keyword),
    ("storage.modifier", Token::Keyword),
    ("keyword.operator", Token::Keyword),
    ("keyword", Token::Keyword),
];

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Loads the grammars now (they load once, on first use otherwise).
pub fn warm() {
    syntaxes();
    kinds();
}

fn kinds() -> &'static [(Scope, Token)] {
    static KINDS_PARSED: OnceLock<Vec<(Scope, Token)>> = OnceLock::new();
    KINDS_PARSED.get_or_init(|| {
        KINDS
            .iter()
            .filter_map(|(name, token)| Some((Scope::new(name).ok()?, *token)))
            .collect()
    })
}

/// The grammar for a file, by its extension (a few common ones the
/// default grammars lack map to their nearest kin).
fn syntax_for(path: &str) -> Option<&'static SyntaxReference> {
    let set = syntaxes();
    let file = path.rsplit('/').next().unwrap_or(path);
    let ext = file.rsplit_once('.').map(|(_, e)| e)?;
    let ext = match ext {
        "ts" | "tsx" | "mjs" | "cjs" | "jsx" => "js",
        "kt" | "kts" => "java",
        "tf" | "hcl" => "json",
        other => other,
    };
    set.find_syntax_by_extension(ext)
        .filter(|s| s.name != "Plain Text")
}

/// The spans of `lines` (a file's lines from the same place on), or None
/// when sift has no grammar for `path` or the grammar fails on them.
pub fn highlight(path: &str, lines: &[String]) -> Option<Highlight> {
    let syntax = syntax_for(path)?;
    let set = syntaxes();
    let mut state = ParseState::new(syntax);
    let mut stack = ScopeStack::new();
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        // The "newlines" grammars expect each line with its end.
        let text = format!("{line}\n");
        let ops = state.parse_line(&text, set).ok()?;
        let mut spans: Vec<(Range<usize>, Token)> = Vec::new();
        let mut at = 0;
        for (pos, op) in ops.into_iter().chain([(text.len(), ScopeStackOp::Noop)]) {
            let end = pos.min(line.len());
            if end > at {
                if let Some(token) = kind_of(&stack) {
                    match spans.last_mut() {
                        Some((r, t)) if *t == token && r.end == at => r.end = end,
                        _ => spans.push((at..end, token)),
                    }
                }
                at = end;
            }
            stack.apply(&op).ok()?;
        }
        out.push(spans);
    }
    Some(Highlight { lines: out })
}

/// The kind of the innermost scope that has one.
fn kind_of(stack: &ScopeStack) -> Option<Token> {
    stack.as_slice().iter().rev().find_map(|scope| {
        kinds()
            .iter()
            .find(|(prefix, _)| prefix.is_prefix_of(*scope))
            .map(|(_, token)| *token)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_in(path: &str, line: &str) -> Vec<(String, Token)> {
        let h = highlight(path, &[line.to_string()]).expect("a grammar");
        h.lines[0]
            .iter()
            .map(|(r, t)| (line[r.clone()].to_string(), *t))
            .collect()
    }

    #[test]
    fn python_keywords_strings_and_comments() {
        let spans = kinds_in("app/views.py", "def f(x): return 'a' # why");
        assert!(spans.contains(&("def".into(), Token::Keyword)), "{spans:?}");
        assert!(
            spans
                .iter()
                .any(|(s, t)| s.contains('a') && *t == Token::Str)
        );
        assert!(
            spans
                .iter()
                .any(|(s, t)| s.contains("why") && *t == Token::Comment)
        );
    }

    #[test]
    fn spans_stay_inside_the_line_and_in_order() {
        let lines: Vec<String> = ["<?php", "$q = \"SELECT * FROM t WHERE id=\" . $_GET['id'];"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let h = highlight("vulnerabilities/sqli/low.php", &lines).expect("php");
        for (line, spans) in lines.iter().zip(&h.lines) {
            let mut at = 0;
            for (r, _) in spans {
                assert!(r.start >= at && r.end <= line.len() && r.start < r.end);
                assert!(line.is_char_boundary(r.start) && line.is_char_boundary(r.end));
                at = r.end;
            }
        }
        assert!(h.lines[1].iter().any(|(_, t)| *t == Token::Str));
    }

    #[test]
    fn unknown_files_are_left_plain() {
        assert!(highlight("README", &["plain".into()]).is_none());
        assert!(highlight("notes.unknownext", &["plain".into()]).is_none());
    }
}
