//! A matrix entry as the environment of its benchmark job: the variables
//! `result process` reads (results.md §2) plus what the engine scripts in
//! `benchmarks/` need (MODEL, CONC, MAX_MODEL_LEN, ...). One mapping, used by
//! `infmax run` and by the workflows (`infmax matrix job-env`).

use super::MatrixEntry;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Variable name -> value.
pub type JobEnv = BTreeMap<String, String>;

/// Parses one matrix entry (as a job receives it, e.g. `toJson(matrix.config)`).
pub fn parse_entry(json: &str, source: &str) -> Result<MatrixEntry> {
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

/// `RESULT_FILENAME` of one benchmark: unique per entry and concurrency, safe as a file name.
pub fn result_name(e: &MatrixEntry, conc: u32) -> String {
    let raw = match e {
        MatrixEntry::Single(s) => format!(
            "{}_{}_{}_tp{}_ep{}_dpa{}_conc{}_{}_{}",
            s.exp_name,
            s.precision,
            s.framework,
            s.tp,
            s.ep,
            s.dp_attn,
            conc,
            s.spec_decoding.as_str(),
            s.runner
        ),
        MatrixEntry::Multi(m) => format!(
            "{}_{}_{}_p{}x{}_d{}x{}_conc{}_{}_{}",
            m.exp_name,
            m.precision,
            m.framework,
            m.prefill.num_worker,
            m.prefill.tp,
            m.decode.num_worker,
            m.decode.tp,
            conc,
            m.spec_decoding.as_str(),
            m.runner
        ),
    };
    crate::fsutil::safe_file_name(&raw)
}

/// The job's environment. Single-node: `CONC` and `RESULT_FILENAME` of that
/// one benchmark. Multi-node: `CONC_LIST` and `RESULT_FILENAMES` (space
/// separated, in the same order), and `CONC`/`RESULT_FILENAME` of the first.
pub fn job_env(e: &MatrixEntry) -> JobEnv {
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
            set("RESULT_FILENAME", result_name(e, s.conc));
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
            let names: Vec<String> = m.conc.iter().map(|&c| result_name(e, c)).collect();
            set("CONC", concs.first().cloned().unwrap_or_default());
            set("CONC_LIST", concs.join(" "));
            set(
                "RESULT_FILENAME",
                names.first().cloned().unwrap_or_default(),
            );
            set("RESULT_FILENAMES", names.join(" "));
        }
    }
    env
}

/// The same environment with `RESULT_FILENAME`/`CONC` set for one concurrency
/// of the entry (multi-node entries run one benchmark per value).
pub fn job_env_at(e: &MatrixEntry, conc: u32) -> JobEnv {
    let mut env = job_env(e);
    env.insert("CONC".into(), conc.to_string());
    env.insert("RESULT_FILENAME".into(), result_name(e, conc));
    env
}

/// `KEY=VALUE` lines for a shell (`set -a; . file`), values single-quoted.
pub fn shell_lines(env: &JobEnv) -> String {
    env.iter()
        .map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', r"'\''")))
        .collect()
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
        let env = job_env(&e);
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
            "gptoss_1k1k_fp4_vllm_tp2_ep1_dpafalse_conc4_none_h100"
        );
        assert_has_process_vars(&env, false);
    }

    #[test]
    fn multi_node_entry_lists_one_result_per_concurrency() {
        let e = parse_entry(MULTI, "entry").expect("parses");
        let env = job_env(&e);
        assert_eq!(env["CONC_LIST"], "64 128");
        assert_eq!(
            env["RESULT_FILENAMES"],
            "dsr1_1k1k_fp4_dynamo-trt_p2x4_d1x16_conc64_mtp_gb200 dsr1_1k1k_fp4_dynamo-trt_p2x4_d1x16_conc128_mtp_gb200"
        );
        assert_eq!(env["PREFILL_GPUS"], "8");
        assert_eq!(env["SPEC_DECODING"], "mtp");
        assert_eq!(env["DISAGG"], "true");
        assert_eq!(env["EXP_NAME"], "dsr1_1k1k");
        assert_eq!(env["DECODE_ADDITIONAL_SETTINGS"], "");
        assert_eq!(job_env_at(&e, 128)["CONC"], "128");
        assert_has_process_vars(&env, true);
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
