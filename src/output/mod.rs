//! Output: the Arrow schema of the `domains` and `mx` tables (defined once, in [`schema`]),
//! the rows the pipeline fills ([`rows`]), the closed vocabularies of the status columns
//! ([`vocab`]), the Parquet dataset writer running on its own thread ([`writer`]), the scan
//! manifest ([`manifest`]) and reading back completed parts for `--resume` ([`read`]).
//! The column reference for users is `docs/schema.md`, checked against the schema by a test.
//!
//! # Layout of an output directory `OUT`
//!
//! ```text
//! OUT/domains/scan_date=YYYY-MM-DD/scan_id=ID/part-NNNNN.parquet
//! OUT/mx/scan_date=YYYY-MM-DD/scan_id=ID/part-NNNNN.parquet
//! OUT/manifest/scan_id=ID.json
//! ```
//!
//! `scan_date` is the UTC date the scan *started* (a resumed scan keeps it). Parts are written
//! as `.part-NNNNN.parquet.tmp` and renamed when complete; part `N` of `mx` holds the MX rows
//! of the domains in part `N` of `domains`, and the `mx` part is renamed first, so a complete
//! `domains` part implies its `mx` part is complete. Readers (DuckDB, polars, the resume
//! reader) see only complete parts.
//!
//! This module never touches the network and never decides a verdict: it stores what the
//! pipeline measured, verbatim.

pub mod manifest;
pub mod read;
pub mod rows;
pub mod schema;
pub mod vocab;
pub mod writer;

pub use manifest::Manifest;
pub use rows::{DomainRow, FindingRow, MxRow};
pub use schema::{SCHEMA_VERSION, Table};
pub use writer::{OutputError, OutputWriter, RowSender, WriteSummary, WriterConfig};
