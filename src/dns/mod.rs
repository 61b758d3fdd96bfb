//! The DNS client layer: lookups with a closed status vocabulary, a shared single-flight
//! address cache, the address-safety rule, and the resolver reqwest uses.
//!
//! | module | what it owns |
//! |---|---|
//! | [`status`] | [`DnsStatus`], the closed vocabulary (`noerror`, `nodata`, `nxdomain`, `referral`, …) |
//! | [`client`] | [`Dns`]: TXT, MX and A/AAAA lookups, retries, rate limit, the transports |
//! | `answer` (private) | one response → status, CNAME chain, records, TTL (pure) |
//! | `mux` (private) | the multiplexed UDP transport (the `scan` default) |
//! | [`cache`] | the bounded single-flight cache of address lookups and its counters |
//! | [`safety`] | [`AddressPolicy`]: which addresses may be connected to, the blocklist file |
//! | [`reqwest`] | [`reqwest::ScanResolver`]: `reqwest::dns::Resolve` over the same [`Dns`] |
//!
//! # Decisions
//! * A DNS result is never an `Err`: every lookup returns a [`Lookup`] whose `status` says
//!   what happened. `Err` is only for the tool failing (e.g. no resolver configured).
//! * hickory-resolver's high-level `Resolver` (its response cache, search list, hosts file,
//!   localhost short-cuts) is *not* used: it would hide statuses (a cached negative answer, a
//!   hosts-file entry) and folds SERVFAIL/REFUSED/NXDOMAIN into errors. We drive its
//!   `NameServerPool` (UDP with TCP fallback on TC=1) directly, one query at a time, and
//!   interpret the response code, CNAME chain and TTL ourselves. There is one pool per
//!   resolver: which resolver an attempt goes to is decided by [`client`], not by hickory's
//!   latency statistics (see below).
//! * hickory opens a UDP socket and spawns a task per query (measured ≈ 50 µs client CPU per
//!   lookup in a debug build vs ≈ 3 µs for the message encoding); [`Transport::Multiplexed`]
//!   (a private `mux` module) shares a few sockets instead (≈ 13 µs), each replaced by a
//!   fresh random source port every 64 queries (RFC 5452 §9.2; the argument is in `mux`).
//!   The library default stays [`Transport::Hickory`]; `stsscan scan` defaults to
//!   multiplexed.
//! * Names are always queried as fully qualified (no search list).
//! * Retries: only `timeout` and `servfail` are retried, `attempts` tries in total, on both
//!   transports alike: a lookup's first resolver is chosen round robin and attempt k goes to
//!   resolver (first + k) mod n, so a retry never goes back to a resolver that just did not
//!   answer while another is left untried. `refused` and `referral` (RFC 2308 §2.2: NS and
//!   no SOA in the authority section, what a resolver that does not recurse sends) are not
//!   retried: they come from how the resolver is set up, and the same resolver answers the
//!   same again.
//! * Only address lookups are cached (MX and policy hosts are shared by many domains); TXT and
//!   MX answers are per domain and never cached, so a scan sees the DNS as it is. An address
//!   lookup keeps at most [`MAX_ADDRESSES_PER_FAMILY`] addresses per family, so a cache entry
//!   stays small whatever the answer's size.
//! * This layer never connects anywhere but the configured resolvers and never applies the
//!   [`AddressPolicy`] itself except in the reqwest resolver; callers apply it to every
//!   address before connecting ([`AddressPolicy::check`] / [`AddressPolicy::partition`]).
//!
//! # Use
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use stsscan::dns::{AddressPolicy, Dns, DnsConfig, DnsStatus, IpVersion};
//! let dns = Dns::new(DnsConfig {
//!     resolvers: vec!["127.0.0.53:53".parse()?],
//!     ..DnsConfig::default()
//! })?;
//! let txt = dns.txt("_mta-sts.example.com").await; // Lookup<Vec<Vec<u8>>>
//! if txt.status == DnsStatus::NoError { /* join each record's strings, parse */ }
//! let mx = dns.mx("example.com").await; // Lookup<(u16, String)>, "" = null MX
//! for (_, host) in &mx.records {
//!     let addrs = dns.addresses(host, IpVersion::Both).await; // cached, single-flight
//!     let (ok, _refused) = AddressPolicy::public().partition(&addrs.lookup.records);
//!     # let _ = ok;
//! }
//! # Ok(()) }
//! ```

mod answer;
pub mod cache;
pub mod client;
mod mux;
pub mod reqwest;
pub mod safety;
pub mod status;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

pub use cache::CacheStats;
pub use client::{Dns, MAX_ADDRESSES_PER_FAMILY};
pub use safety::{AddressPolicy, Refusal, parse_blocklist};
pub use status::DnsStatus;

