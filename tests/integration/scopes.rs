//! Memory path scopes as prefixes and globs, as scripts meet them: what
//! `memories add --apply` ignores, what `memories list` counts, which
//! memories go into the Assistant's prompt, and a glob that cannot be read.

use crate::{binary, common};

use binary::{Backlog, code, stderr, stdout};
use serde_json::{Value, json};

const SQLI: &str = "python.django.security.injection.sql.sql-injection";
const SECRET: &str = "generic.secrets.security.detected-generic-secret";

/// The findings of the scan below: (path, rule).
const PATHS: [(&str, &str); 7] = [
    ("app/db.py", SQLI),
    ("app/tests/test_db.py", SQLI),
    ("tests/conftest.py", SECRET),
    ("vulnerabilities/sqli/source/impossible.php", SECRET),
    ("src/main.py", SQLI),
    ("src/sub/util.py", SQLI),
    ("src/app.js", SECRET),
];

/// A `semgrep scan --json` report with one finding per path of `PATHS`.
pub fn scan_report(errors: Value) -> Value {
    let results: Vec<Value> = PATHS
        .iter()
        .enumerate()
        .map(|(i, (path, rule))| {
            json!({
                "check_id": rule,
                "path": path,
                "start": {"line": 3, "col": 1, "offset": 20},
                "end": {"line": 3, "col": 9, "offset": 28},
                "extra": {
                    "message": "A finding",
                    "severity": "ERROR",
                    "metadata": {},
                    "lines": "x = 1",
                    "fingerprint": format!("fp-{i}"),
                },
            })
        })
        .collect();
    json!({"version": "1.185.0", "results": results, "errors": errors, "paths": {"scanned": []}})
}

/// The scan imported as project "web".
fn backlog() -> Backlog {
    let b = Backlog::empty();
    std::fs::write(
        b.dir.path().join("scan.json"),
        scan_report(json!([])).to_string(),
    )
    .unwrap();
    b.ok(&["import", "scan.json", "--project", "web"]);
    b
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// The id of the finding at `path`.
fn id_at(b: &Backlog, path: &str) -> i64 {
    let out = b.ok(&["findings", "--view", "all", "--json"]);
    let found = json_of(&out)["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["location"]["file_path"] == path)
        .map(|f| f["id"].as_i64().unwrap());
    found.unwrap_or_else(|| panic!("no finding at {path}"))
}

/// The paths `memories add --apply --dry-run` would ignore with this path
/// scope (the same matching as --apply, the list and the console).
fn covered(b: &Backlog, paths: &[&str]) -> Vec<String> {
    let mut args = vec!["memories", "add", "--text", "t", "--apply", "--dry-run"];
    for p in paths {
        args.extend(["--path-prefix", p]);
    }
    args.push("--json");
    let out = b.ok(&args);
    let ids = common::sorted_ids(&json_of(&out)["would_ignore"]);
    let mut paths: Vec<String> = PATHS
        .iter()
        .map(|(p, _)| p.to_string())
        .filter(|p| ids.contains(&id_at(b, p)))
        .collect();
    paths.sort();
    paths
}

#[test]
fn globs_cover_whole_paths_and_plain_paths_stay_prefixes() {
    let b = backlog();
    assert_eq!(
        covered(&b, &["app/"]),
        ["app/db.py", "app/tests/test_db.py"]
    );
    assert_eq!(
        covered(&b, &["src/"]).len(),
        3,
        "a prefix reaches every depth"
    );
    assert_eq!(
        covered(&b, &["**/tests/**"]),
        ["app/tests/test_db.py", "tests/conftest.py"]
    );
    assert_eq!(
        covered(&b, &["**/impossible.php"]),
        ["vulnerabilities/sqli/source/impossible.php"]
    );
    assert_eq!(covered(&b, &["src/*.py"]), ["src/main.py"]);
    assert_eq!(
        covered(&b, &["src/*.py", "**/*.js"]),
        ["src/app.js", "src/main.py"]
    );
    assert_eq!(
        covered(&b, &["src/**/*.py"]),
        ["src/main.py", "src/sub/util.py"]
    );
    assert!(
        covered(&b, &["*.py"]).is_empty(),
        "a glob matches from the root"
    );
    assert_eq!(covered(&b, &["src/[a-m]*"]), ["src/app.js", "src/main.py"]);
}

#[test]
fn apply_list_and_the_prompt_agree_on_a_glob() {
    let b = backlog();
    let out = b.ok(&[
        "memories",
        "add",
        "--text",
        "Fixture data is fake",
        "--path-prefix",
        "**/tests/**",
        "--json",
    ]);
    let memory = json_of(&out)["memory"].clone();
    assert_eq!(memory["undecided_in_scope"], 2);
    assert_eq!(memory["scope"]["path_prefixes"], json!(["**/tests/**"]));

    // The Assistant is asked with the memory about a test file only.
    let test = id_at(&b, "tests/conftest.py");
    let out = b.ok(&["assist", "--show-prompt", &test.to_string()]);
    assert!(
        stdout(&out).contains("Fixture data is fake"),
        "{}",
        stdout(&out)
    );
    let app = id_at(&b, "app/db.py");
    let out = b.ok(&["assist", "--show-prompt", &app.to_string()]);
    assert!(!stdout(&out).contains("Fixture data is fake"));

    // --apply ignores those two and nothing else.
    let out = b.ok(&[
        "memories",
        "add",
        "--text",
        "Test code never ships",
        "--path-prefix",
        "**/tests/**",
        "--apply",
        "--json",
    ]);
    let mut expected = vec![test, id_at(&b, "app/tests/test_db.py")];
    expected.sort();
    assert_eq!(common::sorted_ids(&json_of(&out)["ignored"]), expected);
    let out = b.ok(&["memories", "list", "--json"]);
    for m in json_of(&out)["memories"].as_array().unwrap() {
        assert_eq!(m["undecided_in_scope"], 0, "{m}");
    }
}

#[test]
fn a_glob_that_cannot_be_read_is_refused_by_name() {
    let b = backlog();
    let out = b.run(&[
        "memories",
        "add",
        "--text",
        "t",
        "--path-prefix",
        "app/",
        "--path-prefix",
        "src/[a-z.py",
    ]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        "sift: the path \"src/[a-z.py\" is not a valid glob: a `[` is not closed by a `]`\n\
         sift: nothing was recorded\n"
    );
    let out = b.ok(&["memories", "add", "--text", "t", "--path-prefix", "app/"]);
    let id = stdout(&out).split('\t').next().unwrap().to_string();
    let out = b.run(&[
        "memories",
        "edit",
        &id,
        "--path-prefix",
        "[z-a]/**",
        "--json",
    ]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        json_of(&out)["error"],
        "the path \"[z-a]/**\" is not a valid glob: the range `z-a` runs backwards"
    );
    let out = b.ok(&["memories", "list", "--json"]);
    let memories = json_of(&out)["memories"].clone();
    assert_eq!(memories.as_array().unwrap().len(), 1);
    assert_eq!(memories[0]["scope"]["path_prefixes"], json!(["app/"]));
}
