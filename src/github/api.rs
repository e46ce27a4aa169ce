//! The GitHub REST API through octocrab, configured from the environment a
//! workflow step has: `GITHUB_API_URL`, `GITHUB_REPOSITORY`, `GITHUB_TOKEN`.

use crate::error::{Error, Result};
use octocrab::Octocrab;
use std::time::Duration;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

pub struct GithubApi {
    client: Octocrab,
    pub api_url: String,
    pub owner: String,
    pub repo: String,
}

/// What a file lookup at a ref found.
#[derive(Debug, PartialEq, Eq)]
pub enum FileAtRef {
    Found(String),
    /// The ref exists but the file does not at that ref.
    NoFile,
    /// The ref is unknown to the repository.
    NoRef,
}

impl GithubApi {
    /// `None` when `GITHUB_REPOSITORY` is not set (no API fallback possible).
    pub fn from_env() -> Result<Option<GithubApi>> {
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

    pub fn new(api_url: &str, repository: &str, token: Option<String>) -> Result<GithubApi> {
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
    pub async fn file_at_ref(&self, path: &str, git_ref: &str) -> Result<FileAtRef> {
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

    fn failed(&self, what: &str, why: &str) -> Error {
        Error::env(format!(
            "GitHub API ({}, {}/{}): {what} failed: {why}",
            self.api_url, self.owner, self.repo
        ))
    }
}
