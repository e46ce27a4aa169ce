//! `infmax validate` and config errors as users see them: every message names
//! the file, line, column, key path, what is wrong and what is allowed; bad
//! input exits 1 with nothing on stdout.

mod common;

use common::{MASTER, Scratch};
use snapbox::str;

/// The valid master config with one substitution applied.
fn master_with(from: &str, to: &str) -> String {
    assert!(MASTER.contains(from), "fixture contains {from:?}");
    MASTER.replacen(from, to, 1)
}

fn invalid_config(text: &str) -> snapbox::cmd::OutputAssert {
    let s = Scratch::new();
    s.write("configs/test-master.yaml", text);
    s.infmax(&["validate"]).assert().code(1).stdout_eq("")
}

#[test]
fn valid_configs_print_counts() {
    Scratch::new().infmax(&["validate"]).assert().success().stderr_eq("").stdout_eq(str![[r#"
ok: 3 config keys in 1 files (2 single-node, 1 multi-node; 5 search items), 3 runner types with 4 nodes

"#]]);
}

#[test]
fn bundled_configs_and_changelog_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    snapbox::cmd::Command::new(snapbox::cmd::cargo_bin!("infmax"))
        .args(["validate", "--changelog-file", "perf-changelog.yaml"])
        .current_dir(root)
        .env_remove("GITHUB_ACTIONS")
        .assert()
        .success()
        .stdout_eq(str![[r#"
ok: [..] config keys in 2 files ([..] single-node, [..] multi-node; [..] search items), [..] runner types with [..] nodes, [..] changelog entries

"#]]);
}

#[test]
fn unknown_field() {
    invalid_config(&master_with("  precision: fp8\n", "  precision: fp8\n  precison: fp8\n")).stderr_eq(str![[r#"
error: configs/test-master.yaml:6:3: dsr1-fp8-h100-vllm/precison: unknown field `precison` in a config entry; allowed: image, model, model-prefix, precision, framework, runner, multinode, disagg, seq-len-configs
1 problem found

"#]]);
}

#[test]
fn wrong_type() {
    invalid_config(&master_with("tp: 8, conc-start: 4", "tp: \"8\", conc-start: 4")).stderr_eq(str![[r#"
error: configs/test-master.yaml:13:13: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/tp: expected a positive integer, found string "8"
1 problem found

"#]]);
}

#[test]
fn missing_required_field_and_bad_bool() {
    invalid_config(&master_with("  image: vllm/vllm-openai:v0.11.0\n", "").replacen("multinode: false", "multinode: no-thanks", 1)).stderr_eq(str![[r#"
error: configs/test-master.yaml:2:3: dsr1-fp8-h100-vllm: missing required field `image` (a string)
error: configs/test-master.yaml:7:14: dsr1-fp8-h100-vllm/multinode: expected true or false, found string "no-thanks"
2 problems found

"#]]);
}

#[test]
fn conc_list_and_range_together() {
    invalid_config(&master_with("conc-list: [4, 32]", "conc-list: [4, 32], conc-start: 4, conc-end: 8")).stderr_eq(str![[r#"
error: configs/test-master.yaml:17:27: dsr1-fp8-h100-vllm/seq-len-configs[1]/search-space[0]/conc-list: give either conc-list or conc-start/conc-end, not both
1 problem found

"#]]);
}

#[test]
fn conc_neither() {
    invalid_config(&master_with("{ tp: 8, conc-start: 4, conc-end: 16 }", "{ tp: 8 }")).stderr_eq(str![[r#"
error: configs/test-master.yaml:13:7: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]: missing concurrency: give conc-start and conc-end, or conc-list
1 problem found

"#]]);
}

#[test]
fn conc_start_above_end() {
    invalid_config(&master_with("conc-start: 4, conc-end: 16", "conc-start: 32, conc-end: 16")).stderr_eq(str![[r#"
error: configs/test-master.yaml:13:28: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/conc-start: conc-start (32) is greater than conc-end (16); it must be less than or equal
1 problem found

"#]]);
}

#[test]
fn conc_start_without_end() {
    invalid_config(&master_with("conc-start: 4, conc-end: 16", "conc-start: 4")).stderr_eq(str![[r#"
error: configs/test-master.yaml:13:28: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/conc-start: conc-start without conc-end; give both, or use conc-list
1 problem found

"#]]);
}

#[test]
fn conc_list_empty_or_zero() {
    invalid_config(&master_with("conc-list: [4, 32]", "conc-list: []").replacen("conc-list: [8]", "conc-list: [8, 0, -2]", 1)).stderr_eq(str![[r#"
error: configs/test-master.yaml:17:27: dsr1-fp8-h100-vllm/seq-len-configs[1]/search-space[0]/conc-list: must not be empty; expected a list of positive integers
error: configs/test-master.yaml:31:51: gptoss-fp4-b200-trt/seq-len-configs[0]/search-space[0]/conc-list[1]: must be at least 1, found 0
error: configs/test-master.yaml:31:54: gptoss-fp4-b200-trt/seq-len-configs[0]/search-space[0]/conc-list[2]: must be at least 1, found -2
3 problems found

"#]]);
}

#[test]
fn duplicate_key_in_one_file() {
    let dup =
        MASTER.to_string() + &MASTER[..MASTER.find("gptoss-fp4-b200-trt:").expect("second key")];
    invalid_config(&dup).stderr_eq(str![[r#"
error: configs/test-master.yaml:48:1: dsr1-fp8-h100-vllm: duplicate key `dsr1-fp8-h100-vllm` (first defined at line 1); each key may appear once
1 problem found

"#]]);
}

#[test]
fn duplicate_field_in_an_entry() {
    invalid_config(&master_with("  framework: vllm\n", "  framework: vllm\n  framework: sglang\n")).stderr_eq(str![[r#"
error: configs/test-master.yaml:7:3: dsr1-fp8-h100-vllm/framework: duplicate field `framework` (first set at line 6); remove one of them
1 problem found

"#]]);
}

#[test]
fn duplicate_key_across_files() {
    let s = Scratch::new();
    s.write(
        "configs/zz-master.yaml",
        &MASTER[..MASTER.find("gptoss-fp4-b200-trt:").expect("second key")],
    );
    s.infmax(&["validate"]).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
error: configs/zz-master.yaml:1:1: dsr1-fp8-h100-vllm: config key `dsr1-fp8-h100-vllm` is also defined in configs/test-master.yaml:1:1; a key may be defined in one file only
1 problem found

"#]]);
}

#[test]
fn wildcard_in_key() {
    invalid_config(&master_with("gptoss-fp4-b200-trt:", "gptoss-fp4-*-trt:")).stderr_eq(str![[r#"
error: configs/test-master.yaml:19:1: gptoss-fp4-*-trt: config keys must not contain `*` (reserved for changelog wildcards)
1 problem found

"#]]);
}

#[test]
fn empty_file() {
    invalid_config("# nothing here\n").stderr_eq(str![[r#"
error: configs/test-master.yaml: the file is empty; expected a mapping of config keys to entries
1 problem found

"#]]);
}

#[test]
fn invalid_yaml_syntax() {
    invalid_config(&master_with(
        "  model-prefix: dsr1\n",
        "  model-prefix: [dsr1\n",
    ))
    .stderr_eq(str![[r#"
error: configs/test-master.yaml:5:12: invalid YAML: illegal placement of ':' indicator
1 problem found

"#]]);
}

#[test]
fn missing_file() {
    Scratch::new()
        .infmax(&["validate", "--config-files", "configs/nope-master.yaml"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: configs/nope-master.yaml: file not found
1 problem found

"#]]);
}

#[test]
fn bad_spec_decoding_and_multinode_shape() {
    let text = master_with("spec-decoding: mtp", "spec-decoding: eagle")
        .replacen(
            "    - prefill: { num-worker: 1,",
            "    - tp: 8\n      prefill: { num-worker: 1,",
            1,
        )
        .replacen(
            "decode: { num-worker: 1, tp: 8, ep: 8, dp-attn: true,",
            "decode: { num-worker: 1, tp: 8, ep: 8,",
            1,
        );
    invalid_config(&text).stderr_eq(str![[r#"
error: configs/test-master.yaml:31:31: gptoss-fp4-b200-trt/seq-len-configs[0]/search-space[0]/spec-decoding: unknown spec-decoding `eagle`; allowed: mtp, draft_model, none
error: configs/test-master.yaml:45:7: dsr1-fp4-gb200-dynamo-trt/seq-len-configs[0]/search-space[0]/tp: unknown field `tp` in a multi-node search item (this entry has multinode: true); allowed: spec-decoding, prefill, decode, conc-start, conc-end, conc-list
error: configs/test-master.yaml:47:15: dsr1-fp4-gb200-dynamo-trt/seq-len-configs[0]/search-space[0]/decode: missing required field `dp-attn` (true or false)
3 problems found

"#]]);
}

/// The seed generates jobs for any runner label (GitHub schedules by label):
/// a label that runners.yaml does not list is a warning, its jobs keep it,
/// and only commands that need its nodes find none.
#[test]
fn runner_not_in_runner_config_is_a_warning() {
    let s = Scratch::new();
    s.write(
        "configs/test-master.yaml",
        &master_with("runner: b200", "runner: b300"),
    );
    s.infmax(&["validate"]).assert().success().stdout_eq(str![[r#"
ok: 3 config keys in 1 files (2 single-node, 1 multi-node; 5 search items), 3 runner types with 4 nodes; 1 warning

"#]]).stderr_eq(str![[r#"
warning: configs/test-master.yaml:25:11: gptoss-fp4-b200-trt/runner: runner `b300` is not a runner type in configs/runners.yaml (known: h100, b200, gb200); its jobs are generated for the label as written, and commands that need its nodes see none

"#]]);
    let out = s
        .infmax(&["matrix", "full-sweep", "--runner-type", "b300"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let jobs: serde_json::Value = serde_json::from_slice(&out).expect("matrix JSON");
    let runners: Vec<_> = jobs
        .as_array()
        .expect("a list")
        .iter()
        .map(|j| j["runner"].clone())
        .collect();
    assert_eq!(runners, vec![serde_json::json!("b300")]);
    s.infmax(&["matrix", "runner-model-sweep", "--runner-type", "b300", "--single-node"])
        .assert()
        .code(2)
        .stdout_eq("")
        .stderr_eq(str![[r#"
warning: configs/test-master.yaml:25:11: gptoss-fp4-b200-trt/runner: runner `b300` is not a runner type in configs/runners.yaml (known: h100, b200, gb200); its jobs are generated for the label as written, and commands that need its nodes see none
error: --runner-type b300: a runner label of the configs, but configs/runners.yaml lists no nodes for it; add `b300: [node, ...]` there

"#]]);
}

#[test]
fn runner_config_shapes() {
    let s = Scratch::new();
    s.write(
        "configs/runners.yaml",
        "h100: h100-cw_0\nb200: []\ngb200: [gb200-nv_0, {x: 1}]\n",
    );
    s.infmax(&["validate"])
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: configs/runners.yaml:1:7: h100: expected a list of strings, found string "h100-cw_0"
error: configs/runners.yaml:2:7: b200: must not be empty; expected a list of strings
error: configs/runners.yaml:3:21: gb200[1]: expected a string, found a mapping
3 problems found

"#]]);
    s.write("configs/runners.yaml", "- h100\n");
    s.infmax(&["validate"]).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
error: configs/runners.yaml:1:1: expected a mapping of runner types to lists of node names, found a list
1 problem found

"#]]);
}

#[test]
fn every_problem_in_every_file_at_once() {
    let s = Scratch::new();
    s.write(
        "configs/test-master.yaml",
        &master_with("tp: 8, conc-start: 4", "tp: 0, conc-start: 4"),
    );
    s.write("configs/runners.yaml", "h100: []\n");
    s.write(
        "perf-changelog.yaml",
        "- config-keys: [nope]\n  description: [x]\n  pr-link: l\n",
    );
    s.infmax(&["validate", "--changelog-file", "perf-changelog.yaml"]).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
error: configs/test-master.yaml:13:13: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/tp: must be at least 1, found 0
error: configs/runners.yaml:1:7: h100: must not be empty; expected a list of strings
2 problems found

"#]]);
}

#[test]
fn github_annotations_inside_actions() {
    let s = Scratch::new();
    s.write(
        "configs/test-master.yaml",
        &master_with("tp: 8, conc-start: 4", "tp: \"8\", conc-start: 4"),
    );
    s.infmax(&["validate"]).env("GITHUB_ACTIONS", "true").assert().code(1).stdout_eq("").stderr_eq(str![[r#"
error: configs/test-master.yaml:13:13: dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/tp: expected a positive integer, found string "8"
::error file=configs/test-master.yaml,line=13,col=13,title=infmax::dsr1-fp8-h100-vllm/seq-len-configs[0]/search-space[0]/tp: expected a positive integer, found string "8"
1 problem found

"#]]);
    // Warnings too, with the command's exit unchanged.
    s.write(
        "configs/test-master.yaml",
        &master_with("runner: b200", "runner: b300"),
    );
    s.infmax(&["validate"]).env("GITHUB_ACTIONS", "true").assert().success().stderr_eq(str![[r#"
warning: configs/test-master.yaml:25:11: gptoss-fp4-b200-trt/runner: runner `b300` is not a runner type in configs/runners.yaml (known: h100, b200, gb200); its jobs are generated for the label as written, and commands that need its nodes see none
::warning file=configs/test-master.yaml,line=25,col=11,title=infmax::gptoss-fp4-b200-trt/runner: runner `b300` is not a runner type in configs/runners.yaml (known: h100, b200, gb200); its jobs are generated for the label as written, and commands that need its nodes see none

"#]]);
}

/// Inside Actions, an error quoting untrusted text (here a YAML key that
/// carries a workflow command) is fenced: between `::stop-commands::T` and
/// `::T::` the runner executes nothing; the annotation itself is escaped.
#[test]
fn untrusted_text_in_errors_is_fenced() {
    let s = Scratch::new();
    s.write(
        "configs/test-master.yaml",
        &master_with(
            "  precision: fp8\n",
            &format!("  precision: fp8\n  {:?}: 1\n", common::HOSTILE),
        ),
    );
    let out = s
        .infmax(&["validate"])
        .env("GITHUB_ACTIONS", "true")
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(text.starts_with("::stop-commands::"), "{text}");
    common::assert_inert(&text);
    assert!(
        text.contains("::add-mask::secret"),
        "the text is kept for people: {text}"
    );
}

/// clap's own errors quote the rejected value (here from an environment
/// variable a step sets): inside Actions they are fenced too.
#[test]
fn argument_errors_are_fenced() {
    let s = Scratch::new();
    let out = s
        .infmax(&["eval", "run"])
        .env("GITHUB_ACTIONS", "true")
        .env("TP", common::HOSTILE)
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let text = String::from_utf8_lossy(&out).to_string();
    assert!(text.contains("--tp"), "{text}");
    assert!(
        text.contains("::add-mask::secret"),
        "kept for people: {text}"
    );
    common::assert_inert(&text);
}
