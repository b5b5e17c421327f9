//! A first pull's copy of `sift serve`'s findings (issue 16).
//!
//! Into a cache that holds no finding, a pull from `sift serve` takes a copy
//! of the server's finding tables as an SQLite file and moves them in whole
//! (SQLite's transfer of identical tables) instead of inserting 100,000
//! rows one at a time through five indexes. The file comes from the
//! network: it is checked as an untrusted database before anything reads
//! it as findings (SQLite's defensive mode, its schema compared object by
//! object with the cache's own, `integrity_check`), and every row is held
//! against what a page of the same finding would have stored. A copy that
//! fails any of it is not used: the pull takes pages.

use super::Store;
use super::findings::{NewFinding, StoredRule, import_scan};
use super::listed::DocColumns;
use crate::domain::{ScanState, TriageState};
use crate::wire::{timestamp, v1};
use anyhow::{Context, Result, bail, ensure};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::Path;
use time::OffsetDateTime;

/// The tables a copy holds, with their indexes, as the store's schema has
/// them.
const TABLES: [&str; 5] = [
    "projects",
    "rules",
    "findings",
    "finding_details",
    "finding_evidence",
];

/// The findings that sift's own Assistant's answers or decisions waiting
/// in the server's outbox lie over, one a row in the v1 shape: only that
/// shape says what they are (as on a page).
const OVERLAID_TABLE: &str = "CREATE TABLE overlaid (finding TEXT NOT NULL)";

/// Every table of a copy: the store's, and the overlaid findings'.
const COPY_TABLES: [&str; 6] = [
    TABLES[0], TABLES[1], TABLES[2], TABLES[3], TABLES[4], "overlaid",
];

/// The name a copy is attached under.
const COPY: &str = "copy";

/// How the files of copies begin, on either side: hidden, and told apart
/// from the store's own.
pub const COPY_FILE_PREFIX: &str = ".findings-copy-";

/// Removes the files of copies in `dir` older than `age`: those a process
/// killed while it wrote or read one left behind. What cannot be removed
/// is left, for the next time.
pub fn remove_stale_copies(dir: &Path, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_string_lossy()
            .starts_with(COPY_FILE_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at.elapsed().is_ok_and(|old| old >= age));
        if stale && let Err(e) = std::fs::remove_file(entry.path()) {
            tracing::warn!("cannot remove {}: {e}", entry.path().display());
        }
    }
}

/// Overlaid findings read at a time.
const OVERLAID_CHUNK: i64 = 500;

/// What a copy brought into the cache.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CopyKept {
    /// Findings moved in whole.
    pub copied: usize,
    /// Findings that came in the v1 shape.
    pub overlaid: usize,
}

/// One object of a schema, as `sqlite_schema` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SchemaObject {
    kind: String,
    name: String,
    table: String,
    sql: Option<String>,
}

/// Every object of `schema` (`main` or the copy) on `tables`, sorted.
fn schema_objects(conn: &Connection, schema: &str, tables: &[&str]) -> Result<Vec<SchemaObject>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT type, name, tbl_name, sql FROM {schema}.sqlite_schema
         WHERE tbl_name IN (SELECT value FROM json_each(?1))"
    ))?;
    let rows = stmt.query_map([serde_json::to_string(tables)?], |r| {
        Ok(SchemaObject {
            kind: r.get(0)?,
            name: r.get(1)?,
            table: r.get(2)?,
            sql: r.get(3)?,
        })
    })?;
    let mut objects = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    objects.sort();
    Ok(objects)
}

impl Store {
    /// What a copy's schema holds: the finding tables and their indexes as
    /// this store has them (no trigger), and the overlaid findings' table.
    fn copy_schema(&self) -> Result<Vec<SchemaObject>> {
        let mut objects: Vec<SchemaObject> = schema_objects(&self.conn, "main", &TABLES)?
            .into_iter()
            .filter(|o| o.kind == "table" || o.kind == "index")
            .collect();
        objects.push(SchemaObject {
            kind: "table".into(),
            name: "overlaid".into(),
            table: "overlaid".into(),
            sql: Some(OVERLAID_TABLE.into()),
        });
        objects.sort();
        Ok(objects)
    }

