//! `probe` over loopback TCP, and the `Prober`: single flight, bounded cache, per-address
//! connection and rate limits, per-name verdicts on shared results.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::UnixTime;
use stsscan::smtp::{
    ProbeConfig, ProbeDedup, ProbeSource, Prober, ProberConfig, SmtpPhase, SmtpStatus, probe,
};
use stsscan::tls::{CertVerdict, TrustAnchors, verdict_for_name};
use tokio::net::{TcpListener, TcpStream};

use super::fixtures::*;

// ---------------------------------------------------------------------------------------------
// Loopback TCP: `probe` and the `Prober`.

/// A random 127.x.y.z address (never 127.0.0.1, shared with other tests).
fn random_loopback() -> IpAddr {
    use std::hash::{BuildHasher, RandomState};
    let h = RandomState::new().hash_one(std::thread::current().id());
    let [a, b, c, ..] = h.to_le_bytes();
    IpAddr::V4(Ipv4Addr::new(127, a.max(1), b, c.clamp(2, 254)))
}

/// A listener on a fresh loopback address, port 0.
async fn listener() -> TcpListener {
    for _ in 0..20 {
        if let Ok(l) = TcpListener::bind(SocketAddr::new(random_loopback(), 0)).await {
            return l;
        }
    }
    panic!("no loopback address available");
}

struct Counters {
    accepts: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
}

/// Serves behaviour `b` on every accepted connection (at most `max_conns`), counting them.
fn spawn_server(l: TcpListener, b: B, max_conns: usize) -> Arc<Counters> {
    spawn_server_with(l, b, max_conns, server_tls())
}

fn spawn_server_with(l: TcpListener, b: B, max_conns: usize, st: ServerTls) -> Arc<Counters> {
    let c = Arc::new(Counters {
        accepts: AtomicUsize::new(0),
        open: AtomicUsize::new(0),
        max_open: AtomicUsize::new(0),
    });
    let counters = c.clone();
    tokio::spawn(async move {
        for _ in 0..max_conns {
            let Ok((s, _)) = l.accept().await else { return };
            counters.accepts.fetch_add(1, Ordering::SeqCst);
            let now = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
            counters.max_open.fetch_max(now, Ordering::SeqCst);
            let (b, cfg, counters) = (b.clone(), st.config.clone(), counters.clone());
            tokio::spawn(async move {
                serve(s, b, cfg, Arc::default()).await;
                counters.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    c
}

fn probe_cfg() -> ProbeConfig {
    let mut c = ProbeConfig::new("scanner.example.net", client_tls());
    c.connect_timeout = Duration::from_secs(5);
    c.phase_timeout = Duration::from_secs(10);
    c.session_deadline = Duration::from_secs(20);
    c
}

#[tokio::test]
async fn probe_over_loopback_tcp() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 1);
    let p = probe(addr, "MX.Example.Test.", &probe_cfg()).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(p.sni.as_deref(), Some("MX.Example.Test"));
    assert_eq!(p.chain.len(), 1);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn probe_connect_refused() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    drop(l);
    let p = probe(addr, MX, &probe_cfg()).await;
    assert_eq!(p.status, SmtpStatus::ConnectRefused, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::Connect);
    assert!(!p.timed_out);
}

/// A listener whose accept queue is full drops further SYNs (Linux), so connect hangs.
#[tokio::test]
async fn probe_connect_timeout() {
    let ip = random_loopback();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(ip, 0)).unwrap();
    let l = sock.listen(0).unwrap();
    let addr = l.local_addr().unwrap();
    // Fill the accept queue (never accepted).
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) =
            tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await
        {
            fillers.push(s);
        }
    }
    let mut cfg = probe_cfg();
    cfg.connect_timeout = Duration::from_millis(300);
    let p = probe(addr, MX, &cfg).await;
    assert_eq!(p.status, SmtpStatus::ConnectTimeout, "{p:?}");
    assert!(p.timed_out);
    drop(l);
}

