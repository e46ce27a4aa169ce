//! The result file (results.md §1, vLLM's `benchmark_serving.py` keys plus
//! new ones) and the end-of-run text summary in vLLM's layout.
//!
//! Long (about 450 lines before its tests) because the writer
//! ([`BenchResult`]), its reader ([`RunRecord`]) and the summary printing
//! the same fields belong beside each other: a field renamed is renamed
//! here once.

use super::metrics::{Dist, Metric, RunMetrics};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What the result needs besides the metrics.
pub(crate) struct RunInfo<'a> {
    pub(crate) backend: &'a str,
    pub(crate) model_id: &'a str,
    pub(crate) tokenizer_id: &'a str,
    pub(crate) num_prompts: usize,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) request_rate: f64,
    pub(crate) burstiness: f64,
    pub(crate) metadata: &'a [(String, String)],
    pub(crate) aborted: Option<&'a str>,
    pub(crate) num_warmups: usize,
    pub(crate) cost: &'a super::cost::ClientCost,
    pub(crate) preparation: &'a super::dataset::Preparation,
}

/// `YYYYMMDD-HHMMSS` in local time.
pub(crate) fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // musl marks its `time_t` alias deprecated (it is to become 64-bit);
    // try_from converts to whatever width it has.
    #[allow(deprecated)]
    let t = libc::time_t::try_from(now).unwrap_or(0);
    // SAFETY: localtime_r writes only into the tm we pass; zeroed tm is a valid initial value.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// `99` -> `p99`, `99.9` -> `p99.9`.
pub(crate) fn percentile_word(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("p{}", p as u64)
    } else {
        format!("p{p}")
    }
}

/// A distribution in milliseconds as an object (`mean_ms`, `median_ms`,
/// `p99_ms`, ...). Its own key must not end in `_ms`: the seed's processor
/// divides every top-level `*_ms` value by 1000 (compat.md §2).
fn dist_json(d: &Dist) -> Value {
    let mut o = Map::new();
    o.insert("mean_ms".into(), json!(d.mean));
    o.insert("median_ms".into(), json!(d.median));
    for (p, v) in &d.percentiles {
        o.insert(format!("{}_ms", percentile_word(*p)), json!(v));
    }
    Value::Object(o)
}

/// The run's result file (results.md §1): vLLM's keys in vLLM's order,
/// then infmax's. Each field's name, unit and type is written here once;
/// the latency keys (`mean_ttft_ms`, `p99_itl_ms`, ...) and the `--metadata`
/// pairs are open-ended maps flattened in place. Serialised through
/// [`serde_json::to_value`], so a metadata key that names a measured field
/// keeps its place and takes the measured value.
#[derive(Serialize)]
pub(crate) struct BenchResult<'a> {
    date: &'a str,
    backend: &'a str,
    model_id: &'a str,
    tokenizer_id: &'a str,
    num_prompts: usize,
    #[serde(flatten)]
    metadata: Map<String, Value>,
    /// Requests per second, or `"inf"` (vLLM's spelling) when unlimited.
    request_rate: Value,
    burstiness: f64,
    max_concurrency: Option<usize>,
    /// Seconds.
    duration: f64,
    completed: usize,
    total_input_tokens: u64,
    total_output_tokens: u64,
    /// Requests per second.
    request_throughput: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_goodput: Option<f64>,
    /// Tokens per second.
    output_throughput: f64,
    total_token_throughput: f64,
    /// `{mean,median,std,pNN}_{metric}_ms`, milliseconds.
    #[serde(flatten)]
    latency: Map<String, Value>,
    // Keys beyond vLLM's.
    failed: usize,
    errors: &'a BTreeMap<String, usize>,
    error_samples: &'a [String],
    missing_done: usize,
    usage_rejected: usize,
    send_retries: u64,
    num_warmups: usize,
    max_concurrency_reached: usize,
    /// Milliseconds; not `*_ms` at the top level (compat.md §2).
    client_sched_lag: Map<String, Value>,
    concurrency_wait: Map<String, Value>,
    total_reasoning_tokens: u64,
    total_answer_tokens: u64,
    output_tokens_source: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens_reconciliation: Option<Reconciliation>,
    input_lens_fingerprint: InputFingerprint,
    /// How the prompts were made, and what it cost.
    prompt_preparation: &'a super::dataset::Preparation,
    aborted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    abort_reason: Option<&'a str>,
    /// CPU, memory and whether the client was the limit.
    client_cost: &'a super::cost::ClientCost,
    /// True when the numbers may be the client's, not the server's (see
    /// client_cost.bound_by).
    client_bound: bool,
    infmax_version: &'static str,
}

