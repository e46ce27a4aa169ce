//! One benchmark request: the body for the backend, and reading its SSE
//! stream as it arrives, timestamping every token-bearing chunk. This is the
//! I/O path: it does I/O, parsing of small chunks and timestamps, nothing else.
//! (About 400 lines: one request from body to last chunk, kept in one place.)

use futures_util::StreamExt;
use serde::Deserialize;
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ErrorKind {
    /// Could not connect (refused, unreachable).
    Connect,
    /// Non-200 answer.
    Http(u16),
    /// `--request-timeout` passed.
    Timeout,
    /// The stream broke or ended before the answer finished.
    Disconnected,
    /// A chunk that is not valid JSON.
    MalformedEvent,
    /// The server put an `error` in the stream.
    ServerError,
    /// The answer carried no token.
    EmptyCompletion,
    /// The run was aborted (the server process died).
    Aborted,
    /// The client failed inside (a bug): the request is counted, never lost.
    Internal,
}

impl ErrorKind {
    pub(crate) fn key(&self) -> String {
        match self {
            ErrorKind::Connect => "connect".into(),
            ErrorKind::Http(c) => format!("http_{c}"),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::Disconnected => "disconnected".into(),
            ErrorKind::MalformedEvent => "malformed_event".into(),
            ErrorKind::ServerError => "server_error".into(),
            ErrorKind::EmptyCompletion => "empty_completion".into(),
            ErrorKind::Aborted => "aborted".into(),
            ErrorKind::Internal => "client_internal".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
}

/// Everything measured about one request.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestRecord {
    pub(crate) index: usize,
    /// When the arrival process scheduled it, since the start of the phase.
    pub(crate) scheduled: Duration,
    /// When it was free to go (scheduled, and a concurrency slot free).
    pub(crate) ready: Option<Instant>,
    /// When the request was handed to the connection.
    pub(crate) sent: Option<Instant>,
    pub(crate) prompt_len: u32,
    pub(crate) target_len: u32,
    /// The output tokens asked for (max_tokens); 0 when not known.
    pub(crate) max_tokens: u32,
    /// Time to the first token-bearing chunk, from `sent`.
    pub(crate) ttft: Option<Duration>,
    /// Gaps between consecutive token-bearing chunks, in milliseconds
    /// (f32: 4 bytes a token, relative precision 6e-8; a run keeps one per
    /// token streamed).
    pub(crate) itl: Vec<f32>,
    /// Time to the last token-bearing chunk, from `sent`.
    pub(crate) e2el: Option<Duration>,
    pub(crate) finished_at: Option<Instant>,
    pub(crate) answer_chunks: u32,
    pub(crate) reasoning_chunks: u32,
    pub(crate) usage_prompt: Option<u32>,
    pub(crate) usage_completion: Option<u32>,
    pub(crate) answer: String,
    pub(crate) reasoning: String,
    pub(crate) error: Option<Failure>,
    /// The stream ended with a finish reason but without `data: [DONE]`.
    pub(crate) missing_done: bool,
    /// Sends repeated because a reused connection had been closed.
    pub(crate) send_retries: u32,
}

impl RequestRecord {
    pub(crate) fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The server's `usage.completion_tokens`, unless it exceeds what was
    /// asked for: a server cannot honestly send more than max_tokens, and a
    /// garbage count would be published as throughput.
    pub(crate) fn plausible_usage(&self) -> Option<u32> {
        self.usage_completion
            .filter(|&u| self.max_tokens == 0 || u <= self.max_tokens)
    }
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    /// Newer vLLM name for reasoning text.
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
}

fn fail(rec: &mut RequestRecord, kind: ErrorKind, detail: impl Into<String>) {
    if rec.error.is_none() {
        rec.error = Some(Failure {
            kind,
            detail: detail.into(),
        });
    }
}

fn classify(e: &reqwest::Error) -> ErrorKind {
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Disconnected
    }
}

/// A request body that notes when the HTTP stack first asks for it: the
/// moment the request goes onto its connection (the head is written with
/// it). That is the send time; the task's start can be earlier by however long
/// a burst of requests queues in the client, which is not the server's time.
struct TimedBody {
    data: Option<bytes::Bytes>,
    first_poll: std::sync::Arc<std::sync::OnceLock<Instant>>,
}

