//! The sync against a backend that fails on purpose: decisions arrive once,
//! whatever the link does, and none is lost or holds the others back.

use sift::backend::embedded::Embedded;
use sift::backend::faults::{Fault, Faulty};
use sift::domain::{ScanResults, Status, TriageChange, TriageReason, TriageState};
use sift::store::Store;
use sift::sync::{self, PassReport, SyncConfig, SyncEvent, SyncStatus};
use sift::wire::v1::FindingsPage;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

const ME: &str = "alice";

/// A store with findings 1..=n on acme/web's main branch, plus finding
/// 1001: the same match as finding 1, on a pull request.
fn backlog(n: i64) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut findings: Vec<_> = (1..=n)
        .map(|id| serde_json::json!({"id": id, "ref": "main", "match_based_id": format!("m_{id}")}))
        .collect();
    findings
        .push(serde_json::json!({"id": 1001, "ref": "refs/pull/7/merge", "match_based_id": "m_1"}));
    for f in &mut findings {
        f["repository"] = serde_json::json!({"name": "acme/web"});
    }
    let page: FindingsPage =
        serde_json::from_value(serde_json::json!({ "findings": findings })).unwrap();
    let now = OffsetDateTime::now_utc();
    let mut by_ref: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for f in page.findings {
        let f = f.into_domain(now);
        by_ref.entry(f.git_ref.clone()).or_default().push(f);
    }
    let scans: Vec<ScanResults> = by_ref
        .into_iter()
        .map(|(git_ref, findings)| {
            ScanResults::platform("test", "acme/web", None, git_ref, findings)
        })
        .collect();
    Store::open(dir.path()).unwrap().import(&scans).unwrap();
    dir
}

fn backend(dir: &Path) -> Faulty<Embedded> {
    Faulty::new(Embedded::open(dir).unwrap())
}

fn to_fix() -> TriageChange {
    TriageChange {
        state: Some(TriageState::Fixing),
        reason: None,
        note: None,
    }
}

fn ignore(note: &str) -> TriageChange {
    TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(TriageReason::FalsePositive),
        note: Some(note.into()),
    }
}

fn decide(dir: &Path, ids: &[i64], change: &TriageChange) -> Vec<i64> {
    let decisions: Vec<_> = ids.iter().map(|id| (*id, change.clone())).collect();
    Store::open(dir).unwrap().record(&decisions, ME).unwrap()
}

async fn pass(backend: &Faulty<Embedded>, store: &mut Store, cfg: &SyncConfig) -> PassReport {
    sync::push_and_pull(backend, store, cfg).await.unwrap()
}

/// Status and the reviewer's own activity entries, as the backend stores
/// them (call when the outbox is empty, or the pending overlay shows).
fn as_stored(dir: &Path, id: i64) -> (Status, usize) {
    let store = Store::open(dir).unwrap();
    assert_eq!(
        store.pending_count().unwrap(),
        0,
        "read with nothing pending"
    );
    let f = store.load_finding(id).unwrap().unwrap();
    let mine = f.activity.iter().filter(|a| a.actor == ME).count();
    (f.status(), mine)
}

#[test]
fn the_bulk_limit_is_semgreps() {
    assert_eq!(SyncConfig::default().batch_size, 3_000);
}

#[tokio::test]
async fn identical_decisions_go_in_one_call() {
    let dir = backlog(6);
    decide(dir.path(), &[2, 3, 4, 5], &to_fix());
    decide(dir.path(), &[6], &ignore("test fixture"));
    let faulty = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;

    let calls = faulty.calls();
    assert_eq!(calls.len(), 2, "one call per distinct decision");
    assert_eq!(calls[0].issue_ids, vec![2, 3, 4, 5]);
    assert_eq!(calls[0].actor, ME);
    assert_eq!(calls[1].issue_ids, vec![6]);
    assert_eq!(report.acknowledged, 5);
    assert_eq!((report.waiting, report.offline), (0, None));
    assert_eq!(store.pending_count().unwrap(), 0);
    assert_eq!(as_stored(dir.path(), 4), (Status::Fixing, 1));
    assert_eq!(as_stored(dir.path(), 6), (Status::Ignored, 1));
}

