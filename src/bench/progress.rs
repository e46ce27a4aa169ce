//! Progress while a run goes: a bar on a terminal; in CI or when stderr is
//! not a terminal, one plain line every few seconds.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Bar,
    Lines,
    Off,
}

pub(crate) struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    total: usize,
    start: Instant,
    last_line: Instant,
    every: Duration,
    pub(crate) done: usize,
    pub(crate) failed: usize,
    pub(crate) tokens: u64,
}

impl Progress {
    pub(crate) fn new(mode: Mode, total: usize, every: Duration) -> Progress {
        let bar = (mode == Mode::Bar).then(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            ) {
                b.set_style(style);
            }
            b
        });
        let now = Instant::now();
        Progress {
            mode,
            bar,
            total,
            start: now,
            last_line: now,
            every,
            done: 0,
            failed: 0,
            tokens: 0,
        }
    }

    fn rates(&self) -> (f64, f64) {
        let s = self.start.elapsed().as_secs_f64().max(1e-9);
        (self.done as f64 / s, self.tokens as f64 / s)
    }

    pub(crate) fn update(&mut self, ok: bool, tokens: u64) {
        self.done += 1;
        self.failed += usize::from(!ok);
        self.tokens += tokens;
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.inc(1);
                    if self.failed > 0 {
                        b.set_message(format!("{} failed", self.failed));
                    }
                }
            }
            Mode::Lines => {
                if self.last_line.elapsed() >= self.every {
                    self.last_line = Instant::now();
                    self.print_line();
                }
            }
            Mode::Off => {}
        }
    }

    fn print_line(&self) {
        let (rps, tps) = self.rates();
        eprintln!(
            "infmax bench: {}/{} done, {rps:.1} req/s, {tps:.1} tok/s, {} failed",
            self.done, self.total, self.failed
        );
    }

    pub(crate) fn finish(&self) {
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.finish_and_clear();
                }
            }
            Mode::Lines => self.print_line(),
            Mode::Off => {}
        }
    }
}
