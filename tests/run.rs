//! `infmax run`, the main job on one machine: with the simulated engine, and
//! with `--engine cmd` running a server command (here the simulator itself,
//! started through the template as any real server would be).

mod common;

use common::{HOSTILE, Scratch};
use serde_json::Value;

const RUN_FILTER: [&str; 4] = ["--seq-lens", "1k1k", "--runner-type", "h100"];

/// The simulator as a server command template, on the fixed schedule.
fn sim_cmd() -> String {
    format!(
        "{} sim --port {{port}} --served-model-name {{model}} --ttft-ms 5 --itl-ms 1 --max-model-len {{max_model_len}}",
        env!("CARGO_BIN_EXE_infmax")
    )
}

/// `infmax run --engine cmd --server-cmd CMD` into `out`, then `extra`.
fn run_cmd(s: &Scratch, cmd: &str, extra: &[&str]) -> snapbox::cmd::Command {
    let head = [
        "run",
        "--out",
        "out",
        "--engine",
        "cmd",
        "--server-cmd",
        cmd,
    ];
    s.infmax(&[&head[..], &RUN_FILTER[..], extra].concat())
}

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
    let a = run_cmd(&s, &sim_cmd(), &["--max-conc", "4"])
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

/// A server command that exits because its port was taken (between
/// `infmax run` choosing a free port and the server binding it) is started
/// again on another port. The first start here stands in for such a server:
/// it prints the kernel's words and exits, as the simulator does.
#[test]
fn a_server_whose_port_was_taken_is_started_again() {
    let s = Scratch::new();
    let cmd = format!(
        "echo {{port}} >> ports; if [ ! -e taken ]; then touch taken; \
         echo 'error: cannot listen on 127.0.0.1:{{port}}: Address already in use (os error 98)' >&2; exit 1; fi; \
         exec {}",
        sim_cmd()
    );
    let run = |cmd: &str| run_cmd(&s, cmd, &["--server-timeout", "30", "--max-conc", "4"]).assert();
    let a = run(&cmd).success();
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert_eq!(
        stderr.matches("its port was taken").count(),
        1,
        "one restart: {stderr}"
    );
    assert!(stderr.contains("[1/1] ok"), "{stderr}");
    let ports = s.read("ports");
    let ports: Vec<&str> = ports.lines().collect();
    assert!(ports.len() == 2 && ports[0] != ports[1], "{ports:?}");

    // Any other failure is not retried.
    let a = run("echo ports >> tries; echo 'no GPU' >&2; exit 1").code(4);
    let stderr = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(!stderr.contains("its port was taken"), "{stderr}");
    assert_eq!(s.read("tries").lines().count(), 1);
}

#[test]
fn failed_entries_are_reported_and_the_run_goes_on() {
    let s = Scratch::new();
    let script = format!("echo cannot start {{model}} >&2; printf '%b\\n' {HOSTILE:?} >&2; exit 3");
    let a = run_cmd(&s, &script, &["--server-timeout", "5", "--max-conc", "8"])
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
        .stderr_eq("error: invalid value 'docker' for '--engine <ENGINE>'\n  [possible values: sim, cmd]\n\nFor more information, try '--help'.\n");
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
    let a = run_cmd(
        &s,
        "echo cannot start {model} >&2; exit 3",
        &["--server-timeout", "5", "--max-conc", "4"],
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

/// `--full-scale` benchmarks under the CI scripts' protocol, read from the
/// same place (`bench serve --protocol sweep`): 10 x C prompts, 2 x C
/// warm-ups, range ratio 0.8, the p99.9 percentile; a speculative-decoding
/// entry with text prompts goes as chat messages, as `run_benchmark` sends it.
#[test]
fn full_scale_uses_the_ci_protocol() {
    let s = Scratch::new();
    s.write(
        "cfg/tiny-master.yaml",
        "tiny-fp8-h100-vllm:
  image: vllm/vllm-openai:v0.11.0
  model: m
  model-prefix: tiny
  precision: fp8
  framework: vllm
  runner: h100
  multinode: false
  seq-len-configs:
  - isl: 64
    osl: 4
    search-space:
    - { tp: 1, spec-decoding: mtp, conc-list: [2] }
",
    );
    s.write("cfg/runners.yaml", "h100: [h100-x_0]\n");
    let tokenizer = common::tokenizer::write(s.path());
    let tok = tokenizer.to_str().expect("utf8");
    let exe = env!("CARGO_BIN_EXE_infmax");
    let cmd = format!(
        "{exe} sim --port {{port}} --served-model-name {{model}} --ttft-ms 1 --itl-ms 1 --max-model-len {{max_model_len}} --tokenizer {tok}"
    );
    s.infmax(&[
        "run",
        "--full-scale",
        "--config-files",
        "cfg/tiny-master.yaml",
        "--runner-config",
        "cfg/runners.yaml",
        "--engine",
        "cmd",
        "--server-cmd",
        &cmd,
        "--tokenizer",
        tok,
        "--out",
        "out",
    ])
    .assert()
    .success();
    let raw = std::fs::read_dir(s.path().join("out/raw"))
        .expect("raw")
        .flatten()
        .next()
        .expect("one raw result");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(raw.path()).expect("read")).expect("json");
    assert_eq!(
        (&r["num_prompts"], &r["num_warmups"], &r["completed"]),
        (&Value::from(20), &Value::from(4), &Value::from(20)),
        "{r}"
    );
    assert!(r["p99.9_ttft_ms"].is_number(), "{r}");
    common::assert_sweep_chat_prompts(&r, 64.0);
}
