//! The command line: argument parsing into plain option structs, dispatch to
//! library code, and the one place that prints errors and picks exit codes.
//!
//! Every flag a workflow step would pass can also come from an `INFMAX_*`
//! environment variable. Machine-readable output goes to stdout, everything
//! for people to stderr.

use crate::changelog::{self, ChangelogMatrix, Metadata};
use crate::config::{self, MasterConfigs};
use crate::diag;
use crate::error::{Error, Result};
use crate::github;
use crate::matrix::evals::{self, EvalMode};
use crate::matrix::full_sweep::FullSweep;
use crate::matrix::output::MatrixOutput;
use crate::matrix::runner_model_sweep::RunnerModelSweep;
use crate::matrix::{MatrixEntry, NodeKind, test_config};
use crate::runners::{self, RunnerConfig};
use crate::seqlen::SeqLen;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "infmax",
    version,
    about = "Continuous LLM-inference benchmarking: job matrices, load generation, results",
    long_about = "Continuous LLM-inference benchmarking across hardware and engines.\n\n\
        Exit codes: 0 success; 1 invalid input (configs, changelog); 2 bad arguments; \
        3 environment failure (git, GitHub API, file system, server not reachable); \
        4 the run finished and wrote its output but failed a check (too many failed requests, \
        the server died)."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Append the step outputs `result-file` and `summary-file` (the files this
    /// command wrote) to $GITHUB_OUTPUT; the composite action sets this.
    #[arg(long, global = true, env = "INFMAX_FILE_OUTPUTS")]
    file_outputs: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check master configs, the runner config and the changelog; report every problem.
    Validate(Box<ValidateArgs>),
    /// Generate a benchmark job matrix as JSON.
    #[command(subcommand)]
    Matrix(Box<MatrixCommand>),
    /// The main job on one machine: matrix -> engine -> benchmarks -> results, tables, charts.
    Run(Box<RunArgs>),
    /// Run a simulated OpenAI-compatible inference server (no GPU needed).
    Sim(Box<SimArgs>),
    /// Benchmark a serving endpoint.
    #[command(subcommand)]
    Bench(Box<BenchCommand>),
    /// Inference-server helpers.
    #[command(subcommand)]
    Server(Box<ServerCommand>),
    /// Process one benchmark run's result inside its job.
    #[command(subcommand)]
    Result(Box<ResultCommand>),
    /// Aggregate processed results or evals from a directory of artifacts.
    #[command(subcommand)]
    Collect(Box<CollectCommand>),
    /// Charts (SVG, one per model and ISL/OSL) and a self-contained report.html.
    Report(ReportArgs),
    /// Accuracy evals with lm-evaluation-harness.
    #[command(subcommand)]
    Eval(Box<EvalCommand>),
    /// Success/total of a workflow run's jobs per GPU SKU -> run_stats.json and a table.
    RunStats(RunStatsArgs),
    /// Download and unpack a workflow run's artifacts, then print the summary tables.
    Fetch(FetchArgs),
}

#[derive(Subcommand, Debug)]
enum EvalCommand {
    /// Run lm-eval (local-chat-completions) against the server; writes meta_env.json beside its results.
    Run(Box<EvalRunArgs>),
}

#[derive(Args, Debug)]
struct EvalRunArgs {
    /// Server base URL [default: http://127.0.0.1:PORT].
    #[arg(long, env = "INFMAX_EVAL_BASE_URL")]
    base_url: Option<String>,
    #[arg(long, default_value_t = 8000, env = "PORT")]
    port: u16,
    /// Model name to send (the server's served model name).
    #[arg(long, env = "INFMAX_EVAL_SERVED_MODEL_NAME")]
    served_model_name: Option<String>,
    /// Model id recorded in meta_env.json (and sent when --served-model-name is absent).
    #[arg(long, env = "MODEL")]
    model: String,
    /// lm-eval task names.
    #[arg(long, num_args = 1.., value_delimiter = ',', default_value = "gsm8k_infmax", env = "INFMAX_EVAL_TASKS")]
    tasks: Vec<String>,
    /// Folder of task YAMLs.
    #[arg(
        long,
        default_value = "benchmarks/evals",
        env = "INFMAX_EVAL_TASKS_DIR"
    )]
    include_path: PathBuf,
    #[arg(long, env = "INFMAX_EVAL_NUM_FEWSHOT")]
    num_fewshot: Option<u32>,
    /// Requests in flight.
    #[arg(long, default_value_t = 64, env = "INFMAX_EVAL_CONCURRENCY")]
    concurrency: u32,
    /// Generation limit per answer.
    #[arg(long, default_value_t = 8192, env = "INFMAX_EVAL_MAX_TOKENS")]
    max_tokens: u32,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.0, env = "INFMAX_EVAL_TEMPERATURE")]
    temperature: f64,
    /// Nucleus sampling (1: off).
    #[arg(long, default_value_t = 1.0, env = "INFMAX_EVAL_TOP_P")]
    top_p: f64,
    /// Only this many (or this fraction of) examples per task.
    #[arg(long, env = "INFMAX_EVAL_LIMIT")]
    limit: Option<f64>,
    /// Output folder (harness results and meta_env.json).
    #[arg(long, default_value = "eval_out", env = "INFMAX_EVAL_OUT")]
    out: PathBuf,
    /// Python interpreter with lm-eval.
    #[arg(long, default_value = "python3", env = "INFMAX_PYTHON")]
    python: String,
    /// Install lm-eval with pip when it is missing.
    #[arg(long, env = "INFMAX_EVAL_INSTALL")]
    install: bool,
    #[arg(long, env = "RUNNER_TYPE", default_value = "")]
    hw: String,
    #[arg(long, env = "FRAMEWORK", default_value = "")]
    framework: String,
    #[arg(long, env = "PRECISION", default_value = "")]
    precision: String,
    #[arg(long, env = "SPEC_DECODING", default_value = "none")]
    spec_decoding: String,
    #[arg(long, env = "TP", default_value_t = 1)]
    tp: u32,
    #[arg(long, env = "EP_SIZE", default_value_t = 1)]
    ep: u32,
    #[arg(long, env = "CONC", default_value_t = 1)]
    conc: u32,
    #[arg(long, env = "DP_ATTENTION", default_value = "false")]
    dp_attention: String,
    #[arg(long, env = "ISL", default_value_t = 0)]
    isl: u32,
    #[arg(long, env = "OSL", default_value_t = 0)]
    osl: u32,
}

#[derive(Args, Debug)]
struct RunStatsArgs {
    /// The workflow run [default: $GITHUB_RUN_ID].
    #[arg(long, env = "GITHUB_RUN_ID")]
    run_id: u64,
    /// Runner config [default: runners.yaml in the default config folder]
    #[arg(long, env = "INFMAX_RUNNER_CONFIG")]
    runner_config: Option<PathBuf>,
    /// Where run_stats.json goes.
    #[arg(long, default_value = ".", env = "INFMAX_OUT_DIR")]
    out_dir: PathBuf,
    /// Also append the table to $GITHUB_STEP_SUMMARY.
    #[arg(long)]
    step_summary: bool,
}

#[derive(Args, Debug)]
struct FetchArgs {
    /// The workflow run whose artifacts to download.
    #[arg(long)]
    run_id: u64,
    /// Only artifacts with this name (repeatable) [default: all].
    #[arg(long, num_args = 1..)]
    artifact: Vec<String>,
    /// Where to unpack (one folder per artifact).
    #[arg(long, default_value = "fetched")]
    out: PathBuf,
}

