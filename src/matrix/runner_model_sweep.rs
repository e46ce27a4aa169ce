//! `matrix runner-model-sweep`: a smoke test of every node of one runner type,
//! one small 1k1k job per (config, node).

use super::{MatrixEntry, NodeKind, any_or_all, multi_entry, single_entry};
use crate::config::{Concurrency, ConfigEntry, MasterConfigs, Topology};
use crate::error::{Error, Result};
use crate::runners::RunnerConfig;
use crate::seqlen::SeqLen;

const SMOKE_SEQ: SeqLen = SeqLen::new(1024, 1024);

#[derive(Debug, Clone, Default)]
pub(crate) struct RunnerModelSweep {
    pub(crate) runner_type: String,
    pub(crate) model_prefix: Vec<String>,
    pub(crate) precision: Vec<String>,
    pub(crate) framework: Vec<String>,
    pub(crate) runner_node_filter: Option<String>,
    pub(crate) conc: Option<u32>,
    /// `Single` or `Multi`; `Both` is rejected (the CLI requires one).
    pub(crate) nodes: NodeKind,
}

impl RunnerModelSweep {
    pub(crate) fn generate(
        &self,
        configs: &MasterConfigs,
        runners: &RunnerConfig,
    ) -> Result<Vec<MatrixEntry>> {
        if self.nodes == NodeKind::Both {
            return Err(Error::usage(
                "runner-model-sweep needs --single-node or --multi-node",
            ));
        }
        // A config's runner label that runners.yaml lacks is a runner type
        // with no nodes (compat.md §1).
        if !configs.entries.iter().any(|c| c.runner == self.runner_type) {
            runners.check_types("--runner-type", [&self.runner_type])?;
        }
        let nodes = runners.matching_nodes(&self.runner_type, self.runner_node_filter.as_deref());
        if runners.nodes(&self.runner_type).is_empty() {
            return Err(Error::usage(format!(
                "--runner-type {}: a runner label of the configs, but {} lists no nodes for it; add `{}: [node, ...]` there",
                self.runner_type, runners.file, self.runner_type
            )));
        }
        if nodes.is_empty() {
            return Err(Error::usage(format!(
                "--runner-node-filter {:?}: no node of runner type `{}` matches; its nodes: {}",
                self.runner_node_filter.as_deref().unwrap_or(""),
                self.runner_type,
                runners.nodes(&self.runner_type).join(", ")
            )));
        }
        let mut out = Vec::new();
        for cfg in configs.entries.iter().filter(|c| self.keeps(c)) {
            let exp_name = format!("{}_test", cfg.model_prefix);
            match &cfg.topology {
                Topology::Single(seqs) => {
                    let Some(sc) = seqs.iter().find(|s| s.seq == SMOKE_SEQ) else {
                        continue;
                    };
                    // Highest tp; the first on ties.
                    let Some(item) = sc
                        .search_space
                        .iter()
                        .reduce(|best, it| if it.tp > best.tp { it } else { best })
                    else {
                        continue;
                    };
                    let conc = self.conc.unwrap_or(match &item.conc {
                        Concurrency::Range { start, .. } => *start,
                        Concurrency::List(l) => l.iter().copied().min().unwrap_or(1),
                    });
                    for node in &nodes {
                        let mut e =
                            single_entry(cfg, SMOKE_SEQ, item, item.ep.unwrap_or(1), conc, node);
                        e.exp_name = exp_name.clone();
                        e.max_model_len = 2048;
                        out.push(MatrixEntry::Single(e));
                    }
                }
                Topology::Multi(seqs) => {
                    let Some(sc) = seqs.iter().find(|s| s.seq == SMOKE_SEQ) else {
                        continue;
                    };
                    // The item whose conc-list has the lowest minimum (no list:
                    // infinite); the first on ties.
                    let list_min = |c: &Concurrency| match c {
                        Concurrency::List(l) => l.iter().copied().min().map_or(u64::MAX, u64::from),
                        Concurrency::Range { .. } => u64::MAX,
                    };
                    let Some(item) = sc.search_space.iter().reduce(|best, it| {
                        if list_min(&it.conc) < list_min(&best.conc) {
                            it
                        } else {
                            best
                        }
                    }) else {
                        continue;
                    };
                    let conc = self.conc.unwrap_or(match &item.conc {
                        Concurrency::List(l) => l.iter().copied().min().unwrap_or(1),
                        Concurrency::Range { start, .. } => *start,
                    });
                    for node in &nodes {
                        let mut e = multi_entry(cfg, SMOKE_SEQ, item, vec![conc], node);
                        e.exp_name = exp_name.clone();
                        e.max_model_len = 2048;
                        out.push(MatrixEntry::Multi(e));
                    }
                }
            }
        }
        Ok(out)
    }

