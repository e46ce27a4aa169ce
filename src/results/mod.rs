//! Turning raw runs into what people read: processed results, aggregates,
//! summary and eval tables, charts (results.md §2-§4).

pub mod collect;
pub mod evals;
pub mod markdown;
pub mod process;
pub mod report;
