//! `infmax eval run`: accuracy evals with lm-evaluation-harness against the
//! serving endpoint, then `meta_env.json` beside the harness output for
//! `collect evals` (results.md §4).
//!
//! The harness talks to a small local proxy rather than to the server: for
//! reasoning models whose answer arrives as `reasoning_content` with an empty
//! `content`, the proxy moves the reasoning into `content`, so the harness
//! scores the model's text instead of an empty string.

use crate::error::{Error, Result};
use crate::fsutil;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The lm-eval release installed by `--install`.
pub(crate) const LM_EVAL_SPEC: &str = "lm-eval[api]==0.4.13";

#[derive(Debug, Clone)]
pub(crate) struct EvalOptions {
    /// Server base URL, e.g. http://127.0.0.1:8000.
    pub(crate) base_url: String,
    /// Model name sent in requests.
    pub(crate) served_model: String,
    pub(crate) tasks: Vec<String>,
    pub(crate) include_path: PathBuf,
    pub(crate) num_fewshot: Option<u32>,
    pub(crate) concurrency: u32,
    pub(crate) max_tokens: u32,
    /// Sampling, as the seed's `run_lm_eval` passes it (0 and 1: greedy).
    pub(crate) temperature: f64,
    pub(crate) top_p: f64,
    pub(crate) limit: Option<f64>,
    pub(crate) out: PathBuf,
    pub(crate) python: String,
    pub(crate) install: bool,
    /// Inside GitHub Actions: fence lm-eval's output from workflow commands.
    pub(crate) annotate: bool,
    /// Fields of meta_env.json.
    pub(crate) meta: Meta,
}

/// The job's description written to meta_env.json beside the harness
/// results, as the seed writes it (compat.md): what `collect evals` reads
/// back to label each eval row.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Meta {
    pub(crate) framework: String,
    pub(crate) precision: String,
    pub(crate) spec_decoding: String,
    pub(crate) tp: u32,
    pub(crate) conc: u32,
    pub(crate) ep: u32,
    /// The environment's text, lower-cased ("true"/"false"), not a boolean.
    pub(crate) dp_attention: String,
    pub(crate) model: String,
    pub(crate) hw: String,
    pub(crate) isl: u32,
    pub(crate) osl: u32,
}

impl Meta {
    /// `dp_attention` as the job's environment spells it.
    pub(crate) fn dp_attention(text: &str) -> String {
        text.trim().to_ascii_lowercase()
    }

    /// Writes `dir/meta_env.json` (creating `dir`); returns its path.
    pub(crate) fn write(&self, dir: &std::path::Path) -> Result<PathBuf> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::env(format!("cannot create {}: {e}", dir.display())))?;
        let meta = dir.join("meta_env.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::env(e.to_string()))?;
        fsutil::atomic_write(&meta, text.as_bytes())
            .map_err(|e| Error::env(format!("cannot write {}: {e}", meta.display())))?;
        Ok(meta)
    }
}

/// If a chat answer's `content` is empty, uses its reasoning text instead.
pub(crate) fn reasoning_as_answer(v: &mut Value) -> bool {
    let mut changed = false;
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            let Some(msg) = c.get_mut("message").and_then(Value::as_object_mut) else {
                continue;
            };
            let empty = msg
                .get("content")
                .is_none_or(|x| x.as_str().is_none_or(|s| s.trim().is_empty()));
            let reasoning = msg
                .get("reasoning_content")
                .or_else(|| msg.get("reasoning"))
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty())
                .map(String::from);
            if empty && let Some(r) = reasoning {
                msg.insert("content".into(), json!(r));
                changed = true;
            }
        }
    }
    changed
}

#[derive(Clone)]
struct Proxy {
    client: reqwest::Client,
    upstream: String,
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |x| x.as_str());
    let mut req = p
        .client
        .request(method, format!("{}{path}", p.upstream))
        .body(body);
    for (k, v) in &headers {
        if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
            req = req.header(k, v);
        }
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("infmax eval proxy: {e}")).into_response();
        }
    };
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let ctype = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let bytes = match res.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("infmax eval proxy: {e}")).into_response();
        }
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            if reasoning_as_answer(&mut v) {
                v.to_string().into_bytes()
            } else {
                bytes.to_vec()
            }
        }
        Err(_) => bytes.to_vec(),
    };
    (status, [(axum::http::header::CONTENT_TYPE, ctype)], body).into_response()
}

