//! Counters the lab servers keep so tests can check what a scanner did: DNS queries by name and
//! type (and those dropped at random), TCP connections and bytes per listener address (HTTPS and SMTP separately), and HTTPS
//! requests per (SNI, path).
//!
//! Hot paths touch only atomics or one short `Mutex` section. Maps keyed by names from the
//! network are capped ([`MAX_KEYS`] distinct keys each); queries beyond the cap are still
//! counted in the totals and in [`Counters::overflow`]. This module does no I/O.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::rr::RecordType;

/// Distinct keys kept per name-keyed map (DNS names, HTTPS SNI/path pairs).
pub const MAX_KEYS: usize = 200_000;

/// Per-address connection counters of one service (live, atomics).
#[derive(Debug, Default)]
pub(crate) struct AddrCounters {
    accepted: AtomicU64,
    open: AtomicU64,
    max_open: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl AddrCounters {
    /// Records an accepted connection; the returned guard decrements `open` when dropped.
    pub(crate) fn connect(self: &Arc<Self>) -> OpenGuard {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let now = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        self.max_open.fetch_max(now, Ordering::AcqRel);
        OpenGuard {
            counters: Arc::clone(self),
            open_now: now,
        }
    }

    /// Adds bytes read from the client.
    pub(crate) fn add_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Adds bytes written to the client.
    pub(crate) fn add_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ConnStats {
        ConnStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            max_open: self.max_open.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
        }
    }
}

/// Keeps a connection counted as open until dropped.
#[derive(Debug)]
pub(crate) struct OpenGuard {
    counters: Arc<AddrCounters>,
    open_now: u64,
}

impl OpenGuard {
    /// Connections open at this address when this one was accepted (including itself).
    pub(crate) fn open_at_accept(&self) -> u64 {
        self.open_now
    }

    /// The counters of this connection's address.
    pub(crate) fn counters(&self) -> &Arc<AddrCounters> {
        &self.counters
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A snapshot of one address's connection counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections currently open.
    pub open: u64,
    /// Maximum number of connections open at once.
    pub max_open: u64,
    /// Bytes received from clients (TLS records included).
    pub bytes_in: u64,
    /// Bytes sent to clients (TLS records included).
    pub bytes_out: u64,
}

#[derive(Debug, Default)]
struct NameMaps {
    dns: HashMap<RecordType, HashMap<String, u64>>,
    dns_keys: usize,
    dropped: HashMap<(String, RecordType), u64>,
    https: HashMap<(Option<String>, String), u64>,
}

/// All counters of one lab. Obtained from [`crate::lab::server::Lab::counters`].
#[derive(Debug, Default)]
pub struct Counters {
    dns_total: AtomicU64,
    dns_dropped: AtomicU64,
    dns_by_type: Mutex<HashMap<RecordType, u64>>,
    names: Mutex<NameMaps>,
    overflow: AtomicU64,
    https_requests: AtomicU64,
    https: HashMap<IpAddr, Arc<AddrCounters>>,
    smtp: HashMap<IpAddr, Arc<AddrCounters>>,
}

impl Counters {
    /// Counters for the given HTTPS and SMTP listener addresses.
    pub(crate) fn new(https: &[IpAddr], smtp: &[IpAddr]) -> Self {
        let mk = |addrs: &[IpAddr]| {
            addrs
                .iter()
                .map(|a| (*a, Arc::new(AddrCounters::default())))
                .collect()
        };
        Counters {
            https: mk(https),
            smtp: mk(smtp),
            ..Default::default()
        }
    }

    /// The live HTTPS counters of `addr`.
    pub(crate) fn https_addr(&self, addr: IpAddr) -> Option<Arc<AddrCounters>> {
        self.https.get(&addr).cloned()
    }

    /// The live SMTP counters of `addr`.
    pub(crate) fn smtp_addr(&self, addr: IpAddr) -> Option<Arc<AddrCounters>> {
        self.smtp.get(&addr).cloned()
    }

