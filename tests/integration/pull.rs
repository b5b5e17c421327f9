//! A pull from `sift serve` into the API backend's cache is one
//! transaction (issue 16): a pull that fails on a later page, or is
//! cancelled, leaves the cache and its change cursor as they were, and no
//! pull touches a decision still waiting in the outbox.

use crate::common;

use common::{TestServer, standard_backlog};
use sift::backend::Backend;
use sift::backend::api::Api;
use sift::domain::{Status, TriageChange, TriageState};
use sift::server::faults::{FaultRoute, ServerFault};
use sift::store::Store;
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;

/// A client pulling 100 findings a page (the standard backlog's 250 in 3).
fn api(server: &TestServer, cache: &Path) -> Api {
    Api::new(&server.base, None, None, cache)
        .unwrap()
        .with_timeout(Duration::from_secs(5))
        .unwrap()
        .with_reviewer("ana")
        .with_page_size(100)
}

/// The standard backlog on `sift serve`, and ana's cache after a first
/// pull of it.
struct Pulled {
    served: tempfile::TempDir,
    server: TestServer,
    cache: tempfile::TempDir,
    ana: Api,
}

async fn served_and_pulled() -> Pulled {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let ana = api(&server, cache.path());
    assert!(ana.pull().await.unwrap());
    Pulled {
        served,
        server,
        cache,
        ana,
    }
}

/// The first pull takes pages, as from a server that offers no copy of its
/// findings: the next listing answers, the one after it fails.
fn fail_second_page(server: &TestServer) {
    server
        .faults
        .then(FaultRoute::Copy, ServerFault::Status(404))
        .then(FaultRoute::Findings, ServerFault::Answer)
        .then(FaultRoute::Findings, ServerFault::Status(500));
}

fn status(cache: &Path, id: i64) -> Status {
    Store::open(cache)
        .unwrap()
        .load_finding(id)
        .unwrap()
        .unwrap()
        .status()
}

/// A colleague's decision, made on the server's store.
fn colleague_decides(served: &Path, ids: &[i64], state: TriageState) {
    let change = TriageChange {
        state: Some(state),
        reason: None,
        note: None,
    };
    Store::open(served)
        .unwrap()
        .apply_triage(ids, &change, "ben", OffsetDateTime::now_utc(), None)
        .unwrap();
}

/// The change cursor the cache keeps.
fn change_cursor(cache: &Path) -> String {
    std::fs::read_to_string(cache.join("change-cursor")).unwrap()
}

