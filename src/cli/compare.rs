//! `infmax compare`: a sweep judged against its baseline, curve by curve
//! (results/compare/); inputs are local files or folders, workflow runs
//! fetched through the API, or `latest`.

use super::output::{print_and_summarise, write_json};
use super::{Written, warn};
use crate::error::{Error, Result};
use crate::results::compare::{self, Metric, Side, runs};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub(super) struct CompareArgs {
    /// The baseline: an agg_*.json file, a folder of processed results or
    /// artifacts, a workflow run id, or `latest` (the newest successful run
    /// of --workflow on --branch that has results, and older ones for the
    /// series it lacks). Several: repeated runs,
    /// whose spread sets the noise thresholds.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', env = "INFMAX_COMPARE_BASELINE")]
    baseline: Vec<String>,
    /// The run judged: the same forms but `latest`; several: repeated runs.
    #[arg(long, required = true, num_args = 1.., value_delimiter = ',', env = "INFMAX_COMPARE_CURRENT")]
    current: Vec<String>,
    /// A metric's noise threshold, METRIC=PERCENT (tput, intvty, ttft,
    /// tpot), e.g. `tput=3%`; it wins over the repeats' and the default
    /// (tput, intvty, tpot 5%; ttft none: reported, not judged).
    #[arg(long, value_name = "METRIC=PCT", num_args = 1.., value_delimiter = ',', value_parser = super::values::threshold, env = "INFMAX_COMPARE_THRESHOLD")]
    threshold: Vec<(Metric, f64)>,
    /// Where compare.json, compare.md, the overlay charts and fetched runs go.
    #[arg(long, default_value = "compare", env = "INFMAX_COMPARE_OUT")]
    out: PathBuf,
    /// Also append the table to $GITHUB_STEP_SUMMARY.
    #[arg(long, env = "INFMAX_STEP_SUMMARY")]
    step_summary: bool,
    /// Exit 4 when a metric regressed beyond its threshold.
    #[arg(long, env = "INFMAX_FAIL_ON_REGRESSION")]
    fail_on_regression: bool,
    /// Workflow file whose runs `latest` looks at [default: this run's
    /// workflow, from GITHUB_WORKFLOW_REF].
    #[arg(long, env = "INFMAX_COMPARE_WORKFLOW")]
    workflow: Option<String>,
    /// Branch whose runs `latest` looks at [default: the repository's
    /// default branch].
    #[arg(long, env = "INFMAX_COMPARE_BRANCH")]
    branch: Option<String>,
}

/// Where an input's results come from.
enum Input {
    Path(PathBuf),
    Run(u64),
    Latest,
}

fn input(spec: &str) -> Input {
    if spec == "latest" {
        Input::Latest
    } else if !spec.is_empty()
        && spec.bytes().all(|b| b.is_ascii_digit())
        && !Path::new(spec).exists()
    {
        spec.parse().map_or(Input::Path(spec.into()), Input::Run)
    } else {
        Input::Path(spec.into())
    }
}

/// The workflow file of this run (`owner/repo/.github/workflows/F@ref`).
fn this_workflow() -> Option<String> {
    let r = std::env::var("GITHUB_WORKFLOW_REF").ok()?;
    let path = r.split('@').next()?;
    path.rsplit('/').next().map(str::to_string)
}

type Api = Option<(tokio::runtime::Runtime, crate::github::api::GithubApi)>;

/// The API connection, made on first use.
fn connect(api: &mut Api) -> Result<&(tokio::runtime::Runtime, crate::github::api::GithubApi)> {
    if api.is_none() {
        *api = Some(crate::github::api::connect("compare with a workflow run")?);
    }
    api.as_ref()
        .ok_or_else(|| Error::env("no GitHub API connection".to_string()))
}

