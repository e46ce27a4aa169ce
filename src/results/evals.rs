//! `infmax collect evals`: lm-evaluation-harness results plus each job's
//! `meta_env.json` -> `agg_eval_{name}.json` rows and the eval table
//! (results.md §4), with optional per-task minimum scores.

use super::collect::{Found, find_files};
use super::markdown;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// What a row takes from the job's `meta_env.json` (written by
/// [`crate::lm_eval::Meta`], or by the seed): copied as written, so a
/// seed's string `tp` stays a string; a missing field is null.
#[derive(Debug, Default, Deserialize)]
struct MetaIn {
    #[serde(default)]
    model: Value,
    #[serde(default)]
    framework: Value,
    #[serde(default)]
    precision: Value,
    #[serde(default)]
    spec_decoding: Value,
    #[serde(default)]
    tp: Value,
    #[serde(default)]
    ep: Value,
    #[serde(default)]
    conc: Value,
    #[serde(default)]
    dp_attention: Value,
    #[serde(default)]
    hw: Value,
}

/// One eval row of `agg_eval_{name}.json` (results.md §4): each field's
/// name and type written here once, in the seed's order and types.
#[derive(Debug, Serialize)]
pub(crate) struct EvalRow {
    model: Value,
    framework: Value,
    precision: Value,
    spec_decoding: Value,
    tp: Value,
    ep: Value,
    conc: Value,
    /// The seed's type: the lower-case string (compat.md §2), whichever
    /// way meta_env.json has it.
    dp_attention: Option<String>,
    /// Upper-case, as the seed's table shows it.
    hw: String,
    task: String,
    /// Fractions (0.9 = 90%) and their standard errors.
    em_strict: Option<f64>,
    em_strict_se: Option<f64>,
    em_flexible: Option<f64>,
    em_flexible_se: Option<f64>,
    n_eff: Value,
    /// The harness file, relative to the collected directory.
    source: String,
    score: Option<f64>,
    /// `em_strict` when there is one, else `accuracy` (compat.md §2).
    score_name: &'static str,
    score_se: Option<f64>,
}

impl EvalRow {
    fn model(&self) -> &str {
        self.model.as_str().unwrap_or_default()
    }

    /// The order of the table: hardware, framework, precision, spec
    /// decoding, tp, ep, conc, task.
    fn order(&self, other: &EvalRow) -> std::cmp::Ordering {
        let s = |v: &Value| {
            v.as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string())
        };
        let n = |v: &Value| v.as_f64().unwrap_or(0.0);
        let text = |r: &EvalRow| {
            (
                r.hw.clone(),
                s(&r.framework),
                s(&r.precision),
                s(&r.spec_decoding),
            )
        };
        text(self)
            .cmp(&text(other))
            .then(n(&self.tp).total_cmp(&n(&other.tp)))
            .then(n(&self.ep).total_cmp(&n(&other.ep)))
            .then(n(&self.conc).total_cmp(&n(&other.conc)))
            .then(self.task.cmp(&other.task))
    }
}

fn get_num(results: &Value, key: &str) -> Option<f64> {
    results.get(key).and_then(Value::as_f64)
}

/// Rows for every task of one harness result file.
fn rows_from(meta: &MetaIn, harness: &Value, source: &str) -> Vec<EvalRow> {
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
        out.push(EvalRow {
            model: meta.model.clone(),
            framework: meta.framework.clone(),
            precision: meta.precision.clone(),
            spec_decoding: meta.spec_decoding.clone(),
            tp: meta.tp.clone(),
            ep: meta.ep.clone(),
            conc: meta.conc.clone(),
            dp_attention: match &meta.dp_attention {
                Value::Null => None,
                Value::String(s) => Some(s.to_ascii_lowercase()),
                other => Some(other.to_string().to_ascii_lowercase()),
            },
            hw: meta.hw.as_str().unwrap_or_default().to_uppercase(),
            task: task.clone(),
            em_strict: strict,
            em_strict_se: strict_se,
            em_flexible: flex,
            em_flexible_se: flex_se,
            n_eff: harness["n-samples"][task]["effective"].clone(),
            source: source.to_string(),
            score,
            score_name,
            score_se,
        });
    }
    out
}

