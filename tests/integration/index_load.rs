//! Loading the index: a store on disk whose finding ids span a wide range is
//! read in two halves at once; the index must be the one a single read
//! gives, pending decisions included.

use sift::domain::{FindingIndex, TriageChange, TriageState};
use sift::import::{ImportOptions, load_file};
use sift::store::Store;
use std::path::Path;

/// Each row with its strings resolved, by id.
fn rows(index: &FindingIndex) -> Vec<String> {
    let mut out: Vec<String> = index
        .rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} {}:{} {:?} {:?} {:?} {:?} {:?} {} {}",
                r.id,
                index.projects.get(r.project),
                index.rules.get(r.rule),
                index.refs.get(r.git_ref),
                index.messages.get(r.message),
                r.relevant_since,
                index.paths.get(r.path),
                r.line,
                r.severity,
                r.status,
                r.triage_state,
                r.verdict,
                r.lifecycle,
                r.pending,
                index
                    .position_of(r.id)
                    .is_some_and(|p| index.rows[p].id == r.id),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_store_on_disk_loads_the_same_index_as_one_read() {
    let dump = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/api_dump.json");
    let scans = load_file(&dump, &ImportOptions::default()).unwrap();
    // The dump's ids (1003, 73537200, 73537201) span far more than the
    // split threshold, so the store on disk is read in two halves; the
    // store in memory is always read at once.
    let dir = tempfile::tempdir().unwrap();
    let mut on_disk = Store::open(dir.path()).unwrap();
    let mut in_memory = Store::in_memory().unwrap();
    for store in [&mut on_disk, &mut in_memory] {
        store.import(&scans).unwrap();
        let reviewing = TriageChange {
            state: Some(TriageState::Reviewing),
            reason: None,
            note: None,
        };
        // A pending decision in each half.
        store
            .record(&[(1003, reviewing.clone()), (73537201, reviewing)], "t")
            .unwrap();
    }
    let a = on_disk.load_index().unwrap();
    let b = in_memory.load_index().unwrap();
    assert_eq!(a.len(), 3);
    assert_eq!(rows(&a), rows(&b));
    let order = |i: &FindingIndex| i.rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(order(&a), order(&b), "the list order");
    assert_eq!(a.rows.iter().filter(|r| r.pending).count(), 2);
}
