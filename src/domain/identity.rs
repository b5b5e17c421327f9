//! Which known finding a scan's result is, so that a decision stays on the
//! code it was made for (README "How a finding keeps its identity").
//!
//! Semgrep's own fingerprints, when the scanner writes them, name a finding
//! outright. Without them ("requires login"), a rescan's results are matched
//! to the findings already known by what each one carries: rule and path
//! (which must agree), the matched lines and the lines around them (with a
//! source tree or the scanner's snippet), the message, the position and the
//! match's length. The assignment that keeps the most evidence together
//! wins, the way code-scanning platforms follow alerts across commits; the
//! order of repeats never decides on its own.
//!
//! Rules that keep a decision on its code:
//! - when both sides know the matched lines, they must be the same (whitespace
//!   aside): changed code is a new finding, and the old one is fixed;
//! - when the code is unknown on a side, the message stands in for it;
//! - among equal code, the lines around the match (those after it most)
//!   and then the position decide which is which.

use std::collections::{HashMap, HashSet};

/// What a scan says about where a match is and what it looks like.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    pub line: u32,
    pub column: u32,
    /// Bytes from the match's start to its end, when the scanner gave offsets.
    pub length: Option<u32>,
    /// The matched text, whitespace collapsed (from the source tree).
    pub snippet: Option<u64>,
    /// The whole matched lines, whitespace collapsed (from the source tree
    /// or the scanner's own copy of them).
    pub lines: Option<u64>,
    /// The two nearest non-blank lines before the match, and after it.
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// A known finding or a scan's result, as the matching sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub rule: &'a str,
    pub path: &'a str,
    pub message: &'a str,
    pub evidence: Evidence,
}

/// A stable 64-bit hash of code text with whitespace collapsed, so that
/// re-indenting or re-wrapping keeps a finding's identity. FNV-1a: the
/// value is stored, so it must never change between versions.
pub fn code_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut byte = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    let mut first = true;
    for part in parts {
        for word in part.split_whitespace() {
            if !first {
                byte(b' ');
            }
            first = false;
            word.bytes().for_each(&mut byte);
        }
    }
    h
}

/// A pair below this score is not the same finding.
const THRESHOLD: f64 = 3.0;
/// Above this many pairs in one (rule, path) group, a greedy assignment
/// replaces the optimal one (which costs the cube of the group's size).
const OPTIMAL_MAX: usize = 250;

/// How much evidence says that `known` and `result` are one finding; `None`
/// when they cannot be (another rule or path, or other code).
fn score(known: &Candidate, result: &Candidate) -> Option<f64> {
    if known.rule != result.rule {
        return None;
    }
    let (k, r) = (&known.evidence, &result.evidence);
    let both = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| a == b);
    let same_message = known.message == result.message;
    let mut s = 0.0;
    match both(k.lines, r.lines) {
        Some(false) => return None, // the code changed: another finding
        Some(true) => s += 3.0,
        None if same_message => s += 2.5, // the message stands in for the code
        None => {}
    }
    if same_message {
        s += 0.5;
    }
    if both(k.snippet, r.snippet) == Some(true) {
        s += 0.5;
    }
    // The code after a match weighs more than the code before it: when a
    // match goes with the code that follows it (an annotation and its
    // method), the next match inherits the lines before the one that went.
    let (before, after) = (both(k.before, r.before), both(k.after, r.after));
    if before == Some(true) {
        s += 1.5;
    }
    if after == Some(true) {
        s += 3.0;
    }
    // Position decides last: among equal code and context, the nearest.
    let distance = k.line.abs_diff(r.line);
    s += 1.0 / (1.0 + f64::from(distance) / 3.0);
    if distance == 0 && k.column == r.column {
        s += 0.25;
    }
    match both(k.length.map(u64::from), r.length.map(u64::from)) {
        Some(true) => s += 0.5,
        Some(false) if k.length.unwrap_or(0).abs_diff(r.length.unwrap_or(0)) <= 2 => s += 0.25,
        _ => {}
    }
    // Same code in a new place, with nothing around it the same: the code
    // was copied there, not moved.
    if before == Some(false) && after == Some(false) && distance > 3 {
        s -= 1.5;
    }
    (s >= THRESHOLD).then_some(s)
}