#[derive(Subcommand, Debug)]
enum ResultCommand {
    /// The run's result + the job's environment -> agg_{RESULT_FILENAME}.json.
    #[command(
        long_about = "The run's result + the job's environment -> agg_{RESULT_FILENAME}.json.\n\n\
Reads RUNNER_TYPE FRAMEWORK PRECISION SPEC_DECODING RESULT_FILENAME ISL OSL DISAGG MODEL_PREFIX IMAGE, \
and TP EP_SIZE DP_ATTENTION, or with IS_MULTINODE=true PREFILL_GPUS DECODE_GPUS PREFILL_NUM_WORKERS \
PREFILL_TP PREFILL_EP PREFILL_DP_ATTN DECODE_NUM_WORKERS DECODE_TP DECODE_EP DECODE_DP_ATTN."
    )]
    Process(ResultProcessArgs),
}

#[derive(Args, Debug)]
struct ResultProcessArgs {
    /// The run's result file [default: {RESULT_FILENAME}.json].
    #[arg(long, env = "INFMAX_RESULT_FILE")]
    result_file: Option<PathBuf>,
    /// Where agg_{RESULT_FILENAME}.json goes.
    #[arg(long, default_value = ".", env = "INFMAX_OUT_DIR")]
    out_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
enum CollectCommand {
    /// Every agg_*.json result under DIR -> agg_{name}.json, and the summary tables on stdout.
    Results(CollectArgs),
    /// Every eval (meta_env.json + lm-eval results*.json) under DIR -> agg_eval_{name}.json and the eval table.
    Evals(CollectEvalsArgs),
}

#[derive(Args, Debug)]
struct CollectArgs {
    /// Directory of artifacts (searched recursively).
    dir: PathBuf,
    /// Aggregate name: writes agg_{name}.json.
    #[arg(long, default_value = "bmk", env = "INFMAX_COLLECT_NAME")]
    name: String,
    /// Where the aggregate goes.
    #[arg(long, default_value = ".", env = "INFMAX_OUT_DIR")]
    out_dir: PathBuf,
    /// Also append the tables to $GITHUB_STEP_SUMMARY (kept under GitHub's 1 MiB limit).
    #[arg(long, env = "INFMAX_STEP_SUMMARY")]
    step_summary: bool,
}

#[derive(Args, Debug)]
struct CollectEvalsArgs {
    #[command(flatten)]
    common: CollectArgs,
    /// YAML of minimum scores (`task: 0.9` or `task: {default: 0.5, MODEL: 0.9}`); exit 4 listing every run below.
    #[arg(long, env = "INFMAX_EVAL_THRESHOLDS")]
    thresholds: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Directory of processed results (searched recursively).
    dir: PathBuf,
    /// Where the SVG charts and report.html go.
    #[arg(long, default_value = "report", env = "INFMAX_REPORT_DIR")]
    out: PathBuf,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Streaming load generator (drop-in for the flags of vLLM's benchmark_serving.py).
    Serve(Box<BenchServeArgs>),
}

#[derive(Subcommand, Debug)]
enum ServerCommand {
    /// Wait until a server answers /health (or /v1/models), streaming its log meanwhile.
    Wait(ServerWaitArgs),
}

#[derive(Args, Debug)]
struct ServerWaitArgs {
    /// Base URL of the server [default: http://127.0.0.1:PORT].
    #[arg(long, env = "INFMAX_SERVER_URL")]
    url: Option<String>,
    /// Port on 127.0.0.1 (when --url is not given).
    #[arg(long, default_value_t = 8000, env = "INFMAX_SERVER_PORT")]
    port: u16,
    /// The server's process: fail as soon as it exits.
    #[arg(long, env = "INFMAX_SERVER_PID")]
    pid: Option<u32>,
    /// The server's log file: streamed to stdout while waiting, last lines shown on failure.
    #[arg(long, env = "INFMAX_SERVER_LOG")]
    log: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800.0, env = "INFMAX_SERVER_TIMEOUT")]
    timeout: f64,
    /// Seconds between health checks.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
}

