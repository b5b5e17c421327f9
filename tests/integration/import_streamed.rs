//! `semgrep scan --json` read as a stream (`sift import` of a large file):
//! stored as the same file read whole would be, and files the stream does
//! not take left to the whole-file reader, which says what is wrong.

use serde_json::{Value, json};
use sift::import::{ImportOptions, StreamedScan, load_file, survey_file};
use sift::store::{ScanToStore, Store};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// Imports `file` read as a stream; panics when the stream refuses it.
/// New, updated, unchanged and fixed.
type Counts = (usize, usize, usize, usize);

fn import_streamed(store: &mut Store, file: &Path, opts: &ImportOptions) -> Counts {
    let StreamedScan {
        scan,
        keys,
        mut reader,
    } = survey_file(file, opts).expect("read as a stream");
    let keys: &[_] = &keys;
    let mut scans = [ScanToStore::Streamed {
        scan: &scan,
        keys,
        read: Box::new(move |take| reader.read_findings(keys, take)),
    }];
    let s = store.import_scans(&mut scans).unwrap().remove(0);
    (s.new, s.updated, s.unchanged, s.fixed)
}

fn import_whole(store: &mut Store, file: &Path, opts: &ImportOptions) -> Counts {
    let scans = load_file(file, opts).unwrap();
    let s = store.import(&scans).unwrap().remove(0);
    (s.new, s.updated, s.unchanged, s.fixed)
}

/// What a store holds of each finding, times (the import's) left out.
fn held(store: &Store) -> Vec<String> {
    let ids = crate::common::stored_ids(store);
    let mut out: Vec<String> = store
        .load_findings(&ids)
        .unwrap()
        .into_iter()
        .map(|mut f| {
            f.created_at = time::OffsetDateTime::UNIX_EPOCH;
            f.relevant_since = f.created_at;
            for a in &mut f.activity {
                a.at = f.created_at;
            }
            format!("{f:?}")
        })
        .collect();
    out.sort();
    out
}

/// A logged-out scan of `n` results, many with the same rule, path and
/// message (their identities numbered across the file).
fn many_results(n: usize, skip: usize) -> String {
    let results: Vec<Value> = (0..n)
        .filter(|i| i % 97 != skip)
        .map(|i| {
            json!({
                "check_id": format!("rules.r{}", i % 7),
                "path": format!("src/f{}.py", i % 50),
                "start": {"line": i % 300 + 1, "col": 5, "offset": -1},
                "end": {"line": i % 300 + 1, "col": 20, "offset": -1},
                "extra": {
                    "message": format!("message é {}", i % 3),
                    "severity": "WARNING",
                    "metadata": {"cwe": ["CWE-78"], "confidence": "HIGH", "category": "security"},
                    "lines": "requires login",
                    "fingerprint": "requires login",
                    "dataflow_trace": {"taint_source": [["CliLoc", [{"x": 1}]]]}
                }
            })
        })
        .collect();
    json!({"version": "1.99.0", "results": results, "errors": [], "paths": {"scanned": []}})
        .to_string()
}

#[test]
fn a_file_read_as_a_stream_is_stored_as_the_file_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("scan.json"), dir.path().join("rescan.json"));
    // More results than a chunk, and a rescan that lost some: fixed.
    std::fs::write(&first, many_results(4_500, 200)).unwrap();
    std::fs::write(&second, many_results(4_500, 3)).unwrap();
    let opts = ImportOptions {
        project: Some("shop".into()),
        ..Default::default()
    };
    let (mut streamed, mut whole) = (Store::in_memory().unwrap(), Store::in_memory().unwrap());
    let mut summaries = Vec::new();
    for file in [&first, &second, &first] {
        let a = import_streamed(&mut streamed, file, &opts);
        assert_eq!(a, import_whole(&mut whole, file, &opts));
        summaries.push(a);
    }
    assert_eq!(summaries[0], (4_500, 0, 0, 0));
    assert_eq!(
        summaries[1],
        (0, 0, 4_453, 47),
        "what the rescan lost is fixed, the rest unchanged"
    );
    assert_eq!(summaries[2], (0, 47, 4_453, 0), "and comes back");
    assert_eq!(held(&streamed), held(&whole));
    assert_eq!(streamed.count_findings().unwrap(), 4_500);

    for name in ["semgrep_logged_in.json", "semgrep_logged_out.json"] {
        let (mut streamed, mut whole) = (Store::in_memory().unwrap(), Store::in_memory().unwrap());
        for _ in 0..2 {
            assert_eq!(
                import_streamed(&mut streamed, &fixture(name), &ImportOptions::default()),
                import_whole(&mut whole, &fixture(name), &ImportOptions::default()),
                "{name}"
            );
        }
        assert_eq!(held(&streamed), held(&whole), "{name}");
    }
}

#[test]
fn files_the_stream_does_not_take_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ImportOptions::default();
    for name in [
        "semgrep.sarif",
        "api_dump.json",
        "truncated.json",
        "wrong_type.json",
        "unknown.json",
    ] {
        assert!(survey_file(&fixture(name), &opts).is_none(), "{name}");
    }
    let logged_in = std::fs::read(fixture("semgrep_logged_in.json")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    // A byte order mark is read past, as the whole-file reader does.
    let bom = write(
        "bom.json",
        &[b"\xEF\xBB\xBF".as_slice(), &logged_in].concat(),
    );
    assert!(survey_file(&bom, &opts).is_some());
    // What the stream would skip unchecked: bytes that are not UTF-8 in a
    // field sift does not read, nesting deeper than the whole file's check
    // allows there; and another format's keys beside `results`.
    let text = String::from_utf8(logged_in).unwrap();
    let not_utf8 = text
        .replacen("\"extra\": {", "\"extra\": {\"unread\": \"@@\",", 1)
        .into_bytes();
    let at = not_utf8.windows(2).position(|w| w == b"@@").unwrap();
    let not_utf8 = [&not_utf8[..at], b"\xFF", &not_utf8[at + 2..]].concat();
    let deep = text.replacen(
        "\"extra\": {",
        &format!(
            "\"extra\": {{\"unread\": {}{},",
            "[".repeat(150),
            "]".repeat(150)
        ),
        1,
    );
    let runs = text.replacen('{', "{\"runs\": [],", 1);
    for (name, bytes) in [
        ("not_utf8.json", not_utf8),
        ("deep.json", deep.into_bytes()),
        ("runs.json", runs.into_bytes()),
    ] {
        let path = write(name, &bytes);
        assert!(survey_file(&path, &opts).is_none(), "{name}");
        if name != "runs.json" {
            // The whole-file reader refuses it, and says why.
            assert!(load_file(&path, &opts).is_err(), "{name}");
        }
    }
}
