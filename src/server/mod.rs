//! `sift serve`: the embedded backend over HTTP, with the Semgrep API's
//! routes and shapes (ARCHITECTURE §6), so that every sift, and
//! any other Semgrep API client, can share one backlog.
//!
//! - `GET /api/v1/ping`
//! - `GET /api/v1/deployments`: one deployment (slug `local` by default)
//! - `GET /api/v1/deployments/{slug}/projects`, and `…/projects/{name}`
//! - `GET /api/v1/deployments/{slug}/findings`: filters, pages from 0,
//!   `page_size` 100–3,000, ordered by `relevant_since` then `id`,
//!   descending; `[]` past the end
//! - `GET /api/v1/deployments/{slug}/findings/copy`: every finding as a
//!   copy of the store's tables, for a sift's first pull (see `copy`)
//! - `POST /api/v1/deployments/{slug}/triage`: v1 bulk triage, validated
//!   as the spec says
//! - the v2 memory routes under `/api/ai/deployments/{id}/memories`
//!   (see `memories`)
//!
//! Errors are `{"error": "..."}` with 400 (bad request), 401 (no or a wrong
//! bearer token), 404 (unknown deployment or route). With a token file,
//! every route but ping needs `Authorization: Bearer TOKEN`, and the
//! token's reviewer is who decided; without one (loopback only) the
//! `X-Sift-Reviewer` header names them, else the server's reviewer does.

pub mod auth;
mod copy;
#[cfg(feature = "faults")]
pub mod faults;
mod guard;
mod listen;

pub use listen::Limits;
mod memories;

