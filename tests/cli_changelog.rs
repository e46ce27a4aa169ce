//! `infmax matrix changelog`: real git repositories in a scratch directory,
//! and the GitHub API fallback against a local mock server.

mod common;

use common::Scratch;
use snapbox::str;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ENTRY_1: &str = "\
- config-keys: [dsr1-fp8-h100-vllm]
  description: [first]
  pr-link: https://github.com/o/r/pull/1
";

const ENTRY_2: &str = "\
- config-keys:
    - dsr1-*
  description:
    - \"DeepSeek everywhere\"
  pr-link: https://github.com/o/r/pull/2
- config-keys: [gptoss-*, dsr1-fp8-h100-vllm]
  description: [evals]
  pr-link: https://github.com/o/r/pull/3
  evals-only: true
";

/// A repository whose changelog has ENTRY_1, then a commit appending `added`.
fn repo_with_change(added: &str) -> (Scratch, String, String) {
    let s = Scratch::new();
    s.write("perf-changelog.yaml", ENTRY_1);
    let base = s.commit_all("base");
    s.write("perf-changelog.yaml", &format!("{ENTRY_1}{added}"));
    let head = s.commit_all("head");
    (s, base, head)
}

fn changelog(s: &Scratch, base: &str, head: &str) -> snapbox::cmd::Command {
    s.infmax(&[
        "matrix",
        "changelog",
        "--base-ref",
        base,
        "--head-ref",
        head,
    ])
}

