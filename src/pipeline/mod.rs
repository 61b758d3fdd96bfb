//! The scan pipeline: input → scheduler (bounded concurrency, rate limits) → per-domain DNS,
//! policy fetch, MX addresses and STARTTLS probes → verdicts → rows for the writer.
//!
//! It owns orchestration only: the protocols live in [`crate::dns`], [`crate::fetch`] and
//! [`crate::smtp`], the verdicts in [`crate::assess`], the files in [`crate::output`].

pub mod config;
pub mod dedupe;
pub mod exclude;
pub mod input;
pub mod reach;
pub mod run;
pub mod scanner;
pub mod stats;
