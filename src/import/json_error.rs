//! Where a file went wrong: serde_json's errors turned into the file's
//! line and column and the field's path (`results[3].start.line`), in the
//! words of JSON. Tolerant of anything: it only reads the text.

use super::ImportError;

/// How deep serde_json lets JSON nest before it refuses it.
const MAX_JSON_DEPTH: usize = 128;

pub(super) fn json_error(origin: &str, text: &str, e: &serde_json::Error) -> ImportError {
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

pub(super) fn short_debug(text: &str, max: usize) -> String {
    let short: String = text.chars().take(max).collect();
    let mut out = format!("{short:?}");
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

/// 1-based line and column of a byte offset, as serde_json counts them.
pub(super) fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
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
}
