//! What keeps a web page the reviewer opens away from `sift serve`: the
//! server answers only the host names it was given (DNS rebinding uses a
//! name of the attacker's), refuses requests a browser marks as coming
//! from another site, and takes writes only as `application/json` (a form
//! or `text/plain` body, which a page may send without asking first, is
//! refused). Every refusal, and every error an extractor writes as plain
//! text (a 413), is `{"error": "..."}` like the rest of the API.

use super::{ApiError, App};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// The host names `sift serve` answers to: loopback names, any address
/// written as an IP (a rebinding attack needs a name), and the names the
/// operator adds with `--allow-host`.
pub(super) fn host_allowed(host: &str, extra: &[String]) -> bool {
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok()
        || extra.iter().any(|e| e.eq_ignore_ascii_case(name))
}

/// `example.com` of `example.com:8321`, `::1` of `[::1]:8321`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// The authority (`host[:port]`) of an Origin header such as
/// `http://127.0.0.1:8321`.
fn origin_authority(origin: &str) -> Option<&str> {
    let rest = origin.trim().split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

fn header<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Why a request is refused, if it is.
pub(super) fn refusal(method: &Method, headers: &HeaderMap, extra: &[String]) -> Option<ApiError> {
    let host = header(headers, &header::HOST);
    if let Some(host) = host
        && !host_allowed(host, extra)
    {
        return Some(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers to localhost and IP addresses only; its operator adds other \
             names with `sift serve --allow-host NAME`",
        ));
    }
    // Browsers name the page a request comes from; sift and scripts do not.
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(origin_authority)
            .zip(host)
            .is_some_and(|(o, h)| o.eq_ignore_ascii_case(h.trim()));
        if !same {
            return Some(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross-origin requests are refused: sift serve is for sift and scripts, not for \
                 web pages",
            ));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && matches!(site, "cross-site" | "same-site")
    {
        return Some(ApiError::new(
            StatusCode::FORBIDDEN,
            "requests from other sites are refused",
        ));
    }
    let writes = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if writes {
        let json = header(headers, &header::CONTENT_TYPE).is_some_and(|t| {
            let media = t.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/json")
        });
        let has_body = header(headers, &header::CONTENT_LENGTH).is_none_or(|n| n.trim() != "0")
            || headers.contains_key(header::TRANSFER_ENCODING);
        if !json && has_body {
            return Some(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a request body must be JSON, sent with `Content-Type: application/json`",
            ));
        }
    }
    None
}

pub(super) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(refused) = refusal(request.method(), request.headers(), &app.allowed_hosts) {
        tracing::warn!(
            "refused {} {}: {}",
            request.method(),
            request.uri().path(),
            refused.message
        );
        return refused.into_response();
    }
    as_json_error(next.run(request).await).await
}

/// An error answer in plain text (axum's own, e.g. 413 for a body that is
/// too large) in the API's `{"error": "..."}` shape.
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let is_json = header(response.headers(), &header::CONTENT_TYPE)
        .is_some_and(|t| t.starts_with("application/json"));
    if status.is_success() || is_json || status.is_redirection() {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => format!(
            "the request body is larger than the server accepts ({} MB)",
            super::MAX_BODY_BYTES >> 20
        ),
        _ if text.trim().is_empty() => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_string(),
        _ => text.trim().to_string(),
    };
    ApiError::new(status, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_loopback_names_ip_addresses_and_allowed_names_are_answered() {
        for ok in [
            "localhost:8321",
            "127.0.0.1:8321",
            "[::1]:8321",
            "10.0.0.5",
            "LOCALHOST",
        ] {
            assert!(host_allowed(ok, &[]), "{ok}");
        }
        for bad in ["evil.example:8321", "attacker.test", "localhost.evil.com"] {
            assert!(!host_allowed(bad, &[]), "{bad}");
        }
        assert!(host_allowed("jump.corp:8321", &["jump.corp".into()]));
    }

    #[test]
    fn pages_from_elsewhere_and_plain_text_writes_are_refused() {
        let get = Method::GET;
        let post = Method::POST;
        let json = ("content-type", "application/json");
        let host = ("host", "127.0.0.1:8321");
        assert!(refusal(&post, &headers(&[host, json]), &[]).is_none());
        assert!(refusal(&get, &headers(&[host]), &[]).is_none());
        let text = refusal(
            &post,
            &headers(&[host, ("content-type", "text/plain")]),
            &[],
        );
        assert_eq!(text.unwrap().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let page = refusal(
            &post,
            &headers(&[host, json, ("origin", "https://evil.example")]),
            &[],
        );
        assert_eq!(page.unwrap().status, StatusCode::FORBIDDEN);
        let same = refusal(
            &post,
            &headers(&[host, json, ("origin", "http://127.0.0.1:8321")]),
            &[],
        );
        assert!(same.is_none(), "same origin");
        let null = refusal(&get, &headers(&[host, ("origin", "null")]), &[]);
        assert_eq!(null.unwrap().status, StatusCode::FORBIDDEN);
        let rebound = refusal(&get, &headers(&[("host", "evil.example:8321")]), &[]);
        assert_eq!(rebound.unwrap().status, StatusCode::MISDIRECTED_REQUEST);
        let fetch = refusal(
            &get,
            &headers(&[host, ("sec-fetch-site", "cross-site")]),
            &[],
        );
        assert_eq!(fetch.unwrap().status, StatusCode::FORBIDDEN);
        let empty = refusal(&post, &headers(&[host, ("content-length", "0")]), &[]);
        assert!(empty.is_none(), "a write without a body");
    }
}