#[derive(Args, Debug)]
struct BenchServeArgs {
    /// API flavour: vllm, sglang, openai, trt (completions endpoint) or openai-chat (chat endpoint).
    #[arg(long, default_value = "vllm", env = "INFMAX_BENCH_BACKEND")]
    backend: String,
    /// Server base URL (overrides --host/--port).
    #[arg(long, env = "INFMAX_BENCH_BASE_URL")]
    base_url: Option<String>,
    #[arg(long, default_value = "127.0.0.1", env = "INFMAX_BENCH_HOST")]
    host: String,
    #[arg(long, default_value_t = 8000, env = "INFMAX_BENCH_PORT")]
    port: u16,
    /// Request path [default: /v1/completions, or /v1/chat/completions for openai-chat].
    #[arg(long, env = "INFMAX_BENCH_ENDPOINT")]
    endpoint: Option<String>,
    /// Model id (recorded as model_id; sent unless --served-model-name is given).
    #[arg(long, env = "INFMAX_BENCH_MODEL")]
    model: String,
    /// Model name to send in requests.
    #[arg(long, env = "INFMAX_BENCH_SERVED_MODEL_NAME")]
    served_model_name: Option<String>,
    /// tokenizer.json: a file, a directory, or a model id in the local HF cache [default: --model].
    #[arg(long, env = "INFMAX_BENCH_TOKENIZER")]
    tokenizer: Option<String>,
    /// Send token-id prompts to the completions endpoint (exact lengths without a tokenizer).
    #[arg(long)]
    prompt_token_ids: bool,
    /// Dataset: only `random` is supported.
    #[arg(long, default_value = "random")]
    dataset_name: String,
    #[arg(long, default_value_t = 1024, env = "INFMAX_BENCH_INPUT_LEN")]
    random_input_len: u32,
    #[arg(long, default_value_t = 128, env = "INFMAX_BENCH_OUTPUT_LEN")]
    random_output_len: u32,
    /// Lengths are uniform in [floor(ratio*L), L]; 1 means exactly L [default:
    /// 1, or the protocol's 0.8]
    #[arg(long, env = "INFMAX_BENCH_RANGE_RATIO")]
    random_range_ratio: Option<f64>,
    /// Tokens of a prefix shared by every prompt, added to the input length.
    #[arg(long, default_value_t = 0)]
    random_prefix_len: u32,
    /// [default: 1000, or the protocol's 10 x --max-concurrency]
    #[arg(long, env = "INFMAX_BENCH_NUM_PROMPTS")]
    num_prompts: Option<usize>,
    /// Take request rate, warm-ups (2 x C), ignore-eos, percentile metrics
    /// and percentiles (and the defaults of range ratio and prompt count)
    /// from the sweep protocol, as the CI engine scripts and `infmax run
    /// --full-scale` do.
    #[arg(
        long,
        value_parser = ["sweep"],
        env = "INFMAX_BENCH_PROTOCOL",
        conflicts_with_all = ["num_warmups", "percentile_metrics", "metric_percentiles", "request_rate"]
    )]
    protocol: Option<String>,
    /// Requests in flight at most.
    #[arg(long, env = "INFMAX_BENCH_MAX_CONCURRENCY")]
    max_concurrency: Option<usize>,
    /// Requests per second, or `inf` to send all at once.
    #[arg(long, default_value = "inf", env = "INFMAX_BENCH_REQUEST_RATE")]
    request_rate: String,
    /// Gamma shape of inter-arrival times (1 = Poisson; higher is more regular).
    #[arg(long, default_value_t = 1.0)]
    burstiness: f64,
    /// Requests sent (under the same cap) before measuring, excluded from every metric.
    #[arg(long, default_value_t = 0, env = "INFMAX_BENCH_NUM_WARMUPS")]
    num_warmups: usize,
    /// Ask the server to ignore end-of-sequence (exact output lengths).
    #[arg(long, env = "INFMAX_BENCH_IGNORE_EOS")]
    ignore_eos: bool,
    /// Metrics with percentiles: any of ttft,tpot,itl,e2el.
    #[arg(
        long,
        default_value = "ttft,tpot,itl",
        env = "INFMAX_BENCH_PERCENTILE_METRICS"
    )]
    percentile_metrics: String,
    /// Percentiles to report, e.g. 50,90,99,99.9.
    #[arg(long, default_value = "99", env = "INFMAX_BENCH_METRIC_PERCENTILES")]
    metric_percentiles: String,
    /// Service-level objectives for goodput: ttft:MS, tpot:MS, e2el:MS.
    #[arg(long, num_args = 1.., value_name = "KEY:MS")]
    goodput: Vec<String>,
    #[arg(long, default_value_t = 0, env = "INFMAX_BENCH_SEED")]
    seed: u64,
    /// Write the result JSON.
    #[arg(long, env = "INFMAX_BENCH_SAVE_RESULT")]
    save_result: bool,
    #[arg(long, default_value = ".", env = "INFMAX_BENCH_RESULT_DIR")]
    result_dir: PathBuf,
    /// [default: {backend}-{rate}qps[-concurrency{C}]-{model}-{date}.json]
    #[arg(long, env = "INFMAX_BENCH_RESULT_FILENAME")]
    result_filename: Option<String>,
    /// Extra KEY=VALUE pairs recorded at the top level of the result.
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Send prompts as chat messages so the server applies the model's chat template.
    #[arg(long)]
    use_chat_template: bool,
    /// No progress bar or progress lines.
    #[arg(long)]
    disable_tqdm: bool,
    /// The server's process: when it dies, stop, keep what was measured and flag the result.
    #[arg(long, env = "INFMAX_BENCH_SERVER_PID")]
    server_pid: Option<u32>,
    /// Seconds one request may take in all.
    #[arg(long, default_value_t = 3600.0, env = "INFMAX_BENCH_REQUEST_TIMEOUT")]
    request_timeout: f64,
    /// Exit 4 (after writing the result) when more than this fraction of requests failed.
    #[arg(long, default_value_t = 0.05, env = "INFMAX_BENCH_MAX_FAILURE_RATE")]
    max_failure_rate: f64,
}

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
struct SimArgs {
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
    #[arg(long, requires = "itl_ms", env = "INFMAX_SIM_TTFT_MS")]
    ttft_ms: Option<f64>,
    /// Fixed schedule: time between tokens, in ms (with --ttft-ms).
    #[arg(long, requires = "ttft_ms", env = "INFMAX_SIM_ITL_MS")]
    itl_ms: Option<f64>,
    /// Engine model preset: h100, h200, b200, gb200, mi300x, mi325x, mi355x (a runner type like b200-dgxc works too).
    #[arg(
        long,
        default_value = "h100",
        conflicts_with = "ttft_ms",
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
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    slow_start: f64,
    /// Exit (status 1) after this many completed requests.
    #[arg(long, value_name = "N")]
    exit_after: Option<u64>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long, env = "INFMAX_SIM_WORKERS")]
    workers: Option<usize>,
}

#[derive(Args, Debug, Clone)]
struct ConfigArgs {
    /// Master config files or glob patterns (expanded by infmax) [default:
    /// configs/*-master.yaml, or .github/configs/*-master.yaml when configs/
    /// does not exist; sorted by name]
    #[arg(long, alias = "master-config", num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_FILES")]
    config_files: Vec<PathBuf>,
    /// Runner config: runner type -> node names [default: runners.yaml in
    /// the default config folder]
    #[arg(long, env = "INFMAX_RUNNER_CONFIG")]
    runner_config: Option<PathBuf>,
}

/// The runner config given, or `runners.yaml` in the default config folder.
fn runner_config_path(given: &Option<PathBuf>) -> PathBuf {
    match given {
        Some(p) => p.clone(),
        None => config::default_dir().0.join("runners.yaml"),
    }
}

impl ConfigArgs {
    fn files(&self) -> Result<Vec<PathBuf>> {
        if self.config_files.is_empty() {
            let (dir, note) = config::default_dir();
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            config::default_files(&dir)
        } else {
            config::expand_file_args("--config-files", &self.config_files)
        }
    }

    fn runner_config(&self) -> PathBuf {
        runner_config_path(&self.runner_config)
    }

