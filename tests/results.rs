//! `infmax result process`, `collect results`, `collect evals` and `report`:
//! fixtures pinned with snapshots, and the whole chain against the simulator.

mod common;

use common::Scratch;
use common::sim::SimProcess;
use serde_json::{Value, json};
use snapbox::IntoData;
use snapbox::str;

fn processed(prefix: &str, model: &str, hw: &str, tp: u64, conc: u64, tput: f64) -> Value {
    json!({"hw": hw, "conc": conc, "image": "img", "model": model, "infmax_model_prefix": prefix, "framework": "vllm",
           "precision": "fp8", "spec_decoding": "none", "isl": 1024, "osl": 1024, "disagg": false, "is_multinode": false,
           "tp": tp, "ep": 1, "dp_attention": false, "tput_per_gpu": tput, "output_tput_per_gpu": tput / 2.0,
           "input_tput_per_gpu": tput / 2.0, "median_ttft": 0.1234, "median_tpot": 0.02, "median_intvty": 1000.0 / (20.0 + conc as f64),
           "median_e2el": 21.5})
}

fn fixture(s: &Scratch) {
    s.write(
        "art/job1/agg_a.json",
        &processed("dsr1", "deepseek-ai/DeepSeek-R1", "b200", 8, 64, 1500.0).to_string(),
    );
    s.write(
        "art/job2/agg_b.json",
        &processed("dsr1", "deepseek-ai/DeepSeek-R1", "b200", 8, 4, 400.0).to_string(),
    );
    s.write(
        "art/job3/agg_c.json",
        &processed(
            "gptoss",
            "evil|<img src=x onerror=alert(1)>\n`rm -rf`",
            "h100",
            2,
            16,
            900.0,
        )
        .to_string(),
    );
    let mut multi = processed("dsr1", "nvidia/DeepSeek-R1-FP4", "gb200", 0, 1024, 3000.0);
    let m = multi.as_object_mut().expect("object");
    for k in ["tp", "ep", "dp_attention"] {
        m.remove(k);
    }
    m.insert("is_multinode".into(), json!(true));
    m.insert("disagg".into(), json!(true));
    for (k, v) in [
        ("prefill_tp", 4),
        ("prefill_ep", 4),
        ("prefill_num_workers", 2),
        ("num_prefill_gpu", 8),
        ("decode_tp", 16),
        ("decode_ep", 16),
        ("decode_num_workers", 1),
        ("num_decode_gpu", 16),
    ] {
        m.insert(k.into(), json!(v));
    }
    m.insert("prefill_dp_attention".into(), json!(true));
    m.insert("decode_dp_attention".into(), json!(true));
    s.write("art/job4/agg_d.json", &multi.to_string());
    // An earlier aggregate in the tree is not a result.
    s.write("art/agg_old.json", "[]");
}

