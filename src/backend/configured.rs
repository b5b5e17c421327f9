//! The backend the command line and the config name, resolved once: the
//! embedded backend over a data directory, or an API backend with its local
//! cache. One type for both, so callers never ask which one it is again.

use super::api::Api;
use super::embedded::Embedded;
use super::{Backend, BackendError, Outage, TriageRequest, TriageResponse};
use crate::domain::{Memory, MemoryChange};
use crate::show::display_path;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub enum Configured {
    /// sift's own store in `dir`. It is opened the first time a decision, a
    /// memory change or a pull needs it, so a command that only reads never
    /// creates a store.
    Embedded {
        dir: PathBuf,
        opened: OnceLock<Embedded>,
    },
    /// The Semgrep API (or `sift serve`), its findings cached in `cache`.
    Api { cache: PathBuf, api: Arc<Api> },
}

impl Configured {
    /// The embedded backend over the store in `dir` (not opened yet).
    pub fn embedded(dir: &Path) -> Configured {
        Configured::Embedded {
            dir: dir.to_path_buf(),
            opened: OnceLock::new(),
        }
    }

    /// An API backend whose findings are cached in `cache`.
    pub fn api(api: Api, cache: &Path) -> Configured {
        Configured::Api {
            cache: cache.to_path_buf(),
            api: Arc::new(api),
        }
    }

    /// The store commands read findings from: the embedded backend's own,
    /// or the API backend's cache.
    pub fn store_dir(&self) -> &Path {
        match self {
            Configured::Embedded { dir, .. } => dir,
            Configured::Api { cache, .. } => cache,
        }
    }

    /// True when the findings live elsewhere and reach the store by a pull.
    pub fn is_remote(&self) -> bool {
        matches!(self, Configured::Api { .. })
    }

    /// True for Semgrep's own service at semgrep.dev (not `sift serve`).
    pub fn is_semgrep_dev(&self) -> bool {
        matches!(self, Configured::Api { api, .. } if api.is_semgrep_dev())
    }

    /// Opens the embedded store now, so that a store that cannot be opened
    /// is reported as such rather than as a backend that is unavailable.
    /// Nothing to do for an API backend.
    pub fn open(&self) -> anyhow::Result<()> {
        self.ready().map(|_| ())
    }

    /// The backend itself, the embedded one opened if it was not yet.
    fn ready(&self) -> anyhow::Result<Ready<'_>> {
        match self {
            Configured::Embedded { dir, opened } => {
                if let Some(embedded) = opened.get() {
                    return Ok(Ready::Embedded(embedded));
                }
                let embedded = Embedded::open(dir)?;
                Ok(Ready::Embedded(opened.get_or_init(|| embedded)))
            }
            Configured::Api { api, .. } => Ok(Ready::Api(api)),
        }
    }

    /// `ready` for the trait's methods: a store that cannot be opened makes
    /// the backend unavailable, as a store failure inside it does.
    fn backend(&self) -> Result<Ready<'_>, BackendError> {
        self.ready().map_err(|e| {
            BackendError::outage(Outage::LocalStore, format!("the store failed: {e:#}"))
        })
    }
}

enum Ready<'a> {
    Embedded(&'a Embedded),
    Api(&'a Api),
}

/// Every method is the configured backend's own.
impl Backend for Configured {
    fn describe(&self) -> String {
        match self {
            // As `Embedded` describes itself, without opening the store.
            Configured::Embedded { dir, .. } => format!("embedded {}", display_path(dir)),
            Configured::Api { api, .. } => api.describe(),
        }
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        match self.backend()? {
            Ready::Embedded(b) => b.triage(request).await,
            Ready::Api(b) => b.triage(request).await,
        }
    }

    async fn memory(
        &self,
        change: MemoryChange,
        actor: String,
    ) -> Result<Option<Memory>, BackendError> {
        match self.backend()? {
            Ready::Embedded(b) => b.memory(change, actor).await,
            Ready::Api(b) => b.memory(change, actor).await,
        }
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        match self.backend()? {
            Ready::Embedded(b) => b.pull().await,
            Ready::Api(b) => b.pull().await,
        }
    }

    fn pulls_cheaply(&self) -> bool {
        match self {
            // A look at the store's version, opened or not.
            Configured::Embedded { .. } => true,
            Configured::Api { api, .. } => api.pulls_cheaply(),
        }
    }
}
