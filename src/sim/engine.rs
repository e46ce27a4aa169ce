//! When each token of a request is produced: a fixed schedule (ground truth
//! for testing clients) or a model of a continuous-batching engine.
//!
//! Both hand a request's tokens to its HTTP stream through a channel that
//! carries each token's scheduled time; the channel closes after the last.
//! The engine model is described in docs/simulator.md.

use super::clock::{self, Series, Timer};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Parameters of the continuous-batching model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EngineParams {
    /// Requests decoded together at most; the rest wait in a FIFO queue.
    pub(crate) max_num_seqs: u32,
    /// Prefill speed, prompt tokens per second.
    pub(crate) prefill_tps: f64,
    /// Chunked prefill: prompt tokens processed per step at most.
    pub(crate) prefill_chunk: u32,
    /// Decode step time = base + per_seq · batch size.
    pub(crate) decode_base_ms: f64,
    pub(crate) decode_per_seq_ms: f64,
}

/// Knobs that change a preset; `None` keeps the preset's value.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Overrides {
    pub(crate) max_num_seqs: Option<u32>,
    pub(crate) prefill_tps: Option<f64>,
    pub(crate) prefill_chunk: Option<u32>,
    pub(crate) decode_base_ms: Option<f64>,
    pub(crate) decode_per_seq_ms: Option<f64>,
}

impl EngineParams {
    /// The preset with `o` applied, or what is wrong with the result: the
    /// prefill speed must be finite and above 0, the decode times finite
    /// and at least 0 (counts below 1 are raised to 1).
    pub(crate) fn with(mut self, o: &Overrides) -> Result<EngineParams, &'static str> {
        self.max_num_seqs = o.max_num_seqs.map_or(self.max_num_seqs, |v| v.max(1));
        self.prefill_tps = o.prefill_tps.unwrap_or(self.prefill_tps);
        self.prefill_chunk = o.prefill_chunk.map_or(self.prefill_chunk, |v| v.max(1));
        self.decode_base_ms = o.decode_base_ms.unwrap_or(self.decode_base_ms);
        self.decode_per_seq_ms = o.decode_per_seq_ms.unwrap_or(self.decode_per_seq_ms);
        let time = |v: f64| v.is_finite() && v >= 0.0;
        if !(self.prefill_tps.is_finite() && self.prefill_tps > 0.0) {
            return Err("the prefill speed must be a finite number above 0");
        }
        if !(time(self.decode_base_ms) && time(self.decode_per_seq_ms)) {
            return Err("decode step times must be finite and at least 0");
        }
        Ok(self)
    }
}

/// Hardware presets: shapes in the right proportions (a DeepSeek-class
/// model), not measurements of any engine.
pub(crate) const PRESETS: &[(&str, EngineParams)] = &[
    (
        "h100",
        EngineParams {
            max_num_seqs: 256,
            prefill_tps: 20_000.0,
            prefill_chunk: 8192,
            decode_base_ms: 12.0,
            decode_per_seq_ms: 0.060,
        },
    ),
    (
        "h200",
        EngineParams {
            max_num_seqs: 256,
            prefill_tps: 26_000.0,
            prefill_chunk: 8192,
            decode_base_ms: 10.0,
            decode_per_seq_ms: 0.050,
        },
    ),
    (
        "b200",
        EngineParams {
            max_num_seqs: 512,
            prefill_tps: 45_000.0,
            prefill_chunk: 16384,
            decode_base_ms: 7.0,
            decode_per_seq_ms: 0.030,
        },
    ),
    (
        "gb200",
        EngineParams {
            max_num_seqs: 512,
            prefill_tps: 50_000.0,
            prefill_chunk: 16384,
            decode_base_ms: 6.0,
            decode_per_seq_ms: 0.025,
        },
    ),
    (
        "mi300x",
        EngineParams {
            max_num_seqs: 256,
            prefill_tps: 18_000.0,
            prefill_chunk: 8192,
            decode_base_ms: 13.0,
            decode_per_seq_ms: 0.070,
        },
    ),
    (
        "mi325x",
        EngineParams {
            max_num_seqs: 256,
            prefill_tps: 22_000.0,
            prefill_chunk: 8192,
            decode_base_ms: 11.0,
            decode_per_seq_ms: 0.060,
        },
    ),
    (
        "mi355x",
        EngineParams {
            max_num_seqs: 512,
            prefill_tps: 40_000.0,
            prefill_chunk: 16384,
            decode_base_ms: 7.5,
            decode_per_seq_ms: 0.035,
        },
    ),
];