    /// Findings whose v1 shape says more than their rows: those sift's own
    /// Assistant answered and those with decisions in the outbox (every
    /// one `StoredFinding::is_overlaid` says is, and perhaps a few more).
    fn overlaid_ids(&self) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT finding_id FROM ai_findings
             UNION SELECT CAST(subject AS INTEGER) FROM changes WHERE kind = 'triage'",
        )?;
        let ids = stmt.query_map([], |r| r.get(0))?;
        Ok(ids.collect::<rusqlite::Result<_>>()?)
    }

    /// Writes a copy of every finding into `file` (new and empty), for a
    /// client's first pull: the finding tables as they are (the projects'
    /// source trees left out), the overlaid findings in the v1 shape
    /// instead. Where the store's changes stand (its id, the last change
    /// number), read with the copy.
    pub fn write_copy(&self, file: &Path) -> Result<(i64, i64)> {
        let schema = self.copy_schema()?;
        let _attached = Attached::new(&self.conn, file, false)?;
        // A scratch file: neither a journal nor a sync is worth its time.
        self.conn
            .pragma_update(Some(COPY), "page_size", super::PAGE_BYTES)?;
        self.conn.pragma_update(Some(COPY), "journal_mode", "OFF")?;
        self.conn.pragma_update(Some(COPY), "synchronous", "OFF")?;
        let tx = self.conn.unchecked_transaction()?;
        let head = self.change_head()?;
        // Tables before their indexes.
        for kind in ["table", "index"] {
            for object in schema.iter().filter(|o| o.kind == kind) {
                if let Some(sql) = &object.sql {
                    tx.execute_batch(&in_copy(sql, object)?)?;
                }
            }
        }
        for table in TABLES {
            tx.execute(
                &format!("INSERT INTO {COPY}.{table} SELECT * FROM main.{table}"),
                [],
            )?;
        }
        tx.execute(
            &format!("UPDATE {COPY}.projects SET source_root = NULL"),
            [],
        )?;
        let overlaid = self.overlaid_ids()?;
        if !overlaid.is_empty() {
            let ids = serde_json::to_string(&overlaid)?;
            for (table, key) in [
                ("findings", "id"),
                ("finding_details", "finding_id"),
                ("finding_evidence", "finding_id"),
            ] {
                tx.execute(
                    &format!(
                        "DELETE FROM {COPY}.{table} WHERE {key} IN (SELECT value FROM json_each(?1))"
                    ),
                    [&ids],
                )?;
            }
            let mut insert = tx.prepare(&format!(
                "INSERT INTO {COPY}.overlaid (finding) VALUES (?1)"
            ))?;
            self.render_stored(
                &overlaid,
                false,
                |finding, out| {
                    finding.write_v1_fields(out)?;
                    out.push(b'}');
                    Ok(())
                },
                |chunk| {
                    for finding in chunk.findings() {
                        insert.execute([std::str::from_utf8(finding)?])?;
                    }
                    Ok(())
                },
            )?;
        }
        // Rules and projects that no finding names stay behind, as they do
        // from pages.
        tx.execute(
            &format!(
                "DELETE FROM {COPY}.rules WHERE id NOT IN (SELECT rule_id FROM main.findings)"
            ),
            [],
        )?;
        tx.execute(
            &format!(
                "DELETE FROM {COPY}.projects WHERE id NOT IN (SELECT project_id FROM main.findings)"
            ),
            [],
        )?;
        tx.commit()?;
        Ok(head)
    }

    /// Moves the findings of a copy `file` (`write_copy`, from the
    /// network) into this store, when it holds no finding: checked first
    /// (see the module's comment), then its tables moved in whole, its
    /// overlaid findings stored as a page's, all in one transaction. None
    /// when the store holds findings; an error when the copy is refused.
    pub fn import_copy(&mut self, file: &Path, origin: &str) -> Result<Option<CopyKept>> {
        if self.count_findings()? > 0 {
            return Ok(None);
        }
        let expected = self.copy_schema()?;
        let checked = check_copy(file, &expected)?;
        let _cache = self.write_cache()?;
        let checkpoints = self.background_checkpoints()?;
        let attached = Attached::new(&self.conn, file, true)?;
        // The file checked is the file attached.
        ensure!(
            schema_objects(&self.conn, COPY, &COPY_TABLES)? == expected,
            "the copy changed while it was read"
        );
        let tx = self.write_tx()?;
        // Another process may have pulled meanwhile.
        let held: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM main.findings)", [], |r| {
            r.get(0)
        })?;
        if held {
            return Ok(None);
        }
        tx.execute(
            &format!(
                "INSERT INTO main.projects (id, name, url, primary_branch)
                 SELECT id, name, url, primary_branch FROM {COPY}.projects"
            ),
            [],
        )?;
        // A rule as this store writes it.
        {
            let mut read = tx.prepare(&format!("SELECT id, name, doc FROM {COPY}.rules"))?;
            let mut insert =
                tx.prepare("INSERT INTO main.rules (id, name, doc) VALUES (?1, ?2, ?3)")?;
            let mut rows = read.query([])?;
            while let Some(r) = rows.next()? {
                let (id, name, doc): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
                let rule: StoredRule = serde_json::from_str(&doc)?;
                insert.execute(params![id, name, serde_json::to_string(&rule)?])?;
            }
        }
        // SQLite moves a table in whole only into one without triggers:
        // the store's are set aside meanwhile, in the same transaction, so
        // no other connection sees the store without them.
        let triggers: Vec<(String, String)> = {
            let mut stmt = tx.prepare(
                "SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger'
                 AND tbl_name IN ('findings', 'finding_details', 'finding_evidence')",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (name, _) in &triggers {
            tx.execute_batch(&format!("DROP TRIGGER main.\"{name}\""))?;
        }
        for table in ["findings", "finding_details", "finding_evidence"] {
            tx.execute(
                &format!("INSERT INTO main.{table} SELECT * FROM {COPY}.{table}"),
                [],
            )?;
        }
        for (_, sql) in &triggers {
            tx.execute_batch(sql)?;
        }
        let now = OffsetDateTime::now_utc();
        tx.execute(
            "INSERT INTO scans (project_id, ref, origin, imported_at, findings, errors)
             SELECT p.id, p.primary_branch, ?1, ?2, count(*), 0
             FROM main.findings f JOIN main.projects p ON p.id = f.project_id
             GROUP BY p.id",
            params![origin, timestamp::format(now)],
        )?;
        let overlaid = import_overlaid(&tx, origin, now)?;
        ensure!(
            overlaid == checked.overlaid,
            "the copy's overlaid findings changed while they were stored"
        );
        super::bump_findings_version(&tx)?;
        tx.commit()?;
        drop(attached);
        checkpoints.committed()?;
        Ok(Some(CopyKept {
            copied: checked.findings,
            overlaid,
        }))
    }
}

