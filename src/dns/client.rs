//! [`Dns`]: TXT, MX and address lookups returning [`Lookup`] values, never `Err`.
//!
//! Each lookup sends one query for a fully-qualified name through the configured
//! [`Transport`]: hickory-resolver's `NameServerPool` (UDP; the pool re-sends over TCP when
//! an answer comes back with TC=1) or the multiplexed UDP sockets of `dns::mux` (same TCP
//! rule), then interprets the raw response itself: the RCODE, the CNAME chain in the answer section
//! (RFC 1034 §3.6.2; an incomplete chain is followed with a new query for its target), the
//! records of the queried type at the end of the chain, and the TTL. `timeout` and `servfail`
//! are retried up to `attempts` tries in total; nothing else is. On both transports a query's
//! first resolver is chosen round robin and its retries go to the next ones in order (attempt
//! k to resolver first + k mod n), so a retry never returns to a silent resolver while
//! another is left untried. The hickory transport therefore has one name-server pool per
//! resolver and stsscan picks the pool: one pool over all resolvers would order them by its
//! latency estimates (an untried resolver starts with a random microsecond estimate, and
//! hickory counts NXDOMAIN and NODATA answers as failures of the resolver that sent them), so
//! a retry could go back to the resolver that just did not answer. A pool of one resolver
//! has no other to try, so an attempt is one resolver either way and `attempts` means the same
//! on both transports. hickory's response cache is not in the path (see the module docs of
//! [`crate::dns`]). An optional governor rate limit applies to every query sent, retries
//! included.
//!
//! Reads are bounded by the protocol: a DNS message is at most 65 535 octets, so the records of
//! one answer are bounded; the CNAME chain is bounded by [`MAX_CNAME_CHAIN`]. Address lookups,
//! which the cache keeps (up to `cache_capacity` of them), keep at most
//! [`MAX_ADDRESSES_PER_FAMILY`] addresses of each family: a 64 KiB answer holds ≈ 4 000 A
//! records, and 100 000 cached hosts of those would be gigabytes. TXT and MX lookups are not
//! cached and keep every record (RFC 8461 §3.1 judges the whole TXT RRset).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::FutureExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hickory_resolver::NameServerPool;
use hickory_resolver::PoolContext;
use hickory_resolver::TlsConfig;
use hickory_resolver::config::{NameServerConfig, ResolverOpts, ServerOrderingStrategy};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer};
use hickory_resolver::proto::op::{DnsRequestOptions, DnsResponse, Query};
use hickory_resolver::proto::rr::{Name, RData, RecordType};

pub use super::answer::MAX_CNAME_CHAIN;
use super::answer::{Step, cut, interpret, name_to_string, parse_name, with_detail};
use super::cache::{CacheStats, SingleFlight};
use super::mux::UdpMux;
use super::{AddressLookup, DnsConfig, DnsStatus, IpVersion, Lookup, Transport, combine_status};

/// Most addresses of one family (A or AAAA) an address lookup keeps, the first ones in answer
/// order; the rest of a bigger answer is dropped (its TTL still counts). At least what any
/// caller uses: the scanner probes at most 8 addresses per host and fetches a policy from at
/// most 8 (asserted where those bounds are defined).
pub const MAX_ADDRESSES_PER_FAMILY: usize = 16;

/// The DNS client. Cheap to clone (all clones share the pool, limiter and address cache).
#[derive(Clone)]
pub struct Dns {
    core: Arc<Core>,
    cache: Arc<SingleFlight<(String, IpVersion), Arc<AddressLookup>>>,
}

enum Wire {
    /// One hickory name-server pool per resolver, in the order of `Core::resolvers`.
    Hickory(Vec<NameServerPool<TokioRuntimeProvider>>),
    Mux(UdpMux),
}

struct Core {
    wire: Wire,
    /// Round-robin counter for the first resolver of each query.
    next_server: AtomicUsize,
    cfg: DnsConfig,
    resolvers: Vec<SocketAddr>,
    limiter: Option<DefaultDirectRateLimiter>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("resolvers", &self.core.resolvers)
            .field("cfg", &self.core.cfg)
            .finish()
    }
}

