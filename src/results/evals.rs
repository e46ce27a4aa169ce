//! `infmax collect evals`: lm-evaluation-harness results plus each job's
//! `meta_env.json` -> `agg_eval_{name}.json` rows and the eval table
//! (results.md §4), with optional per-task minimum scores.

use super::collect::{Found, find_files};
use super::markdown;
use crate::error::{Error, Result};
use serde_json::{Map, Value, json};
use std::path::Path;

fn get_num(results: &Value, key: &str) -> Option<f64> {
    results.get(key).and_then(Value::as_f64)
}

/// Rows for every task of one harness result file.
pub(crate) fn rows_from(meta: &Value, harness: &Value, source: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(results) = harness["results"].as_object() else {
        return out;
    };
    for (task, res) in results {
        let cfg = &harness["configs"][task];
        let metric = cfg["metric_list"]
            .as_array()
            .and_then(|l| l.first())
            .and_then(|m| m["metric"].as_str())
            .unwrap_or("exact_match")
            .to_string();
        let filters: Vec<String> = cfg["filter_list"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|f| f["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let pair = |f: &str| {
            (
                get_num(res, &format!("{metric},{f}")),
                get_num(res, &format!("{metric}_stderr,{f}")),
            )
        };
        let (mut strict, mut strict_se, mut flex, mut flex_se) = (None, None, None, None);
        for f in &filters {
            if f.contains("strict") && strict.is_none() {
                (strict, strict_se) = pair(f);
            } else if (f.contains("flex") || f.contains("extract")) && flex.is_none() {
                (flex, flex_se) = pair(f);
            }
        }
        let (mut acc, mut acc_se) = (None, None);
        if filters.is_empty() {
            acc = get_num(res, "acc,none").or_else(|| get_num(res, "acc"));
            acc_se = get_num(res, "acc_stderr,none").or_else(|| get_num(res, "acc_stderr"));
            if acc.is_none() {
                acc = get_num(res, &format!("{metric},none")).or_else(|| get_num(res, &metric));
                acc_se = get_num(res, &format!("{metric}_stderr,none"))
                    .or_else(|| get_num(res, &format!("{metric}_stderr")));
            }
        }
        // The seed's two score names (compat.md §2): em_strict when there
        // is one, else "accuracy" (acc, the bare metric, or the flexible match).
        let (score, score_name, score_se) = match strict {
            Some(s) => (Some(s), "em_strict", strict_se),
            None => match flex.filter(|_| acc.is_none()) {
                Some(f) => (Some(f), "accuracy", flex_se),
                None => (acc, "accuracy", acc_se),
            },
        };
        let mut r = Map::new();
        for k in [
            "model",
            "framework",
            "precision",
            "spec_decoding",
            "tp",
            "ep",
            "conc",
        ] {
            r.insert(k.into(), meta.get(k).cloned().unwrap_or(Value::Null));
        }
        // The seed's type: the lower-case string, whichever way meta_env.json has it.
        let dp = match meta.get("dp_attention") {
            Some(Value::String(s)) => json!(s.to_ascii_lowercase()),
            Some(Value::Bool(b)) => json!(b.to_string()),
            Some(Value::Null) | None => Value::Null,
            Some(other) => json!(other.to_string().to_ascii_lowercase()),
        };
        r.insert("dp_attention".into(), dp);
        r.insert(
            "hw".into(),
            json!(meta["hw"].as_str().unwrap_or_default().to_uppercase()),
        );
        r.insert("task".into(), json!(task));
        r.insert("em_strict".into(), json!(strict));
        r.insert("em_strict_se".into(), json!(strict_se));
        r.insert("em_flexible".into(), json!(flex));
        r.insert("em_flexible_se".into(), json!(flex_se));
        r.insert(
            "n_eff".into(),
            harness["n-samples"][task]["effective"].clone(),
        );
        r.insert("source".into(), json!(source));
        r.insert("score".into(), json!(score));
        r.insert("score_name".into(), json!(score_name));
        r.insert("score_se".into(), json!(score_se));
        out.push(Value::Object(r));
    }
    out
}

/// What `gather` found: the rows, and the eval folders (their
/// `meta_env.json`) without readable harness results: an eval that did not
/// finish, which a score floor must not pass.
pub(crate) struct Gathered {
    pub(crate) rows: Vec<Value>,
    pub(crate) incomplete: Vec<String>,
    /// What the search passed over (see [`find_files`]).
    pub(crate) skipped: Vec<crate::diag::Diagnostic>,
}

/// Every eval under `dir`: a folder with `meta_env.json` and harness
/// results (`results*.json` with `lm_eval_version`; the newest if several).
pub(crate) fn gather(dir: &Path) -> Result<Gathered> {
    let Found {
        files: metas,
        mut skipped,
    } = find_files(dir, &|n| n == "meta_env.json")?;
    let mut rows = Vec::new();
    let mut incomplete = Vec::new();
    for meta_path in metas {
        let folder = meta_path.parent().unwrap_or(dir);
        let meta: Value = std::fs::read_to_string(&meta_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                Error::invalid(crate::diag::Diagnostic::new(
                    &meta_path.display().to_string(),
                    None,
                    "",
                    "not a JSON object (an eval job's meta_env.json)",
                ))
            })?;
        let Found {
            files: candidates,
            skipped: also,
        } = find_files(folder, &|n| {
            n.starts_with("results") && n.ends_with(".json")
        })?;
        skipped.extend(also);
        let mut newest: Option<(std::time::SystemTime, std::path::PathBuf, Value)> = None;
        for c in candidates {
            let Some(v) = std::fs::read_to_string(&c)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            else {
                continue;
            };
            if v.get("lm_eval_version").is_none() {
                continue;
            }
            let t = std::fs::metadata(&c)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            if newest
                .as_ref()
                .is_none_or(|(bt, bp, _)| (t, &c) > (*bt, bp))
            {
                newest = Some((t, c, v));
            }
        }
        if let Some((_, path, harness)) = newest {
            let source = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            rows.extend(rows_from(&meta, &harness, &source));
        } else {
            incomplete.push(
                meta_path
                    .strip_prefix(dir)
                    .unwrap_or(&meta_path)
                    .display()
                    .to_string(),
            );
        }
    }
    let key = |r: &Value| {
        let s = |k: &str| {
            r[k].as_str()
                .map(String::from)
                .unwrap_or_else(|| r[k].to_string())
        };
        let n = |k: &str| r[k].as_f64().unwrap_or(0.0);
        (
            s("hw"),
            s("framework"),
            s("precision"),
            s("spec_decoding"),
            n("tp"),
            n("ep"),
            n("conc"),
            s("task"),
        )
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.cmp(&kb.1))
            .then(ka.2.cmp(&kb.2))
            .then(ka.3.cmp(&kb.3))
            .then(ka.4.total_cmp(&kb.4))
            .then(ka.5.total_cmp(&kb.5))
            .then(ka.6.total_cmp(&kb.6))
            .then(ka.7.cmp(&kb.7))
    });
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    skipped.dedup_by(|a, b| a.file == b.file);
    Ok(Gathered {
        rows,
        incomplete,
        skipped,
    })
}

