//! The sweep's benchmark protocol, in one place: the engine scripts
//! (`benchmarks/benchmark_lib.sh` calls `bench serve --protocol sweep`) and
//! `infmax run --full-scale` both take their settings from here, so a local
//! run and a CI job measure the same way (compat.md §4).

use super::BenchOptions;
use super::metrics::Metric;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Protocol {
    /// Input/output lengths uniform in [ratio x L, L], unless the caller gives one.
    pub(crate) range_ratio: f64,
    /// Measured prompts per unit of concurrency, unless the caller gives a count.
    pub(crate) prompts_per_conc: usize,
    /// Warm-up requests per unit of concurrency (the seed's 2 x C).
    pub(crate) warmups_per_conc: usize,
    pub(crate) metrics: [Metric; 4],
    pub(crate) percentiles: [f64; 4],
}

/// The seed system's CI protocol: random dataset, every request at once
/// (rate inf) under the concurrency cap, exact output lengths (ignore-eos).
pub(crate) const SWEEP: Protocol = Protocol {
    range_ratio: 0.8,
    prompts_per_conc: 10,
    warmups_per_conc: 2,
    metrics: Metric::ALL,
    percentiles: [50.0, 90.0, 99.0, 99.9],
};

impl Protocol {
    /// Sets what the protocol owns on `o`, whose `max_concurrency` must be
    /// set. `range_ratio`/`num_prompts` are the caller's, when given.
    pub(crate) fn apply(
        &self,
        o: &mut BenchOptions,
        range_ratio: Option<f64>,
        num_prompts: Option<usize>,
    ) -> Result<()> {
        let Some(conc) = o.max_concurrency else {
            return Err(Error::usage(
                "--protocol sweep needs --max-concurrency (warm-ups and prompts are per unit of it)",
            ));
        };
        o.dataset.range_ratio = range_ratio.unwrap_or(self.range_ratio);
        o.dataset.num_prompts = num_prompts.unwrap_or(self.prompts_per_conc * conc);
        o.num_warmups = self.warmups_per_conc * conc;
        o.request_rate = f64::INFINITY;
        o.ignore_eos = true;
        o.metrics = self.metrics.to_vec();
        o.percentiles = self.percentiles.to_vec();
        Ok(())
    }
}
