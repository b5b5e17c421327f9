//! The Semgrep API backend: one HTTP client for semgrep.dev, a
//! single-tenant Semgrep, or `sift serve` (ARCHITECTURE §6).
//!
//! Decisions go as v1 bulk triage (`issue_type` "sast"). A full pull pages
//! through `GET …/findings?issue_type=sast&dedup=false&page_size=3000` until
//! a short or empty page and stores the findings in a local cache (a store
//! of its own, per backend), which the console and the scripting commands
//! read. `sift serve` also answers with a change cursor
//! (`X-Sift-Change-Cursor`), kept in the cache directory: the next pulls
//! send it back (`since_change`) and get only the findings changed since;
//! without one, or when the server no longer knows it, the pull is full,
//! and from `sift serve` by change as well (`since_change=0`), so the cache
//! appends the findings and keeps the cursor at each commit.
//! Autotriage feedback cannot be sent with an API token, so agreeing or
//! disagreeing with Assistant goes as the v1 triage of ARCHITECTURE §3.
//!
//! Memories use the experimental v2 routes (`/api/ai/deployments/{id}/
//! memories…`), where the backend offers them: list, create, update,
//! delete.

pub mod credentials;
pub mod http;

use super::{Backend, BackendError, Outage, TriageRequest, TriageResponse};
use crate::domain::{self, Memory, MemoryChange, ScanResults, TriageChange};
use crate::service::SharedStore;
use crate::store::{PullKept, PulledPage, Store};
use crate::wire::headers::IDEMPOTENCY_KEY;
use crate::wire::v1::{
    BulkTriageRequest, BulkTriageResponse, Deployment, FindingsPage, FindingsQuery,
    ListDeploymentsResponse, ListProjectsResponse, MAX_PAGE_SIZE, Project,
};
use crate::wire::v2::{self, ListMemoriesRequest, MemoriesResponse, MemoryEnvelope, MemoryFilter};
use anyhow::{Context, Result};
use credentials::Token;
use reqwest::Url;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

pub use crate::net::http_client;

/// The largest answer read from a backend: a page of 3,000 findings is a
/// few megabytes, and one of very long findings some hundreds.
const MAX_ANSWER_BYTES: usize = 512 << 20;
/// Every request's time limit, as the sync's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest copy of `sift serve`'s findings taken (`Api::pull_copy`):
/// about 2 KB a finding, so a few million findings.
const MAX_COPY_BYTES: u64 = 8 << 30;
/// What a copy of `sift serve`'s findings is called in the log.
const COPY_WHAT: &str = "the copy of the backend's findings";
/// A copy's time limit as a whole: it comes as long as its bytes keep
/// coming, each chunk within the request's time limit.
const COPY_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The file in the cache directory that remembers what the last pull
/// brought, so an unchanged backlog is not stored (or reloaded) again.
const PULL_DIGEST_FILE: &str = "last-pull.sha256";

/// The file in the cache directory that keeps `sift serve`'s change cursor
/// after the last pull.
const CHANGE_CURSOR_FILE: &str = "change-cursor";

/// A page of the findings listing, or the server's word that it no longer
/// knows the change cursor asked with.
enum Listed {
    Page {
        page: FindingsPage,
        /// `sift serve`'s cursor past this page (none from Semgrep).
        cursor: Option<String>,
        /// The page as it came, for telling whether it changed: only for
        /// a listing of every finding (a listing of changes is never
        /// compared).
        digest: Option<String>,
    },
    CursorUnknown,
}

/// `Listed`, the page's body not yet read.
enum ListedBody {
    Page {
        body: String,
        cursor: Option<String>,
    },
    CursorUnknown,
}

/// What a listing of findings is called in errors and the log.
fn listing_what(query: &FindingsQuery, since: Option<&str>) -> String {
    match since {
        Some(crate::wire::FROM_FIRST_CHANGE) => "listing findings by change".to_string(),
        Some(_) => "listing the findings changed since the last pull".to_string(),
        None => format!("listing findings (page {})", query.page),
    }
}

/// The backend's JSON answer to `what`, read as `T`.
fn parse_answer<T: serde::de::DeserializeOwned>(body: &str, what: &str) -> Result<T, BackendError> {
    serde_json::from_str(body).map_err(|e| {
        BackendError::outage(
            Outage::BadAnswer,
            format!("the backend's answer to {what} is not the JSON the API defines ({e})"),
        )
    })
}

pub struct Api {
    client: reqwest::Client,
    base: Url,
    token: Option<Token>,
    /// Given (`--deployment`), or found at the first request.
    deployment: tokio::sync::Mutex<Option<String>>,
    /// The deployment's numeric id, found when a memory route needs it.
    deployment_id: tokio::sync::Mutex<Option<i64>>,
    given_deployment: Option<String>,
    cache_dir: PathBuf,
    cache: SharedStore,
    timeout: Duration,
    page_size: u32,
    dedup: bool,
    last_pull: Mutex<Vec<String>>,
    /// `sift serve`'s change cursor after the last pull, if it gave one;
    /// shared with the cache's writer, which moves it as it commits.
    change_cursor: Arc<Mutex<Option<String>>>,
    /// Named to `sift serve` (which records it when it has no tokens).
    reviewer: Option<String>,
    /// Whether the backend is `sift serve` (it says so on every answer),
    /// once an answer has come: only it takes a triage's preconditions.
    sift_serve: Mutex<Option<bool>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .field("deployment", &self.given_deployment)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Api {
    /// A client for the API at `base_url` (the host root, e.g.
    /// `https://semgrep.dev`), keeping its cache in `cache_dir`. Without
    /// `deployment`, the one `GET /api/v1/deployments` returns is used.
    /// Refuses plain HTTP to anything but loopback.
    pub fn new(
        base_url: &str,
        token: Option<Token>,
        deployment: Option<String>,
        cache_dir: &Path,
    ) -> Result<Api> {
        let base = credentials::base_url(base_url)?;
        let deployment = deployment
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        // One digest per page of the last pull.
        let last_pull = std::fs::read_to_string(cache_dir.join(PULL_DIGEST_FILE))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default();
        let change_cursor = std::fs::read_to_string(cache_dir.join(CHANGE_CURSOR_FILE))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Ok(Api {
            client: http_client(DEFAULT_TIMEOUT, credentials::is_loopback(&base))?,
            base,
            token,
            deployment: tokio::sync::Mutex::new(deployment.clone()),
            deployment_id: tokio::sync::Mutex::new(None),
            given_deployment: deployment,
            cache_dir: cache_dir.to_path_buf(),
            cache: SharedStore::lazy(cache_dir),
            timeout: DEFAULT_TIMEOUT,
            page_size: MAX_PAGE_SIZE,
            // Every ref's copy of a finding: the backlog every console of a
            // team sees, with the ids every console accepts.
            dedup: false,
            last_pull: Mutex::new(last_pull),
            change_cursor: Arc::new(Mutex::new(change_cursor)),
            reviewer: None,
            sift_serve: Mutex::new(None),
        })
    }

    /// Every request's time limit (default 20 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Api> {
        self.client = http_client(timeout, credentials::is_loopback(&self.base))?;
        self.timeout = timeout;
        Ok(self)
    }

