//! `bench serve`'s own HTTP/1.1 client against uvicorn, the HTTP server of
//! vLLM, SGLang and trtllm-serve (tests/servers/openai_uvicorn.py: FastAPI,
//! a vLLM-shaped stream), with both of uvicorn's parsers (h11, and httptools
//! as vLLM installs it): every token and usage count read, the timing the
//! server was given measured, and idle keep-alive connections that uvicorn
//! closed replaced without a failed request.
//!
//! Needs `$INFMAX_TEST_SERVE_PYTHON`: a Python with `uvicorn[standard]` and
//! `fastapi` (`.ci/run` makes one). Elsewhere the test says it is skipped;
//! under `CI=true` it fails instead.

mod common;

use common::bench::bench_at;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

struct Uvicorn {
    child: Child,
    url: String,
}

impl Drop for Uvicorn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Uvicorn {
    /// Returns None (the test skips) without a Python that has uvicorn.
    fn start(ttft_ms: u32, itl_ms: u32, keep_alive_s: u32, parser: &str) -> Option<Uvicorn> {
        let py = std::env::var("INFMAX_TEST_SERVE_PYTHON").ok().filter(|p| {
            Command::new(p)
                .args(["-c", "import uvicorn, fastapi, httptools"])
                .status()
                .is_ok_and(|s| s.success())
        });
        let Some(py) = py else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide INFMAX_TEST_SERVE_PYTHON with uvicorn and fastapi; .ci/run installs them"
            );
            eprintln!(
                "SKIPPED: set INFMAX_TEST_SERVE_PYTHON (see .ci/run) to run the uvicorn test"
            );
            return None;
        };
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/servers/openai_uvicorn.py");
        let mut child = Command::new(py)
            .arg(script)
            .args([ttft_ms, itl_ms, keep_alive_s].map(|n| n.to_string()))
            .arg(parser)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python starts");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut first = String::new();
        let _ = out.read_line(&mut first);
        let url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server announces its address, got {first:?}"))
            .to_string();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let server = Uvicorn { child, url };
        // The socket is bound before uvicorn serves it: wait until it answers.
        for _ in 0..100 {
            if server.get("/health").is_some() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("uvicorn did not answer /health in 10 s");
    }

    /// GET `path` with a plain socket (not the client under test): the body.
    fn get(&self, path: &str) -> Option<String> {
        let addr = self.url.strip_prefix("http://")?;
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.starts_with("HTTP/1.1 200").then(|| {
            text.split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_string()
        })
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&self.get("/stats").expect("stats")).expect("stats JSON")
    }
}

fn f(r: &Value, k: &str) -> f64 {
    r[k].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn every_token_and_the_timing_through_uvicorn() {
    for parser in ["httptools", "h11"] {
        let Some(server) = Uvicorn::start(20, 4, 5, parser) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (code, r, stderr) = bench_at(
            &server.url,
            dir.path(),
            &[
                "--prompt-token-ids",
                "--random-input-len",
                "32",
                "--random-output-len",
                "40",
                "--num-prompts",
                "160",
                "--max-concurrency",
                "16",
                "--num-warmups",
                "4",
            ],
            &[],
        );
        assert_eq!(code, Some(0), "{parser}: {stderr}");
        assert_eq!(r["client_cost"]["http_client"], "infmax-http1");
        assert_eq!(
            (r["completed"].as_u64(), r["failed"].as_u64()),
            (Some(160), Some(0)),
            "{parser}: {r}"
        );
        assert_eq!(r["total_output_tokens"], 160 * 40, "{parser}");
        assert_eq!(r["output_tokens_source"]["usage"], 160, "{parser}: {r}");
        assert_eq!(r["missing_done"], 0);
        // The server slept 20 ms before the first token, 4 ms between the
        // others; uvicorn and Python add their own time, never take any.
        let (ttft, itl) = (f(&r, "median_ttft_ms"), f(&r, "median_itl_ms"));
        assert!((20.0..35.0).contains(&ttft), "{parser}: TTFT {ttft}");
        assert!((4.0..6.0).contains(&itl), "{parser}: ITL {itl}");
        // What the server sent is what was counted: 160 runs + 4 warm-ups.
        let st = server.stats();
        assert_eq!(st["requests"], 164, "{parser}: {st}");
        assert_eq!(st["tokens"], 164 * 40, "{parser}: {st}");
        // Connections were kept alive and reused: at most one per slot
        // (16), and the warm-up's, not one per request.
        let ports = st["ports"].as_u64().unwrap_or(0);
        assert!((1..=20).contains(&ports), "{parser}: {ports} connections");
    }
}

/// uvicorn closes a keep-alive connection idle for its timeout (vLLM's
/// default is 5 s; 1 s here). Requests 1.5 s apart (a near-constant
/// interval: burstiness 1000) find their pooled connection closed: each is
/// replaced before sending, none fails, and none is sent twice (without
/// the check of an idle connection, 4 of the 5 were resent here).
#[test]
fn idle_connections_uvicorn_closed_are_replaced() {
    let Some(server) = Uvicorn::start(5, 1, 1, "httptools") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, stderr) = bench_at(
        &server.url,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "8",
            "--random-output-len",
            "4",
            "--num-prompts",
            "5",
            "--max-concurrency",
            "1",
            "--request-rate",
            "0.667",
            "--burstiness",
            "1000",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        (
            r["completed"].as_u64(),
            r["failed"].as_u64(),
            r["send_retries"].as_u64()
        ),
        (Some(5), Some(0), Some(0)),
        "{r}"
    );
    let st = server.stats();
    assert_eq!(st["requests"], 5, "each request sent once: {st}");
    // The first request went on the connection opened before measuring;
    // each later one on a new connection, as uvicorn had closed the last.
    assert_eq!(st["ports"], 5, "{st}");
}
