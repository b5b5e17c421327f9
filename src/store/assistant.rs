//! sift's own Assistant's answers, kept as they arrive: by the question
//! that produced them (so an identical question is asked once), and for
//! each finding, with what the answer does to it on this backend (a
//! false-positive verdict makes an open finding provisionally ignored, as
//! Semgrep does; no verdict touches a human decision).

use super::Store;
use crate::domain::{ComponentRisk, Judge, Verdict};
use crate::wire::timestamp;
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// What the provider answered, as kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    Verdict {
        verdict: Verdict,
        reason: String,
        /// The component the code belongs to and its risk, when the
        /// answer gave a usable one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component: Option<ComponentTag>,
    },
    /// Asked, and no verdict came (refused, cut short, not the schema, or
    /// the model could not tell): why.
    NoVerdict { why: String },
}

/// What was asked about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    Verdict,
    Fix,
}

impl AnswerKind {
    fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Verdict => "verdict",
            AnswerKind::Fix => "fix",
        }
    }
}

/// An Assistant's component tag: what the code is part of ("payments",
/// "user authentication", "tests") and how sensitive that is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentTag {
    pub tag: String,
    pub risk: ComponentRisk,
}

/// One answer with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub judgement: Judgement,
    pub judge: Judge,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A decision a reviewer made on a finding of the same rule: an example
/// for the prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub finding_id: i64,
    pub path: String,
    pub triage_state: String,
    pub triage_reason: Option<String>,
    pub comment: Option<String>,
}

