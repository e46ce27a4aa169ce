//! `infmax result process`: one benchmark run's result plus the job's
//! environment -> `agg_{RESULT_FILENAME}.json` (results.md §2).

use super::record::{Parallelism, ProcessedResult};
use crate::bench::result::RunRecord;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::matrix::job_env::JobEnv;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

const COMMON: [&str; 10] = [
    "RUNNER_TYPE",
    "FRAMEWORK",
    "PRECISION",
    "SPEC_DECODING",
    "RESULT_FILENAME",
    "ISL",
    "OSL",
    "DISAGG",
    "MODEL_PREFIX",
    "IMAGE",
];
const SINGLE: [&str; 3] = ["TP", "EP_SIZE", "DP_ATTENTION"];
const MULTI: [&str; 10] = [
    "PREFILL_GPUS",
    "DECODE_GPUS",
    "PREFILL_NUM_WORKERS",
    "PREFILL_TP",
    "PREFILL_EP",
    "PREFILL_DP_ATTN",
    "DECODE_NUM_WORKERS",
    "DECODE_TP",
    "DECODE_EP",
    "DECODE_DP_ATTN",
];

/// The variables a run needs: the common ones plus the single- or multi-node set.
pub(crate) fn required_vars(multinode: bool) -> Vec<&'static str> {
    let extra: &[&str] = if multinode { &MULTI } else { &SINGLE };
    COMMON.iter().chain(extra).copied().collect()
}

/// The job environment from the process (a map, so tests need not touch
/// the process env): what `matrix job-env` set.
pub(crate) fn env_from_process() -> JobEnv {
    COMMON
        .iter()
        .chain(SINGLE.iter())
        .chain(MULTI.iter())
        .chain(["IS_MULTINODE"].iter())
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

struct Vars<'a> {
    env: &'a JobEnv,
    problems: Vec<String>,
}

impl Vars<'_> {
    fn str(&self, k: &str) -> String {
        self.env.get(k).cloned().unwrap_or_default()
    }

    fn int(&mut self, k: &str) -> u64 {
        let v = self.str(k);
        v.trim().parse().unwrap_or_else(|_| {
            self.problems
                .push(format!("{k}={v:?} is not a whole number"));
            0
        })
    }

    fn boolean(&mut self, k: &str) -> bool {
        let v = self.str(k);
        match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" | "" => false,
            _ => {
                self.problems
                    .push(format!("{k}={v:?} is not true or false"));
                false
            }
        }
    }
}

