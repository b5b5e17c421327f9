//! What `sift serve` lists: every finding's filterable facts as stored
//! (without the pending overlay: a server reports what it holds), the
//! projects with their scan times; the findings changed since a change
//! number; and the memory removal its API offers.

use super::Store;
use crate::domain::{ScanState, Severity, Status, TriageReason, TriageState, Verdict};
use crate::wire::{timestamp, v1};
use anyhow::Result;
use rusqlite::OptionalExtension;
use time::OffsetDateTime;

/// One finding's facts for filtering, ordering and de-duplicating.
#[derive(Debug, Clone, PartialEq)]
pub struct ListingRow {
    pub id: i64,
    pub project_id: i64,
    pub project: String,
    pub primary_branch: String,
    pub git_ref: String,
    pub match_based_id: String,
    pub rule: String,
    pub severity: Severity,
    pub status: Status,
    pub triage_reason: Option<TriageReason>,
    pub verdict: Option<Verdict>,
    /// Epoch seconds.
    pub relevant_since: i64,
}

/// A finding changed after a change number (`Store::changes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    /// Its change number.
    pub seq: i64,
    /// The change number of its content's last change: no later than
    /// `seq`, earlier when only its triage changed since (migration 12).
    pub content_seq: i64,
}

/// A change with the finding's listing row (`Store::changed_rows`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedRow {
    pub change: Change,
    pub row: ListingRow,
}

/// A project as `GET …/projects` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub url: Option<String>,
    pub primary_branch: String,
    /// When its first and latest scans were imported (RFC 3339).
    pub first_import: Option<String>,
    pub latest_import: Option<String>,
}

/// The facts of `ListingRow`, the change number (column 13) and that of
/// the content's last change (column 14, migration 12).
const LISTING_SELECT: &str = "SELECT f.id, f.project_id, p.name, p.primary_branch, f.ref,
        f.match_based_id, r.name, f.severity, f.state, f.triage_state, f.triage_reason,
        f.verdict, f.relevant_since, f.change_seq,
        CASE f.content_seq WHEN 0 THEN f.change_seq ELSE f.content_seq END
     FROM findings f
     JOIN projects p ON p.id = f.project_id
     JOIN rules r ON r.id = f.rule_id";

/// `Store::changes`: the columns of `LISTING_SELECT` that number changes.
const CHANGES_SELECT: &str = "SELECT id, change_seq,
        CASE content_seq WHEN 0 THEN change_seq ELSE content_seq END
     FROM findings WHERE change_seq > ?1 ORDER BY change_seq LIMIT ?2";

fn listing_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListingRow> {
    let state = ScanState::parse(r.get_ref(8)?.as_str()?).unwrap_or(ScanState::Unresolved);
    let triage = TriageState::parse(r.get_ref(9)?.as_str()?).unwrap_or(TriageState::Untriaged);
    Ok(ListingRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        project: r.get(2)?,
        primary_branch: r.get(3)?,
        git_ref: r.get(4)?,
        match_based_id: r.get(5)?,
        rule: r.get(6)?,
        severity: Severity::parse(r.get_ref(7)?.as_str()?).unwrap_or(Severity::Medium),
        status: Status::derive(state, triage),
        triage_reason: r
            .get_ref(10)?
            .as_str_or_null()?
            .and_then(TriageReason::parse),
        verdict: r.get_ref(11)?.as_str_or_null()?.and_then(Verdict::parse),
        relevant_since: r.get(12)?,
    })
}

