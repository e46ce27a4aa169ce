//! The master-config and runner-config flags every matrix command and
//! `infmax run` share, and loading both with every problem reported at once.

use super::warn;
use crate::config::{self, MasterConfigs};
use crate::error::{Error, Result};
use crate::runners::{self, RunnerConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub(super) struct ConfigArgs {
    /// Master config files or glob patterns (expanded by infmax) [default:
    /// configs/*-master.yaml, or .github/configs/*-master.yaml when configs/
    /// does not exist; sorted by name]
    #[arg(long, alias = "master-config", num_args = 1.., value_delimiter = ',', env = "INFMAX_CONFIG_FILES")]
    config_files: Vec<PathBuf>,
    /// Runner config: runner type -> node names [default: runners.yaml in
    /// the default config folder]
    #[arg(long, env = "INFMAX_RUNNER_CONFIG")]
    runner_config: Option<PathBuf>,
}

/// The runner config given, or `runners.yaml` in the default config folder.
pub(super) fn runner_config_path(given: &Option<PathBuf>) -> PathBuf {
    match given {
        Some(p) => p.clone(),
        None => config::default_dir().0.join("runners.yaml"),
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

    pub(super) fn runner_config(&self) -> PathBuf {
        runner_config_path(&self.runner_config)
    }

    /// Loads configs and runners, reporting the problems of both at once.
    pub(super) fn load(&self) -> Result<(MasterConfigs, RunnerConfig)> {
        let configs = config::load(&self.files()?);
        let runners = runners::load(&self.runner_config());
        match (configs, runners) {
            (Ok(c), Ok(r)) => {
                warn(&c.runner_warnings(&r));
                Ok((c, r))
            }
            (Err(Error::Invalid(mut a)), Err(Error::Invalid(mut b))) => {
                a.append(&mut b);
                Err(Error::Invalid(a))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}
