//! `infmax bench serve`: a streaming load generator for OpenAI-compatible
//! inference servers, a drop-in for the flags of vLLM's
//! `benchmark_serving.py`, measuring exactly what results.md §1 defines.
//!
//! Workers (one task per request) report a record per request over a
//! channel; one collector aggregates. The I/O path does I/O and timestamps.
//!
//! Long (about 630 lines before its tests) because the run's lifecycle -
//! warm-ups, the measured requests, the server-death watch, the abort that
//! keeps what was measured - is one sequence, read best top to bottom; the
//! parts that stand alone are its submodules.

pub(crate) mod arrival;
mod body;
pub(crate) mod cost;
pub(crate) mod dataset;
mod http1;
pub(crate) mod metrics;
pub(crate) mod progress;
pub(crate) mod protocol;
pub(crate) mod request;
pub(crate) mod result;
pub(crate) mod sse;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::tokenizer::Tokenizer;
use body::{Body, Work, request_body};
use dataset::{DatasetSpec, Prompt};
use metrics::{Metric, RunMetrics, Settings};
use request::{ErrorKind, Failure, RequestRecord};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Vllm,
    Sglang,
    Openai,
    OpenaiChat,
    Trt,
}

impl Backend {
    pub(crate) const NAMES: [&'static str; 5] = ["vllm", "sglang", "openai", "openai-chat", "trt"];

    pub(crate) fn parse(s: &str) -> Option<Backend> {
        match s {
            "vllm" => Some(Backend::Vllm),
            "sglang" => Some(Backend::Sglang),
            "openai" => Some(Backend::Openai),
            "openai-chat" => Some(Backend::OpenaiChat),
            "trt" | "tensorrt-llm" => Some(Backend::Trt),
            _ => None,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Vllm => "vllm",
            Backend::Sglang => "sglang",
            Backend::Openai => "openai",
            Backend::OpenaiChat => "openai-chat",
            Backend::Trt => "trt",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    pub(crate) backend: Backend,
    /// `http://host:port`, no trailing slash.
    pub(crate) base_url: String,
    /// `/v1/completions` or `/v1/chat/completions`.
    pub(crate) endpoint: String,
    /// Send prompts as chat messages (the server applies the chat template).
    pub(crate) chat: bool,
    pub(crate) model: String,
    pub(crate) served_model_name: Option<String>,
    pub(crate) tokenizer: Option<String>,
    /// Send token-id prompts (no tokenizer needed; completions only).
    pub(crate) prompt_token_ids: bool,
    pub(crate) dataset: DatasetSpec,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) request_rate: f64,
    pub(crate) burstiness: f64,
    pub(crate) num_warmups: usize,
    pub(crate) ignore_eos: bool,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) percentiles: Vec<f64>,
    pub(crate) goodput: Vec<(Metric, f64)>,
    pub(crate) result_path: Option<PathBuf>,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) progress: progress::Mode,
    pub(crate) progress_every: Duration,
    pub(crate) server_pid: Option<u32>,
    pub(crate) request_timeout: Duration,
    pub(crate) max_failure_rate: f64,
    /// How the user of this command sends token ids instead of text, for
    /// messages about tokenizers (the commands' flags differ).
    pub(crate) token_ids_hint: &'static str,
}

pub(crate) struct Outcome {
    pub(crate) metrics: RunMetrics,
    pub(crate) summary: String,
    pub(crate) aborted: Option<String>,
}

