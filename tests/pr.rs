//! The `/sweep` comment trigger against a mock of the GitHub API: only
//! write (or higher) permission starts a sweep; the pull request's base and
//! head come back as commit SHAs; the summary is posted back, cut to fit.

mod common;

use common::Scratch;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE: &str = "0123456789abcdef0123456789abcdef01234567";
const HEAD: &str = "89abcdef0123456789abcdef0123456789abcdef";

async fn api() -> MockServer {
    let server = MockServer::start().await;
    for (user, role) in [("alice", "write"), ("bob", "read"), ("carol", "admin")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/o/r/collaborators/{user}/permission")))
            .and(header("authorization", "Bearer test-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"permission": if role == "admin" {"admin"} else {role}, "role_name": role}),
            ))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/repos/o/r/pulls/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "number": 7, "state": "open",
            "base": {"ref": "main", "sha": BASE}, "head": {"ref": "feature", "sha": HEAD}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/pulls/8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "number": 8, "state": "closed",
            "base": {"ref": "main", "sha": BASE}, "head": {"ref": "old", "sha": HEAD}
        })))
        .mount(&server)
        .await;
    server
}

/// Runs `infmax ARGS` against the mock in a blocking task.
async fn run(server: &MockServer, args: &[&str]) -> (Option<i32>, String, String, String) {
    run_with(server, args, None).await
}

/// `run`, with a file `summary.md` in the scratch folder first.
async fn run_with(
    server: &MockServer,
    args: &[&str],
    summary: Option<String>,
) -> (Option<i32>, String, String, String) {
    let uri = server.uri();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let s = Scratch::new();
        if let Some(md) = &summary {
            s.write("summary.md", md);
        }
        let out_file = s.write("github_output", "");
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s
            .infmax(&a)
            .env("GITHUB_REPOSITORY", "o/r")
            .env("GITHUB_TOKEN", "test-token")
            .env("GITHUB_API_URL", &uri)
            .env("GITHUB_OUTPUT", &out_file)
            .output()
            .expect("infmax");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
            std::fs::read_to_string(&out_file).unwrap_or_default(),
        )
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_permission_gets_the_pinned_shas() {
    let server = api().await;
    for user in ["alice", "carol"] {
        let (code, stdout, stderr, outputs) = run(
            &server,
            &[
                "pr",
                "sweep",
                "--pr",
                "7",
                "--user",
                user,
                "--comment",
                "/sweep now",
                "--github-output",
            ],
        )
        .await;
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(
            stdout,
            format!("pr=7\nsweep=true\nbase-sha={BASE}\nhead-sha={HEAD}\n")
        );
        assert!(
            outputs.contains(HEAD) && outputs.contains("sweep"),
            "{outputs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_permission_or_a_closed_pull_request_is_refused() {
    let server = api().await;
    let (code, stdout, stderr, outputs) = run(
        &server,
        &[
            "pr",
            "sweep",
            "--pr",
            "7",
            "--user",
            "bob",
            "--github-output",
        ],
    )
    .await;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stdout.is_empty() && outputs.is_empty(),
        "nothing resolved: {stdout}{outputs}"
    );
    assert!(
        stderr.contains("bob has `read` permission on o/r; /sweep needs write, maintain or admin"),
        "{stderr}"
    );
    let (code, _, stderr, _) = run(&server, &["pr", "sweep", "--pr", "8", "--user", "alice"]).await;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("pull request #8 is closed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_comments_ask_nothing() {
    let server = api().await;
    let (code, stdout, stderr, _) = run(
        &server,
        &[
            "pr",
            "sweep",
            "--pr",
            "7",
            "--user",
            "bob",
            "--comment",
            "looks good /sweep",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "pr=7\nsweep=false\n");
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_is_posted_back_cut_to_fit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/o/r/issues/7/comments"))
        .and(body_string_contains("### Single-node results"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"html_url": "https://github.com/o/r/pull/7#c1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let row = "| dsr1 | m | H100 | 1 |\n";
    let md = format!(
        "### Single-node results\n\n| a | b | c | d |\n| - | - | - | - |\n{}",
        row.repeat(5000)
    );
    let body_len = md.len();
    let (code, stdout, stderr, _) = run_with(
        &server,
        &["pr", "comment", "--pr", "7", "--body-file", "summary.md"],
        Some(md),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "https://github.com/o/r/pull/7#c1\n");
    let sent = server.received_requests().await.unwrap_or_default();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).expect("JSON");
    let text = body["body"].as_str().unwrap_or_default();
    assert!(body_len > 65_536 && text.len() <= 65_536, "{}", text.len());
}
