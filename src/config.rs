//! Where sift keeps things, and the user's config file.

use crate::assistant::{AssistantToml, ProviderSettings};
use crate::backend::api::credentials::{self, Token};
use crate::digest::mail::DigestToml;
use crate::domain::FixConfidence;
use crate::tui::keymap::KeymapToml;
use anyhow::{Context, Result, bail};
use directories::ProjectDirs;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `config.toml` in the XDG config directory (or `--config`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded backend keeps its store.
    pub data_dir: Option<PathBuf>,
    /// Who the reviewer is, in the activity of the findings they decide.
    pub user: Option<String>,
    /// Keymap overrides: `[keys.list]`, `[keys.global]`, …
    #[serde(default)]
    pub keys: KeymapToml,
    /// The backend when no option or profile names one (default embedded).
    pub backend: Option<BackendKind>,
    /// The profile used when `--profile` is not given.
    pub profile: Option<String>,
    /// Named backends: `[profiles.acme]`.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    /// sift's own Assistant: the AI provider that judges findings.
    pub assistant: Option<AssistantToml>,
    /// Where `sift digest --mail` sends the digest.
    pub digest: Option<DigestToml>,
}

/// Which backend the commands use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// sift's own store, in the data directory.
    Embedded,
    /// The Semgrep API: semgrep.dev, a single-tenant host, or `sift serve`.
    Api,
}

/// A named backend in the config file:
///
/// ```toml
/// [profiles.acme]
/// backend = "api"
/// url = "https://acme.semgrep.dev"
/// deployment = "acme"
/// token_env = "ACME_SEMGREP_TOKEN"   # optional: where its token is
/// ```
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub backend: Option<BackendKind>,
    pub url: Option<String>,
    pub deployment: Option<String>,
    /// The name of an environment variable holding this profile's token.
    pub token_env: Option<String>,
    /// A token written in the file itself (keep the file 0600).
    pub token: Option<String>,
    /// The AI provider for this profile, over the top-level `[assistant]`.
    pub assistant: Option<AssistantToml>,
}

/// The backend options of the command line.
#[derive(Debug, Default, Clone)]
pub struct BackendFlags {
    pub backend: Option<BackendKind>,
    pub url: Option<String>,
    pub deployment: Option<String>,
    pub profile: Option<String>,
}

/// The backend the options, the profile and the environment add up to.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolvedBackend {
    Embedded,
    Api {
        url: String,
        deployment: Option<String>,
        token: Option<Token>,
        /// Where the token came from, for messages (never the token).
        token_source: Option<String>,
    },
}

/// Options win over the profile, the profile over the environment
/// (`SEMGREP_URL`, `SEMGREP_APP_URL`, `SEMGREP_APP_TOKEN`, the Semgrep
/// CLI's settings file), and those over the defaults. `--url` or
/// `--deployment` alone mean the API backend.
pub fn resolve_backend(flags: &BackendFlags, config: &Config) -> Result<ResolvedBackend> {
    let profile_name = flags.profile.as_ref().or(config.profile.as_ref());
    let profile = match profile_name {
        None => Profile::default(),
        Some(name) => match config.profiles.get(name) {
            Some(p) => p.clone(),
            None => {
                let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
                bail!(
                    "no profile '{name}' in the config file{}",
                    if known.is_empty() {
                        " (it has no [profiles.NAME] section)".to_string()
                    } else {
                        format!(" (it has: {})", known.join(", "))
                    }
                );
            }
        },
    };
    let implied = (flags.url.is_some() || flags.deployment.is_some()).then_some(BackendKind::Api);
    let kind = flags
        .backend
        .or(implied)
        .or(profile.backend)
        .or(profile.url.as_ref().map(|_| BackendKind::Api))
        .or(config.backend)
        .unwrap_or(BackendKind::Embedded);
    if kind == BackendKind::Embedded {
        return Ok(ResolvedBackend::Embedded);
    }
    let url = credentials::find_url(flags.url.as_deref().or(profile.url.as_deref()));
    let deployment = flags
        .deployment
        .clone()
        .or(profile.deployment)
        .filter(|d| !d.trim().is_empty());
    let (token, token_source) = if let Some(t) = profile.token.and_then(Token::new) {
        (Some(t), Some("the config file".to_string()))
    } else if let Some(var) = &profile.token_env {
        match std::env::var(var).ok().and_then(Token::new) {
            Some(t) => (Some(t), Some(var.clone())),
            None => bail!("the profile names {var} for its token, but {var} is not set"),
        }
    } else {
        match credentials::find_token() {
            Some((t, source)) => (Some(t), Some(source.to_string())),
            None => (None, None),
        }
    };
    Ok(ResolvedBackend::Api {
        url,
        deployment,
        token,
        token_source,
    })
}

