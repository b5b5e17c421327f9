//! Importing semgrep JSON, SARIF and Semgrep API dumps.

use serde_json::Value;
use sift::domain::{
    Confidence, Finding, ScanResults, ScanSource, ScanState, Severity, Status, TriageReason,
    TriageState, Verdict,
};
use sift::import::{ImportError, ImportOptions, load_file, load_str};
use sift::store::Store;
use std::path::{Path, PathBuf};

const VIEWS_PY: &str = "import subprocess\nfrom django.http import HttpResponse\n\n\ndef run(request):\n    cmd = request.GET[\"cmd\"]\n    subprocess.call(cmd, shell=True)\n    return HttpResponse(\"ok\")\n\n\ndef run_again(request):\n    cmd = request.GET[\"cmd\"]\n    subprocess.call(cmd, shell=True)\n    return HttpResponse(\"ok\")\n";
const SETTINGS_PY: &str = "import os\n\nDEBUG = True\nSECRET_KEY = os.environ[\"KEY\"]\n";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn no_opts() -> ImportOptions {
    ImportOptions::default()
}

fn one(scans: Vec<ScanResults>) -> ScanResults {
    assert_eq!(scans.len(), 1, "one scan per file");
    scans.into_iter().next().unwrap()
}

#[test]
fn a_rescan_that_changes_nothing_writes_nothing() {
    let mut store = Store::in_memory().unwrap();
    let scan = || one(load_file(&fixture("semgrep_logged_out.json"), &no_opts()).unwrap());
    let first = store.import(&[scan()]).unwrap().remove(0);
    assert_eq!((first.new, first.updated, first.unchanged), (4, 0, 0));
    let head = store.change_head().unwrap();
    let ids = crate::common::stored_ids(&store);
    let seen = |store: &Store| -> Vec<_> {
        let found = store.load_findings(&ids).unwrap();
        found
            .iter()
            .map(|f| (f.id, f.created_at, f.relevant_since))
            .collect()
    };
    let before = seen(&store);
    // Later, as the next scan in CI would be: its results are dated anew.
    std::thread::sleep(std::time::Duration::from_millis(10));
    let again = store.import(&[scan()]).unwrap().remove(0);
    assert_eq!(
        (again.new, again.updated, again.unchanged, again.fixed),
        (0, 0, 4, 0)
    );
    assert_eq!(store.change_head().unwrap(), head, "no finding changed");
    assert_eq!(
        seen(&store),
        before,
        "each keeps the time it was first seen"
    );
}

fn by_rule<'a>(scan: &'a ScanResults, rule_suffix: &str) -> Vec<&'a Finding> {
    scan.findings
        .iter()
        .filter(|f| f.rule.name.ends_with(rule_suffix))
        .collect()
}

/// The tree the logged-out fixtures were scanned in: `<tmp>/webapp/app/…`,
/// with `views_prefix` prepended to views.py.
fn webapp_tree(views_prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("webapp");
    std::fs::create_dir_all(root.join("app")).unwrap();
    std::fs::write(
        root.join("app/views.py"),
        format!("{views_prefix}{VIEWS_PY}"),
    )
    .unwrap();
    std::fs::write(root.join("app/settings.py"), SETTINGS_PY).unwrap();
    (dir, root)
}

/// Moves every result of a semgrep JSON output `lines` lines (and `bytes`
/// bytes) down, as if that much code had been added above it.
fn shift_results(text: &str, lines: i64, bytes: i64) -> String {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    for r in doc["results"].as_array_mut().unwrap() {
        for end in ["start", "end"] {
            let pos = &mut r[end];
            pos["line"] = (pos["line"].as_i64().unwrap() + lines).into();
            let off = pos["offset"].as_i64().unwrap();
            if off >= 0 {
                pos["offset"] = (off + bytes).into();
            }
        }
    }
    doc.to_string()
}

fn ids(scan: &ScanResults) -> Vec<String> {
    scan.findings
        .iter()
        .map(|f| f.match_based_id.clone())
        .collect()
}

// ---------------------------------------------------------------------------
// semgrep scan --json

