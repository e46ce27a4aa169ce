//! `infmax sim` over real HTTP on 127.0.0.1: every endpoint, request field,
//! timing mode and fault, checked with a tiny independent client.

mod common;

use common::sim::{SimProcess, get, post, request};
use serde_json::{Value, json};
use std::time::Duration;

fn completion(extra: Value) -> String {
    let mut body = json!({"model": "m", "prompt": [1, 2, 3, 4, 5], "max_tokens": 6, "ignore_eos": true, "stream": true,
        "stream_options": {"include_usage": true}});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body.to_string()
}

fn texts(chunks: &[Value]) -> Vec<String> {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .filter_map(|ch| {
            ch["text"]
                .as_str()
                .or(ch["delta"]["content"].as_str())
                .map(String::from)
        })
        .filter(|t| !t.is_empty())
        .collect()
}

#[test]
fn health_models_metrics() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--max-model-len",
        "4096",
    ]);
    assert_eq!(get(&sim.addr, "/health").status, 200);
    let models = get(&sim.addr, "/v1/models").json();
    assert_eq!(models["data"][0]["id"], "m");
    assert_eq!(models["data"][0]["max_model_len"], 4096);
    post(&sim.addr, "/v1/completions", &completion(json!({})));
    let metrics = String::from_utf8(get(&sim.addr, "/metrics").body).expect("text");
    for line in [
        "vllm:num_requests_running{model_name=\"m\"} 0",
        "vllm:num_requests_waiting{model_name=\"m\"} 0",
        "vllm:prompt_tokens_total{model_name=\"m\"} 5",
        "vllm:generation_tokens_total{model_name=\"m\"} 6",
        "vllm:request_success_total{model_name=\"m\"} 1",
        "# TYPE vllm:generation_tokens_total counter",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
}

#[test]
fn streamed_completion_has_one_token_per_chunk_then_usage_then_done() {
    let sim = SimProcess::fixed("2", "1");
    let r = post(&sim.addr, "/v1/completions", &completion(json!({})));
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .to_ascii_lowercase()
            .contains("content-type: text/event-stream")
    );
    let chunks = r.chunks();
    assert_eq!(texts(&chunks).len(), 6, "max_tokens with ignore_eos");
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(
        chunks[6]["usage"],
        json!({"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11})
    );
    assert!(r.has_done() && r.clean_end);
    // Without include_usage there is no usage chunk.
    let r = post(
        &sim.addr,
        "/v1/completions",
        &completion(json!({"stream_options": null})),
    );
    assert!(r.chunks().iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn chat_streams_role_then_reasoning_then_content() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "2",
        "--itl-ms",
        "1",
        "--reasoning-tokens",
        "3",
    ]);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "four words of prompt"}],
        "max_completion_tokens": 5, "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}});
    let chunks = post(&sim.addr, "/v1/chat/completions", &body.to_string()).chunks();
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let reasoning = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"]["reasoning_content"].is_string())
        .count();
    assert_eq!(reasoning, 3);
    assert_eq!(texts(&chunks).len(), 2, "5 tokens, 3 of them reasoning");
    let usage = &chunks.last().expect("usage chunk")["usage"];
    assert_eq!(
        usage["completion_tokens"], 5,
        "reasoning tokens count as completion tokens"
    );
    // 20 bytes of text -> 5 tokens, + 4 for the message template (documented approximation).
    assert_eq!(usage["prompt_tokens"], 9);
}

#[test]
fn non_streamed_responses() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--reasoning-tokens",
        "1",
    ]);
    let r = post(
        &sim.addr,
        "/v1/completions",
        &completion(json!({"stream": false, "max_tokens": 3})),
    )
    .json();
    assert_eq!(r["object"], "text_completion");
    assert_eq!(r["choices"][0]["text"], " the model answers");
    assert_eq!(r["usage"]["completion_tokens"], 3);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "ignore_eos": true});
    let r = post(&sim.addr, "/v1/chat/completions", &body.to_string()).json();
    assert_eq!(r["choices"][0]["message"]["reasoning_content"], " the");
    assert_eq!(r["choices"][0]["message"]["content"], " model answers");
    assert_eq!(r["choices"][0]["finish_reason"], "length");
}

