//! TLS-RPT reports received by a domain (RFC 8460): ingesting report files, RFC 5322
//! messages and mboxes ([`ingest`], [`mime`]), receiving HTTPS POSTs ([`receive`], feature
//! `lab`, which brings hyper), storing them as a Parquet dataset ([`store`]) and summarising
//! the dataset as text and a self-contained HTML page, optionally joined with a scan
//! ([`report`]).
//!
//! Report grammar lives in [`crate::records::tlsrpt_report`]; this module never re-parses
//! JSON itself and never prints (the CLI in `cli::tlsrpt` does). Malformed inputs are rows
//! of the `errors` table, never a stopped run; `Err` means the tool failed (e.g. the dataset
//! directory is not writable).

pub mod ingest;
pub mod mime;
#[cfg(feature = "lab")]
pub mod receive;
pub mod report;
pub mod store;