    /// Findings per page when pulling (100–3,000; default 3,000).
    pub fn with_page_size(mut self, page_size: u32) -> Api {
        self.page_size = page_size.clamp(crate::wire::v1::MIN_PAGE_SIZE, MAX_PAGE_SIZE);
        self
    }

    /// The reviewer named in requests, for `sift serve` on loopback (which
    /// has no tokens to tell reviewers apart); Semgrep ignores it.
    pub fn with_reviewer(mut self, reviewer: &str) -> Api {
        self.reviewer = Some(reviewer.to_string()).filter(|r| r.is_ascii() && !r.trim().is_empty());
        self
    }

    /// Pull one finding per match (`dedup=true`) instead of every ref's
    /// copy (the default).
    pub fn with_dedup(mut self, dedup: bool) -> Api {
        self.dedup = dedup;
        self
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Whether this is Semgrep's own service (semgrep.dev, or a tenant
    /// under it), whose web app takes what an API token cannot send.
    pub fn is_semgrep_dev(&self) -> bool {
        self.base
            .host_str()
            .is_some_and(|h| h == "semgrep.dev" || h.ends_with(".semgrep.dev"))
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    fn url(&self, path: &str) -> Result<Url, BackendError> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| BackendError::Rejected {
                message: format!("cannot build the URL for {path}: {e}"),
            })
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.request_by(method, url, self.reviewer.as_deref())
    }

