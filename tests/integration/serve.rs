//! `sift serve` spoken to in raw HTTP, as any Semgrep API client would:
//! the routes and shapes, paging, both forms of array parameters, bad
//! requests, tokens.

use crate::common;

use common::{TestServer, raw_client, standard_backlog};
use serde_json::{Value, json};
use sift::server::auth::Tokens;
use sift::store::Store;
use std::collections::HashSet;

async fn get(url: &str) -> (u16, Value) {
    let r = raw_client().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(url: &str, body: &str) -> (u16, Value) {
    let r = raw_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<i64> {
    page["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn ping_deployments_and_projects() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    assert_eq!(
        get(&format!("{}/api/v1/ping", server.base)).await,
        (200, json!({}))
    );
    let (status, body) = get(&format!("{}/api/v1/deployments", server.base)).await;
    assert_eq!(status, 200);
    let deployments = body["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["slug"], "local");
    assert_eq!(deployments[0]["name"], "sift");
    assert!(deployments[0]["id"].is_i64());
    assert!(
        deployments[0]["findings"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/deployments/local/findings")
    );
    let (status, body) = get(&format!(
        "{}/api/v1/deployments/local/projects",
        server.base
    ))
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["acme/api", "acme/web"]);
    assert_eq!(body["projects"][0]["tags"], json!([]));
    assert_eq!(body["projects"][0]["primary_branch"], "refs/heads/main");
    // One project, its name raw or with the slash encoded.
    for path in ["acme/web", "acme%2Fweb"] {
        let (status, body) = get(&format!(
            "{}/api/v1/deployments/local/projects/{path}",
            server.base
        ))
        .await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["project"]["name"], "acme/web");
    }
    let (status, body) = get(&format!(
        "{}/api/v1/deployments/local/projects/acme/nope",
        server.base
    ))
    .await;
    assert_eq!((status, body["error"].is_string()), (404, true));
    server.stop().await;
}

#[tokio::test]
async fn findings_page_deterministically_to_an_empty_page() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let url = |page: u32, extra: &str| {
        format!(
            "{}/api/v1/deployments/local/findings?issue_type=sast&page={page}&page_size=100{extra}",
            server.base
        )
    };
    let mut all = Vec::new();
    let mut sizes = Vec::new();
    for page in 0..4 {
        let (status, body) = get(&url(page, "")).await;
        assert_eq!(status, 200);
        sizes.push(body["findings"].as_array().unwrap().len());
        all.extend(ids(&body));
        if page == 0 {
            let first = &body["findings"][0];
            assert_eq!(first["repository"]["name"], "acme/api");
            assert!(first["status"].is_string() && first["rule"]["name"].is_string());
        }
    }
    assert_eq!(sizes, vec![100, 100, 50, 0], "[] past the end");
    assert_eq!(all.len(), 250);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 250, "no repeats");
    // relevant_since descending, then id descending: the twins are the
    // newest; findings 237..=239 share a day and come by id.
    assert_eq!(&all[..3], &[1010, 1009, 1008]);
    let p = all.iter().position(|i| *i == 239).unwrap();
    assert_eq!(&all[p..p + 3], &[239, 238, 237]);
    // Written as bytes, still said to be JSON.
    let answer = raw_client().get(url(0, "")).send().await.unwrap();
    assert_eq!(answer.headers()["content-type"], "application/json");
    // The same again: paging does not move.
    let (_, again) = get(&url(1, "")).await;
    assert_eq!(ids(&again), all[100..200].to_vec());
    // dedup: one finding per match, the primary branch's.
    let mut deduped = Vec::new();
    for page in 0..3 {
        deduped.extend(ids(&get(&url(page, "&dedup=true")).await.1));
    }
    assert_eq!(deduped.len(), 240);
    assert!(deduped.contains(&1) && !deduped.contains(&1001));
    server.stop().await;
}

