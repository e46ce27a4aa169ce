//! `infmax collect results`: every processed result under a directory into
//! `agg_{name}.json`, and the single-node / multi-node summary tables
//! (results.md §3).

use super::markdown;
use crate::error::{Error, Result};
use serde_json::Value;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// Files under `dir` (recursive, sorted) whose name matches `pred`.
pub fn find_files(dir: &Path, pred: &dyn Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .map_err(|e| Error::env(format!("cannot read {}: {e}", d.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(pred) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every processed result (a JSON object from an `agg_*.json` file) under `dir`.
/// Aggregates (JSON arrays) are skipped; unreadable files are errors.
pub fn gather(dir: &Path) -> Result<Vec<Value>> {
    let files = find_files(dir, &|n| n.starts_with("agg_") && n.ends_with(".json"))?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        let parsed = std::fs::read_to_string(&f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(v @ Value::Object(_)) if v.get("hw").is_some() => out.push(v),
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", f.display())),
        }
    }
    if !problems.is_empty() {
        return Err(Error::usage(format!(
            "unreadable result files:\n{}",
            problems.join("\n")
        )));
    }
    Ok(out)
}

/// A result field as table text (empty for a missing or null field).
pub fn field_text(v: &Value, k: &str) -> String {
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
pub type Table = (Vec<&'static str>, Vec<Vec<String>>);

pub fn single_node_table(results: &[Value]) -> Option<Table> {
    let mut rows: Vec<&Value> = results
        .iter()
        .filter(|r| r["is_multinode"] != Value::Bool(true))
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| {
        cmp_keys(
            a,
            b,
            &[
                "infmax_model_prefix",
                "hw",
                "framework",
                "precision",
                "isl",
                "osl",
                "tp",
                "ep",
                "conc",
            ],
        )
    });
    let mut header = vec![
        "Model",
        "Served Model",
        "Hardware",
        "Framework",
        "Precision",
        "ISL",
        "OSL",
        "TP",
        "EP",
        "DP Attention",
        "Conc",
    ];
    header.extend(METRIC_COLS);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![
                field_text(r, "infmax_model_prefix"),
                field_text(r, "model"),
                field_text(r, "hw").to_uppercase(),
                field_text(r, "framework").to_uppercase(),
                field_text(r, "precision").to_uppercase(),
                field_text(r, "isl"),
                field_text(r, "osl"),
                field_text(r, "tp"),
                field_text(r, "ep"),
                field_text(r, "dp_attention"),
                field_text(r, "conc"),
            ];
            c.extend(metric_cells(r));
            c
        })
        .collect();
    Some((header, cells))
}

pub fn multi_node_table(results: &[Value]) -> Option<Table> {
    let mut rows: Vec<&Value> = results
        .iter()
        .filter(|r| r["is_multinode"] == Value::Bool(true))
        .collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| {
        cmp_keys(
            a,
            b,
            &[
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
            ],
        )
    });
    let mut header = vec![
        "Model",
        "Served Model",
        "Hardware",
        "Framework",
        "Precision",
        "ISL",
        "OSL",
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
    header.extend(METRIC_COLS);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = vec![
                field_text(r, "infmax_model_prefix"),
                field_text(r, "model"),
                field_text(r, "hw").to_uppercase(),
                field_text(r, "framework").to_uppercase(),
                field_text(r, "precision").to_uppercase(),
                field_text(r, "isl"),
                field_text(r, "osl"),
                field_text(r, "prefill_tp"),
                field_text(r, "prefill_ep"),
                field_text(r, "prefill_dp_attention"),
                field_text(r, "prefill_num_workers"),
                field_text(r, "num_prefill_gpu"),
                field_text(r, "decode_tp"),
                field_text(r, "decode_ep"),
                field_text(r, "decode_dp_attention"),
                field_text(r, "decode_num_workers"),
                field_text(r, "num_decode_gpu"),
                field_text(r, "conc"),
            ];
            c.extend(metric_cells(r));
            c
        })
        .collect();
    Some((header, cells))
}

/// Both tables with headings, or a note when there is nothing.
pub fn tables(results: &[Value]) -> String {
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
    out
}
