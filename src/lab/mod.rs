//! The lab: a simulated internet on loopback that stsscan is tested, benchmarked and
//! demonstrated against.
//!
//! * [`model`] — the contract between a world and the servers (a [`model::World`] trait and
//!   the behaviour vocabulary).
//! * [`server`] — real DNS (hickory-server, UDP+TCP), HTTPS (tokio-rustls + hyper) and SMTP
//!   (ESMTP + STARTTLS personalities) servers on 127.x.y.z addresses, a private PKI made at
//!   start-up with rcgen, and counters for tests.
//! * [`world`] — worlds: explicit (declared by a test) and generated (seed + N + mix), the
//!   scenario catalog and the ground truth.
//!
//! The lab never imports [`crate::records`] or [`crate::assess`]: its truth comes from its own
//! scenario definitions, so it can catch the scanner's mistakes (`scripts/check-layering.sh`
//! enforces this).

pub mod model;
pub mod server;
pub mod world;
