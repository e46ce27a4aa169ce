//! `infmax sim`: an OpenAI-compatible inference server that simulates an
//! engine, with exact timing (fixed schedule) or a continuous-batching model,
//! and injectable faults. See docs/simulator.md.
//!
//! Long (about 470 lines) because it is the server's wiring - listener,
//! routes, the truth endpoints - over the parts in its submodules.

pub(crate) mod api;
pub(crate) mod clock;
pub(crate) mod engine;
pub(crate) mod faults;
pub(crate) mod stream;
pub(crate) mod truth;

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;
use api::{ApiError, Endpoint, Prompt};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engine::{EngineParams, Generator};
use faults::{Fault, FaultConfig, Faults};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stream::Generation;
use truth::{RequestTruth, Truth};

/// How tokens are timed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Timing {
    /// Token k at (request read) + ttft + k·itl, independent of load.
    Fixed { ttft: Duration, itl: Duration },
    /// Continuous batching (see [`engine::EngineModel`]).
    Model(EngineParams),
}

#[derive(Debug, Clone)]
pub(crate) struct SimOptions {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) served_model_name: String,
    pub(crate) max_model_len: u32,
    pub(crate) timing: Timing,
    pub(crate) reasoning_tokens: u32,
    pub(crate) tokenizer: Option<String>,
    pub(crate) faults: FaultConfig,
    /// Not healthy (503 everywhere) for this long after start.
    pub(crate) slow_start: Duration,
    /// Exit after this many completed requests.
    pub(crate) exit_after: Option<u64>,
    /// Tokio worker threads.
    pub(crate) workers: usize,
    /// Seeds the end-of-sequence draw for requests without `ignore_eos`.
    pub(crate) seed: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) prompt_tokens: AtomicU64,
    pub(crate) generation_tokens: AtomicU64,
    pub(crate) success: AtomicU64,
    pub(crate) injected: AtomicU64,
}

/// Shared server state.
pub(crate) struct Sim {
    pub(crate) opts: SimOptions,
    pub(crate) generator: Generator,
    faults: Faults,
    pub(crate) truth: Truth,
    tokenizer: Option<Tokenizer>,
    started: Instant,
    requests: AtomicU64,
    completed: AtomicU64,
    pub(crate) counters: Counters,
    eos_rng: Mutex<StdRng>,
    /// Told when `exit_after` requests have completed; `serve` then stops
    /// at once, as a crashed server would.
    stop: tokio::sync::Notify,
}

impl Sim {
    pub(crate) fn new(opts: SimOptions) -> Result<Sim> {
        let tokenizer = opts.tokenizer.as_deref().map(Tokenizer::load).transpose()?;
        let generator = match opts.timing {
            Timing::Fixed { ttft, itl } => Generator::fixed(ttft, itl),
            Timing::Model(p) => Generator::model(p),
        };
        Ok(Sim {
            generator,
            faults: Faults::new(opts.faults.clone()),
            truth: Truth::new(),
            tokenizer,
            started: Instant::now(),
            requests: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            counters: Counters::default(),
            eos_rng: Mutex::new(StdRng::seed_from_u64(opts.seed)),
            opts,
            stop: tokio::sync::Notify::new(),
        })
    }

    fn starting(&self) -> bool {
        self.started.elapsed() < self.opts.slow_start
    }

    /// Prompt tokens: exact with a tokenizer or token ids; otherwise about
    /// one token per 4 bytes of text (plus 4 per chat message for the template).
    fn count_prompt(&self, p: &Prompt) -> Result<u32, ApiError> {
        let count = |text: &str| -> Result<usize, ApiError> {
            match &self.tokenizer {
                Some(t) => t
                    .count(text)
                    .map_err(|e| ApiError::new(500, e.to_string(), None)),
                None => Ok(text.len().div_ceil(4)),
            }
        };
        let n = match p {
            Prompt::TokenIds(ids) => ids.len(),
            Prompt::Text(t) => count(t)?,
            Prompt::Messages(m) => {
                let mut n = 0;
                for text in m {
                    n += count(text)? + 4;
                }
                n
            }
        };
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Called when a request completes; at `exit_after` it tells `serve`
    /// to stop (a moment later, so the last response reaches the client).
    fn finished_one(self: &Arc<Self>) {
        let n = self.completed.fetch_add(1, Relaxed) + 1;
        if self.opts.exit_after == Some(n) {
            let sim = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                sim.stop.notify_one();
            });
        }
    }
}

