//! The workflows as GitHub reads them before running anything: a job that
//! calls a reusable workflow must grant every permission the called jobs ask
//! for, or GitHub rejects the whole run ("The nested job … is requesting
//! 'actions: read', but is only allowed 'none'"). actionlint and zizmor do
//! not check this across files.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

fn workflows() -> BTreeMap<String, Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir)
        .expect("read .github/workflows")
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            let text = std::fs::read_to_string(&p).expect("read workflow");
            let v: Value = serde_saphyr::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: {err}", p.display()));
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            out.insert(name, v);
        }
    }
    out
}

/// none < read < write, per scope; `read-all`/`write-all` cover every scope.
fn level(perms: &Value, scope: &str) -> u8 {
    let rank = |s: &str| match s {
        "write" | "write-all" => 2,
        "read" | "read-all" => 1,
        _ => 0,
    };
    match perms {
        Value::String(s) => rank(s),
        Value::Object(m) => m.get(scope).and_then(Value::as_str).map_or(0, rank),
        _ => 0,
    }
}

fn scopes(perms: &Value) -> Vec<String> {
    match perms {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::String(_) => vec!["actions".into(), "contents".into(), "pull-requests".into()],
        _ => vec![],
    }
}

/// The permissions a job runs with: its own, else the workflow's.
fn job_permissions<'a>(workflow: &'a Value, job: &'a Value) -> &'a Value {
    job.get("permissions")
        .or_else(|| workflow.get("permissions"))
        .unwrap_or(&Value::Null)
}

/// Every (caller job, callee file, scope, needed, granted) where a caller
/// grants less than a job of the called workflow asks for.
fn shortfalls(all: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (file, wf) in all {
        let Some(jobs) = wf.get("jobs").and_then(Value::as_object) else {
            continue;
        };
        for (job_name, job) in jobs {
            let Some(callee) = job
                .get("uses")
                .and_then(Value::as_str)
                .and_then(|u| u.strip_prefix("./.github/workflows/"))
            else {
                continue;
            };
            let callee_wf = all.get(callee).unwrap_or_else(|| {
                panic!("{file}: job {job_name} calls {callee}, which does not exist")
            });
            let granted = job_permissions(wf, job);
            let callee_jobs = callee_wf.get("jobs").and_then(Value::as_object);
            for (cjob_name, cjob) in callee_jobs.into_iter().flatten() {
                let asked = job_permissions(callee_wf, cjob);
                for scope in scopes(asked) {
                    let need = level(asked, &scope);
                    let have = level(granted, &scope);
                    if need > have {
                        let name = |l: u8| ["none", "read", "write"][usize::from(l)];
                        out.push(format!(
                            "{file}: job `{job_name}` calls {callee}, whose job `{cjob_name}` asks for {scope}: {} but is granted {}",
                            name(need),
                            name(have)
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn callers_grant_what_called_workflows_ask_for() {
    let all = workflows();
    assert!(all.len() >= 5, "found only {:?}", all.keys());
    let missing = shortfalls(&all);
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn a_caller_granting_too_little_is_found() {
    // The check itself can fail: drop `actions: read` from a caller.
    let mut all = workflows();
    let sweep = all.get_mut("run-sweep.yml").expect("run-sweep.yml");
    let perms = sweep
        .pointer_mut("/jobs/collect-results/permissions")
        .and_then(Value::as_object_mut)
        .expect("collect-results job grants permissions");
    assert!(perms.remove("actions").is_some());
    let missing = shortfalls(&all);
    assert_eq!(
        missing,
        vec![
            "run-sweep.yml: job `collect-results` calls collect-results.yml, whose job `collect` asks for actions: read but is granted none"
                .to_string()
        ]
    );
}
