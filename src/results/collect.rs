//! `infmax collect results`: every processed result under a directory into
//! `agg_{name}.json`, and the single-node / multi-node summary tables
//! (results.md §3).

use super::markdown;
use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use serde_json::Value;
use std::cmp::Ordering;
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
    let Found { files, skipped } =
        find_files(dir, &|n| n.starts_with("agg_") && n.ends_with(".json"))?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(v @ Value::Object(_)) if v.get("hw").is_some() => out.push(v),
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

/// A result field as table text (empty for a missing or null field).
pub(crate) fn field_text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(x) => x.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn n(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn f4(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "N/A".into()
    }
}

fn cmp_keys(a: &Value, b: &Value, keys: &[&str]) -> Ordering {
    for k in keys {
        let o = match (&a[*k], &b[*k]) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
            (x, y) => field_text(a, k)
                .cmp(&field_text(b, k))
                .then_with(|| x.is_null().cmp(&y.is_null())),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn metric_cells(r: &Value) -> Vec<String> {
    vec![
        f4(n(r, "median_ttft") * 1000.0),
        f4(n(r, "median_tpot") * 1000.0),
        f4(n(r, "median_intvty")),
        f4(n(r, "median_e2el")),
        f4(n(r, "tput_per_gpu")),
        f4(n(r, "output_tput_per_gpu")),
        f4(n(r, "input_tput_per_gpu")),
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

/// One column: header, result field, and whether its text is upper-cased.
struct Col(&'static str, &'static str, bool);

/// The columns both tables start with.
const LEAD_COLS: [Col; 7] = [
    Col("Model", "infmax_model_prefix", false),
    Col("Served Model", "model", false),
    Col("Hardware", "hw", true),
    Col("Framework", "framework", true),
    Col("Precision", "precision", true),
    Col("ISL", "isl", false),
    Col("OSL", "osl", false),
];

const SINGLE_COLS: [Col; 4] = [
    Col("TP", "tp", false),
    Col("EP", "ep", false),
    Col("DP Attention", "dp_attention", false),
    Col("Conc", "conc", false),
];

const MULTI_COLS: [Col; 11] = [
    Col("Prefill TP", "prefill_tp", false),
    Col("Prefill EP", "prefill_ep", false),
    Col("Prefill DP Attn", "prefill_dp_attention", false),
    Col("Prefill Workers", "prefill_num_workers", false),
    Col("Prefill GPUs", "num_prefill_gpu", false),
    Col("Decode TP", "decode_tp", false),
    Col("Decode EP", "decode_ep", false),
    Col("Decode DP Attn", "decode_dp_attention", false),
    Col("Decode Workers", "decode_num_workers", false),
    Col("Decode GPUs", "num_decode_gpu", false),
    Col("Conc", "conc", false),
];

/// The results of one kind (multi-node or not), sorted by `sort`, as the
/// lead columns, then `cols`, then the metrics.
fn table(results: &[Value], multinode: bool, sort: &[&str], cols: &[Col]) -> Option<Table> {
    let mut rows: Vec<&Value> = results
        .iter()
        .filter(|r| (r["is_multinode"] == Value::Bool(true)) == multinode)
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| cmp_keys(a, b, sort));
    let header = LEAD_COLS
        .iter()
        .chain(cols)
        .map(|c| c.0)
        .chain(METRIC_COLS)
        .collect();
    let cells = rows
        .iter()
        .map(|r| {
            LEAD_COLS
                .iter()
                .chain(cols)
                .map(|Col(_, key, upper)| {
                    let t = field_text(r, key);
                    if *upper { t.to_uppercase() } else { t }
                })
                .chain(metric_cells(r))
                .collect()
        })
        .collect();
    Some((header, cells))
}

pub(crate) fn single_node_table(results: &[Value]) -> Option<Table> {
    let sort = [
        "infmax_model_prefix",
        "hw",
        "framework",
        "precision",
        "isl",
        "osl",
        "tp",
        "ep",
        "conc",
    ];
    table(results, false, &sort, &SINGLE_COLS)
}

pub(crate) fn multi_node_table(results: &[Value]) -> Option<Table> {
    let sort = [
        "infmax_model_prefix",
        "hw",
        "framework",
        "precision",
        "isl",
        "osl",
        "prefill_tp",
        "prefill_ep",
        "decode_tp",
        "decode_ep",
        "conc",
    ];
    table(results, true, &sort, &MULTI_COLS)
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
        .filter(|r| r["client_bound"] == Value::Bool(true))
        .map(|r| {
            format!(
                "{} {} {} conc {}",
                field_text(r, "infmax_model_prefix"),
                field_text(r, "hw").to_uppercase(),
                field_text(r, "framework"),
                field_text(r, "conc")
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
