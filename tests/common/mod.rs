//! Helpers for CLI tests: a scratch directory with a small valid config set,
//! and the `infmax` binary run inside it with a clean environment.
#![allow(dead_code)]

use snapbox::cmd::Command;
use std::path::{Path, PathBuf};

/// An engine script written for the seed system (InferenceMAX), calling its
/// library's functions with its flags (compat.md §4), as far as the
/// benchmark; the result goes to `$PWD/$RESULT_DIR_NAME/`.
pub const SEED_SCRIPT: &str = r#"set -euo pipefail
source "$LIB"
check_env_vars MODEL ISL OSL CONC RESULT_FILENAME
wait_for_server_ready --port "$PORT" --server-log "$SERVER_LOG" --server-pid "$SERVER_PID"
run_benchmark_serving \
  --model "$MODEL" \
  --port "$PORT" \
  --backend vllm \
  --input-len "$ISL" \
  --output-len "$OSL" \
  --random-range-ratio 0.8 \
  --num-prompts $((CONC * 10)) \
  --max-concurrency "$CONC" \
  --result-filename "$RESULT_FILENAME" \
  --result-dir "$PWD/$RESULT_DIR_NAME/" \
  --bench-serving-dir "$PWD" \
  --use-chat-template \
  --server-pid "$SERVER_PID"
"#;

/// A zip archive of (name, text) entries, as an artifact download serves it.
pub fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, body) in files {
            z.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            z.write_all(body.as_bytes()).expect("write");
        }
        z.finish().expect("finish");
    }
    buf.into_inner()
}

/// A raw result's prompt lengths were drawn from [0.8 x isl, isl] (the
/// sweep's range ratio) and went as chat messages: the server, with the
/// same tokenizer, counts the template's 4 tokens more.
pub fn assert_sweep_chat_prompts(r: &serde_json::Value, isl: f64) {
    let fp = &r["input_lens_fingerprint"];
    let (min, max) = (
        fp["realised_min"].as_f64().expect("min"),
        fp["realised_max"].as_f64().expect("max"),
    );
    assert!(
        ((0.8 * isl).floor()..=isl).contains(&min) && min < max && max <= isl,
        "{fp}"
    );
    let server = fp["server_prompt_tokens_mean"].as_f64().expect("usage");
    let client = fp["realised_mean"].as_f64().expect("mean");
    assert!((server - client - 4.0).abs() < 1e-9, "{fp}");
}

pub const RUNNERS: &str = "\
h100: [h100-cw_0, h100-cw_1]
b200: [b200-nb_0]
gb200: [gb200-nv_0]
";

pub const MASTER: &str = "\
dsr1-fp8-h100-vllm:
  image: vllm/vllm-openai:v0.11.0
  model: deepseek-ai/DeepSeek-R1-0528
  model-prefix: dsr1
  precision: fp8
  framework: vllm
  runner: h100
  multinode: false
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - { tp: 8, conc-start: 4, conc-end: 16 }
  - isl: 1024
    osl: 8192
    search-space:
    - { tp: 8, conc-list: [4, 32] }
    - { tp: 4, ep: 4, conc-start: 4, conc-end: 8 }
gptoss-fp4-b200-trt:
  image: nvcr.io/nvidia/tensorrt-llm/release:1.1.0
  model: openai/gpt-oss-120b
  model-prefix: gptoss
  precision: fp4
  framework: trt
  runner: b200
  multinode: false
  seq-len-configs:
  - isl: 8192
    osl: 1024
    search-space:
    - { tp: 2, spec-decoding: mtp, conc-list: [8] }
dsr1-fp4-gb200-dynamo-trt:
  image: nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.5.1
  model: nvidia/DeepSeek-R1-FP4
  model-prefix: dsr1
  precision: fp4
  framework: dynamo-trt
  runner: gb200
  multinode: true
  disagg: true
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - prefill: { num-worker: 1, tp: 4, ep: 4, dp-attn: true }
      decode: { num-worker: 1, tp: 8, ep: 8, dp-attn: true, additional-settings: [X=1] }
      conc-list: [16, 64]
";

pub mod bench;
pub mod sim;
pub mod tokenizer;

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A directory with `configs/test-master.yaml` and `configs/runners.yaml`.
    pub fn new() -> Scratch {
        let s = Scratch {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        s.write("configs/test-master.yaml", MASTER);
        s.write("configs/runners.yaml", RUNNERS);
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).unwrap_or_default()
    }

    /// `infmax ARGS` in this directory, with no GitHub/INFMAX variables
    /// inherited from the machine running the tests.
    pub fn infmax(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(snapbox::cmd::cargo_bin!("infmax"))
            .args(args)
            .current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("GITHUB_")
                || k.starts_with("INFMAX_")
                || k.starts_with("GIT_")
                || k.starts_with("RUNNER_")
                || k == "GPUS_PER_NODE"
            {
                cmd = cmd.env_remove(k);
            }
        }
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
    }

    /// Runs git in the scratch directory; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Initialises a repository and commits everything; returns the commit.
    pub fn commit_all(&self, message: &str) -> String {
        if !self.dir.path().join(".git").exists() {
            self.git(&["init", "-q", "-b", "main"]);
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The hostile lines tests feed to each print path: a workflow command in
/// both of the runner's forms, the fence's own command, and a line break.
pub const HOSTILE: &str =
    "x\n::error::pwned\n::add-mask::secret\n::stop-commands::t\n##[add-mask]y";

/// Asserts that, read by the Actions runner, `text` (a step's stdout or
/// stderr) carries no workflow command but infmax's own annotations
/// (`::error `/`::warning ` with escaped properties): every other line that
/// starts with `::` or holds `##[` sits between `::stop-commands::T` and `::T::`.
pub fn assert_inert(text: &str) {
    let mut fence: Option<String> = None;
    for line in text.lines() {
        match &fence {
            Some(t) if line == format!("::{t}::") => fence = None,
            Some(_) => {}
            None => {
                if let Some(t) = line.strip_prefix("::stop-commands::") {
                    assert!(t.len() >= 32, "a guessable fence token: {line}\n{text}");
                    fence = Some(t.to_string());
                } else {
                    let annotation = line.starts_with("::error ") || line.starts_with("::warning ");
                    assert!(
                        annotation || !line.trim_start().starts_with("::"),
                        "a workflow command outside a fence: {line}\n{text}"
                    );
                    // (An annotation is parsed as `::`, so its message is
                    // never read for the older `##[` form.)
                    assert!(
                        annotation || !line.contains("##["),
                        "a `##[` command outside a fence: {line}\n{text}"
                    );
                }
            }
        }
    }
    assert!(fence.is_none(), "the fence is never closed: {text}");
}
