//! The processed result (results.md §2): each field's name, unit and type
//! written here once, for the writer (`result process`) and for every
//! reader (the tables, the report's charts, `compare`).
//!
//! Reading is lenient, as the seed's own readers are: a processed result
//! may come from the seed system or an older infmax, with a field missing
//! or of another JSON type (`dp_attention` a boolean or the string
//! `"true"`, `isl` a number or a numeric string). What cannot be read is
//! empty (text), None (counts) or NaN (measurements), never an error: the
//! aggregate itself is always the files' exact copy (`collect`), and a
//! reader shows what it can.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A processed result. The latency keys (every `X_ms` of the run as `X` in
/// seconds, and `intvty` beside each `tpot`) are an open-ended map
/// flattened in place; read back, that map also holds every key not named
/// by a field of this struct itself (the parallelism keys too: serde's
/// untagged flattened enum reads them without taking them), so a record
/// read back is for reading, not for writing again.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ProcessedResult {
    /// RUNNER_TYPE.
    #[serde(default, deserialize_with = "text")]
    pub(crate) hw: String,
    /// The run's max_concurrency, as the run wrote it.
    #[serde(default)]
    pub(crate) conc: Value,
    #[serde(default, deserialize_with = "text")]
    pub(crate) image: String,
    /// The run's model_id.
    #[serde(default)]
    pub(crate) model: Value,
    #[serde(default, deserialize_with = "text")]
    pub(crate) infmax_model_prefix: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) framework: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) precision: String,
    #[serde(default, deserialize_with = "text")]
    pub(crate) spec_decoding: String,
    #[serde(default, deserialize_with = "uint")]
    pub(crate) isl: Option<u64>,
    #[serde(default, deserialize_with = "uint")]
    pub(crate) osl: Option<u64>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) disagg: bool,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) is_multinode: bool,
    #[serde(flatten)]
    pub(crate) parallelism: Parallelism,
    /// Tokens per second per GPU (GPUs: TP, or prefill + decode GPUs).
    #[serde(default = "nan", deserialize_with = "num")]
    pub(crate) tput_per_gpu: f64,
    /// Per GPU (multi-node: per decode GPU).
    #[serde(default = "nan", deserialize_with = "num")]
    pub(crate) output_tput_per_gpu: f64,
    /// Per GPU (multi-node: per prefill GPU).
    #[serde(default = "nan", deserialize_with = "num")]
    pub(crate) input_tput_per_gpu: f64,
    /// Seconds (and tokens per second per user for `*intvty*`).
    #[serde(flatten)]
    pub(crate) latency: Map<String, Value>,
    // Copied from the run when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) completed: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) failed: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aborted: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scaled_down: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) repeat: Option<Value>,
    /// True when the client may have limited the numbers (the run's
    /// client_cost says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_bound: Option<Value>,
}

/// How the GPUs were used. `dp_attention` and its prefill/decode variants
/// are the environment's text exactly as given, as the seed writes them
/// (compat.md §2). Read back, a result with `prefill_tp` is multi-node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Parallelism {
    Multi {
        #[serde(deserialize_with = "uint")]
        prefill_tp: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        prefill_ep: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        prefill_num_workers: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        decode_tp: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        decode_ep: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        decode_num_workers: Option<u64>,
        #[serde(default, deserialize_with = "text")]
        prefill_dp_attention: String,
        #[serde(default, deserialize_with = "text")]
        decode_dp_attention: String,
        #[serde(default, deserialize_with = "uint")]
        num_prefill_gpu: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        num_decode_gpu: Option<u64>,
    },
    Single {
        #[serde(default, deserialize_with = "uint")]
        tp: Option<u64>,
        #[serde(default, deserialize_with = "uint")]
        ep: Option<u64>,
        #[serde(default, deserialize_with = "text")]
        dp_attention: String,
    },
}

impl Default for Parallelism {
    fn default() -> Self {
        Parallelism::Single {
            tp: None,
            ep: None,
            dp_attention: String::new(),
        }
    }
}

/// One pool of a multi-node result: prefill or decode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool<'a> {
    pub(crate) tp: Option<u64>,
    pub(crate) ep: Option<u64>,
    pub(crate) workers: Option<u64>,
    pub(crate) dp_attention: &'a str,
    pub(crate) gpus: Option<u64>,
}

