//! Which AI provider judges findings, from the config file's `[assistant]`
//! section (or a profile's `[profiles.NAME.assistant]`):
//!
//! ```toml
//! [assistant]
//! provider = "openai"                  # openai (and any compatible server), azure, anthropic
//! url = "https://api.openai.com/v1"    # the API's base (see below per provider)
//! model = "gpt-4o-mini"
//! api_key_env = "OPENAI_API_KEY"       # the variable that holds the key; never the key
//! ```
//!
//! The key is read from the environment when a request is made; sift never
//! writes it, logs it, shows it or stores it. Plain `http://` goes only to
//! this machine (a local model server).

use crate::net::{check_scheme, is_loopback};
use anyhow::{Result, bail};
use reqwest::Url;
use serde::Deserialize;
use std::time::Duration;

/// The `[assistant]` table as written.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssistantToml {
    pub provider: Option<ProviderKind>,
    pub url: Option<String>,
    pub model: Option<String>,
    pub api_key_env: Option<String>,
    /// Requests at once (default 4).
    pub jobs: Option<usize>,
    /// Longest wait for one answer, in seconds (default 120).
    pub timeout_secs: Option<u64>,
    /// Most tokens an answer may have (default 1,024).
    pub max_output_tokens: Option<u32>,
    /// Fixes rated below this are not shown: low (default), medium, high.
    pub min_fix_confidence: Option<String>,
}

impl AssistantToml {
    /// `self`, with what `over` sets replacing it (a profile over the
    /// top-level section).
    pub fn overlaid(&self, over: &AssistantToml) -> AssistantToml {
        AssistantToml {
            provider: over.provider.or(self.provider),
            url: over.url.clone().or_else(|| self.url.clone()),
            model: over.model.clone().or_else(|| self.model.clone()),
            api_key_env: over
                .api_key_env
                .clone()
                .or_else(|| self.api_key_env.clone()),
            jobs: over.jobs.or(self.jobs),
            timeout_secs: over.timeout_secs.or(self.timeout_secs),
            max_output_tokens: over.max_output_tokens.or(self.max_output_tokens),
            min_fix_confidence: over
                .min_fix_confidence
                .clone()
                .or_else(|| self.min_fix_confidence.clone()),
        }
    }
}

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI chat completions: OpenAI, and every server that speaks it
    /// (llama.cpp's llama-server, Ollama, vLLM, LM Studio, Gemini's and
    /// Bedrock's OpenAI-compatible endpoints).
    Openai,
    /// Azure OpenAI: a deployment's full URL with `api-version`, or the
    /// `/openai/v1/` base; the key goes in an `api-key` header.
    Azure,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Openai => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// A provider ready to be asked: where, which model, and where its key is.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderSettings {
    pub kind: ProviderKind,
    /// The URL requests go to (the whole endpoint, not a base).
    pub endpoint: Url,
    pub model: String,
    pub api_key_env: Option<String>,
    pub jobs: usize,
    pub timeout: Duration,
    pub max_output_tokens: u32,
}

impl ProviderSettings {
    /// For messages: "openai gpt-4o-mini at api.openai.com".
    pub fn describe(&self) -> String {
        format!(
            "{} {} at {}",
            self.kind.as_str(),
            self.model,
            self.endpoint.host_str().unwrap_or("?")
        )
    }

    /// The key, read from its variable now; none for a local server that
    /// needs none.
    pub fn api_key(&self) -> Result<Option<String>> {
        let Some(var) = &self.api_key_env else {
            return Ok(None);
        };
        match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Ok(Some(key.trim().to_string())),
            _ => bail!(
                "the assistant's key is read from {var}, which is not set; export {var}=… \
                 (sift never stores the key)"
            ),
        }
    }
}

/// What a reviewer must add to the config file before anything leaves the
/// machine.
pub const NOT_CONFIGURED: &str = "no AI provider is configured, so no code leaves this machine. \
     Add an [assistant] section to sift's config file, e.g.\n\n\
     [assistant]\n\
     provider = \"openai\"                 # or azure, anthropic\n\
     url = \"https://api.openai.com/v1\"   # or a local server: http://127.0.0.1:8080/v1\n\
     model = \"gpt-4o-mini\"\n\
     api_key_env = \"OPENAI_API_KEY\"      # the variable holding the key\n\n\
     (see the README's \"sift's own Assistant\")";

