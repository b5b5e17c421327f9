//! A backend that fails on purpose, for testing the sync against errors,
//! rate limits, hangs and outages without a network.

use super::{Backend, BackendError, Outage, TriageRequest, TriageResponse};
use crate::domain::{Memory, MemoryChange};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// What the next call does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer like a 500.
    ServerError,
    /// Answer like a 429 or 503 with Retry-After.
    RetryAfter(Duration),
    /// Never answer (the caller's timeout must fire).
    Hang,
    /// Do the work, then lose the answer (the caller must retry, and the
    /// retry must not change the result).
    LoseAnswer,
    /// Refuse the request like a 400.
    Reject,
}

pub struct Faulty<B> {
    inner: B,
    /// Faults for the next calls (triage, memory), in order; then calls go through.
    script: Mutex<VecDeque<Fault>>,
    /// While true, every call fails as if the backend were unreachable.
    down: Mutex<bool>,
    calls: Mutex<Vec<TriageRequest>>,
    memory_calls: Mutex<Vec<MemoryChange>>,
}

impl<B: Backend> Faulty<B> {
    pub fn new(inner: B) -> Self {
        Faulty {
            inner,
            script: Mutex::new(VecDeque::new()),
            down: Mutex::new(false),
            calls: Mutex::new(Vec::new()),
            memory_calls: Mutex::new(Vec::new()),
        }
    }

    pub fn then(&self, fault: Fault) -> &Self {
        self.script.lock().unwrap().push_back(fault);
        self
    }

    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }

    /// Every triage call received, in order, including failed ones.
    pub fn calls(&self) -> Vec<TriageRequest> {
        self.calls.lock().unwrap().clone()
    }

    /// Every memory change received, in order, including failed ones.
    pub fn memory_calls(&self) -> Vec<MemoryChange> {
        self.memory_calls.lock().unwrap().clone()
    }

    fn next_fault(&self) -> Option<Fault> {
        if *self.down.lock().unwrap() {
            return Some(Fault::ServerError);
        }
        self.script.lock().unwrap().pop_front()
    }
}

impl<B: Backend> Faulty<B> {
    /// Makes a call, unless the next fault says otherwise.
    async fn through<T, F>(&self, call: impl Fn() -> F) -> Result<T, BackendError>
    where
        F: Future<Output = Result<T, BackendError>>,
    {
        match self.next_fault() {
            None => call().await,
            Some(Fault::ServerError) => Err(BackendError::outage(
                Outage::Http(500),
                "the backend answered 500",
            )),
            Some(Fault::RetryAfter(d)) => Err(BackendError::Unavailable {
                message: "the backend answered 429 (rate limited)".into(),
                retry_after: Some(d),
                outage: Outage::Http(429),
            }),
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::LoseAnswer) => {
                call().await?;
                Err(BackendError::unavailable(
                    "the connection dropped before the answer",
                ))
            }
            Some(Fault::Reject) => Err(BackendError::Rejected {
                message: "the backend answered 400: invalid request".into(),
            }),
        }
    }
}

impl<B: Backend> Backend for Faulty<B> {
    fn describe(&self) -> String {
        format!("faulty {}", self.inner.describe())
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        self.calls.lock().unwrap().push(request.clone());
        self.through(|| self.inner.triage(request.clone())).await
    }

    async fn memory(
        &self,
        change: MemoryChange,
        actor: String,
    ) -> Result<Option<Memory>, BackendError> {
        self.memory_calls.lock().unwrap().push(change.clone());
        self.through(|| self.inner.memory(change.clone(), actor.clone()))
            .await
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        if *self.down.lock().unwrap() {
            return Err(BackendError::outage(
                Outage::Unreachable,
                "the backend is unreachable",
            ));
        }
        self.inner.pull().await
    }
}
