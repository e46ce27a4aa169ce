//! A comparison for people: the step-summary Markdown and the overlay
//! charts.

use super::super::markdown;
use super::super::report::{self, Line, Point};
use super::curves::usable;
use super::series::{SeriesId, Side, mean_curve};
use super::{Comparison, Source, Verdict, WORST_FACTOR};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

fn pct(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{:+.2}%", v * 100.0))
}

impl Comparison {
    /// The Markdown for the step summary (every cell escaped).
    pub(crate) fn markdown(&self, base: &Side, cur: &Side) -> String {
        let mut o = String::from("### Comparison with the baseline\n\n");
        let judged = self
            .series
            .iter()
            .flat_map(|s| &s.metrics)
            .filter(|m| {
                matches!(
                    m.verdict,
                    Verdict::Regression | Verdict::Improvement | Verdict::Same
                )
            })
            .count();
        let _ = writeln!(
            o,
            "{}\n",
            if self.regressions > 0 {
                format!(
                    "**▼ {} regression(s)** beyond the noise threshold.",
                    self.regressions
                )
            } else if self.series.is_empty() {
                "**No series in common**: nothing was compared.".to_string()
            } else if judged == 0 {
                format!(
                    "**Nothing judged**: {} series in common, but no metric could be read in both runs with a threshold.",
                    self.series.len()
                )
            } else {
                format!(
                    "**No regression** beyond the noise threshold ({judged} metric(s) judged over {} series).",
                    self.series.len()
                )
            }
        );
        let _ = writeln!(
            o,
            "Baseline: {} ({} results, {} run(s)); current: {} ({} results, {} run(s)).\n",
            markdown::cell(&self.baseline),
            base.results,
            base.repeats(),
            markdown::cell(&self.current),
            cur.results,
            cur.repeats()
        );
        let th: Vec<String> = self
            .thresholds
            .iter()
            .map(|t| {
                let source = match &t.source {
                    Source::User => "--threshold".to_string(),
                    Source::Repeats { pairs } => {
                        format!("3 x RMS of {pairs} repeat-to-repeat changes")
                    }
                    Source::Default => "default; no repeated runs".to_string(),
                };
                match t.value {
                    Some(v) => format!("{} {:.1}% ({source})", t.metric.name(), v * 100.0),
                    None => format!(
                        "{} not judged (no repeated runs; set --threshold {}=P%)",
                        t.metric.name(),
                        t.metric.name()
                    ),
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "Thresholds: {}. A metric regresses when its median change over the range both runs cover is worse than the threshold, or (but for TTFT) its worst point worse than {WORST_FACTOR} times it. Each curve metric is read where the baseline curve is at most 1:1 steep (log-log), so noise along one axis is not magnified in the other.\n",
            th.join(", ")
        );
        let rows: Vec<Vec<String>> = self
            .series
            .iter()
            .flat_map(|s| {
                s.metrics.iter().map(|m| {
                    vec![
                        s.series.clone(),
                        m.metric.describe().to_string(),
                        pct(m.median_change),
                        pct(m.worst_change),
                        m.points.to_string(),
                        m.threshold
                            .map_or_else(|| "-".to_string(), |t| format!("{:.1}%", t * 100.0)),
                        match &m.note {
                            Some(n) => format!("{} ({n})", m.verdict.mark()),
                            None => m.verdict.mark().to_string(),
                        },
                    ]
                })
            })
            .collect();
        if !rows.is_empty() {
            o.push_str(&markdown::table(
                &[
                    "Series",
                    "Metric",
                    "Median change",
                    "Worst change",
                    "Points",
                    "Threshold",
                    "Verdict",
                ],
                &rows,
            ));
            o.push('\n');
        }
        for (title, list) in [
            ("New series (only in the current run)", &self.new),
            ("Gone series (only in the baseline)", &self.gone),
        ] {
            if !list.is_empty() {
                let _ = writeln!(o, "{title}:\n");
                for k in list {
                    let _ = writeln!(o, "- {}", markdown::cell(k));
                }
                o.push('\n');
            }
        }
        o
    }
}

/// How every overlay chart's file name starts (`report` picks them up by it).
pub(crate) const CHART_PREFIX: &str = "compare_";

/// Whether `name` is an overlay chart's file name.
pub(crate) fn is_chart_name(name: &str) -> bool {
    name.starts_with(CHART_PREFIX) && name.ends_with(".svg")
}

/// Overlay charts, one per (model, ISL/OSL): each series' baseline dashed,
/// its current run solid, in the same colour. Returns (file name, SVG).
pub(crate) fn charts(base: &Side, cur: &Side) -> Vec<(String, String)> {
    let mut by_chart: BTreeMap<&(String, String), Vec<Line>> = BTreeMap::new();
    let ids: BTreeSet<&SeriesId> = base.series.keys().chain(cur.series.keys()).collect();
    for (i, id) in ids.into_iter().enumerate() {
        for (side, dashed, what) in [(base, true, "baseline"), (cur, false, "current")] {
            if let Some(r) = side.series.get(id) {
                let points = mean_curve(r)
                    .iter()
                    .filter(|s| usable(s.intvty) && usable(s.tput))
                    .map(|s| Point {
                        x: s.intvty,
                        y: s.tput,
                    })
                    .collect();
                by_chart.entry(&id.chart).or_default().push(Line {
                    label: format!("{} ({what})", id.key),
                    points,
                    color: i,
                    dashed,
                });
            }
        }
    }
    let mut names = crate::fsutil::FileNames::default();
    by_chart
        .into_iter()
        .map(|((model, seq), lines)| {
            (
                names.next(&format!("{CHART_PREFIX}{model}_{seq}"), ".svg"),
                report::svg_lines(
                    &format!("{model} {seq}: baseline (dashed) vs current (solid)"),
                    &lines,
                    false,
                ),
            )
        })
        .collect()
}