#[tokio::test]
async fn more_ids_than_a_call_takes_are_split() {
    let dir = backlog(10);
    decide(dir.path(), &(1..=10).collect::<Vec<_>>(), &to_fix());
    let faulty = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = SyncConfig {
        batch_size: 4,
        ..SyncConfig::default()
    };
    let report = pass(&faulty, &mut store, &cfg).await;
    let sizes: Vec<usize> = faulty.calls().iter().map(|c| c.issue_ids.len()).collect();
    assert_eq!(sizes, vec![4, 4, 2]);
    assert_eq!(report.acknowledged, 10);
    // Finding 1's twin on the pull request was triaged with it.
    assert!(report.triaged.contains(&1001));
    assert_eq!(as_stored(dir.path(), 1001).0, Status::Fixing);
}

#[tokio::test]
async fn a_server_error_keeps_the_decision_until_it_is_acknowledged() {
    let dir = backlog(3);
    decide(dir.path(), &[2], &ignore("constant input"));
    let faulty = backend(dir.path());
    faulty.then(Fault::ServerError);
    let mut store = Store::open(dir.path()).unwrap();

    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    let offline = report.offline.expect("the pass reports the failure");
    assert_eq!(offline.reason, "the backend answered 500");
    assert_eq!((report.acknowledged, report.waiting), (0, 1));
    let p = &store.pending().unwrap()[0];
    assert_eq!(
        (p.attempts, p.last_error.as_deref()),
        (1, Some("the backend answered 500"))
    );

    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!((report.acknowledged, report.waiting), (1, 0));
    assert_eq!(report.offline, None);
    assert_eq!(faulty.calls().len(), 2);
    assert_eq!(as_stored(dir.path(), 2), (Status::Ignored, 1));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_backend_times_out_and_the_decision_waits() {
    let dir = backlog(3);
    decide(dir.path(), &[3], &to_fix());
    let faulty = backend(dir.path());
    faulty.then(Fault::Hang);
    let mut store = Store::open(dir.path()).unwrap();
    let cfg = SyncConfig::default();

    let started = Instant::now();
    let report = pass(&faulty, &mut store, &cfg).await;
    assert!(started.elapsed() >= cfg.request_timeout);
    assert!(started.elapsed() < cfg.request_timeout * 2);
    let offline = report.offline.unwrap();
    assert_eq!(offline.reason, "the backend did not answer within 20s");
    assert_eq!(store.waiting_count().unwrap(), 1);

    let report = pass(&faulty, &mut store, &cfg).await;
    assert_eq!(report.acknowledged, 1);
    assert_eq!(as_stored(dir.path(), 3), (Status::Fixing, 1));
}

#[tokio::test]
async fn a_lost_answer_is_retried_without_duplicating_anything() {
    let dir = backlog(3);
    decide(dir.path(), &[1], &ignore("test helper"));
    let faulty = backend(dir.path());
    faulty.then(Fault::LoseAnswer);
    let mut store = Store::open(dir.path()).unwrap();

    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert!(report.offline.is_some());
    assert_eq!(store.waiting_count().unwrap(), 1, "not acknowledged: kept");
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.acknowledged, 1);
    assert_eq!(faulty.calls().len(), 2, "sent twice");
    for id in [1, 1001] {
        let (status, entries) = as_stored(dir.path(), id);
        assert_eq!(status, Status::Ignored);
        assert_eq!(entries, 1, "finding {id}: one activity entry");
    }
    let f = Store::open(dir.path())
        .unwrap()
        .load_finding(1)
        .unwrap()
        .unwrap();
    assert_eq!(f.triage_comment.as_deref(), Some("test helper"));
}