#[test]
fn eos_min_tokens_and_context_length() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "0",
        "--itl-ms",
        "0",
        "--max-model-len",
        "100",
        "--seed",
        "3",
    ]);
    // Without ignore_eos a sequence may stop early, never before min_tokens.
    let mut lengths = Vec::new();
    for _ in 0..20 {
        let r = post(
            &sim.addr,
            "/v1/completions",
            &completion(json!({"ignore_eos": false, "min_tokens": 4, "max_tokens": 12})),
        )
        .chunks();
        let n = texts(&r).len();
        let usage = r
            .last()
            .map(|c| c["usage"]["completion_tokens"].as_u64())
            .unwrap_or_default();
        assert_eq!(
            usage,
            Some(n as u64),
            "usage counts exactly what was streamed"
        );
        lengths.push(n);
    }
    assert!(lengths.iter().all(|n| (4..=12).contains(n)), "{lengths:?}");
    assert!(
        lengths.iter().any(|n| *n < 12),
        "some stop early: {lengths:?}"
    );
    let r = post(
        &sim.addr,
        "/v1/completions",
        &completion(json!({"max_tokens": 96})),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum context length is 100 tokens"))
    );
}

#[test]
fn bad_requests_get_real_error_bodies() {
    let sim = SimProcess::fixed("1", "1");
    let r = post(
        &sim.addr,
        "/v1/completions",
        r#"{"model":"gpt-4","prompt":"x"}"#,
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "NotFoundError");
    for body in [
        r#"{"model":"m"}"#,
        "{not json",
        r#"{"model":"m","prompt":"x","max_tokens":"many"}"#,
    ] {
        let r = post(&sim.addr, "/v1/completions", body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"]["code"], 400);
    }
}

#[test]
fn engine_model_trades_interactivity_for_throughput() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--max-num-seqs",
        "4",
        "--prefill-tps",
        "1000000",
        "--decode-base-ms",
        "4",
        "--decode-per-seq-ms",
        "2",
    ]);
    let run = |conc: usize| -> Value {
        post(&sim.addr, "/sim/reset", "");
        let handles: Vec<_> = (0..conc)
            .map(|_| {
                let addr = sim.addr.clone();
                std::thread::spawn(move || {
                    post(
                        &addr,
                        "/v1/completions",
                        &completion(json!({"max_tokens": 10})),
                    )
                })
            })
            .collect();
        for h in handles {
            assert_eq!(texts(&h.join().expect("thread").chunks()).len(), 10);
        }
        get(&sim.addr, "/sim/stats").json()
    };
    let one = run(1);
    let four = run(4);
    let eight = run(8);
    let itl = |s: &Value| s["itl_ms"]["median"].as_f64().unwrap_or(0.0);
    // Step time is 4 + 2·batch ms: 6 ms alone, 12 ms with four running.
    assert!(
        itl(&one) < itl(&four),
        "ITL grows with the batch: {} vs {}",
        itl(&one),
        itl(&four)
    );
    assert!((itl(&four) - 12.0).abs() < 1.5, "{}", itl(&four));
    // Beyond max-num-seqs requests queue: TTFT grows, ITL does not.
    let ttft = |s: &Value| s["ttft_ms"]["max"].as_f64().unwrap_or(0.0);
    assert!(
        ttft(&eight) > ttft(&four) + 50.0,
        "queued requests wait: {} vs {}",
        ttft(&eight),
        ttft(&four)
    );
    let metrics = String::from_utf8(get(&sim.addr, "/metrics").body).expect("text");
    assert!(metrics.contains("vllm:num_requests_running{model_name=\"m\"} 0"));
}

fn with_fault(flag: &str) -> SimProcess {
    SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        flag,
        "every=2",
    ])
}

