//! One backend conformance suite, run against the embedded backend and
//! against `sift serve` on loopback through the HTTP client (with and
//! without bearer tokens): what a reviewer relies on, whichever backend
//! holds the backlog.

use crate::common;

use common::{TestServer, standard_backlog};
use serde_json::{Value, json};
use sift::backend::api::Api;
use sift::backend::api::credentials::Token;
use sift::backend::embedded::Embedded;
use sift::backend::{Backend, BackendError, TriageRequest};
use sift::domain::{Status, TriageChange, TriageReason, TriageState};
use sift::server::auth::Tokens;
use sift::server::faults::{FaultRoute, ServerFault};
use sift::store::Store;
use std::path::Path;
use tempfile::TempDir;
use time::OffsetDateTime;

/// A backend with the standard backlog, the store that is its truth, and
/// the local store a console reads (the same one for the embedded
/// backend; the client's cache for the API).
struct Harness<B> {
    backend: B,
    truth: TempDir,
    local: Option<TempDir>,
    server: Option<TestServer>,
}

impl<B> Harness<B> {
    fn truth(&self) -> &Path {
        self.truth.path()
    }

    fn local(&self) -> &Path {
        self.local.as_ref().map_or(self.truth.path(), |d| d.path())
    }

    async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

fn embedded() -> Harness<Embedded> {
    let truth = standard_backlog();
    Harness {
        backend: Embedded::open(truth.path()).unwrap(),
        truth,
        local: None,
        server: None,
    }
}

const TOKEN: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0";

async fn http(with_tokens: bool) -> Harness<Api> {
    let truth = standard_backlog();
    let tokens = with_tokens.then(|| Tokens::single(TOKEN, "alice").unwrap());
    let server = TestServer::start_with(truth.path(), tokens).await;
    let cache = tempfile::tempdir().unwrap();
    let token = with_tokens.then(|| Token::new(TOKEN).unwrap());
    let api = Api::new(&server.base, token, None, cache.path())
        .unwrap()
        .with_page_size(100);
    Harness {
        backend: api,
        truth,
        local: Some(cache),
        server: Some(server),
    }
}

fn ignore(note: &str) -> TriageChange {
    TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(TriageReason::FalsePositive),
        note: Some(note.into()),
    }
}

fn set(state: TriageState) -> TriageChange {
    TriageChange {
        state: Some(state),
        reason: None,
        note: None,
    }
}

fn by(actor: &str, ids: &[i64], change: TriageChange) -> TriageRequest {
    TriageRequest {
        issue_ids: ids.to_vec(),
        change,
        actor: actor.into(),
        key: None,
        preconditions: Vec::new(),
    }
}

fn finding(dir: &Path, id: i64) -> sift::domain::Finding {
    Store::open(dir).unwrap().load_finding(id).unwrap().unwrap()
}

