//! The v2 (experimental) memory routes of `sift serve`, over the store's
//! memories (ARCHITECTURE §6):
//!
//! - `POST   /api/ai/deployments/{id}/memories` `{memory}` → `{memory}`
//! - `POST   /api/ai/deployments/{id}/memories/list` `{filter}` → `{memories}`
//!   (also `GET`, all of them)
//! - `GET    /api/ai/deployments/{id}/memories/suggested` → `{memories}`
//! - `POST   /api/ai/deployments/{id}/memories/ids` `{memoryIds}` → `{memories}`
//! - `PUT    /api/ai/deployments/{id}/memories/{memoryId}` `{memory}` → `{memory}`
//! - `DELETE /api/ai/deployments/{id}/memories/{memoryId}` → `{}`
//!
//! `{id}` is the deployment's numeric id (its slug is accepted too). A
//! create that names an id is idempotent (sending it again replaces the
//! memory with the same one), and deleting a memory that is gone succeeds.

use super::{Actor, ApiError, App};
use crate::domain::{self, MemoryStage};
use crate::service;
use crate::store::ProjectRow;
use crate::wire::v2::{
    self, ListMemoriesRequest, MemoriesResponse, MemoryEnvelope, MemoryIdsRequest,
};
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use std::sync::Arc;
use time::OffsetDateTime;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/ai/deployments/{deployment}/memories", post(create))
        .route(
            "/api/ai/deployments/{deployment}/memories/list",
            post(list).get(list_all),
        )
        .route(
            "/api/ai/deployments/{deployment}/memories/suggested",
            get(suggested),
        )
        .route(
            "/api/ai/deployments/{deployment}/memories/ids",
            post(by_ids),
        )
        .route(
            "/api/ai/deployments/{deployment}/memories/{memory_id}",
            put(update).delete(delete),
        )
}

impl App {
    fn check_deployment_id(&self, id: &str) -> Result<(), ApiError> {
        if id == self.deployment.id.to_string() || id == self.deployment.slug {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "Deployment not found or you don't have access to it",
            ))
        }
    }
}

fn parse<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
}

/// The wire form of a stored memory, with its project's id.
fn to_wire(m: &domain::Memory, projects: &[ProjectRow]) -> v2::Memory {
    let repository_id = match m.scope.projects.first() {
        Some(name) => projects
            .iter()
            .find(|p| p.name == *name)
            .map(|p| p.id.to_string()),
        None => None,
    };
    v2::Memory::from_domain_wide(m, repository_id)
}

/// A memory from a request, checked, with its project named.
fn from_wire(
    wire: Option<v2::Memory>,
    projects: &[ProjectRow],
    now: OffsetDateTime,
) -> Result<domain::Memory, ApiError> {
    let mut wire = wire.ok_or_else(|| ApiError::bad_request("memory is required"))?;
    if wire.content.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(ApiError::bad_request("memory.content is required"));
    }
    if let Some(stage) = &wire.stage
        && MemoryStage::parse(stage).is_none()
    {
        return Err(ApiError::bad_request(format!(
            "memory.stage '{stage}' is not one of {}, {}",
            v2::STAGE_LIVE,
            v2::STAGE_SUGGESTED
        )));
    }
    if wire.project_tag_id.is_some() {
        return Err(ApiError::bad_request(
            "memory.projectTagId: this server has no project tags",
        ));
    }
    if wire.repository_name.is_none()
        && let Some(id) = &wire.repository_id
    {
        let found = projects.iter().find(|p| p.id.to_string() == *id);
        match found {
            Some(p) => wire.repository_name = Some(p.name.clone()),
            None => {
                return Err(ApiError::bad_request(format!(
                    "memory.repositoryId {id} is not a project here"
                )));
            }
        }
    }
    Ok(wire.into_domain(now))
}

fn new_id() -> Result<String, ApiError> {
    Ok(format!("mem-{}", crate::ids::random_hex(8)?))
}

