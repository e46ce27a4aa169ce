//! The GitHub REST API through octocrab, configured from the environment a
//! workflow step has: `GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_TOKEN`.

use crate::error::{Error, Result};
use octocrab::Octocrab;
use std::time::Duration;

pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";

/// A single-threaded runtime for the API calls of one command (octocrab's
/// client must be built inside a runtime: enter it before `from_env`).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::env(format!("cannot start the async runtime: {e}")))
}

/// The runtime and the API client a command's calls go through (`from_env`,
/// built inside the runtime as octocrab needs), or an error saying which
/// variables `command` needs.
pub(crate) fn connect(command: &str) -> Result<(tokio::runtime::Runtime, GithubApi)> {
    let rt = runtime()?;
    let gh = {
        let _entered = rt.enter();
        GithubApi::from_env()?
    };
    let gh = gh.ok_or_else(|| {
        Error::usage(format!(
            "{command} reads the GitHub API: set GITHUB_REPOSITORY=OWNER/REPO and GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise)"
        ))
    })?;
    Ok((rt, gh))
}

pub(crate) struct GithubApi {
    client: Octocrab,
    pub(crate) api_url: String,
    pub(crate) owner: String,
    pub(crate) repo: String,
}

/// What a file lookup at a ref found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileAtRef {
    Found(String),
    /// The ref exists but the file does not at that ref.
    NoFile,
    /// The ref is unknown to the repository.
    NoRef,
}