    /// Records one DNS query (`qname` lowercase without trailing dot).
    pub(crate) fn dns_query(&self, qname: &str, qtype: RecordType) {
        self.dns_total.fetch_add(1, Ordering::Relaxed);
        *lock(&self.dns_by_type).entry(qtype).or_insert(0) += 1;
        let mut names = lock(&self.names);
        let full = names.dns_keys >= MAX_KEYS;
        let by_name = names.dns.entry(qtype).or_default();
        if let Some(n) = by_name.get_mut(qname) {
            *n += 1;
        } else if !full {
            by_name.insert(qname.to_owned(), 1);
            names.dns_keys += 1;
        } else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records one query dropped at random (already counted by [`Counters::dns_query`]).
    pub(crate) fn dns_drop(&self, qname: &str, qtype: RecordType) {
        self.dns_dropped.fetch_add(1, Ordering::Relaxed);
        let mut names = lock(&self.names);
        let len = names.dropped.len();
        let key = (qname.to_owned(), qtype);
        if let Some(n) = names.dropped.get_mut(&key) {
            *n += 1;
        } else if len < MAX_KEYS {
            names.dropped.insert(key, 1);
        } else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// DNS queries dropped at random by the drop rate (UDP and TCP; included in
    /// [`Counters::dns_total`]). Queries a world never answers ([`DnsOutcome::Drop`]) are
    /// not counted here.
    ///
    /// [`DnsOutcome::Drop`]: crate::lab::model::DnsOutcome::Drop
    pub fn dns_dropped(&self) -> u64 {
        self.dns_dropped.load(Ordering::Relaxed)
    }

    /// Random drops by (qname, qtype) (at most [`MAX_KEYS`] keys).
    pub fn dns_dropped_by_name(&self) -> HashMap<(String, RecordType), u64> {
        lock(&self.names).dropped.clone()
    }

    /// Records one HTTPS request.
    pub(crate) fn https_request(&self, sni: Option<&str>, path: &str) {
        self.https_requests.fetch_add(1, Ordering::Relaxed);
        let mut names = lock(&self.names);
        let key = (sni.map(str::to_owned), path.to_owned());
        let len = names.https.len();
        if let Some(n) = names.https.get_mut(&key) {
            *n += 1;
        } else if len < MAX_KEYS {
            names.https.insert(key, 1);
        } else {
            self.overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// DNS queries received (all names, all types, UDP and TCP).
    pub fn dns_total(&self) -> u64 {
        self.dns_total.load(Ordering::Relaxed)
    }

    /// DNS queries received for `qname` (lowercase, no trailing dot) and `qtype`.
    pub fn dns_queries(&self, qname: &str, qtype: RecordType) -> u64 {
        lock(&self.names)
            .dns
            .get(&qtype)
            .and_then(|m| m.get(qname))
            .copied()
            .unwrap_or(0)
    }

    /// DNS queries received per query type.
    pub fn dns_by_type(&self) -> HashMap<RecordType, u64> {
        lock(&self.dns_by_type).clone()
    }

    /// All DNS query counts by (qname, qtype) (at most [`MAX_KEYS`] keys).
    pub fn dns_by_name(&self) -> HashMap<(String, RecordType), u64> {
        let names = lock(&self.names);
        let mut out = HashMap::new();
        for (t, m) in &names.dns {
            for (n, c) in m {
                out.insert((n.clone(), *t), *c);
            }
        }
        out
    }

    /// HTTPS requests received (all hosts).
    pub fn https_total(&self) -> u64 {
        self.https_requests.load(Ordering::Relaxed)
    }

    /// HTTPS requests received with this SNI (None: no SNI) for this path.
    pub fn https_requests(&self, sni: Option<&str>, path: &str) -> u64 {
        lock(&self.names)
            .https
            .get(&(sni.map(str::to_owned), path.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// All HTTPS request counts by (SNI, path).
    pub fn https_by_sni_path(&self) -> HashMap<(Option<String>, String), u64> {
        lock(&self.names).https.clone()
    }

    /// Connection counters of the HTTPS listener at `addr` (None: not a listener).
    pub fn https_conns(&self, addr: IpAddr) -> Option<ConnStats> {
        self.https.get(&addr).map(|c| c.snapshot())
    }

    /// Connection counters of the SMTP listener at `addr` (None: not a listener).
    pub fn smtp_conns(&self, addr: IpAddr) -> Option<ConnStats> {
        self.smtp.get(&addr).map(|c| c.snapshot())
    }

    /// HTTPS connection counters of every listener.
    pub fn https_all(&self) -> HashMap<IpAddr, ConnStats> {
        self.https.iter().map(|(a, c)| (*a, c.snapshot())).collect()
    }

    /// SMTP connection counters of every listener.
    pub fn smtp_all(&self) -> HashMap<IpAddr, ConnStats> {
        self.smtp.iter().map(|(a, c)| (*a, c.snapshot())).collect()
    }

    /// Events counted in totals but not kept per name because a map reached [`MAX_KEYS`].
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
