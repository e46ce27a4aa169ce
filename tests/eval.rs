//! `infmax eval run` for real: lm-evaluation-harness (from PyPI) against the
//! simulator, on a task whose dataset is a small local JSONL; then
//! `collect evals` and the score that lands in the table.
//!
//! Needs a Python with lm-eval: `$INFMAX_TEST_PYTHON`, else `python3`.
//! `.ci/run` installs it; elsewhere the test says it is skipped.

mod common;

use common::Scratch;
use common::sim::SimProcess;
use serde_json::Value;

fn python() -> Option<String> {
    let py = std::env::var("INFMAX_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import lm_eval"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("CI").is_err(),
        "CI must provide lm-eval (set INFMAX_TEST_PYTHON); .ci/run installs it"
    );
    eprintln!(
        "SKIPPED: no lm-eval for {py}; set INFMAX_TEST_PYTHON to a Python with `lm-eval[api]` installed"
    );
    None
}

/// The simulator always answers " the model answers with ..." (at least one
/// token): the flexible filter finds "the" (score 1), the strict one finds
/// nothing (score 0).
const TASK: &str = r#"task: infmax_echo
dataset_path: json
dataset_kwargs:
  data_files:
    test: DATA
test_split: test
output_type: generate_until
doc_to_text: "{{question}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
generation_kwargs:
  until: []
  do_sample: false
filter_list:
  - name: "strict-match"
    filter:
      - function: "regex"
        regex_pattern: "The answer is (\\w+)"
      - function: "take_first"
  - name: "flexible-extract"
    filter:
      - function: "regex"
        regex_pattern: "(the)"
      - function: "take_first"
metadata:
  version: 1.0
"#;