impl GithubApi {
    /// `None` when `GITHUB_REPOSITORY` is not set (no API fallback possible).
    pub(crate) fn from_env() -> Result<Option<GithubApi>> {
        let Some(repository) = std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let api_url = std::env::var("GITHUB_API_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let token = std::env::var("GITHUB_TOKEN").ok().filter(|s| !s.is_empty());
        GithubApi::new(&api_url, &repository, token).map(Some)
    }

    pub(crate) fn new(api_url: &str, repository: &str, token: Option<String>) -> Result<GithubApi> {
        let (owner, repo) = repository
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                Error::usage(format!(
                    "GITHUB_REPOSITORY={repository:?}: expected OWNER/REPO"
                ))
            })?;
        let mut builder = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| {
                Error::usage(format!(
                    "GITHUB_API_URL={api_url:?} is not a valid URL: {e}"
                ))
            })?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)));
        if let Some(t) = token {
            builder = builder.personal_token(t);
        }
        let client = builder
            .build()
            .map_err(|e| Error::env(format!("cannot set up the GitHub API client: {e}")))?;
        Ok(GithubApi {
            client,
            api_url: api_url.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
        })
    }

    /// The raw text of `path` (relative to the repository root) at `git_ref`.
    pub(crate) async fn file_at_ref(&self, path: &str, git_ref: &str) -> Result<FileAtRef> {
        let res = self
            .client
            .repos(&self.owner, &self.repo)
            .raw_file(git_ref.to_string(), path)
            .await
            .map_err(|e| self.failed(&format!("reading {path} at {git_ref}"), &e.to_string()))?;
        let status = res.status();
        if status.is_success() {
            let body = self.client.body_to_string(res).await.map_err(|e| {
                self.failed(&format!("reading {path} at {git_ref}"), &e.to_string())
            })?;
            return Ok(FileAtRef::Found(body));
        }
        if status == http::StatusCode::NOT_FOUND {
            // Contents 404s both for an unknown ref and a missing file: ask
            // about the commit to tell the two apart.
            return if self.commit_exists(git_ref).await? {
                Ok(FileAtRef::NoFile)
            } else {
                Ok(FileAtRef::NoRef)
            };
        }
        let body = self.client.body_to_string(res).await.unwrap_or_default();
        Err(self.failed(
            &format!("reading {path} at {git_ref}"),
            &format!("HTTP {status}: {}", body.trim()),
        ))
    }

    async fn commit_exists(&self, git_ref: &str) -> Result<bool> {
        let route = format!("/repos/{}/{}/commits/{}", self.owner, self.repo, git_ref);
        let res = self
            .client
            ._get(route.as_str())
            .await
            .map_err(|e| self.failed(&format!("looking up {git_ref}"), &e.to_string()))?;
        match res.status() {
            s if s.is_success() => Ok(true),
            http::StatusCode::NOT_FOUND | http::StatusCode::UNPROCESSABLE_ENTITY => Ok(false),
            s => Err(self.failed(&format!("looking up {git_ref}"), &format!("HTTP {s}"))),
        }
    }

    /// GET a JSON document (`route` starts with `/repos/...`).
    async fn get_json(&self, route: &str, what: &str) -> Result<serde_json::Value> {
        self.request_json(route, None, what).await
    }

    /// GET `route`, or POST `body` to it; the JSON answer, or an error
    /// quoting the start of a failed one.
    async fn request_json(
        &self,
        route: &str,
        body: Option<&serde_json::Value>,
        what: &str,
    ) -> Result<serde_json::Value> {
        let sent = match body {
            None => self.client._get(route).await,
            Some(b) => self.client._post(route, Some(b)).await,
        };
        let res = sent.map_err(|e| self.failed(what, &e.to_string()))?;
        let status = res.status();
        let body = self
            .client
            .body_to_string(res)
            .await
            .map_err(|e| self.failed(what, &e.to_string()))?;
        if !status.is_success() {
            let msg: String = body.chars().take(300).collect();
            return Err(self.failed(what, &format!("HTTP {status}: {}", msg.trim())));
        }
        serde_json::from_str(&body)
            .map_err(|e| self.failed(what, &format!("unexpected response ({e})")))
    }

    /// Every item of a paginated list endpoint (`key` names the array).
    async fn paginate(&self, route: &str, key: &str, what: &str) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        let sep = if route.contains('?') { '&' } else { '?' };
        for page in 1..=1000 {
            let v = self
                .get_json(&format!("{route}{sep}per_page=100&page={page}"), what)
                .await?;
            let items = v[key].as_array().cloned().unwrap_or_default();
            let total = v["total_count"].as_u64().map(|t| t as usize);
            let n = items.len();
            out.extend(items);
            if n < 100 || total.is_some_and(|t| out.len() >= t) {
                break;
            }
        }
        Ok(out)
    }

    /// Every job of a workflow run, all attempts.
    pub(crate) async fn run_jobs(&self, run_id: u64) -> Result<Vec<serde_json::Value>> {
        let route = format!(
            "/repos/{}/{}/actions/runs/{run_id}/jobs?filter=all",
            self.owner, self.repo
        );
        self.paginate(&route, "jobs", &format!("listing the jobs of run {run_id}"))
            .await
    }

    /// Every artifact of a workflow run.
    pub(crate) async fn run_artifacts(&self, run_id: u64) -> Result<Vec<serde_json::Value>> {
        let route = format!(
            "/repos/{}/{}/actions/runs/{run_id}/artifacts",
            self.owner, self.repo
        );
        self.paginate(
            &route,
            "artifacts",
            &format!("listing the artifacts of run {run_id}"),
        )
        .await
    }

    /// The zip archive of an artifact (the API redirects to storage).
    pub(crate) async fn download_artifact(&self, artifact_id: u64) -> Result<bytes::Bytes> {
        self.client
            .actions()
            .download_artifact(
                &self.owner,
                &self.repo,
                octocrab::models::ArtifactId(artifact_id),
                octocrab::params::actions::ArchiveFormat::Zip,
            )
            .await
            .map_err(|e| {
                self.failed(
                    &format!("downloading artifact {artifact_id}"),
                    &e.to_string(),
                )
            })
    }

    /// The repository's default branch.
    pub(crate) async fn default_branch(&self) -> Result<String> {
        let what = "reading the repository's default branch";
        let v = self
            .get_json(&format!("/repos/{}/{}", self.owner, self.repo), what)
            .await?;
        v["default_branch"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.failed(what, "no default_branch in the answer"))
    }

    /// The newest successful runs (ids, newest first; at most 20) of the
    /// workflow file `workflow` on `branch` that ran this repository's own
    /// code there: not pull-request runs, whose head branch may carry the
    /// same name (a fork's `main`), nor runs of another repository's head.
    pub(crate) async fn successful_runs(&self, workflow: &str, branch: &str) -> Result<Vec<u64>> {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        let route = format!(
            "/repos/{}/{}/actions/workflows/{}/runs?branch={}&status=success&per_page=20",
            self.owner,
            self.repo,
            enc(workflow),
            enc(branch)
        );
        let v = self
            .get_json(
                &route,
                &format!("listing the successful runs of {workflow} on {branch}"),
            )
            .await?;
        let own = format!("{}/{}", self.owner, self.repo);
        let trusted = |r: &serde_json::Value| {
            let event = r["event"].as_str().unwrap_or("");
            let head = r["head_repository"]["full_name"].as_str();
            !event.starts_with("pull_request") && head.is_none_or(|h| h.eq_ignore_ascii_case(&own))
        };
        Ok(v["workflow_runs"]
            .as_array()
            .map(|runs| {
                runs.iter()
                    .filter(|r| trusted(r))
                    .filter_map(|r| r["id"].as_u64())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `user`'s role on the repository (`admin`, `maintain`, `write`,
    /// `triage`, `read` or `none`).
    pub(crate) async fn permission(&self, user: &str) -> Result<String> {
        if user.is_empty()
            || !user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'[' || b == b']')
        {
            return Err(Error::usage(format!("{user:?} is not a GitHub login")));
        }
        let what = format!("reading {user}'s permission");
        let route = format!(
            "/repos/{}/{}/collaborators/{user}/permission",
            self.owner, self.repo
        );
        let v = self.get_json(&route, &what).await?;
        v["role_name"]
            .as_str()
            .or_else(|| v["permission"].as_str())
            .map(str::to_string)
            .ok_or_else(|| self.failed(&what, "no role_name or permission in the answer"))
    }

    /// A pull request.
    pub(crate) async fn pull(&self, number: u64) -> Result<serde_json::Value> {
        let route = format!("/repos/{}/{}/pulls/{number}", self.owner, self.repo);
        self.get_json(&route, &format!("reading pull request #{number}"))
            .await
    }

    /// Posts a comment on an issue or pull request; returns its URL.
    pub(crate) async fn comment(&self, number: u64, body: &str) -> Result<String> {
        let route = format!(
            "/repos/{}/{}/issues/{number}/comments",
            self.owner, self.repo
        );
        let v = self
            .request_json(
                &route,
                Some(&serde_json::json!({ "body": body })),
                &format!("commenting on #{number}"),
            )
            .await?;
        Ok(v["html_url"].as_str().unwrap_or_default().to_string())
    }

    fn failed(&self, what: &str, why: &str) -> Error {
        Error::env(format!(
            "GitHub API ({}, {}/{}): {what} failed: {why}",
            self.api_url, self.owner, self.repo
        ))
    }
}
