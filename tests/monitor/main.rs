//! Tests of `stsscan diff` / `stsscan monitor`: the pure rule engine on hand-made row pairs
//! ([`rules`]), and whole monitoring rounds against a lab whose world changes between scans
//! ([`rounds`]: one lab, one random `127.B.0.0/16` block per test, the world switched between
//! rounds so every host keeps its address). Only loopback; every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers unwrap like the tests do"
)]

mod rounds;
mod rules;
