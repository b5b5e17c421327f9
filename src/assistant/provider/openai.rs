//! OpenAI chat completions, as OpenAI, Azure OpenAI and the compatible
//! servers speak them: `POST …/chat/completions` with the schema in
//! `response_format` (strict `json_schema`); a server that refuses that
//! parameter is asked again in JSON mode with the schema in the prompt.

use super::super::config::ProviderKind;
use super::{Ask, Content, Provider, ProviderError, Reply, refused_schema};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

pub(super) async fn ask(p: &Provider, ask: &Ask) -> Result<Reply, ProviderError> {
    if !p.json_mode_only() {
        let (status, headers, body) = p.post(request(p), &body(p, ask, true)).await?;
        if status.is_success() {
            return read(p, &body);
        }
        if !(status.as_u16() == 400 && refused_schema(&body)) {
            return Err(p.failure(status, &headers, &body));
        }
        tracing::info!(
            "{} refused json_schema; asking in JSON mode with the schema in the prompt",
            p.settings.describe()
        );
        p.fall_back_to_json_mode();
    }
    let (status, headers, body) = p.post(request(p), &body(p, ask, false)).await?;
    if status.is_success() {
        read(p, &body)
    } else {
        Err(p.failure(status, &headers, &body))
    }
}

fn request(p: &Provider) -> reqwest::RequestBuilder {
    let mut r = p
        .client
        .post(p.settings.endpoint.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(key) = &p.key {
        r = match p.settings.kind {
            ProviderKind::Azure => r.header("api-key", key),
            _ => r.bearer_auth(key),
        };
    }
    r
}

/// The request body: deterministic sampling, the schema as structured
/// output, or (`strict` false) JSON mode with the schema written out.
pub(super) fn body(p: &Provider, ask: &Ask, strict: bool) -> Value {
    let (system, response_format) = if strict {
        (
            ask.system.clone(),
            json!({
                "type": "json_schema",
                "json_schema": {"name": ask.schema_name, "strict": true, "schema": ask.schema}
            }),
        )
    } else {
        (
            format!(
                "{}\n\nAnswer with one JSON object and nothing else, following this JSON \
                 schema:\n{}",
                ask.system, ask.schema
            ),
            json!({"type": "json_object"}),
        )
    };
    let mut body = json!({
        "model": p.settings.model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": ask.user},
        ],
        "temperature": 0,
        "max_tokens": p.settings.max_output_tokens,
        "response_format": response_format,
    });
    if crate::net::is_loopback(&p.settings.endpoint) {
        // A local server (llama.cpp) gives the same answer to the same
        // prompt only without its prompt cache; hosted APIs refuse the key.
        body["cache_prompt"] = json!(false);
    }
    body
}

fn read(p: &Provider, body: &str) -> Result<Reply, ProviderError> {
    let completion: Completion =
        serde_json::from_str(body).map_err(|e| ProviderError::Unavailable {
            message: format!(
                "{}'s answer is not a chat completion ({e})",
                p.settings.describe()
            ),
            retry_after: None,
        })?;
    let usage = completion.usage.unwrap_or_default();
    let choice = completion.choices.into_iter().next();
    let (message, finish) = match choice {
        Some(c) => (c.message, c.finish_reason),
        None => (None, None),
    };
    let content = match (message, finish.as_deref()) {
        (
            Some(Message {
                refusal: Some(r), ..
            }),
            _,
        ) if !r.trim().is_empty() => Content::Refused(r),
        (_, Some("length")) => Content::Truncated,
        (_, Some("content_filter")) => Content::Refused("the provider's content filter".into()),
        (
            Some(Message {
                content: Some(c), ..
            }),
            _,
        ) if !c.trim().is_empty() => Content::Text(c),
        _ => Content::Empty,
    };
    Ok(Reply {
        content,
        input_tokens: usage.prompt_tokens,
        output_tokens: usage.completion_tokens,
    })
}
