//! What the Monday digest (`sift digest`) reads besides the backlog: the
//! decisions made, the findings first seen and who decided, since a date.
//! Read-only; copies of a finding on several refs count once.

use super::Store;
use crate::domain::TriageState;
use crate::wire::timestamp;
use anyhow::Result;
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// Activity entries that record a reviewer's decision: "set to ignored
/// (…)", "set to fix", "set to reviewing" (not a reopening, a note, the
/// scan's "fixed" or the Assistant's "judged").
const DECISION_ACTIONS: &str = "a.action LIKE 'set to %' AND a.action != 'set to reopened'
     AND a.actor != 'scan' AND a.actor NOT LIKE 'Assistant (%'";

impl Store {
    /// The findings whose standing decision (ignored, to fix, reviewing)
    /// was made at or after `since`, by its `triaged_at` (what the backend
    /// says, so an API backend's cache knows its colleagues' decisions
    /// too), and those with such a decision made since then waiting in the
    /// outbox. Ids in ascending order.
    pub fn decided_since(&self, since: OffsetDateTime) -> Result<Vec<i64>> {
        let mut ids = BTreeSet::new();
        let mut stmt = self.conn.prepare(
            "SELECT id, triaged_at FROM findings
             WHERE triaged_at IS NOT NULL
               AND triage_state IN ('ignored', 'fixing', 'reviewing')",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let at: String = r.get(1)?;
            // Stored in one format, but parsed: a backend's own spelling
            // may have come in with an API dump.
            if timestamp::parse(&at).is_some_and(|at| at >= since) {
                ids.insert(r.get::<_, i64>(0)?);
            }
        }
        for p in self.pending()? {
            let decides = matches!(
                p.change.state,
                Some(TriageState::Ignored | TriageState::Fixing | TriageState::Reviewing)
            );
            if decides && p.rejected.is_none() && p.created_at >= since {
                ids.insert(p.finding_id);
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// How many findings of each project were first seen at or after
    /// `since` (Semgrep's `relevant_since`), whatever became of them, by
    /// project name.
    pub fn first_seen_since(&self, since: OffsetDateTime) -> Result<Vec<(String, usize)>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.name, count(*) FROM (
                 SELECT project_id FROM findings GROUP BY project_id, match_based_id
                 HAVING min(relevant_since) >= ?1) AS new
             JOIN projects p ON p.id = new.project_id
             GROUP BY p.name ORDER BY p.name",
        )?;
        let rows = stmt.query_map([since.unix_timestamp()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (project, n) = row?;
            out.push((project, usize::try_from(n).unwrap_or(0)));
        }
        Ok(out)
    }

    /// Who decided how many findings of each project at or after `since`,
    /// by this store's activity (the decisions it applied or sent; an API
    /// backend's cache does not know who made the decisions it fetched):
    /// (reviewer, project, findings), by reviewer then project.
    pub fn deciders_since(&self, since: OffsetDateTime) -> Result<Vec<(String, String, usize)>> {
        let sql = format!(
            "SELECT a.actor, p.name, count(DISTINCT f.match_based_id)
             FROM activity a JOIN findings f ON f.id = a.finding_id
             JOIN projects p ON p.id = f.project_id
             WHERE a.at >= ?1 AND {DECISION_ACTIONS}
             GROUP BY a.actor, p.name ORDER BY a.actor, p.name"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([timestamp::format(since)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (actor, project, n) = row?;
            out.push((actor, project, usize::try_from(n).unwrap_or(0)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageChange, TriageReason};
    use crate::wire::v1::FindingsPage;
    use time::macros::datetime;

    /// Finding 1 and 2 are one match on two refs; 3 is another, older.
    fn store() -> Store {
        let page: FindingsPage = serde_json::from_str(
            r#"{"findings": [
              {"id": 1, "ref": "main", "match_based_id": "m_0", "repository": {"name": "acme/web"},
               "relevant_since": "2026-03-01T00:00:00Z"},
              {"id": 2, "ref": "refs/pull/4/merge", "match_based_id": "m_0", "repository": {"name": "acme/web"},
               "relevant_since": "2026-03-02T00:00:00Z"},
              {"id": 3, "ref": "main", "match_based_id": "m_1", "repository": {"name": "acme/web"},
               "relevant_since": "2026-01-01T00:00:00Z"}
            ]}"#,
        )
        .unwrap();
        let now = OffsetDateTime::now_utc();
        let mut by_ref: std::collections::BTreeMap<String, Vec<_>> = Default::default();
        for f in page.findings {
            let f = f.into_domain(now);
            by_ref.entry(f.git_ref.clone()).or_default().push(f);
        }
        let scans: Vec<_> = by_ref
            .into_iter()
            .map(|(git_ref, findings)| crate::domain::ScanResults {
                origin: "test".into(),
                source: crate::domain::ScanSource::Platform,
                project: "acme/web".into(),
                repository_url: None,
                git_ref,
                findings,
                identities: vec![],
                errors: vec![],
                warnings: vec![],
                source_root: None,
            })
            .collect();
        let mut s = Store::in_memory().unwrap();
        s.import(&scans).unwrap();
        s
    }

    fn ignore() -> TriageChange {
        TriageChange {
            state: Some(TriageState::Ignored),
            reason: Some(TriageReason::FalsePositive),
            note: None,
        }
    }

    #[test]
    fn decisions_count_from_when_they_were_made_and_copies_once_per_reviewer() {
        let s = store();
        let monday = datetime!(2026-03-02 08:00 UTC);
        s.apply_triage(
            &[1],
            &ignore(),
            "alice",
            monday - time::Duration::days(2),
            None,
        )
        .unwrap();
        s.apply_triage(
            &[3],
            &ignore(),
            "bob",
            monday - time::Duration::days(20),
            None,
        )
        .unwrap();
        let week = monday - time::Duration::days(7);
        assert_eq!(s.decided_since(week).unwrap(), vec![1, 2], "both copies");
        assert_eq!(
            s.deciders_since(week).unwrap(),
            vec![("alice".to_string(), "acme/web".to_string(), 1)],
            "the copies are one finding"
        );
        assert_eq!(s.decided_since(monday).unwrap(), Vec::<i64>::new());
        let note = TriageChange {
            state: None,
            reason: None,
            note: Some("n".into()),
        };
        s.apply_triage(&[3], &note, "carol", monday, None).unwrap();
        assert_eq!(
            s.deciders_since(week).unwrap().len(),
            1,
            "a note is no decision"
        );
    }

    #[test]
    fn a_finding_is_new_when_its_first_copy_is() {
        let s = store();
        let new = |at| s.first_seen_since(at).unwrap();
        assert_eq!(
            new(datetime!(2026-02-28 00:00 UTC)),
            vec![("acme/web".to_string(), 1)]
        );
        assert_eq!(
            new(datetime!(2026-03-01 12:00 UTC)),
            vec![],
            "its first copy came before"
        );
        assert_eq!(
            new(datetime!(2025-01-01 00:00 UTC)),
            vec![("acme/web".to_string(), 2)]
        );
    }
}
