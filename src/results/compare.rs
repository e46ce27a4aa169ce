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

use super::collect::{self, field_text};
use super::markdown;
use super::report::{self, Line, Point};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::seqlen::SeqLen;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

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
    /// 3 x the RMS of the changes between repeated runs (at least 1%).
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

/// One measured point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    conc: u64,
    intvty: f64,
    tput: f64,
    ttft: f64,
    tpot: f64,
}

/// A series: its key text and where its chart goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesId {
    /// (model prefix, ISL/OSL name): one chart each.
    chart: (String, String),
    key: String,
}

/// One side (baseline or current): every series, each with its repeats
/// (a repeat is one measured curve).
#[derive(Debug, Default)]
pub(crate) struct Side {
    pub(crate) label: String,
    series: BTreeMap<SeriesId, Vec<Vec<Sample>>>,
    pub(crate) results: usize,
}

fn num(r: &Value, k: &str) -> f64 {
    r[k].as_f64().unwrap_or(f64::NAN)
}

/// The series a processed result belongs to. Fields an older infmax did not
/// write read as their defaults (no spec decoding, single node).
fn series_id(r: &Value) -> SeriesId {
    let text = |k: &str| field_text(r, k);
    let or = |k: &str, d: &str| {
        let t = text(k);
        if t.is_empty() { d.to_string() } else { t }
    };
    let prefix = {
        let p = text("infmax_model_prefix");
        if p.is_empty() { text("model") } else { p }
    };
    let seq = SeqLen::new(
        r["isl"].as_u64().unwrap_or(0) as u32,
        r["osl"].as_u64().unwrap_or(0) as u32,
    )
    .name();
    let mut key = format!(
        "{prefix} {} {} {} {seq}",
        text("hw").to_uppercase(),
        text("framework"),
        text("precision"),
    );
    let spec = or("spec_decoding", "none");
    if spec != "none" {
        let _ = write!(key, " {spec}");
    }
    if r["is_multinode"] == Value::Bool(true) {
        let _ = write!(
            key,
            " prefill {}x tp{} ep{} dpa {} / decode {}x tp{} ep{} dpa {}",
            text("prefill_num_workers"),
            text("prefill_tp"),
            text("prefill_ep"),
            text("prefill_dp_attention").to_lowercase(),
            text("decode_num_workers"),
            text("decode_tp"),
            text("decode_ep"),
            text("decode_dp_attention").to_lowercase(),
        );
    } else {
        let _ = write!(
            key,
            " tp{} ep{} dpa {}",
            text("tp"),
            or("ep", "1"),
            or("dp_attention", "false").to_lowercase()
        );
    }
    SeriesId {
        chart: (prefix, seq),
        key,
    }
}

impl Side {
    pub(crate) fn new(label: &str) -> Side {
        Side {
            label: label.to_string(),
            ..Side::default()
        }
    }

    /// Adds one input's processed results. A (series, concurrency) seen
    /// again within the input is a repeat of it (`infmax run --repeats`).
    pub(crate) fn add(&mut self, results: &[Value]) {
        let mut input: BTreeMap<SeriesId, Vec<Vec<Sample>>> = BTreeMap::new();
        for r in results {
            let id = series_id(r);
            let s = Sample {
                conc: r["conc"].as_u64().unwrap_or(0),
                intvty: num(r, "median_intvty"),
                tput: num(r, "tput_per_gpu"),
                ttft: num(r, "median_ttft"),
                tpot: num(r, "median_tpot"),
            };
            let repeats = input.entry(id).or_default();
            match repeats
                .iter_mut()
                .find(|c| c.iter().all(|x| x.conc != s.conc))
            {
                Some(curve) => curve.push(s),
                None => repeats.push(vec![s]),
            }
        }
        for (id, repeats) in input {
            self.series.entry(id).or_default().extend(repeats);
        }
        self.results += results.len();
    }

    fn repeats(&self) -> usize {
        self.series.values().map(Vec::len).max().unwrap_or(0)
    }
}

/// The mean of every repeat at each concurrency.
fn mean_curve(repeats: &[Vec<Sample>]) -> Vec<Sample> {
    let mut by_conc: BTreeMap<u64, Vec<Sample>> = BTreeMap::new();
    for s in repeats.iter().flatten() {
        by_conc.entry(s.conc).or_default().push(*s);
    }
    by_conc
        .into_iter()
        .map(|(conc, v)| {
            let mean = |f: fn(&Sample) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
            Sample {
                conc,
                intvty: mean(|s| s.intvty),
                tput: mean(|s| s.tput),
                ttft: mean(|s| s.ttft),
                tpot: mean(|s| s.tpot),
            }
        })
        .collect()
}

