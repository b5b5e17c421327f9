//! Faults a test server can inject (never reachable from the command
//! line): the answers a real backend gives on a bad day, so that the HTTP
//! client and the sync are tested against them over a real connection.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Which route a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultRoute {
    /// `POST …/triage`
    Triage,
    /// `GET …/findings`
    Findings,
}

/// What the next request to a route gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFault {
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