/// The reviewer-facing properties, in one run over a fresh backlog.
async fn conformance<B: Backend>(h: &Harness<B>, actor: &str) {
    // The backlog is listed where the console reads it.
    h.backend.pull().await.unwrap();
    let local = Store::open(h.local()).unwrap();
    let index = local.load_index().unwrap();
    for id in [1, 2, 120, 240] {
        assert!(index.rows.iter().any(|r| r.id == id), "finding {id} listed");
    }
    let f = finding(h.local(), 7);
    assert_eq!(f.project, "acme/web");
    assert_eq!(f.verdict().map(|v| v.as_str()), Some("true_positive"));
    assert_eq!(f.status(), Status::Open);
    assert!(!h.backend.pull().await.unwrap(), "nothing new");

    // A decision applies across refs and names who decided.
    let answer = h
        .backend
        .triage(by(actor, &[1], ignore("validated upstream")))
        .await
        .unwrap();
    assert_eq!(answer.triaged, vec![1, 1001]);
    for id in [1, 1001] {
        let f = finding(h.truth(), id);
        assert_eq!(f.status(), Status::Ignored, "{id}");
        assert_eq!(f.triage_reason, Some(TriageReason::FalsePositive));
        assert_eq!(f.triage_comment.as_deref(), Some("validated upstream"));
        assert_eq!(f.activity.last().unwrap().actor, actor);
    }
    assert_eq!(
        finding(h.local(), 1).status(),
        Status::Ignored,
        "the console sees it at once"
    );

    // Sending it again (a lost acknowledgement) changes nothing.
    let again = h
        .backend
        .triage(by(actor, &[1], ignore("validated upstream")))
        .await
        .unwrap();
    assert_eq!(again.triaged, vec![1, 1001]);
    assert_eq!(finding(h.truth(), 1).activity.len(), 1, "one entry");

    // A note alone keeps the state; reopening, reviewing and fixing.
    let note = TriageChange {
        state: None,
        reason: None,
        note: Some("asked the owners".into()),
    };
    h.backend.triage(by(actor, &[2], note)).await.unwrap();
    let f = finding(h.truth(), 2);
    assert_eq!(f.status(), Status::Open);
    assert_eq!(
        f.activity.last().unwrap().note.as_deref(),
        Some("asked the owners")
    );
    for (state, status) in [
        (TriageState::Reviewing, Status::Reviewing),
        (TriageState::Fixing, Status::Fixing),
        (TriageState::Reopened, Status::Open),
    ] {
        h.backend.triage(by(actor, &[3], set(state))).await.unwrap();
        assert_eq!(finding(h.truth(), 3).status(), status);
    }

    // Many findings in one call; unknown ids are skipped.
    let answer = h
        .backend
        .triage(by(actor, &[10, 11, 12, 999_999], set(TriageState::Fixing)))
        .await
        .unwrap();
    assert_eq!(answer.triaged, vec![10, 11, 12, 1010]);

    // Bad requests are refused, and refused for good.
    let long = TriageChange {
        state: None,
        reason: None,
        note: Some("x".repeat(3_001)),
    };
    let e = h.backend.triage(by(actor, &[4], long)).await.unwrap_err();
    assert!(matches!(e, BackendError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("at most 3000"), "{e}");
    let e = h
        .backend
        .triage(by(actor, &[4], set(TriageState::ProvisionallyIgnored)))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e:?}");
    assert!(finding(h.truth(), 4).activity.is_empty());

    // Another writer's change reaches the console at the next pull.
    Store::open(h.truth())
        .unwrap()
        .apply_triage(
            &[20],
            &set(TriageState::Reviewing),
            "bob",
            OffsetDateTime::now_utc(),
            None,
        )
        .unwrap();
    assert!(h.backend.pull().await.unwrap(), "a change to reload");
    assert_eq!(finding(h.local(), 20).status(), Status::Reviewing);
    assert!(!h.backend.pull().await.unwrap());

    memories(h, actor).await;
}

/// Memory changes: created (sent twice, kept once) with a scope wider than
/// v2's, updated, refused when the memory is gone, deleted (twice, fine);
/// someone else's memory arrives at the next pull.
async fn memories<B: Backend>(h: &Harness<B>, actor: &str) {
    use sift::domain::{Memory, MemoryChange, RuleScope, Scope};
    let stored = || Store::open(h.truth()).unwrap().memories().unwrap();
    let m = Memory::new(
        "Fixtures under test/ hold fake data".into(),
        Scope {
            projects: vec!["acme/web".into(), "acme/api".into()],
            rules: RuleScope::All,
            path_prefixes: vec!["test/".into()],
        },
        false,
        actor,
    );
    let create = MemoryChange::Create(m.clone());
    let kept = h
        .backend
        .memory(create.clone(), actor.into())
        .await
        .unwrap()
        .expect("the memory as stored");
    assert_eq!(kept.scope, m.scope);
    assert_eq!(kept.content, m.content);
    let again = h
        .backend
        .memory(create, actor.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, kept.id, "a retried create makes nothing new");
    assert_eq!(stored().len(), 1);

    let mut edited = kept.clone();
    edited.content = "Fixtures under test/ and spec/ hold fake data".into();
    edited.scope.path_prefixes.push("spec/".into());
    h.backend
        .memory(MemoryChange::Update(edited.clone()), actor.into())
        .await
        .unwrap();
    assert_eq!(stored()[0].content, edited.content);
    assert_eq!(stored()[0].scope, edited.scope);

    h.backend
        .memory(MemoryChange::Delete(kept.id.clone()), actor.into())
        .await
        .unwrap();
    assert!(stored().is_empty());
    h.backend
        .memory(MemoryChange::Delete(kept.id.clone()), actor.into())
        .await
        .expect("deleting what is gone is fine");
    let e = h
        .backend
        .memory(MemoryChange::Update(edited), actor.into())
        .await
        .unwrap_err();
    assert!(matches!(e, BackendError::Rejected { .. }), "{e:?}");
    assert!(stored().is_empty(), "an update does not bring it back");

    // Someone else's memory arrives at the next pull.
    let theirs = Memory::new(
        "ConfigService is internal".into(),
        Scope::default(),
        false,
        "bob",
    );
    Store::open(h.truth()).unwrap().put_memory(&theirs).unwrap();
    assert!(h.backend.pull().await.unwrap(), "a change to reload");
    let (seen, _) = Store::open(h.local()).unwrap().memories_in_view().unwrap();
    assert!(seen.iter().any(|m| m.content == theirs.content));
}