/// Stores the copy's overlaid findings as a page of v1 findings is stored,
/// a chunk at a time; how many.
fn import_overlaid(tx: &rusqlite::Transaction, origin: &str, now: OffsetDateTime) -> Result<usize> {
    let mut read = tx.prepare(&format!(
        "SELECT rowid, finding FROM {COPY}.overlaid WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
    ))?;
    let mut rules = HashMap::new();
    let (mut after, mut count) = (0i64, 0usize);
    loop {
        let mut findings = Vec::new();
        let mut rows = read.query(params![after, OVERLAID_CHUNK])?;
        while let Some(r) = rows.next()? {
            after = r.get(0)?;
            let text: String = r.get(1)?;
            let wire: v1::Finding = serde_json::from_str(&text)
                .with_context(|| format!("the copy's overlaid finding {after} is not a finding"))?;
            findings.push((wire.into_domain(now), ()));
        }
        drop(rows);
        if findings.is_empty() {
            return Ok(count);
        }
        count += findings.len();
        let scans = super::by_project(findings, origin)
            .into_iter()
            .map(|(scan, _)| scan)
            .collect();
        let super::PulledPage::Findings(scans) = super::PulledPage::findings(scans)? else {
            bail!("a page of findings is findings");
        };
        for pulled in &scans {
            import_scan(tx, &pulled.scan, Some(&pulled.details), now, &mut rules)?;
        }
    }
}

/// What a copy holds, once checked.
struct CheckedCopy {
    findings: usize,
    overlaid: usize,
}

/// The ids of a copy's projects and rules.
#[derive(Default)]
struct Held {
    projects: std::collections::HashSet<i64>,
    rules: std::collections::HashSet<i64>,
}

