//! `infmax compare`: a sweep judged against its baseline, series by series.
//!
//! A series is one server configuration measured at several concurrencies:
//! (model prefix, hardware, framework, precision, spec decoding, ISL/OSL,
//! tp/ep/dp-attention or the prefill/decode pools). For each series both
//! runs have, four metrics are compared over the range both runs cover:
//! throughput per GPU at matched interactivity and interactivity at matched
//! throughput (each run's Pareto frontier, interpolated), TTFT and TPOT at
//! every concurrency both ran. A metric's verdict looks at the median change
//! over that overlap and at its worst point, against a noise threshold taken
//! from repeated runs when there are some, else from a per-metric default
//! the user can set.
//!
//! `series.rs` reads inputs into series (`runs.rs` fetches them from
//! workflow runs), `curves.rs` reads a metric's
//! changes off two curves, `render.rs` writes the Markdown and charts; the
//! verdicts and thresholds are here.

mod curves;
mod render;
pub(crate) use render::is_chart_name;
pub(crate) mod runs;
mod series;

pub(crate) use render::charts;
pub(crate) use series::{Side, load};

use curves::changes;
use serde::Serialize;
use series::mean_curve;
use std::collections::{BTreeMap, BTreeSet};

/// What is compared, and which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Metric {
    /// Throughput per GPU at matched interactivity.
    Tput,
    /// Interactivity at matched throughput per GPU.
    Intvty,
    /// Median TTFT at each concurrency both runs have.
    Ttft,
    /// Median TPOT at each concurrency both runs have.
    Tpot,
}

impl Metric {
    pub(crate) const ALL: [Metric; 4] = [Metric::Tput, Metric::Intvty, Metric::Ttft, Metric::Tpot];

