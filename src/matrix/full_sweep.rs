//! `matrix full-sweep`: every configuration, narrowed by filters.

use super::{MatrixEntry, NodeKind, any_or_all, bound, multi_entry, single_entry};
use crate::config::{
    Concurrency, ConfigEntry, MasterConfigs, MultiNodeItem, SingleNodeItem, Topology, expand_range,
};
use crate::error::{Error, Result};
use crate::runners::RunnerConfig;
use crate::seqlen::SeqLen;

/// Filters of a full sweep; every list filter keeps an item matching any value.
#[derive(Debug, Clone)]
pub(crate) struct FullSweep {
    /// Keeps configs whose KEY starts with one of these.
    pub(crate) model_prefix: Vec<String>,
    pub(crate) precision: Vec<String>,
    pub(crate) framework: Vec<String>,
    pub(crate) runner_type: Vec<String>,
    pub(crate) seq_lens: Vec<SeqLen>,
    pub(crate) step_size: u32,
    pub(crate) min_conc: Option<i64>,
    pub(crate) max_conc: Option<i64>,
    pub(crate) max_tp: Option<i64>,
    pub(crate) max_ep: Option<i64>,
    pub(crate) runner_node_filter: Option<String>,
    pub(crate) nodes: NodeKind,
}

impl Default for FullSweep {
    fn default() -> Self {
        FullSweep {
            model_prefix: Vec::new(),
            precision: Vec::new(),
            framework: Vec::new(),
            runner_type: Vec::new(),
            seq_lens: Vec::new(),
            step_size: 2,
            min_conc: None,
            max_conc: None,
            max_tp: None,
            max_ep: None,
            runner_node_filter: None,
            nodes: NodeKind::Both,
        }
    }
}

