//! `run-stats` and `fetch` through octocrab against a local mock of the
//! GitHub REST API (no internet).

mod common;

use common::Scratch;
use serde_json::json;
use snapbox::str;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn env(cmd: snapbox::cmd::Command, uri: &str) -> snapbox::cmd::Command {
    cmd.env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "tok")
        .env("GITHUB_API_URL", uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_stats_counts_every_attempt_per_sku_across_pages() {
    let server = MockServer::start().await;
    let mut page1: Vec<_> = (0..100).map(|i| json!({"id": i, "name": format!("bmk (dsr1, h100-cw_{}, 1k1k)", i % 2), "conclusion": if i % 4 == 0 { "failure" } else { "success" }, "run_attempt": 1})).collect();
    page1[0]["name"] = json!("setup");
    let page2 = vec![
        json!({"id": 100, "name": "multinode (gb200-nv_0)", "conclusion": "success", "run_attempt": 2}),
        json!({"id": 101, "name": "bmk (b200-nvd_0)", "conclusion": "skipped", "run_attempt": 2}),
    ];
    for (page, jobs) in [("1", page1), ("2", page2)] {
        Mock::given(method("GET"))
            .and(path("/repos/o/r/actions/runs/42/jobs"))
            .and(query_param("filter", "all"))
            .and(query_param("page", page))
            .and(header("authorization", "Bearer tok"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"total_count": 102, "jobs": jobs})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let s = Scratch::new();
    s.write("configs/runners.yaml", "h100: [h100-cw_0, h100-cw_1]\nb200: [b200-nvd_0]\ngb200: [gb200-nv_0]\nb200-dgxc: [b200-dgxc_0]\n");
    let uri = server.uri();
    let s = tokio::task::spawn_blocking(move || {
        env(s.infmax(&["run-stats", "--run-id", "42"]), &uri)
            .assert()
            .success()
            .stdout_eq(str![[r#"
### Run 42 jobs per GPU

| GPU | Succeeded | Jobs | Success rate |
| --- | --- | --- | --- |
| GB200 | 1 | 1 | 100.0% |
| H100 | 75 | 99 | 75.8% |

Not counted: 1 job(s) naming no GPU (setup, collect, ...), 1 skipped.

"#]]);
        s
    })
    .await
    .expect("joined");
    let stats: serde_json::Value =
        serde_json::from_str(&s.read("run_stats.json")).expect("written");
    // The seed's shape: {"<sku>": {"n_success": n, "total": n}}, nothing else.
    assert_eq!(
        stats,
        json!({"gb200": {"n_success": 1, "total": 1}, "h100": {"n_success": 75, "total": 99}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_downloads_unpacks_and_summarises() {
    let server = MockServer::start().await;
    let result = json!({"hw": "b200", "conc": 8, "image": "i", "model": "org/m", "infmax_model_prefix": "dsr1", "framework": "vllm",
        "precision": "fp8", "spec_decoding": "none", "isl": 1024, "osl": 1024, "disagg": false, "is_multinode": false, "tp": 8, "ep": 1,
        "dp_attention": false, "tput_per_gpu": 100.0, "output_tput_per_gpu": 50.0, "input_tput_per_gpu": 50.0, "median_ttft": 0.1,
        "median_tpot": 0.01, "median_intvty": 100.0, "median_e2el": 2.0});
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/runs/7/artifacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": 2, "artifacts": [
                {"id": 11, "name": "results_bmk", "expired": false},
                {"id": 12, "name": "server_logs", "expired": false}
            ]}),
        ))
        .mount(&server)
        .await;
    // The API answers with a redirect to storage, as GitHub does.
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/artifacts/11/zip"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/storage/11.zip", server.uri()).as_str(),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/11.zip"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(common::zip_of(&[("job1/agg_r1.json", &result.to_string())])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = Scratch::new();
    let uri = server.uri();
    let s = tokio::task::spawn_blocking(move || {
        let a = env(
            s.infmax(&[
                "fetch",
                "--run-id",
                "7",
                "--artifact",
                "results_bmk",
                "--out",
                "dl",
            ]),
            &uri,
        )
        .assert()
        .success();
        let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
        assert!(
            out.contains("| dsr1 | org/m | B200 | VLLM | FP8 | 1024 | 1024 | 8 | 1 | false | 8 |"),
            "{out}"
        );
        env(
            s.infmax(&["fetch", "--run-id", "7", "--artifact", "nope"]),
            &uri,
        )
        .assert()
        .code(2)
        .stderr_eq(str![[r#"
error: run 7 has no artifact nope; its artifacts: results_bmk, server_logs

"#]]);
        s
    })
    .await
    .expect("joined");
    assert!(
        s.read("dl/results_bmk/job1/agg_r1.json")
            .contains("\"hw\":\"b200\"")
    );
}

#[test]
fn api_commands_need_the_repository() {
    Scratch::new().infmax(&["fetch", "--run-id", "1"]).assert().code(2).stderr_eq(str![[r#"
error: fetch reads the GitHub API: set GITHUB_REPOSITORY=OWNER/REPO and GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise)

"#]]);
}
