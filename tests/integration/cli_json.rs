//! The `--json` outputs are a script contract (README, "Commands"): field
//! names, nesting and order are pinned by snapshots of the built binary's
//! output on a small fixed backlog, timestamps and random ids redacted.

use crate::binary;

use binary::{Backlog, code, stderr, stdout};
use serde_json::Value;
use sift::domain::{TriageChange, TriageState};
use std::process::Output;

/// The output, checked to be one JSON document, with what changes from run
/// to run redacted: timestamps and generated memory ids.
fn snapshot_text(out: &Output) -> String {
    let text = stdout(out);
    let _: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}\n{}", stderr(out)));
    redact(&text)
}

fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = timestamp_len(rest) {
            out.push_str("[timestamp]");
            rest = &rest[len..];
        } else if let Some(len) = memory_id_len(rest) {
            out.push_str("[memory id]");
            rest = &rest[len..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// `2026-01-02T03:04:05Z` or `2026-01-02T03:04:05.123456Z` at the start.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let shape = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    (b.get(i) == Some(&b'Z')).then_some(i + 1)
}

/// `mem-` and 16 hex digits (a memory created by `sift memories add`).
fn memory_id_len(s: &str) -> Option<usize> {
    let hex = s.strip_prefix("mem-")?;
    let n = hex.bytes().take_while(u8::is_ascii_hexdigit).count();
    (n == 16).then_some(4 + n)
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

const SQL_RULE: &str = "python.lang.security.audit.formatted-sql-query.formatted-sql-query";
const SECRET_RULE: &str =
    "generic.secrets.security.detected-generic-api-key.detected-generic-api-key";

#[test]
fn redaction_keeps_everything_else() {
    assert_eq!(
        redact(
            r#"{"at": "2026-11-29T21:20:24.542907Z", "id": "mem-8da8eac6a790f84a", "n": "2026"}"#
        ),
        r#"{"at": "[timestamp]", "id": "[memory id]", "n": "2026"}"#
    );
    assert_eq!(redact("2024-08-01T10:00:00Z mem-x"), "[timestamp] mem-x");
}

#[test]
fn import_json() {
    let b = Backlog::empty();
    let out = b.ok(&["import", "api_dump.json", "--json"]);
    insta::assert_snapshot!("import", snapshot_text(&out));
    let out = b.ok(&[
        "import",
        "semgrep_logged_in.json",
        "--project",
        "shop",
        "--ref",
        "refs/pull/3/merge",
        "--json",
    ]);
    insta::assert_snapshot!("import_with_scanner_errors", snapshot_text(&out));
}

#[test]
fn findings_json() {
    let b = Backlog::new();
    let out = b.ok(&["findings", "--view", "all", "--json"]);
    insta::assert_snapshot!("findings", snapshot_text(&out));
    let out = b.ok(&["findings", "--project", "acme/api", "--json"]);
    assert_eq!(stdout(&out), "{\"findings\": [\n]}\n", "an empty selection");
}

#[test]
fn triage_json() {
    let b = Backlog::new();
    let out = b.ok(&["triage", "73537203", "--state", "reviewing", "--json"]);
    insta::assert_snapshot!("triage", snapshot_text(&out));

    let out = b.run(&[
        "triage", "73537202", "999", "1003", "--state", "fixing", "--json",
    ]);
    assert_eq!(code(&out), 3);
    insta::assert_snapshot!("triage_refused", snapshot_text(&out));

    let out = b.run(&[
        "--offline",
        "triage",
        "73537200",
        "--reject",
        "--note",
        "only in tests",
        "--json",
    ]);
    assert_eq!(code(&out), 4);
    insta::assert_snapshot!("triage_offline", snapshot_text(&out));

    // A decision the backend rejected, as `sync` reports it.
    let store = b.store();
    let change = TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(sift::domain::TriageReason::AcceptableRisk),
        note: Some("tests only".into()),
    };
    let outbox = store.record(&[(73537205, change)], "erin").unwrap();
    store
        .mark_rejected(&outbox, "the backend answered 400: no")
        .unwrap();
    drop(store);
    let out = b.run(&["triage", "73537204", "--note", "seen", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    insta::assert_snapshot!("triage_note_alongside_a_rejected_one", snapshot_text(&out));
}

#[test]
fn sync_json() {
    let b = Backlog::new();
    let out = b.ok(&["sync", "--json"]);
    insta::assert_snapshot!("sync_nothing", snapshot_text(&out));

    let out = b.run(&["--offline", "triage", "73537202", "--state", "fixing"]);
    assert_eq!(code(&out), 4);
    let out = b.run(&["--offline", "sync", "--json"]);
    assert_eq!(code(&out), 4, "it waits");
    insta::assert_snapshot!("sync_offline", snapshot_text(&out));
    let out = b.ok(&["sync", "--json"]);
    insta::assert_snapshot!("sync_sent", snapshot_text(&out));

    // Rejected decisions and memory changes, listed, then dropped.
    let out = b.run(&[
        "--offline",
        "memories",
        "add",
        "--text",
        "Keys in dev.env are fake",
        "--project",
        "shop",
    ]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let store = b.store();
    let change = TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(sift::domain::TriageReason::AcceptableRisk),
        note: Some("tests only".into()),
    };
    let outbox = store.record(&[(73537205, change)], "erin").unwrap();
    store
        .mark_rejected(&outbox, "the backend answered 400: no")
        .unwrap();
    let memory_change = store.memory_changes().unwrap()[0].id;
    store
        .mark_memory_rejected(memory_change, "the backend answered 400: not this one")
        .unwrap();
    drop(store);
    let out = b.run(&["sync", "--json"]);
    assert_eq!(code(&out), 5);
    insta::assert_snapshot!("sync_rejected", snapshot_text(&out));
    let out = b.ok(&["sync", "--drop-rejected", "--json"]);
    insta::assert_snapshot!("sync_dropped", snapshot_text(&out));
}

#[test]
fn memories_json() {
    let b = Backlog::new();
    let out = b.ok(&[
        "memories",
        "add",
        "--text",
        "Keys in dev.env files are placeholders",
        "--project",
        "shop",
        "--rule",
        SECRET_RULE,
        "--path-prefix",
        "config/",
        "--apply",
        "--json",
    ]);
    insta::assert_snapshot!("memories_add_apply", snapshot_text(&out));
    let id = json(&out)["memory"]["id"].as_str().unwrap().to_string();

    let out = b.ok(&[
        "memories",
        "add",
        "--text",
        "Prefer parameterized queries",
        "--class",
        "sql injection",
        "--guidance",
        "--suggested",
        "--json",
    ]);
    insta::assert_snapshot!("memories_add", snapshot_text(&out));

    // One memory each (two made in the same second list in either order).
    let out = b.ok(&["memories", "list", "--rule", SECRET_RULE, "--json"]);
    insta::assert_snapshot!("memories_list", snapshot_text(&out));
    let out = b.ok(&["memories", "list", "--rule", SQL_RULE, "--json"]);
    insta::assert_snapshot!("memories_list_class", snapshot_text(&out));
    let out = b.ok(&["memories", "list", "--json"]);
    assert_eq!(json(&out)["memories"].as_array().unwrap().len(), 2);

    let out = b.ok(&[
        "memories",
        "edit",
        &id,
        "--all-projects",
        "--no-path-prefixes",
        "--json",
    ]);
    insta::assert_snapshot!("memories_edit", snapshot_text(&out));
    let out = b.ok(&["memories", "edit", &id, "--all-projects", "--json"]);
    insta::assert_snapshot!("memories_edit_unchanged", snapshot_text(&out));

    let out = b.ok(&["memories", "rm", &id, "--json"]);
    insta::assert_snapshot!("memories_rm", snapshot_text(&out));

    let out = b.run(&["memories", "rm", &id, "--json"]);
    assert_eq!(code(&out), 3);
    insta::assert_snapshot!("memories_not_recorded", snapshot_text(&out));
}

/// JSON allows C1 controls, bidi overrides and zero-width characters raw;
/// sift escapes them (`\u009b`), so a terminal that shows the output gets
/// none of them, and the JSON parses back to the very same text.
#[test]
fn hidden_characters_never_reach_the_output_raw() {
    const HOSTILE: &str = "Run \u{9b}31mthis\u{202e}txt.exe\u{200b} \u{85}now";
    let raw = |bytes: &[u8]| -> Vec<char> {
        String::from_utf8_lossy(bytes)
            .chars()
            .filter(|c| {
                matches!(c, '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                    | '\u{200b}'..='\u{200f}' | '\u{feff}')
            })
            .collect()
    };
    let b = Backlog::empty();
    let dump: Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.path().join("api_dump.json")).unwrap())
            .unwrap();
    let mut finding = dump["findings"][0].clone();
    finding["rule_message"] = HOSTILE.into();
    finding["rule"]["message"] = HOSTILE.into();
    finding["repository"]["name"] = format!("acme/{HOSTILE}").into();
    std::fs::write(
        b.dir.path().join("hostile.json"),
        serde_json::json!({ "findings": [finding] }).to_string(),
    )
    .unwrap();
    let out = b.ok(&["import", "hostile.json", "--json"]);
    assert_eq!(raw(&out.stdout), Vec::<char>::new());
    assert_eq!(
        json(&out)["imported"][0]["project"],
        format!("acme/{HOSTILE}")
    );

    let out = b.ok(&["findings", "--view", "all", "--json"]);
    assert_eq!(raw(&out.stdout), Vec::<char>::new(), "{}", stdout(&out));
    assert!(stdout(&out).contains(r"Run \u009b31mthis\u202etxt.exe\u200b \u0085now"));
    let f = &json(&out)["findings"][0];
    assert_eq!(f["rule"]["message"], HOSTILE, "parses back to the original");
    assert_eq!(f["rule_message"], HOSTILE);
    assert_eq!(f["repository"]["name"], format!("acme/{HOSTILE}"));

    let id = f["id"].to_string();
    let out = b.ok(&["triage", &id, "--note", HOSTILE, "--json"]);
    assert_eq!(raw(&out.stdout), Vec::<char>::new());
    assert_eq!(json(&out)["decisions"][0]["new_note"], HOSTILE);

    // A memory's text: recorded, or refused for what it holds; either way
    // nothing raw in what is printed.
    let out = b.run(&["memories", "add", "--text", HOSTILE, "--json"]);
    assert_eq!(raw(&out.stdout), Vec::<char>::new(), "{}", stdout(&out));
    if code(&out) == 0 {
        let out = b.ok(&["memories", "list", "--json"]);
        assert_eq!(raw(&out.stdout), Vec::<char>::new());
        assert_eq!(json(&out)["memories"][0]["text"], HOSTILE);
    }
}