use crate::service::{self, ServiceError, SharedStore};
use crate::store::Store;
use crate::wire::v1::{
    self, BulkTriageRequest, BulkTriageResponse, Deployment, EndpointReference, ErrorBody,
    FindingsQuery, ListDeploymentsResponse, ListProjectsResponse,
};
use anyhow::{Result, bail};
use auth::Tokens;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The one deployment the server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentInfo {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

impl Default for DeploymentInfo {
    fn default() -> Self {
        DeploymentInfo {
            id: 1,
            slug: "local".into(),
            name: "sift".into(),
        }
    }
}

pub struct ServerConfig {
    /// The embedded backend's store.
    pub data_dir: PathBuf,
    /// When set, every request but ping needs one of these bearer tokens.
    pub tokens: Option<Tokens>,
    /// Who decided, when there are no tokens and the client did not say.
    pub reviewer: String,
    pub deployment: DeploymentInfo,
    /// Host names answered besides localhost and IP addresses
    /// (`--allow-host`).
    pub allowed_hosts: Vec<String>,
    /// Time limits for slow clients and for shutting down.
    pub limits: Limits,
    /// For tests: answers to give instead of the real ones.
    #[cfg(feature = "faults")]
    pub faults: Option<Arc<faults::Faults>>,
}

impl ServerConfig {
    pub fn new(data_dir: PathBuf, reviewer: String) -> ServerConfig {
        ServerConfig {
            data_dir,
            tokens: None,
            reviewer,
            deployment: DeploymentInfo::default(),
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            #[cfg(feature = "faults")]
            faults: None,
        }
    }
}

/// The largest request body accepted; a larger one gets 413.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// Refuses to listen beyond loopback without tokens.
pub fn check_listen(addr: SocketAddr, has_tokens: bool) -> Result<()> {
    if !addr.ip().is_loopback() && !has_tokens {
        bail!(
            "{addr} is not a loopback address: serving beyond this machine needs \
             --token-file FILE (one `TOKEN NAME` line per reviewer), and every request \
             then carries `Authorization: Bearer TOKEN`"
        );
    }
    Ok(())
}

struct App {
    store: SharedStore,
    tokens: Option<Tokens>,
    reviewer: String,
    deployment: DeploymentInfo,
    allowed_hosts: Vec<String>,
    request_timeout: std::time::Duration,
    #[cfg(feature = "faults")]
    faults: Option<Arc<faults::Faults>>,
    local_addr: Option<SocketAddr>,
    /// The last selection (its query without the page, the findings
    /// version it was made at, the ids): the next pages of a pull are
    /// sliced from it instead of selecting again.
    selection: Arc<Mutex<Option<Selection>>>,
}

/// A query (without its page), the findings version, the ids selected.
type Selection = (String, i64, Arc<Vec<i64>>);

/// Who the request is from (set by the auth layer).
#[derive(Clone)]
struct Actor(String);

/// An answer other than 200: `{"error": "..."}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn internal(e: anyhow::Error) -> ApiError {
        tracing::error!("request failed: {e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server's store failed; see its log",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Invalid(message) => ApiError::bad_request(message),
            ServiceError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, message),
            ServiceError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
                code: None,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The routes over the store in `config.data_dir`.
pub fn router(config: ServerConfig) -> Result<Router> {
    router_at(config, None)
}

fn router_at(config: ServerConfig, local_addr: Option<SocketAddr>) -> Result<Router> {
    // Copies a killed server left half-written (`copy`).
    crate::store::remove_stale_copies(&config.data_dir, std::time::Duration::ZERO);
    let app = Arc::new(App {
        store: SharedStore::open(&config.data_dir)?,
        tokens: config.tokens,
        reviewer: config.reviewer,
        deployment: config.deployment,
        allowed_hosts: config.allowed_hosts,
        request_timeout: config.limits.request_timeout,
        #[cfg(feature = "faults")]
        faults: config.faults,
        local_addr,
        selection: Arc::new(Mutex::new(None)),
    });
    let guarded = Router::new()
        .route("/api/v1/deployments", get(list_deployments))
        .route("/api/v1/deployments/{slug}/projects", get(list_projects))
        .route(
            "/api/v1/deployments/{slug}/projects/{*name}",
            get(get_project),
        )
        .route("/api/v1/deployments/{slug}/findings", get(list_findings))
        .route(
            "/api/v1/deployments/{slug}/findings/copy",
            get(copy::findings_copy),
        )
        .route("/api/v1/deployments/{slug}/triage", post(bulk_triage))
        .merge(memories::routes());
    #[cfg(feature = "faults")]
    let guarded = guarded.route_layer(middleware::from_fn_with_state(app.clone(), faults::inject));
    let guarded = guarded.route_layer(middleware::from_fn_with_state(app.clone(), authenticate));
    Ok(Router::new()
        .route("/api/v1/ping", get(ping))
        .merge(guarded)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), time_limit))
        .layer(middleware::from_fn_with_state(app.clone(), guard::guard))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::map_response(says_it_is_sift))
        .with_state(app))
}

/// A request (body included) that takes too long gets 408 and ends.
async fn time_limit(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(app.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request took longer than {}",
                crate::show::human(app.request_timeout)
            ),
        )
        .into_response(),
    }
}

/// Serves on `listener` until `shutdown` resolves, then lets requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    if let Some(addr) = addr {
        check_listen(addr, config.tokens.is_some())?;
    }
    let limits = config.limits;
    let app = router_at(config, addr)?;
    listen::run(listener, app, limits, shutdown).await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// Every answer says it comes from `sift serve`, so a client knows it may
/// send what Semgrep does not take (a triage's preconditions).
async fn says_it_is_sift(mut response: Response) -> Response {
    response.headers_mut().insert(
        crate::wire::headers::SIFT_SERVE,
        HeaderValue::from_static(env!("CARGO_PKG_VERSION")),
    );
    response
}

