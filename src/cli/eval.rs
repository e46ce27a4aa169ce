//! `infmax eval run`: lm-evaluation-harness against the server, with the
//! job's environment recorded in meta_env.json; `infmax eval meta`: that
//! file alone (for lm-eval results produced another way).

use super::Written;
use super::output::stdout;
use crate::diag;
use crate::error::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum EvalCommand {
    /// Run lm-eval (local-chat-completions) against the server; writes meta_env.json beside its results.
    Run(Box<EvalRunArgs>),
    /// Write meta_env.json (the job's environment, as `eval run` records it) into --out.
    Meta(MetaArgs),
}

/// The job's description for meta_env.json, from the job environment.
#[derive(Args, Debug)]
pub(super) struct MetaArgs {
    /// Model id recorded in meta_env.json (and sent when --served-model-name is absent).
    #[arg(long, env = "MODEL")]
    model: String,
    /// Output folder (harness results and meta_env.json).
    #[arg(long, default_value = "eval_out", env = "INFMAX_EVAL_OUT")]
    out: PathBuf,
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

impl MetaArgs {
    fn meta(&self) -> crate::lm_eval::Meta {
        crate::lm_eval::Meta {
            framework: self.framework.clone(),
            precision: self.precision.clone(),
            spec_decoding: self.spec_decoding.clone(),
            tp: self.tp,
            conc: self.conc,
            ep: self.ep,
            dp_attention: crate::lm_eval::Meta::dp_attention(&self.dp_attention),
            model: self.model.clone(),
            hw: self.hw.clone(),
            isl: self.isl,
            osl: self.osl,
        }
    }
}

#[derive(Args, Debug)]
pub(super) struct EvalRunArgs {
    /// Server base URL [default: http://127.0.0.1:PORT].
    #[arg(long, env = "INFMAX_EVAL_BASE_URL")]
    base_url: Option<String>,
    #[arg(long, default_value_t = 8000, env = "PORT")]
    port: u16,
    /// Model name to send (the server's served model name).
    #[arg(long, env = "INFMAX_EVAL_SERVED_MODEL_NAME")]
    served_model_name: Option<String>,
    #[command(flatten)]
    meta: MetaArgs,
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
    /// Python interpreter with lm-eval.
    #[arg(long, default_value = "python3", env = "INFMAX_PYTHON")]
    python: String,
    /// Install lm-eval with pip when it is missing.
    #[arg(long, env = "INFMAX_EVAL_INSTALL")]
    install: bool,
}

fn eval_run(a: &EvalRunArgs) -> Result<Written> {
    let base_url = a
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", a.port));
    let out = crate::lm_eval::run(&crate::lm_eval::EvalOptions {
        base_url: base_url.trim_end_matches('/').to_string(),
        served_model: a
            .served_model_name
            .clone()
            .unwrap_or_else(|| a.meta.model.clone()),
        tasks: a.tasks.clone(),
        include_path: a.include_path.clone(),
        num_fewshot: a.num_fewshot,
        concurrency: a.concurrency.max(1),
        max_tokens: a.max_tokens.max(1),
        temperature: a.temperature,
        top_p: a.top_p,
        limit: a.limit,
        out: a.meta.out.clone(),
        python: a.python.clone(),
        install: a.install,
        annotate: diag::in_github_actions(),
        meta: a.meta.meta(),
    })?;
    stdout(&format!("{}\n", out.display()))?;
    Ok(Written::result(out))
}

pub(super) fn exec(c: EvalCommand) -> Result<Written> {
    match c {
        EvalCommand::Run(a) => eval_run(&a),
        EvalCommand::Meta(a) => {
            let path = a.meta().write(&a.out)?;
            stdout(&format!("{}\n", path.display()))?;
            Ok(Written::result(path))
        }
    }
}
