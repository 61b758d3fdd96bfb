//! The SMTP STARTTLS probe (RFC 5321, RFC 3207, RFC 8461 §4).
//!
//! This module owns everything between "here is an MX address and its name" and an
//! [`SmtpProbe`] value: reply framing ([`reply`], sans-I/O), the dialog over any byte stream
//! ([`dialog`]), STARTTLS injection detection ([`injection`]), sending the TLS 1.3 client's
//! last flight with the first command over TLS ([`coalesce`]), the TCP probe and the per-scan
//! single-flight cache with politeness limits ([`probe`](mod@probe)), and the outcome vocabulary ([`status`], the SMTP outcomes of
//! `docs/ground-truth.md`). It must not judge certificates (the raw chain is returned for
//! [`crate::tls`]), decide which addresses may be probed, or send mail: the dialog ends with
//! `QUIT` after the EHLO over TLS.
//!
//! What a sender checks (RFC 8461 §4): that the MX host offers STARTTLS, completes a TLS
//! handshake and presents a certificate valid for the MX name; so the handshake uses the MX
//! name as SNI and records the chain, TLS version and cipher suite.

pub mod coalesce;
pub mod dialog;
pub mod injection;
pub mod probe;
pub mod reply;
pub mod status;
#[cfg(test)]
mod test_io;

pub use dialog::{Capabilities, DialogConfig, SmtpProbe, run_dialog};
pub use probe::{
    ProbeConfig, ProbeDedup, ProbeSource, ProbeStats, Prober, ProberConfig, SharedProbe, probe,
};
pub use reply::{Reply, ReplyError, ReplyLimits, ReplyParser};
pub use status::{SmtpPhase, SmtpStatus};
