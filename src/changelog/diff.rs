//! The lines a change adds to the changelog file between two refs, from the
//! local clone when it has both refs, else with the missing side read through
//! the GitHub API (shallow clones, as actions/checkout makes by default).

use crate::diag::Diagnostic;
use crate::error::{Error, Result};
use crate::git::{self, LineChanges};
use crate::github::api::{FileAtRef, GithubApi};
use std::path::Path;

#[derive(Debug)]
pub(crate) struct Diff {
    pub(crate) changes: LineChanges,
    /// One human line per side: "base abc123: local git" / "... GitHub API".
    pub(crate) notes: Vec<String>,
}

/// Makes the GitHub API client when a ref is missing from the local clone
/// (None: not configured). The command supplies it (from the environment);
/// it is called only when needed.
pub(crate) type Github<'a> = &'a dyn Fn() -> Result<Option<GithubApi>>;

/// The changes to `file` from `base` to `head`, with notes on where each side was read from.
pub(crate) fn changelog_diff(file: &Path, base: &str, head: &str, github: Github) -> Result<Diff> {
    git::ensure_repo()?;
    let base_local = git::has_commit(base)?;
    let head_local = git::has_commit(head)?;
    let (changes, notes) = if base_local && head_local {
        let diff = git::diff_refs(base, head, file)?;
        let notes = vec![format!(
            "changelog diff {base}..{head} read from the local git clone"
        )];
        (git::parse_unified(&diff), notes)
    } else {
        let rt = crate::github::api::runtime()?;
        let _runtime = rt.enter();
        let api = github()?;
        let missing: Vec<&str> = [(base, base_local), (head, head_local)]
            .iter()
            .filter(|(_, local)| !local)
            .map(|(r, _)| *r)
            .collect();
        let Some(api) = api else {
            return Err(Error::usage(format!(
                "ref {} not found in the local clone, and the GitHub API fallback is not configured (set GITHUB_REPOSITORY=OWNER/REPO, and GITHUB_TOKEN for private repositories); or fetch the refs, e.g. actions/checkout with fetch-depth: 0",
                missing
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        };
        let repo_path = git::repo_relative(file)?;
        let mut notes = Vec::new();
        let mut side = |r: &str, local: bool| -> Result<String> {
            if local {
                notes.push(format!("changelog at {r} read from the local git clone"));
                return Ok(git::show(r, file)?.unwrap_or_default());
            }
            notes.push(format!(
                "changelog at {r} read from the GitHub API ({}, {}/{}) because {r} is not in the local clone",
                api.api_url, api.owner, api.repo
            ));
            match rt.block_on(api.file_at_ref(&repo_path, r))? {
                FileAtRef::Found(text) => Ok(text),
                FileAtRef::NoFile => Ok(String::new()),
                FileAtRef::NoRef => Err(Error::usage(format!(
                    "ref `{r}` is neither in the local clone nor in {}/{} on GitHub; check --base-ref/--head-ref",
                    api.owner, api.repo
                ))),
            }
        };
        let old = side(base, base_local)?;
        let new = side(head, head_local)?;
        (git::parse_unified(&git::diff_texts(&old, &new)?), notes)
    };
    Ok(Diff { changes, notes })
}

/// The added lines, with their line numbers in the head file. A removed
/// line is an error quoting it; so is a diff that adds nothing.
pub(crate) fn added_lines(
    label: &str,
    base: &str,
    head: &str,
    changes: LineChanges,
) -> Result<Vec<(u32, String)>> {
    if !changes.removed.is_empty() {
        let diags = changes
            .removed
            .iter()
            .map(|(line, text)| {
                Diagnostic::new(
                    label,
                    Some(crate::yaml::Pos { line: *line, col: 1 }),
                    "",
                    format!(
                        "line removed or changed between {base} and {head}: {text:?}; the changelog is append-only: restore it and add a new entry at the end instead"
                    ),
                )
            })
            .collect();
        return Err(Error::Invalid(diags));
    }
    if changes.added.iter().all(|(_, l)| l.trim().is_empty()) {
        return Err(Error::invalid(Diagnostic::new(
            label,
            None,
            "",
            format!(
                "no lines added between {base} and {head}; a sweep is triggered by appending an entry to the changelog"
            ),
        )));
    }
    Ok(changes.added)
}