fn json_response(status: u16, v: &serde_json::Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn error_response(e: ApiError) -> Response {
    json_response(e.status, &e.body)
}

fn unavailable() -> Response {
    error_response(ApiError::new(
        503,
        "The server is starting up (--slow-start).",
        None,
    ))
}

/// When the request's head was parsed, before its body was read: the
/// schedule and the truth record count from here, as a client counts from its
/// send. (Reading and parsing a burst of large bodies takes the server
/// milliseconds; that time is the server's, not the client's.)
#[derive(Clone, Copy)]
struct Arrived(Instant);

async fn stamp_arrival(mut req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    req.extensions_mut().insert(Arrived(Instant::now()));
    next.run(req).await
}

async fn completions(
    State(sim): State<Arc<Sim>>,
    Extension(Arrived(arrived)): Extension<Arrived>,
    body: Bytes,
) -> Response {
    generate(sim, Endpoint::Completions, &body, arrived).await
}

async fn chat(
    State(sim): State<Arc<Sim>>,
    Extension(Arrived(arrived)): Extension<Arrived>,
    body: Bytes,
) -> Response {
    generate(sim, Endpoint::Chat, &body, arrived).await
}

async fn generate(sim: Arc<Sim>, endpoint: Endpoint, body: &[u8], arrived: Instant) -> Response {
    if sim.starting() {
        return unavailable();
    }
    let req = match api::parse(endpoint, body, &sim.opts.served_model_name) {
        Ok(r) => r,
        Err(e) => return error_response(e),
    };
    let n = sim.requests.fetch_add(1, Relaxed) + 1;
    let fault = sim.faults.draw(n);
    if let Some(Fault::Status(code)) = fault {
        sim.counters.injected.fetch_add(1, Relaxed);
        let msg = match code {
            429 => "Too many requests (injected fault).",
            503 => "Service temporarily unavailable (injected fault).",
            _ => "Internal server error (injected fault).",
        };
        return error_response(ApiError::new(code, msg, None));
    }
    if fault.is_some() {
        sim.counters.injected.fetch_add(1, Relaxed);
    }
    let prompt_tokens = match sim.count_prompt(&req.prompt) {
        Ok(n) => n,
        Err(e) => return error_response(e),
    };
    let limit = sim.opts.max_model_len;
    let max_tokens = match (req.max_tokens, endpoint) {
        (Some(m), _) => m,
        (None, Endpoint::Completions) => 16,
        (None, Endpoint::Chat) => limit.saturating_sub(prompt_tokens).max(1),
    };
    if u64::from(prompt_tokens) + u64::from(max_tokens) > u64::from(limit) {
        return error_response(ApiError::bad(
            format!(
                "This model's maximum context length is {limit} tokens. However, you requested {} tokens ({prompt_tokens} in the messages, {max_tokens} in the completion). Please reduce the length of the messages or completion.",
                u64::from(prompt_tokens) + u64::from(max_tokens)
            ),
            "max_tokens",
        ));
    }
    // Without ignore_eos the sequence ends at a seeded point, never before min_tokens.
    let planned = if fault == Some(Fault::Empty) {
        0
    } else if req.ignore_eos {
        max_tokens
    } else {
        let lo = req.min_tokens.max(1).min(max_tokens);
        sim.eos_rng
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .random_range(lo..=max_tokens)
    };
    let finish = if planned == max_tokens {
        "length"
    } else {
        "stop"
    };
    sim.counters
        .prompt_tokens
        .fetch_add(u64::from(prompt_tokens), Relaxed);
    sim.generator.stream_started();
    let rx = sim.generator.submit(arrived, prompt_tokens, planned);
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let prefix = if endpoint == Endpoint::Chat {
        "chatcmpl"
    } else {
        "cmpl"
    };
    let g = Generation {
        endpoint,
        id: format!("{prefix}-{n}"),
        created,
        rx: Some(rx),
        planned,
        reasoning: sim.opts.reasoning_tokens,
        finish,
        include_usage: req.include_usage,
        fault: fault.filter(|_| req.stream),
        truth: RequestTruth {
            arrived,
            sent: Vec::new(),
            due: Vec::new(),
            prompt_tokens,
            complete: false,
        },
        sim,
    };
    if req.stream {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(g.into_sse()))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    } else {
        json_response(200, &g.whole().await)
    }
}

async fn health(State(sim): State<Arc<Sim>>) -> Response {
    if sim.starting() {
        unavailable()
    } else {
        StatusCode::OK.into_response()
    }
}

async fn models(State(sim): State<Arc<Sim>>) -> Response {
    if sim.starting() {
        return unavailable();
    }
    let name = &sim.opts.served_model_name;
    json_response(
        200,
        &serde_json::json!({"object": "list", "data": [{
            "id": name, "object": "model", "created": 0, "owned_by": "infmax-sim", "root": name,
            "max_model_len": sim.opts.max_model_len,
        }]}),
    )
}