#[test]
fn semgrep_json_with_fingerprints_maps_every_field() {
    let scan = one(load_file(&fixture("semgrep_logged_in.json"), &no_opts()).unwrap());
    assert_eq!(scan.source, ScanSource::Scanner);
    assert_eq!(
        scan.project, "semgrep_logged_in",
        "project from the file stem"
    );
    assert_eq!(scan.git_ref, "main");
    assert_eq!(scan.findings.len(), 4);

    let sql = by_rule(&scan, "formatted-sql-query")[0];
    assert_eq!(
        sql.match_based_id,
        "5f0c2e9d7b61a0e4c3d9f1b2a8e7c6d5f4e3d2c1b0a9f8e7d6c5b4a3928170655e4d3c2b1a0f9e8d7c6b5a4_0"
    );
    assert_eq!(sql.severity, Severity::High, "ERROR is high");
    assert_eq!(sql.confidence, Some(Confidence::High));
    assert_eq!(sql.rule.category.as_deref(), Some("security"));
    assert_eq!(sql.rule.cwe_names.len(), 1);
    assert!(sql.rule.cwe_names[0].starts_with("CWE-89"));
    assert_eq!(
        sql.rule.owasp_names,
        ["A03:2021 - Injection", "A01:2017 - Injection"]
    );
    assert_eq!(sql.rule.vulnerability_classes, ["SQL Injection"]);
    assert_eq!(sql.rule.subcategories, ["vuln"]);
    assert_eq!(sql.rule.technologies, ["python", "sql"]);
    assert_eq!(
        sql.rule.references,
        ["https://owasp.org/Top10/A03_2021-Injection"]
    );
    assert_eq!(sql.message, sql.rule.message);
    assert_eq!(
        (
            sql.location.path.as_str(),
            sql.location.line,
            sql.location.column
        ),
        ("src/api/auth.py", 42, 10)
    );
    assert_eq!((sql.location.end_line, sql.location.end_column), (42, 65));
    assert_eq!(sql.state, ScanState::Unresolved);
    assert_eq!(sql.status(), Status::Open);
    assert!(sql.assistant.is_none());
    let code = sql.code.as_ref().expect("code from extra.lines");
    assert_eq!(code.start_line, 42);
    assert!(code.lines[0].contains("cursor.execute"));

    // cwe, owasp and references written as single strings; no confidence.
    let xss = by_rule(&scan, "insecure-document-method")[0];
    assert_eq!(xss.severity, Severity::Medium);
    assert_eq!(xss.confidence, None, "a missing confidence is unknown");
    assert_eq!(xss.rule.confidence, None);
    assert_eq!(xss.rule.cwe_names.len(), 1);
    assert_eq!(xss.rule.owasp_names, ["A03:2021 - Injection"]);
    assert_eq!(xss.rule.references.len(), 1);
    assert!(
        xss.assistant.is_none(),
        "a rule's fix is not Assistant data"
    );
    let code = xss.code.as_ref().unwrap();
    assert_eq!((code.start_line, code.lines.len()), (7, 3));

    let eval = by_rule(&scan, "eval-detected")[0];
    assert_eq!(eval.state, ScanState::Muted, "nosemgrep mutes");
    assert_eq!(eval.status(), Status::Ignored);
    assert_eq!(eval.severity, Severity::Low);

    let key = by_rule(&scan, "detected-generic-api-key")[0];
    assert_eq!(key.severity, Severity::Critical);
    assert!(
        key.message.contains("\u{1b}[31m"),
        "stored as-is; the UI sanitizes"
    );
    assert!(key.code.as_ref().unwrap().lines[0].contains('\u{7}'));
}

#[test]
fn scanner_errors_are_reported_and_the_import_goes_on() {
    let scan = one(load_file(&fixture("semgrep_logged_in.json"), &no_opts()).unwrap());
    assert_eq!(scan.findings.len(), 4);
    assert_eq!(scan.errors.len(), 2);
    let partial = &scan.errors[0];
    assert_eq!(
        partial.kind, "PartialParsing",
        "the list form's variant name"
    );
    assert_eq!(partial.level, "warn");
    assert_eq!(partial.path.as_deref(), Some("src/legacy.py"));
    assert!(partial.message.contains("Syntax error"));
    let timeout = &scan.errors[1];
    assert_eq!(timeout.kind, "Timeout");
    assert_eq!(timeout.path.as_deref(), Some("src/big.py"));

    let mut store = Store::in_memory().unwrap();
    let summary = store.import(&[scan]).unwrap();
    assert_eq!(summary[0].errors, 2);
    assert_eq!(summary[0].new, 4);
}

