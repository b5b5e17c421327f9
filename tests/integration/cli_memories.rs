//! `sift memories` and the memory part of `sift sync` as a script runs them:
//! the built binary on a demo store, and against `sift serve`.

use crate::common;

use serde_json::Value;
use sift::domain::{MemoryChange, RuleScope, Status, TriageReason};
use sift::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tempfile::TempDir;

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("USER", "carol")
        .env("HOME", dir)
        .env_remove("SIFT_CONFIG")
        .env_remove("SIFT_BACKEND")
        .env_remove("SIFT_PROFILE")
        .env_remove("SEMGREP_APP_TOKEN")
        .env_remove("SEMGREP_URL")
        .env_remove("SEMGREP_APP_URL")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .env("XDG_STATE_HOME", dir.join("state"));
    cmd
}

fn sift(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// A demo backlog in `<tempdir>/data`.
fn demo() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = sift(&data, &["demo", "--seed-only"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    (dir, data)
}

const PROJECT: &str = "larkspur/ledger-api";
const RULE: &str = "python.django.security.injection.sql.sql-injection-db-cursor-execute";

fn all_findings(dir: &Path) -> Vec<Value> {
    let out = sift(dir, &["findings", "--view", "all", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json(&out)["findings"].as_array().unwrap().clone()
}

fn is_undecided(f: &Value) -> bool {
    matches!(
        f["status"].as_str(),
        Some("open") | Some("provisionally_ignored")
    )
}

/// The undecided findings of PROJECT (and RULE, if `rule`), by id.
fn undecided_ids(dir: &Path, rule: bool) -> Vec<i64> {
    let mut ids: Vec<i64> = all_findings(dir)
        .iter()
        .filter(|f| f["repository"]["name"] == PROJECT)
        .filter(|f| !rule || f["rule_name"] == RULE)
        .filter(|f| is_undecided(f))
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn memory_count(dir: &Path) -> usize {
    Store::open(dir).unwrap().memories().unwrap().len()
}

fn outbox_empty(dir: &Path) {
    let store = Store::open(dir).unwrap();
    assert_eq!(
        store.memory_changes().unwrap(),
        vec![],
        "memory outbox empty"
    );
    assert_eq!(store.pending_count().unwrap(), 0, "decision outbox empty");
}

fn listed(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["memories", "list", "--json"];
    all.extend(args);
    let out = sift(dir, &all);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    json(&out)["memories"].as_array().unwrap().clone()
}

#[test]
fn add_list_edit_and_remove_reach_the_embedded_backend() {
    let (_tmp, d) = demo();
    let before = memory_count(&d);
    let in_scope = undecided_ids(&d, true).len();
    assert!(in_scope > 0, "the demo has undecided findings for the rule");

    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "ConfigService is an internal backend service",
            "--project",
            PROJECT,
            "--rule",
            RULE,
            "--path-prefix",
            "ledger/",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let added = json(&out);
    assert_eq!(added["result"], "acknowledged");
    assert_eq!(added["error"], Value::Null);
    assert_eq!(added["ignored"], serde_json::json!([]), "no --apply");
    let m = &added["memory"];
    let id = m["id"].as_str().unwrap().to_string();
    assert_eq!(m["stage"], "live");
    assert_eq!(m["kind"], "triage");
    assert_eq!(m["pending"], false);
    assert_eq!(m["author"], "carol");
    assert_eq!(m["scope"]["projects"], serde_json::json!([PROJECT]));
    assert_eq!(m["scope"]["all_projects"], false);
    assert_eq!(m["scope"]["rules"], serde_json::json!([RULE]));
    assert_eq!(m["scope"]["all_rules"], false);
    assert_eq!(m["scope"]["class"], Value::Null);
    assert_eq!(m["scope"]["path_prefixes"], serde_json::json!(["ledger/"]));
    assert!(m["undecided_in_scope"].as_u64().is_some());

    // The backend (the store) has it; nothing waits.
    outbox_empty(&d);
    let stored = Store::open(&d).unwrap().memories().unwrap();
    assert_eq!(stored.len(), before + 1);
    let s = stored.iter().find(|s| s.id == id).expect("stored");
    assert_eq!(s.scope.projects, vec![PROJECT.to_string()]);
    assert_eq!(s.scope.rules, RuleScope::Rules(vec![RULE.to_string()]));
    assert_eq!(s.created_by, "carol");

    // Listed, and found by the project and rule it covers.
    assert!(listed(&d, &[]).iter().any(|m| m["id"] == id.as_str()));
    assert!(
        listed(&d, &["--project", PROJECT, "--rule", RULE])
            .iter()
            .any(|m| m["id"] == id.as_str())
    );
    let other_project = listed(&d, &["--project", "larkspur/merchant-dashboard"]);
    assert!(!other_project.iter().any(|m| m["id"] == id.as_str()));
    assert!(
        other_project
            .iter()
            .all(|m| m["scope"]["all_projects"] == true
                || m["scope"]["projects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == "larkspur/merchant-dashboard")),
        "only memories covering the project: {other_project:?}"
    );
    // A class covers the rules of that class (named in any case).
    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "c",
            "--class",
            "sql injection",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let class_memory = json(&out)["memory"].clone();
    assert_eq!(
        class_memory["scope"]["class"], "SQL Injection",
        "as the rules spell it"
    );
    assert_eq!(class_memory["scope"]["all_projects"], true);
    let by_rule = |rule: &str| -> Vec<Value> { listed(&d, &["--rule", rule]) };
    assert!(by_rule(RULE).iter().any(|m| m["id"] == class_memory["id"]));
    assert!(
        !by_rule("python.django.security.audit.csrf-exempt.no-csrf-exempt")
            .iter()
            .any(|m| m["id"] == class_memory["id"])
    );
    let out = sift(
        &d,
        &["memories", "rm", class_memory["id"].as_str().unwrap()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Edit: text and projects; the rest stays.
    let out = sift(
        &d,
        &[
            "memories",
            "edit",
            &id,
            "--text",
            "ConfigService is internal",
            "--all-projects",
            "--no-path-prefixes",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let edited = json(&out);
    assert_eq!(edited["result"], "acknowledged");
    assert_eq!(edited["memory"]["id"], id.as_str());
    assert_eq!(edited["memory"]["text"], "ConfigService is internal");
    assert_eq!(edited["memory"]["scope"]["all_projects"], true);
    assert_eq!(
        edited["memory"]["scope"]["rules"],
        serde_json::json!([RULE])
    );
    let rule_everywhere = all_findings(&d)
        .iter()
        .filter(|f| f["rule_name"] == RULE && is_undecided(f))
        .count();
    assert_eq!(
        edited["undecided_in_scope"]["now"].as_u64().unwrap() as usize,
        rule_everywhere
    );
    outbox_empty(&d);
    let stored = Store::open(&d).unwrap().memories().unwrap();
    let after = stored.iter().find(|m| m.id == id).unwrap();
    assert_eq!(after.content, "ConfigService is internal");
    assert!(after.scope.projects.is_empty());
    assert!(after.scope.path_prefixes.is_empty());
    assert_eq!(after.created_by, s.created_by);
    assert_eq!(after.created_at, s.created_at);
    assert!(after.updated_at >= s.updated_at);

    // Text output of edit says what changes in scope.
    let out = sift(&d, &["memories", "edit", &id, "--project", PROJECT]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("{id}\tupdated\tacknowledged\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "in scope: {rule_everywhere} undecided findings before, {in_scope} now"
        )),
        "{text}"
    );

    // Remove.
    let out = sift(&d, &["memories", "rm", &id, "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let removed = json(&out);
    assert_eq!(removed["id"], id.as_str());
    assert_eq!(removed["result"], "acknowledged");
    assert_eq!(
        removed["undecided_in_scope"].as_u64().unwrap() as usize,
        in_scope
    );
    outbox_empty(&d);
    assert_eq!(memory_count(&d), before);
    assert!(!listed(&d, &[]).iter().any(|m| m["id"] == id.as_str()));
}

#[test]
fn apply_ignores_exactly_the_undecided_findings_in_scope() {
    let (_tmp, d) = demo();
    let expected = undecided_ids(&d, false);
    assert!(expected.len() > 1);
    let untouched: Vec<Value> = all_findings(&d)
        .into_iter()
        .filter(|f| !expected.contains(&f["id"].as_i64().unwrap()))
        .collect();

    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "The ledger API only runs behind the VPN",
            "--project",
            PROJECT,
            "--apply",
            "--reason",
            "Acceptable risk",
            "--json",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let added = json(&out);
    assert_eq!(common::sorted_ids(&added["ignored"]), expected);
    assert_eq!(
        added["decisions"]["acknowledged"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert_eq!(added["memory"]["undecided_in_scope"], 0, "all decided now");
    outbox_empty(&d);

    let store = Store::open(&d).unwrap();
    for id in &expected {
        let f = store.load_finding(*id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Ignored, "finding {id}");
        assert_eq!(f.triage_reason, Some(TriageReason::AcceptableRisk));
        let note = f.triage_comment.as_deref().unwrap_or("");
        assert_eq!(
            note, "Ignored under the memory \"The ledger API only runs behind the VPN\"",
            "finding {id}"
        );
    }
    // Nothing outside the scope changed.
    let now = all_findings(&d);
    for f in untouched {
        let g = now.iter().find(|g| g["id"] == f["id"]).unwrap();
        assert_eq!(f["status"], g["status"], "finding {}", f["id"]);
        assert_eq!(f["triage_comment"], g["triage_comment"]);
    }

    // Text output names the memory and counts the findings.
    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "again",
            "--project",
            PROJECT,
            "--apply",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let first: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert!(first[0].starts_with("mem-"), "{text}");
    assert_eq!(&first[1..], ["created", "acknowledged"]);
    assert_eq!(
        lines.next(),
        Some("ignored 0 undecided findings in its scope: 0 acknowledged")
    );
}

#[test]
fn a_dry_run_says_what_apply_would_ignore_and_records_nothing() {
    let (_tmp, d) = demo();
    let expected = undecided_ids(&d, false);
    let before = all_findings(&d);
    let memories = memory_count(&d);
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "memories",
            "add",
            "--text",
            "The ledger API only runs behind the VPN",
            "--project",
            PROJECT,
            "--apply",
        ];
        args.extend(extra);
        args
    };
    let out = sift(&d, &args(&["--dry-run", "--json"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let said = json(&out);
    assert_eq!(said["dry_run"], true);
    assert_eq!(said["reason"], "false_positive");
    let would = common::sorted_ids(&said["would_ignore"]);
    assert_eq!(would, expected);
    assert_eq!(
        said["by_project"],
        serde_json::json!({ PROJECT: expected.len() })
    );
    let by_rule: u64 = said["by_rule"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_rule as usize, expected.len());
    // The project's other findings are skipped, counted by status.
    let mut decided = std::collections::BTreeMap::new();
    for f in before.iter().filter(|f| f["repository"]["name"] == PROJECT) {
        if !is_undecided(f) {
            *decided
                .entry(f["status"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    assert!(!decided.is_empty(), "the demo has decided findings");
    assert_eq!(said["skipped"], serde_json::json!(decided));

    let out = sift(&d, &args(&["--dry-run", "--reason", "no_time"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "would create the memory ({PROJECT} × all rules) and ignore {} undecided findings \
             in its scope as no time:",
            expected.len()
        )
    );
    assert_eq!(lines[1], format!("  project {PROJECT}: {}", expected.len()));
    assert!(lines.iter().any(|l| l.starts_with("  rule ")), "{text}");
    let skipped: usize = decided.values().sum();
    let each: Vec<String> = decided
        .iter()
        .map(|(status, n)| format!("{n} {}", status.replace('_', " ")))
        .collect();
    let said = format!(
        "skipped {skipped} findings in its scope, decided already: {}",
        each.join(", ")
    );
    assert!(lines.contains(&said.as_str()), "{said}\n{text}");
    assert_eq!(lines.last(), Some(&"nothing was recorded (--dry-run)"));

    // Nothing changed; the real run ignores exactly what was said.
    assert_eq!(memory_count(&d), memories);
    outbox_empty(&d);
    assert_eq!(all_findings(&d), before);
    let out = sift(&d, &args(&["--json"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(common::sorted_ids(&json(&out)["ignored"]), would);

    // --dry-run is for --apply.
    let out = sift(&d, &["memories", "add", "--text", "t", "--dry-run"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn offline_leaves_the_memory_pending_until_sync() {
    let (_tmp, d) = demo();
    let before = memory_count(&d);
    let expected = undecided_ids(&d, true);
    let out = sift(
        &d,
        &[
            "--offline",
            "memories",
            "add",
            "--text",
            "later",
            "--project",
            PROJECT,
            "--rule",
            RULE,
            "--apply",
            "--json",
        ],
    );
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let added = json(&out);
    assert_eq!(added["result"], "pending");
    assert_eq!(added["memory"]["pending"], true);
    assert_eq!(
        added["decisions"]["pending"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert!(added["error"].as_str().unwrap().contains("--offline"));
    let id = added["memory"]["id"].as_str().unwrap().to_string();
    {
        let store = Store::open(&d).unwrap();
        let changes = store.memory_changes().unwrap();
        assert_eq!(changes.len(), 1);
        assert!(matches!(&changes[0].change, MemoryChange::Create(m) if m.id == id));
        assert_eq!(changes[0].actor, "carol");
        assert_eq!(store.memories().unwrap().len(), before, "not sent");
        assert_eq!(store.pending_count().unwrap(), expected.len());
    }
    // The reviewer sees it, marked pending.
    let out = sift(&d, &["memories", "list"]);
    assert!(
        stdout(&out).contains(&format!("{id}\tlive\ttriage\tpending\n")),
        "{}",
        stdout(&out)
    );

    let out = sift(&d, &["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["memory_changes_acknowledged"], 1);
    assert_eq!(report["memory_changes_pending"], 0);
    assert_eq!(
        report["acknowledged"].as_u64().unwrap() as usize,
        expected.len()
    );
    assert_eq!(report["rejected_memory_changes"], serde_json::json!([]));
    outbox_empty(&d);
    let stored = Store::open(&d).unwrap().memories().unwrap();
    assert!(stored.iter().any(|m| m.id == id));

    // An edit and a removal made offline wait too, then go in order.
    let out = sift(&d, &["--offline", "memories", "edit", &id, "--text", "b"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let out = sift(&d, &["--offline", "memories", "rm", &id]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("not sent yet"), "{}", stderr(&out));
    let out = sift(&d, &["sync"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "sent 2 memory changes\n");
    outbox_empty(&d);
    assert_eq!(memory_count(&d), before);
}

#[test]
fn unknown_names_and_ids_record_nothing() {
    let (_tmp, d) = demo();
    let before = memory_count(&d);
    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "t",
            "--project",
            "acme/nope",
            "--rule",
            "no.such.rule",
            "--apply",
        ],
    );
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(
        err.contains("no project is named \"acme/nope\"; the store has: "),
        "{err}"
    );
    assert!(
        err.contains("no rule has the id \"no.such.rule\"; the store has: "),
        "{err}"
    );
    assert!(err.contains("nothing was recorded"), "{err}");

    let out = sift(&d, &["memories", "add", "--text", "", "--json"]);
    assert_eq!(code(&out), 3);
    assert_eq!(json(&out)["error"], "the memory needs a text");

    let out = sift(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "t",
            "--rule",
            RULE,
            "--class",
            "SQL Injection",
        ],
    );
    assert_eq!(code(&out), 2, "--rule and --class conflict");

    for args in [
        &["memories", "edit", "mem-nope", "--text", "x"][..],
        &["memories", "rm", "mem-nope"][..],
    ] {
        let out = sift(&d, args);
        assert_eq!(code(&out), 3, "{args:?}");
        assert!(stderr(&out).contains("no memory has the id mem-nope"));
    }
    let out = sift(
        &d,
        &[
            "memories",
            "edit",
            "mem-ledger-sanitize-sql",
            "--rule",
            "x.y",
        ],
    );
    assert_eq!(code(&out), 3);
    let out = sift(&d, &["memories", "edit", "mem-ledger-sanitize-sql"]);
    assert_eq!(code(&out), 2, "nothing to change");

    let store = Store::open(&d).unwrap();
    assert_eq!(store.memory_changes().unwrap(), vec![]);
    assert_eq!(store.pending_count().unwrap(), 0);
    assert_eq!(store.memories().unwrap().len(), before);
}

#[test]
fn hostile_text_is_inert_in_the_list() {
    let (_tmp, d) = demo();
    let hostile = "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\u{1b}[31mred\u{202e}evil\r\nline two";
    // From stdin, as a script pipes it.
    let mut child = command(
        &d,
        &[
            "memories",
            "add",
            "--text",
            "-",
            "--project",
            PROJECT,
            "--json",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{hostile}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // Refused, as over HTTP and in the console: one set of rules.
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        json(&out)["error"]
            .as_str()
            .unwrap()
            .contains("control character"),
        "{}",
        stdout(&out)
    );
    assert!(
        Store::open(&d)
            .unwrap()
            .memory_changes()
            .unwrap()
            .is_empty()
    );
    // A memory that arrives from a backend anyway is shown inert.
    {
        let store = Store::open(&d).unwrap();
        let mut m = sift::domain::Memory::new(
            hostile.into(),
            sift::domain::Scope {
                projects: vec![PROJECT.into()],
                rules: RuleScope::All,
                path_prefixes: vec![],
            },
            false,
            "mallory",
        );
        m.id = "mem-hostile".into();
        store.put_memory(&m).unwrap();
    }
    let out = sift(&d, &["memories", "list", "--project", PROJECT]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    assert!(!text.contains('\u{1b}'), "no escape reaches the terminal");
    assert!(!text.contains('\u{7}') && !text.contains('\r') && !text.contains('\u{202e}'));
    assert!(text.contains("␛]52;c;cm0gLXJmIH4="), "{text}");
    assert!(text.contains("<U+202E>evil"), "{text}");
    assert!(text.contains("\n        line two\n"), "{text}");
}

#[test]
fn sync_lists_rejected_memory_changes_until_dealt_with() {
    let (_tmp, d) = demo();
    let out = sift(
        &d,
        &[
            "--offline",
            "memories",
            "add",
            "--text",
            "x",
            "--project",
            PROJECT,
            "--json",
        ],
    );
    assert_eq!(code(&out), 4);
    let id = json(&out)["memory"]["id"].as_str().unwrap().to_string();
    {
        let store = Store::open(&d).unwrap();
        let change = store.memory_changes().unwrap()[0].id;
        store
            .mark_memory_rejected(change, "the backend answered 400: \u{1b}[31mno")
            .unwrap();
    }
    let out = sift(&d, &["sync"]);
    assert_eq!(code(&out), 5);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "{id}\tcreate memory\trejected: the backend answered 400: ␛[31mno"
        )),
        "{text}"
    );
    assert!(
        stderr(&out).contains("rejected 1 memory change"),
        "{}",
        stderr(&out)
    );
    let out = sift(&d, &["sync", "--json"]);
    assert_eq!(code(&out), 5);
    let report = json(&out);
    let rejected = &report["rejected_memory_changes"][0];
    assert_eq!(rejected["op"], "create");
    assert_eq!(rejected["memory_id"], id.as_str());
    assert_eq!(
        rejected["message"],
        "the backend answered 400: \u{1b}[31mno"
    );

    let out = sift(&d, &["sync", "--retry-rejected"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "sent 1 memory change\n");
    outbox_empty(&d);

    let out = sift(&d, &["--offline", "memories", "rm", &id]);
    assert_eq!(code(&out), 4);
    {
        let store = Store::open(&d).unwrap();
        let change = store.memory_changes().unwrap()[0].id;
        store.mark_memory_rejected(change, "no").unwrap();
    }
    let out = sift(&d, &["sync", "--drop-rejected", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["dropped_memory_changes"][0]["op"], "delete");
    outbox_empty(&d);
    assert!(
        Store::open(&d)
            .unwrap()
            .memories()
            .unwrap()
            .iter()
            .any(|m| m.id == id),
        "given up on: the memory stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_added_through_the_api_lands_in_the_servers_store() {
    let served = common::standard_backlog();
    let server = common::TestServer::start(served.path()).await;
    let client = tempfile::tempdir().unwrap();
    let url = server.base.clone();
    let data = client.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        sift(
            &data,
            &[
                "--url",
                &url,
                "memories",
                "add",
                "--text",
                "rule.a is noise in the api",
                "--project",
                "acme/api",
                "--rule",
                "rule.a",
                "--path-prefix",
                "src/",
                "--apply",
                "--json",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let added = json(&out);
    assert_eq!(added["result"], "acknowledged");
    let id = added["memory"]["id"].as_str().unwrap().to_string();
    // acme/api holds every fifth finding and rule.a the even ones: 10, 20,
    // …, 240, and 1010, the twin of 10 on a pull request.
    let mut ignored: Vec<i64> = added["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    ignored.sort();
    assert_eq!(ignored.len(), 25, "{ignored:?}");
    assert!(ignored.iter().all(|i| i % 10 == 0), "{ignored:?}");

    let store = Store::open(served.path()).unwrap();
    let stored = store.memories().unwrap();
    let m = stored.iter().find(|m| m.id == id).expect("on the server");
    assert_eq!(m.content, "rule.a is noise in the api");
    assert_eq!(m.scope.projects, vec!["acme/api".to_string()]);
    assert_eq!(m.scope.rules, RuleScope::Rules(vec!["rule.a".into()]));
    assert_eq!(m.scope.path_prefixes, vec!["src/".to_string()]);
    for id in ignored {
        let f = store.load_finding(id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Ignored, "finding {id}");
    }
    server.stop().await;
}
