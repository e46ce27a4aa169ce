//! Everything that talks to GitHub: the runner's output files and the REST API.

pub mod api;
pub mod fetch;
pub mod output;
pub mod run_stats;
