//! The regression gate: `infmax run --compare-to` and `infmax compare` on
//! runs of the simulator whose timing is known (a 10% slower engine is
//! `--sim-slowdown 1.1`), then the command's inputs, outputs and errors,
//! and `--baseline RUN_ID|latest` through a local mock of the GitHub API.
//! (benches/compare_noise.sh runs 20 identical pairs for the false-positive
//! count; here 2 keep the test short.)

mod common;

use common::Scratch;
use serde_json::{Value, json};
use snapbox::str;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Two H100 series and one B200 series, three concurrencies each.
const CONFIG: &str = include_str!("../benches/compare-master.yaml");

/// The simulator runs one at a time: their timing is what is measured, and
/// two at once on a 2-core machine would measure each other. Every other
/// test here takes it too, so none runs beside a timed one.
static SIM_RUNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn scratch() -> Scratch {
    let s = Scratch::new();
    s.write("cfg/tiny-master.yaml", CONFIG);
    s.write("cfg/runners.yaml", "h100: [h100-x_0]\nb200: [b200-x_0]\n");
    s
}

/// The first run after a build pages the binary in while it measures: twice,
/// right after a build, the 10%-slower test read +6.8% against such a
/// baseline (never otherwise). A throwaway run goes first.
static WARM: std::sync::Once = std::sync::Once::new();

/// `infmax run` of CONFIG into `out` (simulated clock at 1x: at 2x the
/// client's and the machine's jitter moved TPOT by ±4 points), then `extra`.
fn run(s: &Scratch, out: &str, extra: &[&str]) -> snapbox::cmd::OutputAssert {
    WARM.call_once(|| {
        let w = scratch();
        let _ = run_now(&w, "warm", &["--max-conc", "4"]);
    });
    run_now(s, out, extra)
}

fn run_now(s: &Scratch, out: &str, extra: &[&str]) -> snapbox::cmd::OutputAssert {
    let args = [
        &[
            "run",
            "--config-files",
            "cfg/tiny-master.yaml",
            "--runner-config",
            "cfg/runners.yaml",
            "--sim-speedup",
            "1",
            "--out",
            out,
        ][..],
        extra,
    ]
    .concat();
    s.infmax(&args).assert()
}

fn comparison(s: &Scratch, file: &str) -> Value {
    serde_json::from_str(&s.read(file)).expect("compare.json")
}

