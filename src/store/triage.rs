//! Triage as the embedded backend applies it: the v1 bulk triage semantics
//! over the store.

use super::Store;
use crate::domain::{TriageChange, TriageConflict, TriageReason, TriageState, conflict};
use crate::wire::timestamp;
use crate::wire::v1::Conflict;
use anyhow::Result;
use rusqlite::{OptionalExtension, params};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What a bulk triage did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// Every finding triaged, including the same finding on other refs;
    /// ascending.
    pub triaged: Vec<i64>,
    /// Findings asked for whose status could not change (a newer scan had
    /// marked every copy of them fixed), with why.
    pub not_applied: Vec<(i64, String)>,
    /// Findings asked for that someone else decided since the reviewer saw
    /// them (their precondition failed): left alone, with what they hold.
    #[serde(default, with = "stored_conflicts")]
    pub conflicts: Vec<TriageConflict>,
    /// The findings version this change produced.
    #[serde(skip)]
    pub version: i64,
}

/// Conflicts kept in a remembered answer, in their wire shape.
mod stored_conflicts {
    use super::{Conflict, TriageConflict};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(c: &[TriageConflict], s: S) -> Result<S::Ok, S::Error> {
        c.iter()
            .map(Conflict::from_domain)
            .collect::<Vec<_>>()
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TriageConflict>, D::Error> {
        Ok(Vec::<Conflict>::deserialize(d)?
            .into_iter()
            .filter_map(Conflict::into_domain)
            .collect())
    }
}

/// Answers older than this are forgotten: no client resends that late.
const REMEMBERED_SECS: i64 = 30 * 24 * 3600;

impl Store {
    /// Applies a change to the findings and to the same finding on the
    /// project's other refs, as Semgrep does. Fixed findings keep their
    /// triage state but get the note; a finding none of whose copies could
    /// take the new status is reported as not applied. Unknown ids are
    /// skipped.
    ///
    /// With a request `key`, the change is applied once: the same key again
    /// answers what the first request did and changes nothing, even when
    /// someone decided the same findings since.
    pub fn apply_triage(
        &self,
        ids: &[i64],
        change: &TriageChange,
        actor: &str,
        at: OffsetDateTime,
        key: Option<&str>,
    ) -> Result<Applied> {
        self.apply_triage_if(ids, change, actor, at, key, &[])
    }

