//! A metric's relative changes between two curves of a series: along the
//! Pareto frontiers (each reading only where it is well conditioned), or
//! at the concurrencies both runs have.

use super::super::report::{self, Point};
use super::Metric;
use super::series::Sample;

pub(super) fn usable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Linear interpolation on a frontier sorted by x (x within its range).
fn interp(front: &[Point], x: f64) -> f64 {
    for w in front.windows(2) {
        let (a, b) = (w[0], w[1]);
        if x >= a.x && x <= b.x {
            if b.x == a.x {
                return a.y.max(b.y);
            }
            return a.y + (b.y - a.y) * (x - a.x) / (b.x - a.x);
        }
    }
    front.iter().find(|p| p.x == x).map_or(f64::NAN, |p| p.y)
}

/// |d ln y / d ln x| of the frontier segment holding `x` (the mean of the
/// two segments at a vertex between them).
fn elasticity(front: &[Point], x: f64) -> f64 {
    let slopes: Vec<f64> = front
        .windows(2)
        .filter(|w| x >= w[0].x && x <= w[1].x)
        .map(|w| {
            let dx = (w[1].x / w[0].x).ln();
            let dy = (w[1].y / w[0].y).ln();
            if dx == 0.0 {
                f64::INFINITY
            } else {
                (dy / dx).abs()
            }
        })
        .collect();
    if slopes.is_empty() {
        f64::INFINITY
    } else {
        slopes.iter().sum::<f64>() / slopes.len() as f64
    }
}

/// Relative changes of one metric (current / baseline - 1) over the part
/// both curves cover, or why there are none.
pub(super) fn changes(metric: Metric, base: &[Sample], cur: &[Sample]) -> Result<Vec<f64>, String> {
    match metric {
        Metric::Tput | Metric::Intvty => {
            let pts = |c: &[Sample]| -> Vec<Point> {
                c.iter()
                    .filter(|s| usable(s.intvty) && usable(s.tput))
                    .map(|s| match metric {
                        Metric::Tput => Point {
                            x: s.intvty,
                            y: s.tput,
                        },
                        _ => Point {
                            x: s.tput,
                            y: s.intvty,
                        },
                    })
                    .collect()
            };
            let (fb, fc) = (report::pareto(&pts(base)), report::pareto(&pts(cur)));
            if fb.len() < 2 || fc.len() < 2 {
                return Err(format!(
                    "a curve needs 2 points with throughput and interactivity; baseline has {}, current {}",
                    fb.len(),
                    fc.len()
                ));
            }
            let (lo, hi) = (
                fb[0].x.max(fc[0].x),
                fb[fb.len() - 1].x.min(fc[fc.len() - 1].x),
            );
            if lo >= hi {
                return Err(format!(
                    "the curves do not overlap ({} {:.4}..{:.4} in the baseline, {:.4}..{:.4} now)",
                    if metric == Metric::Tput {
                        "interactivity"
                    } else {
                        "tput/GPU"
                    },
                    fb[0].x,
                    fb[fb.len() - 1].x,
                    fc[0].x,
                    fc[fc.len() - 1].x
                ));
            }
            let mut xs: Vec<f64> = fb
                .iter()
                .chain(&fc)
                .map(|p| p.x)
                .filter(|x| *x > lo && *x < hi)
                .chain([lo, hi])
                .collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            // Read each metric only where it is well conditioned: where the
            // baseline frontier's log-log slope is steeper than 1, a 1%
            // difference in x moves y by more than 1% (noise in one axis
            // amplified into the other); there the other curve metric,
            // with the axes swapped, reads it.
            let n = xs.len();
            let out: Vec<f64> = xs
                .into_iter()
                .filter(|x| elasticity(&fb, *x) <= 1.0)
                .map(|x| interp(&fc, x) / interp(&fb, x) - 1.0)
                .filter(|c| c.is_finite())
                .collect();
            if out.is_empty() {
                return Err(format!(
                    "the baseline curve is steeper than 1:1 (log-log) at all {n} points of the overlap, where {} reads it",
                    if metric == Metric::Tput {
                        "interactivity at matched tput/GPU"
                    } else {
                        "tput/GPU at matched interactivity"
                    }
                ));
            }
            Ok(out)
        }
        Metric::Ttft | Metric::Tpot => {
            let get = |s: &Sample| {
                if metric == Metric::Ttft {
                    s.ttft
                } else {
                    s.tpot
                }
            };
            let out: Vec<f64> = base
                .iter()
                .filter(|b| usable(get(b)))
                .filter_map(|b| {
                    cur.iter()
                        .find(|c| c.conc == b.conc && usable(get(c)))
                        .map(|c| get(c) / get(b) - 1.0)
                })
                .collect();
            if out.is_empty() {
                return Err("no concurrency with a value in both runs".into());
            }
            Ok(out)
        }
    }
}