/// Whether the job is multi-node: IS_MULTINODE=true, as the seed's
/// processor reads it (anything else, or unset, is single-node).
fn is_multinode(env: &JobEnv) -> bool {
    env.get("IS_MULTINODE")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The processed result for one run (`source`: where it was read, for
/// errors).
pub(crate) fn process(run: &Value, env: &JobEnv, source: &str) -> Result<ProcessedResult> {
    let multinode = is_multinode(env);
    let required = required_vars(multinode);
    let missing: Vec<&str> = required
        .iter()
        .filter(|k| env.get(**k).is_none_or(|v| v.trim().is_empty()))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "result process: missing environment variable{} {} ({} run); the benchmark job sets them from the matrix entry",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            if multinode {
                "multi-node, IS_MULTINODE=true"
            } else {
                "single-node"
            }
        )));
    }
    // The run's file is bad input (exit 1), named by the caller.
    let bad_run = |why: &str| Error::invalid(crate::diag::Diagnostic::new(source, None, "", why));
    if !run.is_object() {
        return Err(bad_run("not a benchmark result: expected a JSON object"));
    }
    let run = RunRecord::deserialize(run)
        .map_err(|e| bad_run(&format!("not a benchmark result: {e}")))?;
    let mut v = Vars {
        env,
        problems: Vec::new(),
    };
    let total = run.total_token_throughput();
    let output = run.output_throughput();
    let disagg = v.boolean("DISAGG");
    if disagg && !multinode {
        v.problems
            .push("DISAGG=true needs a multi-node run (IS_MULTINODE=true)".into());
    }
    let isl = v.int("ISL");
    let osl = v.int("OSL");
    let (parallelism, gpus, out_gpus, in_gpus) = if multinode {
        let (pg, dg) = (v.int("PREFILL_GPUS"), v.int("DECODE_GPUS"));
        let p = Parallelism::Multi {
            prefill_tp: Some(v.int("PREFILL_TP")),
            prefill_ep: Some(v.int("PREFILL_EP")),
            prefill_num_workers: Some(v.int("PREFILL_NUM_WORKERS")),
            decode_tp: Some(v.int("DECODE_TP")),
            decode_ep: Some(v.int("DECODE_EP")),
            decode_num_workers: Some(v.int("DECODE_NUM_WORKERS")),
            prefill_dp_attention: v.str("PREFILL_DP_ATTN"),
            decode_dp_attention: v.str("DECODE_DP_ATTN"),
            num_prefill_gpu: Some(pg),
            num_decode_gpu: Some(dg),
        };
        (p, pg + dg, dg, pg)
    } else {
        let tp = v.int("TP");
        let p = Parallelism::Single {
            tp: Some(tp),
            ep: Some(v.int("EP_SIZE")),
            dp_attention: v.str("DP_ATTENTION"),
        };
        (p, tp, tp, tp)
    };
    if gpus == 0 || out_gpus == 0 || in_gpus == 0 {
        v.problems
            .push("the GPU count (TP, or PREFILL_GPUS/DECODE_GPUS) must be at least 1".into());
    }
    if !v.problems.is_empty() {
        return Err(Error::usage(format!(
            "result process: {}",
            v.problems.join("; ")
        )));
    }
    let (Some(total), Some(output)) = (total, output) else {
        return Err(bad_run(
            "not a benchmark result: total_token_throughput or output_throughput is missing or not a number",
        ));
    };
    let mut latency = Map::new();
    for (base, x) in run.latencies_ms() {
        latency.insert(base.to_string(), json!(x / 1000.0));
        if base.contains("tpot") {
            let intvty = if x > 0.0 {
                json!(1000.0 / x)
            } else {
                Value::Null
            };
            latency.insert(base.replace("tpot", "intvty"), intvty);
        }
    }
    Ok(ProcessedResult {
        hw: v.str("RUNNER_TYPE"),
        conc: run.max_concurrency.unwrap_or(Value::Null),
        image: v.str("IMAGE"),
        model: run.model_id.unwrap_or(Value::Null),
        infmax_model_prefix: v.str("MODEL_PREFIX"),
        framework: v.str("FRAMEWORK"),
        precision: v.str("PRECISION"),
        spec_decoding: v.str("SPEC_DECODING"),
        isl: Some(isl),
        osl: Some(osl),
        disagg,
        is_multinode: multinode,
        parallelism,
        tput_per_gpu: total / gpus as f64,
        output_tput_per_gpu: output / out_gpus as f64,
        input_tput_per_gpu: (total - output) / in_gpus as f64,
        latency,
        completed: run.completed,
        failed: run.failed,
        aborted: run.aborted,
        scaled_down: run.scaled_down,
        repeat: run.repeat,
        client_bound: run.client_bound,
    })
}

/// Prefill and decode GPUs from a result named as the seed's multi-node
/// launchers name them: `..._gpus_{N}_ctx_{P}_gen_{D}[.json]` (N = P + D).
pub(crate) fn gpus_from_name(name: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(".json").unwrap_or(name);
    let at = stem.rfind("_gpus_")?;
    let mut parts = stem[at + "_gpus_".len()..].split('_');
    let (n, ctx, p, gen_, d) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if ctx != "ctx" || gen_ != "gen" || parts.next().is_some() {
        return None;
    }
    let (n, p, d): (u64, u64, u64) = (n.parse().ok()?, p.parse().ok()?, d.parse().ok()?);
    (n == p + d).then_some((p, d))
}

/// A multi-node job whose environment lacks PREFILL_GPUS/DECODE_GPUS takes
/// them from the result's name when it has the seed's `_gpus_…` suffix.
fn env_with_name_gpus(env: &JobEnv, file: &Path) -> JobEnv {
    let mut env = env.clone();
    let multinode = is_multinode(&env);
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if let (true, Some((p, d))) = (multinode, gpus_from_name(name)) {
        for (k, n) in [("PREFILL_GPUS", p), ("DECODE_GPUS", d)] {
            if env.get(k).is_none_or(|v| v.trim().is_empty()) {
                env.insert(k.to_string(), n.to_string());
            }
        }
    }
    env
}

