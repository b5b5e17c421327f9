//! Two reviewers on one backlog (issue 15): each has a data directory and
//! a store of their own, and both sync with one `sift serve`. A decision on
//! a finding the other decided since the reviewer last pulled is not
//! applied over theirs: it is reported as a conflict, kept, and settled by
//! the reviewer (keep yours, or take theirs).

use crate::common;

use crate::cli_api::json;
use common::{TestServer, standard_backlog};
use sift::backend::Backend;
use sift::backend::api::Api;
use sift::backend::embedded::Embedded;
use sift::domain::{Intent, Status, TriageReason, TriageState};
use sift::store::Store;
use sift::sync::{self, PassReport, SyncConfig};
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;

const FINDING: i64 = 20;

/// A reviewer: their own cache of the server's backlog, pulled once.
struct Reviewer {
    name: &'static str,
    cache: TempDir,
    api: Api,
}

impl Reviewer {
    async fn join(server: &TestServer, name: &'static str) -> Reviewer {
        let cache = tempfile::tempdir().unwrap();
        let api = Api::new(&server.base, None, None, cache.path())
            .unwrap()
            .with_timeout(Duration::from_secs(5))
            .unwrap()
            .with_reviewer(name);
        assert!(api.pull().await.unwrap());
        Reviewer { name, cache, api }
    }

    fn store(&self) -> Store {
        Store::open(self.cache.path()).unwrap()
    }

    /// Decides as the console and `sift triage` do: against the finding as
    /// this reviewer's store shows it.
    fn decide(&self, id: i64, state: TriageState) {
        let intent = Intent::SetState {
            state,
            reason: (state == TriageState::Ignored).then_some(TriageReason::FalsePositive),
            note: None,
        };
        let decided = self
            .store()
            .decide(&[(id, intent)], self.name, true)
            .unwrap();
        assert!(decided.refused.is_empty(), "{:?}", decided.refused);
    }

    async fn sync(&self) -> PassReport {
        let mut store = self.store();
        sync::push_and_pull(&self.api, &mut store, &SyncConfig::default())
            .await
            .unwrap()
    }

    fn status(&self, id: i64) -> Status {
        self.store().load_finding(id).unwrap().unwrap().status()
    }
}

/// The finding on the server: its status and who decided it, in order.
fn served(dir: &Path, id: i64) -> (Status, Vec<String>) {
    let f = Store::open(dir).unwrap().load_finding(id).unwrap().unwrap();
    let who = f.activity.iter().map(|a| a.actor.clone()).collect();
    (f.status(), who)
}

