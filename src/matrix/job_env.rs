//! A matrix entry as the environment of its benchmark job: the variables
//! `result process` reads (results.md §2) plus what the engine scripts in
//! `benchmarks/` need (MODEL, CONC, MAX_MODEL_LEN, ...). One mapping, used by
//! `infmax run` and by the workflows (`infmax matrix job-env`).

use super::MatrixEntry;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Variable name -> value.
pub(crate) type JobEnv = BTreeMap<String, String>;

/// Parses one matrix entry (as a job receives it, e.g. `toJson(matrix.config)`).
pub(crate) fn parse_entry(json: &str, source: &str) -> Result<MatrixEntry> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::usage(format!("{source}: not JSON: {e}")))?;
    let multi = value.get("prefill").is_some();
    let parsed = if multi {
        serde_json::from_value(value).map(MatrixEntry::Multi)
    } else {
        serde_json::from_value(value).map(MatrixEntry::Single)
    };
    parsed.map_err(|e| {
        Error::usage(format!(
            "{source}: not a {} matrix entry: {e} (pass one entry of `infmax matrix ...` output)",
            if multi { "multi-node" } else { "single-node" }
        ))
    })
}

/// Where a job runs: the runner's name (unique per machine, GitHub's
/// `RUNNER_NAME`) and the GPUs of one of its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    pub(crate) runner_name: String,
    pub(crate) gpus_per_node: u64,
}

impl Host {
    /// `runner_name` or, without one (a laptop), the entry's runner label;
    /// `gpus_per_node` or the runner type's default.
    pub(crate) fn new(
        e: &MatrixEntry,
        runner_name: Option<&str>,
        gpus_per_node: Option<u64>,
    ) -> Host {
        let runner = match e {
            MatrixEntry::Single(s) => &s.runner,
            MatrixEntry::Multi(m) => &m.runner,
        };
        Host {
            runner_name: runner_name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or(runner)
                .to_string(),
            gpus_per_node: gpus_per_node.unwrap_or_else(|| default_gpus_per_node(runner)),
        }
    }
}

/// GPUs per node of a runner type: 4 on Grace-Blackwell trays (GB200/GB300
/// NVL72), 8 on every other GPU server the configs name.
pub(crate) fn default_gpus_per_node(runner_type: &str) -> u64 {
    if runner_type.starts_with("gb") { 4 } else { 8 }
}

/// `RESULT_FILENAME` of the job, as the seed's recipes expect (compat.md §3),
/// made safe as a file name. Multi-node: one name for all its concurrencies.
pub(crate) fn result_name(e: &MatrixEntry, runner_name: &str) -> String {
    let raw = match e {
        MatrixEntry::Single(s) => format!(
            "{}_{}_{}_tp{}_ep{}_dpa_{}_conc{}_specdecode_{}_{}",
            s.exp_name,
            s.precision,
            s.framework,
            s.tp,
            s.ep,
            s.dp_attn,
            s.conc,
            s.spec_decoding.as_str(),
            runner_name
        ),
        MatrixEntry::Multi(m) => format!(
            "{}_{}_ptp{}pep{}_dtp{}dep{}_{}_specdec-{}_conc{}_{}",
            m.exp_name,
            m.precision,
            m.prefill.tp,
            m.prefill.ep,
            m.decode.tp,
            m.decode.ep,
            m.framework,
            m.spec_decoding.as_str(),
            m.conc
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("x"),
            runner_name
        ),
    };
    crate::fsutil::safe_file_name(&raw)
}

/// The result file (without `.json`) of one benchmark of the entry:
/// single-node, `RESULT_FILENAME`; multi-node, `RESULT_FILENAME_conc{C}`, so
/// its processed file matches the artifact's `agg_{RESULT_FILENAME}_*.json`.
pub(crate) fn run_result_name(e: &MatrixEntry, conc: u32, runner_name: &str) -> String {
    let name = result_name(e, runner_name);
    match e {
        MatrixEntry::Single(_) => name,
        MatrixEntry::Multi(_) => format!("{name}_conc{conc}"),
    }
}

