//! `infmax collect results`: every processed result under a directory into
//! `agg_{name}.json`, and the single-node / multi-node summary tables
//! (results.md §3).

use super::markdown;
use super::record::{
    Parallelism, ProcessedResult, is_processed_result, is_result_file_name, value_text,
};
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What [`find_files`] found: the matching regular files (sorted), and what
/// it passed over, each named with the reason (for a warning).
pub(crate) struct Found {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) skipped: Vec<Diagnostic>,
}

fn skipped(p: &Path, why: &str) -> Diagnostic {
    Diagnostic::new(
        &p.display().to_string(),
        None,
        "",
        format!("skipped: {why}"),
    )
}

/// Files under `dir` (recursive) whose name matches `pred`.
pub(crate) fn find_files(dir: &Path, pred: &dyn Fn(&str) -> bool) -> Result<Found> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut found = Found {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    let mut stack = vec![dir.to_path_buf()];
    // Each real folder once (a symlink loop ends), regular files only (a
    // FIFO or device named like a result would block or never end).
    let mut seen = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        if !seen.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
            found.skipped.push(skipped(
                &d,
                "a folder already read (a symbolic link loop or a second link to it)",
            ));
            continue;
        }
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Error::env(format!("cannot read {}: {e}", d.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            let matches = p.file_name().and_then(|n| n.to_str()).is_some_and(pred);
            match std::fs::metadata(&p) {
                Ok(meta) if meta.is_dir() => stack.push(p),
                Ok(meta) if meta.is_file() && matches => found.files.push(p),
                Ok(meta) if meta.is_file() => {}
                Ok(_) if matches => found
                    .skipped
                    .push(skipped(&p, "not a regular file (a FIFO, socket or device)")),
                Err(e) if matches => found.skipped.push(skipped(
                    &p,
                    &format!("cannot be read ({e}; a broken link?)"),
                )),
                _ => {}
            }
        }
    }
    found.files.sort();
    found.skipped.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(found)
}

/// Every processed result under a directory, and what was passed over.
pub(crate) struct Collected {
    pub(crate) results: Vec<Value>,
    pub(crate) skipped: Vec<Diagnostic>,
}

/// Every processed result (a JSON object from an `agg_*.json` file) under `dir`.
/// Aggregates (JSON arrays) are skipped; unreadable files are errors.
pub(crate) fn gather(dir: &Path) -> Result<Collected> {
    let Found { files, skipped } = find_files(dir, &is_result_file_name)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(v) if is_processed_result(&v) => out.push(v),
            Ok(_) => {}
            Err(e) => problems.push(Diagnostic::new(
                &f.display().to_string(),
                None,
                "",
                format!("not a readable result file: {e}"),
            )),
        }
    }
    // Bad input (exit 1), every file named: a result must not go missing
    // from the aggregate unnoticed.
    crate::error::check(problems)?;
    Ok(Collected {
        results: out,
        skipped,
    })
}

fn f4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "N/A".into()
    }
}

