//! What the client cost while it measured: CPU time (user + system, every
//! thread of this process), peak resident memory, and whether the client
//! itself may have been the limit. A load generator that saturates its
//! cores, or falls behind its own schedule, measures itself: such a result
//! says so (`client_bound`), so nobody publishes the client's numbers as
//! the server's.

use super::request::RequestRecord;
use serde::Serialize;
use std::time::Duration;

/// CPU use at or above this share of the cores the client may use counts
/// as saturated: the event loop then delays reading tokens.
pub(crate) const SATURATED_SHARE: f64 = 0.9;

/// A scheduling lag (a request free to go, by its arrival time and a free
/// concurrency slot, but not yet handed to its connection) beyond this at
/// p99 means the client fell behind. The first burst of max-concurrency
/// requests, all free at once, is not judged.
pub(crate) const LAG_P99_MS: f64 = 1.0;

/// CPU time this process has used so far (user + system, all threads).
pub(crate) fn cpu_time() -> Duration {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given
    // and reads nothing from it; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: zero-initialised, and filled in by the successful call.
    let u = unsafe { u.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The process's peak resident memory so far, in bytes (0 when unknown).
pub(crate) fn peak_rss_bytes() -> u64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: as in cpu_time.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: as in cpu_time.
    let u = unsafe { u.assume_init() };
    // Linux reports kilobytes, macOS bytes.
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    (u.ru_maxrss.max(0) as u64) * unit
}

/// The p99 of the scheduling lag, in ms, of the requests after the first
/// `burst` (max-concurrency) ones. Those are all free at once and leave one
/// after another: their lag is the burst's, not the client falling behind
/// (at C=512 it alone made the p99 7-10 ms with the client at 4-50% of a
/// core; docs/results.md). None when no later request was sent.
pub(crate) fn steady_lag_p99_ms(records: &[RequestRecord], burst: usize) -> Option<f64> {
    let steady: Vec<f64> = records
        .iter()
        .filter(|r| r.index >= burst)
        .filter_map(|r| Some(r.sent?.saturating_duration_since(r.ready?).as_secs_f64() * 1e3))
        .collect();
    if steady.is_empty() {
        return None;
    }
    super::metrics::dist(&steady, &[99.0])
        .percentiles
        .first()
        .map(|(_, v)| *v)
}

/// The client's cost over the measured phase (`client_cost` in the result).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ClientCost {
    /// CPU seconds (user + system, all threads) spent while measuring.
    pub(crate) cpu_seconds: f64,
    /// Microseconds of client CPU per output token streamed (None: none).
    pub(crate) cpu_us_per_token: Option<f64>,
    /// The cores the client could run on (affinity and cgroup limits).
    pub(crate) cores: usize,
    /// cpu_seconds / (duration x cores): 1.0 is every core busy throughout.
    pub(crate) cpu_share: f64,
    /// Peak resident memory of the process, in MB (10^6 bytes).
    pub(crate) peak_rss_mb: f64,
    /// p99 of the scheduling lag of the requests after the first burst of
    /// max-concurrency (a request free to go, not yet handed to its
    /// connection), milliseconds; what `bound_by` judges.
    pub(crate) steady_sched_lag_p99_ms: Option<f64>,
    /// Why the numbers may be the client's rather than the server's (empty:
    /// the client kept up).
    pub(crate) bound_by: Vec<String>,
    /// `infmax-http1` (plain http://, read in the requesting task) or
    /// `reqwest` (TLS or a proxy).
    pub(crate) http_client: &'static str,
}

