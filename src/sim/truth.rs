//! What the simulator really did, per request, so tests and benchmarks can
//! compare a client's report with the truth (`GET /sim/stats`,
//! `GET /sim/requests`, `POST /sim/reset`).

use crate::stats::Summary;
use serde::Serialize;
use std::sync::Mutex;
use std::time::Instant;

/// One request as served.
#[derive(Debug, Clone)]
pub(crate) struct RequestTruth {
    /// When the request body had been fully read.
    pub(crate) arrived: Instant,
    /// When each token-bearing chunk was handed to the HTTP connection.
    pub(crate) sent: Vec<Instant>,
    /// When each token was scheduled.
    pub(crate) due: Vec<Instant>,
    pub(crate) prompt_tokens: u32,
    /// The stream ran to its end (not cut by a fault or a client hang-up).
    pub(crate) complete: bool,
}

pub(crate) struct Truth {
    epoch: Instant,
    records: Mutex<Vec<RequestTruth>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct TruthStats {
    pub(crate) requests: usize,
    pub(crate) complete: usize,
    pub(crate) tokens: usize,
    pub(crate) ttft_ms: Summary,
    pub(crate) itl_ms: Summary,
    pub(crate) e2el_ms: Summary,
    /// Sent minus scheduled, per token.
    pub(crate) lateness_us: Summary,
}

#[derive(Debug, Serialize)]
pub(crate) struct RequestRow {
    pub(crate) arrived_us: f64,
    pub(crate) sent_us: Vec<f64>,
    pub(crate) due_us: Vec<f64>,
    pub(crate) prompt_tokens: u32,
    pub(crate) complete: bool,
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Truth {
    pub(crate) fn new() -> Truth {
        Truth {
            epoch: Instant::now(),
            records: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn record(&self, r: RequestTruth) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(r);
    }

    pub(crate) fn reset(&self) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    pub(crate) fn stats(&self) -> TruthStats {
        let recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let (mut ttft, mut itl, mut e2el, mut late) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut tokens = 0;
        for r in recs.iter() {
            tokens += r.sent.len();
            if let (Some(first), Some(last)) = (r.sent.first(), r.sent.last()) {
                ttft.push(ms(first.duration_since(r.arrived)));
                e2el.push(ms(last.duration_since(r.arrived)));
            }
            itl.extend(r.sent.windows(2).map(|w| ms(w[1].duration_since(w[0]))));
            late.extend(
                r.sent
                    .iter()
                    .zip(&r.due)
                    .map(|(s, d)| s.saturating_duration_since(*d).as_secs_f64() * 1e6),
            );
        }
        TruthStats {
            requests: recs.len(),
            complete: recs.iter().filter(|r| r.complete).count(),
            tokens,
            ttft_ms: Summary::of(&mut ttft),
            itl_ms: Summary::of(&mut itl),
            e2el_ms: Summary::of(&mut e2el),
            lateness_us: Summary::of(&mut late),
        }
    }

    /// Every request, times in microseconds since the server started.
    pub(crate) fn rows(&self) -> Vec<RequestRow> {
        let us = |t: &Instant| t.saturating_duration_since(self.epoch).as_secs_f64() * 1e6;
        let recs = self.records.lock().unwrap_or_else(|p| p.into_inner());
        recs.iter()
            .map(|r| RequestRow {
                arrived_us: us(&r.arrived),
                sent_us: r.sent.iter().map(us).collect(),
                due_us: r.due.iter().map(us).collect(),
                prompt_tokens: r.prompt_tokens,
                complete: r.complete,
            })
            .collect()
    }
}

impl Default for Truth {
    fn default() -> Self {
        Truth::new()
    }
}