#[test]
fn collect_results_tables_and_step_summary() {
    let s = Scratch::new();
    fixture(&s);
    let summary = s.write("summary.md", "");
    s.infmax(&["collect", "results", "art", "--name", "bmk", "--step-summary"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .assert()
        .success()
        .stdout_eq(str![[r#"
### Single-node results

| Model | Served Model | Hardware | Framework | Precision | ISL | OSL | TP | EP | DP Attention | Conc | TTFT (ms) | TPOT (ms) | Interactivity (tok/s/user) | E2EL (s) | TPUT per GPU | Output TPUT per GPU | Input TPUT per GPU |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| dsr1 | deepseek-ai/DeepSeek-R1 | B200 | VLLM | FP8 | 1024 | 1024 | 8 | 1 | false | 4 | 123.4000 | 20.0000 | 41.6667 | 21.5000 | 400.0000 | 200.0000 | 200.0000 |
| dsr1 | deepseek-ai/DeepSeek-R1 | B200 | VLLM | FP8 | 1024 | 1024 | 8 | 1 | false | 64 | 123.4000 | 20.0000 | 11.9048 | 21.5000 | 1500.0000 | 750.0000 | 750.0000 |
| gptoss | evil\|&lt;img src=x onerror=alert(1)&gt; \`rm -rf\` | H100 | VLLM | FP8 | 1024 | 1024 | 2 | 1 | false | 16 | 123.4000 | 20.0000 | 27.7778 | 21.5000 | 900.0000 | 450.0000 | 450.0000 |

### Multi-node results

| Model | Served Model | Hardware | Framework | Precision | ISL | OSL | Prefill TP | Prefill EP | Prefill DP Attn | Prefill Workers | Prefill GPUs | Decode TP | Decode EP | Decode DP Attn | Decode Workers | Decode GPUs | Conc | TTFT (ms) | TPOT (ms) | Interactivity (tok/s/user) | E2EL (s) | TPUT per GPU | Output TPUT per GPU | Input TPUT per GPU |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| dsr1 | nvidia/DeepSeek-R1-FP4 | GB200 | VLLM | FP8 | 1024 | 1024 | 4 | 4 | true | 2 | 8 | 16 | 16 | true | 1 | 16 | 1024 | 123.4000 | 20.0000 | 0.9579 | 21.5000 | 3000.0000 | 1500.0000 | 1500.0000 |


"#]].raw());
    let agg: Value = serde_json::from_str(&s.read("agg_bmk.json")).expect("aggregate JSON");
    assert_eq!(agg.as_array().map(Vec::len), Some(4));
    let stdout_again = s
        .infmax(&["collect", "results", "art", "--name", "bmk"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        s.read("summary.md"),
        String::from_utf8_lossy(&stdout_again),
        "the step summary gets the same tables"
    );
    assert_eq!(
        s.read("agg_bmk.md"),
        String::from_utf8_lossy(&stdout_again),
        "the tables are kept beside the aggregate"
    );
    assert_eq!(
        s.read("summary.md")
            .lines()
            .filter(|l| l.starts_with("| gptoss"))
            .count(),
        1,
        "a newline in a name cannot split a row"
    );
}

#[test]
fn report_writes_charts_and_html() {
    let s = Scratch::new();
    fixture(&s);
    s.infmax(&["report", "art", "--out", "rep"])
        .assert()
        .success()
        .stdout_eq(str![[r#"
rep/dsr1_1k1k.svg
rep/gptoss_1k1k.svg
rep/report.html

"#]]);
    let svg = s.read("rep/dsr1_1k1k.svg");
    assert!(
        svg.starts_with("<svg")
            && svg.contains("B200 vllm fp8")
            && svg.contains("GB200 vllm fp8 (multi-node)")
            && svg.contains("Pareto frontier")
    );
    let html = s.read("rep/report.html");
    assert!(
        html.contains("<svg")
            && html.contains("evil|&lt;img src=x onerror=alert(1)&gt;")
            && !html.contains("<img")
    );
}

#[test]
fn result_process_missing_environment() {
    let s = Scratch::new();
    s.write(
        "run.json",
        r#"{"model_id":"m","max_concurrency":4,"total_token_throughput":10,"output_throughput":5}"#,
    );
    s.infmax(&["result", "process", "--result-file", "run.json"])
        .env("RUNNER_TYPE", "b200")
        .env("TP", "8")
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: result process: missing environment variables FRAMEWORK, PRECISION, SPEC_DECODING, RESULT_FILENAME, ISL, OSL, DISAGG, MODEL_PREFIX, IMAGE, EP_SIZE, DP_ATTENTION (single-node run); the benchmark job sets them from the matrix entry

"#]]);
    let files: Vec<_> = std::fs::read_dir(s.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.to_string_lossy().starts_with("agg_")),
        "no file written: {files:?}"
    );
}

fn harness(score: f64) -> String {
    json!({"lm_eval_version": "0.4.9",
           "results": {"gsm8k": {"exact_match,strict-match": score, "exact_match_stderr,strict-match": 0.01,
                                  "exact_match,flexible-extract": score + 0.01, "exact_match_stderr,flexible-extract": 0.01}},
           "configs": {"gsm8k": {"metric_list": [{"metric": "exact_match"}], "filter_list": [{"name": "strict-match"}, {"name": "flexible-extract"}]}},
           "n-samples": {"gsm8k": {"effective": 1319}}})
    .to_string()
}

#[test]
fn collect_evals_table_and_thresholds() {
    let s = Scratch::new();
    let meta = |hw: &str, tp: u64| {
        json!({"framework": "sglang", "precision": "fp8", "spec_decoding": "none", "tp": tp, "conc": 64, "ep": 1,
        "dp_attention": false, "model": "deepseek-ai/DeepSeek-R1", "hw": hw, "isl": 1024, "osl": 8192}).to_string()
    };
    s.write("ev/a/meta_env.json", &meta("mi355x", 8));
    s.write("ev/a/out/results_2026-11-01.json", &harness(0.5));
    s.write("ev/b/meta_env.json", &meta("b200", 4));
    s.write("ev/b/results_x.json", &harness(0.95));
    s.write("ev/b/results_not_harness.json", r#"{"other": 1}"#);
    s.write("floors.yaml", "gsm8k: 0.9\n");
    let outputs = s.write("gh_output", "");
    s.infmax(&["collect", "evals", "ev", "--name", "all", "--thresholds", "floors.yaml"])
        .env("INFMAX_FILE_OUTPUTS", "true")
        .env("GITHUB_OUTPUT", &outputs)
        .assert()
        .code(4)
        .stdout_eq(str![[r#"
### Evals

| Model | Hardware | Framework | Precision | Spec Decode | TP | EP | Conc | DP Attention | Task | Score | EM Strict | EM Flexible | N (eff) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| deepseek-ai/DeepSeek-R1 | B200 | sglang | fp8 | none | 4 | 1 | 64 | false | gsm8k | 95.00% ±1.00% | 95.00% ±1.00% | 96.00% ±1.00% | 1319 |
| deepseek-ai/DeepSeek-R1 | MI355X | sglang | fp8 | none | 8 | 1 | 64 | false | gsm8k | 50.00% ±1.00% | 50.00% ±1.00% | 51.00% ±1.00% | 1319 |

"#]])
        .stderr_eq(str![[r#"
infmax: 2 eval rows from ev -> ./agg_eval_all.json
error: 1 eval run(s) below their minimum score:
  gsm8k on deepseek-ai/DeepSeek-R1 (MI355X sglang fp8 tp8 conc64): score 50.00% below the minimum 90.00%

"#]]);
    let rows: Value =
        serde_json::from_str(&s.read("agg_eval_all.json")).expect("written before the check");
    assert_eq!(rows[1]["source"], "a/out/results_2026-11-01.json");
    // A failed check (exit 4) still names the files it wrote, for the action's outputs.
    let recorded: Vec<String> = s
        .read("gh_output")
        .lines()
        .filter(|l| !l.starts_with("ghadelimiter_"))
        .map(str::to_string)
        .collect();
    assert_eq!(recorded.len(), 4, "{recorded:?}");
    assert!(recorded[0].starts_with("result-file<<ghadelimiter_"));
    assert_eq!(recorded[1], "./agg_eval_all.json");
    assert!(recorded[2].starts_with("summary-file<<ghadelimiter_"));
    assert_eq!(recorded[3], "./agg_eval_all.md");
    assert!(s.read("agg_eval_all.md").contains("| gsm8k | 95.00%"));
    s.write("none/x.txt", "");
    s.infmax(&["collect", "evals", "none"])
        .assert()
        .success()
        .stdout_eq("### Evals\n\nNo eval results found.\n");
    // A floor fails closed: an eval job whose results are missing is not a pass.
    s.write("cut/job/meta_env.json", &meta("b200", 8));
    s.infmax(&["collect", "evals", "cut", "--name", "cut", "--thresholds", "floors.yaml"])
        .assert()
        .code(4)
        .stdout_eq("### Evals\n\nNo eval results found.\n")
        .stderr_eq(str![[r#"
warning: cut/job/meta_env.json: no lm-eval results*.json beside this meta_env.json; the eval did not finish
infmax: 0 eval rows from cut -> ./agg_eval_cut.json
error: 2 eval run(s) below their minimum score:
  gsm8k: no eval result found (missing or unreadable results cannot pass a floor)
  cut/job/meta_env.json: eval without results

"#]]);
}

/// sim -> bench serve -> result process -> collect results -> report.
#[test]
fn whole_chain_against_the_simulator() {
    let s = Scratch::new();
    let sim = SimProcess::fixed("20", "5");
    s.infmax(&[
        "bench",
        "serve",
        "--model",
        "org/model",
        "--served-model-name",
        "m",
        "--base-url",
        &sim.url(),
        "--prompt-token-ids",
        "--random-input-len",
        "32",
        "--random-output-len",
        "8",
        "--num-prompts",
        "8",
        "--max-concurrency",
        "4",
        "--ignore-eos",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--save-result",
        "--result-dir",
        "job",
        "--result-filename",
        "run1.json",
    ])
    .assert()
    .success();
    s.infmax(&[
        "result",
        "process",
        "--result-file",
        "job/run1.json",
        "--out-dir",
        "job",
    ])
    .env("RUNNER_TYPE", "b200-dgxc")
    .env("FRAMEWORK", "sglang")
    .env("PRECISION", "fp4")
    .env("SPEC_DECODING", "mtp")
    .env("RESULT_FILENAME", "run1")
    .env("ISL", "32")
    .env("OSL", "8")
    .env("DISAGG", "false")
    .env("MODEL_PREFIX", "dsr1")
    .env("IMAGE", "img")
    .env("TP", "4")
    .env("EP_SIZE", "4")
    .env("DP_ATTENTION", "true")
    .assert()
    .success()
    .stdout_eq("job/agg_run1.json\n");
    let run: Value = serde_json::from_str(&s.read("job/run1.json")).expect("run");
    let agg: Value = serde_json::from_str(&s.read("job/agg_run1.json")).expect("agg");
    assert_eq!(agg["conc"], 4);
    assert_eq!(agg["model"], "org/model");
    // Whether the client was the limit travels with the result.
    assert!(run["client_bound"].is_boolean(), "{run}");
    assert_eq!(agg["client_bound"], run["client_bound"]);
    assert_eq!(
        agg["tput_per_gpu"].as_f64(),
        run["total_token_throughput"].as_f64().map(|t| t / 4.0)
    );
    let close = |a: Option<f64>, b: Option<f64>| matches!((a, b), (Some(a), Some(b)) if (a - b).abs() <= 1e-12 * b.abs().max(1.0));
    assert!(close(
        agg["median_ttft"].as_f64(),
        run["median_ttft_ms"].as_f64().map(|v| v / 1000.0)
    ));
    assert!(close(
        agg["median_intvty"].as_f64(),
        run["median_tpot_ms"].as_f64().map(|v| 1000.0 / v)
    ));
    let out = s
        .infmax(&["collect", "results", ".", "--name", "bmk"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains(
            "| dsr1 | org/model | B200-DGXC | SGLANG | FP4 | 32 | 8 | 4 | 4 | true | 4 |"
        )
    );
    s.infmax(&["report", ".", "--out", "rep"])
        .assert()
        .success();
    assert!(
        s.read("rep/dsr1_32_8.svg")
            .contains("B200-DGXC sglang fp4 mtp")
    );
}

/// A client-bound result is named under the tables: its numbers may be the
/// load generator's, not the server's.
#[test]
fn client_bound_results_are_flagged_under_the_tables() {
    let s = Scratch::new();
    let tables = |dir: &str| -> String {
        let out = s
            .infmax(&[
                "collect",
                "results",
                dir,
                "--out-dir",
                &format!("out-{dir}"),
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8_lossy(&out).into_owned()
    };
    let mut bound = processed("dsr1", "m", "h100", 8, 64, 900.0);
    bound["client_bound"] = json!(true);
    let mut fine = processed("dsr1", "m", "h100", 8, 4, 300.0);
    fine["client_bound"] = json!(false);
    s.write("a/agg_bound.json", &bound.to_string());
    s.write("a/agg_fine.json", &fine.to_string());
    let md = tables("a");
    assert!(
        md.contains("**Warning**: 1 result(s) were client-bound")
            && md.contains("dsr1 H100 vllm conc 64."),
        "{md}"
    );
    // Without the field (an older infmax, the seed): no warning.
    s.write(
        "b/agg_old.json",
        &processed("dsr1", "m", "h100", 8, 4, 300.0).to_string(),
    );
    let md = tables("b");
    assert!(
        md.contains("| dsr1 |") && !md.contains("client-bound"),
        "{md}"
    );
}

/// The aggregate is a faithful copy: floats from arbitrary bit patterns
/// (as printed by a shortest-round-trip writer) come back bit for bit.
#[test]
fn collect_results_copies_floats_exactly() {
    let s = Scratch::new();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut written = Vec::new();
    for job in 0..20u64 {
        let mut r = processed("dsr1", "m", "b200", 8, job + 1, 1.0);
        let m = r.as_object_mut().expect("object");
        for k in [
            "tput_per_gpu",
            "median_ttft",
            "median_tpot",
            "median_e2el",
            "median_intvty",
        ] {
            let v = loop {
                let f = f64::from_bits(next());
                if f.is_finite() {
                    break f.abs();
                }
            };
            m.insert(k.into(), json!(v));
        }
        // Values whose naive parse is off in the last digit.
        m.insert("output_tput_per_gpu".into(), json!(0.1 + 0.2));
        m.insert("input_tput_per_gpu".into(), json!(2.2250738585072014e-308));
        s.write(&format!("art/job{job}/agg_{job}.json"), &r.to_string());
        written.push(r);
    }
    s.infmax(&["collect", "results", "art", "--name", "bmk"])
        .assert()
        .success();
    let agg: Vec<Value> = serde_json::from_str(&s.read("agg_bmk.json")).expect("aggregate JSON");
    assert_eq!(agg.len(), written.len());
    for w in &written {
        let a = agg
            .iter()
            .find(|a| a["conc"] == w["conc"])
            .expect("every result aggregated");
        for (k, v) in w.as_object().expect("object") {
            if let Some(f) = v.as_f64().filter(|_| v.is_f64()) {
                let got = a[k].as_f64().expect("a number");
                assert_eq!(got.to_bits(), f.to_bits(), "{k}: {got:e} != {f:e}");
            }
        }
    }
}

/// A symlink loop and a FIFO named like a result neither hang nor count.
#[test]
fn collect_survives_symlink_loops_and_fifos() {
    let s = Scratch::new();
    s.write(
        "art/job1/agg_a.json",
        &processed("dsr1", "m", "b200", 8, 4, 400.0).to_string(),
    );
    std::os::unix::fs::symlink(s.path().join("art"), s.path().join("art/job1/loop"))
        .expect("symlink");
    // Its name is hostile too: it reaches the log in the warning.
    let fifo = s.path().join("art/agg_::add-mask::x ##[error]y.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let out = s
        .infmax(&["collect", "results", "art", "--name", "bmk"])
        .env("GITHUB_ACTIONS", "true")
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let agg: Value = serde_json::from_str(&s.read("agg_bmk.json")).expect("aggregate");
    assert_eq!(agg.as_array().map(Vec::len), Some(1), "{agg}");
    // It says what it passed over, and why.
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(
        text.contains("art/job1/loop: skipped: a folder already read"),
        "{text}"
    );
    assert!(
        text.contains("##[error]y.json: skipped: not a regular file"),
        "{text}"
    );
    common::assert_inert(&text);
}

/// `infmax collect results ... | head -1`: a reader that closed the pipe is a
/// normal end (exit 0, no panic), and the files and step summary are written.
#[test]
fn a_closed_stdout_is_a_normal_end() {
    let s = Scratch::new();
    fixture(&s);
    let summary = s.write("summary.md", "");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infmax"))
        .args([
            "collect",
            "results",
            "art",
            "--name",
            "bmk",
            "--step-summary",
        ])
        .current_dir(s.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_OUTPUT")
        .stdout(writer)
        .output()
        .expect("infmax");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(s.read("agg_bmk.md").contains("### Single-node results"));
    assert!(s.read("summary.md").contains("### Single-node results"));
}

/// `infmax validate | false` and `infmax matrix full-sweep | head -c 10`:
/// a closed pipe is a normal end for every command that prints.
#[test]
fn a_closed_pipe_ends_validate_and_matrix_normally() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for args in [&["validate"][..], &["matrix", "full-sweep"][..]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_infmax"))
            .args(args)
            .current_dir(root)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_OUTPUT")
            .stdout(writer)
            .output()
            .expect("infmax");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A raw result that is not one, and an eval job's unreadable
/// meta_env.json, are bad input files: exit 1, the file named, nothing
/// written.
#[test]
fn malformed_input_files_exit_1_naming_the_file() {
    let s = Scratch::new();
    for (body, why) in [
        ("[1, 2]", "not a benchmark result: expected a JSON object"),
        (
            r#"{"model_id": "m", "total_token_throughput": "fast"}"#,
            "not a benchmark result: total_token_throughput or output_throughput is missing or not a number",
        ),
        (
            "{\"model_id\": ",
            "not valid JSON: EOF while parsing a value at line 1 column 13",
        ),
    ] {
        s.write("run.json", body);
        let mut cmd = s.infmax(&["result", "process", "--result-file", "run.json"]);
        for (k, v) in [
            ("RUNNER_TYPE", "b200"),
            ("FRAMEWORK", "vllm"),
            ("PRECISION", "fp8"),
            ("SPEC_DECODING", "none"),
            ("RESULT_FILENAME", "r"),
            ("ISL", "8"),
            ("OSL", "8"),
            ("DISAGG", "false"),
            ("MODEL_PREFIX", "m"),
            ("IMAGE", "i"),
            ("TP", "8"),
            ("EP_SIZE", "1"),
            ("DP_ATTENTION", "false"),
        ] {
            cmd = cmd.env(k, v);
        }
        cmd.assert()
            .code(1)
            .stdout_eq("")
            .stderr_eq(format!("error: run.json: {why}\n1 problem found\n"));
        assert!(!s.path().join("agg_r.json").exists(), "{body}");
    }
    s.write("ev/job/meta_env.json", "{\"model\": ");
    s.infmax(&["collect", "evals", "ev"])
        .assert()
        .code(1)
        .stderr_eq(str![[r#"
error: ev/job/meta_env.json: not a JSON object (an eval job's meta_env.json)
1 problem found

"#]]);
}

/// A truncated processed result is bad input (exit 1) naming the file, and
/// no aggregate is written without it.
#[test]
fn a_truncated_result_is_named_and_nothing_is_aggregated() {
    let s = Scratch::new();
    fixture(&s);
    s.write("art/job5/agg_cut.json", "{\"hw\": \"b200\", \"conc\": ");
    s.infmax(&["collect", "results", "art", "--name", "bmk"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: art/job5/agg_cut.json: not a readable result file: EOF while parsing a value at line 1 column 23
1 problem found

"#]]);
    assert!(!s.path().join("agg_bmk.json").exists());
}

/// The seed's result processor converts every top-level key ending in `ms`
/// or containing `tpot` with float(): metadata under such a key must be a
/// number, refused before anything runs (exit 2) otherwise.
#[test]
fn metadata_that_would_break_the_seeds_processor_is_refused() {
    let s = Scratch::new();
    for kv in ["lag_ms=abc", "tpot_note=fast"] {
        s.infmax(&[
            "bench",
            "serve",
            "--model",
            "m",
            "--base-url",
            "http://127.0.0.1:9",
            "--metadata",
            kv,
        ])
        .assert()
        .code(2)
        .stderr_eq(format!("error: invalid value '{kv}' for '--metadata <KEY=VALUE>...': a key ending in `ms` or containing `tpot` needs a number (the seed's result processor reads such keys as numbers); rename the key to record text\n\nFor more information, try '--help'.\n"));
    }
}

/// `eval meta` writes meta_env.json from the job environment alone (for
/// lm-eval results produced another way), and `collect evals` names its
/// aggregate `all` unless told (the seed's sweep name), `collect results`
/// `bmk`.
#[test]
fn eval_meta_and_the_default_aggregate_names() {
    let s = Scratch::new();
    s.infmax(&["eval", "meta", "--out", "ev/job"])
        .env("MODEL", "org/m")
        .env("RUNNER_TYPE", "mi355x")
        .env("FRAMEWORK", "atom")
        .env("PRECISION", "fp4")
        .env("TP", "8")
        .env("EP_SIZE", "1")
        .env("CONC", "64")
        .env("DP_ATTENTION", "False")
        .env("ISL", "1024")
        .env("OSL", "1024")
        .env_remove("SPEC_DECODING")
        .assert()
        .success()
        .stdout_eq("ev/job/meta_env.json\n");
    let meta: Value = serde_json::from_str(&s.read("ev/job/meta_env.json")).expect("meta");
    assert_eq!(
        meta,
        json!({"framework": "atom", "precision": "fp4", "spec_decoding": "none", "tp": 8,
               "conc": 64, "ep": 1, "dp_attention": "false", "model": "org/m",
               "hw": "mi355x", "isl": 1024, "osl": 1024})
    );
    s.write("ev/job/results_2026.json", &harness(0.5));
    s.infmax(&["collect", "evals", "ev"]).assert().success();
    assert!(s.path().join("agg_eval_all.json").exists());
    s.infmax(&["collect", "results", "ev"]).assert().success();
    assert!(s.path().join("agg_bmk.json").exists());
}
