//! `infmax run-stats`: success/total of a workflow run's jobs per GPU SKU.

use crate::results::markdown;
use crate::runners::RunnerConfig;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One SKU's line of run_stats.json, in the seed's shape
/// (`{"b200": {"n_success": 1, "total": 2}}`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct SkuStats {
    #[serde(rename = "n_success")]
    pub(crate) success: usize,
    pub(crate) total: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct RunStats {
    pub(crate) run_id: u64,
    pub(crate) repository: String,
    pub(crate) skus: BTreeMap<String, SkuStats>,
    /// Jobs whose name names no SKU (setup, collect, ...).
    pub(crate) unmatched_jobs: usize,
    /// Jobs skipped (not run); not counted.
    pub(crate) skipped_jobs: usize,
}

/// SKUs of the runner config: each runner type's prefix before the first `-`.
pub(crate) fn skus(runners: &RunnerConfig) -> Vec<String> {
    let mut s: Vec<String> = runners
        .type_names()
        .iter()
        .map(|t| t.split('-').next().unwrap_or(t).to_string())
        .collect();
    s.sort();
    s.dedup();
    s
}

/// The SKU a job name mentions: the longest one found at a word start
/// (so `gb200` is not counted as `b200`).
pub(crate) fn sku_of<'a>(name: &str, skus: &'a [String]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    skus.iter()
        .filter(|s| {
            lower
                .match_indices(s.as_str())
                .any(|(i, _)| i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric())
        })
        .max_by_key(|s| s.len())
        .map(String::as_str)
}

pub(crate) fn compute(run_id: u64, repository: &str, jobs: &[Value], skus: &[String]) -> RunStats {
    let mut st = RunStats {
        run_id,
        repository: repository.into(),
        skus: BTreeMap::new(),
        unmatched_jobs: 0,
        skipped_jobs: 0,
    };
    for j in jobs {
        let conclusion = j["conclusion"].as_str().unwrap_or("");
        if conclusion == "skipped" {
            st.skipped_jobs += 1;
            continue;
        }
        match sku_of(j["name"].as_str().unwrap_or(""), skus) {
            Some(sku) => {
                let e = st.skus.entry(sku.to_string()).or_default();
                e.total += 1;
                e.success += usize::from(conclusion == "success");
            }
            None => st.unmatched_jobs += 1,
        }
    }
    st
}

pub(crate) fn table(st: &RunStats) -> String {
    let rows: Vec<Vec<String>> = st
        .skus
        .iter()
        .map(|(sku, s)| {
            let rate = if s.total > 0 {
                100.0 * s.success as f64 / s.total as f64
            } else {
                0.0
            };
            vec![
                sku.to_uppercase(),
                s.success.to_string(),
                s.total.to_string(),
                format!("{rate:.1}%"),
            ]
        })
        .collect();
    if rows.is_empty() {
        return format!("No benchmark jobs found in run {}.\n", st.run_id);
    }
    let mut t = markdown::table(&["GPU", "Succeeded", "Jobs", "Success rate"], &rows);
    if st.unmatched_jobs + st.skipped_jobs > 0 {
        t.push_str(&format!(
            "\nNot counted: {} job(s) naming no GPU (setup, collect, ...), {} skipped.\n",
            st.unmatched_jobs, st.skipped_jobs
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_per_sku_by_job_name() {
        let skus: Vec<String> = ["b200", "gb200", "h100", "mi355x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let jobs = vec![
            json!({"name": "bmk (dsr1, b200-nvd_0, 1k1k)", "conclusion": "success"}),
            json!({"name": "bmk (dsr1, b200-nvd_1, 1k1k)", "conclusion": "failure"}),
            json!({"name": "multinode (gb200-nv_0)", "conclusion": "success"}),
            json!({"name": "bmk / H100-cw_0", "conclusion": "cancelled"}),
            json!({"name": "setup", "conclusion": "success"}),
            json!({"name": "bmk (mi355x-amd_0)", "conclusion": "skipped"}),
        ];
        let st = compute(42, "o/r", &jobs, &skus);
        assert_eq!(
            st.skus["b200"],
            SkuStats {
                success: 1,
                total: 2
            }
        );
        assert_eq!(
            st.skus["gb200"],
            SkuStats {
                success: 1,
                total: 1
            }
        );
        assert_eq!(
            st.skus["h100"],
            SkuStats {
                success: 0,
                total: 1
            }
        );
        assert_eq!((st.unmatched_jobs, st.skipped_jobs), (1, 1));
        assert!(table(&st).contains("| B200 | 1 | 2 | 50.0% |"));
    }
}
