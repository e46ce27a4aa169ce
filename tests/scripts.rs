//! The shell side of a benchmark job: every config in configs/ has an engine
//! script, every runner node a launcher, and every script parses and passes
//! shellcheck.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shell_scripts() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["benchmarks", "runners", "runners/lib", "scripts", ".ci"] {
        let Ok(rd) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "sh") || p.file_name().is_some_and(|n| n == "run")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (model-prefix, precision, runner, framework, spec-decoding) of every entry
/// of the full sweep of the bundled configs.
fn sweep_combos() -> BTreeSet<[String; 5]> {
    let out = Command::new(env!("CARGO_BIN_EXE_infmax"))
        .args(["matrix", "full-sweep"])
        .current_dir(root())
        .env_remove("GITHUB_OUTPUT")
        .output()
        .expect("run infmax");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).expect("matrix JSON");
    let field = |e: &serde_json::Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            [
                field(e, "model-prefix"),
                field(e, "precision"),
                field(e, "runner"),
                field(e, "framework"),
                field(e, "spec-decoding"),
            ]
        })
        .collect()
}

#[test]
fn every_config_resolves_to_an_engine_script() {
    let combos = sweep_combos();
    assert!(combos.len() > 20, "{combos:?}");
    let input: String = combos.iter().map(|c| c.join(" ") + "\n").collect();
    // The launchers' own resolver, so the test and the jobs cannot disagree.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(
            r#"set -u; source runners/lib/launch.sh
               while read -r MODEL_PREFIX PRECISION RUNNER_TYPE FRAMEWORK SPEC_DECODING; do
                 bench_script . || echo "MISSING"
               done"#,
        )
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("bash output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("MISSING"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let used: BTreeSet<&str> = stdout.lines().collect();
    assert_eq!(stdout.lines().count(), combos.len());
    // And no engine script is left over from a config that no longer exists.
    let mut unused = Vec::new();
    for e in std::fs::read_dir(root().join("benchmarks"))
        .expect("benchmarks/")
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        let rel = format!("benchmarks/{name}");
        if name.ends_with(".sh")
            && !["benchmark_lib.sh", "engines.sh", "sim.sh"].contains(&name.as_str())
            && !used.contains(rel.as_str())
        {
            unused.push(rel);
        }
    }
    assert!(unused.is_empty(), "scripts no config uses: {unused:?}");
}

#[test]
fn a_missing_engine_script_is_named() {
    let out = Command::new("bash")
        .arg("-c")
        .arg("source runners/lib/launch.sh; MODEL_PREFIX=llama PRECISION=fp8 RUNNER_TYPE=b200-dgxc FRAMEWORK=vllm SPEC_DECODING=mtp bench_script .")
        .current_dir(root())
        .output()
        .expect("bash");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no engine script benchmarks/llama_fp8_b200_vllm_mtp.sh for llama/fp8/b200-dgxc/vllm (spec-decoding mtp); add it to benchmarks/\n"
    );
}

