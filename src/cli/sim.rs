//! `infmax sim`: every knob of the simulated engine into
//! [`crate::sim::SimOptions`].

use super::Written;
use crate::error::{Error, Result};
use clap::Args;

/// `infmax sim`: every knob of the simulated engine.
#[derive(Args, Debug)]
#[command(
    long_about = "Run a simulated OpenAI-compatible inference server: /v1/completions, /v1/chat/completions \
(streaming and not), /v1/models, /health, /metrics (Prometheus, vLLM names), plus /sim/stats, \
/sim/requests and POST /sim/reset with what was really sent.\n\n\
Timing: --ttft-ms and --itl-ms give a fixed schedule (token k at request-read + ttft + k*itl, \
independent of load: ground truth for testing clients). Otherwise a continuous-batching engine \
model runs (--preset or the --max-num-seqs/--prefill-*/--decode-* knobs); see docs/simulator.md.\n\n\
Faults take a probability per request (0.05) or every=N (requests N, 2N, ...).\n\n\
The address is announced on stderr as `infmax sim: listening on http://HOST:PORT`."
)]
pub(super) struct SimArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", env = "INFMAX_SIM_HOST")]
    host: String,
    /// Port to bind (0: any free port).
    #[arg(long, default_value_t = 8000, env = "INFMAX_SIM_PORT")]
    port: u16,
    /// Model name requests must use (others get 404).
    #[arg(
        long,
        alias = "model",
        default_value = "infmax-sim",
        env = "INFMAX_SIM_MODEL"
    )]
    served_model_name: String,
    /// Context length: prompt + max_tokens above it is rejected with 400.
    #[arg(long, default_value_t = 32768, env = "INFMAX_SIM_MAX_MODEL_LEN")]
    max_model_len: u32,
    /// Fixed schedule: time to first token, in ms (with --itl-ms).
    #[arg(long, requires = "itl_ms", value_parser = super::values::millis, env = "INFMAX_SIM_TTFT_MS")]
    ttft_ms: Option<std::time::Duration>,
    /// Fixed schedule: time between tokens, in ms (with --ttft-ms).
    #[arg(long, requires = "ttft_ms", value_parser = super::values::millis, env = "INFMAX_SIM_ITL_MS")]
    itl_ms: Option<std::time::Duration>,
    /// Engine model preset: h100, h200, b200, gb200, mi300x, mi325x, mi355x (a runner type like b200-dgxc works too).
    #[arg(
        long,
        default_value = "h100",
        conflicts_with = "ttft_ms",
        value_parser = super::values::preset,
        env = "INFMAX_SIM_PRESET"
    )]
    preset: String,
    /// Engine model: requests batched together at most (the rest queue).
    #[arg(long, conflicts_with = "ttft_ms")]
    max_num_seqs: Option<u32>,
    /// Engine model: prefill speed in prompt tokens per second.
    #[arg(long, conflicts_with = "ttft_ms")]
    prefill_tps: Option<f64>,
    /// Engine model: chunked-prefill budget, prompt tokens per step.
    #[arg(long, conflicts_with = "ttft_ms")]
    prefill_chunk: Option<u32>,
    /// Engine model: decode step time at batch size 0, in ms.
    #[arg(long, conflicts_with = "ttft_ms")]
    decode_base_ms: Option<f64>,
    /// Engine model: added decode step time per running request, in ms.
    #[arg(long, conflicts_with = "ttft_ms")]
    decode_per_seq_ms: Option<f64>,
    /// Stream the first N tokens of each answer as `reasoning_content`.
    #[arg(long, default_value_t = 0, env = "INFMAX_SIM_REASONING_TOKENS")]
    reasoning_tokens: u32,
    /// tokenizer.json (file, directory or HF model id in the local cache) to count prompt tokens exactly.
    #[arg(long, env = "INFMAX_SIM_TOKENIZER")]
    tokenizer: Option<String>,
    /// Fault: answer HTTP 500.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_500: crate::sim::faults::Rate,
    /// Fault: answer HTTP 429.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_429: crate::sim::faults::Rate,
    /// Fault: answer HTTP 503.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_503: crate::sim::faults::Rate,
    /// Fault: drop the connection half-way through a stream.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_reset: crate::sim::faults::Rate,
    /// Fault: stop sending half-way through a stream, keeping the connection open.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_stall: crate::sim::faults::Rate,
    /// Fault: send one chunk of invalid JSON half-way through a stream.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_malformed: crate::sim::faults::Rate,
    /// Fault: end streams without `data: [DONE]`.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_no_done: crate::sim::faults::Rate,
    /// Fault: answer with no token at all.
    #[arg(long, value_name = "RATE", default_value = "0")]
    fault_empty: crate::sim::faults::Rate,
    /// Seed of the probabilistic faults and of end-of-sequence points.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Answer 503 (not healthy) for this many seconds after start.
    #[arg(long, default_value = "0", value_name = "SECS", value_parser = super::values::seconds_or_zero)]
    slow_start: std::time::Duration,
    /// Exit (status 1) after this many completed requests.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long, env = "INFMAX_SIM_WORKERS")]
    workers: Option<usize>,
}

fn sim_options(a: &SimArgs) -> Result<crate::sim::SimOptions> {
    use crate::sim::{Timing, engine};
    let timing = match (a.ttft_ms, a.itl_ms) {
        (Some(t), Some(i)) => Timing::Fixed { ttft: t, itl: i },
        _ => {
            // values::preset checked the name.
            let p = engine::preset(&a.preset)
                .ok_or_else(|| Error::usage(format!("--preset {}: unknown", a.preset)))?;
            let o = engine::Overrides {
                max_num_seqs: a.max_num_seqs,
                prefill_tps: a.prefill_tps,
                prefill_chunk: a.prefill_chunk,
                decode_base_ms: a.decode_base_ms,
                decode_per_seq_ms: a.decode_per_seq_ms,
            };
            Timing::Model(p.with(&o).map_err(|why| {
                Error::usage(format!(
                    "--preset {} with --prefill-tps/--decode-base-ms/--decode-per-seq-ms: {why}",
                    a.preset
                ))
            })?)
        }
    };
    Ok(crate::sim::SimOptions {
        host: a.host.clone(),
        port: a.port,
        served_model_name: a.served_model_name.clone(),
        max_model_len: a.max_model_len,
        timing,
        reasoning_tokens: a.reasoning_tokens,
        tokenizer: a.tokenizer.clone(),
        faults: crate::sim::faults::FaultConfig {
            http_500: a.fault_500,
            http_429: a.fault_429,
            http_503: a.fault_503,
            reset: a.fault_reset,
            stall: a.fault_stall,
            malformed: a.fault_malformed,
            no_done: a.fault_no_done,
            empty: a.fault_empty,
            seed: a.seed,
        },
        slow_start: a.slow_start,
        exit_after: a.exit_after,
        workers: a
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        seed: a.seed,
    })
}

pub(super) fn exec(a: &SimArgs) -> Result<Written> {
    match crate::sim::run(sim_options(a)?)? {
        crate::sim::Stopped::Signal => Ok(Written::default()),
        // A failure exit, as a crashed engine's, so a test sees a dead
        // server (4: the run ended but failed; not 1, which is bad input).
        crate::sim::Stopped::ExitAfter(n) => Err(Error::Failed(format!(
            "infmax sim: exiting after {n} completed requests (--exit-after)"
        ))),
    }
}