/// A real scan reports dozens of errors, each a paragraph: the import
/// A scan that failed as a whole fixes nothing, and one that could not
/// read a file does not fix what was found in it.
#[test]
fn a_failed_scan_does_not_close_the_backlog() {
    use crate::binary::{Backlog, stderr, stdout};
    use serde_json::json;
    let b = Backlog::empty();
    let scan = b.dir.path().join("scan.json");
    let write = |report: Value| std::fs::write(&scan, report.to_string()).unwrap();
    write(crate::scopes::scan_report(json!([])));
    b.ok(&["import", "scan.json", "--project", "web"]);

    let fatal = json!([{"code": 2, "level": "error", "type": "Fatal error",
                        "message": "semgrep crashed"}]);
    let mut crashed = crate::scopes::scan_report(fatal);
    crashed["results"] = json!([]);
    write(crashed);
    let out = b.ok(&["import", "scan.json", "--project", "web"]);
    assert!(stdout(&out).contains("0 fixed"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("nothing it no longer reports is marked fixed"),
        "{}",
        stderr(&out)
    );

    // A rule that did not parse (Semgrep names the rule's file) is as bad.
    let bad_rule = json!([{"code": 7, "level": "error", "type": "Rule parse error",
                           "message": "invalid pattern",
                           "spans": [{"file": "rules.yaml"}]}]);
    let mut no_rule = crate::scopes::scan_report(bad_rule);
    no_rule["results"] = json!([]);
    write(no_rule);
    let out = b.ok(&["import", "scan.json", "--project", "web"]);
    assert!(stdout(&out).contains("0 fixed"), "{}", stdout(&out));

    // A timeout in app/db.py: its finding is not reported, and not fixed;
    // src/app.js's is gone from a file that was read: fixed.
    let timeout = json!([{"code": 3, "level": "warn", "type": "Timeout",
                          "path": "app/db.py", "message": "timed out"}]);
    let mut partial = crate::scopes::scan_report(timeout);
    let results = partial["results"].as_array_mut().unwrap();
    results.retain(|r| r["path"] != "app/db.py" && r["path"] != "src/app.js");
    write(partial);
    let out = b.ok(&["import", "scan.json", "--project", "web"]);
    assert!(stdout(&out).contains("1 fixed"), "{}", stdout(&out));
}

/// counts them by kind, `--errors` lists them, `--json` always does.
#[test]
fn many_scanner_errors_are_summarised_by_kind() {
    use crate::binary::{Backlog, stdout};
    use serde_json::json;
    let error = |kind: Value, i: usize| {
        json!({"code": 3, "level": "warn", "type": kind, "path": format!("src/f{i}.py"),
               "message": format!("Syntax error at line src/f{i}.py:1:\n `x` was unexpected\n{}",
                                  "context ".repeat(40))})
    };
    let mut errors: Vec<Value> = (0..20).map(|i| error(json!("Syntax error"), i)).collect();
    errors.extend((20..32).map(|i| error(json!("Timeout"), i)));
    errors.push(error(json!(["PartialParsing", []]), 32));
    let b = Backlog::empty();
    let report = crate::scopes::scan_report(Value::Array(errors));
    std::fs::write(b.dir.path().join("scan.json"), report.to_string()).unwrap();

    let out = b.ok(&["import", "scan.json", "--project", "web"]);
    assert_eq!(
        stdout(&out),
        "scan.json: web @ main: 7 new, 0 updated, 0 unchanged, 0 fixed\n  \
         33 scanner errors: 20 Syntax error, 12 Timeout, 1 PartialParsing (--errors lists them)\n"
    );
    let out = b.ok(&["import", "scan.json", "--project", "web", "--errors"]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "  33 scanner errors: 20 Syntax error, 12 Timeout, 1 PartialParsing"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("  scanner warn ("))
            .count(),
        33,
        "{text}"
    );
    assert!(text.contains("  scanner warn (Timeout) in src/f20.py: Syntax error at line"));
    let out = b.ok(&["import", "scan.json", "--project", "web", "--json"]);
    let said: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(said["scanner_errors"].as_array().unwrap().len(), 33);
    assert_eq!(said["imported"][0]["errors"], 33);
}

#[test]
fn options_name_the_project_and_ref() {
    let opts = ImportOptions {
        project: Some("acme/shop".into()),
        git_ref: Some("refs/pull/7/merge".into()),
        repo_root: None,
    };
    let scan = one(load_file(&fixture("semgrep_logged_in.json"), &opts).unwrap());
    assert_eq!(scan.project, "acme/shop");
    assert_eq!(scan.git_ref, "refs/pull/7/merge");
    assert!(
        scan.findings
            .iter()
            .all(|f| f.project == "acme/shop" && f.git_ref == "refs/pull/7/merge")
    );
}

#[test]
fn logged_out_output_without_a_repo_root_still_gets_distinct_stable_ids() {
    let scan = one(load_file(&fixture("semgrep_logged_out.json"), &no_opts()).unwrap());
    assert_eq!(scan.findings.len(), 4);
    let first_ids = ids(&scan);
    for id in &first_ids {
        assert_ne!(id, "requires login");
        let (hash, index) = id.rsplit_once('_').unwrap();
        assert_eq!(hash.len(), 64, "sha256 hex: {id}");
        assert!(index.parse::<u32>().is_ok());
    }
    // The two identical matches in views.py are told apart by their index.
    let shell = by_rule(&scan, "subprocess-shell-true");
    assert!(shell[0].match_based_id.ends_with("_0"));
    assert!(shell[1].match_based_id.ends_with("_1"));
    assert_eq!(
        shell[0].match_based_id.rsplit_once('_').unwrap().0,
        shell[1].match_based_id.rsplit_once('_').unwrap().0
    );
    // "requires login" is not code.
    assert!(scan.findings.iter().all(|f| f.code.is_none()));

    let shifted = shift_results(&fixture_text("semgrep_logged_out.json"), 3, 30);
    let again = one(load_str("semgrep_logged_out.json", &shifted, &no_opts()).unwrap());
    assert_eq!(again.findings[0].location.line, 10);
    assert_eq!(ids(&again), first_ids, "moving code down keeps identities");
}

