//! Comparison inputs from workflow runs, through the GitHub API: one run's
//! results, and `latest` (the default branch's newest measurement of each
//! series the current run has).

use super::series::{Side, load};
use crate::diag::Diagnostic;
use crate::error::Result;
use crate::github::api::GithubApi;
use crate::github::fetch;
use serde_json::Value;
use std::path::Path;

/// Runs `latest` downloads at most, looking for the series it lacks.
const MAX_RUNS_DOWNLOADED: usize = 10;

/// A run's processed results: its per-job `bmk_*` artifacts, else its
/// aggregate `results_*`, downloaded into `dir`, and what was passed over
/// reading them. None: it has neither.
pub(crate) async fn fetch_run(
    gh: &GithubApi,
    id: u64,
    artifacts: &[Value],
    dir: &Path,
) -> Result<Option<(Vec<Value>, Vec<Diagnostic>)>> {
    let chosen = fetch::result_artifacts(artifacts);
    if chosen.is_empty() {
        return Ok(None);
    }
    fetch::download(gh, id, &chosen, dir).await?;
    load(dir).map(Some)
}

/// `--baseline latest`: the newest successful run of `workflow` on `branch`
/// that has per-job results, then older ones (of the newest 20, at most
/// [`MAX_RUNS_DOWNLOADED`] downloaded) for each series of `want` it did not
/// measure, since a sweep runs only the configs its changelog entry names.
/// Runs are fetched into `out/baseline-run-ID`. Returns the side's label
/// and what was passed over (an older run that could not be read among it).
pub(crate) async fn latest(
    s: &mut Side,
    gh: &GithubApi,
    workflow: &str,
    branch: &str,
    out: &Path,
    want: &Side,
) -> Result<(String, Vec<Diagnostic>)> {
    let mut used = Vec::new();
    let mut skipped = Vec::new();
    let mut downloaded = 0;
    for id in gh.successful_runs(workflow, branch).await? {
        // A series main never measured (a new config) would otherwise have
        // every run of the list downloaded.
        if downloaded == MAX_RUNS_DOWNLOADED {
            eprintln!(
                "infmax compare: {MAX_RUNS_DOWNLOADED} runs of {workflow} on {branch} read; the series none of them measured are new"
            );
            break;
        }
        let fetched = async {
            let artifacts = gh.run_artifacts(id).await?;
            // A run without per-job results (a skipped sweep) is passed over.
            if fetch::per_job_results(&artifacts).is_empty() {
                return Ok(None);
            }
            downloaded += 1;
            let dir = out.join(format!("baseline-run-{id}"));
            fetch_run(gh, id, &artifacts, &dir).await
        }
        .await;
        let results = match fetched {
            Ok(Some((results, passed))) => {
                skipped.extend(passed);
                results
            }
            Ok(None) => continue,
            // The newest run must be read; an older one that cannot be is
            // passed over (the baseline already has what the newest gave).
            Err(e) if !used.is_empty() => {
                skipped.push(Diagnostic::new(
                    &format!("run {id}"),
                    None,
                    "",
                    format!("passed over as a baseline: {e}"),
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let added = if used.is_empty() {
            s.add(&results);
            true
        } else {
            s.fill_from(&results, want) > 0
        };
        if added {
            eprintln!("infmax compare: baseline: run {id} of {workflow} on {branch}");
            used.push(id.to_string());
        }
        if s.covers(want) {
            break;
        }
    }
    let label = match used.len() {
        0 => {
            eprintln!(
                "infmax compare: no successful run of {workflow} on {branch} has results; no baseline"
            );
            format!("none (no successful run of {workflow} on {branch} has results)")
        }
        1 => format!("run {} of {workflow} on {branch}", used[0]),
        _ => format!(
            "runs {} of {workflow} on {branch} (the newest with each series)",
            used.join(", ")
        ),
    };
    Ok((label, skipped))
}
