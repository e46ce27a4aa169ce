use super::*;
use serde_json::{Value, json};

/// A processed result of a series on the h100 at `conc`.
fn row(conc: u64, intvty: f64, tput: f64, tpot: f64) -> Value {
    json!({"hw": "h100", "framework": "vllm", "precision": "fp8", "spec_decoding": "none",
           "infmax_model_prefix": "dsr1", "isl": 1024, "osl": 1024, "tp": 8, "ep": 1,
           "dp_attention": "false", "is_multinode": false, "conc": conc,
           "median_intvty": intvty, "tput_per_gpu": tput, "median_ttft": 0.1, "median_tpot": tpot})
}

fn side(label: &str, rows: &[Value]) -> Side {
    let mut s = Side::new(label);
    s.add(rows);
    s
}

/// A curve: interactivity falls and throughput rises with concurrency,
/// steeply at first (log-log slope 2), then flatter (0.8, 0.26).
fn curve(scale_tput: f64, scale_tpot: f64) -> Vec<Value> {
    [
        (4, 200.0, 100.0),
        (8, 150.0, 180.0),
        (16, 100.0, 250.0),
        (32, 50.0, 300.0),
    ]
    .iter()
    .map(|&(c, i, t)| row(c, i / scale_tpot, t * scale_tput, scale_tpot / i))
    .collect()
}

fn metric(c: &Comparison, m: Metric) -> &MetricResult {
    c.series[0]
        .metrics
        .iter()
        .find(|x| x.metric == m)
        .expect("metric")
}

#[test]
fn a_slower_engine_is_a_regression_on_every_metric() {
    let b = side("b", &curve(1.0, 1.0));
    let c = side("c", &curve(1.0 / 1.1, 1.1));
    let r = compare(&b, &c, &BTreeMap::new());
    assert_eq!(r.series.len(), 1);
    let tpot = metric(&r, Metric::Tpot);
    assert!(
        (tpot.median_change.expect("median") - 0.10).abs() < 1e-9,
        "{tpot:?}"
    );
    assert_eq!(tpot.points, 4);
    for m in Metric::ALL.into_iter().filter(|m| *m != Metric::Ttft) {
        assert_eq!(metric(&r, m).verdict, Verdict::Regression, "{m:?}");
    }
    // TTFT has no default threshold: measured (unchanged), not judged.
    assert_eq!(metric(&r, Metric::Ttft).verdict, Verdict::NotJudged);
    assert_eq!(metric(&r, Metric::Ttft).median_change, Some(0.0));
    // And the other way round, an improvement.
    let r = compare(&c, &b, &BTreeMap::new());
    assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Improvement);
    assert_eq!(r.regressions, 0);
}

#[test]
fn identical_runs_are_the_same() {
    let b = side("b", &curve(1.0, 1.0));
    let r = compare(&b, &b, &BTreeMap::new());
    assert!(
        r.series[0]
            .metrics
            .iter()
            .all(|m| (m.verdict == Verdict::Same || m.metric == Metric::Ttft)
                && m.median_change == Some(0.0))
    );
    assert_eq!((r.regressions, r.improvements), (0, 0));
}

#[test]
fn throughput_is_read_at_matched_interactivity() {
    // Same curve, measured at other concurrencies: points moved along
    // it, the curve did not change.
    let b = side(
        "b",
        &[row(4, 100.0, 1000.0, 0.01), row(16, 50.0, 1200.0, 0.02)],
    );
    let c = side(
        "c",
        &[row(8, 80.0, 1080.0, 0.0125), row(32, 40.0, 1240.0, 0.025)],
    );
    let r = compare(&b, &c, &BTreeMap::new());
    let t = metric(&r, Metric::Tput);
    // Overlap 50..80 on one line: 1000 + 4 x (100 - interactivity).
    assert_eq!(t.verdict, Verdict::Same, "{t:?}");
    assert!(t.median_change.expect("median").abs() < 1e-9, "{t:?}");
    // No concurrency in common: TPOT is not compared, and says why.
    let p = metric(&r, Metric::Tpot);
    assert_eq!(p.verdict, Verdict::NotCompared);
    assert_eq!(
        p.note.as_deref(),
        Some("no concurrency with a value in both runs")
    );
}

#[test]
fn curves_that_do_not_overlap_get_no_verdict() {
    let b = side(
        "b",
        &[row(4, 100.0, 400.0, 0.01), row(8, 90.0, 700.0, 0.011)],
    );
    let c = side(
        "c",
        &[row(4, 50.0, 400.0, 0.02), row(8, 40.0, 700.0, 0.025)],
    );
    let r = compare(&b, &c, &BTreeMap::new());
    let t = metric(&r, Metric::Tput);
    assert_eq!(t.verdict, Verdict::NotCompared);
    assert!(
        t.note
            .as_deref()
            .is_some_and(|n| n.starts_with("the curves do not overlap")),
        "{t:?}"
    );
    // TPOT at the same concurrencies is still compared: 2x slower.
    assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Regression);
}