/// Output tokens as the server's usage counted them against the tokenizer.
#[derive(Serialize)]
struct Reconciliation {
    usage_total: u64,
    tokenizer_total: u64,
    abs_disagreement: u64,
}

/// The prompts' lengths in tokens: asked for, realised, and as the server
/// counted them.
#[derive(Serialize)]
struct InputFingerprint {
    target_mean: f64,
    realised_mean: f64,
    realised_min: u32,
    realised_max: u32,
    mismatched_prompts: usize,
    mismatch_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_prompt_tokens_mean: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_prompt_tokens_min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_prompt_tokens_max: Option<u32>,
}

impl<'a> BenchResult<'a> {
    pub(crate) fn new(info: &'a RunInfo, m: &'a RunMetrics, date: &'a str) -> Self {
        let mut latency = Map::new();
        for (metric, d) in &m.dists {
            let n = metric.name();
            latency.insert(format!("mean_{n}_ms"), json!(d.mean));
            latency.insert(format!("median_{n}_ms"), json!(d.median));
            latency.insert(format!("std_{n}_ms"), json!(d.std));
            for (p, v) in &d.percentiles {
                latency.insert(format!("{}_{n}_ms", percentile_word(*p)), json!(v));
            }
        }
        let dist = |d: &Dist| match dist_json(d) {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        let server = m.server_prompt_tokens;
        BenchResult {
            date,
            backend: info.backend,
            model_id: info.model_id,
            tokenizer_id: info.tokenizer_id,
            num_prompts: info.num_prompts,
            metadata: info
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect(),
            request_rate: if info.request_rate.is_finite() {
                json!(info.request_rate)
            } else {
                json!("inf")
            },
            burstiness: info.burstiness,
            max_concurrency: info.max_concurrency,
            duration: m.duration,
            completed: m.completed,
            total_input_tokens: m.total_input_tokens,
            total_output_tokens: m.total_output_tokens,
            request_throughput: m.request_throughput,
            request_goodput: m.request_goodput,
            output_throughput: m.output_throughput,
            total_token_throughput: m.total_token_throughput,
            latency,
            failed: m.failed,
            errors: &m.errors,
            error_samples: &m.error_samples,
            missing_done: m.missing_done,
            usage_rejected: m.usage_rejected,
            send_retries: m.send_retries,
            num_warmups: info.num_warmups,
            max_concurrency_reached: m.max_in_flight,
            client_sched_lag: dist(&m.sched_lag_ms),
            concurrency_wait: dist(&m.queue_wait_ms),
            total_reasoning_tokens: m.reasoning_tokens,
            total_answer_tokens: m.answer_tokens,
            output_tokens_source: m
                .output_sources
                .iter()
                .map(|(s, n)| (s.name().to_string(), json!(n)))
                .collect(),
            output_tokens_reconciliation: m.reconciliation.map(
                |(usage_total, tokenizer_total, abs_disagreement)| Reconciliation {
                    usage_total,
                    tokenizer_total,
                    abs_disagreement,
                },
            ),
            input_lens_fingerprint: InputFingerprint {
                target_mean: m.input_target_mean,
                realised_mean: m.input_realised.0,
                realised_min: m.input_realised.1,
                realised_max: m.input_realised.2,
                mismatched_prompts: m.input_mismatched,
                mismatch_tokens: m.input_mismatch_tokens,
                server_prompt_tokens_mean: server.map(|s| s.0),
                server_prompt_tokens_min: server.map(|s| s.1),
                server_prompt_tokens_max: server.map(|s| s.2),
            },
            prompt_preparation: info.preparation,
            aborted: info.aborted.is_some(),
            abort_reason: info.aborted,
            client_cost: info.cost,
            client_bound: info.cost.bound(),
            infmax_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// What `result process` reads of a result file: [`BenchResult`]'s fields
/// under the names it writes them by, or a vLLM `benchmark_serving.py`
/// result's (the seed's client), which shares them. Read leniently: a
/// field missing is None, any JSON type is taken as written, and the
/// reader judges what it needs.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunRecord {
    #[serde(default, deserialize_with = "present")]
    pub(crate) model_id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) max_concurrency: Option<Value>,
    /// Tokens per second.
    #[serde(default)]
    total_token_throughput: Value,
    #[serde(default)]
    output_throughput: Value,
    #[serde(default, deserialize_with = "present")]
    pub(crate) completed: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) failed: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) aborted: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) client_bound: Option<Value>,
    /// A `--metadata` pair: `infmax run` marks a scaled-down run with it.
    #[serde(default, deserialize_with = "present")]
    pub(crate) scaled_down: Option<Value>,
    /// A `--metadata` pair: `infmax run --repeats N` numbers each repeat
    /// (from 1), so a comparison never mixes two repeats' points.
    #[serde(default, deserialize_with = "present")]
    pub(crate) repeat: Option<Value>,
    /// Every other key as written, in order: the latency keys among them
    /// (`{mean,median,std,pNN}_{metric}_ms`, milliseconds).
    #[serde(flatten)]
    pub(crate) rest: Map<String, Value>,
}

