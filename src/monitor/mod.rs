//! Monitoring a portfolio over time: comparing two scans of a dataset and raising alerts for
//! the changes that break or weaken mail transport security (`stsscan diff`, `stsscan
//! monitor`).
//!
//! * [`snapshot`] — a scan reduced to the compared columns, read with a projection from the
//!   completed Parquet parts; finding the complete scans of a directory by manifest.
//! * [`rules`] — the pure rule engine: stable rule codes, severities, thresholds, [`diff`].
//! * [`report`] — human summary, JSON lines, the alerts file, the Nagios status.
//! * [`webhook`] — POSTing a round's alerts as JSON.
//!
//! This module owns the alert vocabulary (rule codes and severities, documented in
//! `docs/monitoring.md`). It never scans (the CLI runs the pipeline) and never prints.

pub mod report;
pub mod rules;
pub mod snapshot;
pub mod webhook;

pub use rules::{Alert, Rule, RuleOptions, Severity, diff};
pub use snapshot::{DomainSnap, MxSnap, Snapshot};
