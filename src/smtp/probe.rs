//! Probing one MX address over TCP, and the per-scan [`Prober`]: a single-flight, bounded
//! probe cache with per-address politeness limits.
//!
//! This module owns opening the TCP connection (with its timeout and the whole-session
//! deadline), deduplicating probes (design.md: "Probe each destination address once per scan
//! and reuse the result for every domain that points there") and politeness ("at most N
//! connections per address at once, governor-limited per address"). It does not decide
//! whether an address may be probed at all (private/blocked addresses are the pipeline's job)
//! and does not speak SMTP itself (see [`super::dialog`]).
//!
//! Decisions:
//! * `connect-timeout` when the connect does not finish within `connect_timeout` (or the
//!   session deadline); every other connect error (refused, unreachable, reset) is
//!   `connect-refused` with the OS error in `detail`.
//! * The session deadline starts when the connect starts, after any wait for a politeness
//!   slot or the rate limiter, so queueing never eats into a probe's own time.
//! * Addresses are keyed in canonical form: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
//!   is the IPv4 address, for the cache and for the politeness limits alike (IPv6 addresses
//!   are otherwise keyed as they are, one full address per destination).
//! * The cache key is the socket address ([`ProbeDedup::Address`], default: certificates that
//!   depend on SNI are then seen only for the first name) or the socket address plus the
//!   SNI name ([`ProbeDedup::AddressAndName`]). Concurrent requests for one key share one
//!   probe; finished results stay cached up to `cache_capacity` keys, evicted by second
//!   chance (approximate LRU: shared provider addresses that keep being asked for stay);
//!   in-flight entries are never evicted. If the caller running a probe is cancelled, a
//!   caller waiting on the same key runs it instead (nobody waits forever).
//! * Keys of the other kind than `dedup` (address + SNI name keys of re-probes in the default
//!   address mode, made with [`Prober::probe_keyed`]) count against the same capacity but are
//!   evicted first: a re-probe serves one name, an address result every name at the address,
//!   and an evicted address is probed again when a later domain needs it. So re-probe churn
//!   never pushes out an address result while a re-probe result can go instead.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::Quota;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::sync::OnceCell;
use tokio::time::{Instant, timeout_at};

use super::dialog::{DialogConfig, SmtpProbe, run_dialog};
use super::reply::ReplyLimits;
use super::status::{SmtpPhase, SmtpStatus};
use crate::gate::AddressGate;

/// Settings of a single probe.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The name sent with EHLO/HELO.
    pub ehlo_name: String,
    /// Longest wait for the TCP connection.
    pub connect_timeout: Duration,
    /// Longest wait for each reply and for the TLS handshake.
    pub phase_timeout: Duration,
    /// Bound on the whole probe, connect included.
    pub session_deadline: Duration,
    /// TLS client configuration; its verifier must let the handshake finish (capture).
    pub tls: Arc<ClientConfig>,
    /// Reply framing caps.
    pub limits: ReplyLimits,
}

impl ProbeConfig {
    /// Defaults: connect 10 s, 30 s per phase, 60 s per session, default reply caps.
    pub fn new(ehlo_name: impl Into<String>, tls: Arc<ClientConfig>) -> Self {
        Self {
            ehlo_name: ehlo_name.into(),
            connect_timeout: Duration::from_secs(10),
            phase_timeout: Duration::from_secs(30),
            session_deadline: Duration::from_secs(60),
            tls,
            limits: ReplyLimits::default(),
        }
    }

    fn dialog(&self) -> DialogConfig {
        DialogConfig {
            ehlo_name: self.ehlo_name.clone(),
            phase_timeout: self.phase_timeout,
            tls: self.tls.clone(),
            limits: self.limits,
        }
    }
}

/// Connects to `addr` and runs the STARTTLS dialog with SNI `mx_name`. Never fails: every
/// outcome is an [`SmtpProbe`] with a status.
pub async fn probe(addr: SocketAddr, mx_name: &str, cfg: &ProbeConfig) -> SmtpProbe {
    let start = Instant::now();
    let deadline = start + cfg.session_deadline;
    let connect_until = deadline.min(start + cfg.connect_timeout);
    let stream = match timeout_at(connect_until, TcpStream::connect(addr)).await {
        Err(_) => {
            let mut p = SmtpProbe::bare(
                SmtpStatus::ConnectTimeout,
                SmtpPhase::Connect,
                Some(format!("no TCP connection to {addr} in time")),
            );
            p.timed_out = true;
            p.elapsed = start.elapsed();
            return p;
        }
        Ok(Err(e)) => {
            let mut p = SmtpProbe::bare(
                SmtpStatus::ConnectRefused,
                SmtpPhase::Connect,
                Some(format!("connect to {addr}: {e}")),
            );
            p.elapsed = start.elapsed();
            return p;
        }
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let mut p = run_dialog(stream, mx_name, &cfg.dialog(), deadline).await;
    p.elapsed = start.elapsed();
    p
}

/// What identifies one probe in the cache (`--probe-dedup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProbeDedup {
    /// `address`: one probe per (address, port), whatever MX name points there.
    #[default]
    Address,
    /// `address+name`: one probe per (address, port, SNI name).
    AddressAndName,
}

