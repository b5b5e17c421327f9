//! sift's own Assistant's guidance and fixes, kept like its verdicts: by
//! the question that produced them (an identical question is asked once)
//! and for each finding they were written for.

use super::{AnswerKind, Store};
use crate::domain::{Assistant, FixConfidence, FixProvenance, Guidance, Judge};
use crate::wire::timestamp;
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;

/// What the Assistant wrote to fix a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixAnswer {
    pub summary: String,
    pub instructions: String,
    /// The code that replaces the matched lines; empty when the model could
    /// not fix it in these lines (guidance only).
    pub fix_code: String,
    /// The review pass's rating; None when there is no fix to rate.
    pub confidence: Option<FixConfidence>,
    /// What the review pass found, in words.
    pub review: String,
    /// The matched lines the fix was written for.
    pub replaces: String,
}

/// The outcome of asking for a fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixOutcome {
    Written(FixAnswer),
    /// Asked, and nothing usable came: why.
    NotWritten {
        why: String,
    },
}

/// One outcome with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct FixRecord {
    pub outcome: FixOutcome,
    pub judge: Judge,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Store {
    /// Keeps a fix under its question's key and links it to `finding_ids`,
    /// in one transaction, with a line in each finding's history.
    pub fn record_fix(&self, key: &str, record: &FixRecord, finding_ids: &[i64]) -> Result<()> {
        let tx = self.write_tx()?;
        super::assistant::keep_answer(
            &tx,
            key,
            AnswerKind::Fix,
            &serde_json::to_string(&record.outcome)?,
            &record.judge,
            (record.input_tokens, record.output_tokens),
        )?;
        let (action, note) = match &record.outcome {
            FixOutcome::Written(a) => match a.confidence {
                Some(c) => (format!("wrote a fix ({c} confidence)"), a.summary.clone()),
                None => ("wrote guidance, no fix".to_string(), a.summary.clone()),
            },
            FixOutcome::NotWritten { why } => ("wrote no fix".to_string(), why.clone()),
        };
        let actor = format!("Assistant ({})", record.judge.model);
        {
            let mut link = tx.prepare_cached(
                "INSERT OR REPLACE INTO ai_findings (finding_id, kind, key) VALUES (?1, 'fix', ?2)",
            )?;
            let mut history = tx.prepare_cached(
                "INSERT INTO activity (finding_id, at, actor, action, note)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for &id in finding_ids {
                link.execute(params![id, key])?;
                history.execute(params![
                    id,
                    timestamp::format(record.judge.at),
                    actor,
                    action,
                    note
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The fix asked for by an identical question before, if any.
    pub fn ai_fix_answer(&self, key: &str) -> Result<Option<FixRecord>> {
        self.conn
            .prepare_cached(
                "SELECT answer, provider, model, prompt_version, memories, input_tokens,
                        output_tokens, at
                 FROM ai_answers WHERE key = ?1 AND kind = 'fix'",
            )?
            .query_row([key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    Judge {
                        provider: r.get(1)?,
                        model: r.get(2)?,
                        prompt_version: r.get(3)?,
                        at: timestamp::parse(&r.get::<_, String>(7)?)
                            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                        memories: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                    },
                    r.get::<_, u64>(5)?,
                    r.get::<_, u64>(6)?,
                ))
            })
            .optional()?
            .map(|(answer, judge, i, o)| {
                Ok(FixRecord {
                    outcome: serde_json::from_str(&answer).context("a stored fix is damaged")?,
                    judge,
                    input_tokens: i,
                    output_tokens: o,
                })
            })
            .transpose()
    }

    /// sift's own fixes for these findings (those that have one).
    pub fn ai_fixes(&self, finding_ids: &[i64]) -> Result<HashMap<i64, FixRecord>> {
        let mut out = HashMap::new();
        for (id, key) in self.ai_keys(finding_ids, super::AnswerKind::Fix)? {
            if let Some(record) = self.ai_fix_answer(&key)? {
                out.insert(id, record);
            }
        }
        Ok(out)
    }
}

/// sift's own guidance and fix on a finding, unless Semgrep's Assistant
/// wrote some (from an import or a pull): Semgrep's stand.
pub(super) fn with_own_fix(assistant: &mut Option<Assistant>, record: &FixRecord) {
    let a = assistant.get_or_insert_with(Default::default);
    if a.fixed_by.is_none() && (a.autofix_code.is_some() || a.guidance.is_some()) {
        return;
    }
    let fix = match &record.outcome {
        FixOutcome::Written(fix) => fix,
        FixOutcome::NotWritten { why } => {
            a.no_fix = Some(why.clone());
            return;
        }
    };
    a.guidance = Some(Guidance {
        summary: fix.summary.clone(),
        instructions: fix.instructions.clone(),
    });
    a.autofix_code = (!fix.fix_code.is_empty()).then(|| fix.fix_code.clone());
    a.fixed_by = Some(FixProvenance {
        confidence: fix.confidence,
        review: fix.review.clone(),
        replaces: fix.replaces.clone(),
        judge: record.judge.clone(),
    });
}