impl Dns {
    /// Builds a client. `Err` when no resolver is configured (empty `resolvers` and no usable
    /// `/etc/resolv.conf`), `attempts` or `timeout` is 0, or (multiplexed transport) the
    /// sockets cannot be bound. Must be called within a Tokio runtime.
    pub fn new(cfg: DnsConfig) -> anyhow::Result<Dns> {
        if cfg.attempts == 0 {
            bail!("DNS attempts must be at least 1");
        }
        if cfg.timeout.is_zero() {
            bail!("DNS timeout must not be zero");
        }
        let resolvers = if cfg.resolvers.is_empty() {
            let (sys, _) = hickory_resolver::system_conf::read_system_conf()
                .context("reading the system resolver configuration (/etc/resolv.conf)")?;
            let mut out = Vec::new();
            for ns in sys.name_servers() {
                let port = ns.connections.first().map_or(53, |c| c.port);
                if !out.iter().any(|a: &SocketAddr| a.ip() == ns.ip) {
                    out.push(SocketAddr::new(ns.ip, port));
                }
            }
            out
        } else {
            cfg.resolvers.clone()
        };
        if resolvers.is_empty() {
            bail!("no DNS resolver configured");
        }
        let mut opts = ResolverOpts::default();
        opts.timeout = cfg.timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.num_concurrent_reqs = 1;
        // each pool holds one resolver: the order is stsscan's (see the module docs)
        opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
        opts.preserve_intermediates = true;
        opts.case_randomization = false;
        let server = |addr: &SocketAddr| {
            let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut ns.connections {
                c.port = addr.port();
            }
            ns
        };
        let wire = match cfg.transport {
            Transport::Hickory => {
                let tls = TlsConfig::new().context("DNS transport configuration")?;
                let cx = Arc::new(PoolContext::new(opts, tls));
                let pools = resolvers
                    .iter()
                    .map(|addr| {
                        NameServerPool::from_config(
                            [server(addr)],
                            cx.clone(),
                            TokioRuntimeProvider::default(),
                        )
                    })
                    .collect();
                Wire::Hickory(pools)
            }
            Transport::Multiplexed { sockets } => Wire::Mux(
                UdpMux::new(&resolvers, sockets).context("binding the DNS client sockets")?,
            ),
        };
        let limiter = cfg
            .rate_per_sec
            .map(|r| RateLimiter::direct(Quota::per_second(r)));
        Ok(Dns {
            cache: Arc::new(SingleFlight::new(cfg.cache_capacity)),
            core: Arc::new(Core {
                wire,
                next_server: AtomicUsize::new(0),
                cfg,
                resolvers,
                limiter,
            }),
        })
    }

    /// The resolvers in use (after reading the system configuration), for the manifest.
    pub fn resolvers(&self) -> &[SocketAddr] {
        &self.core.resolvers
    }

    /// The configuration.
    pub fn config(&self) -> &DnsConfig {
        &self.core.cfg
    }

