//! Mistakes and failures as a script meets them: a project or rule that is
//! a typo, a data directory that holds no store, a store that fails.

mod binary;

use binary::{Backlog, code, stderr, stdout};
use serde_json::{Value, json};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_project_or_rule_the_store_does_not_know_is_said_not_listed_as_nothing() {
    let b = Backlog::new();
    let out = b.run(&["findings", "--project", "nosuch"]);
    assert_eq!(code(&out), 3);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "sift: no project is named \"nosuch\"; the store has: acme/api, acme/webapp, shop\n"
    );

    let out = b.run(&["findings", "--rule", "nosuch.rule", "--json"]);
    assert_eq!(code(&out), 3);
    let said = json(&stdout(&out));
    assert_eq!(said["findings"], json!([]));
    let error = said["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "no rule has the id \"nosuch.rule\"; the store has: \
             generic.secrets.security.detected-generic-api-key.detected-generic-api-key, "
        ),
        "{error}"
    );
    assert_eq!(stderr(&out), format!("sift: {error}\n"));

    // Known names still select; several unknown ones are named together.
    let out = b.ok(&["findings", "--project", "shop", "--view", "all"]);
    assert_eq!(stdout(&out).lines().count(), 4);
    let out = b.run(&[
        "findings",
        "--project",
        "a",
        "--project",
        "shop",
        "--project",
        "b",
    ]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out).starts_with("sift: no project is named \"a\" or \"b\"; the store has:"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_names_listed_are_at_most_ten_and_inert() {
    let b = Backlog::empty();
    let mut findings = Vec::new();
    for i in 0..12 {
        let mut f =
            json(&std::fs::read_to_string(b.dir.path().join("api_dump.json")).unwrap())["findings"]
                [0]
            .clone();
        f["id"] = json!(100 + i);
        f["match_based_id"] = json!(format!("m{i}"));
        f["repository"]["name"] = json!(format!("p{i:02}\u{1b}[31m"));
        findings.push(f);
    }
    let dump = b.dir.path().join("many.json");
    std::fs::write(&dump, json!({ "findings": findings }).to_string()).unwrap();
    b.ok(&["import", "many.json"]);
    let out = b.run(&["findings", "--project", "p99"]);
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(
        err.contains("p00␛[31m, p01␛[31m,") && err.contains("p09␛[31m and 2 more\n"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "made inert: {err}");
}

/// A data directory with no store in it is a mistake (a typo, or nothing
/// imported yet): the commands that only read say so and create nothing.
#[test]
fn reading_commands_do_not_create_a_store() {
    let b = Backlog::empty();
    let typo = b.dir.path().join("typo");
    let said = format!(
        "sift: no sift store in {} (import findings with `sift import`, or check --data-dir / \
         SIFT_DATA_DIR)\n",
        typo.display()
    );
    for args in [
        &["findings"][..],
        &["findings", "--view", "all", "--project", "shop"],
        &["memories", "list"],
        &["sync"],
        &["sync", "--retry-rejected"],
    ] {
        let out = b.run_in(&typo, args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert_eq!(stderr(&out), said, "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    assert!(!b.data().exists());
}
