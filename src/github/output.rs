//! The one place that writes `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`.
//!
//! Outputs use the multi-line form (`name<<DELIM`, value, `DELIM`) with a
//! random 128-bit delimiter checked not to occur in the value, so a value can
//! never end the record early and inject other outputs.

use crate::error::{Error, Result};
use crate::fsutil;
use std::path::PathBuf;

/// Checks an output name: letters, digits, `_` and `-`, not starting with a digit or `-`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--github-output {name:?}: an output name takes letters, digits, `_` and `-`, and starts with a letter or `_`"
        )))
    }
}

/// A delimiter that does not occur in `value`.
fn delimiter(value: &str) -> String {
    loop {
        let token: u128 = rand::random();
        let d = format!("ghadelimiter_{token:032x}");
        if !value.contains(&d) {
            return d;
        }
    }
}

/// The text of one output record.
pub(crate) fn record(name: &str, value: &str) -> String {
    let d = delimiter(value);
    format!("{name}<<{d}\n{value}\n{d}\n")
}

fn env_file(var: &str, purpose: &str) -> Result<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(Error::usage(format!(
            "{purpose} was requested but ${var} is not set (it is set inside GitHub Actions steps); set it to a file path to run locally"
        ))),
    }
}

/// Appends all `(name, value)` outputs to `$GITHUB_OUTPUT` in one write.
pub(crate) fn write_outputs(pairs: &[(String, String)]) -> Result<()> {
    append_to("GITHUB_OUTPUT", "--github-output", &records(pairs))
}

/// The files a command wrote, as the step outputs `result-file` and
/// `summary-file` (what the composite action exposes), for `--file-outputs`.
pub(crate) fn write_file_outputs(
    result: Option<&std::path::Path>,
    summary: Option<&std::path::Path>,
) -> Result<()> {
    let pairs: Vec<(String, String)> = [("result-file", result), ("summary-file", summary)]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n.to_string(), p.display().to_string())))
        .collect();
    if pairs.is_empty() {
        return Ok(());
    }
    append_to("GITHUB_OUTPUT", "--file-outputs", &records(&pairs))
}

/// Appends environment variables for the job's later steps to `$GITHUB_ENV`
/// (same multi-line record form as outputs).
pub(crate) fn write_env(pairs: &[(String, String)]) -> Result<()> {
    append_to("GITHUB_ENV", "--github-env", &records(pairs))
}

/// Appends Markdown to `$GITHUB_STEP_SUMMARY`.
pub(crate) fn append_step_summary(markdown: &str) -> Result<()> {
    append_to("GITHUB_STEP_SUMMARY", "--step-summary", markdown)
}

fn records(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(n, v)| record(n, v)).collect()
}

/// Appends `text` in one write to the file named by `$var`, which `purpose`
/// (the flag that asked) needs.
fn append_to(var: &str, purpose: &str, text: &str) -> Result<()> {
    let path = env_file(var, purpose)?;
    fsutil::append(&path, text.as_bytes())
        .map_err(|e| Error::env(format!("cannot append to ${var} ({}): {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_uses_a_fresh_delimiter_absent_from_the_value() {
        let r = record("matrix", "[1,2]");
        let mut lines = r.lines();
        let head = lines.next().expect("head line");
        let d = head.strip_prefix("matrix<<").expect("multi-line form");
        assert!(
            d.starts_with("ghadelimiter_") && d.len() == "ghadelimiter_".len() + 32,
            "{d}"
        );
        assert_eq!(lines.next(), Some("[1,2]"));
        assert_eq!(lines.next(), Some(d));
        assert_eq!(lines.next(), None);
        assert_ne!(record("m", "x"), record("m", "x"), "random per record");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("matrix").is_ok());
        assert!(check_name("_m-1").is_ok());
        assert!(check_name("1m").is_err());
        assert!(check_name("a=b").is_err());
        assert!(check_name("").is_err());
    }
}