fn pct(v: &Value, se: &Value) -> String {
    match (v.as_f64(), se.as_f64()) {
        (Some(x), Some(e)) => format!("{:.2}% ±{:.2}%", x * 100.0, e * 100.0),
        (Some(x), None) => format!("{:.2}%", x * 100.0),
        _ => "N/A".into(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "N/A".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn table(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "No eval results found.\n".into();
    }
    let header = [
        "Model",
        "Hardware",
        "Framework",
        "Precision",
        "Spec Decode",
        "TP",
        "EP",
        "Conc",
        "DP Attention",
        "Task",
        "Score",
        "EM Strict",
        "EM Flexible",
        "N (eff)",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                text(&r["model"]),
                text(&r["hw"]),
                text(&r["framework"]),
                text(&r["precision"]),
                text(&r["spec_decoding"]),
                text(&r["tp"]),
                text(&r["ep"]),
                text(&r["conc"]),
                text(&r["dp_attention"]),
                text(&r["task"]),
                pct(&r["score"], &r["score_se"]),
                pct(&r["em_strict"], &r["em_strict_se"]),
                pct(&r["em_flexible"], &r["em_flexible_se"]),
                text(&r["n_eff"]),
            ]
        })
        .collect();
    markdown::table(&header, &cells)
}

/// Rows below their minimum score. Thresholds: YAML `task: min` or
/// `task: {default: min, MODEL: min}`; scores are fractions (0.9 = 90%).
pub(crate) fn below_thresholds(
    rows: &[Value],
    thresholds_yaml: &str,
    file: &str,
) -> Result<Vec<String>> {
    let parsed: std::collections::BTreeMap<String, Value> = serde_saphyr::from_str(thresholds_yaml)
        .map_err(|e| {
            Error::usage(format!(
                "{file}: expected `task: minimum` or `task: {{default: min, MODEL: min}}`: {e}"
            ))
        })?;
    // Fail closed: a floor with no result to judge is not met.
    let mut out: Vec<String> = parsed
        .keys()
        .filter(|task| {
            !rows
                .iter()
                .any(|r| r["task"].as_str() == Some(task.as_str()))
        })
        .map(|task| {
            format!(
                "{task}: no eval result found (missing or unreadable results cannot pass a floor)"
            )
        })
        .collect();
    for r in rows {
        let task = r["task"].as_str().unwrap_or_default();
        let Some(t) = parsed.get(task) else { continue };
        let model = r["model"].as_str().unwrap_or_default();
        let floor = match t {
            Value::Number(n) => n.as_f64(),
            Value::Object(m) => m
                .get(model)
                .or_else(|| m.get("default"))
                .and_then(Value::as_f64),
            _ => {
                return Err(Error::usage(format!(
                    "{file}: {task}: expected a number or a mapping of model -> number"
                )));
            }
        };
        let Some(floor) = floor else { continue };
        match r["score"].as_f64() {
            Some(s) if s >= floor => {}
            s => out.push(format!(
                "{task} on {model} ({} {} {} tp{} conc{}): score {} below the minimum {:.2}%",
                text(&r["hw"]),
                text(&r["framework"]),
                text(&r["precision"]),
                text(&r["tp"]),
                text(&r["conc"]),
                s.map_or("N/A".into(), |x| format!("{:.2}%", x * 100.0)),
                floor * 100.0
            )),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harness() -> Value {
        json!({
            "lm_eval_version": "0.4.9",
            "results": {"gsm8k": {
                "exact_match,strict-match": 0.9, "exact_match_stderr,strict-match": 0.01,
                "exact_match,flexible-extract": 0.92, "exact_match_stderr,flexible-extract": 0.011
            }, "mmlu": {"acc,none": 0.7, "acc_stderr,none": 0.02}},
            "configs": {"gsm8k": {"metric_list": [{"metric": "exact_match"}], "filter_list": [{"name": "strict-match"}, {"name": "flexible-extract"}]},
                        "mmlu": {"metric_list": [{"metric": "acc"}]}},
            "n-samples": {"gsm8k": {"original": 1319, "effective": 1319}, "mmlu": {"effective": 100}}
        })
    }

    fn meta() -> Value {
        json!({"framework": "vllm", "precision": "fp8", "spec_decoding": "none", "tp": 8, "conc": 64, "ep": 1, "dp_attention": false,
               "model": "org/m", "hw": "b200", "isl": 1024, "osl": 8192})
    }

    #[test]
    fn strict_flexible_and_accuracy() {
        let rows = rows_from(&meta(), &harness(), "x/results.json");
        let gsm = rows.iter().find(|r| r["task"] == "gsm8k").expect("gsm8k");
        assert_eq!(
            (gsm["em_strict"].as_f64(), gsm["em_flexible"].as_f64()),
            (Some(0.9), Some(0.92))
        );
        assert_eq!(
            (gsm["score"].as_f64(), gsm["score_name"].as_str()),
            (Some(0.9), Some("em_strict"))
        );
        assert_eq!(gsm["n_eff"], 1319);
        assert_eq!(gsm["hw"], "B200");
        let mmlu = rows.iter().find(|r| r["task"] == "mmlu").expect("mmlu");
        assert_eq!(
            (mmlu["score"].as_f64(), mmlu["score_name"].as_str()),
            (Some(0.7), Some("accuracy"))
        );
        assert!(mmlu["em_strict"].is_null());
        assert_eq!(
            gsm["dp_attention"], "false",
            "the seed's string, from a JSON bool"
        );
        let mut upper = meta();
        upper["dp_attention"] = json!("True");
        let rows = rows_from(&upper, &harness(), "x/results.json");
        assert_eq!(rows[0]["dp_attention"], "true", "lower-cased");
        let t = table(&rows);
        assert!(
            t.contains("| 90.00% ±1.00% | 90.00% ±1.00% | 92.00% ±1.10% | 1319 |"),
            "{t}"
        );
        assert!(t.contains("| 70.00% ±2.00% | N/A | N/A | 100 |"), "{t}");
    }

    #[test]
    fn thresholds() {
        let rows = rows_from(&meta(), &harness(), "s");
        assert!(
            below_thresholds(&rows, "gsm8k: 0.85\n", "t.yaml")
                .expect("ok")
                .is_empty()
        );
        let low = below_thresholds(
            &rows,
            "gsm8k: {default: 0.5, org/m: 0.95}\nmmlu: 0.8\n",
            "t.yaml",
        )
        .expect("ok");
        assert_eq!(low.len(), 2);
        assert!(
            low[0].contains(
                "gsm8k on org/m (B200 vllm fp8 tp8 conc64): score 90.00% below the minimum 95.00%"
            ),
            "{low:?}"
        );
        assert!(below_thresholds(&rows, "gsm8k: [1]\n", "t.yaml").is_err());
    }

    #[test]
    fn a_floor_without_results_fails() {
        let low = below_thresholds(&[], "gsm8k: 0.5\n", "t.yaml").expect("ok");
        assert_eq!(
            low,
            ["gsm8k: no eval result found (missing or unreadable results cannot pass a floor)"]
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let job = dir.path().join("eval_x");
        std::fs::create_dir_all(&job).expect("mkdir");
        std::fs::write(job.join("meta_env.json"), meta().to_string()).expect("meta");
        std::fs::write(job.join("results_1.json"), "{\"truncated\": ").expect("partial");
        let g = gather(dir.path()).expect("gather");
        assert!(g.rows.is_empty());
        assert_eq!(g.incomplete, ["eval_x/meta_env.json"]);
    }
}
