//! `matrix test-config`: the entries of named config keys, optionally only at
//! some concurrencies.

use super::{MatrixEntry, multi_entry, single_entry};
use crate::config::{ConfigEntry, MasterConfigs, Topology};
use crate::error::{Error, Result};

/// Range expansion step of test-config and changelog expansion.
const STEP: u32 = 2;

/// Expands the given keys in order. Every key must exist.
pub(crate) fn generate(
    configs: &MasterConfigs,
    keys: &[String],
    conc: &[u32],
) -> Result<Vec<MatrixEntry>> {
    let missing: Vec<&str> = keys
        .iter()
        .filter(|k| configs.get(k).is_none())
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "--config-keys: unknown config key {}; available: {}",
            missing
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            configs.keys().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut out = Vec::new();
    for key in keys {
        if let Some(cfg) = configs.get(key) {
            out.extend(expand(cfg, conc));
        }
    }
    Ok(out)
}

/// Every entry of one config: range step 2; with `conc`, only those values
/// (an item left with none is skipped).
pub(crate) fn expand(cfg: &ConfigEntry, conc: &[u32]) -> Vec<MatrixEntry> {
    let keep = |values: Vec<u32>| -> Vec<u32> {
        if conc.is_empty() {
            values
        } else {
            values.into_iter().filter(|v| conc.contains(v)).collect()
        }
    };
    let mut out = Vec::new();
    match &cfg.topology {
        Topology::Single(seqs) => {
            for sc in seqs {
                for item in &sc.search_space {
                    for c in keep(item.conc.values(STEP)) {
                        out.push(MatrixEntry::Single(single_entry(
                            cfg,
                            sc.seq,
                            item,
                            item.ep.unwrap_or(1),
                            c,
                            &cfg.runner,
                        )));
                    }
                }
            }
        }
        Topology::Multi(seqs) => {
            for sc in seqs {
                for item in &sc.search_space {
                    let values = keep(item.conc.values(STEP));
                    if !values.is_empty() {
                        out.push(MatrixEntry::Multi(multi_entry(
                            cfg,
                            sc.seq,
                            item,
                            values,
                            &cfg.runner,
                        )));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixtures;

    #[test]
    fn keys_in_given_order_with_step_two() {
        let (c, _) = fixtures::load();
        let out = generate(
            &c,
            &[
                "gptoss-fp4-b200-trt".into(),
                "dsr1-fp4-gb200-dynamo-trt".into(),
            ],
            &[],
        )
        .expect("keys exist");
        assert_eq!(out.len(), 4 + 2);
        assert!(
            matches!(&out[0], MatrixEntry::Single(s) if s.model_prefix == "gptoss" && s.conc == 64)
        );
        assert!(
            matches!(&out[5], MatrixEntry::Multi(m) if m.conc == vec![8, 16, 32, 64, 128, 256, 512])
        );
    }

    #[test]
    fn conc_filter_keeps_only_given_values_and_skips_emptied_items() {
        let (c, _) = fixtures::load();
        let out = generate(
            &c,
            &[
                "dsr1-fp8-h100-vllm".into(),
                "dsr1-fp4-gb200-dynamo-trt".into(),
            ],
            &[16, 64],
        )
        .expect("ok");
        let concs: Vec<String> = out
            .iter()
            .map(|e| match e {
                MatrixEntry::Single(s) => format!("{}:{}", s.tp, s.conc),
                MatrixEntry::Multi(m) => format!("{:?}", m.conc),
            })
            .collect();
        assert_eq!(
            concs,
            vec![
                "8:16", "8:64", "4:16", "8:16", "4:16", "2:64", "[16, 64]", "[16, 64]"
            ]
        );
    }

    #[test]
    fn missing_keys_listed_with_available_ones() {
        let (c, _) = fixtures::load();
        let err = generate(
            &c,
            &[
                "nope".into(),
                "dsr1-fp8-h100-vllm".into(),
                "also-nope".into(),
            ],
            &[],
        )
        .expect_err("missing");
        assert_eq!(
            err.to_string(),
            "--config-keys: unknown config key `nope`, `also-nope`; available: dsr1-fp8-h100-vllm, gptoss-fp4-b200-trt, dsr1-fp4-gb200-dynamo-trt"
        );
    }
}
