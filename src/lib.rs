//! infmax: continuous LLM-inference benchmarking as a GitHub Action.
//!
//! The binary is a thin command line ([`cli`]) over these modules; each
//! domain concept lives in the module named after it.

pub(crate) mod bench;
pub(crate) mod changelog;
pub mod cli;
pub(crate) mod config;
pub(crate) mod diag;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod fsutil;
pub(crate) mod git;
pub(crate) mod github;
pub(crate) mod http;
pub(crate) mod lm_eval;
pub(crate) mod matrix;
pub(crate) mod results;
pub(crate) mod run;
pub(crate) mod runners;
pub(crate) mod seqlen;
pub(crate) mod server_wait;
pub(crate) mod sim;
pub(crate) mod stats;
pub(crate) mod tokenizer;
pub(crate) mod yaml;
