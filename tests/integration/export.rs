//! `sift export` as a script runs it, on the fixed backlog with decisions
//! made through `sift triage`: JSON, CSV and SARIF carry each finding's
//! history, hostile text arrives intact but inert, a filtered export holds
//! exactly what the console's filter shows, and the SARIF log is valid
//! against the official 2.1.0 schema.

use crate::binary::{Backlog, code, stderr, stdout};
use serde_json::Value;
use sift::domain::{BacklogView, Filter};
use std::collections::BTreeSet;
use std::path::Path;

/// A note a hostile colleague (or a compromised tool) might write: a
/// spreadsheet formula, CSV and JSON syntax, a line break, a terminal
/// escape (ESC and C1), and a bidi override.
const HOSTILE: &str =
    "=cmd|' /C calc'!A0, \"quoted\"\nnext line \u{1b}[31mred\u{1b}[0m \u{9b}2J \u{202e}txt.exe";

/// An SQL finding ignored (acceptable risk, the hostile note) and then
/// noted offline (last, so it stays waiting in the outbox); an XSS one
/// under review; a secret ignored and then reopened.
fn decided() -> Backlog {
    let b = Backlog::new();
    b.ok(&[
        "triage",
        "73537202",
        "--state",
        "ignored",
        "--reason",
        "acceptable_risk",
        "--note",
        HOSTILE,
    ]);
    b.ok(&["triage", "73537203", "--state", "reviewing"]);
    b.ok(&[
        "triage",
        "73537205",
        "--state",
        "ignored",
        "--reason",
        "false_positive",
    ]);
    b.ok(&[
        "triage",
        "73537205",
        "--state",
        "reopened",
        "--note",
        "a real key",
    ]);
    let out = b.run(&[
        "--offline",
        "triage",
        "73537202",
        "--note",
        "second look: fine",
    ]);
    assert_eq!(code(&out), 4, "recorded, not sent: {}", stderr(&out));
    b
}

fn export(b: &Backlog, args: &[&str]) -> String {
    let mut all = vec!["export"];
    all.extend(args);
    stdout(&b.ok(&all))
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// No character a terminal acts on or hides arrives raw; JSON's own
/// escapes carry them.
fn assert_inert_json(text: &str) {
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && sift::text::needs_marking(c))
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in the export");
}

fn by_id(findings: &[Value], id: i64) -> &Value {
    findings
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

#[test]
fn json_carries_every_decision_oldest_first_and_the_text_intact() {
    let b = decided();
    let text = export(&b, &["--format", "json", "--view", "all"]);
    assert_inert_json(&text);
    let doc = parsed(&text);
    assert_eq!(doc["export"]["tool"], "sift");
    assert_eq!(doc["export"]["view"], "all");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), b.store().count_findings().unwrap());

    let sql = by_id(findings, 73537202);
    assert_eq!(sql["status"], "ignored");
    assert_eq!(sql["triage_reason"], "acceptable_risk");
    assert_eq!(sql["verdict"], Value::Null);
    let history = sql["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[0]["by"], "carol");
    assert_eq!(history[0]["triage_state"], "ignored");
    assert_eq!(history[0]["reason"], "acceptable_risk");
    assert_eq!(history[0]["note"], HOSTILE, "the note, byte for byte");
    assert_eq!(history[0]["synced"], true);
    assert_eq!(history[1]["action"], "added a note");
    assert_eq!(history[1]["triage_state"], Value::Null);
    assert_eq!(history[1]["note"], "second look: fine");
    assert_eq!(history[1]["synced"], false, "still in the outbox");
    assert!(history[0]["at"].as_str() <= history[1]["at"].as_str());

    let secret = by_id(findings, 73537205);
    let states: Vec<&Value> = secret["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["triage_state"])
        .collect();
    assert_eq!(states, ["ignored", "reopened"]);
    assert_eq!(secret["status"], "open");

    // Semgrep Assistant's verdict, and who gave it.
    let judged = by_id(findings, 73537201);
    assert_eq!(judged["verdict"], "false_positive");
    assert_eq!(judged["verdict_by"], "semgrep");
    assert_eq!(judged["component"], "internal tooling");
    assert_eq!(judged["risk"], "low");
}

#[test]
fn findings_json_carries_the_history_too() {
    let b = decided();
    let out = b.ok(&["findings", "--view", "all", "--json"]);
    let doc = parsed(&stdout(&out));
    let sql = by_id(doc["findings"].as_array().unwrap(), 73537202);
    let notes: Vec<&Value> = sql["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["note"])
        .collect();
    assert_eq!(notes, [HOSTILE, "second look: fine"]);
}

/// RFC 4180 rows: quoted cells may hold commas, doubled quotes and line
/// breaks; rows end with CRLF.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut cell) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR only before LF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => {
                assert!(!matches!(c, '"' | '\n'), "{c:?} outside quotes");
                cell.push(c);
            }
        }
    }
    assert!(!quoted && cell.is_empty() && row.is_empty(), "a row ends");
    rows
}

