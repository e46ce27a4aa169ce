//! infmax: continuous LLM-inference benchmarking as a GitHub Action.
//!
//! The binary is a thin command line ([`cli`]) over these modules; each
//! domain concept lives in the module named after it.

pub mod bench;
pub mod changelog;
pub mod cli;
pub mod config;
pub mod diag;
pub mod error;
pub mod eval;
pub mod fields;
pub mod fsutil;
pub mod git;
pub mod github;
pub mod http;
pub mod matrix;
pub mod results;
pub mod run;
pub mod runners;
pub mod seqlen;
pub mod server;
pub mod sim;
pub mod stats;
pub mod tokenizer;
pub mod yaml;
