//! Findings: import, the compact index, and full details.

use super::Store;
use crate::domain::{
    Activity, CodeContext, Finding, FindingIndex, IndexBuilder, IndexEntry, Lifecycle, ScanResults,
    ScanSource, ScanState, Severity, Status, TriageState, Verdict, is_review_ref,
};
use crate::wire::{timestamp, v1};
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use time::OffsetDateTime;

/// What one scan's import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub origin: String,
    pub project: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub new: usize,
    pub updated: usize,
    pub fixed: usize,
    pub errors: usize,
}

#[derive(Serialize, Deserialize, Default)]
struct RuleExtra {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    technologies: Vec<String>,
}

impl Store {
    /// Stores every scan in one transaction: all of them land, or none.
    pub fn import(&mut self, scans: &[ScanResults]) -> Result<Vec<ImportSummary>> {
        let now = OffsetDateTime::now_utc();
        let tx = self.conn.transaction()?;
        let mut summaries = Vec::with_capacity(scans.len());
        for scan in scans {
            summaries.push(
                import_scan(&tx, scan, now)
                    .with_context(|| format!("cannot store the findings of {}", scan.origin))?,
            );
        }
        tx.commit()?;
        Ok(summaries)
    }

    /// Appends to a finding's history.
    pub fn add_activity(&self, finding_id: i64, activity: &Activity) -> Result<()> {
        self.conn.execute(
            "INSERT INTO activity (finding_id, at, actor, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                finding_id,
                timestamp::format(activity.at),
                activity.actor,
                activity.action,
                activity.note
            ],
        )?;
        Ok(())
    }

    pub fn count_findings(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM findings", [], |r| r.get::<_, i64>(0))?
            as usize)
    }

    /// Project names with their primary branch.
    pub fn projects(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, primary_branch FROM projects ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The compact index of every finding, for the list and the counts.
    pub fn load_index(&self) -> Result<FindingIndex> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.id, f.relevant_since, p.name, f.rule_name, f.path, f.message, f.ref,
                    f.line, f.severity, f.state, f.triage_state, f.verdict, p.primary_branch
             FROM findings f JOIN projects p ON p.id = f.project_id",
        )?;
        let mut builder = IndexBuilder::with_capacity(self.count_findings()?);
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let state = ScanState::parse(r.get_ref(9)?.as_str()?).unwrap_or(ScanState::Unresolved);
            let triage_state =
                TriageState::parse(r.get_ref(10)?.as_str()?).unwrap_or(TriageState::Untriaged);
            let git_ref = r.get_ref(6)?.as_str()?;
            builder.push(IndexEntry {
                id: r.get(0)?,
                relevant_since: r.get(1)?,
                project: r.get_ref(2)?.as_str()?,
                rule: r.get_ref(3)?.as_str()?,
                path: r.get_ref(4)?.as_str()?,
                message: r.get_ref(5)?.as_str()?,
                git_ref,
                line: r.get(7)?,
                severity: Severity::parse(r.get_ref(8)?.as_str()?).unwrap_or(Severity::Medium),
                status: Status::derive(state, triage_state),
                triage_state,
                verdict: r.get_ref(11)?.as_str_or_null()?.and_then(Verdict::parse),
                lifecycle: Lifecycle::of(git_ref, r.get_ref(12)?.as_str()?),
            });
        }
        Ok(builder.finish())
    }

    /// One finding with its code context and history.
    pub fn load_finding(&self, id: i64) -> Result<Option<Finding>> {
        let mut found = self.load_findings(&[id])?;
        Ok(found.pop())
    }

    /// Findings by id, in the order given; unknown ids are skipped.
    pub fn load_findings(&self, ids: &[i64]) -> Result<Vec<Finding>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.doc, f.ref, f.state, f.triage_state, f.triage_reason, f.triage_comment,
                    f.triaged_at, f.code_start, f.code, f.rule_extra, p.name, p.url
             FROM findings f JOIN projects p ON p.id = f.project_id WHERE f.id = ?1",
        )?;
        let mut activity = self.conn.prepare_cached(
            "SELECT at, actor, action, note FROM activity WHERE finding_id = ?1 ORDER BY at, id",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let row = stmt
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<u32>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, String>(10)?,
                        r.get::<_, Option<String>>(11)?,
                    ))
                })
                .optional()?;
            let Some((
                doc,
                git_ref,
                state,
                triage,
                reason,
                comment,
                triaged_at,
                code_start,
                code,
                extra,
                project,
                url,
            )) = row
            else {
                continue;
            };
            let wire: v1::Finding = serde_json::from_str(&doc)
                .with_context(|| format!("finding {id} is damaged in the store"))?;
            let mut f = wire.into_domain(OffsetDateTime::UNIX_EPOCH);
            f.id = id;
            f.project = project;
            f.repository_url = url.or(f.repository_url);
            f.git_ref = git_ref;
            f.state = ScanState::parse(&state).unwrap_or(f.state);
            f.triage_state = TriageState::parse(&triage).unwrap_or(f.triage_state);
            f.triage_reason = reason
                .as_deref()
                .and_then(crate::domain::TriageReason::parse);
            f.triage_comment = comment;
            f.triaged_at = triaged_at.as_deref().and_then(timestamp::parse);
            f.code = match (code_start, code) {
                (Some(start_line), Some(text)) => Some(CodeContext {
                    start_line,
                    lines: text.split('\n').map(str::to_string).collect(),
                }),
                _ => None,
            };
            let extra: RuleExtra = extra
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or_default();
            f.rule.references = extra.references;
            f.rule.technologies = extra.technologies;
            f.activity = activity
                .query_map([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })?
                .filter_map(|r| r.ok())
                .map(|(at, actor, action, note)| Activity {
                    at: timestamp::parse(&at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    actor,
                    action,
                    note,
                })
                .collect();
            out.push(f);
        }
        Ok(out)
    }
}

