//! `infmax bench serve` against `infmax sim` (a server whose timing is
//! known): every metric against the truth, exact token counts, every failure
//! kind, aborts, warm-ups, and `infmax server wait`.

mod common;

use common::bench::{bench, bench_with, f, infmax, result};
use common::sim::{SimProcess, get};
use serde_json::Value;
use std::process::Command;

#[test]
fn goodput_counts_only_requests_meeting_every_slo() {
    let sim = SimProcess::fixed("50", "5");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, r, _) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "8",
            "--random-output-len",
            "4",
            "--num-prompts",
            "4",
            "--goodput",
            "ttft:20",
        ],
    );
    assert_eq!(r["request_goodput"], 0.0);
    assert!(f(&r, "request_throughput") > 0.0);
}

/// Every result says what the client cost while measuring: CPU seconds,
/// CPU per streamed token, its share of the cores, peak memory, and
/// whether it was the limit (and why); the summary says it too.
#[test]
fn the_result_says_what_the_client_cost() {
    let sim = SimProcess::fixed("5", "2");
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, stderr) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "16",
            "--random-output-len",
            "50",
            "--num-prompts",
            "40",
            "--max-concurrency",
            "8",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let c = &r["client_cost"];
    let cpu = f(c, "cpu_seconds");
    let tokens = f(&r, "total_output_tokens");
    assert_eq!(tokens, 2000.0);
    // Streaming 2,000 tokens costs some CPU, and far less than the run's
    // wall time on every core.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert_eq!(f(c, "cores"), cores);
    let duration = f(&r, "duration");
    assert!(cpu > 0.0 && cpu < duration * cores, "{c}");
    assert!(
        (f(c, "cpu_us_per_token") - cpu * 1e6 / tokens).abs() < 1e-6,
        "{c}"
    );
    assert!(
        (f(c, "cpu_share") - cpu / (duration * cores)).abs() < 1e-9,
        "{c}"
    );
    // The process holds at least its own binary and runtime.
    assert!(
        f(c, "peak_rss_mb") > 2.0 && f(c, "peak_rss_mb") < 2000.0,
        "{c}"
    );
    let bound_by = c["bound_by"].as_array().expect("bound_by");
    assert_eq!(r["client_bound"], Value::Bool(!bound_by.is_empty()), "{c}");
    assert!(
        stderr.contains("Client CPU per output token (us):"),
        "{stderr}"
    );
    assert_eq!(c["http_client"], "infmax-http1", "plain http://: {c}");
}

