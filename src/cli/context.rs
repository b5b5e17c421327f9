//! What every command works with: the config, the data directory, the
//! offline flag, the reviewer, and the backend, resolved once.

use super::Cli;
use super::errors::is_disk_full;
use crate::backend::Backend;
use crate::backend::api::{self, Api};
use crate::backend::configured::Configured;
use crate::config::{self, BackendFlags, Config, ResolvedBackend};
use crate::store::{self, Store};
use crate::sync::{Offline, PassReport, SyncConfig};
use crate::text::inert;
use anyhow::{Result, bail};
use std::cell::{OnceCell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why nothing is sent under `--offline`.
pub const OFFLINE_REASON: &str = "sift ran with --offline";

pub struct Context {
    pub config: Config,
    /// `--data-dir` (or `SIFT_DATA_DIR`) as given, if it was.
    pub data_dir_flag: Option<PathBuf>,
    /// Record without sending (`--offline`).
    pub offline: bool,
    /// Who decides, for the activity.
    pub reviewer: String,
    pub flags: BackendFlags,
    backend: OnceCell<Arc<Configured>>,
    /// The store the command works on, for messages about its disk.
    store_in_use: RefCell<Option<PathBuf>>,
}

/// When to fetch findings before a command reads an API backend's cache.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Always (scripts want the backend's state).
    Always,
    /// Only into an empty cache (the console pulls in the background).
    IfEmpty,
}

impl Context {
    /// Loads the config; the backend is resolved when a command first asks.
    pub fn new(cli: &Cli) -> Result<Context> {
        let config = config::load(cli.config.as_deref())?;
        Ok(Context {
            reviewer: config::reviewer(&config),
            config,
            data_dir_flag: cli.data_dir.clone(),
            offline: cli.offline,
            flags: cli.backend_flags(),
            backend: OnceCell::new(),
            store_in_use: RefCell::new(None),
        })
    }

    /// The data directory: `--data-dir`, the config's, or the XDG one.
    pub fn data_dir(&self) -> Result<PathBuf> {
        config::data_dir(self.data_dir_flag.as_deref(), &self.config)
    }

    /// The backend the options, profile, config and environment name,
    /// resolved the first time a command asks for it.
    pub fn backend(&self) -> Result<&Arc<Configured>> {
        if let Some(backend) = self.backend.get() {
            return Ok(backend);
        }
        let resolved = Arc::new(self.resolve()?);
        Ok(self.backend.get_or_init(|| resolved))
    }

    fn resolve(&self) -> Result<Configured> {
        let data_dir = self.data_dir()?;
        match config::resolve_backend(&self.flags, &self.config)? {
            ResolvedBackend::Embedded => Ok(Configured::embedded(&data_dir)),
            ResolvedBackend::Api {
                url,
                deployment,
                token,
                token_source,
            } => {
                let cache = config::api_cache_dir(&data_dir, &url, deployment.as_deref())?;
                api::prepare_cache_dir(&cache)?;
                tracing::info!(
                    "api backend {url}, token from {}",
                    token_source.as_deref().unwrap_or("nowhere")
                );
                let api = Api::new(&url, token, deployment, &cache)?.with_reviewer(&self.reviewer);
                Ok(Configured::api(api, &cache))
            }
        }
    }

    /// Refuses a command that works on the embedded store only when the
    /// configuration names an API backend.
    pub fn embedded_only(&self, what: &str) -> Result<()> {
        if let ResolvedBackend::Api { .. } = config::resolve_backend(&self.flags, &self.config)? {
            bail!(
                "{what} works on the embedded backend's store (--data-dir), not on the \
                 Semgrep API; add --backend embedded (for a team's `sift serve`, use its \
                 --data-dir)"
            );
        }
        Ok(())
    }

    /// Notes the store a command works on, for what is said about its disk.
    pub fn using(&self, dir: &Path) {
        *self.store_in_use.borrow_mut() = Some(dir.to_path_buf());
    }

    /// The store the command works on: the one it opened, else the
    /// backend's, else the data directory.
    pub fn store_in_use(&self) -> Option<PathBuf> {
        if let Some(dir) = self.store_in_use.borrow().clone() {
            return Some(dir);
        }
        match self.backend.get() {
            Some(backend) => Some(backend.store_dir().to_path_buf()),
            None => self.data_dir().ok(),
        }
    }

    /// Opens the store in `dir`, creating it if need be.
    pub fn open_store_in(&self, dir: &Path) -> Result<Store> {
        self.using(dir);
        Store::open(dir)
    }

    /// Opens the backend's store (the embedded one, or the API's cache),
    /// creating it if need be.
    pub fn open_store(&self) -> Result<Store> {
        let dir = self.backend()?.store_dir().to_path_buf();
        self.open_store_in(&dir)
    }

