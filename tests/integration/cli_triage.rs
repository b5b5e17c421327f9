//! `sift triage` and `sift sync` as a script runs them: the built binary on a
//! demo store.

use serde_json::Value;
use sift::domain::{TriageChange, TriageState};
use sift::store::Store;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

fn sift(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sift"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("USER", "carol")
        .env_remove("SIFT_CONFIG")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        // The console's log (if one ran) stays in the test's directory.
        .env("XDG_STATE_HOME", dir.join("state"))
        .output()
        .unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn demo() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = sift(&data, &["demo", "--seed-only"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

fn data(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("data")
}

/// Findings of a view, by `sift findings --json`.
fn findings(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["findings", "--json"];
    all.extend(args);
    let out = sift(dir, &all);
    assert_eq!(code(&out), 0);
    json(&out)["findings"].as_array().unwrap().clone()
}

fn first_id(dir: &Path, args: &[&str]) -> i64 {
    findings(dir, args)[0]["id"].as_i64().unwrap()
}

#[test]
fn accepting_a_false_positive_ignores_it_at_the_backend() {
    let dir = demo();
    let d = data(&dir);
    let id = first_id(&d, &["--view", "needs-review", "--verdict", "fp"]);

    let out = sift(&d, &["triage", &id.to_string(), "--accept", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["recorded"], 1);
    assert_eq!(report["acknowledged"], 1);
    assert_eq!(report["pending"], 0);
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["decisions"][0]["id"], id);
    assert_eq!(report["decisions"][0]["new_triage_state"], "ignored");
    assert_eq!(
        report["decisions"][0]["new_triage_reason"],
        "false_positive"
    );

    let ignored = findings(&d, &["--view", "ignored"]);
    let f = ignored
        .iter()
        .find(|f| f["id"] == id)
        .expect("in the ignored view");
    assert_eq!(f["triage_reason"], "false_positive");
    let note = f["triage_comment"].as_str().unwrap();
    assert!(note.starts_with("Agreed with Assistant"), "{note}");
    let store = Store::open(&d).unwrap();
    assert_eq!(
        store.pending_count().unwrap(),
        0,
        "acknowledged: outbox empty"
    );
    let activity = store.load_finding(id).unwrap().unwrap().activity;
    assert_eq!(activity.iter().filter(|a| a.actor == "carol").count(), 1);
}

#[test]
fn nothing_is_recorded_when_a_decision_makes_no_sense() {
    let dir = demo();
    let d = data(&dir);
    let fp = first_id(&d, &["--view", "needs-review", "--verdict", "fp"]);
    let unanalysed = first_id(
        &d,
        &["--view", "all", "--verdict", "none", "--status", "open"],
    );

    let out = sift(&d, &["triage", &fp.to_string(), "999999", "--accept"]);
    assert_eq!(code(&out), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("999999: no finding has this id"), "{err}");
    assert!(err.contains("nothing was recorded"), "{err}");

    let out = sift(
        &d,
        &["triage", &unanalysed.to_string(), "--accept", "--json"],
    );
    assert_eq!(code(&out), 3);
    let report = json(&out);
    assert_eq!(report["recorded"], 0);
    assert_eq!(report["refused"][0]["id"], unanalysed);
    assert_eq!(
        report["refused"][0]["why"],
        "Assistant gave no verdict to accept"
    );

    let store = Store::open(&d).unwrap();
    assert_eq!(store.pending_count().unwrap(), 0);
    let f = store.load_finding(fp).unwrap().unwrap();
    assert!(
        !f.activity.iter().any(|a| a.actor == "carol"),
        "not decided"
    );
}

#[test]
fn states_reasons_and_notes_by_hand() {
    let dir = demo();
    let d = data(&dir);
    let tp = first_id(&d, &["--view", "needs-review", "--verdict", "tp"]);
    let out = sift(&d, &["triage", &tp.to_string(), "--reject"]);
    assert_eq!(code(&out), 3, "a true positive is rejected with a comment");
    let out = sift(
        &d,
        &[
            "triage",
            &tp.to_string(),
            "--reject",
            "--reason",
            "acceptable_risk",
            "--note",
            "internal tool, no user input",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let f = &findings(&d, &["--view", "ignored"])
        .into_iter()
        .find(|f| f["id"] == tp)
        .unwrap();
    assert_eq!(f["triage_reason"], "acceptable_risk");
    assert_eq!(f["triage_comment"], "internal tool, no user input");

    let out = sift(&d, &["triage", &tp.to_string(), "--state", "to-fix"]);
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("to fix\tacknowledged"));
    assert!(
        findings(&d, &["--view", "to-fix"])
            .iter()
            .any(|f| f["id"] == tp)
    );
    let out = sift(
        &d,
        &[
            "triage",
            &tp.to_string(),
            "--state",
            "reviewing",
            "--reason",
            "no_time",
        ],
    );
    assert_eq!(code(&out), 2, "a reason only goes with ignored");
}

#[test]
fn decisions_left_in_the_outbox_are_delivered_once_by_sync() {
    let dir = demo();
    let d = data(&dir);
    let ids: Vec<i64> = findings(&d, &["--view", "pre-production"])
        .iter()
        .filter(|f| f["status"] == "open")
        .take(3)
        .map(|f| f["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    // A console killed after recording and before sending: the decisions
    // are in the outbox, nothing reached the backend.
    {
        let store = Store::open(&d).unwrap();
        let change = TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: Some("looking into it".into()),
        };
        let decisions: Vec<_> = ids.iter().map(|id| (*id, change.clone())).collect();
        store.record(&decisions, "dave").unwrap();
    }
    assert_eq!(Store::open(&d).unwrap().pending_count().unwrap(), 3);

    let out = sift(&d, &["sync", "--json"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report = json(&out);
    assert_eq!(report["acknowledged"], 3);
    assert_eq!(report["pending"], 0);
    assert_eq!(report["rejected"], serde_json::json!([]));
    assert_eq!(report["offline_reason"], Value::Null);

    let out = sift(&d, &["sync"]);
    assert_eq!(code(&out), 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "nothing to send\n");

    let store = Store::open(&d).unwrap();
    for id in ids {
        let f = store.load_finding(id).unwrap().unwrap();
        assert_eq!(f.triage_state, TriageState::Reviewing);
        let entries: Vec<_> = f.activity.iter().filter(|a| a.actor == "dave").collect();
        assert_eq!(entries.len(), 1, "finding {id}: delivered once");
        assert!(!entries[0].pending);
    }
}

#[test]
fn rejected_decisions_are_listed_until_dealt_with() {
    let dir = demo();
    let d = data(&dir);
    let id = first_id(&d, &["--view", "needs-review"]);
    {
        let store = Store::open(&d).unwrap();
        let change = TriageChange {
            state: Some(TriageState::Fixing),
            reason: None,
            note: None,
        };
        let outbox = store.record(&[(id, change)], "erin").unwrap();
        store
            .mark_rejected(&outbox, "the backend answered 400: \u{1b}[31mno")
            .unwrap();
    }
    let out = sift(&d, &["sync"]);
    assert_eq!(code(&out), 5);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&format!(
            "{id}\tto fix\trejected: the backend answered 400: ␛[31mno"
        )),
        "listed, with the backend's text made inert: {listed}"
    );
    let out = sift(&d, &["sync", "--json"]);
    assert_eq!(code(&out), 5);
    assert_eq!(json(&out)["rejected"][0]["id"], id);

    let out = sift(&d, &["sync", "--retry-rejected"]);
    assert_eq!(code(&out), 0, "sent again, and this backend takes it");
    assert_eq!(Store::open(&d).unwrap().pending_count().unwrap(), 0);

    {
        let store = Store::open(&d).unwrap();
        let change = TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: None,
        };
        let outbox = store.record(&[(id, change)], "erin").unwrap();
        store.mark_rejected(&outbox, "no").unwrap();
    }
    let out = sift(&d, &["sync", "--drop-rejected", "--json"]);
    assert_eq!(code(&out), 0);
    assert_eq!(json(&out)["dropped"][0]["new_triage_state"], "reviewing");
    let f = Store::open(&d).unwrap().load_finding(id).unwrap().unwrap();
    assert_eq!(
        f.triage_state,
        TriageState::Fixing,
        "given up on: not applied"
    );
}

/// `--offline` means nothing is sent, `sift sync` included: it says what
/// waits and exits 4, or 0 when nothing does.
#[test]
fn offline_sync_sends_nothing_and_says_what_waits() {
    let dir = demo();
    let d = data(&dir);
    let id = first_id(&d, &["--view", "needs-review"]);
    let out = sift(
        &d,
        &[
            "--offline",
            "triage",
            &id.to_string(),
            "--state",
            "reviewing",
        ],
    );
    assert_eq!(code(&out), 4);
    let out = sift(
        &d,
        &["--offline", "memories", "add", "--text", "kept for later"],
    );
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stderr));
    let waiting = |d: &Path| {
        let store = Store::open(d).unwrap();
        (
            store.decisions_waiting().unwrap(),
            store.memory_changes_waiting().unwrap(),
        )
    };
    let before = Store::open(&d).unwrap().load_finding(id).unwrap().unwrap();

    let out = sift(&d, &["--offline", "sync"]);
    assert_eq!(code(&out), 4, "something waits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "sift: 1 decision and 1 memory change are not sent yet: sift ran with --offline."
        ),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(waiting(&d), (1, 1), "nothing was sent");
    let after = Store::open(&d).unwrap().load_finding(id).unwrap().unwrap();
    assert_eq!(after.triage_state, before.triage_state, "not applied");

    let out = sift(&d, &["--offline", "sync", "--json"]);
    assert_eq!(code(&out), 4);
    let report = json(&out);
    assert_eq!(report["offline_reason"], "sift ran with --offline");
    assert_eq!(report["acknowledged"], 0);
    assert_eq!(report["pending"], 1);
    assert_eq!(report["memory_changes_acknowledged"], 0);
    assert_eq!(report["memory_changes_pending"], 1);
    assert_eq!(waiting(&d), (1, 1), "nothing was sent");

    // Online, it goes; then offline there is nothing to wait for.
    let out = sift(&d, &["sync"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(waiting(&d), (0, 0));
    let out = sift(&d, &["--offline", "sync"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "nothing to send\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let out = sift(&d, &["--offline", "sync", "--json"]);
    assert_eq!(code(&out), 0);
    let report = json(&out);
    assert_eq!(report["offline_reason"], "sift ran with --offline");
    assert_eq!(report["pending"], 0);
    assert_eq!(report["memory_changes_pending"], 0);
}

#[test]
fn four_scripts_deciding_at_once_on_one_store_lose_nothing() {
    let d = demo();
    let data = data(&d);
    // Undecided findings on the primary branches, a batch for each script;
    // copies on other refs are left out, so every decision is its own.
    let open: Vec<i64> = findings(&data, &["--view", "production"])
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .take(40)
        .collect();
    assert_eq!(open.len(), 40);
    let scripts: Vec<_> = open
        .chunks(10)
        .enumerate()
        .map(|(n, ids)| {
            let data = data.clone();
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            std::thread::spawn(move || {
                // Each script decides its findings one at a time, as a loop
                // in a shell would.
                let mut codes = Vec::new();
                for id in &ids {
                    let note = format!("script {n}");
                    let out = sift(
                        &data,
                        &[
                            "triage",
                            id,
                            "--state",
                            "reviewing",
                            "--note",
                            &note,
                            "--json",
                        ],
                    );
                    codes.push((code(&out), json(&out)["acknowledged"].clone()));
                }
                codes
            })
        })
        .collect();
    for s in scripts {
        for (code, acknowledged) in s.join().unwrap() {
            assert_eq!(code, 0, "every decision acknowledged at once");
            assert_eq!(acknowledged, 1);
        }
    }
    let store = Store::open(&data).unwrap();
    assert_eq!(store.pending_count().unwrap(), 0);
    for (i, id) in open.iter().enumerate() {
        let f = store.load_finding(*id).unwrap().unwrap();
        assert_eq!(f.triage_state, TriageState::Reviewing, "finding {id}");
        assert_eq!(
            f.triage_comment.as_deref(),
            Some(format!("script {}", i / 10).as_str()),
            "finding {id} kept its own script's note"
        );
    }
}
