//! stsscan: internet-scale measurement of MTA-STS (RFC 8461), TLS-RPT (RFC 8460) and SMTP
//! STARTTLS, with a simulated internet (the lab) to test, benchmark and demonstrate it.
//!
//! # Architecture
//!
//! The crate is layered; lower layers never call upward.
//!
//! * **Pure core** — [`records`] (grammar of MTA-STS TXT records, policies, TLS-RPT TXT records
//!   and JSON reports, MX patterns and RRsets, domain names) and [`assess`] (observations plus
//!   parsed records → verdicts and findings). No async, no sockets, no files, no clock.
//! * **Network** — [`dns`] (hickory-resolver with a closed status vocabulary), [`tls`]
//!   (certificate capture and judging), [`fetch`] (the RFC 8461 §3.3 policy fetch) and
//!   [`smtp`] (the STARTTLS probe; reply framing is sans-I/O).
//! * **Pipeline** — [`pipeline`]: scheduler, limits, caches, shutdown, events.
//! * **Politeness** — [`gate`]: connections and their rate per destination address, shared
//!   by probes and policy fetches.
//! * **Output** — [`output`]: the Arrow schema in one place, the Parquet writer and manifest.
//! * **CLI** — [`cli`]: clap arguments resolved once into a validated configuration.
//! * **Lab** — [`lab`] (feature `lab`): DNS, HTTPS and SMTP servers on loopback with a
//!   scenario catalog and ground truth. It never imports `records` or `assess`.
//!
//! Measurement outcomes (a refused connection, an expired certificate, a SERVFAIL) are data
//! with a status from a closed vocabulary; `Err` is reserved for the tool itself failing.

pub mod assess;
pub mod cli;
pub mod dns;
pub mod fetch;
pub mod gate;
#[cfg(feature = "lab")]
pub mod grade;
#[cfg(feature = "lab")]
pub mod lab;
pub mod monitor;
pub mod output;
pub mod pipeline;
pub mod records;
pub mod report;
pub mod smtp;
pub mod tls;
pub mod tlsrpt;
