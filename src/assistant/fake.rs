//! An AI provider that runs on loopback and answers in OpenAI's, Azure's
//! and Anthropic's shapes, with every fault a real one has on a bad day,
//! and a log of what it was sent: for the tests and the benchmark (built
//! with the `faults` feature only).
//!
//! Its judgement is simple and deterministic: a finding whose matched
//! lines (those the prompt marks with `>`) hold `sanitize_sql(` or
//! `FAKE-FALSE-POSITIVE` is a false positive, any other a true positive.
//! Its rules are as simple: see [`draft_rule`].

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the next request gets instead of a good answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeFault {
    /// 500.
    ServerError,
    /// 429 with `Retry-After: N`.
    RateLimited(u64),
    /// 401, as for a wrong key.
    Unauthorized,
    /// The answer cut at the token limit.
    Truncated,
    /// The model declines.
    Refusal,
    /// Prose instead of JSON.
    Prose,
    /// A verdict whose reason (a rule whose message and pattern) holds
    /// terminal escapes and bidi overrides.
    HostileReason,
    /// A rule with no pattern: not a rule, so it is asked again.
    InvalidRule,
    /// The prompt's evidence markers repeated back, as small models do.
    Echo,
    /// No answer (the client's time limit must fire).
    Hang,
}

/// A request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub path: String,
    /// The credential it carried: `Bearer …`, `api-key …` or `x-api-key …`.
    pub credential: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<FakeFault>>,
    log: Mutex<Vec<Logged>>,
    /// Refuse `json_schema` (as some servers do) with a 400.
    no_json_schema: Mutex<bool>,
    latency: Mutex<Duration>,
}

/// A running fake provider.
pub struct FakeProvider {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(openai),
            )
            .route("/openai/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeProvider { base, shared, task }
    }

    /// Queues a fault for the next request that has none yet.
    pub fn then(&self, fault: FakeFault) -> &Self {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(fault);
        self
    }

    /// Answers each request after this long.
    pub fn set_latency(&self, latency: Duration) {
        *self
            .shared
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = latency;
    }

    /// Refuse `json_schema` structured output from now on, as a server
    /// that only knows JSON mode does.
    pub fn refuse_json_schema(&self) {
        *self
            .shared
            .no_json_schema
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Logs the request, waits the latency, and takes the next fault.
async fn receive(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<FakeFault> {
    let credential = ["authorization", "api-key", "x-api-key"]
        .iter()
        .find_map(|h| {
            let v = headers.get(*h)?.to_str().ok()?;
            Some(if *h == "authorization" {
                v.to_string()
            } else {
                format!("{h} {v}")
            })
        });
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Logged {
            path: path.to_string(),
            credential,
            body: String::from_utf8_lossy(body).into_owned(),
        });
    let latency = *shared.latency.lock().unwrap_or_else(|e| e.into_inner());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    shared
        .script
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop_front()
}

/// The answer to a request, by the schema it asks for (its name), as JSON.
fn answer(request: &Value, fault: Option<&FakeFault>) -> Value {
    let schema = request["response_format"]["json_schema"]["name"]
        .as_str()
        .or_else(|| request["tool_choice"]["name"].as_str())
        .unwrap_or("");
    match schema {
        // JSON mode names no schema: the question is a verdict's.
        "triage_verdict" | "" => judge(request, fault),
        "fix_suggestion" => write_fix(request),
        "fix_review" => review_fix(request),
        "memory_draft" => draft_memory(request),
        super::rule::RULE_SCHEMA_NAME => draft_rule(request, fault),
        other => json!({"error": format!("the fake knows no schema named {other}")}),
    }
}

/// A section of the user's message, by the start of its name.
fn section<'a>(user: &'a str, name: &str) -> Option<&'a str> {
    let start = user.find(&format!("<<<{name}"))?;
    let body = &user[start..];
    let body = &body[body.find('\n')? + 1..];
    Some(&body[..body.find("<<<END ")?])
}

/// The fake's fix: the matched lines with `shell=True` made `shell=False`,
/// else marked checked; the first team guidance, when there is some, is
/// followed (named in a comment), so a test sees that it shaped the fix.
fn write_fix(request: &Value) -> Value {
    let user = user_message(request);
    let matched: Vec<String> = section(user, "CODE")
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .map(str::to_string)
        .collect();
    let guidance = section(user, "THE TEAM'S GUIDANCE FOR FIXES")
        .and_then(|g| g.lines().next())
        .map(|g| g.trim_start_matches("- ").to_string());
    let mut fixed: Vec<String> = matched
        .iter()
        .map(|l| {
            if l.contains("shell=True") {
                l.replace("shell=True", "shell=False")
            } else {
                format!("{l}  # checked")
            }
        })
        .collect();
    if let (Some(g), Some(first)) = (&guidance, fixed.first_mut()) {
        first.push_str(&format!("  # as the team asks: {g}"));
    }
    json!({
        "summary": "Do not pass user input to this call unchecked",
        "instructions": "1. Validate the input.\n2. Use the safe form of the call.",
        "fix_code": fixed.join("\n"),
    })
}

