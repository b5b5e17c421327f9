//! Findings: import, the compact index, and full details.

use super::Store;
use super::identity::{Place, Placing};
use super::index_snapshot;
use super::listed::{DocColumns, StoredFinding};
use crate::domain::{
    Activity, Assistant, Candidate, CodeContext, Component, ComponentRisk, Evidence, Finding,
    FindingIndex, IndexBuilder, IndexEntry, Lifecycle, ResultKey, ScanResults, ScanSource,
    ScanState, Severity, Status, TriageReason, TriageState, Verdict, is_review_ref,
};
use crate::wire::{timestamp, v1};
use anyhow::{Context, Result};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Findings the scan held as the store holds them already.
    pub unchanged: usize,
    pub fixed: usize,
    pub errors: usize,
}

/// The dates a finding's stored document says it was first seen with.
struct FirstSeen {
    created_at: OffsetDateTime,
    relevant_since: OffsetDateTime,
}

impl FirstSeen {
    fn read(doc: &str) -> Option<FirstSeen> {
        #[derive(Deserialize)]
        struct Dates<'a> {
            #[serde(borrow)]
            created_at: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            relevant_since: Option<std::borrow::Cow<'a, str>>,
        }
        let dates: Dates = serde_json::from_str(doc).ok()?;
        let created_at = timestamp::parse(dates.created_at.as_deref()?)?;
        let relevant_since = dates
            .relevant_since
            .as_deref()
            .and_then(timestamp::parse)
            .unwrap_or(created_at);
        Some(FirstSeen {
            created_at,
            relevant_since,
        })
    }
}

/// A scan for [`Store::import_scans`].
pub enum ScanToStore<'a> {
    /// Held whole.
    Whole(&'a ScanResults),
    /// A scanner's scan whose findings are not all held at once: `read`
    /// hands them over a chunk at a time, in the order of `keys`, which
    /// hold what placing each needs; `scan` holds the rest (its `findings`
    /// and `identities` are not read).
    Streamed {
        scan: &'a ScanResults,
        keys: &'a [ResultKey],
        read: Box<ReadFindings<'a>>,
    },
}

impl ScanToStore<'_> {
    fn scan(&self) -> &ScanResults {
        match self {
            ScanToStore::Whole(scan) | ScanToStore::Streamed { scan, .. } => scan,
        }
    }
}

/// What a pull hands the store's writer (`Store::import_pulled`).
pub enum PulledPage {
    /// One page's findings, grouped by project (`PulledPage::findings`).
    Findings(Vec<PulledScan>),
    /// Findings' triage alone, for findings the store holds
    /// (`PulledPage::triaged`).
    Triaged(Vec<PulledTriage>),
    /// Where the pull stands after the pages before it (the backend's
    /// change cursor): handed back once those pages are committed, so that
    /// a pull that stops half-way resumes from what the store kept.
    Mark(String),
    /// Every page came: keep them.
    End,
    /// Findings as the backend's store holds them (`PulledPage::stored`).
    Stored(StoredPage),
}

/// What a stored finding's document gives its row.
enum RowFromDoc {
    /// Read in place (nearly every finding).
    Columns(DocColumns),
    /// A document that reader does not take, read the domain way.
    Whole(Box<Finding>),
}

/// A page of findings as `sift serve`'s store holds them.
pub struct StoredPage {
    /// Where they came from (the scans they are recorded under).
    origin: String,
    /// Each as it came, and what its document gives its row.
    findings: Vec<(v1::StoredRow, RowFromDoc)>,
    /// Their rules, by name.
    rules: HashMap<String, StoredRule>,
}

impl PulledPage {
    /// A page of findings as `sift serve`'s store holds them
    /// (`v1::StoredRow`), and their rules: what each document gives its
    /// row is read as this store reads its own, so that what it stores is
    /// what it will read, and one it could not read fails the pull here.
    pub fn stored(
        rows: Vec<v1::StoredRow>,
        rules: HashMap<String, Box<RawValue>>,
        origin: &str,
    ) -> Result<PulledPage> {
        let rules = rules
            .into_iter()
            .map(|(name, doc)| {
                let rule: StoredRule = serde_json::from_str(doc.get())
                    .with_context(|| format!("rule {name} is not a rule"))?;
                Ok((name, rule))
            })
            .collect::<Result<HashMap<_, _>>>()?;
        // What names a finding, read as `v1::Finding::into_domain` reads
        // it: one left blank is not taken for another's.
        let blank = |text: &mut String, or: String| {
            if text.trim().is_empty() {
                *text = or;
            }
        };
        let mut findings = Vec::with_capacity(rows.len());
        for mut row in rows {
            if !rules.contains_key(&row.rule) {
                anyhow::bail!(
                    "finding {} names rule {}, not on its page",
                    row.id,
                    row.rule
                );
            }
            blank(&mut row.project, "unknown".into());
            blank(&mut row.git_ref, "main".into());
            blank(&mut row.match_based_id, format!("id:{}", row.id));
            let from_doc = match DocColumns::read(row.doc.get()) {
                Some(columns) => RowFromDoc::Columns(columns),
                // The domain way, which says what is wrong with it. Its
                // rule stands apart, on the page: the finding takes only
                // its name, and no code (its details hold that).
                None => RowFromDoc::Whole(Box::new(detail_row(&row, false).put_together(
                    row.id,
                    v1::Rule {
                        name: row.rule.clone(),
                        ..v1::Rule::default()
                    },
                )?)),
            };
            findings.push((row, from_doc));
        }
        Ok(PulledPage::Stored(StoredPage {
            origin: origin.to_string(),
            findings,
            rules,
        }))
    }

    /// A page of findings, with what storing each takes worked out here,
    /// on the pulling side: the writer binds it while the next page is
    /// prepared.
    pub fn findings(scans: Vec<ScanResults>) -> Result<PulledPage> {
        let scans = scans
            .into_iter()
            .map(|scan| {
                let details = scan
                    .findings
                    .iter()
                    .map(Details::of)
                    .collect::<Result<_>>()?;
                Ok(PulledScan { scan, details })
            })
            .collect::<Result<_>>()?;
        Ok(PulledPage::Findings(scans))
    }

    /// Findings' triage alone (`v1::FindingsPage::triaged`), read as the
    /// store keeps it.
    pub fn triaged(records: Vec<v1::TriagedFinding>) -> Result<PulledPage> {
        let triaged = records
            .into_iter()
            .map(PulledTriage::of)
            .collect::<Result<_>>()?;
        Ok(PulledPage::Triaged(triaged))
    }
}

/// What `Store::import_pulled` kept.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PullKept {
    /// Pages stored.
    pub pages: usize,
    /// Triage records (`PulledPage::Triaged`) for findings the store does
    /// not hold: what they say is not stored, and those findings must come
    /// whole.
    pub unheld: usize,
}

/// A finding's triage alone, named by its identity, in the forms the
/// store keeps.
pub struct PulledTriage {
    /// The backend's id for it.
    id: i64,
    project: String,
    git_ref: String,
    match_based_id: String,
    triage: Triage,
}

impl PulledTriage {
    /// Read as `v1::Finding::into_domain` reads the same fields.
    fn of(t: v1::TriagedFinding) -> Result<PulledTriage> {
        let relevant_since = timestamp::parse(&t.relevant_since).with_context(|| {
            format!(
                "finding {}: relevant_since '{}' is not a time",
                t.id, t.relevant_since
            )
        })?;
        let state = TriageState::parse(&t.triage_state).unwrap_or(TriageState::Untriaged);
        Ok(PulledTriage {
            id: t.id,
            project: t.repository.name,
            git_ref: t.git_ref,
            match_based_id: t.match_based_id,
            triage: Triage {
                state: state.as_str().to_string(),
                reason: t
                    .triage_reason
                    .as_deref()
                    .and_then(TriageReason::parse)
                    .map(|r| r.as_str().to_string()),
                comment: t.triage_comment,
                at: t
                    .triaged_at
                    .as_deref()
                    .and_then(timestamp::parse)
                    .map(timestamp::format),
                relevant_since: relevant_since.unix_timestamp(),
            },
        })
    }
}

/// Stores findings' triage alone, on the findings the store holds, where
/// it differs from what is stored: how many it does not hold. A finding is
/// looked for under its id first (its row alone), then by its identity
/// (a cache that took it under another id).
fn import_triaged(tx: &Transaction, triaged: &[PulledTriage]) -> Result<usize> {
    const BY_ID: &str = "id = ?9 AND project_id = (SELECT id FROM projects WHERE name = ?1)
        AND ref = ?2 AND match_based_id = ?3";
    const BY_IDENTITY: &str = "project_id = (SELECT id FROM projects WHERE name = ?1)
        AND ref = ?2 AND match_based_id = ?3";
    let set = |found: &str| {
        tx.prepare_cached(&format!(
            "UPDATE findings SET triage_state = ?4, triage_reason = ?5, triage_comment = ?6,
                triaged_at = ?7, relevant_since = ?8, {}
             WHERE {found} AND (triage_state IS NOT ?4 OR triage_reason IS NOT ?5
                 OR triage_comment IS NOT ?6 OR triaged_at IS NOT ?7
                 OR relevant_since IS NOT ?8)",
            triage_changed!()
        ))
    };
    // SQLite numbers a statement's parameters up to the highest it names:
    // the lookups by id take all nine.
    let held = |found: &str| tx.prepare_cached(&format!("SELECT 1 FROM findings WHERE {found}"));
    let (mut set_by_id, mut held_by_id) = (set(BY_ID)?, held(BY_ID)?);
    let (mut set_by_identity, mut held_by_identity) = (set(BY_IDENTITY)?, held(BY_IDENTITY)?);
    let mut unheld = 0;
    for t in triaged {
        let id_params = params![
            t.project,
            t.git_ref,
            t.match_based_id,
            t.triage.state,
            t.triage.reason,
            t.triage.comment,
            t.triage.at,
            t.triage.relevant_since,
            t.id
        ];
        if set_by_id.execute(id_params)? == 1 || held_by_id.exists(id_params)? {
            continue;
        }
        if set_by_identity.execute(&id_params[..8])? == 0
            && !held_by_identity.exists(&id_params[..3])?
        {
            unheld += 1;
        }
    }
    Ok(unheld)
}

/// A stored row as this store's reader takes its own rows; with or
/// without the code around the match.
fn detail_row(row: &v1::StoredRow, with_code: bool) -> DetailRow<'_> {
    DetailRow {
        doc: row.doc.get(),
        git_ref: row.git_ref.clone(),
        match_based_id: &row.match_based_id,
        message: &row.message,
        state: &row.state,
        triage_state: &row.triage_state,
        triage_reason: row.triage_reason.as_deref(),
        triage_comment: row.triage_comment.clone(),
        triaged_at: row.triaged_at.as_deref(),
        code_start: row.code_start.filter(|_| with_code),
        code: row.code.as_deref().filter(|_| with_code),
        project: row.project.clone(),
        url: row.url.clone(),
    }
}

/// Stores a page of findings as `sift serve`'s store holds them: each one
/// this store does not hold is inserted with the columns it reads in it
/// and the document and code it came with; one it holds already (under
/// its id or its identity) is put together with its rule and merged as a
/// v1 finding is (`import_scan`).
fn import_stored(
    tx: &Transaction,
    page: &StoredPage,
    now: OffsetDateTime,
    written: &mut RulesWritten,
    projects: &mut HashMap<String, i64>,
) -> Result<()> {
    let mut rules: HashMap<&str, (i64, &StoredRule)> = HashMap::new();
    for (name, rule) in &page.rules {
        rules.insert(name, (store_rule(tx, name, rule.clone())?, rule));
    }
    let mut insert = tx.prepare_cached(&format!("{INSERT_FINDING} ON CONFLICT DO NOTHING"))?;
    let mut insert_details = tx.prepare_cached(
        "INSERT INTO finding_details (finding_id, doc, code_start, code) VALUES (?1, ?2, ?3, ?4)",
    )?;
    // (project, ref, match-based id) of each finding on the page: the
    // same match twice is one finding, as in a scan.
    let mut seen: HashSet<(i64, &str, &str)> = HashSet::with_capacity(page.findings.len());
    // Each project's first ref on the page, and how many findings came.
    let mut scans: Vec<(i64, &str, usize)> = Vec::new();
    let mut held = Vec::new();
    for (row, from_doc) in &page.findings {
        let f = match from_doc {
            RowFromDoc::Columns(columns) => NewFinding::stored(row, columns),
            RowFromDoc::Whole(finding) => NewFinding::of(finding),
        };
        let project_id = match projects.get(&row.project) {
            Some(id) => *id,
            None => {
                let id = project_named(tx, &row.project, f.url, &row.git_ref)?;
                projects.insert(row.project.clone(), id);
                id
            }
        };
        if !seen.insert((project_id, &row.git_ref, &row.match_based_id)) {
            continue;
        }
        match scans.iter_mut().find(|(p, _, _)| *p == project_id) {
            Some((_, _, n)) => *n += 1,
            None => scans.push((project_id, &row.git_ref, 1)),
        }
        let (rule_id, rule) = *rules
            .get(row.rule.as_str())
            .context("a stored finding's rule is not on its page")?;
        if insert_under_id(&mut insert, &f, project_id, &row.git_ref, rule_id)? == 0 {
            held.push((row, rule));
            continue;
        }
        insert_details.execute(params![f.id, row.doc.get(), row.code_start, row.code])?;
        let evidence = Evidence {
            line: f.line,
            column: f.column,
            ..Evidence::default()
        };
        super::identity::save_evidence(tx, f.id, &evidence)?;
    }
    for (project_id, git_ref, count) in scans {
        record_scan(tx, project_id, git_ref, &page.origin, now, count, 0)?;
    }
    let mut merged = Vec::with_capacity(held.len());
    for (row, rule) in held {
        let f = detail_row(row, true).into_finding(row.id, rule)?;
        let details = Details {
            doc: row.doc.get().to_string(),
            code_start: row.code_start,
            code: row.code.clone(),
        };
        merged.push((f, details));
    }
    for (scan, details) in by_project(merged, &page.origin) {
        import_scan(tx, &scan, Some(&details), now, written)?;
    }
    Ok(())
}

