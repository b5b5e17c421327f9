//! `GET /api/v1/deployments/{slug}/findings/copy`: every finding as a copy
//! of the store's finding tables (an SQLite file, `Store::write_copy`), for
//! a client's first pull into an empty cache, with the change cursor past
//! it. A client that gets anything else pulls pages.

use super::{ApiError, App};
use crate::service::ChangeCursor;
use crate::wire::COPY_TYPE;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::io::Read;
use std::sync::Arc;

/// Bytes read from the copy at a time.
const CHUNK: usize = 1 << 20;

pub(super) async fn findings_copy(
    State(app): State<Arc<App>>,
    UrlPath(slug): UrlPath<String>,
) -> Result<Response, ApiError> {
    app.check_slug(&slug)?;
    let (file, cursor) = app
        .with_store(|store| {
            let dir = store.path().parent().unwrap_or(std::path::Path::new("."));
            let copy = tempfile::Builder::new()
                .prefix(crate::store::COPY_FILE_PREFIX)
                .tempfile_in(dir)
                .map_err(|e| ApiError::internal(e.into()))?;
            let (store_id, seq) = store.write_copy(copy.path()).map_err(ApiError::internal)?;
            // Removed at once: what is open stays readable, and nothing is
            // left behind however the answer ends.
            let file = copy.reopen().map_err(|e| ApiError::internal(e.into()))?;
            drop(copy);
            // The client holds every finding as it was at the copy's change.
            let cursor = ChangeCursor {
                store: store_id,
                seq,
                base: seq,
            };
            Ok((file, cursor))
        })
        .await?;
    let length = file
        .metadata()
        .map_err(|e| ApiError::internal(e.into()))?
        .len();
    // Read off the async threads, a chunk ahead of the network.
    let (sender, chunks) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        loop {
            let mut chunk = vec![0; CHUNK];
            let read = match file.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    Ok(Bytes::from(chunk))
                }
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            // The client went away: stop.
            if sender.blocking_send(read).is_err() || failed {
                return;
            }
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(chunks, |mut chunks| async {
        chunks.recv().await.map(|chunk| (chunk, chunks))
    }));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(COPY_TYPE));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&cursor.to_string()) {
        headers.insert(crate::wire::headers::CHANGE_CURSOR, value);
    }
    Ok(response)
}
