//! An existing repository of the seed system (InferenceMAX), as it is:
//! configs under `.github/configs/`, one node carrying two runner labels, a
//! config whose runner label is not in runners.yaml, and a changelog whose
//! history names a config removed since. It validates with warnings only and
//! every matrix command produces its jobs (compat.md §1).

mod common;

use common::{MASTER, Scratch};
use serde_json::Value;
use snapbox::str;

const RUNNERS: &str = "\
h100: [h100-cw_0, h100-cw_1]
b200: [b200-nb_0, b200-nb_1]
b200-trt: [b200-nb_0]
gb200: [gb200-nv_0]
";

const HISTORY: &str = "\
- config-keys:
    - llama70b-fp8-h100-vllm
  description:
    - \"A config removed since\"
  pr-link: https://github.com/o/r/pull/1
- config-keys: [dsr1-fp8-*]
  description: [dsr1]
  pr-link: https://github.com/o/r/pull/2
";

const ADDED: &str = "\
- config-keys: [gptoss-*]
  description: [gpt-oss on the TRT label]
  pr-link: https://github.com/o/r/pull/3
";

/// The seed's layout, no `configs/`, the changelog committed with its history.
fn seed_repo() -> Scratch {
    let s = Scratch::new();
    std::fs::remove_dir_all(s.path().join("configs")).expect("rm configs/");
    let split = MASTER
        .find("dsr1-fp4-gb200-dynamo-trt:")
        .expect("fixture has the multi-node config");
    s.write(
        ".github/configs/nvidia-master.yaml",
        &MASTER[..split]
            .replace("runner: b200", "runner: b200-trt")
            .replace("- isl: 8192", "- isl: 1024"),
    );
    s.write(
        ".github/configs/gb200-master.yaml",
        &MASTER[split..].replace("runner: gb200", "runner: gb200-nv"),
    );
    s.write(".github/configs/runners.yaml", RUNNERS);
    s.write("perf-changelog.yaml", HISTORY);
    s
}

fn json_of(cmd: snapbox::cmd::Command) -> Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("matrix JSON")
}

fn runners(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["runner"].as_str().unwrap_or_default().to_string())
        .collect();
    r.sort();
    r.dedup();
    r
}

const NOTE_AND_WARNING: &str = "\
note: configs/ does not exist; using the seed layout's .github/configs/
warning: .github/configs/gb200-master.yaml:7:11: dsr1-fp4-gb200-dynamo-trt/runner: runner `gb200-nv` is not a runner type in .github/configs/runners.yaml (known: h100, b200, b200-trt, gb200); its jobs are generated for the label as written, and commands that need its nodes see none
";

