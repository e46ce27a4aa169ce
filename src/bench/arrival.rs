//! The arrival process: when each request is due, from the start of the run.
//! Infinite rate sends everything at once; otherwise gaps are gamma
//! distributed with shape `burstiness` and mean 1/rate (1 = Poisson).

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Gamma};
use std::time::Duration;

pub(crate) fn offsets(n: usize, rate: f64, burstiness: f64, seed: u64) -> Vec<Duration> {
    if !rate.is_finite() || rate <= 0.0 {
        return vec![Duration::ZERO; n];
    }
    let shape = if burstiness > 0.0 { burstiness } else { 1.0 };
    let scale = 1.0 / (rate * shape);
    let Ok(gamma) = Gamma::new(shape, scale) else {
        return vec![Duration::ZERO; n];
    };
    // A stream of its own, so the arrival times do not depend on the dataset.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_a55e_7a11_u64);
    let mut t = 0.0f64;
    (0..n)
        .map(|i| {
            if i > 0 {
                t += gamma.sample(&mut rng);
            }
            // Capped so `start + offset` cannot overflow the clock.
            Duration::from_secs_f64(t.min(1e9))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_rate_sends_at_once() {
        assert!(
            offsets(5, f64::INFINITY, 1.0, 0)
                .iter()
                .all(|d| d.is_zero())
        );
    }

    #[test]
    fn mean_gap_is_one_over_rate_and_seeded() {
        let o = offsets(20_001, 100.0, 1.0, 7);
        let mean_gap = o.last().map_or(0.0, Duration::as_secs_f64) / 20_000.0;
        assert!((mean_gap - 0.01).abs() < 0.0005, "{mean_gap}");
        assert_eq!(o, offsets(20_001, 100.0, 1.0, 7));
        assert!(o.windows(2).all(|w| w[1] >= w[0]));
    }

    #[test]
    fn burstiness_changes_the_spread_not_the_mean() {
        let gaps = |b: f64| -> (f64, f64) {
            let o = offsets(20_001, 50.0, b, 3);
            let g: Vec<f64> = o.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
            let m = g.iter().sum::<f64>() / g.len() as f64;
            let cv = (g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / g.len() as f64).sqrt() / m;
            (m, cv)
        };
        let (m1, cv1) = gaps(1.0);
        let (m4, cv4) = gaps(4.0);
        assert!((m1 - 0.02).abs() < 0.001 && (m4 - 0.02).abs() < 0.001);
        assert!((cv1 - 1.0).abs() < 0.05, "Poisson: cv 1, got {cv1}");
        assert!((cv4 - 0.5).abs() < 0.05, "gamma shape 4: cv 1/2, got {cv4}");
    }
}