    /// Loads configs and runners, reporting the problems of both at once.
    fn load(&self) -> Result<(MasterConfigs, RunnerConfig)> {
        let configs = config::load(&self.files()?);
        let runners = runners::load(&self.runner_config());
        match (configs, runners) {
            (Ok(c), Ok(r)) => {
                warn(&c.runner_warnings(&r));
                Ok((c, r))
            }
            (Err(Error::Invalid(mut a)), Err(Error::Invalid(mut b))) => {
                a.append(&mut b);
                Err(Error::Invalid(a))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

#[derive(Args, Debug)]
struct ValidateArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Also check this changelog file (entries and that their keys resolve).
    #[arg(long, env = "INFMAX_CHANGELOG_FILE")]
    changelog_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone, Copy)]
struct EvalArgs {
    /// Mark eval jobs (single-node 1k8k: highest/lowest tp at their highest conc) with run-eval: true.
    #[arg(long, conflicts_with = "evals_only", env = "INFMAX_RUN_EVALS")]
    run_evals: bool,
    /// Like --run-evals, then keep only the marked entries.
    #[arg(long, env = "INFMAX_EVALS_ONLY")]
    evals_only: bool,
}

impl EvalArgs {
    fn mode(&self) -> EvalMode {
        match (self.run_evals, self.evals_only) {
            (_, true) => EvalMode::Only,
            (true, false) => EvalMode::Run,
            _ => EvalMode::Off,
        }
    }
}

#[derive(Args, Debug, Clone)]
struct OutputArgs {
    /// Also append the JSON to $GITHUB_OUTPUT under this output name.
    #[arg(long, value_name = "NAME", env = "INFMAX_GITHUB_OUTPUT")]
    github_output: Option<String>,
    /// With --github-output: split a matrix of more than 256 jobs into NAME_1, NAME_2, ... and NAME_parts.
    #[arg(long, requires = "github_output", env = "INFMAX_SPLIT_OUTPUT")]
    split_output: bool,
}

#[derive(Args, Debug, Clone, Copy)]
#[group(multiple = false)]
struct KindArgs {
    /// Only single-node configs.
    #[arg(long)]
    single_node: bool,
    /// Only multi-node (prefill/decode) configs.
    #[arg(long)]
    multi_node: bool,
}

impl KindArgs {
    fn kind(&self) -> NodeKind {
        match (self.single_node, self.multi_node) {
            (true, _) => NodeKind::Single,
            (_, true) => NodeKind::Multi,
            _ => NodeKind::Both,
        }
    }
}

#[derive(Subcommand, Debug)]
enum MatrixCommand {
    /// Every configuration, narrowed by filters.
    FullSweep(FullSweepArgs),
    /// The jobs of named config keys.
    TestConfig(TestConfigArgs),
    /// A smoke test of every node of one runner type (1k1k, one small job per node).
    RunnerModelSweep(RunnerModelSweepArgs),
    /// The jobs for the entries a change appends to the perf changelog.
    Changelog(ChangelogArgs),
    /// One matrix entry as its benchmark job's environment (MODEL, TP, CONC, RESULT_FILENAME, ...).
    JobEnv(JobEnvArgs),
}

#[derive(Args, Debug)]
struct JobEnvArgs {
    /// The entry's JSON (in a workflow: `toJson(matrix.config)` through `env:`).
    #[arg(long, env = "INFMAX_ENTRY")]
    entry: String,
    /// Also append the variables to $GITHUB_ENV for the job's later steps.
    #[arg(long, env = "INFMAX_GITHUB_ENV")]
    github_env: bool,
    /// The machine's runner name, part of RESULT_FILENAME so two jobs of one
    /// config on different nodes never collide [default: the entry's runner label]
    #[arg(long, env = "RUNNER_NAME")]
    runner_name: Option<String>,
    /// GPUs per node, for the PREFILL_NODES/DECODE_NODES check [default: 4 on
    /// gb* runner types, else 8]
    #[arg(long, env = "GPUS_PER_NODE", value_parser = clap::value_parser!(u64).range(1..))]
    gpus_per_node: Option<u64>,
}

/// The filters of a full sweep (shared by `matrix full-sweep` and `run`).
#[derive(Args, Debug)]
struct SweepFilterArgs {
    /// Keep configs whose KEY starts with one of these.
    #[arg(long, alias = "model", num_args = 1.., value_delimiter = ',')]
    model_prefix: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    precision: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    framework: Vec<String>,
    /// Runner types (must exist in the runner config).
    #[arg(long, alias = "runner", num_args = 1.., value_delimiter = ',')]
    runner_type: Vec<String>,
    /// Sequence-length names: 1k1k, 1k8k, 8k1k, or ISL_OSL.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_parser = parse_seq_len)]
    seq_lens: Vec<SeqLen>,
    /// Multiplier between concurrencies of a conc-start..conc-end range (at least 2).
    #[arg(long, default_value_t = 2)]
    step_size: u32,
    /// Drop concurrencies below this (<= 0 drops every item).
    #[arg(long, allow_negative_numbers = true)]
    min_conc: Option<i64>,
    /// Drop concurrencies above this (<= 0 drops every item).
    #[arg(long, allow_negative_numbers = true)]
    max_conc: Option<i64>,
    /// Drop single-node items with tp above this.
    #[arg(long, allow_negative_numbers = true)]
    max_tp: Option<i64>,
    /// Lower single-node ep above this to it.
    #[arg(long, allow_negative_numbers = true)]
    max_ep: Option<i64>,
    /// One entry per runner node whose name contains this (configs without such a node are skipped).
    #[arg(long)]
    runner_node_filter: Option<String>,
    #[command(flatten)]
    kind: KindArgs,
}

impl SweepFilterArgs {
    fn to_full_sweep(&self) -> FullSweep {
        FullSweep {
            model_prefix: self.model_prefix.clone(),
            precision: self.precision.clone(),
            framework: self.framework.clone(),
            runner_type: self.runner_type.clone(),
            seq_lens: self.seq_lens.clone(),
            step_size: self.step_size,
            min_conc: self.min_conc,
            max_conc: self.max_conc,
            max_tp: self.max_tp,
            max_ep: self.max_ep,
            runner_node_filter: self.runner_node_filter.clone(),
            nodes: self.kind.kind(),
        }
    }
}

#[derive(Args, Debug)]
struct FullSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    #[command(flatten)]
    filters: SweepFilterArgs,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// `infmax run`: the main job on one machine.
#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    #[command(flatten)]
    filters: SweepFilterArgs,
    /// Engine: `sim` (simulated, preset per runner type) or `cmd` (--server-cmd).
    #[arg(long, default_value = "sim", env = "INFMAX_RUN_ENGINE")]
    engine: String,
    /// Server command for --engine cmd, run with `sh -c`; templated with {port} {model} {tp} {ep} {dp_attn} {max_model_len} {precision} {framework} {image} (text values as single-quoted words).
    #[arg(long, env = "INFMAX_RUN_SERVER_CMD")]
    server_cmd: Option<String>,
    /// Output folder: raw/, processed/, logs/, agg_bmk.json, summary.md, report/.
    #[arg(long, default_value = "infmax-run", env = "INFMAX_RUN_OUT")]
    out: PathBuf,
    /// Real lengths and prompt counts (10 prompts per unit of concurrency) instead of the quick scaled-down run.
    #[arg(long)]
    full_scale: bool,
    /// Scaled-down run: divide ISL/OSL by this.
    #[arg(long, default_value_t = 32)]
    length_divisor: u32,
    /// Scaled-down run with --engine sim: the simulated engine's clock runs this many times faster.
    #[arg(long, default_value_t = 10.0)]
    sim_speedup: f64,
    /// Scaled-down run: at most this many prompts per benchmark (at least the concurrency).
    #[arg(long, default_value_t = 32)]
    max_prompts: usize,
    /// Server configurations benchmarked at the same time.
    #[arg(long, default_value_t = 4, env = "INFMAX_RUN_JOBS")]
    jobs: usize,
    /// tokenizer.json for exact text prompts (else token-id prompts).
    #[arg(long, env = "INFMAX_RUN_TOKENIZER")]
    tokenizer: Option<String>,
    /// Seconds a server may take to become ready.
    #[arg(long, default_value_t = 600.0)]
    server_timeout: f64,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 600.0)]
    request_timeout: f64,
}

#[derive(Args, Debug)]
struct TestConfigArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Config keys to expand, in this order.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_KEYS")]
    config_keys: Vec<String>,
    /// Keep only these concurrencies.
    #[arg(long, num_args = 1.., value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    conc: Vec<u32>,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug)]
struct RunnerModelSweepArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// The runner type whose nodes to test.
    #[arg(long, alias = "runner", required = true)]
    runner_type: String,
    /// Keep configs whose KEY starts with one of these.
    #[arg(long, alias = "model", num_args = 1.., value_delimiter = ',')]
    model_prefix: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    precision: Vec<String>,
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    framework: Vec<String>,
    /// Only nodes whose name contains this.
    #[arg(long)]
    runner_node_filter: Option<String>,
    /// Concurrency of every job [default: the item's smallest].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    conc: Option<u32>,
    #[command(flatten)]
    kind: RequiredKindArgs,
    #[command(flatten)]
    evals: EvalArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args, Debug, Clone, Copy)]
#[group(required = true, multiple = false)]
struct RequiredKindArgs {
    /// Test single-node configs.
    #[arg(long)]
    single_node: bool,
    /// Test multi-node configs.
    #[arg(long)]
    multi_node: bool,
}