fn usable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Linear interpolation on a frontier sorted by x (x within its range).
fn interp(front: &[Point], x: f64) -> f64 {
    for w in front.windows(2) {
        let (a, b) = (w[0], w[1]);
        if x >= a.x && x <= b.x {
            if b.x == a.x {
                return a.y.max(b.y);
            }
            return a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x);
        }
    }
    front.iter().find(|p| p.x == x).map_or(f64::NAN, |p| p.y)
}

/// |d ln y / d ln x| of the frontier segment holding `x` (the mean of the
/// two segments at a vertex between them).
fn elasticity(front: &[Point], x: f64) -> f64 {
    let slopes: Vec<f64> = front
        .windows(2)
        .filter(|w| x >= w[0].x && x <= w[1].x)
        .map(|w| {
            let dx = (w[1].x / w[0].x).ln();
            let dy = (w[1].y / w[0].y).ln();
            if dx == 0.0 {
                f64::INFINITY
            } else {
                (dy / dx).abs()
            }
        })
        .collect();
    if slopes.is_empty() {
        f64::INFINITY
    } else {
        slopes.iter().sum::<f64>() / slopes.len() as f64
    }
}

/// Relative changes of one metric (current / baseline - 1) over the part
/// both curves cover, or why there are none.
fn changes(metric: Metric, base: &[Sample], cur: &[Sample]) -> Result<Vec<f64>, String> {
    match metric {
        Metric::Tput | Metric::Intvty => {
            let pts = |c: &[Sample]| -> Vec<Point> {
                c.iter()
                    .filter(|s| usable(s.intvty) && usable(s.tput))
                    .map(|s| match metric {
                        Metric::Tput => Point {
                            x: s.intvty,
                            y: s.tput,
                        },
                        _ => Point {
                            x: s.tput,
                            y: s.intvty,
                        },
                    })
                    .collect()
            };
            let (fb, fc) = (report::pareto(&pts(base)), report::pareto(&pts(cur)));
            if fb.len() < 2 || fc.len() < 2 {
                return Err(format!(
                    "a curve needs 2 points with throughput and interactivity; baseline has {}, current {}",
                    fb.len(),
                    fc.len()
                ));
            }
            let (lo, hi) = (
                fb[0].x.max(fc[0].x),
                fb[fb.len() - 1].x.min(fc[fc.len() - 1].x),
            );
            if lo >= hi {
                return Err(format!(
                    "the curves do not overlap ({} {:.4}..{:.4} in the baseline, {:.4}..{:.4} now)",
                    if metric == Metric::Tput {
                        "interactivity"
                    } else {
                        "tput/GPU"
                    },
                    fb[0].x,
                    fb[fb.len() - 1].x,
                    fc[0].x,
                    fc[fc.len() - 1].x
                ));
            }
            let mut xs: Vec<f64> = fb
                .iter()
                .chain(&fc)
                .map(|p| p.x)
                .filter(|x| *x > lo && *x < hi)
                .chain([lo, hi])
                .collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            // Read each metric only where it is well conditioned: where the
            // baseline frontier's log-log slope is steeper than 1, a 1%
            // difference in x moves y by more than 1% (noise in one axis
            // amplified into the other); there the other curve metric,
            // with the axes swapped, reads it.
            let n = xs.len();
            let out: Vec<f64> = xs
                .into_iter()
                .filter(|x| elasticity(&fb, *x) <= 1.0)
                .map(|x| interp(&fc, x) / interp(&fb, x) - 1.0)
                .filter(|c| c.is_finite())
                .collect();
            if out.is_empty() {
                return Err(format!(
                    "the baseline curve is steeper than 1:1 (log-log) at all {n} points of the overlap, where {} reads it",
                    if metric == Metric::Tput {
                        "interactivity at matched tput/GPU"
                    } else {
                        "tput/GPU at matched interactivity"
                    }
                ));
            }
            Ok(out)
        }
        Metric::Ttft | Metric::Tpot => {
            let get = |s: &Sample| {
                if metric == Metric::Ttft {
                    s.ttft
                } else {
                    s.tpot
                }
            };
            let out: Vec<f64> = base
                .iter()
                .filter(|b| usable(get(b)))
                .filter_map(|b| {
                    cur.iter()
                        .find(|c| c.conc == b.conc && usable(get(c)))
                        .map(|c| get(c) / get(b) - 1.0)
                })
                .collect();
            if out.is_empty() {
                return Err("no concurrency with a value in both runs".into());
            }
            Ok(out)
        }
    }
}

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
                Threshold {
                    metric: m,
                    value: Some((3.0 * rms).max(MIN_NOISE_THRESHOLD)),
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

/// Processed results from one local input: an aggregate (`agg_bmk.json`, a
/// JSON array) or one processed result file, or a folder searched
/// recursively for per-job `agg_*.json` results (its aggregates are read
/// only when it has no per-job result, as in a downloaded `results_bmk`).
/// Returns the results and what was passed over.
pub(crate) fn load(path: &Path) -> Result<(Vec<Value>, Vec<Diagnostic>)> {
    if path.is_dir() {
        let collect::Collected { results, skipped } = collect::gather(path)?;
        if !results.is_empty() {
            return Ok((results, skipped));
        }
        let found = collect::find_files(path, &|n| n.starts_with("agg_") && n.ends_with(".json"))?;
        let mut out = Vec::new();
        for f in &found.files {
            out.extend(load_file(f)?);
        }
        return Ok((out, found.skipped));
    }
    if !path.exists() {
        return Err(Error::usage(format!(
            "{}: no such file or folder (expected an agg_*.json file, a folder of results, a workflow run id or `latest`)",
            path.display()
        )));
    }
    Ok((load_file(path)?, Vec::new()))
}

fn load_file(f: &Path) -> Result<Vec<Value>> {
    let text = crate::fsutil::read_input(f).map_err(Error::invalid)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(Diagnostic::new(
            &f.display().to_string(),
            Some(crate::yaml::Pos {
                line: e.line() as u32,
                col: e.column() as u32,
            }),
            "",
            format!("not JSON: {e}"),
        ))
    })?;
    let items = match v {
        Value::Array(items) => items,
        one @ Value::Object(_) => vec![one],
        _ => Vec::new(),
    };
    let mut bad = Vec::new();
    for (i, r) in items.iter().enumerate() {
        if r.get("hw").is_none() {
            bad.push(Diagnostic::new(
                &f.display().to_string(),
                None,
                &format!("[{i}]"),
                "not a processed result (no `hw`); expected agg_*.json written by `infmax result process` or `collect results`",
            ));
        }
    }
    if items.is_empty() {
        bad.push(Diagnostic::new(
            &f.display().to_string(),
            None,
            "",
            "expected a processed result or a JSON array of them",
        ));
    }
    crate::error::check(bad)?;
    Ok(items)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{:+.2}%", v * 100.0))
}