#[test]
fn lm_eval_against_the_simulator_lands_in_the_table() {
    let Some(py) = python() else { return };
    let s = Scratch::new();
    let data = s.write(
        "tasks/echo.jsonl",
        &(0..20)
            .map(|i| format!("{{\"question\": \"Question {i}?\", \"answer\": \"the\"}}\n"))
            .collect::<String>(),
    );
    s.write(
        "tasks/echo.yaml",
        &TASK.replace("DATA", data.to_str().expect("utf8")),
    );
    // Every answer arrives as reasoning with empty content: the eval proxy
    // must make it count.
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "0",
        "--reasoning-tokens",
        "100",
    ]);
    let run = s
        .infmax(&[
            "eval",
            "run",
            "--base-url",
            &sim.url(),
            "--served-model-name",
            "m",
            "--model",
            "org/model",
            "--tasks",
            "infmax_echo",
            "--include-path",
            "tasks",
            "--concurrency",
            "4",
            "--max-tokens",
            "6",
            "--out",
            "ev/job1",
            "--python",
            &py,
        ])
        .env("RUNNER_TYPE", "b200")
        .env("FRAMEWORK", "sglang")
        .env("PRECISION", "fp8")
        .env("TP", "8")
        .env("CONC", "64")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_OFFLINE", "1")
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .success();
    let run = run.stdout_eq("ev/job1/meta_env.json\n");
    // Inside Actions, lm-eval's output (it can quote the server) is fenced.
    let stderr = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    let token = stderr
        .lines()
        .find_map(|l| l.strip_prefix("::stop-commands::"))
        .expect("a fence opens");
    assert!(stderr.contains(&format!("\n::{token}::\n")), "{stderr}");
    let meta: Value = serde_json::from_str(&s.read("ev/job1/meta_env.json")).expect("meta");
    assert_eq!(
        (
            meta["hw"].as_str(),
            meta["tp"].as_u64(),
            meta["model"].as_str()
        ),
        (Some("b200"), Some(8), Some("org/model"))
    );
    let out = s
        .infmax(&["collect", "evals", "ev", "--name", "all"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8_lossy(&out);
    assert!(
        table.contains("| org/model | B200 | sglang | fp8 | none | 8 | 1 | 64 | false | infmax\\_echo | 0.00% ±0.00% | 0.00% ±0.00% | 100.00% ±0.00% | 20 |"),
        "{table}"
    );
    let stats = common::sim::get(&sim.addr, "/sim/stats").json();
    assert_eq!(stats["requests"], 20, "every question went to the server");
}

#[test]
fn missing_lm_eval_is_a_clear_error() {
    let s = Scratch::new();
    s.infmax(&["eval", "run", "--model", "m", "--python", "/bin/false"]).assert().code(3).stderr_eq(
        "error: lm-evaluation-harness is not installed for /bin/false; pass --install, or run `/bin/false -m pip install 'lm-eval[api]==0.4.13'`\n",
    );
}

/// The seed's eval calls (`run_eval --framework lm-eval ...` then
/// `append_lm_eval_summary`) through infmax's benchmark_lib.sh leave
/// meta_env.json and lm-eval's results in the working directory, where the
/// workflow uploads them as `eval_{EXP_NAME}_{RESULT_FILENAME}`, and
/// `collect evals` reads them.
#[test]
fn seed_eval_calls_leave_what_collect_reads() {
    let Some(py) = python() else { return };
    let s = Scratch::new();
    let data = s.write(
        "tasks/echo.jsonl",
        &(0..10)
            .map(|i| format!("{{\"question\": \"Question {i}?\", \"answer\": \"the\"}}\n"))
            .collect::<String>(),
    );
    let task = s.write(
        "tasks/echo.yaml",
        &TASK.replace("DATA", data.to_str().expect("utf8")),
    );
    let sim = SimProcess::fixed("1", "0");
    let port = sim.addr.rsplit(':').next().expect("a port").to_string();
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/benchmark_lib.sh");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            r#"set -euo pipefail
source "$LIB"
run_eval --framework lm-eval --port "$PORT" --gen-max-tokens 6 --concurrent-requests 4
append_lm_eval_summary"#,
        )
        .current_dir(s.path())
        .env("LIB", lib)
        .env("INFMAX", env!("CARGO_BIN_EXE_infmax"))
        .env("INFMAX_PYTHON", &py)
        .env("PORT", &port)
        .env("MODEL", "m")
        .env("EVAL_TASK", &task)
        .env("NUM_FEWSHOT", "0")
        .env("EVAL_RESULT_DIR", "lm_eval_out")
        .env("RUNNER_TYPE", "mi355x")
        .env("FRAMEWORK", "atom")
        .env("PRECISION", "fp4")
        .env("TP", "4")
        .env("EP_SIZE", "2")
        .env("CONC", "16")
        .env("DP_ATTENTION", "True")
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_str(&s.read("meta_env.json")).expect("meta_env.json in .");
    assert_eq!(meta["dp_attention"], "true");
    assert_eq!(
        (meta["tp"].as_u64(), meta["ep"].as_u64()),
        (Some(4), Some(2))
    );
    let results: Vec<_> = std::fs::read_dir(s.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("results") && n.ends_with(".json"))
        .collect();
    assert_eq!(results.len(), 1, "{results:?}");
    let out = s
        .infmax(&["collect", "evals", ".", "--name", "all"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = String::from_utf8_lossy(&out);
    assert!(
        table.contains("| m | MI355X | atom | fp4 | none | 4 | 2 | 16 | true | infmax\\_echo | 0.00% ±0.00% | 0.00% ±0.00% | 100.00% ±0.00% | 10 |"),
        "{table}"
    );
    let stats = common::sim::get(&sim.addr, "/sim/stats").json();
    assert_eq!(stats["requests"], 10, "every question went to the server");
}

/// An engine script written against the seed's library, unchanged: every
/// function of compat.md §4 with the seed's flags, against the simulator;
/// then the workflow's steps after it (`result process`, `collect results`,
/// `collect evals`) find what they read.
#[test]
fn a_seed_engine_script_runs_end_to_end_with_its_eval() {
    let Some(py) = python() else { return };
    let s = Scratch::new();
    let data = s.write(
        "tasks/echo.jsonl",
        &(0..6)
            .map(|i| format!("{{\"question\": \"Question {i}?\", \"answer\": \"the\"}}\n"))
            .collect::<String>(),
    );
    let task = s.write(
        "tasks/echo.yaml",
        &TASK.replace("DATA", data.to_str().expect("utf8")),
    );
    let tokenizer = common::tokenizer::write(s.path());
    let sim = SimProcess::start(&[
        "--served-model-name",
        "org/m",
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--tokenizer",
        tokenizer.to_str().expect("utf8"),
    ]);
    let port = sim.addr.rsplit(':').next().expect("a port").to_string();
    s.write("server.log", "");
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benchmarks/benchmark_lib.sh");
    // The seed's dsr1 MTP scripts, minus the engine launch (the simulator
    // is already up; its pid stands for the engine's), then its eval.
    let script = format!(
        "{}{}",
        common::SEED_SCRIPT,
        r#"run_eval --framework lm-eval --port "$PORT" --task "$EVAL_TASK" --num-fewshot 0 \
  --results-dir eval_dir --gen-max-tokens 6 --temperature 0 --top-p 1 --concurrent-requests 4
append_lm_eval_summary
"#
    );
    let rf = "dsr1_1k1k_fp4_sglang_tp4_ep1_dpa_false_conc4_specdecode_mtp_b200-nb_0";
    let job_env: &[(&str, &str)] = &[
        ("MODEL", "org/m"),
        ("MODEL_PREFIX", "dsr1"),
        ("IMAGE", "lmsysorg/sglang:v0.5"),
        ("RUNNER_TYPE", "b200"),
        ("FRAMEWORK", "sglang"),
        ("PRECISION", "fp4"),
        ("SPEC_DECODING", "mtp"),
        ("TP", "4"),
        ("EP_SIZE", "1"),
        ("DP_ATTENTION", "false"),
        ("CONC", "4"),
        ("ISL", "64"),
        ("OSL", "8"),
        ("DISAGG", "false"),
        ("IS_MULTINODE", "false"),
        ("RESULT_FILENAME", rf),
    ];
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(&script)
        .current_dir(s.path())
        .env("LIB", lib)
        .env("INFMAX", env!("CARGO_BIN_EXE_infmax"))
        .env("INFMAX_PYTHON", &py)
        .env("RESULT_DIR_NAME", "results")
        .env("PORT", &port)
        .env("SERVER_LOG", s.path().join("server.log"))
        .env("SERVER_PID", sim.child.id().to_string())
        .env("TOKENIZER", &tokenizer)
        .env("EVAL_TASK", &task)
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT");
    for (k, v) in job_env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The workflow's "Process results" step, then the collect jobs.
    let mut process = s.infmax(&[
        "result",
        "process",
        "--result-file",
        &format!("results/{rf}.json"),
        "--out-dir",
        "bmk",
    ]);
    for (k, v) in job_env {
        process = process.env(k, v);
    }
    process.assert().success();
    std::fs::create_dir_all(s.path().join("ev")).expect("mkdir");
    for f in std::fs::read_dir(s.path()).expect("ls").flatten() {
        let n = f.file_name().to_string_lossy().to_string();
        if n == "meta_env.json" || (n.starts_with("results") && n.ends_with(".json")) {
            std::fs::rename(f.path(), s.path().join("ev").join(&n)).expect("mv");
        }
    }
    s.infmax(&["collect", "results", "bmk", "--out-dir", "out"])
        .assert()
        .success();
    let agg: Value = serde_json::from_str(&s.read("out/agg_bmk.json")).expect("agg_bmk.json");
    let row = &agg[0];
    assert_eq!(agg.as_array().map(Vec::len), Some(1), "{agg}");
    assert_eq!(
        (
            &row["hw"],
            &row["conc"],
            &row["spec_decoding"],
            &row["dp_attention"]
        ),
        (
            &Value::from("b200"),
            &Value::from(4),
            &Value::from("mtp"),
            &Value::from("false")
        ),
        "{row}"
    );
    // The simulator's timing: 1 ms a token after the first.
    let tpot = row["median_tpot"].as_f64().expect("median_tpot");
    assert!((0.0009..0.002).contains(&tpot), "{row}");
    s.infmax(&["collect", "evals", "ev", "--out-dir", "out"])
        .assert()
        .success();
    let evals: Value =
        serde_json::from_str(&s.read("out/agg_eval_all.json")).expect("agg_eval_all.json");
    assert_eq!(evals.as_array().map(Vec::len), Some(1), "{evals}");
    assert_eq!(evals[0]["hw"], "B200", "{evals}");
    assert_eq!(evals[0]["spec_decoding"], "mtp", "{evals}");
    // 40 measured + 8 warm-up benchmark requests and 6 questions.
    let stats = common::sim::get(&sim.addr, "/sim/stats").json();
    assert_eq!(stats["requests"], 54, "{stats}");
}
