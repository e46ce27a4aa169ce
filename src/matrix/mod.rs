//! Job-matrix generation (matrix.md). Each command is its own module and
//! returns a list of [`MatrixEntry`]; eval marking and output are shared.

pub(crate) mod eval_marks;
pub(crate) mod full_sweep;
pub(crate) mod job_env;
pub(crate) mod output;
pub(crate) mod runner_model_sweep;
pub(crate) mod test_config;

use crate::config::{ConfigEntry, MultiNodeItem, SingleNodeItem, SpecDecoding, Worker};
use crate::seqlen::SeqLen;
use serde::{Deserialize, Serialize};

/// One single-node benchmark job. Field order is the output's key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct SingleNodeEntry {
    pub(crate) image: String,
    pub(crate) model: String,
    pub(crate) model_prefix: String,
    pub(crate) precision: String,
    pub(crate) framework: String,
    pub(crate) runner: String,
    pub(crate) isl: u32,
    pub(crate) osl: u32,
    pub(crate) tp: u32,
    pub(crate) ep: u32,
    pub(crate) dp_attn: bool,
    pub(crate) conc: u32,
    pub(crate) spec_decoding: SpecDecoding,
    pub(crate) exp_name: String,
    pub(crate) max_model_len: u32,
    pub(crate) disagg: bool,
    pub(crate) run_eval: bool,
}

/// One multi-node (prefill/decode) benchmark job; `conc` is the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct MultiNodeEntry {
    pub(crate) image: String,
    pub(crate) model: String,
    pub(crate) model_prefix: String,
    pub(crate) precision: String,
    pub(crate) framework: String,
    pub(crate) runner: String,
    pub(crate) isl: u32,
    pub(crate) osl: u32,
    pub(crate) spec_decoding: SpecDecoding,
    pub(crate) prefill: Worker,
    pub(crate) decode: Worker,
    pub(crate) conc: Vec<u32>,
    pub(crate) max_model_len: u32,
    pub(crate) exp_name: String,
    pub(crate) disagg: bool,
    pub(crate) run_eval: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum MatrixEntry {
    Single(SingleNodeEntry),
    Multi(MultiNodeEntry),
}

impl MatrixEntry {
    pub(crate) fn seq(&self) -> SeqLen {
        match self {
            MatrixEntry::Single(e) => SeqLen::new(e.isl, e.osl),
            MatrixEntry::Multi(e) => SeqLen::new(e.isl, e.osl),
        }
    }

    pub(crate) fn is_multinode(&self) -> bool {
        matches!(self, MatrixEntry::Multi(_))
    }
}

/// Which kind of entries a command keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum NodeKind {
    #[default]
    Both,
    Single,
    Multi,
}

impl NodeKind {
    pub(crate) fn keeps(&self, cfg: &ConfigEntry) -> bool {
        match self {
            NodeKind::Both => true,
            NodeKind::Single => !cfg.is_multinode(),
            NodeKind::Multi => cfg.is_multinode(),
        }
    }
}

/// `exp-name`: `{model-prefix}_{seq-len name}`.
pub(crate) fn exp_name(cfg: &ConfigEntry, seq: SeqLen) -> String {
    format!("{}_{}", cfg.model_prefix, seq.name())
}

/// A single-node entry; `ep` and `dp-attn` take their defaults (1, false).
pub(crate) fn single_entry(
    cfg: &ConfigEntry,
    seq: SeqLen,
    item: &SingleNodeItem,
    ep: u32,
    conc: u32,
    runner: &str,
) -> SingleNodeEntry {
    SingleNodeEntry {
        image: cfg.image.clone(),
        model: cfg.model.clone(),
        model_prefix: cfg.model_prefix.clone(),
        precision: cfg.precision.clone(),
        framework: cfg.framework.clone(),
        runner: runner.to_string(),
        isl: seq.isl,
        osl: seq.osl,
        tp: item.tp,
        ep,
        dp_attn: item.dp_attn.unwrap_or(false),
        conc,
        spec_decoding: item.spec_decoding,
        exp_name: exp_name(cfg, seq),
        max_model_len: seq.max_model_len(),
        disagg: cfg.disagg,
        run_eval: false,
    }
}