    fn keeps(&self, cfg: &ConfigEntry) -> bool {
        cfg.runner == self.runner_type
            && self.nodes.keeps(cfg)
            && any_or_all(&self.model_prefix, |p| cfg.key.as_str().starts_with(p))
            && any_or_all(&self.precision, |p| cfg.precision == p)
            && any_or_all(&self.framework, |f| cfg.framework == f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixtures;

    fn run(s: &RunnerModelSweep) -> Result<Vec<MatrixEntry>> {
        let (c, r) = fixtures::load();
        s.generate(&c, &r)
    }

    #[test]
    fn single_node_highest_tp_first_conc_per_node() {
        let s = RunnerModelSweep {
            runner_type: "h100".into(),
            nodes: NodeKind::Single,
            ..Default::default()
        };
        let out = run(&s).expect("ok");
        assert_eq!(out.len(), 3, "one per h100 node");
        for (e, node) in out.iter().zip(["h100-cw_0", "h100-cw_1", "h100-nb_0"]) {
            let MatrixEntry::Single(e) = e else {
                panic!("single")
            };
            assert_eq!(
                (e.runner.as_str(), e.tp, e.conc, e.isl, e.osl),
                (node, 8, 4, 1024, 1024)
            );
            assert_eq!((e.exp_name.as_str(), e.max_model_len), ("dsr1_test", 2048));
        }
    }

    #[test]
    fn conc_override_and_node_filter() {
        let s = RunnerModelSweep {
            runner_type: "h100".into(),
            nodes: NodeKind::Single,
            conc: Some(2),
            runner_node_filter: Some("nb".into()),
            ..Default::default()
        };
        let out = run(&s).expect("ok");
        assert!(
            matches!(out.as_slice(), [MatrixEntry::Single(e)] if e.conc == 2 && e.runner == "h100-nb_0")
        );
        let s = RunnerModelSweep {
            runner_node_filter: Some("zz".into()),
            ..s
        };
        let err = run(&s).expect_err("no node");
        assert!(
            err.to_string()
                .contains("no node of runner type `h100` matches"),
            "{err}"
        );
    }

    #[test]
    fn list_minimum_used_when_highest_tp_has_a_list() {
        let s = RunnerModelSweep {
            runner_type: "b200".into(),
            nodes: NodeKind::Single,
            ..Default::default()
        };
        let out = run(&s).expect("ok");
        // gptoss b200 1k1k: tp 1 (64..64), tp 2 (4..8) -> tp 2, conc 4.
        assert!(out.iter().all(|e| matches!(e, MatrixEntry::Single(s) if s.tp == 2 && s.conc == 4 && s.spec_decoding == crate::config::SpecDecoding::Mtp)));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn multi_node_lowest_list_minimum() {
        let s = RunnerModelSweep {
            runner_type: "gb200".into(),
            nodes: NodeKind::Multi,
            ..Default::default()
        };
        let out = run(&s).expect("ok");
        let [MatrixEntry::Multi(e)] = out.as_slice() else {
            panic!("one multi-node entry: {out:?}")
        };
        assert_eq!(
            e.conc,
            vec![16],
            "the item with a list beats the one with a range"
        );
        assert_eq!(e.prefill.tp, 4);
        let decode = serde_json::to_value(&e.decode).expect("serializes");
        assert_eq!(
            decode.as_object().map(|o| o.len()),
            Some(5),
            "all five worker keys"
        );
        assert_eq!(
            (e.exp_name.as_str(), e.max_model_len, e.runner.as_str()),
            ("dsr1_test", 2048, "gb200-nv_0")
        );
    }

    #[test]
    fn kind_filters_and_unknown_runner() {
        let s = RunnerModelSweep {
            runner_type: "gb200".into(),
            nodes: NodeKind::Single,
            ..Default::default()
        };
        assert!(run(&s).expect("ok").is_empty());
        let s = RunnerModelSweep {
            runner_type: "mi300x".into(),
            nodes: NodeKind::Single,
            ..Default::default()
        };
        assert!(run(&s).is_err());
    }
}