#[derive(Args, Debug)]
struct ChangelogArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// The ref the change starts from (e.g. the PR base SHA or the push's `before`).
    #[arg(long, env = "INFMAX_BASE_REF")]
    base_ref: String,
    /// The ref of the change (e.g. the PR head SHA or the pushed SHA).
    #[arg(long, env = "INFMAX_HEAD_REF")]
    head_ref: String,
    #[arg(
        long,
        default_value = "perf-changelog.yaml",
        env = "INFMAX_CHANGELOG_FILE"
    )]
    changelog_file: PathBuf,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_seq_len(s: &str) -> std::result::Result<SeqLen, String> {
    s.parse()
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap quotes the rejected value (an environment variable, perhaps):
        // through the sanitiser like every other message.
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                eprint!("{}", diag::for_people(text));
            } else if stdout(&text).is_err() {
                return ExitCode::from(crate::error::EXIT_ENV);
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Prints warnings for people (and, inside GitHub Actions, as annotations);
/// the command goes on.
fn warn(diags: &[diag::Diagnostic]) {
    if diags.is_empty() {
        return;
    }
    let mut t = diag::for_people(diag::render_human(diags, diag::Level::Warning));
    if diag::in_github_actions() {
        t.push_str(&diag::render_github(diags, diag::Level::Warning));
    }
    let _ = std::io::stderr().lock().write_all(t.as_bytes());
}

/// Prints an error for people (and, inside GitHub Actions, as annotations).
fn report(e: &Error) {
    let mut err = std::io::stderr().lock();
    let text = match e {
        Error::Invalid(diags) => {
            let mut t = diag::for_people(diag::render_human(diags, diag::Level::Error));
            if diag::in_github_actions() {
                t.push_str(&diag::render_github(diags, diag::Level::Error));
            }
            let n = diags.len();
            t.push_str(&format!(
                "{n} problem{} found\n",
                if n == 1 { "" } else { "s" }
            ));
            t
        }
        Error::Usage(m) | Error::Env(m) | Error::Failed(m) => {
            let mut t = diag::for_people(format!("error: {m}\n"));
            if diag::in_github_actions() {
                t.push_str(&format!("::error title=infmax::{}\n", diag::escape_data(m)));
            }
            t
        }
    };
    let _ = err.write_all(text.as_bytes());
}

pub fn run(cli: Cli) -> Result<()> {
    let files = dispatch(cli.command)?;
    if cli.file_outputs {
        github::output::write_file_outputs(files.result.as_deref(), files.summary.as_deref())?;
    }
    files.failed.map_or(Ok(()), Err)
}

/// The files a command wrote, for `--file-outputs`, and the check it failed
/// after writing them (exit 4): the outputs still name the files.
#[derive(Default)]
struct Written {
    result: Option<PathBuf>,
    summary: Option<PathBuf>,
    failed: Option<Error>,
}

impl Written {
    fn result(p: impl Into<PathBuf>) -> Self {
        Written {
            result: Some(p.into()),
            ..Written::default()
        }
    }
    fn both(result: impl Into<PathBuf>, summary: impl Into<PathBuf>) -> Self {
        Written {
            result: Some(result.into()),
            summary: Some(summary.into()),
            ..Written::default()
        }
    }
    fn failing(mut self, e: Option<Error>) -> Self {
        self.failed = e;
        self
    }
}

fn dispatch(command: Command) -> Result<Written> {
    let none = |r: Result<()>| r.map(|()| Written::default());
    match command {
        Command::Validate(a) => none(validate(&a)),
        Command::Matrix(m) => {
            let m = *m;
            let (output, out_args) = match m {
                MatrixCommand::FullSweep(a) => (full_sweep(&a)?, a.output),
                MatrixCommand::TestConfig(a) => (test_config_cmd(&a)?, a.output),
                MatrixCommand::RunnerModelSweep(a) => (runner_model_sweep(&a)?, a.output),
                MatrixCommand::Changelog(a) => (changelog_cmd(&a)?, a.output),
                MatrixCommand::JobEnv(a) => return none(job_env_cmd(&a)),
            };
            none(emit(&output, &out_args))
        }
        Command::Sim(a) => none(crate::sim::run(sim_options(&a)?)),
        Command::Run(a) => run_cmd(&a),
        Command::Bench(b) => match *b {
            BenchCommand::Serve(a) => bench_serve(&a),
        },
        Command::Server(s) => match *s {
            ServerCommand::Wait(a) => none(server_wait(&a)),
        },
        Command::Result(r) => match *r {
            ResultCommand::Process(a) => {
                let env = crate::results::process::env_from_process();
                let out = crate::results::process::run(a.result_file.as_deref(), &a.out_dir, &env)?;
                stdout(&format!("{}\n", out.display()))?;
                Ok(Written::result(out))
            }
        },
        Command::Collect(c) => match *c {
            CollectCommand::Results(a) => collect_results(&a),
            CollectCommand::Evals(a) => collect_evals(&a),
        },
        Command::RunStats(a) => run_stats(&a),
        Command::Eval(e) => match *e {
            EvalCommand::Run(a) => eval_run(&a),
        },
        Command::Fetch(a) => none(fetch(&a)),
        Command::Report(a) => {
            let crate::results::collect::Collected { results, skipped } =
                crate::results::collect::gather(&a.dir)?;
            warn(&skipped);
            let written = crate::results::report::write(&results, &a.out, None)?;
            for p in &written {
                stdout(&format!("{}\n", p.display()))?;
            }
            Ok(Written {
                result: None,
                summary: written.into_iter().find(|p| p.ends_with("report.html")),
                failed: None,
            })
        }
    }
}

fn ms(flag: &str, v: f64) -> Result<std::time::Duration> {
    if v.is_finite() && v >= 0.0 {
        Ok(std::time::Duration::from_secs_f64(v / 1e3))
    } else {
        Err(Error::usage(format!(
            "{flag} {v}: expected a number of milliseconds >= 0"
        )))
    }
}

fn sim_options(a: &SimArgs) -> Result<crate::sim::SimOptions> {
    use crate::sim::{Timing, engine};
    let timing = match (a.ttft_ms, a.itl_ms) {
        (Some(t), Some(i)) => Timing::Fixed {
            ttft: ms("--ttft-ms", t)?,
            itl: ms("--itl-ms", i)?,
        },
        _ => {
            let mut p = engine::preset(&a.preset).ok_or_else(|| {
                Error::usage(format!(
                    "--preset {}: unknown; presets: {}",
                    a.preset,
                    engine::preset_names().join(", ")
                ))
            })?;
            if let Some(v) = a.max_num_seqs {
                p.max_num_seqs = v.max(1);
            }
            if let Some(v) = a.prefill_tps {
                p.prefill_tps = v;
            }
            if let Some(v) = a.prefill_chunk {
                p.prefill_chunk = v.max(1);
            }
            if let Some(v) = a.decode_base_ms {
                p.decode_base_ms = v;
            }
            if let Some(v) = a.decode_per_seq_ms {
                p.decode_per_seq_ms = v;
            }
            if !(p.prefill_tps > 0.0 && p.decode_base_ms >= 0.0 && p.decode_per_seq_ms >= 0.0) {
                return Err(Error::usage(
                    "--prefill-tps must be > 0 and --decode-base-ms/--decode-per-seq-ms >= 0",
                ));
            }
            Timing::Model(p)
        }
    };
    if !(a.slow_start.is_finite() && a.slow_start >= 0.0) {
        return Err(Error::usage(format!(
            "--slow-start {}: expected seconds >= 0",
            a.slow_start
        )));
    }
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
        slow_start: std::time::Duration::from_secs_f64(a.slow_start),
        exit_after: a.exit_after,
        workers: a
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        seed: a.seed,
    })
}

/// Writes a matrix: $GITHUB_OUTPUT first (so a refused oversize output
/// prints nothing), then the whole JSON on stdout.
fn emit(output: &MatrixOutput, args: &OutputArgs) -> Result<()> {
    if let Some(name) = &args.github_output {
        let pairs = output.github_outputs(name, args.split_output)?;
        github::output::write_outputs(&pairs)?;
    }
    let mut json = output.to_json();
    json.push('\n');
    stdout(&json)
}