#[test]
fn each_curve_metric_is_read_where_it_is_well_conditioned() {
    // Steep everywhere (log-log slope 3): throughput at matched
    // interactivity would magnify noise, so only the other reading counts.
    let b = side(
        "b",
        &[row(4, 100.0, 100.0, 0.01), row(8, 80.0, 195.3, 0.0125)],
    );
    let c = side(
        "c",
        &[row(4, 99.0, 100.0, 0.0101), row(8, 79.0, 205.0, 0.0127)],
    );
    let r = compare(&b, &c, &BTreeMap::new());
    let t = metric(&r, Metric::Tput);
    assert_eq!(t.verdict, Verdict::NotCompared);
    assert!(
        t.note
            .as_deref()
            .is_some_and(|n| n.contains("steeper than 1:1")),
        "{t:?}"
    );
    assert_eq!(metric(&r, Metric::Intvty).verdict, Verdict::Same);
    assert!(metric(&r, Metric::Intvty).points >= 2);
}

#[test]
fn single_points_nan_and_zero_are_not_compared_as_curves() {
    let b = side("b", &[row(4, 100.0, 400.0, 0.01)]);
    let c = side("c", &[row(4, 100.0, 400.0, 0.01)]);
    let r = compare(&b, &c, &BTreeMap::new());
    assert_eq!(metric(&r, Metric::Tput).verdict, Verdict::NotCompared);
    assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Same);
    let mut nan = row(8, 90.0, 0.0, 0.011);
    nan["median_intvty"] = Value::Null;
    let b = side("b", &[row(4, 100.0, 400.0, 0.01), nan.clone()]);
    let c = side(
        "c",
        &[row(4, 100.0, 400.0, 0.01), row(8, 90.0, 700.0, 0.011)],
    );
    let r = compare(&b, &c, &BTreeMap::new());
    let t = metric(&r, Metric::Tput);
    assert_eq!(t.verdict, Verdict::NotCompared);
    assert_eq!(
        t.note.as_deref(),
        Some("a curve needs 2 points with throughput and interactivity; baseline has 1, current 2")
    );
    assert_eq!(metric(&r, Metric::Tpot).points, 2);
}

#[test]
fn new_and_gone_series_are_listed() {
    let mut other = curve(1.0, 1.0);
    for r in &mut other {
        r["tp"] = json!(4);
    }
    let b = side("b", &curve(1.0, 1.0));
    let c = side("c", &other);
    let r = compare(&b, &c, &BTreeMap::new());
    assert!(r.series.is_empty());
    assert_eq!(r.new, vec!["dsr1 H100 vllm fp8 1k1k tp4 ep1 dpa false"]);
    assert_eq!(r.gone, vec!["dsr1 H100 vllm fp8 1k1k tp8 ep1 dpa false"]);
    assert!(r.markdown(&b, &c).contains("**No series in common**"));
}

#[test]
fn an_older_baseline_with_fewer_fields_still_matches() {
    let old: Vec<Value> = curve(1.0, 1.0)
        .into_iter()
        .map(|mut r| {
            let o = r.as_object_mut().expect("object");
            for k in ["spec_decoding", "is_multinode", "ep", "median_ttft"] {
                o.remove(k);
            }
            r
        })
        .collect();
    let r = compare(
        &side("old", &old),
        &side("c", &curve(1.0, 1.0)),
        &BTreeMap::new(),
    );
    assert_eq!(r.series.len(), 1, "{:?} {:?}", r.new, r.gone);
    assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Same);
    assert_eq!(metric(&r, Metric::Ttft).verdict, Verdict::NotCompared);
}

#[test]
fn repeats_set_the_threshold() {
    // Two baseline repeats 2% apart in TPOT: threshold 3 x 2% = 6%.
    let mut rows = curve(1.0, 1.0);
    rows.extend(curve(1.0, 1.02));
    let b = side("b", &rows);
    assert_eq!(b.repeats(), 2);
    let r = compare(&b, &side("c", &curve(1.0, 1.05)), &BTreeMap::new());
    let t = r
        .thresholds
        .iter()
        .find(|t| t.metric == Metric::Tpot)
        .expect("tpot");
    assert!((t.value.expect("a value") - 0.06).abs() < 1e-9, "{t:?}");
    assert_eq!(t.source, Source::Repeats { pairs: 1 });
    // The user's threshold wins.
    let user = BTreeMap::from([(Metric::Tpot, 0.02)]);
    let r = compare(&b, &side("c", &curve(1.0, 1.05)), &user);
    assert_eq!(metric(&r, Metric::Tpot).verdict, Verdict::Regression);
    assert!(r.markdown(&b, &b).contains("tpot 2.0% (--threshold)"));
}

