//! `infmax run`: the main job on one machine (matrix, engine, benchmarks,
//! results, tables, charts).

use super::config_args::ConfigArgs;
use super::matrix::SweepFilterArgs;
use super::output::stdout;
use super::values::positive_secs;
use super::{Written, warn};
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;

/// `infmax run`: the main job on one machine.
#[derive(Args, Debug)]
pub(super) struct RunArgs {
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

pub(super) fn exec(a: &RunArgs) -> Result<Written> {
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
