//! `infmax fetch`: a workflow run's artifacts through the GitHub API,
//! unpacked, then the summary tables.

use super::output::stdout;
use super::{Written, warn};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct FetchArgs {
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

pub(super) fn exec(a: &FetchArgs) -> Result<Written> {
    use crate::github::{api, fetch};
    let (rt, gh) = api::connect("fetch")?;
    let artifacts = rt.block_on(gh.run_artifacts(a.run_id))?;
    let chosen = fetch::select_artifacts(a.run_id, &artifacts, &a.artifact)?;
    rt.block_on(fetch::download(&gh, a.run_id, &chosen, &a.out))?;
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.out)?;
    warn(&skipped);
    stdout(&crate::results::collect::tables(&results))?;
    Ok(Written::default())
}
