//! What commands write besides their results: stdout (a closed pipe is a
//! normal end), JSON files, and tables kept beside the aggregate and in the
//! step summary.

use crate::error::{Error, Result};
use crate::github;
use std::io::Write;
use std::path::{Path, PathBuf};

pub(super) fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(|e| Error::env(e.to_string()))?;
    crate::fsutil::atomic_write(path, text.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))
}

/// Prints the tables, keeps them as a Markdown file beside the aggregate
/// (`name.md` for `name.json`; the step summary may have to be cut to fit),
/// and appends them to the step summary when asked. Returns the file.
pub(super) fn print_and_summarise(
    markdown: &str,
    step_summary: bool,
    out_dir: &Path,
    artifact: &str,
) -> Result<PathBuf> {
    stdout(markdown)?;
    let md_path = out_dir.join(Path::new(artifact).with_extension("md"));
    crate::fsutil::atomic_write(&md_path, markdown.as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", md_path.display())))?;
    if step_summary {
        let fitted = crate::results::markdown::fit(
            markdown,
            crate::results::markdown::SUMMARY_LIMIT,
            artifact,
        );
        github::output::append_step_summary(&fitted)?;
    }
    Ok(md_path)
}

/// Machine-readable output. A reader that closed the pipe early (`| head`)
/// is a normal end, not an error: the command goes on writing its files.
pub(super) fn stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::env(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
