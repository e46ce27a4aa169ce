//! Fault injection: which requests fail, and how. Every fault is either a
//! probability per request (seeded, reproducible) or `every=N` (requests N,
//! 2N, ...), so tests can inject an exact number of faults.

use rand::{RngExt, SeedableRng, rngs::StdRng};
use std::str::FromStr;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) enum Rate {
    #[default]
    Never,
    Probability(f64),
    Every(u64),
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        if let Some(n) = s.strip_prefix("every=") {
            return match n.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Rate::Every(n)),
                _ => Err(format!("`{s}`: every=N takes a whole number N >= 1")),
            };
        }
        match s.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(if p == 0.0 {
                Rate::Never
            } else {
                Rate::Probability(p)
            }),
            _ => Err(format!(
                "`{s}`: expected a probability from 0 to 1 (e.g. 0.05) or every=N"
            )),
        }
    }
}

/// What goes wrong with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer with this HTTP status and an error body instead of generating.
    Status(u16),
    /// Drop the connection half-way through the stream.
    Reset,
    /// Stop sending half-way, keeping the connection open.
    Stall,
    /// Send one chunk that is not valid JSON half-way.
    Malformed,
    /// End the stream without `data: [DONE]`.
    NoDone,
    /// Answer with no token at all (finish, usage and `[DONE]` only).
    Empty,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct FaultConfig {
    pub(crate) http_500: Rate,
    pub(crate) http_429: Rate,
    pub(crate) http_503: Rate,
    pub(crate) reset: Rate,
    pub(crate) stall: Rate,
    pub(crate) malformed: Rate,
    pub(crate) no_done: Rate,
    pub(crate) empty: Rate,
    pub(crate) seed: u64,
}

pub(crate) struct Faults {
    config: FaultConfig,
    rng: Mutex<StdRng>,
}

impl Faults {
    pub(crate) fn new(config: FaultConfig) -> Faults {
        let rng = Mutex::new(StdRng::seed_from_u64(config.seed));
        Faults { config, rng }
    }

    /// The fault for the `n`-th request (1-based), if any; the first listed
    /// kind that fires wins.
    pub(crate) fn draw(&self, n: u64) -> Option<Fault> {
        let c = &self.config;
        let kinds = [
            (c.http_500, Fault::Status(500)),
            (c.http_429, Fault::Status(429)),
            (c.http_503, Fault::Status(503)),
            (c.reset, Fault::Reset),
            (c.stall, Fault::Stall),
            (c.malformed, Fault::Malformed),
            (c.no_done, Fault::NoDone),
            (c.empty, Fault::Empty),
        ];
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let mut hit = None;
        for (rate, fault) in kinds {
            // Draw for every probability so one kind's setting does not shift
            // the random sequence of the others.
            let fires = match rate {
                Rate::Never => false,
                Rate::Every(k) => n.is_multiple_of(k),
                Rate::Probability(p) => rng.random::<f64>() < p,
            };
            if fires && hit.is_none() {
                hit = Some(fault);
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!("0.25".parse::<Rate>(), Ok(Rate::Probability(0.25)));
        assert_eq!("0".parse::<Rate>(), Ok(Rate::Never));
        assert_eq!("every=3".parse::<Rate>(), Ok(Rate::Every(3)));
        assert!("1.5".parse::<Rate>().is_err());
        assert!("every=0".parse::<Rate>().is_err());
    }

    #[test]
    fn every_n_is_exact_and_first_kind_wins() {
        let f = Faults::new(FaultConfig {
            http_500: Rate::Every(4),
            reset: Rate::Every(2),
            ..Default::default()
        });
        let got: Vec<Option<Fault>> = (1..=8).map(|n| f.draw(n)).collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(Fault::Reset),
                None,
                Some(Fault::Status(500)),
                None,
                Some(Fault::Reset),
                None,
                Some(Fault::Status(500))
            ]
        );
    }

    #[test]
    fn probabilities_are_seeded() {
        let cfg = FaultConfig {
            http_503: Rate::Probability(0.3),
            seed: 7,
            ..Default::default()
        };
        let a: Vec<_> = {
            let f = Faults::new(cfg.clone());
            (1..=200).map(|n| f.draw(n)).collect()
        };
        let b: Vec<_> = {
            let f = Faults::new(cfg);
            (1..=200).map(|n| f.draw(n)).collect()
        };
        assert_eq!(a, b, "same seed, same faults");
        let hits = a.iter().filter(|x| x.is_some()).count();
        assert!((30..=90).contains(&hits), "about 30% of 200: {hits}");
    }
}
