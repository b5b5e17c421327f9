//! Untrusted text (findings, files, the backend) made inert for the terminal.
//!
//! Every string from outside goes through [`inert`] before it becomes a
//! span: control characters become visible control pictures, and invisible
//! characters that can reorder or hide text (bidi overrides, zero-width
//! characters) become visible `<U+XXXX>` markers, so no escape sequence ever
//! reaches the terminal and no Trojan-Source trick goes unseen.

use std::borrow::Cow;

const TAB_WIDTH: usize = 4;

/// One display line: no control character, escape, or invisible reordering
/// survives. Tabs become spaces; newlines become a visible ␤.
pub fn inert(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_inert(&mut out, c);
    }
    Cow::Owned(out)
}

/// Several display lines: splits on newlines, then makes each line inert.
pub fn inert_lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.split('\n')
        .map(|l| inert(l.strip_suffix('\r').unwrap_or(l)))
}

/// JSON allows C1 controls (U+0080–U+009F), bidi overrides, zero-width and
/// other invisible characters raw in strings; a reviewer piping the output
/// to a terminal would get them raw. Each becomes a `\uXXXX` escape, which
/// parses back to the same string.
///
/// Only characters from U+007F up are escaped, and serde_json writes every
/// one of those inside a string literal (structure, numbers and whitespace
/// are ASCII, and so are its escapes), so the result is the same JSON.
pub fn escape_hidden_json(json: &str) -> Cow<'_, str> {
    let hidden = |c: char| c >= '\u{7f}' && needs_marking(c);
    // Nearly all JSON is ASCII below DEL: only the characters that start
    // at a byte from 0x7f up are looked at, and the text between them is
    // copied whole, and only once one of them is hidden.
    use std::fmt::Write as _;
    let mut escaped: Option<String> = None;
    // `json[..copied]` is in `escaped`.
    let mut copied = 0;
    let mut at = 0;
    while let Some(start) = first_from_del(json.as_bytes(), at) {
        // Bytes below 0x7f are whole characters: this one starts one.
        let Some(c) = json[start..].chars().next() else {
            break;
        };
        at = start + c.len_utf8();
        if hidden(c) {
            let out = escaped.get_or_insert_with(|| String::with_capacity(json.len() + 16));
            out.push_str(&json[copied..start]);
            for unit in c.encode_utf16(&mut [0; 2]) {
                let _ = write!(out, "\\u{unit:04x}");
            }
            copied = at;
        }
    }
    match escaped {
        None => Cow::Borrowed(json),
        Some(mut out) => {
            out.push_str(&json[copied..]);
            Cow::Owned(out)
        }
    }
}

/// Whether every byte of `bytes` is below 0x7f: ASCII that
/// [`escape_hidden_json`] leaves as it is.
pub fn below_del(bytes: &[u8]) -> bool {
    first_from_del(bytes, 0).is_none()
}

/// The first byte from `from` on that is 0x7f or above, eight at a time.
fn first_from_del(bytes: &[u8], from: usize) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let rest = bytes.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut at = from;
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        // A byte from 0x80 up sets its high bit; 0x7f sets it once 1 is
        // added (bytes below 0x80 carry into no other byte).
        if (w | w.wrapping_add(ONES)) & HIGH != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b >= 0x7f).map(|i| at + i)
}

fn is_plain(c: char) -> bool {
    !needs_marking(c)
}

/// A character [`inert`] does not let through as it is: a control
/// character, or an invisible one that can reorder or hide text.
pub fn needs_marking(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Format characters that change how text around them is shown.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
        | '\u{2028}' | '\u{2029}' // line and paragraph separators
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{FEFF}'              // zero-width no-break space
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        | '\u{061C}'              // Arabic letter mark
        | '\u{00AD}'              // soft hyphen
        | '\u{034F}'              // combining grapheme joiner
        | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
        | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
        | '\u{180E}'              // Mongolian vowel separator
        | '\u{E0000}'..='\u{E007F}' // tags: invisible ASCII
    )
}

fn push_inert(out: &mut String, c: char) {
    match c {
        '\t' => out.extend(std::iter::repeat_n(' ', TAB_WIDTH)),
        '\n' => out.push('␤'),
        // C0 controls and DEL have Unicode "control pictures": ␛ for ESC.
        '\0'..='\u{1F}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('�')),
        '\u{7F}' => out.push('␡'),
        c if c.is_control() || is_invisible(c) => {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(inert("cursor.execute(q)"), Cow::Borrowed(_)));
    }

    #[test]
    fn escape_sequences_become_visible() {
        let osc = "ok\u{1b}]0;pwned\u{7}done";
        assert_eq!(inert(osc), "ok␛]0;pwned␇done");
        let csi = "\u{9b}2J";
        assert_eq!(inert(csi), "<U+009B>2J");
        assert!(!inert("a\u{1b}[31mred").contains('\u{1b}'));
    }

    #[test]
    fn bidi_and_zero_width_are_marked() {
        assert_eq!(inert("admin\u{202E}gpj.exe"), "admin<U+202E>gpj.exe");
        assert_eq!(inert("a\u{200B}b"), "a<U+200B>b");
        assert_eq!(inert("pass\u{00AD}word"), "pass<U+00AD>word");
        assert_eq!(inert("x\u{3164}y"), "x<U+3164>y");
        assert_eq!(inert("ok\u{E0041}\u{E0042}"), "ok<U+E0041><U+E0042>");
    }

    #[test]
    fn tabs_and_newlines() {
        assert_eq!(inert("\tx"), "    x");
        let lines: Vec<_> = inert_lines("a\r\nb\u{1b}").collect();
        assert_eq!(lines, vec!["a", "b␛"]);
    }

    /// Every hidden character escaped, wherever it falls among the bytes
    /// looked at eight at a time; the rest as it was.
    #[test]
    fn hidden_characters_in_json_are_escaped_wherever_they_are() {
        let plain = r#"{"a":"x y","b":[1,2]}"#;
        assert!(matches!(escape_hidden_json(plain), Cow::Borrowed(_)));
        assert!(below_del(plain.as_bytes()) && below_del(b""));
        let shown = r#"{"m":"é ✓ 🦀 ~"}"#;
        assert!(matches!(escape_hidden_json(shown), Cow::Borrowed(_)));
        for hidden in [
            '\u{7f}', '\u{85}', '\u{9b}', '\u{202e}', '\u{200b}', '\u{feff}',
        ] {
            for pad in 0..17 {
                let before = "a".repeat(pad);
                let text = format!("{before}{hidden}é{hidden}{before}");
                let want: String = text
                    .chars()
                    .map(|c| match c {
                        c if c == hidden => format!("\\u{:04x}", c as u32),
                        c => c.to_string(),
                    })
                    .collect();
                assert_eq!(escape_hidden_json(&text), want, "{pad} {hidden:?}");
                assert!(!below_del(text.as_bytes()), "{pad} {hidden:?}");
            }
        }
    }
}