async fn metrics(State(sim): State<Arc<Sim>>) -> Response {
    let m = &sim.opts.served_model_name;
    let c = &sim.counters;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{model_name=\"{m}\"}} {value}"
        );
    };
    metric(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        sim.generator.running(),
    );
    metric(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        sim.generator.waiting(),
    );
    metric(
        "vllm:prompt_tokens_total",
        "counter",
        "Number of prefill tokens processed.",
        c.prompt_tokens.load(Relaxed),
    );
    metric(
        "vllm:generation_tokens_total",
        "counter",
        "Number of generation tokens processed.",
        c.generation_tokens.load(Relaxed),
    );
    metric(
        "vllm:request_success_total",
        "counter",
        "Count of successfully processed requests.",
        c.success.load(Relaxed),
    );
    metric(
        "infmax_sim_injected_faults_total",
        "counter",
        "Requests given an injected fault.",
        c.injected.load(Relaxed),
    );
    metric(
        "infmax_sim_late_tokens_total",
        "counter",
        "Tokens (fixed schedule) or steps (engine model) the machine delivered more than 1 ms late.",
        sim.generator.late_tokens(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

async fn sim_stats(State(sim): State<Arc<Sim>>) -> Response {
    json_response(
        200,
        &serde_json::to_value(sim.truth.stats()).unwrap_or_default(),
    )
}

async fn sim_requests(State(sim): State<Arc<Sim>>) -> Response {
    json_response(
        200,
        &serde_json::to_value(sim.truth.rows()).unwrap_or_default(),
    )
}

async fn sim_reset(State(sim): State<Arc<Sim>>) -> Response {
    sim.truth.reset();
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/v1/completions", post(completions))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/sim/stats", get(sim_stats))
        .route("/sim/requests", get(sim_requests))
        .route("/sim/reset", post(sim_reset))
        .layer(axum::middleware::from_fn(stamp_arrival))
        .with_state(sim)
}

/// How the simulator stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// SIGINT or SIGTERM: in-flight responses were finished.
    Signal,
    /// After this many completed requests (`exit_after`): stopped at once,
    /// connections cut, as a crashed server.
    ExitAfter(u64),
}

/// What the simulator prints on stderr before its address once it listens:
/// `infmax run` reads the address from it.
pub(crate) const ANNOUNCEMENT: &str = "infmax sim: listening on http://";

/// Binds, announces the address on stderr, and serves until SIGINT/SIGTERM
/// or `exit_after` completed requests.
pub(crate) async fn serve(opts: SimOptions) -> Result<Stopped> {
    use axum::serve::ListenerExt;
    let addr = format!("{}:{}", opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| Error::env(format!("infmax sim: cannot listen on {addr}: {e}")))?;
    let local: SocketAddr = listener
        .local_addr()
        .map_err(|e| Error::env(format!("infmax sim: {e}")))?;
    let mode = match opts.timing {
        Timing::Fixed { ttft, itl } => format!("fixed schedule: ttft {:?}, itl {:?}", ttft, itl),
        Timing::Model(p) => format!(
            "engine model: max-num-seqs {}, prefill {} tok/s, decode step {} + {}*batch ms",
            p.max_num_seqs, p.prefill_tps, p.decode_base_ms, p.decode_per_seq_ms
        ),
    };
    let sim = Arc::new(Sim::new(opts)?);
    eprintln!(
        "{ANNOUNCEMENT}{local} (model {}; {mode})",
        sim.opts.served_model_name
    );
    let listener = listener.tap_io(|tcp| {
        // Tokens must leave as soon as they are written.
        let _ = tcp.set_nodelay(true);
    });
    let exit_after = Arc::clone(&sim);
    let served = axum::serve(listener, router(sim)).with_graceful_shutdown(shutdown_signal());
    tokio::select! {
        r = served => r
            .map(|()| Stopped::Signal)
            .map_err(|e| Error::env(format!("infmax sim: server error: {e}"))),
        () = exit_after.stop.notified() => {
            Ok(Stopped::ExitAfter(exit_after.completed.load(Relaxed)))
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Runs the simulator on its own runtime (the `infmax sim` command). The
/// runtime ends with it: every connection still open is cut.
pub(crate) fn run(opts: SimOptions) -> Result<Stopped> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| Error::env(format!("cannot start the async runtime: {e}")))?;
    let stopped = rt.block_on(serve(opts));
    rt.shutdown_background();
    stopped
}
