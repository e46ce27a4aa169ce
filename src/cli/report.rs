//! `infmax report`: SVG charts and a self-contained report.html from a
//! directory of processed results.

use super::output::stdout;
use super::{Written, warn};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(super) struct ReportArgs {
    /// Directory of processed results (searched recursively).
    dir: PathBuf,
    /// Where the SVG charts and report.html go.
    #[arg(long, default_value = "report", env = "INFMAX_REPORT_DIR")]
    out: PathBuf,
}

pub(super) fn exec(a: &ReportArgs) -> Result<Written> {
    let crate::results::collect::Collected { results, skipped } =
        crate::results::collect::gather(&a.dir)?;
    warn(&skipped);
    let written = crate::results::report::write(&results, &a.out, None)?;
    for p in &written {
        stdout(&format!("{}\n", p.display()))?;
    }
    Ok(Written {
        result: None,
        summary: written.into_iter().find(|p| p.ends_with("report.html")),
        failed: None,
    })
}
