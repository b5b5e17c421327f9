//! Faults a test server can inject (never reachable from the command
//! line): the answers a real backend gives on a bad day, so that the HTTP
//! client and the sync are tested against them over a real connection.

use super::{ApiError, App};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which route a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultRoute {
    /// `POST …/triage`
    Triage,
    /// `GET …/findings`
    Findings,
    /// `GET …/findings/copy`
    Copy,
}

/// What the next request to a route gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFault {
    /// The usual answer: queued before a fault, it lets requests through
    /// until the fault's turn (a pull that fails at its second page).
    Answer,
    /// This status, with `{"error": ...}`.
    Status(u16),
    /// This status (429 or 503) with a `Retry-After` header as given
    /// (seconds or an HTTP date).
    RetryAfter { status: u16, value: String },
    /// No answer at all (the client's timeout must fire).
    Hang,
    /// Do the work, then answer 502 as if the answer was lost on the way.
    LoseAnswer,
    /// A 200 whose body is not JSON.
    Garbage,
    /// A 200 whose body is `{}`: JSON, but not the answer asked for.
    EmptyObject,
    /// This status, with an error that quotes the request's Authorization
    /// header (a backend careless with secrets).
    EchoAuthorization(u16),
}

#[derive(Debug, Default)]
pub struct Faults {
    script: Mutex<VecDeque<(FaultRoute, ServerFault)>>,
    down: AtomicBool,
    /// Requests seen per route, failed ones included.
    seen: Mutex<Vec<FaultRoute>>,
    /// Every request to either route, as it arrived.
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A request as the server received it: the path with its query, and the
/// body's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub route: FaultRoute,
    pub path_and_query: String,
    pub body: String,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Queues a fault for the next request to `route` that has none yet.
    pub fn then(&self, route: FaultRoute, fault: ServerFault) -> &Self {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back((route, fault));
        self
    }

    /// While down, every request to either route answers 503.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many requests reached `route` so far.
    pub fn seen(&self, route: FaultRoute) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| **r == route)
            .count()
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn record(&self, request: RecordedRequest) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
    }

    pub(super) fn next(&self, route: FaultRoute) -> Option<ServerFault> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(route);
        if self.down.load(Ordering::SeqCst) {
            return Some(ServerFault::Status(503));
        }
        let mut script = self.script.lock().unwrap_or_else(|e| e.into_inner());
        let i = script.iter().position(|(r, _)| *r == route)?;
        script.remove(i).map(|(_, f)| f)
    }
}

/// Gives the next request to a faulted route the fault queued for it.
pub(super) async fn inject(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(faults) = &app.faults else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let route = if path.ends_with("/triage") {
        FaultRoute::Triage
    } else if path.ends_with("/findings") {
        FaultRoute::Findings
    } else if path.ends_with("/findings/copy") {
        FaultRoute::Copy
    } else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return ApiError::bad_request("the request body could not be read").into_response();
    };
    faults.record(RecordedRequest {
        route,
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    });
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    match faults.next(route) {
        None | Some(ServerFault::Answer) => next.run(request).await,
        Some(ServerFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::new(status, format!("injected fault: {code}")).into_response()
        }
        Some(ServerFault::RetryAfter { status, value }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            let mut response = ApiError::new(status, "injected fault: slow down").into_response();
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Some(ServerFault::Hang) => std::future::pending().await,
        Some(ServerFault::LoseAnswer) => {
            let _ = next.run(request).await;
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "injected fault: the answer was lost",
            )
            .into_response()
        }
        Some(ServerFault::Garbage) => (StatusCode::OK, "<html>not json</html>").into_response(),
        Some(ServerFault::EmptyObject) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Some(ServerFault::EchoAuthorization(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
            ApiError::new(
                status,
                format!("invalid request; headers were: Authorization: {authorization}"),
            )
            .into_response()
        }
    }
}
