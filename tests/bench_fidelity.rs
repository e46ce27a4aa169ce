//! Every metric of `infmax bench serve` against what the simulator really
//! did. A test binary of its own, so no other test competes for the CPU
//! while it measures.

mod common;

use common::bench::{bench, f};
use common::sim::{SimProcess, get};

fn within(actual: f64, truth: f64, rel: f64, what: &str) {
    assert!(
        (actual - truth).abs() <= truth.abs() * rel,
        "{what}: {actual} vs truth {truth} (allowed {:.2}%)",
        rel * 100.0
    );
}

#[test]
fn every_metric_within_one_percent_of_the_truth() {
    let sim = SimProcess::fixed("200", "20");
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, stderr) = bench(
        &sim,
        dir.path(),
        &[
            "--prompt-token-ids",
            "--random-input-len",
            "64",
            "--random-output-len",
            "20",
            "--num-prompts",
            "32",
            "--max-concurrency",
            "8",
            "--goodput",
            "ttft:300",
            "tpot:25",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let truth = get(&sim.addr, "/sim/stats").json();
    let rows = get(&sim.addr, "/sim/requests").json();
    // Exact counts.
    assert_eq!(r["completed"], 32);
    assert_eq!(r["failed"], 0);
    assert_eq!(r["total_input_tokens"], 32 * 64);
    assert_eq!(r["total_output_tokens"], 32 * 20);
    assert_eq!(r["max_concurrency_reached"], 8);
    // Latencies: the server's record of what it sent is the truth.
    within(
        f(&r, "mean_ttft_ms"),
        f(&truth["ttft_ms"], "mean"),
        0.01,
        "mean TTFT",
    );
    within(
        f(&r, "median_ttft_ms"),
        f(&truth["ttft_ms"], "median"),
        0.01,
        "median TTFT",
    );
    within(
        f(&r, "mean_itl_ms"),
        f(&truth["itl_ms"], "mean"),
        0.01,
        "mean ITL",
    );
    within(
        f(&r, "median_itl_ms"),
        f(&truth["itl_ms"], "median"),
        0.01,
        "median ITL",
    );
    within(
        f(&r, "mean_e2el_ms"),
        f(&truth["e2el_ms"], "mean"),
        0.01,
        "mean E2EL",
    );
    let truth_tpot = (f(&truth["e2el_ms"], "mean") - f(&truth["ttft_ms"], "mean")) / 19.0;
    within(f(&r, "mean_tpot_ms"), truth_tpot, 0.01, "mean TPOT");
    // And the schedule itself, loosely: other tests may share the CPU
    // (the simulator's own fidelity is tested in sim_timing.rs).
    within(f(&r, "mean_ttft_ms"), 200.0, 0.05, "TTFT vs schedule");
    within(f(&r, "median_itl_ms"), 20.0, 0.05, "ITL vs schedule");
    // Throughputs over the measured duration: first request read to last token sent.
    let rows = rows.as_array().expect("rows");
    let first = rows
        .iter()
        .map(|x| f(x, "arrived_us"))
        .fold(f64::INFINITY, f64::min);
    let last = rows
        .iter()
        .filter_map(|x| x["sent_us"].as_array()?.last()?.as_f64())
        .fold(0.0, f64::max);
    let truth_duration = (last - first) / 1e6;
    within(f(&r, "duration"), truth_duration, 0.01, "duration");
    within(
        f(&r, "request_throughput"),
        32.0 / truth_duration,
        0.01,
        "request throughput",
    );
    within(
        f(&r, "output_throughput"),
        640.0 / truth_duration,
        0.01,
        "output throughput",
    );
    within(
        f(&r, "total_token_throughput"),
        (640.0 + 2048.0) / truth_duration,
        0.01,
        "total throughput",
    );
    // Every request meets ttft <= 300 and tpot <= 25: goodput == throughput.
    within(
        f(&r, "request_goodput"),
        f(&r, "request_throughput"),
        1e-9,
        "goodput",
    );
    assert!(
        stderr.contains("Serving Benchmark Result") && stderr.contains("Mean TTFT (ms):"),
        "{stderr}"
    );
    assert!(
        stderr.contains("infmax bench: 32/32 done"),
        "plain progress lines in CI: {stderr}"
    );
}
