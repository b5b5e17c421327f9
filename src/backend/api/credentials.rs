//! Where the API's URL and token come from, as the Semgrep CLI does it
//! (ARCHITECTURE §6): the token from `SEMGREP_APP_TOKEN`,
//! else `api_token` in `~/.semgrep/settings.yml` (or `SEMGREP_SETTINGS_FILE`);
//! the host from `--url`, `SEMGREP_URL`, `SEMGREP_APP_URL`, else
//! <https://semgrep.dev>. Plain HTTP is allowed to loopback only.

use anyhow::{Result, bail};
use reqwest::Url;
use std::path::{Path, PathBuf};

pub const DEFAULT_URL: &str = "https://semgrep.dev";

/// A token, kept out of Debug output and messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(token: impl Into<String>) -> Option<Token> {
        let t = token.into().trim().to_string();
        (!t.is_empty()).then_some(Token(t))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Where a token was found, for messages (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    SettingsFile(PathBuf),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => f.write_str("SEMGREP_APP_TOKEN"),
            TokenSource::SettingsFile(p) => write!(f, "api_token in {}", p.display()),
        }
    }
}

/// The Semgrep CLI's settings file.
pub fn settings_file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEMGREP_SETTINGS_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".semgrep").join("settings.yml"))
}

/// `SEMGREP_APP_TOKEN`, else the settings file's `api_token`.
pub fn find_token() -> Option<(Token, TokenSource)> {
    if let Some(t) = std::env::var("SEMGREP_APP_TOKEN").ok().and_then(Token::new) {
        return Some((t, TokenSource::Env));
    }
    let path = settings_file()?;
    let text = std::fs::read_to_string(&path).ok()?;
    let token = token_from_settings(&text)?;
    Some((token, TokenSource::SettingsFile(path)))
}

/// The `api_token: VALUE` line of the settings file (a flat YAML map),
/// with or without quotes.
pub fn token_from_settings(text: &str) -> Option<Token> {
    text.lines().find_map(|line| {
        // Only a top-level key: no indentation.
        let rest = line.strip_prefix("api_token")?;
        let value = rest.trim_start().strip_prefix(':')?;
        let value = value.split(" #").next().unwrap_or("").trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        (value != "null" && value != "~")
            .then(|| Token::new(value))
            .flatten()
    })
}

/// `--url`, else `SEMGREP_URL`, else `SEMGREP_APP_URL`, else semgrep.dev.
pub fn find_url(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("SEMGREP_URL").ok())
        .or_else(|| std::env::var("SEMGREP_APP_URL").ok())
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.into())
}

pub use crate::net::is_loopback;

/// The host root to which `/api/v1/...` is appended. A trailing
/// `/api/v1` (as some clients write it) is dropped. Plain `http://` is
/// refused unless the host is loopback: the token would cross the network
/// in clear.
pub fn base_url(text: &str) -> Result<Url> {
    let mut url = Url::parse(text.trim())
        .map_err(|e| anyhow::anyhow!("the backend URL '{text}' is not valid: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => bail!(
            "refusing plain http:// to {}: the token would cross the network unencrypted; \
             use https://, or http:// to a loopback address only",
            url.host_str().unwrap_or("?")
        ),
        other => bail!("the backend URL must be https:// (or http:// to loopback), not {other}://"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        bail!("the backend URL must not hold credentials; the token goes in SEMGREP_APP_TOKEN");
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    let path = path
        .strip_suffix("/api/v1")
        .or_else(|| path.strip_suffix("/api"))
        .unwrap_or(&path)
        .to_string();
    url.set_path(&format!("{path}/"));
    Ok(url)
}

/// A directory name for a cache of this backend: `<host>[-<port>]-<slug>`.
pub fn cache_name(url: &Url, deployment: Option<&str>) -> String {
    let mut name = url.host_str().unwrap_or("backend").to_string();
    if let Some(port) = url.port() {
        name.push_str(&format!("-{port}"));
    }
    name.push('-');
    name.push_str(deployment.unwrap_or("default"));
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// True when the file may be read by others (a token in it should not).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cli_settings_file() {
        let text =
            "has_shown_metrics_notification: true\napi_token: 0123abcd\nanonymous_user_id: x\n";
        assert_eq!(token_from_settings(text).unwrap().expose(), "0123abcd");
        assert_eq!(
            token_from_settings("api_token: \"quoted\"  # comment\n")
                .unwrap()
                .expose(),
            "quoted"
        );
        assert_eq!(
            token_from_settings("api_token: 'single'").unwrap().expose(),
            "single"
        );
        assert!(token_from_settings("api_token: null\n").is_none());
        assert!(token_from_settings("api_token:\n").is_none());
        assert!(token_from_settings("  api_token: nested\n").is_none());
        assert!(token_from_settings("other: x\n").is_none());
        assert_eq!(format!("{:?}", Token::new("secret").unwrap()), "Token(…)");
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(
            base_url("https://semgrep.dev").unwrap().as_str(),
            "https://semgrep.dev/"
        );
        assert_eq!(
            base_url("https://acme.semgrep.dev/api/v1/")
                .unwrap()
                .as_str(),
            "https://acme.semgrep.dev/"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8321").unwrap().as_str(),
            "http://127.0.0.1:8321/"
        );
        assert!(base_url("http://localhost:8321").is_ok());
        assert!(base_url("http://[::1]:8321").is_ok());
        let e = base_url("http://semgrep.example:8321").unwrap_err();
        assert!(e.to_string().contains("refusing plain http://"), "{e}");
        assert!(base_url("http://10.0.0.1").is_err());
        assert!(base_url("ftp://semgrep.dev").is_err());
        assert!(base_url("https://user:pw@semgrep.dev").is_err());
        assert!(base_url("not a url").is_err());
    }

    #[test]
    fn cache_names_are_plain() {
        let u = base_url("http://127.0.0.1:8321").unwrap();
        assert_eq!(cache_name(&u, Some("local")), "127.0.0.1-8321-local");
        let u = base_url("https://semgrep.dev").unwrap();
        assert_eq!(cache_name(&u, None), "semgrep.dev-default");
        assert_eq!(cache_name(&u, Some("../x")), "semgrep.dev-.._x");
    }
}
