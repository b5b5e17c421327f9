//! Text fitted to columns, and ages: pure helpers shared by the views and
//! the detail pane's lines.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Cuts `text` to `width` display columns, marking the cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Like [`fit`], but keeps the end (for paths).
pub fn fit_start(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        tail.push(c);
        used += w;
    }
    let mut out = String::from(if width > 0 { "…" } else { "" });
    out.extend(tail.into_iter().rev());
    out
}

/// Pads or cuts to exactly `width` columns.
pub fn pad(text: &str, width: usize) -> String {
    let mut s = fit(text, width);
    let w = s.width();
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    s
}

/// Word-wraps one inert line to `width` columns; words longer than a line
/// are broken.
pub fn wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for word in line.split(' ') {
        let ww = word.width();
        if used > 0 && used + 1 + ww > width {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        if used > 0 {
            current.push(' ');
            used += 1;
        }
        if ww <= width - used {
            current.push_str(word);
            used += ww;
            continue;
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width {
                out.push(std::mem::take(&mut current));
                used = 0;
            }
            current.push(c);
            used += cw;
        }
    }
    out.push(current);
    out
}

/// Breaks styled pieces of one inert line into rows of at most `width`
/// columns, character by character (code keeps its spaces); always at
/// least one row.
pub fn chop<S: Copy>(pieces: &[(String, S)], width: usize) -> Vec<Vec<(String, S)>> {
    let width = width.max(1);
    let mut rows: Vec<Vec<(String, S)>> = vec![Vec::new()];
    let mut used = 0;
    for (text, style) in pieces {
        let mut current = String::new();
        for c in text.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > width && used > 0 {
                push_piece(&mut rows, std::mem::take(&mut current), *style);
                rows.push(Vec::new());
                used = 0;
            }
            current.push(c);
            used += cw;
        }
        push_piece(&mut rows, current, *style);
    }
    rows
}

fn push_piece<S>(rows: &mut [Vec<(String, S)>], text: String, style: S) {
    if let (false, Some(row)) = (text.is_empty(), rows.last_mut()) {
        row.push((text, style));
    }
}

/// The units an age is written in: up to this many seconds, this unit.
const AGE_UNITS: [(i64, i64, &str); 7] = [
    (60, 1, "s"),
    (3_600, 60, "m"),
    (86_400, 3_600, "h"),
    (86_400 * 14, 86_400, "d"),
    (86_400 * 60, 86_400 * 7, "w"),
    (86_400 * 730, 86_400 * 30, "mo"),
    (i64::MAX, 86_400 * 365, "y"),
];

/// Age as a reviewer reads it: 45s, 12m, 5h, 3d, 7w, 4mo, 2y.
pub fn age(now: i64, then: i64) -> String {
    let s = (now - then).max(0);
    let (_, unit, name) = AGE_UNITS
        .iter()
        .find(|(below, _, _)| s < *below)
        .copied()
        .unwrap_or(AGE_UNITS[AGE_UNITS.len() - 1]);
    format!("{}{name}", s / unit)
}

/// When [`age`]`(now, then)` next reads differently (unix seconds).
pub fn age_changes_at(now: i64, then: i64) -> i64 {
    if now < then {
        // Clock skew: "0s" until the time comes.
        return then + 1;
    }
    let s = now - then;
    let (below, unit, _) = AGE_UNITS
        .iter()
        .find(|(below, _, _)| s < *below)
        .copied()
        .unwrap_or(AGE_UNITS[AGE_UNITS.len() - 1]);
    let next = ((s / unit + 1) * unit).min(below);
    now + (next - s)
}

/// The first letter in upper case.
pub fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chop_breaks_code_at_the_width_and_keeps_spaces() {
        let pieces = [("ab  ".to_string(), 1), ("cdef".to_string(), 2)];
        let rows = chop(&pieces, 3);
        let text: Vec<String> = rows
            .iter()
            .map(|r| r.iter().map(|(t, _)| t.as_str()).collect())
            .collect();
        assert_eq!(text, ["ab ", " cd", "ef"]);
        assert_eq!(rows[1], [(" ".to_string(), 1), ("cd".to_string(), 2)]);
        assert_eq!(chop::<u8>(&[], 5), vec![Vec::new()]);
        // A wide character never splits, and never overflows a row.
        let wide = chop(&[("日本".to_string(), 0)], 3);
        assert_eq!(wide.len(), 2);
    }

    #[test]
    fn fitting_text() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit_start("src/app/views.py", 9), "…views.py");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(fit("日本語テキスト", 5), "日本…");
        assert_eq!(fit("x", 0), "");
    }

    #[test]
    fn ages() {
        assert_eq!(age(100, 100), "0s");
        assert_eq!(age(7_200, 0), "2h");
        assert_eq!(age(86_400 * 3, 0), "3d");
        assert_eq!(age(86_400 * 100, 0), "3mo");
        assert_eq!(age(0, 100), "0s", "clock skew never shows a negative age");
    }

    #[test]
    fn an_age_knows_when_it_moves_on() {
        for (now, then) in [
            (100, 100),
            (159, 100),
            (7_200, 0),
            (7_199, 0),
            (86_400 * 14 - 1, 0),
            (86_400 * 100, 0),
            (0, 100),
        ] {
            let at = age_changes_at(now, then);
            assert!(at > now, "{now} {then}");
            assert_eq!(age(at - 1, then), age(now, then), "{now} {then}");
            assert_ne!(age(at, then), age(now, then), "{now} {then}");
        }
    }

    #[test]
    fn wraps_words_and_breaks_long_ones() {
        assert_eq!(
            wrap("the quick brown fox", 9),
            vec!["the quick", "brown fox"]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), vec![""]);
    }
}