impl Outcome {
    /// Why the run failed its checks, if it did (the result is written
    /// either way): aborted, nothing completed, or more failed requests
    /// than `max_failure_rate` allows. One policy for `bench serve` and `run`.
    pub(crate) fn verdict(&self, max_failure_rate: f64) -> Option<String> {
        let m = &self.metrics;
        let errors = || {
            m.errors
                .iter()
                .map(|(k, n)| format!("{k} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(why) = &self.aborted {
            return Some(format!(
                "benchmark aborted: {why}; the result keeps what was measured (aborted: true)"
            ));
        }
        let attempted = m.completed + m.failed;
        if m.completed == 0 {
            return Some(format!(
                "no request completed ({} of {attempted} failed: {})",
                m.failed,
                errors()
            ));
        }
        let rate = m.failed as f64 / attempted as f64;
        (rate > max_failure_rate).then(|| {
            format!(
                "{} of {attempted} requests failed ({:.1}%, above the {:.1}% allowed): {}",
                m.failed,
                rate * 100.0,
                max_failure_rate * 100.0,
                errors()
            )
        })
    }
}

/// Whether a process is still alive after looking every 10 ms for up to
/// `ms` milliseconds (once when 0).
async fn alive_after(pid: u32, ms: u64) -> bool {
    for _ in 0..ms / 10 {
        if !process_alive(pid) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    process_alive(pid)
}

/// Whether a process is alive (a zombie counts as dead).
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) if std::path::Path::new("/proc/self").exists() => false,
        Err(_) => {
            // SAFETY: kill with signal 0 only checks for existence.
            let pid = libc::pid_t::try_from(pid).unwrap_or(libc::pid_t::MAX);
            unsafe { libc::kill(pid, 0) == 0 }
        }
    }
}

fn clients() -> Result<request::Clients> {
    let builder = || {
        reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(600))
            .http1_only()
    };
    Ok(request::Clients {
        pooled: crate::http::client(builder().pool_max_idle_per_host(usize::MAX))?,
        fresh: crate::http::client(builder().pool_max_idle_per_host(0))?,
        bearer: None,
    })
}

/// Prepares the dataset and request bodies, then runs the benchmark.
pub(crate) fn run(opts: &BenchOptions) -> Result<Outcome> {
    if let Some(path) = &opts.result_path {
        check_writable(path)?;
    }
    // Which HTTP client, and a bad OPENAI_API_KEY refused, before the
    // prompts are made.
    let url: Arc<str> = Arc::from(format!("{}{}", opts.base_url, opts.endpoint));
    let transport = request::Transport::for_url(&url, clients)?;
    let tokenizer = if opts.prompt_token_ids && opts.tokenizer.is_none() {
        None
    } else {
        let spec = opts.tokenizer.as_deref().unwrap_or(&opts.model);
        Some(Tokenizer::load(spec).map_err(|e| match e {
            Error::Usage(m) => Error::usage(format!(
                "{m}\n(give a tokenizer with --tokenizer PATH, or {})",
                opts.token_ids_hint
            )),
            other => other,
        })?)
    };
    let dataset::Prepared {
        prompts,
        preparation,
    } = dataset::build(&opts.dataset, tokenizer.as_ref()).map_err(|e| match e {
        Error::Usage(m) => Error::usage(format!("{m} ({})", opts.token_ids_hint)),
        other => other,
    })?;
    let num_prompts = prompts.len();
    // A body that cannot be made is the configuration's fault (token ids
    // to the chat endpoint): said before anything is sent.
    if let Some(p) = prompts.first() {
        request_body(opts, &p.body, p.output_len)?;
    }
    let arrivals = arrival::offsets(
        num_prompts,
        opts.request_rate,
        opts.burstiness,
        opts.dataset.seed,
    );
    // One CPU (e.g. pinned with taskset): a single-threaded runtime avoids
    // cross-thread wake-ups on every chunk.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .map_err(|e| Error::env(format!("cannot start the async runtime: {e}")))?;
    let (records, duration, max_in_flight, aborted, cpu) =
        rt.block_on(drive(opts, &transport, &url, prompts, arrivals))?;
    let settings = Settings {
        metrics: &opts.metrics,
        percentiles: &opts.percentiles,
        goodput: &opts.goodput,
    };
    let m = metrics::compute(
        &records,
        duration,
        tokenizer.as_ref(),
        &settings,
        max_in_flight,
    );
    // Without a concurrency cap and with no request rate, every request
    // is in the opening burst.
    let burst = match opts.max_concurrency {
        Some(c) => c,
        None if opts.request_rate.is_infinite() => records.len(),
        None => 0,
    };
    let lag_p99 = cost::steady_lag_p99_ms(&records, burst);
    let cost = cost::ClientCost::assess(
        cpu,
        m.duration,
        cpus,
        m.total_output_tokens,
        lag_p99,
        cost::peak_rss_bytes(),
        transport.name(),
    );
    let tokenizer_id = opts.tokenizer.clone().unwrap_or_else(|| {
        if tokenizer.is_some() {
            opts.model.clone()
        } else {
            String::new()
        }
    });
    let info = result::RunInfo {
        backend: opts.backend.name(),
        model_id: &opts.model,
        tokenizer_id: &tokenizer_id,
        num_prompts,
        max_concurrency: opts.max_concurrency,
        request_rate: opts.request_rate,
        burstiness: opts.burstiness,
        metadata: &opts.metadata,
        aborted: aborted.as_deref(),
        num_warmups: opts.num_warmups,
        cost: &cost,
        preparation: &preparation,
    };
    let result = result::to_json(&info, &m, &result::local_timestamp())
        .map_err(|e| Error::env(format!("cannot encode the result: {e}")))?;
    let summary = result::summary(&info, &m);
    if let Some(path) = &opts.result_path {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::env(format!("cannot create {}: {e}", dir.display())))?;
        }
        let text = serde_json::to_string_pretty(&result)
            .map_err(|e| Error::env(format!("cannot encode the result: {e}")))?;
        fsutil::atomic_write(path, text.as_bytes())
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(Outcome {
        metrics: m,
        summary,
        aborted,
    })
}