impl FullSweep {
    pub(crate) fn generate(
        &self,
        configs: &MasterConfigs,
        runners: &RunnerConfig,
    ) -> Result<Vec<MatrixEntry>> {
        if self.step_size < 2 {
            return Err(Error::usage(format!(
                "--step-size {}: must be at least 2 (each concurrency is the previous one times the step)",
                self.step_size
            )));
        }
        // A config's runner label absent from runners.yaml is still a label
        // GitHub schedules by (compat.md §1), so it is a valid filter.
        let labels: std::collections::HashSet<&str> =
            configs.entries.iter().map(|c| c.runner.as_str()).collect();
        runners.check_types(
            "--runner-type",
            self.runner_type
                .iter()
                .filter(|t| !labels.contains(t.as_str())),
        )?;
        let mut out = Vec::new();
        for cfg in &configs.entries {
            if !self.keeps_config(cfg) {
                continue;
            }
            let node_names: Vec<&str> = match &self.runner_node_filter {
                Some(f) => runners.matching_nodes(&cfg.runner, Some(f)),
                None => vec![cfg.runner.as_str()],
            };
            if node_names.is_empty() {
                continue;
            }
            match &cfg.topology {
                Topology::Single(seqs) => {
                    for sc in seqs.iter().filter(|sc| self.keeps_seq(sc.seq)) {
                        for item in &sc.search_space {
                            let Some((ep, values)) = self.single_values(item) else {
                                continue;
                            };
                            for conc in values {
                                for node in &node_names {
                                    out.push(MatrixEntry::Single(single_entry(
                                        cfg, sc.seq, item, ep, conc, node,
                                    )));
                                }
                            }
                        }
                    }
                }
                Topology::Multi(seqs) => {
                    for sc in seqs.iter().filter(|sc| self.keeps_seq(sc.seq)) {
                        for item in &sc.search_space {
                            let Some(values) = self.multi_values(item) else {
                                continue;
                            };
                            for node in &node_names {
                                out.push(MatrixEntry::Multi(multi_entry(
                                    cfg,
                                    sc.seq,
                                    item,
                                    values.clone(),
                                    node,
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn keeps_config(&self, cfg: &ConfigEntry) -> bool {
        self.nodes.keeps(cfg)
            && any_or_all(&self.model_prefix, |p| cfg.key.as_str().starts_with(p))
            && any_or_all(&self.precision, |p| cfg.precision == p)
            && any_or_all(&self.framework, |f| cfg.framework == f)
            && any_or_all(&self.runner_type, |r| cfg.runner == r)
    }

    fn keeps_seq(&self, seq: SeqLen) -> bool {
        self.seq_lens.is_empty() || self.seq_lens.contains(&seq)
    }

    /// The (possibly lowered) ep and the concurrencies of a single-node item,
    /// or `None` when the filters drop it (matrix.md, steps 1-5).
    fn single_values(&self, item: &SingleNodeItem) -> Option<(u32, Vec<u32>)> {
        if let Some(max_tp) = self.max_tp
            && (max_tp <= 0 || i64::from(item.tp) > max_tp)
        {
            return None;
        }
        let mut ep = item.ep.unwrap_or(1);
        if let Some(max_ep) = self.max_ep {
            if max_ep <= 0 {
                return None;
            }
            ep = ep.min(bound(max_ep));
        }
        let values = match &item.conc {
            Concurrency::Range { start, end } => {
                let (mut start, mut end) = (*start, *end);
                if let Some(min) = self.min_conc {
                    if min <= 0 || i64::from(end) < min {
                        return None;
                    }
                    start = start.max(bound(min));
                }
                if let Some(max) = self.max_conc {
                    if max <= 0 {
                        return None;
                    }
                    let max = bound(max);
                    if start > max {
                        start = max;
                        end = max;
                    } else {
                        end = end.min(max);
                    }
                }
                expand_range(start, end, self.step_size)
            }
            Concurrency::List(list) => {
                let mut values = list.clone();
                if let Some(min) = self.min_conc {
                    if min <= 0 {
                        return None;
                    }
                    values.retain(|v| i64::from(*v) >= min);
                }
                if let Some(max) = self.max_conc {
                    if max <= 0 {
                        return None;
                    }
                    values.retain(|v| i64::from(*v) <= max);
                    if values.is_empty() {
                        values.push(bound(max));
                    }
                }
                values
            }
        };
        Some((ep, values))
    }

    /// The concurrency list of a multi-node item, or `None` when dropped.
    fn multi_values(&self, item: &MultiNodeItem) -> Option<Vec<u32>> {
        let mut values = item.conc.values(self.step_size);
        if let Some(min) = self.min_conc {
            if min <= 0 {
                return None;
            }
            values.retain(|v| i64::from(*v) >= min);
            if values.is_empty() {
                return None;
            }
        }
        if let Some(max) = self.max_conc {
            values.retain(|v| i64::from(*v) <= max);
            if values.is_empty() {
                if max <= 0 {
                    return None;
                }
                values.push(bound(max));
            }
        }
        Some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixtures;

    fn run(f: &FullSweep) -> Vec<MatrixEntry> {
        let (configs, runners) = fixtures::load();
        f.generate(&configs, &runners).expect("valid filters")
    }

    /// (key-ish summary) for compact assertions: (runner, isl, osl, tp, ep, conc).
    fn singles(entries: &[MatrixEntry]) -> Vec<(String, u32, u32, u32, u32, u32)> {
        entries
            .iter()
            .filter_map(|e| match e {
                MatrixEntry::Single(s) => {
                    Some((s.runner.clone(), s.isl, s.osl, s.tp, s.ep, s.conc))
                }
                MatrixEntry::Multi(_) => None,
            })
            .collect()
    }

    fn multis(entries: &[MatrixEntry]) -> Vec<(String, Vec<u32>)> {
        entries
            .iter()
            .filter_map(|e| match e {
                MatrixEntry::Multi(m) => Some((m.runner.clone(), m.conc.clone())),
                MatrixEntry::Single(_) => None,
            })
            .collect()
    }

    fn concs(entries: &[MatrixEntry], tp: u32, osl: u32) -> Vec<u32> {
        singles(entries)
            .into_iter()
            .filter(|s| s.0 == "h100" && s.3 == tp && s.2 == osl)
            .map(|s| s.5)
            .collect()
    }

    #[test]
    fn no_filters_expands_everything_in_order() {
        let all = run(&FullSweep::default());
        assert_eq!(concs(&all, 8, 1024), vec![4, 8, 16, 32, 64, 100]);
        assert_eq!(concs(&all, 4, 1024), vec![8, 16, 128]);
        assert_eq!(
            multis(&all),
            vec![
                ("gb200".to_string(), vec![16, 64, 256]),
                ("gb200".to_string(), vec![8, 16, 32, 64, 128, 256, 512]),
            ]
        );
        // File order, then key order, then seq-len order, then item order.
        assert!(
            matches!(&all[0], MatrixEntry::Single(s) if s.tp == 8 && s.conc == 4 && s.model_prefix == "dsr1")
        );
        assert!(all.last().is_some_and(|e| e.is_multinode()));
        assert_eq!(all.len(), 6 + 3 + 3 + 4 + 2 + 1 + 2 + 1 + 2);
    }

    #[test]
    fn entry_has_defaults_and_derived_fields() {
        let all = run(&FullSweep::default());
        let MatrixEntry::Single(first) = &all[0] else {
            panic!("single first")
        };
        assert_eq!(first.ep, 1);
        assert!(!first.dp_attn);
        assert_eq!(first.exp_name, "dsr1_1k1k");
        assert_eq!(first.max_model_len, 2248);
        assert!(!first.run_eval);
        let json = serde_json::to_string(first).expect("serializes");
        assert_eq!(
            json,
            r#"{"image":"vllm/vllm-openai:v0.11.0","model":"deepseek-ai/DeepSeek-R1-0528","model-prefix":"dsr1","precision":"fp8","framework":"vllm","runner":"h100","isl":1024,"osl":1024,"tp":8,"ep":1,"dp-attn":false,"conc":4,"spec-decoding":"none","exp-name":"dsr1_1k1k","max-model-len":2248,"disagg":false,"run-eval":false}"#
        );
        let multi = all
            .iter()
            .find(|e| e.is_multinode())
            .expect("a multi-node entry");
        let json = serde_json::to_string(multi).expect("serializes");
        assert_eq!(
            json,
            r#"{"image":"nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.5.0","model":"nvidia/DeepSeek-R1-FP4","model-prefix":"dsr1","precision":"fp4","framework":"dynamo-trt","runner":"gb200","isl":1024,"osl":1024,"spec-decoding":"mtp","prefill":{"num-worker":1,"tp":4,"ep":4,"dp-attn":true,"additional-settings":["PREFILL_MAX_BATCH=4"]},"decode":{"num-worker":1,"tp":8,"ep":8,"dp-attn":true,"additional-settings":[]},"conc":[16,64,256],"max-model-len":2248,"exp-name":"dsr1_1k1k","disagg":true,"run-eval":false}"#
        );
    }

    #[test]
    fn filters_on_key_prefix_precision_framework_runner_seq_and_kind() {
        let f = FullSweep {
            model_prefix: vec!["gptoss".into()],
            ..Default::default()
        };
        assert!(
            run(&f)
                .iter()
                .all(|e| matches!(e, MatrixEntry::Single(s) if s.model_prefix == "gptoss"))
        );
        // The prefix filter matches the KEY, not the model-prefix field.
        let f = FullSweep {
            model_prefix: vec!["dsr1-fp4".into()],
            ..Default::default()
        };
        assert_eq!(run(&f).len(), 2);
        let f = FullSweep {
            precision: vec!["fp4".into()],
            framework: vec!["trt".into()],
            ..Default::default()
        };
        assert_eq!(run(&f).len(), 4);
        let f = FullSweep {
            runner_type: vec!["b200".into(), "gb200".into()],
            ..Default::default()
        };
        assert_eq!(run(&f).len(), 6);
        let f = FullSweep {
            seq_lens: vec![SeqLen::new(8192, 1024)],
            ..Default::default()
        };
        assert_eq!(
            singles(&run(&f)),
            vec![("b200".into(), 8192, 1024, 2, 1, 4)]
        );
        let f = FullSweep {
            nodes: NodeKind::Multi,
            ..Default::default()
        };
        assert_eq!(run(&f).len(), 2);
        let f = FullSweep {
            nodes: NodeKind::Single,
            ..Default::default()
        };
        assert!(run(&f).iter().all(|e| !e.is_multinode()));
    }

    #[test]
    fn unknown_runner_type_and_small_step_are_errors() {
        let (configs, runners) = fixtures::load();
        let f = FullSweep {
            runner_type: vec!["h200".into()],
            ..Default::default()
        };
        let err = f.generate(&configs, &runners).expect_err("unknown runner");
        assert!(
            err.to_string().contains("unknown runner type `h200`"),
            "{err}"
        );
        assert!(err.to_string().contains("h100, b200, gb200"), "{err}");
        let f = FullSweep {
            step_size: 1,
            ..Default::default()
        };
        assert!(f.generate(&configs, &runners).is_err());
    }

    #[test]
    fn step_size_changes_range_expansion() {
        let f = FullSweep {
            step_size: 4,
            ..Default::default()
        };
        assert_eq!(concs(&run(&f), 8, 1024), vec![4, 16, 64, 100]);
    }

    #[test]
    fn node_filter_emits_one_entry_per_matching_node_and_skips_others() {
        let f = FullSweep {
            runner_node_filter: Some("cw".into()),
            ..Default::default()
        };
        let out = run(&f);
        let runners: std::collections::BTreeSet<String> =
            singles(&out).into_iter().map(|s| s.0).collect();
        assert_eq!(
            runners.into_iter().collect::<Vec<_>>(),
            vec!["h100-cw_0", "h100-cw_1"]
        );
        assert_eq!(
            out.len(),
            2 * 18,
            "every h100 entry twice, b200/gb200 skipped"
        );
        let f = FullSweep {
            runner_node_filter: Some("nv_0".into()),
            ..Default::default()
        };
        assert_eq!(multis(&run(&f))[0].0, "gb200-nv_0");
    }

    #[test]
    fn max_tp_drops_items() {
        let f = FullSweep {
            max_tp: Some(4),
            runner_type: vec!["h100".into()],
            ..Default::default()
        };
        assert!(singles(&run(&f)).iter().all(|s| s.3 <= 4));
        assert_eq!(concs(&run(&f), 4, 1024), vec![8, 16, 128]);
        let f = FullSweep {
            max_tp: Some(0),
            ..Default::default()
        };
        assert!(
            singles(&run(&f)).is_empty(),
            "max-tp <= 0 drops every single-node item"
        );
        assert_eq!(
            multis(&run(&f)).len(),
            2,
            "max-tp does not apply to multi-node"
        );
    }

    #[test]
    fn max_ep_lowers_ep_or_drops() {
        let f = FullSweep {
            max_ep: Some(2),
            runner_type: vec!["h100".into()],
            ..Default::default()
        };
        let out = singles(&run(&f));
        assert!(
            out.iter()
                .filter(|s| s.3 == 4 && s.2 == 1024)
                .all(|s| s.4 == 2),
            "ep 4 lowered to 2"
        );
        assert_eq!(out.len(), 18, "nothing dropped");
        let f = FullSweep {
            max_ep: Some(-1),
            ..Default::default()
        };
        assert!(singles(&run(&f)).is_empty());
    }

    #[test]
    fn min_conc_on_ranges_and_lists() {
        let f = FullSweep {
            min_conc: Some(10),
            ..Default::default()
        };
        let out = run(&f);
        assert_eq!(
            concs(&out, 8, 1024),
            vec![10, 20, 40, 80, 100],
            "start raised to min"
        );
        assert_eq!(concs(&out, 4, 1024), vec![16, 128], "list keeps >= min");
        assert_eq!(concs(&out, 8, 8192), vec![10, 16]);
        let f = FullSweep {
            min_conc: Some(20),
            ..Default::default()
        };
        assert_eq!(
            concs(&run(&f), 8, 8192),
            Vec::<u32>::new(),
            "range ending below min is dropped"
        );
        let f = FullSweep {
            min_conc: Some(0),
            ..Default::default()
        };
        assert!(run(&f).is_empty(), "min-conc <= 0 drops every item");
    }

    #[test]
    fn max_conc_on_ranges_and_lists() {
        let f = FullSweep {
            max_conc: Some(20),
            ..Default::default()
        };
        let out = run(&f);
        assert_eq!(
            concs(&out, 8, 1024),
            vec![4, 8, 16, 20],
            "end lowered to max"
        );
        assert_eq!(concs(&out, 4, 1024), vec![8, 16], "list keeps <= max");
        let f = FullSweep {
            max_conc: Some(6),
            ..Default::default()
        };
        let out = run(&f);
        assert_eq!(
            concs(&out, 4, 1024),
            vec![6],
            "empty list becomes [max-conc]"
        );
        let f = FullSweep {
            max_conc: Some(2),
            ..Default::default()
        };
        assert_eq!(
            concs(&run(&f), 8, 1024),
            vec![2],
            "start above max: max is start and end"
        );
        let f = FullSweep {
            max_conc: Some(0),
            ..Default::default()
        };
        assert!(singles(&run(&f)).is_empty());
        assert!(
            multis(&run(&f)).is_empty(),
            "multi-node with max-conc <= 0 is dropped"
        );
    }

    #[test]
    fn min_then_max_on_a_range() {
        let f = FullSweep {
            min_conc: Some(50),
            max_conc: Some(40),
            runner_type: vec!["h100".into()],
            ..Default::default()
        };
        assert_eq!(
            concs(&run(&f), 8, 1024),
            vec![40],
            "raised to 50, then start above max gives [40]"
        );
    }

    #[test]
    fn multi_node_conc_filters() {
        let f = FullSweep {
            min_conc: Some(64),
            ..Default::default()
        };
        assert_eq!(
            multis(&run(&f)),
            vec![
                ("gb200".to_string(), vec![64, 256]),
                ("gb200".to_string(), vec![64, 128, 256, 512]),
            ]
        );
        let f = FullSweep {
            min_conc: Some(1000),
            nodes: NodeKind::Multi,
            ..Default::default()
        };
        assert!(
            run(&f).is_empty(),
            "nothing left after min-conc drops the item"
        );
        let f = FullSweep {
            max_conc: Some(10),
            nodes: NodeKind::Multi,
            ..Default::default()
        };
        assert_eq!(
            multis(&run(&f)),
            vec![
                ("gb200".to_string(), vec![10]),
                ("gb200".to_string(), vec![8])
            ]
        );
    }
}
