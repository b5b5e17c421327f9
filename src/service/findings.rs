//! Which findings a query selects, in the API's order: `relevant_since`
//! descending, then `id` descending, so that paging is deterministic. And
//! which changed since a change cursor (`sift serve`'s extension), in the
//! order they changed.

use crate::domain::Finding;
use crate::store::{Change, ListingRow, Store};
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

/// Whether `matches` may turn a finding away: whether the query sets any
/// filter it applies.
fn filters_rows(q: &FindingsQuery) -> bool {
    q.git_ref.is_some()
        || !q.repos.is_empty()
        || !q.repository_ids.is_empty()
        || !q.statuses.is_empty()
        || !q.severities.is_empty()
        || !q.triage_reasons.is_empty()
        || !q.rules.is_empty()
        || !q.autotriage_verdicts.is_empty()
        || q.since.is_some()
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

/// Where a client's pull left the findings' changes: the store's id, the
/// last change number it has seen, and the change number at which it last
/// held every finding (the end of a listing of changes). Opaque to the
/// client (`STORE.SEQ.BASE`; `STORE.SEQ`, from an older server, has no
/// base).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeCursor {
    pub store: i64,
    pub seq: i64,
    /// The client held every finding as it was at this change number (0:
    /// not known), so a finding whose content has not changed since needs
    /// only its triage sent. Not past `seq`.
    pub base: i64,
}

impl ChangeCursor {
    pub fn parse(text: &str) -> Option<ChangeCursor> {
        let mut parts = text.trim().splitn(3, '.');
        let store = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok().filter(|s: &i64| *s >= 0)?;
        let base = match parts.next() {
            None => 0,
            Some(base) => base.parse().ok().filter(|b: &i64| (0..=seq).contains(b))?,
        };
        Some(ChangeCursor { store, seq, base })
    }

    /// Whether the page this cursor came with ended a listing of changes
    /// (`select_changes` sets its base to its end): no page follows yet.
    pub fn ends_listing(&self) -> bool {
        self.base == self.seq
    }

    /// Where the store stands now: a cursor past every change so far (with
    /// no base: what a listing not by change holds is not known).
    pub fn head(store: &Store) -> Result<ChangeCursor> {
        let (store, seq) = store.change_head()?;
        Ok(ChangeCursor {
            store,
            seq,
            base: 0,
        })
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.store, self.seq, self.base)
    }
}

/// A page of changes (`select_changes`).
#[derive(Debug, Default, PartialEq)]
pub struct ChangePage {
    /// The findings to send whole, in the order they changed.
    pub whole: Vec<i64>,
    /// The findings whose only changes since the client's cursor are to
    /// their triage, when it asked for them apart.
    pub triaged: Vec<i64>,
    /// The cursor past them.
    pub cursor: ChangeCursor,
}

