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