fn verdicts(c: &Value, metric: &str) -> Vec<(String, String, f64)> {
    c["series"]
        .as_array()
        .expect("series")
        .iter()
        .flat_map(|s| {
            s["metrics"]
                .as_array()
                .expect("metrics")
                .iter()
                .filter(|m| m["metric"] == metric)
                .map(|m| {
                    (
                        s["series"].as_str().unwrap_or_default().to_string(),
                        m["verdict"].as_str().unwrap_or_default().to_string(),
                        m["median_change"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_ten_percent_slower_engine_is_flagged_on_every_series() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = scratch();
    run(&s, "base", &[]).success();
    let out = run(
        &s,
        "slow",
        &[
            "--sim-slowdown",
            "1.1",
            "--compare-to",
            "base",
            "--fail-on-regression",
        ],
    )
    .code(4);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("### Comparison with the baseline"),
        "{stdout}"
    );
    let c = comparison(&s, "slow/compare/compare.json");
    assert_eq!(c["series"].as_array().map(Vec::len), Some(3), "{c}");
    // TPOT measured within 2 points of +10% on every series, and flagged.
    for (series, verdict, change) in verdicts(&c, "tpot") {
        assert_eq!(verdict, "regression", "{series}");
        assert!((0.08..=0.12).contains(&change), "{series}: {change}");
    }
    // Interactivity at matched throughput: ~ -9% (1/1.1), flagged too.
    for (series, verdict, change) in verdicts(&c, "intvty") {
        assert_eq!(verdict, "regression", "{series}");
        assert!((-0.12..=-0.06).contains(&change), "{series}: {change}");
    }
    // The overlay chart: baseline dashed, current solid.
    let svg = s.read("slow/compare/compare_tiny_1k1k.svg");
    assert!(
        svg.contains("(baseline)") && svg.contains("stroke-dasharray"),
        "{svg}"
    );
    assert!(!s.read("slow/compare/compare.md").is_empty());
}

#[test]
fn identical_reruns_are_no_regression() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = scratch();
    for pair in ["a", "b"] {
        run(&s, &format!("{pair}1"), &[]).success();
        run(
            &s,
            &format!("{pair}2"),
            &["--compare-to", &format!("{pair}1"), "--fail-on-regression"],
        )
        .success();
        let c = comparison(&s, &format!("{pair}2/compare/compare.json"));
        assert_eq!(c["regressions"], 0, "{c}");
        assert_eq!(c["series"].as_array().map(Vec::len), Some(3), "{c}");
    }
}

/// A result of a series at `conc` with TPOT `tpot` s (interactivity 1/tpot,
/// throughput proportional to concurrency).
fn row(tp: u64, conc: u64, tpot: f64) -> Value {
    json!({"hw": "h100", "framework": "vllm", "precision": "fp8", "spec_decoding": "none",
           "infmax_model_prefix": "dsr1", "isl": 1024, "osl": 1024, "tp": tp, "ep": 1,
           "dp_attention": "false", "is_multinode": false, "conc": conc, "median_ttft": 0.2,
           "median_tpot": tpot, "median_intvty": 1.0 / tpot, "tput_per_gpu": conc as f64 / tpot / tp as f64})
}

#[test]
fn compare_reads_files_and_folders_and_lists_new_and_gone_series() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Scratch::new();
    let base: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.010)).collect();
    let mut cur: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.0104)).collect();
    cur.push(row(4, 4, 0.01));
    s.write("base/agg_bmk.json", &Value::from(base).to_string());
    for (i, r) in cur.iter().enumerate() {
        s.write(&format!("cur/bmk_{i}/agg_{i}.json"), &r.to_string());
    }
    // +4% TPOT is within the default 5%; --threshold tpot=3% makes it a
    // regression, and --fail-on-regression exit 4.
    s.infmax(&[
        "compare",
        "--baseline",
        "base/agg_bmk.json",
        "--current",
        "cur",
    ])
    .assert()
    .success();
    let c = comparison(&s, "compare/compare.json");
    assert_eq!(verdicts(&c, "tpot")[0].1, "same");
    assert_eq!(
        c["new"],
        json!(["dsr1 H100 vllm fp8 1k1k tp4 ep1 dpa false"])
    );
    assert_eq!(c["gone"], json!([]));
    let md = s.read("compare/compare.md");
    assert!(
        md.contains(
            "New series (only in the current run):\n\n- dsr1 H100 vllm fp8 1k1k tp4 ep1 dpa false"
        ),
        "{md}"
    );
    assert!(
        md.contains("ttft not judged (no repeated runs; set --threshold ttft=P%)"),
        "{md}"
    );
    s.infmax(&[
        "compare",
        "--baseline",
        "base",
        "--current",
        "cur",
        "--threshold",
        "tpot=3%",
        "--fail-on-regression",
        "--out",
        "strict",
    ])
    .assert()
    .code(4)
    .stderr_eq(str![[r#"
error: 1 metric(s) regressed beyond their threshold (see strict/compare.md)

"#]]);
    let c = comparison(&s, "strict/compare.json");
    assert_eq!(verdicts(&c, "tpot")[0].1, "regression");
    assert_eq!(
        c["thresholds"][3],
        json!({"metric": "tpot", "value": 0.03, "source": "user"})
    );
}

#[test]
fn compare_errors_name_what_to_fix() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Scratch::new();
    s.write("base.json", "[]");
    s.write("bad.json", r#"[{"conc": 4}]"#);
    s.write("r.json", &Value::from(vec![row(8, 4, 0.01)]).to_string());
    for (args, code, msg) in [
        (
            vec![
                "--baseline",
                "r.json",
                "--current",
                "r.json",
                "--threshold",
                "tput",
            ],
            2,
            "error: invalid value 'tput' for '--threshold <METRIC=PCT>...': no `=`; expected METRIC=PERCENT with METRIC one of tput, intvty, ttft, tpot, e.g. tput=3%\n\nFor more information, try '--help'.\n",
        ),
        (
            vec![
                "--baseline",
                "r.json",
                "--current",
                "r.json",
                "--threshold",
                "speed=3%",
            ],
            2,
            "error: invalid value 'speed=3%' for '--threshold <METRIC=PCT>...': unknown metric; expected METRIC=PERCENT with METRIC one of tput, intvty, ttft, tpot, e.g. tput=3%\n\nFor more information, try '--help'.\n",
        ),
        (
            vec!["--baseline", "nowhere", "--current", "r.json"],
            2,
            "error: nowhere: no such file or folder (expected an agg_*.json file, a folder of results, a workflow run id or `latest`)\n",
        ),
        (
            vec!["--baseline", "bad.json", "--current", "r.json"],
            1,
            "error: bad.json: [0]: not a processed result (no `hw`); expected agg_*.json written by `infmax result process` or `collect results`\n1 problem found\n",
        ),
        (
            vec!["--baseline", "r.json", "--current", "latest"],
            2,
            "error: --current latest: `latest` names a baseline; give the run judged as a file, folder or run id\n",
        ),
        (
            vec!["--baseline", "r.json", "--current", "base.json"],
            1,
            "error: base.json: expected a processed result or a JSON array of them\n1 problem found\n",
        ),
        (
            vec!["--baseline", "7", "--current", "r.json"],
            2,
            "error: compare with a workflow run reads the GitHub API: set GITHUB_REPOSITORY=OWNER/REPO and GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise)\n",
        ),
    ] {
        let mut cmd = s.infmax(&[&["compare"][..], &args[..]].concat());
        cmd = cmd.env_remove("GITHUB_REPOSITORY");
        cmd.assert().code(code).stderr_eq(msg);
        assert!(!s.path().join("compare/compare.json").exists(), "{args:?}");
    }
}

/// `--baseline latest`: the newest successful run of the workflow on the
/// default branch that has results (a newer one without `bmk_*` artifacts,
/// a skipped sweep, is passed over), its per-job artifacts downloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_successful_run_of_the_default_branch_is_the_baseline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"default_branch": "trunk"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/workflows/run-sweep.yml/runs"))
        .and(query_param("branch", "trunk"))
        .and(query_param("status", "success"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 2, "workflow_runs": [{"id": 9}, {"id": 8}]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    serve_artifacts(
        &server,
        9,
        json!([{"id": 90, "name": "changelog-metadata", "expired": false}]),
    )
    .await;
    serve_artifacts(
        &server,
        8,
        json!([{"id": 81, "name": "bmk_a", "expired": false},
               {"id": 82, "name": "raw_a", "expired": false},
               {"id": 83, "name": "results_bmk", "expired": false}]),
    )
    .await;
    let base: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.010)).collect();
    serve_zip(&server, 81, &base).await;
    let s = Scratch::new();
    let cur: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.012)).collect();
    s.write("cur/agg_bmk.json", &Value::from(cur).to_string());
    let uri = server.uri();
    let s = tokio::task::spawn_blocking(move || {
        let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
        s.infmax(&[
            "compare",
            "--baseline",
            "latest",
            "--current",
            "cur",
            "--step-summary",
            "--fail-on-regression",
        ])
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "tok")
        .env("GITHUB_API_URL", &uri)
        .env(
            "GITHUB_WORKFLOW_REF",
            "o/r/.github/workflows/run-sweep.yml@refs/pull/3/merge",
        )
        .env("GITHUB_STEP_SUMMARY", "summary.md")
        .assert()
        .code(4);
        s
    })
    .await
    .expect("join");
    let c = comparison(&s, "compare/compare.json");
    assert_eq!(c["baseline"], "run 8 of run-sweep.yml on trunk");
    let tpot = &verdicts(&c, "tpot")[0];
    assert_eq!(tpot.1, "regression");
    assert!((tpot.2 - 0.2).abs() < 1e-9, "{tpot:?}");
    let summary = s.read("summary.md");
    assert!(
        summary.starts_with("### Comparison with the baseline\n\n**▼ "),
        "{summary}"
    );
    assert!(
        s.path()
            .join("compare/fetched/baseline-run-8/bmk_a/agg_0.json")
            .exists()
    );
}