/// IPv6: the probe connects to `[::1]:port` (a port of this test's own) and reports the
/// address in RFC 5952 / `[addr]:port` form when the connection is refused.
#[tokio::test]
async fn probe_over_ipv6_loopback() {
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let l = TcpListener::bind(SocketAddr::new(v6, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 1);
    let p = probe(addr, MX, &probe_cfg()).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);

    let l = TcpListener::bind(SocketAddr::new(v6, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let p = probe(addr, MX, &probe_cfg()).await;
    assert_eq!(p.status, SmtpStatus::ConnectRefused, "{p:?}");
    let detail = p.detail.unwrap();
    assert!(
        detail.starts_with(&format!("connect to [::1]:{}: ", addr.port())),
        "{detail}"
    );
}

/// RFC 4291 §2.5.5.2: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) denotes the IPv4
/// host. It is one destination: one probe, one cache entry, one politeness slot.
#[tokio::test]
async fn ipv4_mapped_address_is_the_ipv4_destination() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let IpAddr::V4(v4) = addr.ip() else {
        unreachable!()
    };
    let mapped = SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), addr.port());
    let c = spawn_server(l, B::Hold(Duration::from_millis(100)), 4);
    let prober = Arc::new(prober(ProbeDedup::Address, 4));
    let (a, b) = tokio::join!(prober.probe(mapped, MX), prober.probe(addr, MX));
    assert_eq!(a.probe_id, b.probe_id);
    assert_eq!(a.probe.status, SmtpStatus::Ok, "{:?}", a.probe);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);
    assert_eq!(prober.stats().probes_run, 1);
    let again = prober.probe(mapped, "other.example.test").await;
    assert_eq!(again.source, ProbeSource::Cached);
}

fn prober(dedup: ProbeDedup, per_address: usize) -> Prober {
    let mut c = ProberConfig::new(probe_cfg());
    c.dedup = dedup;
    c.per_address_connections = NonZeroUsize::new(per_address).unwrap();
    c.per_address_rate = None;
    Prober::new(c)
}

/// A prober whose cache keeps at most `capacity` keys (one connection per address at once).
fn bounded_prober(dedup: ProbeDedup, capacity: usize) -> Prober {
    let mut c = ProberConfig::new(probe_cfg());
    c.dedup = dedup;
    c.cache_capacity = capacity;
    c.per_address_rate = None;
    Prober::new(c)
}

/// design.md: "Probe each destination address once per scan and reuse the result for every
/// domain that points there." Eight concurrent requests make one connection.
#[tokio::test]
async fn concurrent_probes_of_one_address_share_one_connection() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Hold(Duration::from_millis(100)), 8);
    let prober = Arc::new(prober(ProbeDedup::Address, 4));
    let names: Vec<String> = (0..8)
        .map(|i| format!("tenant{i}.mx.example.test"))
        .collect();
    let results = futures::future::join_all(names.iter().map(|n| prober.probe(addr, n))).await;
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);
    let id = results[0].probe_id;
    assert!(results.iter().all(|r| r.probe_id == id));
    assert!(results.iter().all(|r| r.probe.status == SmtpStatus::Ok));
    let ran = results
        .iter()
        .filter(|r| r.source == ProbeSource::Ran)
        .count();
    assert_eq!(ran, 1);
    let stats = prober.stats();
    assert_eq!(stats.probes_run, 1);
    assert_eq!(stats.joins + stats.cache_hits, 7);
    // Later requests are cache hits.
    let again = prober.probe(addr, "other.example.test").await;
    assert_eq!(again.source, ProbeSource::Cached);
    assert_eq!(again.probe_id, id);
    assert_eq!(prober.stats().cache_hits, stats.cache_hits + 1);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);
}