/// For each result, the index of the known finding it is, if any. Each
/// known finding is matched at most once. `paths` maps a result's path to
/// the known findings' way of writing it (see [`PathMap`]).
pub fn match_results(
    known: &[Candidate],
    results: &[Candidate],
    paths: &PathMap,
) -> Vec<Option<usize>> {
    // Known findings by (rule, path): only these can be a result.
    let mut groups: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (i, k) in known.iter().enumerate() {
        groups.entry((k.rule, k.path)).or_default().push(i);
    }
    let mut out = vec![None; results.len()];
    let mut by_group: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (j, r) in results.iter().enumerate() {
        let path = paths.to_known(r.path);
        if let Some((key, _)) = groups.get_key_value(&(r.rule, path)) {
            by_group.entry(*key).or_default().push(j);
        }
    }
    for (key, result_ids) in by_group {
        let known_ids = &groups[&key];
        let weights: Vec<Vec<f64>> = known_ids
            .iter()
            .map(|&i| {
                result_ids
                    .iter()
                    .map(|&j| score(&known[i], &results[j]).unwrap_or(0.0))
                    .collect()
            })
            .collect();
        let pairs = if known_ids.len().max(result_ids.len()) <= OPTIMAL_MAX {
            best_assignment(&weights)
        } else {
            greedy_assignment(&weights)
        };
        for (a, b) in pairs {
            out[result_ids[b]] = Some(known_ids[a]);
        }
    }
    out
}

/// How a scan writes paths compared with the known findings: the same tree
/// scanned from its parent folder (`webapp/app/x.py`) or from its root
/// (`app/x.py`) differs by a prefix. The prefix change that explains the
/// most paths is used, and only for paths it turns into known ones.
#[derive(Debug, Clone, Default)]
pub struct PathMap {
    /// Strip this from a result's path…
    strip: String,
    /// …and put this in front.
    add: String,
    known: HashSet<String>,
}