#[test]
fn validates_with_warnings_only() {
    let s = seed_repo();
    s.infmax(&["validate"]).assert().success().stderr_eq(NOTE_AND_WARNING).stdout_eq(str![[r#"
ok: 3 config keys in 2 files (2 single-node, 1 multi-node; 5 search items), 4 runner types with 5 nodes; 1 warning

"#]]);
    s.infmax(&["validate", "--changelog-file", "perf-changelog.yaml"])
        .assert()
        .success()
        .stderr_eq(format!("{NOTE_AND_WARNING}warning: perf-changelog.yaml:2:7: [0]/config-keys[0]: config key `llama70b-fp8-h100-vllm` does not exist in .github/configs/gb200-master.yaml, .github/configs/nvidia-master.yaml; check the spelling, or add the config first; kept as history (only entries added by a change must resolve)\n"))
        .stdout_eq(str![[r#"
ok: 3 config keys in 2 files (2 single-node, 1 multi-node; 5 search items), 4 runner types with 5 nodes, 2 changelog entries; 2 warnings

"#]]);
}

#[test]
fn every_matrix_command_produces_the_jobs() {
    let s = seed_repo();
    let all = json_of(s.infmax(&["matrix", "full-sweep"]));
    assert_eq!(all.as_array().map(Vec::len), Some(9));
    // Labels as written, the unknown one included.
    assert_eq!(runners(&all), ["b200-trt", "gb200-nv", "h100"]);
    // Glob file arguments, expanded by infmax (an Action's args never see a shell).
    let globbed = json_of(s.infmax(&[
        "matrix",
        "full-sweep",
        "--config-files",
        ".github/configs/*-master.yaml",
        "--runner-config",
        ".github/configs/runners.yaml",
    ]));
    assert_eq!(globbed, all);
    s.infmax(&[
        "matrix",
        "full-sweep",
        "--config-files",
        ".github/configs/nope-*.yaml",
    ])
    .assert()
    .code(2)
    .stdout_eq("")
    .stderr_eq(
        "error: --config-files `.github/configs/nope-*.yaml`: the pattern matches no file\n",
    );
    let keyed = json_of(s.infmax(&[
        "matrix",
        "test-config",
        "--config-keys",
        "dsr1-fp8-h100-vllm",
        "dsr1-fp4-gb200-dynamo-trt",
    ]));
    assert_eq!(runners(&keyed), ["gb200-nv", "h100"]);
    // The node with two labels serves both runner types.
    let trt = json_of(s.infmax(&[
        "matrix",
        "runner-model-sweep",
        "--runner-type",
        "b200-trt",
        "--single-node",
    ]));
    assert_eq!(runners(&trt), ["b200-nb_0"]);
    let h100 = json_of(s.infmax(&[
        "matrix",
        "runner-model-sweep",
        "--runner-type",
        "h100",
        "--single-node",
    ]));
    assert_eq!(runners(&h100), ["h100-cw_0", "h100-cw_1"]);
    // A job of the unknown label gets its environment.
    let multi = all
        .as_array()
        .and_then(|a| a.iter().find(|e| e["runner"] == "gb200-nv"))
        .expect("the gb200-nv job")
        .to_string();
    let out = s
        .infmax(&["matrix", "job-env"])
        .env("INFMAX_ENTRY", &multi)
        .env("RUNNER_NAME", "gb200-nv_7")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let env = String::from_utf8_lossy(&out);
    assert!(env.contains("RUNNER_TYPE='gb200-nv'\n"), "{env}");
    assert!(
        env.contains("RESULT_FILENAME='dsr1_1k1k_fp4_ptp4pep4_dtp8dep8_dynamo-trt_specdec-none_conc16x64_gb200-nv_7'\n"),
        "{env}"
    );
}

#[test]
fn a_change_to_the_changelog_runs_only_what_it_adds() {
    let s = seed_repo();
    let base = s.commit_all("history");
    s.write("perf-changelog.yaml", &format!("{HISTORY}{ADDED}"));
    let head = s.commit_all("add gpt-oss");
    let v = json_of(s.infmax(&[
        "matrix",
        "changelog",
        "--base-ref",
        &base,
        "--head-ref",
        &head,
    ]));
    let jobs: Vec<&Value> = v["single_node"]
        .as_object()
        .expect("groups")
        .values()
        .flat_map(|g| g.as_array().cloned().unwrap_or_default().leak().iter())
        .collect();
    assert_eq!(jobs.len(), 1, "{v}");
    assert_eq!(jobs[0]["runner"], "b200-trt");
    assert_eq!(v["multi_node"], serde_json::json!({}));
}

/// Every file argument takes a glob pattern (an Action's `args` never goes
/// through a shell): the runner config and the changelog as well as the
/// master configs. A pattern for a one-file flag must match one file.
#[test]
fn file_arguments_take_glob_patterns() {
    let s = seed_repo();
    s.infmax(&[
        "validate",
        "--config-files",
        ".github/configs/*-master.yaml",
        "--runner-config",
        ".github/configs/runner?.yaml",
        "--changelog-file",
        "perf-changelog.y*ml",
    ])
    .assert()
    .success();
    s.infmax(&[
        "validate",
        "--runner-config",
        ".github/configs/*.yaml",
    ])
    .assert()
    .code(2)
    .stderr_eq(str![[r#"
note: configs/ does not exist; using the seed layout's .github/configs/
error: --runner-config `.github/configs/*.yaml`: the pattern matches 3 files (.github/configs/gb200-master.yaml, .github/configs/nvidia-master.yaml, .github/configs/runners.yaml); it takes one

"#]]);
    s.infmax(&["validate", "--changelog-file", "nothing-*.yaml"])
        .assert()
        .code(2)
        .stderr_eq(str![[r#"
note: configs/ does not exist; using the seed layout's .github/configs/
error: --changelog-file `nothing-*.yaml`: the pattern matches no file

"#]]);
}