/// Ana ignores the finding; Ben, who has not pulled since, sets it to fix.
async fn crossing() -> (TempDir, TestServer, Reviewer, Reviewer) {
    let backlog = standard_backlog();
    let server = TestServer::start(backlog.path()).await;
    let ana = Reviewer::join(&server, "ana").await;
    let ben = Reviewer::join(&server, "ben").await;
    ana.decide(FINDING, TriageState::Ignored);
    let report = ana.sync().await;
    assert_eq!((report.acknowledged, report.conflicts.len()), (1, 0));
    ben.decide(FINDING, TriageState::Fixing);
    let report = ben.sync().await;
    assert_eq!(report.acknowledged, 0, "not applied over Ana's");
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts_total, 1);
    let c = &report.conflicts[0].conflict;
    assert_eq!(c.finding_id, FINDING);
    assert_eq!(c.state, TriageState::Ignored);
    assert_eq!(c.reason, Some(TriageReason::FalsePositive));
    assert_eq!(c.by.as_deref(), Some("ana"));
    assert!(c.at.is_some(), "when Ana decided");
    assert_eq!(
        served(backlog.path(), FINDING),
        (Status::Ignored, vec!["ana".to_string()]),
        "nothing of Ana's is overwritten"
    );
    (backlog, server, ana, ben)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossing_decision_is_reported_kept_and_sent_when_the_reviewer_keeps_it() {
    let (backlog, server, _ana, ben) = crossing().await;
    // Ben's store shows what the server holds, and his decision waits.
    assert_eq!(ben.status(FINDING), Status::Ignored);
    let store = ben.store();
    let conflicts = store.conflicts().unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].change.state, Some(TriageState::Fixing));
    assert_eq!(store.waiting_count().unwrap(), 0, "not sent again unasked");
    assert_eq!(
        store.rejected_count().unwrap(),
        0,
        "a conflict is no refusal"
    );
    let message = sync::conflict_sentence(
        conflicts[0].conflict.as_ref().unwrap(),
        &conflicts[0].change,
        conflicts[0].created_at,
    );
    assert!(
        message.starts_with("ana set this to ignored (false positive)"),
        "{message}"
    );
    // A pass without a word from Ben changes nothing.
    let report = ben.sync().await;
    assert_eq!((report.calls, report.conflicts_total), (0, 1));

    // Ben keeps his: it goes again, over Ana's, which he has now seen.
    assert_eq!(store.keep_mine(&[conflicts[0].id]).unwrap(), 1);
    let report = ben.sync().await;
    assert_eq!((report.acknowledged, report.conflicts_total), (1, 0));
    assert_eq!(
        served(backlog.path(), FINDING),
        (Status::Fixing, vec!["ana".to_string(), "ben".to_string()])
    );
    assert_eq!(ben.status(FINDING), Status::Fixing);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_theirs_drops_the_reviewers_decision() {
    let (backlog, server, ana, ben) = crossing().await;
    let store = ben.store();
    let ids: Vec<i64> = store.conflicts().unwrap().iter().map(|p| p.id).collect();
    assert_eq!(store.take_theirs(&ids).unwrap(), 1);
    assert!(
        store.pending().unwrap().is_empty(),
        "Ben's decision is gone"
    );
    let report = ben.sync().await;
    assert_eq!((report.calls, report.conflicts_total), (0, 0));
    assert_eq!(
        ben.status(FINDING),
        Status::Ignored,
        "Ana's, in Ben's store"
    );
    assert_eq!(ana.status(FINDING), Status::Ignored);
    assert_eq!(
        served(backlog.path(), FINDING),
        (Status::Ignored, vec!["ana".to_string()])
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_that_do_not_cross_go_through() {
    let backlog = standard_backlog();
    let server = TestServer::start(backlog.path()).await;
    let ana = Reviewer::join(&server, "ana").await;
    let ben = Reviewer::join(&server, "ben").await;
    // Different findings; and one both set to fix, which is no conflict.
    ana.decide(21, TriageState::Ignored);
    ana.decide(22, TriageState::Fixing);
    ben.decide(23, TriageState::Reviewing);
    ben.decide(22, TriageState::Fixing);
    let a = ana.sync().await;
    let b = ben.sync().await;
    assert_eq!((a.acknowledged, a.conflicts_total), (2, 0));
    assert_eq!((b.acknowledged, b.conflicts_total), (2, 0));
    assert_eq!(served(backlog.path(), 21).0, Status::Ignored);
    assert_eq!(served(backlog.path(), 22).0, Status::Fixing);
    assert_eq!(served(backlog.path(), 23).0, Status::Reviewing);
    // Each now sees the other's decisions.
    ana.sync().await;
    assert_eq!(ana.status(23), Status::Reviewing);
    assert_eq!(ben.status(21), Status::Ignored);
    // A second decision on one's own earlier one is no conflict either.
    ana.decide(21, TriageState::Reviewing);
    ana.decide(21, TriageState::Fixing);
    let a = ana.sync().await;
    assert_eq!((a.acknowledged, a.conflicts_total), (2, 0));
    assert_eq!(served(backlog.path(), 21).0, Status::Fixing);
    server.stop().await;
}

#[tokio::test]
async fn the_embedded_backend_checks_too() {
    // Two consoles on one data directory: Ben decided, Ana's decision
    // reached the store first.
    let dir = standard_backlog();
    let store = Store::open(dir.path()).unwrap();
    let fixing = Intent::SetState {
        state: TriageState::Fixing,
        reason: None,
        note: None,
    };
    store.decide(&[(FINDING, fixing)], "ben", true).unwrap();
    store
        .apply_triage(
            &[FINDING],
            &sift::domain::TriageChange {
                state: Some(TriageState::Reviewing),
                reason: None,
                note: None,
            },
            "ana",
            time::OffsetDateTime::now_utc(),
            None,
        )
        .unwrap();
    let backend = Embedded::open(dir.path()).unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let report = sync::push_and_pull(&backend, &mut store, &SyncConfig::default())
        .await
        .unwrap();
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].conflict.by.as_deref(), Some("ana"));
    assert_eq!(served(dir.path(), FINDING).0, Status::Reviewing);
}

