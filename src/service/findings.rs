//! Which findings a query selects, in the API's order: `relevant_since`
//! descending, then `id` descending, so that paging is deterministic.

use crate::domain::Finding;
use crate::store::{ListingRow, Store};
use crate::wire::v1::FindingsQuery;
use anyhow::Result;

/// `main` and `refs/heads/main` name the same branch.
fn same_branch(a: &str, b: &str) -> bool {
    a.strip_prefix("refs/heads/").unwrap_or(a) == b.strip_prefix("refs/heads/").unwrap_or(b)
}

fn matches(row: &ListingRow, q: &FindingsQuery) -> bool {
    if let Some(r) = &q.git_ref {
        let wanted = if r == "_default" {
            &row.primary_branch
        } else {
            r
        };
        if !same_branch(&row.git_ref, wanted) {
            return false;
        }
    }
    (q.repos.is_empty() || q.repos.contains(&row.project))
        && (q.repository_ids.is_empty() || q.repository_ids.contains(&row.project_id))
        && (q.statuses.is_empty() || q.statuses.contains(&row.status))
        && (q.severities.is_empty() || q.severities.contains(&row.severity))
        && (q.triage_reasons.is_empty()
            || row
                .triage_reason
                .is_some_and(|r| q.triage_reasons.contains(&r)))
        && (q.rules.is_empty() || q.rules.contains(&row.rule))
        && (q.autotriage_verdicts.is_empty()
            || row
                .verdict
                .is_some_and(|v| q.autotriage_verdicts.contains(&v)))
        && q.since
            .is_none_or(|since| row.relevant_since as f64 >= since.floor())
}

/// Filters only the full finding knows.
fn needs_details(q: &FindingsQuery) -> bool {
    !(q.confidence.is_empty() && q.categories.is_empty() && q.component_tags.is_empty())
}

fn matches_details(f: &Finding, q: &FindingsQuery) -> bool {
    let lower = |s: &str| s.to_lowercase();
    (q.confidence.is_empty() || f.confidence.is_some_and(|c| q.confidence.contains(&c)))
        && (q.categories.is_empty()
            || f.rule
                .category
                .as_deref()
                .is_some_and(|c| q.categories.iter().any(|w| lower(w) == lower(c))))
        && (q.component_tags.is_empty()
            || f.assistant
                .as_ref()
                .and_then(|a| a.component.as_ref())
                .is_some_and(|c| q.component_tags.iter().any(|w| lower(w) == lower(&c.tag))))
}

/// The ids the query selects, in order, before paging. Only `sast`
/// findings are kept here.
pub fn select_ids(store: &Store, q: &FindingsQuery) -> Result<Vec<i64>> {
    if q.issue_type != "sast" {
        return Ok(Vec::new());
    }
    let mut rows: Vec<ListingRow> = store
        .listing_rows()?
        .into_iter()
        .filter(|r| matches(r, q))
        .collect();
    rows.sort_by(|a, b| {
        b.relevant_since
            .cmp(&a.relevant_since)
            .then(b.id.cmp(&a.id))
    });
    if q.dedup {
        rows = dedup(rows);
    }
    let mut ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    if needs_details(q) {
        let mut kept = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let found = store.load_findings(chunk)?;
            kept.extend(found.iter().filter(|f| matches_details(f, q)).map(|f| f.id));
        }
        ids = kept;
    }
    Ok(ids)
}

/// One finding per project and match: the one on the primary branch if
/// there is one, else the most recently relevant. Keeps the order.
fn dedup(rows: Vec<ListingRow>) -> Vec<ListingRow> {
    use std::collections::HashMap;
    let mut best: HashMap<(i64, &str), usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let key = (r.project_id, r.match_based_id.as_str());
        match best.get(&key) {
            None => {
                best.insert(key, i);
            }
            Some(&j) => {
                let current = &rows[j];
                if !same_branch(&current.git_ref, &current.primary_branch)
                    && same_branch(&r.git_ref, &r.primary_branch)
                {
                    best.insert(key, i);
                }
            }
        }
    }
    let mut keep: Vec<usize> = best.into_values().collect();
    keep.sort_unstable();
    let mut rows: Vec<Option<ListingRow>> = rows.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| rows[i].take()).collect()
}

/// One page of the selection: `[]` past the end.
pub fn page(ids: &[i64], q: &FindingsQuery) -> Vec<i64> {
    let size = q.page_size as usize;
    let start = usize::try_from(q.page)
        .ok()
        .and_then(|p| p.checked_mul(size))
        .unwrap_or(usize::MAX);
    ids.iter().skip(start).take(size).copied().collect()
}
