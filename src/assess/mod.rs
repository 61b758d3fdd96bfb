//! Verdicts: observations of one domain (DNS answers, the fetched policy, probe results) plus
//! the parsed records → the RFC-level classification written to the dataset, per-MX policy
//! matches, the delivery verdict of an RFC 8461 sender, RFC 8460 result types and findings.
//!
//! Pure: no async, no sockets, no files, no clock — every input is passed in, so every verdict
//! is reproducible from the row that records its inputs.

pub mod domain;
pub mod verdict;