fn project_id(tx: &Transaction, scan: &ScanResults) -> Result<i64> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM projects WHERE name = ?1",
            [&scan.project],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        if scan.repository_url.is_some() {
            tx.execute(
                "UPDATE projects SET url = ?2 WHERE id = ?1",
                params![id, scan.repository_url],
            )?;
        }
        return Ok(id);
    }
    // The first branch that is not a review ref is taken as the primary one.
    let primary = if is_review_ref(&scan.git_ref) {
        "main"
    } else {
        scan.git_ref
            .strip_prefix("refs/heads/")
            .unwrap_or(&scan.git_ref)
    };
    tx.execute(
        "INSERT INTO projects (name, url, primary_branch) VALUES (?1, ?2, ?3)",
        params![scan.project, scan.repository_url, primary],
    )?;
    Ok(tx.last_insert_rowid())
}

fn import_scan(tx: &Transaction, scan: &ScanResults, now: OffsetDateTime) -> Result<ImportSummary> {
    let project_id = project_id(tx, scan)?;
    let mut summary = ImportSummary {
        origin: scan.origin.clone(),
        project: scan.project.clone(),
        git_ref: scan.git_ref.clone(),
        errors: scan.errors.len(),
        ..Default::default()
    };
    let mut seen = HashSet::with_capacity(scan.findings.len());
    let mut find = tx.prepare_cached(
        "SELECT id, state FROM findings WHERE project_id = ?1 AND ref = ?2 AND match_based_id = ?3",
    )?;
    let mut inherited = tx.prepare_cached(
        "SELECT triage_state, triage_reason, triage_comment, triaged_at FROM findings
         WHERE project_id = ?1 AND match_based_id = ?2 AND triage_state NOT IN ('untriaged', 'provisionally_ignored')
         ORDER BY triaged_at DESC LIMIT 1",
    )?;
    let mut id_taken = tx.prepare_cached("SELECT 1 FROM findings WHERE id = ?1")?;
    for f in &scan.findings {
        let git_ref = if f.git_ref.is_empty() {
            &scan.git_ref
        } else {
            &f.git_ref
        };
        if !seen.insert((git_ref.clone(), f.match_based_id.clone())) {
            continue; // the same match twice in one file is one finding
        }
        let doc = serde_json::to_string(&v1::Finding::from_domain(f))?;
        let extra = serde_json::to_string(&RuleExtra {
            references: f.rule.references.clone(),
            technologies: f.rule.technologies.clone(),
        })?;
        let code = f.code.as_ref().map(|c| c.lines.join("\n"));
        let code_start = f.code.as_ref().map(|c| c.start_line);
        let verdict = f.verdict().map(|v| v.as_str());
        let existing: Option<(i64, String)> = find
            .query_row(params![project_id, git_ref, f.match_based_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match existing {
            Some((id, _old_state)) => {
                tx.execute(
                    "UPDATE findings SET rule_name = ?2, message = ?3, severity = ?4, path = ?5,
                        line = ?6, state = ?7, verdict = COALESCE(?8, verdict), doc = ?9,
                        rule_extra = ?10, code_start = COALESCE(?11, code_start),
                        code = COALESCE(?12, code)
                     WHERE id = ?1",
                    params![
                        id,
                        f.rule.name,
                        f.message,
                        f.severity.as_str(),
                        f.location.path,
                        f.location.line,
                        f.state.as_str(),
                        verdict,
                        doc,
                        extra,
                        code_start,
                        code
                    ],
                )?;
                if scan.source == ScanSource::Platform {
                    tx.execute(
                        "UPDATE findings SET triage_state = ?2, triage_reason = ?3,
                            triage_comment = ?4, triaged_at = ?5, relevant_since = ?6
                         WHERE id = ?1",
                        params![
                            id,
                            f.triage_state.as_str(),
                            f.triage_reason.map(|r| r.as_str()),
                            f.triage_comment,
                            f.triaged_at.map(timestamp::format),
                            f.relevant_since.unix_timestamp()
                        ],
                    )?;
                }
                summary.updated += 1;
            }
            None => {
                let mut triage = (
                    f.triage_state.as_str().to_string(),
                    f.triage_reason.map(|r| r.as_str().to_string()),
                    f.triage_comment.clone(),
                    f.triaged_at.map(timestamp::format),
                );
                if scan.source == ScanSource::Scanner {
                    // A finding seen on another ref keeps the decision made there.
                    if let Some(t) = inherited
                        .query_row(params![project_id, f.match_based_id], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                        })
                        .optional()?
                    {
                        triage = t;
                    }
                }
                let id = (f.id > 0 && !id_taken.exists([f.id])?).then_some(f.id);
                tx.execute(
                    "INSERT INTO findings (id, project_id, ref, match_based_id, rule_name, message,
                        severity, path, line, state, triage_state, triage_reason, triage_comment,
                        triaged_at, verdict, relevant_since, doc, rule_extra, code_start, code)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16, ?17, ?18, ?19, ?20)",
                    params![
                        id,
                        project_id,
                        git_ref,
                        f.match_based_id,
                        f.rule.name,
                        f.message,
                        f.severity.as_str(),
                        f.location.path,
                        f.location.line,
                        f.state.as_str(),
                        triage.0,
                        triage.1,
                        triage.2,
                        triage.3,
                        verdict,
                        f.relevant_since.unix_timestamp(),
                        doc,
                        extra,
                        code_start,
                        code
                    ],
                )?;
                let id = tx.last_insert_rowid();
                for a in &f.activity {
                    tx.execute(
                        "INSERT INTO activity (finding_id, at, actor, action, note)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, timestamp::format(a.at), a.actor, a.action, a.note],
                    )?;
                }
                summary.new += 1;
            }
        }
    }
    if scan.source == ScanSource::Scanner {
        // What the newer scan no longer reports has been fixed.
        let mut open = tx.prepare_cached(
            "SELECT id, match_based_id FROM findings
             WHERE project_id = ?1 AND ref = ?2 AND state != 'fixed'",
        )?;
        let gone: Vec<i64> = open
            .query_map(params![project_id, scan.git_ref], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?
            .filter_map(|r| r.ok())
            .filter(|(_, mbid)| !seen.contains(&(scan.git_ref.clone(), mbid.clone())))
            .map(|(id, _)| id)
            .collect();
        for id in &gone {
            tx.execute("UPDATE findings SET state = 'fixed' WHERE id = ?1", [id])?;
            tx.execute(
                "INSERT INTO activity (finding_id, at, actor, action, note)
                 VALUES (?1, ?2, 'scan', 'fixed: no longer reported', ?3)",
                params![id, timestamp::format(now), scan.origin],
            )?;
        }
        summary.fixed = gone.len();
    }
    tx.execute(
        "INSERT INTO scans (project_id, ref, origin, imported_at, findings, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            project_id,
            scan.git_ref,
            scan.origin,
            timestamp::format(now),
            scan.findings.len(),
            scan.errors.len()
        ],
    )?;
    Ok(summary)
}
