//! Anthropic's Messages API: `POST …/v1/messages`, the system prompt at the
//! top level, and the answer's schema as the one tool the model must call
//! (its input is the JSON answer).

use super::{Ask, Content, Provider, ProviderError, Reply};
use serde::Deserialize;
use serde_json::{Value, json};

const API_VERSION: &str = "2023-06-01";

/// The request body: the answer's schema as the one tool the model must
/// call.
pub(super) fn body(p: &Provider, ask: &Ask) -> Value {
    json!({
        "model": p.settings.model,
        "max_tokens": p.settings.max_output_tokens,
        "temperature": 0,
        "system": ask.system,
        "messages": [{"role": "user", "content": ask.user}],
        "tools": [{
            "name": ask.schema_name,
            "description": "Record the answer.",
            "input_schema": ask.schema,
        }],
        "tool_choice": {"type": "tool", "name": ask.schema_name},
    })
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Block {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    input: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Usage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

pub(super) async fn ask(p: &Provider, ask: &Ask) -> Result<Reply, ProviderError> {
    let mut request = p
        .client
        .post(p.settings.endpoint.clone())
        .header("anthropic-version", API_VERSION)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(key) = &p.key {
        request = request.header("x-api-key", key);
    }
    let (status, headers, text) = p.post(request, &body(p, ask)).await?;
    if !status.is_success() {
        return Err(p.failure(status, &headers, &text));
    }
    let message: Message = serde_json::from_str(&text).map_err(|e| ProviderError::Unavailable {
        message: format!("{}'s answer is not a message ({e})", p.settings.describe()),
        retry_after: None,
    })?;
    let usage = message.usage.unwrap_or_default();
    let tool_input = message
        .content
        .iter()
        .find(|b| b.kind == "tool_use")
        .and_then(|b| b.input.clone());
    let said: String = message
        .content
        .iter()
        .filter_map(|b| b.text.as_deref())
        .collect::<Vec<_>>()
        .join("\n");
    let content = match (message.stop_reason.as_deref(), tool_input) {
        (Some("refusal"), _) => Content::Refused(if said.trim().is_empty() {
            "the model declined".into()
        } else {
            said
        }),
        (Some("max_tokens"), _) => Content::Truncated,
        (_, Some(input)) => Content::Text(input.to_string()),
        // A model that wrote its answer as text instead of calling the tool.
        (_, None) if !said.trim().is_empty() => Content::Text(said),
        _ => Content::Empty,
    };
    Ok(Reply {
        content,
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
    })
}
