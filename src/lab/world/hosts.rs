//! From a domain's [`MxLayout`] to concrete MX hosts: names, preferences, addresses (by the
//! [`Topology`]), the pattern a policy uses to cover each host, and each host's declared
//! probe outcome. Also the `mx` patterns a policy lists and which hosts they cover — declared
//! per [`PolicyMx`] value, not computed by a pattern matcher.

use std::net::IpAddr;

use super::providers::{GOOGLE_MX, MS_WILDCARD, OLD_PROVIDER_MX, Topology, ms_tenant_host};
use super::spec::{MxLayout, MxServer, PolicyMx, ProbeTruth, Provider, probe_truth};
use super::vocab::{CertVerdict, MxKind, SmtpOutcome};

/// Where an MX host's SMTP service lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostServer {
    /// Google-like host `k`.
    Google(usize),
    /// Microsoft-like shared addresses.
    Microsoft,
    /// Self-hosted pool of server class `k`.
    Pool(usize),
    /// An address where nothing listens.
    Refused,
    /// The black hole (connection attempts time out).
    Blackhole,
}

/// One MX host of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// The MX target name (for an implicit MX: the domain itself).
    pub name: String,
    /// The MX preference (0 for an implicit MX).
    pub preference: u16,
    /// When the MX target is an alias: the CNAME target holding the addresses.
    pub alias_of: Option<String>,
    /// The A addresses, sorted.
    pub addresses: Vec<IpAddr>,
    /// The policy pattern that covers this host.
    pub pattern: String,
    /// Where the SMTP service lives.
    pub server: HostServer,
    /// The declared probe outcome.
    pub probe: ProbeTruth,
}

/// The MX RRset of a domain and its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxSet {
    /// Declared shape of the RRset.
    pub kind: MxKind,
    /// A null MX (`0 .`) is in the RRset.
    pub null: bool,
    /// The hosts (non-null MX targets, or the implicit MX).
    pub hosts: Vec<MxHost>,
}

/// The world-wide context a domain's hosts are placed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The address plan.
    pub topo: Topology,
    /// The self-hosted server classes (pool `k` runs `servers[k]`).
    pub servers: Vec<MxServer>,
}

impl Context {
    /// A context for `servers` in block `block` with `pool_size` addresses per class.
    pub fn new(block: u8, pool_size: u8, servers: Vec<MxServer>) -> Self {
        Context {
            topo: Topology::new(block, pool_size, servers.len()),
            servers,
        }
    }

    fn class(&self, server: MxServer) -> usize {
        self.servers.iter().position(|s| *s == server).unwrap_or(0)
    }

    fn pooled(&self, name: String, preference: u16, server: MxServer) -> MxHost {
        let class = self.class(server);
        MxHost {
            addresses: vec![self.topo.pool_addr(class, &name)],
            pattern: name.clone(),
            name,
            preference,
            alias_of: None,
            server: HostServer::Pool(class),
            probe: probe_truth(server.personality, server.cert.verdict()),
        }
    }

