//! Everything that talks to GitHub: the runner's output files and the REST API.

pub(crate) mod api;
pub(crate) mod fetch;
pub(crate) mod output;
pub(crate) mod pr;
pub(crate) mod run_stats;
