//! Sub-millisecond timing for the simulator.
//!
//! Tokio's timer wheel has 1 ms resolution and rounds every sleep up, adding
//! up to a millisecond to each token. The simulator instead runs one timer
//! thread that sleeps with the kernel's fine-grained timers (timer slack set
//! to 1 µs) until shortly before a deadline and spins for the rest, then hands
//! the token to the request's stream through a channel.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How long before a deadline the timer stops sleeping and spins. Sleeps
/// overshoot by ~25 µs (median) on a VM even with 1 µs timer slack.
const SPIN: Duration = Duration::from_micros(50);

/// Minimum time between two hand-overs. Under load deadlines are
/// microseconds apart; waking the I/O thread once per token would spend the
/// core on context switches. Tokens due within this window go out together,
/// at most this much late.
const BATCH: Duration = Duration::from_micros(40);

/// Asks the kernel for precise wake-ups on this thread (Linux timer slack
/// defaults to 50 µs).
pub(crate) fn precise_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long and only affects the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Sleeps until `deadline` with ~10 µs precision (sleep, then spin).
pub(crate) fn sleep_until(deadline: Instant) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > SPIN {
            std::thread::sleep(left - SPIN);
        } else {
            // Yield rather than burn the core: the simulator's I/O threads
            // may share it.
            std::thread::yield_now();
        }
    }
}

/// A token stream scheduled at fixed times: token k is due at `first + k·gap`.
pub(crate) struct Series {
    pub(crate) first: Instant,
    pub(crate) gap: Duration,
    pub(crate) count: u32,
    /// Receives each token's scheduled time when it is due.
    pub(crate) tx: UnboundedSender<Instant>,
}

struct Entry {
    due: Instant,
    index: u32,
    series: Series,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.due.cmp(&other.due)
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
}

/// The timer thread's handle; cloning shares the thread.
#[derive(Clone)]
pub(crate) struct Timer {
    shared: Arc<(Mutex<State>, Condvar)>,
    /// Tokens handed over more than this after their due time count as late.
    late_after: Duration,
    pub(crate) stats: Arc<LateStats>,
}

/// How far behind schedule the timer thread itself ran.
#[derive(Default)]
pub(crate) struct LateStats {
    pub(crate) late_tokens: std::sync::atomic::AtomicU64,
    pub(crate) max_late_ns: std::sync::atomic::AtomicU64,
}

impl Timer {
    pub(crate) fn start(late_after: Duration) -> Timer {
        let t = Timer {
            shared: Arc::new((Mutex::new(State::default()), Condvar::new())),
            late_after,
            stats: Arc::new(LateStats::default()),
        };
        let worker = t.clone();
        std::thread::Builder::new()
            .name("sim-timer".into())
            .spawn(move || worker.run())
            .expect("spawning the timer thread (OS thread limit reached)");
        t
    }

    /// Schedules every token of a series.
    pub(crate) fn add(&self, series: Series) {
        if series.count == 0 {
            return;
        }
        let (lock, cv) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        let earliest = st.heap.peek().map(|e| e.0.due);
        let due = series.first;
        st.heap.push(Reverse(Entry {
            due,
            index: 0,
            series,
        }));
        if earliest.is_none_or(|e| due < e) {
            cv.notify_one();
        }
    }

    fn run(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        precise_thread();
        let (lock, cv) = &*self.shared;
        let mut last_warn: Option<Instant> = None;
        let mut last_fire = Instant::now();
        loop {
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            let Some(due) = st.heap.peek().map(|e| e.0.due.max(last_fire + BATCH)) else {
                drop(cv.wait(st).unwrap_or_else(|p| p.into_inner()));
                continue;
            };
            let now = Instant::now();
            if due > now + SPIN {
                let wait = due - now - SPIN;
                drop(cv.wait_timeout(st, wait).unwrap_or_else(|p| p.into_inner()));
                continue;
            }
            if due > now {
                drop(st);
                sleep_until(due);
                continue;
            }
            // Fire everything due.
            let now = Instant::now();
            last_fire = now;
            while let Some(top) = st.heap.peek() {
                if top.0.due > now {
                    break;
                }
                let Some(Reverse(mut e)) = st.heap.pop() else {
                    break;
                };
                let late = now.saturating_duration_since(e.due);
                if late > self.late_after {
                    self.stats.late_tokens.fetch_add(1, Relaxed);
                    if last_warn.is_none_or(|w| now.duration_since(w) > Duration::from_secs(1)) {
                        last_warn = Some(now);
                        eprintln!(
                            "infmax sim: falling behind the fixed schedule by {:.2} ms (this machine cannot keep up; see infmax_sim_late_tokens_total in /metrics)",
                            late.as_secs_f64() * 1e3
                        );
                    }
                }
                let late_ns = u64::try_from(late.as_nanos()).unwrap_or(u64::MAX);
                self.stats.max_late_ns.fetch_max(late_ns, Relaxed);
                if e.series.tx.send(e.due).is_err() {
                    continue; // the client went away
                }
                e.index += 1;
                if e.index < e.series.count {
                    e.due = e.series.first + e.series.gap * e.index;
                    st.heap.push(Reverse(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_every_token_on_time_in_order() {
        let timer = Timer::start(Duration::from_millis(1));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let first = Instant::now() + Duration::from_millis(5);
        timer.add(Series {
            first,
            gap: Duration::from_millis(2),
            count: 5,
            tx,
        });
        let mut got = Vec::new();
        while let Some(due) = rx.blocking_recv() {
            got.push((due, Instant::now()));
            if got.len() == 5 {
                break;
            }
        }
        for (k, (due, at)) in got.iter().enumerate() {
            assert_eq!(
                *due,
                first + Duration::from_millis(2) * k as u32,
                "scheduled times"
            );
            assert!(*at >= *due, "never early");
        }
    }
}
