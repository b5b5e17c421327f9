//! A finding keeps its identity across rescans, so a decision stays on the
//! code it was made for (issue 10's five cases, and their siblings).
//!
//! The scans here are written the way `semgrep scan --json` writes them
//! when logged out: fingerprints and lines hidden ("requires login"), lines,
//! columns and byte offsets computed from the source files below.

use serde_json::{Value, json};
use sift::domain::{Finding, Status, TriageChange, TriageReason, TriageState};
use sift::import::{ImportOptions, load_str};
use sift::store::{ImportSummary, Store};
use std::path::Path;
use time::OffsetDateTime;

const RULE: &str = "java.spring.security.audit.spring-unvalidated-redirect";
const MESSAGE: &str = "Application redirects to a destination URL specified by a user-supplied \
                       parameter that is not validated.";

/// One match: in `path`, the `nth` (0-based) occurrence of `needle`.
struct Hit<'a> {
    rule: &'a str,
    path: &'a str,
    needle: &'a str,
    nth: usize,
    message: &'a str,
    /// Move the start this many bytes right (a scanner narrowing a match).
    narrow: usize,
}

fn hit<'a>(path: &'a str, needle: &'a str, nth: usize) -> Hit<'a> {
    Hit {
        rule: RULE,
        path,
        needle,
        nth,
        message: MESSAGE,
        narrow: 0,
    }
}

/// 1-based line and column of a byte offset.
fn position(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    json!({"line": line, "col": col, "offset": offset})
}

/// `semgrep scan --json` output, logged out, for `hits` in `files`.
/// `prefix` is put before every path (a scan run from a parent folder).
fn scan(files: &[(&str, &str)], hits: &[Hit], prefix: &str) -> String {
    let results: Vec<Value> = hits
        .iter()
        .map(|h| {
            let text = files.iter().find(|(p, _)| *p == h.path).unwrap().1;
            let start = text
                .match_indices(h.needle)
                .nth(h.nth)
                .unwrap_or_else(|| panic!("{} #{} in {}", h.needle, h.nth, h.path))
                .0;
            let end = start + h.needle.len();
            json!({
                "check_id": h.rule,
                "path": format!("{prefix}{}", h.path),
                "start": position(text, start + h.narrow),
                "end": position(text, end),
                "extra": {
                    "message": h.message,
                    "metadata": {"category": "security", "confidence": "MEDIUM"},
                    "severity": "ERROR",
                    "fingerprint": "requires login",
                    "lines": "requires login"
                }
            })
        })
        .collect();
    json!({"version": "1.185.0", "results": results, "errors": []}).to_string()
}

/// Writes `files` under a fresh folder; returns it (kept alive by the guard).
fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    for (path, text) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    (dir, root)
}

fn import(store: &mut Store, json: &str, root: Option<&Path>, git_ref: &str) -> ImportSummary {
    let opts = ImportOptions {
        project: Some("shop".into()),
        git_ref: Some(git_ref.into()),
        repo_root: root.map(Path::to_path_buf),
    };
    let scans = load_str("scan.json", json, &opts).unwrap();
    store.import(&scans).unwrap().remove(0)
}

fn counts(s: &ImportSummary) -> (usize, usize, usize) {
    (s.new, s.updated, s.fixed)
}

/// Every finding on `git_ref`, by position.
fn on_ref(store: &Store, git_ref: &str) -> Vec<Finding> {
    let index = store.load_index().unwrap();
    let ids: Vec<i64> = index.rows.iter().map(|r| r.id).collect();
    let mut found: Vec<Finding> = store
        .load_findings(&ids)
        .unwrap()
        .into_iter()
        .filter(|f| f.git_ref == git_ref)
        .collect();
    found.sort_by_key(|f| (f.location.path.clone(), f.location.line, f.location.column));
    found
}

/// Decides a finding as the embedded backend applies an acknowledged
/// decision; the note names the code it was made for.
fn decide(store: &mut Store, f: &Finding, state: TriageState, note: &str) {
    let change = TriageChange {
        state: Some(state),
        reason: (state == TriageState::Ignored).then_some(TriageReason::FalsePositive),
        note: Some(note.into()),
    };
    store
        .apply_triage(&[f.id], &change, "alice", OffsetDateTime::now_utc(), None)
        .unwrap();
}

fn note(f: &Finding) -> &str {
    f.triage_comment.as_deref().unwrap_or("")
}

const CONTROLLER: &str = r#"package shop;