/// Findings grouped by project, as the store imports a pull's: each keeps
/// its own ref, and a group takes its first finding's (a new project's
/// primary branch is worked out from it). What goes with each finding
/// stays beside it.
pub fn by_project<T>(
    findings: impl IntoIterator<Item = (Finding, T)>,
    origin: &str,
) -> Vec<(ScanResults, Vec<T>)> {
    let mut scans: Vec<(ScanResults, Vec<T>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (f, with) in findings {
        let i = match index.get(&f.project) {
            Some(&i) => i,
            None => {
                let scan = ScanResults::platform(
                    origin,
                    f.project.clone(),
                    f.repository_url.clone(),
                    f.git_ref.clone(),
                    Vec::new(),
                );
                index.insert(f.project.clone(), scans.len());
                scans.push((scan, Vec::new()));
                scans.len() - 1
            }
        };
        scans[i].0.findings.push(f);
        scans[i].1.push(with);
    }
    scans
}

/// A pulled scan, and its findings' details, one for each.
pub struct PulledScan {
    pub(super) scan: ScanResults,
    pub(super) details: Vec<Details>,
}

/// What `finding_details` holds for a finding.
#[derive(Clone)]
pub(super) struct Details {
    doc: String,
    code_start: Option<u32>,
    code: Option<String>,
}

impl Details {
    fn of(f: &Finding) -> Result<Details> {
        Ok(Details {
            doc: details_doc(f)?,
            code_start: f.code.as_ref().map(|c| c.start_line),
            code: f.code.as_ref().map(|c| c.lines.join("\n")),
        })
    }
}

/// A rule as the `rules` table keeps it.
#[derive(Serialize, Deserialize, Default, Clone, PartialEq)]
pub(super) struct StoredRule {
    #[serde(flatten)]
    pub rule: v1::Rule,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    technologies: Vec<String>,
}

impl StoredRule {
    /// Newer metadata wins, but a scan that lacks a field does not erase it.
    fn merged_over(self, old: StoredRule) -> StoredRule {
        fn pick<T: Default + PartialEq>(new: T, old: T) -> T {
            if new == T::default() { old } else { new }
        }
        let (n, o) = (self.rule, old.rule);
        StoredRule {
            rule: v1::Rule {
                name: n.name,
                message: pick(n.message, o.message),
                confidence: n.confidence.or(o.confidence),
                category: n.category.or(o.category),
                subcategories: pick(n.subcategories, o.subcategories),
                vulnerability_classes: pick(n.vulnerability_classes, o.vulnerability_classes),
                cwe_names: pick(n.cwe_names, o.cwe_names),
                owasp_names: pick(n.owasp_names, o.owasp_names),
            },
            references: pick(self.references, old.references),
            technologies: pick(self.technologies, old.technologies),
        }
    }

    fn of(f: &Finding) -> StoredRule {
        StoredRule {
            rule: v1::Rule::from_domain(&f.rule),
            references: f.rule.references.clone(),
            technologies: f.rule.technologies.clone(),
        }
    }
}

impl Store {
    /// Stores every scan in one transaction: all of them land, or none.
    pub fn import(&mut self, scans: &[ScanResults]) -> Result<Vec<ImportSummary>> {
        let mut whole: Vec<ScanToStore> = scans.iter().map(ScanToStore::Whole).collect();
        self.import_scans(&mut whole)
    }

    /// [`Store::import`] of scans held whole or read a chunk at a time.
    pub fn import_scans(&mut self, scans: &mut [ScanToStore<'_>]) -> Result<Vec<ImportSummary>> {
        let _cache = self.write_cache()?;
        let now = OffsetDateTime::now_utc();
        let tx = self.write_tx()?;
        let mut rules = RulesWritten::new();
        let mut summaries = Vec::with_capacity(scans.len());
        for scan in scans {
            let summary = match scan {
                ScanToStore::Whole(whole) => import_scan(&tx, whole, None, now, &mut rules),
                ScanToStore::Streamed { scan, keys, read } => {
                    import_streamed_scan(&tx, scan, keys, read, now, &mut rules)
                }
            };
            summaries.push(
                summary.with_context(|| {
                    format!("cannot store the findings of {}", scan.scan().origin)
                })?,
            );
        }
        super::bump_findings_version(&tx)?;
        tx.commit()?;
        Ok(summaries)
    }

    /// Imports a pull's pages as they arrive, in as few transactions as the
    /// store's other writers allow: one holds the write lock for about a
    /// second at most (`PULL_LOCK_HOLD`), so a decision made meanwhile
    /// waits no longer. `committed` hears the last `PulledPage::Mark` each
    /// commit kept. When the pages stop before `PulledPage::End` (the pull
    /// failed or was cancelled) the pages of the last transaction are
    /// rolled back and none is reported kept: the caller resumes from the
    /// last mark committed, or asks again (storing a page twice changes
    /// nothing). The write lock is taken at the first page: a pull that
    /// brings nothing writes nothing. What was kept; none when the pull
    /// stopped.
    pub fn import_pulled(
        &mut self,
        pages: impl IntoIterator<Item = PulledPage>,
        committed: impl FnMut(&str),
    ) -> Result<Option<PullKept>> {
        self.import_pulled_holding(pages, committed, PULL_LOCK_HOLD)
    }

    /// `import_pulled`, committing once a transaction is `hold` old (when
    /// the next page comes).
    fn import_pulled_holding(
        &mut self,
        pages: impl IntoIterator<Item = PulledPage>,
        mut committed: impl FnMut(&str),
        hold: std::time::Duration,
    ) -> Result<Option<PullKept>> {
        let mut pages = pages.into_iter().peekable();
        // Nothing came, or the end alone: nothing to write.
        match pages.peek() {
            None => return Ok(None),
            Some(PulledPage::End) => return Ok(Some(PullKept::default())),
            Some(_) => {}
        }
        let _cache = self.write_cache()?;
        let checkpoints = self.background_checkpoints()?;
        let now = OffsetDateTime::now_utc();
        let mut rules = RulesWritten::new();
        // Projects by name, as stored pages name them.
        let mut projects: HashMap<String, i64> = HashMap::new();
        let mut kept = PullKept::default();
        // The open transaction, when one is, and when it began.
        let mut open: Option<(Transaction, std::time::Instant)> = None;
        // The mark of the pages imported since the last commit.
        let mut mark: Option<String> = None;
        for page in pages {
            // A transaction old enough is committed when the next page
            // comes, with the marks of the pages it holds.
            if matches!(
                page,
                PulledPage::Findings(_) | PulledPage::Triaged(_) | PulledPage::Stored(_)
            ) && let Some((_, began)) = &open
                && began.elapsed() >= hold
                && let Some((tx, _)) = open.take()
            {
                super::bump_findings_version(&tx)?;
                tx.commit()?;
                checkpoints.committed()?;
                if let Some(mark) = mark.take() {
                    committed(&mark);
                }
            }
            // A page goes into the open transaction, or begins one.
            let tx = match (&page, &mut open) {
                (PulledPage::Mark(_) | PulledPage::End, _) => None,
                (_, Some((tx, _))) => Some(&*tx),
                (_, open) => Some(&open.insert((self.write_tx()?, std::time::Instant::now())).0),
            };
            match page {
                PulledPage::Findings(scans) => {
                    let tx = tx.context("a page of findings is written in a transaction")?;
                    for pulled in &scans {
                        let scan = &pulled.scan;
                        import_scan(tx, scan, Some(&pulled.details), now, &mut rules)
                            .with_context(|| {
                                format!("cannot store the findings of {}", scan.origin)
                            })?;
                    }
                    kept.pages += 1;
                    free_elsewhere(scans);
                }
                PulledPage::Triaged(triaged) => {
                    let tx = tx.context("a page of triage is written in a transaction")?;
                    kept.unheld += import_triaged(tx, &triaged)?;
                    kept.pages += 1;
                }
                PulledPage::Stored(page) => {
                    let tx = tx.context("a page of findings is written in a transaction")?;
                    import_stored(tx, &page, now, &mut rules, &mut projects)
                        .with_context(|| format!("cannot store the findings of {}", page.origin))?;
                    kept.pages += 1;
                    free_elsewhere(page.findings);
                }
                PulledPage::Mark(m) => mark = Some(m),
                PulledPage::End => {
                    if let Some((tx, _)) = open.take() {
                        super::bump_findings_version(&tx)?;
                        tx.commit()?;
                        checkpoints.committed()?;
                    }
                    if let Some(mark) = &mark {
                        committed(mark);
                    }
                    return Ok(Some(kept));
                }
            }
        }
        // The pages stopped before the end: dropping the transaction rolls
        // it back.
        Ok(None)
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
    ///
    /// From the snapshot file beside the store when one fits it, with the
    /// findings changed since read again; otherwise from every finding's
    /// row, and then the snapshot is written for the next time.
    pub fn load_index(&self) -> Result<FindingIndex> {
        let names = self.index_names()?;
        let snapshot = self.snapshot_file();
        if let Some(file) = &snapshot
            && let Some((stamp, index)) = index_snapshot::read(file)
            && let Some(index) = self.index_since(file, &names, stamp, index)?
        {
            return Ok(index);
        }
        let (index, mark) = self.build_index(&names)?;
        if let Some(file) = &snapshot
            && index.len() >= index_snapshot::SNAPSHOT_FROM
        {
            self.save_snapshot(file, &index, &names, mark);
        }
        Ok(index)
    }

    /// The snapshot file, for a store kept in a file.
    fn snapshot_file(&self) -> Option<std::path::PathBuf> {
        let file = self.conn.path().filter(|p| !p.is_empty())?;
        Some(index_snapshot::file_of(Path::new(file)))
    }

    /// Writes the snapshot; a failure only costs the next start its speed.
    fn save_snapshot(&self, file: &Path, index: &FindingIndex, names: &IndexNames, mark: i64) {
        let saved = self.change_head().and_then(|(store_id, _)| {
            let stamp = index_snapshot::Stamp {
                store_id,
                mark,
                names: names.digest,
            };
            Ok(index_snapshot::write(file, index, stamp)?)
        });
        if let Err(e) = saved {
            tracing::warn!("cannot write the index snapshot {}: {e:#}", file.display());
        }
    }

    /// `index`, a snapshot up to change `stamp.mark`, brought up to date:
    /// the findings changed since and those a pending decision shows (then
    /// or now) read again. `None` when it does not fit this store or so
    /// much changed that reading every row is as quick.
    fn index_since(
        &self,
        file: &Path,
        names: &IndexNames,
        stamp: index_snapshot::Stamp,
        index: FindingIndex,
    ) -> Result<Option<FindingIndex>> {
        if stamp.names != names.digest {
            return Ok(None);
        }
        let snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let (store_id, top) = self.change_head()?;
        if store_id != stamp.store_id || top < stamp.mark {
            return Ok(None);
        }
        let changed: i64 = self.conn.query_row(
            "SELECT count(*) FROM findings WHERE change_seq > ?1",
            [stamp.mark],
            |r| r.get(0),
        )?;
        if changed as usize > index.len() / 4 {
            return Ok(None);
        }
        let mut pending: Vec<i64> = index
            .rows
            .iter()
            .filter(|r| r.pending)
            .map(|r| r.id)
            .collect();
        pending.extend(names.overlay.keys());
        let mut fresh = IndexBuilder::default();
        scan_index(
            &self.conn,
            names,
            "change_seq > ?1 OR id IN (SELECT value FROM json_each(?2))",
            params![stamp.mark, serde_json::to_string(&pending)?],
            &mut fresh,
        )?;
        if let Some(tx) = snapshot {
            tx.finish()?;
        }
        let index = index.updated(fresh);
        if changed as usize >= index_snapshot::REWRITE_AFTER {
            self.save_snapshot(file, &index, names, top);
        }
        Ok(Some(index))
    }

    /// What `load_index` looks finding rows up in.
    fn index_names(&self) -> Result<IndexNames> {
        // Projects and rules are few: read them once and look them up by id
        // instead of joining them to every finding.
        let mut digest = rustc_hash::FxHasher::default();
        let mut projects: HashMap<i64, (String, String)> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, primary_branch FROM projects ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, primary): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            (id, &name, &primary).hash(&mut digest);
            projects.insert(id, (name, primary));
        }
        let mut rules: HashMap<i64, String> = HashMap::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name FROM rules ORDER BY id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name): (i64, String) = (r.get(0)?, r.get(1)?);
            (id, &name).hash(&mut digest);
            rules.insert(id, name);
        }
        Ok(IndexNames {
            projects,
            rules,
            overlay: self.pending_overlay()?,
            digest: digest.finish(),
        })
    }

    /// The index from every finding's row, and the highest change it holds.
    ///
    /// A large backlog is read in two halves by id, on this connection and
    /// a second one, at once: reading rows is most of the time. Both halves
    /// are read in transactions that see the same findings version, so the
    /// index is one consistent picture of the store.
    fn build_index(&self, names: &IndexNames) -> Result<(FindingIndex, i64)> {
        let (low, high): (Option<i64>, Option<i64>) = (
            self.conn
                .query_row("SELECT min(id) FROM findings", [], |r| r.get(0))?,
            self.conn
                .query_row("SELECT max(id) FROM findings", [], |r| r.get(0))?,
        );
        // A second connection can open the same database only from a file.
        let file = self.conn.path().filter(|p| !p.is_empty());
        if let (Some(low), Some(high), Some(file)) = (low, high, file)
            && high - low >= PARALLEL_INDEX_SPAN
        {
            let split = low + (high - low) / 2;
            if let Some(built) = self.build_index_halves(Path::new(file), names, split)? {
                return Ok(built);
            }
        }
        let snapshot = if self.conn.is_autocommit() {
            Some(self.conn.unchecked_transaction()?)
        } else {
            None
        };
        let mark = top_change(&self.conn)?;
        let mut builder = IndexBuilder::default();
        scan_index(&self.conn, names, "1", [], &mut builder)?;
        if let Some(tx) = snapshot {
            tx.finish()?;
        }
        Ok((builder.finish(), mark))
    }

    /// Reads ids below `split` here and the others on a second connection,
    /// at once; `None` when the findings changed between the two reads.
    fn build_index_halves(
        &self,
        file: &Path,
        names: &IndexNames,
        split: i64,
    ) -> Result<Option<(FindingIndex, i64)>> {
        let version = |conn: &rusqlite::Connection| -> Result<i64> {
            Ok(conn.query_row(
                "SELECT value FROM meta WHERE key = 'findings_version'",
                [],
                |r| r.get(0),
            )?)
        };
        std::thread::scope(|scope| {
            let second = scope.spawn(|| -> Result<(i64, i64, IndexBuilder)> {
                let conn = rusqlite::Connection::open_with_flags(
                    file,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                let tx = conn.unchecked_transaction()?;
                let (seen, mark) = (version(&conn)?, top_change(&conn)?);
                let mut builder = IndexBuilder::default();
                scan_index(&conn, names, "id >= ?1", [split], &mut builder)?;
                tx.finish()?;
                Ok((seen, mark, builder))
            });
            let tx = self.conn.unchecked_transaction()?;
            let (seen, mark) = (version(&self.conn)?, top_change(&self.conn)?);
            let mut builder = IndexBuilder::default();
            scan_index(&self.conn, names, "id < ?1", [split], &mut builder)?;
            tx.finish()?;
            let (other_seen, other_mark, other) = second
                .join()
                .map_err(|_| anyhow::anyhow!("the index reader thread panicked"))??;
            if seen != other_seen {
                return Ok(None);
            }
            builder.append(other);
            // The earlier of the two pictures: a change after it is read
            // again from a snapshot of this index.
            Ok(Some((builder.finish(), mark.min(other_mark))))
        })
    }

    /// One finding with its code context and history.
    pub fn load_finding(&self, id: i64) -> Result<Option<Finding>> {
        let mut found = self.load_findings(&[id])?;
        Ok(found.pop())
    }

    /// How many findings outside `ids` are copies of those in it: the same
    /// finding on another ref of its project, which a decision on it
    /// changes too.
    pub fn copies_on_other_refs(&self, ids: &[i64]) -> Result<usize> {
        let ids = serde_json::to_string(ids)?;
        let n: i64 = self
            .conn
            .query_row(COPIES_ON_OTHER_REFS, [ids], |r| r.get(0))?;
        Ok(n as usize)
    }

    /// The other refs a finding is on (the same finding, its copies).
    pub fn other_refs(&self, id: i64) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(OTHER_REFS)?;
        let refs = stmt
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(refs)
    }

    /// Findings by id, in the order given; unknown ids are skipped.
    pub fn load_findings(&self, ids: &[i64]) -> Result<Vec<Finding>> {
        FindingReader::new(self)?.read(ids)
    }

    /// The findings `ids` (unknown ones skipped), in that order, a chunk at
    /// a time: `render` turns each chunk into a `T`, `sink` takes them in
    /// order. A long list is read and rendered on two connections at once,
    /// this one and a second on the same file, each taking the next chunk
    /// nobody has: reading and rendering are nearly all of the work. A few
    /// chunks at most wait for the sink, whatever the length.
    pub fn render_findings<T: Send>(
        &self,
        ids: &[i64],
        render: impl Fn(Vec<Finding>) -> Result<T> + Sync,
        sink: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        self.render_chunks(
            ids,
            RENDER_CHUNK,
            History::ByChunk,
            |reader, chunk| render(reader.read(chunk)?),
            sink,
        )
    }

    /// The stored rules of the findings `ids`, by name, as stored.
    pub fn stored_rules(&self, ids: &[i64]) -> Result<HashMap<String, Box<RawValue>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, doc FROM rules WHERE id IN (SELECT f.rule_id
                FROM json_each(?1) AS chosen JOIN findings f ON f.id = chosen.value)",
        )?;
        let mut rows = stmt.query([serde_json::to_string(ids)?])?;
        let mut rules = HashMap::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(0)?;
            let doc = RawValue::from_string(r.get(1)?)
                .with_context(|| format!("rule {name} is damaged in the store"))?;
            rules.insert(name, doc);
        }
        Ok(rules)
    }

    /// [`Store::render_findings`] for output written straight from what
    /// the store holds, without putting each `Finding` together: `render`
    /// writes each finding of a chunk, and `sink` takes the chunks in
    /// order. Their history is read only `with_history` (else
    /// `StoredFinding::history` holds only what waits in the outbox).
    pub fn render_stored(
        &self,
        ids: &[i64],
        with_history: bool,
        render: impl Fn(&StoredFinding<'_>, &mut Vec<u8>) -> Result<()> + Sync,
        mut sink: impl FnMut(&RenderedChunk) -> Result<()>,
    ) -> Result<()> {
        // Each chunk is written into the room of one already handed to
        // `sink`: fresh pages cost the kernel more than the writing.
        let spare = std::sync::Mutex::new(Vec::<Vec<u8>>::new());
        let take_spare = || {
            spare
                .lock()
                .ok()
                .and_then(|mut s| s.pop())
                .unwrap_or_default()
        };
        // Chunks read in id order land each lookup near the last; an eighth
        // of a short list at most, so two readers still share it.
        let chunk_len = (ids.len() / 8).clamp(RENDER_CHUNK, STORED_CHUNK);
        let history = match with_history {
            false => History::None,
            true => self.history_for(ids.len(), chunk_len)?,
        };
        self.render_chunks(
            ids,
            chunk_len,
            history,
            |reader, chunk| {
                let text = take_spare();
                reader.in_snapshot(chunk.len(), |r| r.render(chunk, text, &render))
            },
            |chunk| {
                sink(&chunk)?;
                if let Ok(mut spare) = spare.lock() {
                    spare.push(chunk.text);
                }
                Ok(())
            },
        )
    }

    /// How to read the history of `n` findings read `chunk_len` at a time:
    /// in one pass over all of it, when there are several chunks and it
    /// is not much longer than they are. Chunk by chunk, each entry is
    /// found through the index and then looked up (a quarter of a 100,000
    /// finding export's CPU); in one pass it is read in place.
    fn history_for(&self, n: usize, chunk_len: usize) -> Result<History> {
        if n <= chunk_len {
            return Ok(History::ByChunk);
        }
        let entries: usize = self
            .conn
            .query_row("SELECT count(*) FROM activity", [], |r| r.get(0))?;
        if entries > HISTORY_PER_FINDING_READ_ONCE * n {
            return Ok(History::ByChunk);
        }
        let all = read_history(
            self,
            "SELECT finding_id, at, actor, action, note FROM activity ORDER BY id",
            [],
            entries,
        )?;
        Ok(History::Read(Arc::new(all)))
    }

    /// Reads `ids` a chunk at a time (`read`), their history as `history`
    /// says, on two connections for a long list, and hands each chunk's
    /// result to `sink` in order.
    fn render_chunks<T: Send>(
        &self,
        ids: &[i64],
        chunk_len: usize,
        history: History,
        read: impl Fn(&mut FindingReader<'_>, &[i64]) -> Result<T> + Sync,
        mut sink: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        let chunks: Vec<&[i64]> = ids.chunks(chunk_len).collect();
        let _mapped = match chunks.len() {
            0..=PARALLEL_RENDER_CHUNKS => None,
            _ => Some(self.mapped_reads()?),
        };
        let pending = Arc::new(pending_by_finding(self)?);
        let mine = FindingReader::sharing(self, pending.clone(), history.clone());
        let second = match chunks.len() {
            0..=PARALLEL_RENDER_CHUNKS => None,
            _ => self.second_reader()?,
        };
        let Some(second) = second else {
            let mut reader = mine;
            for chunk in chunks {
                sink(read(&mut reader, chunk)?)?;
            }
            return Ok(());
        };
        // Each reader takes the next chunk nobody has taken, so neither
        // waits long for the other at the end; this thread also hands
        // them to `sink` in order, and reads ahead of it by a few at most.
        let next = AtomicUsize::new(0);
        let take = || {
            let i = next.fetch_add(1, Ordering::Relaxed);
            chunks.get(i).map(|chunk| (i, *chunk))
        };
        std::thread::scope(|scope| {
            let (done, ready) = std::sync::mpsc::sync_channel::<(usize, Result<T>)>(READ_AHEAD);
            let (read, take) = (&read, &take);
            scope.spawn(move || {
                let mut reader = FindingReader::sharing(&second, pending, history);
                while let Some((i, chunk)) = take() {
                    let rendered = read(&mut reader, chunk);
                    let failed = rendered.is_err();
                    // The receiver is gone when the sink failed: stop.
                    if done.send((i, rendered)).is_err() || failed {
                        return;
                    }
                }
            });
            let mut reader = mine;
            let mut waiting: HashMap<usize, T> = HashMap::new();
            for written in 0..chunks.len() {
                let rendered = loop {
                    if let Some(rendered) = waiting.remove(&written) {
                        break rendered;
                    }
                    // One chunk at a time from the second reader, and only
                    // while the one due is missing: it waits once a few
                    // are in the channel, however slow the sink.
                    if let Ok((i, rendered)) = ready.try_recv() {
                        waiting.insert(i, rendered?);
                        continue;
                    }
                    // The second reader has the chunk due: read another
                    // meanwhile, unless far enough ahead already.
                    let room = next.load(Ordering::Relaxed) < written + READ_AHEAD;
                    match room.then(take).flatten() {
                        Some((i, chunk)) => {
                            waiting.insert(i, read(&mut reader, chunk)?);
                        }
                        None => {
                            let (i, rendered) = ready.recv().map_err(|_| {
                                anyhow::anyhow!("the second findings reader stopped")
                            })?;
                            waiting.insert(i, rendered?);
                        }
                    }
                };
                sink(rendered)?;
            }
            Ok(())
        })
    }

    /// A second connection on this store's file, for reading beside this
    /// one with a page cache of its own; none for a store in memory or
    /// opened immutable.
    fn second_reader(&self) -> Result<Option<Store>> {
        let Some(file) = self.conn.path().filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let conn = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        // It reads as `render_chunks` reads, through the mapped file.
        conn.pragma_update(None, "mmap_size", super::READ_MAP_BYTES)?;
        Ok(Some(Store {
            conn,
            path: self.path.clone(),
        }))
    }
}

// The copies of a finding on other refs are looked up by the identity
// index, named: the unique index (project, ref, identity) covers these
// columns too, and SQLite chose it, reading every finding of the project
// (half a second at a million findings, for every finding shown).
const COPIES_ON_OTHER_REFS: &str = "
    WITH chosen(id) AS (SELECT value FROM json_each(?1))
    SELECT count(DISTINCT other.id)
    FROM chosen
    JOIN findings f ON f.id = chosen.id
    JOIN findings other INDEXED BY findings_identity
                     ON other.project_id = f.project_id
                    AND other.match_based_id = f.match_based_id
    WHERE other.id NOT IN (SELECT id FROM chosen)";
const OTHER_REFS: &str = "
    SELECT other.ref FROM findings f
    JOIN findings other INDEXED BY findings_identity
                     ON other.project_id = f.project_id
                    AND other.match_based_id = f.match_based_id
    WHERE f.id = ?1 AND other.id <> f.id
    ORDER BY other.ref";

/// Findings `render_findings` reads at a time.
const RENDER_CHUNK: usize = 500;

/// Findings `render_stored` reads at a time, at most.
const STORED_CHUNK: usize = 2048;

/// A chunk's findings as `render_stored` wrote them: its text in the
/// order they were read, and where each one is by its place in the chunk.
pub struct RenderedChunk {
    text: Vec<u8>,
    spans: Vec<(usize, std::ops::Range<usize>)>,
}

impl RenderedChunk {
    /// What was written for each finding, in the order asked for (empty
    /// for one `render` wrote nothing for).
    pub fn findings(&self) -> impl Iterator<Item = &[u8]> {
        self.spans
            .iter()
            .map(|(_, span)| self.text.get(span.clone()).unwrap_or_default())
    }
}

/// About what one finding takes written out, in bytes: 2.3 KB in the v1
/// shape with the Assistant's answers (the benchmark's backlog).
pub const RENDERED_FINDING_BYTES: usize = 2_560;

/// Above this many chunks, `render_findings` reads on two connections.
const PARALLEL_RENDER_CHUNKS: usize = 4;

/// History entries per finding listed, on average, up to which a long
/// list's history is read in one pass (and held while it is written).
const HISTORY_PER_FINDING_READ_ONCE: usize = 4;

/// Chunks read but not yet handed to the sink, at most (about).
const READ_AHEAD: usize = 3;

/// Decisions waiting in the outbox, oldest first, by finding; one a
/// colleague's crossed waits for the reviewer and is not here.
type PendingByFinding = HashMap<i64, Vec<super::Pending>>;

fn pending_by_finding(store: &Store) -> Result<PendingByFinding> {
    let mut pending = PendingByFinding::new();
    for p in store.pending()? {
        if p.conflict.is_none() {
            pending.entry(p.finding_id).or_default().push(p);
        }
    }
    Ok(pending)
}

/// Reads findings' full details a chunk at a time: what every chunk
/// shares (the outbox's decisions, the rules) is read once, and each
/// chunk's rows in a few queries rather than a few for each finding.
struct FindingReader<'s> {
    store: &'s Store,
    pending: Arc<PendingByFinding>,
    /// Rules as stored, decoded once each.
    rules: HashMap<i64, StoredRule>,
    /// Projects' names and addresses, read once each.
    projects: HashMap<i64, (String, Option<String>)>,
    rule_json: std::cell::RefCell<super::listed::RuleJson>,
    /// Whether sift's own Assistant has answered any finding, once asked:
    /// a store it never ran on is not asked for every chunk.
    answered: Option<bool>,
    /// How findings' history is read.
    history: History,
}

