//! Memories as the service keeps them: one set of rules for every way in
//! (the console, `sift memories`, the v2 routes), creates that a retry
//! cannot duplicate, and updates that keep who made a memory and when.

use super::ServiceError;
use crate::domain::Memory;
use crate::store::Store;
use time::OffsetDateTime;

/// Creates `m` under its id (a client's id, or the request's key, names
/// it, so sending the create again replaces it with the same one). A new
/// memory is `actor`'s; a repeated create keeps the first one's author and
/// creation time. Times the client gave are kept, missing ones are now.
pub fn create_memory(store: &Store, mut m: Memory, actor: &str) -> Result<Memory, ServiceError> {
    let existing = find(store, &m.id)?;
    m.created_by = existing
        .as_ref()
        .map_or_else(|| actor.to_string(), |e| e.created_by.clone());
    m.created_at = existing
        .as_ref()
        .map_or_else(|| given_or_now(m.created_at), |e| e.created_at);
    m.updated_at = given_or_now(m.updated_at);
    check(store, &m)?;
    store.put_memory(&m)?;
    tracing::info!("{actor} created memory {}", m.id);
    Ok(m)
}

/// Replaces the memory `id` with `m`'s text, scope and stage; its author
/// and creation time stay. A memory someone deleted is not brought back.
pub fn update_memory(
    store: &Store,
    id: &str,
    mut m: Memory,
    actor: &str,
) -> Result<Memory, ServiceError> {
    let Some(existing) = find(store, id)? else {
        return Err(ServiceError::NotFound(format!("no memory has the id {id}")));
    };
    m.id = existing.id;
    m.created_by = existing.created_by;
    m.created_at = existing.created_at;
    m.updated_at = given_or_now(m.updated_at);
    check(store, &m)?;
    store.put_memory(&m)?;
    tracing::info!("{actor} updated memory {}", m.id);
    Ok(m)
}

/// Deletes the memory `id`; deleting one that is gone succeeds.
pub fn delete_memory(store: &Store, id: &str, actor: &str) -> Result<(), ServiceError> {
    if store.delete_memory(id)? {
        tracing::info!("{actor} deleted memory {id}");
    }
    Ok(())
}

/// A time the client gave, or now for one it did not.
fn given_or_now(at: OffsetDateTime) -> OffsetDateTime {
    if at == OffsetDateTime::UNIX_EPOCH {
        OffsetDateTime::now_utc()
    } else {
        at
    }
}

fn find(store: &Store, id: &str) -> Result<Option<Memory>, ServiceError> {
    Ok(store.memories()?.into_iter().find(|m| m.id == id))
}

/// A text and names that show as written, of a sensible size, naming
/// projects and rules the store knows.
fn check(store: &Store, m: &Memory) -> Result<(), ServiceError> {
    if let Some(problem) = m.problem() {
        return Err(ServiceError::Invalid(problem));
    }
    let unknown = store.unknown_scope_names(&m.scope)?;
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(unknown.join("; ")))
    }
}