impl Store {
    /// Every finding, in no particular order.
    pub fn listing_rows(&self) -> Result<Vec<ListingRow>> {
        let mut stmt = self.conn.prepare_cached(LISTING_SELECT)?;
        let rows = stmt.query_map([], listing_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// At most `limit` findings changed after change number `after`, in
    /// the order they changed.
    pub fn changed_rows(&self, after: i64, limit: usize) -> Result<Vec<ChangedRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{LISTING_SELECT} WHERE f.change_seq > ?1 ORDER BY f.change_seq LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![after, limit], |r| {
            Ok(ChangedRow {
                change: Change {
                    id: r.get(0)?,
                    seq: r.get(13)?,
                    content_seq: r.get(14)?,
                },
                row: listing_row(r)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `changed_rows` without the rows: what a listing of changes that
    /// filters nothing reads (a tenth of the server's time for a page
    /// went to reading rows it did not look at).
    pub fn changes(&self, after: i64, limit: usize) -> Result<Vec<Change>> {
        let mut stmt = self.conn.prepare_cached(CHANGES_SELECT)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(rusqlite::params![after, limit], |r| {
            Ok(Change {
                id: r.get(0)?,
                seq: r.get(1)?,
                content_seq: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The triage of the findings `ids`, as `v1::TriagedFinding` holds it;
    /// an id the store does not hold is skipped.
    pub fn triaged_findings(&self, ids: &[i64]) -> Result<Vec<v1::TriagedFinding>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.name, f.ref, f.match_based_id, f.triage_state, f.triage_reason,
                f.triage_comment, f.triaged_at, f.relevant_since
             FROM findings f JOIN projects p ON p.id = f.project_id
             WHERE f.id = ?1",
        )?;
        self.in_snapshot(ids.len(), || {
            let mut triaged = Vec::with_capacity(ids.len());
            for &id in ids {
                let found = stmt.query_row([id], |r| {
                    let at: Option<String> = r.get(6)?;
                    let since = OffsetDateTime::from_unix_timestamp(r.get(7)?)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                    Ok(v1::TriagedFinding {
                        id,
                        repository: v1::Repository {
                            name: r.get(0)?,
                            url: None,
                        },
                        git_ref: r.get(1)?,
                        match_based_id: r.get(2)?,
                        triage_state: r.get(3)?,
                        triage_reason: r.get(4)?,
                        triage_comment: r.get(5)?,
                        triaged_at: at
                            .as_deref()
                            .and_then(timestamp::reformat)
                            .map(|at| at.into_owned()),
                        relevant_since: timestamp::format(since),
                    })
                });
                if let Some(t) = found.optional()? {
                    triaged.push(t);
                }
            }
            Ok(triaged)
        })
    }

    /// Where the findings' changes stand: the store's id and its latest
    /// change number. A cursor names both, so that one from another store
    /// (a server started afresh) is told apart.
    pub fn change_head(&self) -> Result<(i64, i64)> {
        let id: i64 =
            self.conn
                .query_row("SELECT value FROM meta WHERE key = 'store_id'", [], |r| {
                    r.get(0)
                })?;
        let seq: i64 = self.conn.query_row(
            "SELECT coalesce(max(change_seq), 0) FROM findings",
            [],
            |r| r.get(0),
        )?;
        Ok((id, seq))
    }

    /// Every project, by name.
    pub fn project_rows(&self) -> Result<Vec<ProjectRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.id, p.name, p.url, p.primary_branch,
                (SELECT min(imported_at) FROM scans WHERE project_id = p.id),
                (SELECT max(imported_at) FROM scans WHERE project_id = p.id)
             FROM projects p ORDER BY p.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ProjectRow {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                primary_branch: r.get(3)?,
                first_import: r.get(4)?,
                latest_import: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_lists_its_first_and_latest_import_and_none_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO projects (id, name) VALUES (1, 'acme/web'), (2, 'acme/api');
                 INSERT INTO scans (project_id, ref, origin, imported_at, findings, errors) VALUES
                    (1, 'main', 'a', '2026-03-02T00:00:00Z', 1, 0),
                    (1, 'main', 'b', '2026-01-05T00:00:00Z', 1, 0),
                    (1, 'dev', 'c', '2026-02-10T00:00:00Z', 1, 0);",
            )
            .unwrap();
        let rows = store.project_rows().unwrap();
        let seen: Vec<(&str, Option<&str>, Option<&str>)> = rows
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.first_import.as_deref(),
                    p.latest_import.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("acme/api", None, None),
                (
                    "acme/web",
                    Some("2026-01-05T00:00:00Z"),
                    Some("2026-03-02T00:00:00Z")
                ),
            ]
        );
    }
}
