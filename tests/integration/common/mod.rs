//! Test helpers shared by the HTTP tests: backlogs and an in-process
//! `sift serve` on loopback.
#![allow(dead_code)]

use serde_json::{Value, json};
use sift::domain::ScanResults;
use sift::server::auth::Tokens;
use sift::server::faults::Faults;
use sift::server::{ServerConfig, serve};
use sift::store::Store;
use sift::wire::v1::FindingsPage;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;
use time::OffsetDateTime;
use time::macros::datetime;

/// Imports v1 findings (JSON values) into a new store, grouped by project
/// and ref, as a Semgrep API dump would be.
pub fn store_with(findings: Vec<Value>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    import_into(dir.path(), findings);
    dir
}

pub fn import_into(dir: &Path, findings: Vec<Value>) {
    let page: FindingsPage = serde_json::from_value(json!({ "findings": findings })).unwrap();
    let now = OffsetDateTime::now_utc();
    let mut groups: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
    for f in page.findings {
        let f = f.into_domain(now);
        groups
            .entry((f.project.clone(), f.git_ref.clone()))
            .or_default()
            .push(f);
    }
    let scans: Vec<ScanResults> = groups
        .into_iter()
        .map(|((project, git_ref), findings)| {
            ScanResults::platform("test", project, None, git_ref, findings)
        })
        .collect();
    Store::open(dir).unwrap().import(&scans).unwrap();
}

const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

/// One finding of the standard backlog.
pub fn finding(id: i64, project: &str, git_ref: &str, mbid: &str, day: i64) -> Value {
    let base = datetime!(2026-01-01 00:00:00 UTC);
    let at = sift::wire::timestamp::format(base + time::Duration::days(day));
    let verdict = match id % 3 {
        0 => json!({"autotriage": {"verdict": "false_positive", "reason": "constant input"}}),
        1 => json!({"autotriage": {"verdict": "true_positive", "reason": ""},
                    "component": {"tag": "user data", "risk": "high"}}),
        _ => Value::Null,
    };
    json!({
        "id": id,
        "ref": git_ref,
        "match_based_id": mbid,
        "repository": {"name": project, "url": format!("https://git.example/{project}")},
        "state": "unresolved",
        "triage_state": "untriaged",
        "severity": SEVERITIES[(id % 4) as usize],
        "confidence": if id % 2 == 0 { "high" } else { "medium" },
        "categories": ["security"],
        "created_at": at,
        "relevant_since": at,
        "rule_name": format!("rule.{}", if id % 2 == 0 { "a" } else { "b" }),
        "rule": {"name": format!("rule.{}", if id % 2 == 0 { "a" } else { "b" }),
                 "message": "m", "category": "security"},
        "location": {"file_path": format!("src/f{id}.py"), "line": id, "column": 1,
                     "end_line": id, "end_column": 9},
        "assistant": verdict,
    })
}

/// Findings 1..=240 on main (every fifth in acme/api, the rest in
/// acme/web; three share each day, so ties are broken by id), and 10
/// twins 1001..=1010: the same matches as 1..=10, on a pull request.
pub fn standard_findings() -> Vec<Value> {
    let project = |i: i64| if i % 5 == 0 { "acme/api" } else { "acme/web" };
    let mut out: Vec<Value> = (1..=240)
        .map(|i| finding(i, project(i), "main", &format!("m_{i}"), i / 3))
        .collect();
    out.extend((1..=10).map(|i| {
        finding(
            1000 + i,
            project(i),
            "refs/pull/7/merge",
            &format!("m_{i}"),
            100 + i,
        )
    }));
    out
}

pub fn standard_backlog() -> TempDir {
    store_with(standard_findings())
}

/// A `sift serve` running in-process on 127.0.0.1 (a free port).
pub struct TestServer {
    pub base: String,
    pub faults: Arc<Faults>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(dir: &Path) -> TestServer {
        TestServer::start_with(dir, None).await
    }

    pub async fn start_with(dir: &Path, tokens: Option<Tokens>) -> TestServer {
        TestServer::start_configured(dir, |cfg| cfg.tokens = tokens).await
    }

    /// A server whose config `tweak` changes (tokens, limits, hosts).
    pub async fn start_configured(dir: &Path, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let faults = Arc::new(Faults::new());
        let mut cfg = ServerConfig::new(dir.to_path_buf(), "server-reviewer".into());
        tweak(&mut cfg);
        cfg.faults = Some(faults.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, cfg, async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            faults,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the server: graceful shutdown, then the task ends cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(std::time::Duration::from_secs(10), task)
                .await
                .expect("the server stops")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A plain HTTP client for raw requests.
pub fn raw_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The ids in a JSON array of numbers (`"ignored"`, `"would_ignore"`), in
/// order.
pub fn sorted_ids(list: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|v| v.as_i64().unwrap_or_else(|| panic!("not an id: {v}")))
        .collect();
    ids.sort();
    ids
}

/// The id of every finding the store holds, in its index's order.
pub fn stored_ids(store: &Store) -> Vec<i64> {
    store
        .load_index()
        .unwrap()
        .rows
        .iter()
        .map(|r| r.id)
        .collect()
}