#[test]
fn every_runner_node_has_a_launcher() {
    let text = std::fs::read_to_string(root().join("configs/runners.yaml")).expect("runners.yaml");
    let runners: serde_json::Value = serde_saphyr::from_str(&text).expect("runners.yaml parses");
    let mut missing = Vec::new();
    let mut clusters = BTreeSet::new();
    for nodes in runners.as_object().expect("a mapping").values() {
        for node in nodes.as_array().expect("a list") {
            let node = node.as_str().expect("a name");
            // launch_<node without its _N index>.sh, as the workflow picks it.
            let cluster = node.rsplit_once('_').map_or(node, |(c, _)| c);
            clusters.insert(cluster.to_string());
            let p = root().join(format!("runners/launch_{cluster}.sh"));
            if !p.exists() {
                missing.push(p.display().to_string());
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
    assert!(clusters.len() >= 10, "{clusters:?}");
}

#[test]
fn scripts_parse_and_pass_shellcheck() {
    let scripts = shell_scripts();
    assert!(scripts.len() > 40, "{scripts:?}");
    for s in &scripts {
        let out = Command::new("bash")
            .arg("-n")
            .arg(s)
            .output()
            .expect("bash -n");
        assert!(
            out.status.success(),
            "bash -n {}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let Ok(out) = Command::new("shellcheck")
        .arg("-x")
        .args(&scripts)
        .current_dir(root())
        .output()
    else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must provide shellcheck; .ci/run installs it"
        );
        eprintln!("SKIPPED shellcheck: not installed (apt-get install shellcheck)");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn job_names_find_their_leftovers() {
    // cleanup.sh cancels Slurm jobs named infmax-*; the name must survive any runner name.
    let out = Command::new("bash")
        .arg("-c")
        .arg("source runners/lib/launch.sh; GITHUB_RUN_ID=42 GITHUB_RUN_ATTEMPT=2 RUNNER_NAME='h100 cr/0' job_name")
        .current_dir(root())
        .output()
        .expect("bash");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "infmax-42-2-h100-cr-0\n"
    );
}

fn seed_script(s: &common::Scratch, sim: &common::sim::SimProcess, script: &str) -> Command {
    let port = sim.addr.rsplit(':').next().expect("a port").to_string();
    s.write("server.log", "");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(script)
        .current_dir(s.path())
        .env("LIB", root().join("benchmarks/benchmark_lib.sh"))
        .env("INFMAX", env!("CARGO_BIN_EXE_infmax"))
        .env("PORT", port)
        .env("SERVER_LOG", s.path().join("server.log"))
        .env("SERVER_PID", sim.child.id().to_string())
        .env("MODEL", "m")
        .env("TOKENIZER", common::tokenizer::write(s.path()))
        .env("ISL", "64")
        .env("OSL", "8")
        .env("CONC", "4")
        .env("RESULT_FILENAME", "seed_job")
        .env("RESULT_DIR_NAME", "out")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT");
    cmd
}

#[test]
fn a_seed_engine_script_runs_on_the_library() {
    let s = common::Scratch::new();
    let tokenizer = common::tokenizer::write(s.path());
    let tok = tokenizer.to_str().expect("utf8");
    let sim = common::sim::SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--tokenizer",
        tok,
    ]);
    let out = seed_script(&s, &sim, common::SEED_SCRIPT)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value =
        serde_json::from_str(&s.read("out/seed_job.json")).expect("result at D/F.json");
    // The sweep protocol: 10 x C prompts, all completed, 2 x C warm-ups.
    assert_eq!(r["num_prompts"], 40);
    assert_eq!(r["completed"], 40);
    assert_eq!(r["num_warmups"], 8);
    assert_eq!(r["max_concurrency"], 4);
    assert_eq!(r["request_rate"], "inf");
    // Prompt lengths drawn from [0.8 x 64, 64], sent as chat messages.
    common::assert_sweep_chat_prompts(&r, 64.0);
    // ttft,tpot,itl,e2el with the sweep's percentiles; every *ms key a number
    // (the seed's processor divides them all by 1000).
    for k in [
        "median_e2el_ms",
        "p99_itl_ms",
        "p90_tpot_ms",
        "mean_ttft_ms",
    ] {
        assert!(r[k].is_number(), "{k}: {}", r[k]);
    }
    for (k, v) in r.as_object().expect("an object") {
        if k.ends_with("ms") || k.contains("tpot") {
            assert!(v.is_number(), "{k}: {v}");
        }
    }
    // 40 measured requests and 2 x C = 8 warm-ups reached the server.
    let stats = common::sim::get(&sim.addr, "/sim/stats").json();
    assert_eq!(stats["requests"], 48, "{stats}");
}

#[test]
fn seed_library_calls_fail_with_what_to_fix() {
    let s = common::Scratch::new();
    let sim = common::sim::SimProcess::fixed("2", "1");
    let out = seed_script(
        &s,
        &sim,
        r#"source "$LIB"; unset ISL; RESULT_FILENAME= check_env_vars MODEL ISL RESULT_FILENAME; echo not reached"#,
    )
    .output()
    .expect("bash");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: bash: missing environment variables: ISL RESULT_FILENAME (set them from the matrix entry with `infmax matrix job-env`)\n"
    );
    for (call, message) in [
        (
            "run_benchmark_serving --model m --bogus 1",
            "error: run_benchmark_serving: unknown option `--bogus` (allowed: --model --port --backend --input-len --output-len --random-range-ratio --num-prompts --max-concurrency --result-filename --result-dir --tokenizer --use-chat-template --server-pid --bench-serving-dir --trust-remote-code)\n",
        ),
        (
            "run_benchmark_serving --model m --input-len 8",
            "error: run_benchmark_serving: missing options for: osl conc name (needs --model, --input-len, --output-len, --max-concurrency, --result-filename)\n",
        ),
        (
            "wait_for_server_ready --port",
            "error: wait_for_server_ready: --port needs a value\n",
        ),
        (
            "run_eval --framework lighteval",
            "error: run_eval: --framework lighteval is not supported (allowed: lm-eval)\n",
        ),
        (
            "EVAL_RESULT_DIR=nowhere append_lm_eval_summary",
            "error: append_lm_eval_summary: EVAL_RESULT_DIR='nowhere' is not a folder of lm-eval results; run run_eval first (its output says why it did not finish)\n",
        ),
    ] {
        let out = seed_script(&s, &sim, &format!("source \"$LIB\"; {call}"))
            .output()
            .expect("bash");
        assert!(!out.status.success(), "{call}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{call}");
    }
}

#[test]
fn cleanup_cancels_only_this_runners_jobs() {
    let s = common::Scratch::new();
    let bin = s.path().join("bin");
    s.write(
        "bin/squeue",
        "#!/bin/sh\nprintf '%s\\n' '11 infmax-42-1-h100-cr-0' '12 infmax-7-2-h100-cr-0' '13 infmax-42-1-h100-cr-1' '14 infmax-42-1-x-h100-cr-0' '15 other-job' '16 infmax-42-1-h100-cr-0x'\n",
    );
    s.write("bin/scancel", "#!/bin/sh\necho \"$@\" > \"$CANCELLED\"\n");
    s.write("bin/docker", "#!/bin/sh\nexit 1\n");
    for f in ["squeue", "scancel", "docker"] {
        let out = Command::new("chmod")
            .arg("+x")
            .arg(bin.join(f))
            .status()
            .expect("chmod");
        assert!(out.success());
    }
    s.write("results/old.json", "{}");
    let out = Command::new("bash")
        .arg(root().join("runners/cleanup.sh"))
        .current_dir(s.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("RUNNER_NAME", "h100 cr/0")
        .env("CANCELLED", s.path().join("cancelled"))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // This runner's jobs of any run; not a neighbour's, not a lookalike.
    assert_eq!(s.read("cancelled"), "11 12\n");
    assert!(!s.path().join("results").exists());
}

#[test]
fn gb200_launchers_ask_for_four_gpus_per_node() {
    let out = Command::new("bash")
        .arg("-c")
        .arg("source runners/lib/launch.sh; echo $GPUS_PER_NODE")
        .current_dir(root())
        .env("RUNNER_TYPE", "gb200")
        .env_remove("GPUS_PER_NODE")
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "4\n");
    let out = Command::new("bash")
        .arg("-c")
        .arg("source runners/lib/launch.sh; echo $GPUS_PER_NODE")
        .current_dir(root())
        .env("RUNNER_TYPE", "b200-dgxc")
        .env_remove("GPUS_PER_NODE")
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "8\n");
}

