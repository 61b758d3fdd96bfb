//! The pure grammar core: parsers and validators for every record stsscan reads.
//!
//! Nothing here does I/O, spawns tasks, reads a clock or allocates without bound: every
//! function takes bytes or strings and returns values. Parse failures are [`diag::ParseError`]s
//! with a stable code and a byte span; non-fatal observations are [`diag::Finding`]s with a
//! severity and a stable code. Untrusted input never panics.
//!
//! | module | what it owns | RFC |
//! |---|---|---|
//! | [`diag`] | spans, errors, findings, caret rendering | — |
//! | [`domain`] | domain-name normalization (IDNA/UTS-46 → A-labels, LDH, lengths) | RFC 5890, 1035 |
//! | [`sts_txt`] | the `_mta-sts` TXT record and RRset rule | RFC 8461 §3.1 |
//! | [`policy`] | the MTA-STS policy body | RFC 8461 §3.2 |
//! | [`mx`] | MX patterns and matching; MX RRset semantics (null MX, implicit MX) | RFC 8461 §4.1, RFC 7505, RFC 5321 §5.1 |
//! | [`tlsrpt_txt`] | the `_smtp._tls` TXT record | RFC 8460 §3 |
//! | `fields` (private) | the `v=…; name=value` grammar both TXT records share (version, splitter, extensions) | RFC 8461 §3.1, RFC 8460 §3 |
//! | `rrset` (private) | the TXT RRset rule both TXT records share (version tag, one record) | RFC 8461 §3.1, RFC 8460 §3 |
//! | [`tlsrpt_report`] | TLS-RPT JSON aggregate reports | RFC 8460 §4 |

pub mod diag;
pub mod domain;
mod fields;
pub mod mx;
pub mod policy;
mod rrset;
pub mod sts_txt;
pub mod tlsrpt_report;
pub mod tlsrpt_txt;