/// The AI provider the config names for the profile in use (`--profile`,
/// or the config's default): the profile's `[profiles.NAME.assistant]`
/// over the top-level `[assistant]`. None when there is no provider.
pub fn assistant(profile: Option<&str>, config: &Config) -> Result<Option<ProviderSettings>> {
    crate::assistant::config::resolve(assistant_section(profile, config).as_ref())
        .context("the config file's [assistant] section is not usable")
}

/// The lowest rating of a fix the reviewer is shown (`[assistant]
/// min_fix_confidence`, default low: every fix).
pub fn min_fix_confidence(profile: Option<&str>, config: &Config) -> Result<FixConfidence> {
    match assistant_section(profile, config).and_then(|s| s.min_fix_confidence) {
        None => Ok(FixConfidence::Low),
        Some(text) => FixConfidence::parse(&text.trim().to_ascii_lowercase()).ok_or_else(|| {
            anyhow::anyhow!(
                "the config file's [assistant] min_fix_confidence is \"{}\": it takes \"low\", \
                 \"medium\" or \"high\"",
                crate::text::inert(&text)
            )
        }),
    }
}

/// `[assistant]` with the profile's own settings over it.
fn assistant_section(profile: Option<&str>, config: &Config) -> Option<AssistantToml> {
    let profile = profile
        .or(config.profile.as_deref())
        .and_then(|name| config.profiles.get(name))
        .and_then(|p| p.assistant.as_ref());
    match (&config.assistant, profile) {
        (Some(top), Some(over)) => Some(top.overlaid(over)),
        (top, over) => top.clone().or_else(|| over.cloned()),
    }
}

/// Where an API backend's findings are cached: `<data_dir>/cache/<host>-<deployment>`.
pub fn api_cache_dir(data_dir: &Path, url: &str, deployment: Option<&str>) -> Result<PathBuf> {
    let base = credentials::base_url(url)?;
    Ok(data_dir
        .join("cache")
        .join(credentials::cache_name(&base, deployment)))
}

fn dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "sift")
}

pub fn default_config_path() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("config.toml"))
}

/// Loads the config file. A missing default file is an empty config; a
/// missing file the user named is an error.
pub fn load(explicit: Option<&Path>) -> Result<Config> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_config_path() {
            Some(p) => (p, false),
            None => return Ok(Config::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(Config::default());
        }
        Err(e) => bail!("cannot read the config file {}: {e}", path.display()),
    };
    let config: Config = toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))?;
    if config.profiles.values().any(|p| p.token.is_some()) && credentials::readable_by_others(&path)
    {
        eprintln!(
            "sift: warning: {} holds a token but others may read it; `chmod 600 {}` \
             (or use token_env, or SEMGREP_APP_TOKEN)",
            path.display(),
            path.display()
        );
    }
    Ok(config)
}

/// The data directory: `--data-dir` / `SIFT_DATA_DIR`, then the config
/// file, then the XDG data directory.
pub fn data_dir(flag: Option<&Path>, config: &Config) -> Result<PathBuf> {
    if let Some(dir) = flag.or(config.data_dir.as_deref()) {
        return Ok(dir.to_path_buf());
    }
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .context("cannot find a home directory for sift's data; pass --data-dir")
}

