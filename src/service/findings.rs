//! Which findings a query selects, in the API's order: `relevant_since`
//! descending, then `id` descending, so that paging is deterministic. And
//! which changed since a change cursor (`sift serve`'s extension), in the
//! order they changed.

use crate::domain::Finding;
use crate::store::{ListingRow, Store};
use crate::wire::v1::FindingsQuery;
use anyhow::Result;
use std::fmt;

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

/// Where a client's pull left the findings' changes: the store's id and the
/// last change number it has seen. Opaque to the client (`STORE.SEQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCursor {
    pub store: i64,
    pub seq: i64,
}

impl ChangeCursor {
    pub fn parse(text: &str) -> Option<ChangeCursor> {
        let (store, seq) = text.trim().split_once('.')?;
        Some(ChangeCursor {
            store: store.parse().ok()?,
            seq: seq.parse().ok().filter(|s: &i64| *s >= 0)?,
        })
    }

    /// Where the store stands now: a cursor past every change so far.
    pub fn head(store: &Store) -> Result<ChangeCursor> {
        let (store, seq) = store.change_head()?;
        Ok(ChangeCursor { store, seq })
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.store, self.seq)
    }
}

/// Up to a page of the findings the query selects that changed after
/// `after`, in the order they changed, and the cursor past them; none
/// when the cursor is another store's (the server's data was replaced) or
/// ahead of this one's changes: the client must pull everything. A page
/// shorter than the page size is the last. Filters that need the full
/// finding, and `dedup`, do not apply to changes (the caller refuses them).
pub fn select_changes(
    store: &Store,
    q: &FindingsQuery,
    after: ChangeCursor,
) -> Result<Option<(Vec<i64>, ChangeCursor)>> {
    let head = ChangeCursor::head(store)?;
    if after.store != head.store || after.seq > head.seq {
        return Ok(None);
    }
    let want = q.page_size.max(1) as usize;
    let mut ids = Vec::new();
    let mut cursor = after;
    if q.issue_type != "sast" {
        return Ok(Some((ids, head)));
    }
    loop {
        let rows = store.changed_rows(cursor.seq, want)?;
        let last_batch = rows.len() < want;
        for (seq, row) in rows {
            cursor.seq = seq;
            if matches(&row, q) {
                ids.push(row.id);
                if ids.len() == want {
                    return Ok(Some((ids, cursor)));
                }
            }
        }
        if last_batch {
            return Ok(Some((ids, cursor)));
        }
    }
}

/// Why a query cannot ask for changes, if it cannot.
pub fn changes_refuse(q: &FindingsQuery) -> Option<&'static str> {
    if q.dedup {
        Some("since_change does not combine with dedup=true")
    } else if needs_details(q) {
        Some("since_change does not combine with confidence, categories or component_tags")
    } else if q.page > 0 {
        Some("since_change pages by its cursor, not by page")
    } else {
        None
    }
}