    /// The name `--threshold` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::Tput => "tput",
            Metric::Intvty => "intvty",
            Metric::Ttft => "ttft",
            Metric::Tpot => "tpot",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Metric::Tput => "tput/GPU at matched interactivity",
            Metric::Intvty => "interactivity at matched tput/GPU",
            Metric::Ttft => "TTFT at each concurrency",
            Metric::Tpot => "TPOT at each concurrency",
        }
    }

    /// Whether one point alone can make a regression. Not for TTFT: at one
    /// concurrency it is mostly the queue of the run's first burst, whose
    /// order varies from run to run.
    fn worst_point_counts(self) -> bool {
        self != Metric::Ttft
    }

    fn higher_is_better(self) -> bool {
        matches!(self, Metric::Tput | Metric::Intvty)
    }

    /// GPU benchmarks jitter by a few percent between identical runs. TTFT
    /// has no default: it is mostly the queue of each wave's burst, and
    /// identical simulator runs differ by up to ±45% in it (see
    /// docs/compare.md); it is judged with repeats or `--threshold ttft=P%`.
    pub(crate) fn default_threshold(self) -> Option<f64> {
        match self {
            Metric::Tput | Metric::Intvty | Metric::Tpot => Some(0.05),
            Metric::Ttft => None,
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Where a metric's threshold came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Source {
    /// `--threshold`.
    User,
    /// 3 x the RMS of the changes between repeated runs (at least 1%;
    /// from fewer than 3 pairs, at least the default too).
    Repeats {
        pairs: usize,
    },
    Default,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Threshold {
    pub(crate) metric: Metric,
    /// None: reported, not judged.
    pub(crate) value: Option<f64>,
    pub(crate) source: Source,
}

/// One point alone regresses when it is this many thresholds worse (the
/// median over the overlap carries the verdict otherwise; the worst of a
/// dozen noisy points is often twice the typical noise).
const WORST_FACTOR: f64 = 3.0;

/// A noise estimate never goes below this: two identical simulator runs can
/// agree to the last digit, a real engine never does.
const MIN_NOISE_THRESHOLD: f64 = 0.01;

/// Fewer pairs of repeats than this say too little about the noise to go
/// below the default: one pair that happened to agree would make every
/// ordinary jitter a regression.
const MIN_NOISE_PAIRS: usize = 3;

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// How much worse a change is (positive: worse), whichever way is better.
fn worse(metric: Metric, change: f64) -> f64 {
    if metric.higher_is_better() {
        -change
    } else {
        change
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    Regression,
    Improvement,
    Same,
    NotCompared,
    /// Measured, but without a threshold to judge it by.
    NotJudged,
}

impl Verdict {
    fn mark(self) -> &'static str {
        match self {
            Verdict::Regression => "▼ regression",
            Verdict::Improvement => "▲ improvement",
            Verdict::Same => "=",
            Verdict::NotCompared => "not compared",
            Verdict::NotJudged => "not judged (no threshold)",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct MetricResult {
    pub(crate) metric: Metric,
    pub(crate) verdict: Verdict,
    /// Median relative change over the overlap (0.1 = 10% higher).
    pub(crate) median_change: Option<f64>,
    /// The change of the point that got worst.
    pub(crate) worst_change: Option<f64>,
    /// Points the changes were taken at.
    pub(crate) points: usize,
    pub(crate) threshold: Option<f64>,
    /// Why it was not compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SeriesResult {
    pub(crate) series: String,
    pub(crate) model_prefix: String,
    pub(crate) seq_len: String,
    pub(crate) baseline_repeats: usize,
    pub(crate) current_repeats: usize,
    pub(crate) metrics: Vec<MetricResult>,
}

/// The whole comparison: what `compare.json` holds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Comparison {
    pub(crate) baseline: String,
    pub(crate) current: String,
    pub(crate) thresholds: Vec<Threshold>,
    pub(crate) series: Vec<SeriesResult>,
    /// Series only in the current run.
    pub(crate) new: Vec<String>,
    /// Series only in the baseline.
    pub(crate) gone: Vec<String>,
    pub(crate) regressions: usize,
    pub(crate) improvements: usize,
}

fn judge(metric: Metric, ch: Result<Vec<f64>, String>, threshold: Option<f64>) -> MetricResult {
    let not_compared = |note: String| MetricResult {
        metric,
        verdict: Verdict::NotCompared,
        median_change: None,
        worst_change: None,
        points: 0,
        threshold,
        note: Some(note),
    };
    let ch = match ch {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => return not_compared("no point with a value in both runs".into()),
        Err(note) => return not_compared(note),
    };
    let med = median(&ch);
    let worst = ch
        .iter()
        .copied()
        .max_by(|a, b| worse(metric, *a).total_cmp(&worse(metric, *b)))
        .unwrap_or(med);
    let verdict = match threshold {
        None => Verdict::NotJudged,
        Some(t)
            if worse(metric, med) > t
                || (metric.worst_point_counts() && worse(metric, worst) > WORST_FACTOR * t) =>
        {
            Verdict::Regression
        }
        Some(t) if worse(metric, med) < -t => Verdict::Improvement,
        Some(_) => Verdict::Same,
    };
    MetricResult {
        metric,
        verdict,
        median_change: Some(med),
        worst_change: Some(worst),
        points: ch.len(),
        threshold,
        note: None,
    }
}

/// Thresholds: the user's, else from repeats (each repeat after the first
/// against the first, in either side), else the defaults.
fn thresholds(base: &Side, cur: &Side, user: &BTreeMap<Metric, f64>) -> Vec<Threshold> {
    Metric::ALL
        .into_iter()
        .map(|m| {
            if let Some(v) = user.get(&m) {
                return Threshold {
                    metric: m,
                    value: Some(*v),
                    source: Source::User,
                };
            }
            let mut noise = Vec::new();
            for side in [base, cur] {
                for repeats in side.series.values() {
                    for r in repeats.iter().skip(1) {
                        if let Ok(ch) = changes(m, &repeats[0], r) {
                            noise.push(median(&ch));
                        }
                    }
                }
            }
            if noise.is_empty() {
                Threshold {
                    metric: m,
                    value: m.default_threshold(),
                    source: Source::Default,
                }
            } else {
                let rms = (noise.iter().map(|x| x * x).sum::<f64>() / noise.len() as f64).sqrt();
                let value = (3.0 * rms).max(MIN_NOISE_THRESHOLD);
                // Too few pairs: never tighter than the default, and a
                // metric without one (TTFT) stays unjudged.
                let value = if noise.len() < MIN_NOISE_PAIRS {
                    m.default_threshold().map(|d| value.max(d))
                } else {
                    Some(value)
                };
                Threshold {
                    metric: m,
                    value,
                    source: Source::Repeats { pairs: noise.len() },
                }
            }
        })
        .collect()
}

/// Compares `cur` with `base`. `user`: thresholds set with `--threshold`.
pub(crate) fn compare(base: &Side, cur: &Side, user: &BTreeMap<Metric, f64>) -> Comparison {
    let th = thresholds(base, cur, user);
    let mut series = Vec::new();
    let (mut regressions, mut improvements) = (0, 0);
    for (id, b) in &base.series {
        let Some(c) = cur.series.get(id) else {
            continue;
        };
        let (mb, mc) = (mean_curve(b), mean_curve(c));
        let metrics: Vec<MetricResult> = th
            .iter()
            .map(|t| judge(t.metric, changes(t.metric, &mb, &mc), t.value))
            .collect();
        regressions += metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Regression)
            .count();
        improvements += metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Improvement)
            .count();
        series.push(SeriesResult {
            series: id.key.clone(),
            model_prefix: id.chart.0.clone(),
            seq_len: id.chart.1.clone(),
            baseline_repeats: b.len(),
            current_repeats: c.len(),
            metrics,
        });
    }
    let keys = |s: &Side| -> BTreeSet<String> { s.series.keys().map(|k| k.key.clone()).collect() };
    let (kb, kc) = (keys(base), keys(cur));
    Comparison {
        baseline: base.label.clone(),
        current: cur.label.clone(),
        thresholds: th,
        series,
        new: kc.difference(&kb).cloned().collect(),
        gone: kb.difference(&kc).cloned().collect(),
        regressions,
        improvements,
    }
}

#[cfg(test)]
mod tests;