pub(crate) fn preset(name: &str) -> Option<EngineParams> {
    // A runner type such as `b200-dgxc` uses its SKU's preset.
    let sku = name.split('-').next().unwrap_or(name);
    PRESETS.iter().find(|(n, _)| *n == sku).map(|(_, p)| *p)
}

pub(crate) fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// Produces token schedules for requests.
pub(crate) enum Generator {
    Fixed {
        ttft: Duration,
        itl: Duration,
        timer: Timer,
        active: Arc<AtomicU64>,
    },
    Model(Arc<EngineModel>),
}

impl Generator {
    pub(crate) fn fixed(ttft: Duration, itl: Duration) -> Generator {
        Generator::Fixed {
            ttft,
            itl,
            timer: Timer::start(Duration::from_millis(1)),
            active: Arc::default(),
        }
    }

    pub(crate) fn model(params: EngineParams) -> Generator {
        Generator::Model(EngineModel::start(params))
    }

    /// Starts generating `output_tokens` tokens for a request whose body was
    /// fully read at `arrived`.
    pub(crate) fn submit(
        &self,
        arrived: Instant,
        prompt_tokens: u32,
        output_tokens: u32,
    ) -> UnboundedReceiver<Instant> {
        let (tx, rx) = unbounded_channel();
        match self {
            Generator::Fixed {
                ttft, itl, timer, ..
            } => {
                timer.add(Series {
                    first: arrived + *ttft,
                    gap: *itl,
                    count: output_tokens,
                    tx,
                });
            }
            Generator::Model(m) => m.submit(prompt_tokens, output_tokens, tx),
        }
        rx
    }

    pub(crate) fn running(&self) -> u64 {
        match self {
            Generator::Fixed { active, .. } => active.load(Relaxed),
            Generator::Model(m) => m.running.load(Relaxed),
        }
    }

    pub(crate) fn waiting(&self) -> u64 {
        match self {
            Generator::Fixed { .. } => 0,
            Generator::Model(m) => m.waiting.load(Relaxed),
        }
    }