impl TimedBody {
    fn new(data: bytes::Bytes) -> (Self, std::sync::Arc<std::sync::OnceLock<Instant>>) {
        let first_poll = std::sync::Arc::new(std::sync::OnceLock::new());
        let body = TimedBody {
            data: Some(data),
            first_poll: first_poll.clone(),
        };
        (body, first_poll)
    }
}

impl http_body::Body for TimedBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let _ = self.first_poll.set(Instant::now());
        std::task::Poll::Ready(self.data.take().map(|d| Ok(http_body::Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

/// The pooled client the run uses, and one that always opens a new
/// connection, for the one resend after a stale pooled connection.
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) pooled: reqwest::Client,
    pub(crate) fresh: reqwest::Client,
    /// The API key sent as `authorization: Bearer …`.
    pub(crate) bearer: Option<String>,
}

/// How requests reach the server: plain `http://` without a proxy goes
/// through the benchmark's own HTTP/1 client (the answer read in the task
/// that sent it); TLS or a proxy through reqwest.
#[derive(Clone)]
pub(crate) enum Transport {
    Direct(std::sync::Arc<super::http1::Pool>),
    Library(Clients),
}

/// The proxy variables reqwest obeys for `http://` URLs.
const HTTP_PROXY_VARS: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];

/// `OPENAI_API_KEY`, sent as `authorization: Bearer …` as the seed's
/// client sends it (servers started with `--api-key` refuse requests
/// without it). Refused when a header cannot carry it: a line break in it
/// would add headers of its own.
fn api_key() -> crate::error::Result<Option<String>> {
    let Some(key) = std::env::var_os("OPENAI_API_KEY").filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    match key.into_string() {
        Ok(k) if k.bytes().all(|b| (0x21..=0x7e).contains(&b)) => Ok(Some(k)),
        _ => Err(crate::error::Error::usage(
            "OPENAI_API_KEY holds a space, line break, control or non-ASCII character, which an authorization header cannot carry",
        )),
    }
}

/// A proxy is set for `http://`: reqwest goes through it (and honours
/// `NO_PROXY`), as the seed's aiohttp client does.
fn proxied() -> bool {
    HTTP_PROXY_VARS
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

impl Transport {
    pub(crate) fn for_url(
        url: &str,
        library: impl FnOnce() -> crate::error::Result<Clients>,
    ) -> crate::error::Result<Transport> {
        let bearer = api_key()?;
        match super::http1::Pool::for_url(url, bearer.as_deref()) {
            Some(pool) if !proxied() => Ok(Transport::Direct(pool)),
            _ => Ok(Transport::Library(Clients {
                bearer,
                ..library()?
            })),
        }
    }

    /// The HTTP client, as the result's `client_cost.http_client` names it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Transport::Direct(_) => "infmax-http1",
            Transport::Library(_) => "reqwest",
        }
    }

    /// Opens up to `n` connections before measuring, so the first burst
    /// does not pay for them: `n` requests to `/v1/models` at once, each
    /// on a connection of its own, read to the end so the connection is
    /// pooled. A request, not a bare connect: a connection the server has
    /// not accepted yet would be accepted during the first burst, and
    /// that wait would count as its requests' TTFT. One that fails is
    /// simply not there; a request then opens its own.
    pub(crate) async fn open(&self, n: usize, models_url: &str) {
        let path = reqwest::Url::parse(models_url)
            .map_or_else(|_| "/v1/models".to_string(), |u| u.path().to_string());
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let answer = match self {
                Transport::Direct(pool) => {
                    let (pool, path) = (std::sync::Arc::clone(pool), path.clone());
                    futures_util::future::Either::Left(async move {
                        pool.get(&path).await.ok().map(Answer::Direct)
                    })
                }
                Transport::Library(c) => {
                    let mut req = c.pooled.get(models_url);
                    if let Some(k) = &c.bearer {
                        req = req.bearer_auth(k);
                    }
                    futures_util::future::Either::Right(async move {
                        req.send().await.ok().map(|r| Answer::Library {
                            stream: r.bytes_stream().boxed(),
                            held: bytes::Bytes::new(),
                        })
                    })
                }
            };
            set.spawn(async move {
                if let Some(mut answer) = answer.await {
                    answer.drain().await;
                }
            });
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while set.join_next().await.is_some() {}
        })
        .await;
    }

    /// One attempt: when the request went onto its connection, the status
    /// and the answer; or why not, and whether it may be sent once more
    /// (it failed before any answer, so the server never took it).
    async fn send(
        &self,
        url: &str,
        body: &bytes::Bytes,
        fresh: bool,
    ) -> Result<(Instant, u16, Answer), (ErrorKind, String, bool)> {
        let clients = match self {
            Transport::Direct(pool) => {
                return match pool.send(body, fresh).await {
                    Ok((sent, r)) => Ok((sent, r.status, Answer::Direct(r))),
                    Err(e @ super::http1::SendError::Connect(_)) => {
                        Err((ErrorKind::Connect, e.to_string(), false))
                    }
                    Err(e) => Err((ErrorKind::Disconnected, e.to_string(), true)),
                };
            }
            Transport::Library(c) => c,
        };
        let started = Instant::now();
        let (timed, first_poll) = TimedBody::new(body.clone());
        let client = if fresh {
            &clients.fresh
        } else {
            &clients.pooled
        };
        let mut send = client.post(url);
        if let Some(k) = &clients.bearer {
            send = send.bearer_auth(k);
        }
        let send = send
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "text/event-stream")
            // Stated outright, so no stack falls back to chunked encoding.
            .header(reqwest::header::CONTENT_LENGTH, body.len())
            .body(reqwest::Body::wrap(timed))
            .send();
        match send.await {
            Ok(r) => {
                // Written by the time an answer came; `started` only if the
                // stack answered without asking for the body.
                let sent = first_poll.get().copied().unwrap_or(started);
                let status = r.status().as_u16();
                Ok((
                    sent,
                    status,
                    Answer::Library {
                        stream: r.bytes_stream().boxed(),
                        held: bytes::Bytes::new(),
                    },
                ))
            }
            Err(e) => Err((
                classify(&e),
                e.to_string(),
                !e.is_timeout() && !e.is_connect(),
            )),
        }
    }
}

