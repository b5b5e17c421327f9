//! Where decisions go and findings come from: one trait, spoken by the
//! embedded backend (in-process, over the store) and by the HTTP client of
//! the Semgrep API (`api`, for semgrep.dev or `sift serve`).

pub mod api;
pub mod configured;
pub mod embedded;
#[cfg(feature = "faults")]
pub mod faults;

use crate::domain::{Memory, MemoryChange, TriageChange, TriageConflict, TriageState};
use std::future::Future;
use std::time::Duration;

/// A v1 bulk triage call: one change for many findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageRequest {
    pub issue_ids: Vec<i64>,
    pub change: TriageChange,
    /// Who decided, for backends that record it themselves.
    pub actor: String,
    /// The request's key (`Idempotency-Key`): a backend that saw it answers
    /// as it did the first time and changes nothing.
    pub key: Option<String>,
    /// Per finding, the triage state the reviewer saw when deciding. A
    /// backend that can check it (the embedded one, `sift serve`) leaves a
    /// finding someone else decided since alone and answers a conflict;
    /// semgrep.dev cannot, and the decision wins there.
    pub preconditions: Vec<(i64, TriageState)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TriageResponse {
    /// Every finding triaged, including the same finding on other refs.
    pub triaged: Vec<i64>,
    /// Findings asked for whose status did not change, with why (a newer
    /// scan had marked them fixed): their decisions were not applied.
    pub not_applied: Vec<(i64, String)>,
    /// Findings left alone because someone else decided them since the
    /// reviewer saw them: their decisions were not applied.
    pub conflicts: Vec<TriageConflict>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Try again later: a 5xx, a 429, a timeout, no connection.
    #[error("{message}")]
    Unavailable {
        message: String,
        /// What the backend asked for (Retry-After), if anything.
        retry_after: Option<Duration>,
        /// What kind of failure it was, for a short word on screen.
        outage: Outage,
    },
    /// The backend refused the request; sending it again will not help.
    #[error("{message}")]
    Rejected { message: String },
}

/// Why the backend could not be used, in a few words: the status bar
/// says this, and the log and `sift sync` say the full message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Nothing listens at the backend's address.
    ConnectionRefused,
    /// No connection for another reason (no route, no such host, TLS).
    Unreachable,
    /// The backend did not answer in time.
    TimedOut,
    /// The backend answered with this HTTP status (a 5xx, a 429).
    Http(u16),
    /// The backend's answer was not what the API defines.
    BadAnswer,
    /// The backend asked to be left alone a while (a stored Retry-After).
    AskedToWait,
    /// The backend refused the request.
    Refused,
    /// The local store or cache failed.
    LocalStore,
    /// Anything else (a connection dropped half way).
    Other,
}

impl Outage {
    /// "connection refused", "timed out", "HTTP 503".
    pub fn summary(self) -> String {
        match self {
            Outage::ConnectionRefused => "connection refused".into(),
            Outage::Unreachable => "unreachable".into(),
            Outage::TimedOut => "timed out".into(),
            Outage::Http(code) => format!("HTTP {code}"),
            Outage::BadAnswer => "unexpected answer".into(),
            Outage::AskedToWait => "asked to wait".into(),
            Outage::Refused => "request refused".into(),
            Outage::LocalStore => "local store failed".into(),
            Outage::Other => "connection failed".into(),
        }
    }
}

impl BackendError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::outage(Outage::Other, message)
    }

    /// Unavailable for a known kind of failure.
    pub fn outage(outage: Outage, message: impl Into<String>) -> Self {
        BackendError::Unavailable {
            message: message.into(),
            retry_after: None,
            outage,
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }

    /// The same error with every trace of `secret` removed from its message.
    pub fn redact(self, secret: &str) -> BackendError {
        match self {
            BackendError::Unavailable {
                message,
                retry_after,
                outage,
            } => BackendError::Unavailable {
                message: crate::net::redact(&message, secret),
                retry_after,
                outage,
            },
            BackendError::Rejected { message } => BackendError::Rejected {
                message: crate::net::redact(&message, secret),
            },
        }
    }
}

pub trait Backend: Send + Sync + 'static {
    /// For the status bar, e.g. "embedded ~/.local/share/sift".
    fn describe(&self) -> String;

    /// Sends one bulk triage call. Sending the same call twice must leave
    /// the backend as sending it once did.
    fn triage(
        &self,
        request: TriageRequest,
    ) -> impl Future<Output = Result<TriageResponse, BackendError>> + Send;

    /// Sends one memory change; answers with the memory as the backend
    /// stored it (its id may differ from sift's), none for a delete.
    /// Sending the same change twice must leave the backend as once did.
    fn memory(
        &self,
        change: MemoryChange,
        actor: String,
    ) -> impl Future<Output = Result<Option<Memory>, BackendError>> + Send {
        let _ = (change, actor);
        let message = format!("{} keeps no memories", self.describe());
        async move { Err(BackendError::Rejected { message }) }
    }

    /// Brings the local store up to date with the backend (findings and
    /// memories); true when something changed that the console should
    /// reload.
    fn pull(&self) -> impl Future<Output = Result<bool, BackendError>> + Send;

    /// Whether a pull costs little when little changed (it asks only for
    /// the changes), so the console may pull every few seconds.
    fn pulls_cheaply(&self) -> bool {
        false
    }
}
