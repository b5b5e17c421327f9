//! Asking a provider one question and reading its answer, over plain HTTP
//! in each provider's own wire format (no vendor SDK). Every answer is
//! asked for as JSON against a schema; what comes back is validated by the
//! caller, never trusted.

mod anthropic;
mod openai;

use super::config::{ProviderKind, ProviderSettings};
use crate::net::{http_client, is_loopback, redact};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The largest answer read from a provider: an answer is a few kilobytes.
const MAX_ANSWER_BYTES: usize = 16 << 20;
/// One question: instructions, the evidence, and the shape of the answer.
#[derive(Debug, Clone)]
pub struct Ask {
    pub system: String,
    pub user: String,
    /// The JSON schema the answer must follow, and its name (a-z, 0-9, _).
    pub schema: serde_json::Value,
    pub schema_name: &'static str,
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub content: Content,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// The model's answer, which should be JSON in the schema's shape.
    Text(String),
    /// The model declined, with its words.
    Refused(String),
    /// The answer was cut at the token limit (invalid JSON, most likely).
    Truncated,
    /// Nothing usable in the reply.
    Empty,
    /// The answer repeats the prompt's evidence markers: the prompt echoed
    /// (small models do), not an answer.
    Echoed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Try again later: a 5xx, a 429, a timeout, no connection.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// This question was refused (a 400): asking it again will not help,
    /// but others may go through.
    #[error("{message}")]
    Refused { message: String },
    /// No question will go through until the configuration changes: the
    /// key, the URL or the model is wrong (401, 403, 404).
    #[error("{message}")]
    Unusable { message: String },
}

/// A provider ready to be asked.
pub struct Provider {
    pub settings: ProviderSettings,
    client: reqwest::Client,
    key: Option<String>,
    /// Set when the server refused `json_schema`: JSON mode with the
    /// schema in the prompt from then on (OpenAI-compatible servers).
    json_mode_only: AtomicBool,
}

impl Provider {
    /// Reads the key from its variable now (an error names the variable).
    pub fn new(settings: ProviderSettings) -> anyhow::Result<Provider> {
        let key = settings.api_key()?;
        let client = http_client(settings.timeout, is_loopback(&settings.endpoint))?;
        Ok(Provider {
            settings,
            client,
            key,
            json_mode_only: AtomicBool::new(false),
        })
    }

    /// A provider to show requests for, never to send them: no key is read.
    pub fn unsent(settings: ProviderSettings) -> anyhow::Result<Provider> {
        let client = http_client(settings.timeout, is_loopback(&settings.endpoint))?;
        Ok(Provider {
            settings,
            client,
            key: None,
            json_mode_only: AtomicBool::new(false),
        })
    }

    /// Asks once. Errors say what to do; none holds the key.
    pub async fn ask(&self, ask: &Ask) -> Result<Reply, ProviderError> {
        let result = match self.settings.kind {
            ProviderKind::Openai | ProviderKind::Azure => openai::ask(self, ask).await,
            ProviderKind::Anthropic => anthropic::ask(self, ask).await,
        };
        result.map_err(|e| self.redacted(e))
    }

    /// The JSON body a question is sent as: exactly what leaves the
    /// machine (the key travels in a header, never here).
    pub fn request_body(&self, ask: &Ask) -> serde_json::Value {
        match self.settings.kind {
            ProviderKind::Openai | ProviderKind::Azure => {
                openai::body(self, ask, !self.json_mode_only())
            }
            ProviderKind::Anthropic => anthropic::body(self, ask),
        }
    }

    fn json_mode_only(&self) -> bool {
        self.json_mode_only.load(Ordering::Relaxed)
    }

    fn fall_back_to_json_mode(&self) {
        self.json_mode_only.store(true, Ordering::Relaxed);
    }

    fn redacted(&self, e: ProviderError) -> ProviderError {
        let Some(key) = &self.key else {
            return e;
        };
        match e {
            ProviderError::Unavailable {
                message,
                retry_after,
            } => ProviderError::Unavailable {
                message: redact(&message, key),
                retry_after,
            },
            ProviderError::Refused { message } => ProviderError::Refused {
                message: redact(&message, key),
            },
            ProviderError::Unusable { message } => ProviderError::Unusable {
                message: redact(&message, key),
            },
        }
    }

    /// Sends a JSON body; the status and the body that came back.
    async fn post(
        &self,
        request: reqwest::RequestBuilder,
        body: &serde_json::Value,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), ProviderError> {
        let what = self.settings.describe();
        let response = request.json(body).send().await.map_err(|e| {
            let message = if e.is_timeout() {
                format!(
                    "{what} did not answer within {}",
                    crate::show::human(self.settings.timeout)
                )
            } else if e.is_connect() {
                format!("cannot reach {what}")
            } else {
                format!("the request to {what} failed on the way")
            };
            ProviderError::Unavailable {
                message,
                retry_after: None,
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = crate::net::read_text(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| ProviderError::Unavailable {
                message: match e {
                    crate::net::BodyError::Transfer(_) => format!("{what}'s answer was cut off"),
                    crate::net::BodyError::TooLarge(limit) => {
                        format!("{what}'s answer is over {} MB: not read", limit >> 20)
                    }
                },
                retry_after: None,
            })?;
        Ok((status, headers, text))
    }

    /// What an answer other than 2xx means.
    fn failure(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &str,
    ) -> ProviderError {
        let what = self.settings.describe();
        let said = provider_message(body)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let code = status.as_u16();
        let retry_after = || crate::net::retry_after(headers, std::time::SystemTime::now());
        match code {
            429 => ProviderError::Unavailable {
                message: format!("{what} is rate limiting (429){said}"),
                retry_after: retry_after(),
            },
            500..=599 => ProviderError::Unavailable {
                message: format!("{what} failed ({code}){said}"),
                retry_after: retry_after(),
            },
            401 | 403 => ProviderError::Unusable {
                message: format!(
                    "{what} refused the key ({code}){said}: check {}",
                    self.settings
                        .api_key_env
                        .as_deref()
                        .map_or("the key", |v| v)
                ),
            },
            404 => ProviderError::Unusable {
                message: format!(
                    "{what} answered 404{said}: check the url and the model (for Azure, the \
                     deployment and its api-version)"
                ),
            },
            _ => ProviderError::Refused {
                message: format!("{what} refused the request ({code}){said}"),
            },
        }
    }
}

/// The provider's own words from an error body (`{"error": {"message"}}`,
/// `{"error": "..."}`, `{"message"}`), shortened.
fn provider_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body.trim()).ok()?;
    let text = v["error"]["message"]
        .as_str()
        .or_else(|| v["error"].as_str())
        .or_else(|| v["message"].as_str())?;
    let short: String = text.chars().take(300).collect();
    (!short.trim().is_empty()).then_some(short)
}

/// Did a 400 refuse the structured-output parameter itself?
fn refused_schema(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.contains("response_format")
        || lower.contains("json_schema")
        || lower.contains("structured output")
}
