//! The v2 memory routes: the client against `sift serve` (create, list,
//! update, delete), and what the server refuses.

use crate::common;

use common::{TestServer, raw_client, standard_backlog};
use serde_json::{Value, json};
use sift::backend::BackendError;
use sift::backend::api::Api;
use sift::backend::api::credentials::Token;
use sift::domain::{Memory, MemoryStage, RuleScope, Scope};
use sift::server::auth::Tokens;
use sift::store::Store;
use sift::wire::v2::{self, MemoryFilter};
use time::OffsetDateTime;

fn memory(projects: &[&str], rules: RuleScope, text: &str) -> Memory {
    Memory {
        id: String::new(),
        content: text.into(),
        scope: Scope {
            projects: projects.iter().map(|p| p.to_string()).collect(),
            rules,
            path_prefixes: vec!["src/".into()],
        },
        stage: MemoryStage::Live,
        guidance: false,
        created_by: String::new(),
        created_at: OffsetDateTime::now_utc(),
        updated_at: OffsetDateTime::now_utc(),
    }
}

#[tokio::test]
async fn memories_are_created_listed_updated_and_deleted() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path())
        .unwrap()
        .with_reviewer("alice");
    assert_eq!(api.deployment_id().await.unwrap(), 1);

    // Scoped to one project and one rule: the project goes by its id.
    let scoped = memory(
        &["acme/web"],
        RuleScope::Rules(vec!["rule.a".into()]),
        "sanitize_sql() output is safe",
    );
    let wire = api.memory_for(&scoped).await.unwrap();
    assert_eq!(wire.repository_name.as_deref(), Some("acme/web"));
    let web_id = wire.repository_id.clone().expect("the project's id");
    let created = api.create_memory(&wire, None).await.unwrap();
    let id = created.id.clone().expect("an id from the server");
    assert_eq!(created.created_by.as_deref(), Some("alice"));
    assert_eq!(created.stage.as_deref(), Some(v2::STAGE_LIVE));
    assert_eq!(created.context, vec!["TRIAGE"]);

    // Org-wide, suggested, for a class.
    let mut wide = memory(
        &[],
        RuleScope::Class("SQL Injection".into()),
        "ORM queries are safe",
    );
    wide.stage = MemoryStage::Suggested;
    let wide = api
        .create_memory(&api.memory_for(&wide).await.unwrap(), None)
        .await
        .unwrap();

    let all = api.list_memories(None).await.unwrap();
    assert_eq!(all.len(), 2);
    let api_project = api
        .projects()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "acme/api")
        .unwrap()
        .id
        .to_string();
    let only = |ids: Vec<String>, exact: bool| {
        let filter = MemoryFilter {
            repository_ids: ids,
            exact_scope: exact,
        };
        let api = &api;
        async move {
            let mut ids: Vec<String> = api
                .list_memories(Some(filter))
                .await
                .unwrap()
                .into_iter()
                .filter_map(|m| m.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(only(vec![web_id.clone()], true).await, vec![id.clone()]);
    let mut both = vec![id.clone(), wide.id.clone().unwrap()];
    both.sort();
    assert_eq!(only(vec![web_id.clone()], false).await, both);
    assert_eq!(only(vec![api_project], true).await, Vec::<String>::new());
    let suggested = api.suggested_memories().await.unwrap();
    assert_eq!(suggested.len(), 1);
    assert_eq!(
        suggested[0].vulnerability_class.as_deref(),
        Some("SQL Injection")
    );

    // Update replaces the memory; who created it and when stay.
    let mut changed = created.clone();
    changed.content = Some("sanitize_sql() and quote() output is safe".into());
    changed.path_prefixes = vec!["src/db/".into()];
    let updated = api.update_memory(&id, &changed).await.unwrap();
    assert_eq!(updated.created_at, created.created_at);
    let stored = Store::open(dir.path()).unwrap().memories().unwrap();
    let m = stored.iter().find(|m| m.id == id).unwrap();
    assert_eq!(m.content, "sanitize_sql() and quote() output is safe");
    assert_eq!(m.scope.projects, vec!["acme/web"]);
    assert_eq!(m.scope.rules, RuleScope::Rules(vec!["rule.a".into()]));
    assert_eq!(m.scope.path_prefixes, vec!["src/db/"]);
    assert_eq!(m.created_by, "alice");

    // Delete, twice (a retry): gone, and no error.
    api.delete_memory(&id).await.unwrap();
    api.delete_memory(&id).await.unwrap();
    assert_eq!(api.list_memories(None).await.unwrap().len(), 1);
    // Updating what is gone says so.
    let e = api.update_memory(&id, &changed).await.unwrap_err();
    assert!(matches!(e, BackendError::Rejected { .. }), "{e:?}");
    assert!(e.to_string().contains("404"), "{e}");

    // A scope the v2 API cannot hold is refused before anything is sent.
    let two = memory(&["acme/web", "acme/api"], RuleScope::All, "x");
    assert!(api.memory_for(&two).await.is_err());
    server.stop().await;
}

#[tokio::test]
async fn a_create_with_an_idempotency_key_is_done_once() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, Some("local".into()), cache.path()).unwrap();
    let mut m = memory(&[], RuleScope::All, "generated code under gen/ is not ours");
    m.id = "client-7f3a".into();
    let wire = api.memory_for(&m).await.unwrap();
    let first = api.create_memory(&wire, Some("client-7f3a")).await.unwrap();
    let again = api.create_memory(&wire, Some("client-7f3a")).await.unwrap();
    assert_eq!(first.id.as_deref(), Some("client-7f3a"), "the key names it");
    assert_eq!(first, again);
    assert_eq!(
        Store::open(dir.path()).unwrap().memories().unwrap().len(),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_memory_requests_are_refused() {
    let dir = standard_backlog();
    let token = "3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e3e";
    let server =
        TestServer::start_with(dir.path(), Some(Tokens::single(token, "ann").unwrap())).await;
    let client = raw_client();
    let url = |rest: &str| format!("{}/api/ai/deployments/1/memories{rest}", server.base);
    let post = |rest: &str, body: Value| {
        let req = client.post(url(rest)).bearer_auth(token).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for body in [
        json!({}),
        json!({"memory": {}}),
        json!({"memory": {"content": "  "}}),
        json!({"memory": {"content": "x", "stage": "AI_MEMORY_STAGE_DELETED"}}),
        json!({"memory": {"content": "x", "repositoryId": "999"}}),
        json!({"memory": {"content": "x", "projectTagId": 3}}),
    ] {
        let (status, answer) = post("", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert!(answer["error"].is_string(), "{body}: {answer}");
    }
    let (status, answer) = post(
        "",
        json!({"memory": {"content": "ok", "repositoryName": "acme/web"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["memory"]["createdBy"], "ann", "the token's reviewer");
    // Unknown deployment, unknown memory, no token.
    let r = client
        .post(format!(
            "{}/api/ai/deployments/77/memories/list",
            server.base
        ))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = client
        .put(url("/nope"))
        .bearer_auth(token)
        .json(&json!({"memory": {"content": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = client
        .post(url("/list"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // With the token, through the client.
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, Token::new(token), None, cache.path()).unwrap();
    assert_eq!(api.list_memories(None).await.unwrap().len(), 1);
    server.stop().await;
}

/// Through the outbox and the sync, as the console and scripts send them:
/// the memory lands in the server's store with its wide scope and its
/// decisions, and the next pull mirrors it into the cache.
#[tokio::test]
async fn memory_changes_sync_to_sift_serve_and_come_back_in_the_pull() {
    use sift::domain::{MemoryChange, TriageReason};
    use sift::sync::{SyncConfig, push_and_pull};
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&server.base, None, None, cache.path())
        .unwrap()
        .with_reviewer("alice");
    let mut local = Store::open(cache.path()).unwrap();
    push_and_pull(&api, &mut local, &SyncConfig::default())
        .await
        .unwrap();
    let index = local.load_index().unwrap();
    let classes = local.rule_classes().unwrap();

    let projects: Vec<String> = index.projects.iter().map(|(_, p)| p.to_string()).collect();
    let mut m = Memory::new(
        "Odd but legal text stays text: <script>\"'` ünïcödé ✓ — $(rm -rf ~)".into(),
        Scope {
            projects: projects.clone(),
            rules: RuleScope::All,
            path_prefixes: vec![],
        },
        false,
        "alice",
    );
    m.scope.projects.truncate(2);
    let ids = index.undecided_in_scope(&m.scope, &classes, &[]);
    assert!(!ids.is_empty());
    let intents = m.apply_intents(&ids, TriageReason::AcceptableRisk);
    local
        .decide_with_memory(
            &intents,
            Some(&MemoryChange::Create(m.clone())),
            "alice",
            false,
        )
        .unwrap();
    let report = push_and_pull(&api, &mut local, &SyncConfig::default())
        .await
        .unwrap();
    assert_eq!(report.memory_changes_acknowledged, 1, "{report:?}");
    assert_eq!(report.waiting, 0);

    let served = Store::open(dir.path()).unwrap();
    let stored = served.memories().unwrap();
    let [kept] = stored.as_slice() else {
        panic!("one memory on the server: {stored:?}")
    };
    assert_eq!(kept.id, m.id, "sift serve keeps sift's id");
    assert_eq!(kept.content, m.content);
    assert_eq!(kept.scope, m.scope, "several projects travel in siftScope");
    assert_eq!(kept.created_by, "alice");
    for id in &ids {
        let f = served.load_finding(*id).unwrap().unwrap();
        assert_eq!(f.triage_reason, Some(TriageReason::AcceptableRisk));
        assert!(f.activity.iter().any(|a| {
            a.note
                .as_deref()
                .is_some_and(|n| n.starts_with("Ignored under the memory"))
        }));
    }
    let (mirrored, pending) = local.memories_in_view().unwrap();
    assert!(pending.is_empty());
    assert_eq!(mirrored.len(), 1);
    assert_eq!(mirrored[0].scope, m.scope);

    // Someone else deletes it on the server: gone at the next pull.
    served.delete_memory(&m.id).unwrap();
    let report = push_and_pull(&api, &mut local, &SyncConfig::default())
        .await
        .unwrap();
    assert!(report.changed);
    assert!(local.memories_in_view().unwrap().0.is_empty());
}

/// A stand-in for Semgrep's own v2 routes, which keep one project and one
/// rule per memory and ignore both sift's extension and the
/// Idempotency-Key.
async fn narrow_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    narrow_server_with(true).await
}

/// The stand-in, with or without the suggested-memories route (a
/// deployment may not offer it: 404).
async fn narrow_server_with(
    suggested: bool,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::{delete, get, post};
    use axum::{Json, Router};
    use std::sync::{Arc, Mutex};
    let stored: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (on_create, on_list, on_delete) = (stored.clone(), stored.clone(), stored.clone());
    let app = Router::new()
        .route(
            "/api/v1/deployments",
            get(|| async { Json(json!({"deployments": [{"id": 7, "slug": "acme", "name": "Acme"}]})) }),
        )
        .route(
            "/api/v1/deployments/acme/projects",
            get(|| async {
                Json(json!({"projects": [{"id": 11, "name": "acme/web"}, {"id": 12, "name": "acme/api"}]}))
            }),
        )
        .route(
            "/api/ai/deployments/7/memories",
            post(move |Json(body): Json<Value>| {
                let stored = on_create.clone();
                async move {
                    let mut m = body["memory"].clone();
                    m.as_object_mut().unwrap().remove("siftScope");
                    let mut stored = stored.lock().unwrap();
                    m["id"] = json!((stored.len() + 100).to_string());
                    stored.push(m.clone());
                    Json(json!({ "memory": m }))
                }
            }),
        )
        .route(
            "/api/ai/deployments/7/memories/list",
            post(move || {
                let stored = on_list.clone();
                async move { Json(json!({ "memories": *stored.lock().unwrap() })) }
            }),
        )
        .route(
            "/api/ai/deployments/7/memories/{id}",
            delete(move |axum::extract::Path(id): axum::extract::Path<String>| {
                let stored = on_delete.clone();
                async move {
                    stored.lock().unwrap().retain(|m| m["id"] != json!(id));
                    Json(json!({}))
                }
            }),
        );
    let app = if suggested {
        app.route(
            "/api/ai/deployments/7/memories/suggested",
            get(|| async { Json(json!({ "memories": [] })) }),
        )
    } else {
        app
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, stored)
}

#[tokio::test]
async fn a_backend_without_the_suggested_route_still_takes_a_memory() {
    use sift::backend::Backend;
    use sift::domain::MemoryChange;
    let (base, stored) = narrow_server_with(false).await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&base, None, None, cache.path()).unwrap();
    let mut m = memory(
        &["acme/web"],
        RuleScope::Rules(vec!["rule.a".into()]),
        "fixtures hold fake keys",
    );
    m.id = "mem-local-9".into();
    let kept = api
        .memory(MemoryChange::Create(m), "alice".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.id, "100");
    assert_eq!(stored.lock().unwrap().len(), 1);
    assert!(api.suggested_memories().await.unwrap().is_empty());
}

#[tokio::test]
async fn against_semgreps_narrow_routes_a_wide_memory_is_refused_and_a_retry_finds_the_first() {
    use sift::backend::Backend;
    use sift::domain::MemoryChange;
    let (base, stored) = narrow_server().await;
    let cache = tempfile::tempdir().unwrap();
    let api = Api::new(&base, None, None, cache.path()).unwrap();

    // Two projects: Semgrep would keep one, so it is refused and taken back.
    let mut wide = memory(&["acme/web", "acme/api"], RuleScope::All, "internal only");
    wide.id = "mem-local-1".into();
    let e = api
        .memory(MemoryChange::Create(wide), "alice".into())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BackendError::Rejected { message } if message.contains("narrower scope")),
        "{e:?}"
    );
    assert!(
        stored.lock().unwrap().is_empty(),
        "the narrowed memory was taken back"
    );

    // One project and one rule fit; sent again (a lost answer), the first
    // is found rather than a second made.
    let mut narrow = memory(
        &["acme/web"],
        RuleScope::Rules(vec!["rule.a".into()]),
        "fits",
    );
    narrow.id = "mem-local-2".into();
    narrow.created_at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20000);
    let first = api
        .memory(MemoryChange::Create(narrow.clone()), "alice".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.id, "100", "the backend's id");
    let again = api
        .memory(MemoryChange::Create(narrow), "alice".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, "100");
    assert_eq!(stored.lock().unwrap().len(), 1, "created once");
}