impl PathMap {
    pub fn new<'a>(
        known: impl IntoIterator<Item = &'a str>,
        results: impl IntoIterator<Item = &'a str>,
    ) -> PathMap {
        let known: HashSet<String> = known.into_iter().map(str::to_string).collect();
        let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
        for k in &known {
            by_name.entry(file_name(k)).or_default().push(k);
        }
        let results: HashSet<&str> = results.into_iter().collect();
        let mut exact = 0usize;
        let mut votes: HashMap<(String, String), usize> = HashMap::new();
        for r in &results {
            if known.contains(*r) {
                exact += 1;
                continue;
            }
            let mut seen = HashSet::new();
            for k in by_name.get(file_name(r)).into_iter().flatten() {
                let change = if let Some(prefix) = k.strip_suffix(r) {
                    // Known paths are longer: the scan ran further in.
                    prefix
                        .ends_with('/')
                        .then(|| (String::new(), prefix.to_string()))
                } else if let Some(prefix) = r.strip_suffix(k) {
                    prefix
                        .ends_with('/')
                        .then(|| (prefix.to_string(), String::new()))
                } else {
                    None
                };
                if let Some(change) = change
                    && seen.insert(change.clone())
                {
                    *votes.entry(change).or_default() += 1;
                }
            }
        }
        let best = votes
            .into_iter()
            .max_by(|(a, n), (b, m)| n.cmp(m).then_with(|| b.cmp(a)))
            .filter(|(_, n)| *n > exact / 2);
        let (strip, add) = best.map(|(change, _)| change).unwrap_or_default();
        PathMap { strip, add, known }
    }

    /// The known findings' way of writing a result's path.
    pub fn to_known<'a>(&'a self, path: &'a str) -> &'a str {
        if self.known.contains(path) || (self.strip.is_empty() && self.add.is_empty()) {
            return path;
        }
        let Some(rest) = path.strip_prefix(self.strip.as_str()) else {
            return path;
        };
        let mapped = format!("{}{rest}", self.add);
        match self.known.get(&mapped) {
            Some(k) => k.as_str(),
            None => path,
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The assignment of rows to columns with the largest total weight, zero
/// weights meaning "no pair" (Hungarian method on the square padding).
fn best_assignment(weights: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let rows = weights.len();
    let cols = weights.first().map_or(0, Vec::len);
    let n = rows.max(cols);
    if n == 0 {
        return Vec::new();
    }
    let top = weights.iter().flatten().fold(0.0f64, |m, &w| m.max(w));
    let cost = |i: usize, j: usize| -> f64 {
        top - weights
            .get(i)
            .and_then(|r| r.get(j))
            .copied()
            .unwrap_or(0.0)
    };
    // Potentials and the matching, 1-based with 0 as the free slot.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; n + 1]);
    let mut owner = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        owner[0] = i;
        let mut j0 = 0;
        let mut min = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = owner[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0;
            for j in 1..=n {
                if used[j] {
                    continue;
                }
                let reduced = cost(i0 - 1, j - 1) - u[i0] - v[j];
                if reduced < min[j] {
                    min[j] = reduced;
                    way[j] = j0;
                }
                if min[j] < delta {
                    delta = min[j];
                    j1 = j;
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    min[j] -= delta;
                }
            }
            j0 = j1;
            if owner[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            owner[j0] = owner[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=n)
        .filter_map(|j| {
            let (i, j) = (owner[j].checked_sub(1)?, j - 1);
            let w = weights.get(i)?.get(j).copied()?;
            (w > 0.0).then_some((i, j))
        })
        .collect()
}

/// Heaviest pairs first, each side used once: for very large groups.
fn greedy_assignment(weights: &[Vec<f64>]) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(f64, usize, usize)> = weights
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, w)| **w > 0.0)
                .map(move |(j, w)| (*w, i, j))
        })
        .collect();
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let (mut rows, mut cols) = (HashSet::new(), HashSet::new());
    let mut out = Vec::new();
    for (_, i, j) in pairs {
        if !rows.contains(&i) && !cols.contains(&j) {
            rows.insert(i);
            cols.insert(j);
            out.push((i, j));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32) -> Evidence {
        Evidence {
            line,
            column: 5,
            ..Evidence::default()
        }
    }

    fn cand<'a>(
        rule: &'a str,
        path: &'a str,
        message: &'a str,
        evidence: Evidence,
    ) -> Candidate<'a> {
        Candidate {
            rule,
            path,
            message,
            evidence,
        }
    }

    fn same(known: &[Candidate], results: &[Candidate]) -> Vec<Option<usize>> {
        let paths = PathMap::new(known.iter().map(|k| k.path), results.iter().map(|r| r.path));
        match_results(known, results, &paths)
    }

    #[test]
    fn without_code_the_nearest_position_decides_not_the_order() {
        // Two findings of one rule with one message; the first is fixed.
        let known = [
            cand("r", "a.py", "m", at(10)),
            cand("r", "a.py", "m", at(20)),
        ];
        assert_eq!(same(&known, &[cand("r", "a.py", "m", at(21))]), [Some(1)]);
        assert_eq!(same(&known, &[cand("r", "a.py", "m", at(9))]), [Some(0)]);
        // Everything moved down by five lines: each keeps its own.
        assert_eq!(
            same(
                &known,
                &[
                    cand("r", "a.py", "m", at(15)),
                    cand("r", "a.py", "m", at(25))
                ]
            ),
            [Some(0), Some(1)]
        );
    }

    #[test]
    fn identical_code_is_told_apart_by_the_lines_around_it() {
        let code = |line, after: &str| Evidence {
            line,
            lines: Some(code_hash(["@GetMapping"])),
            before: Some(code_hash(["}"])),
            after: Some(code_hash([after])),
            ..Evidence::default()
        };
        let known = [
            cand("r", "C.java", "m", code(10, "getA()")),
            cand("r", "C.java", "m", code(20, "getB()")),
            cand("r", "C.java", "m", code(30, "getC()")),
        ];
        // The first method was deleted: ten lines gone.
        let results = [
            cand("r", "C.java", "m", code(10, "getB()")),
            cand("r", "C.java", "m", code(20, "getC()")),
        ];
        assert_eq!(same(&known, &results), [Some(1), Some(2)]);
    }

    #[test]
    fn changed_code_is_another_finding() {
        let code = |text| Evidence {
            line: 7,
            lines: Some(code_hash([text])),
            ..Evidence::default()
        };
        let known = [cand("r", "a.py", "m", code("call(cmd, shell=True)"))];
        assert_eq!(
            same(
                &known,
                &[cand("r", "a.py", "m", code("call(arg, shell=True)"))]
            ),
            [None]
        );
        assert_eq!(
            same(
                &known,
                &[cand("r", "a.py", "m", code("call(cmd,\n   shell=True)"))]
            ),
            [Some(0)],
            "whitespace is not a change"
        );
    }

    #[test]
    fn code_known_on_one_side_only_falls_back_to_message_and_position() {
        let with_code = Evidence {
            lines: Some(code_hash(["x"])),
            before: Some(1),
            after: Some(2),
            ..at(12)
        };
        let known = [
            cand("r", "a.py", "m", at(12)),
            cand("r", "a.py", "m", at(40)),
        ];
        let results = [
            cand("r", "a.py", "m", with_code),
            cand(
                "r",
                "a.py",
                "m",
                Evidence {
                    line: 40,
                    ..with_code
                },
            ),
        ];
        assert_eq!(same(&known, &results), [Some(0), Some(1)]);
    }

    #[test]
    fn a_narrower_match_on_the_same_lines_is_the_same_finding() {
        let known = [cand(
            "r",
            "a.py",
            "m",
            Evidence {
                line: 3,
                column: 10,
                length: Some(12),
                snippet: Some(code_hash(["\"abc\" + x"])),
                lines: Some(code_hash(["q = \"abc\" + x"])),
                ..Evidence::default()
            },
        )];
        let narrowed = Evidence {
            line: 3,
            column: 11,
            length: Some(11),
            snippet: Some(code_hash(["abc\" + x"])),
            lines: Some(code_hash(["q = \"abc\" + x"])),
            ..Evidence::default()
        };
        assert_eq!(same(&known, &[cand("r", "a.py", "m", narrowed)]), [Some(0)]);
    }

    #[test]
    fn other_rules_and_far_copies_are_other_findings() {
        let known = [cand("r", "a.py", "m", at(10))];
        assert_eq!(same(&known, &[cand("s", "a.py", "m", at(10))]), [None]);
        assert_eq!(same(&known, &[cand("r", "b.py", "m", at(10))]), [None]);
        assert_eq!(
            same(&known, &[cand("r", "a.py", "other message", at(80))]),
            [None]
        );
        let copy = |line, around| Evidence {
            line,
            lines: Some(code_hash(["eval(x)"])),
            before: Some(around),
            after: Some(around),
            ..Evidence::default()
        };
        let known = [cand("r", "a.py", "m", copy(10, 1))];
        assert_eq!(
            same(&known, &[cand("r", "a.py", "m", copy(200, 2))]),
            [None],
            "the same code elsewhere, nothing around it the same"
        );
    }

    #[test]
    fn paths_written_from_a_parent_folder_map_onto_the_root() {
        let known = [
            "webapp/app/views.py",
            "webapp/app/models.py",
            "webapp/settings.py",
        ];
        let map = PathMap::new(known, ["app/views.py", "app/models.py", "new.py"]);
        assert_eq!(map.to_known("app/views.py"), "webapp/app/views.py");
        assert_eq!(map.to_known("new.py"), "new.py");
        let map = PathMap::new(
            ["app/views.py", "app/models.py"],
            ["src/app/views.py", "src/app/models.py"],
        );
        assert_eq!(map.to_known("src/app/models.py"), "app/models.py");
        let map = PathMap::new(["a/utils.py", "b/utils.py"], ["a/utils.py", "c/utils.py"]);
        assert_eq!(
            map.to_known("c/utils.py"),
            "c/utils.py",
            "no prefix explains it"
        );
    }

    #[test]
    fn large_groups_are_matched_greedily() {
        let known: Vec<_> = (0..300)
            .map(|i| cand("r", "a.py", "m", at(i * 10)))
            .collect();
        let results: Vec<_> = (0..300)
            .map(|i| cand("r", "a.py", "m", at(i * 10 + 1)))
            .collect();
        let matched = same(&known, &results);
        assert!(matched.iter().enumerate().all(|(j, m)| *m == Some(j)));
    }

    #[test]
    fn hashes_ignore_whitespace_and_are_stable() {
        assert_eq!(code_hash(["a  b\n\tc"]), code_hash(["a b", "c"]));
        assert_ne!(code_hash(["ab"]), code_hash(["a b"]));
        // FNV-1a of "a": the stored hashes must never change.
        assert_eq!(code_hash(["a"]), 0xaf63_dc4c_8601_ec8c);
    }
}
