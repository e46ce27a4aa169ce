//! `infmax validate`: master configs, runner config and changelog, every
//! problem reported at once.

use super::config_args::ConfigArgs;
use super::output::stdout;
use super::{Written, warn};
use crate::changelog;
use crate::config;
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct ValidateArgs {
    #[command(flatten)]
    configs: ConfigArgs,
    /// Also check this changelog file (entries and that their keys resolve);
    /// a glob pattern matching one file is expanded.
    #[arg(long, env = "INFMAX_CHANGELOG_FILE")]
    changelog_file: Option<PathBuf>,
}

pub(super) fn exec(a: &ValidateArgs) -> Result<Written> {
    let config::Loaded {
        configs,
        runners,
        problems: mut diags,
        mut warnings,
    } = a.configs.loaded()?;
    let mut changelog_entries = None;
    if let Some(path) = &a.changelog_file {
        let path = config::expand_one_file("--changelog-file", path)?;
        let checked = changelog::validate_file(&path, configs.as_ref());
        if let Some(v) = crate::error::invalid_into(checked, &mut diags)? {
            changelog_entries = Some(v.entries);
            warnings.extend(v.warnings);
        }
    }
    warn(&warnings);
    crate::error::check(diags)?;
    let (Some(c), Some(r)) = (configs, runners) else {
        return Err(Error::env(
            "internal: validation passed without loaded configs",
        ));
    };
    let single = c.entries.iter().filter(|e| !e.is_multinode()).count();
    let items: usize = c.entries.iter().map(|e| e.item_count()).sum();
    let mut line = format!(
        "ok: {} config keys in {} files ({single} single-node, {} multi-node; {items} search items), {} runner types with {} nodes",
        c.entries.len(),
        c.files.len(),
        c.entries.len() - single,
        r.type_names().len(),
        r.node_count()
    );
    if let Some(n) = changelog_entries {
        line.push_str(&format!(", {n} changelog entries"));
    }
    if !warnings.is_empty() {
        let n = warnings.len();
        line.push_str(&format!("; {n} warning{}", if n == 1 { "" } else { "s" }));
    }
    stdout(&format!("{line}\n"))?;
    Ok(Written::default())
}