/// Ignored as a false positive, with `note`.
fn false_positive(note: Option<&str>) -> TriageChange {
    TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(sift::domain::TriageReason::FalsePositive),
        note: note.map(str::to_string),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pull_that_fails_on_its_second_page_leaves_the_cache_empty() {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let ana = api(&server, cache.path());
    fail_second_page(&server);
    assert!(ana.pull().await.is_err());
    assert_eq!(server.faults.seen(FaultRoute::Findings), 2);
    assert_eq!(
        Store::open(cache.path()).unwrap().count_findings().unwrap(),
        0,
        "the first page was not kept"
    );
    assert!(!ana.pulls_cheaply(), "no cursor from a pull that failed");

    // The next pull brings everything.
    assert!(ana.pull().await.unwrap());
    assert_eq!(
        Store::open(cache.path()).unwrap().count_findings().unwrap(),
        250
    );
    assert!(ana.pulls_cheaply());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_of_changes_that_fails_keeps_the_cache_its_cursor_and_the_outbox() {
    let Pulled {
        served,
        server,
        cache,
        ana,
    } = served_and_pulled().await;
    let cursor = change_cursor(cache.path());

    // Ana decides finding 5 and 200, not sent yet; a colleague decides
    // 1..=150 (two pages of changes, 5 among them).
    let ignore = false_positive(None);
    Store::open(cache.path())
        .unwrap()
        .record(&[(5, ignore.clone()), (200, ignore)], "ana")
        .unwrap();
    let decided: Vec<i64> = (1..=150).collect();
    colleague_decides(served.path(), &decided, TriageState::Fixing);

    fail_second_page(&server);
    assert!(ana.pull().await.is_err());
    assert_eq!(
        status(cache.path(), 1),
        Status::Open,
        "the first page was not kept"
    );
    assert_eq!(
        change_cursor(cache.path()),
        cursor,
        "the cursor did not move"
    );
    assert_eq!(
        Store::open(cache.path()).unwrap().pending_count().unwrap(),
        2
    );

    // The next pull brings both pages; Ana's decisions still wait, and
    // show on their findings.
    assert!(ana.pull().await.unwrap());
    for id in [1, 75, 150] {
        assert_eq!(status(cache.path(), id), Status::Fixing, "finding {id}");
    }
    let store = Store::open(cache.path()).unwrap();
    let pending: Vec<i64> = store
        .pending()
        .unwrap()
        .iter()
        .map(|p| p.finding_id)
        .collect();
    assert_eq!(pending, vec![5, 200]);
    assert_eq!(status(cache.path(), 5), Status::Ignored);
    assert_eq!(status(cache.path(), 200), Status::Ignored);
    assert_ne!(change_cursor(cache.path()), cursor);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_pull_leaves_the_cache_as_it_was() {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let ana = api(&server, cache.path())
        .with_timeout(Duration::from_secs(60))
        .unwrap();
    // The second page never answers; the pull is dropped while it waits,
    // as the sync drops a pull that outlasts its time limit.
    server
        .faults
        .then(FaultRoute::Copy, ServerFault::Status(404))
        .then(FaultRoute::Findings, ServerFault::Answer)
        .then(FaultRoute::Findings, ServerFault::Hang);
    let cancelled = tokio::time::timeout(Duration::from_secs(4), ana.pull()).await;
    assert!(cancelled.is_err(), "the pull waits on the hanging page");
    assert_eq!(server.faults.seen(FaultRoute::Findings), 2);
    // The writer rolls back once it learns the pull is gone; the store
    // answers then.
    let count = Store::open(cache.path()).unwrap().count_findings().unwrap();
    assert_eq!(count, 0);
    assert!(ana.pull().await.unwrap());
    assert_eq!(
        Store::open(cache.path()).unwrap().count_findings().unwrap(),
        250
    );
    server.stop().await;
}

/// Every finding in the cache, as the API would list it.
fn cached(cache: &Path) -> Vec<serde_json::Value> {
    let store = Store::open(cache).unwrap();
    let ids = crate::common::stored_ids(&store);
    let mut all: Vec<serde_json::Value> = store
        .load_findings(&ids)
        .unwrap()
        .iter()
        .map(|f| serde_json::to_value(sift::wire::v1::Finding::from_domain(f)).unwrap())
        .collect();
    all.sort_by_key(|f| f["id"].as_i64());
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_pull_by_change_fills_the_cache_as_one_by_pages_does() {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    // Some findings changed since they were imported: they come last.
    colleague_decides(served.path(), &[3, 40, 120], TriageState::Reviewing);

    let by_change = tempfile::tempdir().unwrap();
    let ana = api(&server, by_change.path());
    server
        .faults
        .then(FaultRoute::Copy, ServerFault::Status(404));
    assert!(ana.pull().await.unwrap());
    assert_eq!(
        server.faults.seen(FaultRoute::Findings),
        3,
        "250 findings by change, 100 a page"
    );
    assert!(ana.pulls_cheaply(), "the last page's cursor is kept");

    // A sift serve that does not list by change (it refuses the first
    // change's cursor) is pulled page by page.
    let by_page = tempfile::tempdir().unwrap();
    let ben = api(&server, by_page.path());
    server
        .faults
        .then(FaultRoute::Copy, ServerFault::Status(404))
        .then(FaultRoute::Findings, ServerFault::Status(400));
    assert!(ben.pull().await.unwrap());
    assert_eq!(server.faults.seen(FaultRoute::Findings), 3 + 1 + 3);

    let (a, b) = (cached(by_change.path()), cached(by_page.path()));
    assert_eq!(a.len(), 250);
    assert_eq!(a, b);
    assert_eq!(status(by_change.path(), 40), Status::Reviewing);

    // Nothing changed since: the next pull asks once and brings nothing.
    assert!(!ana.pull().await.unwrap());
    server.stop().await;
}

/// Copies of the server's findings left in a directory.
fn copies_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("findings-copy"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_pull_takes_a_copy_of_the_servers_findings_that_holds_what_pages_would() {
    let served = standard_backlog();
    // A copy a killed server left half-written goes when it starts again.
    std::fs::write(served.path().join(".findings-copy-x1"), b"SQLite format 3").unwrap();
    let server = TestServer::start(served.path()).await;
    colleague_decides(served.path(), &[3, 40, 120], TriageState::Reviewing);

    let copied = tempfile::tempdir().unwrap();
    let ana = api(&server, copied.path());
    assert!(ana.pull().await.unwrap());
    assert_eq!(
        (
            server.faults.seen(FaultRoute::Copy),
            server.faults.seen(FaultRoute::Findings)
        ),
        (1, 0),
        "a copy, no page"
    );
    assert!(ana.pulls_cheaply(), "the copy's cursor is kept");
    // As pages would have filled the cache.
    let paged = tempfile::tempdir().unwrap();
    let ben = api(&server, paged.path());
    server
        .faults
        .then(FaultRoute::Copy, ServerFault::Status(404));
    assert!(ben.pull().await.unwrap());
    assert_eq!(cached(copied.path()), cached(paged.path()));
    assert_eq!(status(copied.path(), 40), Status::Reviewing);
    assert!(copies_left(copied.path()).is_empty());
    assert!(copies_left(served.path()).is_empty());

    // Nothing changed since the copy: one listing of changes, nothing new.
    let listed = server.faults.seen(FaultRoute::Findings);
    assert!(!ana.pull().await.unwrap());
    assert_eq!(server.faults.seen(FaultRoute::Findings), listed + 1);
    // A colleague's decision after the copy comes by its cursor.
    colleague_decides(served.path(), &[7], TriageState::Reviewing);
    assert!(ana.pull().await.unwrap());
    assert_eq!(status(copied.path(), 7), Status::Reviewing);
    assert_eq!(server.faults.seen(FaultRoute::Copy), 2, "ben's only");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_fails_or_is_not_one_gives_way_to_pages() {
    let served = standard_backlog();
    let server = TestServer::start(served.path()).await;
    let faults = [
        ServerFault::Status(500),
        ServerFault::Garbage,
        ServerFault::EmptyObject,
        ServerFault::Hang,
    ];
    for fault in faults {
        let cache = tempfile::tempdir().unwrap();
        let ana = api(&server, cache.path())
            .with_timeout(Duration::from_secs(1))
            .unwrap();
        server.faults.then(FaultRoute::Copy, fault.clone());
        let listed = server.faults.seen(FaultRoute::Findings);
        assert!(ana.pull().await.unwrap(), "{fault:?}");
        assert_eq!(
            server.faults.seen(FaultRoute::Findings),
            listed + 3,
            "{fault:?}: 250 findings, 100 a page"
        );
        assert_eq!(
            Store::open(cache.path()).unwrap().count_findings().unwrap(),
            250
        );
        assert!(ana.pulls_cheaply(), "{fault:?}");
        assert!(copies_left(cache.path()).is_empty(), "{fault:?}");
    }
    // A cache that holds findings but lost its cursor is not sent a copy.
    let cache = tempfile::tempdir().unwrap();
    assert!(api(&server, cache.path()).pull().await.unwrap());
    std::fs::remove_file(cache.path().join("change-cursor")).unwrap();
    let copies = server.faults.seen(FaultRoute::Copy);
    api(&server, cache.path()).pull().await.unwrap();
    assert_eq!(server.faults.seen(FaultRoute::Copy), copies);
    server.stop().await;
}

/// The findings of a change listing's answer, whole and as their triage
/// alone, by id.
async fn changes_since(server: &TestServer, cursor: &str, apart: bool) -> (Vec<i64>, Vec<i64>) {
    let mut url = format!(
        "{}/api/v1/deployments/local/findings?page_size=100&since_change={cursor}",
        server.base
    );
    if apart {
        url.push_str("&triage_apart=true");
    }
    let page: serde_json::Value = common::raw_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids = |key: &str| -> Vec<i64> {
        let mut ids: Vec<i64> = page[key]
            .as_array()
            .map(|a| a.iter().map(|f| f["id"].as_i64().unwrap()).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    };
    (ids("findings"), ids("triaged"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_after_decisions_brings_their_triage_alone_and_stores_what_a_whole_pull_does() {
    let Pulled {
        served,
        server,
        cache,
        ana,
    } = served_and_pulled().await;
    let cursor = change_cursor(cache.path());

    // A colleague ignores two findings with a reason and a note, and takes
    // a third into review (with its twin on a pull request, 1003).
    let ignore = false_positive(Some("sanitised by the ORM \u{1b}[31m"));
    Store::open(served.path())
        .unwrap()
        .apply_triage(&[3, 40], &ignore, "ben", OffsetDateTime::now_utc(), None)
        .unwrap();
    colleague_decides(served.path(), &[120], TriageState::Reviewing);

    // Asked for them apart, the server sends their triage alone; a client
    // that does not ask gets them whole.
    assert_eq!(
        changes_since(&server, &cursor, true).await,
        (vec![], vec![3, 40, 120, 1003])
    );
    assert_eq!(
        changes_since(&server, &cursor, false).await,
        (vec![3, 40, 120, 1003], vec![])
    );
    // From the first change, every finding comes whole.
    let from_first = format!("{}.0", cursor.split('.').next().unwrap());
    let (whole, triaged) = changes_since(&server, &from_first, true).await;
    assert_eq!((whole.len(), triaged.len()), (100, 0));

    assert!(ana.pull().await.unwrap());
    assert_eq!(status(cache.path(), 3), Status::Ignored);
    assert_eq!(status(cache.path(), 120), Status::Reviewing);
    // The cache holds what a first pull of the same findings stores.
    let fresh = tempfile::tempdir().unwrap();
    assert!(api(&server, fresh.path()).pull().await.unwrap());
    assert_eq!(cached(cache.path()), cached(fresh.path()));
    // Nothing changed since: nothing comes.
    assert!(!ana.pull().await.unwrap());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_for_a_finding_the_cache_lost_brings_every_finding_at_the_next_pull() {
    let Pulled {
        served,
        server,
        cache,
        ana,
    } = served_and_pulled().await;
    // The cache lost a finding (by hand, say) that a colleague decides.
    let db = rusqlite::Connection::open(cache.path().join(sift::store::DB_FILE)).unwrap();
    db.execute_batch(
        "DELETE FROM finding_details WHERE finding_id = 7;
         DELETE FROM finding_evidence WHERE finding_id = 7;
         DELETE FROM activity WHERE finding_id = 7;
         DELETE FROM findings WHERE id = 7;",
    )
    .unwrap();
    drop(db);
    colleague_decides(served.path(), &[7, 8], TriageState::Fixing);

    // The decision on the finding it holds is stored; the other cannot be,
    // so the cursor is let go of.
    assert!(ana.pull().await.unwrap());
    assert_eq!(status(cache.path(), 8), Status::Fixing);
    assert!(
        Store::open(cache.path())
            .unwrap()
            .load_finding(7)
            .unwrap()
            .is_none()
    );
    assert!(!ana.pulls_cheaply());
    // The next pull brings every finding, the lost one with its decision.
    assert!(ana.pull().await.unwrap());
    assert_eq!(status(cache.path(), 7), Status::Fixing);
    assert_eq!(
        Store::open(cache.path()).unwrap().count_findings().unwrap(),
        250
    );
    assert!(ana.pulls_cheaply());
    server.stop().await;
}