    /// A request naming `reviewer` to `sift serve` (read there on loopback
    /// only; Semgrep ignores it).
    fn request_by(
        &self,
        method: reqwest::Method,
        url: Url,
        reviewer: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            r = r.bearer_auth(token.expose());
        }
        if let Some(reviewer) = reviewer.filter(|a| a.is_ascii() && !a.trim().is_empty()) {
            r = r.header(crate::wire::headers::REVIEWER, reviewer.trim());
        }
        r
    }

    /// Sends a request and reads a 2xx body as JSON.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(T, String), BackendError> {
        self.send_as(request, what, None).await
    }

    /// As `send`, with what a 404 means for this route, if not the usual.
    async fn send_as<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
        on_404: Option<&str>,
    ) -> Result<(T, String), BackendError> {
        let (status, headers, body) = self.fetch(request, what).await?;
        if !status.is_success() {
            let e = match on_404 {
                Some(hint) if status == reqwest::StatusCode::NOT_FOUND => BackendError::Rejected {
                    message: format!(
                        "the backend answered 404 to {what}{}: {hint}",
                        http::server_message(&body)
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    ),
                },
                _ => {
                    let deployment = self.deployment.lock().await.clone();
                    http::classify(status, &headers, &body, what, deployment.as_deref())
                }
            };
            let e = self.redacted(e);
            tracing::warn!("{what}: {e}");
            return Err(e);
        }
        Ok((parse_answer(&body, what)?, body))
    }

    /// As `send`, for a route a backend may not offer: a 404 (or a 405,
    /// when another route's pattern took the path) is `None`.
    async fn send_if_offered<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<Option<T>, BackendError> {
        let (status, headers, body) = self.fetch(request, what).await?;
        if matches!(status.as_u16(), 404 | 405) {
            tracing::info!("the backend does not offer {what} ({status})");
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.failed(status, &headers, &body, what).await);
        }
        parse_answer(&body, what).map(Some)
    }

    /// What an answer other than 2xx means, logged, without the token.
    async fn failed(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &str,
        what: &str,
    ) -> BackendError {
        let deployment = self.deployment.lock().await.clone();
        let e = self.redacted(http::classify(
            status,
            headers,
            body,
            what,
            deployment.as_deref(),
        ));
        tracing::warn!("{what}: {e}");
        e
    }

    /// The answer's status, headers and body.
    async fn fetch(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), BackendError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.redacted(http::transport_error(&e, what, self.timeout)))?;
        let status = response.status();
        let headers = response.headers().clone();
        *self.sift_serve.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(headers.contains_key(crate::wire::headers::SIFT_SERVE));
        let body = crate::net::read_text(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                crate::net::BodyError::Transfer(e) => {
                    self.redacted(http::transport_error(&e, what, self.timeout))
                }
                crate::net::BodyError::TooLarge(limit) => BackendError::Unavailable {
                    message: format!(
                        "{what}: the backend's answer is over {} MB, more than any page \
                         of findings: not read",
                        limit >> 20
                    ),
                    retry_after: None,
                    outage: crate::backend::Outage::BadAnswer,
                },
            })?;
        Ok((status, headers, body))
    }

    /// A backend may quote the request back, token included: no message
    /// from it holds the token when it is shown, logged or stored.
    fn redacted(&self, e: BackendError) -> BackendError {
        match &self.token {
            Some(token) => e.redact(token.expose()),
            None => e,
        }
    }

    /// Whether the backend is `sift serve`, which checks a triage's
    /// preconditions; semgrep.dev and other Semgrep APIs do not. Asks (a
    /// ping) when no answer has come yet; a backend that does not answer
    /// is taken for one that does not check.
    async fn checks_preconditions(&self) -> bool {
        self.is_sift_serve().await
    }

    /// Whether the backend is `sift serve` (every answer of it says so);
    /// asks (a ping) when no answer has come yet.
    async fn is_sift_serve(&self) -> bool {
        let known = *self.sift_serve.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = known {
            return known;
        }
        let _ = self.ping().await;
        let known = *self.sift_serve.lock().unwrap_or_else(|e| e.into_inner());
        known.unwrap_or(false)
    }

    /// `GET /api/v1/ping`.
    pub async fn ping(&self) -> Result<(), BackendError> {
        let url = self.url("api/v1/ping")?;
        self.send::<serde_json::Value>(self.request(reqwest::Method::GET, url), "the ping")
            .await
            .map(|_| ())
    }

    /// `GET /api/v1/deployments`.
    pub async fn deployments(&self) -> Result<Vec<Deployment>, BackendError> {
        let url = self.url("api/v1/deployments")?;
        let (r, _): (ListDeploymentsResponse, _) = self
            .send(
                self.request(reqwest::Method::GET, url),
                "listing deployments",
            )
            .await?;
        Ok(r.deployments)
    }

    /// The deployment's slug: given, or the first the token reaches.
    pub async fn deployment(&self) -> Result<String, BackendError> {
        if let Some(slug) = self.deployment.lock().await.clone() {
            return Ok(slug);
        }
        let found = self.deployments().await?;
        let slug = found
            .into_iter()
            .map(|d| d.slug)
            .find(|s| !s.trim().is_empty())
            .ok_or_else(|| BackendError::Rejected {
                message: "the token reaches no deployment: check that it is an API token with \
                          the Web API scope, or name one with --deployment"
                    .into(),
            })?;
        tracing::info!("using deployment {slug}");
        *self.deployment.lock().await = Some(slug.clone());
        Ok(slug)
    }

    fn deployment_path(slug: &str, rest: &str) -> String {
        let slug: String = form_urlencoded::byte_serialize(slug.as_bytes()).collect();
        format!("api/v1/deployments/{slug}/{rest}")
    }

    /// `GET …/projects`, every page.
    pub async fn projects(&self) -> Result<Vec<Project>, BackendError> {
        let slug = self.deployment().await?;
        let mut out = Vec::new();
        for page in 0u32.. {
            let mut url = self.url(&Self::deployment_path(&slug, "projects"))?;
            url.query_pairs_mut()
                .append_pair("page", &page.to_string())
                .append_pair("page_size", "100");
            let (r, _): (ListProjectsResponse, _) = self
                .send(self.request(reqwest::Method::GET, url), "listing projects")
                .await?;
            let n = r.projects.len();
            out.extend(r.projects);
            if n < 100 || page >= 1_000 {
                break;
            }
        }
        Ok(out)
    }

    /// One page of `GET …/findings`.
    pub async fn findings_page(&self, query: &FindingsQuery) -> Result<FindingsPage, BackendError> {
        match self.findings_page_at(query, None).await? {
            Listed::Page { page, .. } => Ok(page),
            Listed::CursorUnknown => Ok(FindingsPage::default()),
        }
    }

    /// One page of `GET …/findings`, asking `sift serve` only for what
    /// changed since `since` (a cursor it gave) when given.
    async fn findings_page_at(
        &self,
        query: &FindingsQuery,
        since: Option<&str>,
    ) -> Result<Listed, BackendError> {
        let what = listing_what(query, since);
        Ok(match self.findings_body_at(query, since, &what).await? {
            ListedBody::CursorUnknown => Listed::CursorUnknown,
            ListedBody::Page { body, cursor } => Listed::Page {
                page: parse_answer(&body, &what)?,
                cursor,
                digest: since.is_none().then(|| page_digest(&body)),
            },
        })
    }

    /// `findings_page_at`, the page's body as it came; `what` names the
    /// listing in errors.
    async fn findings_body_at(
        &self,
        query: &FindingsQuery,
        since: Option<&str>,
        what: &str,
    ) -> Result<ListedBody, BackendError> {
        let slug = self.deployment().await?;
        let mut url = self.url(&Self::deployment_path(&slug, "findings"))?;
        {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query.to_pairs() {
                pairs.append_pair(k, &v);
            }
            if let Some(since) = since {
                pairs.append_pair(crate::wire::SINCE_CHANGE, since);
                pairs.append_pair(crate::wire::AS_STORED, "true");
                // From the first change, every finding comes whole.
                if since != crate::wire::FROM_FIRST_CHANGE {
                    pairs.append_pair(crate::wire::TRIAGE_APART, "true");
                }
            }
        }
        let (status, headers, body) = self
            .fetch(self.request(reqwest::Method::GET, url), what)
            .await?;
        if since.is_some() && status == reqwest::StatusCode::GONE {
            return Ok(ListedBody::CursorUnknown);
        }
        // An older `sift serve` does not know the first change's cursor.
        if since == Some(crate::wire::FROM_FIRST_CHANGE)
            && status == reqwest::StatusCode::BAD_REQUEST
        {
            return Ok(ListedBody::CursorUnknown);
        }
        if !status.is_success() {
            return Err(self.failed(status, &headers, &body, what).await);
        }
        Ok(ListedBody::Page {
            body,
            cursor: change_cursor(&headers),
        })
    }

    /// `POST …/triage` with a body as given.
    pub async fn bulk_triage(
        &self,
        body: &BulkTriageRequest,
        actor: Option<&str>,
        key: Option<&str>,
    ) -> Result<BulkTriageResponse, BackendError> {
        let slug = self.deployment().await?;
        let url = self.url(&Self::deployment_path(&slug, "triage"))?;
        // Named: who made this decision (it may predate this session).
        let mut request = self
            .request_by(
                reqwest::Method::POST,
                url,
                actor.or(self.reviewer.as_deref()),
            )
            .json(body);
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        self.send(request, "the triage").await.map(|(r, _)| r)
    }

    /// The deployment's numeric id, which the v2 routes take.
    pub async fn deployment_id(&self) -> Result<i64, BackendError> {
        if let Some(id) = *self.deployment_id.lock().await {
            return Ok(id);
        }
        let slug = self.deployment().await?;
        let found = self.deployments().await?;
        let id = found
            .iter()
            .find(|d| d.slug == slug)
            .or(found.first())
            .map(|d| d.id)
            .filter(|id| *id != 0)
            .ok_or_else(|| BackendError::Rejected {
                message: format!(
                    "the backend did not give the numeric id of the deployment '{slug}', \
                     which the memory routes need"
                ),
            })?;
        *self.deployment_id.lock().await = Some(id);
        Ok(id)
    }

    async fn memories_url(&self, rest: &str) -> Result<Url, BackendError> {
        let id = self.deployment_id().await?;
        self.url(&format!("api/ai/deployments/{id}/memories{rest}"))
    }

    /// Sends a v2 memory call.
    async fn memory_call<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        rest: &str,
        body: Option<serde_json::Value>,
        what: &str,
    ) -> Result<T, BackendError> {
        self.memory_call_once(method, rest, body, None, what).await
    }

    /// A v2 memory call with an Idempotency-Key: a backend that knows the
    /// header (`sift serve`) does it once however often it is sent.
    async fn memory_call_once<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        rest: &str,
        body: Option<serde_json::Value>,
        key: Option<&str>,
        what: &str,
    ) -> Result<T, BackendError> {
        let url = self.memories_url(rest).await?;
        let mut request = self.request(method, url);
        if let Some(key) = key {
            request = request.header(IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send_as(request, what, Some(MEMORY_404))
            .await
            .map(|(r, _)| r)
    }

    /// `POST …/memories/list`: the memories, optionally of some
    /// repositories (and, unless `exact_scope`, the broader ones that apply
    /// to them).
    pub async fn list_memories(
        &self,
        filter: Option<MemoryFilter>,
    ) -> Result<Vec<v2::Memory>, BackendError> {
        let body = serde_json::to_value(ListMemoriesRequest { filter }).unwrap_or_default();
        let r: MemoriesResponse = self
            .memory_call(
                reqwest::Method::POST,
                "/list",
                Some(body),
                "listing memories",
            )
            .await?;
        Ok(r.memories.into_iter().filter(|m| !m.is_deleted()).collect())
    }

    /// `GET …/memories/suggested`; none when the backend does not offer
    /// the route (a deployment may not).
    pub async fn suggested_memories(&self) -> Result<Vec<v2::Memory>, BackendError> {
        let url = self.memories_url("/suggested").await?;
        let r: Option<MemoriesResponse> = self
            .send_if_offered(
                self.request(reqwest::Method::GET, url),
                "listing suggested memories",
            )
            .await?;
        Ok(r.map(|r| r.memories).unwrap_or_default())
    }

    /// `POST …/memories`: the memory as the backend stored it (with its id).
    /// `key` (sift's own id for it) makes a retry create nothing new where
    /// the backend honours it; the body never carries it, as the backend
    /// gives ids.
    pub async fn create_memory(
        &self,
        memory: &v2::Memory,
        key: Option<&str>,
    ) -> Result<v2::Memory, BackendError> {
        let mut memory = memory.clone();
        memory.id = None;
        let body = serde_json::json!({ "memory": memory });
        let r: MemoryEnvelope = self
            .memory_call_once(
                reqwest::Method::POST,
                "",
                Some(body),
                key,
                "creating a memory",
            )
            .await?;
        r.memory.ok_or_else(|| {
            BackendError::outage(
                Outage::BadAnswer,
                "the backend's answer to creating a memory holds no memory",
            )
        })
    }

    /// `PUT …/memories/{id}`: replaces the memory.
    pub async fn update_memory(
        &self,
        id: &str,
        memory: &v2::Memory,
    ) -> Result<v2::Memory, BackendError> {
        let body = serde_json::json!({ "memory": memory });
        let rest = format!("/{}", url_segment(id));
        let r: MemoryEnvelope = self
            .memory_call(reqwest::Method::PUT, &rest, Some(body), "updating a memory")
            .await?;
        r.memory.ok_or_else(|| {
            BackendError::outage(
                Outage::BadAnswer,
                "the backend's answer to updating a memory holds no memory",
            )
        })
    }

    /// `DELETE …/memories/{id}`.
    pub async fn delete_memory(&self, id: &str) -> Result<(), BackendError> {
        let rest = format!("/{}", url_segment(id));
        let _: serde_json::Value = self
            .memory_call(reqwest::Method::DELETE, &rest, None, "deleting a memory")
            .await?;
        Ok(())
    }

    /// A domain memory in the v2 shape, its project named by the backend's
    /// repository id. The v2 API scopes a memory to one project (or all)
    /// and one rule (or a class, or all): a wider scope is refused.
    pub async fn memory_for(&self, m: &domain::Memory) -> Result<v2::Memory, BackendError> {
        let repository_id = self.repository_id(m).await?;
        v2::Memory::from_domain(m, repository_id)
            .map_err(|message| BackendError::Rejected { message })
    }

    /// A domain memory in the v2 shape, whatever its scope: a wider one
    /// travels in the `siftScope` extension (which `sift serve` reads).
    pub async fn memory_wire(&self, m: &domain::Memory) -> Result<v2::Memory, BackendError> {
        let repository_id = self.repository_id(m).await?;
        Ok(v2::Memory::from_domain_wide(m, repository_id))
    }

    /// The backend's id of the memory's (first) project.
    async fn repository_id(&self, m: &domain::Memory) -> Result<Option<String>, BackendError> {
        Ok(match m.scope.projects.first() {
            None => None,
            Some(name) => self
                .projects()
                .await?
                .into_iter()
                .find(|p| p.name == *name)
                .map(|p| p.id.to_string()),
        })
    }

    /// Runs work on the cache store, off the async threads.
    async fn with_cache<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T, BackendError> {
        self.cache
            .run(work)
            .await
            .and_then(|answer| answer)
            .map_err(|e| {
                BackendError::outage(Outage::LocalStore, format!("the local cache failed: {e:#}"))
            })
    }
}

/// `sift serve`'s change cursor on an answer, when it is a sensible one.
fn change_cursor(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(crate::wire::headers::CHANGE_CURSOR)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()))
}