#[tokio::test]
async fn the_embedded_backend_conforms() {
    let h = embedded();
    conformance(&h, "alice").await;
}

#[tokio::test]
async fn sift_serve_through_the_http_client_conforms() {
    let h = http(false).await;
    let faults = h.server.as_ref().unwrap().faults.clone();
    // As a server that offers no copy of its findings: the first pull
    // takes pages (`pull.rs` has the copy).
    faults.then(FaultRoute::Copy, ServerFault::Status(404));
    conformance(&h, "alice").await;
    // The first pull asked for every finding by change: 250 findings,
    // every ref's copy, 100 a page: 3 pages, the first from change 0 and
    // the next from the cursor of the page before, each as the server's
    // store holds them. The later pulls asked only for the changes since
    // the last cursor.
    let requests = faults.requests();
    let lists: Vec<&str> = requests
        .iter()
        .filter(|r| r.route == FaultRoute::Findings)
        .map(|r| r.path_and_query.as_str())
        .collect();
    assert!(lists.len() > 3, "{lists:?}");
    assert!(
        lists[0].ends_with("&since_change=0&as_stored=true"),
        "{lists:?}"
    );
    assert!(
        lists[1..]
            .iter()
            .all(|q| q.contains("since_change=") && q.contains("&as_stored=true")),
        "{lists:?}"
    );
    // The requests were in the wire shape the spec defines.
    let first_list = requests
        .iter()
        .find(|r| r.route == FaultRoute::Findings)
        .unwrap();
    assert_eq!(
        first_list.path_and_query,
        "/api/v1/deployments/local/findings?issue_type=sast&page=0&page_size=100&since_change=0&as_stored=true"
    );
    let first_triage = requests
        .iter()
        .find(|r| r.route == FaultRoute::Triage)
        .unwrap();
    assert_eq!(
        first_triage.path_and_query,
        "/api/v1/deployments/local/triage"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&first_triage.body).unwrap(),
        json!({
            "issue_type": "sast",
            "issue_ids": [1],
            "new_triage_state": "ignored",
            "new_triage_reason": "false_positive",
            "new_note": "validated upstream"
        })
    );
    let note_only = requests
        .iter()
        .filter(|r| r.route == FaultRoute::Triage)
        .find(|r| r.body.contains("asked the owners"))
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&note_only.body).unwrap(),
        json!({"issue_type": "sast", "issue_ids": [2], "new_note": "asked the owners"})
    );
    h.stop().await;
}

#[tokio::test]
async fn sift_serve_with_tokens_conforms_and_names_the_tokens_reviewer() {
    let h = http(true).await;
    // With tokens, the token's reviewer is who decided, whatever the
    // client says.
    conformance(&h, "alice").await;
    h.backend
        .triage(by("mallory", &[30], set(TriageState::Reviewing)))
        .await
        .unwrap();
    assert_eq!(
        finding(h.truth(), 30).activity.last().unwrap().actor,
        "alice"
    );
    h.stop().await;
}
