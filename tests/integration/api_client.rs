//! The Semgrep API client against `sift serve` on loopback: discovery,
//! pulls into the cache, triage, and what each failure tells the reviewer.

use crate::common;

use common::{TestServer, raw_client, standard_backlog};
use sift::backend::api::Api;
use sift::backend::api::credentials::Token;
use sift::backend::{Backend, BackendError, TriageRequest};
use sift::domain::{Status, TriageChange, TriageReason, TriageState};
use sift::server::auth::Tokens;
use sift::server::faults::{FaultRoute, ServerFault};
use sift::store::Store;
use std::time::Duration;

fn ignore() -> TriageChange {
    TriageChange {
        state: Some(TriageState::Ignored),
        reason: Some(TriageReason::FalsePositive),
        note: Some("validated upstream".into()),
    }
}

fn request(ids: &[i64], change: TriageChange) -> TriageRequest {
    TriageRequest {
        issue_ids: ids.to_vec(),
        change,
        actor: "alice".into(),
        key: None,
        preconditions: Vec::new(),
    }
}

#[tokio::test]
async fn discovers_the_deployment_and_pulls_into_the_cache() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path())
        .unwrap()
        .with_page_size(100);
    assert_eq!(api.deployment().await.unwrap(), "local");
    let projects: Vec<String> = api
        .projects()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(projects, vec!["acme/api", "acme/web"]);

    assert!(api.pull().await.unwrap(), "the first pull brings findings");
    assert_eq!(
        (
            server.faults.seen(FaultRoute::Copy),
            server.faults.seen(FaultRoute::Findings)
        ),
        (1, 0),
        "into an empty cache, a copy of the server's findings instead of pages"
    );
    let cached = Store::open(cache.path()).unwrap();
    assert_eq!(
        cached.count_findings().unwrap(),
        250,
        "every ref's copy, as the server's store holds them"
    );
    let f = cached.load_finding(7).unwrap().unwrap();
    assert_eq!(f.project, "acme/web");
    assert_eq!(
        f.assistant.unwrap().verdict.unwrap().as_str(),
        "true_positive"
    );
    assert!(!api.pull().await.unwrap(), "nothing changed");

    // Another reviewer decides on the server: the next pull brings it.
    let r = raw_client()
        .post(format!("{}/api/v1/deployments/local/triage", server.base))
        .json(&serde_json::json!({"issue_type": "sast", "issue_ids": [7], "new_triage_state": "reviewing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(api.pull().await.unwrap());
    let f = cached.load_finding(7).unwrap().unwrap();
    assert_eq!(f.status(), Status::Reviewing);

    // A new client on the same cache remembers the last pull (page by
    // page: pages of the same size).
    let again = Api::new(&server.base, None, Some("local".into()), cache.path())
        .unwrap()
        .with_page_size(100);
    assert!(!again.pull().await.unwrap());
    server.stop().await;
}

#[tokio::test]
async fn triage_lands_on_the_server_and_in_the_cache_at_once() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path()).unwrap();
    assert!(api.pull().await.unwrap());
    let answer = api.triage(request(&[1], ignore())).await.unwrap();
    assert_eq!(answer.triaged, vec![1, 1001], "with its twin on the PR");
    let served = Store::open(dir.path())
        .unwrap()
        .load_finding(1001)
        .unwrap()
        .unwrap();
    assert_eq!(served.status(), Status::Ignored);
    assert_eq!(served.activity.last().unwrap().actor, "alice");
    let cached = Store::open(cache.path())
        .unwrap()
        .load_finding(1)
        .unwrap()
        .unwrap();
    assert_eq!(cached.status(), Status::Ignored);
    assert_eq!(cached.triage_comment.as_deref(), Some("validated upstream"));
    server.stop().await;
}