impl ClientCost {
    /// `cpu`: CPU time of the measured phase lasting `duration_s`;
    /// `lag_p99_ms`: the p99 of the client's scheduling lag after the
    /// first burst.
    pub(crate) fn assess(
        cpu: Duration,
        duration_s: f64,
        cores: usize,
        output_tokens: u64,
        lag_p99_ms: Option<f64>,
        peak_rss: u64,
        http_client: &'static str,
    ) -> ClientCost {
        let cpu_seconds = cpu.as_secs_f64();
        let cores = cores.max(1);
        let cpu_share = if duration_s > 0.0 {
            cpu_seconds / (duration_s * cores as f64)
        } else {
            0.0
        };
        let mut bound_by = Vec::new();
        if cpu_share >= SATURATED_SHARE {
            bound_by.push(format!(
                "the client used {:.0}% of its {cores} core(s)",
                cpu_share * 100.0
            ));
        }
        if let Some(lag) = lag_p99_ms.filter(|l| *l > LAG_P99_MS) {
            bound_by.push(format!(
                "the client's scheduling lag p99 was {lag:.2} ms after the first burst (over {LAG_P99_MS} ms)"
            ));
        }
        ClientCost {
            cpu_seconds,
            cpu_us_per_token: (output_tokens > 0).then(|| cpu_seconds * 1e6 / output_tokens as f64),
            cores,
            cpu_share,
            peak_rss_mb: peak_rss as f64 / 1e6,
            steady_sched_lag_p99_ms: lag_p99_ms,
            bound_by,
            http_client,
        }
    }

    pub(crate) fn bound(&self) -> bool {
        !self.bound_by.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_is_per_token_and_per_core() {
        // 1 s of CPU over a 4 s run on 2 cores streaming 100,000 tokens.
        let c = ClientCost::assess(
            Duration::from_secs(1),
            4.0,
            2,
            100_000,
            Some(0.2),
            50_000_000,
            "reqwest",
        );
        assert_eq!(c.cpu_us_per_token, Some(10.0));
        assert!((c.cpu_share - 0.125).abs() < 1e-12);
        assert_eq!(c.peak_rss_mb, 50.0);
        assert_eq!(c.http_client, "reqwest");
        assert!(!c.bound(), "{c:?}");
    }

    #[test]
    fn a_saturated_or_late_client_is_bound() {
        let busy = ClientCost::assess(
            Duration::from_secs_f64(7.4),
            4.0,
            2,
            1,
            None,
            0,
            "infmax-http1",
        );
        assert_eq!(busy.bound_by, vec!["the client used 92% of its 2 core(s)"]);
        let late = ClientCost::assess(Duration::ZERO, 4.0, 2, 0, Some(3.5), 0, "infmax-http1");
        assert_eq!(
            late.bound_by,
            vec!["the client's scheduling lag p99 was 3.50 ms after the first burst (over 1 ms)"]
        );
        assert_eq!(late.cpu_us_per_token, None);
        // Exactly at the limits: not bound.
        let edge = ClientCost::assess(
            Duration::from_secs_f64(7.19),
            4.0,
            2,
            1,
            Some(1.0),
            0,
            "infmax-http1",
        );
        assert!(!edge.bound(), "{edge:?}");
    }

    #[test]
    fn the_first_burst_is_not_judged() {
        let t0 = std::time::Instant::now();
        let rec = |index: usize, lag_ms: u64| RequestRecord {
            index,
            ready: Some(t0),
            sent: Some(t0 + Duration::from_millis(lag_ms)),
            ..Default::default()
        };
        // Four requests at once, the last sent 9 ms late; the refills on time.
        let mut records: Vec<RequestRecord> = (0..4).map(|i| rec(i, 3 * i as u64)).collect();
        records.extend((4..104).map(|i| rec(i, 0)));
        assert_eq!(steady_lag_p99_ms(&records, 4), Some(0.0));
        assert!(steady_lag_p99_ms(&records, 0).is_some_and(|l| l > 1.0));
        // A refill sent late counts.
        records.extend((104..110).map(|i| rec(i, 5)));
        assert!(steady_lag_p99_ms(&records, 4).is_some_and(|l| l >= 5.0));
        assert_eq!(steady_lag_p99_ms(&records[..4], 4), None);
    }

    #[test]
    fn the_clock_and_the_memory_are_read() {
        let t0 = cpu_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
        assert!(cpu_time() > t0);
        assert!(peak_rss_bytes() > 1_000_000);
    }
}
