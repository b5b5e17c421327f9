//! What the commands print for scripts: JSON in which no character that a
//! terminal would act on or hide arrives raw, and the JSON a command prints
//! when it fails.

use anyhow::Result;
use serde::Serialize;
use std::io::Write as _;

/// `value` as indented JSON, its non-printing characters escaped.
pub fn to_pretty(value: &impl Serialize) -> Result<String> {
    Ok(escaped(serde_json::to_string_pretty(value)?))
}

/// `value` as JSON on one line, its non-printing characters escaped.
pub fn to_line(value: &impl Serialize) -> Result<String> {
    Ok(escaped(serde_json::to_string(value)?))
}

/// `json` with its non-printing characters escaped, copied only if any is.
fn escaped(json: String) -> String {
    match escape_hidden(&json) {
        std::borrow::Cow::Borrowed(_) => json,
        std::borrow::Cow::Owned(text) => text,
    }
}

/// Prints `value` as indented JSON on stdout.
pub fn print(value: &impl Serialize) -> Result<()> {
    let text = to_pretty(value)?;
    writeln!(std::io::stdout(), "{text}")?;
    Ok(())
}

pub use crate::text::escape_hidden_json as escape_hidden;

/// Writes all of `slices` to `out`, in as few system calls as it takes
/// (`Write::write_all_vectored` is not stable yet).
pub fn write_all_vectored(
    out: &mut impl std::io::Write,
    mut slices: &mut [std::io::IoSlice<'_>],
) -> std::io::Result<()> {
    use std::io::{ErrorKind, IoSlice};
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What `--json` prints on stdout when a command fails (its message also
/// goes to stderr): `{"error": "…"}`, or, for the commands that list or
/// import, the usual shape holding nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `{"error"}`.
    Plain,
    /// `{"imported": [], "scanner_errors": [], "warnings": [], "error"}`.
    Import,
    /// `{"findings": [], "error"}`.
    Findings,
    /// `{"memories": [], "error"}`.
    Memories,
}

/// `{"error": "…"}`.
#[derive(Serialize)]
pub struct Failed<'a> {
    pub error: &'a str,
}

impl Failure {
    /// Prints the failure's JSON; a reader gone already changes nothing.
    pub fn print(self, message: &str) {
        let printed = match self {
            Failure::Plain => print(&Failed { error: message }),
            Failure::Import => print(&super::import::ImportOutput::failed(message)),
            Failure::Findings => print(&super::findings::FindingsFailed::new(message)),
            Failure::Memories => print(&super::memories::ListOutput::failed(message)),
        };
        let _ = printed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn hidden_characters_are_escaped_and_parse_back() {
        let text = "a\u{9b}31m b\u{202e}c\u{200b}d\u{feff}\u{7f} é ✓ 🦀 \u{2066}x\u{2069}\u{85}";
        let value = serde_json::json!({ "message": text, "n": 1, "key\u{202e}": [text] });
        for json in [to_pretty(&value).unwrap(), to_line(&value).unwrap()] {
            for bad in [
                '\u{9b}', '\u{202e}', '\u{200b}', '\u{feff}', '\u{7f}', '\u{2066}', '\u{85}',
            ] {
                assert!(!json.contains(bad), "{bad:?} raw in {json}");
            }
            assert!(json.contains("\\u009b31m"), "{json}");
            assert!(json.contains("\\u202e"), "{json}");
            assert!(json.contains("é ✓ 🦀"), "printable text stays: {json}");
            let back: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn plain_json_is_borrowed() {
        assert!(matches!(
            escape_hidden("{\"a\": \"é\\n\"}\n"),
            Cow::Borrowed(_)
        ));
    }
}