/// What `gather` found: the rows, and the eval folders (their
/// `meta_env.json`) without readable harness results: an eval that did not
/// finish, which a score floor must not pass.
pub(crate) struct Gathered {
    pub(crate) rows: Vec<EvalRow>,
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
        let meta: MetaIn = std::fs::read_to_string(&meta_path)
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
    rows.sort_by(EvalRow::order);
    skipped.sort_by(|a, b| a.file.cmp(&b.file));
    skipped.dedup_by(|a, b| a.file == b.file);
    Ok(Gathered {
        rows,
        incomplete,
        skipped,
    })
}

fn pct(v: Option<f64>, se: Option<f64>) -> String {
    match (v, se) {
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

pub(crate) fn table(rows: &[EvalRow]) -> String {
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
                text(&r.model),
                r.hw.clone(),
                text(&r.framework),
                text(&r.precision),
                text(&r.spec_decoding),
                text(&r.tp),
                text(&r.ep),
                text(&r.conc),
                r.dp_attention.clone().unwrap_or_else(|| "N/A".into()),
                r.task.clone(),
                pct(r.score, r.score_se),
                pct(r.em_strict, r.em_strict_se),
                pct(r.em_flexible, r.em_flexible_se),
                text(&r.n_eff),
            ]
        })
        .collect();
    markdown::table(&header, &cells)
}

/// Rows below their minimum score. Thresholds: YAML `task: min` or
/// `task: {default: min, MODEL: min}`; scores are fractions (0.9 = 90%).
pub(crate) fn below_thresholds(
    rows: &[EvalRow],
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
        .filter(|task| !rows.iter().any(|r| &r.task == *task))
        .map(|task| {
            format!(
                "{task}: no eval result found (missing or unreadable results cannot pass a floor)"
            )
        })
        .collect();
    for r in rows {
        let task = &r.task;
        let Some(t) = parsed.get(task) else { continue };
        let model = r.model();
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
        match r.score {
            Some(s) if s >= floor => {}
            s => out.push(format!(
                "{task} on {model} ({} {} {} tp{} conc{}): score {} below the minimum {:.2}%",
                r.hw,
                text(&r.framework),
                text(&r.precision),
                text(&r.tp),
                text(&r.conc),
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
    use serde_json::json;

    fn rows_of(meta: &Value, source: &str) -> Vec<EvalRow> {
        let meta: MetaIn = serde_json::from_value(meta.clone()).expect("meta");
        rows_from(&meta, &harness(), source)
    }

    fn as_json(rows: &[EvalRow]) -> Vec<Value> {
        rows.iter()
            .map(|r| serde_json::to_value(r).expect("row"))
            .collect()
    }

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
        let rows = as_json(&rows_of(&meta(), "x/results.json"));
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
        let keys: Vec<&str> = gsm
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "model",
                "framework",
                "precision",
                "spec_decoding",
                "tp",
                "ep",
                "conc",
                "dp_attention",
                "hw",
                "task",
                "em_strict",
                "em_strict_se",
                "em_flexible",
                "em_flexible_se",
                "n_eff",
                "source",
                "score",
                "score_name",
                "score_se"
            ],
            "the seed's fields, in its order"
        );
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
        let rows = rows_of(&upper, "x/results.json");
        assert_eq!(as_json(&rows)[0]["dp_attention"], "true", "lower-cased");
        let t = table(&rows);
        assert!(
            t.contains("| 90.00% ±1.00% | 90.00% ±1.00% | 92.00% ±1.10% | 1319 |"),
            "{t}"
        );
        assert!(t.contains("| 70.00% ±2.00% | N/A | N/A | 100 |"), "{t}");
    }

    #[test]
    fn thresholds() {
        let rows = rows_of(&meta(), "s");
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