/// Reads every input of one side into it, fetching runs into `out`. `want`:
/// the current side, which `latest` looks for (None: this is the current
/// side).
fn side(
    label: &str,
    specs: &[String],
    a: &CompareArgs,
    api: &mut Api,
    want: Option<&Side>,
) -> Result<Side> {
    let mut s = Side::new("");
    let mut labels = Vec::new();
    for spec in specs {
        match (input(spec), want) {
            (Input::Path(p), _) => {
                let (results, skipped) = compare::load(&p)?;
                warn(&skipped);
                s.add(&results);
                labels.push(spec.clone());
            }
            (Input::Latest, None) => {
                return Err(Error::usage(
                    "--current latest: `latest` names a baseline; give the run judged as a file, folder or run id",
                ));
            }
            (Input::Run(id), _) => {
                let (rt, gh) = connect(api)?;
                let artifacts = rt.block_on(gh.run_artifacts(id))?;
                let dir = a.out.join("fetched").join(format!("{label}-run-{id}"));
                let Some((results, skipped)) =
                    rt.block_on(runs::fetch_run(gh, id, &artifacts, &dir))?
                else {
                    return Err(Error::usage(format!(
                        "run {id} has no bmk_* or results_* artifact to compare; its artifacts: {}",
                        crate::github::fetch::names(&artifacts)
                    )));
                };
                warn(&skipped);
                s.add(&results);
                labels.push(format!("run {id}"));
            }
            (Input::Latest, Some(want)) => {
                let workflow = a.workflow.clone().or_else(this_workflow).ok_or_else(|| {
                    Error::usage(
                        "--baseline latest needs the workflow whose runs to search: --workflow FILE (e.g. run-sweep.yml), or GITHUB_WORKFLOW_REF",
                    )
                })?;
                let (rt, gh) = connect(api)?;
                let branch = match &a.branch {
                    Some(b) => b.clone(),
                    None => rt.block_on(gh.default_branch())?,
                };
                let (label, skipped) = rt.block_on(runs::latest(
                    &mut s,
                    gh,
                    &workflow,
                    &branch,
                    &a.out.join("fetched"),
                    want,
                ))?;
                warn(&skipped);
                labels.push(label);
            }
        }
    }
    s.label = labels.join(", ");
    Ok(s)
}

/// Compares two sides, writes compare.json, compare.md and the overlay
/// charts into `out`, prints the table (and the step summary); with
/// `fail`, a regression makes the command fail (exit 4).
pub(super) fn write(
    base: &Side,
    cur: &Side,
    user: &BTreeMap<Metric, f64>,
    out: &Path,
    step_summary: bool,
    fail: bool,
) -> Result<Written> {
    let c = compare::compare(base, cur, user);
    std::fs::create_dir_all(out)
        .map_err(|e| Error::env(format!("cannot create {}: {e}", out.display())))?;
    for (name, svg) in compare::charts(base, cur) {
        let p = out.join(name);
        crate::fsutil::atomic_write(&p, svg.as_bytes())
            .map_err(|e| Error::env(format!("cannot write {}: {e}", p.display())))?;
    }
    write_json(&out.join("compare.json"), &c)?;
    let md = print_and_summarise(&c.markdown(base, cur), step_summary, out, "compare.json")?;
    let written = Written::both(out.join("compare.json"), md);
    if fail && c.regressions > 0 {
        return Ok(written.failing(Some(Error::Failed(format!(
            "{} metric(s) regressed beyond their threshold (see {})",
            c.regressions,
            out.join("compare.md").display()
        )))));
    }
    Ok(written)
}

pub(super) fn exec(a: &CompareArgs) -> Result<Written> {
    let user: BTreeMap<Metric, f64> = a.threshold.iter().copied().collect();
    let mut api = None;
    let cur = side("current", &a.current, a, &mut api, None)?;
    if cur.results == 0 {
        return Err(Error::usage(format!(
            "--current {}: no processed result found; nothing to judge",
            a.current.join(",")
        )));
    }
    let base = side("baseline", &a.baseline, a, &mut api, Some(&cur))?;
    // `latest` may find nothing (a new repository); an input named
    // explicitly must hold results.
    if base.results == 0 && !a.baseline.iter().any(|b| b == "latest") {
        return Err(Error::usage(format!(
            "--baseline {}: no processed result found; nothing to compare with",
            a.baseline.join(",")
        )));
    }
    write(
        &base,
        &cur,
        &user,
        &a.out,
        a.step_summary,
        a.fail_on_regression,
    )
}