const DEFAULT_JOBS: usize = 4;
const MAX_JOBS: usize = 64;
const DEFAULT_TIMEOUT_SECS: u64 = 120;
const DEFAULT_MAX_OUTPUT_TOKENS: u32 = 1_024;

/// The provider the section describes; `None` when there is no provider.
pub fn resolve(section: Option<&AssistantToml>) -> Result<Option<ProviderSettings>> {
    let Some(s) = section else {
        return Ok(None);
    };
    let Some(kind) = s.provider else {
        if s.url.is_some() || s.model.is_some() {
            bail!("[assistant] needs provider = \"openai\", \"azure\" or \"anthropic\"");
        }
        return Ok(None);
    };
    let endpoint = endpoint(kind, s.url.as_deref())?;
    let model = match (&s.model, kind) {
        (Some(m), _) if !m.trim().is_empty() => m.trim().to_string(),
        // A classic Azure URL names its deployment, which is the model.
        (_, ProviderKind::Azure) => azure_deployment(&endpoint)
            .ok_or_else(|| anyhow::anyhow!("[assistant] needs model = \"DEPLOYMENT\""))?,
        _ => bail!("[assistant] needs model = \"…\", the model the provider should use"),
    };
    let api_key_env = s.api_key_env.clone().filter(|v| !v.trim().is_empty());
    if api_key_env.is_none() && !is_loopback(&endpoint) {
        bail!(
            "[assistant] needs api_key_env = \"VARIABLE\", the environment variable holding the \
             key for {} (only a server on this machine may do without one)",
            endpoint.host_str().unwrap_or("?")
        );
    }
    Ok(Some(ProviderSettings {
        kind,
        endpoint,
        model,
        api_key_env,
        jobs: s.jobs.unwrap_or(DEFAULT_JOBS).clamp(1, MAX_JOBS),
        timeout: Duration::from_secs(s.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1)),
        max_output_tokens: s
            .max_output_tokens
            .unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS)
            .clamp(64, 32_768),
    }))
}