    /// Counts streams in flight for fixed mode's `running` gauge.
    pub(crate) fn stream_started(&self) {
        if let Generator::Fixed { active, .. } = self {
            active.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn stream_ended(&self) {
        if let Generator::Fixed { active, .. } = self {
            active.fetch_sub(1, Relaxed);
        }
    }

    /// Tokens the fixed schedule handed over more than 1 ms late.
    pub(crate) fn late_tokens(&self) -> u64 {
        match self {
            Generator::Fixed { timer, .. } => timer.stats.late_tokens.load(Relaxed),
            Generator::Model(m) => m.late_steps.load(Relaxed),
        }
    }
}

struct Job {
    prompt_tokens: u32,
    output_tokens: u32,
    tx: UnboundedSender<Instant>,
}

struct Active {
    job: Job,
    prefill_left: u32,
    emitted: u32,
}

pub(crate) struct EngineModel {
    params: EngineParams,
    queue: Mutex<VecDeque<Job>>,
    wake: Condvar,
    pub(crate) running: AtomicU64,
    pub(crate) waiting: AtomicU64,
    /// Steps that ended more than 1 ms after their planned end.
    pub(crate) late_steps: AtomicU64,
}

impl EngineModel {
    pub(crate) fn start(params: EngineParams) -> Arc<EngineModel> {
        let m = Arc::new(EngineModel {
            params,
            queue: Mutex::new(VecDeque::new()),
            wake: Condvar::new(),
            running: AtomicU64::new(0),
            waiting: AtomicU64::new(0),
            late_steps: AtomicU64::new(0),
        });
        let worker = Arc::clone(&m);
        std::thread::Builder::new()
            .name("sim-engine".into())
            .spawn(move || worker.run())
            .expect("spawning the engine thread (OS thread limit reached)");
        m
    }

    fn submit(&self, prompt_tokens: u32, output_tokens: u32, tx: UnboundedSender<Instant>) {
        if output_tokens == 0 {
            return;
        }
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back(Job {
            prompt_tokens,
            output_tokens,
            tx,
        });
        self.waiting.store(q.len() as u64, Relaxed);
        self.wake.notify_one();
    }

    /// Planned duration of one step.
    pub(crate) fn step_time(p: &EngineParams, decoding: usize, prefill_tokens: u32) -> Duration {
        let ms = p.decode_base_ms + p.decode_per_seq_ms * decoding as f64;
        let prefill_s = f64::from(prefill_tokens) / p.prefill_tps.max(1.0);
        Duration::from_secs_f64(ms / 1e3 + prefill_s)
    }

    fn run(&self) {
        clock::precise_thread();
        let p = self.params;
        let mut running: Vec<Active> = Vec::new();
        let mut step_start = Instant::now();
        loop {
            {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                while running.is_empty() && q.is_empty() {
                    q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                    step_start = Instant::now();
                }
                while running.len() < p.max_num_seqs as usize {
                    let Some(job) = q.pop_front() else { break };
                    let prefill_left = job.prompt_tokens.max(1);
                    running.push(Active {
                        job,
                        prefill_left,
                        emitted: 0,
                    });
                }
                self.waiting.store(q.len() as u64, Relaxed);
            }
            self.running.store(running.len() as u64, Relaxed);
            // Plan the step: decode every prefilled request; spend the chunk
            // budget on prompts in arrival order.
            let mut budget = p.prefill_chunk.max(1);
            let mut prefill_tokens = 0;
            let mut emits = vec![false; running.len()];
            let mut decoding = 0;
            for (a, emit) in running.iter_mut().zip(emits.iter_mut()) {
                if a.prefill_left == 0 {
                    decoding += 1;
                    *emit = true;
                } else if budget > 0 {
                    let take = a.prefill_left.min(budget);
                    a.prefill_left -= take;
                    budget -= take;
                    prefill_tokens += take;
                    // The step that completes a prompt produces its first token.
                    *emit = a.prefill_left == 0;
                }
            }
            let end = step_start + Self::step_time(&p, decoding, prefill_tokens);
            clock::sleep_until(end);
            let now = Instant::now();
            if now > end + Duration::from_millis(1) {
                self.late_steps.fetch_add(1, Relaxed);
            }
            let mut keep = Vec::with_capacity(running.len());
            for (mut a, emit) in running.into_iter().zip(emits) {
                if emit {
                    if a.job.tx.send(end).is_err() {
                        continue; // client gone: free the slot
                    }
                    a.emitted += 1;
                    if a.emitted >= a.job.output_tokens {
                        continue;
                    }
                }
                keep.push(a);
            }
            running = keep;
            self.running.store(running.len() as u64, Relaxed);
            step_start = end.max(now - Duration::from_micros(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_impossible_speeds_are_refused() {
        let p = preset("h100").expect("preset");
        let o = Overrides {
            max_num_seqs: Some(0),
            decode_base_ms: Some(3.0),
            ..Overrides::default()
        };
        let q = p.with(&o).expect("valid");
        assert_eq!((q.max_num_seqs, q.decode_base_ms), (1, 3.0));
        assert_eq!(q.prefill_tps, p.prefill_tps);
        for bad in [
            Overrides {
                prefill_tps: Some(0.0),
                ..Overrides::default()
            },
            Overrides {
                prefill_tps: Some(f64::INFINITY),
                ..Overrides::default()
            },
            Overrides {
                decode_per_seq_ms: Some(f64::NAN),
                ..Overrides::default()
            },
            Overrides {
                decode_base_ms: Some(-1.0),
                ..Overrides::default()
            },
        ] {
            assert!(p.with(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn step_time_grows_with_batch_and_prefill() {
        let p = EngineParams {
            max_num_seqs: 4,
            prefill_tps: 1000.0,
            prefill_chunk: 100,
            decode_base_ms: 10.0,
            decode_per_seq_ms: 1.0,
        };
        assert_eq!(EngineModel::step_time(&p, 0, 0), Duration::from_millis(10));
        assert_eq!(EngineModel::step_time(&p, 4, 0), Duration::from_millis(14));
        assert_eq!(
            EngineModel::step_time(&p, 2, 100),
            Duration::from_millis(112)
        );
    }

    #[test]
    fn presets_by_runner_type() {
        assert_eq!(preset("b200-dgxc"), preset("b200"));
        assert!(preset("tpu").is_none());
        assert_eq!(preset_names().len(), 7);
    }

    #[test]
    fn model_emits_every_token_in_steps_and_queues_beyond_max_seqs() {
        let p = EngineParams {
            max_num_seqs: 2,
            prefill_tps: 1e6,
            prefill_chunk: 1000,
            decode_base_ms: 2.0,
            decode_per_seq_ms: 0.0,
        };
        let g = Generator::model(p);
        let now = Instant::now();
        let mut rxs: Vec<_> = (0..3).map(|_| g.submit(now, 10, 4)).collect();
        let times: Vec<Vec<Instant>> = rxs
            .iter_mut()
            .map(|rx| std::iter::from_fn(|| rx.blocking_recv()).collect())
            .collect();
        assert!(
            times.iter().all(|t| t.len() == 4),
            "every request gets all its tokens"
        );
        // The third request waits for a free slot: its first token comes
        // after the first two finished.
        assert!(times[2][0] > times[0][3] && times[2][0] > times[1][3]);
        // Tokens of one request come one step apart, in order.
        assert!(times[0].windows(2).all(|w| w[1] > w[0]));
    }
}