/// With `address+name` each SNI name gets its own probe, but never more than N connections
/// to one address at once.
#[tokio::test]
async fn per_address_connection_limit_holds() {
    for limit in [1usize, 2] {
        let l = listener().await;
        let addr = l.local_addr().unwrap();
        let c = spawn_server(l, B::Hold(Duration::from_millis(50)), 4);
        let prober = prober(ProbeDedup::AddressAndName, limit);
        let names: Vec<String> = (0..4).map(|i| format!("t{i}.mx.example.test")).collect();
        let results = futures::future::join_all(names.iter().map(|n| prober.probe(addr, n))).await;
        assert_eq!(c.accepts.load(Ordering::SeqCst), 4);
        assert!(results.iter().all(|r| r.source == ProbeSource::Ran));
        assert!(results.iter().all(|r| r.probe.status == SmtpStatus::Ok));
        let mut ids: Vec<u64> = results.iter().map(|r| r.probe_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        let max = c.max_open.load(Ordering::SeqCst);
        assert!(max <= limit, "limit {limit}, saw {max} connections at once");
        assert_eq!(prober.stats().probes_run, 4);
        // Same name, any case or trailing dot: a cache hit.
        let again = prober.probe(addr, "T0.MX.example.test.").await;
        assert_eq!(again.source, ProbeSource::Cached);
    }
}

/// RFC 8461 §4.2: "The certificate MUST have a subject alternative name (SAN) [RFC5280] with
/// a DNS-ID [RFC6125] matching the hostname, per the rules given in [RFC6125]." One probe
/// shared by two names (address dedup) is judged per name: valid for the name in the SAN,
/// name-mismatch for a tenant name that shares the address.
#[tokio::test]
async fn shared_probe_is_judged_per_mx_name() {
    let st = server_tls();
    let mut anchors = TrustAnchors::empty();
    anchors.add_der(st.ca.clone()).unwrap();
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server_with(l, B::Normal, 2, st);
    let prober = prober(ProbeDedup::Address, 1);
    let first = prober.probe(addr, MX).await;
    let second = prober.probe(addr, "tenant.other.test").await;
    assert_eq!(first.probe.status, SmtpStatus::Ok, "{:?}", first.probe);
    assert_eq!(second.source, ProbeSource::Cached);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 1);
    let now = UnixTime::now();
    let v = verdict_for_name(&second.probe.chain, &anchors, now, MX);
    assert_eq!(v.verdict, CertVerdict::Valid, "{v:?}");
    let v = verdict_for_name(&second.probe.chain, &anchors, now, "tenant.other.test");
    assert_eq!(v.verdict, CertVerdict::NameMismatch);
    // Without the CA as an anchor the leaf alone is an incomplete chain.
    let v = verdict_for_name(&first.probe.chain, &TrustAnchors::empty(), now, MX);
    assert_eq!(v.verdict, CertVerdict::IncompleteChain);
}

/// `probe_keyed` lets a caller re-probe one address with its own SNI after an address-shared
/// result carried another name's certificate; the two results live side by side.
#[tokio::test]
async fn probe_keyed_reprobes_with_own_sni() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 2);
    let prober = prober(ProbeDedup::Address, 1);
    let shared = prober.probe(addr, MX).await;
    let own = prober
        .probe_keyed(addr, "tenant.other.test", ProbeDedup::AddressAndName)
        .await;
    assert_eq!(own.source, ProbeSource::Ran);
    assert_ne!(own.probe_id, shared.probe_id);
    assert_eq!(own.probe.sni.as_deref(), Some("tenant.other.test"));
    assert_eq!(shared.probe.sni.as_deref(), Some(MX));
    // Both stay cached under their own keys.
    assert_eq!(prober.probe(addr, "x.test").await.probe_id, shared.probe_id);
    let again = prober
        .probe_keyed(addr, "Tenant.Other.Test.", ProbeDedup::AddressAndName)
        .await;
    assert_eq!(
        (again.source, again.probe_id),
        (ProbeSource::Cached, own.probe_id)
    );
    assert_eq!(c.accepts.load(Ordering::SeqCst), 2);
}

/// The bounded cache evicts finished results: a later request probes again.
#[tokio::test]
async fn cache_is_bounded() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 3);
    let prober = bounded_prober(ProbeDedup::AddressAndName, 1);
    let a = prober.probe(addr, "a.example.test").await;
    let _b = prober.probe(addr, "b.example.test").await;
    let a2 = prober.probe(addr, "a.example.test").await;
    assert_eq!(a2.source, ProbeSource::Ran);
    assert_ne!(a.probe_id, a2.probe_id);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 3);
    assert_eq!(prober.stats().evictions, 2);
}

/// Eviction is second chance: an entry used since it was last passed over stays.
#[tokio::test]
async fn cache_keeps_recently_used_entries() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 4);
    let prober = bounded_prober(ProbeDedup::AddressAndName, 2);
    let a = prober.probe(addr, "a.example.test").await;
    prober.probe(addr, "b.example.test").await;
    assert_eq!(
        prober.probe(addr, "a.example.test").await.source,
        ProbeSource::Cached
    );
    prober.probe(addr, "c.example.test").await; // evicts b, not the recently used a
    let a2 = prober.probe(addr, "a.example.test").await;
    assert_eq!((a2.source, a2.probe_id), (ProbeSource::Cached, a.probe_id));
    assert_eq!(
        prober.probe(addr, "b.example.test").await.source,
        ProbeSource::Ran
    );
    assert_eq!(c.accepts.load(Ordering::SeqCst), 4);
}