    /// TXT lookup: each TXT RR as its list of character-strings, raw bytes (RFC 1035 §3.3.14;
    /// how they are joined is the caller's business: RFC 8461 §3.1 concatenates them).
    pub async fn txt(&self, name: &str) -> Lookup<Vec<Vec<u8>>> {
        self.core
            .resolve(name, RecordType::TXT)
            .await
            .map_records(|r| match r {
                RData::TXT(txt) => Some(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
                _ => None,
            })
    }

    /// MX lookup: `(preference, exchange)` with the exchange lowercase without the trailing
    /// dot, `""` for the root (the RFC 7505 null MX `0 .`).
    pub async fn mx(&self, name: &str) -> Lookup<(u16, String)> {
        self.core
            .resolve(name, RecordType::MX)
            .await
            .map_records(|r| match r {
                RData::MX(mx) => Some((mx.preference, name_to_string(&mx.exchange))),
                _ => None,
            })
    }

    /// Address lookup through the shared single-flight cache: concurrent lookups of the same
    /// `(host, version)` send one set of queries; completed answers are reused until their
    /// TTL (at most `cache_max_ttl`; failures, and answers of which one family failed,
    /// at most `cache_failure_ttl`) while the cache has room.
    /// A shared or cached result carries the `elapsed` and `queries` of the lookup that
    /// produced it.
    pub async fn addresses(&self, host: &str, version: IpVersion) -> Arc<AddressLookup> {
        let key = (normalize(host), version);
        let core = self.core.clone();
        let host = key.0.clone();
        let (max_ttl, failure_ttl) = (core.cfg.cache_max_ttl, core.cfg.cache_failure_ttl);
        self.cache
            .get_or_compute(
                key,
                move || async move { Arc::new(core.addresses(&host, version).await) }.boxed(),
                move |a| cache_lifetime(a, max_ttl, failure_ttl),
            )
            .await
    }

    /// Address lookup bypassing the cache (always sends queries).
    pub async fn addresses_uncached(&self, host: &str, version: IpVersion) -> AddressLookup {
        self.core.addresses(&normalize(host), version).await
    }

    /// Counters of the address cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

/// How long an address answer may be reused: its TTL (at most `max_ttl`); a failure, and an
/// answer of which one family failed (A `noerror` with AAAA `timeout`: the combined status is
/// `noerror`), at most `failure_ttl`, so a transient failure does not hide that family's
/// addresses for a whole TTL.
fn cache_lifetime(a: &AddressLookup, max_ttl: Duration, failure_ttl: Duration) -> Duration {
    let l = &a.lookup;
    if l.status.is_failure() {
        return failure_ttl.min(max_ttl);
    }
    let lifetime = match l.ttl {
        Some(ttl) => Duration::from_secs(u64::from(ttl)).min(max_ttl),
        None => max_ttl,
    };
    let half_failed = [a.v4, a.v6]
        .into_iter()
        .flatten()
        .any(DnsStatus::is_failure);
    if half_failed {
        lifetime.min(failure_ttl)
    } else {
        lifetime
    }
}

/// Lowercase, without the trailing dot.
fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl Lookup<RData> {
    fn map_records<T>(self, f: impl Fn(RData) -> Option<T>) -> Lookup<T> {
        Lookup {
            status: self.status,
            records: self.records.into_iter().filter_map(f).collect(),
            cname_chain: self.cname_chain,
            ttl: self.ttl,
            detail: self.detail,
            elapsed: self.elapsed,
            queries: self.queries,
        }
    }
}

impl Core {
    async fn addresses(&self, host: &str, version: IpVersion) -> AddressLookup {
        // at most MAX_ADDRESSES_PER_FAMILY, in a vector no bigger than that
        let to_ip = |l: Lookup<RData>| {
            let mut l = l.map_records(|r| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            });
            l.records.truncate(MAX_ADDRESSES_PER_FAMILY);
            l.records.shrink_to_fit();
            l
        };
        match version {
            IpVersion::V4 => {
                let l = to_ip(self.resolve(host, RecordType::A).await);
                AddressLookup {
                    v4: Some(l.status),
                    v6: None,
                    lookup: l,
                }
            }
            IpVersion::V6 => {
                let l = to_ip(self.resolve(host, RecordType::AAAA).await);
                AddressLookup {
                    v4: None,
                    v6: Some(l.status),
                    lookup: l,
                }
            }
            IpVersion::Both => {
                let start = Instant::now();
                let (a, aaaa) = tokio::join!(
                    self.resolve(host, RecordType::A),
                    self.resolve(host, RecordType::AAAA)
                );
                let (a, aaaa) = (to_ip(a), to_ip(aaaa));
                let status = combine_status(a.status, aaaa.status);
                let ttl = match (a.ttl, aaaa.ttl) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                };
                let detail = match (&a.detail, &aaaa.detail) {
                    (None, None) => None,
                    (x, y) => Some(cut(format!(
                        "A: {}; AAAA: {}",
                        x.as_deref().unwrap_or(a.status.as_str()),
                        y.as_deref().unwrap_or(aaaa.status.as_str())
                    ))),
                };
                let cname_chain = if a.cname_chain.is_empty() {
                    aaaa.cname_chain.clone()
                } else {
                    a.cname_chain.clone()
                };
                let mut records = Vec::with_capacity(a.records.len() + aaaa.records.len());
                records.extend(a.records);
                records.extend(aaaa.records);
                AddressLookup {
                    v4: Some(a.status),
                    v6: Some(aaaa.status),
                    lookup: Lookup {
                        status,
                        records,
                        cname_chain,
                        ttl,
                        detail,
                        elapsed: start.elapsed(),
                        queries: a.queries + aaaa.queries,
                    },
                }
            }
        }
    }