/// Up to a page of the findings the query selects that changed after
/// `after`, in the order they changed, and the cursor past them; none
/// when the cursor is another store's (the server's data was replaced) or
/// ahead of this one's changes: the client must pull everything. A page
/// shorter than the page size is the last: its cursor's base is its end,
/// since the client then holds every finding as it is. Filters that need
/// the full finding, and `dedup`, do not apply to changes (the caller
/// refuses them). With `triage_apart`, a finding whose content last
/// changed no later than the cursor's base is in `triaged`: the client
/// holds that content already.
pub fn select_changes(
    store: &Store,
    q: &FindingsQuery,
    after: ChangeCursor,
    triage_apart: bool,
) -> Result<Option<ChangePage>> {
    let head = ChangeCursor::head(store)?;
    if after.store != head.store || after.seq > head.seq {
        return Ok(None);
    }
    // A finding that a filter on its triage selects only now was not sent
    // before: it goes whole.
    let triage_apart =
        triage_apart && q.statuses.is_empty() && q.triage_reasons.is_empty() && q.since.is_none();
    let want = q.page_size.max(1) as usize;
    let mut page = ChangePage {
        cursor: after,
        ..ChangePage::default()
    };
    if q.issue_type != "sast" {
        page.cursor.seq = head.seq;
        return Ok(Some(page));
    }
    let filtered = filters_rows(q);
    loop {
        // Each change, and whether the query selects its finding.
        let changes: Vec<(Change, bool)> = match filtered {
            true => store
                .changed_rows(page.cursor.seq, want)?
                .into_iter()
                .map(|c| (c.change, matches(&c.row, q)))
                .collect(),
            false => store
                .changes(page.cursor.seq, want)?
                .into_iter()
                .map(|c| (c, true))
                .collect(),
        };
        let last_batch = changes.len() < want;
        for (change, selected) in changes {
            page.cursor.seq = change.seq;
            if selected {
                match triage_apart && after.base > 0 && change.content_seq <= after.base {
                    true => page.triaged.push(change.id),
                    false => page.whole.push(change.id),
                }
                if page.whole.len() + page.triaged.len() == want {
                    return Ok(Some(page));
                }
            }
        }
        if last_batch {
            // Every change is in this page or before it.
            page.cursor.base = page.cursor.seq;
            return Ok(Some(page));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ScanResults, TriageChange, TriageState};
    use time::OffsetDateTime;

    /// Findings `ids` of acme/web on main as a pull brings them, each with
    /// `message`.
    fn platform_scan(ids: &[i64], message: &str) -> Vec<ScanResults> {
        let findings: Vec<_> = ids
            .iter()
            .map(|id| {
                serde_json::json!({
                    "id": id, "ref": "main", "match_based_id": format!("m_{id}"),
                    "repository": {"name": "acme/web"}, "rule_message": message,
                    "rule": {"name": "r"}, "location": {"file_path": "a.py", "line": id}
                })
            })
            .collect();
        crate::store::pulled(&serde_json::json!({ "findings": findings }).to_string())
    }

    fn decide(store: &mut Store, ids: &[i64]) {
        let change = TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: None,
        };
        store
            .apply_triage(ids, &change, "ben", OffsetDateTime::now_utc(), None)
            .unwrap();
    }

    /// The next page after `cursor`, two findings a page, triage apart.
    fn next(store: &Store, cursor: ChangeCursor) -> ChangePage {
        let q = FindingsQuery {
            page_size: 2,
            ..FindingsQuery::default()
        };
        select_changes(store, &q, cursor, true).unwrap().unwrap()
    }

    #[test]
    fn only_a_finding_the_client_surely_holds_comes_as_its_triage_alone() {
        let mut store = Store::in_memory().unwrap();
        store.import(&platform_scan(&[1, 2, 3, 4], "m")).unwrap();
        let first = ChangeCursor {
            seq: 0,
            ..ChangeCursor::head(&store).unwrap()
        };

        // A first pull by change; finding 3 is decided after its first
        // page, before the client saw it: it comes whole.
        let one = next(&store, first);
        assert_eq!((one.whole, one.triaged), (vec![1, 2], vec![]));
        assert_eq!((one.cursor.seq, one.cursor.base), (2, 0));
        decide(&mut store, &[3]);
        let two = next(&store, one.cursor);
        assert_eq!((two.whole, two.triaged), (vec![4, 3], vec![]));
        assert_eq!(two.cursor.base, 0, "a full page may not be the last");
        let end = next(&store, two.cursor);
        assert!(end.whole.is_empty() && end.triaged.is_empty());
        let held = end.cursor;
        assert_eq!(held.base, held.seq, "the client holds every finding");

        // Decisions on 1 and 2 come apart; 4's content changed after the
        // client held it, so it comes whole though its last change was a
        // decision.
        decide(&mut store, &[1, 2]);
        store.import(&platform_scan(&[4], "changed")).unwrap();
        decide(&mut store, &[4]);
        let three = next(&store, held);
        assert_eq!((three.whole, three.triaged), (vec![], vec![1, 2]));
        assert_eq!(three.cursor.base, held.base, "the base goes on");
        let four = next(&store, three.cursor);
        assert_eq!((four.whole, four.triaged), (vec![4], vec![]));
        assert_eq!(four.cursor.base, four.cursor.seq);

        // Without a base, or not asked: whole.
        let older = ChangeCursor { base: 0, ..held };
        assert_eq!(next(&store, older).triaged, Vec::<i64>::new());
        let q = FindingsQuery {
            page_size: 2,
            ..FindingsQuery::default()
        };
        let whole = select_changes(&store, &q, held, false).unwrap().unwrap();
        assert_eq!((whole.whole, whole.triaged), (vec![1, 2], vec![]));
        // Nor when a filter on the triage could select a finding anew.
        let by_status = FindingsQuery {
            statuses: vec![crate::domain::Status::Reviewing],
            ..q
        };
        let page = select_changes(&store, &by_status, held, true)
            .unwrap()
            .unwrap();
        assert_eq!((page.whole, page.triaged), (vec![1, 2], vec![]));
    }

    #[test]
    fn a_cursor_reads_back_as_written_and_an_older_one_has_no_base() {
        let c = ChangeCursor {
            store: 7,
            seq: 12,
            base: 9,
        };
        assert_eq!(ChangeCursor::parse(&c.to_string()), Some(c));
        assert_eq!(
            ChangeCursor::parse("7.12"),
            Some(ChangeCursor { base: 0, ..c })
        );
        for bad in ["7.12.13", "7.12.-1", "7.-3.0", "7", "x.1.0", "7.12.9.1"] {
            assert_eq!(ChangeCursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_a_cursor_whose_base_is_its_end_ends_a_listing() {
        let c = ChangeCursor {
            store: 7,
            seq: 12,
            base: 9,
        };
        assert!(!c.ends_listing(), "a full page: more may follow");
        assert!(ChangeCursor { base: 12, ..c }.ends_listing());
        let older = ChangeCursor::parse("7.12").unwrap();
        assert!(
            !older.ends_listing(),
            "an older server's cursor tells nothing"
        );
    }
    #[test]
    fn a_query_that_sets_no_row_filter_selects_every_row_and_each_filter_counts() {
        use crate::domain::{Severity, Status, TriageReason, Verdict};
        let row = ListingRow {
            id: 1,
            project_id: 1,
            project: "acme/web".into(),
            primary_branch: "main".into(),
            git_ref: "main".into(),
            match_based_id: "m1".into(),
            rule: "r1".into(),
            severity: Severity::Low,
            status: Status::Open,
            triage_reason: None,
            verdict: None,
            relevant_since: 100,
        };
        let every = FindingsQuery::default();
        assert!(!filters_rows(&every) && matches(&row, &every));
        // Each filter `matches` applies, set to turn the row away.
        let filters = [
            FindingsQuery {
                git_ref: Some("dev".into()),
                ..every.clone()
            },
            FindingsQuery {
                repos: vec!["acme/api".into()],
                ..every.clone()
            },
            FindingsQuery {
                repository_ids: vec![2],
                ..every.clone()
            },
            FindingsQuery {
                statuses: vec![Status::Fixed],
                ..every.clone()
            },
            FindingsQuery {
                severities: vec![Severity::High],
                ..every.clone()
            },
            FindingsQuery {
                triage_reasons: vec![TriageReason::FalsePositive],
                ..every.clone()
            },
            FindingsQuery {
                rules: vec!["r2".into()],
                ..every.clone()
            },
            FindingsQuery {
                autotriage_verdicts: vec![Verdict::TruePositive],
                ..every.clone()
            },
            FindingsQuery {
                since: Some(200.0),
                ..every.clone()
            },
        ];
        for q in &filters {
            assert!(filters_rows(q) && !matches(&row, q), "{q:?}");
        }
    }
}