/// Prints `KEY='VALUE'` lines (for `set -a; . file` or `eval`) and, when
/// asked, appends the same variables to $GITHUB_ENV.
fn job_env_cmd(a: &JobEnvArgs) -> Result<()> {
    use crate::matrix::job_env;
    let entry = job_env::parse_entry(&a.entry, "--entry")?;
    let host = job_env::Host::new(&entry, a.runner_name.as_deref(), a.gpus_per_node);
    let env = job_env::job_env(&entry, &host)?;
    if a.github_env {
        let pairs: Vec<(String, String)> = env.clone().into_iter().collect();
        github::output::write_env(&pairs)?;
    }
    stdout(&job_env::shell_lines(&env))
}

fn validate(a: &ValidateArgs) -> Result<()> {
    let mut diags = Vec::new();
    let mut collect = |e: Error| -> Result<()> {
        match e {
            Error::Invalid(mut d) => {
                diags.append(&mut d);
                Ok(())
            }
            other => Err(other),
        }
    };
    let configs = match config::load(&a.configs.files()?) {
        Ok(c) => Some(c),
        Err(e) => {
            collect(e)?;
            None
        }
    };
    let runners = match runners::load(&a.configs.runner_config()) {
        Ok(r) => Some(r),
        Err(e) => {
            collect(e)?;
            None
        }
    };
    let mut warnings = Vec::new();
    if let (Some(c), Some(r)) = (&configs, &runners) {
        warnings.extend(c.runner_warnings(r));
    }
    let mut changelog_entries = None;
    if let Some(path) = &a.changelog_file {
        match changelog::validate_file(path, configs.as_ref()) {
            Ok(v) => {
                changelog_entries = Some(v.entries);
                warnings.extend(v.warnings);
            }
            Err(e) => collect(e)?,
        }
    }
    warn(&warnings);
    crate::error::check(diags)?;
    let (Some(c), Some(r)) = (configs, runners) else {
        return Err(Error::env(
            "internal: validation passed without loaded configs",
        ));
    };
    let single = c.entries.iter().filter(|e| !e.is_multinode()).count();
    let items: usize = c.entries.iter().map(|e| e.item_count()).sum();
    let mut line = format!(
        "ok: {} config keys in {} files ({single} single-node, {} multi-node; {items} search items), {} runner types with {} nodes",
        c.entries.len(),
        c.files.len(),
        c.entries.len() - single,
        r.type_names().len(),
        r.node_count()
    );
    if let Some(n) = changelog_entries {
        line.push_str(&format!(", {n} changelog entries"));
    }
    if !warnings.is_empty() {
        let n = warnings.len();
        line.push_str(&format!("; {n} warning{}", if n == 1 { "" } else { "s" }));
    }
    stdout(&format!("{line}\n"))?;
    Ok(())
}