/// With a proxy variable set, requests go through reqwest, which obeys it
/// and `NO_PROXY` (as the seed's aiohttp client does): here NO_PROXY names
/// the simulator, so the run measures the same streams as the direct
/// client, token for token, and says which client it used.
#[test]
fn a_proxy_variable_hands_the_requests_to_reqwest() {
    let sim = SimProcess::fixed("5", "2");
    let args = [
        "--prompt-token-ids",
        "--random-input-len",
        "16",
        "--random-output-len",
        "20",
        "--num-prompts",
        "24",
        "--max-concurrency",
        "6",
        "--num-warmups",
        "2",
    ];
    let (direct_dir, proxied_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let (code, direct, stderr) = bench(&sim, direct_dir.path(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    let env = [
        ("http_proxy", "http://127.0.0.1:9"),
        ("NO_PROXY", "127.0.0.1"),
    ];
    let (code, proxied, stderr) = bench_with(&sim, proxied_dir.path(), &args, &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(direct["client_cost"]["http_client"], "infmax-http1");
    assert_eq!(proxied["client_cost"]["http_client"], "reqwest");
    for r in [&direct, &proxied] {
        assert_eq!(
            (r["completed"].as_u64(), r["total_output_tokens"].as_u64()),
            (Some(24), Some(480)),
            "{r}"
        );
        // 5 ms to the first token, 2 ms between tokens, on either client.
        assert!((5.0..9.0).contains(&f(r, "median_ttft_ms")), "{r}");
        assert!((1.8..3.0).contains(&f(r, "median_itl_ms")), "{r}");
    }
    // Without NO_PROXY the proxy (nothing listens on port 9) is used:
    // every request fails to connect, counted, not lost.
    let (code, r, _) = bench_with(
        &sim,
        proxied_dir.path(),
        &args,
        &[("http_proxy", "http://127.0.0.1:9")],
    );
    assert_eq!(code, Some(4), "{r}");
    assert_eq!(r["failed"], 24, "{r}");
}

/// A trailing comma in a list (`ttft,`) is an empty item, skipped as the
/// seed's client skips it, not an error.
#[test]
fn empty_list_items_are_skipped() {
    let sim = SimProcess::fixed("5", "5");
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, stderr) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "8",
            "--random-output-len",
            "4",
            "--num-prompts",
            "2",
            "--percentile-metrics",
            "ttft,",
            "--metric-percentiles",
            "90,,",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(f(&r, "p90_ttft_ms") > 0.0, "{r}");
}

#[test]
fn exact_input_length_with_a_tokenizer_matches_the_server_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tok = common::tokenizer::write(&dir.path().join("model"));
    let tok = tok.to_str().expect("utf8");
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "5",
        "--itl-ms",
        "1",
        "--tokenizer",
        tok,
    ]);
    let args = [
        "--tokenizer",
        tok,
        "--random-input-len",
        "300",
        "--random-range-ratio",
        "0.5",
        "--random-prefix-len",
        "20",
        "--random-output-len",
        "8",
        "--num-prompts",
        "24",
        "--max-concurrency",
        "6",
        "--seed",
        "5",
    ];
    let (code, r, stderr) = bench(&sim, dir.path(), &args);
    assert_eq!(code, Some(0), "{stderr}");
    let fp = &r["input_lens_fingerprint"];
    assert_eq!(fp["mismatched_prompts"], 0, "{fp}");
    assert_eq!(fp["mismatch_tokens"], 0);
    assert!(
        f(fp, "realised_min") >= 170.0 && f(fp, "realised_max") <= 320.0,
        "{fp}"
    );
    // The server counted the same prompt tokens with the same tokenizer.
    assert_eq!(fp["server_prompt_tokens_mean"], fp["realised_mean"]);
    assert_eq!(
        r["total_input_tokens"].as_f64().map(f64::round),
        Some((f(fp, "realised_mean") * 24.0).round())
    );
    // Output tokens come from the server's usage; the tokenizer's count of
    // the text is reported beside it (the simulator's words are not this
    // tokenizer's, so they disagree here).
    let rec = &r["output_tokens_reconciliation"];
    assert_eq!(rec["usage_total"], r["total_output_tokens"]);
    assert_eq!(r["output_tokens_source"], serde_json::json!({"usage": 24}));
    assert_eq!(
        f(rec, "abs_disagreement"),
        f(rec, "tokenizer_total") - f(rec, "usage_total"),
        "{rec}"
    );
    // Assembled from single-token words, after a full encode of 4 agreed.
    let prep = &r["prompt_preparation"];
    assert_eq!(
        (&prep["method"], &prep["checked_prompts"]),
        (&serde_json::json!("assembled"), &serde_json::json!(4)),
        "{prep}"
    );
    assert_eq!(
        f(prep, "prompt_tokens"),
        (f(fp, "realised_mean") * 24.0).round()
    );
    assert!(stderr.contains("Prompt preparation (s):"), "{stderr}");
    // Deterministic for a seed: a second run sends the same prompts.
    let (_, again, _) = bench(&sim, dir.path(), &args);
    assert_eq!(again["input_lens_fingerprint"], r["input_lens_fingerprint"]);
    // Every prompt encoded instead, on request: as exact, and said.
    let mut encode = args.to_vec();
    encode.extend(["--prompt-prep", "encode"]);
    let (code, enc, stderr) = bench(&sim, dir.path(), &encode);
    assert_eq!(code, Some(0), "{stderr}");
    let efp = &enc["input_lens_fingerprint"];
    assert_eq!(
        (
            &efp["mismatched_prompts"],
            &efp["server_prompt_tokens_mean"]
        ),
        (&serde_json::json!(0), &efp["realised_mean"]),
        "{efp}"
    );
    assert_eq!(enc["prompt_preparation"]["method"], "encoded");
}