impl ProbeDedup {
    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::AddressAndName => "address+name",
        }
    }

    /// Parses the CLI spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "address" => Some(Self::Address),
            "address+name" => Some(Self::AddressAndName),
            _ => None,
        }
    }
}

impl fmt::Display for ProbeDedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of a [`Prober`].
#[derive(Debug, Clone)]
pub struct ProberConfig {
    /// Settings of each probe.
    pub probe: ProbeConfig,
    /// Cache key.
    pub dedup: ProbeDedup,
    /// Most keys kept in the cache (default 50 000), re-probe keys (the other kind than
    /// `dedup`) included and evicted first. Each finished entry holds one [`SmtpProbe`],
    /// mostly its certificate chain (typically 2–6 KiB).
    pub cache_capacity: usize,
    /// Most simultaneous connections to one IP address (default 1).
    pub per_address_connections: NonZeroUsize,
    /// Rate limit of new connections per IP address; `None` for no limit.
    pub per_address_rate: Option<Quota>,
    /// Addresses tracked by the politeness state before idle ones are pruned (default 65 536).
    pub address_capacity: usize,
}

impl ProberConfig {
    /// Defaults around `probe`: dedup by address, 50 000 cached keys, one connection per
    /// address at once, at most 2 new connections per second per address.
    pub fn new(probe: ProbeConfig) -> Self {
        Self {
            probe,
            dedup: ProbeDedup::Address,
            cache_capacity: 50_000,
            per_address_connections: NonZeroUsize::MIN,
            per_address_rate: std::num::NonZeroU32::new(2).map(Quota::per_second),
            address_capacity: 65_536,
        }
    }
}

/// How a caller got its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeSource {
    /// `ran`: this call ran the probe.
    Ran,
    /// `joined`: this call waited for a probe another call was running.
    Joined,
    /// `cached`: the result was already in the cache.
    Cached,
}

impl ProbeSource {
    /// The kebab-case string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ran => "ran",
            Self::Joined => "joined",
            Self::Cached => "cached",
        }
    }

    /// True when the result was produced for another caller.
    pub fn shared(self) -> bool {
        self != Self::Ran
    }
}

/// A probe result handed to a caller.
#[derive(Debug, Clone)]
pub struct SharedProbe {
    /// Identifies the probe run (unique per [`Prober`]); equal ids mean one shared result.
    pub probe_id: u64,
    /// How this caller got it.
    pub source: ProbeSource,
    /// The result.
    pub probe: Arc<SmtpProbe>,
}

/// Counters of a [`Prober`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeStats {
    /// Probes actually run (TCP connections attempted).
    pub probes_run: u64,
    /// Requests answered from a finished cached result.
    pub cache_hits: u64,
    /// Requests that waited for an in-flight probe.
    pub joins: u64,
    /// Finished results of `dedup` keys evicted from the cache: a later request for one of
    /// those keys probes again.
    pub evictions: u64,
    /// Finished results of re-probe keys (the other kind) evicted from the cache.
    pub reprobe_evictions: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    addr: SocketAddr,
    name: Option<String>,
}

/// One cache slot: the single-flight cell and a "recently used" bit for second-chance eviction.
#[derive(Debug, Default)]
struct Slot {
    cell: OnceCell<(u64, Arc<SmtpProbe>)>,
    referenced: AtomicBool,
}

type Cell = Arc<Slot>;

/// The cells of one kind of key and the CLOCK hand's queue over them.
#[derive(Debug, Default)]
struct Cache {
    map: HashMap<Key, Cell>,
    order: VecDeque<Key>,
}

impl Cache {
    /// Second-chance (CLOCK) eviction of one entry: the oldest finished entry not used since
    /// it was last passed over goes; in-flight and recently used ones go to the back of the
    /// queue. False when a full turn found nothing to evict.
    fn evict_one(&mut self) -> bool {
        for _ in 0..2 * self.order.len() {
            let Some(old) = self.order.pop_front() else {
                return false;
            };
            let evictable = self.map.get(&old).is_some_and(|c| {
                c.cell.initialized() && !c.referenced.swap(false, Ordering::Relaxed)
            });
            if evictable {
                self.map.remove(&old);
                return true;
            }
            self.order.push_back(old);
        }
        false
    }
}

/// The cache of a [`Prober`], split by kind of key: the configured `dedup` kind, and
/// re-probe keys (evicted first).
#[derive(Debug, Default)]
struct Caches {
    primary: Cache,
    reprobe: Cache,
}

