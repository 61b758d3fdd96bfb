//! Interop tests: stsscan's STARTTLS probe against real MTAs (Postfix, Exim, OpenSMTPD) started by the
//! test on private loopback addresses, with STARTTLS on (certificate for `mx.interop.test`
//! from the lab PKI) and off, configured to accept no mail. Each test checks exactly what
//! the probe records: greeting, EHLO capabilities, STARTTLS, TLS version and cipher, chain
//! and the certificate verdicts. Tests skip with a note when the MTA is not installed,
//! unless `STSSCAN_REQUIRE_TOOLS=1` (CI, see `.ci/run`). See `docs/interop.md`.

// Test helpers outside #[test] functions: panicking on setup failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod exim;
mod harness;
mod opensmtpd;
mod postfix;
