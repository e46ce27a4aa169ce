//! The body of one generation response: SSE chunks as tokens come due, with
//! injected stream faults, recording what was really sent.

use super::Sim;
use super::api::{self, Endpoint, Ids};
use super::faults::Fault;
use super::truth::RequestTruth;
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedReceiver;

const WORDS: [&str; 16] = [
    " the",
    " model",
    " answers",
    " with",
    " one",
    " token",
    " per",
    " chunk",
    " and",
    " every",
    " chunk",
    " is",
    " timed",
    " by",
    " the",
    " simulator",
];

/// Text of the k-th generated token.
pub(crate) fn token_text(k: u32) -> &'static str {
    WORDS[k as usize % WORDS.len()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Role,
    Tokens,
    Usage,
    Done,
    End,
}

/// Everything one response needs; its `Drop` records the truth.
pub(crate) struct Generation {
    pub(crate) sim: Arc<Sim>,
    pub(crate) endpoint: Endpoint,
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) rx: Option<UnboundedReceiver<Instant>>,
    /// Tokens planned, and how many of them are reasoning.
    pub(crate) planned: u32,
    pub(crate) reasoning: u32,
    pub(crate) finish: &'static str,
    pub(crate) include_usage: bool,
    pub(crate) fault: Option<Fault>,
    pub(crate) truth: RequestTruth,
}

impl Generation {
    fn ids(&self) -> Ids<'_> {
        Ids {
            id: &self.id,
            created: self.created,
            model: &self.sim.opts.served_model_name,
        }
    }

    fn fault_at(&self) -> usize {
        (self.planned / 2) as usize
    }

    fn sent(&self) -> u32 {
        self.truth.sent.len() as u32
    }

    /// Waits for the next token; `None` when the schedule is exhausted.
    async fn next_token(&mut self) -> Option<Instant> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => None,
        }
    }

    /// Collects every token (non-streamed responses) and builds the body.
    pub(crate) async fn whole(mut self) -> Value {
        while let Some(due) = self.next_token().await {
            self.truth.due.push(due);
            self.truth.sent.push(Instant::now());
            self.sim.counters.generation_tokens.fetch_add(1, Relaxed);
        }
        let n = self.sent();
        let r = self.reasoning.min(n);
        let reasoning: String = (0..r).map(token_text).collect();
        let text: String = (r..n).map(token_text).collect();
        self.truth.complete = n == self.planned;
        api::full_response(
            self.endpoint,
            &self.ids(),
            &reasoning,
            &text,
            self.finish,
            self.truth.prompt_tokens,
            n,
        )
    }

    /// Turns the generation into an SSE body stream.
    pub(crate) fn into_sse(
        self,
    ) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
        let first = if self.endpoint == Endpoint::Chat {
            Phase::Role
        } else {
            Phase::Tokens
        };
        futures_util::stream::unfold((self, first), |(mut g, phase)| async move {
            let (item, next) = g.step(phase).await?;
            Some((item, (g, next)))
        })
    }

    async fn step(&mut self, phase: Phase) -> Option<(Result<Bytes, std::io::Error>, Phase)> {
        match phase {
            Phase::Role => Some((Ok(sse(&api::role_chunk(&self.ids()))), Phase::Tokens)),
            Phase::Tokens => {
                if self.truth.sent.len() == self.fault_at() {
                    match self.fault {
                        Some(Fault::Reset) => {
                            // Cut when the next token is due, after the
                            // previous chunks have reached the socket.
                            let _ = self.next_token().await;
                            self.rx = None;
                            self.fault = None;
                            let err = std::io::Error::new(
                                std::io::ErrorKind::ConnectionReset,
                                "injected connection reset",
                            );
                            return Some((Err(err), Phase::End));
                        }
                        Some(Fault::Stall) => {
                            // Free the schedule, then hold the connection open.
                            self.rx = None;
                            std::future::pending::<()>().await;
                        }
                        Some(Fault::Malformed) => {
                            self.fault = None;
                            let bad = Bytes::from_static(
                                b"data: {\"choices\": [{\"index\": 0, \"text\": \"trunc\n\n",
                            );
                            return Some((Ok(bad), Phase::Tokens));
                        }
                        _ => {}
                    }
                }
                // Build the chunk before the token is due, so only the
                // hand-over happens on time.
                let k = self.sent();
                let finish = (k + 1 == self.planned).then_some(self.finish);
                let chunk = sse(&api::chunk(
                    self.endpoint,
                    &self.ids(),
                    token_text(k),
                    k < self.reasoning,
                    finish,
                ));
                match self.next_token().await {
                    Some(due) => {
                        self.truth.due.push(due);
                        self.truth.sent.push(Instant::now());
                        self.sim.counters.generation_tokens.fetch_add(1, Relaxed);
                        Some((Ok(chunk), Phase::Tokens))
                    }
                    None => {
                        self.truth.complete = self.sent() == self.planned;
                        let next = if self.include_usage {
                            Phase::Usage
                        } else {
                            Phase::Done
                        };
                        Box::pin(self.step(next)).await
                    }
                }
            }
            Phase::Usage => {
                let c = api::usage_chunk(
                    self.endpoint,
                    &self.ids(),
                    self.truth.prompt_tokens,
                    self.sent(),
                );
                Some((Ok(sse(&c)), Phase::Done))
            }
            Phase::Done => {
                if self.fault == Some(Fault::NoDone) {
                    return None;
                }
                Some((Ok(Bytes::from_static(b"data: [DONE]\n\n")), Phase::End))
            }
            Phase::End => None,
        }
    }
}

fn sse(v: &Value) -> Bytes {
    let mut s = String::with_capacity(256);
    s.push_str("data: ");
    s.push_str(&v.to_string());
    s.push_str("\n\n");
    Bytes::from(s)
}

impl Drop for Generation {
    fn drop(&mut self) {
        self.sim.generator.stream_ended();
        let arrived = self.truth.arrived;
        let empty = RequestTruth {
            arrived,
            sent: Vec::new(),
            due: Vec::new(),
            prompt_tokens: 0,
            complete: false,
        };
        let truth = std::mem::replace(&mut self.truth, empty);
        let complete = truth.complete;
        self.sim.truth.record(truth);
        if complete {
            self.sim.counters.success.fetch_add(1, Relaxed);
            self.sim.finished_one();
        }
    }
}