/// The library's defaults (compat.md §4), seen in the arguments it passes to
/// infmax (a stub that records them): run_eval with nothing but the job
/// environment; run_benchmark for speculative decoding sends chat messages;
/// append_lm_eval_summary writes meta_env.json when lm-eval ran elsewhere.
#[test]
fn library_defaults_reach_infmax() {
    let s = common::Scratch::new();
    let stub = s.write(
        "stub.sh",
        "#!/bin/sh\nprintf '%s\\n' \"$*\" \"OPENAI_API_KEY=$OPENAI_API_KEY\" >> \"$CALLS\"\n",
    );
    let call = |script: &str, env: &[(&str, &str)]| {
        let _ = std::fs::remove_file(s.path().join("calls"));
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("source \"$LIB\"; {script}"))
            .current_dir(s.path())
            .env("LIB", root().join("benchmarks/benchmark_lib.sh"))
            .env("INFMAX", "sh")
            .env("CALLS", s.path().join("calls"))
            .env("MODEL", "org/m")
            .env_remove("PORT")
            .env_remove("EVAL_TASK")
            .env_remove("NUM_FEWSHOT")
            .env_remove("EVAL_RESULT_DIR")
            .env_remove("EVAL_FRAMEWORK")
            .env_remove("MODEL_NAME")
            .env_remove("OPENAI_API_KEY")
            .env_remove("SPEC_DECODING");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("bash");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).to_string(),
            s.read("calls"),
        )
    };
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let stub = stub.to_str().expect("utf8");
    let gsm8k = root().join("benchmarks/evals/gsm8k.yaml");
    let evals = root().join("benchmarks/evals");
    let (stdout, calls) = call(
        &format!("INFMAX={stub}; run_eval; echo \"$EVAL_RESULT_DIR\""),
        &[],
    );
    assert_eq!(
        calls,
        format!(
            "eval run --port 8888 --model org/m --tasks {} --include-path {} --num-fewshot 2 --max-tokens 4096 --temperature 0 --top-p 1 --concurrency 32 --out eval_out\nOPENAI_API_KEY=EMPTY\n",
            gsm8k.display(),
            evals.display()
        )
    );
    assert_eq!(
        stdout, "eval_out\n",
        "EVAL_RESULT_DIR is exported for the next step"
    );
    let (_, calls) = call(
        &format!("INFMAX={stub}; run_lm_eval"),
        &[
            ("MODEL_NAME", "served"),
            ("NUM_FEWSHOT", "5"),
            ("EVAL_TASK", "mmlu"),
        ],
    );
    assert!(
        calls.contains(" --model served --tasks mmlu ") && calls.contains(" --num-fewshot 5 "),
        "{calls}"
    );
    // Speculative decoding: chat messages, as the seed's MTP scripts send them.
    for (spec, chat) in [("mtp", true), ("draft_model", true), ("none", false)] {
        let (_, calls) = call(
            &format!("INFMAX={stub}; RESULT_DIR=r; run_benchmark 4 name"),
            &[("SPEC_DECODING", spec), ("ISL", "64"), ("OSL", "8")],
        );
        assert_eq!(
            calls.contains("--use-chat-template"),
            chat,
            "{spec}: {calls}"
        );
        assert!(calls.contains("--protocol sweep"), "{calls}");
    }
    // lm-eval results without meta_env.json: append_lm_eval_summary asks
    // infmax for it (`eval meta`), then moves both here.
    s.write("elsewhere/results_2026.json", "{}");
    let (_, calls) = call(
        &format!("INFMAX={stub}; EVAL_RESULT_DIR=elsewhere; append_lm_eval_summary || true"),
        &[],
    );
    assert_eq!(calls.lines().next(), Some("eval meta --out elsewhere"));
    assert!(s.path().join("results_2026.json").exists());
}