#[test]
fn logged_out_output_with_a_repo_root_reads_code_and_ids_survive_a_line_shift() {
    let (_dir, root) = webapp_tree("");
    let opts = ImportOptions {
        repo_root: Some(root.clone()),
        ..Default::default()
    };
    let scan = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
    assert_eq!(scan.project, "webapp", "project from the repo root's name");

    let shell = by_rule(&scan, "subprocess-shell-true");
    let code = shell[0]
        .code
        .as_ref()
        .expect("code read from webapp/app/views.py");
    assert_eq!(code.start_line, 4, "three lines before line 7");
    assert_eq!(code.lines.len(), 7);
    assert_eq!(code.lines[3], "    subprocess.call(cmd, shell=True)");
    assert_eq!(code.lines[0], "", "blank lines kept");
    let debug = by_rule(&scan, "django-debug-enabled")[0];
    let code = debug.code.as_ref().unwrap();
    assert_eq!(
        (code.start_line, code.lines.len()),
        (1, 4),
        "clamped at the file's start and end"
    );
    assert_eq!(code.lines[2], "DEBUG = True");
    let missing = by_rule(&scan, "detected-generic-secret")[0];
    assert!(missing.code.is_none(), "a file not in the tree has no code");

    // Identities come from the code, and differ from the message-based ones.
    let without_root = one(load_file(&fixture("semgrep_logged_out.json"), &no_opts()).unwrap());
    assert_ne!(
        shell[0].match_based_id,
        without_root.findings[0].match_based_id
    );
    assert_eq!(
        missing.match_based_id,
        without_root.findings[3].match_based_id
    );

    // Three lines added at the top of views.py: same findings, same ids.
    let prefix = "# -*- coding: utf-8 -*-\n\"\"\"Views.\"\"\"\n\n";
    let (_dir2, moved_root) = webapp_tree(prefix);
    let text = fixture_text("semgrep_logged_out.json");
    let mut doc: Value =
        serde_json::from_str(&shift_results(&text, 3, prefix.len() as i64)).unwrap();
    // settings.py did not move.
    doc["results"][2] = serde_json::from_str::<Value>(&text).unwrap()["results"][2].clone();
    let opts = ImportOptions {
        repo_root: Some(moved_root),
        ..Default::default()
    };
    let moved = one(load_str("semgrep_logged_out.json", &doc.to_string(), &opts).unwrap());
    let moved_shell = by_rule(&moved, "subprocess-shell-true");
    assert_eq!(moved_shell[0].location.line, 10);
    assert_eq!(moved_shell[0].code.as_ref().unwrap().start_line, 7);
    assert_eq!(ids(&moved), ids(&scan), "line shifts alone keep identities");

    // And the store sees the moved findings as the same ones.
    let mut store = Store::in_memory().unwrap();
    store.import(&[scan]).unwrap();
    let summary = store.import(&[moved]).unwrap();
    assert_eq!(
        (summary[0].new, summary[0].updated, summary[0].fixed),
        (0, 3, 0)
    );
    assert_eq!(summary[0].unchanged, 1, "one finding did not move");
    assert_eq!(store.count_findings().unwrap(), 4);
}

#[test]
fn a_changed_match_gets_a_new_identity() {
    let (_dir, root) = webapp_tree("");
    let opts = ImportOptions {
        repo_root: Some(root.clone()),
        ..Default::default()
    };
    let before = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
    // Same length, so offsets still line up; the first match's text changed.
    let changed = VIEWS_PY.replacen(
        "subprocess.call(cmd, shell=True)",
        "subprocess.call(arg, shell=True)",
        1,
    );
    std::fs::write(root.join("app/views.py"), changed).unwrap();
    let after = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
    assert_ne!(
        after.findings[0].match_based_id,
        before.findings[0].match_based_id
    );
    assert_eq!(
        after.findings[2].match_based_id,
        before.findings[2].match_based_id
    );
}

