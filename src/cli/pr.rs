//! `infmax pr sweep|comment`: the `/sweep` pull-request comment trigger (who
//! may start a sweep, at which commits) and posting its summary back.

use super::Written;
use super::output::stdout;
use crate::error::{Error, Result};
use crate::github::{self, api, pr};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub(super) enum PrCommand {
    /// A `/sweep` comment: checks its author has write permission, then pins
    /// the pull request's base and head to commit SHAs (`sweep`, `base-sha`,
    /// `head-sha` on stdout and, with --github-output, as step outputs).
    Sweep(PrSweepArgs),
    /// Posts a Markdown file as a comment on the pull request (cut to fit
    /// GitHub's size limit).
    Comment(PrCommentArgs),
}

#[derive(Args, Debug)]
pub(super) struct PrSweepArgs {
    /// The pull request (in a workflow: github.event.issue.number through env).
    #[arg(long, env = "INFMAX_PR")]
    pr: u64,
    /// Login of the comment's author (github.event.comment.user.login).
    #[arg(long, env = "INFMAX_COMMENT_USER")]
    user: String,
    /// The comment's text: anything but `/sweep` as its first word gives
    /// `sweep=false` without asking the API.
    #[arg(long, env = "INFMAX_COMMENT_BODY")]
    comment: Option<String>,
    /// Also append the outputs to $GITHUB_OUTPUT.
    #[arg(long)]
    github_output: bool,
}

#[derive(Args, Debug)]
pub(super) struct PrCommentArgs {
    #[arg(long, env = "INFMAX_PR")]
    pr: u64,
    /// The Markdown to post.
    #[arg(long, env = "INFMAX_COMMENT_FILE")]
    body_file: PathBuf,
}

/// GitHub refuses comments above 65,536 characters.
const COMMENT_LIMIT: usize = 60_000;

pub(super) fn exec(c: PrCommand) -> Result<Written> {
    match c {
        PrCommand::Sweep(a) => sweep(&a),
        PrCommand::Comment(a) => comment(&a),
    }?;
    Ok(Written::default())
}

fn sweep(a: &PrSweepArgs) -> Result<()> {
    let mut outputs = vec![("pr".to_string(), a.pr.to_string())];
    if a.comment
        .as_deref()
        .is_some_and(|c| !pr::is_sweep_command(c))
    {
        outputs.push(("sweep".into(), "false".into()));
    } else {
        let (rt, gh) = api::connect("pr sweep")?;
        let req = rt.block_on(pr::authorize(&gh, a.pr, &a.user))?;
        outputs.push(("sweep".into(), "true".into()));
        outputs.push(("base-sha".into(), req.base_sha));
        outputs.push(("head-sha".into(), req.head_sha));
    }
    if a.github_output {
        github::output::write_outputs(&outputs)?;
    }
    let text: String = outputs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    stdout(&text)
}

fn comment(a: &PrCommentArgs) -> Result<()> {
    let text = crate::fsutil::read_input(&a.body_file).map_err(Error::invalid)?;
    let body = crate::results::markdown::fit(&text, COMMENT_LIMIT, "the full tables");
    let (rt, gh) = api::connect("pr comment")?;
    let url = rt.block_on(gh.comment(a.pr, &body))?;
    stdout(&format!("{url}\n"))
}