fn opt(v: &Option<u64>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

fn metric_cells(r: &ProcessedResult) -> Vec<String> {
    vec![
        f4(r.median_ttft() * 1000.0),
        f4(r.median_tpot() * 1000.0),
        f4(r.median_intvty()),
        f4(r.median_e2el()),
        f4(r.tput_per_gpu),
        f4(r.output_tput_per_gpu),
        f4(r.input_tput_per_gpu),
    ]
}

const METRIC_COLS: [&str; 7] = [
    "TTFT (ms)",
    "TPOT (ms)",
    "Interactivity (tok/s/user)",
    "E2EL (s)",
    "TPUT per GPU",
    "Output TPUT per GPU",
    "Input TPUT per GPU",
];

/// A table's header and formatted (unescaped) cells.
pub(crate) type Table = (Vec<&'static str>, Vec<Vec<String>>);

/// The columns both tables start with.
const LEAD_COLS: [&str; 7] = [
    "Model",
    "Served Model",
    "Hardware",
    "Framework",
    "Precision",
    "ISL",
    "OSL",
];

fn lead_cells(r: &ProcessedResult) -> Vec<String> {
    vec![
        r.infmax_model_prefix.clone(),
        value_text(&r.model),
        r.hw.to_uppercase(),
        r.framework.to_uppercase(),
        r.precision.to_uppercase(),
        opt(&r.isl),
        opt(&r.osl),
    ]
}

const SINGLE_COLS: [&str; 4] = ["TP", "EP", "DP Attention", "Conc"];

fn single_cells(r: &ProcessedResult) -> Vec<String> {
    let (tp, ep, dpa) = match &r.parallelism {
        Parallelism::Single {
            tp,
            ep,
            dp_attention,
        } => (opt(tp), opt(ep), dp_attention.clone()),
        Parallelism::Multi { .. } => Default::default(),
    };
    vec![tp, ep, dpa, value_text(&r.conc)]
}

const MULTI_COLS: [&str; 11] = [
    "Prefill TP",
    "Prefill EP",
    "Prefill DP Attn",
    "Prefill Workers",
    "Prefill GPUs",
    "Decode TP",
    "Decode EP",
    "Decode DP Attn",
    "Decode Workers",
    "Decode GPUs",
    "Conc",
];

fn multi_cells(r: &ProcessedResult) -> Vec<String> {
    let mut cells: Vec<String> = match r.parallelism.pools() {
        Some(pools) => pools
            .iter()
            .flat_map(|p| {
                [
                    opt(&p.tp),
                    opt(&p.ep),
                    p.dp_attention.to_string(),
                    opt(&p.workers),
                    opt(&p.gpus),
                ]
            })
            .collect(),
        None => vec![String::new(); 10],
    };
    cells.push(value_text(&r.conc));
    cells
}

/// The sort order of both tables: model, hardware, framework, precision,
/// ISL, OSL, then the parallelism (tp, ep; multi-node: prefill tp, ep,
/// decode tp, ep), then the concurrency (numbers by value).
type SortKey = (
    String,
    String,
    String,
    String,
    Option<u64>,
    Option<u64>,
    [Option<u64>; 4],
    (Option<u64>, String),
);

fn sort_key(r: &ProcessedResult) -> SortKey {
    let par = match (&r.parallelism, r.parallelism.pools()) {
        (_, Some([p, d])) => [p.tp, p.ep, d.tp, d.ep],
        (Parallelism::Single { tp, ep, .. }, None) => [*tp, *ep, None, None],
        (Parallelism::Multi { .. }, None) => [None; 4],
    };
    (
        r.infmax_model_prefix.clone(),
        r.hw.clone(),
        r.framework.clone(),
        r.precision.clone(),
        r.isl,
        r.osl,
        par,
        (r.conc.as_u64(), value_text(&r.conc)),
    )
}

/// The results of one kind (multi-node or not), sorted, as the lead
/// columns, then `cols` with their `cells`, then the metrics.
fn table(
    results: &[Value],
    multinode: bool,
    cols: &[&'static str],
    cells: fn(&ProcessedResult) -> Vec<String>,
) -> Option<Table> {
    let mut rows: Vec<ProcessedResult> = results
        .iter()
        .map(ProcessedResult::read)
        .filter(|r| r.is_multinode == multinode)
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by_cached_key(sort_key);
    let header = LEAD_COLS
        .iter()
        .chain(cols)
        .copied()
        .chain(METRIC_COLS)
        .collect();
    let cells = rows
        .iter()
        .map(|r| {
            lead_cells(r)
                .into_iter()
                .chain(cells(r))
                .chain(metric_cells(r))
                .collect()
        })
        .collect();
    Some((header, cells))
}

pub(crate) fn single_node_table(results: &[Value]) -> Option<Table> {
    table(results, false, &SINGLE_COLS, single_cells)
}

pub(crate) fn multi_node_table(results: &[Value]) -> Option<Table> {
    table(results, true, &MULTI_COLS, multi_cells)
}

/// Both tables with headings, or a note when there is nothing.
pub(crate) fn tables(results: &[Value]) -> String {
    let mut out = String::new();
    if let Some((h, rows)) = single_node_table(results) {
        out.push_str("### Single-node results\n\n");
        out.push_str(&markdown::table(&h, &rows));
        out.push('\n');
    }
    if let Some((h, rows)) = multi_node_table(results) {
        out.push_str("### Multi-node results\n\n");
        out.push_str(&markdown::table(&h, &rows));
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("No benchmark results found.\n");
    }
    let bound: Vec<String> = results
        .iter()
        .map(ProcessedResult::read)
        .filter(ProcessedResult::is_client_bound)
        .map(|r| {
            format!(
                "{} {} {} conc {}",
                r.infmax_model_prefix,
                r.hw.to_uppercase(),
                r.framework,
                value_text(&r.conc)
            )
        })
        .collect();
    if !bound.is_empty() {
        out.push_str(&format!(
            "> **Warning**: {} result(s) were client-bound: the load generator saturated its cores or fell behind its schedule, so their numbers may be the client's, not the server's (`client_cost` in the raw result says why): {}.\n\n",
            bound.len(),
            markdown::cell(&bound.join("; "))
        ));
    }
    out
}