fn full_sweep(a: &FullSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let list = a.filters.to_full_sweep().generate(&configs, &runners)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn test_config_cmd(a: &TestConfigArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let list = test_config::generate(&configs, &a.config_keys, &a.conc)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn runner_model_sweep(a: &RunnerModelSweepArgs) -> Result<MatrixOutput> {
    let (configs, runners) = a.configs.load()?;
    let s = RunnerModelSweep {
        runner_type: a.runner_type.clone(),
        model_prefix: a.model_prefix.clone(),
        precision: a.precision.clone(),
        framework: a.framework.clone(),
        runner_node_filter: a.runner_node_filter.clone(),
        conc: a.conc,
        nodes: if a.kind.multi_node {
            NodeKind::Multi
        } else {
            NodeKind::Single
        },
    };
    let list: Vec<MatrixEntry> = s.generate(&configs, &runners)?;
    Ok(MatrixOutput::List(evals::apply(list, a.evals.mode())))
}

fn changelog_cmd(a: &ChangelogArgs) -> Result<MatrixOutput> {
    let (configs, _) = a.configs.load()?;
    let label = a.changelog_file.display().to_string();
    let diff = changelog::diff::changelog_diff(&a.changelog_file, &a.base_ref, &a.head_ref)?;
    for note in &diff.notes {
        eprintln!("infmax: {note}");
    }
    let added = changelog::diff::added_lines(&label, &a.base_ref, &a.head_ref, diff.changes)?;
    let entries = changelog::parse_added(&label, &added)?;
    let resolved = changelog::resolve(&label, &entries, &configs)?;
    let metadata = Metadata {
        base_ref: a.base_ref.clone(),
        head_ref: a.head_ref.clone(),
        entries,
    };
    Ok(MatrixOutput::Changelog(ChangelogMatrix::build(
        &resolved, metadata,
    )))
}

/// Seconds any timeout may take: beyond it a deadline would overflow the clock.
const MAX_SECS: f64 = 1e7;

fn positive_secs(flag: &str, v: f64) -> Result<std::time::Duration> {
    if v > 0.0 && v <= MAX_SECS {
        Ok(std::time::Duration::from_secs_f64(v))
    } else {
        Err(Error::usage(format!(
            "{flag} {v:?}: expected a number of seconds > 0 and at most {MAX_SECS:e}"
        )))
    }
}

fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

fn bench_options(a: &BenchServeArgs) -> Result<crate::bench::BenchOptions> {
    use crate::bench::{Backend, dataset::DatasetSpec, metrics::Metric, progress};
    let backend = Backend::parse(&a.backend).ok_or_else(|| {
        Error::usage(format!(
            "--backend {}: unknown; allowed: {}",
            a.backend,
            Backend::NAMES.join(", ")
        ))
    })?;
    if a.dataset_name != "random" {
        return Err(Error::usage(format!(
            "--dataset-name {}: only `random` is supported",
            a.dataset_name
        )));
    }
    let chat = backend == Backend::OpenaiChat || a.use_chat_template;
    let endpoint = a.endpoint.clone().unwrap_or_else(|| {
        if chat {
            "/v1/chat/completions".into()
        } else {
            "/v1/completions".into()
        }
    });
    if a.prompt_token_ids && chat {
        return Err(Error::usage(
            "--prompt-token-ids needs the completions endpoint (not openai-chat or --use-chat-template)",
        ));
    }
    let base_url = a
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}", a.host, a.port))
        .trim_end_matches('/')
        .to_string();
    let request_rate = match a.request_rate.as_str() {
        "inf" | "infinity" => f64::INFINITY,
        r => r
            .parse::<f64>()
            .ok()
            .filter(|v| (1e-6..=1e9).contains(v))
            .ok_or_else(|| {
                Error::usage(format!(
                    "--request-rate {r}: expected requests per second from 1e-6 to 1e9, or inf"
                ))
            })?,
    };
    if !(1e-3..=1e3).contains(&a.burstiness) {
        return Err(Error::usage(format!(
            "--burstiness {:?}: expected a number from 0.001 to 1000",
            a.burstiness
        )));
    }
    // Sizes the client allocates for up front: refused here, not by an abort.
    for (flag, v, max) in [
        (
            "--num-prompts",
            a.num_prompts.unwrap_or(1) as u64,
            10_000_000,
        ),
        (
            "--max-concurrency",
            a.max_concurrency.unwrap_or(1) as u64,
            1_000_000,
        ),
        ("--num-warmups", a.num_warmups as u64, 10_000_000),
        (
            "--random-input-len",
            u64::from(a.random_input_len),
            16_777_216,
        ),
        (
            "--random-output-len",
            u64::from(a.random_output_len),
            16_777_216,
        ),
        (
            "--random-prefix-len",
            u64::from(a.random_prefix_len),
            16_777_216,
        ),
    ] {
        if v > max {
            return Err(Error::usage(format!("{flag} {v}: at most {max}")));
        }
    }
    if let Some(r) = a.random_range_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
        return Err(Error::usage(format!(
            "--random-range-ratio {r}: expected 0 to 1"
        )));
    }
    if a.num_prompts == Some(0) || a.max_concurrency == Some(0) {
        return Err(Error::usage(
            "--num-prompts and --max-concurrency must be at least 1",
        ));
    }
    let metrics = split_list(&a.percentile_metrics)
        .map(|m| {
            Metric::parse(m).ok_or_else(|| {
                Error::usage(format!(
                    "--percentile-metrics: unknown metric `{m}`; allowed: ttft, tpot, itl, e2el"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let percentiles = split_list(&a.metric_percentiles)
        .map(|p| {
            p.parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0 && *v < 100.0)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--metric-percentiles: `{p}` is not a percentile between 0 and 100"
                    ))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    let goodput = a
        .goodput
        .iter()
        .map(|g| {
            let parsed = g.split_once(':').and_then(|(k, v)| {
                let m = Metric::parse(k).filter(|m| *m != Metric::Itl)?;
                Some((m, v.parse::<f64>().ok().filter(|v| *v >= 0.0)?))
            });
            parsed.ok_or_else(|| {
                Error::usage(format!(
                    "--goodput {g}: expected ttft:MS, tpot:MS or e2el:MS"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = a
        .metadata
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| Error::usage(format!("--metadata {kv}: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>>>()?;
    let result_path = a.save_result.then(|| {
        let name = a.result_filename.clone().unwrap_or_else(|| {
            let model = a.model.rsplit('/').next().unwrap_or(&a.model);
            let conc = a
                .max_concurrency
                .map(|c| format!("-concurrency{c}"))
                .unwrap_or_default();
            format!(
                "{}-{}qps{conc}-{model}-{}.json",
                backend.name(),
                a.request_rate,
                crate::bench::result::local_timestamp()
            )
        });
        a.result_dir.join(name)
    });
    // The path is printed on stdout for the next step to read: one line.
    if let Some(p) = result_path
        .as_ref()
        .filter(|p| p.to_string_lossy().chars().any(char::is_control))
    {
        return Err(Error::usage(format!(
            "result file {}: no control characters (from --result-filename, or --model's last part)",
            p.display().to_string().escape_debug()
        )));
    }
    if !(0.0..=1.0).contains(&a.max_failure_rate) {
        return Err(Error::usage(format!(
            "--max-failure-rate {}: expected 0 to 1",
            a.max_failure_rate
        )));
    }
    Ok(crate::bench::BenchOptions {
        backend,
        base_url,
        endpoint,
        chat,
        model: a.model.clone(),
        served_model_name: a.served_model_name.clone(),
        tokenizer: a.tokenizer.clone(),
        prompt_token_ids: a.prompt_token_ids,
        dataset: DatasetSpec {
            num_prompts: a.num_prompts.unwrap_or(1000),
            input_len: a.random_input_len,
            output_len: a.random_output_len.max(1),
            range_ratio: a.random_range_ratio.unwrap_or(1.0),
            prefix_len: a.random_prefix_len,
            seed: a.seed,
        },
        max_concurrency: a.max_concurrency,
        request_rate,
        burstiness: a.burstiness,
        num_warmups: a.num_warmups,
        ignore_eos: a.ignore_eos,
        metrics,
        percentiles,
        goodput,
        result_path,
        metadata,
        progress: progress::Mode::detect(a.disable_tqdm),
        progress_every: std::time::Duration::from_secs(5),
        server_pid: a.server_pid,
        request_timeout: positive_secs("--request-timeout", a.request_timeout)?,
        max_failure_rate: a.max_failure_rate,
    })
}

fn bench_serve(a: &BenchServeArgs) -> Result<Written> {
    let mut opts = bench_options(a)?;
    if a.protocol.is_some() {
        crate::bench::protocol::SWEEP.apply(&mut opts, a.random_range_ratio, a.num_prompts)?;
    }
    let out = crate::bench::run(&opts)?;
    eprint!("{}", out.summary);
    if let Some(p) = &opts.result_path {
        stdout(&format!("{}\n", p.display()))?;
    }
    let written = Written {
        result: opts.result_path.clone(),
        ..Written::default()
    };
    if let Some(why) = out.verdict(opts.max_failure_rate) {
        return Ok(written.failing(Some(Error::Failed(why))));
    }
    Ok(written)
}

fn server_wait(a: &ServerWaitArgs) -> Result<()> {
    let url = a
        .url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", a.port));
    crate::server::wait(&crate::server::WaitOptions {
        url: url.trim_end_matches('/').to_string(),
        pid: a.pid,
        log: a.log.clone(),
        timeout: positive_secs("--timeout", a.timeout)?,
        interval: positive_secs("--interval", a.interval)?,
        annotate: diag::in_github_actions(),
        echo: true,
    })
}

fn check_name(name: &str) -> Result<()> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--name {name:?}: use letters, digits, `.`, `_` and `-`"
        )))
    }
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::env(e.to_string()))?;
    crate::fsutil::atomic_write(path, text.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))
}

/// Prints the tables, keeps them as a Markdown file beside the aggregate
/// (`name.md` for `name.json`; the step summary may have to be cut to fit),
/// and appends them to the step summary when asked. Returns the file.
fn print_and_summarise(
    markdown: &str,
    step_summary: bool,
    out_dir: &Path,
    artifact: &str,
) -> Result<PathBuf> {
    stdout(markdown)?;
    let md_path = out_dir.join(Path::new(artifact).with_extension("md"));
    crate::fsutil::atomic_write(&md_path, markdown.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", md_path.display())))?;
    if step_summary {
        let fitted = crate::results::markdown::fit(
            markdown,
            crate::results::markdown::SUMMARY_LIMIT,
            artifact,
        );
        github::output::append_step_summary(&fitted)?;
    }
    Ok(md_path)
}

fn collect_results(a: &CollectArgs) -> Result<Written> {
    check_name(&a.name)?;
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.dir)?;
    warn(&skipped);
    let file = format!("agg_{}.json", a.name);
    write_json(&a.out_dir.join(&file), &results)?;
    eprintln!(
        "infmax: {} results from {} -> {}",
        results.len(),
        a.dir.display(),
        a.out_dir.join(&file).display()
    );
    let md = print_and_summarise(
        &crate::results::collect::tables(&results),
        a.step_summary,
        &a.out_dir,
        &file,
    )?;
    Ok(Written::both(a.out_dir.join(&file), md))
}

fn collect_evals(a: &CollectEvalsArgs) -> Result<Written> {
    let c = &a.common;
    check_name(&c.name)?;
    let crate::results::evals::Gathered {
        rows,
        incomplete,
        skipped,
    } = crate::results::evals::gather(&c.dir)?;
    warn(&skipped);
    warn(
        &incomplete
            .iter()
            .map(|m| {
                diag::Diagnostic::new(
                    &c.dir.join(m).display().to_string(),
                    None,
                    "",
                    "no lm-eval results*.json beside this meta_env.json; the eval did not finish",
                )
            })
            .collect::<Vec<_>>(),
    );
    let file = format!("agg_eval_{}.json", c.name);
    write_json(&c.out_dir.join(&file), &rows)?;
    eprintln!(
        "infmax: {} eval rows from {} -> {}",
        rows.len(),
        c.dir.display(),
        c.out_dir.join(&file).display()
    );
    let mut md = String::from("### Evals\n\n");
    md.push_str(&crate::results::evals::table(&rows));
    let md_path = print_and_summarise(&md, c.step_summary, &c.out_dir, &file)?;
    let written = Written::both(c.out_dir.join(&file), md_path);
    if let Some(t) = &a.thresholds {
        let text = crate::fsutil::read_input(t).map_err(Error::invalid)?;
        let mut low =
            crate::results::evals::below_thresholds(&rows, &text, &t.display().to_string())?;
        low.extend(
            incomplete
                .iter()
                .map(|m| format!("{}: eval without results", c.dir.join(m).display())),
        );
        if !low.is_empty() {
            return Ok(written.failing(Some(Error::Failed(format!(
                "{} eval run(s) below their minimum score:\n  {}",
                low.len(),
                low.join("\n  ")
            )))));
        }
    }
    Ok(written)
}

fn run_stats(a: &RunStatsArgs) -> Result<Written> {
    use crate::github::{api, run_stats};
    let runners = crate::runners::load(&runner_config_path(&a.runner_config))?;
    let rt = api::runtime()?;
    let _g = rt.enter();
    let gh = api::require_env("run-stats")?;
    let jobs = rt.block_on(gh.run_jobs(a.run_id))?;
    let st = run_stats::compute(
        a.run_id,
        &format!("{}/{}", gh.owner, gh.repo),
        &jobs,
        &run_stats::skus(&runners),
    );
    // The seed's file: only the per-SKU counts at the top level.
    write_json(&a.out_dir.join("run_stats.json"), &st.skus)?;
    let mut md = format!("### Run {} jobs per GPU\n\n", a.run_id);
    md.push_str(&run_stats::table(&st));
    let md_path = print_and_summarise(&md, a.step_summary, &a.out_dir, "run_stats.json")?;
    Ok(Written::both(a.out_dir.join("run_stats.json"), md_path))
}

fn fetch(a: &FetchArgs) -> Result<()> {
    use crate::github::{api, fetch};
    let rt = api::runtime()?;
    let _g = rt.enter();
    let gh = api::require_env("fetch")?;
    let artifacts = rt.block_on(gh.run_artifacts(a.run_id))?;
    let chosen: Vec<&serde_json::Value> = artifacts
        .iter()
        .filter(|x| {
            a.artifact.is_empty()
                || a.artifact
                    .iter()
                    .any(|n| x["name"].as_str() == Some(n.as_str()))
        })
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = artifacts
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        return Err(Error::usage(format!(
            "run {} has no artifact {}; its artifacts: {}",
            a.run_id,
            a.artifact.join(", "),
            if names.is_empty() {
                "(none)".to_string()
            } else {
                names.join(", ")
            }
        )));
    }
    for x in chosen {
        let name = x["name"].as_str().unwrap_or("artifact");
        let safe = crate::fsutil::safe_file_name(name);
        if x["expired"] == serde_json::Value::Bool(true) {
            eprintln!(
                "infmax: artifact {} has expired; skipped",
                name.escape_debug()
            );
            continue;
        }
        let Some(id) = x["id"].as_u64() else { continue };
        let zip = rt.block_on(gh.download_artifact(id))?;
        let n = fetch::unzip(&zip, &a.out.join(&safe))?;
        eprintln!(
            "infmax: {}: {n} files -> {}",
            name.escape_debug(),
            a.out.join(&safe).display()
        );
    }
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.out)?;
    warn(&skipped);
    stdout(&crate::results::collect::tables(&results))?;
    Ok(())
}

fn eval_run(a: &EvalRunArgs) -> Result<Written> {
    let base_url = a
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", a.port));
    // The seed's meta_env.json carries the environment's text, lower-cased.
    let dp = a.dp_attention.trim().to_ascii_lowercase();
    let meta = serde_json::json!({
        "framework": a.framework, "precision": a.precision, "spec_decoding": a.spec_decoding, "tp": a.tp, "conc": a.conc,
        "ep": a.ep, "dp_attention": dp, "model": a.model, "hw": a.hw, "isl": a.isl, "osl": a.osl,
    });
    let out = crate::eval::run(&crate::eval::EvalOptions {
        base_url: base_url.trim_end_matches('/').to_string(),
        served_model: a
            .served_model_name
            .clone()
            .unwrap_or_else(|| a.model.clone()),
        tasks: a.tasks.clone(),
        include_path: a.include_path.clone(),
        num_fewshot: a.num_fewshot,
        concurrency: a.concurrency.max(1),
        max_tokens: a.max_tokens.max(1),
        temperature: a.temperature,
        top_p: a.top_p,
        limit: a.limit,
        out: a.out.clone(),
        python: a.python.clone(),
        install: a.install,
        annotate: diag::in_github_actions(),
        meta,
    })?;
    stdout(&format!("{}\n", out.display()))?;
    Ok(Written::result(out))
}

fn run_cmd(a: &RunArgs) -> Result<Written> {
    use crate::run::{Engine, RunOptions};
    let engine = match (a.engine.as_str(), &a.server_cmd) {
        ("sim", None) => Engine::Sim,
        ("cmd", Some(c)) if !c.trim().is_empty() => Engine::Cmd(c.clone()),
        ("cmd", _) => return Err(Error::usage("--engine cmd needs --server-cmd '...'")),
        ("sim", Some(_)) => return Err(Error::usage("--server-cmd goes with --engine cmd")),
        (e, _) => return Err(Error::usage(format!("--engine {e}: allowed: sim, cmd"))),
    };
    let (configs, runners) = a.configs.load()?;
    let entries = a.filters.to_full_sweep().generate(&configs, &runners)?;
    if entries.is_empty() {
        return Err(Error::usage("the filters leave no matrix entry to run"));
    }
    let o = RunOptions {
        engine,
        out: a.out.clone(),
        length_divisor: if a.full_scale {
            1
        } else {
            a.length_divisor.max(1)
        },
        prompts_per_conc: if a.full_scale {
            crate::bench::protocol::SWEEP.prompts_per_conc
        } else {
            2
        },
        max_prompts: if a.full_scale { 0 } else { a.max_prompts },
        jobs: a.jobs.max(1),
        sim_speedup: if a.full_scale { 1.0 } else { a.sim_speedup },
        tokenizer: a.tokenizer.clone(),
        server_timeout: positive_secs("--server-timeout", a.server_timeout)?,
        request_timeout: positive_secs("--request-timeout", a.request_timeout)?,
    };
    let start = std::time::Instant::now();
    let (ok, failed) = crate::run::run(&o, entries)?;
    let (tables, skipped) = crate::run::finish(&o)?;
    warn(&skipped);
    stdout(&tables)?;
    eprintln!(
        "infmax run: {ok} benchmarks succeeded, {failed} failed in {:.0} s; results, tables and charts in {} (report: {})",
        start.elapsed().as_secs_f64(),
        o.out.display(),
        o.out.join("report").join("report.html").display()
    );
    let written = Written::both(o.out.join("agg_bmk.json"), o.out.join("summary.md"));
    if failed > 0 {
        return Ok(written.failing(Some(Error::Failed(format!(
            "{failed} benchmark(s) failed; see the lines marked FAIL above and the logs in {}",
            o.out.join("logs").display()
        )))));
    }
    Ok(written)
}

/// Machine-readable output. A reader that closed the pipe early (`| head`)
/// is a normal end, not an error: the command goes on writing its files.
fn stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::env(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