/// Checks a copy from the network before it is attached to the store: an
/// SQLite file in rollback mode, whose schema is `expected` object by
/// object, whole (`integrity_check`, on a second connection meanwhile), and
/// whose every row is what a page of the same finding would have stored.
fn check_copy(file: &Path, expected: &[SchemaObject]) -> Result<CheckedCopy> {
    check_header(file)?;
    let conn = open_untrusted(file)?;
    let all: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    let objects = schema_objects(&conn, "main", &COPY_TABLES)?;
    ensure!(
        objects == expected && all as usize == expected.len(),
        "its schema is not this sift's (a server of another version?)"
    );
    let (checked, held) = check_rows(&conn)?;
    // The findings' rows are most of the work: half of them on a second
    // connection, while a third checks the file whole.
    let findings = checked.findings as i64;
    let middle: Option<i64> = conn
        .query_row(
            "SELECT id FROM findings ORDER BY id LIMIT 1 OFFSET ?1",
            [findings / 2],
            |r| r.get(0),
        )
        .optional()?;
    let joined = std::thread::scope(|scope| -> Result<i64> {
        let whole = scope.spawn(|| -> Result<()> {
            let conn = open_untrusted(file)?;
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            let said: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ensure!(said == ["ok"], "it is damaged: {}", said.join("; "));
            Ok(())
        });
        let second = scope.spawn(|| -> Result<i64> {
            match middle {
                Some(middle) => check_findings(&open_untrusted(file)?, &held, middle, None),
                None => Ok(0),
            }
        });
        let first = check_findings(&conn, &held, i64::MIN, middle);
        let stopped = || anyhow::anyhow!("the copy's check stopped");
        whole.join().map_err(|_| stopped())??;
        Ok(first? + second.join().map_err(|_| stopped())??)
    })?;
    ensure!(
        joined == findings,
        "its findings' details or evidence do not match its findings"
    );
    Ok(checked)
}

/// An SQLite file in rollback mode (a file in WAL mode would need its log,
/// which did not come) with text in UTF-8, as the store's.
fn check_header(file: &Path) -> Result<()> {
    use std::io::Read;
    let mut header = [0u8; 100];
    std::fs::File::open(file)?
        .read_exact(&mut header)
        .context("it is not an SQLite file")?;
    ensure!(
        header.starts_with(b"SQLite format 3\0"),
        "it is not an SQLite file"
    );
    ensure!(
        header[18] == 1 && header[19] == 1,
        "it is not in rollback mode"
    );
    ensure!(header[56..60] == [0, 0, 0, 1], "its text is not UTF-8");
    Ok(())
}

/// The longest text or blob a copy's value may be: a finding's document
/// is a few kilobytes.
const MAX_VALUE_BYTES: i32 = 16 << 20;

/// A read-only connection to an untrusted file, as SQLite advises for one:
/// defensive, nothing in its schema trusted, every cell's size checked, no
/// memory mapping, no value longer than `MAX_VALUE_BYTES` read.
fn open_untrusted(file: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.set_limit(
        rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
        MAX_VALUE_BYTES,
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.pragma_update(None, "trusted_schema", false)?;
    conn.pragma_update(None, "cell_size_check", true)?;
    conn.pragma_update(None, "mmap_size", 0)?;
    Ok(conn)
}

/// Every finding of the copy comes with its details and evidence, every
/// rule is a rule, every project named, every overlaid finding a v1
/// finding (`check_findings` checks the findings' rows). How many of each.
fn check_rows(conn: &Connection) -> Result<(CheckedCopy, Held)> {
    let mut held = Held::default();
    let count = |table: &str| -> Result<i64> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    let findings = count("findings")?;
    ensure!(
        count("finding_details")? == findings && count("finding_evidence")? == findings,
        "its findings' details or evidence do not match its findings"
    );
    {
        let mut stmt =
            conn.prepare("SELECT id, name, url, primary_branch, source_root FROM projects")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, _url, branch, root): (
                i64,
                String,
                Option<String>,
                String,
                Option<String>,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            ensure!(
                !name.trim().is_empty() && !branch.trim().is_empty() && root.is_none(),
                "its project {id} is not a project as sift stores one"
            );
            held.projects.insert(id);
        }
        let mut stmt = conn.prepare("SELECT id, name, doc FROM rules")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name, doc): (i64, String, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            ensure!(!name.trim().is_empty(), "its rule {id} has no name");
            serde_json::from_str::<StoredRule>(&doc)
                .with_context(|| format!("its rule {name} is not a rule"))?;
            held.rules.insert(id);
        }
    }
    let mut stmt = conn.prepare("SELECT finding FROM overlaid")?;
    let mut rows = stmt.query([])?;
    let mut overlaid = 0usize;
    while let Some(r) = rows.next()? {
        let text: String = r.get(0)?;
        serde_json::from_str::<v1::Finding>(&text)
            .context("an overlaid finding is not a finding")?;
        overlaid += 1;
    }
    let checked = CheckedCopy {
        findings: findings as usize,
        overlaid,
    };
    Ok((checked, held))
}