/// An answer being read, from either transport.
enum Answer {
    Direct(super::http1::Response),
    Library {
        stream: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
        held: bytes::Bytes,
    },
}

impl Answer {
    /// Reads what is left after `[DONE]` (the closing chunk), so the
    /// connection goes back to the pool; off the request's path when it
    /// has not arrived yet. reqwest does this in its connection task; a
    /// connection that will not be reused is closed now.
    fn release(mut self, deadline: Instant) {
        use futures_util::FutureExt;
        if !matches!(&self, Answer::Direct(r) if r.reusable()) {
            return;
        }
        for _ in 0..64 {
            match self.next().now_or_never() {
                Some(Ok(Some(_))) => {}
                Some(_) => return,
                None => break,
            }
        }
        tokio::spawn(async move {
            let _ = tokio::time::timeout_at(deadline.into(), self.drain()).await;
        });
    }

    /// Reads to the end, so the connection goes back to the pool; but not
    /// an endless body (a hostile server would hold the run for the whole
    /// timeout): at most 1 MiB.
    async fn drain(&mut self) {
        let mut read = 0;
        while let Ok(Some(b)) = self.next().await {
            read += b.len();
            if read > 1 << 20 {
                break;
            }
        }
    }

    /// The next bytes of the body; `None` at its end.
    async fn next(&mut self) -> Result<Option<&[u8]>, String> {
        match self {
            Answer::Direct(r) => r.chunk().await,
            Answer::Library { stream, held } => match stream.next().await {
                None => Ok(None),
                Some(Err(e)) => Err(e.to_string()),
                Some(Ok(b)) => {
                    *held = b;
                    Ok(Some(&held[..]))
                }
            },
        }
    }
}

