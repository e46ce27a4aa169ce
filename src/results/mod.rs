//! Turning raw runs into what people read: processed results, aggregates,
//! summary and eval tables, charts (results.md §2-§4).

pub(crate) mod collect;
pub(crate) mod compare;
pub(crate) mod evals;
pub(crate) mod markdown;
pub(crate) mod process;
pub(crate) mod record;
pub(crate) mod report;