#[test]
fn chat_backend_counts_reasoning_and_ignores_the_role_chunk() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "30",
        "--itl-ms",
        "2",
        "--reasoning-tokens",
        "3",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let tok = common::tokenizer::write(&dir.path().join("model"));
    let (code, r, stderr) = bench(
        &sim,
        dir.path(),
        &[
            "--backend",
            "openai-chat",
            "--tokenizer",
            tok.to_str().expect("utf8"),
            "--random-input-len",
            "50",
            "--random-output-len",
            "10",
            "--num-prompts",
            "8",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(r["total_output_tokens"], 80);
    assert_eq!(r["backend"], "openai-chat");
    // The role chunk comes at once, the first reasoning token after 30 ms:
    // the client's TTFT can be neither before the server sent that token nor
    // near zero. (Exact fidelity is tested in bench_fidelity.rs.)
    let truth = get(&sim.addr, "/sim/stats").json();
    let (ttft, true_ttft) = (f(&r, "mean_ttft_ms"), f(&truth["ttft_ms"], "mean"));
    assert!(
        ttft >= true_ttft && ttft < true_ttft + 20.0,
        "TTFT is the first reasoning token, not the empty role chunk: {ttft} vs {true_ttft}"
    );
    assert!(
        f(&r, "total_reasoning_tokens") > 0.0 && f(&r, "total_answer_tokens") > 0.0,
        "{r}"
    );
}

#[test]
fn warmups_are_excluded_from_every_metric() {
    let sim = SimProcess::fixed("5", "1");
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, r, _) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "8",
            "--random-output-len",
            "4",
            "--num-prompts",
            "10",
            "--num-warmups",
            "6",
            "--max-concurrency",
            "3",
        ],
    );
    assert_eq!(r["completed"], 10);
    assert_eq!(r["num_warmups"], 6);
    assert_eq!(r["total_output_tokens"], 40);
    assert_eq!(
        get(&sim.addr, "/sim/stats").json()["requests"],
        16,
        "the server saw the warm-ups too"
    );
}

/// Runs 8 requests against a simulator with `fault` on every second request.
fn with_fault(fault: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        fault,
        "every=2",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec![
        "--prompt-token-ids",
        "--random-input-len",
        "8",
        "--random-output-len",
        "6",
        "--num-prompts",
        "8",
        "--max-concurrency",
        "1",
    ];
    args.extend_from_slice(extra);
    let (code, r, _) = bench(&sim, dir.path(), &args);
    (code, r)
}