#[test]
fn importing_the_same_scan_twice_creates_no_duplicates() {
    let mut store = Store::in_memory().unwrap();
    for name in ["semgrep_logged_in.json", "semgrep_logged_out.json"] {
        let scans = load_file(&fixture(name), &no_opts()).unwrap();
        store.import(&scans).unwrap();
        let again = load_file(&fixture(name), &no_opts()).unwrap();
        let summary = store.import(&again).unwrap();
        assert_eq!(summary[0].new, 0, "{name}");
        assert_eq!(summary[0].fixed, 0, "{name}");
    }
    assert_eq!(store.count_findings().unwrap(), 8);
    assert_eq!(store.load_index().unwrap().len(), 8);
}

#[test]
fn a_newer_scan_without_a_finding_marks_it_fixed() {
    let text = fixture_text("semgrep_logged_in.json");
    let mut store = Store::in_memory().unwrap();
    store
        .import(&load_str("shop.json", &text, &no_opts()).unwrap())
        .unwrap();

    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let removed = doc["results"].as_array_mut().unwrap().remove(0);
    let newer = load_str("shop.json", &doc.to_string(), &no_opts()).unwrap();
    let summary = store.import(&newer).unwrap();
    assert_eq!(summary[0].fixed, 1);

    let index = store.load_index().unwrap();
    let all_ids: Vec<i64> = index.rows.iter().map(|r| r.id).collect();
    let findings = store.load_findings(&all_ids).unwrap();
    assert_eq!(findings.len(), 4);
    let gone = findings
        .iter()
        .find(|f| f.match_based_id == removed["extra"]["fingerprint"].as_str().unwrap())
        .unwrap();
    assert_eq!(gone.status(), Status::Fixed);
    assert!(gone.activity.iter().any(|a| a.action.contains("fixed")));
    let fixed_in_index = index
        .rows
        .iter()
        .filter(|r| r.status == Status::Fixed)
        .count();
    assert_eq!(fixed_in_index, 1);
    // The rest keep their status; the nosemgrep one stays ignored.
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.status() == Status::Open)
            .count(),
        2
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.status() == Status::Ignored)
            .count(),
        1
    );
    // References and technologies survive the store.
    let xss = findings
        .iter()
        .find(|f| f.rule.name.ends_with("insecure-document-method"))
        .unwrap();
    assert_eq!(xss.rule.technologies, ["browser"]);
}

#[test]
fn outside_data_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let mut weird = b"ok line\n".to_vec();
    weird.extend_from_slice(b"\xff\xfe not utf-8 \x1b[2J\r\n");
    weird.extend_from_slice("x".repeat(5000).as_bytes());
    weird.push(b'\n');
    std::fs::write(root.join("weird.py"), &weird).unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside the tree\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link.py")).unwrap();
    let json = r#"{"results": [
        {"check_id": "r1", "path": "weird.py", "start": {"line": 2, "col": -4, "offset": -1},
         "end": {"line": 3, "col": 99999999999999999999, "offset": 1e300},
         "extra": {"message": "m\u0000\u001b", "severity": "EXPERIMENT", "metadata": {"cwe": 5, "owasp": [1, null, "A1"], "confidence": ["HIGH"]},
                   "lines": "requires login", "fingerprint": "requires login"}},
        {"check_id": "r2", "path": "../../etc/passwd", "start": {"line": 1, "col": 1}, "end": {"line": 0, "col": 0},
         "extra": {"message": "escape", "metadata": null, "lines": null, "fingerprint": null}},
        {"check_id": "r3", "path": "link.py", "start": {"line": 1, "col": 1}, "end": {"line": 1, "col": 3}, "extra": null},
        {"check_id": "r4", "path": "weird.py", "start": {"line": 4294967295}, "end": null}
    ], "errors": [{"type": {"weird": true}}, {"type": ["Rule parse error", []], "level": "error", "spans": [{"file": "rules.yaml"}]}]}"#;
    let opts = ImportOptions {
        repo_root: Some(root),
        ..Default::default()
    };
    let scan = one(load_str("weird.json", json, &opts).unwrap());
    assert_eq!(scan.findings.len(), 4);
    let f = &scan.findings[0];
    assert_eq!(f.location.column, 0, "negative columns read as 0");
    assert_eq!(f.location.end_column, u32::MAX);
    assert_eq!(
        f.severity,
        Severity::Medium,
        "unknown severities read as medium"
    );
    assert_eq!(f.rule.owasp_names, ["A1"]);
    assert!(f.rule.cwe_names.is_empty());
    assert_eq!(f.rule.confidence, Some(Confidence::High));
    let code = f.code.as_ref().unwrap();
    assert!(code.lines[1].contains('\u{fffd}'), "non-UTF-8 read lossily");
    assert!(!code.lines[1].ends_with('\r'));
    assert_eq!(code.lines[2].chars().count(), 500, "long lines capped");
    assert!(
        scan.findings[1].code.is_none(),
        "nothing outside the repo root is read"
    );
    assert!(
        scan.findings[2].code.is_none(),
        "not even through a symlink"
    );
    assert_eq!(scan.findings[3].location.line, u32::MAX);
    assert!(scan.findings[3].code.is_none());
    assert_eq!(scan.errors[0].kind, "unknown");
    assert_eq!(scan.errors[1].kind, "Rule parse error");
    assert_eq!(scan.errors[1].path.as_deref(), Some("rules.yaml"));
    let mut store = Store::in_memory().unwrap();
    store.import(&[scan]).unwrap();
    assert_eq!(store.count_findings().unwrap(), 4);
}

