//! Identities for scanner output that hides its fingerprints ("requires
//! login"): a key from the rule, the path and the matched code, numbered
//! among equal keys. Only a new finding takes it; a rescan's results are
//! matched to known findings by their evidence (`domain::identity`).

use sha2::{Digest, Sha256};
use std::collections::HashMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