#[test]
fn status_faults() {
    for (flag, code) in [
        ("--fault-500", 500),
        ("--fault-429", 429),
        ("--fault-503", 503),
    ] {
        let sim = with_fault(flag);
        let first = post(&sim.addr, "/v1/completions", &completion(json!({})));
        let second = post(&sim.addr, "/v1/completions", &completion(json!({})));
        assert_eq!(
            (first.status, second.status),
            (200, code),
            "{flag}: every second request"
        );
        assert_eq!(second.json()["error"]["code"], code);
        let metrics = String::from_utf8(get(&sim.addr, "/metrics").body).expect("text");
        assert!(
            metrics.contains("infmax_sim_injected_faults_total{model_name=\"m\"} 1"),
            "{metrics}"
        );
    }
}

#[test]
fn reset_mid_stream() {
    let sim = with_fault("--fault-reset");
    post(&sim.addr, "/v1/completions", &completion(json!({})));
    let r = post(&sim.addr, "/v1/completions", &completion(json!({})));
    assert_eq!(r.status, 200);
    assert_eq!(texts(&r.chunks()).len(), 3, "cut half-way");
    assert!(
        !r.clean_end && !r.has_done(),
        "the connection ends without the final chunk"
    );
}

#[test]
fn stall_keeps_the_connection_open() {
    let sim = with_fault("--fault-stall");
    post(&sim.addr, "/v1/completions", &completion(json!({})));
    let r = request(
        &sim.addr,
        "POST",
        "/v1/completions",
        &completion(json!({})),
        Duration::from_millis(700),
    );
    assert_eq!(texts(&r.chunks()).len(), 3);
    assert!(r.timed_out && !r.clean_end, "no more data, no close");
}

#[test]
fn malformed_chunk() {
    let sim = with_fault("--fault-malformed");
    post(&sim.addr, "/v1/completions", &completion(json!({})));
    let r = post(&sim.addr, "/v1/completions", &completion(json!({})));
    let bad = r
        .events
        .iter()
        .filter(|(_, e)| e != "[DONE]" && serde_json::from_str::<Value>(e).is_err())
        .count();
    assert_eq!(bad, 1);
    assert!(r.has_done() && r.clean_end);
}

#[test]
fn missing_done() {
    let sim = with_fault("--fault-no-done");
    let ok = post(&sim.addr, "/v1/completions", &completion(json!({})));
    let r = post(&sim.addr, "/v1/completions", &completion(json!({})));
    assert!(ok.has_done());
    assert_eq!(texts(&r.chunks()).len(), 6);
    assert!(
        !r.has_done() && r.clean_end,
        "all tokens and a clean end, but no [DONE]"
    );
}

#[test]
fn slow_start_then_healthy() {
    let sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--slow-start",
        "1",
    ]);
    assert_eq!(get(&sim.addr, "/health").status, 503);
    assert_eq!(
        post(&sim.addr, "/v1/completions", &completion(json!({}))).status,
        503
    );
    let mut healthy = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(50));
        if get(&sim.addr, "/health").status == 200 {
            healthy = true;
            break;
        }
    }
    assert!(healthy, "healthy after --slow-start");
}

#[test]
fn exit_after_n_requests() {
    let mut sim = SimProcess::start(&[
        "--served-model-name",
        "m",
        "--ttft-ms",
        "1",
        "--itl-ms",
        "1",
        "--exit-after",
        "2",
    ]);
    assert_eq!(
        post(&sim.addr, "/v1/completions", &completion(json!({}))).status,
        200
    );
    assert!(sim.exited_within(Duration::from_millis(300)).is_none());
    let last = post(&sim.addr, "/v1/completions", &completion(json!({})));
    assert!(last.has_done(), "the last response is delivered whole");
    let status = sim.exited_within(Duration::from_secs(5)).expect("exits");
    assert_eq!(status.code(), Some(4));
}

#[test]
fn bad_arguments() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infmax"))
        .args(["sim", "--preset", "tpu-v9"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid value 'tpu-v9' for '--preset <PRESET>': unknown; presets: h100, h200, b200, gb200, mi300x, mi325x, mi355x\n\nFor more information, try '--help'.\n"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_infmax"))
        .args(["sim", "--fault-500", "2"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("expected a probability from 0 to 1 (e.g. 0.05) or every=N")
    );
}