/// How a [`FindingReader`] reads findings' history.
#[derive(Clone)]
enum History {
    /// Not at all: only what waits in the outbox.
    None,
    /// For each chunk, that chunk's.
    ByChunk,
    /// Read once for all, before the first chunk.
    Read(Arc<HistoryByFinding>),
}

/// Findings' history: every entry, by finding and oldest first, in one
/// list (fresh memory is dear: one list per finding took twice the room).
#[derive(Default)]
struct HistoryByFinding {
    entries: Vec<Activity>,
    /// Where each finding's entries are in `entries`.
    of: rustc_hash::FxHashMap<i64, std::ops::Range<usize>>,
}

impl HistoryByFinding {
    fn of(&self, finding: i64) -> &[Activity] {
        self.of
            .get(&finding)
            .and_then(|range| self.entries.get(range.clone()))
            .unwrap_or_default()
    }
}

impl<'s> FindingReader<'s> {
    fn new(store: &'s Store) -> Result<FindingReader<'s>> {
        let pending = Arc::new(pending_by_finding(store)?);
        Ok(Self::sharing(store, pending, History::ByChunk))
    }

    fn sharing(
        store: &'s Store,
        pending: Arc<PendingByFinding>,
        history: History,
    ) -> FindingReader<'s> {
        FindingReader {
            store,
            pending,
            rules: HashMap::new(),
            projects: HashMap::new(),
            rule_json: Default::default(),
            answered: None,
            history,
        }
    }