impl Store {
    /// The answer to a question asked before, if any.
    pub fn ai_answer(&self, key: &str) -> Result<Option<Answer>> {
        self.conn
            .prepare_cached(
                "SELECT answer, provider, model, prompt_version, memories, input_tokens,
                        output_tokens, at
                 FROM ai_answers WHERE key = ?1",
            )?
            .query_row([key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, u64>(5)?,
                    r.get::<_, u64>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })
            .optional()?
            .map(
                |(answer, provider, model, prompt_version, memories, i, o, at)| {
                    Ok(Answer {
                        judgement: serde_json::from_str(&answer)
                            .context("a stored answer is damaged")?,
                        judge: Judge {
                            provider,
                            model,
                            prompt_version,
                            at: timestamp::parse(&at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                            memories: serde_json::from_str(&memories).unwrap_or_default(),
                        },
                        input_tokens: i,
                        output_tokens: o,
                    })
                },
            )
            .transpose()
    }

    /// Keeps an answer under its question's key and makes it the verdict of
    /// `finding_ids` (none: the answer is only kept), in one transaction. On a finding without a verdict of
    /// Semgrep's own: the verdict shows in every view, a false positive
    /// makes it provisionally ignored while nobody decided it, and its
    /// history says who judged it.
    pub fn record_verdict(&self, key: &str, answer: &Answer, finding_ids: &[i64]) -> Result<()> {
        let tx = self.write_tx()?;
        keep_answer(
            &tx,
            key,
            AnswerKind::Verdict,
            &serde_json::to_string(&answer.judgement)?,
            &answer.judge,
            (answer.input_tokens, answer.output_tokens),
        )?;
        let verdict = match &answer.judgement {
            Judgement::Verdict { verdict, .. } => Some(verdict.as_str()),
            Judgement::NoVerdict { .. } => None,
        };
        let (action, note) = match &answer.judgement {
            Judgement::Verdict {
                verdict, reason, ..
            } => (
                format!("judged: {}", verdict.as_str().replace('_', " ")),
                reason.clone(),
            ),
            Judgement::NoVerdict { why } => ("gave no verdict".to_string(), why.clone()),
        };
        let actor = format!("Assistant ({})", answer.judge.model);
        {
            let mut link = tx.prepare_cached(
                "INSERT OR REPLACE INTO ai_findings (finding_id, kind, key)
                 VALUES (?1, 'verdict', ?2)",
            )?;
            let mut platform = tx.prepare_cached(
                "SELECT json_extract(doc, '$.assistant.autotriage.verdict') IS NOT NULL
                 FROM finding_details WHERE finding_id = ?1",
            )?;
            let mut set_verdict = tx.prepare_cached(concat!(
                "UPDATE findings SET verdict = ?2,
                    triage_state = CASE
                        WHEN ?2 = 'false_positive' AND triage_state = 'untriaged'
                             AND state = 'unresolved' THEN 'provisionally_ignored'
                        WHEN (?2 IS NULL OR ?2 != 'false_positive')
                             AND triage_state = 'provisionally_ignored' THEN 'untriaged'
                        ELSE triage_state END, ",
                content_changed!(),
                " WHERE id = ?1"
            ))?;
            let mut history = tx.prepare_cached(
                "INSERT INTO activity (finding_id, at, actor, action, note)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            // Semgrep's own component tag, from an import, stands.
            let mut set_component = tx.prepare_cached(concat!(
                "UPDATE findings SET component = ?2, risk = ?3, ",
                content_changed!(),
                " WHERE id = ?1 AND NOT EXISTS (
                     SELECT 1 FROM finding_details
                     WHERE finding_id = ?1
                       AND json_extract(doc, '$.assistant.component.tag') IS NOT NULL)"
            ))?;
            let component = match &answer.judgement {
                Judgement::Verdict {
                    component: Some(c), ..
                } => Some(c),
                _ => None,
            };
            for &id in finding_ids {
                link.execute(params![id, key])?;
                let semgreps = platform
                    .query_row([id], |r| r.get::<_, bool>(0))
                    .optional()?
                    .unwrap_or(false);
                if let Some(c) = component {
                    set_component.execute(params![id, c.tag, c.risk.as_str()])?;
                }
                if semgreps {
                    continue; // Semgrep's own verdict stands
                }
                set_verdict.execute(params![id, verdict])?;
                history.execute(params![
                    id,
                    timestamp::format(answer.judge.at),
                    actor,
                    action,
                    note
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// sift's own answers for these findings (those that have one).
    pub fn ai_verdicts(&self, finding_ids: &[i64]) -> Result<HashMap<i64, Answer>> {
        let mut out = HashMap::new();
        for (id, key) in self.ai_keys(finding_ids, AnswerKind::Verdict)? {
            if let Some(answer) = self.ai_answer(&key)? {
                out.insert(id, answer);
            }
        }
        Ok(out)
    }

    /// Whether sift's own Assistant has answered any finding.
    pub(super) fn any_ai_answers(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM ai_findings)", [], |r| {
                r.get(0)
            })?)
    }

    /// The keys of sift's own answers of `kind` for these findings (those
    /// that have one), in one query.
    pub(super) fn ai_keys(
        &self,
        finding_ids: &[i64],
        kind: AnswerKind,
    ) -> Result<Vec<(i64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT finding_id, key FROM ai_findings
             WHERE kind = ?2 AND finding_id IN (SELECT value FROM json_each(?1))",
        )?;
        let ids = serde_json::to_string(finding_ids)?;
        let rows = stmt.query_map(params![ids, kind.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Which of these findings sift's own Assistant has answered, with a
    /// verdict or a fix (`kind`).
    pub fn ai_answered(&self, finding_ids: &[i64], kind: AnswerKind) -> Result<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM ai_findings WHERE finding_id = ?1 AND kind = ?2")?;
        let mut out = Vec::new();
        for &id in finding_ids {
            if stmt.exists(params![id, kind.as_str()])? {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Up to `n` decisions reviewers made on the same rule in the same
    /// project, newest first, not on `except` (nor its copies).
    /// (By the decided-findings index: grouping by copy would otherwise
    /// lead SQLite to scan the project's findings for every question. The
    /// states are spelled as the index's, migration 11, for SQLite to use
    /// it.)
    pub fn decided_examples(
        &self,
        project: &str,
        rule: &str,
        except: i64,
        n: usize,
    ) -> Result<Vec<Example>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.id, f.path, f.triage_state, f.triage_reason, f.triage_comment
             FROM findings f INDEXED BY findings_decided
             JOIN projects p ON p.id = f.project_id
             JOIN rules r ON r.id = f.rule_id
             WHERE p.name = ?1 AND r.name = ?2
               AND (f.triage_state = 'ignored' OR f.triage_state = 'fixing'
                    OR f.triage_state = 'reviewing')
               AND f.match_based_id != (SELECT match_based_id FROM findings WHERE id = ?3)
             GROUP BY f.match_based_id
             ORDER BY max(f.triaged_at) DESC, f.id DESC
             LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![project, rule, except, n as i64], |r| {
            Ok(Example {
                finding_id: r.get(0)?,
                path: r.get(1)?,
                triage_state: r.get(2)?,
                triage_reason: r.get(3)?,
                comment: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Where the project's source tree was at its last import with one.
    pub fn source_root(&self, project: &str) -> Result<Option<PathBuf>> {
        Ok(self
            .conn
            .prepare_cached("SELECT source_root FROM projects WHERE name = ?1")?
            .query_row([project], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten()
            .map(PathBuf::from))
    }

    /// Tells consoles on this store that findings changed (new verdicts).
    pub fn findings_changed(&self) -> Result<()> {
        self.bump_version()
    }
}

/// Keeps an answer of `kind` under its question's key, with who gave it
/// and the tokens (in, out) it took.
pub(super) fn keep_answer(
    tx: &rusqlite::Transaction,
    key: &str,
    kind: AnswerKind,
    answer: &str,
    judge: &Judge,
    (input_tokens, output_tokens): (u64, u64),
) -> Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO ai_answers (key, kind, answer, provider, model,
            prompt_version, memories, input_tokens, output_tokens, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        key,
        kind.as_str(),
        answer,
        judge.provider,
        judge.model,
        judge.prompt_version,
        serde_json::to_string(&judge.memories)?,
        input_tokens,
        output_tokens,
        timestamp::format(judge.at),
    ])?;
    Ok(())
}

/// Remembers where a project's source tree is (an import with
/// `--repo-root`).
pub(super) fn set_source_root(
    tx: &rusqlite::Transaction,
    project_id: i64,
    root: &Path,
) -> Result<()> {
    tx.execute(
        "UPDATE projects SET source_root = ?2 WHERE id = ?1",
        params![project_id, root.display().to_string()],
    )?;
    Ok(())
}
