//! sift's own Semgrep service: the rules of the Semgrep API (bulk triage,
//! memories, finding selection and paging) over the local store. The
//! embedded backend calls it in-process and `sift serve` over HTTP, so both
//! answer alike; `server/` only turns HTTP into these calls and back.

mod findings;
mod memories;
mod shared;

pub use findings::{ChangeCursor, ChangePage, changes_refuse, page, select_changes, select_ids};
pub use memories::{create_memory, delete_memory, update_memory};
pub use shared::SharedStore;

use crate::store::{Applied, Store};
use crate::wire::v1::{BulkTriageRequest, TriageSelection};
use time::OffsetDateTime;

/// Why the service refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request breaks the API's rules (a 400): sending it again as it
    /// is will not help.
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (a 404).
    #[error("{0}")]
    NotFound(String),
    /// The store failed (a 500).
    #[error("the store failed: {0:#}")]
    Store(#[from] anyhow::Error),
}

/// A v1 bulk triage: the request checked as the spec says, the findings it
/// names (by id or by a filter), the change applied to them and to their
/// copies on other refs. With a `key`, the same request again answers as
/// the first did and changes nothing. A finding with a precondition that
/// someone else decided since is left alone and answered as a conflict.
pub fn bulk_triage(
    store: &Store,
    request: &BulkTriageRequest,
    actor: &str,
    key: Option<&str>,
) -> Result<Applied, ServiceError> {
    let valid = request.validate().map_err(ServiceError::Invalid)?;
    if valid.issue_type != "sast" {
        // This backend holds Code findings only.
        return Ok(Applied::default());
    }
    let ids = match valid.selection {
        TriageSelection::Ids(ids) => ids,
        TriageSelection::Filter { query, limit } => {
            let mut ids = select_ids(store, &query)?;
            ids.truncate(limit);
            ids
        }
    };
    let applied = store.apply_triage_if(
        &ids,
        &valid.change,
        actor,
        OffsetDateTime::now_utc(),
        key,
        &valid.preconditions,
    )?;
    tracing::info!(
        "{actor} triaged {} finding(s): {}",
        applied.triaged.len(),
        valid.change.describe()
    );
    if !applied.conflicts.is_empty() {
        tracing::info!(
            "{actor}'s decision was not applied to {} finding(s) someone else decided since",
            applied.conflicts.len()
        );
    }
    Ok(applied)
}