/// Records, duration, most requests in flight, why the run was aborted,
/// and the client's CPU time while measuring.
type Driven = (
    Vec<RequestRecord>,
    Duration,
    usize,
    Option<String>,
    Duration,
);

async fn drive(
    opts: &BenchOptions,
    transport: &request::Transport,
    url: &Arc<str>,
    prompts: Vec<Prompt>,
    arrivals: Vec<Duration>,
) -> Result<Driven> {
    let cap = opts
        .max_concurrency
        .unwrap_or(Semaphore::MAX_PERMITS)
        .max(1);
    let (abort_tx, abort_rx) = watch::channel::<Option<String>>(None);
    if let Some(pid) = opts.server_pid {
        let tx = abort_tx.clone();
        tokio::spawn(async move {
            loop {
                if !process_alive(pid) {
                    let _ = tx.send(Some(format!("server process {pid} exited during the run")));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    // Open the connections the run will use before measuring.
    if let Some(c) = opts.max_concurrency {
        let n = c.min(prompts.len()).max(1);
        transport
            .open(n, &format!("{}/v1/models", opts.base_url))
            .await;
    }
    if opts.num_warmups > 0 && !prompts.is_empty() {
        let warm = (0..opts.num_warmups)
            .map(|i| Work::ready(opts, &prompts[i % prompts.len()]))
            .collect::<Result<Vec<_>>>()?;
        let zero = vec![Duration::ZERO; warm.len()];
        let mut prog =
            progress::Progress::new(progress::Mode::Off, warm.len(), opts.progress_every);
        phase(
            transport,
            url,
            opts,
            warm,
            zero,
            cap,
            abort_rx.clone(),
            &mut prog,
        )
        .await;
    }
    // The first burst (up to the cap) leaves at once: its bodies are made
    // now; every later one from its prompt as it is next to leave.
    let mut prog = progress::Progress::new(opts.progress, prompts.len(), opts.progress_every);
    let work = prompts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            if i < cap {
                Work::ready(opts, &p)
            } else {
                Ok(Work::later(p))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let cpu0 = cost::cpu_time();
    let start = Instant::now();
    let (records, max_in_flight) = phase(
        transport,
        url,
        opts,
        work,
        arrivals,
        cap,
        abort_rx.clone(),
        &mut prog,
    )
    .await;
    let duration = records
        .iter()
        .filter_map(|r| r.finished_at)
        .max()
        .map_or(Duration::ZERO, |end| end.saturating_duration_since(start));
    let cpu = cost::cpu_time().saturating_sub(cpu0);
    prog.finish();
    // The watcher looks every 200 ms; requests failing on a dead server can
    // end the run first. One last look, so such a run is never taken as
    // measured. A dying process closes its sockets a moment before it shows
    // as dead: when connections were refused or cut, that look waits up to
    // a second for the process to settle.
    let broken = records.iter().any(|r| {
        r.error
            .as_ref()
            .is_some_and(|f| matches!(f.kind, ErrorKind::Connect | ErrorKind::Disconnected))
    });
    let aborted = match abort_rx.borrow().clone() {
        Some(why) => Some(why),
        None => match opts.server_pid {
            Some(pid) if !alive_after(pid, if broken { 1000 } else { 0 }).await => {
                Some(format!("server process {pid} exited during the run"))
            }
            _ => None,
        },
    };
    Ok((records, duration, max_in_flight, aborted, cpu))
}

/// Sends every request at its arrival offset under the concurrency cap and
/// collects the records (in request order).
#[allow(clippy::too_many_arguments)]
async fn phase(
    client: &request::Transport,
    url: &Arc<str>,
    opts: &BenchOptions,
    work: Vec<Work>,
    arrivals: Vec<Duration>,
    cap: usize,
    mut abort: watch::Receiver<Option<String>>,
    prog: &mut progress::Progress,
) -> (Vec<RequestRecord>, usize) {
    let n = work.len();
    let sem = Arc::new(Semaphore::new(cap));
    let (tx, mut rx) = mpsc::unbounded_channel::<RequestRecord>();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let pending: Vec<(RequestRecord, Body)> = work
        .into_iter()
        .zip(&arrivals)
        .enumerate()
        .map(|(index, (w, at))| {
            let rec = RequestRecord {
                index,
                scheduled: *at,
                prompt_len: w.prompt_len,
                target_len: w.target_len,
                max_tokens: w.output_len,
                ..Default::default()
            };
            (rec, w.body)
        })
        .collect();
    let opts = Arc::new(opts.clone());
    let dispatcher = {
        let (client, url, sem, tx) = (
            client.clone(),
            Arc::clone(url),
            Arc::clone(&sem),
            tx.clone(),
        );
        let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
        let timeout = opts.request_timeout;
        tokio::spawn(async move {
            let mut pending = pending.into_iter();
            for (mut rec, body) in pending.by_ref() {
                // Made before the wait: ready when its turn comes.
                let body = match body {
                    Body::Ready(b) => b,
                    Body::Later(p) => match request_body(&opts, &p, rec.max_tokens) {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = tx.send(internal_failure(rec, &e.to_string()));
                            continue;
                        }
                    },
                };
                let due = start + rec.scheduled;
                let permit = tokio::select! {
                    biased;
                    _ = abort.wait_for(Option::is_some) => { abandon(&tx, rec); break; }
                    p = async {
                        tokio::time::sleep_until(due.into()).await;
                        Arc::clone(&sem).acquire_owned().await
                    } => p,
                };
                let Ok(permit) = permit else {
                    abandon(&tx, rec);
                    break;
                };
                rec.ready = Some(Instant::now());
                let (client, url, tx, in_flight, peak) = (
                    client.clone(),
                    Arc::clone(&url),
                    tx.clone(),
                    Arc::clone(&in_flight),
                    Arc::clone(&peak),
                );
                tokio::spawn(async move {
                    use futures_util::FutureExt;
                    let now = in_flight.fetch_add(1, Relaxed) + 1;
                    peak.fetch_max(now, Relaxed);
                    // A panic inside the request still leaves its record.
                    let template = rec.clone();
                    let run = request::run(&client, &url, body, timeout, rec);
                    let rec = match std::panic::AssertUnwindSafe(run).catch_unwind().await {
                        Ok(rec) => rec,
                        Err(panic) => internal_failure(template, &panic_text(&*panic)),
                    };
                    in_flight.fetch_sub(1, Relaxed);
                    drop(permit);
                    let _ = tx.send(rec);
                });
            }
            for (rec, _) in pending {
                abandon(&tx, rec);
            }
        })
    };
    drop(tx);
    let mut records: Vec<RequestRecord> = Vec::with_capacity(n);
    while let Some(rec) = rx.recv().await {
        let tokens = rec.usage_completion.map_or(
            u64::from(rec.answer_chunks + rec.reasoning_chunks),
            u64::from,
        );
        prog.update(rec.ok(), tokens);
        records.push(rec);
    }
    let _ = dispatcher.await;
    let records = account(records, n);
    (records, peak.load(Relaxed))
}

/// The accounting invariant: every scheduled request ends as exactly one
/// record, in index order. One that left none (or two) is a client bug; it
/// is counted as failed rather than vanishing from the result.
fn account(mut records: Vec<RequestRecord>, n: usize) -> Vec<RequestRecord> {
    records.sort_by_key(|r| r.index);
    records.dedup_by_key(|r| r.index);
    records.retain(|r| r.index < n);
    if records.len() == n {
        return records;
    }
    let mut out = Vec::with_capacity(n);
    let mut given = records.into_iter().peekable();
    for index in 0..n {
        match given.next_if(|r| r.index == index) {
            Some(r) => out.push(r),
            None => out.push(internal_failure(
                RequestRecord {
                    index,
                    ..Default::default()
                },
                "the request left no record",
            )),
        }
    }
    out
}

fn internal_failure(mut rec: RequestRecord, why: &str) -> RequestRecord {
    rec.error = Some(Failure {
        kind: ErrorKind::Internal,
        detail: format!("client error: {why}"),
    });
    rec
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// A request the run never sent because it was aborted.
fn abandon(tx: &mpsc::UnboundedSender<RequestRecord>, mut rec: RequestRecord) {
    rec.error = Some(Failure {
        kind: ErrorKind::Aborted,
        detail: "not sent: the run was aborted".into(),
    });
    let _ = tx.send(rec);
}

/// Fails before the first request when the result could not be written
/// after the run (a measurement must never be lost to a bad --result-dir).
fn check_writable(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(".infmax-probe-")
                .tempfile_in(dir)
        })
        .map(drop)
        .map_err(|e| {
            Error::env(format!(
                "cannot write the result in {}: {e}; nothing was sent",
                dir.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: usize) -> RequestRecord {
        RequestRecord {
            index,
            ..Default::default()
        }
    }

    #[test]
    fn every_scheduled_request_ends_as_one_record() {
        // 5 scheduled: #1 left none, #3 two, #9 is not one of them.
        let got = account(
            vec![
                record(4),
                record(3),
                record(0),
                record(3),
                record(9),
                record(2),
            ],
            5,
        );
        assert_eq!(
            got.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(
            got[1].error.as_ref().map(|f| f.kind),
            Some(ErrorKind::Internal)
        );
        assert!(got.iter().filter(|r| r.index != 1).all(RequestRecord::ok));
    }

    #[test]
    fn a_run_with_nothing_completed_fails_whatever_the_rate() {
        let mut o = Outcome {
            metrics: RunMetrics::default(),
            summary: String::new(),
            aborted: None,
        };
        let why = o.verdict(1.0).expect("fails");
        assert!(
            why.starts_with("no request completed (0 of 0 failed"),
            "{why}"
        );
        o.metrics.completed = 19;
        o.metrics.failed = 1;
        assert_eq!(o.verdict(0.05), None);
        o.metrics.failed = 2;
        assert!(
            o.verdict(0.05)
                .is_some_and(|w| w.starts_with("2 of 21 requests failed"))
        );
        o.aborted = Some("server died".into());
        assert!(
            o.verdict(1.0)
                .is_some_and(|w| w.starts_with("benchmark aborted: server died"))
        );
    }
}
