//! `infmax run`: the main job on one machine (matrix, engine, benchmarks,
//! results, tables, charts).

use super::config_args::ConfigArgs;
use super::matrix::SweepFilterArgs;
use super::output::stdout;
use super::{Written, warn};
use crate::error::{Error, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// `infmax run`: the main job on one machine.
#[derive(Args, Debug)]
pub(super) struct RunArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    #[command(flatten)]
    filters: SweepFilterArgs,
    /// Engine: `sim` (simulated, preset per runner type) or `cmd` (--server-cmd).
    #[arg(long, value_enum, default_value_t = EngineKind::Sim, env = "INFMAX_RUN_ENGINE")]
    engine: EngineKind,
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
    #[arg(long, default_value = "600", value_parser = super::values::seconds)]
    server_timeout: Duration,
    /// Seconds one request may take.
    #[arg(long, default_value = "600", value_parser = super::values::seconds)]
    request_timeout: Duration,
    /// --engine sim: the simulated engine takes this many times as long per
    /// token, prefill and decode (1.1: 10% slower), to see what the
    /// regression gate makes of a slower engine.
    #[arg(long, default_value_t = 1.0, value_parser = super::values::factor)]
    sim_slowdown: f64,
    /// Benchmark every concurrency this many times (results `…_r1`, `…_r2`,
    /// …): `--compare-to` and `infmax compare` take the noise threshold
    /// from their spread.
    #[arg(long, default_value_t = 1, value_parser = super::values::whole::<u32>(1, 1000))]
    repeats: u32,
    /// Then compare this run with an earlier one (its output folder, or an
    /// agg_*.json file) as `infmax compare` does; the table follows the
    /// results, the files go to OUT/compare/.
    #[arg(long, value_name = "DIR")]
    compare_to: Option<PathBuf>,
    /// With --compare-to: a metric's threshold, METRIC=PERCENT (see `infmax compare`).
    #[arg(long, value_name = "METRIC=PCT", num_args = 1.., value_delimiter = ',', value_parser = super::values::threshold)]
    threshold: Vec<(crate::results::compare::Metric, f64)>,
    /// With --compare-to: exit 4 when a metric regressed beyond its threshold.
    #[arg(long)]
    fail_on_regression: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum EngineKind {
    Sim,
    Cmd,
}

pub(super) fn exec(a: &RunArgs) -> Result<Written> {
    use crate::run::{Engine, RunOptions};
    let engine = match (a.engine, &a.server_cmd) {
        (EngineKind::Sim, None) => Engine::Sim,
        (EngineKind::Cmd, Some(c)) if !c.trim().is_empty() => Engine::Cmd(c.clone()),
        (EngineKind::Cmd, _) => return Err(Error::usage("--engine cmd needs --server-cmd '...'")),
        (EngineKind::Sim, Some(_)) => {
            return Err(Error::usage("--server-cmd goes with --engine cmd"));
        }
    };
    let user_thresholds: std::collections::BTreeMap<_, _> = a.threshold.iter().copied().collect();
    let baseline = match &a.compare_to {
        Some(dir) => {
            let (results, skipped) = crate::results::compare::load(dir)?;
            warn(&skipped);
            let mut side = crate::results::compare::Side::new(&dir.display().to_string());
            side.add(&results);
            Some(side)
        }
        None => None,
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
        sim_slowdown: a.sim_slowdown,
        repeats: a.repeats,
        tokenizer: a.tokenizer.clone(),
        server_timeout: a.server_timeout,
        request_timeout: a.request_timeout,
    };
    let start = std::time::Instant::now();
    let (ok, failed) = crate::run::run(&o, entries)?;
    // The comparison's charts go into the report; its table follows the results.
    let current = match &baseline {
        Some(_) => {
            let (results, _) = crate::results::compare::load(&o.out.join("processed"))?;
            let mut cur = crate::results::compare::Side::new(&o.out.display().to_string());
            cur.add(&results);
            Some(cur)
        }
        None => None,
    };
    let charts = match (&baseline, &current) {
        (Some(b), Some(c)) => crate::results::compare::charts(b, c),
        _ => Vec::new(),
    };
    let (tables, skipped) = crate::run::finish(&o, &charts)?;
    warn(&skipped);
    stdout(&tables)?;
    eprintln!(
        "infmax run: {ok} benchmarks succeeded, {failed} failed in {:.0} s; results, tables and charts in {} (report: {})",
        start.elapsed().as_secs_f64(),
        o.out.display(),
        o.out.join("report").join("report.html").display()
    );
    let mut written = Written::both(o.out.join("agg_bmk.json"), o.out.join("summary.md"));
    if let (Some(base), Some(cur)) = (baseline, current) {
        let compared = super::compare::write(
            &base,
            &cur,
            &user_thresholds,
            &o.out.join("compare"),
            false,
            a.fail_on_regression,
        )?;
        written.failed = compared.failed;
    }
    if failed > 0 {
        return Ok(written.failing(Some(Error::Failed(format!(
            "{failed} benchmark(s) failed; see the lines marked FAIL above and the logs in {}",
            o.out.join("logs").display()
        )))));
    }
    Ok(written)
}