    /// Findings by id, in the order given; unknown ids are skipped.
    fn read(&mut self, ids: &[i64]) -> Result<Vec<Finding>> {
        self.in_snapshot(ids.len(), |r| r.read_in(ids))
    }

    /// `read` of `n` findings in one read transaction (`Store::in_snapshot`).
    fn in_snapshot<T>(&mut self, n: usize, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let store = self.store;
        store.in_snapshot(n, || read(self))
    }

    /// What `render` writes for each of `ids` (unknown ones skipped), into
    /// `text` (emptied first, kept for its room).
    fn render(
        &mut self,
        ids: &[i64],
        mut text: Vec<u8>,
        render: &impl Fn(&StoredFinding<'_>, &mut Vec<u8>) -> Result<()>,
    ) -> Result<RenderedChunk> {
        text.clear();
        // Grown from nothing, a chunk's text was copied a dozen times over.
        text.reserve(ids.len() * RENDERED_FINDING_BYTES);
        let mut spans = Vec::with_capacity(ids.len());
        self.each_stored(ids, |place, stored| {
            let start = text.len();
            render(&StoredFinding(stored), &mut text)?;
            spans.push((place, start..text.len()));
            Ok(())
        })?;
        spans.sort_unstable_by_key(|(place, _)| *place);
        Ok(RenderedChunk { text, spans })
    }

    fn read_in(&mut self, ids: &[i64]) -> Result<Vec<Finding>> {
        let mut out: Vec<Option<Finding>> = Vec::new();
        out.resize_with(ids.len(), || None);
        self.each_stored(ids, |place, stored| {
            if let Some(slot) = out.get_mut(place) {
                *slot = Some(stored.finding()?);
            }
            Ok(())
        })?;
        Ok(out.into_iter().flatten().collect())
    }

    /// Calls `each` with every finding of `ids` as stored and its place in
    /// `ids`, in whatever order SQLite takes; unknown ids are skipped.
    pub(super) fn each_stored(
        &mut self,
        ids: &[i64],
        mut each: impl FnMut(usize, &Stored<'_>) -> Result<()>,
    ) -> Result<()> {
        let FindingReader {
            store,
            pending,
            rules,
            projects,
            rule_json,
            answered,
            history,
        } = self;
        // Read in the order of ids, not of `ids`: each lookup then lands
        // near the last, on pages still in the processor's cache (lookups
        // in the list's order were a fifth of the export's CPU).
        let mut by_id: Vec<(i64, usize)> = ids.iter().copied().zip(0..).collect();
        by_id.sort_unstable();
        let list = serde_json::to_string(&by_id.iter().map(|(id, _)| id).collect::<Vec<_>>())?;
        let chunk_history;
        let activity = match history {
            History::Read(all) => &**all,
            History::ByChunk => {
                chunk_history = read_history(
                    store,
                    "SELECT finding_id, at, actor, action, note FROM activity
                     WHERE finding_id IN (SELECT value FROM json_each(?1))
                     ORDER BY finding_id, id",
                    [&list],
                    ids.len(),
                )?;
                &chunk_history
            }
            History::None => &HistoryByFinding::default(),
        };
        let answered = match *answered {
            Some(known) => known,
            None => *answered.insert(store.any_ai_answers()?),
        };
        let (judged, fixed) = match answered {
            true => (store.ai_verdicts(ids)?, store.ai_fixes(ids)?),
            false => Default::default(),
        };
        // Each row names its place in `ids`, whatever order SQLite takes.
        let mut stmt = store.conn.prepare_cached(
            "SELECT chosen.key, f.id, d.doc, f.ref, f.state, f.triage_state, f.triage_reason,
                    f.triage_comment, f.triaged_at, d.code_start, d.code, f.rule_id, f.project_id,
                    f.message, f.match_based_id
             FROM json_each(?1) AS chosen
             JOIN findings f ON f.id = chosen.value
             JOIN finding_details d ON d.finding_id = f.id",
        )?;
        let mut rows = stmt.query([&list])?;
        while let Some(r) = rows.next()? {
            let place = by_id
                .get(r.get::<_, usize>(0)?)
                .context("a finding read is not one asked for")?
                .1;
            let id: i64 = r.get(1)?;
            let (project, url) = stored_project(store, projects, r.get(12)?, id)?;
            let rule_id = r.get(11)?;
            let stored = Stored {
                id,
                doc: r.get_ref(2)?.as_str()?,
                git_ref: r.get_ref(3)?.as_str()?,
                match_based_id: r.get_ref(14)?.as_str()?,
                message: r.get_ref(13)?.as_str()?,
                state: r.get_ref(4)?.as_str()?,
                triage_state: r.get_ref(5)?.as_str()?,
                triage_reason: r.get_ref(6)?.as_str_or_null()?,
                triage_comment: r.get_ref(7)?.as_str_or_null()?,
                triaged_at: r.get_ref(8)?.as_str_or_null()?,
                code_start: r.get(9)?,
                code: r.get_ref(10)?.as_str_or_null()?,
                project,
                url: url.as_deref(),
                rule: stored_rule(store, rules, rule_id, id)?,
                rule_id,
                rule_json,
                activity: activity.of(id),
                pending: pending.get(&id).map_or(&[], Vec::as_slice),
                judged: judged.get(&id),
                fixed: fixed.get(&id),
            };
            each(place, &stored)?;
        }
        Ok(())
    }
}

/// The history `query` reads (with `params`): rows
/// `finding_id, at, actor, action, note`, each finding's in the order they
/// were recorded, about `expected` of them. Each finding's entries are put
/// in time order here (those of the same time as recorded): sorted by
/// SQLite, a whole store's history went through a temporary file. Room is
/// taken once: on this machine, fresh memory costs more than filling it.
fn read_history(
    store: &Store,
    query: &str,
    params: impl rusqlite::Params,
    expected: usize,
) -> Result<HistoryByFinding> {
    let mut stmt = store.conn.prepare_cached(query)?;
    let mut rows = stmt.query(params)?;
    let mut read: Vec<(i64, usize, Activity)> = Vec::with_capacity(expected);
    while let Some(r) = rows.next()? {
        let activity = Activity {
            at: timestamp::parse(r.get_ref(1)?.as_str()?).unwrap_or(OffsetDateTime::UNIX_EPOCH),
            actor: r.get(2)?,
            action: r.get(3)?,
            note: r.get(4)?,
            pending: false,
        };
        read.push((r.get(0)?, read.len(), activity));
    }
    // Entries of one finding at the same time stay as recorded.
    read.sort_unstable_by_key(|(finding, recorded, a)| (*finding, a.at, *recorded));
    let mut history = HistoryByFinding {
        entries: Vec::with_capacity(read.len()),
        of: rustc_hash::FxHashMap::with_capacity_and_hasher(read.len(), Default::default()),
    };
    for (finding, _, activity) in read {
        let at = history.entries.len();
        history.of.entry(finding).or_insert(at..at).end = at + 1;
        history.entries.push(activity);
    }
    Ok(history)
}

/// The stored rule `rule_id`, decoded the first time it is asked for;
/// `finding` names the finding in the error of a damaged one.
fn stored_rule<'r>(
    store: &Store,
    rules: &'r mut HashMap<i64, StoredRule>,
    rule_id: i64,
    finding: i64,
) -> Result<&'r StoredRule> {
    read_once(rules, rule_id, finding, || {
        let doc: String = store
            .conn
            .prepare_cached("SELECT doc FROM rules WHERE id = ?1")?
            .query_row([rule_id], |r| r.get(0))?;
        Ok(serde_json::from_str(&doc)?)
    })
}

/// The name and address of project `project_id`, read the first time it is
/// asked for; `finding` names the finding in the error of a missing one.
fn stored_project<'p>(
    store: &Store,
    projects: &'p mut HashMap<i64, (String, Option<String>)>,
    project_id: i64,
    finding: i64,
) -> Result<&'p (String, Option<String>)> {
    read_once(projects, project_id, finding, || {
        Ok(store
            .conn
            .prepare_cached("SELECT name, url FROM projects WHERE id = ?1")?
            .query_row([project_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
    })
}

/// What `kept` holds for `id`, `read` into it the first time; `finding`
/// names the finding in the error of a damaged one.
fn read_once<T>(
    kept: &mut HashMap<i64, T>,
    id: i64,
    finding: i64,
    read: impl FnOnce() -> Result<T>,
) -> Result<&T> {
    Ok(match kept.entry(id) {
        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => slot
            .insert(read().with_context(|| format!("finding {finding} is damaged in the store"))?),
    })
}

/// One finding as the store holds it, borrowed from its rows: its stored
/// document, the columns that override it, and what is laid over it (its
/// history, decisions waiting in the outbox, sift's own Assistant's
/// answers). [`Stored::finding`] puts it together; `sift findings --json`
/// writes it out without doing so (`listed`).
pub(super) struct Stored<'r> {
    pub id: i64,
    pub doc: &'r str,
    pub git_ref: &'r str,
    pub match_based_id: &'r str,
    pub message: &'r str,
    pub state: &'r str,
    pub triage_state: &'r str,
    pub triage_reason: Option<&'r str>,
    pub triage_comment: Option<&'r str>,
    pub triaged_at: Option<&'r str>,
    pub code_start: Option<u32>,
    pub code: Option<&'r str>,
    pub project: &'r str,
    pub url: Option<&'r str>,
    pub rule: &'r StoredRule,
    pub rule_id: i64,
    /// The rule objects written so far (`listed`).
    pub rule_json: &'r std::cell::RefCell<super::listed::RuleJson>,
    /// Its history as stored, oldest first.
    pub activity: &'r [Activity],
    /// Decisions on it waiting in the outbox, oldest first.
    pub pending: &'r [super::Pending],
    pub judged: Option<&'r super::Answer>,
    pub fixed: Option<&'r super::FixRecord>,
}

impl Stored<'_> {
    /// The finding with its code context and history, decisions not yet
    /// acknowledged shown as they will be.
    pub fn finding(&self) -> Result<Finding> {
        let row = DetailRow {
            doc: self.doc,
            git_ref: self.git_ref.to_string(),
            match_based_id: self.match_based_id,
            message: self.message,
            state: self.state,
            triage_state: self.triage_state,
            triage_reason: self.triage_reason,
            triage_comment: self.triage_comment.map(str::to_string),
            triaged_at: self.triaged_at,
            code_start: self.code_start,
            code: self.code,
            project: self.project.to_string(),
            url: self.url.map(str::to_string),
        };
        let mut f = row.into_finding(self.id, self.rule)?;
        f.activity = self.activity.to_vec();
        for p in self.pending {
            if let Some(state) = p.change.state {
                f.triage_state = state;
                f.triage_reason = p.change.reason;
                f.triage_comment = p.change.note.clone().or(f.triage_comment);
            }
            f.activity.push(pending_activity(p));
        }
        if let Some(answer) = self.judged {
            with_own_judgement(&mut f.assistant, answer);
        }
        if let Some(record) = self.fixed {
            super::fixes::with_own_fix(&mut f.assistant, record);
        }
        Ok(f)
    }
}

/// A decision waiting in the outbox, as the finding's history shows it.
pub(super) fn pending_activity(p: &super::Pending) -> Activity {
    Activity {
        at: p.created_at,
        actor: p.actor.clone(),
        action: p.change.activity(),
        note: p.change.note.clone(),
        pending: true,
    }
}

/// sift's own Assistant's answer on a finding Semgrep's did not judge.
pub(super) fn with_own_judgement(assistant: &mut Option<Assistant>, answer: &super::Answer) {
    let a = assistant.get_or_insert_with(Default::default);
    if let super::Judgement::Verdict {
        component: Some(c), ..
    } = &answer.judgement
        && a.component.is_none()
    {
        a.component = Some(Component {
            tag: c.tag.clone(),
            risk: Some(c.risk),
        });
    }
    if a.verdict.is_some() && a.judged_by.is_none() {
        return; // Semgrep's own verdict stands
    }
    match &answer.judgement {
        super::Judgement::Verdict {
            verdict, reason, ..
        } => {
            a.verdict = Some(*verdict);
            a.verdict_reason = reason.clone();
            a.no_verdict = None;
        }
        super::Judgement::NoVerdict { why } => {
            a.verdict = None;
            a.verdict_reason = String::new();
            a.no_verdict = Some(why.clone());
        }
    }
    a.judged_by = Some(answer.judge.clone());
}

/// How long a pull's import holds the store's write lock before it lets
/// other writers (a decision in the console) have their turn.
const PULL_LOCK_HOLD: std::time::Duration = std::time::Duration::from_secs(1);

/// Above this span of finding ids, `load_index` reads two halves at once.
const PARALLEL_INDEX_SPAN: i64 = 20_000;

/// What `load_index` looks finding rows up in.
struct IndexNames {
    /// Project id -> (name, primary branch).
    projects: HashMap<i64, (String, String)>,
    rules: HashMap<i64, String>,
    overlay: super::outbox::Overlay,
    /// Of the project and rule names: a snapshot built with others is stale.
    digest: u64,
}

/// The highest change number of the findings a connection sees.
fn top_change(conn: &rusqlite::Connection) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT coalesce(max(change_seq), 0) FROM findings",
        [],
        |r| r.get(0),
    )?)
}

/// Adds the findings `filter` (an SQL condition on `findings`) selects to
/// `builder`.
fn scan_index(
    conn: &rusqlite::Connection,
    names: &IndexNames,
    filter: &str,
    values: impl rusqlite::Params,
    builder: &mut IndexBuilder,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, relevant_since, project_id, rule_id, path, message, ref, line, severity,
                state, triage_state, verdict, component, risk
         FROM findings WHERE {filter}"
    ))?;
    let mut rows = stmt.query(values)?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let pending = names.overlay.get(&id);
        let (project, primary) = names
            .projects
            .get(&r.get::<_, i64>(2)?)
            .map_or(("", "main"), |(n, p)| (n.as_str(), p.as_str()));
        let rule = names
            .rules
            .get(&r.get::<_, i64>(3)?)
            .map_or("", String::as_str);
        let state = ScanState::parse(r.get_ref(9)?.as_str()?).unwrap_or(ScanState::Unresolved);
        let mut triage_state =
            TriageState::parse(r.get_ref(10)?.as_str()?).unwrap_or(TriageState::Untriaged);
        if let Some(Some((s, _))) = pending {
            triage_state = *s;
        }
        let git_ref = r.get_ref(6)?.as_str()?;
        builder.push(IndexEntry {
            id,
            relevant_since: r.get(1)?,
            project,
            rule,
            path: r.get_ref(4)?.as_str()?,
            message: r.get_ref(5)?.as_str()?,
            git_ref,
            line: r.get(7)?,
            severity: Severity::parse(r.get_ref(8)?.as_str()?).unwrap_or(Severity::Medium),
            status: Status::derive(state, triage_state),
            triage_state,
            verdict: r.get_ref(11)?.as_str_or_null()?.and_then(Verdict::parse),
            component: r.get_ref(12)?.as_str_or_null()?.unwrap_or(""),
            risk: r
                .get_ref(13)?
                .as_str_or_null()?
                .and_then(ComponentRisk::parse),
            lifecycle: Lifecycle::of(git_ref, primary),
            pending: pending.is_some(),
        });
    }
    Ok(())
}

