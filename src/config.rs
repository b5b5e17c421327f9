//! Where sift keeps things, and the user's config file.

use crate::tui::keymap::KeymapToml;
use anyhow::{Context, Result, bail};
use directories::ProjectDirs;
use serde::Deserialize;
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
    toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))
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

/// A path as a person would write it: `~/…` under the home directory.
pub fn display_path(path: &Path) -> String {
    if let Some(home) = directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf())
        && let Ok(rest) = path.strip_prefix(&home)
    {
        return format!("~/{}", rest.display());
    }
    path.display().to_string()
}
