//! The request body a prompt becomes, and when it is made: the first
//! burst's and the warm-ups' ahead, every later one as its request is next
//! to leave (a run never holds every body beside every prompt).

use super::BenchOptions;
use super::dataset::{Prompt, PromptBody};
use crate::error::{Error, Result};

/// A request as the server reads it. Borrowed: the prompt is written
/// straight into the body, not copied through a JSON value first.
#[derive(serde::Serialize)]
struct RequestJson<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<[Message<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<PromptJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    max_tokens: u32,
    stream: bool,
    stream_options: StreamOptions,
    temperature: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignore_eos: bool,
}

#[derive(serde::Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum PromptJson<'a> {
    Text(&'a str),
    TokenIds(&'a [u32]),
}

#[derive(serde::Serialize)]
struct StreamOptions {
    include_usage: bool,
}

pub(super) fn request_body(
    opts: &BenchOptions,
    prompt: &PromptBody,
    output_len: u32,
) -> Result<bytes::Bytes> {
    // Token ids and assembled words become their prompt only now.
    enum Made<'a> {
        Text(std::borrow::Cow<'a, str>),
        Ids(Vec<u32>),
    }
    let made = match prompt {
        PromptBody::Text(t) => Made::Text(t.as_str().into()),
        PromptBody::Words(w) => Made::Text(w.text().into()),
        PromptBody::TokenIds(t) => Made::Ids(t.ids()),
    };
    let model = opts.served_model_name.as_deref().unwrap_or(&opts.model);
    let (messages, prompt, max_completion_tokens) = match (opts.chat, &made) {
        (true, Made::Text(text)) => (
            Some([Message {
                role: "user",
                content: text,
            }]),
            None,
            Some(output_len),
        ),
        (true, Made::Ids(_)) => {
            return Err(Error::usage(
                "token-id prompts need the completions endpoint, not the chat endpoint",
            ));
        }
        (false, Made::Text(t)) => (None, Some(PromptJson::Text(t)), None),
        (false, Made::Ids(ids)) => (None, Some(PromptJson::TokenIds(ids)), None),
    };
    let body = RequestJson {
        model,
        messages,
        prompt,
        max_completion_tokens,
        max_tokens: output_len,
        stream: true,
        stream_options: StreamOptions {
            include_usage: true,
        },
        temperature: 0.0,
        ignore_eos: opts.ignore_eos,
    };
    serde_json::to_vec(&body)
        .map(bytes::Bytes::from)
        .map_err(|e| Error::env(format!("cannot encode a request: {e}")))
}

/// One request to send: its lengths, for its record, and its body.
pub(super) struct Work {
    pub(super) prompt_len: u32,
    pub(super) target_len: u32,
    pub(super) output_len: u32,
    pub(super) body: Body,
}

/// A request body made ahead (the first burst, warm-ups), or from its
/// prompt when the request is next to leave: the bodies of a run are never
/// all in memory beside their prompts.
pub(super) enum Body {
    Ready(bytes::Bytes),
    Later(PromptBody),
}

impl Work {
    pub(super) fn ready(opts: &BenchOptions, p: &Prompt) -> Result<Work> {
        Ok(Work {
            prompt_len: p.prompt_len,
            target_len: p.target_len,
            output_len: p.output_len,
            body: Body::Ready(request_body(opts, &p.body, p.output_len)?),
        })
    }

    pub(super) fn later(p: Prompt) -> Work {
        Work {
            prompt_len: p.prompt_len,
            target_len: p.target_len,
            output_len: p.output_len,
            body: Body::Later(p.body),
        }
    }
}