async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The path only: tokens travel in a header, never logged.
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::info!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A name fit for the activity: printable, trimmed, at most 100 chars.
fn clean_name(name: &str) -> Option<String> {
    let name: String = name.chars().filter(|c| !c.is_control()).take(100).collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

async fn authenticate(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let actor = match &app.tokens {
        Some(tokens) => {
            let Some(token) = bearer(request.headers()) else {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "a bearer token is required: send `Authorization: Bearer TOKEN`",
                )
                .into_response();
            };
            match tokens.check(token) {
                Some(name) => name.to_string(),
                None => {
                    return ApiError::new(StatusCode::UNAUTHORIZED, "the token was not accepted")
                        .into_response();
                }
            }
        }
        None => request
            .headers()
            .get(crate::wire::headers::REVIEWER)
            .and_then(|v| v.to_str().ok())
            .and_then(clean_name)
            .unwrap_or_else(|| app.reviewer.clone()),
    };
    request.extensions_mut().insert(Actor(actor));
    next.run(request).await
}

async fn ping() -> Json<serde_json::Value> {
    Json(serde_json::json!({}))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no such route: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

impl App {
    fn check_slug(&self, slug: &str) -> Result<(), ApiError> {
        if slug == self.deployment.slug {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "Deployment not found or you don't have access to it",
            ))
        }
    }

    /// Runs store work off the async threads, one request at a time.
    async fn with_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.store.run(work).await.map_err(ApiError::internal)?
    }
}

/// A client's `Idempotency-Key`, when it is a sensible one.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get(crate::wire::headers::IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_string)
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn list_deployments(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Json<ListDeploymentsResponse> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| app.local_addr.map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".into());
    let d = &app.deployment;
    Json(ListDeploymentsResponse {
        deployments: vec![Deployment {
            id: d.id,
            name: d.name.clone(),
            slug: d.slug.clone(),
            findings: Some(EndpointReference {
                url: format!("http://{host}/api/v1/deployments/{}/findings", d.slug),
            }),
        }],
    })
}

fn branch_ref(branch: &str) -> String {
    if branch.starts_with("refs/") {
        branch.to_string()
    } else {
        format!("refs/heads/{branch}")
    }
}

fn project_wire(p: crate::store::ProjectRow) -> v1::Project {
    v1::Project {
        id: p.id,
        name: p.name,
        tags: Vec::new(),
        url: p.url,
        created_at: p.first_import,
        latest_scan_at: p.latest_import,
        default_branch: Some(branch_ref(&p.primary_branch)),
        primary_branch: Some(branch_ref(&p.primary_branch)),
    }
}

/// `GET …/projects/{projectName}`: the name holds a `/`, raw or as `%2F`.
async fn get_project(
    State(app): State<Arc<App>>,
    UrlPath((slug, name)): UrlPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.check_slug(&slug)?;
    let name = name.trim_start_matches('/').to_string();
    let rows = app
        .with_store(|store| store.project_rows().map_err(ApiError::internal))
        .await?;
    match rows.into_iter().find(|p| p.name == name) {
        Some(p) => Ok(Json(serde_json::json!({ "project": project_wire(p) }))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no project is named {name}"),
        )),
    }
}

async fn list_projects(
    State(app): State<Arc<App>>,
    UrlPath(slug): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ListProjectsResponse>, ApiError> {
    app.check_slug(&slug)?;
    let pairs = query_pairs(raw.as_deref());
    let number = |key: &str, default: u64, min: u64| -> Result<u64, ApiError> {
        match pairs.iter().rev().find(|(k, _)| k == key) {
            None => Ok(default),
            Some((_, v)) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{key} must be a whole number from {min}, not '{v}'"
                    ))
                }),
        }
    };
    let page = number("page", 0, 0)?;
    let page_size = number("page_size", 100, 1)?.min(u64::from(v1::MAX_PAGE_SIZE));
    let rows = app
        .with_store(|store| store.project_rows().map_err(ApiError::internal))
        .await?;
    let start = page.saturating_mul(page_size);
    let projects = rows
        .into_iter()
        .skip(usize::try_from(start).unwrap_or(usize::MAX))
        .take(page_size as usize)
        .map(project_wire)
        .collect();
    Ok(Json(ListProjectsResponse { projects }))
}