pub(crate) fn multi_entry(
    cfg: &ConfigEntry,
    seq: SeqLen,
    item: &MultiNodeItem,
    conc: Vec<u32>,
    runner: &str,
) -> MultiNodeEntry {
    MultiNodeEntry {
        image: cfg.image.clone(),
        model: cfg.model.clone(),
        model_prefix: cfg.model_prefix.clone(),
        precision: cfg.precision.clone(),
        framework: cfg.framework.clone(),
        runner: runner.to_string(),
        isl: seq.isl,
        osl: seq.osl,
        spec_decoding: item.spec_decoding,
        prefill: item.prefill.clone(),
        decode: item.decode.clone(),
        conc,
        max_model_len: seq.max_model_len(),
        exp_name: exp_name(cfg, seq),
        disagg: cfg.disagg,
        run_eval: false,
    }
}

/// A list filter: an empty list keeps everything, else one value must match.
pub(crate) fn any_or_all(values: &[String], pred: impl Fn(&str) -> bool) -> bool {
    values.is_empty() || values.iter().any(|v| pred(v))
}

/// Converts a signed CLI bound that has been checked to be > 0.
pub(crate) fn bound(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::config::{self, MasterConfigs};
    use crate::fields::Sink;
    use crate::runners::{self, RunnerConfig};

    pub(crate) const RUNNERS: &str = "\
h100: [h100-cw_0, h100-cw_1, h100-nb_0]
b200: [b200-nb_0, b200-nb_1]
gb200: [gb200-nv_0]
";

    pub(crate) const CONFIGS: &str = "\
dsr1-fp8-h100-vllm:
  image: vllm/vllm-openai:v0.11.0
  model: deepseek-ai/DeepSeek-R1-0528
  model-prefix: dsr1
  precision: fp8
  framework: vllm
  runner: h100
  multinode: false
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - { tp: 8, conc-start: 4, conc-end: 100 }
    - { tp: 4, ep: 4, dp-attn: true, conc-list: [8, 16, 128] }
  - isl: 1024
    osl: 8192
    search-space:
    - { tp: 8, conc-start: 4, conc-end: 16 }
    - { tp: 4, conc-start: 4, conc-end: 32 }
    - { tp: 2, conc-list: [8, 64] }
gptoss-fp4-b200-trt:
  image: nvcr.io/nvidia/tensorrt-llm/release:1.1.0
  model: openai/gpt-oss-120b
  model-prefix: gptoss
  precision: fp4
  framework: trt
  runner: b200
  multinode: false
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - { tp: 1, conc-start: 64, conc-end: 64 }
    - { tp: 2, spec-decoding: mtp, conc-start: 4, conc-end: 8 }
  - isl: 8192
    osl: 1024
    search-space:
    - { tp: 2, conc-list: [4] }
dsr1-fp4-gb200-dynamo-trt:
  image: nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.5.0
  model: nvidia/DeepSeek-R1-FP4
  model-prefix: dsr1
  precision: fp4
  framework: dynamo-trt
  runner: gb200
  multinode: true
  disagg: true
  seq-len-configs:
  - isl: 1024
    osl: 1024
    search-space:
    - spec-decoding: mtp
      prefill: { num-worker: 1, tp: 4, ep: 4, dp-attn: true, additional-settings: [PREFILL_MAX_BATCH=4] }
      decode: { num-worker: 1, tp: 8, ep: 8, dp-attn: true }
      conc-list: [16, 64, 256]
    - prefill: { num-worker: 2, tp: 4, ep: 4, dp-attn: false }
      decode: { num-worker: 1, tp: 16, ep: 16, dp-attn: true }
      conc-start: 8
      conc-end: 512
";

    pub(crate) fn load() -> (MasterConfigs, RunnerConfig) {
        let mut sink = Sink::new("configs.yaml");
        let entries = config::parse_file(&mut sink, CONFIGS);
        assert!(
            sink.diags.is_empty(),
            "fixture configs are valid: {:?}",
            sink.diags
        );
        let mut rs = Sink::new("runners.yaml");
        let runners = runners::parse(&mut rs, RUNNERS).expect("fixture runners are valid");
        (
            MasterConfigs {
                files: vec!["configs.yaml".into()],
                entries,
            },
            runners,
        )
    }
}
