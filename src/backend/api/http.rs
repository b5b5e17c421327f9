//! The HTTP client, and what its answers mean for the sync: try again
//! later (`Unavailable`) or do not resend (`Rejected`). Every message tells
//! the reviewer what to do; none holds the token.

use crate::backend::{BackendError, Outage};
use crate::wire::v1::ErrorBody;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

pub use crate::net::{MAX_RETRY_AFTER, retry_after};

/// Where the KB article on 404s from tokens without the Web API scope is.
pub const KB_404: &str = "https://semgrep.dev/docs/kb/semgrep-appsec-platform/api-404-token-scope";

/// The server's own words from an error body: `{"error"}`, `{"message"}`
/// or `{"detail"}`, else the start of the text. Untrusted: made inert
/// before it reaches the terminal.
pub fn server_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) if !e.error.trim().is_empty() => e.error,
        _ if body.starts_with('{') || body.starts_with('<') => return None,
        _ => body.to_string(),
    };
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    Some(short)
}

/// What an answer other than 2xx means.
pub fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    what: &str,
    deployment: Option<&str>,
) -> BackendError {
    let said = server_message(body)
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let code = status.as_u16();
    match code {
        429 | 503 => BackendError::Unavailable {
            message: if code == 429 {
                format!("the backend is rate limiting {what} (429){said}")
            } else {
                format!("the backend is unavailable (503){said}")
            },
            retry_after: retry_after(headers, SystemTime::now()),
            outage: Outage::Http(code),
        },
        500..=599 => BackendError::Unavailable {
            message: format!("the backend failed {what} ({code}){said}"),
            retry_after: retry_after(headers, SystemTime::now()),
            outage: Outage::Http(code),
        },
        401 => BackendError::Rejected {
            message: "the token was refused (401): check SEMGREP_APP_TOKEN (or api_token in \
                      ~/.semgrep/settings.yml)"
                .into(),
        },
        403 => BackendError::Rejected {
            message: format!(
                "the backend refused {what} (403){said}: the token may lack the Web API scope"
            ),
        },
        404 => BackendError::Rejected {
            message: format!(
                "the backend answered 404 to {what}{said}: either the token lacks the Web API \
                 scope (a CI or CLI token cannot use the API; see {KB_404}), or {}",
                match deployment {
                    Some(d) => format!("the deployment '{d}' does not exist (check --deployment)"),
                    None => "the deployment does not exist".into(),
                }
            ),
        },
        300..=399 => BackendError::Rejected {
            message: format!(
                "the backend redirected {what} ({code}){}: use the URL it names with --url",
                headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .map(|l| format!(" to {}", l.chars().take(200).collect::<String>()))
                    .unwrap_or_default()
            ),
        },
        _ => BackendError::Rejected {
            message: format!("the backend refused {what} ({code}){said}"),
        },
    }
}

/// What a failed connection means: always worth another try.
pub fn transport_error(e: &reqwest::Error, what: &str, timeout: Duration) -> BackendError {
    if e.is_timeout() {
        let message = format!(
            "the backend did not answer {what} within {}",
            crate::show::human(timeout)
        );
        BackendError::outage(Outage::TimedOut, message)
    } else if e.is_connect() {
        let message = format!("cannot reach the backend for {what}: {}", root_cause(e));
        BackendError::outage(connect_outage(e), message)
    } else {
        let message = format!("{what} failed on the way: {}", root_cause(e));
        BackendError::unavailable(message)
    }
}

/// A refused connection (nothing listens there), told from the others by
/// the operating system's error underneath.
fn connect_outage(e: &(dyn std::error::Error + 'static)) -> Outage {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return Outage::ConnectionRefused;
        }
        cause = c.source();
    }
    Outage::Unreachable
}

/// The innermost cause, without the URL (which holds no secret, but is
/// long).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {

    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    fn headers(retry: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry).unwrap());
        h
    }

    #[test]
    fn retry_after_as_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        // Wed, 21 Oct 2015 07:28:00 GMT is 1445412480.
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:30:00 GMT"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
        assert_eq!(retry_after(&headers("86400"), now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn each_status_says_what_to_do() {
        let none = HeaderMap::new();
        let c = |code: u16, body: &str| {
            classify(
                StatusCode::from_u16(code).unwrap(),
                &none,
                body,
                "the triage",
                Some("acme"),
            )
        };
        assert!(c(500, "").is_transient());
        assert!(c(502, "<html>bad gateway</html>").is_transient());
        let limited = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers("7"),
            "",
            "the triage",
            None,
        );
        assert_eq!(
            limited,
            BackendError::Unavailable {
                message: "the backend is rate limiting the triage (429)".into(),
                retry_after: Some(Duration::from_secs(7)),
                outage: Outage::Http(429),
            }
        );
        assert!(c(401, "").to_string().contains("check SEMGREP_APP_TOKEN"));
        let not_found = c(404, r#"{"error": "Not found"}"#).to_string();
        assert!(not_found.contains("Web API scope") && not_found.contains("'acme'"));
        assert!(not_found.contains(KB_404));
        let bad = c(400, r#"{"error": "new_note is too long"}"#);
        assert_eq!(
            bad.to_string(),
            "the backend refused the triage (400): new_note is too long"
        );
        assert!(!bad.is_transient());
        assert!(c(418, "plain words").to_string().ends_with(": plain words"));
    }

    #[test]
    fn server_messages_are_short() {
        assert_eq!(server_message(r#"{"message": "m"}"#).as_deref(), Some("m"));
        assert_eq!(server_message(r#"{"detail": "d"}"#).as_deref(), Some("d"));
        assert_eq!(server_message(r#"{"other": 1}"#), None);
        assert_eq!(server_message("<html>"), None);
        let long = server_message(&"x".repeat(1000)).unwrap();
        assert_eq!(long.chars().count(), 301);
    }
}