#[test]
fn a_long_match_keeps_at_most_forty_lines_of_context() {
    let dir = tempfile::tempdir().unwrap();
    let body: String = (1..=200).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("big.py"), body).unwrap();
    let json = r#"{"results": [{"check_id": "r", "path": "big.py", "start": {"line": 50, "col": 1}, "end": {"line": 150, "col": 5},
        "extra": {"message": "m", "lines": "requires login", "fingerprint": "requires login"}}]}"#;
    let opts = ImportOptions {
        repo_root: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let scan = one(load_str("big.json", json, &opts).unwrap());
    let code = scan.findings[0].code.as_ref().unwrap();
    assert_eq!(code.start_line, 47);
    assert_eq!(code.lines.len(), 40);
    assert_eq!(code.lines[0], "line 47");
}

// ---------------------------------------------------------------------------
// SARIF

#[test]
fn sarif_results_take_their_rules_from_the_driver() {
    let scan = one(load_file(&fixture("semgrep.sarif"), &no_opts()).unwrap());
    assert_eq!(scan.source, ScanSource::Scanner);
    assert_eq!(scan.project, "semgrep");
    assert_eq!(scan.findings.len(), 4);

    let shell = by_rule(&scan, "subprocess-shell-true");
    assert_eq!(shell.len(), 2);
    let f = shell[0];
    assert_eq!(f.severity, Severity::High, "level error is high");
    assert_eq!(
        f.confidence,
        Some(Confidence::High),
        "from the HIGH CONFIDENCE tag"
    );
    assert!(f.rule.cwe_names[0].starts_with("CWE-78"));
    assert_eq!(
        f.rule.owasp_names,
        ["A01:2017 - Injection", "A03:2021 - Injection"]
    );
    assert_eq!(f.rule.category.as_deref(), Some("security"));
    assert_eq!(
        f.rule.message,
        "Found '$FUNC' function '$CALL' with 'shell=True'."
    );
    assert!(f.message.starts_with("Found 'subprocess' function 'call'"));
    assert_eq!(
        f.rule.references,
        [
            "https://semgrep.dev/r/python.lang.security.audit.subprocess-shell-true",
            "https://stackoverflow.com/questions/3172470"
        ]
    );
    assert_eq!(
        (
            f.location.path.as_str(),
            f.location.line,
            f.location.column,
            f.location.end_column
        ),
        ("webapp/app/views.py", 7, 5, 37)
    );
    let code = f.code.as_ref().expect("the snippet, without a repo root");
    assert_eq!(code.start_line, 7);
    assert_eq!(code.lines, ["    subprocess.call(cmd, shell=True)"]);
    assert_ne!(shell[0].match_based_id, shell[1].match_based_id);
    assert!(!f.match_based_id.contains("requires login"));

    let debug = by_rule(&scan, "django-debug-enabled")[0];
    assert_eq!(debug.severity, Severity::Medium);
    assert_eq!(debug.confidence, Some(Confidence::Low));

    let eval = by_rule(&scan, "eval-detected")[0];
    assert_eq!(eval.severity, Severity::Low, "level note is low");
    assert_eq!(eval.state, ScanState::Muted, "suppressed in source");
    assert_eq!(
        eval.match_based_id,
        "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0_0"
    );

    assert_eq!(scan.errors.len(), 1);
    assert_eq!(scan.errors[0].kind, "Syntax error");
    assert_eq!(scan.errors[0].level, "warning");
    assert_eq!(scan.errors[0].path.as_deref(), Some("webapp/app/legacy.py"));
}

