//! The demo backlog: the Semgrep findings of a fictional payments company, as a
//! Semgrep backend would hold them, Assistant verdicts and triage history included.
//!
//! The content (projects, rules, code, Assistant's texts, people, memories, a few
//! hand-picked findings) is hand-written in `assets/demo/catalog.json`. This module
//! expands it deterministically: the same `count` and `now` always give the same
//! backlog. Every finding is derived from its index alone, so a large backlog can
//! be generated and stored in chunks.

mod catalog;
mod expand;
mod history;
mod rng;
mod world;

// The parts share these names (each has `use super::*`).
use catalog::*;
use expand::*;
use history::*;
use rng::*;
use world::*;

use crate::domain::{
    Activity, Assistant, CodeContext, Component, ComponentRisk, Confidence, DecisionContext,
    Finding, Guidance, Intent, Location, Memory, MemoryStage, Rule, RuleExplanation, RuleScope,
    ScanResults, ScanState, Scope, Severity, Status, TriageReason, TriageState, Verdict, resolve,
};
use crate::store::{ImportSummary, Store};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;
use time::{Duration, OffsetDateTime};

/// The demo backlog: one scan per (project, ref), and the organisation's memories.
#[derive(Debug, Clone)]
pub struct Demo {
    pub scans: Vec<ScanResults>,
    pub memories: Vec<Memory>,
}

/// Findings in the curated backlog (hand-picked ones included).
pub const CURATED_FINDINGS: usize = 180;

/// How many findings `seed` generates and stores per transaction.
const SEED_CHUNK: usize = 25_000;

const DAY: i64 = 86_400;

/// The curated demo backlog (`count = None`) or `n` generated findings
/// (`count = Some(n)`); deterministic for the same inputs. `now` anchors all
/// timestamps (findings from the last ~90 days).
pub fn generate(count: Option<usize>, now: OffsetDateTime) -> Demo {
    let w = world();
    let plan = Plan::new(w, count);
    let mut shas = ShaCache::default();
    let items = (0..plan.total)
        .map(|i| finding_at(w, &plan, i, now, &mut shas))
        .collect();
    Demo {
        scans: assemble(w, items),
        memories: memories(w, now),
    }
}

/// Generates and stores the demo backlog: `store.import` of its scans, then
/// `store.put_memory` for each memory. A large generated backlog is stored in
/// chunks of 25,000 findings, one transaction each, so memory stays bounded;
/// the summaries are merged to one per (project, ref).
pub fn seed(
    store: &mut Store,
    count: Option<usize>,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<ImportSummary>> {
    let w = world();
    let plan = Plan::new(w, count);
    let mut shas = ShaCache::default();
    let mut merged: Vec<ImportSummary> = Vec::new();
    let mut by_key: HashMap<(String, String), usize> = HashMap::new();
    let mut start = 0;
    while start < plan.total || (start == 0 && plan.total == 0) {
        let end = (start + SEED_CHUNK).min(plan.total);
        let items = (start..end)
            .map(|i| finding_at(w, &plan, i, now, &mut shas))
            .collect();
        let scans = assemble(w, items);
        for s in store.import(&scans)? {
            match by_key.get(&(s.project.clone(), s.git_ref.clone())) {
                Some(&k) => {
                    let m = &mut merged[k];
                    m.new += s.new;
                    m.updated += s.updated;
                    m.fixed += s.fixed;
                    m.errors += s.errors;
                }
                None => {
                    by_key.insert((s.project.clone(), s.git_ref.clone()), merged.len());
                    merged.push(s);
                }
            }
        }
        if end == plan.total {
            break;
        }
        start = end;
    }
    for m in memories(w, now) {
        store.put_memory(&m)?;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_snippet_has_a_place() {
        let w = world();
        for (ri, r) in w.cat.rules.iter().enumerate() {
            assert!(
                !w.rule_projects[ri].is_empty(),
                "rule {} fits no project",
                r.id
            );
            for (si, s) in r.snippets.iter().enumerate() {
                let placed = w.projects.iter().any(|p| {
                    p.choices
                        .iter()
                        .any(|c| c.rule == ri && c.files.iter().any(|f| f.1.contains(&si)))
                });
                assert!(placed, "snippet {si} of {} fits no file", r.id);
                assert!(s.matched[0] <= s.matched[1] && (s.matched[1] as usize) < s.lines.len());
                assert!(s.fp.iter().all(|&k| k < r.fp_reasons.len()), "{}", r.id);
            }
        }
    }

    #[test]
    fn sibling_paths_keep_directory_and_style() {
        let mut rng = Rng::at(1, 2);
        for path in [
            "src/main/java/com/larkspur/risk/api/ScoreController.java",
            "internal/bankfile/sftp_test.go",
            "src/features/payments/RefundDialog.tsx",
            "tests/payments/test_refunds.py",
        ] {
            for _ in 0..20 {
                let v = vary_path(path, &mut rng);
                let dir = path.rsplit_once('/').unwrap().0;
                assert!(v.starts_with(dir), "{v}");
                assert_eq!(lang_of(&v), lang_of(path), "{v}");
                assert_eq!(is_test_path(&v), is_test_path(path), "{v}");
            }
        }
        assert!(vary_path("Dockerfile", &mut rng) == "Dockerfile");
    }

    #[test]
    fn weighted_picks_stay_in_range() {
        let mut rng = Rng::at(7, 7);
        let cum = cumulative([3, 0, 5].into_iter());
        for _ in 0..1000 {
            let i = rng.weighted(&cum);
            assert!(i == 0 || i == 2);
        }
    }
}
