//! The sync's fault tests (tests/sync.rs) over HTTP: the client's cache
//! and outbox on one side, `sift serve` answering 500, 429 with
//! Retry-After, nothing at all, or losing its answer on the other.
//! Decisions arrive once, and none is lost or holds the others back.

use crate::common;

use common::{TestServer, standard_backlog};
use sift::backend::api::Api;
use sift::domain::{Status, TriageChange, TriageReason, TriageState};
use sift::server::faults::{FaultRoute, ServerFault};
use sift::store::Store;
use sift::sync::{self, PassReport, SyncConfig, SyncEvent, SyncStatus};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

const ME: &str = "alice";

struct Setup {
    served: TempDir,
    cache: TempDir,
    server: TestServer,
    api: Arc<Api>,
}

/// A server on the standard backlog, and a client whose cache has pulled
/// it.
async fn setup() -> Setup {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path())
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .unwrap();
    use sift::backend::Backend;
    assert!(api.pull().await.unwrap());
    Setup {
        served,
        cache,
        server,
        api: Arc::new(api),
    }
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

fn decide(dir: &Path, ids: &[i64], change: &TriageChange) {
    let decisions: Vec<_> = ids.iter().map(|id| (*id, change.clone())).collect();
    Store::open(dir).unwrap().record(&decisions, ME).unwrap();
}

fn fast() -> SyncConfig {
    SyncConfig {
        request_timeout: Duration::from_millis(800),
        ..SyncConfig::default()
    }
}

async fn pass(s: &Setup, cfg: &SyncConfig) -> PassReport {
    let mut store = Store::open(s.cache.path()).unwrap();
    sync::push_and_pull(&*s.api, &mut store, cfg).await.unwrap()
}

/// Status and this reviewer's activity entries on the server.
fn served(s: &Setup, id: i64) -> (Status, usize) {
    let f = Store::open(s.served.path())
        .unwrap()
        .load_finding(id)
        .unwrap()
        .unwrap();
    let mine = f.activity.iter().filter(|a| a.actor == ME).count();
    (f.status(), mine)
}

fn waiting(s: &Setup) -> usize {
    Store::open(s.cache.path())
        .unwrap()
        .waiting_count()
        .unwrap()
}

#[tokio::test]
async fn identical_decisions_go_in_one_call_and_the_cache_follows() {
    let s = setup().await;
    decide(s.cache.path(), &[2, 3, 4, 5], &to_fix());
    decide(s.cache.path(), &[6], &ignore("test fixture"));
    let report = pass(&s, &fast()).await;
    assert_eq!(report.calls, 2);
    assert_eq!(report.acknowledged, 5);
    assert_eq!(s.server.faults.seen(FaultRoute::Triage), 2);
    assert_eq!(served(&s, 4), (Status::Fixing, 1));
    assert_eq!(served(&s, 6), (Status::Ignored, 1));
    assert!(report.triaged.contains(&1002), "the twin on the PR");
    let cached = Store::open(s.cache.path())
        .unwrap()
        .load_finding(4)
        .unwrap()
        .unwrap();
    assert_eq!(cached.status(), Status::Fixing);
    s.server.stop().await;
}

#[tokio::test]
async fn a_server_error_keeps_the_decision_until_it_is_acknowledged() {
    let s = setup().await;
    decide(s.cache.path(), &[2], &ignore("constant input"));
    s.server
        .faults
        .then(FaultRoute::Triage, ServerFault::Status(500));
    let report = pass(&s, &fast()).await;
    let offline = report.offline.expect("offline");
    assert!(offline.reason.contains("(500)"), "{}", offline.reason);
    assert_eq!(waiting(&s), 1);
    assert_eq!(served(&s, 2), (Status::Open, 0));
    let report = pass(&s, &fast()).await;
    assert_eq!((report.acknowledged, report.offline), (1, None));
    assert_eq!(waiting(&s), 0);
    assert_eq!(served(&s, 2), (Status::Ignored, 1));
    s.server.stop().await;
}

#[tokio::test]
async fn an_answer_that_does_not_say_what_was_triaged_keeps_the_decision() {
    let s = setup().await;
    decide(s.cache.path(), &[2], &ignore("constant input"));
    s.server
        .faults
        .then(FaultRoute::Triage, ServerFault::EmptyObject);
    let report = pass(&s, &fast()).await;
    assert_eq!(report.acknowledged, 0);
    assert!(report.offline.is_some(), "{report:?}");
    assert_eq!(waiting(&s), 1, "still in the outbox");
    let report = pass(&s, &fast()).await;
    assert_eq!((report.acknowledged, report.offline), (1, None));
    assert_eq!(served(&s, 2), (Status::Ignored, 1));
    s.server.stop().await;
}