/// With `PREFILL_NODES`/`DECODE_NODES` in the additional settings, the
/// pool's nodes x GPUs per node must be its GPUs (compat.md §2).
pub(crate) fn check_nodes(e: &MatrixEntry, gpus_per_node: u64) -> Result<()> {
    let MatrixEntry::Multi(m) = e else {
        return Ok(());
    };
    let settings: Vec<&String> = m
        .prefill
        .additional_settings
        .iter()
        .chain(&m.decode.additional_settings)
        .collect();
    let mut problems = Vec::new();
    for (var, pool, worker) in [
        ("PREFILL_NODES", "prefill", &m.prefill),
        ("DECODE_NODES", "decode", &m.decode),
    ] {
        let Some(value) = settings
            .iter()
            .rev()
            .find_map(|s| s.strip_prefix(var).and_then(|r| r.strip_prefix('=')))
        else {
            continue;
        };
        let Ok(nodes) = value.trim().parse::<u64>() else {
            problems.push(format!("{var}={value:?} is not a whole number"));
            continue;
        };
        if nodes.saturating_mul(gpus_per_node) != worker.gpus() {
            problems.push(format!(
                "{var}={nodes} gives {} GPUs ({nodes} nodes x {gpus_per_node} GPUs per node), but the {pool} pool needs {} (num-worker {} x max(tp {}, ep {}))",
                nodes.saturating_mul(gpus_per_node),
                worker.gpus(),
                worker.num_worker,
                worker.tp,
                worker.ep
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{}: {}; fix additional-settings or the pool in the master config (GPUS_PER_NODE sets the GPUs per node)",
            m.exp_name,
            problems.join("; ")
        )))
    }
}

/// The job's environment. Single-node: `CONC` and `RESULT_FILENAME` of that
/// one benchmark. Multi-node: `CONC_LIST` and `RESULT_FILENAMES` (space
/// separated, in the same order), and `CONC`/`RESULT_FILENAME` of the first.
pub(crate) fn job_env(e: &MatrixEntry, host: &Host) -> Result<JobEnv> {
    check_nodes(e, host.gpus_per_node)?;
    let mut env = JobEnv::new();
    // The fields both kinds of entry have, by JSON key (kebab-case) -> VAR.
    let json = serde_json::to_value(e).unwrap_or_default();
    for (key, var) in [
        ("image", "IMAGE"),
        ("model", "MODEL"),
        ("model-prefix", "MODEL_PREFIX"),
        ("precision", "PRECISION"),
        ("framework", "FRAMEWORK"),
        ("runner", "RUNNER_TYPE"),
        ("isl", "ISL"),
        ("osl", "OSL"),
        ("spec-decoding", "SPEC_DECODING"),
        ("exp-name", "EXP_NAME"),
        ("max-model-len", "MAX_MODEL_LEN"),
        ("disagg", "DISAGG"),
        ("run-eval", "RUN_EVAL"),
    ] {
        let text = match &json[key] {
            serde_json::Value::String(v) => v.clone(),
            v => v.to_string(),
        };
        env.insert(var.to_string(), text);
    }
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    match e {
        MatrixEntry::Single(s) => {
            set("IS_MULTINODE", "false".into());
            set("TP", s.tp.to_string());
            set("EP_SIZE", s.ep.to_string());
            set("DP_ATTENTION", s.dp_attn.to_string());
            set("CONC", s.conc.to_string());
            set("RESULT_FILENAME", result_name(e, &host.runner_name));
        }
        MatrixEntry::Multi(m) => {
            set("IS_MULTINODE", "true".into());
            set("PREFILL_GPUS", m.prefill.gpus().to_string());
            set("DECODE_GPUS", m.decode.gpus().to_string());
            set("PREFILL_NUM_WORKERS", m.prefill.num_worker.to_string());
            set("PREFILL_TP", m.prefill.tp.to_string());
            set("PREFILL_EP", m.prefill.ep.to_string());
            set("PREFILL_DP_ATTN", m.prefill.dp_attn.to_string());
            set(
                "PREFILL_ADDITIONAL_SETTINGS",
                m.prefill.additional_settings.join("\n"),
            );
            set("DECODE_NUM_WORKERS", m.decode.num_worker.to_string());
            set("DECODE_TP", m.decode.tp.to_string());
            set("DECODE_EP", m.decode.ep.to_string());
            set("DECODE_DP_ATTN", m.decode.dp_attn.to_string());
            set(
                "DECODE_ADDITIONAL_SETTINGS",
                m.decode.additional_settings.join("\n"),
            );
            let concs: Vec<String> = m.conc.iter().map(u32::to_string).collect();
            let names: Vec<String> = m
                .conc
                .iter()
                .map(|&c| run_result_name(e, c, &host.runner_name))
                .collect();
            set("CONC", concs.first().cloned().unwrap_or_default());
            set("CONC_LIST", concs.join(" "));
            set("RESULT_FILENAME", result_name(e, &host.runner_name));
            set("RESULT_FILENAMES", names.join(" "));
        }
    }
    Ok(env)
}

