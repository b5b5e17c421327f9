//! HTTP for every client sift has (the Semgrep API, AI providers): one way
//! to build a client, and secrets kept out of what servers say back.

use reqwest::Url;
use reqwest::header::HeaderMap;
use std::time::{Duration, SystemTime};

/// A client for a backend or an AI provider: rustls with the ring provider,
/// no redirects (a redirect could carry the token elsewhere), a time limit
/// on every request. A server on this machine (`loopback`) is never reached
/// through a proxy: HTTP_PROXY and its kin would send the token, in clear,
/// to whatever they name, and take its answers for the server's.
pub fn http_client(timeout: Duration, loopback: bool) -> anyhow::Result<reqwest::Client> {
    // Installed once per process; a second install is refused, harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("sift/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if loopback {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))
}

/// `text` with every trace of `secret` replaced by `[redacted]`: the whole
/// secret, and any run of at least 12 of its characters (a backend may
/// quote a header cut short).
pub fn redact(text: &str, secret: &str) -> String {
    const MIN_RUN: usize = 12;
    let secret = secret.trim();
    if secret.is_empty() {
        return text.to_string();
    }
    let run = MIN_RUN.min(secret.len());
    let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let boundary = |k: usize| starts.get(k).copied().unwrap_or(text.len());
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < starts.len() {
        // The longest stretch from here that the secret contains.
        let mut j = i;
        while j < starts.len() && secret.contains(&text[boundary(i)..boundary(j + 1)]) {
            j += 1;
        }
        if boundary(j) - boundary(i) >= run {
            out.push_str("[redacted]");
            i = j;
        } else {
            out.push_str(&text[boundary(i)..boundary(i + 1)]);
            i += 1;
        }
    }
    out
}

/// The longest `Retry-After` honoured; longer asks are taken as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Plain `http://` only to this machine: a token or code would cross the
/// network in clear. Says which host otherwise.
pub fn check_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "refusing plain http:// to {}: it would cross the network unencrypted; use \
             https://, or http:// to a loopback address only",
            url.host_str().unwrap_or("?")
        )),
        other => Err(format!(
            "the URL must be https:// (or http:// to loopback), not {other}://"
        )),
    }
}

/// A URL to this machine (localhost or a loopback address).
pub fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

/// A host name or address of this machine: `localhost` or a loopback
/// address (IPv6 with or without brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why an answer's body was not read whole.
#[derive(Debug)]
pub enum BodyError {
    /// The transfer failed or was cut off.
    Transfer(reqwest::Error),
    /// It grew past the limit given: a server that sends without end does
    /// not exhaust this machine's memory.
    TooLarge(usize),
}

/// Reads an answer's body, up to `limit` bytes.
pub async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(length) = response.content_length()
        && length > limit as u64
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transfer)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `read_body` as text, checked in place rather than copied (a page of
/// findings is megabytes); bytes that are not UTF-8 are replaced, so a
/// message from a careless server can still be shown.
pub async fn read_text(response: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    let body = read_body(response, limit).await?;
    Ok(String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback that answers one request with `head` and then
    /// `body_bytes` bytes, and the client's reading of it under `limit`.
    async fn read_from(
        head: &'static str,
        body_bytes: usize,
        limit: usize,
    ) -> Result<usize, BodyError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(head.as_bytes()).await;
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0;
            while sent < body_bytes {
                if socket.write_all(&chunk).await.is_err() {
                    break; // the client stopped reading
                }
                sent += chunk.len();
            }
        });
        let client = http_client(Duration::from_secs(5), true).unwrap();
        let response = client.get(&url).send().await.unwrap();
        let read = read_body(response, limit).await.map(|b| b.len());
        server.abort();
        read
    }

    #[tokio::test]
    async fn an_answer_past_the_limit_is_not_read_whole() {
        // Without a length, as a server that sends without end.
        let endless = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        let read = read_from(endless, 4 << 20, 1 << 20).await;
        assert!(matches!(read, Err(BodyError::TooLarge(_))), "{read:?}");
        // A length over the limit is refused before the body.
        let long = "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n";
        let read = read_from(long, 0, 1 << 20).await;
        assert!(matches!(read, Err(BodyError::TooLarge(_))), "{read:?}");
        // Under it, read whole.
        let short = "HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n";
        assert_eq!(
            read_from(short, 64 * 1024, 1 << 20).await.unwrap(),
            64 * 1024
        );
    }

    #[test]
    fn the_token_never_survives_in_a_message() {
        let token = "sgp_0123456789abcdefABCDEF";
        assert_eq!(
            redact(&format!("bad header: Authorization: Bearer {token}"), token),
            "bad header: Authorization: Bearer [redacted]"
        );
        assert_eq!(
            redact("token sgp_0123456789ab… was refused", token),
            "token [redacted]… was refused",
            "a token cut short"
        );
        assert_eq!(
            redact("plain text, sgp_ alone", token),
            "plain text, sgp_ alone"
        );
        assert_eq!(redact("é😀 ünïcode", token), "é😀 ünïcode");
        assert_eq!(
            redact(&format!("{token}{token}"), token),
            "[redacted][redacted]"
        );
    }
}