/// The URL requests go to, from the base a provider documents.
fn endpoint(kind: ProviderKind, url: Option<&str>) -> Result<Url> {
    let given = url.map(str::trim).filter(|u| !u.is_empty());
    let text = match (given, kind) {
        (Some(url), _) => url,
        (None, ProviderKind::Openai) => "https://api.openai.com/v1",
        (None, ProviderKind::Anthropic) => "https://api.anthropic.com/v1",
        (None, ProviderKind::Azure) => bail!(
            "[assistant] provider = \"azure\" needs url = the deployment's Target URI \
             (https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT/chat/completions\
             ?api-version=VERSION) or the v1 base (https://RESOURCE.openai.azure.com/openai/v1/)"
        ),
    };
    let mut url = Url::parse(text)
        .map_err(|e| anyhow::anyhow!("[assistant] url '{text}' is not a URL: {e}"))?;
    check_scheme(&url).map_err(|e| anyhow::anyhow!("[assistant] url: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        bail!("[assistant] url must not hold credentials; the key goes in api_key_env");
    }
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_string();
    match kind {
        ProviderKind::Openai => {
            if !path.ends_with("/chat/completions") {
                url.set_path(&format!("{path}/chat/completions"));
            }
        }
        ProviderKind::Anthropic => {
            if !path.ends_with("/messages") {
                let base = path.strip_suffix("/v1").unwrap_or(&path);
                url.set_path(&format!("{base}/v1/messages"));
            }
        }
        ProviderKind::Azure => {
            if path.contains("/openai/deployments/") {
                if !url.query_pairs().any(|(k, _)| k == "api-version") {
                    bail!(
                        "[assistant] the Azure deployment URL needs its api-version, as the \
                         portal's Target URI has it: …/chat/completions?api-version=VERSION"
                    );
                }
                if !path.ends_with("/chat/completions") {
                    url.set_path(&format!("{path}/chat/completions"));
                }
            } else if path.ends_with("/openai/v1") || path.ends_with("/openai/v1/chat/completions")
            {
                if !path.ends_with("/chat/completions") {
                    url.set_path(&format!("{path}/chat/completions"));
                }
            } else {
                bail!(
                    "[assistant] an Azure URL is the deployment's Target URI \
                     (…/openai/deployments/DEPLOYMENT/chat/completions?api-version=VERSION) or \
                     the v1 base (…/openai/v1/); the resource's base URL alone does not work"
                );
            }
        }
    }
    Ok(url)
}

/// The deployment a classic Azure URL names.
fn azure_deployment(url: &Url) -> Option<String> {
    let mut parts = url.path_segments()?;
    parts.find(|p| *p == "deployments")?;
    parts.next().filter(|d| !d.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Result<Option<ProviderSettings>> {
        let section: AssistantToml = toml::from_str(toml_text).unwrap();
        resolve(Some(&section))
    }

    #[test]
    fn each_provider_gets_its_endpoint() {
        let s = settings("provider = \"openai\"\nmodel = \"m\"\napi_key_env = \"K\"")
            .unwrap()
            .unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "https://api.openai.com/v1/chat/completions"
        );
        let s =
            settings("provider = \"openai\"\nurl = \"http://127.0.0.1:8080/v1/\"\nmodel = \"m\"")
                .unwrap()
                .unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(s.api_key_env, None, "a local server needs no key");
        let s = settings("provider = \"anthropic\"\nmodel = \"claude\"\napi_key_env = \"K\"")
            .unwrap()
            .unwrap();
        assert_eq!(s.endpoint.as_str(), "https://api.anthropic.com/v1/messages");
        let azure = "provider = \"azure\"\nurl = \"https://acme.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21\"\napi_key_env = \"K\"";
        let s = settings(azure).unwrap().unwrap();
        assert_eq!(s.model, "gpt4o", "the deployment is the model");
        assert!(s.endpoint.as_str().ends_with("?api-version=2024-10-21"));
        let v1 = "provider = \"azure\"\nurl = \"https://acme.openai.azure.com/openai/v1/\"\nmodel = \"gpt4o\"\napi_key_env = \"K\"";
        let s = settings(v1).unwrap().unwrap();
        assert_eq!(
            s.endpoint.as_str(),
            "https://acme.openai.azure.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn what_cannot_work_is_refused_with_a_reason() {
        let e = |t: &str| settings(t).unwrap_err().to_string();
        assert!(e("provider = \"openai\"\nurl = \"http://10.0.0.5:8080/v1\"\nmodel = \"m\"\napi_key_env = \"K\"").contains("plain http://"));
        assert!(e("provider = \"azure\"\nurl = \"https://acme.openai.azure.com/\"\napi_key_env = \"K\"").contains("base URL alone"));
        assert!(e("provider = \"azure\"\nurl = \"https://acme.openai.azure.com/openai/deployments/d/chat/completions\"\napi_key_env = \"K\"").contains("api-version"));
        assert!(e("provider = \"openai\"\nmodel = \"m\"").contains("api_key_env"));
        assert!(e("provider = \"openai\"\napi_key_env = \"K\"").contains("model"));
        assert!(e("url = \"https://x\"\nmodel = \"m\"").contains("provider"));
        assert!(settings("").unwrap().is_none(), "nothing configured");
    }

    #[test]
    fn a_profile_overrides_the_section() {
        let base: AssistantToml =
            toml::from_str("provider = \"openai\"\nmodel = \"a\"\njobs = 2").unwrap();
        let over: AssistantToml = toml::from_str("model = \"b\"").unwrap();
        let merged = base.overlaid(&over);
        assert_eq!((merged.model.as_deref(), merged.jobs), (Some("b"), Some(2)));
    }

    #[test]
    fn the_key_comes_from_its_variable_only() {
        let s = settings(
            "provider = \"openai\"\nmodel = \"m\"\napi_key_env = \"SIFT_TEST_NO_SUCH_VARIABLE_1\"",
        )
        .unwrap()
        .unwrap();
        let e = s.api_key().unwrap_err().to_string();
        assert!(e.contains("SIFT_TEST_NO_SUCH_VARIABLE_1"), "{e}");
    }
}
