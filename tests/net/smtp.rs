//! STARTTLS probe tests: the dialog driven in memory (`tokio::io::duplex`) against scripted
//! server behaviours ([`dialog`]), and the TCP probe and the single-flight prober against
//! servers on loopback addresses (random 127.x.y.z) that each test starts itself ([`prober`]).

// Test helpers (not only `#[test]` fns) may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dialog;
mod fixtures;
mod prober;
