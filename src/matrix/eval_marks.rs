//! Eval marking (`--run-evals` / `--evals-only`): which entries also run an
//! accuracy eval. Only single-node 1k8k entries take part.

use super::MatrixEntry;
use crate::config::SpecDecoding;
use crate::seqlen::SeqLen;
use std::collections::HashMap;

const EVAL_SEQ: SeqLen = SeqLen::new(1024, 8192);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum EvalMode {
    /// Leave `run-eval` false everywhere.
    #[default]
    Off,
    /// Mark the eval entries, keep everything.
    Run,
    /// Mark the eval entries and keep only those.
    Only,
}

type GroupKey<'a> = (&'a str, &'a str, &'a str, &'a str, u32, u32, SpecDecoding);

#[derive(Default)]
struct Group {
    max_tp: u32,
    min_tp: u32,
    conc_at_max_tp: u32,
    conc_at_min_tp: u32,
}

/// Marks, per group of (model, runner, framework, precision, isl, osl,
/// spec-decoding), the entries with the highest tp and the highest conc among
/// those, and, when the lowest tp differs, the lowest-tp entries with the
/// highest conc among those. Everything else gets `run-eval: false`.
pub(crate) fn apply(mut entries: Vec<MatrixEntry>, mode: EvalMode) -> Vec<MatrixEntry> {
    if mode == EvalMode::Off {
        return entries;
    }
    let marks = marks(&entries);
    for (entry, mark) in entries.iter_mut().zip(&marks) {
        match entry {
            MatrixEntry::Single(s) => s.run_eval = *mark,
            MatrixEntry::Multi(m) => m.run_eval = false,
        }
    }
    if mode == EvalMode::Only {
        entries = entries
            .into_iter()
            .zip(marks)
            .filter(|(_, m)| *m)
            .map(|(e, _)| e)
            .collect();
    }
    entries
}

fn group_key(e: &MatrixEntry) -> Option<GroupKey<'_>> {
    match e {
        MatrixEntry::Single(s) if SeqLen::new(s.isl, s.osl) == EVAL_SEQ => Some((
            s.model.as_str(),
            s.runner.as_str(),
            s.framework.as_str(),
            s.precision.as_str(),
            s.isl,
            s.osl,
            s.spec_decoding,
        )),
        _ => None,
    }
}

fn marks(entries: &[MatrixEntry]) -> Vec<bool> {
    let key = group_key;
    let mut groups: HashMap<GroupKey, Group> = HashMap::new();
    for e in entries {
        if let (Some(k), MatrixEntry::Single(s)) = (key(e), e) {
            let g = groups.entry(k).or_insert(Group {
                max_tp: s.tp,
                min_tp: s.tp,
                ..Default::default()
            });
            g.max_tp = g.max_tp.max(s.tp);
            g.min_tp = g.min_tp.min(s.tp);
        }
    }
    for e in entries {
        if let (Some(k), MatrixEntry::Single(s)) = (key(e), e)
            && let Some(g) = groups.get_mut(&k)
        {
            if s.tp == g.max_tp {
                g.conc_at_max_tp = g.conc_at_max_tp.max(s.conc);
            }
            if s.tp == g.min_tp {
                g.conc_at_min_tp = g.conc_at_min_tp.max(s.conc);
            }
        }
    }
    entries
        .iter()
        .map(|e| match (key(e), e) {
            (Some(k), MatrixEntry::Single(s)) => groups.get(&k).is_some_and(|g| {
                (s.tp == g.max_tp && s.conc == g.conc_at_max_tp)
                    || (g.min_tp != g.max_tp && s.tp == g.min_tp && s.conc == g.conc_at_min_tp)
            }),
            _ => false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::fixtures;
    use crate::matrix::full_sweep::FullSweep;

    fn marked(entries: &[MatrixEntry]) -> Vec<(String, u32, u32)> {
        entries
            .iter()
            .filter_map(|e| match e {
                MatrixEntry::Single(s) if s.run_eval => Some((s.runner.clone(), s.tp, s.conc)),
                _ => None,
            })
            .collect()
    }

    fn sweep(f: &FullSweep) -> Vec<MatrixEntry> {
        let (c, r) = fixtures::load();
        f.generate(&c, &r).expect("valid")
    }

    #[test]
    fn marks_highest_and_lowest_tp_at_their_highest_conc() {
        let out = apply(sweep(&FullSweep::default()), EvalMode::Run);
        assert_eq!(out.len(), 24, "run-evals keeps everything");
        // 1k8k h100 group: tp 8 (4..16), tp 4 (4..32), tp 2 ([8, 64]).
        assert_eq!(
            marked(&out),
            vec![("h100".into(), 8, 16), ("h100".into(), 2, 64)]
        );
    }

    #[test]
    fn evals_only_keeps_marked_entries() {
        let out = apply(sweep(&FullSweep::default()), EvalMode::Only);
        assert_eq!(out.len(), 2);
        assert!(
            out.iter()
                .all(|e| matches!(e, MatrixEntry::Single(s) if s.run_eval && s.osl == 8192))
        );
    }

    #[test]
    fn groups_are_per_runner_node_and_single_tp_marks_once() {
        let f = FullSweep {
            runner_node_filter: Some("cw".into()),
            max_tp: Some(8),
            min_conc: Some(4),
            ..Default::default()
        };
        let out = apply(sweep(&f), EvalMode::Only);
        assert_eq!(
            marked(&out),
            vec![
                ("h100-cw_0".into(), 8, 16),
                ("h100-cw_1".into(), 8, 16),
                ("h100-cw_0".into(), 2, 64),
                ("h100-cw_1".into(), 2, 64),
            ]
        );
        let f = FullSweep {
            max_tp: Some(2),
            ..Default::default()
        };
        let out = apply(sweep(&f), EvalMode::Only);
        assert_eq!(
            marked(&out),
            vec![("h100".into(), 2, 64)],
            "lowest == highest tp: marked once"
        );
    }

    #[test]
    fn off_leaves_everything_false() {
        let out = apply(sweep(&FullSweep::default()), EvalMode::Off);
        assert!(marked(&out).is_empty());
    }
}