/// The Semgrep listing; on every answer, the change cursor past it
/// (`X-Sift-Change-Cursor`). With `since_change=CURSOR`, only the findings
/// changed since, in the order they changed (410 when the cursor is
/// another store's: the client pulls everything); `since_change=0`, every
/// finding in that order.
async fn list_findings(
    State(app): State<Arc<App>>,
    UrlPath(slug): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<(HeaderMap, Vec<u8>), ApiError> {
    app.check_slug(&slug)?;
    let pairs = query_pairs(raw.as_deref());
    // `None` inside: from the first change, whatever the store.
    let since = match pairs
        .iter()
        .rev()
        .find(|(k, _)| k == crate::wire::SINCE_CHANGE)
    {
        None => None,
        Some((_, v)) if v.trim() == crate::wire::FROM_FIRST_CHANGE => Some(None),
        Some((_, v)) => Some(Some(service::ChangeCursor::parse(v).ok_or_else(|| {
            ApiError::bad_request(format!("since_change is not a change cursor: '{v}'"))
        })?)),
    };
    let triage_apart = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == crate::wire::TRIAGE_APART)
        .is_some_and(|(_, v)| v.trim().eq_ignore_ascii_case("true"));
    let as_stored = since.is_some()
        && pairs
            .iter()
            .rev()
            .find(|(k, _)| k == crate::wire::AS_STORED)
            .is_some_and(|(_, v)| v.trim().eq_ignore_ascii_case("true"));
    let query = FindingsQuery::from_pairs(pairs).map_err(ApiError::bad_request)?;
    if since.is_some()
        && let Some(why) = service::changes_refuse(&query)
    {
        return Err(ApiError::bad_request(why));
    }
    let selection = app.selection.clone();
    let (body, cursor) = app
        .with_store(move |store| {
            let page = match since {
                Some(after) => {
                    let after = match after {
                        Some(after) => after,
                        None => service::ChangeCursor {
                            seq: 0,
                            base: 0,
                            ..service::ChangeCursor::head(store)?
                        },
                    };
                    service::select_changes(store, &query, after, triage_apart)?.ok_or_else(
                        || {
                            ApiError::new(
                                StatusCode::GONE,
                                "the change cursor is not this server's (its store was \
                                 replaced): pull everything",
                            )
                        },
                    )?
                }
                None => {
                    // Before selecting: what changes meanwhile comes next time.
                    let cursor = service::ChangeCursor::head(store)?;
                    service::ChangePage {
                        whole: selected_page(store, &selection, &query)?,
                        triaged: Vec::new(),
                        cursor,
                    }
                }
            };
            let body = match as_stored {
                true => stored_page(store, &page.whole, &page.triaged)?,
                false => findings_page(store, &page.whole, &page.triaged)?,
            };
            Ok((body, page.cursor))
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&cursor.to_string()) {
        headers.insert(crate::wire::headers::CHANGE_CURSOR, value);
    }
    Ok((headers, body))
}

/// The findings `ids` as a page's body, `{"findings":[…]}`, byte for byte
/// what `Json(FindingsPage)` of `Store::load_findings` writes, but written
/// straight from the stored documents (`StoredFinding::write_v1_fields`):
/// no domain round trip, which was most of a page's cost. The findings
/// `triaged` follow as their triage alone (`"triaged":[…]`), when any.
fn findings_page(store: &Store, ids: &[i64], triaged: &[i64]) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(ids.len() * crate::store::RENDERED_FINDING_BYTES + 16);
    body.extend_from_slice(b"{\"findings\":");
    write_v1_findings(store, ids, &mut body)?;
    write_triaged(store, triaged, &mut body)?;
    body.push(b'}');
    Ok(body)
}