#[test]
fn http_errors_are_counted_by_status() {
    let (code, r) = with_fault("--fault-500", &["--max-failure-rate", "1"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (r["completed"].as_u64(), r["failed"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(r["errors"], serde_json::json!({"http_500": 4}));
    assert_eq!(
        r["total_output_tokens"], 24,
        "failed requests add no tokens"
    );
    let (_, r) = with_fault("--fault-429", &["--max-failure-rate", "1"]);
    assert_eq!(r["errors"], serde_json::json!({"http_429": 4}));
}

#[test]
fn too_many_failures_exit_4_after_writing_the_result() {
    let (code, r) = with_fault("--fault-503", &[]);
    assert_eq!(code, Some(4));
    assert_eq!(r["errors"]["http_503"], 4);
}

#[test]
fn disconnects_mid_stream() {
    let (_, r) = with_fault("--fault-reset", &["--max-failure-rate", "1"]);
    assert_eq!(r["errors"], serde_json::json!({"disconnected": 4}));
    assert_eq!(r["completed"], 4);
}

#[test]
fn malformed_events() {
    let (_, r) = with_fault("--fault-malformed", &["--max-failure-rate", "1"]);
    assert_eq!(r["errors"], serde_json::json!({"malformed_event": 4}));
    assert!(
        r["error_samples"][0]
            .as_str()
            .is_some_and(|s| s.starts_with("malformed_event: "))
    );
}

#[test]
fn stalls_time_out() {
    let (_, r) = with_fault(
        "--fault-stall",
        &["--max-failure-rate", "1", "--request-timeout", "0.5"],
    );
    assert_eq!(r["errors"], serde_json::json!({"timeout": 4}));
}

#[test]
fn empty_completions() {
    let (_, r) = with_fault("--fault-empty", &["--max-failure-rate", "1"]);
    assert_eq!(r["errors"], serde_json::json!({"empty_completion": 4}));
}

#[test]
fn missing_done_is_a_success_with_a_warning_count() {
    let (code, r) = with_fault("--fault-no-done", &[]);
    assert_eq!(code, Some(0));
    assert_eq!(r["completed"], 8);
    assert_eq!(r["missing_done"], 4);
}

#[test]
fn refused_connections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = infmax(&[
        "bench",
        "serve",
        "--model",
        "m",
        "--port",
        &port.to_string(),
        "--prompt-token-ids",
        "--num-prompts",
        "3",
        "--save-result",
        "--result-dir",
        dir.path().to_str().expect("utf8"),
        "--result-filename",
        "r.json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let r = result(dir.path(), &String::from_utf8_lossy(&out.stderr));
    assert_eq!(r["errors"], serde_json::json!({"connect": 3}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: no request completed (3 of 3 failed: connect x3)"),
        "{stderr}"
    );
}

#[test]
fn server_death_aborts_cleanly_keeping_what_was_measured() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "2",
        "--itl-ms",
        "2",
        "--exit-after",
        "6",
    ]);
    let pid = sim.child.id().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, stderr) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "8",
            "--random-output-len",
            "10",
            "--num-prompts",
            "200",
            "--max-concurrency",
            "2",
            "--request-rate",
            "100",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(r["aborted"], true);
    assert!(
        r["abort_reason"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("server process {pid} exited")))
    );
    let completed = r["completed"].as_u64().unwrap_or(0);
    assert!(
        (6..=8).contains(&completed),
        "what was measured is kept: {completed}"
    );
    assert!(
        r["errors"]["aborted"].as_u64().unwrap_or(0) > 150,
        "{}",
        r["errors"]
    );
    assert!(stderr.contains("benchmark aborted"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2() {
    for (args, msg) in [
        (
            vec!["--backend", "tgi"],
            "error: invalid value 'tgi' for '--backend <BACKEND>': unknown; allowed: vllm, sglang, openai, openai-chat, trt",
        ),
        (
            vec!["--request-rate", "fast"],
            "error: invalid value 'fast' for '--request-rate <REQUEST_RATE>': expected requests per second from 1e-6 to 1e9, or inf",
        ),
        (
            vec!["--goodput", "ttft=5"],
            "error: invalid value 'ttft=5' for '--goodput <KEY:MS>...': expected ttft:MS, tpot:MS or e2el:MS",
        ),
        (
            vec!["--percentile-metrics", "ttft,latency"],
            "error: invalid value 'latency' for '--percentile-metrics <PERCENTILE_METRICS>': unknown metric; allowed: ttft, tpot, itl, e2el",
        ),
        (
            vec!["--metadata", "novalue"],
            "error: invalid value 'novalue' for '--metadata <KEY=VALUE>...': expected KEY=VALUE",
        ),
        (
            vec!["--dataset-name", "sharegpt"],
            "only `random` is supported",
        ),
        (vec!["--tokenizer", "/nonexistent/tok"], "no /"),
    ] {
        let mut a = vec!["bench", "serve", "--model", "m"];
        a.extend(args);
        let out = infmax(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(msg), "{a:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn server_wait_ready_timeout_and_death() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--slow-start",
        "0.5",
    ]);
    let out = infmax(&[
        "server",
        "wait",
        "--url",
        &sim.url(),
        "--interval",
        "0.1",
        "--timeout",
        "10",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is ready after"));

    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
        .to_string();
    let out = infmax(&[
        "server",
        "wait",
        "--port",
        &port,
        "--interval",
        "0.1",
        "--timeout",
        "0.5",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not ready after 0 s (--timeout)"));

    // A "server" that logs and dies: its log is streamed, then its tail reported.
    let log = dir.path().join("server.log");
    let mut child = Command::new("sh")
        .args(["-c", &format!("echo loading weights > {0}; echo '::error::fake' >> {0}; sleep 0.3; echo CUDA out of memory >> {0}; exit 1", log.display())])
        .spawn()
        .expect("sh");
    let pid = child.id().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_infmax"))
        .args([
            "server",
            "wait",
            "--port",
            &port,
            "--pid",
            &pid,
            "--log",
            log.to_str().expect("utf8"),
            "--interval",
            "0.05",
        ])
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("runs");
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("::stop-commands::"),
        "log echo is fenced from workflow commands: {stdout}"
    );
    assert!(stdout.contains("loading weights") && stdout.contains("::error::fake"));
    let token = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("::stop-commands::"))
        .expect("fence token");
    assert!(
        stdout.trim_end().ends_with(&format!("::{token}::")),
        "the fence closes with its token: {stdout}"
    );
    assert!(
        stderr.contains(&format!("server process {pid} exited before")),
        "{stderr}"
    );
    assert!(
        stderr.contains("CUDA out of memory"),
        "the log's last lines: {stderr}"
    );
    // The tail quoted in the error is fenced too.
    common::assert_inert(&stderr);
    assert!(stderr.contains("::error::fake"), "{stderr}");
}

/// A result folder that cannot be written is found before the first request,
/// not after the run (the measurements would be lost).
#[test]
fn an_unwritable_result_dir_fails_before_sending() {
    let sim = SimProcess::fixed("1", "1");
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a folder").expect("write");
    let url = sim.url();
    let out = common::bench::infmax(&[
        "bench",
        "serve",
        "--model",
        "m",
        "--base-url",
        &url,
        "--prompt-token-ids",
        "--num-prompts",
        "4",
        "--save-result",
        "--result-dir",
        blocker.join("sub").to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("; nothing was sent"), "{stderr}");
    assert_eq!(get(&sim.addr, "/sim/stats").json()["requests"], 0);
}

/// One HTTP/1.1 request as a test server read it.
#[derive(Debug, Clone)]
struct Request {
    line: String,
    authorization: Option<String>,
}

/// Reads one HTTP/1.1 request from a test server's connection (its body by
/// Content-Length, then dropped), or `None` when the client closed first.
fn read_request(r: &mut impl std::io::BufRead) -> Option<Request> {
    let mut req = Request {
        line: String::new(),
        authorization: None,
    };
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        if req.line.is_empty() {
            req.line = line.trim_end().to_string();
        } else if name.eq_ignore_ascii_case("authorization") {
            req.authorization = Some(value.trim().to_string());
        } else if name.eq_ignore_ascii_case("content-length") {
            len = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    Some(req)
}

/// Answers `req` with a content-length body: the model list for a `GET`
/// (the connection warm-up), else `stream`.
fn answer(s: &mut impl std::io::Write, req: &Request, stream: &[u8]) {
    let body: &[u8] = if req.line.starts_with("GET") {
        b"{\"data\":[{\"id\":\"m\"}]}"
    } else {
        stream
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
}

/// A server whose streams open with a byte-order mark and end lines with a
/// bare CR (both legal SSE): every request completes with every token; a
/// server that sends one line without end fails each request by its
/// deadline instead of spinning.
#[test]
fn hostile_but_legal_streams_and_an_endless_line() {
    fn serve(status: &'static str, body: &'static [u8]) -> String {
        use std::io::{BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        std::thread::spawn(move || {
            for stream in l.incoming() {
                let Ok(mut s) = stream else { continue };
                std::thread::spawn(move || {
                    let mut r = BufReader::new(s.try_clone().expect("clone"));
                    if read_request(&mut r).is_none() {
                        return;
                    }
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                    );
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(body);
                    // Keep the endless line going until the client gives up.
                    if body.ends_with(b"x") {
                        let chunk = vec![b'x'; 1 << 16];
                        while s.write_all(&chunk).is_ok() {}
                    }
                });
            }
        });
        format!("http://{addr}")
    }
    let ok: &'static [u8] = b"\xEF\xBB\xBFdata: {\"choices\":[{\"text\":\"a\"}]}\r\rdata: {\"choices\":[{\"text\":\"b\"}]}\r\rdata: {\"choices\":[{\"text\":\"c\",\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":3}}\r\rdata: [DONE]\r";
    let url = serve("200 OK", ok);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "bench",
            "serve",
            "--model",
            "m",
            "--base-url",
            url,
            "--prompt-token-ids",
            "--random-input-len",
            "4",
            "--max-concurrency",
            "2",
            "--save-result",
            "--result-dir",
            dir.path().to_str().expect("utf8"),
            "--result-filename",
            "r.json",
        ];
        args.extend_from_slice(extra);
        let out = infmax(&args);
        let r = result(dir.path(), &String::from_utf8_lossy(&out.stderr));
        (out.status.code(), r)
    };
    let (code, r) = run(&url, &["--num-prompts", "4", "--random-output-len", "3"]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(
        (r["completed"].as_u64(), r["failed"].as_u64()),
        (Some(4), Some(0)),
        "{r}"
    );
    assert_eq!(r["total_output_tokens"], 12);
    // A server whose count is far from what it streamed (200 for three
    // one-token chunks): the tokenizer's count is published, and flagged.
    let lying: &'static [u8] = b"data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\"}]}\n\ndata: {\"choices\":[{\"text\":\"c\",\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":200}}\n\ndata: [DONE]\n\n";
    let tok_dir = tempfile::tempdir().expect("tempdir");
    let tok = common::tokenizer::write(tok_dir.path());
    let url = serve("200 OK", lying);
    let (code, r) = run(
        &url,
        &[
            "--num-prompts",
            "4",
            "--random-output-len",
            "1000",
            "--tokenizer",
            tok.to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["usage_rejected"], 4, "{r}");
    assert_eq!(
        r["output_tokens_source"],
        serde_json::json!({"tokenizer": 4}),
        "{r}"
    );
    assert_eq!(r["total_output_tokens"], r["total_answer_tokens"], "{r}");
    assert!(
        r["total_output_tokens"].as_u64().is_some_and(|t| t < 100),
        "{r}"
    );
    let endless: &'static [u8] = b"data: x";
    let url = serve("200 OK", endless);
    let started = std::time::Instant::now();
    let (code, r) = run(
        &url,
        &[
            "--num-prompts",
            "2",
            "--random-output-len",
            "3",
            "--request-timeout",
            "2",
        ],
    );
    eprintln!("endless line: {:?}", started.elapsed());
    assert_eq!(code, Some(4), "{r}");
    assert_eq!(r["failed"], 2, "{r}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the deadline held: {:?}",
        started.elapsed()
    );
    // An error page that never ends: its start is the detail, the request
    // fails at once (not at its deadline, with the body buffered whole).
    let url = serve("500 Internal Server Error", endless);
    let started = std::time::Instant::now();
    let (code, r) = run(
        &url,
        &[
            "--num-prompts",
            "2",
            "--random-output-len",
            "3",
            "--request-timeout",
            "60",
        ],
    );
    eprintln!("endless error page: {:?}", started.elapsed());
    assert_eq!(code, Some(4), "{r}");
    assert_eq!(r["errors"], serde_json::json!({"http_500": 2}), "{r}");
    // (Also under the 10 s the connection warm-up may wait: its read of
    // /v1/models, endless here too, stops after 1 MiB.)
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// Extreme numbers are refused with the flag and its range (exit 2), never
/// a panic or an allocation abort.
#[test]
fn extreme_numbers_are_usage_errors() {
    for (args, message) in [
        (
            &["--request-timeout", "1e20"][..],
            "error: invalid value '1e20' for '--request-timeout <REQUEST_TIMEOUT>': expected a number of seconds > 0 and at most 1e7\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--request-timeout", "NaN"][..],
            "error: invalid value 'NaN' for '--request-timeout <REQUEST_TIMEOUT>': expected a number of seconds > 0 and at most 1e7\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--request-rate", "1e-300"][..],
            "error: invalid value '1e-300' for '--request-rate <REQUEST_RATE>': expected requests per second from 1e-6 to 1e9, or inf\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--burstiness", "1e-300"][..],
            "error: invalid value '1e-300' for '--burstiness <BURSTINESS>': expected a number from 0.001 to 1000\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--num-prompts", "100000000000"][..],
            "error: invalid value '100000000000' for '--num-prompts <NUM_PROMPTS>': expected a whole number from 1 to 10000000\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--random-input-len", "4000000000"][..],
            "error: invalid value '4000000000' for '--random-input-len <RANDOM_INPUT_LEN>': expected a whole number from 0 to 16777216\n\nFor more information, try '--help'.\n",
        ),
        (
            &["--max-concurrency", "99999999999"][..],
            "error: invalid value '99999999999' for '--max-concurrency <MAX_CONCURRENCY>': expected a whole number from 1 to 1000000\n\nFor more information, try '--help'.\n",
        ),
    ] {
        let mut all = vec![
            "bench",
            "serve",
            "--model",
            "m",
            "--prompt-token-ids",
            "--port",
            "9",
        ];
        all.extend_from_slice(args);
        let out = infmax(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), message, "{args:?}");
    }
}

/// The server dies and the remaining requests fail at once, before the
/// 200 ms watcher looks: the run is still flagged aborted and exits 4, even
/// when every failure is allowed.
#[test]
fn a_server_death_is_flagged_however_fast_the_run_ends() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "5",
        "--itl-ms",
        "5",
        "--exit-after",
        "2",
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let pid = sim.child.id().to_string();
    let (code, r, _) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "4",
            "--random-output-len",
            "2",
            "--num-prompts",
            "40",
            "--max-concurrency",
            "1",
            "--max-failure-rate",
            "1",
            "--server-pid",
            &pid,
        ],
    );
    assert_eq!(code, Some(4), "{r}");
    assert_eq!(r["aborted"], true, "{r}");
    assert!(
        r["completed"]
            .as_u64()
            .is_some_and(|c| (2..=12).contains(&c)),
        "{r}"
    );
}

/// The result's path is printed on stdout for the next step: a name with a
/// line break in it is refused before any request (exit 2), not printed.
#[test]
fn a_result_name_with_a_line_break_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = infmax(&[
        "bench",
        "serve",
        "--model",
        "m",
        "--port",
        "9",
        "--save-result",
        "--result-dir",
        dir.path().to_str().expect("utf8"),
        "--result-filename",
        "r.json\n::error::pwned",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no control characters"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
        Some(0)
    );
}

/// A server that answers the first request of each connection (keep-alive)
/// and closes the connection on the second without answering: every reuse
/// of a pooled connection fails before an answer. Each such request is sent
/// once more, on a new connection (not another pooled one that would fail
/// the same way), so nothing fails (#17 item 10).
#[test]
fn a_stale_keep_alive_connection_is_resent_on_a_new_one() {
    use std::io::BufReader;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                for served in 0.. {
                    let Some(req) = read_request(&mut r) else {
                        return;
                    };
                    if served > 0 {
                        return; // the stale connection: closed, never answered
                    }
                    answer(&mut s, &req, b"data: {\"choices\":[{\"text\":\"a\"}]}\n\ndata: {\"choices\":[{\"text\":\"b\",\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
                }
            });
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let out = infmax(&[
        "bench",
        "serve",
        "--model",
        "m",
        "--base-url",
        &format!("http://{addr}"),
        "--prompt-token-ids",
        "--random-input-len",
        "4",
        "--random-output-len",
        "2",
        "--num-prompts",
        "40",
        "--max-concurrency",
        "4",
        "--save-result",
        "--result-dir",
        dir.path().to_str().expect("utf8"),
        "--result-filename",
        "r.json",
    ]);
    let r = result(dir.path(), &String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(
        (r["completed"].as_u64(), r["failed"].as_u64()),
        (Some(40), Some(0)),
        "{r}"
    );
    assert!(r["send_retries"].as_u64().is_some_and(|n| n >= 4), "{r}");
}

/// `OPENAI_API_KEY` goes out as `authorization: Bearer …` on every
/// request, the connection warm-up's included, over either HTTP client:
/// the seed's client sends it, and a server started with `--api-key`
/// refuses requests without it. A key a header cannot carry (a line break
/// would add headers of its own) is refused before anything is sent.
#[test]
fn the_api_key_is_sent_as_a_bearer_token() {
    use std::io::BufReader;
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let (tx, rx) = std::sync::mpsc::channel::<Request>();
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                while let Some(req) = read_request(&mut r) {
                    // Recorded before the answer: the run cannot end first.
                    let _ = tx.send(req.clone());
                    answer(&mut s, &req, b"data: {\"choices\":[{\"text\":\"a\",\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n");
                }
            });
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("http://{addr}");
    let args = [
        "bench",
        "serve",
        "--model",
        "m",
        "--base-url",
        &url,
        "--prompt-token-ids",
        "--random-input-len",
        "4",
        "--random-output-len",
        "1",
        "--num-prompts",
        "6",
        "--max-concurrency",
        "2",
        "--save-result",
        "--result-dir",
        dir.path().to_str().expect("utf8"),
        "--result-filename",
        "r.json",
    ];
    let key = ("OPENAI_API_KEY", "sk-test.1");
    let proxy = [
        key,
        ("http_proxy", "http://127.0.0.1:9"),
        ("NO_PROXY", "127.0.0.1"),
    ];
    for (env, client) in [(&[key][..], "infmax-http1"), (&proxy[..], "reqwest")] {
        let out = common::bench::infmax_with(&args, env);
        let r = result(dir.path(), &String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{r}");
        assert_eq!(r["client_cost"]["http_client"], client, "{r}");
        assert_eq!(r["completed"], 6, "{r}");
        let seen: Vec<_> = rx.try_iter().collect();
        assert!(
            seen.iter().filter(|q| q.line.starts_with("POST")).count() == 6,
            "{seen:?}"
        );
        assert!(
            seen.iter().any(|q| q.line.starts_with("GET /v1/models")),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .all(|q| q.authorization.as_deref() == Some("Bearer sk-test.1")),
            "{client}: {seen:?}"
        );
    }
    let out = common::bench::infmax_with(&args, &[("OPENAI_API_KEY", "sk\r\nx-injected: 1")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("OPENAI_API_KEY") && !stderr.contains("injected"),
        "{stderr}"
    );
    assert_eq!(rx.try_iter().count(), 0, "nothing sent");
}
