//! What a matrix command prints, and how it goes to `$GITHUB_OUTPUT`,
//! including the 256-job guard and the opt-in split into numbered parts.

use super::MatrixEntry;
use crate::changelog::ChangelogMatrix;
use crate::error::{Error, Result};
use crate::github::output;

/// GitHub's limit on the jobs one matrix may produce.
pub(crate) const MAX_JOBS: usize = 256;

pub(crate) enum MatrixOutput {
    List(Vec<MatrixEntry>),
    Changelog(ChangelogMatrix),
}

impl MatrixOutput {
    /// Compact JSON, the whole output (stdout always carries everything).
    pub(crate) fn to_json(&self) -> String {
        let r = match self {
            MatrixOutput::List(l) => serde_json::to_string(l),
            MatrixOutput::Changelog(c) => serde_json::to_string(c),
        };
        r.expect("matrix types serialize to JSON: plain structs, strings and integers")
    }

    /// The outputs to write under `name`. Without `split`, a list (or a
    /// changelog group) of more than 256 entries is an error; with it, the
    /// output becomes `{name}_1..{name}_N` of at most 256 entries each (for a
    /// changelog, part i holds the i-th chunk of every group) plus
    /// `{name}_parts = N`.
    pub(crate) fn github_outputs(&self, name: &str, split: bool) -> Result<Vec<(String, String)>> {
        output::check_name(name)?;
        let oversize = self.oversize_groups();
        if oversize.is_empty() {
            return Ok(vec![(name.to_string(), self.to_json())]);
        }
        if !split {
            return Err(Error::usage(format!(
                "a GitHub matrix takes at most {MAX_JOBS} jobs, but {}; pass --split-output to write numbered outputs {name}_1, {name}_2, ... of at most {MAX_JOBS} entries each (and {name}_parts), or narrow the sweep with filters",
                oversize.join(", ")
            )));
        }
        let parts: Vec<String> = match self {
            MatrixOutput::List(l) => l
                .chunks(MAX_JOBS)
                .map(|c| serde_json::to_string(c).expect("matrix entries serialize"))
                .collect(),
            MatrixOutput::Changelog(c) => c
                .split(MAX_JOBS)
                .iter()
                .map(|p| serde_json::to_string(p).expect("changelog matrix serializes"))
                .collect(),
        };
        let mut pairs: Vec<(String, String)> = parts
            .into_iter()
            .enumerate()
            .map(|(i, json)| (format!("{name}_{}", i + 1), json))
            .collect();
        pairs.push((format!("{name}_parts"), pairs.len().to_string()));
        Ok(pairs)
    }

    fn oversize_groups(&self) -> Vec<String> {
        match self {
            MatrixOutput::List(l) if l.len() > MAX_JOBS => {
                vec![format!("the list has {} entries", l.len())]
            }
            MatrixOutput::List(_) => Vec::new(),
            MatrixOutput::Changelog(c) => c
                .groups()
                .filter(|(_, _, v)| v.len() > MAX_JOBS)
                .map(|(kind, seq, v)| format!("{kind}['{seq}'] has {} entries", v.len()))
                .collect(),
        }
    }
}
