//! The `/sweep` pull-request comment: whether its author may start a sweep
//! (write permission or more on the repository), the pull request's base
//! and head pinned to commit SHAs (never a branch name, which could move
//! between the check and the run), and the summary posted back.

use super::api::GithubApi;
use crate::error::{Error, Result};

/// Repository roles that may start a sweep (the API's `role_name`).
const ALLOWED: [&str; 3] = ["admin", "maintain", "write"];

/// A sweep a permitted user asked for, at fixed commits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SweepRequest {
    pub(crate) pr: u64,
    pub(crate) base_sha: String,
    pub(crate) head_sha: String,
}

/// Checks `user`'s permission, then resolves pull request `pr` to its SHAs.
/// A user without write permission, or a closed pull request, fails the
/// check (exit 4); nothing is resolved for them.
pub(crate) async fn authorize(api: &GithubApi, pr: u64, user: &str) -> Result<SweepRequest> {
    let role = api.permission(user).await?;
    if !ALLOWED.contains(&role.as_str()) {
        return Err(Error::Failed(format!(
            "{user} has `{role}` permission on {}/{}; /sweep needs write, maintain or admin",
            api.owner, api.repo
        )));
    }
    let p = api.pull(pr).await?;
    if p["state"].as_str() != Some("open") {
        return Err(Error::Failed(format!(
            "pull request #{pr} is {}; /sweep runs only on open pull requests",
            p["state"].as_str().unwrap_or("in an unknown state")
        )));
    }
    let sha = |side: &str| {
        p[side]["sha"]
            .as_str()
            .filter(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
            .ok_or_else(|| {
                Error::env(format!(
                    "GitHub API: pull request #{pr} has no {side} commit SHA"
                ))
            })
    };
    Ok(SweepRequest {
        pr,
        base_sha: sha("base")?,
        head_sha: sha("head")?,
    })
}

/// Whether a comment asks for a sweep: its first word is `/sweep`.
pub(crate) fn is_sweep_command(body: &str) -> bool {
    body.split_whitespace().next() == Some("/sweep")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_the_first_word() {
        assert!(is_sweep_command("/sweep"));
        assert!(is_sweep_command("  /sweep please\nthanks"));
        assert!(!is_sweep_command("please /sweep"));
        assert!(!is_sweep_command("/sweeping"));
        assert!(!is_sweep_command(""));
    }
}