    /// The backend's store for a command that only reads. An embedded
    /// store that does not exist is not created: the data directory is
    /// wrong, or nothing was imported. On a full disk the store is opened
    /// read-only, with a warning.
    pub fn read_store(&self) -> Result<Store> {
        self.require_existing_store()?;
        let dir = self.backend()?.store_dir();
        self.using(dir);
        let (store, read_only) = open_or_read_only(dir, Store::open)?;
        if read_only {
            eprintln!(
                "sift: warning: the disk holding {} is full (no space left on device); the \
                 store is shown read-only, and its latest changes may be missing",
                inert(&dir.display().to_string())
            );
        }
        Ok(store)
    }

    /// Fails, without creating anything, when the embedded backend has no
    /// store yet (for a command that would only read it).
    /// The backend's store (which must exist), shared by the async work
    /// of a command (the Assistant's runs).
    pub fn shared_store(&self) -> Result<crate::service::SharedStore> {
        self.require_existing_store()?;
        crate::service::SharedStore::open(self.backend()?.store_dir())
    }

    pub fn require_existing_store(&self) -> Result<()> {
        let backend = self.backend()?;
        if !backend.is_remote() {
            require_store(backend.store_dir())?;
        }
        Ok(())
    }

    /// Brings an API backend's cache up to date (nothing to do for the
    /// embedded backend). Fails when it cannot and the cache is empty;
    /// otherwise says that the cached findings are shown.
    pub fn refresh(&self, when: Refresh) -> Result<()> {
        let backend = self.backend()?;
        if !backend.is_remote() {
            return Ok(());
        }
        let cache = backend.store_dir();
        self.using(cache);
        let empty = match Store::open(cache) {
            Ok(store) => store.count_findings()? == 0,
            // Nothing fetched could be kept; what is cached is all there is.
            Err(e) if is_disk_full(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !empty && when == Refresh::IfEmpty {
            return Ok(());
        }
        if empty {
            eprintln!(
                "sift: fetching findings from {}…",
                inert(&backend.describe())
            );
        }
        match block_on(backend.pull())? {
            Ok(_) => Ok(()),
            Err(e) if empty => bail!("cannot fetch findings: {e}"),
            Err(e) => {
                eprintln!(
                    "sift: showing the findings cached earlier; fetching new ones failed: {}",
                    inert(&e.to_string())
                );
                Ok(())
            }
        }
    }

    /// One push-and-pull pass against the backend; with `--offline`, none.
    /// What cannot be sent stays in the outbox, and the report says why.
    pub fn sync_pass(&self, store: &mut Store) -> PassReport {
        if self.offline {
            return waiting(store, OFFLINE_REASON.into());
        }
        let pass = |store: &mut Store| -> Result<PassReport> {
            let backend = self.backend()?;
            backend.open()?;
            block_on(crate::sync::push_and_pull(
                &**backend,
                store,
                &SyncConfig::default(),
            ))?
        };
        pass(store).unwrap_or_else(|e| waiting(store, format!("{e:#}")))
    }
}

/// A pass that sent nothing, for `reason`: everything recorded waits.
fn waiting(store: &Store, reason: String) -> PassReport {
    PassReport {
        offline: Some(Offline {
            reason,
            retry_after: None,
            outage: crate::backend::Outage::Other,
        }),
        waiting: store.waiting_count().unwrap_or(0),
        rejected_total: store.rejected_count().unwrap_or(0),
        ..PassReport::default()
    }
}

/// Fails when `dir` holds no store, rather than creating one.
pub fn require_store(dir: &Path) -> Result<()> {
    if !dir.join(store::DB_FILE).exists() {
        bail!(
            "no sift store in {} (import findings with `sift import`, or check --data-dir / \
             SIFT_DATA_DIR)",
            dir.display()
        );
    }
    Ok(())
}

/// Opens the store in `dir` with `open`; when that fails because the disk
/// is full, opens it read-only instead (nothing written, not even SQLite's
/// WAL files). True with a read-only store.
pub fn open_or_read_only(
    dir: &Path,
    open: impl FnOnce(&Path) -> Result<Store>,
) -> Result<(Store, bool)> {
    match open(dir) {
        Ok(store) => Ok((store, false)),
        Err(e) if is_disk_full(&e) => match Store::open_read_only_immutable(dir) {
            Ok(store) => Ok((store, true)),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Runs one async task to its end on a small runtime.
pub fn block_on<T>(work: impl std::future::Future<Output = T>) -> Result<T> {
    // The store's work runs on blocking threads, one at a time (it is
    // behind a lock): a few threads do, more only hold memory.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()?;
    Ok(rt.block_on(work))
}