#[tokio::test]
async fn a_rejected_decision_is_kept_reported_and_does_not_block() {
    let dir = backlog(4);
    let refused = decide(dir.path(), &[2], &ignore("bad request"));
    decide(dir.path(), &[3], &to_fix());
    decide(dir.path(), &[2], &to_fix()); // a later decision on the same finding
    let faulty = backend(dir.path());
    faulty.then(Fault::Reject);
    let mut store = Store::open(dir.path()).unwrap();

    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.rejected.len(), 1);
    let r = &report.rejected[0];
    assert_eq!(r.finding_ids, vec![2]);
    assert_eq!(r.outbox_ids, refused);
    assert_eq!(r.message, "the backend answered 400: invalid request");
    assert_eq!(report.acknowledged, 2, "the later decisions went through");
    assert_eq!(report.offline, None);
    assert_eq!((report.waiting, report.rejected_total), (0, 1));

    // Kept, with the backend's message, and not sent again.
    let kept = store.rejected().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].change, ignore("bad request"));
    assert_eq!(
        kept[0].rejected.as_deref(),
        Some("the backend answered 400: invalid request")
    );
    let calls = faulty.calls().len();
    pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(faulty.calls().len(), calls);

    let f = store.load_finding(3).unwrap().unwrap();
    assert_eq!(f.status(), Status::Fixing);
}

/// Collects events until one matches; returns it and when it came.
async fn until(
    rx: &mut UnboundedReceiver<SyncEvent>,
    seen: &mut Vec<SyncEvent>,
    want: impl Fn(&SyncEvent) -> bool,
) -> SyncEvent {
    loop {
        let e = rx.recv().await.expect("the sync task is running");
        seen.push(e.clone());
        if want(&e) {
            return e;
        }
    }
}

fn offline(e: &SyncEvent) -> bool {
    matches!(e, SyncEvent::Status(SyncStatus::Offline { .. }))
}

