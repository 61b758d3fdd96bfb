//! Generated worlds: a seed, a size N and a [`Mix`]. Domain `i`'s name is a pure function of
//! `(seed, i)` (`w{i}-{word}.{tld}`) and its scenario and provider a pure function of
//! `(seed, name)` (SipHash keyed with the seed), so DNS for any name is answered without
//! per-domain memory and iterating the domains is streaming.

use std::hash::Hasher;
use std::sync::OnceLock;

use siphasher::sip::SipHasher13;

use super::hosts::Context;
use super::scenario::{Scenario, catalog_servers};
use super::serve::LabWorld;
use super::spec::Provider;
use super::{DomainEntry, DomainSource};

/// How scenarios are distributed over a generated world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mix {
    /// Weights that look like the internet (see `docs/lab.md`).
    Realistic,
    /// Every scenario equally often; providers equally often.
    Adversarial,
}

impl Mix {
    /// The mix named `realistic` or `adversarial`.
    pub fn from_name(name: &str) -> Option<Mix> {
        match name {
            "realistic" => Some(Mix::Realistic),
            "adversarial" => Some(Mix::Adversarial),
            _ => None,
        }
    }

    /// The mix's name.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Realistic => "realistic",
            Mix::Adversarial => "adversarial",
        }
    }
}

/// Words of generated names.
const WORDS: [&str; 32] = [
    "alpha", "amber", "atlas", "birch", "cedar", "cobalt", "delta", "ember", "falcon", "fjord",
    "garnet", "harbor", "indigo", "juniper", "kestrel", "lumen", "maple", "nimbus", "onyx",
    "orchid", "pebble", "quartz", "raven", "sierra", "spruce", "tundra", "umber", "vertex",
    "willow", "xenon", "yarrow", "zephyr",
];
/// Top-level domains of generated names (none is used by the lab's providers).
const TLDS: [&str; 4] = ["test", "example", "sim", "labnet"];
/// Share of provider-hosted MX at the Google-like provider in the realistic mix (percent).
pub const GOOGLE_PERCENT: u64 = 25;
/// Share at the Microsoft-like provider in the realistic mix (percent).
pub const MICROSOFT_PERCENT: u64 = 10;

/// A world of N generated domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneratedWorld {
    /// The seed: names, scenarios and providers are pure functions of it.
    pub seed: u64,
    /// Number of domains.
    pub n: u64,
    /// The scenario distribution.
    pub mix: Mix,
}

fn realistic_table() -> &'static [(u32, Scenario)] {
    static TABLE: OnceLock<Vec<(u32, Scenario)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut acc = 0u32;
        Scenario::ALL
            .iter()
            .filter(|s| s.realistic_weight() > 0)
            .map(|s| {
                acc += s.realistic_weight();
                (acc, *s)
            })
            .collect()
    })
}

impl GeneratedWorld {
    fn hash(&self, salt: u64, data: &[u8]) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.seed, salt);
        h.write(data);
        h.finish()
    }

    /// The name of domain `i` (any `i`; only `i < n` are in the world).
    pub fn name(&self, i: u64) -> String {
        let h = self.hash(0x6e61_6d65, &i.to_le_bytes());
        let word = WORDS[(h % WORDS.len() as u64) as usize];
        let tld = TLDS[((h >> 32) % TLDS.len() as u64) as usize];
        format!("w{i}-{word}.{tld}")
    }

    /// The index of `name` if it is a domain of this world.
    pub fn index_of(&self, name: &str) -> Option<u64> {
        let rest = name.strip_prefix('w')?;
        let (digits, _) = rest.split_once('-')?;
        if digits.is_empty()
            || digits.len() > 20
            || (digits.len() > 1 && digits.starts_with('0'))
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let i: u64 = digits.parse().ok()?;
        (i < self.n && self.name(i) == name).then_some(i)
    }

    /// The domains, in order, as a streaming iterator.
    pub fn domains(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.n).map(|i| self.name(i))
    }

    /// The scenario of `name` (a pure function of the seed and the name; defined for any
    /// name, whether in the world or not).
    pub fn scenario_of(&self, name: &str) -> Scenario {
        let h = self.hash(0x7363_656e, name.as_bytes());
        match self.mix {
            Mix::Adversarial => Scenario::ALL[(h % Scenario::ALL.len() as u64) as usize],
            Mix::Realistic => {
                let table = realistic_table();
                let total = table.last().map_or(1, |(w, _)| *w);
                let x = (h % u64::from(total)) as u32;
                let k = table.partition_point(|(w, _)| *w <= x);
                table.get(k).map_or(Scenario::NoSts, |(_, s)| *s)
            }
        }
    }

    /// The provider of `name`'s MX where its scenario lets it vary.
    pub fn provider_of(&self, name: &str) -> Provider {
        let h = self.hash(0x7072_6f76, name.as_bytes()) % 100;
        match self.mix {
            Mix::Adversarial => match h % 3 {
                0 => Provider::GoogleLike,
                1 => Provider::MicrosoftLike,
                _ => Provider::SelfHosted,
            },
            Mix::Realistic if h < GOOGLE_PERCENT => Provider::GoogleLike,
            Mix::Realistic if h < GOOGLE_PERCENT + MICROSOFT_PERCENT => Provider::MicrosoftLike,
            Mix::Realistic => Provider::SelfHosted,
        }
    }

    /// The world in block `127.block.0.0/16` with `pool_size` addresses per self-hosted
    /// server class.
    pub fn build(self, block: u8, pool_size: u8) -> LabWorld<GeneratedWorld> {
        LabWorld::new(self, Context::new(block, pool_size, catalog_servers()))
    }
}

impl DomainSource for GeneratedWorld {
    fn entry(&self, domain: &str) -> Option<DomainEntry> {
        self.index_of(domain)?;
        let s = self.scenario_of(domain);
        Some(DomainEntry {
            scenario: s.name(),
            spec: s.spec(self.provider_of(domain)),
        })
    }
}