/// The stored parts of one finding, before they are put together.
struct DetailRow<'r> {
    doc: &'r str,
    git_ref: String,
    match_based_id: &'r str,
    message: &'r str,
    state: &'r str,
    triage_state: &'r str,
    triage_reason: Option<&'r str>,
    triage_comment: Option<String>,
    triaged_at: Option<&'r str>,
    code_start: Option<u32>,
    code: Option<&'r str>,
    project: String,
    url: Option<String>,
}

impl DetailRow<'_> {
    fn into_finding(self, id: i64, rule: &StoredRule) -> Result<Finding> {
        let mut f = self.put_together(id, rule.rule.clone())?;
        f.rule.references = rule.references.clone();
        f.rule.technologies = rule.technologies.clone();
        Ok(f)
    }

    /// The finding from its document, the row's columns laid over it, and
    /// `rule` (without its references and technologies).
    fn put_together(self, id: i64, rule: v1::Rule) -> Result<Finding> {
        let damaged = || format!("finding {id}: its stored document is not a finding");
        let mut wire: v1::Finding = serde_json::from_str(self.doc).with_context(damaged)?;
        wire.rule = Some(rule);
        let mut f = wire.into_domain(OffsetDateTime::UNIX_EPOCH);
        f.id = id;
        f.project = self.project;
        f.repository_url = self.url.or(f.repository_url);
        f.git_ref = self.git_ref;
        f.match_based_id = self.match_based_id.to_string();
        f.message = self.message.to_string();
        // As `into_domain` falls back on a finding's message for its rule's.
        if f.rule.message.is_empty() {
            f.rule.message.clone_from(&f.message);
        }
        f.state = ScanState::parse(self.state).unwrap_or(f.state);
        f.triage_state = TriageState::parse(self.triage_state).unwrap_or(f.triage_state);
        f.triage_reason = self
            .triage_reason
            .and_then(crate::domain::TriageReason::parse);
        f.triage_comment = self.triage_comment;
        f.triaged_at = self.triaged_at.and_then(timestamp::parse);
        f.code = match (self.code_start, self.code) {
            (Some(start_line), Some(text)) => Some(CodeContext {
                start_line,
                lines: text.split('\n').map(str::to_string).collect(),
            }),
            _ => None,
        };
        Ok(f)
    }
}

fn project_id(tx: &Transaction, scan: &ScanResults) -> Result<i64> {
    project_named(
        tx,
        &scan.project,
        scan.repository_url.as_deref(),
        &scan.git_ref,
    )
}

/// The project `name`, its repository at `url` when known; a new one takes
/// its primary branch from `git_ref`, the ref of its first findings.
fn project_named(tx: &Transaction, name: &str, url: Option<&str>, git_ref: &str) -> Result<i64> {
    let existing: Option<(i64, Option<String>)> = tx
        .prepare_cached("SELECT id, url FROM projects WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((id, stored)) = existing {
        if url.is_some() && url != stored.as_deref() {
            tx.prepare_cached("UPDATE projects SET url = ?2 WHERE id = ?1")?
                .execute(params![id, url])?;
        }
        return Ok(id);
    }
    // The first branch that is not a review ref is taken as the primary one.
    let primary = if is_review_ref(git_ref) {
        "main"
    } else {
        git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref)
    };
    tx.execute(
        "INSERT INTO projects (name, url, primary_branch) VALUES (?1, ?2, ?3)",
        params![name, url, primary],
    )?;
    Ok(tx.last_insert_rowid())
}

/// The rules an import wrote, by name: the id, and the rule as the scan
/// gave it (before merging with what was stored), so that a rule many
/// scans of one import repeat is written once.
type RulesWritten = HashMap<String, (i64, crate::domain::Rule)>;

/// The `rules` row for a finding's rule, written when the import has not
/// written the same rule yet.
fn rule_id(tx: &Transaction, f: &Finding, written: &mut RulesWritten) -> Result<i64> {
    // Compared as given, without a copy: most findings repeat a rule.
    if let Some((id, before)) = written.get(&f.rule.name)
        && *before == f.rule
    {
        return Ok(*id);
    }
    let id = store_rule(tx, &f.rule.name, StoredRule::of(f))?;
    written.insert(f.rule.name.clone(), (id, f.rule.clone()));
    Ok(id)
}

/// Stores the rule `name` as `rule` says, merged over what is stored
/// (`StoredRule::merged_over`): its id.
fn store_rule(tx: &Transaction, name: &str, mut rule: StoredRule) -> Result<i64> {
    let existing: Option<String> = tx
        .prepare_cached("SELECT doc FROM rules WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    if let Some(old) = existing.and_then(|d| serde_json::from_str::<StoredRule>(&d).ok()) {
        rule = rule.merged_over(old);
    }
    Ok(tx
        .prepare_cached(
            "INSERT INTO rules (name, doc) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET doc = excluded.doc RETURNING id",
        )?
        .query_row(params![name, serde_json::to_string(&rule)?], |r| r.get(0))?)
}

/// The finding's details as stored: the v1 document without its rule (kept
/// once, in `rules`) and without what its row and its project hold.
fn details_doc(f: &Finding) -> Result<String> {
    let mut wire = v1::Finding::from_domain_without_rule(f);
    // The row's columns hold these (and win over the document): without
    // the triage, a decision leaves the document as it was, and a pull
    // that brings the decided finding back finds nothing to rewrite;
    // without the rest, a third of each document is not written twice.
    wire.match_based_id = None;
    wire.repository = None;
    wire.rule_name = None;
    wire.rule_message = None;
    wire.state = None;
    wire.status = None;
    wire.triage_state = None;
    wire.triage_reason = None;
    wire.triage_comment = None;
    wire.triaged_at = None;
    // Most documents are one or two kilobytes: written without regrowing.
    let mut doc = Vec::with_capacity(DETAILS_DOC_CAPACITY);
    serde_json::to_writer(&mut doc, &wire)?;
    Ok(String::from_utf8(doc)?)
}

/// What a finding's details document is given to start with, in bytes.
const DETAILS_DOC_CAPACITY: usize = 2048;

/// The columns of a finding a scan sets.
#[derive(Debug, PartialEq)]
struct ScanData {
    rule_id: i64,
    message: String,
    severity: String,
    path: String,
    line: u32,
    state: String,
    verdict: Option<String>,
    component: Option<String>,
    risk: Option<String>,
}

/// The columns of a finding a platform record's triage sets.
#[derive(Debug, PartialEq)]
struct Triage {
    state: String,
    reason: Option<String>,
    comment: Option<String>,
    at: Option<String>,
    relevant_since: i64,
}

/// A known finding as stored, to tell what an import changes.
struct StoredRow {
    project_id: i64,
    git_ref: String,
    match_based_id: String,
    scan_data: ScanData,
    triage: Triage,
    doc: Option<String>,
    code_start: Option<u32>,
    code: Option<String>,
    evidence: Option<Evidence>,
}

impl StoredRow {
    /// The finding `id`, when the store holds it.
    fn read(tx: &Transaction, id: i64) -> Result<Option<StoredRow>> {
        let hash = |v: Option<i64>| v.map(|h| h as u64);
        Ok(tx
            .prepare_cached(
                "SELECT f.match_based_id, f.rule_id, f.message, f.severity, f.path, f.line,
                    f.state, f.verdict, f.component, f.risk, f.triage_state, f.triage_reason,
                    f.triage_comment, f.triaged_at, f.relevant_since, d.doc, d.code_start,
                    d.code, e.line, e.col, e.length, e.snippet, e.lines, e.before, e.after,
                    f.project_id, f.ref
                 FROM findings f
                 LEFT JOIN finding_details d ON d.finding_id = f.id
                 LEFT JOIN finding_evidence e ON e.finding_id = f.id
                 WHERE f.id = ?1",
            )?
            .query_row([id], |r| {
                let evidence = match r.get::<_, Option<u32>>(18)? {
                    None => None,
                    Some(line) => Some(Evidence {
                        line,
                        column: r.get(19)?,
                        length: r.get(20)?,
                        snippet: hash(r.get(21)?),
                        lines: hash(r.get(22)?),
                        before: hash(r.get(23)?),
                        after: hash(r.get(24)?),
                    }),
                };
                Ok(StoredRow {
                    project_id: r.get(25)?,
                    git_ref: r.get(26)?,
                    match_based_id: r.get(0)?,
                    scan_data: ScanData {
                        rule_id: r.get(1)?,
                        message: r.get(2)?,
                        severity: r.get(3)?,
                        path: r.get(4)?,
                        line: r.get(5)?,
                        state: r.get(6)?,
                        verdict: r.get(7)?,
                        component: r.get(8)?,
                        risk: r.get(9)?,
                    },
                    triage: Triage {
                        state: r.get(10)?,
                        reason: r.get(11)?,
                        comment: r.get(12)?,
                        at: r.get(13)?,
                        relevant_since: r.get(14)?,
                    },
                    doc: r.get(15)?,
                    code_start: r.get(16)?,
                    code: r.get(17)?,
                    evidence,
                })
            })
            .optional()?)
    }
}

/// Frees a stored page on a thread of its own: its findings' many strings
/// took the writer 4 µs a finding to free while the next page waited.
fn free_elsewhere<T: Send + 'static>(spent: Vec<T>) {
    // When no thread can be started, the page is freed here.
    let _ = std::thread::Builder::new()
        .name("sift-free".into())
        .spawn(move || drop(spent));
}

/// `details`: the findings' details, when worked out beforehand.
pub(super) fn import_scan(
    tx: &Transaction,
    scan: &ScanResults,
    details: Option<&[Details]>,
    now: OffsetDateTime,
    rules: &mut RulesWritten,
) -> Result<ImportSummary> {
    // Scanner output is matched to what is known by its evidence; platform
    // records name their findings by id.
    let placing = match scan.source {
        ScanSource::Scanner if scan.identities.len() == scan.findings.len() => Some(
            scan.findings
                .iter()
                .zip(&scan.identities)
                .map(|(f, id)| Placing {
                    candidate: Candidate {
                        rule: &f.rule.name,
                        path: &f.location.path,
                        message: &f.message,
                        evidence: id.evidence,
                    },
                    match_based_id: &f.match_based_id,
                    fingerprinted: id.fingerprinted,
                })
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    let mut writer = ScanWriter::new(tx, scan, placing.as_deref(), scan.findings.len())?;
    for (i, f) in scan.findings.iter().enumerate() {
        let details = details.and_then(|d| d.get(i));
        writer.write(i, f, scan.identities.get(i), details, rules)?;
    }
    writer.finish(now)
}

/// Stores a scanner's scan whose findings come a chunk at a time
/// (`read` hands them over, in the order of `keys`): `scan` holds the rest,
/// `keys` what placing each result needs.
fn import_streamed_scan(
    tx: &Transaction,
    scan: &ScanResults,
    keys: &[ResultKey],
    read: &mut ReadFindings<'_>,
    now: OffsetDateTime,
    rules: &mut RulesWritten,
) -> Result<ImportSummary> {
    let placing: Vec<Placing> = keys
        .iter()
        .map(|k| Placing {
            candidate: Candidate {
                rule: &k.rule,
                path: &k.path,
                message: &k.message,
                evidence: k.identity.evidence,
            },
            match_based_id: &k.match_based_id,
            fingerprinted: k.identity.fingerprinted,
        })
        .collect();
    let mut writer = ScanWriter::new(tx, scan, Some(&placing), keys.len())?;
    drop(placing);
    let mut next = 0;
    read(&mut |chunk: Vec<Finding>| {
        for f in &chunk {
            let key = keys
                .get(next)
                .context("the file holds more results than when it was first read")?;
            writer.write(next, f, Some(&key.identity), None, rules)?;
            next += 1;
        }
        Ok(())
    })?;
    if next != keys.len() {
        anyhow::bail!("the file holds fewer results than when it was first read");
    }
    writer.finish(now)
}

/// The one statement that inserts findings: each new row takes the next
/// change number, so `sift serve`'s change cursor sees it.
const INSERT_FINDING: &str = concat!(
    "INSERT INTO findings (id, project_id, ref, match_based_id, rule_id, message, severity, path,
        line, state, triage_state, triage_reason, triage_comment, triaged_at, verdict,
        relevant_since, component, risk, change_seq)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ",
    next_change!(),
    ")"
);

/// A finding as a new `findings` row takes it (beside its project, ref
/// and rule), with its project's repository and where its evidence starts.
#[derive(Debug, PartialEq)]
pub(super) struct NewFinding<'a> {
    pub id: i64,
    pub url: Option<&'a str>,
    pub match_based_id: &'a str,
    pub message: &'a str,
    pub severity: Severity,
    pub path: &'a str,
    pub line: u32,
    pub column: u32,
    pub state: ScanState,
    pub triage_state: TriageState,
    pub triage_reason: Option<TriageReason>,
    pub triage_comment: Option<&'a str>,
    pub triaged_at: Option<OffsetDateTime>,
    pub verdict: Option<Verdict>,
    pub relevant_since: i64,
    pub component: Option<&'a str>,
    pub risk: Option<ComponentRisk>,
}