    /// One lookup of `rtype` at `name`: CNAME following, retries, status mapping.
    async fn resolve(&self, name: &str, rtype: RecordType) -> Lookup<RData> {
        let start = Instant::now();
        let mut qname = match parse_name(name) {
            Ok(n) => n,
            Err(e) => return Lookup::failed(DnsStatus::InvalidName, e),
        };
        let mut chain: Vec<Name> = Vec::new();
        let mut min_ttl: Option<u32> = None;
        let mut queries = 0u32;
        // Each round asks for the current end of the chain; the chain grows by at least one
        // name per round, so MAX_CNAME_CHAIN + 1 rounds bound the loop.
        for _ in 0..=MAX_CNAME_CHAIN {
            let (step, sent) = self.query_with_retries(&qname, rtype, &chain).await;
            queries += sent;
            match step {
                Step::Done {
                    status,
                    records,
                    chain: new_chain,
                    ttl,
                    detail,
                } => {
                    let ttl = match (status, ttl, min_ttl) {
                        // positive answers: the whole chain's minimum
                        (DnsStatus::NoError, Some(t), Some(m)) => Some(t.min(m)),
                        (_, t, _) => t,
                    };
                    return Lookup {
                        status,
                        records,
                        cname_chain: new_chain.iter().map(name_to_string).collect(),
                        ttl,
                        detail,
                        elapsed: start.elapsed(),
                        queries,
                    };
                }
                Step::Follow {
                    chain: new_chain,
                    ttl,
                } => {
                    min_ttl = match (min_ttl, ttl) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    chain = new_chain;
                    match chain.last() {
                        Some(last) => qname = last.clone(),
                        None => break,
                    }
                }
            }
        }
        Lookup {
            status: DnsStatus::CnameLoop,
            records: Vec::new(),
            cname_chain: chain.iter().map(name_to_string).collect(),
            ttl: None,
            detail: Some(format!("CNAME chain longer than {MAX_CNAME_CHAIN}")),
            elapsed: start.elapsed(),
            queries,
        }
    }

    /// Sends the query, retrying transient failures; returns the step and queries sent.
    async fn query_with_retries(
        &self,
        qname: &Name,
        rtype: RecordType,
        chain: &[Name],
    ) -> (Step, u32) {
        let attempts = self.cfg.attempts.max(1);
        // The resolver of each attempt (both transports): the first one round robin across
        // lookups, then attempt k goes to (first + k) mod n, so a retry always goes to the
        // next resolver whatever other lookups were sent in between.
        let first = self.next_server.fetch_add(1, Ordering::Relaxed);
        let mut sent = 0u32;
        loop {
            if let Some(l) = &self.limiter {
                l.until_ready().await;
            }
            let server = first.wrapping_add(sent as usize) % self.resolvers.len().max(1);
            sent += 1;
            let step = self.query_once(qname, rtype, chain, server).await;
            let transient = matches!(&step, Step::Done { status, .. } if status.is_transient());
            if !transient || sent as usize >= attempts {
                if let Step::Done {
                    status,
                    detail: Some(d),
                    ..
                } = &step
                {
                    if status.is_transient() && sent > 1 {
                        let d = format!("{d} (after {sent} attempts)");
                        return (with_detail(step, d), sent);
                    }
                }
                return (step, sent);
            }
        }
    }

