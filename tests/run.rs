//! `infmax run`, the main job on one machine: with the simulated engine, and
//! with `--engine cmd` running a server command (here the simulator itself,
//! started through the template as any real server would be).

mod common;

use common::{HOSTILE, Scratch};
use serde_json::Value;

const RUN_FILTER: [&str; 4] = ["--seq-lens", "1k1k", "--runner-type", "h100"];

#[test]
fn sim_engine_produces_every_artifact() {
    let s = Scratch::new();
    let a = s
        .infmax(
            &[
                &["run", "--out", "out", "--jobs", "2", "--max-conc", "8"][..],
                &RUN_FILTER[..],
            ]
            .concat(),
        )
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stdout.starts_with("> **Scaled-down local run**"),
        "flagged so nobody mistakes it: {stdout}"
    );
    assert!(
        stderr.contains("SCALED DOWN") && stderr.contains("[2/2] ok"),
        "{stderr}"
    );
    // dsr1-fp8-h100-vllm 1k1k: tp 8, conc 4..16 capped at 8 -> conc 4 and 8.
    let agg: Value = serde_json::from_str(&s.read("out/agg_bmk.json")).expect("agg_bmk.json");
    let rows = agg.as_array().expect("list");
    let concs: Vec<u64> = rows.iter().filter_map(|r| r["conc"].as_u64()).collect();
    assert_eq!(concs, vec![4, 8], "{rows:?}");
    assert!(rows.iter().all(|r| r["hw"] == "h100"
        && r["tp"] == 8
        && r["scaled_down"] == "true"
        && r["failed"] == 0));
    for f in [
        "out/summary.md",
        "out/report/report.html",
        "out/report/dsr1_1k1k.svg",
    ] {
        assert!(!s.read(f).is_empty(), "{f}");
    }
    let raw = std::fs::read_dir(s.path().join("out/raw"))
        .expect("raw")
        .count();
    assert_eq!(raw, 2, "every raw result is kept");
}

#[test]
fn cmd_engine_runs_the_templated_server_command() {
    let s = Scratch::new();
    let exe = env!("CARGO_BIN_EXE_infmax");
    let cmd = format!(
        "{exe} sim --port {{port}} --served-model-name {{model}} --ttft-ms 5 --itl-ms 1 --max-model-len {{max_model_len}}"
    );
    let a = s
        .infmax(
            &[
                &[
                    "run",
                    "--out",
                    "out",
                    "--engine",
                    "cmd",
                    "--server-cmd",
                    &cmd,
                ][..],
                &RUN_FILTER[..],
                &["--max-conc", "4"][..],
            ]
            .concat(),
        )
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(stderr.contains("[1/1] ok"), "{stderr}");
    let agg: Value = serde_json::from_str(&s.read("out/agg_bmk.json")).expect("agg");
    // The fixed 1 ms schedule shows through: TPOT ~1 ms.
    assert!(
        agg.as_array()
            .expect("list")
            .iter()
            .all(|r| r["median_tpot"]
                .as_f64()
                .is_some_and(|t| (t - 0.001).abs() < 0.0005)),
        "{agg}"
    );
}

#[test]
fn failed_entries_are_reported_and_the_run_goes_on() {
    let s = Scratch::new();
    let a = s
        .infmax(
            &[
                &[
                    "run",
                    "--out",
                    "out",
                    "--engine",
                    "cmd",
                    "--server-cmd",
                    &format!(
                        "echo cannot start {{model}} >&2; printf '%b\\n' {HOSTILE:?} >&2; exit 3"
                    ),
                    "--server-timeout",
                    "5",
                    "--max-conc",
                    "8",
                ][..],
                &RUN_FILTER[..],
            ]
            .concat(),
        )
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert_eq!(stderr.matches("] FAIL ").count(), 2, "{stderr}");
    assert!(
        stderr.contains("cannot start deepseek-ai/DeepSeek-R1-0528"),
        "the server's last log lines are shown: {stderr}"
    );
    assert!(stderr.contains("2 benchmark(s) failed"), "{stderr}");
    // The log lines quoted in each FAIL line cannot act on the runner.
    assert!(stderr.contains("::add-mask::secret"), "{stderr}");
    common::assert_inert(&stderr);
}

#[test]
fn bad_engine_arguments() {
    let s = Scratch::new();
    s.infmax(&["run", "--engine", "cmd"])
        .assert()
        .code(2)
        .stderr_eq("error: --engine cmd needs --server-cmd '...'\n");
    s.infmax(&["run", "--engine", "docker"])
        .assert()
        .code(2)
        .stderr_eq("error: --engine docker: allowed: sim, cmd\n");
}

/// Config text reaches `--server-cmd` as quoted words, never as shell code.
#[test]
fn config_values_are_not_shell_code() {
    let s = Scratch::new();
    let master = s.read("configs/test-master.yaml").replace(
        "model: deepseek-ai/DeepSeek-R1-0528",
        "model: \"deepseek-ai/R1 $(touch pwned);touch pwned2 'q'\"",
    );
    s.write("configs/test-master.yaml", &master);
    let a = s
        .infmax(
            &[
                &[
                    "run",
                    "--out",
                    "out",
                    "--engine",
                    "cmd",
                    "--server-cmd",
                    "echo cannot start {model} >&2; exit 3",
                    "--server-timeout",
                    "5",
                    "--max-conc",
                    "4",
                ][..],
                &RUN_FILTER[..],
            ]
            .concat(),
        )
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(
        stderr.contains("cannot start deepseek-ai/R1 $(touch pwned);touch pwned2 'q'"),
        "{stderr}"
    );
    assert!(!s.path().join("pwned").exists() && !s.path().join("pwned2").exists());
}