impl NewFinding<'_> {
    fn of(f: &Finding) -> NewFinding<'_> {
        let component = f.assistant.as_ref().and_then(|a| a.component.as_ref());
        NewFinding {
            id: f.id,
            url: f.repository_url.as_deref(),
            match_based_id: &f.match_based_id,
            message: &f.message,
            severity: f.severity,
            path: &f.location.path,
            line: f.location.line,
            column: f.location.column,
            state: f.state,
            triage_state: f.triage_state,
            triage_reason: f.triage_reason,
            triage_comment: f.triage_comment.as_deref(),
            triaged_at: f.triaged_at,
            verdict: f.verdict(),
            relevant_since: f.relevant_since.unix_timestamp(),
            component: component.map(|c| c.tag.as_str()),
            risk: component.and_then(|c| c.risk),
        }
    }

    /// A stored finding, its document read in place (`doc`), as
    /// `DetailRow::put_together` reads it: the row's columns win where the
    /// domain way takes them.
    pub(super) fn stored<'a>(row: &'a v1::StoredRow, doc: &'a DocColumns) -> NewFinding<'a> {
        NewFinding {
            id: row.id,
            url: row.url.as_deref().or(doc.url.as_deref()),
            match_based_id: &row.match_based_id,
            message: &row.message,
            severity: doc.severity,
            path: &doc.path,
            line: doc.line,
            column: doc.column,
            state: ScanState::parse(&row.state).unwrap_or(doc.state),
            triage_state: TriageState::parse(&row.triage_state).unwrap_or(doc.triage_state),
            triage_reason: row.triage_reason.as_deref().and_then(TriageReason::parse),
            triage_comment: row.triage_comment.as_deref(),
            triaged_at: row.triaged_at.as_deref().and_then(timestamp::parse),
            verdict: doc.verdict,
            relevant_since: doc.relevant_since,
            component: doc.component.as_deref(),
            risk: doc.risk,
        }
    }
}

/// Inserts `f` under its own id as `INSERT_FINDING … ON CONFLICT DO
/// NOTHING` (`insert`) does: the rows inserted, none when the store holds
/// the id or the match already.
fn insert_under_id(
    insert: &mut rusqlite::CachedStatement<'_>,
    f: &NewFinding<'_>,
    project_id: i64,
    git_ref: &str,
    rule_id: i64,
) -> Result<usize> {
    Ok(insert.execute(params![
        f.id,
        project_id,
        git_ref,
        f.match_based_id,
        rule_id,
        f.message,
        f.severity.as_str(),
        f.path,
        f.line,
        f.state.as_str(),
        f.triage_state.as_str(),
        f.triage_reason.map(|r| r.as_str()),
        f.triage_comment,
        f.triaged_at.map(timestamp::format),
        f.verdict.map(|v| v.as_str()),
        f.relevant_since,
        f.component,
        f.risk.map(|r| r.as_str()),
    ])?)
}

/// Hands a scan's findings over a chunk at a time, in order, to the
/// function it is given.
pub type ReadFindings<'a> =
    dyn FnMut(&mut dyn FnMut(Vec<Finding>) -> Result<()>) -> Result<()> + 'a;

/// Writes one scan's findings, one at a time, and then what it fixed.
struct ScanWriter<'t> {
    tx: &'t Transaction<'t>,
    scan: &'t ScanResults,
    /// How many findings the scan has.
    count: usize,
    project_id: i64,
    places: Option<Vec<Place>>,
    summary: ImportSummary,
    /// (ref, match-based id) of every finding the scan holds.
    seen: HashSet<(String, String)>,
    find: rusqlite::CachedStatement<'t>,
    inherited: rusqlite::CachedStatement<'t>,
    id_taken: rusqlite::CachedStatement<'t>,
    update_scan_data: rusqlite::CachedStatement<'t>,
    update_triage: rusqlite::CachedStatement<'t>,
    update_details: rusqlite::CachedStatement<'t>,
    insert: rusqlite::CachedStatement<'t>,
    /// `insert`, for a finding named by its id: nothing when the store
    /// holds the id or the match already.
    insert_by_id: rusqlite::CachedStatement<'t>,
    insert_details: rusqlite::CachedStatement<'t>,
    insert_activity: rusqlite::CachedStatement<'t>,
}

impl<'t> ScanWriter<'t> {
    /// `placing`: for scanner output, what places each of its `count`
    /// results among the known findings.
    fn new(
        tx: &'t Transaction<'t>,
        scan: &'t ScanResults,
        placing: Option<&[Placing<'_>]>,
        count: usize,
    ) -> Result<ScanWriter<'t>> {
        let project_id = project_id(tx, scan)?;
        if let Some(root) = &scan.source_root {
            super::assistant::set_source_root(tx, project_id, root)?;
        }
        let places = match placing {
            Some(placing) => Some(super::identity::place(
                tx,
                project_id,
                &scan.git_ref,
                placing,
            )?),
            None => None,
        };
        Ok(ScanWriter {
            tx,
            scan,
            count,
            project_id,
            places,
            summary: ImportSummary {
                origin: scan.origin.clone(),
                project: scan.project.clone(),
                git_ref: scan.git_ref.clone(),
                errors: scan.errors.len(),
                ..Default::default()
            },
            seen: HashSet::with_capacity(count),
            find: tx.prepare_cached(
                "SELECT id FROM findings WHERE project_id = ?1 AND ref = ?2 AND match_based_id = ?3",
            )?,
            inherited: tx.prepare_cached(
                "SELECT triage_state, triage_reason, triage_comment, triaged_at FROM findings
                 WHERE project_id = ?1 AND match_based_id = ?2
                   AND triage_state NOT IN ('untriaged', 'provisionally_ignored')
                 ORDER BY triaged_at DESC LIMIT 1",
            )?,
            id_taken: tx.prepare_cached("SELECT 1 FROM findings WHERE id = ?1")?,
            // Run only when what they set differs from what is stored.
            update_scan_data: tx.prepare_cached(concat!(
                "UPDATE findings SET rule_id = ?2, message = ?3, severity = ?4, path = ?5, line = ?6,
                    state = ?7, verdict = COALESCE(?8, verdict), component = COALESCE(?9, component),
                    risk = COALESCE(?10, risk), ",
                content_changed!(),
                " WHERE id = ?1"
            ))?,
            update_triage: tx.prepare_cached(concat!(
                "UPDATE findings SET triage_state = ?2, triage_reason = ?3, triage_comment = ?4,
                    triaged_at = ?5, relevant_since = ?6, ",
                triage_changed!(),
                " WHERE id = ?1"
            ))?,
            update_details: tx.prepare_cached(
                "UPDATE finding_details SET doc = ?2, code_start = COALESCE(?3, code_start),
                    code = COALESCE(?4, code)
                 WHERE finding_id = ?1",
            )?,
            insert: tx.prepare_cached(INSERT_FINDING)?,
            insert_by_id: tx.prepare_cached(&format!("{INSERT_FINDING} ON CONFLICT DO NOTHING"))?,
            insert_details: tx.prepare_cached(
                "INSERT INTO finding_details (finding_id, doc, code_start, code) VALUES (?1, ?2, ?3, ?4)",
            )?,
            insert_activity: tx.prepare_cached(
                "INSERT INTO activity (finding_id, at, actor, action, note) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
        })
    }

    /// Stores the scan's `i`th finding, `identity` what identifies it;
    /// `prepared` its details, when worked out beforehand.
    fn write(
        &mut self,
        i: usize,
        f: &Finding,
        identity: Option<&crate::domain::Identity>,
        prepared: Option<&Details>,
        rules: &mut RulesWritten,
    ) -> Result<()> {
        let (tx, scan, project_id) = (self.tx, self.scan, self.project_id);
        // A platform record names its own ref (a pulled page's group holds
        // many); a scanner's results take the scan's.
        let git_ref = if f.git_ref.is_empty() && scan.source == ScanSource::Scanner {
            &scan.git_ref
        } else {
            &f.git_ref
        };
        // A platform record names its finding by id: one the store holds
        // under that id (a pull after decisions) is read once and merged;
        // one it does not hold yet (all of a first pull) goes in without
        // being looked up by its match.
        let named_by_id = self.places.is_none() && scan.source == ScanSource::Platform && f.id > 0;
        let held = match named_by_id {
            true => StoredRow::read(tx, f.id)?.filter(|s| {
                s.project_id == project_id
                    && s.git_ref == *git_ref
                    && s.match_based_id == f.match_based_id
            }),
            false => None,
        };
        let by_id = named_by_id && held.is_none();
        let (existing, mbid) = match self.places.as_ref().and_then(|p| p.get(i)) {
            Some(Place::Repeat) => return Ok(()),
            Some(Place::Existing(id)) => (Some(*id), None),
            Some(Place::New(mbid)) => (None, Some(mbid.clone())),
            None if held.is_some() => (Some(f.id), None),
            None if by_id => (None, None),
            None => {
                let existing: Option<i64> = self
                    .find
                    .query_row(params![project_id, git_ref, f.match_based_id], |r| r.get(0))
                    .optional()?;
                (existing, Some(f.match_based_id.clone()))
            }
        };
        let rule_id = rule_id(tx, f, rules)?;
        // The details, as worked out beforehand or here.
        let details = || -> Result<std::borrow::Cow<'_, Details>> {
            Ok(match prepared {
                Some(d) => std::borrow::Cow::Borrowed(d),
                None => std::borrow::Cow::Owned(Details::of(f)?),
            })
        };
        let verdict = f.verdict().map(|v| v.as_str());
        let component = f.assistant.as_ref().and_then(|a| a.component.as_ref());
        let (component, risk) = (
            component.map(|c| c.tag.as_str()),
            component.and_then(|c| c.risk).map(|r| r.as_str()),
        );
        let evidence = identity.map(|id| id.evidence).unwrap_or(Evidence {
            line: f.location.line,
            column: f.location.column,
            ..Evidence::default()
        });
        let (existing, mbid) = if by_id {
            if insert_under_id(
                &mut self.insert_by_id,
                &NewFinding::of(f),
                project_id,
                git_ref,
                rule_id,
            )? == 1
            {
                let d = details()?;
                self.insert_details
                    .execute(params![f.id, d.doc, d.code_start, d.code])?;
                super::identity::save_evidence(tx, f.id, &evidence)?;
                for a in &f.activity {
                    self.insert_activity.execute(params![
                        f.id,
                        timestamp::format(a.at),
                        a.actor,
                        a.action,
                        a.note
                    ])?;
                }
                self.seen
                    .insert((git_ref.clone(), f.match_based_id.clone()));
                self.summary.new += 1;
                return Ok(());
            }
            // Held already, or its id is another finding's: merged below.
            let existing: Option<i64> = self
                .find
                .query_row(params![project_id, git_ref, f.match_based_id], |r| r.get(0))
                .optional()?;
            (existing, Some(f.match_based_id.clone()))
        } else {
            (existing, mbid)
        };
        if let Some(id) = existing {
            // A known finding keeps its identity; the rest is the scan's.
            let stored = match held {
                Some(stored) => stored,
                None => StoredRow::read(tx, id)?.context("a finding went missing during import")?,
            };
            let mbid = stored.match_based_id.clone();
            if !self.seen.insert((git_ref.clone(), mbid.clone())) {
                return Ok(()); // the same match twice in one scan is one finding
            }
            // Only what changed is written: a pull brings back many findings
            // the cache already holds as they are.
            let scan_data = ScanData {
                rule_id,
                message: f.message.clone(),
                severity: f.severity.as_str().to_string(),
                path: f.location.path.clone(),
                line: f.location.line,
                state: f.state.as_str().to_string(),
                verdict: verdict
                    .map(str::to_string)
                    .or(stored.scan_data.verdict.clone()),
                component: component
                    .map(str::to_string)
                    .or(stored.scan_data.component.clone()),
                risk: risk.map(str::to_string).or(stored.scan_data.risk.clone()),
            };
            let mut changed = scan_data != stored.scan_data;
            if scan_data != stored.scan_data {
                self.update_scan_data.execute(params![
                    id,
                    rule_id,
                    f.message,
                    f.severity.as_str(),
                    f.location.path,
                    f.location.line,
                    f.state.as_str(),
                    verdict,
                    component,
                    risk,
                ])?;
            }
            // A scanner's result is dated by its import: a finding seen
            // before keeps the dates it was first seen with, so that a
            // rescan that changes nothing writes nothing (and gives no
            // finding a new change number for every client to pull).
            let first_seen = match scan.source {
                ScanSource::Scanner => stored.doc.as_deref().and_then(FirstSeen::read),
                ScanSource::Platform => None,
            };
            let d = match first_seen {
                Some(seen) => {
                    let mut again = f.clone();
                    again.created_at = seen.created_at;
                    again.relevant_since = seen.relevant_since;
                    std::borrow::Cow::Owned(Details::of(&again)?)
                }
                None => details()?,
            };
            let details_same = stored.doc.as_deref() == Some(d.doc.as_str())
                && d.code_start.is_none_or(|c| stored.code_start == Some(c))
                && d.code
                    .as_ref()
                    .is_none_or(|c| stored.code.as_ref() == Some(c));
            if !details_same {
                self.update_details
                    .execute(params![id, d.doc, d.code_start, d.code])?;
            }
            if stored.evidence != Some(evidence) {
                super::identity::save_evidence(tx, id, &evidence)?;
            }
            changed |= !details_same || stored.evidence != Some(evidence);
            if scan.source == ScanSource::Platform {
                let triage = Triage {
                    state: f.triage_state.as_str().to_string(),
                    reason: f.triage_reason.map(|r| r.as_str().to_string()),
                    comment: f.triage_comment.clone(),
                    at: f.triaged_at.map(timestamp::format),
                    relevant_since: f.relevant_since.unix_timestamp(),
                };
                if triage != stored.triage {
                    self.update_triage.execute(params![
                        id,
                        triage.state,
                        triage.reason,
                        triage.comment,
                        triage.at,
                        triage.relevant_since
                    ])?;
                    changed = true;
                }
            }
            if changed {
                self.summary.updated += 1;
            } else {
                self.summary.unchanged += 1;
            }
            return Ok(());
        }
        let mbid = mbid.unwrap_or_else(|| f.match_based_id.clone());
        if !self.seen.insert((git_ref.clone(), mbid.clone())) {
            return Ok(()); // the same match twice in one scan is one finding
        }
        let d = details()?;
        let mut triage = (
            f.triage_state.as_str().to_string(),
            f.triage_reason.map(|r| r.as_str().to_string()),
            f.triage_comment.clone(),
            f.triaged_at.map(timestamp::format),
        );
        if scan.source == ScanSource::Scanner {
            // A finding seen on another ref keeps the decision made there.
            if let Some(t) = self
                .inherited
                .query_row(params![project_id, mbid], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?
            {
                triage = t;
            }
        }
        let wanted = (f.id > 0 && !self.id_taken.exists([f.id])?).then_some(f.id);
        self.insert.execute(params![
            wanted,
            project_id,
            git_ref,
            mbid,
            rule_id,
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
            component,
            risk,
        ])?;
        let id = tx.last_insert_rowid();
        self.insert_details
            .execute(params![id, d.doc, d.code_start, d.code])?;
        super::identity::save_evidence(tx, id, &evidence)?;
        for a in &f.activity {
            self.insert_activity.execute(params![
                id,
                timestamp::format(a.at),
                a.actor,
                a.action,
                a.note
            ])?;
        }
        self.summary.new += 1;
        Ok(())
    }

    /// Marks fixed what a scanner's scan no longer reports, and records the
    /// scan.
    fn finish(mut self, now: OffsetDateTime) -> Result<ImportSummary> {
        let (tx, scan, project_id) = (self.tx, self.scan, self.project_id);
        if scan.source == ScanSource::Scanner && scan.failed().is_none() {
            // What the newer scan no longer reports has been fixed, unless
            // the scanner said it could not read the file.
            let in_error = scan.files_in_error();
            let gone: Vec<i64> = tx
                .prepare_cached(
                    "SELECT id, match_based_id, path FROM findings
                     WHERE project_id = ?1 AND ref = ?2 AND state != 'fixed'",
                )?
                .query_map(params![project_id, scan.git_ref], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|(_, mbid, _)| !self.seen.contains(&(scan.git_ref.clone(), mbid.clone())))
                .filter(|(_, _, path)| !in_error.contains(path.as_str()))
                .map(|(id, _, _)| id)
                .collect();
            let mut fix = tx.prepare_cached(concat!(
                "UPDATE findings SET state = 'fixed', ",
                content_changed!(),
                " WHERE id = ?1"
            ))?;
            for id in &gone {
                fix.execute([id])?;
                self.insert_activity.execute(params![
                    id,
                    timestamp::format(now),
                    "scan",
                    "fixed: no longer reported",
                    scan.origin
                ])?;
            }
            self.summary.fixed = gone.len();
        }
        record_scan(
            tx,
            project_id,
            &scan.git_ref,
            &scan.origin,
            now,
            self.count,
            scan.errors.len(),
        )?;
        Ok(self.summary)
    }
}

/// Records a scan of `count` findings (or a pulled page's findings of one
/// project) and its `errors`.
fn record_scan(
    tx: &Transaction,
    project_id: i64,
    git_ref: &str,
    origin: &str,
    now: OffsetDateTime,
    count: usize,
    errors: usize,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO scans (project_id, ref, origin, imported_at, findings, errors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        project_id,
        git_ref,
        origin,
        timestamp::format(now),
        count,
        errors
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageChange, TriageState};

    #[test]
    fn a_findings_copies_are_looked_up_by_the_identity_index() {
        let store = Store::in_memory().unwrap();
        for sql in [OTHER_REFS, COPIES_ON_OTHER_REFS] {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = stmt
                .query_map(["[1]"], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                plan.contains("findings_identity (project_id=? AND match_based_id=?)"),
                "{plan}"
            );
        }
    }

    /// Each row with its strings, as the list shows it.
    fn shown(index: &FindingIndex) -> Vec<String> {
        index
            .rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}:{} {} {} {:?} {:?} {:?} {:?} {} {:?} {:?} {}",
                    r.id,
                    index.projects.get(r.project),
                    index.rules.get(r.rule),
                    index.paths.get(r.path),
                    r.line,
                    index.messages.get(r.message),
                    index.refs.get(r.git_ref),
                    r.severity,
                    r.status,
                    r.triage_state,
                    r.verdict,
                    index.components.get(r.component),
                    r.risk,
                    r.lifecycle,
                    r.pending,
                )
            })
            .collect()
    }

    fn seeded(dir: &Path, n: usize) -> Store {
        let mut store = Store::open(dir).unwrap();
        crate::demo::seed(&mut store, Some(n), OffsetDateTime::UNIX_EPOCH).unwrap();
        store
    }

    /// Writes the snapshot of the store as it is now.
    fn snapshot(store: &Store) -> FindingIndex {
        let names = store.index_names().unwrap();
        let (index, mark) = store.build_index(&names).unwrap();
        let file = store.snapshot_file().unwrap();
        store.save_snapshot(&file, &index, &names, mark);
        assert!(file.exists());
        index
    }

    fn from_every_row(store: &Store) -> FindingIndex {
        store.build_index(&store.index_names().unwrap()).unwrap().0
    }

    fn reviewing() -> TriageChange {
        TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: None,
        }
    }

    #[test]
    fn a_snapshot_brought_up_to_date_lists_what_the_rows_hold() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = seeded(dir.path(), 300);
        let before = snapshot(&store);
        let ids: Vec<i64> = before.rows.iter().map(|r| r.id).take(3).collect();
        let at = OffsetDateTime::UNIX_EPOCH;
        crate::demo::seed(&mut store, Some(330), at).unwrap();
        store
            .apply_triage(&[ids[0]], &reviewing(), "ana", at, None)
            .unwrap();
        store.record(&[(ids[1], reviewing())], "ana").unwrap();

        let file = store.snapshot_file().unwrap();
        let (stamp, kept) = index_snapshot::read(&file).unwrap();
        let names = store.index_names().unwrap();
        let loaded = store
            .index_since(&file, &names, stamp, kept)
            .unwrap()
            .expect("the snapshot is brought up to date, not rebuilt");
        assert_eq!(shown(&loaded), shown(&from_every_row(&store)));
        assert_eq!(shown(&store.load_index().unwrap()), shown(&loaded));
        assert!(loaded.len() > before.len(), "new findings are listed");
        let row = |id| loaded.rows[loaded.position_of(id).unwrap()];
        assert_eq!(row(ids[0]).triage_state, TriageState::Reviewing);
        assert!(row(ids[1]).pending);
    }

    #[test]
    fn a_decision_that_left_the_outbox_shows_as_the_store_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(dir.path(), 200);
        let id = from_every_row(&store).rows[5].id;
        let outbox = store.record(&[(id, reviewing())], "ana").unwrap();
        let before = snapshot(&store);
        assert!(before.rows[before.position_of(id).unwrap()].pending);
        // Settled without the finding's row changing: no change number moves.
        store.acknowledge(&outbox).unwrap();

        let loaded = store.load_index().unwrap();
        assert_eq!(shown(&loaded), shown(&from_every_row(&store)));
        assert!(!loaded.rows[loaded.position_of(id).unwrap()].pending);
    }

    #[test]
    fn a_snapshot_of_another_store_or_a_damaged_one_is_not_used() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = seeded(a.path(), 120);
        snapshot(&first);
        let second = seeded(b.path(), 150);
        let file = second.snapshot_file().unwrap();
        std::fs::copy(first.snapshot_file().unwrap(), &file).unwrap();
        let names = second.index_names().unwrap();
        let (stamp, copied) = index_snapshot::read(&file).unwrap();
        assert!(
            second
                .index_since(&file, &names, stamp, copied)
                .unwrap()
                .is_none(),
            "another store's snapshot is refused"
        );
        assert_eq!(
            shown(&second.load_index().unwrap()),
            shown(&from_every_row(&second))
        );
        std::fs::write(&file, b"SIFTIDX\0").unwrap();
        assert_eq!(
            shown(&second.load_index().unwrap()),
            shown(&from_every_row(&second))
        );
    }

    #[test]
    fn a_stored_findings_row_is_read_in_its_document_as_the_domain_way_reads_it() {
        // Documents with every column the row takes from them, beside
        // those of every shape.
        let columns = [
            r#"{"id": 1, "severity": "HIGH", "location": {"file_path": "a/\u001b.py", "line": 7, "column": 3},
                "state": "fixed", "triage_state": "ignored", "repository": {"url": "https://x.example"},
                "created_at": "2026-01-02T03:04:05Z", "relevant_since": "2026-02-03T04:05:06.123456Z",
                "assistant": {"autotriage": {"verdict": "false_positive"}, "component": {"tag": "db", "risk": "low"}}}"#,
            r#"{"id": 2, "severity": "bogus", "state": "bogus", "triage_state": "reviewing",
                "created_at": "2026-01-02T03:04:05Z", "relevant_since": "bogus",
                "assistant": {"autotriage": {"verdict": "bogus"}, "component": {"tag": "db", "risk": "bogus"}}}"#,
            r#"{"id": 3, "created_at": "bogus", "location": {"line": null, "column": 4}}"#,
        ];
        // The row's own columns: taken, or left to the document.
        let rows = [
            r#""url": "https://row.example", "state": "unresolved", "triage_state": "reviewing",
                "triage_reason": "false_positive", "triage_comment": "\u009b", "triaged_at": "2026-03-01T00:00:00Z""#,
            r#""state": "bogus", "triage_state": "bogus", "triage_reason": "bogus", "triaged_at": "bogus""#,
            r#""state": "", "triage_state": "", "triage_reason": null, "triaged_at": null"#,
        ];
        let mut read_in_place = 0;
        for doc in columns
            .into_iter()
            .chain(super::super::listed::tests::DOCUMENTS)
        {
            let doc_json = serde_json::to_string(doc).unwrap();
            for columns in rows {
                let row: v1::StoredRow = serde_json::from_str(&format!(
                    r#"{{"id": 9, "project": "p", "ref": "main", "match_based_id": "m",
                        "rule": "r", "message": "msg", {columns},
                        "doc": {doc}}}"#,
                    doc = if serde_json::from_str::<&RawValue>(doc).is_ok() {
                        doc
                    } else {
                        &doc_json
                    },
                ))
                .unwrap();
                let rule = v1::Rule {
                    name: row.rule.clone(),
                    ..v1::Rule::default()
                };
                let whole = detail_row(&row, false).put_together(row.id, rule);
                match DocColumns::read(row.doc.get()) {
                    Some(read) => {
                        let whole = whole.expect("a document read in place is a finding");
                        assert_eq!(
                            NewFinding::stored(&row, &read),
                            NewFinding::of(&whole),
                            "{doc} {columns}"
                        );
                        read_in_place += 1;
                    }
                    None => assert!(whole.is_err(), "{doc} is a finding"),
                }
            }
        }
        assert_eq!(read_in_place, 3 * (3 + 10));
    }
}