/// Serves run `run`'s artifact list.
async fn serve_artifacts(server: &MockServer, run: u64, artifacts: Value) {
    Mock::given(method("GET"))
        .and(path(format!("/repos/o/r/actions/runs/{run}/artifacts")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": artifacts.as_array().map_or(0, Vec::len), "artifacts": artifacts}),
        ))
        .mount(server)
        .await;
}

/// Serves artifact `id` (downloaded once) as a zip of one `agg_*.json` per row.
async fn serve_zip(server: &MockServer, id: u64, rows: &[Value]) {
    let files: Vec<(String, String)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("agg_{i}.json"), r.to_string()))
        .collect();
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    Mock::given(method("GET"))
        .and(path(format!("/repos/o/r/actions/artifacts/{id}/zip")))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(common::zip_of(&files)))
        .expect(1)
        .mount(server)
        .await;
}

/// Serves run `run` with one `bmk_` artifact holding `rows`.
async fn serve_run(server: &MockServer, run: u64, rows: &[Value]) {
    let id = run * 10;
    serve_artifacts(
        server,
        run,
        json!([{"id": id, "name": format!("bmk_{run}"), "expired": false}]),
    )
    .await;
    serve_zip(server, id, rows).await;
}

/// A sweep runs only the configs its changelog entry names: `latest` takes
/// each series from the newest run of the default branch that measured it,
/// passing over a fork's pull-request run whose branch is also `main`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_takes_each_series_from_the_newest_run_that_has_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/workflows/run-sweep.yml/runs"))
        .and(query_param("branch", "main"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": 4, "workflow_runs": [
            {"id": 14, "event": "pull_request", "head_repository": {"full_name": "fork/r"}},
            {"id": 13, "event": "push", "head_repository": {"full_name": "o/r"}},
            {"id": 12, "event": "push", "head_repository": {"full_name": "o/r"}},
            {"id": 11, "event": "push", "head_repository": {"full_name": "o/r"}}]}),
        ))
        .mount(&server)
        .await;
    // The fork's run would be a perfect (and false) baseline.
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/runs/14/artifacts"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let tp8 = |tpot: f64| -> Vec<Value> { [4, 8, 16].iter().map(|c| row(8, *c, tpot)).collect() };
    let tp4 = |tpot: f64| -> Vec<Value> { [4, 8, 16].iter().map(|c| row(4, *c, tpot)).collect() };
    // Run 13 measured tp8 only (10 ms); run 12 both (tp8 at 20 ms, which
    // must not be used, tp4 at 10 ms); run 11 is never needed.
    serve_run(&server, 13, &tp8(0.010)).await;
    serve_run(&server, 12, &[tp8(0.020), tp4(0.010)].concat()).await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/actions/runs/11/artifacts"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let s = Scratch::new();
    s.write(
        "cur/agg_bmk.json",
        &Value::from([tp8(0.010), tp4(0.012)].concat()).to_string(),
    );
    let uri = server.uri();
    let s = tokio::task::spawn_blocking(move || {
        let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
        s.infmax(&[
            "compare",
            "--baseline",
            "latest",
            "--current",
            "cur",
            "--workflow",
            "run-sweep.yml",
            "--branch",
            "main",
        ])
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_TOKEN", "tok")
        .env("GITHUB_API_URL", &uri)
        .assert()
        .success();
        s
    })
    .await
    .expect("join");
    let c = comparison(&s, "compare/compare.json");
    assert_eq!(
        c["baseline"],
        "runs 13, 12 of run-sweep.yml on main (the newest with each series)"
    );
    assert_eq!(c["new"], json!([]));
    let mut tpot = verdicts(&c, "tpot");
    tpot.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(tpot.len(), 2, "{tpot:?}");
    // tp4: +20% against run 12; tp8: unchanged against run 13 (not run 12's 20 ms).
    assert!(
        tpot[0].0.contains("tp4") && (tpot[0].2 - 0.2).abs() < 1e-9,
        "{tpot:?}"
    );
    assert!(
        tpot[1].0.contains("tp8") && tpot[1].2.abs() < 1e-9,
        "{tpot:?}"
    );
    assert_eq!(tpot[0].1, "regression");
}

