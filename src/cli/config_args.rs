//! The master-config and runner-config flags every matrix command and
//! `infmax run` share, and loading both with every problem reported at once.

use super::warn;
use crate::config::{self, MasterConfigs};
use crate::error::Result;
use crate::runners::RunnerConfig;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub(super) struct ConfigArgs {
    /// Master config files or glob patterns (expanded by infmax) [default:
    /// configs/*-master.yaml, or .github/configs/*-master.yaml when configs/
    /// does not exist; sorted by name]
    #[arg(long, alias = "master-config", num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_FILES")]
    config_files: Vec<PathBuf>,
    /// Runner config: runner type -> node names, or a glob pattern matching
    /// one file [default: runners.yaml in the default config folder]
    #[arg(long, env = "INFMAX_RUNNER_CONFIG")]
    runner_config: Option<PathBuf>,
}

/// The runner config given (a pattern expanded), or `runners.yaml` in the
/// default config folder.
pub(super) fn runner_config_path(given: &Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(p) => config::expand_one_file("--runner-config", p),
        None => Ok(config::default_dir().0.join("runners.yaml")),
    }
}

impl ConfigArgs {
    pub(super) fn files(&self) -> Result<Vec<PathBuf>> {
        if self.config_files.is_empty() {
            let (dir, note) = config::default_dir();
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            config::default_files(&dir)
        } else {
            config::expand_file_args("--config-files", &self.config_files)
        }
    }

    pub(super) fn runner_config(&self) -> Result<PathBuf> {
        runner_config_path(&self.runner_config)
    }

    /// Both files, every problem of either reported at once (see
    /// [`config::load_all`]); warnings are printed.
    pub(super) fn loaded(&self) -> Result<config::Loaded> {
        config::load_all(&self.files()?, &self.runner_config()?)
    }

    /// Both, or every problem of either; warnings are printed.
    pub(super) fn load(&self) -> Result<(MasterConfigs, RunnerConfig)> {
        let loaded = self.loaded()?;
        warn(&loaded.warnings);
        loaded.require()
    }
}