/// Re-probes with the MX name as SNI (address + name keys, in the default address mode) are
/// evicted first: however many of them run, they never evict an address's result, so a later
/// domain pointing at that address shares it instead of probing the address again (issue 6:
/// "STARTTLS probes = unique destination addresses (never more)").
#[tokio::test]
async fn reprobe_churn_never_evicts_address_results() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 6);
    let prober = bounded_prober(ProbeDedup::Address, 3);
    let shared = prober.probe(addr, MX).await;
    for n in [
        "a.example.test",
        "b.example.test",
        "c.example.test",
        "d.example.test",
    ] {
        let own = prober
            .probe_keyed(addr, n, ProbeDedup::AddressAndName)
            .await;
        assert_eq!(own.source, ProbeSource::Ran, "{n}");
    }
    let again = prober.probe(addr, "e.example.test").await;
    assert_eq!(
        (again.source, again.probe_id),
        (ProbeSource::Cached, shared.probe_id)
    );
    // The capacity still bounds the whole cache: the two oldest re-probe results went.
    let stats = prober.stats();
    assert_eq!((stats.evictions, stats.reprobe_evictions), (0, 2));
    let a = prober
        .probe_keyed(addr, "a.example.test", ProbeDedup::AddressAndName)
        .await;
    assert_eq!(a.source, ProbeSource::Ran);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 6);
}

/// Which keys are re-probes depends on the dedup kind: with `address+name`, the (address,
/// name) keys are the cache's own and an address-only key is the other kind, evicted first.
#[tokio::test]
async fn the_other_kind_of_key_is_evicted_first_in_address_and_name_mode() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 4);
    let prober = bounded_prober(ProbeDedup::AddressAndName, 2);
    let a = prober.probe(addr, "a.example.test").await;
    let by_address = prober
        .probe_keyed(addr, "x.example.test", ProbeDedup::Address)
        .await;
    assert_eq!(by_address.source, ProbeSource::Ran);
    let _b = prober.probe(addr, "b.example.test").await; // over capacity: the address key goes
    let a2 = prober.probe(addr, "a.example.test").await;
    assert_eq!((a2.source, a2.probe_id), (ProbeSource::Cached, a.probe_id));
    let stats = prober.stats();
    assert_eq!((stats.evictions, stats.reprobe_evictions), (0, 1));
    let again = prober
        .probe_keyed(addr, "y.example.test", ProbeDedup::Address)
        .await;
    assert_eq!(again.source, ProbeSource::Ran);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 4);
}

/// A caller cancelled while running the shared probe does not strand the callers waiting on
/// it: one of them runs the probe instead.
#[tokio::test]
async fn cancelled_runner_hands_over_to_a_waiter() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Hold(Duration::from_millis(300)), 2);
    let prober = Arc::new(prober(ProbeDedup::Address, 2));
    let runner = tokio::spawn({
        let p = prober.clone();
        async move { p.probe(addr, MX).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiter = tokio::spawn({
        let p = prober.clone();
        async move { p.probe(addr, MX).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    runner.abort();
    let r = tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.source, ProbeSource::Ran);
    assert_eq!(r.probe.status, SmtpStatus::Ok);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 2);
    assert_eq!(prober.stats().probes_run, 2);
}

/// The governor rate limit spaces new connections to one address.
#[tokio::test]
async fn per_address_rate_limit_spaces_connections() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let _c = spawn_server(l, B::Normal, 3);
    let mut cfg = ProberConfig::new(probe_cfg());
    cfg.dedup = ProbeDedup::AddressAndName;
    cfg.per_address_rate = governor::Quota::with_period(Duration::from_millis(200));
    let prober = Prober::new(cfg);
    let start = std::time::Instant::now();
    for n in ["a.example.test", "b.example.test", "c.example.test"] {
        assert_eq!(prober.probe(addr, n).await.probe.status, SmtpStatus::Ok);
    }
    // Lower bound only: three connections at one per 200 ms need at least 400 ms.
    assert!(start.elapsed() >= Duration::from_millis(390));
}