/// The import of pulled pages.
#[cfg(test)]
pub(crate) mod pull_tests {
    use super::*;
    use crate::domain::TriageChange;
    use crate::wire::v1::FindingsPage;

    /// `pulled`, as the pulling side hands it to the writer.
    pub(super) fn pulled_page(json: &str) -> PulledPage {
        PulledPage::findings(pulled(json)).unwrap()
    }

    /// A decision by ana on `ids`, applied as the backend applies it.
    pub(super) fn decide(store: &mut Store, ids: &[i64], state: TriageState) {
        let change = TriageChange {
            state: Some(state),
            reason: None,
            note: None,
        };
        store
            .apply_triage(ids, &change, "ana", OffsetDateTime::now_utc(), None)
            .unwrap();
    }

    /// Platform records as a pull brings them, one scan of acme/web main.
    pub(crate) fn pulled(json: &str) -> Vec<ScanResults> {
        let page: FindingsPage = serde_json::from_str(json).unwrap();
        let findings = page
            .findings
            .into_iter()
            .map(|f| f.into_domain(OffsetDateTime::UNIX_EPOCH))
            .collect();
        vec![ScanResults::platform(
            "http://127.0.0.1:8321",
            "acme/web",
            None,
            "main",
            findings,
        )]
    }

    const PAGE: &str = r#"{"findings": [
      {"id": 1, "ref": "main", "match_based_id": "m_1", "repository": {"name": "acme/web"},
       "rule": {"name": "r", "message": "m"}, "location": {"file_path": "a.py", "line": 3}},
      {"id": 2, "ref": "main", "match_based_id": "m_2", "repository": {"name": "acme/web"},
       "rule": {"name": "r", "message": "m"}, "location": {"file_path": "b.py", "line": 5}}
    ]}"#;

    /// Rows written to the findings, their details and their evidence from
    /// now on, counted by temporary triggers on this connection.
    fn count_writes(store: &Store) {
        store
            .conn
            .execute_batch(
                "CREATE TEMP TABLE writes (tbl TEXT);
                 CREATE TEMP TRIGGER w_findings AFTER UPDATE ON main.findings
                 BEGIN INSERT INTO writes VALUES ('findings'); END;
                 CREATE TEMP TRIGGER w_details AFTER UPDATE ON main.finding_details
                 BEGIN INSERT INTO writes VALUES ('details'); END;
                 CREATE TEMP TRIGGER w_evidence AFTER UPDATE ON main.finding_evidence
                 BEGIN INSERT INTO writes VALUES ('evidence'); END;",
            )
            .unwrap();
    }

    fn writes(store: &Store, table: &str) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM writes WHERE tbl = ?1", [table], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn a_pull_that_brings_what_the_cache_holds_writes_nothing() {
        let mut store = Store::in_memory().unwrap();
        store.import(&pulled(PAGE)).unwrap();
        count_writes(&store);
        store.import(&pulled(PAGE)).unwrap();
        for table in ["findings", "details", "evidence"] {
            assert_eq!(writes(&store, table), 0, "{table}");
        }
    }

    #[test]
    fn a_decision_brought_back_rewrites_its_row_only() {
        let mut store = Store::in_memory().unwrap();
        store.import(&pulled(PAGE)).unwrap();
        decide(&mut store, &[1], TriageState::Ignored);
        count_writes(&store);
        // The backend's copy of the decision: its own time.
        let decided = PAGE.replacen(
            r#""id": 1, "ref": "main","#,
            r#""id": 1, "ref": "main", "triage_state": "ignored",
               "triaged_at": "2026-03-01T10:00:00Z","#,
            1,
        );
        store.import(&pulled(&decided)).unwrap();
        assert_eq!(writes(&store, "details"), 0);
        assert_eq!(writes(&store, "evidence"), 0);
        // The triage columns of finding 1, and its change number.
        assert!(writes(&store, "findings") >= 1);
        let f = store.load_finding(1).unwrap().unwrap();
        assert_eq!(f.triage_state, TriageState::Ignored);
        assert_eq!(
            f.triaged_at.map(timestamp::format).as_deref(),
            Some("2026-03-01T10:00:00.000000Z")
        );
        let other = store.load_finding(2).unwrap().unwrap();
        assert_eq!(other.triage_state, TriageState::Untriaged);
    }

    #[test]
    fn pulled_pages_are_kept_only_at_their_end() {
        let mut store = Store::in_memory().unwrap();
        let version = store.findings_version().unwrap();
        // The pull stopped after its first page: nothing of it stays.
        let kept = store.import_pulled([pulled_page(PAGE)], |_| {}).unwrap();
        assert_eq!(kept, None);
        assert_eq!(store.count_findings().unwrap(), 0);
        assert_eq!(store.findings_version().unwrap(), version);
        // Nothing came: nothing to keep, no transaction.
        assert_eq!(store.import_pulled([], |_| {}).unwrap(), None);
        assert_eq!(
            store.import_pulled([PulledPage::End], |_| {}).unwrap(),
            Some(PullKept::default())
        );
        // Every page and the end: all of them, as one change.
        let second = PAGE.replace("m_1", "m_3").replace("\"id\": 1", "\"id\": 3");
        let kept = store
            .import_pulled(
                [pulled_page(PAGE), pulled_page(&second), PulledPage::End],
                |_| {},
            )
            .unwrap();
        assert_eq!(kept.map(|k| k.pages), Some(2));
        assert_eq!(store.count_findings().unwrap(), 3);
        assert_eq!(store.findings_version().unwrap(), version + 1);
    }

    #[test]
    fn a_long_pull_lets_other_writers_in_between_its_pages() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let other = Store::open(dir.path()).unwrap();
        let second = PAGE.replace("m_1", "m_3").replace("\"id\": 1", "\"id\": 3");
        let mut pages = vec![pulled_page(PAGE), pulled_page(&second)].into_iter();
        // While the third page is on its way, the first is committed: the
        // write lock was let go between them.
        let mut seen_meanwhile = None;
        let fetch = std::iter::from_fn(|| match pages.next() {
            Some(page) => Some(page),
            None => {
                seen_meanwhile = Some(other.count_findings().unwrap());
                None
            }
        });
        let kept = store
            .import_pulled_holding(fetch, |_| {}, std::time::Duration::ZERO)
            .unwrap();
        assert_eq!(kept, None, "the pull stopped before its end");
        assert_eq!(seen_meanwhile, Some(2), "the first page was committed");
        // What was committed stays; the caller keeps its cursor and asks
        // again, and storing the pages again changes nothing.
        assert_eq!(store.count_findings().unwrap(), 2);
        let kept = store
            .import_pulled(
                [pulled_page(PAGE), pulled_page(&second), PulledPage::End],
                |_| {},
            )
            .unwrap();
        assert_eq!(kept.map(|k| k.pages), Some(2));
        assert_eq!(store.count_findings().unwrap(), 3);
    }
}

