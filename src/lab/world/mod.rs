//! Lab worlds: which domains exist and how each is configured, as a pure function of the
//! world's parameters, plus the ground truth a scan of the world is graded against.
//!
//! * [`scenario`] — the catalog: every real-world (mis)configuration class as a named
//!   [`Scenario`] with a realistic weight.
//! * [`spec`] — the building blocks of a domain's configuration, each declaring what it
//!   serves AND what an RFC-exact scanner must conclude from it.
//! * [`providers`] / [`hosts`] — the topology: Google-like and Microsoft-like providers,
//!   self-hosted pools, shared policy hosts, "refused" addresses, all inside `127.B.0.0/16`.
//! * [`serve`] — [`LabWorld`], which answers the [`crate::lab::model::World`] calls of the
//!   servers for any [`DomainSource`].
//! * [`explicit`] — [`ExplicitWorld`]: a test declares its domains in a few lines.
//! * [`generated`] — [`GeneratedWorld`]: seed + N + [`Mix`]; names and scenarios are pure
//!   functions of (seed, i), so a ten-million-domain world costs no memory.
//! * [`truth`] / [`write`](mod@write) — the ground truth and its Parquet / JSONL writers.
//! * [`ipv6`] — [`Ipv6Loopback`]: any world plus chosen host names on `::1` (IPv6 tests).
//!
//! This module must not use the scanner's `records` or `assess` modules (the truth comes from the
//! scenario definitions, so it can catch the scanner's mistakes), and must not print.

pub mod explicit;
pub mod generated;
pub mod hosts;
pub mod ipv6;
pub mod providers;
pub mod scenario;
pub mod serve;
pub mod spec;
pub mod truth;
pub mod vocab;
pub mod write;

pub use explicit::{ExplicitWorld, ExplicitWorldBuilder};
pub use generated::{GeneratedWorld, Mix};
pub use ipv6::Ipv6Loopback;
pub use scenario::Scenario;
pub use serve::LabWorld;
pub use spec::{Provider, Spec};
pub use truth::{DomainTruth, MxTruth};

/// How one domain of a world is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainEntry {
    /// The scenario name (`custom` for a hand-written [`Spec`]).
    pub scenario: &'static str,
    /// The configuration (at epoch 0).
    pub spec: Spec,
    /// The catalog scenario and provider, when the entry comes from the catalog (so a world
    /// at a later epoch can apply the scenario's change over time).
    pub origin: Option<(Scenario, Provider)>,
}

/// A set of domains with their configurations: explicit (a map) or generated (a pure
/// function of the name).
pub trait DomainSource: Send + Sync + 'static {
    /// The configuration of `domain` (lowercase, no trailing dot), if it is in the world.
    fn entry(&self, domain: &str) -> Option<DomainEntry>;
}
