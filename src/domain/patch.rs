//! A fix as a change to a file: the matched lines replaced, written as a
//! unified diff that `git apply` accepts. Pure: the caller reads the file.

use std::fmt::Write as _;

/// Lines of unchanged code shown around a change, as `diff -u` does.
const CONTEXT: usize = 3;

/// Why a fix cannot be written as a change to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The file has fewer lines than the finding names.
    OutOfRange { lines: usize },
    /// The lines are not what the fix was written for: the code changed.
    Stale,
    /// The fix changes nothing.
    NoChange,
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatchError::OutOfRange { lines } => write!(
                f,
                "the file has {lines} lines, fewer than the finding names: it changed since the scan"
            ),
            PatchError::Stale => f.write_str(
                "the matched lines are no longer what the fix was written for: the code changed",
            ),
            PatchError::NoChange => f.write_str("the fix leaves the code as it is"),
        }
    }
}

/// The text of lines `line..=end_line` (1-based) of `file`, without their
/// ends of line, joined with `\n`; None when the file is shorter.
pub fn lines_of(file: &str, line: u32, end_line: u32) -> Option<String> {
    let lines: Vec<&str> = file.split_inclusive('\n').collect();
    let (from, to) = range(line, end_line);
    let picked = lines.get(from..=to)?;
    Some(
        picked
            .iter()
            .map(|l| strip_eol(l))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The rule's own fix (semgrep's `fix`), which replaces the matched span
/// (columns are 1-based byte offsets, as semgrep gives them), as the new
/// text of the matched lines.
pub fn span_replaced(
    matched_lines: &str,
    column: u32,
    end_line_offset: u32,
    end_column: u32,
    fix: &str,
) -> Option<String> {
    let lines: Vec<&str> = matched_lines.split('\n').collect();
    let first = lines.first()?;
    let last = lines.get(end_line_offset as usize)?;
    let start = (column as usize).saturating_sub(1);
    let end = (end_column as usize).saturating_sub(1);
    if !first.is_char_boundary(start.min(first.len()))
        || !last.is_char_boundary(end.min(last.len()))
    {
        return None;
    }
    let before = first.get(..start.min(first.len()))?;
    let after = last.get(end.min(last.len())..)?;
    Some(format!("{before}{fix}{after}"))
}

/// Gives `fix` the indentation of the code it replaces when the model
/// wrote it flush left: a fix must drop into place.
pub fn reindent(fix: &str, replaced: &str) -> String {
    let indent_of = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let fix_indent = fix
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(indent_of)
        .min()
        .unwrap_or(0);
    let Some(first) = replaced.lines().find(|l| !l.trim().is_empty()) else {
        return fix.to_string();
    };
    let want = &first[..indent_of(first)];
    if fix_indent > 0 || want.is_empty() {
        return fix.to_string();
    }
    fix.lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("{want}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The unified diff that replaces lines `line..=end_line` of `file` (at
/// `path`, relative to the tree `git apply` runs in) with `new_text`.
/// `expected` is what those lines held when the fix was written: when they
/// hold something else now, the fix is stale and no diff is made.
pub fn unified_diff(
    path: &str,
    file: &str,
    line: u32,
    end_line: u32,
    expected: Option<&str>,
    new_text: &str,
) -> Result<String, PatchError> {
    let lines: Vec<&str> = file.split_inclusive('\n').collect();
    let (from, to) = range(line, end_line);
    if to >= lines.len() {
        return Err(PatchError::OutOfRange { lines: lines.len() });
    }
    let old: Vec<&str> = lines[from..=to].iter().map(|l| strip_eol(l)).collect();
    if let Some(expected) = expected
        && trimmed_lines(expected) != old.iter().map(|l| l.trim_end()).collect::<Vec<_>>()
    {
        return Err(PatchError::Stale);
    }
    let new: Vec<&str> = new_text
        .strip_suffix('\n')
        .unwrap_or(new_text)
        .split('\n')
        .collect();
    // Lines the fix keeps are context, not change.
    let same_head = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let same_tail = old[same_head..]
        .iter()
        .rev()
        .zip(new[same_head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (change_from, change_to) = (from + same_head, to + 1 - same_tail); // [from, to)
    let new_changed = &new[same_head..new.len() - same_tail];
    if change_from == change_to && new_changed.is_empty() {
        return Err(PatchError::NoChange);
    }
    let eol = if lines[from].ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let ctx_from = change_from.saturating_sub(CONTEXT);
    let ctx_to = (change_to + CONTEXT).min(lines.len()); // exclusive
    let old_count = ctx_to - ctx_from;
    let new_count = old_count - (change_to - change_from) + new_changed.len();
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let start = |count: usize| if count == 0 { ctx_from } else { ctx_from + 1 };
    let _ = writeln!(
        out,
        "@@ -{},{old_count} +{},{new_count} @@",
        start(old_count),
        start(new_count)
    );
    let last = lines.len() - 1;
    let no_eol = |i: usize| i == last && !lines[i].ends_with('\n');
    for (i, l) in lines.iter().enumerate().take(change_from).skip(ctx_from) {
        push_line(&mut out, ' ', l, no_eol(i));
    }
    for (i, l) in lines.iter().enumerate().take(change_to).skip(change_from) {
        push_line(&mut out, '-', l, no_eol(i));
    }
    // The new lines end as the old ones did: the last one without an end
    // of line only when the file ended there without one.
    let ends_file_bare = change_to > 0 && no_eol(change_to - 1) && change_to == lines.len();
    for (k, l) in new_changed.iter().enumerate() {
        let bare = ends_file_bare && k + 1 == new_changed.len();
        let text = if bare {
            l.to_string()
        } else {
            format!("{l}{eol}")
        };
        push_line(&mut out, '+', &text, bare);
    }
    for (i, l) in lines.iter().enumerate().take(ctx_to).skip(change_to) {
        push_line(&mut out, ' ', l, no_eol(i));
    }
    Ok(out)
}

fn push_line(out: &mut String, mark: char, line: &str, no_eol: bool) {
    out.push(mark);
    out.push_str(line);
    if no_eol {
        out.push_str("\n\\ No newline at end of file\n");
    } else if !line.ends_with('\n') {
        out.push('\n');
    }
}

fn range(line: u32, end_line: u32) -> (usize, usize) {
    let from = (line.max(1) - 1) as usize;
    let to = (end_line.max(line).max(1) - 1) as usize;
    (from, to)
}

fn strip_eol(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn trimmed_lines(text: &str) -> Vec<&str> {
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.trim_end())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "import os\n\ndef run(cmd):\n    os.system(cmd)\n    return 0\n";

    #[test]
    fn a_replaced_line_is_a_hunk_with_context() {
        let diff = unified_diff(
            "app/run.py",
            FILE,
            4,
            4,
            Some("    os.system(cmd)"),
            "    subprocess.run(shlex.split(cmd), check=True)",
        )
        .unwrap();
        assert_eq!(
            diff,
            "--- a/app/run.py\n+++ b/app/run.py\n@@ -1,5 +1,5 @@\n import os\n \n def run(cmd):\n\
             -    os.system(cmd)\n+    subprocess.run(shlex.split(cmd), check=True)\n     return 0\n"
        );
    }

    #[test]
    fn changed_code_makes_the_fix_stale() {
        let err = unified_diff("a.py", FILE, 4, 4, Some("    os.popen(cmd)"), "x").unwrap_err();
        assert_eq!(err, PatchError::Stale);
        let err = unified_diff("a.py", FILE, 9, 9, None, "x").unwrap_err();
        assert_eq!(err, PatchError::OutOfRange { lines: 5 });
        let same = unified_diff("a.py", FILE, 4, 4, None, "    os.system(cmd)").unwrap_err();
        assert_eq!(same, PatchError::NoChange);
    }

    #[test]
    fn a_last_line_without_newline_stays_without() {
        let diff = unified_diff("a.py", "a\nb", 2, 2, None, "c").unwrap();
        assert_eq!(
            diff,
            "--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n\
             +c\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn crlf_files_keep_their_line_ends_and_more_lines_may_come() {
        let diff = unified_diff("w.cs", "a\r\nb\r\nc\r\n", 2, 2, None, "b1\nb2").unwrap();
        assert_eq!(
            diff,
            "--- a/w.cs\n+++ b/w.cs\n@@ -1,3 +1,4 @@\n a\r\n-b\r\n+b1\r\n+b2\r\n c\r\n"
        );
    }

    #[test]
    fn a_flush_left_fix_takes_the_codes_indentation() {
        assert_eq!(
            reindent("a()\nif x:\n    b()", "    old()"),
            "    a()\n    if x:\n        b()"
        );
        assert_eq!(reindent("    a()", "    old()"), "    a()");
    }

    #[test]
    fn the_rules_fix_replaces_the_span() {
        let line = "    cur.execute(\"SELECT \" + q)";
        let new = span_replaced(line, 5, 0, 32, "cur.execute(\"SELECT ?\", (q,))").unwrap();
        assert_eq!(new, "    cur.execute(\"SELECT ?\", (q,))");
        assert_eq!(
            lines_of(FILE, 3, 4).unwrap(),
            "def run(cmd):\n    os.system(cmd)"
        );
    }
}