#[test]
fn too_few_repeats_do_not_go_below_the_default() {
    let tpot = |b: &Side| {
        let r = compare(b, &side("c", &curve(1.0, 1.0)), &BTreeMap::new());
        let t = r.thresholds.into_iter().find(|t| t.metric == Metric::Tpot);
        t.expect("tpot")
    };
    // One pair 1% apart: 3% would be tighter than the default, which holds.
    let mut rows = curve(1.0, 1.0);
    rows.extend(curve(1.0, 1.01));
    let t = tpot(&side("b", &rows));
    assert_eq!(
        (t.value, t.source),
        (Some(0.05), Source::Repeats { pairs: 1 })
    );
    // TTFT has no default: from one pair it is not judged at all.
    let r = compare(
        &side("b", &rows),
        &side("c", &curve(1.0, 1.0)),
        &BTreeMap::new(),
    );
    let ttft = r
        .thresholds
        .iter()
        .find(|t| t.metric == Metric::Ttft)
        .expect("ttft");
    assert_eq!(ttft.value, None, "{ttft:?}");
    // Three pairs 1% apart say enough: 3 x 1%.
    rows.extend(curve(1.0, 1.01));
    rows.extend(curve(1.0, 1.01));
    let t = tpot(&side("b", &rows));
    assert_eq!(t.source, Source::Repeats { pairs: 3 });
    assert!((t.value.expect("a value") - 0.03).abs() < 1e-9, "{t:?}");
}

#[test]
fn a_failed_repeat_does_not_pull_the_mean() {
    // The second repeat's points have no throughput (a failed run): the
    // mean is the first repeat's, so nothing changed.
    let mut rows = curve(1.0, 1.0);
    let mut failed = curve(1.0, 1.0);
    for r in &mut failed {
        r["tput_per_gpu"] = json!(0.0);
        r["median_intvty"] = Value::Null;
    }
    rows.extend(failed);
    let b = side("b", &rows);
    assert_eq!(b.repeats(), 2);
    let r = compare(&b, &side("c", &curve(1.0, 1.0)), &BTreeMap::new());
    let m = metric(&r, Metric::Tput);
    assert_eq!(m.verdict, Verdict::Same, "{m:?}");
    assert!(m.median_change.expect("a change").abs() < 1e-9, "{m:?}");
}

#[test]
fn hostile_series_names_are_escaped_in_the_table() {
    let mut rows = curve(1.0, 1.0);
    for r in &mut rows {
        r["framework"] = json!("x|<script>\n::error::");
    }
    let b = side("b", &rows);
    let md = compare(&b, &b, &BTreeMap::new()).markdown(&b, &b);
    assert!(
        !md.contains("<script>") && !md.contains("\n::error::"),
        "{md}"
    );
}

#[test]
fn marked_repeats_are_never_mixed() {
    // Repeat 1 lacks concurrency 16 (it failed), repeat 2 is 2% slower in
    // TPOT. Unmarked, repeat 2's conc-16 point would fill repeat 1's gap;
    // marked, each repeat keeps its own points.
    let mark = |rows: Vec<Value>, k: &str| -> Vec<Value> {
        rows.into_iter()
            .map(|mut r| {
                r["repeat"] = json!(k);
                r
            })
            .collect()
    };
    // A point of repeat 2: its interactivity is not one of curve()'s.
    let slower = |s: &series::Sample| {
        [200.0, 150.0, 100.0, 50.0]
            .iter()
            .all(|i| (s.intvty - i).abs() > 1e-6)
    };
    let mut rows = mark(curve(1.0, 1.0), "1");
    rows.retain(|r| r["conc"] != 16);
    rows.extend(mark(curve(1.0, 1.02), "2"));
    let b = side("b", &rows);
    assert_eq!(b.repeats(), 2);
    let curves = b.series.values().next().expect("one series");
    assert_eq!(
        curves.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 4],
        "repeat 1 (3 points), then repeat 2 (4)"
    );
    assert!(curves[1].iter().all(slower));
    // Unmarked, the same rows mix: the heuristic puts repeat 2's conc 16
    // into the first curve without one.
    let unmarked: Vec<Value> = rows
        .iter()
        .cloned()
        .map(|mut r| {
            r.as_object_mut().expect("object").remove("repeat");
            r
        })
        .collect();
    let u = side("u", &unmarked);
    let curves = u.series.values().next().expect("one series");
    assert_eq!(curves.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 3]);
    assert!(curves[0].iter().any(slower));
}
