//! `infmax bench serve`: the streaming load generator's flags (those of
//! vLLM's benchmark_serving.py) into [`crate::bench::BenchOptions`].

use super::Written;
use super::output::stdout;
use crate::bench::Backend;
use crate::bench::dataset::Prep;
use crate::bench::metrics::Metric;
use crate::error::{Error, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum BenchCommand {
    /// Streaming load generator (drop-in for the flags of vLLM's benchmark_serving.py).
    Serve(Box<BenchServeArgs>),
}

/// Tokens a random prompt or output may have at most (16 Mi).
const MAX_LEN: u64 = 16_777_216;

#[derive(Args, Debug)]
pub(super) struct BenchServeArgs {
    /// API flavour: vllm, sglang, openai, trt (completions endpoint) or openai-chat (chat endpoint).
    #[arg(long, default_value = "vllm", value_parser = super::values::backend, env = "INFMAX_BENCH_BACKEND")]
    backend: Backend,
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
    #[arg(long, default_value = "random", value_parser = super::values::dataset)]
    dataset_name: String,
    #[arg(long, default_value_t = 1024, value_parser = super::values::whole::<u32>(0, MAX_LEN), env = "INFMAX_BENCH_INPUT_LEN")]
    random_input_len: u32,
    #[arg(long, default_value_t = 128, value_parser = super::values::whole::<u32>(0, MAX_LEN), env = "INFMAX_BENCH_OUTPUT_LEN")]
    random_output_len: u32,
    /// Lengths are uniform in [floor(ratio*L), L]; 1 means exactly L [default:
    /// 1, or the protocol's 0.8]
    #[arg(long, value_parser = super::values::number(0.0, 1.0), env = "INFMAX_BENCH_RANGE_RATIO")]
    random_range_ratio: Option<f64>,
    /// Tokens of a prefix shared by every prompt, added to the input length.
    #[arg(long, default_value_t = 0, value_parser = super::values::whole::<u32>(0, MAX_LEN))]
    random_prefix_len: u32,
    /// [default: 1000, or the protocol's 10 x --max-concurrency]
    #[arg(long, value_parser = super::values::whole::<usize>(1, 10_000_000), env = "INFMAX_BENCH_NUM_PROMPTS")]
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
    #[arg(long, value_parser = super::values::whole::<usize>(1, 1_000_000), env = "INFMAX_BENCH_MAX_CONCURRENCY")]
    max_concurrency: Option<usize>,
    /// Requests per second, or `inf` to send all at once.
    #[arg(long, default_value = "inf", value_parser = super::values::request_rate, env = "INFMAX_BENCH_REQUEST_RATE")]
    request_rate: f64,
    /// Gamma shape of inter-arrival times (1 = Poisson; higher is more regular).
    #[arg(long, default_value_t = 1.0, value_parser = super::values::number(1e-3, 1e3))]
    burstiness: f64,
    /// Requests sent (under the same cap) before measuring, excluded from every metric.
    #[arg(long, default_value_t = 0, value_parser = super::values::whole::<usize>(0, 10_000_000), env = "INFMAX_BENCH_NUM_WARMUPS")]
    num_warmups: usize,
    /// Ask the server to ignore end-of-sequence (exact output lengths).
    #[arg(long, env = "INFMAX_BENCH_IGNORE_EOS")]
    ignore_eos: bool,
    /// Metrics with percentiles: any of ttft,tpot,itl,e2el.
    #[arg(
        long,
        default_value = "ttft,tpot,itl",
        value_delimiter = ',',
        value_parser = super::values::metric,
        env = "INFMAX_BENCH_PERCENTILE_METRICS"
    )]
    percentile_metrics: Vec<Option<Metric>>,
    /// Percentiles to report, e.g. 50,90,99,99.9.
    #[arg(
        long,
        default_value = "99",
        value_delimiter = ',',
        value_parser = super::values::percentile,
        env = "INFMAX_BENCH_METRIC_PERCENTILES"
    )]
    metric_percentiles: Vec<Option<f64>>,
    /// Service-level objectives for goodput: ttft:MS, tpot:MS, e2el:MS.
    #[arg(long, num_args = 1.., value_name = "KEY:MS", value_parser = super::values::goodput)]
    goodput: Vec<(Metric, f64)>,
    #[arg(long, default_value_t = 0, env = "INFMAX_BENCH_SEED")]
    seed: u64,
    /// How text prompts are made: `auto` assembles them from words the
    /// tokenizer proves to be one token each, after checking a sample
    /// against full encodes (else encodes); `encode` encodes every prompt.
    #[arg(long, value_enum, default_value_t = Prep::Auto, env = "INFMAX_BENCH_PROMPT_PREP")]
    prompt_prep: Prep,
    /// Write the result JSON.
    #[arg(long, env = "INFMAX_BENCH_SAVE_RESULT")]
    save_result: bool,
    #[arg(long, default_value = ".", env = "INFMAX_BENCH_RESULT_DIR")]
    result_dir: PathBuf,
    /// [default: {backend}-{rate}qps[-concurrency{C}]-{model}-{date}.json]
    #[arg(long, env = "INFMAX_BENCH_RESULT_FILENAME")]
    result_filename: Option<String>,
    /// Extra KEY=VALUE pairs recorded at the top level of the result (keys
    /// ending in `ms` or containing `tpot` take numbers only).
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE", value_parser = super::values::metadata)]
    metadata: Vec<(String, String)>,
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
    #[arg(long, default_value = "3600", value_parser = super::values::seconds, env = "INFMAX_BENCH_REQUEST_TIMEOUT")]
    request_timeout: std::time::Duration,
    /// Exit 4 (after writing the result) when more than this fraction of requests failed.
    #[arg(long, default_value_t = 0.05, value_parser = super::values::number(0.0, 1.0), env = "INFMAX_BENCH_MAX_FAILURE_RATE")]
    max_failure_rate: f64,
}

/// Bar on an interactive terminal, lines in CI (`GITHUB_ACTIONS=true`,
/// `CI=true`) or when stderr is redirected; off with `--disable-tqdm`.
fn progress_mode(disabled: bool) -> crate::bench::progress::Mode {
    use crate::bench::progress::Mode;
    use std::io::IsTerminal;
    let ci = crate::diag::in_github_actions() || std::env::var("CI").is_ok_and(|x| x == "true");
    if disabled {
        Mode::Off
    } else if ci || !std::io::stderr().is_terminal() {
        Mode::Lines
    } else {
        Mode::Bar
    }
}

fn bench_options(a: &BenchServeArgs) -> Result<crate::bench::BenchOptions> {
    use crate::bench::dataset::DatasetSpec;

    let backend = a.backend;
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
            prep: a.prompt_prep,
        },
        max_concurrency: a.max_concurrency,
        request_rate: a.request_rate,
        burstiness: a.burstiness,
        num_warmups: a.num_warmups,
        ignore_eos: a.ignore_eos,
        metrics: a.percentile_metrics.iter().flatten().copied().collect(),
        percentiles: a.metric_percentiles.iter().flatten().copied().collect(),
        goodput: a.goodput.clone(),
        result_path,
        metadata: a.metadata.clone(),
        progress: progress_mode(a.disable_tqdm),
        progress_every: std::time::Duration::from_secs(5),
        server_pid: a.server_pid,
        request_timeout: a.request_timeout,
        max_failure_rate: a.max_failure_rate,
        token_ids_hint: "pass --prompt-token-ids to send token ids without a tokenizer",
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

pub(super) fn exec(c: BenchCommand) -> Result<Written> {
    match c {
        BenchCommand::Serve(a) => bench_serve(&a),
    }
}
