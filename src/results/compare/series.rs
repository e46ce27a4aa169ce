//! Inputs of a comparison: processed results read from files and folders,
//! grouped into series (one server configuration at its concurrencies),
//! each with its repeated runs.

use super::super::collect;
use super::super::record::{
    Parallelism, Pool, ProcessedResult, is_processed_result, is_result_file_name,
};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One measured point of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sample {
    pub(super) conc: u64,
    pub(super) intvty: f64,
    pub(super) tput: f64,
    pub(super) ttft: f64,
    pub(super) tpot: f64,
}

/// A series: its key text and where its chart goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SeriesId {
    /// (model prefix, ISL/OSL name): one chart each.
    pub(super) chart: (String, String),
    pub(super) key: String,
}

/// One side (baseline or current): every series, each with its repeats
/// (a repeat is one measured curve).
#[derive(Debug, Default)]
pub(crate) struct Side {
    pub(crate) label: String,
    pub(super) series: BTreeMap<SeriesId, Vec<Vec<Sample>>>,
    pub(crate) results: usize,
}

/// The series a processed result belongs to. Fields an older infmax did not
/// write read as their defaults (no spec decoding, single node, ep 1).
fn series_id(r: &ProcessedResult) -> SeriesId {
    let prefix = r.model_prefix();
    let seq = r.seq_name();
    let mut key = format!(
        "{prefix} {} {} {} {seq}",
        r.hw.to_uppercase(),
        r.framework,
        r.precision,
    );
    if !r.spec_decoding.is_empty() && r.spec_decoding != "none" {
        let _ = write!(key, " {}", r.spec_decoding);
    }
    let n = |v: &Option<u64>| v.map_or_else(String::new, |x| x.to_string());
    let dpa = |t: &str| {
        if t.is_empty() {
            "false".to_string()
        } else {
            t.to_lowercase()
        }
    };
    match (&r.parallelism, r.parallelism.pools()) {
        (_, Some([p, d])) if r.is_multinode => {
            let pool = |p: &Pool| {
                format!(
                    "{}x tp{} ep{} dpa {}",
                    n(&p.workers),
                    n(&p.tp),
                    n(&p.ep),
                    p.dp_attention.to_lowercase()
                )
            };
            let _ = write!(key, " prefill {} / decode {}", pool(&p), pool(&d));
        }
        (
            Parallelism::Single {
                tp,
                ep,
                dp_attention,
            },
            _,
        ) => {
            let _ = write!(
                key,
                " tp{} ep{} dpa {}",
                n(tp),
                ep.unwrap_or(1),
                dpa(dp_attention)
            );
        }
        // Multi-node fields without is_multinode: a single-node result
        // that lacks its own.
        (Parallelism::Multi { .. }, _) => key.push_str(" tp ep1 dpa false"),
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

    /// Adds one input's processed results. Results marked with their
    /// repeat (`infmax run --repeats`) are grouped by it; among unmarked
    /// ones, a (series, concurrency) seen again within the input is the
    /// next repeat (the first curve that lacks that concurrency).
    pub(crate) fn add(&mut self, results: &[Value]) {
        type Curves = (BTreeMap<u64, Vec<Sample>>, Vec<Vec<Sample>>);
        let mut input: BTreeMap<SeriesId, Curves> = BTreeMap::new();
        for r in results.iter().map(ProcessedResult::read) {
            let s = Sample {
                conc: r.conc_u64(),
                intvty: r.median_intvty(),
                tput: r.tput_per_gpu,
                ttft: r.median_ttft(),
                tpot: r.median_tpot(),
            };
            let (marked, unmarked) = input.entry(series_id(&r)).or_default();
            if let Some(k) = r.repeat_number() {
                marked.entry(k).or_default().push(s);
                continue;
            }
            match unmarked
                .iter_mut()
                .find(|c| c.iter().all(|x| x.conc != s.conc))
            {
                Some(curve) => curve.push(s),
                None => unmarked.push(vec![s]),
            }
        }
        for (id, (marked, unmarked)) in input {
            let curves = self.series.entry(id).or_default();
            curves.extend(marked.into_values());
            curves.extend(unmarked);
        }
        self.results += results.len();
    }

    /// Adds the series of `results` that `want` has and this side lacks:
    /// an older run filling in what the newer ones did not measure. Returns
    /// how many series it added.
    pub(crate) fn fill_from(&mut self, results: &[Value], want: &Side) -> usize {
        let mut older = Side::default();
        older.add(results);
        let mut added = 0;
        for (id, repeats) in older.series {
            if want.series.contains_key(&id) && !self.series.contains_key(&id) {
                self.results += repeats.iter().map(Vec::len).sum::<usize>();
                self.series.insert(id, repeats);
                added += 1;
            }
        }
        added
    }

    /// Whether every series of `want` is here.
    pub(crate) fn covers(&self, want: &Side) -> bool {
        want.series.keys().all(|k| self.series.contains_key(k))
    }

    pub(super) fn repeats(&self) -> usize {
        self.series.values().map(Vec::len).max().unwrap_or(0)
    }
}

/// The mean of every repeat at each concurrency, of each metric over the
/// repeats where it has a value (a failed repeat's zero or NaN would pull
/// the mean down, or make it NaN, and read as a change).
pub(super) fn mean_curve(repeats: &[Vec<Sample>]) -> Vec<Sample> {
    let mut by_conc: BTreeMap<u64, Vec<Sample>> = BTreeMap::new();
    for s in repeats.iter().flatten() {
        by_conc.entry(s.conc).or_default().push(*s);
    }
    by_conc
        .into_iter()
        .map(|(conc, v)| {
            let mean = |f: fn(&Sample) -> f64| {
                let usable: Vec<f64> = v
                    .iter()
                    .map(f)
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .collect();
                if usable.is_empty() {
                    f64::NAN
                } else {
                    usable.iter().sum::<f64>() / usable.len() as f64
                }
            };
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
        let found = collect::find_files(path, &is_result_file_name)?;
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
        if !is_processed_result(r) {
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
