//! Explicit worlds: a test declares its domains and their scenarios (or hand-written
//! [`Spec`]s) in a few lines.
//!
//! ```
//! use stsscan::lab::world::{ExplicitWorld, Scenario};
//! let world = ExplicitWorld::builder()
//!     .domain("a.test", Scenario::EnforceValid)
//!     .domain("b.test", Scenario::TxtMissingId)
//!     .build(77);
//! assert_eq!(world.truth("b.test").map(|t| t.policy_usable), Some(false));
//! ```

use std::collections::HashMap;

use super::hosts::Context;
use super::scenario::{Scenario, catalog_servers};
use super::serve::LabWorld;
use super::spec::{MxLayout, Provider, Spec};
use super::truth::DomainTruth;
use super::{DomainEntry, DomainSource};

/// A world of declared domains.
#[derive(Debug, Clone, Default)]
pub struct ExplicitWorld {
    order: Vec<String>,
    map: HashMap<String, DomainEntry>,
}

/// Builds an [`ExplicitWorld`].
#[derive(Debug, Clone)]
pub struct ExplicitWorldBuilder {
    world: ExplicitWorld,
    pool_size: u8,
}

impl ExplicitWorld {
    /// Starts declaring a world.
    pub fn builder() -> ExplicitWorldBuilder {
        ExplicitWorldBuilder {
            world: ExplicitWorld::default(),
            pool_size: 2,
        }
    }

    /// The declared domains, in declaration order.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}

impl DomainSource for ExplicitWorld {
    fn entry(&self, domain: &str) -> Option<DomainEntry> {
        self.map.get(domain).copied()
    }
}

impl ExplicitWorldBuilder {
    fn insert(mut self, name: &str, entry: DomainEntry) -> Self {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if self.world.map.insert(name.clone(), entry).is_none() {
            self.world.order.push(name);
        }
        self
    }

    /// Declares `name` with `scenario` (MX self-hosted where the scenario lets the provider
    /// vary). Declaring a name again replaces it.
    pub fn domain(self, name: &str, scenario: Scenario) -> Self {
        self.domain_at(name, scenario, Provider::SelfHosted)
    }

    /// Declares `name` with `scenario`, its MX at `provider` where the scenario allows.
    pub fn domain_at(self, name: &str, scenario: Scenario, provider: Provider) -> Self {
        let entry = DomainEntry {
            scenario: scenario.name(),
            spec: scenario.spec(provider),
        };
        self.insert(name, entry)
    }

    /// Declares `name` with a hand-written configuration (scenario name `custom`).
    pub fn custom(self, name: &str, spec: Spec) -> Self {
        self.insert(
            name,
            DomainEntry {
                scenario: "custom",
                spec,
            },
        )
    }

    /// Addresses per self-hosted server class (default 2).
    pub fn pool_size(mut self, n: u8) -> Self {
        self.pool_size = n;
        self
    }

    /// The world in block `127.block.0.0/16`.
    pub fn build(self, block: u8) -> LabWorld<ExplicitWorld> {
        let mut servers = catalog_servers();
        for e in self
            .world
            .order
            .iter()
            .filter_map(|d| self.world.map.get(d))
        {
            if let MxLayout::SelfHosted(s) = e.spec.mx {
                if !servers.contains(&s) {
                    servers.push(s);
                }
            }
        }
        LabWorld::new(self.world, Context::new(block, self.pool_size, servers))
    }
}

impl LabWorld<ExplicitWorld> {
    /// The ground truth of every declared domain, in declaration order.
    pub fn all_truth(&self) -> Vec<DomainTruth> {
        self.source()
            .domains()
            .filter_map(|d| self.truth(d))
            .collect()
    }
}