/// The finding rows of the copy with ids from `first` on, before `end`
/// when given, each with its details, evidence, project and rule, are what
/// storing the same findings from a page would have written
/// (`NewFinding::stored`). How many.
fn check_findings(conn: &Connection, names: &Held, first: i64, end: Option<i64>) -> Result<i64> {
    let mut stmt = conn.prepare(
        // In the order of the findings' ids, as they lie in the file: a
        // join the planner led from another table read them at random.
        "SELECT f.id, f.project_id, f.ref, f.match_based_id, f.rule_id, f.message, f.severity,
                f.path, f.line, f.state, f.triage_state, f.triage_reason, f.triage_comment,
                f.triaged_at, f.verdict, f.relevant_since, f.component, f.risk, f.change_seq,
                f.content_seq, d.doc, d.code_start, d.code, e.line, e.col, e.length, e.snippet,
                e.lines, e.before, e.after
         FROM findings f
         CROSS JOIN finding_details d ON d.finding_id = f.id
         CROSS JOIN finding_evidence e ON e.finding_id = f.id
         WHERE f.id >= ?1 AND (?2 IS NULL OR f.id < ?2)
         ORDER BY f.id",
    )?;
    let mut rows = stmt.query(params![first, end])?;
    let mut joined = 0i64;
    while let Some(r) = rows.next()? {
        joined += 1;
        let id: i64 = r.get(0)?;
        ensure!(
            names.projects.contains(&r.get(1)?) && names.rules.contains(&r.get(4)?),
            "its finding {id} names a project or rule it does not hold"
        );
        check_row(r)
            .with_context(|| format!("its finding {id} is not as a page would store it"))?;
    }
    Ok(joined)
}

/// One row of `check_findings`' query.
fn check_row(r: &rusqlite::Row<'_>) -> Result<()> {
    let text = |i: usize| r.get::<_, String>(i);
    let maybe = |i: usize| r.get::<_, Option<String>>(i);
    let row = v1::StoredRow {
        id: r.get(0)?,
        // Neither is read by `NewFinding::stored`: their ids were checked.
        project: String::new(),
        url: None,
        git_ref: text(2)?,
        match_based_id: text(3)?,
        rule: String::new(),
        message: text(5)?,
        state: text(9)?,
        triage_state: text(10)?,
        triage_reason: maybe(11)?,
        triage_comment: maybe(12)?,
        triaged_at: maybe(13)?,
        code_start: r.get(21)?,
        code: maybe(22)?,
        // Read below, once, as the store reads a document in place (which
        // takes only JSON): `NewFinding::stored` does not read it here.
        doc: serde_json::value::RawValue::from_string("null".into())?,
    };
    let doc = text(20)?;
    // A page's blank names are filled in as they are read: the copy's
    // must not be blank.
    ensure!(
        row.id > 0 && !row.git_ref.trim().is_empty() && !row.match_based_id.trim().is_empty(),
        "it is not named"
    );
    // The row's columns, as the store reads them back, win over its
    // document: they must be the store's own words.
    ensure!(
        ScanState::parse(&row.state).is_some_and(|s| s.as_str() == row.state)
            && TriageState::parse(&row.triage_state)
                .is_some_and(|s| s.as_str() == row.triage_state),
        "its state is not one sift knows"
    );
    let columns = DocColumns::read(&doc).context("its document is not a finding's")?;
    let f = NewFinding::stored(&row, &columns);
    let same = text(6)? == f.severity.as_str()
        && text(7)? == f.path
        && r.get::<_, u32>(8)? == f.line
        && row.triage_reason.as_deref() == f.triage_reason.map(|t| t.as_str())
        && row.triaged_at == f.triaged_at.map(timestamp::format)
        && maybe(14)?.as_deref() == f.verdict.map(|v| v.as_str())
        && r.get::<_, i64>(15)? == f.relevant_since
        && maybe(16)?.as_deref() == f.component
        && maybe(17)?.as_deref() == f.risk.map(|k| k.as_str())
        && r.get::<_, u32>(23)? == f.line
        && r.get::<_, u32>(24)? == f.column;
    ensure!(same, "its columns do not say what its document says");
    let (change, content): (i64, i64) = (r.get(18)?, r.get(19)?);
    ensure!(change >= 0 && content >= 0, "its change numbers are not");
    for i in 25..=29 {
        r.get::<_, Option<i64>>(i)?;
    }
    Ok(())
}