// The command line ------------------------------------------------------

/// Runs sift as `user` (`cli_api`'s runner: an environment of its own).
async fn sift(data: &Path, user: &str, args: &[&str]) -> Output {
    crate::cli_api::sift(data, &[("USER", user)], args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sift_triage_reports_the_conflict_and_sift_conflicts_settles_it() {
    let backlog = standard_backlog();
    let server = TestServer::start(backlog.path()).await;
    let (ana, ben) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let url = server.base.as_str();
    let id = FINDING.to_string();
    // Ben pulls first; then Ana ignores the finding.
    let out = sift(ben.path(), "ben", &["--url", url, "sync"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = sift(
        ana.path(),
        "ana",
        &["--url", url, "triage", &id, "--state", "ignored"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = sift(
        ben.path(),
        "ben",
        &["--url", url, "triage", &id, "--state", "fixing", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let answer = json(&out);
    assert_eq!(answer["decisions"][0]["result"], "conflict");
    let message = answer["decisions"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("ana set this to ignored"), "{message}");
    assert_eq!(answer["conflicts"][0]["theirs"]["by"], "ana");
    assert_eq!(served(backlog.path(), FINDING).0, Status::Ignored);

    // `sift sync` says so too, and exits 7 while it stands.
    let out = sift(ben.path(), "ben", &["--url", url, "sync"]).await;
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("conflict: ana set this to ignored"), "{said}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sift conflicts keep"));

    let out = sift(ben.path(), "ben", &["--url", url, "conflicts", "--json"]).await;
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(json(&out)["conflicts"][0]["id"], FINDING);
    let out = sift(
        ben.path(),
        "ben",
        &["--url", url, "conflicts", "keep", "99"],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "no conflict on 99: {out:?}");

    let out = sift(
        ben.path(),
        "ben",
        &["--url", url, "conflicts", "keep", &id, "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let answer = json(&out);
    assert_eq!(answer["acknowledged"], 1);
    assert_eq!(answer["conflicts"].as_array().unwrap().len(), 0);
    assert_eq!(
        served(backlog.path(), FINDING),
        (Status::Fixing, vec!["ana".to_string(), "ben".to_string()])
    );
    let out = sift(ben.path(), "ben", &["--url", url, "conflicts"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no conflicts\n");
    server.stop().await;
}

// The console ------------------------------------------------------------

use crate::console::Console;
use sift::domain::TriageChange;
use sift::sync::{Conflicted, SyncEvent};
use sift::tui::action::Action;

fn ignored() -> TriageChange {
    TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(TriageReason::FalsePositive),
        note: None,
    }
}

#[test]
fn when_a_colleague_moves_the_finding_out_of_the_view_the_cursor_stays_and_says_why() {
    let mut c = Console::new(160, 48);
    c.keys("j");
    let (position, was, listed) = (c.model.list.selected, c.selected().unwrap(), c.listed());
    assert!(position + 1 < listed.len(), "{listed:?}");
    // Ana ignores it elsewhere; the sync says the store changed.
    c.store()
        .apply_triage(
            &[was],
            &ignored(),
            "ana",
            time::OffsetDateTime::now_utc(),
            None,
        )
        .unwrap();
    c.send(Action::Synced(SyncEvent::Changed));
    assert!(!c.listed().contains(&was), "it left this view");
    assert_eq!(c.model.list.selected, position, "the cursor stays put");
    assert_eq!(c.selected(), Some(listed[position + 1]), "on the next one");
    assert_eq!(
        c.model.notice.as_deref(),
        Some("The finding you were on was set to ignored by ana; it left this view")
    );
    assert!(c.render().contains("was set to ignored by ana"));
}

/// The console with one decision of the tester's that Ana's crossed: an
/// open finding set to reviewing (in the All view, where it stays listed)
/// after Ana ignored it. Returns the finding.
fn crossed_in_the_console() -> (Console, i64) {
    let mut c = Console::new(200, 48);
    c.keys("8");
    let index = c.store().load_index().unwrap();
    let id = c
        .listed()
        .into_iter()
        .find(|id| {
            index
                .rows
                .iter()
                .any(|r| r.id == *id && r.status == Status::Open)
        })
        .unwrap();
    go_to(&mut c, id);
    c.keys("v"); // and the cursor moves on
    // Ana's decision reached the backend first; the sync sends the
    // tester's, which the backend leaves alone.
    let now = time::OffsetDateTime::now_utc();
    c.store()
        .apply_triage(&[id], &ignored(), "ana", now, None)
        .unwrap();
    let batch = c.store().next_batch(3000).unwrap().unwrap();
    let applied = c
        .store()
        .apply_triage_if(
            &batch.finding_ids,
            &batch.change,
            "tester",
            now,
            Some(&batch.request_key),
            &batch.preconditions,
        )
        .unwrap();
    assert_eq!(applied.conflicts.len(), 1, "{applied:?}");
    let conflict = applied.conflicts[0].clone();
    c.store()
        .mark_conflicted(batch.outbox_ids[0], &conflict)
        .unwrap();
    c.send(Action::Synced(SyncEvent::Conflicts(vec![Conflicted {
        outbox_id: batch.outbox_ids[0],
        change: batch.change.clone(),
        actor: "tester".into(),
        conflict,
    }])));
    let notice = c.model.notice.clone();
    go_to(&mut c, id);
    c.model.notice = notice;
    (c, id)
}

fn go_to(c: &mut Console, id: i64) {
    c.keys("g");
    while c.selected() != Some(id) {
        c.keys("j");
    }
}

#[test]
fn a_conflict_is_counted_shown_on_its_finding_and_kept_with_k() {
    let (mut c, id) = crossed_in_the_console();
    let notice = c.model.notice.clone().unwrap_or_default();
    assert!(notice.contains("K keeps yours, T takes theirs"), "{notice}");
    assert_eq!(c.model.conflicts.len(), 1);
    c.model.notice = None;
    let screen = c.render();
    assert!(screen.contains("1 conflict"), "{screen}");
    assert!(
        screen.contains("ana set this to ignored (false positive)"),
        "{screen}"
    );
    assert!(screen.contains("K keep yours · T take theirs"), "{screen}");
    let row = c.model.index.rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(row.status, Status::Ignored, "Ana's, until the tester says");
    c.keys("K");
    assert!(c.model.conflicts.is_empty());
    assert!(!c.render().contains("1 conflict"));
    let pending = c.store().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].change.state, Some(TriageState::Reviewing));
    assert_eq!(pending[0].seen, Some(TriageState::Ignored), "over Ana's");
    assert_eq!(
        c.store().waiting_count().unwrap(),
        1,
        "sent at the next pass"
    );
}

#[test]
fn t_takes_theirs() {
    let (mut c, id) = crossed_in_the_console();
    c.keys("T");
    assert!(c.model.conflicts.is_empty());
    assert!(c.store().pending().unwrap().is_empty());
    let row = c.model.index.rows.iter().find(|r| r.id == id).unwrap();
    assert_eq!(row.status, Status::Ignored);
    assert_eq!(
        c.model.notice.as_deref(),
        Some("Your decision dropped: your colleague's stands")
    );
    // No conflict left: the keys say so.
    c.keys("K");
    assert_eq!(
        c.model.notice.as_deref(),
        Some("No decision of yours is in conflict with a colleague's")
    );
}
