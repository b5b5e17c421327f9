//! Mistakes and failures as a script meets them: a project or rule that is
//! a typo, a data directory that holds no store, a store that fails.

use crate::binary;

use binary::{Backlog, code, stderr, stdout};
use serde_json::{Value, json};
use std::path::Path;

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

/// Every command with a project or rule filter says an unknown name the
/// same way: on stderr with the names known, exit 3, and with `--json` its
/// failure shape holding the same words.
#[test]
fn every_name_filter_says_an_unknown_name_alike() {
    let b = Backlog::new();
    let said = "no project is named \"nosuch\"; the store has: acme/api, acme/webapp, shop";
    let cases: [(&[&str], Value); 5] = [
        (
            &["findings", "--project", "nosuch"],
            json!({"findings": []}),
        ),
        (&["assist", "--project", "nosuch"], json!({})),
        (&["assist", "eval", "--project", "nosuch"], json!({})),
        (&["digest", "--project", "nosuch"], json!({})),
        (
            &["memories", "list", "--project", "nosuch"],
            json!({"memories": []}),
        ),
    ];
    for (args, mut shape) in cases {
        let out = b.run(args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), format!("sift: {said}\n"), "{args:?}");
        assert_eq!(stdout(&out), "", "{args:?}");
        let mut with_json = args.to_vec();
        with_json.push("--json");
        if args[0] == "digest" {
            with_json.truncate(args.len());
            with_json.extend(["--format", "json"]);
        }
        let out = b.run(&with_json);
        assert_eq!(code(&out), 3, "{with_json:?}: {}", stderr(&out));
        shape["error"] = json!(said);
        assert_eq!(json(&stdout(&out)), shape, "{with_json:?}");
    }
    // A rule: the memory list wants the full id, as a memory's scope does.
    let out = b.run(&["memories", "list", "--rule", "detected-generic-api-key"]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out)
            .starts_with("sift: no rule has the id \"detected-generic-api-key\"; the store has: "),
        "{}",
        stderr(&out)
    );
    let out = b.run(&[
        "memories",
        "list",
        "--rule",
        "generic.secrets.security.detected-generic-api-key.detected-generic-api-key",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Adding a memory says it too, and that nothing was recorded.
    let out = b.run(&["memories", "add", "--text", "t", "--project", "nosuch"]);
    assert_eq!(code(&out), 3);
    assert_eq!(
        stderr(&out),
        format!("sift: {said}\nsift: nothing was recorded\n")
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

/// Every `--json` command prints a JSON object with an `"error"` on stdout
/// when it fails, besides the message on stderr, with the same exit code.
#[test]
fn a_failing_store_gives_json_with_the_error() {
    let b = Backlog::empty();
    std::fs::create_dir_all(b.data()).unwrap();
    std::fs::write(b.data().join("sift.db"), "not a database, not at all").unwrap();
    let cases: [(&[&str], Value); 8] = [
        (
            &["import", "api_dump.json", "--json"],
            json!({"imported": [], "scanner_errors": [], "warnings": []}),
        ),
        (&["findings", "--json"], json!({"findings": []})),
        (&["triage", "1", "--note", "x", "--json"], json!({})),
        (&["sync", "--json"], json!({})),
        (&["memories", "list", "--json"], json!({"memories": []})),
        (&["memories", "add", "--text", "x", "--json"], json!({})),
        (
            &["memories", "edit", "m", "--text", "x", "--json"],
            json!({}),
        ),
        (&["memories", "rm", "m", "--json"], json!({})),
    ];
    for (args, mut shape) in cases {
        let out = b.run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        let message = err
            .strip_prefix("sift: ")
            .and_then(|m| m.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("{args:?}: {err}"));
        assert!(message.contains("not a database"), "{args:?}: {message}");
        shape["error"] = json!(message);
        assert_eq!(json(&stdout(&out)), shape, "{args:?}");
        // Without --json: the same message and code, nothing on stdout.
        let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
        let out = b.run(&plain);
        assert_eq!(code(&out), 1, "{plain:?}");
        assert_eq!(stderr(&out), err, "{plain:?}");
        assert_eq!(stdout(&out), "", "{plain:?}");
    }

    // A config file that cannot be read fails every command alike.
    let out = b.run(&["--config", "nosuch.toml", "sync", "--json"]);
    assert_eq!(code(&out), 1);
    let said = json(&stdout(&out));
    assert!(
        said["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot read the config file nosuch.toml"),
        "{said}"
    );
}

/// A full disk is said plainly. `/dev/full` stands in for the store's
/// file: every write to it fails with "no space left on device", as on a
/// full disk (a real one cannot be made in a test).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_said_plainly() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let b = Backlog::empty();
    std::fs::create_dir_all(b.data()).unwrap();
    std::os::unix::fs::symlink("/dev/full", b.data().join("sift.db")).unwrap();
    let said = format!(
        "the disk holding {} is full (no space left on device); nothing was lost, free some \
         space and run the command again",
        b.data().display()
    );
    for args in [
        &["import", "api_dump.json", "--json"][..],
        &["findings", "--json"],
        &["triage", "1", "--note", "x", "--json"],
        &["sync", "--json"],
        &["memories", "list", "--json"],
    ] {
        let out = b.run(args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert_eq!(stderr(&out), format!("sift: {said}\n"), "{args:?}");
        assert_eq!(json(&stdout(&out))["error"], said.as_str(), "{args:?}");
    }
}

/// When the disk is full a store cannot even be opened for reading the
/// usual way (SQLite must grow its shared-memory file); `sift findings` and
/// `sift memories list` then open it read-only through `immutable=1`,
/// which writes nothing at all. Tried on a copy in a directory made
/// read-only, with the usual open failing as on a full disk.
#[cfg(unix)]
#[test]
fn a_full_disk_still_shows_the_store_read_only() {
    use sift::cli::context::open_or_read_only;
    use sift::store::Store;
    use std::os::unix::fs::PermissionsExt;

    let b = Backlog::new();
    b.ok(&[
        "memories",
        "add",
        "--text",
        "Keys in dev.env are fake",
        "--project",
        "shop",
    ]);
    let copy = b.dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(b.data()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let listing = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = listing(&copy);
    assert_eq!(before.len(), 1, "a clean store is one file");
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&copy.join("sift.db"), 0o444);
    mode(&copy, 0o555);

    let full = |_: &Path| -> anyhow::Result<Store> {
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_SHMSIZE),
            Some("disk I/O error".into()),
        );
        Err(anyhow::Error::new(e).context("cannot switch the store to WAL mode"))
    };
    let (store, read_only) = open_or_read_only(&copy, full).unwrap();
    assert!(read_only);
    let index = store.load_index().unwrap();
    assert_eq!(
        index.len(),
        7,
        "every finding, ids far apart as the API's are"
    );
    assert_eq!(store.count_findings().unwrap(), 7);
    let (memories, pending) = store.memories_in_view().unwrap();
    assert_eq!(memories.len(), 1);
    assert!(pending.is_empty());
    assert!(store.load_finding(73537200).unwrap().is_some());
    assert!(
        store
            .record_memory_change(&sift::domain::MemoryChange::Delete("m".into()), "x")
            .is_err(),
        "nothing can be written"
    );
    drop(store);
    assert_eq!(
        listing(&copy),
        before,
        "not a byte written, no WAL file made"
    );

    // Any other failure is passed on as it is.
    let other = |_: &Path| -> anyhow::Result<Store> { Err(anyhow::anyhow!("the store is odd")) };
    let e = open_or_read_only(&copy, other).err().unwrap();
    assert_eq!(e.to_string(), "the store is odd");
    // And a full disk under no store is said as such.
    let e = open_or_read_only(&b.dir.path().join("none"), full)
        .err()
        .unwrap();
    assert!(sift::cli::errors::is_disk_full(&e));

    mode(&copy, 0o755);
}