impl Comparison {
    /// The Markdown for the step summary (every cell escaped).
    pub(crate) fn markdown(&self, base: &Side, cur: &Side) -> String {
        let mut o = String::from("### Comparison with the baseline\n\n");
        let _ = writeln!(
            o,
            "{}\n",
            if self.regressions > 0 {
                format!(
                    "**▼ {} regression(s)** beyond the noise threshold.",
                    self.regressions
                )
            } else if self.series.is_empty() {
                "**No series in common**: nothing was compared.".to_string()
            } else {
                format!(
                    "**No regression** beyond the noise threshold ({} series compared).",
                    self.series.len()
                )
            }
        );
        let _ = writeln!(
            o,
            "Baseline: {} ({} results, {} run(s)); current: {} ({} results, {} run(s)).\n",
            markdown::cell(&self.baseline),
            base.results,
            base.repeats(),
            markdown::cell(&self.current),
            cur.results,
            cur.repeats()
        );
        let th: Vec<String> = self
            .thresholds
            .iter()
            .map(|t| {
                let source = match &t.source {
                    Source::User => "--threshold".to_string(),
                    Source::Repeats { pairs } => {
                        format!("3 x RMS of {pairs} repeat-to-repeat changes")
                    }
                    Source::Default => "default; no repeated runs".to_string(),
                };
                match t.value {
                    Some(v) => format!("{} {:.1}% ({source})", t.metric.name(), v * 100.0),
                    None => format!(
                        "{} not judged (no repeated runs; set --threshold {}=P%)",
                        t.metric.name(),
                        t.metric.name()
                    ),
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "Thresholds: {}. A metric regresses when its median change over the range both runs cover is worse than the threshold, or (but for TTFT) its worst point worse than {WORST_FACTOR} times it. Each curve metric is read where the baseline curve is at most 1:1 steep (log-log), so noise along one axis is not magnified in the other.\n",
            th.join(", ")
        );
        let rows: Vec<Vec<String>> = self
            .series
            .iter()
            .flat_map(|s| {
                s.metrics.iter().map(|m| {
                    vec![
                        s.series.clone(),
                        m.metric.describe().to_string(),
                        pct(m.median_change),
                        pct(m.worst_change),
                        m.points.to_string(),
                        m.threshold
                            .map_or_else(|| "-".to_string(), |t| format!("{:.1}%", t * 100.0)),
                        match &m.note {
                            Some(n) => format!("{} ({n})", m.verdict.mark()),
                            None => m.verdict.mark().to_string(),
                        },
                    ]
                })
            })
            .collect();
        if !rows.is_empty() {
            o.push_str(&markdown::table(
                &[
                    "Series",
                    "Metric",
                    "Median change",
                    "Worst change",
                    "Points",
                    "Threshold",
                    "Verdict",
                ],
                &rows,
            ));
            o.push('\n');
        }
        for (title, list) in [
            ("New series (only in the current run)", &self.new),
            ("Gone series (only in the baseline)", &self.gone),
        ] {
            if !list.is_empty() {
                let _ = writeln!(o, "{title}:\n");
                for k in list {
                    let _ = writeln!(o, "- {}", markdown::cell(k));
                }
                o.push('\n');
            }
        }
        o
    }
}

/// Overlay charts, one per (model, ISL/OSL): each series' baseline dashed,
/// its current run solid, in the same colour. Returns (file name, SVG).
pub(crate) fn charts(base: &Side, cur: &Side) -> Vec<(String, String)> {
    let mut by_chart: BTreeMap<&(String, String), Vec<Line>> = BTreeMap::new();
    let ids: BTreeSet<&SeriesId> = base.series.keys().chain(cur.series.keys()).collect();
    for (i, id) in ids.into_iter().enumerate() {
        for (side, dashed, what) in [(base, true, "baseline"), (cur, false, "current")] {
            if let Some(r) = side.series.get(id) {
                let points = mean_curve(r)
                    .iter()
                    .filter(|s| usable(s.intvty) && usable(s.tput))
                    .map(|s| Point {
                        x: s.intvty,
                        y: s.tput,
                    })
                    .collect();
                by_chart.entry(&id.chart).or_default().push(Line {
                    label: format!("{} ({what})", id.key),
                    points,
                    color: i,
                    dashed,
                });
            }
        }
    }
    by_chart
        .into_iter()
        .map(|((model, seq), lines)| {
            (
                crate::fsutil::safe_file_name(&format!("compare_{model}_{seq}.svg")),
                report::svg_lines(
                    &format!("{model} {seq}: baseline (dashed) vs current (solid)"),
                    &lines,
                    false,
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A processed result of a series on the h100 at `conc`.
    fn row(conc: u64, intvty: f64, tput: f64, tpot: f64) -> Value {
        json!({"hw": "h100", "framework": "vllm", "precision": "fp8", "spec_decoding": "none",
               "infmax_model_prefix": "dsr1", "isl": 1024, "osl": 1024, "tp": 8, "ep": 1,
               "dp_attention": "false", "is_multinode": false, "conc": conc,
               "median_intvty": intvty, "tput_per_gpu": tput, "median_ttft": 0.1, "median_tpot": tpot})
    }

    fn side(label: &str, rows: &[Value]) -> Side {
        let mut s = Side::new(label);
        s.add(rows);
        s
    }

    /// A curve: interactivity falls and throughput rises with concurrency,
    /// steeply at first (log-log slope 2), then flatter (0.8, 0.26).
    fn curve(scale_tput: f64, scale_tpot: f64) -> Vec<Value> {
        [
            (4, 200.0, 100.0),
            (8, 150.0, 180.0),
            (16, 100.0, 250.0),
            (32, 50.0, 300.0),
        ]
        .iter()
        .map(|&(c, i, t)| row(c, i / scale_tpot, t * scale_tput, scale_tpot / i))
        .collect()
    }

    fn metric(c: &Comparison, m: Metric) -> &MetricResult {
        c.series[0]
            .metrics
            .iter()
            .find(|x| x.metric == m)
            .expect("metric")
    }

    #[test]
    fn a_slower_engine_is_a_regression_on_every_metric() {
        let b = side("b", &curve(1.0, 1.0));
        let c = side("c", &curve(1.0 / 1.1, 1.1));
        let r = compare(&b, &c, &BTreeMap::new());
        assert_eq!(r.series.len(), 1);
        let tpot = metric(&r, Metric::Tpot);
        assert!(
            (tpot.median_change.expect("median") - 0.10).abs() < 1e-9,
            "{tpot:?}"
        );
        assert_eq!(tpot.points, 4);
        for m in Metric::ALL.into_iter().filter(|m| *m != Metric::Ttft) {
            assert_eq!(metric(&r, m).verdict, Verdict::Regression, "{m:?}");
        }
        // TTFT has no default threshold: measured (unchanged), not judged.
        assert_eq!(metric(&r, Metric::Ttft).verdict, Verdict::NotJudged);
        assert_eq!(metric(&r, Metric::Ttft).median_change, Some(0.0));
        // And the other way round, an improvement.
        let r = compare(&c, &b, &BTreeMap::new());
        assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Improvement);
        assert_eq!(r.regressions, 0);
    }

    #[test]
    fn identical_runs_are_the_same() {
        let b = side("b", &curve(1.0, 1.0));
        let r = compare(&b, &b, &BTreeMap::new());
        assert!(
            r.series[0]
                .metrics
                .iter()
                .all(|m| (m.verdict == Verdict::Same || m.metric == Metric::Ttft)
                    && m.median_change == Some(0.0))
        );
        assert_eq!((r.regressions, r.improvements), (0, 0));
    }

    #[test]
    fn throughput_is_read_at_matched_interactivity() {
        // Same curve, measured at other concurrencies: points moved along
        // it, the curve did not change.
        let b = side(
            "b",
            &[row(4, 100.0, 1000.0, 0.01), row(16, 50.0, 1200.0, 0.02)],
        );
        let c = side(
            "c",
            &[row(8, 80.0, 1080.0, 0.0125), row(32, 40.0, 1240.0, 0.025)],
        );
        let r = compare(&b, &c, &BTreeMap::new());
        let t = metric(&r, Metric::Tput);
        // Overlap 50..80 on one line: 1000 + 4 x (100 - interactivity).
        assert_eq!(t.verdict, Verdict::Same, "{t:?}");
        assert!(t.median_change.expect("median").abs() < 1e-9, "{t:?}");
        // No concurrency in common: TPOT is not compared, and says why.
        let p = metric(&r, Metric::Tpot);
        assert_eq!(p.verdict, Verdict::NotCompared);
        assert_eq!(
            p.note.as_deref(),
            Some("no concurrency with a value in both runs")
        );
    }

    #[test]
    fn curves_that_do_not_overlap_get_no_verdict() {
        let b = side(
            "b",
            &[row(4, 100.0, 400.0, 0.01), row(8, 90.0, 700.0, 0.011)],
        );
        let c = side(
            "c",
            &[row(4, 50.0, 400.0, 0.02), row(8, 40.0, 700.0, 0.025)],
        );
        let r = compare(&b, &c, &BTreeMap::new());
        let t = metric(&r, Metric::Tput);
        assert_eq!(t.verdict, Verdict::NotCompared);
        assert!(
            t.note
                .as_deref()
                .is_some_and(|n| n.starts_with("the curves do not overlap")),
            "{t:?}"
        );
        // TPOT at the same concurrencies is still compared: 2x slower.
        assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Regression);
    }

    #[test]
    fn each_curve_metric_is_read_where_it_is_well_conditioned() {
        // Steep everywhere (log-log slope 3): throughput at matched
        // interactivity would magnify noise, so only the other reading counts.
        let b = side(
            "b",
            &[row(4, 100.0, 100.0, 0.01), row(8, 80.0, 195.3, 0.0125)],
        );
        let c = side(
            "c",
            &[row(4, 99.0, 100.0, 0.0101), row(8, 79.0, 205.0, 0.0127)],
        );
        let r = compare(&b, &c, &BTreeMap::new());
        let t = metric(&r, Metric::Tput);
        assert_eq!(t.verdict, Verdict::NotCompared);
        assert!(
            t.note
                .as_deref()
                .is_some_and(|n| n.contains("steeper than 1:1")),
            "{t:?}"
        );
        assert_eq!(metric(&r, Metric::Intvty).verdict, Verdict::Same);
        assert!(metric(&r, Metric::Intvty).points >= 2);
    }

    #[test]
    fn single_points_nan_and_zero_are_not_compared_as_curves() {
        let b = side("b", &[row(4, 100.0, 400.0, 0.01)]);
        let c = side("c", &[row(4, 100.0, 400.0, 0.01)]);
        let r = compare(&b, &c, &BTreeMap::new());
        assert_eq!(metric(&r, Metric::Tput).verdict, Verdict::NotCompared);
        assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Same);
        let mut nan = row(8, 90.0, 0.0, 0.011);
        nan["median_intvty"] = Value::Null;
        let b = side("b", &[row(4, 100.0, 400.0, 0.01), nan.clone()]);
        let c = side(
            "c",
            &[row(4, 100.0, 400.0, 0.01), row(8, 90.0, 700.0, 0.011)],
        );
        let r = compare(&b, &c, &BTreeMap::new());
        let t = metric(&r, Metric::Tput);
        assert_eq!(t.verdict, Verdict::NotCompared);
        assert_eq!(
            t.note.as_deref(),
            Some(
                "a curve needs 2 points with throughput and interactivity; baseline has 1, current 2"
            )
        );
        assert_eq!(metric(&r, Metric::Tpot).points, 2);
    }

    #[test]
    fn new_and_gone_series_are_listed() {
        let mut other = curve(1.0, 1.0);
        for r in &mut other {
            r["tp"] = json!(4);
        }
        let b = side("b", &curve(1.0, 1.0));
        let c = side("c", &other);
        let r = compare(&b, &c, &BTreeMap::new());
        assert!(r.series.is_empty());
        assert_eq!(r.new, vec!["dsr1 H100 vllm fp8 1k1k tp4 ep1 dpa false"]);
        assert_eq!(r.gone, vec!["dsr1 H100 vllm fp8 1k1k tp8 ep1 dpa false"]);
        assert!(r.markdown(&b, &c).contains("**No series in common**"));
    }

    #[test]
    fn an_older_baseline_with_fewer_fields_still_matches() {
        let old: Vec<Value> = curve(1.0, 1.0)
            .into_iter()
            .map(|mut r| {
                let o = r.as_object_mut().expect("object");
                for k in ["spec_decoding", "is_multinode", "ep", "median_ttft"] {
                    o.remove(k);
                }
                r
            })
            .collect();
        let r = compare(
            &side("old", &old),
            &side("c", &curve(1.0, 1.0)),
            &BTreeMap::new(),
        );
        assert_eq!(r.series.len(), 1, "{:?} {:?}", r.new, r.gone);
        assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Same);
        assert_eq!(metric(&r, Metric::Ttft).verdict, Verdict::NotCompared);
    }

    #[test]
    fn repeats_set_the_threshold() {
        // Two baseline repeats 2% apart in TPOT: threshold 3 x 2% = 6%.
        let mut rows = curve(1.0, 1.0);
        rows.extend(curve(1.0, 1.02));
        let b = side("b", &rows);
        assert_eq!(b.repeats(), 2);
        let r = compare(&b, &side("c", &curve(1.0, 1.05)), &BTreeMap::new());
        let t = r
            .thresholds
            .iter()
            .find(|t| t.metric == Metric::Tpot)
            .expect("tpot");
        assert!((t.value.expect("a value") - 0.06).abs() < 1e-9, "{t:?}");
        assert_eq!(t.source, Source::Repeats { pairs: 1 });
        // The user's threshold wins.
        let user = BTreeMap::from([(Metric::Tpot, 0.02)]);
        let r = compare(&b, &side("c", &curve(1.0, 1.05)), &user);
        assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Regression);
        assert!(r.markdown(&b, &b).contains("tpot 2.0% (--threshold)"));
    }

    #[test]
    fn hostile_series_names_are_escaped_in_the_table() {
        let mut rows = curve(1.0, 1.0);
        for r in &mut rows {
            r["framework"] = json!("x|<script>\n::error::");
        }
        let b = side("b", &rows);
        let md = compare(&b, &b, &BTreeMap::new()).markdown(&b, &b);
        assert!(
            !md.contains("<script>") && !md.contains("\n::error::"),
            "{md}"
        );
    }
}
