//! `infmax run-stats`: a workflow run's jobs per GPU SKU through the GitHub
//! API, into the seed's run_stats.json and a table.

use super::Written;
use super::config_args::runner_config_path;
use super::output::{print_and_summarise, write_json};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct RunStatsArgs {
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

pub(super) fn exec(a: &RunStatsArgs) -> Result<Written> {
    use crate::github::{api, run_stats};
    let runners = crate::runners::load(&runner_config_path(&a.runner_config)?)?;
    let (rt, gh) = api::connect("run-stats")?;
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
