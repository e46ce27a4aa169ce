//! The shell side of a benchmark job: every config in configs/ has an engine
//! script, every runner node a launcher, and every script parses and passes
//! shellcheck.

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