/// Configuration of the DNS client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Resolvers to ask (UDP, TCP on truncation). Empty: the system configuration
    /// (`/etc/resolv.conf`).
    pub resolvers: Vec<SocketAddr>,
    /// Timeout of one attempt (non-zero).
    pub timeout: Duration,
    /// Tries in total for a transient failure (`timeout`, `servfail`); at least 1. (Within
    /// one try, [`Transport::Hickory`] re-sends the UDP datagram every ≥ 333 ms until
    /// `timeout`; [`Transport::Multiplexed`] sends it once.)
    pub attempts: usize,
    /// Queries per second to the resolvers, all lookups together (`None`: unlimited).
    pub rate_per_sec: Option<NonZeroU32>,
    /// Address-cache entries kept (0: no caching, in-flight lookups are still shared).
    pub cache_capacity: usize,
    /// Longest time a cached address answer is reused (also bounded by its DNS TTL).
    pub cache_max_ttl: Duration,
    /// How long a failed address lookup (`timeout`, `servfail`, …) is reused; also the
    /// longest an answer of which one family failed (A `noerror`, AAAA `timeout`) is.
    pub cache_failure_ttl: Duration,
    /// How queries travel.
    pub transport: Transport,
}

/// How queries travel to the resolvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// hickory-resolver's name-server pool, one per resolver: a fresh UDP socket (random
    /// source port) per query, the datagram re-sent within an attempt, TCP on truncation; a
    /// lookup's first resolver is chosen round robin and each retry goes to the next one in
    /// the configured order (as [`Transport::Multiplexed`]; hickory's latency-based choice
    /// is not used, so a retry never goes back to a silent resolver).
    #[default]
    Hickory,
    /// A few UDP sockets per address family shared by all queries, answers demultiplexed by
    /// ID and question, TCP on truncation; a lookup's first resolver is chosen round robin
    /// and each retry goes to the next one in the configured order; each socket is
    /// replaced by a fresh random source port every 64 queries. Much cheaper per query; sends
    /// each attempt once (no re-send within an attempt).
    Multiplexed {
        /// Sockets per address family (at least 1).
        sockets: usize,
    },
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            resolvers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            rate_per_sec: None,
            cache_capacity: 100_000,
            cache_max_ttl: Duration::from_secs(3600),
            cache_failure_ttl: Duration::from_secs(60),
            transport: Transport::Hickory,
        }
    }
}

/// Which address families [`Dns::addresses`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// A records only.
    V4,
    /// AAAA records only.
    V6,
    /// A and AAAA, queried concurrently.
    Both,
}

/// The outcome of one lookup: a status from the closed vocabulary plus whatever was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<T> {
    /// What happened.
    pub status: DnsStatus,
    /// The records of the queried type at the end of the CNAME chain (empty unless
    /// `status` is `noerror`).
    pub records: Vec<T>,
    /// The CNAME targets followed, in order (lowercase, no trailing dot).
    pub cname_chain: Vec<String>,
    /// The TTL: the smallest TTL of the answer's records and CNAMEs for `noerror`; the
    /// negative-caching TTL (RFC 2308 §5: min of SOA TTL and SOA MINIMUM) for `nodata` /
    /// `nxdomain` when the server sent an SOA.
    pub ttl: Option<u32>,
    /// Free-text detail for failures (never parsed).
    pub detail: Option<String>,
    /// Wall time of the lookup, retries and CNAME re-queries included.
    pub elapsed: Duration,
    /// Queries sent (retries and CNAME re-queries included; 0 for `invalid-name`).
    pub queries: u32,
}

impl<T> Lookup<T> {
    /// A lookup that ended before any query was sent.
    pub(crate) fn failed(status: DnsStatus, detail: String) -> Self {
        Lookup {
            status,
            records: Vec::new(),
            cname_chain: Vec::new(),
            ttl: None,
            detail: Some(detail),
            elapsed: Duration::ZERO,
            queries: 0,
        }
    }
}

/// An address lookup: the combined result and the status of each family asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLookup {
    /// A and AAAA together: addresses A first then AAAA (each in answer order, at most
    /// [`MAX_ADDRESSES_PER_FAMILY`] of each), the combined
    /// status (see [`combine_status`]), the CNAME chain of the first family that has one.
    pub lookup: Lookup<IpAddr>,
    /// Status of the A query (`None` if not asked).
    pub v4: Option<DnsStatus>,
    /// Status of the AAAA query (`None` if not asked).
    pub v6: Option<DnsStatus>,
}

/// Combines the A and AAAA statuses: `noerror` if either family has an address; otherwise a
/// failure of either (`servfail`, `timeout`, …; the A one first) because the host's
/// existence could not be decided; otherwise `nxdomain` if either said so, else `nodata`.
pub fn combine_status(v4: DnsStatus, v6: DnsStatus) -> DnsStatus {
    if v4 == DnsStatus::NoError || v6 == DnsStatus::NoError {
        DnsStatus::NoError
    } else if v4.is_failure() {
        v4
    } else if v6.is_failure() {
        v6
    } else if v4 == DnsStatus::NxDomain || v6 == DnsStatus::NxDomain {
        DnsStatus::NxDomain
    } else {
        DnsStatus::NoData
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DnsStatus::*;

    #[test]
    fn combine_keeps_failures_apart_from_absence() {
        assert_eq!(combine_status(NoError, Timeout), NoError);
        assert_eq!(combine_status(NoData, NoError), NoError);
        assert_eq!(combine_status(NoData, NoData), NoData);
        assert_eq!(combine_status(NxDomain, NxDomain), NxDomain);
        assert_eq!(combine_status(NoData, NxDomain), NxDomain);
        assert_eq!(combine_status(NoData, ServFail), ServFail);
        assert_eq!(combine_status(Timeout, Refused), Timeout);
        assert_eq!(combine_status(NxDomain, Refused), Refused);
    }
}
