//! The `git` command line: refs, file contents at a ref, and diffs.
//!
//! We shell out to `git` (present on every runner) rather than link a git
//! library: the diff is git's own, exactly what a user sees with `git diff`.

use crate::error::{Error, Result};
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Result<Output> {
    Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| {
            Error::env(format!(
                "cannot run `git` ({e}); infmax needs git on PATH for `matrix changelog`"
            ))
        })
}

fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

/// Fails unless the current directory is inside a git work tree.
pub(crate) fn ensure_repo() -> Result<()> {
    let o = run(&["rev-parse", "--is-inside-work-tree"])?;
    if o.status.success() {
        Ok(())
    } else {
        Err(Error::env(format!(
            "not inside a git repository ({}); run `matrix changelog` from a checkout of the repository",
            stderr_of(&o)
        )))
    }
}

/// Whether `rev` names a commit in the local clone.
pub(crate) fn has_commit(rev: &str) -> Result<bool> {
    if rev.starts_with('-') {
        return Ok(false);
    }
    let spec = format!("{rev}^{{commit}}");
    Ok(run(&[
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        &spec,
    ])?
    .status
    .success())
}

/// The path of `path` relative to the repository root (for API lookups).
pub(crate) fn repo_relative(path: &Path) -> Result<String> {
    let o = run(&["rev-parse", "--show-prefix"])?;
    let prefix = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let p = path.to_string_lossy();
    let p = p.strip_prefix("./").unwrap_or(&p);
    Ok(format!("{prefix}{p}"))
}

/// The file at `rev`, or `None` when the commit exists but lacks the file.
pub(crate) fn show(rev: &str, path: &Path) -> Result<Option<String>> {
    let p = path.to_string_lossy();
    let rel = if p.starts_with('/') {
        p.to_string()
    } else {
        format!("./{}", p.strip_prefix("./").unwrap_or(&p))
    };
    let spec = format!("{rev}:{rel}");
    let o = run(&["show", "--end-of-options", &spec])?;
    if o.status.success() {
        return String::from_utf8(o.stdout)
            .map(Some)
            .map_err(|_| Error::env(format!("{} at {rev} is not UTF-8 text", path.display())));
    }
    let err = stderr_of(&o);
    if err.contains("does not exist in") || err.contains("exists on disk, but not in") {
        Ok(None)
    } else {
        Err(Error::env(format!("git show {spec} failed: {err}")))
    }
}

/// Unified diff (no context lines) of `path` between two commits.
pub(crate) fn diff_refs(base: &str, head: &str, path: &Path) -> Result<String> {
    let p = path.to_string_lossy();
    let o = run(&[
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "--end-of-options",
        base,
        head,
        "--",
        &p,
    ])?;
    if !o.status.success() {
        return Err(Error::env(format!(
            "git diff {base} {head} -- {p} failed: {}",
            stderr_of(&o)
        )));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Unified diff (no context lines) of two texts, through `git diff --no-index`.
pub(crate) fn diff_texts(old: &str, new: &str) -> Result<String> {
    let dir = tempfile::tempdir()
        .map_err(|e| Error::env(format!("cannot create a temporary directory: {e}")))?;
    let a = dir.path().join("base");
    let b = dir.path().join("head");
    std::fs::write(&a, old)
        .and_then(|_| std::fs::write(&b, new))
        .map_err(|e| Error::env(format!("cannot write temporary files: {e}")))?;
    let (a, b) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );
    let o = run(&[
        "diff",
        "--no-index",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--unified=0",
        "--",
        &a,
        &b,
    ])?;
    // --no-index exits 1 when the files differ.
    match o.status.code() {
        Some(0) | Some(1) => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        _ => Err(Error::env(format!(
            "git diff --no-index failed: {}",
            stderr_of(&o)
        ))),
    }
}

/// The lines a unified diff adds and removes, with their line numbers
/// (new-file numbers for added lines, old-file numbers for removed ones).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LineChanges {
    pub(crate) added: Vec<(u32, String)>,
    pub(crate) removed: Vec<(u32, String)>,
}

/// Parses `--unified=0` output. A last line that only gained a trailing
/// newline (shown by git as removed and re-added, with "\ No newline at end
/// of file") is not a change.
pub(crate) fn parse_unified(diff: &str) -> LineChanges {
    let mut out = LineChanges::default();
    let (mut old_line, mut new_line) = (0u32, 0u32);
    let mut in_hunk = false;
    // Removed line that lacked a final newline, waiting for its re-added twin.
    let mut eof_removed: Option<(u32, String)> = None;
    let mut last_was_removed = false;
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("@@ ") {
            in_hunk = true;
            let mut nums = rest.split_whitespace();
            old_line = nums.next().and_then(parse_start).unwrap_or(0);
            new_line = nums.next().and_then(parse_start).unwrap_or(0);
            continue;
        }
        if !in_hunk {
            continue;
        }
        if let Some(text) = line.strip_prefix('+') {
            // Only the first added line can be the re-added twin.
            match eof_removed.take() {
                Some((_, r)) if r == text => {}
                other => {
                    out.removed.extend(other);
                    out.added.push((new_line, text.to_string()));
                }
            }
            new_line += 1;
            last_was_removed = false;
        } else if let Some(text) = line.strip_prefix('-') {
            out.removed.push((old_line, text.to_string()));
            old_line += 1;
            last_was_removed = true;
        } else if line.starts_with('\\') {
            if last_was_removed && let Some(r) = out.removed.pop() {
                eof_removed = Some(r);
            }
            last_was_removed = false;
        } else if line.starts_with("diff ") {
            in_hunk = false;
        }
    }
    if let Some(r) = eof_removed {
        out.removed.push(r);
    }
    out
}

/// `-12,3` / `+14` → 12 / 14.
fn parse_start(s: &str) -> Option<u32> {
    let s = s.trim_start_matches(['-', '+']);
    s.split(',').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_added_and_removed_with_line_numbers() {
        let diff = "diff --git a/c.yaml b/c.yaml\nindex 1..2 100644\n--- a/c.yaml\n+++ b/c.yaml\n@@ -3,0 +4,2 @@\n+- a: 1\n+  b: 2\n@@ -7 +9,0 @@\n-gone\n";
        let c = parse_unified(diff);
        assert_eq!(
            c.added,
            vec![(4, "- a: 1".to_string()), (5, "  b: 2".to_string())]
        );
        assert_eq!(c.removed, vec![(7, "gone".to_string())]);
    }

    #[test]
    fn missing_final_newline_fix_is_not_a_removal() {
        let diff = "--- a/x\n+++ b/x\n@@ -2 +2,3 @@\n-last\n\\ No newline at end of file\n+last\n+- new: 1\n+  more: 2\n";
        let c = parse_unified(diff);
        assert!(c.removed.is_empty(), "{c:?}");
        assert_eq!(
            c.added,
            vec![(3, "- new: 1".to_string()), (4, "  more: 2".to_string())]
        );
    }

    #[test]
    fn changed_last_line_without_newline_is_a_removal() {
        let diff = "--- a/x\n+++ b/x\n@@ -2 +2 @@\n-last\n\\ No newline at end of file\n+other\n";
        let c = parse_unified(diff);
        assert_eq!(c.removed, vec![(2, "last".to_string())]);
        assert_eq!(c.added, vec![(2, "other".to_string())]);
    }

    #[test]
    fn diff_texts_uses_git() {
        let c = parse_unified(&diff_texts("a\nb\n", "a\nb\nc\n").expect("git available"));
        assert_eq!(c.added, vec![(3, "c".to_string())]);
        assert!(c.removed.is_empty());
    }
}