/// `infmax run --repeats 2` measures every concurrency twice (`…_r1`,
/// `…_r2`); `compare` takes its noise thresholds from their spread and says so.
#[test]
fn repeats_set_the_noise_thresholds() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = scratch();
    run(&s, "rep", &["--repeats", "2", "--max-conc", "16"]).success();
    let processed: Vec<String> = std::fs::read_dir(s.path().join("rep/processed"))
        .expect("processed")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(processed.len(), 12, "{processed:?}");
    assert!(
        processed.iter().any(|n| n.ends_with("_r2.json")),
        "{processed:?}"
    );
    // Each result carries its repeat, which compare groups by.
    for n in &processed {
        let r: Value = serde_json::from_str(&s.read(&format!("rep/processed/{n}"))).expect("json");
        let k = if n.ends_with("_r1.json") { "1" } else { "2" };
        assert_eq!(r["repeat"], k, "{n}");
    }
    s.infmax(&["compare", "--baseline", "rep", "--current", "rep"])
        .assert()
        .success();
    let c = comparison(&s, "compare/compare.json");
    // TTFT and TPOT at each concurrency: 3 series, one repeat pair each, on
    // either side; TTFT is judged now that its noise is known. (Throughput
    // at matched interactivity has no readable point on these two-point
    // curves, so it keeps its default.)
    for t in &c["thresholds"].as_array().expect("thresholds")[2..] {
        assert_eq!(t["source"], json!({"repeats": {"pairs": 6}}), "{t}");
        assert!(t["value"].as_f64().is_some_and(|v| v >= 0.01), "{t}");
    }
    assert_eq!(c["regressions"], 0, "{c}");
    assert!(
        s.read("compare/compare.md")
            .contains("repeat-to-repeat changes")
    );
}

