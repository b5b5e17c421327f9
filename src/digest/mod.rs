//! The Monday digest (`sift digest`): the top backlog tasks, ranked by the
//! rule documented in [`rank`], and the figures of the week ([`figures`]),
//! read from the store; written as text, Markdown, HTML or JSON
//! ([`render`]) and sent by SMTP ([`mail`]).

pub mod figures;
pub mod mail;
pub mod rank;
pub mod render;

use crate::domain::Finding;
use crate::store::Store;
use anyhow::Result;
use figures::{Decider, Figures, Window, tally_decisions};
use rank::{Candidate, Task};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;

/// How many tasks the digest names unless told otherwise.
pub const TOP_TASKS: usize = 3;

/// Findings loaded from the store at a time.
const CHUNK: usize = 500;

/// Everything the digest says, before it is written in a format.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    #[serde(serialize_with = "as_timestamp")]
    pub generated_at: OffsetDateTime,
    #[serde(serialize_with = "as_timestamp")]
    pub since: OffsetDateTime,
    /// "the last 7 days".
    pub window: String,
    /// The projects it covers; empty for all.
    pub projects: Vec<String>,
    /// The best tasks, best first (in JSON with what the other formats say
    /// of them: `render::json`).
    #[serde(skip)]
    pub tasks: Vec<Task>,
    /// Tasks the backlog holds beyond those named.
    pub more_tasks: usize,
    pub figures: Figures,
}

/// Which findings the digest covers.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The store's ids of the findings in scope (every ref).
    pub ids: HashSet<i64>,
    /// The project names asked for; empty for all.
    pub projects: Vec<String>,
}

impl Scope {
    fn has_project(&self, name: &str) -> bool {
        self.projects.is_empty() || self.projects.iter().any(|p| p == name)
    }
}

/// Reads the digest of the findings in `scope` from `store`: the `top` best
/// tasks of the undecided ones and the figures of `window`.
pub fn build(
    store: &Store,
    scope: &Scope,
    undecided: &[i64],
    window: &Window,
    top: usize,
) -> Result<Digest> {
    let now = window.until;
    let mut figures = Figures::default();

    let waiting = unique(load(store, undecided)?);
    let candidates: Vec<Candidate> = waiting.iter().map(Candidate::of).collect();
    figures.waiting = candidates.len();
    for c in &candidates {
        figures.waiting_by_verdict.add(c.verdict);
    }
    let mut tasks = rank::rank(&candidates, now);
    let more_tasks = tasks.len().saturating_sub(top);
    tasks.truncate(top);

    let decided: Vec<i64> = store
        .decided_since(window.since)?
        .into_iter()
        .filter(|id| scope.ids.contains(id))
        .collect();
    (
        figures.decided,
        figures.compared_with_ai,
        figures.agreed_with_ai,
    ) = tally_decisions(&load(store, &decided)?);

    figures.new = store
        .first_seen_since(window.since)?
        .into_iter()
        .filter(|(project, _)| scope.has_project(project))
        .map(|(_, n)| n)
        .sum();
    let mut deciders: BTreeMap<String, usize> = BTreeMap::new();
    for (name, project, n) in store.deciders_since(window.since)? {
        if scope.has_project(&project) {
            *deciders.entry(name).or_default() += n;
        }
    }
    figures.deciders = deciders
        .into_iter()
        .map(|(name, decided)| Decider { name, decided })
        .collect();
    figures
        .deciders
        .sort_by(|a, b| b.decided.cmp(&a.decided).then(a.name.cmp(&b.name)));

    Ok(Digest {
        generated_at: now,
        since: window.since,
        window: window.label.clone(),
        projects: scope.projects.clone(),
        tasks,
        more_tasks,
        figures,
    })
}

fn load(store: &Store, ids: &[i64]) -> Result<Vec<Finding>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        out.extend(store.load_findings(chunk)?);
    }
    Ok(out)
}

/// One copy of each finding (a match on several refs is one finding): the
/// copy seen first, so its age is the finding's.
fn unique(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by_key(|f| (f.relevant_since, f.id));
    let mut seen = HashSet::new();
    findings.retain(|f| seen.insert((f.project.clone(), f.match_based_id.clone())));
    findings
}

fn as_timestamp<S: serde::Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::wire::timestamp::format(*at))
}