#[test]
fn csv_is_one_row_a_finding_with_formulas_defused_and_no_raw_controls() {
    let b = decided();
    let text = export(&b, &["--format", "csv", "--view", "all"]);
    let raw: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && c != '\r' && sift::text::needs_marking(c))
        .collect();
    assert!(raw.is_empty(), "raw {raw:?} in the CSV");
    let rows = csv_rows(&text);
    let header = &rows[0];
    assert_eq!(&header[..3], ["id", "project", "ref"]);
    assert!(header.contains(&"history".to_string()));
    assert_eq!(rows.len() - 1, b.store().count_findings().unwrap());
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for cell in row {
            assert!(
                !cell.trim_start().starts_with(['=', '+', '-', '@']),
                "a formula: {cell:?}"
            );
        }
    }
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let sql = rows.iter().find(|r| r[0] == "73537202").unwrap();
    let comment = &sql[column("triage_comment")];
    assert!(comment.starts_with("'=cmd|"), "{comment}");
    assert!(
        comment.contains("\"quoted\"\nnext line ␛[31mred"),
        "{comment}"
    );
    assert!(comment.contains("<U+202E>txt.exe"), "{comment}");
    let history = &sql[column("history")];
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(lines[0].contains("carol: set to ignored (acceptable risk): =cmd|"));
    assert!(lines[1].ends_with("added a note: second look: fine (not synced)"));
    assert_eq!(sql[column("status")], "ignored");
}

/// The official SARIF 2.1.0 schema (tests/fixtures/sarif/README.md),
/// compiled, formats (`uri`, `date-time`) checked too.
fn sarif_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let index = compiler
        .compile(path.to_str().unwrap(), &mut schemas)
        .unwrap_or_else(|e| panic!("the SARIF schema: {e}"));
    (schemas, index)
}

fn sarif_errors(log: &Value) -> Option<String> {
    let (schemas, index) = sarif_schema();
    schemas.validate(log, index).err().map(|e| format!("{e:#}"))
}

fn assert_valid_sarif(log: &Value) {
    if let Some(errors) = sarif_errors(log) {
        panic!("not valid SARIF 2.1.0:\n{errors}");
    }
}

#[test]
fn the_schema_check_catches_an_invalid_log() {
    let mut log = parsed(&export(
        &Backlog::new(),
        &["--format", "sarif", "--view", "all"],
    ));
    assert_valid_sarif(&log);
    log["runs"][0]["results"][0]["suppressions"] =
        serde_json::json!([{"kind": "external", "status": "waived"}]);
    let errors = sarif_errors(&log).expect("a made-up status is refused");
    assert!(errors.contains("/suppressions/0/status"), "{errors}");
}

#[test]
fn sarif_is_valid_and_carries_decisions_as_suppressions() {
    let b = decided();
    let text = export(&b, &["--format", "sarif", "--view", "all"]);
    assert_inert_json(&text);
    let log = parsed(&text);
    assert_valid_sarif(&log);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "sift");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), b.store().count_findings().unwrap());
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        assert!(r["partialFingerprints"]["matchBasedId/v1"].is_string());
    }
    let result = |id: i64| {
        results
            .iter()
            .find(|r| r["properties"]["sift"]["id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}"))
    };

    let ignored = result(73537202);
    assert_eq!(ignored["level"], "error");
    let location = &ignored["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "src/api/auth.py");
    assert_eq!(location["region"]["startLine"], 42);
    assert_eq!(location["region"]["startColumn"], 10);
    let s = &ignored["suppressions"][0];
    assert_eq!(
        (&s["kind"], &s["status"]),
        (&"external".into(), &"accepted".into())
    );
    assert_eq!(
        s["justification"],
        format!("Acceptable risk: {HOSTILE}"),
        "the reason and the note"
    );
    assert_eq!(s["properties"]["by"], "carol");
    assert_eq!(ignored["properties"]["sift"]["history"][1]["synced"], false);

    let reviewing = &result(73537203)["suppressions"][0];
    assert_eq!(reviewing["status"], "underReview");

    let reopened = result(73537205);
    assert!(reopened.get("suppressions").is_none(), "{reopened:#}");
    assert_eq!(
        reopened["properties"]["sift"]["history"][0]["triage_state"],
        "ignored"
    );

    let muted = &result(73537204)["suppressions"][0];
    assert_eq!(
        (&muted["kind"], &muted["status"]),
        (&"inSource".into(), &"accepted".into())
    );

    assert!(result(73537200).get("suppressions").is_none(), "undecided");
    // A finding without a position has no location rather than a bad one.
    assert!(result(1003).get("locations").is_none());
}

