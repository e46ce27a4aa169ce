//! Metrics of a run, exactly as results.md §1 defines them, from the
//! per-request records. Means and standard deviations are exact; medians and
//! percentiles come from an HDR histogram (1 µs resolution, 3 significant
//! digits).

use super::request::RequestRecord;
use crate::tokenizer::Tokenizer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Metric {
    Ttft,
    Tpot,
    Itl,
    E2el,
}

impl Metric {
    pub(crate) const ALL: [Metric; 4] = [Metric::Ttft, Metric::Tpot, Metric::Itl, Metric::E2el];

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Metric::Ttft => "ttft",
            Metric::Tpot => "tpot",
            Metric::Itl => "itl",
            Metric::E2el => "e2el",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// mean / median / std / selected percentiles of one metric, in ms.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Dist {
    pub(crate) count: usize,
    pub(crate) mean: f64,
    pub(crate) median: f64,
    pub(crate) std: f64,
    /// (percentile, value) in the requested order.
    pub(crate) percentiles: Vec<(f64, f64)>,
}

/// Summarises values in milliseconds.
pub(crate) fn dist(values_ms: &[f64], percentiles: &[f64]) -> Dist {
    if values_ms.is_empty() {
        return Dist {
            percentiles: percentiles.iter().map(|p| (*p, 0.0)).collect(),
            ..Dist::default()
        };
    }
    let n = values_ms.len() as f64;
    let mean = values_ms.iter().sum::<f64>() / n;
    let std = (values_ms.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut h = Histogram::<u64>::new_with_max(24 * 3600 * 1_000_000, 3)
        .expect("static histogram bounds are valid");
    for v in values_ms {
        let us = (v * 1000.0).round().max(0.0) as u64;
        h.saturating_record(us);
    }
    let q = |p: f64| h.value_at_quantile(p / 100.0) as f64 / 1000.0;
    Dist {
        count: values_ms.len(),
        mean,
        median: q(50.0),
        std,
        percentiles: percentiles.iter().map(|p| (*p, q(*p))).collect(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Where output token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenSource {
    Usage,
    Tokenizer,
    Chunks,
}

impl TokenSource {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Tokenizer => "tokenizer",
            TokenSource::Chunks => "chunks",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RunMetrics {
    pub(crate) duration: f64,
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    pub(crate) errors: BTreeMap<String, usize>,
    pub(crate) error_samples: Vec<String>,
    pub(crate) total_input_tokens: u64,
    pub(crate) total_output_tokens: u64,
    pub(crate) request_throughput: f64,
    pub(crate) output_throughput: f64,
    pub(crate) total_token_throughput: f64,
    pub(crate) request_goodput: Option<f64>,
    pub(crate) dists: Vec<(Metric, Dist)>,
    pub(crate) output_sources: Vec<(TokenSource, usize)>,
    /// Sum of usage.completion_tokens and of tokenizer counts where both exist.
    pub(crate) reconciliation: Option<(u64, u64, u64)>,
    pub(crate) reasoning_tokens: u64,
    pub(crate) answer_tokens: u64,
    pub(crate) sched_lag_ms: Dist,
    pub(crate) queue_wait_ms: Dist,
    pub(crate) input_target_mean: f64,
    pub(crate) input_realised: (f64, u32, u32),
    pub(crate) input_mismatched: usize,
    pub(crate) input_mismatch_tokens: u64,
    pub(crate) server_prompt_tokens: Option<(f64, u32, u32)>,
    pub(crate) missing_done: usize,
    /// Completed requests whose usage.completion_tokens exceeded max_tokens
    /// or was more than twice the tokenizer's count (counted from the
    /// tokenizer or chunks instead).
    pub(crate) usage_rejected: usize,
    pub(crate) send_retries: u64,
    pub(crate) max_in_flight: usize,
}

/// Per-request output token count, its source, the tokenizer's count, and
/// whether the server's count was rejected: above max_tokens, or more than
/// twice the tokenizer's (then the tokenizer's is what is published).
fn output_tokens(
    r: &RequestRecord,
    tok: Option<&Tokenizer>,
) -> (u64, TokenSource, Option<u64>, bool) {
    let by_tokenizer = tok.and_then(|t| {
        let a = t.count(&r.answer).ok()?;
        let b = t.count(&r.reasoning).ok()?;
        Some((a + b) as u64)
    });
    // The text a server sent holds every token it counts: re-tokenised it
    // may differ by a few, not by 2x more. (Fewer is believed: a client
    // tokenizer other than the model's splits text finer.)
    let apart = |u: u64, t: u64| u > 2 * t + 16;
    let usage = r
        .plausible_usage()
        .filter(|&u| by_tokenizer.is_none_or(|t| !apart(u64::from(u), t)));
    let rejected = r.usage_completion.is_some() && usage.is_none();
    let (out, source, by_tok) = match (usage, by_tokenizer) {
        (Some(u), t) => (u64::from(u), TokenSource::Usage, t),
        (None, Some(t)) => (t, TokenSource::Tokenizer, Some(t)),
        (None, None) => (
            u64::from(r.answer_chunks + r.reasoning_chunks),
            TokenSource::Chunks,
            None,
        ),
    };
    (out, source, by_tok, rejected)
}

pub(crate) struct Settings<'a> {
    pub(crate) metrics: &'a [Metric],
    pub(crate) percentiles: &'a [f64],
    pub(crate) goodput: &'a [(Metric, f64)],
}

pub(crate) fn compute(
    records: &[RequestRecord],
    duration: Duration,
    tok: Option<&Tokenizer>,
    s: &Settings,
    max_in_flight: usize,
) -> RunMetrics {
    let mut m = RunMetrics {
        duration: duration.as_secs_f64(),
        max_in_flight,
        ..Default::default()
    };
    let (mut ttft, mut tpot, mut itl, mut e2el) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sources: BTreeMap<&'static str, (TokenSource, usize)> = BTreeMap::new();
    let mut recon = (0u64, 0u64, 0u64, false);
    let mut good = 0usize;
    let (mut lag, mut wait) = (Vec::new(), Vec::new());
    let mut server_prompt = Vec::new();
    for r in records {
        m.send_retries += u64::from(r.send_retries);
        if let (Some(ready), Some(sent)) = (r.ready, r.sent) {
            lag.push(ms(sent.saturating_duration_since(ready)));
        }
        if let Some(e) = &r.error {
            m.failed += 1;
            *m.errors.entry(e.kind.key()).or_default() += 1;
            if m.error_samples.len() < 5 {
                m.error_samples
                    .push(format!("{}: {}", e.kind.key(), e.detail));
            }
            continue;
        }
        m.completed += 1;
        m.missing_done += usize::from(r.missing_done);
        m.total_input_tokens += u64::from(r.prompt_len);
        let (out, source, by_tok, rejected) = output_tokens(r, tok);
        m.usage_rejected += usize::from(rejected);
        sources.entry(source.name()).or_insert((source, 0)).1 += 1;
        if let (TokenSource::Usage, Some(t)) = (source, by_tok) {
            recon.0 += out;
            recon.1 += t;
            recon.2 += out.abs_diff(t);
            recon.3 = true;
        }
        m.total_output_tokens += out;
        if let Some(t) = tok {
            m.reasoning_tokens += t.count(&r.reasoning).map_or(0, |n| n as u64);
            m.answer_tokens += t.count(&r.answer).map_or(0, |n| n as u64);
        } else {
            m.reasoning_tokens += u64::from(r.reasoning_chunks);
            m.answer_tokens += u64::from(r.answer_chunks);
        }
        if let Some(p) = r.usage_prompt {
            server_prompt.push(p);
        }
        let (Some(t), Some(e)) = (r.ttft, r.e2el) else {
            continue;
        };
        let t_ms = ms(t);
        let e_ms = ms(e);
        let tpot_ms = if out > 1 {
            Some((e_ms - t_ms) / (out - 1) as f64)
        } else {
            None
        };
        ttft.push(t_ms);
        e2el.push(e_ms);
        if let Some(v) = tpot_ms {
            tpot.push(v);
        }
        itl.extend(r.itl.iter().map(|v| f64::from(*v)));
        let meets = s.goodput.iter().all(|(metric, slo)| match metric {
            Metric::Ttft => t_ms <= *slo,
            Metric::Tpot => tpot_ms.unwrap_or(0.0) <= *slo,
            Metric::E2el => e_ms <= *slo,
            Metric::Itl => true,
        });
        good += usize::from(meets);
    }
    // Queue wait: from the scheduled time to a free concurrency slot.
    if let Some(start) = records
        .iter()
        .filter_map(|r| r.ready.map(|ready| ready - r.scheduled))
        .min()
    {
        for r in records {
            if let Some(ready) = r.ready {
                wait.push(ms(ready.saturating_duration_since(start + r.scheduled)));
            }
        }
    }
    let d = m.duration.max(f64::MIN_POSITIVE);
    m.request_throughput = m.completed as f64 / d;
    m.output_throughput = m.total_output_tokens as f64 / d;
    m.total_token_throughput = (m.total_input_tokens + m.total_output_tokens) as f64 / d;
    if !s.goodput.is_empty() {
        m.request_goodput = Some(good as f64 / d);
    }
    for metric in s.metrics {
        let values = match metric {
            Metric::Ttft => &ttft,
            Metric::Tpot => &tpot,
            Metric::Itl => &itl,
            Metric::E2el => &e2el,
        };
        m.dists.push((*metric, dist(values, s.percentiles)));
    }
    m.output_sources = sources.into_values().collect();
    if recon.3 {
        m.reconciliation = Some((recon.0, recon.1, recon.2));
    }
    m.sched_lag_ms = dist(&lag, &[50.0, 99.0]);
    m.queue_wait_ms = dist(&wait, &[50.0, 99.0]);
    let n = records.len().max(1) as f64;
    m.input_target_mean = records.iter().map(|r| f64::from(r.target_len)).sum::<f64>() / n;
    let lens: Vec<u32> = records.iter().map(|r| r.prompt_len).collect();
    m.input_realised = (
        lens.iter().map(|v| f64::from(*v)).sum::<f64>() / n,
        lens.iter().copied().min().unwrap_or(0),
        lens.iter().copied().max().unwrap_or(0),
    );
    m.input_mismatched = records
        .iter()
        .filter(|r| r.prompt_len != r.target_len)
        .count();
    m.input_mismatch_tokens = records
        .iter()
        .map(|r| u64::from(r.prompt_len.abs_diff(r.target_len)))
        .sum();
    if !server_prompt.is_empty() {
        let sn = server_prompt.len() as f64;
        m.server_prompt_tokens = Some((
            server_prompt.iter().map(|v| f64::from(*v)).sum::<f64>() / sn,
            server_prompt.iter().copied().min().unwrap_or(0),
            server_prompt.iter().copied().max().unwrap_or(0),
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::request::{ErrorKind, Failure};
    use std::time::Instant;

    fn rec(ttft_ms: u64, itl_ms: &[u64], usage: Option<u32>, chunks: u32) -> RequestRecord {
        let t0 = Instant::now();
        let itl: Vec<f32> = itl_ms.iter().map(|v| *v as f32).collect();
        let e2el = Duration::from_millis(ttft_ms + itl_ms.iter().sum::<u64>());
        RequestRecord {
            ready: Some(t0),
            sent: Some(t0),
            prompt_len: 100,
            target_len: 100,
            ttft: Some(Duration::from_millis(ttft_ms)),
            itl,
            e2el: Some(e2el),
            answer_chunks: chunks,
            usage_completion: usage,
            ..Default::default()
        }
    }

    #[test]
    fn definitions_of_results_md() {
        // Request A: ttft 100, tokens every 10 ms, 5 tokens (usage) -> e2el 140, tpot 10.
        // Request B: ttft 300, 3 chunks but usage says 5 tokens -> e2el 340, tpot (340-300)/4 = 10.
        let a = rec(100, &[10, 10, 10, 10], Some(5), 5);
        let b = rec(300, &[20, 20], Some(5), 3);
        let mut failed = rec(1, &[], None, 0);
        failed.error = Some(Failure {
            kind: ErrorKind::Http(500),
            detail: "boom".into(),
        });
        let s = Settings {
            metrics: &Metric::ALL,
            percentiles: &[50.0, 99.0],
            goodput: &[(Metric::Ttft, 200.0)],
        };
        let m = compute(&[a, b, failed], Duration::from_secs(2), None, &s, 2);
        assert_eq!((m.completed, m.failed), (2, 1));
        assert_eq!(m.errors.get("http_500"), Some(&1));
        assert_eq!((m.total_input_tokens, m.total_output_tokens), (200, 10));
        assert_eq!(m.request_throughput, 1.0);
        assert_eq!(m.output_throughput, 5.0);
        assert_eq!(m.total_token_throughput, 105.0);
        assert_eq!(m.request_goodput, Some(0.5), "only A meets ttft <= 200 ms");
        let get = |metric: Metric| {
            m.dists
                .iter()
                .find(|(x, _)| *x == metric)
                .map(|(_, d)| d.clone())
                .expect("selected")
        };
        assert_eq!(get(Metric::Ttft).mean, 200.0);
        assert_eq!(get(Metric::Ttft).std, 100.0);
        assert_eq!(get(Metric::Tpot).mean, 10.0);
        assert_eq!(get(Metric::Itl).count, 6);
        assert!((get(Metric::Itl).mean - 80.0 / 6.0).abs() < 1e-9);
        assert_eq!(get(Metric::E2el).mean, 240.0);
        assert!((get(Metric::Itl).median - 10.0).abs() < 0.01);
    }

    #[test]
    fn usage_above_max_tokens_is_not_believed() {
        let mut r = rec(10, &[1; 7], Some(u32::MAX), 8);
        r.max_tokens = 8;
        let mut honest = rec(10, &[1; 7], Some(8), 8);
        honest.max_tokens = 8;
        let s = Settings {
            metrics: &Metric::ALL,
            percentiles: &[50.0],
            goodput: &[],
        };
        let m = compute(&[r, honest], Duration::from_secs(1), None, &s, 2);
        assert_eq!(m.total_output_tokens, 16);
        assert_eq!(m.usage_rejected, 1);
        assert_eq!(
            m.output_sources,
            vec![(TokenSource::Chunks, 1), (TokenSource::Usage, 1)]
        );
    }

    #[test]
    fn output_tokens_fall_back_to_chunks_without_usage_or_tokenizer() {
        let s = Settings {
            metrics: &[Metric::Tpot],
            percentiles: &[99.0],
            goodput: &[],
        };
        let m = compute(
            &[rec(10, &[5, 5], None, 3)],
            Duration::from_secs(1),
            None,
            &s,
            1,
        );
        assert_eq!(m.total_output_tokens, 3);
        assert_eq!(m.output_sources, vec![(TokenSource::Chunks, 1)]);
        assert_eq!(m.dists[0].1.mean, 5.0);
        assert_eq!(m.request_goodput, None);
    }

    #[test]
    fn percentiles_from_histogram_are_close() {
        let values: Vec<f64> = (1..=1000).map(|v| v as f64).collect();
        let d = dist(&values, &[99.0, 99.9]);
        assert!((d.median - 500.0).abs() <= 0.5, "{}", d.median);
        assert!(
            (d.percentiles[0].1 - 990.0).abs() <= 1.0,
            "{:?}",
            d.percentiles
        );
        assert_eq!(d.percentiles[1].0, 99.9);
    }
}