#[tokio::test]
async fn a_rate_limit_passes_on_retry_after() {
    let s = setup().await;
    decide(s.cache.path(), &[2], &to_fix());
    s.server.faults.then(
        FaultRoute::Triage,
        ServerFault::RetryAfter {
            status: 429,
            value: "42".into(),
        },
    );
    let report = pass(&s, &fast()).await;
    let offline = report.offline.expect("offline");
    assert_eq!(offline.retry_after, Some(Duration::from_secs(42)));
    assert!(offline.reason.contains("429"), "{}", offline.reason);
    assert_eq!(waiting(&s), 1);
    s.server.stop().await;
}

#[tokio::test]
async fn a_hanging_server_times_out_and_the_decision_waits() {
    let s = setup().await;
    decide(s.cache.path(), &[2], &to_fix());
    s.server.faults.then(FaultRoute::Triage, ServerFault::Hang);
    let started = std::time::Instant::now();
    let report = pass(&s, &fast()).await;
    assert!(started.elapsed() < Duration::from_secs(4));
    let offline = report.offline.expect("offline");
    assert!(
        offline.reason.contains("did not answer"),
        "{}",
        offline.reason
    );
    assert_eq!(waiting(&s), 1);
    let report = pass(&s, &fast()).await;
    assert_eq!(report.acknowledged, 1);
    assert_eq!(served(&s, 2), (Status::Fixing, 1));
    // The hung request is abandoned with the server.
}

#[tokio::test]
async fn a_lost_answer_is_retried_without_duplicating_anything() {
    let s = setup().await;
    decide(s.cache.path(), &[2, 3], &ignore("generated code"));
    s.server
        .faults
        .then(FaultRoute::Triage, ServerFault::LoseAnswer);
    let report = pass(&s, &fast()).await;
    assert!(report.offline.is_some());
    assert_eq!(served(&s, 2), (Status::Ignored, 1), "applied, answer lost");
    assert_eq!(waiting(&s), 2, "so it is still waiting");
    let report = pass(&s, &fast()).await;
    assert_eq!(report.acknowledged, 2);
    for id in [2, 3, 1002, 1003] {
        assert_eq!(served(&s, id), (Status::Ignored, 1), "{id}: once");
    }
    s.server.stop().await;
}

#[tokio::test]
async fn a_refused_decision_is_kept_and_does_not_block_the_others() {
    let s = setup().await;
    // A note over the limit: the server refuses it (400).
    let long = TriageChange {
        state: None,
        reason: None,
        note: Some("x".repeat(3_001)),
    };
    decide(s.cache.path(), &[2], &long);
    decide(s.cache.path(), &[3], &to_fix());
    let report = pass(&s, &fast()).await;
    assert_eq!(report.rejected.len(), 1);
    assert!(
        report.rejected[0].message.contains("(400)"),
        "{}",
        report.rejected[0].message
    );
    assert_eq!(report.acknowledged, 1);
    assert_eq!(served(&s, 3), (Status::Fixing, 1));
    let store = Store::open(s.cache.path()).unwrap();
    assert_eq!(store.rejected_count().unwrap(), 1, "kept");
    assert_eq!(store.waiting_count().unwrap(), 0, "not resent");
    s.server.stop().await;
}

#[tokio::test]
async fn a_failed_pull_is_reported_after_the_decisions_are_sent() {
    let s = setup().await;
    decide(s.cache.path(), &[2], &to_fix());
    s.server
        .faults
        .then(FaultRoute::Findings, ServerFault::Status(502));
    let report = pass(&s, &fast()).await;
    assert_eq!(report.acknowledged, 1);
    let offline = report.offline.expect("the pull failed");
    assert!(
        offline.reason.starts_with("fetching findings failed"),
        "{}",
        offline.reason
    );
    s.server.stop().await;
}

#[tokio::test]
async fn an_outage_in_the_background_loses_and_duplicates_nothing() {
    let s = setup().await;
    s.server.faults.set_down(true);
    decide(s.cache.path(), &(1..=20).collect::<Vec<_>>(), &to_fix());
    let cfg = SyncConfig {
        batch_size: 8,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..fast()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handle = sync::spawn(s.api.clone(), s.cache.path().to_path_buf(), cfg, tx);
    // Offline, several tries, nothing sent.
    let mut offline_seen = 0;
    while offline_seen < 3 {
        if let SyncEvent::Status(SyncStatus::Offline { pending, .. }) = next(&mut rx).await {
            assert_eq!(pending, 20);
            offline_seen += 1;
        }
    }
    assert_eq!(served(&s, 5), (Status::Open, 0));
    decide(s.cache.path(), &[30, 31], &ignore("vendored"));
    handle.wake();
    s.server.faults.set_down(false);
    loop {
        if let SyncEvent::Status(SyncStatus::Synced { .. }) = next(&mut rx).await {
            break;
        }
    }
    handle.shutdown().await;
    for id in (1..=20).chain([30, 31]) {
        let (status, mine) = served(&s, id);
        assert_ne!(status, Status::Open, "{id}");
        assert_eq!(mine, 1, "{id}: one entry");
    }
    assert_eq!(waiting(&s), 0);
    s.server.stop().await;
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<SyncEvent>) -> SyncEvent {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event")
        .expect("the sync runs")
}