/// The ids of a JSON export, in order.
fn exported_ids(b: &Backlog, args: &[&str]) -> Vec<i64> {
    let mut all = vec!["--format", "json"];
    all.extend(args);
    parsed(&export(b, &all))["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_filtered_export_holds_exactly_what_the_console_filter_shows() {
    let b = decided();
    let line = "severity:high,critical sql";
    let mut filter = Filter {
        view: BacklogView::All,
        ..Filter::default()
    };
    filter.apply_line(line).unwrap();
    let index = b.store().load_index().unwrap();
    let shown: Vec<i64> = index
        .select(&filter)
        .iter()
        .map(|&p| index.rows[p as usize].id)
        .collect();
    assert!(!shown.is_empty() && shown.len() < index.len(), "{shown:?}");

    assert_eq!(
        exported_ids(&b, &["--view", "all", "--filter", line]),
        shown
    );
    // The options and the filter line say the same.
    assert_eq!(
        exported_ids(
            &b,
            &[
                "--view",
                "all",
                "--severity",
                "high,critical",
                "--text",
                "sql"
            ]
        ),
        shown
    );
    // The view inside the filter line, as the console's filter accepts it.
    let in_line = format!("view:all {line}");
    assert_eq!(exported_ids(&b, &["--filter", &in_line]), shown);

    let sarif = parsed(&export(
        &b,
        &["--format", "sarif", "--view", "all", "--filter", line],
    ));
    let ids: Vec<i64> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["sift"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, shown);
    let csv = export(&b, &["--format", "csv", "--view", "all", "--filter", line]);
    let rows = csv_rows(&csv);
    let ids: Vec<i64> = rows[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ids, shown);

    // Two views named: refused, not one dropped.
    let out = b.run(&[
        "export",
        "--format",
        "json",
        "--view",
        "all",
        "--filter",
        "view:ignored",
    ]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("name two views"), "{}", stderr(&out));
    // The same view twice says one thing.
    let twice = exported_ids(&b, &["--view", "all", "--filter", &in_line]);
    assert_eq!(twice, shown);

    let out = b.run(&["export", "--format", "json", "--filter", "severity:urgent"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).contains("unknown severity 'urgent'"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_output_file_appears_whole_and_is_kept_unless_forced() {
    let b = decided();
    let file = b.dir.path().join("review.sarif");
    let name = file.to_str().unwrap();
    let out = b.ok(&["export", "--format", "sarif", "--view", "all", "-o", name]);
    assert!(
        stdout(&out).contains("Exported 7 findings"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("1 not synced yet"),
        "{}",
        stdout(&out)
    );
    let first = std::fs::read_to_string(&file).unwrap();
    assert_valid_sarif(&parsed(&first));

    let out = b.run(&["export", "--format", "csv", "-o", name]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), first, "kept");

    b.ok(&[
        "export", "--format", "csv", "--view", "all", "-o", name, "--force",
    ]);
    let replaced = std::fs::read_to_string(&file).unwrap();
    assert!(replaced.starts_with("id,project,ref,"), "{replaced}");

    // A refused export leaves no file, whole or half.
    let other = b.dir.path().join("none.json");
    let out = b.run(&[
        "export",
        "--format",
        "json",
        "--rule",
        "no-such-rule",
        "-o",
        other.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 3);
    assert!(!other.exists());
    let names: BTreeSet<String> = std::fs::read_dir(b.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".sift-export-")),
        "no temporary file left: {names:?}"
    );
}

#[test]
fn sift_reads_its_own_sarif_back_with_the_same_identities() {
    let b = decided();
    let file = b.dir.path().join("shop.sarif");
    b.ok(&[
        "export",
        "--format",
        "sarif",
        "--view",
        "all",
        "--project",
        "shop",
        "-o",
        file.to_str().unwrap(),
    ]);
    let other = b.dir.path().join("other");
    let out = b.run_in(
        &other,
        &[
            "import",
            file.to_str().unwrap(),
            "--project",
            "shop",
            "--ref",
            "main",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let identities = |store: sift::store::Store| -> BTreeSet<String> {
        store
            .listing_rows()
            .unwrap()
            .into_iter()
            .filter(|r| r.project == "shop")
            .map(|r| r.match_based_id)
            .collect()
    };
    let imported = identities(sift::store::Store::open(&other).unwrap());
    assert_eq!(imported, identities(b.store()));
    assert!(!imported.is_empty());
}

/// A long list is read on two connections, each taking the next chunk: the
/// findings still come in the order asked for, each as `load_findings`
/// reads it alone, unknown ids skipped and repeated ones repeated.
#[test]
fn findings_rendered_on_two_connections_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = sift::store::Store::open(dir.path()).unwrap();
    sift::demo::seed(&mut store, Some(3_000), time::OffsetDateTime::now_utc()).unwrap();
    let mut ids = crate::common::stored_ids(&store);
    ids.reverse();
    ids.insert(1_700, 999_999_999);
    ids.push(ids[10]);
    let mut chunks = 0;
    let mut found = Vec::new();
    store
        .render_findings(&ids, Ok, |chunk| {
            chunks += 1;
            found.extend(chunk);
            Ok(())
        })
        .unwrap();
    assert!(chunks > 4, "enough chunks for the second connection");
    let expected: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|&id| id != 999_999_999)
        .collect();
    assert_eq!(found.iter().map(|f| f.id).collect::<Vec<_>>(), expected);
    for f in found.iter().step_by(97) {
        assert_eq!(Some(f), store.load_finding(f.id).unwrap().as_ref());
    }
}