fn assert_rejected(e: &BackendError, words: &str) {
    assert!(matches!(e, BackendError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains(words), "{e}");
}

fn assert_unavailable(e: &BackendError, words: &str) {
    assert!(e.is_transient(), "{e:?}");
    assert!(e.to_string().contains(words), "{e}");
}

#[tokio::test]
async fn a_refused_or_missing_token_and_an_unknown_deployment_say_what_to_do() {
    let dir = standard_backlog();
    let secret = "5ec2e75ec2e75ec2e75ec2e75ec2e75e";
    let server =
        TestServer::start_with(dir.path(), Some(Tokens::single(secret, "alice").unwrap())).await;
    let cache = tempfile::tempdir().unwrap();
    for token in [None, Token::new("0000000000000000000000000000000000")] {
        let api = Api::new(&server.base, token, None, cache.path()).unwrap();
        let e = api.pull().await.unwrap_err();
        assert_rejected(&e, "the token was refused (401): check SEMGREP_APP_TOKEN");
    }
    let api = Api::new(
        &server.base,
        Token::new(secret),
        Some("acme".into()),
        cache.path(),
    )
    .unwrap();
    let e = api.triage(request(&[1], ignore())).await.unwrap_err();
    assert_rejected(&e, "Web API scope");
    assert!(e.to_string().contains("'acme'"), "{e}");
    assert!(!e.to_string().contains(secret));
    assert!(!format!("{api:?}").contains(secret));
    assert!(!api.describe().contains(secret));
    let api = Api::new(&server.base, Token::new(secret), None, cache.path()).unwrap();
    assert!(api.pull().await.unwrap());
    let e = api
        .triage(request(
            &[1],
            TriageChange {
                state: None,
                reason: None,
                note: Some("x".repeat(3_001)),
            },
        ))
        .await
        .unwrap_err();
    assert_rejected(
        &e,
        "the backend refused the triage (400): new_note is 3001 characters",
    );
    server.stop().await;
}

#[tokio::test]
async fn server_errors_rate_limits_hangs_and_garbage_are_worth_a_retry() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path())
        .unwrap()
        .with_timeout(Duration::from_millis(500))
        .unwrap();
    let send = || api.triage(request(&[2], ignore()));
    let f = &server.faults;
    f.then(FaultRoute::Triage, ServerFault::Status(500));
    assert_unavailable(
        &send().await.unwrap_err(),
        "the backend failed the triage (500)",
    );
    f.then(
        FaultRoute::Triage,
        ServerFault::RetryAfter {
            status: 429,
            value: "3".into(),
        },
    );
    match send().await.unwrap_err() {
        BackendError::Unavailable {
            message,
            retry_after,
            ..
        } => {
            assert!(message.contains("rate limiting"), "{message}");
            assert_eq!(retry_after, Some(Duration::from_secs(3)));
        }
        other => panic!("{other:?}"),
    }
    let in_a_minute =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(61));
    f.then(
        FaultRoute::Triage,
        ServerFault::RetryAfter {
            status: 503,
            value: in_a_minute,
        },
    );
    match send().await.unwrap_err() {
        BackendError::Unavailable { retry_after, .. } => {
            let wait = retry_after.unwrap();
            assert!(
                wait > Duration::from_secs(55) && wait <= Duration::from_secs(61),
                "{wait:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    f.then(FaultRoute::Triage, ServerFault::Hang);
    assert_unavailable(
        &send().await.unwrap_err(),
        "did not answer the triage within 1s",
    );
    // A server that offers no copy of its findings is pulled by pages.
    f.then(FaultRoute::Copy, ServerFault::Status(404))
        .then(FaultRoute::Findings, ServerFault::Garbage);
    assert_unavailable(
        &api.pull().await.unwrap_err(),
        "not the JSON the API defines",
    );
    // Through all of that, the decision was never applied; now it is.
    assert_eq!(send().await.unwrap().triaged, vec![2, 1002]);
    // A server that is gone.
    let base = server.base.clone();
    server.stop().await;
    let gone = Api::new(&base, None, Some("local".into()), cache.path()).unwrap();
    assert_unavailable(&gone.pull().await.unwrap_err(), "cannot reach the backend");
}

#[test]
fn plain_http_goes_to_loopback_only() {
    let cache = tempfile::tempdir().unwrap();
    let e = Api::new("http://semgrep.example", None, None, cache.path()).unwrap_err();
    assert!(e.to_string().contains("refusing plain http://"), "{e}");
    assert!(Api::new("http://127.0.0.1:9", None, None, cache.path()).is_ok());
    assert!(Api::new("https://semgrep.dev", None, None, cache.path()).is_ok());
}