/// The reviewer's name for the activity: the config's `user`, else the
/// login name.
pub fn reviewer(config: &Config) -> String {
    config
        .user
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "reviewer".into())
}

/// Where the log file goes: the XDG state directory, or the data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    dirs()
        .and_then(|d| d.state_dir().map(Path::to_path_buf))
        .unwrap_or_else(|| data_dir.to_path_buf())
}

pub use crate::show::display_path;

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).unwrap()
    }

    const PROFILES: &str = r#"
        [profiles.acme]
        backend = "api"
        url = "https://acme.semgrep.dev"
        deployment = "acme"
        token = "profile-token"

        [profiles.team]
        url = "http://127.0.0.1:8321"
    "#;

    #[test]
    fn the_embedded_backend_is_the_default() {
        let r = resolve_backend(&BackendFlags::default(), &Config::default()).unwrap();
        assert_eq!(r, ResolvedBackend::Embedded);
    }

    #[test]
    fn a_profile_names_a_backend_and_options_win_over_it() {
        let c = config(PROFILES);
        let flags = BackendFlags {
            profile: Some("acme".into()),
            ..BackendFlags::default()
        };
        let ResolvedBackend::Api {
            url,
            deployment,
            token,
            token_source,
        } = resolve_backend(&flags, &c).unwrap()
        else {
            panic!("api")
        };
        assert_eq!(url, "https://acme.semgrep.dev");
        assert_eq!(deployment.as_deref(), Some("acme"));
        assert_eq!(token, Token::new("profile-token"));
        assert_eq!(token_source.as_deref(), Some("the config file"));

        let flags = BackendFlags {
            profile: Some("acme".into()),
            deployment: Some("other".into()),
            ..BackendFlags::default()
        };
        let ResolvedBackend::Api { deployment, .. } = resolve_backend(&flags, &c).unwrap() else {
            panic!("api")
        };
        assert_eq!(deployment.as_deref(), Some("other"));
        // --backend embedded wins over the profile.
        let flags = BackendFlags {
            profile: Some("acme".into()),
            backend: Some(BackendKind::Embedded),
            ..BackendFlags::default()
        };
        assert_eq!(
            resolve_backend(&flags, &c).unwrap(),
            ResolvedBackend::Embedded
        );
        // A profile with a URL is an API profile.
        let flags = BackendFlags {
            profile: Some("team".into()),
            ..BackendFlags::default()
        };
        let ResolvedBackend::Api { url, .. } = resolve_backend(&flags, &c).unwrap() else {
            panic!("api")
        };
        assert_eq!(url, "http://127.0.0.1:8321");
    }

    #[test]
    fn url_alone_means_the_api_and_unknown_profiles_are_named() {
        let flags = BackendFlags {
            url: Some("http://127.0.0.1:9".into()),
            ..BackendFlags::default()
        };
        assert!(matches!(
            resolve_backend(&flags, &Config::default()).unwrap(),
            ResolvedBackend::Api { .. }
        ));
        let flags = BackendFlags {
            profile: Some("nope".into()),
            ..BackendFlags::default()
        };
        let e = resolve_backend(&flags, &config(PROFILES)).unwrap_err();
        assert!(e.to_string().contains("(it has: acme, team)"), "{e}");
    }

    #[test]
    fn the_default_profile_comes_from_the_file() {
        let c = config(&format!("profile = \"acme\"\n{PROFILES}"));
        assert!(matches!(
            resolve_backend(&BackendFlags::default(), &c).unwrap(),
            ResolvedBackend::Api { .. }
        ));
    }

    #[test]
    fn caches_are_per_backend() {
        let d = Path::new("/data");
        assert_eq!(
            api_cache_dir(d, "https://semgrep.dev", Some("acme")).unwrap(),
            Path::new("/data/cache/semgrep.dev-acme")
        );
        assert_eq!(
            api_cache_dir(d, "http://127.0.0.1:8321", None).unwrap(),
            Path::new("/data/cache/127.0.0.1-8321-default")
        );
        assert!(api_cache_dir(d, "http://semgrep.example", None).is_err());
    }
}
