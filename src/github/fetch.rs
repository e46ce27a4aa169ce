//! `infmax fetch`: download and unpack a workflow run's artifacts.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The artifacts (as the API lists them) named in `wanted`, all when it is
/// empty; none is a usage error that lists what the run has.
pub(crate) fn select_artifacts<'a>(
    run_id: u64,
    artifacts: &'a [serde_json::Value],
    wanted: &[String],
) -> Result<Vec<&'a serde_json::Value>> {
    let chosen: Vec<&serde_json::Value> = artifacts
        .iter()
        .filter(|x| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|n| x["name"].as_str() == Some(n.as_str()))
        })
        .collect();
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "run {run_id} has no artifact {}; its artifacts: {}",
            wanted.join(", "),
            names(artifacts)
        )));
    }
    Ok(chosen)
}

/// A run's processed results among its artifacts: the per-job `bmk_*`
/// ones, else the aggregate `results_*` (compat.md §3 names), live ones
/// only; empty when it has neither.
pub(crate) fn result_artifacts(artifacts: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    let per_job = per_job_results(artifacts);
    if per_job.is_empty() {
        live(artifacts, "results_")
    } else {
        per_job
    }
}

/// The live per-job result artifacts (`bmk_*`) of a run.
pub(crate) fn per_job_results(artifacts: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    live(artifacts, "bmk_")
}

fn live<'a>(artifacts: &'a [serde_json::Value], prefix: &str) -> Vec<&'a serde_json::Value> {
    artifacts
        .iter()
        .filter(|x| x["name"].as_str().is_some_and(|n| n.starts_with(prefix)) && !expired(x))
        .collect()
}

/// Whether the API lists the artifact as expired (its files are gone).
fn expired(x: &serde_json::Value) -> bool {
    x["expired"] == serde_json::Value::Bool(true)
}

/// The artifacts' names, for a message ("(none)" when there are none).
pub(crate) fn names(artifacts: &[serde_json::Value]) -> String {
    let names: Vec<&str> = artifacts
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// Downloads and unpacks the chosen artifacts of a run, one folder each
/// under `out` (expired ones are skipped with a note); returns how many
/// were unpacked.
pub(crate) async fn download(
    gh: &crate::github::api::GithubApi,
    run_id: u64,
    chosen: &[&serde_json::Value],
    out: &Path,
) -> Result<usize> {
    let mut n = 0;
    for x in chosen {
        let name = x["name"].as_str().unwrap_or("artifact");
        let dir = out.join(crate::fsutil::safe_file_name(name));
        if expired(x) {
            eprintln!(
                "infmax: artifact {} of run {run_id} has expired; skipped",
                name.escape_debug()
            );
            continue;
        }
        let Some(id) = x["id"].as_u64() else { continue };
        let zip = gh.download_artifact(id).await?;
        let files = unzip(&zip, &dir)?;
        eprintln!(
            "infmax: {}: {files} files -> {}",
            name.escape_debug(),
            dir.display()
        );
        n += 1;
    }
    Ok(n)
}

/// Unpacks a zip archive under `dest`, refusing entries that would escape it.
pub(crate) fn unzip(bytes: &[u8], dest: &Path) -> Result<usize> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::env(format!("not a zip archive: {e}")))?;
    let mut files = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| Error::env(format!("corrupt zip archive: {e}")))?;
        let Some(rel) = entry.enclosed_name() else {
            return Err(Error::env(format!(
                "zip entry {:?} would be written outside {}",
                entry.name(),
                dest.display()
            )));
        };
        let path: PathBuf = dest.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path)
                .map_err(|e| Error::env(format!("cannot create {}: {e}", path.display())))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::env(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| {
            Error::env(format!(
                "cannot read {} from the archive: {e}",
                rel.display()
            ))
        })?;
        crate::fsutil::atomic_write(&path, &data)
            .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
        files += 1;
    }
    Ok(files)
}