#[tokio::test]
async fn array_parameters_as_repeated_keys_or_comma_joined() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let findings = |q: &str| {
        format!(
            "{}/api/v1/deployments/local/findings?page_size=3000&{q}",
            server.base
        )
    };
    let (_, repeated) = get(&findings("severities=high&severities=critical")).await;
    let (_, joined) = get(&findings("severities=high,critical")).await;
    assert_eq!(repeated, joined);
    let list = repeated["findings"].as_array().unwrap();
    assert_eq!(list.len(), 125);
    assert!(
        list.iter()
            .all(|f| f["severity"] == "high" || f["severity"] == "critical")
    );
    let (_, repos_repeated) = get(&findings("repos=acme/api&repos=acme/web&ref=main")).await;
    let (_, repos_joined) = get(&findings("repos=acme%2Fapi,acme%2Fweb&ref=main")).await;
    assert_eq!(ids(&repos_repeated), ids(&repos_joined));
    assert_eq!(ids(&repos_joined).len(), 240);
    let (_, api) = get(&findings("repos=acme/api")).await;
    assert_eq!(ids(&api).len(), 50);
    // Other filters.
    let (_, pr) = get(&findings("ref=refs/pull/7/merge")).await;
    assert_eq!(ids(&pr).len(), 10);
    let (_, fp) = get(&findings("autotriage_verdict=false_positive&rules=rule.a")).await;
    assert!(ids(&fp).iter().all(|id| id % 6 == 0), "{:?}", ids(&fp));
    let (_, tagged) = get(&findings("component_tags=user%20data&confidence=high")).await;
    assert!(!ids(&tagged).is_empty());
    assert!(ids(&tagged).iter().all(|id| id % 3 == 1 && id % 2 == 0));
    let since = time::macros::datetime!(2026-01-01 00:00:00 UTC).unix_timestamp() + 79 * 86_400;
    let (_, recent) = get(&findings(&format!("since={since}"))).await;
    assert_eq!(
        ids(&recent).len(),
        4 + 10,
        "days 79 and 80 (237..=240) and the twins"
    );
    server.stop().await;
}

#[tokio::test]
async fn triage_in_the_wire_shape_records_who_decided() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let url = format!("{}/api/v1/deployments/local/triage", server.base);
    let body = json!({
        "issue_type": "sast",
        "issue_ids": ["1", 2],
        "new_triage_state": "ignored",
        "new_triage_reason": "false_positive",
        "new_note": "validated upstream",
    });
    let r = raw_client()
        .post(&url)
        .header("x-sift-reviewer", "carol")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"num_triaged": 4, "triaged_issues": [1, 2, 1001, 1002]}),
        "the twins on the pull request are triaged too"
    );
    // `open` is taken for `reopened`; a note alone changes no state.
    let (status, answer) = post(
        &url,
        r#"{"issue_type": "sast", "issue_ids": [2], "new_triage_state": "open"}"#,
    )
    .await;
    assert_eq!((status, answer["num_triaged"].clone()), (200, json!(2)));
    let (status, _) = post(
        &url,
        r#"{"issue_type": "sast", "issue_ids": [3], "new_note": "looked at it"}"#,
    )
    .await;
    assert_eq!(status, 200);
    // By filter instead of ids, within the limit.
    let (status, answer) = post(
        &url,
        r#"{"issue_type": "sast", "new_triage_state": "reviewing", "repos": "acme/api",
            "ref": "main", "limit": 5}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["triaged_issues"], json!([220, 225, 230, 235, 240]));

    let store = Store::open(dir.path()).unwrap();
    let f1 = store.load_finding(1001).unwrap().unwrap();
    assert_eq!(f1.status().as_str(), "ignored");
    assert_eq!(f1.triage_comment.as_deref(), Some("validated upstream"));
    assert_eq!(f1.activity.last().unwrap().actor, "carol");
    let f2 = store.load_finding(2).unwrap().unwrap();
    assert_eq!(f2.status().as_str(), "open");
    assert_eq!(
        f2.activity.last().unwrap().actor,
        "server-reviewer",
        "without the header, the server's reviewer"
    );
    let f3 = store.load_finding(3).unwrap().unwrap();
    assert_eq!(f3.status().as_str(), "open");
    assert_eq!(
        f3.activity.last().unwrap().note.as_deref(),
        Some("looked at it")
    );
    // The listing shows the decision.
    let (_, page) = get(&format!(
        "{}/api/v1/deployments/local/findings?status=ignored&triage_reasons=false_positive",
        server.base
    ))
    .await;
    assert_eq!(ids(&page), vec![1001, 1]);
    assert_eq!(page["findings"][1]["triage_comment"], "validated upstream");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_400_with_an_error() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let findings = format!("{}/api/v1/deployments/local/findings", server.base);
    for q in [
        "page_size=50",
        "page_size=3001",
        "page=-1",
        "status=closed",
        "severities=high,extreme",
        "issue_type=dast",
        "dedup=sometimes",
        "since=yesterday",
    ] {
        let (status, body) = get(&format!("{findings}?{q}")).await;
        assert_eq!(status, 400, "{q}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{q}: {body}"
        );
    }
    let triage = format!("{}/api/v1/deployments/local/triage", server.base);
    let long_note = "x".repeat(3_001);
    let long_body =
        format!(r#"{{"issue_type": "sast", "issue_ids": [1], "new_note": "{long_note}"}}"#);
    for body in [
        "not json",
        r#"{"issue_ids": [1], "new_triage_state": "ignored"}"#,
        r#"{"issue_type": "sast", "issue_ids": [1]}"#,
        r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "fixing", "new_triage_reason": "no_time"}"#,
        r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "fixed"}"#,
        r#"{"issue_type": "sast", "issue_ids": [1], "new_triage_state": "provisionally_ignored"}"#,
        r#"{"issue_type": "sast", "issue_ids": ["one"], "new_triage_state": "ignored"}"#,
        r#"{"issue_type": "sast", "new_triage_state": "ignored"}"#,
        &long_body,
    ] {
        let (status, answer) = post(&triage, body).await;
        assert_eq!(status, 400, "{body:.80}");
        assert!(answer["error"].is_string(), "{body:.80}: {answer}");
    }
    // Nothing was changed by the refused calls.
    let f = Store::open(dir.path())
        .unwrap()
        .load_finding(1)
        .unwrap()
        .unwrap();
    assert!(f.activity.is_empty());
    // Unknown deployment, unknown route, wrong method.
    let (status, body) = get(&format!("{}/api/v1/deployments/acme/findings", server.base)).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Deployment not found")
    );
    let (status, body) = get(&format!("{}/api/v1/nothing", server.base)).await;
    assert_eq!((status, body["error"].is_string()), (404, true));
    let (status, body) = get(&triage).await;
    assert_eq!((status, body["error"].is_string()), (405, true));
    server.stop().await;
}

