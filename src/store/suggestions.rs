//! What a re-analysis under a memory suggests: the undecided findings in
//! its scope that the Assistant, with the memory in its prompt, judged
//! false positives. Suggestions only: nothing is closed until a reviewer
//! accepts them.

use super::Store;
use crate::domain::Verdict;
use anyhow::Result;
use rusqlite::params;
use std::collections::HashMap;
use time::OffsetDateTime;

/// A finding suggested for closing under a memory, and the Assistant's
/// reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub finding_id: i64,
    pub reason: String,
}

impl Store {
    /// Replaces the memory's suggestions with `found` (finding, answer key).
    pub fn record_suggestions(&self, memory_id: &str, found: &[(i64, String)]) -> Result<()> {
        let tx = self.write_tx()?;
        tx.execute(
            "DELETE FROM ai_suggestions WHERE memory_id = ?1",
            [memory_id],
        )?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO ai_suggestions (memory_id, finding_id, key, at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            let at = crate::wire::timestamp::format(OffsetDateTime::now_utc());
            for (finding, key) in found {
                insert.execute(params![memory_id, finding, key, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The memory's suggestions still open: findings nobody decided since
    /// (a decision waiting in the outbox counts as made).
    pub fn suggestions(&self, memory_id: &str) -> Result<Vec<Suggestion>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.finding_id, a.answer FROM ai_suggestions s
             JOIN ai_answers a ON a.key = s.key
             JOIN findings f ON f.id = s.finding_id
             WHERE s.memory_id = ?1 AND f.state = 'unresolved'
               AND f.triage_state IN ('untriaged', 'provisionally_ignored', 'reopened')
               AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.kind = 'triage'
                   AND c.subject = CAST(s.finding_id AS TEXT)
                   AND json_extract(c.body, '$.state') IS NOT NULL)
             ORDER BY s.finding_id",
        )?;
        let rows = stmt.query_map([memory_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (finding_id, answer) = row?;
            if let Ok(super::Judgement::Verdict {
                verdict: Verdict::FalsePositive,
                reason,
                ..
            }) = serde_json::from_str(&answer)
            {
                out.push(Suggestion { finding_id, reason });
            }
        }
        Ok(out)
    }

    /// How many open suggestions each memory has (memories without none).
    pub fn suggestion_counts(&self) -> Result<HashMap<String, usize>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.memory_id, COUNT(*) FROM ai_suggestions s
             JOIN findings f ON f.id = s.finding_id
             WHERE f.state = 'unresolved'
               AND f.triage_state IN ('untriaged', 'provisionally_ignored', 'reopened')
               AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.kind = 'triage'
                   AND c.subject = CAST(s.finding_id AS TEXT)
                   AND json_extract(c.body, '$.state') IS NOT NULL)
             GROUP BY s.memory_id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, usize>(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