/// Runs probes for a scan: single-flight, cached, polite. Share it behind an `Arc`.
pub struct Prober {
    cfg: ProberConfig,
    cache: Mutex<Caches>,
    gate: Arc<AddressGate>,
    next_id: AtomicU64,
    probes_run: AtomicU64,
    cache_hits: AtomicU64,
    joins: AtomicU64,
    evictions: AtomicU64,
    reprobe_evictions: AtomicU64,
}

impl fmt::Debug for Prober {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("cfg", &self.cfg)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Prober {
    /// A prober with an empty cache.
    pub fn new(cfg: ProberConfig) -> Self {
        let gate = Arc::new(AddressGate::new(
            cfg.per_address_connections,
            cfg.per_address_rate,
            cfg.address_capacity,
        ));
        Self::with_gate(cfg, gate)
    }

    /// A prober whose politeness limits are `gate`'s (shared with the policy fetcher, say),
    /// not its configuration's.
    pub fn with_gate(cfg: ProberConfig, gate: Arc<AddressGate>) -> Self {
        Self {
            cfg,
            cache: Mutex::new(Caches::default()),
            gate,
            next_id: AtomicU64::new(1),
            probes_run: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            joins: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            reprobe_evictions: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProberConfig {
        &self.cfg
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProbeStats {
        ProbeStats {
            probes_run: self.probes_run.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            joins: self.joins.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            reprobe_evictions: self.reprobe_evictions.load(Ordering::Relaxed),
        }
    }

    /// The probe result for `addr` with SNI `mx_name`: from the cache, by joining a probe in
    /// flight for the same key, or by running one.
    pub async fn probe(&self, addr: SocketAddr, mx_name: &str) -> SharedProbe {
        self.probe_keyed(addr, mx_name, self.cfg.dedup).await
    }

    /// Like [`Prober::probe`] with the cache key chosen by the caller, e.g. `address+name` for
    /// a server whose address-shared result carried a certificate for another SNI name. The
    /// politeness limits are shared with every other probe of the address.
    pub async fn probe_keyed(
        &self,
        addr: SocketAddr,
        mx_name: &str,
        dedup: ProbeDedup,
    ) -> SharedProbe {
        // An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, e.g. from an AAAA record) reaches
        // the IPv4 host: one destination, one cache key and one politeness slot.
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        let name = normalize_name(mx_name);
        let key = Key {
            addr,
            name: match dedup {
                ProbeDedup::Address => None,
                ProbeDedup::AddressAndName => Some(name.clone()),
            },
        };
        let cell = self.cell(key);
        if let Some((id, p)) = cell.cell.get() {
            cell.referenced.store(true, Ordering::Relaxed);
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return SharedProbe {
                probe_id: *id,
                source: ProbeSource::Cached,
                probe: p.clone(),
            };
        }
        let mut ran = false;
        let (id, p) = cell
            .cell
            .get_or_init(|| {
                ran = true;
                self.run(addr, name)
            })
            .await;
        let source = if ran {
            ProbeSource::Ran
        } else {
            self.joins.fetch_add(1, Ordering::Relaxed);
            ProbeSource::Joined
        };
        SharedProbe {
            probe_id: *id,
            source,
            probe: p.clone(),
        }
    }

    fn cell(&self, key: Key) -> Cell {
        let mut caches = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let primary = key.name.is_none() == (self.cfg.dedup == ProbeDedup::Address);
        let cache = if primary {
            &mut caches.primary
        } else {
            &mut caches.reprobe
        };
        if let Some(c) = cache.map.get(&key) {
            return c.clone();
        }
        let cell = Cell::default();
        cache.map.insert(key.clone(), cell.clone());
        cache.order.push_back(key);
        // Over capacity: a re-probe result goes first, an address result only when no
        // re-probe result can go (all in flight or just used).
        while caches.primary.map.len() + caches.reprobe.map.len() > self.cfg.cache_capacity.max(1) {
            if caches.reprobe.evict_one() {
                self.reprobe_evictions.fetch_add(1, Ordering::Relaxed);
            } else if caches.primary.evict_one() {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            } else {
                break;
            }
        }
        cell
    }

    /// The politeness limits this prober applies (to share with other connections).
    pub fn gate(&self) -> Arc<AddressGate> {
        Arc::clone(&self.gate)
    }

    async fn run(&self, addr: SocketAddr, name: String) -> (u64, Arc<SmtpProbe>) {
        let _pass = self.gate.enter(addr.ip()).await;
        self.probes_run.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let p = probe(addr, &name, &self.cfg.probe).await;
        (id, Arc::new(p))
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_spellings() {
        for d in [ProbeDedup::Address, ProbeDedup::AddressAndName] {
            assert_eq!(ProbeDedup::parse(d.as_str()), Some(d));
        }
        assert_eq!(ProbeDedup::parse("name"), None);
        assert!(ProbeSource::Joined.shared() && ProbeSource::Cached.shared());
        assert!(!ProbeSource::Ran.shared());
        assert_eq!(normalize_name("MX1.Example.COM."), "mx1.example.com");
    }
}