/// The same environment with `RESULT_FILENAME`/`CONC` set for one
/// benchmark of the entry (multi-node entries run one per concurrency).
pub(crate) fn job_env_at(e: &MatrixEntry, conc: u32, host: &Host) -> Result<JobEnv> {
    let mut env = job_env(e, host)?;
    env.insert("CONC".into(), conc.to_string());
    env.insert(
        "RESULT_FILENAME".into(),
        run_result_name(e, conc, &host.runner_name),
    );
    Ok(env)
}

/// `KEY=VALUE` lines for a shell (`set -a; . file`), values single-quoted.
pub(crate) fn shell_lines(env: &JobEnv) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}={}\n", shell_quote(v)))
        .collect()
}

/// `v` as one POSIX shell word: `'...'`, a `'` written `'\''`.
pub(crate) fn single_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// One line whatever the value: `'...'`, or bash's `$'...'` when the value
/// holds a control character (a newline must not start a line the Actions
/// runner would read as a workflow command).
fn shell_quote(v: &str) -> String {
    if !v.chars().any(char::is_control) {
        return single_quote(v);
    }
    let mut out = String::from("$'");
    for c in v.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINGLE: &str = r#"{"image":"vllm/vllm-openai:v0.11.0","model":"openai/gpt-oss-120b","model-prefix":"gptoss","precision":"fp4","framework":"vllm","runner":"h100","isl":1024,"osl":1024,"tp":2,"ep":1,"dp-attn":false,"conc":4,"spec-decoding":"none","exp-name":"gptoss_1k1k","max-model-len":2248,"disagg":false,"run-eval":true}"#;
    const MULTI: &str = r#"{"image":"i","model":"m","model-prefix":"dsr1","precision":"fp4","framework":"dynamo-trt","runner":"gb200","isl":1024,"osl":1024,"spec-decoding":"mtp","prefill":{"num-worker":2,"tp":4,"ep":4,"dp-attn":true,"additional-settings":["A=1"]},"decode":{"num-worker":1,"tp":16,"ep":16,"dp-attn":true},"conc":[64,128],"max-model-len":2248,"exp-name":"dsr1_1k1k","disagg":true,"run-eval":false}"#;

    /// Everything `result process` needs for that kind of run is there.
    fn assert_has_process_vars(env: &JobEnv, multinode: bool) {
        let missing: Vec<_> = crate::results::process::required_vars(multinode)
            .into_iter()
            .filter(|k| !env.contains_key(*k))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn single_node_entry_round_trips_into_the_job_env() {
        let e = parse_entry(SINGLE, "entry").expect("parses");
        assert_eq!(serde_json::to_string(&e).expect("json"), SINGLE);
        let env = job_env(&e, &Host::new(&e, Some("h100-cw_1"), None)).expect("env");
        assert_eq!(env["TP"], "2");
        assert_eq!(env["EP_SIZE"], "1");
        assert_eq!(env["DP_ATTENTION"], "false");
        assert_eq!(env["RUN_EVAL"], "true");
        assert_eq!(env["MODEL"], "openai/gpt-oss-120b");
        assert_eq!(env["MAX_MODEL_LEN"], "2248");
        assert_eq!(env["SPEC_DECODING"], "none");
        assert_eq!(env["RUNNER_TYPE"], "h100");
        assert_eq!(env["IS_MULTINODE"], "false");
        assert_eq!(
            env["RESULT_FILENAME"],
            "gptoss_1k1k_fp4_vllm_tp2_ep1_dpa_false_conc4_specdecode_none_h100-cw_1"
        );
        let laptop = job_env(&e, &Host::new(&e, None, None)).expect("env");
        assert_eq!(
            laptop["RESULT_FILENAME"],
            "gptoss_1k1k_fp4_vllm_tp2_ep1_dpa_false_conc4_specdecode_none_h100",
            "without a runner name, the runner label"
        );
        assert_has_process_vars(&env, false);
    }

    #[test]
    fn multi_node_entry_lists_one_result_per_concurrency() {
        let e = parse_entry(MULTI, "entry").expect("parses");
        let host = Host::new(&e, Some("gb200-nv_0"), None);
        let env = job_env(&e, &host).expect("env");
        assert_eq!(env["CONC_LIST"], "64 128");
        let name = "dsr1_1k1k_fp4_ptp4pep4_dtp16dep16_dynamo-trt_specdec-mtp_conc64x128_gb200-nv_0";
        assert_eq!(env["RESULT_FILENAME"], name);
        assert_eq!(
            env["RESULT_FILENAMES"],
            format!("{name}_conc64 {name}_conc128")
        );
        assert_eq!(env["PREFILL_GPUS"], "8");
        assert_eq!(env["DECODE_GPUS"], "16");
        assert_eq!(env["SPEC_DECODING"], "mtp");
        assert_eq!(env["DISAGG"], "true");
        assert_eq!(env["EXP_NAME"], "dsr1_1k1k");
        assert_eq!(env["DECODE_ADDITIONAL_SETTINGS"], "");
        let at = job_env_at(&e, 128, &host).expect("env");
        assert_eq!(at["CONC"], "128");
        assert_eq!(at["RESULT_FILENAME"], format!("{name}_conc128"));
        assert_has_process_vars(&env, true);
    }

    #[test]
    fn pool_gpus_count_expert_parallel_ranks() {
        // Data-parallel attention: tp 1, ep 4 -> 4 GPUs per worker, not 1.
        let e = parse_entry(
            &MULTI
                .replace(
                    r#""num-worker":2,"tp":4,"ep":4"#,
                    r#""num-worker":3,"tp":1,"ep":4"#,
                )
                .replace(r#""tp":16,"ep":16"#, r#""tp":8,"ep":4"#),
            "entry",
        )
        .expect("parses");
        let env = job_env(&e, &Host::new(&e, None, None)).expect("env");
        assert_eq!(
            (env["PREFILL_GPUS"].as_str(), env["DECODE_GPUS"].as_str()),
            ("12", "8")
        );
    }

    #[test]
    fn node_settings_must_agree_with_the_pools() {
        let with = |p: &str, d: &str| {
            MULTI
                .replace(r#"["A=1"]"#, &format!(r#"["A=1","PREFILL_NODES={p}"]"#))
                .replace(
                    r#""dp-attn":true},"conc""#,
                    &format!(
                        r#""dp-attn":true,"additional-settings":["DECODE_NODES={d}"]}},"conc""#
                    ),
                )
        };
        // gb200: 4 GPUs per node; prefill 2x4 = 8 GPUs, decode 1x16 = 16.
        let ok = parse_entry(&with("2", "4"), "entry").expect("parses");
        job_env(&ok, &Host::new(&ok, None, None)).expect("2x4 and 4x4 agree");
        let bad = parse_entry(&with("1", "4"), "entry").expect("parses");
        let err = job_env(&bad, &Host::new(&bad, None, None)).expect_err("1x4 != 8");
        assert!(
            err.to_string().contains("PREFILL_NODES=1 gives 4 GPUs (1 nodes x 4 GPUs per node), but the prefill pool needs 8 (num-worker 2 x max(tp 4, ep 4))"),
            "{err}"
        );
        // The same entry on 8-GPU nodes: 1 prefill node is right, 4 decode nodes are not.
        let err = job_env(&bad, &Host::new(&bad, None, Some(8))).expect_err("4x8 != 16");
        assert!(
            err.to_string().contains("DECODE_NODES=4 gives 32 GPUs"),
            "{err}"
        );
        assert!(!err.to_string().contains("PREFILL_NODES"), "{err}");
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        let e = parse_entry(r#"{"image":"i"}"#, "INFMAX_ENTRY").expect_err("incomplete");
        assert!(
            e.to_string()
                .contains("INFMAX_ENTRY: not a single-node matrix entry: missing field `model`"),
            "{e}"
        );
        let e = parse_entry("[1]x", "INFMAX_ENTRY").expect_err("not json");
        assert!(e.to_string().contains("INFMAX_ENTRY: not JSON"), "{e}");
        let extra = SINGLE.replace("\"tp\":2", "\"tp\":2,\"tpp\":1");
        let e = parse_entry(&extra, "entry").expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `tpp`"), "{e}");
    }

    #[test]
    fn shell_lines_quote_values() {
        let mut env = JobEnv::new();
        env.insert("A".into(), "it's $HOME".into());
        assert_eq!(shell_lines(&env), "A='it'\\''s $HOME'\n");
    }
}