/// Sends `body` to `url` and reads the answer. The record comes back filled
/// in, failed or not; this never panics on what the server sends.
pub(crate) async fn run(
    transport: &Transport,
    url: &str,
    body: bytes::Bytes,
    timeout: Duration,
    mut rec: RequestRecord,
) -> RequestRecord {
    // A pooled keep-alive connection the server has just closed fails the
    // send before any byte of an answer: the server never saw the request,
    // so it is sent once more on a new connection (not another pooled one
    // that may be dead too), timed from there.
    let mut attempt = 0;
    let (sent, deadline, status, mut answer) = loop {
        let started = Instant::now();
        rec.sent = Some(started);
        let deadline = started + timeout;
        let send = transport.send(url, &body, attempt > 0);
        match tokio::time::timeout_at(deadline.into(), send).await {
            Err(_) => {
                fail(
                    &mut rec,
                    ErrorKind::Timeout,
                    format!("no response within {timeout:?}"),
                );
                return rec;
            }
            Ok(Err((_, _, true))) if attempt == 0 => {
                attempt += 1;
                rec.send_retries += 1;
            }
            Ok(Err((kind, detail, _))) => {
                fail(&mut rec, kind, detail);
                return rec;
            }
            Ok(Ok((sent, status, answer))) => {
                rec.sent = Some(sent);
                break (sent, deadline, status, answer);
            }
        }
    };
    drop(body);
    if !(200..300).contains(&status) {
        // Only the start of the body: an error page may be endless.
        let mut head = Vec::new();
        let _ = tokio::time::timeout_at(deadline.into(), async {
            while head.len() < 4096 {
                match answer.next().await {
                    Ok(Some(b)) => head.extend_from_slice(b),
                    _ => break,
                }
            }
        })
        .await;
        let text = String::from_utf8_lossy(&head);
        let detail: String = text.chars().take(300).collect();
        fail(&mut rec, ErrorKind::Http(status), detail);
        return rec;
    }
    let mut parser = super::sse::Parser::default();
    let mut events = std::collections::VecDeque::new();
    let mut ended = false;
    let mut last: Option<Instant> = None;
    let mut done = false;
    let mut finished = false;
    // One timer for the whole stream, not one per chunk.
    let expiry = tokio::time::sleep_until(deadline.into());
    tokio::pin!(expiry);
    loop {
        let Some(next) = events.pop_front() else {
            if ended {
                break;
            }
            tokio::select! {
                biased;
                chunk = answer.next() => match chunk {
                    Ok(None) => {
                        ended = true;
                        parser.finish(&mut events);
                    }
                    Err(e) => {
                        fail(&mut rec, ErrorKind::Disconnected, e);
                        break;
                    }
                    Ok(Some(bytes)) => {
                        if let Err(e) = parser.feed(bytes, &mut events) {
                            fail(&mut rec, ErrorKind::MalformedEvent, e);
                            break;
                        }
                    }
                },
                () = &mut expiry => {
                    fail(&mut rec, ErrorKind::Timeout, format!("stream not finished within {timeout:?}"));
                    break;
                }
            }
            continue;
        };
        let now = Instant::now();
        let data = next.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            done = true;
            break;
        }
        let chunk: Chunk = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                let sample: String = data.chars().take(120).collect();
                fail(
                    &mut rec,
                    ErrorKind::MalformedEvent,
                    format!("{e}: {sample}"),
                );
                break;
            }
        };
        if let Some(err) = chunk.error {
            fail(&mut rec, ErrorKind::ServerError, err.to_string());
            break;
        }
        if let Some(u) = chunk.usage {
            rec.usage_prompt = u.prompt_tokens.or(rec.usage_prompt);
            rec.usage_completion = u.completion_tokens.or(rec.usage_completion);
        }
        for choice in chunk.choices {
            let (answer, reasoning) = match &choice.delta {
                Some(d) => (
                    d.content.as_deref(),
                    d.reasoning_content.as_deref().or(d.reasoning.as_deref()),
                ),
                None => (choice.text.as_deref(), None),
            };
            let answer = answer.filter(|s| !s.is_empty());
            let reasoning = reasoning.filter(|s| !s.is_empty());
            if answer.is_some() || reasoning.is_some() {
                match last {
                    None => rec.ttft = Some(now - sent),
                    Some(prev) => rec.itl.push((now - prev).as_secs_f64() as f32 * 1e3),
                }
                last = Some(now);
                if let Some(r) = reasoning {
                    rec.reasoning.push_str(r);
                    rec.reasoning_chunks += 1;
                }
                if let Some(a) = answer {
                    rec.answer.push_str(a);
                    rec.answer_chunks += 1;
                }
            }
            if choice.finish_reason.is_some() {
                finished = true;
            }
        }
    }
    rec.finished_at = Some(Instant::now());
    if done && rec.error.is_none() {
        answer.release(deadline);
    }
    if let Some(l) = last {
        rec.e2el = Some(l - sent);
    }
    if rec.error.is_none() {
        if last.is_none() {
            fail(
                &mut rec,
                ErrorKind::EmptyCompletion,
                "the stream carried no token",
            );
        } else if !done && !finished {
            fail(
                &mut rec,
                ErrorKind::Disconnected,
                "the stream ended before a finish reason or [DONE]",
            );
        } else if !done {
            rec.missing_done = true;
        }
    }
    rec
}
