//! Running `infmax bench serve` against a simulator (or another server) from tests.
#![allow(dead_code)]

use super::sim::SimProcess;
use serde_json::Value;
use std::process::{Command, Output};

/// `infmax ARGS` as CI runs it (plain progress lines, no annotations).
pub fn infmax(args: &[&str]) -> Output {
    infmax_with(args, &[])
}

/// `infmax ARGS` with `env` set; never the machine's proxy variables (the
/// bench client's choice of HTTP client depends on them).
pub fn infmax_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_infmax"));
    cmd.args(args)
        .env_remove("GITHUB_ACTIONS")
        .env("CI", "true");
    for v in [
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("infmax runs")
}

/// Runs `bench serve` against `sim` and returns (exit code, result JSON, stderr).
pub fn bench(
    sim: &SimProcess,
    dir: &std::path::Path,
    extra: &[&str],
) -> (Option<i32>, Value, String) {
    bench_with(sim, dir, extra, &[])
}

/// [`bench`] with `env` set.
pub fn bench_with(
    sim: &SimProcess,
    dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, Value, String) {
    bench_at(&sim.url(), dir, extra, env)
}

/// [`bench_with`] against any server at `url`.
pub fn bench_at(
    url: &str,
    dir: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, Value, String) {
    let mut args = vec![
        "bench",
        "serve",
        "--model",
        "m",
        "--base-url",
        url,
        "--save-result",
        "--result-dir",
        dir.to_str().expect("utf8 path"),
        "--result-filename",
        "r.json",
        "--ignore-eos",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,99",
    ];
    args.extend_from_slice(extra);
    let out = infmax_with(&args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code(), result(dir, &stderr), stderr)
}

/// The result `r.json` a run wrote into `dir`; `stderr` is shown if none.
pub fn result(dir: &std::path::Path, stderr: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("r.json"))
        .unwrap_or_else(|_| panic!("result written; stderr:\n{stderr}"));
    serde_json::from_str(&text).expect("result is JSON")
}

pub fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("{k} is a number in {v}"))
}