async fn create(
    State(app): State<Arc<App>>,
    UrlPath(deployment): UrlPath<String>,
    Extension(Actor(actor)): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<MemoryEnvelope>, ApiError> {
    app.check_deployment_id(&deployment)?;
    let request: MemoryEnvelope = parse(&body)?;
    // The client's key for this create names the memory, so a retry finds
    // the one it made.
    let key = super::idempotency_key(&headers);
    let id = match (request.memory.as_ref().and_then(|m| m.id.clone()), key) {
        (Some(id), _) => id,
        (None, Some(key)) => key,
        (None, None) => new_id()?,
    };
    app.with_store(move |store| {
        let projects = store.project_rows()?;
        let mut m = from_wire(request.memory, &projects, OffsetDateTime::now_utc())?;
        m.id = id;
        let m = service::create_memory(store, m, &actor)?;
        Ok(Json(MemoryEnvelope {
            memory: Some(to_wire(&m, &projects)),
        }))
    })
    .await
}

async fn update(
    State(app): State<Arc<App>>,
    UrlPath((deployment, memory_id)): UrlPath<(String, String)>,
    Extension(Actor(actor)): Extension<Actor>,
    body: Bytes,
) -> Result<Json<MemoryEnvelope>, ApiError> {
    app.check_deployment_id(&deployment)?;
    let request: MemoryEnvelope = parse(&body)?;
    app.with_store(move |store| {
        let projects = store.project_rows()?;
        let m = from_wire(request.memory, &projects, OffsetDateTime::now_utc())?;
        let m = service::update_memory(store, &memory_id, m, &actor)?;
        Ok(Json(MemoryEnvelope {
            memory: Some(to_wire(&m, &projects)),
        }))
    })
    .await
}

async fn delete(
    State(app): State<Arc<App>>,
    UrlPath((deployment, memory_id)): UrlPath<(String, String)>,
    Extension(Actor(actor)): Extension<Actor>,
) -> Result<Json<serde_json::Value>, ApiError> {
    app.check_deployment_id(&deployment)?;
    app.with_store(move |store| {
        service::delete_memory(store, &memory_id, &actor)?;
        Ok(Json(serde_json::json!({})))
    })
    .await
}

/// Memories (not deleted) that `keep` accepts, in the wire form.
async fn listed(
    app: &App,
    keep: impl Fn(&domain::Memory, &[ProjectRow]) -> bool + Send + 'static,
) -> Result<Json<MemoriesResponse>, ApiError> {
    app.with_store(move |store| {
        let projects = store.project_rows()?;
        let memories = store
            .memories()?
            .iter()
            .filter(|m| keep(m, &projects))
            .map(|m| to_wire(m, &projects))
            .collect();
        Ok(Json(MemoriesResponse { memories }))
    })
    .await
}

async fn list(
    State(app): State<Arc<App>>,
    UrlPath(deployment): UrlPath<String>,
    body: Bytes,
) -> Result<Json<MemoriesResponse>, ApiError> {
    app.check_deployment_id(&deployment)?;
    let request: ListMemoriesRequest = parse(&body)?;
    let filter = request.filter.unwrap_or_default();
    listed(&app, move |m, projects| {
        if filter.repository_ids.is_empty() {
            return true;
        }
        let names: Vec<&str> = projects
            .iter()
            .filter(|p| filter.repository_ids.contains(&p.id.to_string()))
            .map(|p| p.name.as_str())
            .collect();
        let direct = m.scope.projects.iter().any(|p| names.contains(&p.as_str()));
        direct || (!filter.exact_scope && m.scope.projects.is_empty())
    })
    .await
}

async fn list_all(
    State(app): State<Arc<App>>,
    UrlPath(deployment): UrlPath<String>,
) -> Result<Json<MemoriesResponse>, ApiError> {
    app.check_deployment_id(&deployment)?;
    listed(&app, |_, _| true).await
}

async fn suggested(
    State(app): State<Arc<App>>,
    UrlPath(deployment): UrlPath<String>,
) -> Result<Json<MemoriesResponse>, ApiError> {
    app.check_deployment_id(&deployment)?;
    listed(&app, |m, _| m.stage == MemoryStage::Suggested).await
}

async fn by_ids(
    State(app): State<Arc<App>>,
    UrlPath(deployment): UrlPath<String>,
    body: Bytes,
) -> Result<Json<MemoriesResponse>, ApiError> {
    app.check_deployment_id(&deployment)?;
    let request: MemoryIdsRequest = parse(&body)?;
    listed(&app, move |m, _| request.memory_ids.contains(&m.id)).await
}
