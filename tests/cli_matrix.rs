//! `infmax matrix ...` end to end: JSON on stdout, `$GITHUB_OUTPUT` records,
//! the 256-job guard and its split, and argument errors (exit 2, nothing on
//! stdout, `$GITHUB_OUTPUT` untouched).

mod common;

use common::Scratch;
use snapbox::str;

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

#[test]
fn test_config_prints_compact_json_in_key_order() {
    Scratch::new()
        .infmax(&["matrix", "test-config", "--config-keys", "gptoss-fp4-b200-trt", "dsr1-fp4-gb200-dynamo-trt"])
        .assert()
        .success()
        .stderr_eq("")
        .stdout_eq(str![[r#"
[{"image":"nvcr.io/nvidia/tensorrt-llm/release:1.1.0","model":"openai/gpt-oss-120b","model-prefix":"gptoss","precision":"fp4","framework":"trt","runner":"b200","isl":8192,"osl":1024,"tp":2,"ep":1,"dp-attn":false,"conc":8,"spec-decoding":"mtp","exp-name":"gptoss_8k1k","max-model-len":9416,"disagg":false,"run-eval":false},{"image":"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1","model":"nvidia/DeepSeek-R1-FP4","model-prefix":"dsr1","precision":"fp4","framework":"dynamo-trt","runner":"gb200","isl":1024,"osl":1024,"spec-decoding":"none","prefill":{"num-worker":1,"tp":4,"ep":4,"dp-attn":true,"additional-settings":[]},"decode":{"num-worker":1,"tp":8,"ep":8,"dp-attn":true,"additional-settings":["X=1"]},"conc":[16,64],"max-model-len":2248,"exp-name":"dsr1_1k1k","disagg":true,"run-eval":false}]

"#]]);
}

#[test]
fn full_sweep_filters_and_evals() {
    let out = Scratch::new()
        .infmax(&[
            "matrix",
            "full-sweep",
            "--model",
            "dsr1",
            "--seq-lens",
            "1k8k",
            "--runner-node-filter",
            "cw_1",
            "--run-evals",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Vec<String> = json(&out)
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| {
            format!(
                "{} tp{} ep{} c{} eval={}",
                e["runner"], e["tp"], e["ep"], e["conc"], e["run-eval"]
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            "\"h100-cw_1\" tp8 ep1 c4 eval=false",
            "\"h100-cw_1\" tp8 ep1 c32 eval=true",
            "\"h100-cw_1\" tp4 ep4 c4 eval=false",
            "\"h100-cw_1\" tp4 ep4 c8 eval=true",
        ]
    );
}

#[test]
fn runner_model_sweep_per_node() {
    Scratch::new()
        .infmax(&["matrix", "runner-model-sweep", "--runner", "h100", "--single-node", "--conc", "1"])
        .assert()
        .success()
        .stdout_eq(str![[r#"
[{"image":"vllm/vllm-openai:v0.11.0","model":"deepseek-ai/DeepSeek-R1-0528","model-prefix":"dsr1","precision":"fp8","framework":"vllm","runner":"h100-cw_0","isl":1024,"osl":1024,"tp":8,"ep":1,"dp-attn":false,"conc":1,"spec-decoding":"none","exp-name":"dsr1_test","max-model-len":2048,"disagg":false,"run-eval":false},{"image":"vllm/vllm-openai:v0.11.0","model":"deepseek-ai/DeepSeek-R1-0528","model-prefix":"dsr1","precision":"fp8","framework":"vllm","runner":"h100-cw_1","isl":1024,"osl":1024,"tp":8,"ep":1,"dp-attn":false,"conc":1,"spec-decoding":"none","exp-name":"dsr1_test","max-model-len":2048,"disagg":false,"run-eval":false}]

"#]]);
}

#[test]
fn flags_also_come_from_the_environment() {
    let s = Scratch::new();
    s.write("other/runners.yaml", "b200: [b200-x_0]\n");
    s.write(
        "other/one-master.yaml",
        &common::MASTER[common::MASTER.find("gptoss-fp4-b200-trt:").expect("key")
            ..common::MASTER.find("dsr1-fp4-gb200").expect("key")],
    );
    let out = s
        .infmax(&["matrix", "full-sweep"])
        .env("INFMAX_CONFIG_FILES", "other/one-master.yaml")
        .env("INFMAX_RUNNER_CONFIG", "other/runners.yaml")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out).as_array().map(Vec::len), Some(1));
}

#[test]
fn github_output_record_is_multiline_with_random_delimiter() {
    let s = Scratch::new();
    let out_file = s.write("gh_output", "previous=1\n");
    let assert = s
        .infmax(&[
            "matrix",
            "test-config",
            "--config-keys",
            "gptoss-fp4-b200-trt",
            "--github-output",
            "matrix",
        ])
        .env("GITHUB_OUTPUT", &out_file)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).expect("utf8");
    let written = s.read("gh_output");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "previous=1", "appends, never truncates");
    let delim = lines[1].strip_prefix("matrix<<").expect("multi-line form");
    assert!(
        delim.starts_with("ghadelimiter_") && delim.len() == 13 + 32,
        "128-bit hex delimiter: {delim}"
    );
    assert_eq!(lines[2], stdout.trim_end(), "the same JSON as stdout");
    assert_eq!(lines[3], delim);
    assert_eq!(lines.len(), 4);
}

/// A config with 300 concurrencies, for the 256-job guard.
fn big_scratch() -> Scratch {
    let s = Scratch::new();
    let list: Vec<String> = (1..=300).map(|i| i.to_string()).collect();
    let text = common::MASTER.replacen(
        "conc-list: [8]",
        &format!("conc-list: [{}]", list.join(", ")),
        1,
    );
    s.write("configs/test-master.yaml", &text);
    s.write("gh_output", "");
    s
}

#[test]
fn more_than_256_jobs_is_refused_for_github_output() {
    let s = big_scratch();
    s.infmax(&["matrix", "test-config", "--config-keys", "gptoss-fp4-b200-trt", "--github-output", "matrix"])
        .env("GITHUB_OUTPUT", s.path().join("gh_output"))
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: a GitHub matrix takes at most 256 jobs, but the list has 300 entries; pass --split-output to write numbered outputs matrix_1, matrix_2, ... of at most 256 entries each (and matrix_parts), or narrow the sweep with filters

"#]]);
    assert_eq!(s.read("gh_output"), "", "nothing written");
    // Without --github-output, stdout carries everything.
    let out = s
        .infmax(&[
            "matrix",
            "test-config",
            "--config-keys",
            "gptoss-fp4-b200-trt",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&out).as_array().map(Vec::len), Some(300));
}

#[test]
fn split_output_writes_numbered_parts() {
    let s = big_scratch();
    let out = s
        .infmax(&[
            "matrix",
            "test-config",
            "--config-keys",
            "gptoss-fp4-b200-trt",
            "--github-output",
            "matrix",
            "--split-output",
        ])
        .env("GITHUB_OUTPUT", s.path().join("gh_output"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        json(&out).as_array().map(Vec::len),
        Some(300),
        "stdout still has the whole list"
    );
    let written = s.read("gh_output");
    let mut outputs = std::collections::BTreeMap::new();
    let mut lines = written.lines();
    while let Some(head) = lines.next() {
        let (name, delim) = head.split_once("<<").expect("multi-line record");
        let value = lines.next().expect("value line");
        assert_eq!(lines.next(), Some(delim));
        outputs.insert(name.to_string(), value.to_string());
    }
    assert_eq!(
        outputs.keys().collect::<Vec<_>>(),
        vec!["matrix_1", "matrix_2", "matrix_parts"]
    );
    assert_eq!(outputs["matrix_parts"], "2");
    let sizes: Vec<usize> = ["matrix_1", "matrix_2"]
        .iter()
        .map(|k| json(outputs[*k].as_bytes()).as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![256, 44]);
}

fn usage_error(args: &[&str]) -> snapbox::cmd::OutputAssert {
    let s = Scratch::new();
    s.write("gh_output", "");
    let a = s
        .infmax(args)
        .env("GITHUB_OUTPUT", s.path().join("gh_output"))
        .assert()
        .code(2)
        .stdout_eq("");
    assert_eq!(
        s.read("gh_output"),
        "",
        "a bad invocation never writes $GITHUB_OUTPUT"
    );
    a
}

#[test]
fn unknown_runner_type_filter() {
    usage_error(&["matrix", "full-sweep", "--runner-type", "h100,h999", "--github-output", "m"]).stderr_eq(str![[r#"
error: --runner-type: unknown runner type `h999`; runner types in configs/runners.yaml: h100, b200, gb200

"#]]);
}

#[test]
fn step_size_below_two() {
    usage_error(&["matrix", "full-sweep", "--step-size", "1"]).stderr_eq(str![[r#"
error: --step-size 1: must be at least 2 (each concurrency is the previous one times the step)

"#]]);
}

#[test]
fn bad_seq_len_name() {
    usage_error(&["matrix", "full-sweep", "--seq-lens", "1k1k,2k2k"]).stderr_eq(str![[r#"
error: invalid value '2k2k' for '--seq-lens <SEQ_LENS>...': unknown sequence-length name `2k2k`; allowed: 1k1k, 1k8k, 8k1k, or ISL_OSL in tokens (e.g. 2048_512)

For more information, try '--help'.

"#]]);
}

#[test]
fn both_eval_flags() {
    usage_error(&["matrix", "full-sweep", "--run-evals", "--evals-only"]).stderr_eq(str![[r#"
error: the argument '--run-evals' cannot be used with '--evals-only'

Usage: infmax matrix full-sweep --run-evals

For more information, try '--help'.

"#]]);
}

#[test]
fn both_node_kinds() {
    usage_error(&["matrix", "full-sweep", "--single-node", "--multi-node"]).stderr_eq(str![[r#"
error: the argument '--single-node' cannot be used with '--multi-node'

Usage: infmax matrix full-sweep --single-node

For more information, try '--help'.

"#]]);
}

#[test]
fn missing_test_config_key() {
    usage_error(&["matrix", "test-config", "--config-keys", "dsr1-fp8-h100-vllm,dsr1-fp8-h200-vllm", "--github-output", "m"]).stderr_eq(str![[r#"
error: --config-keys: unknown config key `dsr1-fp8-h200-vllm`; available: dsr1-fp8-h100-vllm, gptoss-fp4-b200-trt, dsr1-fp4-gb200-dynamo-trt

"#]]);
}

#[test]
fn runner_model_sweep_needs_a_node_kind() {
    usage_error(&["matrix", "runner-model-sweep", "--runner-type", "h100"]).stderr_eq(str![[r#"
error: the following required arguments were not provided:
  <--single-node|--multi-node>

Usage: infmax matrix runner-model-sweep --runner-type <RUNNER_TYPE> <--single-node|--multi-node>

For more information, try '--help'.

"#]]);
}

#[test]
fn runner_model_sweep_node_filter_matching_nothing() {
    usage_error(&["matrix", "runner-model-sweep", "--runner-type", "h100", "--single-node", "--runner-node-filter", "nb"]).stderr_eq(str![[r#"
error: --runner-node-filter "nb": no node of runner type `h100` matches; its nodes: h100-cw_0, h100-cw_1

"#]]);
}

#[test]
fn github_output_requested_outside_actions() {
    let s = Scratch::new();
    s.infmax(&["matrix", "full-sweep", "--github-output", "matrix"]).assert().code(2).stdout_eq("").stderr_eq(str![[r#"
error: --github-output was requested but $GITHUB_OUTPUT is not set (it is set inside GitHub Actions steps); set it to a file path to run locally

"#]]);
}

#[test]
fn bad_output_name() {
    usage_error(&["matrix", "full-sweep", "--github-output", "my matrix"]).stderr_eq(str![[r#"
error: --github-output "my matrix": an output name takes letters, digits, `_` and `-`, and starts with a letter or `_`

"#]]);
}

#[test]
fn no_configs_directory() {
    let s = Scratch::new();
    std::fs::remove_dir_all(s.path().join("configs")).expect("rm");
    s.infmax(&["matrix", "full-sweep"]).assert().code(2).stdout_eq("").stderr_eq(str![[r#"
error: no --config-files given and configs cannot be read ([..]); run from the repository root or pass --config-files

"#]]);
}

#[test]
fn invalid_config_fails_matrix_with_exit_1() {
    let s = Scratch::new();
    s.write(
        "configs/test-master.yaml",
        &common::MASTER.replacen("conc-end: 16", "conc-end: 2", 1),
    );
    s.infmax(&["matrix", "full-sweep"]).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
error: configs/test-master.yaml:13:28: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/conc-start: conc-start (4) is greater than conc-end (2); it must be less than or equal
1 problem found

"#]]);
}

/// A matrix entry -> the job's environment, for a workflow step.
#[test]
fn job_env_from_an_entry() {
    let s = Scratch::new();
    let out = s
        .infmax(&[
            "matrix",
            "test-config",
            "--config-keys",
            "gptoss-fp4-b200-trt",
            "--conc",
            "8",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let entry = json(&out)[0].to_string();
    let env_file = s.write("gh_env", "");
    s.infmax(&["matrix", "job-env", "--github-env"])
        .env("INFMAX_ENTRY", &entry)
        .env("GITHUB_ENV", &env_file)
        .assert()
        .success()
        .stdout_eq(str![[r#"
CONC='8'
DISAGG='false'
DP_ATTENTION='false'
EP_SIZE='1'
EXP_NAME='gptoss_8k1k'
FRAMEWORK='trt'
IMAGE='nvcr.io/nvidia/tensorrt-llm/release:1.1.0'
ISL='8192'
IS_MULTINODE='false'
MAX_MODEL_LEN='9416'
MODEL='openai/gpt-oss-120b'
MODEL_PREFIX='gptoss'
OSL='1024'
PRECISION='fp4'
RESULT_FILENAME='gptoss_8k1k_fp4_trt_tp2_ep1_dpa_false_conc8_specdecode_mtp_b200'
RUNNER_TYPE='b200'
RUN_EVAL='false'
SPEC_DECODING='mtp'
TP='2'

"#]]);
    let recorded = s.read("gh_env");
    assert!(recorded.starts_with("CONC<<ghadelimiter_"), "{recorded}");
    assert!(recorded.contains("\nopenai/gpt-oss-120b\n"), "{recorded}");

    // A broken entry: exit 2, a message naming the field, nothing written.
    let before = s.read("gh_env");
    s.infmax(&["matrix", "job-env", "--github-env"])
        .env("INFMAX_ENTRY", entry.replace("\"tp\":2,", ""))
        .env("GITHUB_ENV", &env_file)
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: --entry: not a single-node matrix entry: missing field `tp` (pass one entry of `infmax matrix ...` output)

"#]]);
    assert_eq!(s.read("gh_env"), before);

    // On a runner, the machine's name (GitHub sets RUNNER_NAME) ends the
    // result name, so two machines of one label keep their files apart.
    let out = s
        .infmax(&["matrix", "job-env"])
        .env("INFMAX_ENTRY", &entry)
        .env("RUNNER_NAME", "b200-nb_3")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("RESULT_FILENAME='gptoss_8k1k_fp4_trt_tp2_ep1_dpa_false_conc8_specdecode_mtp_b200-nb_3'\n"),
        "{text}"
    );
}

/// A value with a newline (from a config) stays on its own line, quoted so
/// `eval` restores it and the Actions runner sees no workflow command.
#[test]
fn job_env_lines_carry_any_value() {
    let s = Scratch::new();
    let out = s
        .infmax(&[
            "matrix",
            "test-config",
            "--config-keys",
            "gptoss-fp4-b200-trt",
            "--conc",
            "8",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let mut entry = json(&out)[0].clone();
    let image = "img'\\\"$x\n::error::pwned\r\tend";
    entry["image"] = serde_json::json!(image);
    let out = s
        .infmax(&["matrix", "job-env"])
        .env("INFMAX_ENTRY", entry.to_string())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("::")),
        "{text}"
    );
    let back = std::process::Command::new("bash")
        .arg("-c")
        .arg("eval \"$LINES\"; printf %s \"$IMAGE\"")
        .env("LINES", &text)
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&back.stdout), image);
}

/// Filters that match nothing give `[]`, as the seed's script did, with a
/// warning: a job expanding an empty matrix cannot run.
#[test]
fn filters_matching_nothing_warn() {
    let s = Scratch::new();
    for args in [
        &["matrix", "full-sweep", "--framework", "nosuch"][..],
        &[
            "matrix",
            "runner-model-sweep",
            "--runner-type",
            "h100",
            "--single-node",
            "--framework",
            "nosuch",
        ][..],
    ] {
        s.infmax(args).assert().success().stdout_eq("[]\n").stderr_eq(str![[r#"
warning: infmax matrix: no job matches the filters: the matrix is [] (GitHub refuses an empty matrix, so a job expanding it fails); check --model-prefix, --precision, --framework, --runner-type and the other filters against the configs

"#]]);
    }
}