/// A pull's marks and the import of findings named by id.
#[cfg(test)]
mod pull_mark_tests {
    use super::pull_tests::{decide, pulled, pulled_page};
    use super::*;
    use crate::domain::TriageChange;

    fn page(ids: &[i64], state: &str) -> String {
        let findings: Vec<String> = ids
            .iter()
            .map(|id| {
                format!(
                    r#"{{"id": {id}, "ref": "main", "match_based_id": "m_{id}",
                    "repository": {{"name": "acme/web"}}, "triage_state": "{state}",
                    "rule": {{"name": "r", "message": "m"}},
                    "location": {{"file_path": "f{id}.py", "line": {id}}}}}"#
                )
            })
            .collect();
        format!(r#"{{"findings": [{}]}}"#, findings.join(","))
    }

    #[test]
    fn each_commit_hands_back_the_last_mark_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let mut marks = Vec::new();
        // Committing at every page: the mark after each page is kept with
        // it; the pull then stops before its end.
        let kept = store
            .import_pulled_holding(
                [
                    pulled_page(&page(&[1, 2], "untriaged")),
                    PulledPage::Mark("s.2".into()),
                    pulled_page(&page(&[3], "untriaged")),
                    PulledPage::Mark("s.3".into()),
                    pulled_page(&page(&[4], "untriaged")),
                ],
                |m| marks.push(m.to_string()),
                std::time::Duration::ZERO,
            )
            .unwrap();
        assert_eq!(kept, None, "the pull stopped");
        assert_eq!(marks, ["s.2", "s.3"], "the last page was not committed");
        assert_eq!(store.count_findings().unwrap(), 3);

        // To its end: the last mark comes with the last commit.
        marks.clear();
        let kept = store
            .import_pulled(
                [
                    pulled_page(&page(&[4], "untriaged")),
                    PulledPage::Mark("s.4".into()),
                    PulledPage::End,
                ],
                |m| marks.push(m.to_string()),
            )
            .unwrap();
        assert_eq!(kept.map(|k| k.pages), Some(1));
        assert_eq!(marks, ["s.4"]);
        assert_eq!(store.count_findings().unwrap(), 4);
    }

    /// Each finding's change number.
    fn change_numbers(store: &Store) -> Vec<(i64, i64)> {
        let mut stmt = store
            .conn
            .prepare("SELECT id, change_seq FROM findings ORDER BY id")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.collect::<rusqlite::Result<_>>().unwrap()
    }

    /// The triage `sift serve` sends apart for the finding of
    /// `match_based_id` on acme/web main, which it names `wire_id`.
    fn triaged(wire_id: i64, match_based_id: &str, state: &str) -> v1::TriagedFinding {
        v1::TriagedFinding {
            id: wire_id,
            repository: v1::Repository {
                name: "acme/web".into(),
                url: None,
            },
            git_ref: "main".into(),
            match_based_id: match_based_id.into(),
            triage_state: state.into(),
            triage_reason: None,
            triage_comment: None,
            triaged_at: Some("2026-03-01T10:00:00Z".into()),
            relevant_since: "1970-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn triage_alone_lands_on_its_finding_by_id_or_by_identity_and_only_where_it_differs() {
        let mut store = Store::in_memory().unwrap();
        store
            .import(&pulled(&page(&[1, 2, 3], "untriaged")))
            .unwrap();
        let before = change_numbers(&store);
        let records = vec![
            triaged(1, "m_1", "reviewing"),
            // Held under another id (a cache that took it so): found by
            // its identity.
            triaged(77, "m_2", "fixing"),
            // As stored: nothing to write.
            v1::TriagedFinding {
                triaged_at: None,
                ..triaged(3, "m_3", "untriaged")
            },
            // Not held at all.
            triaged(4, "m_4", "reviewing"),
        ];
        let kept = store
            .import_pulled(
                [PulledPage::triaged(records).unwrap(), PulledPage::End],
                |_| {},
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            kept,
            PullKept {
                pages: 1,
                unheld: 1
            }
        );
        let state = |id| store.load_finding(id).unwrap().unwrap().triage_state;
        assert_eq!(state(1), TriageState::Reviewing);
        assert_eq!(state(2), TriageState::Fixing);
        assert_eq!(
            change_numbers(&store)[2],
            before[2],
            "finding 3 did not change"
        );
        assert_eq!(store.count_findings().unwrap(), 3);
    }

    /// Finding `id`'s change number and where its content last changed.
    fn content_seq(store: &Store, id: i64) -> (i64, i64) {
        store
            .conn
            .query_row(
                "SELECT change_seq, content_seq FROM findings WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    }

    #[test]
    fn a_decision_keeps_where_the_content_last_changed_and_a_content_change_says_it_is_new() {
        let mut store = Store::in_memory().unwrap();
        store.import(&pulled(&page(&[1, 2], "untriaged"))).unwrap();
        let (added, content) = content_seq(&store, 1);
        assert_eq!(content, 0, "its last change was to its content");

        decide(&mut store, &[1], TriageState::Reviewing);
        decide(&mut store, &[1], TriageState::Fixing);
        let (decided, content) = content_seq(&store, 1);
        assert!(decided > added);
        assert_eq!(content, added, "decisions keep where the content changed");

        // An Assistant's answer (by the trigger), new details, or a scan's
        // change are content.
        store
            .conn
            .execute_batch(
                "INSERT INTO ai_answers (key, kind, answer, provider, model, prompt_version,
                    memories, input_tokens, output_tokens, at)
                 VALUES ('k', 'fix', '{}', 'p', 'm', 1, '[]', 1, 1, '2026-01-01T00:00:00Z');
                 INSERT INTO ai_findings (finding_id, kind, key) VALUES (1, 'fix', 'k');",
            )
            .unwrap();
        let (fixed, content) = content_seq(&store, 1);
        assert!(fixed > decided);
        assert_eq!(content, 0);
        decide(&mut store, &[1], TriageState::Reviewing);
        assert_eq!(content_seq(&store, 1).1, fixed);

        decide(&mut store, &[2], TriageState::Reviewing);
        store
            .conn
            .execute(
                "UPDATE finding_details SET code = 'x' WHERE finding_id = 2",
                [],
            )
            .unwrap();
        assert_eq!(content_seq(&store, 2).1, 0);
        decide(&mut store, &[2], TriageState::Fixing);
        let (before, _) = content_seq(&store, 2);
        // The pull moves it and brings its triage back as it was sent:
        // its content changed after the decision.
        let moved = page(&[2], "fixing").replace("f2.py", "moved.py");
        store.import(&pulled(&moved)).unwrap();
        let (after, content) = content_seq(&store, 2);
        assert!(
            content > before && content < after,
            "{before} {content} {after}"
        );
    }

    #[test]
    fn every_change_to_a_row_takes_a_change_number_of_its_own() {
        let mut store = Store::in_memory().unwrap();
        store
            .import(&pulled(&page(&[1, 2, 3, 4], "untriaged")))
            .unwrap();
        let before = change_numbers(&store);
        let head = before.iter().map(|(_, seq)| *seq).max().unwrap();
        let mut seqs: Vec<i64> = before.iter().map(|(_, seq)| *seq).collect();
        seqs.dedup();
        assert_eq!(seqs.len(), 4, "one number for each new row: {before:?}");

        // A pull that brings two decisions back, a decision made here and
        // a pull that changes nothing.
        store.import(&pulled(&page(&[1, 2], "reviewing"))).unwrap();
        decide(&mut store, &[4], TriageState::Fixing);
        store.import(&pulled(&page(&[1, 2], "reviewing"))).unwrap();
        let after = change_numbers(&store);
        assert_eq!(after[2], before[2], "finding 3 did not change");
        let mut changed: Vec<i64> = [0, 1, 3].iter().map(|&i| after[i].1).collect();
        assert!(changed.iter().all(|&seq| seq > head), "{after:?}");
        changed.sort();
        changed.dedup();
        assert_eq!(changed.len(), 3, "one number each: {after:?}");
    }

    #[test]
    fn a_pulled_project_keeps_each_findings_ref() {
        let mut store = Store::in_memory().unwrap();
        let mut scans = pulled(&page(&[1, 2], "untriaged"));
        scans[0].findings[1].git_ref = "refs/pull/7/merge".into();
        store.import(&scans).unwrap();
        let refs: Vec<String> = store
            .load_findings(&[1, 2])
            .unwrap()
            .into_iter()
            .map(|f| f.git_ref)
            .collect();
        assert_eq!(refs, ["main", "refs/pull/7/merge"]);
        // Brought back, each is merged on its own ref.
        let mut again = pulled(&page(&[1, 2], "reviewing"));
        again[0].findings[1].git_ref = "refs/pull/7/merge".into();
        let summary = store.import(&again).unwrap();
        assert_eq!((summary[0].new, summary[0].updated), (0, 2));
        assert_eq!(store.count_findings().unwrap(), 2);
    }

    #[test]
    fn findings_named_by_id_are_stored_as_the_merge_stores_them() {
        // The same findings, into an empty store (inserted by id) and into
        // one that held each of them before (merged): the same rows.
        let ids: Vec<i64> = (1..=6).collect();
        let mut fresh = Store::in_memory().unwrap();
        fresh.import(&pulled(&page(&ids, "reviewing"))).unwrap();
        let mut merged = Store::in_memory().unwrap();
        merged.import(&pulled(&page(&ids, "untriaged"))).unwrap();
        merged.import(&pulled(&page(&ids, "reviewing"))).unwrap();
        let (a, b) = (
            fresh.load_findings(&ids).unwrap(),
            merged.load_findings(&ids).unwrap(),
        );
        assert_eq!(a.len(), 6);
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.triage_state, TriageState::Reviewing);
            assert_eq!(
                serde_json::to_value(v1::Finding::from_domain(a)).unwrap(),
                serde_json::to_value(v1::Finding::from_domain(b)).unwrap()
            );
        }
    }

    #[test]
    fn a_finding_whose_id_or_match_the_store_holds_is_merged_not_inserted() {
        let mut store = Store::in_memory().unwrap();
        store.import(&pulled(&page(&[1, 2], "untriaged"))).unwrap();
        // A local decision waits in the outbox on finding 2.
        let change = TriageChange {
            state: Some(TriageState::Ignored),
            reason: None,
            note: None,
        };
        store.record(&[(2, change)], "ana").unwrap();
        // Finding 2 again (decided by a colleague), a new finding 3, and a
        // finding under id 1 that is another match (its id is taken).
        let other = page(&[1], "untriaged").replace("m_1", "m_9");
        let both = format!(
            r#"{{"findings": [{}, {}]}}"#,
            page(&[2, 3], "reviewing")
                .trim_start_matches(r#"{"findings": ["#)
                .trim_end_matches("]}"),
            other
                .trim_start_matches(r#"{"findings": ["#)
                .trim_end_matches("]}")
        );
        let summary = store.import(&pulled(&both)).unwrap();
        assert_eq!((summary[0].new, summary[0].updated), (2, 1));
        assert_eq!(store.count_findings().unwrap(), 4);
        let one = store.load_finding(1).unwrap().unwrap();
        assert_eq!(one.match_based_id, "m_1", "finding 1 kept its match");
        let moved = store.load_findings(&[4]).unwrap();
        assert_eq!(
            moved[0].match_based_id, "m_9",
            "the other match took a new id"
        );
        // The pending decision still shows over the colleague's.
        assert_eq!(store.pending_count().unwrap(), 1);
        let two = store.load_finding(2).unwrap().unwrap();
        assert_eq!(two.triage_state, TriageState::Ignored);
        assert_eq!(
            store.load_finding(3).unwrap().unwrap().triage_state,
            TriageState::Reviewing
        );
    }
}