#[tokio::test]
async fn with_tokens_every_request_needs_a_bearer_token() {
    let dir = standard_backlog();
    let alice = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    let bob = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
    let tokens = Tokens::parse(&format!("{alice} alice\n{bob} bob\n")).unwrap();
    let server = TestServer::start_with(dir.path(), Some(tokens)).await;
    let deployments = format!("{}/api/v1/deployments", server.base);
    let client = raw_client();
    let r = client.get(&deployments).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("bearer token"));
    let wrong = client
        .get(&deployments)
        .bearer_auth("c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let wrong_body = wrong.text().await.unwrap();
    assert!(!wrong_body.contains("c3c3"), "the token is not echoed");
    let ok = client
        .get(&deployments)
        .bearer_auth(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    // Ping needs no token, as in the spec.
    let ping = client
        .get(format!("{}/api/v1/ping", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);
    // The token names who decided; a reviewer header cannot pretend.
    let r = client
        .post(format!("{}/api/v1/deployments/local/triage", server.base))
        .bearer_auth(alice)
        .header("x-sift-reviewer", "mallory")
        .json(&json!({"issue_type": "sast", "issue_ids": [5], "new_triage_state": "reviewing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let f = Store::open(dir.path())
        .unwrap()
        .load_finding(5)
        .unwrap()
        .unwrap();
    assert_eq!(f.activity.last().unwrap().actor, "alice");
    server.stop().await;
}

#[test]
fn beyond_loopback_tokens_are_required() {
    use sift::server::check_listen;
    assert!(check_listen("127.0.0.1:8321".parse().unwrap(), false).is_ok());
    assert!(check_listen("[::1]:8321".parse().unwrap(), false).is_ok());
    let e = check_listen("0.0.0.0:8321".parse().unwrap(), false).unwrap_err();
    assert!(e.to_string().contains("--token-file"), "{e}");
    assert!(check_listen("192.0.2.7:8321".parse().unwrap(), false).is_err());
    assert!(check_listen("0.0.0.0:8321".parse().unwrap(), true).is_ok());
}