/// `sql`, which creates `object` in the main schema, creating it in the
/// copy's instead.
fn in_copy(sql: &str, object: &SchemaObject) -> Result<String> {
    let kind = object.kind.to_uppercase();
    let head = format!("CREATE {kind} {}", object.name);
    match sql.strip_prefix(&head) {
        Some(rest) => Ok(format!("CREATE {kind} {COPY}.{}{rest}", object.name)),
        None => bail!("cannot copy the store's {} {}", object.kind, object.name),
    }
}

/// A copy attached to a store's connection, detached when dropped. Meanwhile
/// foreign keys are off (SQLite moves a table in whole only so; the copy
/// is checked to name only what it holds) and, for a copy from the
/// network (`untrusted`), the connection is defensive and trusts nothing
/// in a schema.
struct Attached<'c> {
    conn: &'c Connection,
    /// For a copy from the network, the connection's defensive mode and
    /// schema trust before.
    untrusted: Option<(bool, bool)>,
}

impl<'c> Attached<'c> {
    fn new(conn: &'c Connection, file: &Path, untrusted: bool) -> Result<Attached<'c>> {
        let file = file.to_str().context("the copy's path is not UTF-8")?;
        conn.pragma_update(None, "foreign_keys", false)?;
        let mut attached = Attached {
            conn,
            untrusted: None,
        };
        if untrusted {
            let defensive = conn.db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE)?;
            let trusted: bool = conn.pragma_query_value(None, "trusted_schema", |r| r.get(0))?;
            attached.untrusted = Some((defensive, trusted));
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            conn.pragma_update(None, "trusted_schema", false)?;
        }
        match untrusted {
            true => conn.execute(
                &format!("ATTACH ?1 AS {COPY}"),
                [format!("file:{}?mode=ro", uri_path(file))],
            )?,
            false => conn.execute(&format!("ATTACH ?1 AS {COPY}"), [file])?,
        };
        Ok(attached)
    }
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.execute(&format!("DETACH {COPY}"), []) {
            tracing::warn!("cannot detach the findings' copy: {e}");
        }
        if let Some((defensive, trusted)) = self.untrusted {
            let _ = self
                .conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, defensive);
            let _ = self.conn.pragma_update(None, "trusted_schema", trusted);
        }
        if let Err(e) = self.conn.pragma_update(None, "foreign_keys", true) {
            tracing::warn!("cannot turn the store's foreign keys back on: {e}");
        }
    }
}