/// What a 404 from a memory route means.
const MEMORY_404: &str = "the backend may not offer the experimental v2 memory routes, the \
     memory may not exist, or the token lacks the Web API scope";

fn url_segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A page's body as it came, for telling whether it changed (the server
/// answers the same findings with the same bytes).
fn page_digest(body: &str) -> String {
    Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hands a pull's pages to the cache's writer (`Api::importing`).
#[derive(Clone)]
struct PageSender(tokio::sync::mpsc::Sender<PulledPage>);

/// How many messages (pages, and the marks after them) wait for the
/// cache's writer: a page of 3,000 findings holds a few megabytes.
const PAGES_AHEAD: usize = 4;

impl PageSender {
    /// Waits while the writer is busy with the page before; fails when the
    /// writer stopped (its own error says why).
    async fn send(&self, scans: Vec<ScanResults>) -> Result<(), BackendError> {
        self.put(findings_page(scans)?).await
    }

    /// The change cursor past the pages sent so far: kept as soon as the
    /// writer commits them.
    async fn mark(&self, cursor: &str) -> Result<(), BackendError> {
        self.put(PulledPage::Mark(cursor.to_string())).await
    }

    async fn put(&self, page: PulledPage) -> Result<(), BackendError> {
        self.0.send(page).await.map_err(|_| {
            BackendError::outage(
                Outage::LocalStore,
                "the local cache stopped storing the pull",
            )
        })
    }
}

/// A page of findings as the cache's writer takes it.
fn findings_page(scans: Vec<ScanResults>) -> Result<PulledPage, BackendError> {
    PulledPage::findings(scans).map_err(|e| {
        BackendError::outage(
            Outage::LocalStore,
            format!("cannot prepare the pulled findings for the local cache: {e:#}"),
        )
    })
}

/// A page of changes read and worked out for the cache's writer: how many
/// findings and triage records it holds, and what the writer takes.
fn prepared_changes(
    body: &str,
    origin: &str,
    what: &str,
) -> Result<(usize, Vec<PulledPage>), BackendError> {
    let page: FindingsPage = parse_answer(body, what)?;
    let n = page.findings.len() + page.triaged.len() + page.stored.len();
    let mut prepared = Vec::with_capacity(3);
    if !page.stored.is_empty() {
        prepared.push(
            PulledPage::stored(page.stored, page.rules, origin).map_err(|e| {
                BackendError::outage(
                    Outage::BadAnswer,
                    format!("the backend sent a bad finding: {e:#}"),
                )
            })?,
        );
    }
    if !page.findings.is_empty() {
        prepared.push(findings_page(group(page.findings, origin))?);
    }
    if !page.triaged.is_empty() {
        prepared.push(PulledPage::triaged(page.triaged).map_err(|e| {
            BackendError::outage(
                Outage::BadAnswer,
                format!("the backend sent a bad triage: {e:#}"),
            )
        })?);
    }
    Ok((n, prepared))
}

/// What a full pull fetched.
#[derive(Default)]
struct FullPull {
    /// One digest per page.
    digests: Vec<String>,
    /// Findings listed.
    count: usize,
    /// Whether any page went to the cache.
    imported: bool,
    /// `sift serve`'s change cursor as the pull began.
    cursor: Option<String>,
}

/// A page's findings grouped by project, as the store imports them
/// (`store::by_project`).
fn group(findings: Vec<crate::wire::v1::Finding>, origin: &str) -> Vec<ScanResults> {
    let now = OffsetDateTime::now_utc();
    let findings = findings.into_iter().map(|wire| (wire.into_domain(now), ()));
    crate::store::by_project(findings, origin)
        .into_iter()
        .map(|(scan, _)| scan)
        .collect()
}

impl Backend for Api {
    fn describe(&self) -> String {
        let host = self.base.as_str().trim_end_matches('/');
        match &self.given_deployment {
            Some(d) => format!("api {host} ({d})"),
            None => format!("api {host}"),
        }
    }

    async fn triage(&self, request: TriageRequest) -> Result<TriageResponse, BackendError> {
        let mut body = BulkTriageRequest::for_change("sast", &request.issue_ids, &request.change);
        // Semgrep does not check preconditions (nor promise to accept the
        // field): they go to `sift serve` only, and elsewhere the decision
        // wins as it always has.
        if !request.preconditions.is_empty() && self.checks_preconditions().await {
            body = body.with_preconditions(&request.preconditions);
        }
        let answer = self
            .bulk_triage(&body, Some(&request.actor), request.key.as_deref())
            .await?;
        let conflicts: Vec<domain::TriageConflict> = answer
            .sift_conflicts
            .into_iter()
            .filter_map(crate::wire::v1::Conflict::into_domain)
            .collect();
        // What the backend says it triaged (unknown ids are not in it). When
        // it lists them all, a new status that reached none of a finding's
        // copies was not applied (a newer scan fixed the finding, or it is
        // gone): say so rather than count it as sent.
        let triaged = answer.triaged_issues;
        let listed = answer.num_triaged == Some(triaged.len() as i64);
        let not_applied = if listed && request.change.state.is_some() {
            request
                .issue_ids
                .iter()
                .filter(|id| !triaged.contains(id))
                .filter(|id| !conflicts.iter().any(|c| c.finding_id == **id))
                .map(|&id| {
                    (
                        id,
                        "the backend did not apply it (a newer scan may have fixed the \
                         finding, or it is gone)"
                            .to_string(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        // The cache shows the decision at once, as the backend applied it.
        let ids = triaged.clone();
        let TriageRequest { change, actor, .. } = request;
        let applied: TriageChange = change;
        if let Err(e) = self
            .with_cache(move |store| {
                store
                    .apply_triage(&ids, &applied, &actor, OffsetDateTime::now_utc(), None)
                    .map(|_| ())
            })
            .await
        {
            // The backend has it; the next pull brings it to the cache.
            tracing::warn!("the triage was sent, but the cache was not updated: {e}");
        }
        Ok(TriageResponse {
            triaged,
            not_applied,
            conflicts,
        })
    }

    async fn memory(
        &self,
        change: MemoryChange,
        _actor: String,
    ) -> Result<Option<Memory>, BackendError> {
        let created = matches!(change, MemoryChange::Create(_));
        let (sent, stored) = match change {
            MemoryChange::Delete(id) => {
                self.delete_memory(&id).await?;
                return Ok(None);
            }
            MemoryChange::Create(m) => {
                // A create sent before whose answer was lost may have reached
                // a backend that ignores the Idempotency-Key: find it rather
                // than make a second.
                if let Some(found) = self.created_before(&m).await? {
                    return Ok(Some(found));
                }
                let wire = self.memory_wire(&m).await?;
                let stored = self.create_memory(&wire, Some(&m.id)).await;
                (m, stored)
            }
            MemoryChange::Update(m) => {
                let wire = self.memory_wire(&m).await?;
                let stored = self.update_memory(&m.id, &wire).await;
                (m, stored)
            }
        };
        let stored = stored.map_err(|e| match e {
            BackendError::Rejected { message } if v2::Memory::from_domain(&sent, None).is_err() => {
                BackendError::Rejected {
                    message: format!(
                        "{message} (the Semgrep API scopes a memory to one project or all, and \
                         one rule, a class or all)"
                    ),
                }
            }
            e => e,
        })?;
        // What the backend kept, under its id; what it left out, as sent.
        let mut kept = stored.into_domain(OffsetDateTime::UNIX_EPOCH);
        if kept.id.is_empty() {
            kept.id = sent.id.clone();
        }
        if kept.content.is_empty() {
            kept.content = sent.content.clone();
        }
        if kept.created_at == OffsetDateTime::UNIX_EPOCH {
            kept.created_at = sent.created_at;
        }
        if kept.created_by.is_empty() {
            kept.created_by = sent.created_by.clone();
        }
        kept.updated_at = sent.updated_at;
        if kept.scope != sent.scope {
            // The Semgrep API keeps one project and one rule per memory: a
            // memory it narrowed would cover other findings than the ones
            // the reviewer saw. Take a new one back; refuse either way.
            if !kept.id.is_empty() && created {
                let _ = self.delete_memory(&kept.id).await;
            }
            return Err(BackendError::Rejected {
                message: format!(
                    "the backend keeps a narrower scope ({}) than the memory's ({}): the Semgrep \
                     API scopes a memory to one project or all, and one rule, a class or all",
                    kept.scope.summary(),
                    sent.scope.summary()
                ),
            });
        }
        Ok(Some(kept))
    }

    async fn pull(&self) -> Result<bool, BackendError> {
        let findings_changed = self.pull_findings().await?;
        // Memories are experimental in the API: without them the findings
        // still come.
        let memories_changed = match self.all_memories().await {
            Ok(memories) => {
                self.with_cache(move |store| store.replace_memories(&memories))
                    .await?
            }
            Err(e) => {
                tracing::info!("memories were not pulled: {e}");
                false
            }
        };
        Ok(findings_changed || memories_changed)
    }

    /// `sift serve` answers the changes since the cursor it gave.
    fn pulls_cheaply(&self) -> bool {
        let serve = *self.sift_serve.lock().unwrap_or_else(|e| e.into_inner());
        serve == Some(true)
            && !self.dedup
            && self
                .change_cursor
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some()
    }
}

impl Api {
    /// A memory the backend already has with this one's text, scope and
    /// author.
    async fn created_before(&self, m: &Memory) -> Result<Option<Memory>, BackendError> {
        let same = |d: &Memory| {
            d.content == m.content
                && d.scope == m.scope
                && (d.created_by.is_empty() || d.created_by == m.created_by)
        };
        Ok(self.all_memories().await?.into_iter().find(same))
    }

    /// Every memory, live and suggested, as the domain has them.
    async fn all_memories(&self) -> Result<Vec<Memory>, BackendError> {
        let mut wire = self.list_memories(None).await?;
        for m in self.suggested_memories().await? {
            if !m.is_deleted() && !wire.iter().any(|w| w.id == m.id) {
                wire.push(m);
            }
        }
        // A memory without a creation time keeps the same (epoch) one at
        // every pull, so an unchanged list compares equal.
        Ok(wire
            .into_iter()
            .map(|m| m.into_domain(OffsetDateTime::UNIX_EPOCH))
            .collect())
    }

    /// Brings the cache up to date with the backend's findings: only what
    /// changed since the last pull when `sift serve` gave a change cursor,
    /// else every page. True when anything changed.
    async fn pull_findings(&self) -> Result<bool, BackendError> {
        let cursor = self
            .change_cursor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // A cursor lists every ref's copy: a de-duplicated cache pulls all.
        if let Some(cursor) = cursor.filter(|_| !self.dedup) {
            match self.pull_changes(cursor).await? {
                Some(changed) => return Ok(changed),
                None => {
                    tracing::info!("the backend does not know the change cursor: pulling all");
                    self.keep_cursor(None);
                }
            }
        }
        // `sift serve` lists every finding in the order they changed: the
        // cache appends them, and a pull that stops resumes where it was.
        if !self.dedup && self.is_sift_serve().await {
            if let Some(changed) = self.pull_copy().await? {
                return Ok(changed);
            }
            let from_first = crate::wire::FROM_FIRST_CHANGE.to_string();
            if let Some(changed) = self.pull_changes(from_first).await? {
                return Ok(changed);
            }
            tracing::info!("the backend does not list findings by change: pulling every page");
        }
        self.pull_everything().await
    }

    /// A first pull into a cache that holds no finding, as a copy of `sift
    /// serve`'s findings (`Store::import_copy`): about three quarters of
    /// the time pages take (BENCHMARKS, sixteenth pass). None when the
    /// cache holds findings, the server offers no copy, or the copy failed
    /// to come or was refused: the pull then takes pages, and the log says
    /// why.
    async fn pull_copy(&self) -> Result<Option<bool>, BackendError> {
        if self.with_cache(|store| store.count_findings()).await? > 0 {
            return Ok(None);
        }
        let Some((file, cursor)) = self.fetch_copy().await? else {
            return Ok(None);
        };
        let path = file.path().to_path_buf();
        let origin = self.base.as_str().trim_end_matches('/').to_string();
        let imported = self
            .with_cache(move |store| Ok(store.import_copy(&path, &origin)))
            .await?;
        drop(file);
        match imported {
            Ok(Some(kept)) => {
                tracing::info!(
                    "pulled {} findings as a copy, {} more in the Semgrep shape",
                    kept.copied,
                    kept.overlaid
                );
                self.forget_digests();
                self.keep_cursor(Some(cursor));
                Ok(Some(kept.copied + kept.overlaid > 0))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!("{COPY_WHAT} was refused: {e:#}; pulling pages");
                Ok(None)
            }
        }
    }

    /// `GET …/findings/copy` into a file in the cache directory, and the
    /// change cursor past it; none when it did not come whole (the log says
    /// why).
    async fn fetch_copy(&self) -> Result<Option<(tempfile::NamedTempFile, String)>, BackendError> {
        let what = COPY_WHAT;
        let slug = self.deployment().await?;
        let url = self.url(&Self::deployment_path(&slug, "findings/copy"))?;
        let request = self
            .request(reqwest::Method::GET, url)
            .header(reqwest::header::ACCEPT, crate::wire::COPY_TYPE)
            .timeout(COPY_TIMEOUT);
        // Its answer begins within the request's time limit, and each
        // chunk of it comes within that limit of the last.
        let mut response = match self.in_time(request.send(), what).await {
            Ok(response) => response,
            Err(why) => {
                tracing::warn!("{what}: {why}: pulling pages");
                return Ok(None);
            }
        };
        let (status, headers) = (response.status(), response.headers().clone());
        if matches!(status.as_u16(), 401 | 403) {
            let body = crate::net::read_text(response, MAX_ANSWER_BYTES)
                .await
                .unwrap_or_default();
            return Err(self.failed(status, &headers, &body, what).await);
        }
        let is_copy = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == crate::wire::COPY_TYPE);
        let (true, true, Some(cursor)) = (status.is_success(), is_copy, change_cursor(&headers))
        else {
            tracing::info!("the backend offers no copy of its findings ({status}): pulling pages");
            return Ok(None);
        };
        // One a killed process left; one in flight is minutes old at most.
        crate::store::remove_stale_copies(&self.cache_dir, Duration::from_secs(60 * 60));
        let file = tempfile::Builder::new()
            .prefix(crate::store::COPY_FILE_PREFIX)
            .tempfile_in(&self.cache_dir)
            .map_err(|e| {
                BackendError::outage(
                    Outage::LocalStore,
                    format!("cannot keep {what} in {}: {e}", self.cache_dir.display()),
                )
            })?;
        let mut written = 0u64;
        loop {
            let chunk = match self.in_time(response.chunk(), what).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(why) => {
                    tracing::warn!("{what} stopped coming: {why}: pulling pages");
                    return Ok(None);
                }
            };
            written += chunk.len() as u64;
            if written > MAX_COPY_BYTES {
                tracing::warn!("{what} is over {} GB: pulling pages", MAX_COPY_BYTES >> 30);
                return Ok(None);
            }
            if let Err(e) = std::io::Write::write_all(&mut file.as_file(), &chunk) {
                tracing::warn!("cannot keep {what} ({e}): pulling pages");
                return Ok(None);
            }
        }
        Ok(Some((file, cursor)))
    }

    /// `step` of a request, within the request's time limit; what went
    /// wrong, in words for the log, when it failed or did not come.
    async fn in_time<T>(
        &self,
        step: impl std::future::Future<Output = reqwest::Result<T>>,
        what: &str,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(self
                .redacted(http::transport_error(&e, what, self.timeout))
                .to_string()),
            Err(_) => Err(format!("nothing came within {:?}", self.timeout)),
        }
    }

    /// Pulls the findings changed since `cursor` (every finding from
    /// `FROM_FIRST_CHANGE`), page by page into the cache, whose writer
    /// keeps the cursor past what each commit stored; none when the
    /// backend does not answer it (it no longer knows the cursor, or it is
    /// not `sift serve`).
    async fn pull_changes(&self, cursor: String) -> Result<Option<bool>, BackendError> {
        let Some(((cursor, count), kept)) = self
            .importing(|pages| self.fetch_changes(cursor, pages))
            .await?
        else {
            return Ok(None);
        };
        if kept.unheld > 0 {
            // Only a cache that lost findings gets here: they come whole
            // at the next pull, from the first change.
            tracing::warn!(
                "the backend sent the triage of {} findings the cache does not hold: \
                 pulling every finding next time",
                kept.unheld
            );
            self.forget_digests();
            self.keep_cursor(None);
            return Ok(Some(true));
        }
        let changed = count > 0;
        if changed {
            tracing::info!("pulled {count} changed findings");
            // The cache no longer holds what the full pull's digests say.
            self.forget_digests();
        }
        self.keep_cursor(Some(cursor));
        Ok(Some(changed))
    }

    /// Fetches the pages of changes since `cursor` and hands them to the
    /// cache's writer: the cursor past them and how many findings came;
    /// none when the backend does not answer the cursor.
    async fn fetch_changes(
        &self,
        mut cursor: String,
        pages: PageSender,
    ) -> Result<Option<(String, usize)>, BackendError> {
        let origin = self.base.as_str().trim_end_matches('/').to_string();
        let query = FindingsQuery {
            page_size: self.page_size,
            ..FindingsQuery::default()
        };
        let what = listing_what(&query, Some(&cursor));
        let mut count = 0usize;
        // The next page, asked for while this one is read.
        let mut ahead: Option<Result<ListedBody, BackendError>> = None;
        loop {
            let listed = match ahead.take() {
                Some(listed) => listed?,
                None => self.findings_body_at(&query, Some(&cursor), &what).await?,
            };
            let (body, next) = match listed {
                ListedBody::Page {
                    body,
                    cursor: Some(next),
                } => (body, next),
                ListedBody::Page { cursor: None, body } => {
                    // An answer that is not a listing fails the pull; a
                    // listing without a cursor is pulled page by page.
                    parse_answer::<FindingsPage>(&body, &what)?;
                    return Ok(None);
                }
                ListedBody::CursorUnknown => return Ok(None),
            };
            // `sift serve` renders the next page while this one is read and
            // worked out here: on two cores, a first pull takes the longer
            // of the two rather than both. A cursor that ends the listing
            // has no page after it.
            let follows = next != cursor
                && !crate::service::ChangeCursor::parse(&next).is_some_and(|c| c.ends_listing());
            let (origin, listing) = (origin.clone(), what.clone());
            let (prepared, next_page) = tokio::join!(
                tokio::task::spawn_blocking(move || prepared_changes(&body, &origin, &listing)),
                async {
                    match follows {
                        true => Some(self.findings_body_at(&query, Some(&next), &what).await),
                        false => None,
                    }
                }
            );
            ahead = next_page;
            let (n, prepared) = prepared.map_err(|e| {
                BackendError::outage(
                    Outage::LocalStore,
                    format!("cannot prepare the pulled findings for the local cache: {e}"),
                )
            })??;
            count += n;
            for page in prepared {
                pages.put(page).await?;
            }
            if n > 0 {
                pages.mark(&next).await?;
            }
            let moved = next != cursor;
            cursor = next;
            // A short page is the last; so is one that did not move the
            // cursor (a server that never ends).
            if n < query.page_size as usize || !moved || count >= 1_000_000 {
                return Ok(Some((cursor, count)));
            }
        }
    }

    /// Pulls every finding into the cache, page by page into one
    /// transaction, so memory holds a few pages at a time; a page the same
    /// as at the last pull (by digest) is not imported again. True when
    /// anything changed.
    async fn pull_everything(&self) -> Result<bool, BackendError> {
        let Some((pulled, _)) = self.importing(|pages| self.fetch_everything(pages)).await? else {
            // Only a backend that stops answering mid-pull gets here.
            return Err(BackendError::outage(
                Outage::BadAnswer,
                "the backend stopped answering the findings listing",
            ));
        };
        let before = self
            .last_pull
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len();
        let changed = pulled.imported || pulled.digests.len() != before;
        if changed {
            tracing::info!("pulled {} findings", pulled.count);
            let path = self.cache_dir.join(PULL_DIGEST_FILE);
            if let Err(e) = std::fs::write(&path, pulled.digests.join("\n")) {
                tracing::warn!("cannot write {}: {e}", path.display());
            }
        }
        *self.last_pull.lock().unwrap_or_else(|e| e.into_inner()) = pulled.digests;
        self.keep_cursor(pulled.cursor.filter(|_| !self.dedup));
        Ok(changed)
    }

    /// Fetches every page and hands those that changed since the last
    /// pull to the cache's writer.
    async fn fetch_everything(&self, pages: PageSender) -> Result<Option<FullPull>, BackendError> {
        let before = self
            .last_pull
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let origin = self.base.as_str().trim_end_matches('/').to_string();
        let mut query = FindingsQuery {
            dedup: self.dedup,
            page_size: self.page_size,
            ..FindingsQuery::default()
        };
        let mut pulled = FullPull::default();
        loop {
            let (page, digest) = match self.findings_page_at(&query, None).await? {
                Listed::Page {
                    page,
                    cursor,
                    digest,
                } => {
                    // `sift serve`'s cursor as the pull began: what changes
                    // while it pages comes at the next pull.
                    if query.page == 0 {
                        pulled.cursor = cursor;
                    }
                    (page, digest.unwrap_or_default())
                }
                Listed::CursorUnknown => (FindingsPage::default(), page_digest("")),
            };
            let n = page.findings.len();
            pulled.count += n;
            if n > 0 && before.get(pulled.digests.len()) != Some(&digest) {
                pages.send(group(page.findings, &origin)).await?;
                pulled.imported = true;
            }
            pulled.digests.push(digest);
            // A short or empty page is the last; a server that never ends
            // is stopped at a million findings.
            if n < query.page_size as usize || pulled.count >= 1_000_000 {
                return Ok(Some(pulled));
            }
            query.page += 1;
        }
    }

    /// Runs `fetch` while the cache's writer imports the pages it sends
    /// (`Store::import_pulled`): the next page is fetched while the last is
    /// stored. The last transaction is kept only when `fetch` answers
    /// something; when it fails, answers none, or the pull is cancelled,
    /// the cache keeps what earlier commits stored, and the change cursor
    /// their last mark (`PageSender::mark`). `fetch`'s answer, and what
    /// the cache kept.
    async fn importing<T, F>(
        &self,
        fetch: impl FnOnce(PageSender) -> F,
    ) -> Result<Option<(T, PullKept)>, BackendError>
    where
        F: std::future::Future<Output = Result<Option<T>, BackendError>>,
    {
        // A few pages (and their marks) wait while the writer stores
        // another: the backend's pauses (a page read from its disk) are
        // taken up by them, not by the writer, whose pace is the pull's.
        let (tx, mut rx) = tokio::sync::mpsc::channel(PAGES_AHEAD);
        let pages = PageSender(tx);
        let fetched = fetch(pages.clone());
        let fetching = async move {
            let fetched = fetched.await;
            if let Ok(Some(_)) = &fetched {
                // The writer keeps the pages only when it hears the end.
                let _ = pages.0.send(PulledPage::End).await;
            }
            fetched
        };
        let (dir, cursor) = (self.cache_dir.clone(), self.change_cursor.clone());
        let writing = self.with_cache(move |store| {
            store.import_pulled(std::iter::from_fn(move || rx.blocking_recv()), |mark| {
                keep_cursor_in(&dir, &cursor, Some(mark.to_string()))
            })
        });
        let (fetched, written) = tokio::join!(fetching, writing);
        // A failed writer stops the fetching: its error says why.
        let written = written?;
        let fetched = fetched?;
        match (fetched, written) {
            (Some(answer), Some(kept)) => Ok(Some((answer, kept))),
            (None, _) => Ok(None),
            (Some(_), None) => Err(BackendError::outage(
                Outage::LocalStore,
                "the local cache stopped storing the pull",
            )),
        }
    }

    /// Remembers the change cursor for the next pull (in this process and
    /// in the cache directory), or forgets it.
    fn keep_cursor(&self, cursor: Option<String>) {
        keep_cursor_in(&self.cache_dir, &self.change_cursor, cursor);
    }

    /// Forgets the full pull's page digests, so the next full pull imports
    /// every page.
    fn forget_digests(&self) {
        let path = self.cache_dir.join(PULL_DIGEST_FILE);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", path.display());
        }
        self.last_pull
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Remembers the change cursor for the next pull in `cache_dir` and in
/// `kept`, or forgets it.
fn keep_cursor_in(cache_dir: &Path, kept: &Mutex<Option<String>>, cursor: Option<String>) {
    let path = cache_dir.join(CHANGE_CURSOR_FILE);
    let written = match &cursor {
        Some(c) => std::fs::write(&path, c),
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(e) = written {
        tracing::warn!("cannot keep the change cursor in {}: {e}", path.display());
    }
    *kept.lock().unwrap_or_else(|e| e.into_inner()) = cursor;
}

/// Opens the cache directory for an API backend, creating it (0700: the
/// findings are the organisation's).
pub fn prepare_cache_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_grouped_by_project_and_each_finding_keeps_its_ref() {
        let page: crate::wire::v1::FindingsPage = serde_json::from_str(
            r#"{"findings": [
              {"id": 1, "ref": "main", "repository": {"name": "acme/web"}},
              {"id": 2, "ref": "refs/pull/7/merge", "repository": {"name": "acme/web"}},
              {"id": 3, "ref": "main", "repository": {"name": "acme/api"}},
              {"id": 4, "ref": "dev", "repository": {"name": "acme/web"}}
            ]}"#,
        )
        .unwrap();
        let scans = group(page.findings, "http://127.0.0.1:8321");
        type Group<'a> = (&'a str, &'a str, Vec<(i64, &'a str, &'a str)>);
        let groups: Vec<Group> = scans
            .iter()
            .map(|s| {
                let findings = s.findings.iter();
                let findings = findings.map(|f| (f.id, f.project.as_str(), f.git_ref.as_str()));
                (s.project.as_str(), s.git_ref.as_str(), findings.collect())
            })
            .collect();
        assert_eq!(
            groups,
            [
                (
                    "acme/web",
                    "main",
                    vec![
                        (1, "acme/web", "main"),
                        (2, "acme/web", "refs/pull/7/merge"),
                        (4, "acme/web", "dev")
                    ]
                ),
                ("acme/api", "main", vec![(3, "acme/api", "main")]),
            ]
        );
    }

    #[test]
    fn semgrep_dev_and_its_tenants_are_semgrep_dev_and_sift_serve_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let at = |url: &str| {
            Api::new(url, None, None, dir.path())
                .unwrap()
                .is_semgrep_dev()
        };
        assert!(at("https://semgrep.dev"));
        assert!(at("https://acme.semgrep.dev/api/v1"));
        assert!(!at("http://127.0.0.1:8321"));
        assert!(!at("https://notsemgrep.dev"));
    }
}
