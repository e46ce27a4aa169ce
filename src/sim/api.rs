//! The OpenAI-compatible wire format: parsing completion and chat requests
//! (with the 400/404 errors real servers send) and building response bodies.

use serde_json::{Value, json};

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Completions,
    Chat,
}

/// The prompt as sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Prompt {
    Text(String),
    TokenIds(Vec<u32>),
    /// Chat messages' text contents, in order.
    Messages(Vec<String>),
}

/// A validated generation request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GenRequest {
    pub(crate) endpoint: Endpoint,
    pub(crate) model: String,
    pub(crate) prompt: Prompt,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) min_tokens: u32,
    pub(crate) ignore_eos: bool,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
}

/// An error response: HTTP status and the body vLLM sends.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>, param: Option<&str>) -> ApiError {
        let kind = match status {
            400 => "BadRequestError",
            404 => "NotFoundError",
            429 => "RateLimitError",
            503 => "ServiceUnavailableError",
            _ => "InternalServerError",
        };
        ApiError {
            status,
            body: json!({"error": {"message": message.into(), "type": kind, "param": param, "code": status}}),
        }
    }

    pub(crate) fn bad(message: impl Into<String>, param: &str) -> ApiError {
        ApiError::new(400, message, Some(param))
    }
}

fn opt_u32(body: &Value, field: &str) -> Result<Option<u32>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad(
                    format!("'{field}' must be a non-negative integer, got {v}"),
                    field,
                )
            }),
    }
}

fn opt_bool(body: &Value, field: &str) -> Result<bool, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(ApiError::bad(
            format!("'{field}' must be a boolean, got {v}"),
            field,
        )),
    }
}

/// Parses and validates a request body. `served` is the model name the
/// server answers to.
pub(crate) fn parse(endpoint: Endpoint, raw: &[u8], served: &str) -> Result<GenRequest, ApiError> {
    let body: Value = serde_json::from_slice(raw)
        .map_err(|e| ApiError::new(400, format!("Invalid JSON in request body: {e}"), None))?;
    if !body.is_object() {
        return Err(ApiError::new(
            400,
            "The request body must be a JSON object",
            None,
        ));
    }
    let model = match body.get("model") {
        Some(Value::String(m)) => m.clone(),
        None | Some(Value::Null) => served.to_string(),
        Some(v) => {
            return Err(ApiError::bad(
                format!("'model' must be a string, got {v}"),
                "model",
            ));
        }
    };
    if model != served {
        return Err(ApiError::new(
            404,
            format!("The model `{model}` does not exist."),
            Some("model"),
        ));
    }
    let prompt = match endpoint {
        Endpoint::Completions => parse_prompt(body.get("prompt"))?,
        Endpoint::Chat => parse_messages(body.get("messages"))?,
    };
    let mut max_tokens = opt_u32(&body, "max_tokens")?;
    if endpoint == Endpoint::Chat
        && let Some(m) = opt_u32(&body, "max_completion_tokens")?
    {
        max_tokens = Some(m);
    }
    if max_tokens == Some(0) {
        return Err(ApiError::bad(
            "max_tokens must be at least 1, got 0.",
            "max_tokens",
        ));
    }
    let min_tokens = opt_u32(&body, "min_tokens")?.unwrap_or(0);
    if let Some(m) = max_tokens
        && min_tokens > m
    {
        return Err(ApiError::bad(
            format!("min_tokens must be less than or equal to max_tokens={m}, got {min_tokens}."),
            "min_tokens",
        ));
    }
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(o @ Value::Object(_)) => opt_bool(o, "include_usage")?,
        Some(v) => {
            return Err(ApiError::bad(
                format!("'stream_options' must be an object, got {v}"),
                "stream_options",
            ));
        }
    };
    if let Some(t) = body.get("temperature")
        && !t.is_null()
        && !t.is_number()
    {
        return Err(ApiError::bad(
            format!("'temperature' must be a number, got {t}"),
            "temperature",
        ));
    }
    Ok(GenRequest {
        endpoint,
        model,
        prompt,
        max_tokens,
        min_tokens,
        ignore_eos: opt_bool(&body, "ignore_eos")?,
        stream: opt_bool(&body, "stream")?,
        include_usage,
    })
}

fn parse_prompt(v: Option<&Value>) -> Result<Prompt, ApiError> {
    let bad = || {
        ApiError::bad(
            "'prompt' must be a string, a list of token ids, or a one-element list of either",
            "prompt",
        )
    };
    match v {
        None | Some(Value::Null) => Err(ApiError::bad("'prompt' is required", "prompt")),
        Some(Value::String(s)) => Ok(Prompt::Text(s.clone())),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(ApiError::bad("'prompt' must not be empty", "prompt"))
        }
        Some(Value::Array(items)) => {
            if items.len() == 1 && (items[0].is_string() || items[0].is_array()) {
                return parse_prompt(Some(&items[0]));
            }
            items
                .iter()
                .map(|t| t.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect::<Option<Vec<u32>>>()
                .map(Prompt::TokenIds)
                .ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

fn parse_messages(v: Option<&Value>) -> Result<Prompt, ApiError> {
    let Some(Value::Array(msgs)) = v else {
        return Err(ApiError::bad(
            "'messages' is required and must be a list",
            "messages",
        ));
    };
    if msgs.is_empty() {
        return Err(ApiError::bad("'messages' must not be empty", "messages"));
    }
    let mut out = Vec::with_capacity(msgs.len());
    for (i, m) in msgs.iter().enumerate() {
        if !m.get("role").is_some_and(Value::is_string) {
            return Err(ApiError::bad(
                format!("messages[{i}]: 'role' is required"),
                "messages",
            ));
        }
        let text = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(v) => {
                return Err(ApiError::bad(
                    format!(
                        "messages[{i}]: 'content' must be a string or a list of parts, got {v}"
                    ),
                    "messages",
                ));
            }
        };
        out.push(text);
    }
    Ok(Prompt::Messages(out))
}

/// Identity and bookkeeping of one response.
pub(crate) struct Ids<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
}

pub(crate) fn usage(prompt: u32, completion: u32) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

/// A streamed chunk carrying `text` (as reasoning when `reasoning`), or the
/// final chunk when `finish` is set.
pub(crate) fn chunk(
    endpoint: Endpoint,
    ids: &Ids,
    text: &str,
    reasoning: bool,
    finish: Option<&str>,
) -> Value {
    match endpoint {
        Endpoint::Completions => json!({
            "id": ids.id, "object": "text_completion", "created": ids.created, "model": ids.model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}],
        }),
        Endpoint::Chat => {
            let delta = if reasoning {
                json!({"reasoning_content": text})
            } else {
                json!({"content": text})
            };
            json!({
                "id": ids.id, "object": "chat.completion.chunk", "created": ids.created, "model": ids.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            })
        }
    }
}

