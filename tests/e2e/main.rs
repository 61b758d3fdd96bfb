//! End-to-end tests: `stsscan scan` against lab worlds, graded against the ground truth.
//!
//! * [`scenarios`] — every scenario class and provider topology, 100 % agreement.
//! * [`generated`] — generated realistic and adversarial worlds, 100 % agreement.
//! * [`loopback`] — nothing leaves the lab's block; fetches and probes are counted by the lab.
//! * [`impaired`] — a lossy lab DNS (random drops): retries keep the agreement.
//! * [`crash`] — the real binary: `kill -9` then `--resume`, Ctrl-C, resume with other flags.
//! * [`input`] — CSV, gzip, duplicate and invalid input lines end to end.
//! * [`exclude`] — `--exclude`: listed input domains, MX hosts and policy hosts are never
//!   queried or contacted; the rest agrees with the truth.
//! * [`ipv6`] — `--ip-version 4|6|both` with MX and policy hosts on `::1`.
//! * [`injection`] — the STARTTLS injection personalities of the lab, scanned.
//! * [`scopes`] — `--probe sts` and DNS only against the default scan: the same measurements,
//!   and null where a scope does not measure.
//! * [`check`] — `stsscan check --policy`: a draft policy judged against a lab domain; an
//!   internet `check`/`scan` without a route (in a network namespace) refuses to start.
//!
//! Every test starts its own lab in a random `127.B.0.0/16` block (the IPv6 test also on
//! `::1`, on ports of its own) and talks to nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod check;
mod common;
mod crash;
mod exclude;
mod generated;
mod impaired;
mod injection;
mod input;
mod ipv6;
mod loopback;
mod scenarios;
mod scopes;