public class RedirectController {
    public String login(String next) {
        log("login");
        return "redirect:" + next;
    }

    public String logout(String next) {
        log("logout");
        return "redirect:" + next;
    }
}
"#;

/// The same controller after `login` was fixed: the redirect is checked
/// first, so the file is one line longer above `logout`.
const CONTROLLER_FIXED: &str = r#"package shop;

public class RedirectController {
    public String login(String next) {
        log("login");
        String safe = allowList(next);
        return "redirect:/home";
    }

    public String logout(String next) {
        log("logout");
        return "redirect:" + next;
    }
}
"#;

const JAVA: &str = "src/main/java/shop/RedirectController.java";

#[test]
fn fixing_the_first_of_two_keeps_the_second_and_its_decision() {
    for with_tree in [false, true] {
        let files = [(JAVA, CONTROLLER)];
        let (_dir, root) = tree(&files);
        let root = with_tree.then_some(root.as_path());
        let mut store = Store::in_memory().unwrap();
        let hits = [
            hit(JAVA, "\"redirect:\" + next", 0),
            hit(JAVA, "\"redirect:\" + next", 1),
        ];
        import(&mut store, &scan(&files, &hits, ""), root, "main");
        let before = on_ref(&store, "main");
        assert_eq!(before.len(), 2);
        decide(
            &mut store,
            &before[0],
            TriageState::Ignored,
            "login: next is checked upstream",
        );
        decide(
            &mut store,
            &before[1],
            TriageState::Fixing,
            "logout: open redirect",
        );

        // login is fixed; the rescan reports logout only, one line lower.
        let fixed_files = [(JAVA, CONTROLLER_FIXED)];
        std::fs::write(_dir.path().join("shop").join(JAVA), CONTROLLER_FIXED).unwrap();
        let rescan = scan(&fixed_files, &[hit(JAVA, "\"redirect:\" + next", 0)], "");
        let summary = import(&mut store, &rescan, root, "main");
        assert_eq!(counts(&summary), (0, 1, 1), "tree: {with_tree}");
        let after = on_ref(&store, "main");
        let logout = after.iter().find(|f| f.location.line == 12).unwrap();
        assert_eq!(logout.status(), Status::Fixing, "tree: {with_tree}");
        assert_eq!(note(logout), "logout: open redirect");
        let login = after.iter().find(|f| f.location.line == 6).unwrap();
        assert_eq!(login.status(), Status::Fixed, "the fixed one is login");
        assert_eq!(note(login), "login: next is checked upstream");

        // A pull request after the fix: its one finding is logout, and it
        // inherits logout's decision, not login's.
        let summary = import(&mut store, &rescan, root, "refs/pull/9/merge");
        assert_eq!(summary.new, 1);
        let pr = on_ref(&store, "refs/pull/9/merge");
        assert_eq!(pr[0].status(), Status::Fixing, "tree: {with_tree}");
        assert_eq!(note(&pr[0]), "logout: open redirect");
    }
}

const ROUTES: &str = r#"public class Routes {
    @RequestMapping(method = GET)
    public String list() {
        return "list";
    }

    @RequestMapping(method = GET)
    public String show() {
        return "show";
    }

    @RequestMapping(method = GET)
    public String edit() {
        return "edit";
    }
}
"#;

#[test]
fn identical_matched_text_keeps_each_decision_when_one_goes() {
    let path = "src/Routes.java";
    let annotation = "@RequestMapping(method = GET)";
    let files = [(path, ROUTES)];
    let (dir, root) = tree(&files);
    let mut store = Store::in_memory().unwrap();
    let hits: Vec<Hit> = (0..3).map(|n| hit(path, annotation, n)).collect();
    import(&mut store, &scan(&files, &hits, ""), Some(&root), "main");
    let before = on_ref(&store, "main");
    for (f, name) in before.iter().zip(["list", "show", "edit"]) {
        decide(&mut store, f, TriageState::Reviewing, name);
    }

    // `show` is deleted: five lines gone between list and edit.
    let without_show = ROUTES.replace(
        "    @RequestMapping(method = GET)\n    public String show() {\n        return \"show\";\n    }\n\n",
        "",
    );
    std::fs::write(dir.path().join("shop").join(path), &without_show).unwrap();
    let files = [(path, without_show.as_str())];
    let hits: Vec<Hit> = (0..2).map(|n| hit(path, annotation, n)).collect();
    let summary = import(&mut store, &scan(&files, &hits, ""), Some(&root), "main");
    assert_eq!(counts(&summary), (0, 1, 1), "edit moved, show went");
    assert_eq!(summary.unchanged, 1, "list stayed");
    let after = on_ref(&store, "main");
    let open: Vec<&str> = after
        .iter()
        .filter(|f| f.status() != Status::Fixed)
        .map(note)
        .collect();
    assert_eq!(open, ["list", "edit"], "each decision on its own method");
    let gone: Vec<&str> = after
        .iter()
        .filter(|f| f.status() == Status::Fixed)
        .map(note)
        .collect();
    assert_eq!(gone, ["show"]);
}

