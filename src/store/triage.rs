//! Triage as the embedded backend applies it: the v1 bulk triage semantics
//! over the store.

use super::Store;
use crate::domain::{TriageChange, TriageState};
use crate::wire::timestamp;
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use std::collections::BTreeSet;
use time::OffsetDateTime;

impl Store {
    /// Applies a change to the findings and to the same finding on the
    /// project's other refs, as Semgrep does. Applying it again changes
    /// nothing. Fixed findings keep their triage state but get the note.
    /// Returns every finding id triaged, ascending (unknown ids are
    /// skipped), and the findings version this change produced.
    pub fn apply_triage(
        &mut self,
        ids: &[i64],
        change: &TriageChange,
        actor: &str,
        at: OffsetDateTime,
    ) -> Result<(Vec<i64>, i64)> {
        let at = timestamp::format(at);
        let tx = self.conn.transaction()?;
        let mut triaged = BTreeSet::new();
        {
            let mut identity =
                tx.prepare_cached("SELECT project_id, match_based_id FROM findings WHERE id = ?1")?;
            let mut same = tx.prepare_cached(
                "SELECT id FROM findings WHERE project_id = ?1 AND match_based_id = ?2",
            )?;
            for &id in ids {
                let Some((project, mbid)) = identity
                    .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .optional()?
                else {
                    continue;
                };
                let others = same
                    .query_map(params![project, mbid], |r| r.get::<_, i64>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                triaged.extend(others);
            }
            let mut set_state = tx.prepare_cached(
                "UPDATE findings SET triage_state = ?2, triage_reason = ?3,
                    triage_comment = COALESCE(?4, triage_comment), triaged_at = ?5
                 WHERE id = ?1 AND state != 'fixed'",
            )?;
            let mut last_activity = tx.prepare_cached(
                "SELECT actor, action, note FROM activity WHERE finding_id = ?1
                 ORDER BY id DESC LIMIT 1",
            )?;
            let mut add_activity = tx.prepare_cached(
                "INSERT INTO activity (finding_id, at, actor, action, note)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let action = match change.state {
                Some(_) => format!("set to {}", change.describe()),
                None => "added a note".to_string(),
            };
            for &id in &triaged {
                if let Some(state) = change.state {
                    let reason = (state == TriageState::Ignored)
                        .then_some(change.reason)
                        .flatten()
                        .map(|r| r.as_str());
                    set_state.execute(params![id, state.as_str(), reason, change.note, at])?;
                }
                // A retried request must not write the same entry twice.
                let last: Option<(String, String, Option<String>)> = last_activity
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let entry = (actor.to_string(), action.clone(), change.note.clone());
                if last.as_ref() != Some(&entry) {
                    add_activity.execute(params![id, at, actor, action, change.note])?;
                }
            }
        }
        let version = super::bump_findings_version(&tx)?;
        tx.commit()?;
        Ok((triaged.into_iter().collect(), version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ScanResults, ScanSource};
    use crate::domain::{Status, TriageReason};
    use crate::wire::v1::FindingsPage;

    /// Finding 1 and 2 are the same match on main and on a pull request;
    /// finding 3 is fixed.
    fn store() -> Store {
        let page: FindingsPage = serde_json::from_str(
            r#"{"findings": [
              {"id": 1, "ref": "main", "match_based_id": "m_0", "repository": {"name": "acme/web"}},
              {"id": 2, "ref": "refs/pull/4/merge", "match_based_id": "m_0", "repository": {"name": "acme/web"}},
              {"id": 3, "ref": "main", "match_based_id": "f_0", "state": "fixed", "repository": {"name": "acme/web"}}
            ]}"#,
        )
        .unwrap();
        let findings: Vec<_> = page
            .findings
            .into_iter()
            .map(|f| f.into_domain(OffsetDateTime::UNIX_EPOCH))
            .collect();
        let mut store = Store::in_memory().unwrap();
        store
            .import(&[ScanResults {
                origin: "test".into(),
                source: ScanSource::Platform,
                project: "acme/web".into(),
                repository_url: None,
                git_ref: "main".into(),
                findings,
                identities: vec![],
                errors: vec![],
                warnings: vec![],
            }])
            .unwrap();
        store
    }

    fn ignore() -> TriageChange {
        TriageChange {
            state: Some(TriageState::Ignored),
            reason: Some(TriageReason::FalsePositive),
            note: Some("constant input".into()),
        }
    }

    #[test]
    fn applies_across_refs_and_once_only() {
        let mut s = store();
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            s.apply_triage(&[2], &ignore(), "alice", at).unwrap().0,
            vec![1, 2]
        );
        // A retry after a lost acknowledgement changes nothing.
        assert_eq!(
            s.apply_triage(&[2], &ignore(), "alice", at).unwrap().0,
            vec![1, 2]
        );
        for f in s.load_findings(&[1, 2]).unwrap() {
            assert_eq!(f.status(), Status::Ignored);
            assert_eq!(f.triage_reason, Some(TriageReason::FalsePositive));
            assert_eq!(f.triage_comment.as_deref(), Some("constant input"));
            assert_eq!(f.activity.len(), 1, "one entry despite the retry");
            assert_eq!(f.activity[0].actor, "alice");
        }
    }

    #[test]
    fn fixed_findings_keep_their_state_and_unknown_ids_are_skipped() {
        let mut s = store();
        let triaged = s
            .apply_triage(&[3, 99], &ignore(), "alice", OffsetDateTime::UNIX_EPOCH)
            .unwrap()
            .0;
        assert_eq!(triaged, vec![3]);
        let f = s.load_finding(3).unwrap().unwrap();
        assert_eq!(f.status(), Status::Fixed);
        assert_eq!(f.activity.len(), 1, "the note is still recorded");
    }
}