    /// One attempt to the resolver at index `server` of `resolvers` (through its own hickory
    /// pool, or the multiplexed sockets).
    async fn query_once(
        &self,
        qname: &Name,
        rtype: RecordType,
        chain: &[Name],
        server: usize,
    ) -> Step {
        // Each transport enforces `timeout` itself; the outer timeout is a safety net so a
        // lookup can never hang.
        let guard = self.cfg.timeout.saturating_mul(2) + Duration::from_secs(1);
        let res = match &self.wire {
            Wire::Hickory(pools) => match pools.get(server) {
                Some(pool) => {
                    let mut options = DnsRequestOptions::default();
                    options.recursion_desired = true;
                    let query = Query::query(qname.clone(), rtype);
                    tokio::time::timeout(guard, pool.lookup(query, options).first_answer())
                        .await
                        .unwrap_or(Err(NetError::Timeout))
                        .map(DnsResponse::into_message)
                }
                None => Err(NetError::NoConnections),
            },
            Wire::Mux(mux) => match self.resolvers.get(server) {
                Some(&server) => tokio::time::timeout(
                    guard,
                    mux.exchange(server, qname, rtype, self.cfg.timeout),
                )
                .await
                .unwrap_or(Err(NetError::Timeout)),
                None => Err(NetError::NoConnections),
            },
        };
        interpret(qname, rtype, chain, res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn config_errors_are_errors() {
        let cfg = DnsConfig {
            resolvers: vec!["127.0.0.1:53".parse().unwrap()],
            attempts: 0,
            ..DnsConfig::default()
        };
        assert!(Dns::new(cfg.clone()).is_err());
        let cfg = DnsConfig {
            attempts: 1,
            timeout: Duration::ZERO,
            ..cfg
        };
        assert!(Dns::new(cfg).is_err());
    }

    #[test]
    fn lifetimes() {
        let mut a = AddressLookup {
            lookup: Lookup::failed(DnsStatus::Timeout, "x".into()),
            v4: Some(DnsStatus::Timeout),
            v6: None,
        };
        let (max, fail) = (Duration::from_secs(3600), Duration::from_secs(60));
        assert_eq!(cache_lifetime(&a, max, fail), fail);
        a.lookup.status = DnsStatus::NoError;
        a.v4 = Some(DnsStatus::NoError);
        a.lookup.ttl = Some(30);
        assert_eq!(cache_lifetime(&a, max, fail), Duration::from_secs(30));
        a.lookup.ttl = Some(86400 * 7);
        assert_eq!(cache_lifetime(&a, max, fail), max);
    }

    /// Regression: A `noerror` with AAAA `timeout` combines to `noerror` and was cached for
    /// the A TTL (up to an hour), hiding the host's IPv6 addresses after one lost datagram.
    /// One failed family makes the entry last at most the failure TTL.
    #[test]
    fn a_half_failed_lookup_lives_as_long_as_a_failure() {
        let (max, fail) = (Duration::from_secs(3600), Duration::from_secs(60));
        let mut a = AddressLookup {
            lookup: Lookup::failed(DnsStatus::NoError, String::new()),
            v4: Some(DnsStatus::NoError),
            v6: Some(DnsStatus::Timeout),
        };
        a.lookup.ttl = Some(3600);
        assert_eq!(cache_lifetime(&a, max, fail), fail);
        a.lookup.ttl = Some(10); // a shorter TTL still wins
        assert_eq!(cache_lifetime(&a, max, fail), Duration::from_secs(10));
        (a.v4, a.v6) = (Some(DnsStatus::ServFail), Some(DnsStatus::NoError));
        a.lookup.ttl = Some(3600);
        assert_eq!(cache_lifetime(&a, max, fail), fail);
        // a family that positively has nothing is an answer, not a failure
        (a.v4, a.v6) = (Some(DnsStatus::NoError), Some(DnsStatus::NoData));
        assert_eq!(cache_lifetime(&a, max, fail), max);
    }
}
