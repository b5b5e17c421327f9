//! The embedded backend: sift's own Semgrep-compatible service over the
//! local store, in-process. Decisions are applied with the v1 bulk triage
//! semantics; there is nothing to pull, but other writers (an import, a
//! script's `sift triage`, another console) are noticed.

use super::{Backend, BackendError, Outage, TriageRequest, TriageResponse};
use crate::domain::{Memory, MemoryChange};
use crate::service::{self, ServiceError, SharedStore};
use crate::show::display_path;
use crate::store::Store;
use crate::wire::v1::BulkTriageRequest;
use anyhow::Result;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub struct Embedded {
    store: SharedStore,
    /// The findings version last seen: it moves when findings change.
    seen_version: Arc<Mutex<Option<i64>>>,
}

impl Embedded {
    pub fn open(dir: &Path) -> Result<Embedded> {
        Ok(Embedded {
            store: SharedStore::open(dir)?,
            seen_version: Arc::new(Mutex::new(None)),
        })
    }

    /// Runs service work on the store, as the API's answers would come.
    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let answer = self.store.run(work).await.map_err(|e| {
            BackendError::outage(Outage::LocalStore, format!("the store failed: {e:#}"))
        })?;
        answer.map_err(|e| match e {
            ServiceError::Invalid(message) | ServiceError::NotFound(message) => {
                BackendError::Rejected { message }
            }
            ServiceError::Store(e) => {
                BackendError::outage(Outage::LocalStore, format!("the store failed: {e:#}"))
            }
        })
    }

    /// Our own change is not news to the console, unless someone else
    /// changed the store since we last looked.
    fn seen(&self, before: i64, after: i64) {
        let mut seen = self.seen_version.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == Some(before) {
            *seen = Some(after);
        }
    }
}

impl Backend for Embedded {
    fn describe(&self) -> String {
        format!("embedded {}", display_path(self.store.dir()))
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        let body = BulkTriageRequest::for_change("sast", &request.issue_ids, &request.change)
            .with_preconditions(&request.preconditions);
        let applied = self
            .call(move |store| {
                service::bulk_triage(store, &body, &request.actor, request.key.as_deref()).map_err(
                    |e| match e {
                        ServiceError::Invalid(m) => ServiceError::Invalid(format!(
                            "the backend refused the triage (400): {m}"
                        )),
                        e => e,
                    },
                )
            })
            .await?;
        self.seen(applied.version - 1, applied.version);
        Ok(TriageResponse {
            triaged: applied.triaged,
            not_applied: applied.not_applied,
            conflicts: applied.conflicts,
        })
    }

    async fn memory(
        &self,
        change: MemoryChange,
        actor: String,
    ) -> Result<Option<Memory>, BackendError> {
        let (stored, before, after) = self
            .call(move |store| {
                let before = store.findings_version()?;
                let stored = match change {
                    MemoryChange::Create(m) => service::create_memory(store, m, &actor).map(Some),
                    MemoryChange::Update(m) => {
                        let id = m.id.clone();
                        service::update_memory(store, &id, m, &actor).map(Some)
                    }
                    MemoryChange::Delete(id) => {
                        service::delete_memory(store, &id, &actor).map(|_| None)
                    }
                }?;
                Ok((stored, before, store.findings_version()?))
            })
            .await?;
        self.seen(before, after);
        Ok(stored)
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        let version = self.call(|store| Ok(store.findings_version()?)).await?;
        let mut seen = self.seen_version.lock().unwrap_or_else(|e| e.into_inner());
        let changed = seen.is_some_and(|v| v != version);
        *seen = Some(version);
        Ok(changed)
    }

    /// A pull reads the store's version.
    fn pulls_cheaply(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageChange, TriageState};
    use time::OffsetDateTime;

    #[tokio::test]
    async fn own_decisions_are_not_news_but_other_writers_are() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = Store::open(dir.path()).unwrap();
        crate::demo::seed(&mut other, Some(20), OffsetDateTime::now_utc()).unwrap();
        let backend = Embedded::open(dir.path()).unwrap();
        assert!(
            !backend.pull().await.unwrap(),
            "the first look sets the baseline"
        );
        let request = TriageRequest {
            issue_ids: vec![1],
            change: TriageChange {
                state: Some(TriageState::Reviewing),
                reason: None,
                note: None,
            },
            actor: "alice".into(),
            key: None,
            preconditions: Vec::new(),
        };
        backend.triage(request.clone()).await.unwrap();
        assert!(
            !backend.pull().await.unwrap(),
            "our own triage is no reason to reload"
        );
        // Another process (a script's `sift triage`) changes findings.
        other
            .apply_triage(
                &[2],
                &request.change,
                "bob",
                OffsetDateTime::now_utc(),
                None,
            )
            .unwrap();
        assert!(backend.pull().await.unwrap());
        assert!(!backend.pull().await.unwrap());
    }
}
