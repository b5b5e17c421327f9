//! The attacks a jump box's neighbours and a reviewer's browser could make
//! on `sift serve` and on the API client, replayed on loopback (issue 11):
//! each must get nothing.

use crate::common;

use common::{TestServer, raw_client, standard_backlog};
use serde_json::{Value, json};
use sift::server::Limits;
use sift::server::auth::Tokens;
use sift::server::faults::{FaultRoute, ServerFault};
use sift::store::Store;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let is_json = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(is_json, "every answer is JSON: {status} {body}");
    (status, body)
}

fn status_of(store: &Path, id: i64) -> String {
    let f = Store::open(store)
        .unwrap()
        .load_finding(id)
        .unwrap()
        .unwrap();
    f.status().as_str().to_string()
}

#[tokio::test]
async fn a_web_page_cannot_triage_or_read_the_backlog() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let triage = format!("{}/api/v1/deployments/local/triage", server.base);
    let body = r#"{"issue_type": "sast", "issue_ids": [3], "new_triage_state": "ignored"}"#;

    // A form post a page sends without asking first: text/plain.
    let (status, answer) = send(
        raw_client()
            .post(&triage)
            .header("content-type", "text/plain")
            .body(body),
    )
    .await;
    assert_eq!(status, 415, "{answer}");
    // JSON, but from another site.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let (status, _) = send(
            raw_client()
                .post(&triage)
                .header("content-type", "application/json")
                .header(name, value)
                .body(body),
        )
        .await;
        assert_eq!(status, 403, "{name}: {value}");
    }
    // A filter with no ids, from a page: refused before it is read.
    let filter = r#"{"issue_type": "sast", "new_triage_state": "ignored", "severities": ["high"]}"#;
    let (status, _) = send(
        raw_client()
            .post(&triage)
            .header("content-type", "text/plain")
            .body(filter),
    )
    .await;
    assert_eq!(status, 415);
    assert_eq!(status_of(dir.path(), 3), "open", "nothing was triaged");

    // DNS rebinding: the page's own name in the Host header.
    let (status, answer) = send(
        raw_client()
            .get(format!("{}/api/v1/deployments/local/findings", server.base))
            .header("host", "rebind.evil.example:8321"),
    )
    .await;
    assert_eq!(status, 421, "{answer}");
    assert!(answer["findings"].is_null());

    // sift itself and scripts get in.
    let (status, answer) = send(
        raw_client()
            .post(&triage)
            .header("content-type", "application/json")
            .body(body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(status_of(dir.path(), 3), "ignored");
    server.stop().await;
}

#[tokio::test]
async fn an_operator_can_name_the_hosts_it_answers_to() {
    let dir = standard_backlog();
    let server = TestServer::start_configured(dir.path(), |cfg| {
        cfg.allowed_hosts = vec!["jump.corp.example".into()];
    })
    .await;
    let ping = format!("{}/api/v1/ping", server.base);
    let (status, _) = send(
        raw_client()
            .get(&ping)
            .header("host", "jump.corp.example:8321"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(raw_client().get(&ping).header("host", "other.corp.example")).await;
    assert_eq!(status, 421);
    server.stop().await;
}

#[tokio::test]
async fn oversized_and_hostile_memories_are_refused_over_http() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let (_, deployments) =
        send(raw_client().get(format!("{}/api/v1/deployments", server.base))).await;
    let id = deployments["deployments"][0]["id"].as_i64().unwrap();
    let url = format!("{}/api/ai/deployments/{id}/memories", server.base);
    let create = |memory: Value| {
        raw_client()
            .post(&url)
            .header("content-type", "application/json")
            .body(json!({ "memory": memory }).to_string())
    };
    let cases = [
        ("a 1.9 MB text", json!({"content": "x".repeat(1_900_000)})),
        (
            "6,000 path prefixes",
            json!({"content": "ok", "pathPrefixes": vec!["src/"; 6_000]}),
        ),
        (
            "an empty path prefix",
            json!({"content": "ok", "pathPrefixes": ["src/", " "]}),
        ),
        (
            "an unknown project",
            json!({"content": "ok", "repositoryName": "nosuch/repo"}),
        ),
        (
            "an unknown rule",
            json!({"content": "ok", "ruleId": "no.such.rule"}),
        ),
        (
            "control characters",
            json!({"content": "safe\u{1b}]52;c;cm0gLXJmIH4=\u{7}"}),
        ),
        ("a bidi override", json!({"content": "ok \u{202e}txt.exe"})),
    ];
    for (what, memory) in cases {
        let (status, answer) = send(create(memory)).await;
        assert!(status == 400 || status == 413, "{what}: {status} {answer}");
        assert!(answer["error"].is_string(), "{what}: {answer}");
    }
    assert!(
        Store::open(dir.path())
            .unwrap()
            .memories()
            .unwrap()
            .is_empty()
    );
    let (status, answer) = send(create(json!({"content": "Fixtures hold fake keys"}))).await;
    assert_eq!(status, 200, "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_too_large_is_refused_in_json() {
    let dir = standard_backlog();
    let server = TestServer::start(dir.path()).await;
    let huge = format!(
        r#"{{"issue_type": "sast", "issue_ids": [1], "new_note": "{}"}}"#,
        "x".repeat(3 << 20)
    );
    let (status, answer) = send(
        raw_client()
            .post(format!("{}/api/v1/deployments/local/triage", server.base))
            .header("content-type", "application/json")
            .body(huge),
    )
    .await;
    assert_eq!(status, 413);
    assert!(
        answer["error"].as_str().unwrap().contains("larger than"),
        "{answer}"
    );
    server.stop().await;
}

/// Sends `head` a byte at a time, a byte every `every`; true when the
/// server closed the connection before the head was sent.
fn dribble(addr: &str, head: &[u8], every: Duration) -> bool {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(every)).unwrap();
    for byte in head {
        if stream.write_all(&[*byte]).is_err() {
            return true;
        }
        let mut buf = [0u8; 256];
        match stream.read(&mut buf) {
            Ok(0) => return true, // closed
            Ok(_) => return true, // an answer (408) before the head ended
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let dir = standard_backlog();
    let server = TestServer::start_configured(dir.path(), |cfg| {
        cfg.limits = Limits {
            header_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(1),
        };
    })
    .await;
    let addr = server.base.trim_start_matches("http://").to_string();
    // Twenty clients sending their headers a byte every 100 ms (a header of
    // 60 bytes would take 6 s).
    let head = b"GET /api/v1/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaa\r\n\r\n";
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let cut = dribble(&addr, head, Duration::from_millis(100));
                (cut, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile a reviewer is served at once.
    let started = Instant::now();
    let (status, _) = send(raw_client().get(format!("{}/api/v1/ping", server.base))).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    for t in slow {
        let (cut, took) = t.join().unwrap();
        assert!(cut, "the slow client was cut off");
        assert!(took < Duration::from_secs(3), "cut after {took:?}");
    }
    // A body sent slowly: the request ends with a 408 or the connection
    // closes, within the request limit.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .write_all(
            b"POST /api/v1/deployments/local/triage HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );

    // Shutting down with a slow client connected takes the grace, no more.
    let lingering = {
        let addr = addr.clone();
        std::thread::spawn(move || dribble(&addr, head, Duration::from_millis(100)))
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let _ = lingering.join();
}

/// Runs the built sift with an environment of its own.
fn sift(data: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sift"));
    cmd.arg("--data-dir")
        .arg(data)
        .args(args)
        .env("HOME", data)
        .env("XDG_CONFIG_HOME", data.join("no-config"))
        .env("XDG_STATE_HOME", data.join("state"))
        .env_remove("SIFT_CONFIG")
        .env_remove("SIFT_BACKEND")
        .env_remove("SIFT_PROFILE")
        .env_remove("SEMGREP_APP_TOKEN")
        .env_remove("SEMGREP_URL")
        .env_remove("SEMGREP_APP_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A listener standing in for a proxy: counts the connections it gets.
fn fake_proxy() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_goes_through_a_proxy_to_loopback() {
    let dir = standard_backlog();
    let token = "sgp_proxytest0123456789abcdef";
    let tokens = Tokens::single(token, "carol").unwrap();
    let server = TestServer::start_with(dir.path(), Some(tokens)).await;
    let (proxy, seen) = fake_proxy();
    let client = tempfile::tempdir().unwrap();
    let url = server.base.clone();
    let data = client.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        sift(
            &data,
            &[
                ("SEMGREP_APP_TOKEN", token),
                ("HTTP_PROXY", &proxy),
                ("http_proxy", &proxy),
                ("ALL_PROXY", &proxy),
                ("all_proxy", &proxy),
                ("HTTPS_PROXY", &proxy),
            ],
            &["--url", &url, "findings", "--view", "all", "--json"],
        )
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no proxy"
    );
    server.stop().await;
}

/// Every file under `dir`, as bytes.
fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_echoes_the_token_does_not_get_it_shown_or_stored() {
    let dir = standard_backlog();
    let token = "sgp_echotest9876543210fedcba";
    let tokens = Tokens::single(token, "carol").unwrap();
    let server = TestServer::start_with(dir.path(), Some(tokens)).await;
    server
        .faults
        .then(FaultRoute::Triage, ServerFault::EchoAuthorization(400));
    let client = tempfile::tempdir().unwrap();
    let (url, data) = (server.base.clone(), client.path().to_path_buf());
    let run = move |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        sift(&data, &[("SEMGREP_APP_TOKEN", token)], &args)
    };
    let args = |rest: &[&str]| {
        let mut a = vec!["--url".to_string(), url.clone()];
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    };
    let mut outputs = Vec::new();
    for cmd in [
        args(&["triage", "5", "--state", "reviewing", "--json"]),
        args(&["triage", "5", "--state", "reviewing"]),
        args(&["sync", "--json"]),
        args(&["sync"]),
    ] {
        let run = run.clone();
        outputs.push(tokio::task::spawn_blocking(move || run(cmd)).await.unwrap());
    }
    assert_eq!(outputs[0].status.code(), Some(5), "rejected");
    for out in &outputs {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(token), "{text}");
            assert!(!text.contains(&token[..14]), "{text}");
        }
    }
    let said = String::from_utf8_lossy(&outputs[0].stdout);
    assert!(said.contains("[redacted]"), "{said}");
    for (file, bytes) in all_bytes(client.path()) {
        let hit = bytes.windows(token.len()).any(|w| w == token.as_bytes());
        assert!(!hit, "the token is in {file}");
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------
// Every finding `sift serve` returns is valid against the v1 schema.

/// Checks `value` against an OpenAPI 3 schema (the parts the v1 spec uses:
/// $ref, type, enum, properties, items, format int64, nullable, required).
fn check(value: &Value, schema: &Value, schemas: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return check(value, &schemas[name], schemas, at, errors);
    }
    if value.is_null() {
        if schema["nullable"] != json!(true) {
            errors.push(format!("{at}: null, and the schema does not allow it"));
        }
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match schema["type"].as_str() {
        Some("string") if !value.is_string() => errors.push(format!("{at}: not a string")),
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            errors.push(format!("{at}: not an integer"))
        }
        Some("number") if !value.is_number() => errors.push(format!("{at}: not a number")),
        Some("boolean") if !value.is_boolean() => errors.push(format!("{at}: not a boolean")),
        Some("array") => match value.as_array() {
            None => errors.push(format!("{at}: not an array")),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(
                        item,
                        &schema["items"],
                        schemas,
                        &format!("{at}[{i}]"),
                        errors,
                    );
                }
            }
        },
        Some("object") | None if schema["properties"].is_object() => match value.as_object() {
            None => errors.push(format!("{at}: not an object")),
            Some(fields) => {
                for name in schema["required"].as_array().into_iter().flatten() {
                    if !fields.contains_key(name.as_str().unwrap()) {
                        errors.push(format!("{at}: {name} is required"));
                    }
                }
                for (name, v) in fields {
                    let property = &schema["properties"][name];
                    if !property.is_null() {
                        check(v, property, schemas, &format!("{at}.{name}"), errors);
                    }
                }
            }
        },
        _ => {}
    }
}

#[tokio::test]
async fn every_finding_served_is_valid_against_the_v1_schema() {
    let spec: Value =
        serde_json::from_str(include_str!("../fixtures/wire/semgrep_v1_schemas.json")).unwrap();
    let schemas = &spec["schemas"];
    let dir = standard_backlog();
    // A finding as the embedded backend keeps a fresh scanner import: no
    // triage, no verdict, no reason, no ticket.
    let scan = sift::import::load_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/import/semgrep_logged_out.json"),
        &sift::import::ImportOptions::default(),
    )
    .unwrap();
    Store::open(dir.path()).unwrap().import(&scan).unwrap();
    let server = TestServer::start(dir.path()).await;
    let mut errors = Vec::new();
    let mut seen = 0;
    for page in 0..5 {
        let (status, body) = send(raw_client().get(format!(
            "{}/api/v1/deployments/local/findings?issue_type=sast&page_size=100&page={page}",
            server.base
        )))
        .await;
        assert_eq!(status, 200);
        for (i, f) in body["findings"].as_array().unwrap().iter().enumerate() {
            seen += 1;
            check(
                f,
                &schemas["protos.openapi.v1.SastFinding"],
                schemas,
                &format!("page {page} [{i}]"),
                &mut errors,
            );
        }
    }
    assert_eq!(seen, 254);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    server.stop().await;
}

#[test]
fn what_an_api_dump_said_is_kept_and_served_again() {
    let dump = json!({"findings": [{
        "id": 77, "ref": "main", "match_based_id": "m77",
        "repository": {"name": "acme/web"},
        "first_seen_scan_id": 9001,
        "state_updated_at": "2026-01-02T03:04:05Z",
        "sourcing_policy": {"id": 4, "name": "Default", "slug": "default"},
        "external_ticket": {"external_slug": "OPS-1", "id": 12, "url": "https://t.example/OPS-1"}
    }]});
    let scans =
        sift::import::load_str("dump.json", &dump.to_string(), &Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    store.import(&scans).unwrap();
    let f = store.load_finding(77).unwrap().unwrap();
    let wire = serde_json::to_value(sift::wire::v1::Finding::from_domain(&f)).unwrap();
    assert_eq!(wire["first_seen_scan_id"], 9001);
    assert_eq!(wire["state_updated_at"], "2026-01-02T03:04:05.000000Z");
    assert_eq!(wire["sourcing_policy"]["slug"], "default");
    assert_eq!(wire["external_ticket"]["external_slug"], "OPS-1");
    assert!(wire.get("triage_reason").is_none(), "absent, not null");
}