/// Reads the run's result, writes `agg_{RESULT_FILENAME}.json` into `out_dir`.
pub(crate) fn run(result_file: Option<&Path>, out_dir: &Path, env: &JobEnv) -> Result<PathBuf> {
    let name = env.get("RESULT_FILENAME").cloned().unwrap_or_default();
    // It names a file inside out_dir: no path, nothing a log would render.
    if name.contains(['/', '\\']) || name.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "RESULT_FILENAME={}: must be a file name (no `/` or `\\`, no control characters); the result goes to {}/agg_{{RESULT_FILENAME}}.json",
            name.escape_debug(),
            out_dir.display()
        )));
    }
    let input = result_file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{name}.json")));
    let env = &env_with_name_gpus(env, &input);
    // Check the environment before reading the run, so a job missing both
    // hears about its environment first.
    process(
        &json!({"total_token_throughput": 1.0, "output_throughput": 1.0}),
        env,
        "",
    )?;
    let text = fsutil::read_input(&input).map_err(Error::invalid)?;
    let run: Value = serde_json::from_str(&text).map_err(|e| {
        Error::invalid(crate::diag::Diagnostic::new(
            &input.display().to_string(),
            None,
            "",
            format!("not valid JSON: {e}"),
        ))
    })?;
    let processed = process(&run, env, &input.display().to_string())?;
    let out = out_dir.join(format!("agg_{name}.json"));
    let body = serde_json::to_string_pretty(&processed).map_err(|e| Error::env(e.to_string()))?;
    fsutil::atomic_write(&out, body.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", out.display())))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_filename_cannot_leave_the_out_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        for bad in ["../x", "a/b", "x\n::error::y"] {
            let e = run(
                Some(&dir.path().join("none.json")),
                dir.path(),
                &env(&[("RESULT_FILENAME", bad)]),
            )
            .expect_err(bad);
            assert_eq!(e.exit_code(), crate::error::EXIT_USAGE, "{bad}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        let raw = dir.path().join("r.json");
        std::fs::write(&raw, "{\"truncated\": ").expect("write");
        let full = [
            ("RUNNER_TYPE", "b200"),
            ("FRAMEWORK", "vllm"),
            ("PRECISION", "fp8"),
            ("SPEC_DECODING", "none"),
            ("RESULT_FILENAME", "r"),
            ("ISL", "1024"),
            ("OSL", "1024"),
            ("DISAGG", "false"),
            ("MODEL_PREFIX", "dsr1"),
            ("IMAGE", "img"),
            ("TP", "8"),
            ("EP_SIZE", "1"),
            ("DP_ATTENTION", "false"),
        ];
        let e = run(Some(&raw), dir.path(), &env(&full)).expect_err("truncated");
        assert_eq!(e.exit_code(), crate::error::EXIT_INVALID, "{e}");
    }

    fn env(pairs: &[(&str, &str)]) -> JobEnv {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn single_env() -> JobEnv {
        env(&[
            ("RUNNER_TYPE", "b200"),
            ("FRAMEWORK", "vllm"),
            ("PRECISION", "fp8"),
            ("SPEC_DECODING", "none"),
            ("RESULT_FILENAME", "r1"),
            ("ISL", "1024"),
            ("OSL", "1024"),
            ("DISAGG", "false"),
            ("MODEL_PREFIX", "dsr1"),
            ("IMAGE", "img"),
            ("TP", "8"),
            ("EP_SIZE", "1"),
            ("DP_ATTENTION", "false"),
        ])
    }

    fn as_json(r: ProcessedResult) -> Value {
        serde_json::to_value(r).expect("encodes")
    }

    fn run_json() -> Value {
        json!({"model_id": "org/m", "max_concurrency": 64, "total_token_throughput": 8000.0, "output_throughput": 2000.0,
               "median_ttft_ms": 120.0, "median_tpot_ms": 20.0, "p99_tpot_ms": 40.0, "mean_e2el_ms": 5000.0, "completed": 10})
    }

    #[test]
    fn single_node_fields() {
        let r = as_json(process(&run_json(), &single_env(), "r.json").expect("valid"));
        assert_eq!(r["hw"], "b200");
        assert_eq!(r["conc"], 64);
        assert_eq!(r["model"], "org/m");
        assert_eq!(
            (
                r["isl"].as_u64(),
                r["tp"].as_u64(),
                r["dp_attention"].as_str()
            ),
            (Some(1024), Some(8), Some("false")),
            "dp_attention is the environment's string (compat.md §2)"
        );
        assert_eq!(r["tput_per_gpu"], 1000.0);
        assert_eq!(r["output_tput_per_gpu"], 250.0);
        assert_eq!(r["input_tput_per_gpu"], 750.0);
        assert_eq!(r["median_ttft"], 0.12);
        assert_eq!(r["median_tpot"], 0.02);
        assert_eq!(r["median_intvty"], 50.0);
        assert_eq!(r["p99_intvty"], 25.0, "the slow tail: 1000 / p99 tpot");
        assert_eq!(r["mean_e2el"], 5.0);
        assert_eq!(r["is_multinode"], false);
    }

    #[test]
    fn multi_node_gpu_denominators() {
        let mut e = single_env();
        for k in ["TP", "EP_SIZE", "DP_ATTENTION"] {
            e.remove(k);
        }
        e.extend(env(&[
            ("IS_MULTINODE", "true"),
            ("DISAGG", "true"),
            ("PREFILL_GPUS", "8"),
            ("DECODE_GPUS", "32"),
            ("PREFILL_NUM_WORKERS", "2"),
            ("PREFILL_TP", "4"),
            ("PREFILL_EP", "4"),
            ("PREFILL_DP_ATTN", "true"),
            ("DECODE_NUM_WORKERS", "1"),
            ("DECODE_TP", "32"),
            ("DECODE_EP", "32"),
            ("DECODE_DP_ATTN", "true"),
        ]));
        let r = as_json(process(&run_json(), &e, "r.json").expect("valid"));
        assert_eq!(r["tput_per_gpu"], 200.0);
        assert_eq!(r["output_tput_per_gpu"], 62.5);
        assert_eq!(r["input_tput_per_gpu"], 750.0);
        assert_eq!(
            (r["num_prefill_gpu"].as_u64(), r["decode_tp"].as_u64()),
            (Some(8), Some(32))
        );
        assert_eq!(
            (&r["prefill_dp_attention"], &r["decode_dp_attention"]),
            (&json!("true"), &json!("true"))
        );
        assert!(r.get("tp").is_none());
    }

    #[test]
    fn gpus_from_the_seeds_multi_node_result_names() {
        assert_eq!(
            gpus_from_name("x_conc64_gpus_40_ctx_8_gen_32.json"),
            Some((8, 32))
        );
        assert_eq!(gpus_from_name("x_gpus_12_ctx_4_gen_8"), Some((4, 8)));
        assert_eq!(
            gpus_from_name("x_gpus_12_ctx_4_gen_9.json"),
            None,
            "N != P + D"
        );
        assert_eq!(gpus_from_name("x_gpus_12_ctx_4.json"), None);
        assert_eq!(gpus_from_name("x_gpus_a_ctx_4_gen_8.json"), None);
        assert_eq!(gpus_from_name("plain.json"), None);

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("dsr1_gpus_40_ctx_8_gen_32.json");
        std::fs::write(&file, run_json().to_string()).expect("write");
        let mut e = single_env();
        e.extend(env(&[
            ("IS_MULTINODE", "true"),
            ("DISAGG", "true"),
            ("PREFILL_NUM_WORKERS", "2"),
            ("PREFILL_TP", "4"),
            ("PREFILL_EP", "4"),
            ("PREFILL_DP_ATTN", "false"),
            ("DECODE_NUM_WORKERS", "1"),
            ("DECODE_TP", "32"),
            ("DECODE_EP", "32"),
            ("DECODE_DP_ATTN", "false"),
        ]));
        let out = run(Some(&file), dir.path(), &e).expect("GPUs from the name");
        let r: Value =
            serde_json::from_str(&std::fs::read_to_string(out).expect("read")).expect("json");
        assert_eq!(
            (r["num_prefill_gpu"].as_u64(), r["num_decode_gpu"].as_u64()),
            (Some(8), Some(32))
        );
        assert_eq!(r["tput_per_gpu"], 200.0);
    }

    #[test]
    fn missing_environment_names_everything() {
        let mut e = single_env();
        e.remove("ISL");
        e.remove("TP");
        let err = process(&run_json(), &e, "r.json").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "result process: missing environment variables ISL, TP (single-node run); the benchmark job sets them from the matrix entry"
        );
        let mut e = single_env();
        e.insert("DISAGG".into(), "true".into());
        assert!(
            process(&run_json(), &e, "r.json")
                .expect_err("disagg")
                .to_string()
                .contains("DISAGG=true needs a multi-node run")
        );
    }
}