/// The overlay charts open the report: `infmax report --compare DIR` shows
/// them as images (a chart read back from a folder runs no script), and a
/// comparison that did not run is noted, not an error.
#[test]
fn the_report_shows_the_comparison() {
    let _one = SIM_RUNS.lock().unwrap_or_else(|e| e.into_inner());
    let s = Scratch::new();
    let base: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.010)).collect();
    let cur: Vec<Value> = [4, 8, 16].iter().map(|c| row(8, *c, 0.011)).collect();
    s.write("base/agg_bmk.json", &Value::from(base).to_string());
    for (i, r) in cur.iter().enumerate() {
        s.write(&format!("cur/agg_{i}.json"), &r.to_string());
    }
    s.infmax(&["compare", "--baseline", "base", "--current", "cur"])
        .assert()
        .success();
    s.write(
        "compare/compare_evil_1k1k.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    );
    s.infmax(&["report", "cur", "--out", "rep", "--compare", "compare"])
        .assert()
        .success();
    let html = s.read("rep/report.html");
    assert!(
        html.contains("<h2>Comparison with the baseline</h2>"),
        "{html}"
    );
    assert!(
        html.contains("src=\"data:image/svg+xml;charset=utf-8,%3Csvg"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(s.path().join("rep/compare_dsr1_1k1k.svg").exists());
    s.infmax(&["report", "cur", "--out", "rep2", "--compare", "nothing"])
        .assert()
        .success()
        .stderr_eq("infmax report: no comparison in nothing; the report has none\n");
}