/// `findings_page` for a client that asked for findings as stored
/// (`wire::AS_STORED`): `{"stored":[…],"rules":{…},"findings":[…]}`, the
/// findings that sift's own answers or pending decisions lie over in the
/// v1 shape, which says what they are.
fn stored_page(store: &Store, ids: &[i64], triaged: &[i64]) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(ids.len() * crate::store::RENDERED_FINDING_BYTES + 16);
    body.extend_from_slice(b"{\"stored\":");
    let overlaid = Mutex::new(Vec::new());
    write_array(store, ids, &mut body, |finding, out| {
        if finding.is_overlaid() {
            overlaid
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(finding.id());
            return Ok(());
        }
        finding.write_stored_row(out)
    })?;
    body.extend_from_slice(b",\"rules\":");
    let rules = store.stored_rules(ids).map_err(ApiError::internal)?;
    serde_json::to_writer(&mut body, &rules).map_err(|e| ApiError::internal(e.into()))?;
    body.extend_from_slice(b",\"findings\":");
    let overlaid = overlaid.into_inner().unwrap_or_else(|e| e.into_inner());
    write_v1_findings(store, &overlaid, &mut body)?;
    write_triaged(store, triaged, &mut body)?;
    body.push(b'}');
    Ok(body)
}

/// The findings `ids` in the v1 shape, as a JSON array.
fn write_v1_findings(store: &Store, ids: &[i64], body: &mut Vec<u8>) -> Result<(), ApiError> {
    write_array(store, ids, body, |finding, out| {
        finding.write_v1_fields(out)?;
        out.push(b'}');
        Ok(())
    })
}

