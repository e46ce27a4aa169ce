//! `infmax report`: SVG charts and a self-contained report.html from a
//! directory of processed results.

use super::output::stdout;
use super::{Written, warn};
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// Directory of processed results (searched recursively).
    dir: PathBuf,
    /// Where the SVG charts and report.html go.
    #[arg(long, default_value = "report", env = "INFMAX_REPORT_DIR")]
    out: PathBuf,
    /// An `infmax compare` output folder: its overlay charts open the
    /// report (a folder that does not exist is noted and left out: the
    /// comparison may not have run).
    #[arg(long, value_name = "DIR", env = "INFMAX_REPORT_COMPARE")]
    compare: Option<PathBuf>,
}

pub(super) fn exec(a: &ReportArgs) -> Result<Written> {
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.dir)?;
    warn(&skipped);
    let mut charts = Vec::new();
    if let Some(dir) = &a.compare {
        match std::fs::read_dir(dir) {
            Err(_) => eprintln!(
                "infmax report: no comparison in {}; the report has none",
                dir.display()
            ),
            Ok(entries) => {
                let mut names: Vec<PathBuf> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(crate::results::compare::is_chart_name)
                    })
                    .collect();
                names.sort();
                for p in names {
                    let svg = crate::fsutil::read_input(&p).map_err(Error::invalid)?;
                    let name = p.file_name().map(|n| n.to_string_lossy().to_string());
                    charts.push((name.unwrap_or_default(), svg));
                }
            }
        }
    }
    let written = crate::results::report::write(&results, &a.out, None, &charts)?;
    for p in &written {
        stdout(&format!("{}\n", p.display()))?;
    }
    Ok(Written {
        result: None,
        summary: written.into_iter().find(|p| p.ends_with("report.html")),
        failed: None,
    })
}