/// The fake's review: a fix that turns the shell off, or follows the
/// team's guidance, is high; anything else needs other changes (medium).
fn review_fix(request: &Value) -> Value {
    let proposed = section(user_message(request), "PROPOSED FIX").unwrap_or("");
    let sure = proposed.contains("shell=False") || proposed.contains("as the team asks");
    json!({
        "issue_still_present": false,
        "malformed": false,
        "needs_other_changes": !sure,
        "fixable": true,
        "note": if sure { "The call is safe now." } else { "The callers must validate too." },
    })
}

/// The fake's memory from an ignore note: nothing for a note that only
/// says "duplicate" or is a word or two; else the note as a rule of thumb.
fn draft_memory(request: &Value) -> Value {
    let note = section(user_message(request), "THE REVIEWER'S NOTE")
        .unwrap_or("")
        .trim();
    if note.split_whitespace().count() < 3 || note.to_lowercase().contains("duplicate") {
        return json!({"applies": false, "memory": ""});
    }
    json!({"applies": true, "memory": format!("Findings of this rule are safe when {note}")})
}

/// The code in a question's evidence markers (`<<<RULE code>>>`).
fn boundary_of(user: &str) -> String {
    user.split_once("<<<RULE ")
        .and_then(|(_, rest)| rest.split_once(">>>"))
        .map(|(code, _)| code.to_string())
        .unwrap_or_default()
}

/// The user's message: OpenAI's second, Anthropic's first.
fn user_message(request: &Value) -> &str {
    request["messages"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
}

/// The fake's judgement of a request's evidence, as the answer's JSON.
fn judge(request: &Value, fault: Option<&FakeFault>) -> Value {
    let evidence: String = user_message(request)
        .lines()
        .filter(|l| l.starts_with('>'))
        .collect::<Vec<_>>()
        .join("\n");
    if fault == Some(&FakeFault::HostileReason) {
        return json!({
            "verdict": "false_positive",
            "reason": "Safe \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J because \u{202e}txt.exe"
        });
    }
    // The component, from the file's path in the question.
    let user = user_message(request);
    let component = if user.contains("file: tests/") || user.contains("/test") {
        json!({"tag": "tests", "risk": "low"})
    } else if user.contains("pay") {
        json!({"tag": "payments", "risk": "high"})
    } else if user.contains("settings.py") {
        json!({"tag": "Infrastructure", "risk": "high"})
    } else {
        json!({"tag": "web application", "risk": "neutral"})
    };
    // A memory that quotes, in backticks, code the matched lines hold
    // makes the finding a false positive: how a memory changes a verdict.
    let memory = section(user, "THE TEAM'S MEMORIES").and_then(|m| {
        m.lines().find(|line| {
            line.split('`')
                .skip(1)
                .step_by(2)
                .any(|code| !code.is_empty() && evidence.contains(code))
        })
    });
    if evidence.contains("sanitize_sql(") || evidence.contains("FAKE-FALSE-POSITIVE") {
        json!({"verdict": "false_positive", "reason": "The value goes through sanitize_sql() before the query.", "component": component})
    } else if let Some(memory) = memory {
        let memory = memory.trim_start_matches("- ");
        json!({"verdict": "false_positive", "reason": format!("The team's memory covers it: {memory}"), "component": component})
    } else {
        json!({"verdict": "true_positive", "reason": "User input reaches the sink unchecked.", "component": component})
    }
}

/// The fake's rule: the bad example's last line of code with its call's
/// arguments left open (`os.system(cmd)` gives `os.system(...)`); once told
/// that a draft matches the good example, that example's last line of code
/// as `pattern_not` too.
fn draft_rule(request: &Value, fault: Option<&FakeFault>) -> Value {
    let user = user_message(request);
    let last_code = |section: &str| {
        section_in(user, section).and_then(|text| {
            text.lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
        })
    };
    let pattern = match last_code("BAD EXAMPLE") {
        Some(line) => match line.find('(') {
            Some(at) => format!("{}...)", &line[..=at]),
            None => line,
        },
        None => "eval(...)".to_string(),
    };
    let told = section_in(user, "WHAT SEMGREP SHOWED")
        .is_some_and(|t| t.contains("matches the good example"));
    let pattern_not: Vec<String> = if told {
        last_code("GOOD EXAMPLE").into_iter().collect()
    } else {
        Vec::new()
    };
    let mut answer = json!({
        "id": "fake-drafted-rule",
        "message": "This call runs what it is given; pass it only fixed values.",
        "severity": "ERROR",
        "pattern_either": [pattern],
        "pattern_not": pattern_not,
        "pattern_inside": [],
        "pattern_not_inside": [],
        "metavariable_regex": []
    });
    match fault {
        Some(FakeFault::InvalidRule) => answer["pattern_either"] = json!([]),
        Some(FakeFault::HostileReason) => {
            answer["message"] = json!("Bad \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J \u{202e}txt.exe");
            answer["id"] = json!("x\u{1b}[31m\u{202e}");
        }
        _ => {}
    }
    answer
}

/// The text between a section's markers in a question, if it is there.
fn section_in<'a>(user: &'a str, name: &str) -> Option<&'a str> {
    let start = user.find(&format!("<<<{name} "))?;
    let body = start + user[start..].find(">>>\n")? + 4;
    let end = body + user[body..].find(&format!("<<<END {name} "))?;
    Some(&user[body..end])
}