/// Starts the proxy on 127.0.0.1 in a background thread; returns its URL.
fn start_proxy(upstream: &str) -> Result<String> {
    let client = crate::http::client(reqwest::Client::builder())?;
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::env(format!("cannot start the eval proxy: {e}")))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| Error::env(e.to_string()))?;
    let addr = std_listener
        .local_addr()
        .map_err(|e| Error::env(e.to_string()))?;
    let proxy = Proxy {
        client,
        upstream: upstream.trim_end_matches('/').to_string(),
    };
    std::thread::Builder::new()
        .name("eval-proxy".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(forward).with_state(proxy);
                let _ = axum::serve(listener, app).await;
            });
        })
        .map_err(|e| Error::env(format!("cannot start the eval proxy: {e}")))?;
    Ok(format!("http://{addr}"))
}

fn has_lm_eval(python: &str) -> bool {
    Command::new(python)
        .args(["-c", "import lm_eval"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn to_stderr() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_or(Stdio::inherit(), Stdio::from)
}

/// Runs `cmd` to its end; with `annotate` (inside Actions) its output,
/// which can carry what a server or a package build printed, is fenced so
/// none of it is taken as a workflow command.
fn status_fenced(cmd: &mut Command, annotate: bool) -> std::io::Result<std::process::ExitStatus> {
    let fence = annotate.then(|| crate::diag::CommandFence::open(&mut std::io::stderr()));
    let status = cmd.status();
    if let Some(f) = fence {
        f.close(&mut std::io::stderr());
    }
    status
}

/// Installs lm-eval when missing and allowed, runs it, writes meta_env.json.
pub(crate) fn run(o: &EvalOptions) -> Result<PathBuf> {
    if !has_lm_eval(&o.python) {
        if !o.install {
            return Err(Error::env(format!(
                "lm-evaluation-harness is not installed for {}; pass --install, or run `{} -m pip install '{LM_EVAL_SPEC}'`",
                o.python, o.python
            )));
        }
        eprintln!("infmax: installing {LM_EVAL_SPEC}");
        // pip relays package build logs: fenced like lm-eval's output.
        let mut pip = Command::new(&o.python);
        pip.args(["-m", "pip", "install", "--quiet", LM_EVAL_SPEC])
            .stdout(to_stderr());
        let ok = status_fenced(&mut pip, o.annotate).is_ok_and(|s| s.success());
        if !ok || !has_lm_eval(&o.python) {
            return Err(Error::env(format!(
                "installing {LM_EVAL_SPEC} with {} -m pip failed",
                o.python
            )));
        }
    }
    std::fs::create_dir_all(&o.out)
        .map_err(|e| Error::env(format!("cannot create {}: {e}", o.out.display())))?;
    let proxy = start_proxy(&o.base_url)?;
    let model_args = format!(
        "model={},base_url={proxy}/v1/chat/completions,num_concurrent={},max_retries=3,tokenized_requests=False,timeout=3600",
        o.served_model, o.concurrency
    );
    let mut cmd = Command::new(&o.python);
    cmd.args([
        "-m",
        "lm_eval",
        "--model",
        "local-chat-completions",
        "--model_args",
        &model_args,
        "--tasks",
        &o.tasks.join(","),
    ])
    .arg("--include_path")
    .arg(&o.include_path)
    .args([
        "--apply_chat_template",
        "--gen_kwargs",
        &format!(
            "max_gen_toks={},temperature={},top_p={}",
            o.max_tokens, o.temperature, o.top_p
        ),
    ])
    .arg("--output_path")
    .arg(&o.out)
    .env("HF_DATASETS_TRUST_REMOTE_CODE", "1")
    .stdout(to_stderr());
    if let Some(n) = o.num_fewshot {
        cmd.args(["--num_fewshot", &n.to_string()]);
    }
    if let Some(l) = o.limit {
        cmd.args(["--limit", &l.to_string()]);
    }
    eprint!(
        "{}",
        crate::diag::for_people(format!(
            "infmax: running lm-eval on {} via {proxy} -> {}\n",
            o.tasks.join(","),
            o.out.display()
        ))
    );
    // lm-eval's output can carry what the server answered: fenced so none
    // of it is taken as a workflow command.
    let status = status_fenced(&mut cmd, o.annotate)
        .map_err(|e| Error::env(format!("cannot run {}: {e}", o.python)))?;
    if !status.success() {
        return Err(Error::env(format!(
            "lm-eval failed ({status}); its output is above"
        )));
    }
    o.meta.write(&o.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_fills_an_empty_answer_only() {
        let mut v = json!({"choices": [{"message": {"content": null, "reasoning_content": "The answer is 4"}}]});
        assert!(reasoning_as_answer(&mut v));
        assert_eq!(v["choices"][0]["message"]["content"], "The answer is 4");
        let mut v =
            json!({"choices": [{"message": {"content": "42", "reasoning_content": "think"}}]});
        assert!(!reasoning_as_answer(&mut v));
        assert_eq!(v["choices"][0]["message"]["content"], "42");
        let mut v =
            json!({"choices": [{"message": {"content": "", "reasoning": "newer vLLM field"}}]});
        assert!(reasoning_as_answer(&mut v));
    }
}