fn synced(e: &SyncEvent) -> bool {
    matches!(e, SyncEvent::Status(SyncStatus::Synced { .. }))
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_even_when_woken() {
    let dir = backlog(3);
    decide(dir.path(), &[1], &to_fix());
    let faulty = Arc::new(backend(dir.path()));
    faulty.then(Fault::RetryAfter(Duration::from_secs(90)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn(
        faulty.clone(),
        dir.path().to_path_buf(),
        SyncConfig::default(),
        tx,
    );
    let mut seen = Vec::new();

    let e = until(&mut rx, &mut seen, offline).await;
    let refused_at = Instant::now();
    let SyncEvent::Status(status) = e else {
        unreachable!()
    };
    let SyncStatus::Offline {
        reason, next_try, ..
    } = &status
    else {
        unreachable!()
    };
    assert_eq!(reason, "the backend answered 429 (rate limited)");
    let now = OffsetDateTime::now_utc();
    assert!(next_try.unwrap() - now >= time::Duration::seconds(89));
    let label = status.label(now);
    assert!(
        label.contains(": HTTP 429 · 1 pending · retry in"),
        "{label}"
    );

    // A new decision during the wait is counted, not sent early.
    decide(dir.path(), &[2], &to_fix());
    handle.wake();
    let e = until(&mut rx, &mut seen, |_| true).await;
    assert!(
        matches!(e, SyncEvent::Status(SyncStatus::Offline { pending: 2, .. })),
        "{e:?}"
    );
    assert_eq!(faulty.calls().len(), 1);

    until(&mut rx, &mut seen, |e| {
        matches!(e, SyncEvent::Acknowledged(_))
    })
    .await;
    assert!(refused_at.elapsed() >= Duration::from_secs(90));
    until(&mut rx, &mut seen, synced).await;
    assert_eq!(Store::open(dir.path()).unwrap().pending_count().unwrap(), 0);
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_wake_sends_a_new_decision_at_once() {
    let dir = backlog(3);
    let faulty = Arc::new(backend(dir.path()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = SyncConfig::default();
    let handle = sync::spawn(faulty.clone(), dir.path().to_path_buf(), cfg.clone(), tx);
    let mut seen = Vec::new();
    until(&mut rx, &mut seen, synced).await;

    let started = Instant::now();
    decide(dir.path(), &[1, 2], &to_fix());
    handle.wake();
    let e = until(&mut rx, &mut seen, |e| {
        matches!(e, SyncEvent::Acknowledged(_))
    })
    .await;
    assert_eq!(e, SyncEvent::Acknowledged(vec![1, 2, 1001]));
    assert!(
        started.elapsed() < cfg.poll_interval,
        "not at the next poll"
    );
    assert!(
        seen.contains(&SyncEvent::Status(SyncStatus::Syncing { pending: 2 })),
        "{seen:?}"
    );
    until(&mut rx, &mut seen, synced).await;
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn quitting_during_a_hung_request_keeps_the_decision() {
    let dir = backlog(3);
    decide(dir.path(), &[1], &to_fix());
    let faulty = Arc::new(backend(dir.path()));
    faulty.then(Fault::Hang);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn(
        faulty.clone(),
        dir.path().to_path_buf(),
        SyncConfig::default(),
        tx,
    );
    while faulty.calls().is_empty() {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    handle.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(1), "quit at once");
    assert_eq!(Store::open(dir.path()).unwrap().waiting_count().unwrap(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_hour_long_outage_loses_and_duplicates_nothing() {
    let dir = backlog(40);
    decide(dir.path(), &(1..=20).collect::<Vec<_>>(), &to_fix());
    decide(dir.path(), &[21, 22], &ignore("vendored code"));
    let faulty = Arc::new(backend(dir.path()));
    faulty.set_down(true);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cfg = SyncConfig {
        batch_size: 8,
        ..SyncConfig::default()
    };
    let handle = sync::spawn(faulty.clone(), dir.path().to_path_buf(), cfg.clone(), tx);
    let mut seen = Vec::new();

    let first = until(&mut rx, &mut seen, offline).await;
    let SyncEvent::Status(SyncStatus::Offline { since, .. }) = first else {
        unreachable!()
    };
    // More decisions while the backend is down, from the console.
    decide(dir.path(), &[30, 31], &to_fix());
    handle.wake();
    tokio::time::sleep(Duration::from_secs(3600)).await;

    let tries = faulty.calls().len();
    // Backoff doubles from 1s up to 5 min: about 20 tries in an hour, not
    // thousands, and it never gave up.
    assert!((10..=40).contains(&tries), "{tries} tries in an hour");
    for e in &seen {
        if let SyncEvent::Status(SyncStatus::Offline { since: s, .. }) = e {
            assert_eq!(*s, since, "offline since the first failure");
        }
    }
    assert!(!seen.iter().any(|e| matches!(e, SyncEvent::Acknowledged(_))));

    faulty.set_down(false);
    let up = Instant::now();
    until(&mut rx, &mut seen, synced).await;
    assert!(up.elapsed() <= cfg.backoff_max, "sent within one backoff");
    handle.shutdown().await;

    let delivered: Vec<i64> = faulty.calls()[tries..]
        .iter()
        .flat_map(|c| c.issue_ids.clone())
        .collect();
    let mut sorted = delivered.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), delivered.len(), "each decision sent once");
    assert_eq!(delivered.len(), 24);
    for id in (1..=22).chain([30, 31]) {
        let (status, entries) = as_stored(dir.path(), id);
        assert_ne!(status, Status::Open, "finding {id}");
        assert_eq!(entries, 1, "finding {id}: one activity entry");
    }
    assert_eq!(as_stored(dir.path(), 25), (Status::Open, 0));
}

fn memory(text: &str) -> sift::domain::Memory {
    use sift::domain::{Memory, RuleScope, Scope};
    Memory::new(
        text.into(),
        Scope {
            projects: vec!["acme/web".into()],
            rules: RuleScope::All,
            path_prefixes: vec!["app/".into()],
        },
        false,
        ME,
    )
}

#[tokio::test]
async fn memory_changes_survive_errors_and_lost_answers_and_arrive_once() {
    use sift::domain::MemoryChange;
    let dir = backlog(3);
    let backend = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let created = memory("Test fixtures hold fake keys");
    store
        .record_memory_change(&MemoryChange::Create(created.clone()), ME)
        .unwrap();
    let mut edited = created.clone();
    edited.content = "Test fixtures hold fake keys and tokens".into();
    store
        .record_memory_change(&MemoryChange::Update(edited.clone()), ME)
        .unwrap();
    // Shown at once, pending, as the last change left it.
    let (shown, pending) = store.memories_in_view().unwrap();
    assert_eq!(shown, vec![edited.clone()]);
    assert!(pending.contains(&created.id));
    assert!(
        store.memories().unwrap().is_empty(),
        "the backend has none yet"
    );

    backend.then(Fault::ServerError);
    let report = pass(&backend, &mut store, &SyncConfig::default()).await;
    assert!(report.offline.is_some());
    assert_eq!(report.waiting, 2, "both changes wait");
    assert_eq!(store.memory_changes().unwrap()[0].attempts, 1);

    backend.then(Fault::LoseAnswer);
    pass(&backend, &mut store, &SyncConfig::default()).await;
    let report = pass(&backend, &mut store, &SyncConfig::default()).await;
    assert!(report.offline.is_none(), "{report:?}");
    assert_eq!(report.waiting, 0);
    let stored = Store::open(dir.path()).unwrap().memories().unwrap();
    assert_eq!(stored, vec![edited.clone()], "once, as last edited");
    let (shown, pending) = store.memories_in_view().unwrap();
    assert_eq!(shown, vec![edited.clone()]);
    assert!(pending.is_empty());

    // Deleting: gone from view at once, from the backend once sent.
    store
        .record_memory_change(&MemoryChange::Delete(created.id.clone()), ME)
        .unwrap();
    assert!(store.memories_in_view().unwrap().0.is_empty());
    pass(&backend, &mut store, &SyncConfig::default()).await;
    assert!(
        Store::open(dir.path())
            .unwrap()
            .memories()
            .unwrap()
            .is_empty()
    );
    assert_eq!(backend.memory_calls().len(), 5);
}

#[tokio::test]
async fn a_refused_memory_change_is_kept_and_does_not_block_decisions() {
    use sift::domain::MemoryChange;
    let dir = backlog(3);
    let backend = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    store
        .record_memory_change(&MemoryChange::Create(memory("Refused")), ME)
        .unwrap();
    decide(dir.path(), &[1], &to_fix());
    backend.then(Fault::Reject);
    let report = pass(&backend, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.memory_changes_rejected.len(), 1);
    assert_eq!(report.acknowledged, 1, "the decision went through");
    assert_eq!(report.rejected_total, 1);
    assert_eq!(report.waiting, 0);
    assert!(store.memory_changes().unwrap()[0].rejected.is_some());
    // Sent again on request.
    store.retry_rejected_memory_changes().unwrap();
    let report = pass(&backend, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.memory_changes_acknowledged, 1);
    assert_eq!(
        Store::open(dir.path()).unwrap().memories().unwrap().len(),
        1
    );
}

#[test]
fn a_memory_and_its_decisions_are_recorded_together() {
    use sift::domain::{MemoryChange, TriageReason};
    let dir = backlog(3);
    let store = Store::open(dir.path()).unwrap();
    let m = memory("Internal only");
    let index = store.load_index().unwrap();
    let classes = store.rule_classes().unwrap();
    // The scope says app/: none of the test findings has a path.
    assert!(index.undecided_in_scope(&m.scope, &classes, &[]).is_empty());
    let mut wide = m.clone();
    wide.scope.path_prefixes.clear();
    let ids = index.undecided_in_scope(&wide.scope, &classes, &[2]);
    assert_eq!(ids.len(), 3, "1, 3 and 1001; not 2");
    let intents = wide.apply_intents(&ids, TriageReason::FalsePositive);
    let decided = store
        .decide_with_memory(
            &intents,
            Some(&MemoryChange::Create(wide.clone())),
            ME,
            false,
        )
        .unwrap();
    assert_eq!(decided.outbox_ids.len(), 3);
    assert!(decided.memory_outbox_id.is_some());
    let notes: Vec<_> = store
        .pending()
        .unwrap()
        .into_iter()
        .map(|p| p.change.note.unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .all(|n| n == "Ignored under the memory \"Internal only\"")
    );
}

// ---------------------------------------------------------------------------
// Decisions are never lost, and never misreported (issue 10).

/// Marks findings fixed, as a newer scan would.
fn fix_by_scan(dir: &Path, ids: &[i64]) {
    let findings: Vec<_> = ids
        .iter()
        .map(|id| {
            serde_json::json!({"id": id, "ref": "main", "match_based_id": format!("m_{id}"),
                "state": "fixed", "repository": {"name": "acme/web"}})
        })
        .collect();
    let page: FindingsPage =
        serde_json::from_value(serde_json::json!({ "findings": findings })).unwrap();
    let findings = page
        .findings
        .into_iter()
        .map(|f| f.into_domain(OffsetDateTime::now_utc()))
        .collect();
    Store::open(dir)
        .unwrap()
        .import(&[ScanResults::platform(
            "rescan", "acme/web", None, "main", findings,
        )])
        .unwrap();
}

#[tokio::test]
async fn a_decision_on_a_finding_fixed_meanwhile_is_refused_not_reported_sent() {
    let dir = backlog(3);
    decide(dir.path(), &[2], &ignore("constant input"));
    decide(dir.path(), &[3], &to_fix());
    fix_by_scan(dir.path(), &[2]);
    let faulty = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.acknowledged, 1, "only the decision on 3");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].finding_ids, vec![2]);
    assert!(report.rejected[0].message.contains("fixed"), "{report:?}");
    // Kept, listed as refused; the finding's history does not claim it.
    let rejected = store.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    let f = store.load_finding(2).unwrap().unwrap();
    assert_eq!(f.status(), Status::Fixed);
    assert!(
        f.activity.iter().all(|a| a.actor != ME || a.pending),
        "{:?}",
        f.activity
    );
}

#[tokio::test]
async fn undo_while_a_batch_is_out_takes_back_all_of_it_and_its_copies() {
    use sift::domain::Intent;
    let dir = backlog(5);
    let store = Store::open(dir.path()).unwrap();
    let intents: Vec<_> = (1..=5)
        .map(|id| {
            (
                id,
                Intent::SetState {
                    state: TriageState::Ignored,
                    reason: Some(TriageReason::FalsePositive),
                    note: None,
                },
            )
        })
        .collect();
    let decided = store.decide(&intents, ME, true).unwrap();
    // The sync took three of them into a request whose answer has not
    // come back when the reviewer presses u.
    let out = store.next_batch(3).unwrap().unwrap();
    assert_eq!(out.finding_ids, vec![1, 2, 3]);
    let undone = store
        .undo(
            &decided.outbox_ids,
            &decided.before,
            "ignored 5 findings",
            ME,
        )
        .unwrap();
    assert_eq!((undone.taken_back, undone.answered), (2, 3));
    assert!(
        undone
            .message("ignored 5 findings")
            .starts_with("Undone: 5 decisions"),
        "{}",
        undone.message("ignored 5 findings")
    );
    // The request arrives after all (finding 1's copy on the pull request
    // is ignored with it), then the sync sends what undo recorded.
    let embedded = Embedded::open(dir.path()).unwrap();
    use sift::backend::{Backend, TriageRequest};
    embedded
        .triage(TriageRequest {
            issue_ids: out.finding_ids.clone(),
            change: out.change.clone(),
            actor: ME.into(),
            key: Some(out.request_key.clone()),
            preconditions: out.preconditions.clone(),
        })
        .await
        .unwrap();
    store.acknowledge(&out.outbox_ids).unwrap();
    let faulty = backend(dir.path());
    let mut store = Store::open(dir.path()).unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.waiting, 0);
    for id in [1, 2, 3, 4, 5, 1001] {
        let f = store.load_finding(id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Open, "finding {id}");
    }
}

#[tokio::test]
async fn a_resent_decision_does_not_undo_a_colleagues_later_one() {
    let dir = backlog(3);
    decide(dir.path(), &[2], &ignore("constant input"));
    let faulty = backend(dir.path());
    faulty.then(Fault::LoseAnswer);
    let mut store = Store::open(dir.path()).unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert!(report.offline.is_some(), "the answer was lost");
    // Bob, on another console of the same backlog, sets it to fix.
    Store::open(dir.path())
        .unwrap()
        .apply_triage(
            &[2],
            &to_fix(),
            "bob",
            OffsetDateTime::now_utc(),
            Some("bob-1"),
        )
        .unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert_eq!(report.acknowledged, 1, "{report:?}");
    let calls = faulty.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].key, calls[1].key, "sent again under its key");
    let f = store.load_finding(2).unwrap().unwrap();
    assert_eq!(f.status(), Status::Fixing, "Bob's later decision stands");
    let alice = f.activity.iter().filter(|a| a.actor == ME).count();
    assert_eq!(alice, 1, "one entry for Alice's decision");
}

#[tokio::test]
async fn retry_after_holds_for_every_process_on_the_store() {
    let dir = backlog(2);
    decide(dir.path(), &[1], &to_fix());
    let faulty = backend(dir.path());
    faulty.then(Fault::RetryAfter(Duration::from_secs(120)));
    let mut store = Store::open(dir.path()).unwrap();
    let report = pass(&faulty, &mut store, &SyncConfig::default()).await;
    assert!(report.offline.is_some());
    // `sift sync` in another process, right after.
    let other = backend(dir.path());
    let mut other_store = Store::open(dir.path()).unwrap();
    let report = pass(&other, &mut other_store, &SyncConfig::default()).await;
    assert!(other.calls().is_empty(), "the backend is not asked");
    let offline = report.offline.unwrap();
    assert!(offline.reason.contains("asked to wait"), "{offline:?}");
    assert!(offline.retry_after.unwrap() > Duration::from_secs(100));
    assert_eq!(report.waiting, 1);
}

#[test]
fn four_processes_deciding_at_once_lose_nothing() {
    use sift::domain::MemoryChange;
    const WRITERS: i64 = 4;
    const EACH: i64 = 25;
    let dir = backlog(WRITERS * EACH);
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    // Each writer is its own process: its own store handle
                    // and backend on the shared data directory.
                    let backend = backend(&dir);
                    let mut store = Store::open(&dir).unwrap();
                    for i in 0..EACH {
                        let id = 1 + w * EACH + i;
                        store.record(&[(id, ignore(&format!("w{w}")))], ME).unwrap();
                        if i % 5 == 0 {
                            let m = memory(&format!("writer {w} memory {i}"));
                            store
                                .record_memory_change(&MemoryChange::Create(m), ME)
                                .unwrap();
                        }
                        pass(&backend, &mut store, &SyncConfig::default()).await;
                    }
                    // What another writer's request still held is sent now.
                    for _ in 0..50 {
                        let report = pass(&backend, &mut store, &SyncConfig::default()).await;
                        if report.waiting == 0 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox_len().unwrap(), 0, "everything acknowledged");
    for id in 1..=WRITERS * EACH {
        let f = store.load_finding(id).unwrap().unwrap();
        assert_eq!(f.status(), Status::Ignored, "finding {id}");
        let w = (id - 1) / EACH;
        assert_eq!(f.triage_comment.as_deref(), Some(format!("w{w}").as_str()));
    }
    let memories = store.memories().unwrap();
    assert_eq!(memories.len(), (WRITERS * EACH / 5) as usize);
    let ids: std::collections::HashSet<_> = memories.iter().map(|m| &m.id).collect();
    assert_eq!(ids.len(), memories.len(), "no memory is another's alias");
}