/// A path as a `file:` URI's path: what URIs reserve escaped.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const ORIGIN: &str = "http://127.0.0.1:7700";

    /// A served store of a few dozen findings, and a copy of them.
    fn copied(dir: &Path) -> std::path::PathBuf {
        let mut served = Store::open(&dir.join("served")).unwrap();
        crate::demo::seed(&mut served, Some(60), datetime!(2026-03-01 09:00 UTC)).unwrap();
        let file = dir.join("copy.db");
        served.write_copy(&file).unwrap();
        file
    }

    /// The cache's connection as it was before a copy came: foreign keys
    /// on, nothing attached, not defensive.
    fn as_before(cache: &Store) {
        let keys: bool = cache
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        let attached: i64 = cache
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_database_list WHERE name = 'copy'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let defensive = cache
            .conn
            .db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE)
            .unwrap();
        assert!(keys && attached == 0 && !defensive);
    }

    #[test]
    fn copies_left_behind_are_removed_once_old_enough_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, age_s: u64| {
            let file = std::fs::File::create(dir.path().join(name)).unwrap();
            let when = std::time::SystemTime::now() - std::time::Duration::from_secs(age_s);
            file.set_modified(when).unwrap();
        };
        at(".findings-copy-old", 7_200);
        at(".findings-copy-new", 0);
        at("sift.db", 7_200);
        remove_stale_copies(dir.path(), std::time::Duration::from_secs(3_600));
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".findings-copy-new", "sift.db"]);
        remove_stale_copies(dir.path(), std::time::Duration::ZERO);
        assert!(!dir.path().join(".findings-copy-new").exists());
        assert!(dir.path().join("sift.db").exists());
    }

    #[test]
    fn a_copy_that_is_not_what_a_page_would_store_is_refused_and_the_cache_stays_empty() {
        let dir = tempfile::tempdir().unwrap();
        let good = copied(dir.path());
        let mut cache = Store::open(&dir.path().join("cache")).unwrap();
        let first = "(SELECT min(id) FROM findings)";
        let schema = "its schema is not this sift's";
        let row = "is not as a page would store it";
        let tampered: [(&str, String); 14] = [
            (schema, "CREATE VIEW seen AS SELECT 1".into()),
            (
                schema,
                "CREATE TRIGGER t AFTER INSERT ON rules BEGIN SELECT 1; END".into(),
            ),
            (
                row,
                format!("UPDATE findings SET severity = 'dire' WHERE id = {first}"),
            ),
            (
                row,
                format!("UPDATE findings SET line = line + 1 WHERE id = {first}"),
            ),
            (
                "its state is not one sift knows",
                format!("UPDATE findings SET state = 'gone' WHERE id = {first}"),
            ),
            (
                "a project or rule it does not hold",
                format!("UPDATE findings SET project_id = 999 WHERE id = {first}"),
            ),
            (
                row,
                format!("UPDATE finding_details SET doc = '[1]' WHERE finding_id = {first}"),
            ),
            (
                row,
                format!(
                    "UPDATE finding_details SET doc = '{{\"id\": 1' WHERE finding_id = {first}"
                ),
            ),
            (
                "is not a project as sift stores one",
                "UPDATE projects SET source_root = '/etc'".into(),
            ),
            (
                "Invalid column type Blob",
                format!("UPDATE findings SET message = CAST('x' AS BLOB) WHERE id = {first}"),
            ),
            (
                "an overlaid finding is not a finding",
                "INSERT INTO overlaid VALUES ('not JSON')".into(),
            ),
            ("is not a rule", "UPDATE rules SET doc = '[]'".into()),
            (
                "it is not in rollback mode",
                "PRAGMA journal_mode = WAL".into(),
            ),
            (
                "too big",
                format!(
                    "UPDATE finding_details SET code = printf('%.*c', 17000000, 'x')
                     WHERE finding_id = {first}"
                ),
            ),
        ];
        for (why, sql) in tampered {
            let file = dir.path().join("tampered.db");
            std::fs::copy(&good, &file).unwrap();
            let tamper = Connection::open(&file).unwrap();
            tamper
                .execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
                .unwrap();
            drop(tamper);
            let refused = format!("{:#}", cache.import_copy(&file, ORIGIN).unwrap_err());
            assert!(refused.contains(why), "{sql}: {refused}");
            assert_eq!(cache.count_findings().unwrap(), 0, "{sql}");
            as_before(&cache);
        }
        // Cut short, or not SQLite at all.
        let bytes = std::fs::read(&good).unwrap();
        let file = dir.path().join("short.db");
        for cut in [bytes.len() / 2, 50] {
            std::fs::write(&file, &bytes[..cut]).unwrap();
            assert!(cache.import_copy(&file, ORIGIN).is_err(), "{cut} bytes");
        }
        std::fs::write(&file, b"{\"findings\": []}").unwrap();
        assert!(cache.import_copy(&file, ORIGIN).is_err());
        // A page of the file's findings overwritten.
        let mut torn = bytes.clone();
        let middle = torn.len() / 2;
        torn[middle..middle + 4096].fill(0x5a);
        std::fs::write(&file, &torn).unwrap();
        assert!(cache.import_copy(&file, ORIGIN).is_err());
        assert_eq!(cache.count_findings().unwrap(), 0);
        // The copy as it came is taken.
        let kept = cache.import_copy(&good, ORIGIN).unwrap().unwrap();
        assert_eq!(kept.copied, 60);
        assert_eq!(cache.count_findings().unwrap(), 60);
        as_before(&cache);
    }
}