const VIEWS: &str = "import subprocess\n\n\ndef run(request):\n    cmd = request.GET[\"cmd\"]\n    subprocess.call(cmd, shell=True)\n\n\ndef again(request):\n    subprocess.call(request.GET[\"x\"], shell=True)\n";

#[test]
fn the_same_scan_with_and_without_a_source_tree_is_the_same_findings() {
    let path = "app/views.py";
    let files = [(path, VIEWS)];
    let (_dir, root) = tree(&files);
    let hits = [
        hit(path, "subprocess.call(", 0),
        hit(path, "subprocess.call(", 1),
    ];
    let json = scan(&files, &hits, "");
    for first_with_tree in [false, true] {
        let mut store = Store::in_memory().unwrap();
        let (first, second) = if first_with_tree {
            (Some(root.as_path()), None)
        } else {
            (None, Some(root.as_path()))
        };
        import(&mut store, &json, first, "main");
        let f = on_ref(&store, "main");
        decide(&mut store, &f[0], TriageState::Ignored, "run: constant");
        let summary = import(&mut store, &json, second, "main");
        assert_eq!(counts(&summary), (0, 2, 0), "tree first: {first_with_tree}");
        let f = on_ref(&store, "main");
        assert_eq!(note(&f[0]), "run: constant");
        assert_eq!(f[0].status(), Status::Ignored);
        assert_eq!(f[1].status(), Status::Open);
    }

    // The JSON with the tree, then the SARIF of the same scan without it.
    let mut store = Store::in_memory().unwrap();
    import(&mut store, &json, Some(&root), "main");
    let sarif = sarif_of(&json, &files);
    let opts = ImportOptions {
        project: Some("shop".into()),
        ..ImportOptions::default()
    };
    let scans = load_str("scan.sarif", &sarif, &opts).unwrap();
    let summary = store.import(&scans).unwrap().remove(0);
    assert_eq!(counts(&summary), (0, 2, 0));
}

/// The SARIF `semgrep scan --sarif` writes for the same results (the
/// snippet is the matched lines, as semgrep writes it even logged out).
fn sarif_of(json: &str, files: &[(&str, &str)]) -> String {
    let doc: Value = serde_json::from_str(json).unwrap();
    let results: Vec<Value> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            let text = files.iter().find(|(p, _)| *p == path).unwrap().1;
            let line = r["start"]["line"].as_u64().unwrap() as usize;
            json!({
                "ruleId": r["check_id"],
                "message": {"text": r["extra"]["message"]},
                "fingerprints": {"matchBasedId/v1": "requires login"},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                    "region": {
                        "startLine": r["start"]["line"], "startColumn": r["start"]["col"],
                        "endLine": r["end"]["line"], "endColumn": r["end"]["col"],
                        "snippet": {"text": text.lines().nth(line - 1).unwrap()}
                    }
                }}]
            })
        })
        .collect();
    json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "Semgrep OSS", "rules": []}},
        "results": results}]})
    .to_string()
}

const QUERIES: &str = "def q(a, b, c):\n    x = \"SELECT \" + a\n    y = \"DELETE \" + b\n    z = \"UPDATE \" + c\n    return x, y, z\n";