impl Parallelism {
    /// The prefill and decode pools of a multi-node result.
    pub(crate) fn pools(&self) -> Option<[Pool<'_>; 2]> {
        match self {
            Parallelism::Multi {
                prefill_tp,
                prefill_ep,
                prefill_num_workers,
                decode_tp,
                decode_ep,
                decode_num_workers,
                prefill_dp_attention,
                decode_dp_attention,
                num_prefill_gpu,
                num_decode_gpu,
            } => Some([
                Pool {
                    tp: *prefill_tp,
                    ep: *prefill_ep,
                    workers: *prefill_num_workers,
                    dp_attention: prefill_dp_attention,
                    gpus: *num_prefill_gpu,
                },
                Pool {
                    tp: *decode_tp,
                    ep: *decode_ep,
                    workers: *decode_num_workers,
                    dp_attention: decode_dp_attention,
                    gpus: *num_decode_gpu,
                },
            ]),
            Parallelism::Single { .. } => None,
        }
    }
}

fn nan() -> f64 {
    f64::NAN
}

/// Any JSON value as text: a string as it is, null as empty, anything else
/// as its JSON (`false`, `8`).
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(value_text(&Value::deserialize(d)?))
}

/// A whole number, or a string holding one; None otherwise.
fn uint_of(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(uint_of(&Value::deserialize(d)?))
}

/// `true`, or the string `"true"` in any case.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    })
}

/// A number; NaN for anything else.
fn num<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Value::deserialize(d)?.as_f64().unwrap_or(f64::NAN))
}

impl ProcessedResult {
    /// Reads a processed result from any JSON object (see the module's
    /// notes); anything else reads as an empty result.
    pub(crate) fn read(v: &Value) -> ProcessedResult {
        let mut r: ProcessedResult = serde_json::from_value(v.clone()).unwrap_or_default();
        // Which parallelism a result has is its is_multinode's to say, not
        // a stray prefill key's; the single-node keys are still at hand in
        // the map of the keys no field took.
        if !r.is_multinode && matches!(r.parallelism, Parallelism::Multi { .. }) {
            let key = |k: &str| r.latency.get(k).cloned().unwrap_or(Value::Null);
            r.parallelism = Parallelism::Single {
                tp: uint_of(&key("tp")),
                ep: uint_of(&key("ep")),
                dp_attention: value_text(&key("dp_attention")),
            };
        }
        r
    }

    /// A latency field in seconds (or tokens/s/user for `*intvty*`); NaN
    /// when missing.
    fn latency(&self, key: &str) -> f64 {
        self.latency
            .get(key)
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    }

    /// Median time to first token, seconds.
    pub(crate) fn median_ttft(&self) -> f64 {
        self.latency("median_ttft")
    }

    /// Median time per output token, seconds.
    pub(crate) fn median_tpot(&self) -> f64 {
        self.latency("median_tpot")
    }

    /// Median interactivity, tokens per second per user.
    pub(crate) fn median_intvty(&self) -> f64 {
        self.latency("median_intvty")
    }

    /// Median end-to-end latency, seconds.
    pub(crate) fn median_e2el(&self) -> f64 {
        self.latency("median_e2el")
    }

    /// The concurrency as a whole number (0 when it is not one).
    pub(crate) fn conc_u64(&self) -> u64 {
        self.conc.as_u64().unwrap_or(0)
    }