/// The findings `ids` as a JSON array, each as `write` writes it; one it
/// writes nothing for is left out.
fn write_array(
    store: &Store,
    ids: &[i64],
    body: &mut Vec<u8>,
    write: impl Fn(&crate::store::StoredFinding<'_>, &mut Vec<u8>) -> anyhow::Result<()> + Sync,
) -> Result<(), ApiError> {
    body.push(b'[');
    // Neither shape sends the findings' history: it is not read.
    store
        .render_stored(ids, false, write, |chunk| {
            for finding in chunk.findings().filter(|f| !f.is_empty()) {
                if body.last() != Some(&b'[') {
                    body.push(b',');
                }
                body.extend_from_slice(finding);
            }
            Ok(())
        })
        .map_err(ApiError::internal)?;
    body.push(b']');
    Ok(())
}

/// The findings `triaged` as their triage alone, `,"triaged":[…]`, when any.
fn write_triaged(store: &Store, triaged: &[i64], body: &mut Vec<u8>) -> Result<(), ApiError> {
    if !triaged.is_empty() {
        body.extend_from_slice(b",\"triaged\":");
        let triaged = store.triaged_findings(triaged)?;
        serde_json::to_writer(&mut *body, &triaged).map_err(|e| ApiError::internal(e.into()))?;
    }
    Ok(())
}

/// One page of the query's selection; the next pages of a pull are sliced
/// from the last selection while the findings have not changed.
fn selected_page(
    store: &Store,
    selection: &Mutex<Option<Selection>>,
    query: &FindingsQuery,
) -> Result<Vec<i64>, ApiError> {
    let key = format!(
        "{:?}",
        FindingsQuery {
            page: 0,
            ..query.clone()
        }
    );
    let version = store.findings_version().map_err(ApiError::internal)?;
    let mut cached = selection.lock().unwrap_or_else(|e| e.into_inner());
    let ids = match cached.as_ref() {
        Some((k, v, ids)) if *k == key && *v == version => ids.clone(),
        _ => {
            let ids = Arc::new(service::select_ids(store, query)?);
            *cached = Some((key, version, ids.clone()));
            ids
        }
    };
    drop(cached);
    Ok(service::page(&ids, query))
}

async fn bulk_triage(
    State(app): State<Arc<App>>,
    UrlPath(slug): UrlPath<String>,
    axum::Extension(Actor(actor)): axum::Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BulkTriageResponse>, ApiError> {
    app.check_slug(&slug)?;
    let request: BulkTriageRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))?;
    // The client's key for this request: the same request again (its
    // answer was lost) answers as the first did and changes nothing.
    let key = idempotency_key(&headers);
    let applied = app
        .with_store(move |store| {
            Ok(service::bulk_triage(
                store,
                &request,
                &actor,
                key.as_deref(),
            )?)
        })
        .await?;
    let mut answer = BulkTriageResponse::new(applied.triaged);
    answer.sift_conflicts = applied
        .conflicts
        .iter()
        .map(v1::Conflict::from_domain)
        .collect();
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriageChange, TriageReason, TriageState};
    use crate::store::{Answer, Judgement};
    use time::macros::datetime;

    /// The page as the server wrote it before: each finding put together
    /// and serialised in the v1 shape.
    fn the_domain_way(store: &Store, ids: &[i64]) -> String {
        let findings = store.load_findings(ids).unwrap();
        let page = v1::FindingsPage {
            findings: findings.iter().map(v1::Finding::from_domain).collect(),
            ..Default::default()
        };
        serde_json::to_string(&page).unwrap()
    }

    /// What is laid over stored findings: decisions waiting in the outbox
    /// on `decided` (a note with a terminal escape and a bidi control), and
    /// sift's own Assistant declining a verdict on `judged`.
    fn lay_over(store: &mut Store, decided: &[i64], judged: &[i64], now: time::OffsetDateTime) {
        let ignored = TriageChange {
            state: Some(TriageState::Ignored),
            reason: Some(TriageReason::AcceptableRisk),
            note: Some("fine \u{1b}[2J \u{202e}".into()),
        };
        let decisions: Vec<_> = decided.iter().map(|&id| (id, ignored.clone())).collect();
        store.record(&decisions, "bo").unwrap();
        let refused = Answer {
            judgement: Judgement::NoVerdict {
                why: "refused".into(),
            },
            judge: crate::domain::Judge {
                provider: "openai".into(),
                model: "m".into(),
                prompt_version: 3,
                at: now,
                memories: vec![],
            },
            input_tokens: 1,
            output_tokens: 1,
        };
        store.record_verdict("v1", &refused, judged).unwrap();
    }

    fn written(store: &Store, ids: &[i64]) -> String {
        String::from_utf8(findings_page(store, ids, &[]).unwrap()).unwrap()
    }

    #[test]
    fn a_page_is_written_byte_for_byte_as_the_domain_way_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let now = datetime!(2026-03-01 09:00:00 UTC);
        // More than four chunks of 500: read on two connections.
        crate::demo::seed(&mut store, Some(2_600), now).unwrap();
        let mut ids: Vec<i64> = store.listing_rows().unwrap().iter().map(|r| r.id).collect();
        assert!(ids.len() > 2_500, "{}", ids.len());
        ids.reverse();
        lay_over(
            &mut store,
            &[ids[3], ids[2_000]],
            &[ids[4], ids[1_200]],
            now,
        );
        // An id the store does not hold is skipped, as before.
        ids.insert(10, 999_999_999);
        assert_eq!(written(&store, &ids), the_domain_way(&store, &ids));
        assert_eq!(
            written(&store, &ids[..7]),
            the_domain_way(&store, &ids[..7])
        );
        assert_eq!(written(&store, &[]), r#"{"findings":[]}"#);
        assert_eq!(written(&store, &[999_999_999]), r#"{"findings":[]}"#);
    }

    /// A served store with what lies over some of its findings: decisions
    /// waiting in its outbox on the fourth and sixth, sift's own verdict on
    /// the fifth and eighth. Its findings' ids, and those four.
    fn served(dir: &std::path::Path) -> (Store, Vec<i64>, Vec<i64>) {
        let mut store = Store::open(dir).unwrap();
        let now = datetime!(2026-03-01 09:00:00 UTC);
        crate::demo::seed(&mut store, Some(600), now).unwrap();
        let ids: Vec<i64> = store.listing_rows().unwrap().iter().map(|r| r.id).collect();
        lay_over(&mut store, &[ids[3], ids[5]], &[ids[4], ids[7]], now);
        let mut overlaid = vec![ids[3], ids[4], ids[5], ids[7]];
        overlaid.sort();
        (store, ids, overlaid)
    }

    const ORIGIN: &str = "http://127.0.0.1:7700";

    /// A page's v1 findings as a pull hands them to the cache's writer.
    fn v1_pages(findings: Vec<v1::Finding>) -> Vec<crate::store::PulledPage> {
        let now = time::OffsetDateTime::now_utc();
        let findings = findings.into_iter().map(|f| (f.into_domain(now), ()));
        let scans = crate::store::by_project(findings, ORIGIN);
        let scans = scans.into_iter().map(|(scan, _)| scan).collect();
        vec![crate::store::PulledPage::findings(scans).unwrap()]
    }

    fn page(body: Vec<u8>) -> v1::FindingsPage {
        serde_json::from_slice(&body).unwrap()
    }

    /// What a cache holds, each finding as it reads it, by id.
    fn held(cache: &Store) -> Vec<crate::domain::Finding> {
        let ids: Vec<i64> = cache.listing_rows().unwrap().iter().map(|r| r.id).collect();
        let mut findings = cache.load_findings(&ids).unwrap();
        findings.sort_by_key(|f| f.id);
        findings
    }

    /// The listing's rows of a cache, by id, without the cache's own
    /// numbers for projects.
    fn listed(cache: &Store) -> Vec<String> {
        let mut rows = cache.listing_rows().unwrap();
        rows.sort_by_key(|r| r.id);
        rows.into_iter()
            .map(|r| crate::store::ListingRow { project_id: 0, ..r })
            .map(|r| format!("{r:?}"))
            .collect()
    }

    fn pulled_into(dir: &std::path::Path, pages: Vec<crate::store::PulledPage>) -> Store {
        let mut cache = Store::open(dir).unwrap();
        let pages = pages.into_iter().chain([crate::store::PulledPage::End]);
        assert!(cache.import_pulled(pages, |_| {}).unwrap().is_some());
        cache
    }

    #[test]
    fn findings_pulled_as_stored_are_held_as_findings_pulled_in_the_v1_shape() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids, overlaid) = served(&dir.path().join("served"));
        let as_stored = page(stored_page(&store, &ids, &[]).unwrap());
        // What lies over a finding comes in the v1 shape, which says it.
        let mut in_v1: Vec<i64> = as_stored.findings.iter().map(|f| f.id).collect();
        in_v1.sort();
        assert_eq!(in_v1, overlaid);
        assert_eq!(as_stored.stored.len(), ids.len() - overlaid.len());
        let mut pages = vec![
            crate::store::PulledPage::stored(as_stored.stored, as_stored.rules, ORIGIN).unwrap(),
        ];
        pages.extend(v1_pages(as_stored.findings));
        let stored_way = pulled_into(&dir.path().join("a"), pages);
        let v1_way = pulled_into(
            &dir.path().join("b"),
            v1_pages(page(findings_page(&store, &ids, &[]).unwrap()).findings),
        );
        let (mut a, b) = (held(&stored_way), held(&v1_way));
        assert_eq!(a.len(), ids.len());
        let served = store.load_findings(&ids).unwrap();
        for f in &mut a {
            // Only the stored way brings the code around the match and the
            // rule's references, which the v1 shape does not carry.
            if !overlaid.contains(&f.id) {
                let theirs = served.iter().find(|s| s.id == f.id).unwrap();
                assert_eq!(f.code, theirs.code);
                assert_eq!(f.rule.references, theirs.rule.references);
            }
            f.code = None;
            f.rule.references.clear();
            f.rule.technologies.clear();
        }
        assert!(served.iter().any(|f| f.code.is_some()));
        assert_eq!(a, b);
        // The rows the list and the filters read, too.
        assert_eq!(listed(&stored_way), listed(&v1_way));
        // Pulled again, every finding is held: merged, nothing changes.
        let again = page(stored_page(&store, &ids, &[]).unwrap());
        let before = held(&stored_way);
        let mut cache = stored_way;
        let pages = [
            crate::store::PulledPage::stored(again.stored, again.rules, ORIGIN).unwrap(),
            crate::store::PulledPage::End,
        ];
        assert!(cache.import_pulled(pages, |_| {}).unwrap().is_some());
        assert_eq!(held(&cache), before);
    }

    #[test]
    fn findings_pulled_as_a_copy_are_held_as_findings_pulled_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids, overlaid) = served(&dir.path().join("served"));
        let file = dir.path().join("copy.db");
        assert_eq!(
            store.write_copy(&file).unwrap(),
            store.change_head().unwrap()
        );
        let mut copied = Store::open(&dir.path().join("a")).unwrap();
        let kept = copied.import_copy(&file, ORIGIN).unwrap().unwrap();
        assert_eq!(
            kept,
            crate::store::CopyKept {
                copied: ids.len() - overlaid.len(),
                overlaid: overlaid.len(),
            }
        );
        let as_stored = page(stored_page(&store, &ids, &[]).unwrap());
        let mut pages = vec![
            crate::store::PulledPage::stored(as_stored.stored, as_stored.rules, ORIGIN).unwrap(),
        ];
        pages.extend(v1_pages(as_stored.findings));
        let stored_way = pulled_into(&dir.path().join("b"), pages);
        assert_eq!(held(&copied), held(&stored_way));
        // The rows the list and the filters read, too.
        assert_eq!(listed(&copied), listed(&stored_way));
        // Only into a cache that holds no finding.
        assert_eq!(copied.import_copy(&file, ORIGIN).unwrap(), None);
        // Pulled again as pages, every finding is held: nothing changes.
        let before = held(&copied);
        let again = page(stored_page(&store, &ids, &[]).unwrap());
        let mut pages =
            vec![crate::store::PulledPage::stored(again.stored, again.rules, ORIGIN).unwrap()];
        pages.extend(v1_pages(again.findings));
        pages.push(crate::store::PulledPage::End);
        assert!(copied.import_pulled(pages, |_| {}).unwrap().is_some());
        assert_eq!(held(&copied), before);
    }

    #[test]
    fn a_stored_finding_is_read_as_the_v1_shape_reads_its_fields() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids, _) = served(&dir.path().join("served"));
        let mut as_stored = page(stored_page(&store, &ids[..3], &[]).unwrap());
        for row in &mut as_stored.stored {
            row.triage_state = "\u{1b}[31mhacked".into();
            row.triage_reason = Some("because".into());
            row.state = String::new();
            row.triaged_at = Some("yesterday".into());
            row.git_ref = " ".into();
            row.match_based_id = String::new();
        }
        let pages = vec![
            crate::store::PulledPage::stored(as_stored.stored, as_stored.rules, ORIGIN).unwrap(),
        ];
        let cache = pulled_into(&dir.path().join("a"), pages);
        let held = held(&cache);
        assert_eq!(held.len(), 3, "blank identities are not one finding");
        for f in &held {
            assert_eq!(f.triage_state, TriageState::Untriaged);
            assert_eq!(f.triage_reason, None);
            assert_eq!(f.state, crate::domain::ScanState::Unresolved);
            assert_eq!(f.triaged_at, None);
            assert_eq!(f.git_ref, "main");
            assert_eq!(f.match_based_id, format!("id:{}", f.id));
        }
    }

    #[test]
    fn a_stored_finding_whose_document_is_not_a_finding_fails_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids, _) = served(&dir.path().join("served"));
        let good = page(stored_page(&store, &ids[..2], &[]).unwrap());
        for doc in [r#"[1, 2]"#, r#"{"location": "here"}"#, r#"{"id": {}}"#] {
            let mut bad = good.clone();
            bad.stored[1].doc = serde_json::value::RawValue::from_string(doc.into()).unwrap();
            let e = crate::store::PulledPage::stored(bad.stored, bad.rules, ORIGIN)
                .err()
                .unwrap();
            assert!(
                format!("{e:#}").contains(&format!("finding {}", ids[1])),
                "{e:#}"
            );
        }
        let mut unruled = good.clone();
        unruled.rules.clear();
        assert!(crate::store::PulledPage::stored(unruled.stored, unruled.rules, ORIGIN).is_err());
    }
}