    /// `apply_triage`, leaving alone each finding in `preconditions` that
    /// someone else decided since the reviewer saw it in the state given
    /// (`domain::conflict::crosses`): it is reported in `conflicts`, with
    /// who decided it and when, and its copies are not touched.
    pub fn apply_triage_if(
        &self,
        ids: &[i64],
        change: &TriageChange,
        actor: &str,
        at: OffsetDateTime,
        key: Option<&str>,
        preconditions: &[(i64, TriageState)],
    ) -> Result<Applied> {
        let _cache = self.write_cache()?;
        let tx = self.write_tx()?;
        if let Some(key) = key {
            let earlier: Option<String> = tx
                .query_row(
                    "SELECT answer FROM applied_requests WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(answer) = earlier.and_then(|a| serde_json::from_str::<Applied>(&a).ok()) {
                let version = super::current_findings_version(&tx)?;
                return Ok(Applied { version, ..answer });
            }
        }
        let at_text = timestamp::format(at);
        // Every copy of the findings asked for, and whether a scan fixed it.
        let mut copies: BTreeMap<i64, bool> = BTreeMap::new();
        let mut not_applied = Vec::new();
        let mut conflicts = Vec::new();
        // A note alone in the history is no decision on the state.
        let note_activity = TriageChange {
            state: None,
            reason: None,
            note: None,
        }
        .activity();
        {
            let mut identity =
                tx.prepare_cached("SELECT project_id, match_based_id FROM findings WHERE id = ?1")?;
            let mut standing = tx.prepare_cached(
                "SELECT triage_state, triage_reason, triaged_at FROM findings WHERE id = ?1",
            )?;
            let mut last_decision = tx.prepare_cached(
                "SELECT actor, at FROM activity WHERE finding_id = ?1 AND action <> ?2
                 ORDER BY id DESC LIMIT 1",
            )?;
            let mut same = tx.prepare_cached(
                "SELECT id, state = 'fixed' FROM findings
                 WHERE project_id = ?1 AND match_based_id = ?2",
            )?;
            for &id in ids {
                let Some((project, mbid)) = identity
                    .query_row([id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .optional()?
                else {
                    continue;
                };
                let seen = preconditions
                    .iter()
                    .find(|(p, _)| *p == id)
                    .map(|(_, s)| *s);
                if let (Some(seen), Some(wanted)) = (seen, change.state) {
                    let (now, reason, triaged_at) = standing.query_row([id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<String>>(2)?,
                        ))
                    })?;
                    let now = TriageState::parse(&now).unwrap_or(TriageState::Untriaged);
                    if conflict::crosses(seen, now, wanted) {
                        let by: Option<(String, String)> = last_decision
                            .query_row(params![id, note_activity], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()?;
                        conflicts.push(TriageConflict {
                            finding_id: id,
                            state: now,
                            reason: reason.as_deref().and_then(TriageReason::parse),
                            at: by
                                .as_ref()
                                .map(|(_, at)| at.as_str())
                                .or(triaged_at.as_deref())
                                .and_then(timestamp::parse),
                            by: by.map(|(who, _)| who),
                        });
                        continue;
                    }
                }
                let found = same
                    .query_map(params![project, mbid], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                if change.state.is_some() && found.iter().all(|(_, fixed)| *fixed) {
                    not_applied.push((
                        id,
                        "a newer scan marked the finding fixed, and a fixed finding's status \
                         cannot change"
                            .to_string(),
                    ));
                }
                copies.extend(found);
            }
        }
        // A new status reaches the copies a scan did not fix; a note alone
        // reaches every copy.
        let triaged: Vec<i64> = copies
            .into_iter()
            .filter(|(_, fixed)| change.state.is_none() || !fixed)
            .map(|(id, _)| id)
            .collect();
        {
            let mut set_state = tx.prepare_cached(concat!(
                "UPDATE findings SET triage_state = ?2, triage_reason = ?3,
                    triage_comment = COALESCE(?4, triage_comment), triaged_at = ?5, ",
                triage_changed!(),
                " WHERE id = ?1"
            ))?;
            let mut last_activity = tx.prepare_cached(
                "SELECT actor, action, note FROM activity WHERE finding_id = ?1
                 ORDER BY id DESC LIMIT 1",
            )?;
            let mut add_activity = tx.prepare_cached(
                "INSERT INTO activity (finding_id, at, actor, action, note)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let action = change.activity();
            for &id in &triaged {
                if let Some(state) = change.state {
                    let reason = (state == TriageState::Ignored)
                        .then_some(change.reason)
                        .flatten()
                        .map(|r| r.as_str());
                    set_state.execute(params![id, state.as_str(), reason, change.note, at_text])?;
                }
                // A retried request without a key must not write the same
                // entry twice.
                let last: Option<(String, String, Option<String>)> = last_activity
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let entry = (actor.to_string(), action.clone(), change.note.clone());
                if last.as_ref() != Some(&entry) {
                    add_activity.execute(params![id, at_text, actor, action, change.note])?;
                }
            }
        }
        let applied = Applied {
            triaged,
            not_applied,
            conflicts,
            version: super::bump_findings_version(&tx)?,
        };
        if let Some(key) = key {
            tx.execute(
                "INSERT INTO applied_requests (key, answer, at) VALUES (?1, ?2, ?3)",
                params![key, serde_json::to_string(&applied)?, at.unix_timestamp()],
            )?;
            tx.execute(
                "DELETE FROM applied_requests WHERE at < ?1",
                [at.unix_timestamp() - REMEMBERED_SECS],
            )?;
        }
        tx.commit()?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ScanResults;
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
            .import(&[ScanResults::platform(
                "test", "acme/web", None, "main", findings,
            )])
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
        let s = store();
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            s.apply_triage(&[2], &ignore(), "alice", at, None)
                .unwrap()
                .triaged,
            vec![1, 2]
        );
        // A retry after a lost acknowledgement changes nothing.
        assert_eq!(
            s.apply_triage(&[2], &ignore(), "alice", at, None)
                .unwrap()
                .triaged,
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
    fn a_status_for_a_fixed_finding_is_refused_and_a_note_kept() {
        let s = store();
        let applied = s
            .apply_triage(
                &[3, 99],
                &ignore(),
                "alice",
                OffsetDateTime::UNIX_EPOCH,
                None,
            )
            .unwrap();
        assert_eq!(
            applied.triaged,
            Vec::<i64>::new(),
            "unknown ids are skipped"
        );
        assert_eq!(applied.not_applied.len(), 1);
        assert_eq!(applied.not_applied[0].0, 3);
        let f = s.load_finding(3).unwrap().unwrap();
        assert_eq!(f.status(), Status::Fixed);
        assert!(f.activity.is_empty(), "nothing happened, so no history");
        let note = TriageChange {
            state: None,
            reason: None,
            note: Some("still worth knowing".into()),
        };
        let applied = s
            .apply_triage(&[3], &note, "alice", OffsetDateTime::UNIX_EPOCH, None)
            .unwrap();
        assert_eq!(applied.triaged, vec![3]);
        assert_eq!(s.load_finding(3).unwrap().unwrap().activity.len(), 1);
    }

    #[test]
    fn a_request_sent_again_after_a_colleagues_decision_changes_nothing() {
        let s = store();
        let at = OffsetDateTime::UNIX_EPOCH;
        let first = s
            .apply_triage(&[1], &ignore(), "alice", at, Some("k1"))
            .unwrap();
        let fixing = TriageChange {
            state: Some(TriageState::Fixing),
            reason: None,
            note: None,
        };
        s.apply_triage(&[1], &fixing, "bob", at, Some("k2"))
            .unwrap();
        // Alice's answer was lost; her sync sends the same request again.
        let again = s
            .apply_triage(&[1], &ignore(), "alice", at, Some("k1"))
            .unwrap();
        assert_eq!(again.triaged, first.triaged, "the first answer");
        let f = s.load_finding(1).unwrap().unwrap();
        assert_eq!(f.status(), Status::Fixing, "Bob's later decision stands");
        assert_eq!(f.activity.len(), 2, "one entry each");
    }
}