/// The first chat chunk: the role, with empty content (as vLLM sends it).
pub(crate) fn role_chunk(ids: &Ids) -> Value {
    json!({
        "id": ids.id, "object": "chat.completion.chunk", "created": ids.created, "model": ids.model,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}],
    })
}

/// The usage-only chunk sent last when `stream_options.include_usage` is set.
pub(crate) fn usage_chunk(endpoint: Endpoint, ids: &Ids, prompt: u32, completion: u32) -> Value {
    let object = match endpoint {
        Endpoint::Completions => "text_completion",
        Endpoint::Chat => "chat.completion.chunk",
    };
    json!({"id": ids.id, "object": object, "created": ids.created, "model": ids.model, "choices": [], "usage": usage(prompt, completion)})
}

/// A whole non-streamed response.
pub(crate) fn full_response(
    endpoint: Endpoint,
    ids: &Ids,
    reasoning: &str,
    text: &str,
    finish: &str,
    prompt: u32,
    completion: u32,
) -> Value {
    match endpoint {
        Endpoint::Completions => json!({
            "id": ids.id, "object": "text_completion", "created": ids.created, "model": ids.model,
            "choices": [{"index": 0, "text": format!("{reasoning}{text}"), "logprobs": null, "finish_reason": finish}],
            "usage": usage(prompt, completion),
        }),
        Endpoint::Chat => {
            let mut message = json!({"role": "assistant", "content": text});
            if !reasoning.is_empty() {
                message["reasoning_content"] = Value::String(reasoning.to_string());
            }
            json!({
                "id": ids.id, "object": "chat.completion", "created": ids.created, "model": ids.model,
                "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
                "usage": usage(prompt, completion),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(endpoint: Endpoint, body: &str) -> Result<GenRequest, ApiError> {
        parse(endpoint, body.as_bytes(), "m")
    }

    #[test]
    fn parses_completion_fields() {
        let r = p(Endpoint::Completions, r#"{"model":"m","prompt":[1,2,3],"max_tokens":8,"min_tokens":2,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true},"temperature":0.0}"#).expect("valid");
        assert_eq!(r.prompt, Prompt::TokenIds(vec![1, 2, 3]));
        assert_eq!(
            (
                r.max_tokens,
                r.min_tokens,
                r.ignore_eos,
                r.stream,
                r.include_usage
            ),
            (Some(8), 2, true, true, true)
        );
        let r = p(Endpoint::Completions, r#"{"prompt":["hello world"]}"#).expect("valid");
        assert_eq!(r.prompt, Prompt::Text("hello world".into()));
    }

    #[test]
    fn parses_chat_messages_and_max_completion_tokens() {
        let r = p(Endpoint::Chat, r#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":5}"#).expect("valid");
        assert_eq!(
            r.prompt,
            Prompt::Messages(vec!["be brief".into(), "hi".into()])
        );
        assert_eq!(r.max_tokens, Some(5));
    }

    #[test]
    fn errors_like_a_real_server() {
        let e =
            p(Endpoint::Completions, r#"{"model":"other","prompt":"x"}"#).expect_err("wrong model");
        assert_eq!(e.status, 404);
        assert_eq!(
            e.body["error"]["message"],
            "The model `other` does not exist."
        );
        for (body, param) in [
            (r#"{"model":"m"}"#, "prompt"),
            (
                r#"{"model":"m","prompt":"x","max_tokens":-1}"#,
                "max_tokens",
            ),
            (r#"{"model":"m","prompt":"x","max_tokens":0}"#, "max_tokens"),
            (
                r#"{"model":"m","prompt":"x","max_tokens":2,"min_tokens":3}"#,
                "min_tokens",
            ),
            (r#"{"model":"m","prompt":"x","stream":"yes"}"#, "stream"),
            (r#"{"model":"m","prompt":{"a":1}}"#, "prompt"),
        ] {
            let e = p(Endpoint::Completions, body).expect_err(body);
            assert_eq!(
                (e.status, e.body["error"]["param"].as_str()),
                (400, Some(param)),
                "{body}"
            );
            assert_eq!(e.body["error"]["type"], "BadRequestError");
        }
        assert_eq!(
            p(Endpoint::Chat, r#"{"model":"m"}"#)
                .expect_err("no messages")
                .status,
            400
        );
        assert_eq!(
            p(Endpoint::Chat, "not json").expect_err("bad json").status,
            400
        );
    }
}
