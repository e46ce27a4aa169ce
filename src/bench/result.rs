//! The result file (results.md §1, vLLM's `benchmark_serving.py` keys plus
//! new ones) and the end-of-run text summary in vLLM's layout.

use super::metrics::{Dist, Metric, RunMetrics};
use serde_json::{Map, Value, json};

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

pub(crate) fn to_json(info: &RunInfo, m: &RunMetrics, date: &str) -> Value {
    let mut r = Map::new();
    r.insert("date".into(), json!(date));
    r.insert("backend".into(), json!(info.backend));
    r.insert("model_id".into(), json!(info.model_id));
    r.insert("tokenizer_id".into(), json!(info.tokenizer_id));
    r.insert("num_prompts".into(), json!(info.num_prompts));
    for (k, v) in info.metadata {
        r.insert(k.clone(), json!(v));
    }
    let rate = if info.request_rate.is_finite() {
        json!(info.request_rate)
    } else {
        json!("inf")
    };
    r.insert("request_rate".into(), rate);
    r.insert("burstiness".into(), json!(info.burstiness));
    r.insert("max_concurrency".into(), json!(info.max_concurrency));
    r.insert("duration".into(), json!(m.duration));
    r.insert("completed".into(), json!(m.completed));
    r.insert("total_input_tokens".into(), json!(m.total_input_tokens));
    r.insert("total_output_tokens".into(), json!(m.total_output_tokens));
    r.insert("request_throughput".into(), json!(m.request_throughput));
    if let Some(g) = m.request_goodput {
        r.insert("request_goodput".into(), json!(g));
    }
    r.insert("output_throughput".into(), json!(m.output_throughput));
    r.insert(
        "total_token_throughput".into(),
        json!(m.total_token_throughput),
    );
    for (metric, d) in &m.dists {
        let n = metric.name();
        r.insert(format!("mean_{n}_ms"), json!(d.mean));
        r.insert(format!("median_{n}_ms"), json!(d.median));
        r.insert(format!("std_{n}_ms"), json!(d.std));
        for (p, v) in &d.percentiles {
            r.insert(format!("{}_{n}_ms", percentile_word(*p)), json!(v));
        }
    }
    // Keys beyond vLLM's.
    r.insert("failed".into(), json!(m.failed));
    r.insert("errors".into(), json!(m.errors));
    r.insert("error_samples".into(), json!(m.error_samples));
    r.insert("missing_done".into(), json!(m.missing_done));
    r.insert("usage_rejected".into(), json!(m.usage_rejected));
    r.insert("send_retries".into(), json!(m.send_retries));
    r.insert("num_warmups".into(), json!(info.num_warmups));
    r.insert("max_concurrency_reached".into(), json!(m.max_in_flight));
    r.insert("client_sched_lag".into(), dist_json(&m.sched_lag_ms));
    r.insert("concurrency_wait".into(), dist_json(&m.queue_wait_ms));
    r.insert("total_reasoning_tokens".into(), json!(m.reasoning_tokens));
    r.insert("total_answer_tokens".into(), json!(m.answer_tokens));
    let sources: Map<String, Value> = m
        .output_sources
        .iter()
        .map(|(s, n)| (s.name().to_string(), json!(n)))
        .collect();
    r.insert("output_tokens_source".into(), Value::Object(sources));
    if let Some((usage, tok, diff)) = m.reconciliation {
        r.insert(
            "output_tokens_reconciliation".into(),
            json!({"usage_total": usage, "tokenizer_total": tok, "abs_disagreement": diff}),
        );
    }
    let mut input = json!({
        "target_mean": m.input_target_mean,
        "realised_mean": m.input_realised.0,
        "realised_min": m.input_realised.1,
        "realised_max": m.input_realised.2,
        "mismatched_prompts": m.input_mismatched,
        "mismatch_tokens": m.input_mismatch_tokens,
    });
    if let Some((mean, min, max)) = m.server_prompt_tokens {
        input["server_prompt_tokens_mean"] = json!(mean);
        input["server_prompt_tokens_min"] = json!(min);
        input["server_prompt_tokens_max"] = json!(max);
    }
    r.insert("input_lens_fingerprint".into(), input);
    r.insert("aborted".into(), json!(info.aborted.is_some()));
    if let Some(why) = info.aborted {
        r.insert("abort_reason".into(), json!(why));
    }
    r.insert("infmax_version".into(), json!(env!("CARGO_PKG_VERSION")));
    Value::Object(r)
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