/// A key present with any value, null included (a missing key is None).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl RunRecord {
    /// Total (input + output) tokens per second, if a number.
    pub(crate) fn total_token_throughput(&self) -> Option<f64> {
        self.total_token_throughput.as_f64()
    }

    /// Output tokens per second, if a number.
    pub(crate) fn output_throughput(&self) -> Option<f64> {
        self.output_throughput.as_f64()
    }

    /// The latency keys that hold numbers: (`X` of `X_ms`, milliseconds).
    pub(crate) fn latencies_ms(&self) -> impl Iterator<Item = (&str, f64)> {
        self.rest
            .iter()
            .filter_map(|(k, v)| Some((k.strip_suffix("_ms")?, v.as_f64()?)))
    }
}

pub(crate) fn to_json(
    info: &RunInfo,
    m: &RunMetrics,
    date: &str,
) -> Result<Value, serde_json::Error> {
    serde_json::to_value(BenchResult::new(info, m, date))
}

fn line(out: &mut String, label: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("{label:<40} {value:<10}\n"));
}

fn title(out: &mut String, t: &str, fill: char) {
    let pad = 50usize.saturating_sub(t.chars().count());
    let left = pad / 2;
    let f = fill.to_string();
    out.push_str(&format!("{}{t}{}\n", f.repeat(left), f.repeat(pad - left)));
}