    /// The MX set of `domain` with layout `layout`.
    pub fn mx_set(&self, domain: &str, layout: MxLayout) -> MxSet {
        let normal = MxServer::NORMAL;
        let ok = probe_truth(normal.personality, CertVerdict::Valid);
        let hosts = |kind, null, hosts| MxSet { kind, null, hosts };
        match layout {
            MxLayout::NoMail => hosts(MxKind::None, false, Vec::new()),
            MxLayout::Implicit => hosts(
                MxKind::Implicit,
                false,
                vec![MxHost {
                    name: domain.to_owned(),
                    preference: 0,
                    alias_of: None,
                    addresses: vec![self.topo.web_addr(domain)],
                    pattern: domain.to_owned(),
                    server: HostServer::Refused,
                    probe: refused(),
                }],
            ),
            MxLayout::Null => hosts(MxKind::Null, true, Vec::new()),
            MxLayout::MixedNull => hosts(
                MxKind::MixedNull,
                true,
                vec![self.pooled(format!("mx.{domain}"), 10, normal)],
            ),
            MxLayout::Provider(Provider::GoogleLike) => hosts(
                MxKind::Hosts,
                false,
                GOOGLE_MX
                    .iter()
                    .enumerate()
                    .map(|(k, n)| MxHost {
                        name: (*n).to_owned(),
                        preference: if k == 0 { 1 } else { 5 * k as u16 },
                        alias_of: None,
                        addresses: vec![self.topo.google_addr(k)],
                        pattern: if k == 0 {
                            (*n).to_owned()
                        } else {
                            format!("*.{}", GOOGLE_MX[0])
                        },
                        server: HostServer::Google(k),
                        probe: ok,
                    })
                    .collect(),
            ),
            MxLayout::Provider(Provider::MicrosoftLike) => {
                let name = ms_tenant_host(domain);
                hosts(
                    MxKind::Hosts,
                    false,
                    vec![MxHost {
                        addresses: self.topo.ms_addrs(&name),
                        name,
                        preference: 0,
                        alias_of: None,
                        pattern: MS_WILDCARD.to_owned(),
                        server: HostServer::Microsoft,
                        probe: ok,
                    }],
                )
            }
            MxLayout::Provider(Provider::SelfHosted) => hosts(
                MxKind::Hosts,
                false,
                vec![self.pooled(format!("mx.{domain}"), 10, normal)],
            ),
            MxLayout::SelfHosted(server) => hosts(
                MxKind::Hosts,
                false,
                vec![self.pooled(format!("mx.{domain}"), 10, server)],
            ),
            MxLayout::Pair => hosts(
                MxKind::Hosts,
                false,
                vec![
                    self.pooled(format!("mx.{domain}"), 10, normal),
                    self.pooled(format!("mx2.{domain}"), 20, normal),
                ],
            ),
            MxLayout::Deep => hosts(
                MxKind::Hosts,
                false,
                vec![self.pooled(format!("a.b.mx.{domain}"), 10, normal)],
            ),
            MxLayout::Cname => {
                let target = format!("mx.{domain}");
                let mut h = self.pooled(format!("mail.{domain}"), 10, normal);
                h.addresses = vec![self.topo.pool_addr(0, &target)];
                h.alias_of = Some(target);
                hosts(MxKind::Hosts, false, vec![h])
            }
            MxLayout::Blackhole => {
                let name = format!("mx.{domain}");
                hosts(
                    MxKind::Hosts,
                    false,
                    vec![MxHost {
                        addresses: vec![self.topo.blackhole_addr()],
                        pattern: name.clone(),
                        name,
                        preference: 10,
                        alias_of: None,
                        server: HostServer::Blackhole,
                        probe: ProbeTruth {
                            smtp: SmtpOutcome::ConnectTimeout,
                            starttls: None,
                            cert: None,
                            injection: None,
                        },
                    }],
                )
            }
            MxLayout::Refused => {
                let name = format!("mx.{domain}");
                hosts(
                    MxKind::Hosts,
                    false,
                    vec![MxHost {
                        addresses: vec![self.topo.refused_addr(&name)],
                        pattern: name.clone(),
                        name,
                        preference: 10,
                        alias_of: None,
                        server: HostServer::Refused,
                        probe: refused(),
                    }],
                )
            }
        }
    }
}

fn refused() -> ProbeTruth {
    ProbeTruth {
        smtp: SmtpOutcome::ConnectRefused,
        starttls: None,
        cert: None,
        injection: None,
    }
}

/// The `mx` patterns a policy lists for `set`, and for each host whether they cover it.
pub fn policy_patterns(pmx: PolicyMx, domain: &str, set: &MxSet) -> (Vec<String>, Vec<bool>) {
    let n = set.hosts.len();
    match pmx {
        PolicyMx::Cover => {
            let mut pats: Vec<String> = Vec::new();
            for h in &set.hosts {
                if !pats.contains(&h.pattern) {
                    pats.push(h.pattern.clone());
                }
            }
            (pats, vec![true; n])
        }
        PolicyMx::FirstOnly => {
            let pats: Vec<String> = set
                .hosts
                .iter()
                .take(1)
                .map(|h| h.pattern.clone())
                .collect();
            let cov = set
                .hosts
                .iter()
                .map(|h| pats.first() == Some(&h.pattern))
                .collect();
            (pats, cov)
        }
        PolicyMx::OldProvider => (vec![OLD_PROVIDER_MX.to_owned()], vec![false; n]),
        // Every layout's hosts are either not under `mx.D` or more than one label below it,
        // and a wildcard matches exactly one label (RFC 8461 §4.1).
        PolicyMx::ShallowWildcard => (vec![format!("*.mx.{domain}")], vec![false; n]),
        PolicyMx::Empty => (Vec::new(), vec![false; n]),
        PolicyMx::SelfHostedName => {
            let own = format!("mx.{domain}");
            let cov = set.hosts.iter().map(|h| h.name == own).collect();
            (vec![own], cov)
        }
    }
}
