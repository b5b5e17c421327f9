//! Where each of a scanner's results goes on import: onto a finding already
//! known on this ref, onto a copy of a finding known on another ref (so it
//! keeps the decision made there), or a new finding. The matching itself is
//! `domain::identity`; this reads what it needs from the store.

use crate::domain::{Candidate, Evidence, PathMap, match_results};
use anyhow::Result;
use rusqlite::{Transaction, params};
use std::collections::{HashMap, HashSet};

/// Where one result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    /// The finding with this id, on the scan's ref.
    Existing(i64),
    /// A new finding on the scan's ref with this match-based id: the id of
    /// the same finding on another ref, or a fresh one.
    New(String),
    /// The same match twice in one scan: one finding.
    Repeat,
}

/// A finding the project already has, as the matching needs it.
struct Known {
    id: i64,
    git_ref: String,
    match_based_id: String,
    rule: String,
    path: String,
    message: String,
    fixed: bool,
    evidence: Evidence,
}

fn load_known(tx: &Transaction, project_id: i64) -> Result<Vec<Known>> {
    let mut stmt = tx.prepare_cached(
        "SELECT f.id, f.ref, f.match_based_id, r.name, f.path, f.message, f.state = 'fixed',
                COALESCE(e.line, f.line), COALESCE(e.col, 0), e.length, e.snippet, e.lines,
                e.before, e.after
         FROM findings f
         JOIN rules r ON r.id = f.rule_id
         LEFT JOIN finding_evidence e ON e.finding_id = f.id
         WHERE f.project_id = ?1
         ORDER BY f.id",
    )?;
    let hash = |v: Option<i64>| v.map(|h| h as u64);
    let rows = stmt.query_map([project_id], |r| {
        Ok(Known {
            id: r.get(0)?,
            git_ref: r.get(1)?,
            match_based_id: r.get(2)?,
            rule: r.get(3)?,
            path: r.get(4)?,
            message: r.get(5)?,
            fixed: r.get(6)?,
            evidence: Evidence {
                line: r.get(7)?,
                column: r.get(8)?,
                length: r.get(9)?,
                snippet: hash(r.get(10)?),
                lines: hash(r.get(11)?),
                before: hash(r.get(12)?),
                after: hash(r.get(13)?),
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stores what recognises a finding on the next rescan.
pub(super) fn save_evidence(tx: &Transaction, finding_id: i64, e: &Evidence) -> Result<()> {
    let hash = |h: Option<u64>| h.map(|h| h as i64);
    tx.prepare_cached(
        "INSERT INTO finding_evidence (finding_id, line, col, length, snippet, lines, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (finding_id) DO UPDATE SET line = excluded.line, col = excluded.col,
            length = excluded.length, snippet = excluded.snippet, lines = excluded.lines,
            before = excluded.before, after = excluded.after",
    )?
    .execute(params![
        finding_id,
        e.line,
        e.column,
        e.length,
        hash(e.snippet),
        hash(e.lines),
        hash(e.before),
        hash(e.after)
    ])?;
    Ok(())
}

/// One scanner's result as placing reads it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placing<'a> {
    pub candidate: Candidate<'a>,
    pub match_based_id: &'a str,
    /// The scanner wrote its own fingerprint: `match_based_id` is it.
    pub fingerprinted: bool,
}

/// Decides where each result of a scanner's scan of `git_ref` goes, in order:
/// 1. its own fingerprint, when the scanner wrote one and the ref has it;
/// 2. the evidence, against the ref's findings still there, then against
///    those a scan had marked fixed (the code came back);
/// 3. a finding of another ref: the fingerprint, else the evidence;
/// 4. else a new finding, under an id no finding of the project has.
pub(super) fn place(
    tx: &Transaction,
    project_id: i64,
    git_ref: &str,
    scan: &[Placing<'_>],
) -> Result<Vec<Place>> {
    let known = load_known(tx, project_id)?;
    let results: Vec<Candidate> = scan.iter().map(|r| r.candidate).collect();
    let paths = PathMap::new(
        known.iter().map(|k| k.path.as_str()),
        results.iter().map(|r| r.path),
    );
    let mut places: Vec<Option<Place>> = vec![None; results.len()];
    // Match-based ids on this ref, taken by a known finding or this scan.
    let mut taken_here: HashSet<&str> = HashSet::new();
    let here: Vec<&Known> = known.iter().filter(|k| k.git_ref == git_ref).collect();
    let mut used: HashSet<i64> = HashSet::new();

    // 1. Fingerprints.
    let by_mbid: HashMap<&str, &Known> = here
        .iter()
        .map(|k| (k.match_based_id.as_str(), *k))
        .collect();
    let mut fingerprints_seen = HashSet::new();
    for (i, r) in scan.iter().enumerate() {
        if !r.fingerprinted {
            continue;
        }
        if !fingerprints_seen.insert(r.match_based_id) {
            places[i] = Some(Place::Repeat);
        } else if let Some(k) = by_mbid.get(r.match_based_id) {
            places[i] = Some(Place::Existing(k.id));
            used.insert(k.id);
        }
    }

    // 2. Evidence, on this ref: open findings first, then fixed ones.
    for fixed in [false, true] {
        let pool: Vec<&Known> = here
            .iter()
            .filter(|k| k.fixed == fixed && !used.contains(&k.id))
            .copied()
            .collect();
        for (i, k) in match_among(&pool, &results, &places, &paths) {
            places[i] = Some(Place::Existing(k.id));
            used.insert(k.id);
        }
    }
    for k in &here {
        taken_here.insert(&k.match_based_id);
    }

    // 3. Other refs: one finding per match-based id the ref does not have.
    let mut elsewhere: HashMap<&str, &Known> = HashMap::new();
    for k in known.iter().filter(|k| k.git_ref != git_ref) {
        if taken_here.contains(k.match_based_id.as_str()) {
            continue;
        }
        // The latest copy, preferring one not fixed.
        elsewhere
            .entry(&k.match_based_id)
            .and_modify(|seen| {
                if !k.fixed || seen.fixed {
                    *seen = k;
                }
            })
            .or_insert(k);
    }
    for (i, r) in scan.iter().enumerate() {
        if places[i].is_none() && r.fingerprinted && elsewhere.contains_key(r.match_based_id) {
            elsewhere.remove(r.match_based_id);
            taken_here.insert(r.match_based_id);
            places[i] = Some(Place::New(r.match_based_id.to_string()));
        }
    }
    let mut pool: Vec<&Known> = elsewhere.into_values().collect();
    pool.sort_by_key(|k| k.id);
    for (i, k) in match_among(&pool, &results, &places, &paths) {
        taken_here.insert(&k.match_based_id);
        places[i] = Some(Place::New(k.match_based_id.clone()));
    }

    // 4. New findings, under ids nothing in the project uses.
    let mut taken: HashSet<String> = known.iter().map(|k| k.match_based_id.clone()).collect();
    taken.extend(places.iter().flatten().filter_map(|p| match p {
        Place::New(mbid) => Some(mbid.clone()),
        _ => None,
    }));
    Ok(places
        .into_iter()
        .zip(scan)
        .map(|(place, r)| {
            place.unwrap_or_else(|| {
                let mbid = free_id(r.match_based_id, &taken);
                taken.insert(mbid.clone());
                Place::New(mbid)
            })
        })
        .collect())
}

/// Matches the results not placed yet against `pool`; (result, known) pairs.
fn match_among<'k>(
    pool: &[&'k Known],
    results: &[Candidate],
    places: &[Option<Place>],
    paths: &PathMap,
) -> Vec<(usize, &'k Known)> {
    if pool.is_empty() {
        return Vec::new();
    }
    let open: Vec<usize> = (0..results.len())
        .filter(|&i| places[i].is_none())
        .collect();
    if open.is_empty() {
        return Vec::new();
    }
    let known: Vec<Candidate> = pool
        .iter()
        .map(|k| Candidate {
            rule: &k.rule,
            path: &k.path,
            message: &k.message,
            evidence: k.evidence,
        })
        .collect();
    let wanted: Vec<Candidate> = open.iter().map(|&i| results[i]).collect();
    match_results(&known, &wanted, paths)
        .into_iter()
        .enumerate()
        .filter_map(|(j, k)| Some((open[j], pool[k?])))
        .collect()
}

/// `id`, or when a finding already has it, the next free `<hash>_<n>`.
fn free_id(id: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(id) {
        return id.to_string();
    }
    let (stem, first) = match id.rsplit_once('_') {
        Some((stem, n)) if n.parse::<u64>().is_ok() => (stem, n.parse::<u64>().unwrap_or(0)),
        _ => (id, 0),
    };
    (first + 1..)
        .map(|n| format!("{stem}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ids_count_up_from_the_taken_one() {
        let taken: HashSet<String> = ["abc_0", "abc_1", "fp"].map(String::from).into();
        assert_eq!(free_id("abc_0", &taken), "abc_2");
        assert_eq!(free_id("abc_5", &taken), "abc_5");
        assert_eq!(free_id("fp", &taken), "fp_1");
    }
}
