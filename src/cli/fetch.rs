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
    Ok(Written::default())
}