#[test]
fn sarif_and_json_of_the_same_scan_give_the_same_findings() {
    let (_dir, root) = webapp_tree("");
    for repo_root in [None, Some(root)] {
        let opts = ImportOptions {
            project: Some("webapp".into()),
            repo_root: repo_root.clone(),
            ..Default::default()
        };
        let json = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
        let sarif = one(load_file(&fixture("semgrep.sarif"), &opts).unwrap());
        assert_eq!(
            ids(&sarif)[..3],
            ids(&json)[..3],
            "repo root: {repo_root:?}"
        );
        if repo_root.is_some() {
            assert_eq!(
                sarif.findings[0].code, json.findings[0].code,
                "code from the tree for both"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Semgrep API dumps

#[test]
fn api_dump_keeps_ids_assistant_data_and_triage() {
    let scans = load_file(&fixture("api_dump.json"), &no_opts()).unwrap();
    let keys: Vec<(&str, &str)> = scans
        .iter()
        .map(|s| (s.project.as_str(), s.git_ref.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("acme/webapp", "main"),
            ("acme/webapp", "refs/pull/12/merge"),
            ("acme/api", "main")
        ]
    );
    assert!(scans.iter().all(|s| s.source == ScanSource::Platform));
    assert_eq!(
        scans[0].repository_url.as_deref(),
        Some("https://github.com/acme/webapp")
    );

    let sql = &scans[0].findings[0];
    assert_eq!(sql.id, 73537200);
    let a = sql.assistant.as_ref().unwrap();
    assert_eq!(a.verdict, Some(Verdict::TruePositive));
    assert!(a.autofix_code.as_ref().unwrap().contains("%s"));
    assert_eq!(
        a.guidance.as_ref().unwrap().summary,
        "Use a parameterized query instead of string formatting."
    );
    assert_eq!(a.component.as_ref().unwrap().tag, "user data");

    let fp = &scans[1].findings[0];
    assert_eq!(fp.id, 73537201, "string ids read as numbers");
    assert_eq!(fp.status(), Status::ProvisionallyIgnored);
    assert_eq!(fp.verdict(), Some(Verdict::FalsePositive));
    assert_eq!(
        fp.location.end_line, 18,
        "a null end line is the start line"
    );

    let sparse = &scans[2].findings[0];
    assert_eq!(sparse.id, 1003);
    assert_eq!(sparse.status(), Status::Fixed);
    assert_eq!(sparse.triage_reason, Some(TriageReason::AcceptableRisk));
    assert_eq!(
        sparse.rule.name,
        "generic.secrets.security.detected-private-key.detected-private-key"
    );
    assert!(sparse.assistant.is_none());

    let mut store = Store::in_memory().unwrap();
    store.import(&scans).unwrap();
    assert_eq!(store.count_findings().unwrap(), 3);
    let stored = store.load_findings(&[73537200, 73537201]).unwrap();
    assert_eq!(stored.len(), 2, "the API's ids are kept");
    assert_eq!(
        stored[0]
            .assistant
            .as_ref()
            .unwrap()
            .component
            .as_ref()
            .unwrap()
            .tag,
        "user data"
    );
    assert_eq!(stored[1].triage_state, TriageState::ProvisionallyIgnored);
    // Importing the dump again changes nothing.
    store
        .import(&load_file(&fixture("api_dump.json"), &no_opts()).unwrap())
        .unwrap();
    assert_eq!(store.count_findings().unwrap(), 3);
}

#[test]
fn api_dump_options_override_and_code_comes_from_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/api")).unwrap();
    std::fs::write(
        dir.path().join("src/api/auth.py"),
        "def user(cursor, user_id):\n    # look the user up\n    cursor.execute(f\"SELECT * FROM users WHERE id = {user_id}\")\n",
    )
    .unwrap();
    let opts = ImportOptions {
        project: Some("mine".into()),
        git_ref: Some("dev".into()),
        repo_root: Some(dir.path().to_path_buf()),
    };
    let scans = load_file(&fixture("api_dump.json"), &opts).unwrap();
    assert_eq!(scans.len(), 1, "everything is one project and ref now");
    assert_eq!(
        (scans[0].project.as_str(), scans[0].git_ref.as_str()),
        ("mine", "dev")
    );
    assert!(
        scans[0]
            .findings
            .iter()
            .all(|f| f.project == "mine" && f.git_ref == "dev")
    );
    let code = scans[0].findings[0].code.as_ref().unwrap();
    assert_eq!(code.start_line, 1);
    assert!(code.lines[2].contains("cursor.execute"));
    assert!(
        scans[0].findings[1].code.is_none(),
        "src/api/views.py is not there"
    );
}

// ---------------------------------------------------------------------------
// Files that are not what they claim

#[test]
fn a_truncated_file_names_the_file_line_and_column() {
    let path = fixture("truncated.json");
    let err = load_file(&path, &no_opts()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImportError::Syntax { .. }), "{msg}");
    assert!(msg.starts_with(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("truncated.json: line 61, column 66: EOF while parsing a string"),
        "{msg}"
    );
    assert!(msg.contains("the file looks truncated"), "{msg}");
}

#[test]
fn json_nested_too_deep_says_what_the_limit_is() {
    let deep = format!(
        "{{\"results\": [{{\"check_id\": \"r\", \"path\": \"a\", \"extra\": {{\"metadata\": {}{}}}}}]}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let err = load_str("deep.json", &deep, &no_opts()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("nested more than 128 levels deep"), "{msg}");
    assert!(!msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn a_repo_root_holding_none_of_the_scanned_files_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImportOptions {
        repo_root: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let scan = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
    assert_eq!(scan.findings.len(), 4, "the import goes on");
    assert_eq!(scan.warnings.len(), 1);
    assert!(
        scan.warnings[0].contains("none of the scanned files is under it"),
        "{:?}",
        scan.warnings
    );
    let (_dir, root) = webapp_tree("");
    let opts = ImportOptions {
        repo_root: Some(root),
        ..Default::default()
    };
    let scan = one(load_file(&fixture("semgrep_logged_out.json"), &opts).unwrap());
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
}

#[test]
fn the_rules_own_fix_is_kept_and_stored() {
    let mut doc: Value = serde_json::from_str(&fixture_text("semgrep_logged_out.json")).unwrap();
    doc["results"][0]["extra"]["fix"] = "subprocess.call(cmd, shell=False)".into();
    let scan = one(load_str("fix.json", &doc.to_string(), &no_opts()).unwrap());
    assert_eq!(
        scan.findings[0].rule_fix.as_deref(),
        Some("subprocess.call(cmd, shell=False)")
    );
    assert_eq!(scan.findings[1].rule_fix, None);
    let mut store = Store::in_memory().unwrap();
    store.import(&[scan]).unwrap();
    let stored = store.load_findings(&[1]).unwrap().remove(0);
    assert_eq!(
        stored.rule_fix.as_deref(),
        Some("subprocess.call(cmd, shell=False)")
    );
}

#[test]
fn a_wrong_type_names_the_field() {
    let err = load_file(&fixture("wrong_type.json"), &no_opts()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("wrong_type.json: line 64, column 19:"),
        "{msg}"
    );
    assert!(
        msg.contains("results[1].start.line: expected a number, found string \"7\""),
        "{msg}"
    );

    let err = load_str("scan.json", "{\n  \"results\": {\"a\": 1}\n}", &no_opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "scan.json: line 2, column 14: results: expected an array, found an object"
    );

    let err = load_str(
        "scan.json",
        r#"{"results": [{"check_id": "r", "start": {"line": 1}}]}"#,
        &no_opts(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("results[0]: missing field `path`"),
        "{err}"
    );

    let err = load_str(
        "scan.sarif",
        r#"{"runs": [{"results": [{"ruleId": 5}]}]}"#,
        &no_opts(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("runs[0].results[0].ruleId: expected a string, found number `5`"),
        "{err}"
    );

    let err = load_str("dump.json", r#"{"findings": [{"id": "abc"}]}"#, &no_opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("findings[0]: id 'abc' is not a number"),
        "{err}"
    );

    let err = load_str("dump.json", r#"{"findings": {"id": 1}}"#, &no_opts()).unwrap_err();
    assert!(
        err.to_string().contains("findings: expected an array"),
        "{err}"
    );
}

#[test]
fn unknown_formats_are_refused() {
    let err = load_file(&fixture("unknown.json"), &no_opts()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImportError::UnknownFormat { .. }));
    assert!(
        msg.contains("unknown.json: not semgrep JSON, SARIF or a Semgrep API findings dump"),
        "{msg}"
    );
    assert!(msg.contains("\"paths\""), "the keys it has: {msg}");

    for (text, says) in [
        ("[1, 2]", "an array"),
        ("", "empty"),
        ("  \n", "empty"),
        ("{}", "empty object"),
    ] {
        let msg = load_str("x.json", text, &no_opts())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("not semgrep JSON") && msg.contains(says),
            "{text:?}: {msg}"
        );
    }
    let msg = load_str("x.txt", "hello", &no_opts())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("x.txt: line 1, column 1:") && msg.contains("not valid JSON"),
        "{msg}"
    );
}

#[test]
fn unreadable_files_and_roots_are_reported() {
    let err = load_file(Path::new("/nonexistent/results.json"), &no_opts()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/results.json: cannot read the file"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("latin1.json");
    std::fs::write(&bad, b"{\"results\": [],\n \"x\": \"caf\xe9\"}").unwrap();
    let msg = load_file(&bad, &no_opts()).unwrap_err().to_string();
    assert!(
        msg.contains("latin1.json: line 2, column 11: the file is not UTF-8 text"),
        "{msg}"
    );

    let opts = ImportOptions {
        repo_root: Some(dir.path().join("nope")),
        ..Default::default()
    };
    let msg = load_file(&fixture("semgrep_logged_in.json"), &opts)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("--repo-root") && msg.contains("nope"), "{msg}");
}
