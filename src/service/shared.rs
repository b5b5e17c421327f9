//! One store shared by async tasks: the work runs off the async threads,
//! one piece at a time. The embedded backend, `sift serve` and the API
//! backend's cache all hold their store this way.

use crate::store::Store;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct SharedStore {
    dir: PathBuf,
    /// Opened at the first piece of work.
    store: Arc<Mutex<Option<Store>>>,
}

impl SharedStore {
    /// The store in `dir`, opened now (so that a bad one fails at once).
    pub fn open(dir: &Path) -> Result<SharedStore> {
        let store = Store::open(dir)?;
        Ok(SharedStore {
            dir: dir.to_path_buf(),
            store: Arc::new(Mutex::new(Some(store))),
        })
    }

    /// The store in `dir`, opened when it is first needed.
    pub fn lazy(dir: &Path) -> SharedStore {
        SharedStore {
            dir: dir.to_path_buf(),
            store: Arc::new(Mutex::new(None)),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `work` on the store on a blocking thread; an error is the
    /// store's (it could not be opened) or the task's.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> T + Send + 'static,
    ) -> Result<T> {
        let (store, dir) = (self.store.clone(), self.dir.clone());
        tokio::task::spawn_blocking(move || -> Result<T> {
            let mut guard = store.lock().unwrap_or_else(|e| e.into_inner());
            if guard.is_none() {
                *guard = Some(Store::open(&dir)?);
            }
            let store = guard.as_mut().context("the store did not open")?;
            Ok(work(store))
        })
        .await
        .context("the store task failed")?
    }
}
