//! Tests of `stsscan diff` / `stsscan monitor`: the pure rule engine on hand-made row pairs
//! ([`rules`]), and whole monitoring rounds against a lab whose world changes between scans
//! ([`rounds`]: one lab, one random `127.B.0.0/16` block per test, the world switched between
//! rounds so every host keeps its address), the catalog's "over time" scenarios across epochs,
//! the real binary's `--every` schedule and Ctrl-C handling ([`every`]), and the command
//! lines around the comparison: `--column`, empty and disjoint scans, errors ([`cli`]). Only
//! loopback; every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers unwrap like the tests do"
)]

mod cli;
mod every;
mod rounds;
mod rules;
