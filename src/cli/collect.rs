//! `infmax collect results|evals`: a directory of artifacts into one
//! aggregate, its tables on stdout, the step summary, and the eval floor.

use super::output::{print_and_summarise, write_json};
use super::{Written, warn};
use crate::diag;
use crate::error::{Error, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum CollectCommand {
    /// Every agg_*.json result under DIR -> agg_{name}.json, and the summary tables on stdout.
    Results(CollectArgs),
    /// Every eval (meta_env.json + lm-eval results*.json) under DIR -> agg_eval_{name}.json and the eval table.
    Evals(CollectEvalsArgs),
}

#[derive(Args, Debug)]
pub(super) struct CollectArgs {
    /// Directory of artifacts (searched recursively).
    dir: PathBuf,
    /// Aggregate name: writes agg_{name}.json (results) or agg_eval_{name}.json (evals)
    /// [default: bmk for results, all for evals: the seed's names for a sweep].
    #[arg(long, value_parser = super::values::name, env = "INFMAX_COLLECT_NAME")]
    name: Option<String>,
    /// Where the aggregate goes.
    #[arg(long, default_value = ".", env = "INFMAX_OUT_DIR")]
    out_dir: PathBuf,
    /// Also append the tables to $GITHUB_STEP_SUMMARY (kept under GitHub's 1 MiB limit).
    #[arg(long, env = "INFMAX_STEP_SUMMARY")]
    step_summary: bool,
}

#[derive(Args, Debug)]
pub(super) struct CollectEvalsArgs {
    #[command(flatten)]
    common: CollectArgs,
    /// YAML of minimum scores (`task: 0.9` or `task: {default: 0.5, MODEL: 0.9}`); exit 4 listing every run below.
    #[arg(long, env = "INFMAX_EVAL_THRESHOLDS")]
    thresholds: Option<PathBuf>,
}

impl CollectArgs {
    fn name(&self, default: &'static str) -> Result<&str> {
        Ok(self.name.as_deref().unwrap_or(default))
    }
}

fn collect_results(a: &CollectArgs) -> Result<Written> {
    let name = a.name("bmk")?;
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.dir)?;
    warn(&skipped);
    let file = format!("agg_{name}.json");
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
    let name = c.name("all")?;
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
    let file = format!("agg_eval_{name}.json");
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

pub(super) fn exec(c: CollectCommand) -> Result<Written> {
    match c {
        CollectCommand::Results(a) => collect_results(&a),
        CollectCommand::Evals(a) => collect_evals(&a),
    }
}