    /// Which repeat of `infmax run --repeats` this is (from 1), when marked:
    /// a number, or its text as `--metadata` writes it.
    pub(crate) fn repeat_number(&self) -> Option<u64> {
        match self.repeat.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    /// Whether the client may have limited the numbers.
    pub(crate) fn is_client_bound(&self) -> bool {
        self.client_bound == Some(Value::Bool(true))
    }

    /// The ISL/OSL name (`1k1k`); missing lengths read as 0.
    pub(crate) fn seq_name(&self) -> String {
        crate::seqlen::SeqLen::new(self.isl.unwrap_or(0) as u32, self.osl.unwrap_or(0) as u32)
            .name()
    }

    /// The model prefix, else (an older result) the served model.
    pub(crate) fn model_prefix(&self) -> String {
        if self.infmax_model_prefix.is_empty() {
            value_text(&self.model)
        } else {
            self.infmax_model_prefix.clone()
        }
    }
}

/// A processed result's file name: `agg_*.json` (an aggregate of them is
/// named so too).
pub(crate) fn is_result_file_name(name: &str) -> bool {
    name.starts_with("agg_") && name.ends_with(".json")
}

/// Whether a JSON value is a processed result (an object with `hw`, which
/// every writer of them, the seed's included, sets).
pub(crate) fn is_processed_result(v: &Value) -> bool {
    v.get("hw").is_some()
}

/// A JSON value as table text (empty for null).
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seeds_and_older_results_read_leniently() {
        // The seed: dp_attention a string; an older infmax: a boolean, no ep.
        let seed =
            ProcessedResult::read(&json!({"hw": "h100", "conc": 4, "isl": 1024, "osl": "1024",
            "tp": 8, "ep": 1, "dp_attention": "true", "is_multinode": false, "tput_per_gpu": 10.5,
            "median_tpot": 0.02, "extra": [1]}));
        assert_eq!((seed.isl, seed.osl), (Some(1024), Some(1024)));
        let Parallelism::Single {
            tp,
            ep,
            dp_attention,
        } = &seed.parallelism
        else {
            panic!("single-node: {seed:?}")
        };
        assert_eq!(
            (*tp, *ep, dp_attention.as_str()),
            (Some(8), Some(1), "true")
        );
        assert_eq!(seed.tput_per_gpu, 10.5);
        assert_eq!(seed.median_tpot(), 0.02);
        assert!(seed.median_ttft().is_nan());
        assert_eq!(seed.latency["extra"], json!([1]));
        let old = ProcessedResult::read(&json!({"hw": "h100", "tp": 8, "dp_attention": false,
            "is_multinode": "false", "tput_per_gpu": null}));
        let Parallelism::Single {
            ep, dp_attention, ..
        } = &old.parallelism
        else {
            panic!("single-node: {old:?}")
        };
        assert_eq!((*ep, dp_attention.as_str()), (None, "false"));
        assert!(old.tput_per_gpu.is_nan() && !old.is_multinode);
        // Multi-node: known by prefill_tp.
        let multi = ProcessedResult::read(
            &json!({"is_multinode": true, "prefill_tp": 4, "decode_tp": "8",
            "prefill_dp_attention": true}),
        );
        let Parallelism::Multi {
            prefill_tp,
            decode_tp,
            prefill_dp_attention,
            ..
        } = &multi.parallelism
        else {
            panic!("multi-node: {multi:?}")
        };
        assert_eq!(
            (*prefill_tp, *decode_tp, prefill_dp_attention.as_str()),
            (Some(4), Some(8), "true")
        );
        // A stray prefill key does not make a single-node result multi-node.
        let stray = ProcessedResult::read(&json!({"is_multinode": false, "prefill_tp": null,
            "tp": 8, "ep": 2, "dp_attention": "true"}));
        let Parallelism::Single {
            tp,
            ep,
            dp_attention,
        } = &stray.parallelism
        else {
            panic!("single-node: {stray:?}")
        };
        assert_eq!(
            (*tp, *ep, dp_attention.as_str()),
            (Some(8), Some(2), "true")
        );
        // Not an object: an empty result, not a panic.
        assert_eq!(ProcessedResult::read(&json!([1, 2])).hw, "");
    }

    #[test]
    fn what_is_written_reads_back() {
        let r = ProcessedResult {
            hw: "b200".into(),
            conc: json!(64),
            isl: Some(8192),
            osl: Some(1024),
            parallelism: Parallelism::Single {
                tp: Some(4),
                ep: Some(4),
                dp_attention: "true".into(),
            },
            tput_per_gpu: 1234.5,
            latency: Map::from_iter([("median_intvty".to_string(), json!(50.0))]),
            ..ProcessedResult::default()
        };
        let v = serde_json::to_value(&r).expect("encodes");
        let back = ProcessedResult::read(&v);
        assert_eq!(back.seq_name(), "8k1k");
        assert_eq!(back.conc_u64(), 64);
        assert_eq!(back.median_intvty(), 50.0);
        assert_eq!(serde_json::to_value(&back).expect("encodes")["tp"], 4);
    }
}