#[test]
fn a_match_narrowed_by_a_column_is_the_same_finding() {
    let path = "db/queries.py";
    let files = [(path, QUERIES)];
    let (_dir, root) = tree(&files);
    let needles = ["\"SELECT \" + a", "\"DELETE \" + b", "\"UPDATE \" + c"];
    for root in [None, Some(root.as_path())] {
        let mut store = Store::in_memory().unwrap();
        let hits: Vec<Hit> = needles.iter().map(|n| hit(path, n, 0)).collect();
        import(&mut store, &scan(&files, &hits, ""), root, "main");
        for (f, n) in on_ref(&store, "main")
            .iter()
            .zip(["select", "delete", "update"])
        {
            decide(&mut store, f, TriageState::Ignored, n);
        }
        // A partial parse: the scanner starts each match one column later.
        let narrowed: Vec<Hit> = needles
            .iter()
            .map(|n| Hit {
                narrow: 1,
                ..hit(path, n, 0)
            })
            .collect();
        let summary = import(&mut store, &scan(&files, &narrowed, ""), root, "main");
        assert_eq!(counts(&summary), (0, 3, 0), "tree: {}", root.is_some());
        let notes: Vec<String> = on_ref(&store, "main")
            .iter()
            .map(|f| note(f).to_string())
            .collect();
        assert_eq!(notes, ["select", "delete", "update"]);
    }
}

#[test]
fn a_scan_from_the_parent_folder_is_the_same_findings() {
    let path = "app/views.py";
    let files = [(path, VIEWS)];
    let (dir, root) = tree(&files);
    let hits = [
        hit(path, "subprocess.call(", 0),
        hit(path, "subprocess.call(", 1),
    ];
    let mut store = Store::in_memory().unwrap();
    // From the folder above the tree: paths start with "shop/".
    import(
        &mut store,
        &scan(&files, &hits, "shop/"),
        Some(dir.path()),
        "main",
    );
    let f = on_ref(&store, "main");
    assert_eq!(f[0].location.path, "shop/app/views.py");
    assert!(
        f[0].code.is_some(),
        "the code was read through the parent folder"
    );
    decide(&mut store, &f[1], TriageState::Fixing, "again");
    // From the tree's root, and without it.
    for root in [Some(root.as_path()), None] {
        let summary = import(&mut store, &scan(&files, &hits, ""), root, "main");
        assert_eq!(counts(&summary), (0, 2, 0), "root: {root:?}");
        let f = on_ref(&store, "main");
        assert_eq!(f.len(), 2);
        assert_eq!(note(&f[1]), "again");
        assert_eq!(f[1].location.path, "app/views.py", "the latest scan's path");
    }
}

#[test]
fn changed_code_is_a_new_finding_and_the_decision_stays_on_the_old_code() {
    let path = "app/views.py";
    let files = [(path, VIEWS)];
    let (dir, root) = tree(&files);
    let mut store = Store::in_memory().unwrap();
    let hits = [hit(path, "subprocess.call(cmd", 0)];
    import(&mut store, &scan(&files, &hits, ""), Some(&root), "main");
    let f = on_ref(&store, "main");
    decide(&mut store, &f[0], TriageState::Ignored, "cmd is constant");

    let changed = VIEWS.replace(
        "subprocess.call(cmd, shell=True)",
        "subprocess.call(arg, shell=True)",
    );
    std::fs::write(dir.path().join("shop").join(path), &changed).unwrap();
    let files = [(path, changed.as_str())];
    let summary = import(
        &mut store,
        &scan(&files, &[hit(path, "subprocess.call(arg", 0)], ""),
        Some(&root),
        "main",
    );
    assert_eq!(counts(&summary), (1, 0, 1));
    let f = on_ref(&store, "main");
    let new = f.iter().find(|f| f.status() != Status::Fixed).unwrap();
    assert_eq!(
        new.status(),
        Status::Open,
        "the decision did not move to other code"
    );
    let old = f.iter().find(|f| f.status() == Status::Fixed).unwrap();
    assert_eq!(note(old), "cmd is constant");
}

#[test]
fn importing_the_same_scan_again_changes_nothing() {
    let path = "app/views.py";
    let files = [(path, VIEWS)];
    let (_dir, root) = tree(&files);
    let hits = [
        hit(path, "subprocess.call(", 0),
        hit(path, "subprocess.call(", 1),
    ];
    let json = scan(&files, &hits, "");
    let mut store = Store::in_memory().unwrap();
    for root in [None, Some(root.as_path()), Some(root.as_path()), None] {
        import(&mut store, &json, root, "main");
        import(&mut store, &json, root, "refs/pull/3/head");
    }
    assert_eq!(
        store.count_findings().unwrap(),
        4,
        "two findings on two refs"
    );
    let main = on_ref(&store, "main");
    let pr = on_ref(&store, "refs/pull/3/head");
    for (a, b) in main.iter().zip(&pr) {
        assert_eq!(
            a.match_based_id, b.match_based_id,
            "one finding on two refs"
        );
    }
    assert_ne!(main[0].match_based_id, main[1].match_based_id);
}