#[test]
fn appended_entries_become_grouped_jobs() {
    let (s, base, head) = repo_with_change(ENTRY_2);
    let out = changelog(&s, &base, &head)
        .assert()
        .success()
        .stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone

"#]])
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let groups = |kind: &str| -> Vec<(String, usize)> {
        v[kind]
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, e)| (k.clone(), e.as_array().map_or(0, Vec::len)))
            .collect()
    };
    // dsr1-* takes both dsr1 keys; the second entry's dsr1-fp8-h100-vllm is
    // dropped as taken, and gptoss (evals-only) has no 1k8k entry.
    assert_eq!(
        groups("single_node"),
        vec![("1k1k".to_string(), 3), ("1k8k".to_string(), 4)]
    );
    assert_eq!(groups("multi_node"), vec![("1k1k".to_string(), 1)]);
    let evals: Vec<(u64, u64)> = v["single_node"]["1k8k"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|e| e["run-eval"] == true)
        .map(|e| {
            (
                e["tp"].as_u64().unwrap_or(0),
                e["conc"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(evals, vec![(8, 32), (4, 8)]);
    assert_eq!(v["changelog_metadata"]["base_ref"], base.as_str());
    assert_eq!(v["changelog_metadata"]["head_ref"], head.as_str());
    assert_eq!(
        v["changelog_metadata"]["entries"],
        serde_json::json!([
            {"config-keys": ["dsr1-*"], "description": ["DeepSeek everywhere"], "pr-link": "https://github.com/o/r/pull/2", "evals-only": false},
            {"config-keys": ["gptoss-*", "dsr1-fp8-h100-vllm"], "description": ["evals"], "pr-link": "https://github.com/o/r/pull/3", "evals-only": true}
        ])
    );
}

#[test]
fn changelog_file_in_a_subdirectory_and_branch_names() {
    let s = Scratch::new();
    s.write("ci/changelog.yaml", ENTRY_1);
    s.commit_all("base");
    s.git(&["branch", "base-branch"]);
    s.write("ci/changelog.yaml", &format!("{ENTRY_1}{ENTRY_2}"));
    s.commit_all("head");
    let out = s
        .infmax(&[
            "matrix",
            "changelog",
            "--base-ref",
            "base-branch",
            "--head-ref",
            "main",
            "--changelog-file",
            "ci/changelog.yaml",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    assert_eq!(
        v["changelog_metadata"]["entries"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn missing_final_newline_in_base_is_not_a_removal() {
    let s = Scratch::new();
    s.write("perf-changelog.yaml", ENTRY_1.trim_end());
    let base = s.commit_all("base");
    s.write("perf-changelog.yaml", &format!("{ENTRY_1}{ENTRY_2}"));
    let head = s.commit_all("head");
    changelog(&s, &base, &head).assert().success();
}

#[test]
fn removed_line_is_an_error_quoting_it() {
    let (s, base, head) = repo_with_change("");
    let _ = head;
    s.write(
        "perf-changelog.yaml",
        &ENTRY_1.replace("first", "rewritten history"),
    );
    let head = s.commit_all("edit");
    changelog(&s, &base, &head).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml:2:1: line removed or changed between [..] and [..]: "  description: [first]"; the changelog is append-only: restore it and add a new entry at the end instead
1 problem found

"#]]);
}

#[test]
fn no_added_lines() {
    let (s, base, head) = repo_with_change("");
    changelog(&s, &base, &head).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml: no lines added between [..] and [..]; a sweep is triggered by appending an entry to the changelog
1 problem found

"#]]);
}

#[test]
fn pattern_matching_nothing_and_unknown_key() {
    let (s, base, head) = repo_with_change(
        "- config-keys: [llama-*, dsr1-fp8-h100-vllm, qwen3-fp8-h100-vllm]\n  description: [x]\n  pr-link: l\n",
    );
    changelog(&s, &base, &head).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml:4:17: [0]/config-keys[0]: pattern `llama-*` matches no config key in configs/test-master.yaml; check the spelling, or add the config first
error: perf-changelog.yaml:4:46: [0]/config-keys[2]: config key `qwen3-fp8-h100-vllm` does not exist in configs/test-master.yaml; check the spelling, or add the config first
2 problems found

"#]]);
}

#[test]
fn extra_field_and_missing_field() {
    let (s, base, head) =
        repo_with_change("- config-keys: [dsr1-*]\n  description: [x]\n  pr_link: l\n");
    changelog(&s, &base, &head).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml:6:3: [0]/pr_link: in the added lines: unknown field `pr_link` in a changelog entry; allowed: config-keys, description, pr-link, evals-only
error: perf-changelog.yaml:4:3: [0]: in the added lines: missing required field `pr-link` (a string)
2 problems found

"#]]);
}

#[test]
fn bad_yaml_in_added_lines() {
    let (s, base, head) = repo_with_change("- config-keys: [dsr1-*\n  description: [x]\n");
    changelog(&s, &base, &head)
        .assert()
        .code(1)
        .stdout_eq("")
        .stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml:5:14: in the added lines: invalid YAML: [..]
1 problem found

"#]]);
}

#[test]
fn added_lines_that_are_not_entries() {
    let (s, base, head) = repo_with_change("# just a comment\n");
    changelog(&s, &base, &head).assert().code(1).stdout_eq("").stderr_eq(str![[r#"
infmax: changelog diff [..] read from the local git clone
error: perf-changelog.yaml:4:1: in the added lines: expected a list of changelog entries, found nothing
1 problem found

"#]]);
}

#[test]
fn unknown_ref_without_api_fallback() {
    let (s, _, head) = repo_with_change(ENTRY_2);
    changelog(&s, "0123456789abcdef0123456789abcdef01234567", &head).assert().code(2).stdout_eq("").stderr_eq(str![[r#"
error: ref `0123456789abcdef0123456789abcdef01234567` not found in the local clone, and the GitHub API fallback is not configured (set GITHUB_REPOSITORY=OWNER/REPO, and GITHUB_TOKEN for private repositories); or fetch the refs, e.g. actions/checkout with fetch-depth: 0

"#]]);
}

#[test]
fn not_a_git_repository() {
    let s = Scratch::new();
    s.write("perf-changelog.yaml", ENTRY_1);
    changelog(&s, "a", "b")
        .assert()
        .code(3)
        .stdout_eq("")
        .stderr_eq(str![[r#"
error: not inside a git repository ([..]); run `matrix changelog` from a checkout of the repository

"#]]);
}

const MISSING_SHA: &str = "89abcdef0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shallow_clone_reads_the_base_through_the_github_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/contents/perf-changelog.yaml"))
        .and(query_param("ref", MISSING_SHA))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(ENTRY_1))
        .expect(1)
        .mount(&server)
        .await;
    let (s, _, head) = repo_with_change(ENTRY_2);
    let uri = server.uri();
    let out = tokio::task::spawn_blocking(move || {
        let a = changelog(&s, MISSING_SHA, &head)
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_TOKEN", "test-token")
            .env("GITHUB_API_URL", &uri)
            .assert()
            .success();
        a.get_output().clone()
    })
    .await
    .expect("joined");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "changelog at {MISSING_SHA} read from the GitHub API ({}, o/r) because {MISSING_SHA} is not in the local clone",
            server.uri()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("read from the local git clone"),
        "head side is local: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v["changelog_metadata"]["entries"].as_array().map(Vec::len),
        Some(2),
        "only the appended entries"
    );
    assert_eq!(v["changelog_metadata"]["base_ref"], MISSING_SHA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ref_on_github_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/contents/perf-changelog.yaml"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string(r#"{"message":"No commit found for the ref x"}"#),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/o/r/commits/{MISSING_SHA}")))
        .respond_with(
            ResponseTemplate::new(422).set_body_string(r#"{"message":"No commit found for SHA"}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (s, _, head) = repo_with_change(ENTRY_2);
    let uri = server.uri();
    tokio::task::spawn_blocking(move || {
        changelog(&s, MISSING_SHA, &head)
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_API_URL", &uri)
            .assert()
            .code(2)
            .stdout_eq("")
            .stderr_eq(str![[r#"
error: ref `89abcdef0123456789abcdef0123456789abcdef` is neither in the local clone nor in o/r on GitHub; check --base-ref/--head-ref

"#]]);
    })
    .await
    .expect("joined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_error_is_an_environment_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let (s, _, head) = repo_with_change(ENTRY_2);
    let uri = server.uri();
    tokio::task::spawn_blocking(move || {
        changelog(&s, MISSING_SHA, &head)
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_API_URL", &uri)
            .assert()
            .code(3)
            .stdout_eq("")
            .stderr_eq(str![[r#"
error: GitHub API (http://127.0.0.1:[..], o/r): reading perf-changelog.yaml at 89abcdef0123456789abcdef0123456789abcdef failed: HTTP 500 Internal Server Error: boom

"#]]);
    })
    .await
    .expect("joined");
}