fn status(code: u16, message: &str, retry_after: Option<u64>) -> Response {
    let mut response = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"error": {"message": message}})),
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// The faults every shape answers alike; `None` to answer normally.
async fn transport_fault(fault: &Option<FakeFault>) -> Option<Response> {
    match fault {
        Some(FakeFault::ServerError) => Some(status(500, "the fake is down", None)),
        Some(FakeFault::RateLimited(s)) => Some(status(429, "slow down", Some(*s))),
        Some(FakeFault::Unauthorized) => Some(status(401, "Incorrect API key provided", None)),
        Some(FakeFault::Hang) => {
            std::future::pending::<()>().await;
            None
        }
        _ => None,
    }
}

async fn openai(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = receive(&shared, uri.path(), &headers, &body).await;
    if let Some(r) = transport_fault(&fault).await {
        return r;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "the body is not JSON", None);
    };
    let schema_mode = request["response_format"]["type"] == "json_schema";
    if schema_mode
        && *shared
            .no_json_schema
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    {
        return status(
            400,
            "response_format json_schema is not supported by this server",
            None,
        );
    }
    let (content, refusal, finish) = match fault {
        Some(FakeFault::Truncated) => (json!("{\"verdict\": \"false_pos"), Value::Null, "length"),
        Some(FakeFault::Refusal) => (Value::Null, json!("I can't help with that."), "stop"),
        Some(FakeFault::Prose) => (
            json!("Looking at this code, I believe it is probably fine."),
            Value::Null,
            "stop",
        ),
        Some(FakeFault::Echo) => {
            let code = boundary_of(user_message(&request));
            let echoed = json!({"verdict": "true_positive", "reason": code, "summary": code,
                                "instructions": code, "fix_code": code});
            (json!(echoed.to_string()), Value::Null, "stop")
        }
        ref f => (
            json!(answer(&request, f.as_ref()).to_string()),
            Value::Null,
            "stop",
        ),
    };
    axum::Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": request["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "finish_reason": finish
        }],
        "usage": {"prompt_tokens": body.len() / 4, "completion_tokens": 30}
    }))
    .into_response()
}

async fn anthropic(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = receive(&shared, uri.path(), &headers, &body).await;
    if let Some(r) = transport_fault(&fault).await {
        return r;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return status(400, "the body is not JSON", None);
    };
    if headers.get("anthropic-version").is_none() {
        return status(400, "anthropic-version header is required", None);
    }
    let tool = request["tool_choice"]["name"].clone();
    let (content, stop) = match fault {
        Some(FakeFault::Truncated) => (json!([]), "max_tokens"),
        Some(FakeFault::Refusal) => (json!([{"type": "text", "text": "I won't."}]), "refusal"),
        Some(FakeFault::Prose) => (
            json!([{"type": "text", "text": "It looks fine to me."}]),
            "end_turn",
        ),
        ref f => (
            json!([{"type": "tool_use", "id": "toolu_fake", "name": tool,
                    "input": answer(&request, f.as_ref())}]),
            "tool_use",
        ),
    };
    axum::Json(json!({
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": stop,
        "usage": {"input_tokens": body.len() / 4, "output_tokens": 30}
    }))
    .into_response()
}
