//! The embedded backend: sift's own Semgrep-compatible service over the
//! local store, in-process. Decisions are applied with the v1 bulk triage
//! semantics; there is nothing to pull, but other writers (an import, a
//! script's `sift triage`, another console) are noticed.

use super::{Backend, BackendError, TriageRequest, TriageResponse};
use crate::config::display_path;
use crate::domain::{Memory, MemoryChange};
use crate::store::Store;
use crate::wire::v1::BulkTriageRequest;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

pub struct Embedded {
    dir: PathBuf,
    store: Arc<Mutex<Store>>,
    /// The findings version last seen: it moves when findings change.
    seen_version: Arc<Mutex<Option<i64>>>,
}

impl Embedded {
    pub fn open(dir: &Path) -> Result<Embedded> {
        Ok(Embedded {
            dir: dir.to_path_buf(),
            store: Arc::new(Mutex::new(Store::open(dir)?)),
            seen_version: Arc::new(Mutex::new(None)),
        })
    }

    async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T, BackendError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut store)
        })
        .await
        .map_err(|e| BackendError::unavailable(format!("the store task failed: {e}")))?
        .map_err(|e| BackendError::unavailable(format!("the store failed: {e:#}")))
    }
}

impl Backend for Embedded {
    fn describe(&self) -> String {
        format!("embedded {}", display_path(&self.dir))
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        // The same rules as the API's bulk triage (and `sift serve`).
        BulkTriageRequest::for_change("sast", &request.issue_ids, &request.change)
            .validate()
            .map_err(|message| BackendError::Rejected {
                message: format!("the backend refused the triage (400): {message}"),
            })?;
        let applied = self
            .with_store(move |store| {
                store.apply_triage(
                    &request.issue_ids,
                    &request.change,
                    &request.actor,
                    OffsetDateTime::now_utc(),
                    request.key.as_deref(),
                )
            })
            .await?;
        let version = applied.version;
        // Our own change is not news to the console, unless someone else
        // changed findings since we last looked.
        let mut seen = self.seen_version.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == Some(version - 1) {
            *seen = Some(version);
        }
        Ok(TriageResponse {
            triaged: applied.triaged,
            not_applied: applied.not_applied,
        })
    }

    async fn memory(
        &self,
        change: MemoryChange,
        _actor: String,
    ) -> Result<Option<Memory>, BackendError> {
        // As sift serve answers: updating a memory someone deleted is
        // refused rather than bringing it back.
        let (answer, before, after) = self
            .with_store(move |store| {
                let before = store.findings_version()?;
                let answer = match change {
                    MemoryChange::Update(m) if !store.memories()?.iter().any(|x| x.id == m.id) => {
                        Err(format!("no memory has the id {}", m.id))
                    }
                    MemoryChange::Create(m) | MemoryChange::Update(m) => {
                        store.put_memory(&m)?;
                        Ok(Some(m))
                    }
                    MemoryChange::Delete(id) => {
                        store.delete_memory(&id)?;
                        Ok(None)
                    }
                };
                Ok((answer, before, store.findings_version()?))
            })
            .await?;
        // Our own change is not news to the console (the sync tells it),
        // unless someone else changed the store since we last looked.
        let mut seen = self.seen_version.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == Some(before) {
            *seen = Some(after);
        }
        answer.map_err(|message| BackendError::Rejected { message })
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        let version = self.with_store(|store| store.findings_version()).await?;
        let mut seen = self.seen_version.lock().unwrap_or_else(|e| e.into_inner());
        let changed = seen.is_some_and(|v| v != version);
        *seen = Some(version);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageChange, TriageState};

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