/// The end-of-run summary, laid out like vLLM's.
pub(crate) fn summary(info: &RunInfo, m: &RunMetrics) -> String {
    let mut o = String::new();
    title(&mut o, " Serving Benchmark Result ", '=');
    line(&mut o, "Successful requests:", m.completed);
    line(&mut o, "Failed requests:", m.failed);
    if let Some(c) = info.max_concurrency {
        line(&mut o, "Maximum request concurrency:", c);
    }
    line(
        &mut o,
        "Benchmark duration (s):",
        format!("{:.2}", m.duration),
    );
    line(&mut o, "Total input tokens:", m.total_input_tokens);
    line(&mut o, "Total generated tokens:", m.total_output_tokens);
    line(
        &mut o,
        "Request throughput (req/s):",
        format!("{:.2}", m.request_throughput),
    );
    if let Some(g) = m.request_goodput {
        line(&mut o, "Request goodput (req/s):", format!("{g:.2}"));
    }
    line(
        &mut o,
        "Output token throughput (tok/s):",
        format!("{:.2}", m.output_throughput),
    );
    line(
        &mut o,
        "Total Token throughput (tok/s):",
        format!("{:.2}", m.total_token_throughput),
    );
    for (metric, d) in &m.dists {
        let (head, short) = match metric {
            Metric::Ttft => ("Time to First Token", "TTFT"),
            Metric::Tpot => ("Time per Output Token (excl. 1st token)", "TPOT"),
            Metric::Itl => ("Inter-token Latency", "ITL"),
            Metric::E2el => ("End-to-end Latency", "E2EL"),
        };
        title(&mut o, head, '-');
        line(
            &mut o,
            &format!("Mean {short} (ms):"),
            format!("{:.2}", d.mean),
        );
        line(
            &mut o,
            &format!("Median {short} (ms):"),
            format!("{:.2}", d.median),
        );
        for (p, v) in &d.percentiles {
            line(
                &mut o,
                &format!(
                    "P{} {short} (ms):",
                    percentile_word(*p).trim_start_matches('p')
                ),
                format!("{v:.2}"),
            );
        }
    }
    if m.usage_rejected > 0 {
        line(
            &mut o,
            "Server token counts not believed:",
            format!("{} (see usage_rejected)", m.usage_rejected),
        );
    }
    let c = info.cost;
    title(&mut o, "Client", '-');
    line(
        &mut o,
        "Client CPU (s):",
        format!(
            "{:.2} ({:.0}% of {} core(s))",
            c.cpu_seconds,
            c.cpu_share * 100.0,
            c.cores
        ),
    );
    if let Some(us) = c.cpu_us_per_token {
        line(
            &mut o,
            "Client CPU per output token (us):",
            format!("{us:.2}"),
        );
    }
    line(
        &mut o,
        "Client peak RSS (MB):",
        format!("{:.1}", c.peak_rss_mb),
    );
    let p = info.preparation;
    line(
        &mut o,
        "Prompt preparation (s):",
        format!(
            "{:.2} ({}, {:.2} M tokens per CPU-second)",
            p.seconds,
            p.method,
            p.prompt_tokens as f64 / p.cpu_seconds.max(1e-9) / 1e6
        ),
    );
    for why in &c.bound_by {
        o.push_str(&format!(
            "warning: client-bound: {why}; these numbers may be the client's, not the server's\n"
        ));
    }
    if !m.errors.is_empty() {
        title(&mut o, "Failures", '-');
        for (k, n) in &m.errors {
            line(&mut o, &format!("{k}:"), n);
        }
    }
    o.push_str(&"=".repeat(50));
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let m = RunMetrics {
            completed: 9,
            failed: 1,
            total_token_throughput: 1234.5,
            output_throughput: 234.5,
            dists: vec![(
                Metric::Ttft,
                Dist {
                    mean: 12.5,
                    median: 11.0,
                    std: 1.0,
                    percentiles: vec![(99.0, 20.0)],
                    ..Dist::default()
                },
            )],
            ..RunMetrics::default()
        };
        let cost = super::super::cost::ClientCost {
            cpu_seconds: 1.0,
            cpu_us_per_token: None,
            cores: 2,
            cpu_share: 0.1,
            peak_rss_mb: 50.0,
            steady_sched_lag_p99_ms: None,
            bound_by: vec![],
            http_client: "infmax-http1",
        };
        let meta = [("scaled_down".to_string(), "true".to_string())];
        let info = RunInfo {
            backend: "openai-chat",
            model_id: "org/m",
            tokenizer_id: "org/m",
            num_prompts: 10,
            max_concurrency: Some(4),
            request_rate: f64::INFINITY,
            burstiness: 1.0,
            metadata: &meta,
            aborted: None,
            num_warmups: 8,
            cost: &cost,
            preparation: &super::super::dataset::Preparation {
                method: "token_ids",
                checked_prompts: 0,
                fallback_reason: None,
                prompt_tokens: 100,
                seconds: 0.01,
                cpu_seconds: 0.01,
                threads: 1,
            },
        };
        let v = to_json(&info, &m, "20261204-120000").expect("json");
        let r: RunRecord = serde_json::from_value(v).expect("reads back");
        assert_eq!(r.model_id, Some(json!("org/m")));
        assert_eq!(r.max_concurrency, Some(json!(4)));
        assert_eq!(
            (r.total_token_throughput(), r.output_throughput()),
            (Some(1234.5), Some(234.5))
        );
        assert_eq!(
            (
                &r.completed,
                &r.failed,
                &r.aborted,
                &r.client_bound,
                &r.scaled_down
            ),
            (
                &Some(json!(9)),
                &Some(json!(1)),
                &Some(json!(false)),
                &Some(json!(false)),
                &Some(json!("true"))
            )
        );
        let lat: Vec<(&str, f64)> = r.latencies_ms().collect();
        assert_eq!(
            lat,
            [
                ("mean_ttft", 12.5),
                ("median_ttft", 11.0),
                ("std_ttft", 1.0),
                ("p99_ttft", 20.0)
            ],
            "only the top-level numbers named *_ms, in order"
        );
    }

    #[test]
    fn percentile_words() {
        assert_eq!(percentile_word(99.0), "p99");
        assert_eq!(percentile_word(99.9), "p99.9");
        assert_eq!(percentile_word(50.0), "p50");
    }

    #[test]
    fn timestamp_shape() {
        let t = local_timestamp();
        assert_eq!(t.len(), 15);
        assert_eq!(&t[8..9], "-");
        assert!(t.chars().filter(|c| *c != '-').all(|c| c.is_ascii_digit()));
    }
}
