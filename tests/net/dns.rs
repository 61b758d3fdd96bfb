//! The DNS client against a tiny DNS server started by each test on its own 127.x.y.z
//! address (UDP and TCP, same port). The server answers per query name (see [`behaviour`])
//! and counts the queries it receives, so statuses, records, CNAME chains, retries, TCP
//! fallback and single-flight are checked exactly. Nothing leaves loopback.

// Test helpers outside `#[test]` functions may unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;
mod server;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode};
use hickory_proto::rr::RecordType;
use server::{TestServer, a, bind_pair, n, process_cpu_ns, thread_cpu_ns};
use stsscan::dns::reqwest::{ResolveError, ScanResolver};
use stsscan::dns::{AddressPolicy, Dns, DnsConfig, DnsStatus, IpVersion, Refusal, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn dns_for(server: &TestServer, transport: Transport, attempts: usize, timeout_ms: u64) -> Dns {
    Dns::new(DnsConfig {
        resolvers: vec![server.addr],
        timeout: Duration::from_millis(timeout_ms),
        attempts,
        transport,
        ..DnsConfig::default()
    })
    .unwrap()
}

const MUX: Transport = Transport::Multiplexed { sockets: 2 };

/// Runs each scenario over both transports: `dns::hickory::NAME` and `dns::mux::NAME`.
macro_rules! over_both_transports {
    ($($name:ident),* $(,)?) => {
        mod hickory {
            $(#[tokio::test]
            async fn $name() {
                super::$name(stsscan::dns::Transport::Hickory).await
            })*
        }
        mod mux {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::MUX).await
            })*
        }
    };
}

over_both_transports!(
    statuses_are_exact_and_kept_apart,
    retries_only_transient_failures,
    referrals_are_failures_not_nodata,
    slow_answer_within_timeout,
    truncated_udp_answer_is_retried_over_tcp,
    txt_keeps_strings_and_bytes,
    mx_records_and_null_mx,
    cname_chains_are_followed_and_recorded,
    both_families_are_combined_and_kept,
    concurrent_address_lookups_are_single_flight,
    big_address_answers_are_kept_bounded,
    a_dead_resolver_is_skipped_on_retry,
    a_retry_goes_to_the_next_resolver_despite_other_lookups,
);

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------------------------

/// RFC 2308 §2.2: "NODATA is indicated by an answer with the RCODE set to NOERROR and no
/// relevant answers in the answer section." §2.1: "Name errors (NXDOMAIN) are indicated by
/// the presence of "Name Error" in the RCODE field." §5: the negative TTL "is taken from the
/// minimum of the SOA.MINIMUM field and SOA's TTL".
async fn statuses_are_exact_and_kept_apart(t: Transport) {
    let server = TestServer::start();
    // generous for answers (a loaded CI machine), short only where silence is expected
    let dns = dns_for(&server, t, 2, 2000);
    let quick = dns_for(&server, t, 1, 300);

    let l = dns
        .addresses_uncached("data.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(l.records, vec![v4("192.0.2.1"), v4("192.0.2.2")]);
    assert_eq!(l.ttl, Some(300));
    assert_eq!(l.queries, 1);
    assert!(l.cname_chain.is_empty());

    let l = dns.txt("nodata.test").await;
    assert_eq!(
        (l.status, l.ttl, l.records.len()),
        (DnsStatus::NoData, Some(60), 0)
    );
    let l = dns.txt("data.test.").await; // trailing dot accepted
    assert_eq!(l.status, DnsStatus::NoError);
    // RFC 8461 §3.1 and RFC 8460 §3 names: underscore labels are ordinary labels
    // (RFC 2181 §11: "any binary string whatever can be used as the label of any resource
    // record")
    for name in ["_mta-sts.data.test", "_smtp._tls.DATA.test"] {
        let l = dns.txt(name).await;
        assert_eq!(l.status, DnsStatus::NoError, "{name}");
        let want = format!("for {}", name.to_ascii_lowercase());
        assert_eq!(l.records, vec![vec![want.into_bytes()]]);
    }
    let l = dns.mx("nx.test").await;
    assert_eq!((l.status, l.ttl), (DnsStatus::NxDomain, Some(60)));
    assert_eq!(dns.txt("servfail.test").await.status, DnsStatus::ServFail);
    assert_eq!(dns.txt("refused.test").await.status, DnsStatus::Refused);
    assert_eq!(dns.txt("formerr.test").await.status, DnsStatus::FormErr);
    let l = quick.txt("silent.test").await;
    assert_eq!(l.status, DnsStatus::Timeout);
    assert!(l.detail.is_some());
    // a name that cannot be sent: no query at all
    let long = format!("{}.test", "a".repeat(64));
    let l = dns.txt(&long).await;
    assert_eq!((l.status, l.queries), (DnsStatus::InvalidName, 0));
    assert_eq!(server.total(&long, RecordType::TXT), 0);
}

/// Only transient failures are retried: SERVFAIL and timeouts `attempts` times in total,
/// NXDOMAIN, REFUSED and NODATA once (they are answers, asking again changes nothing).
async fn retries_only_transient_failures(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 3, 2000);
    let quick = dns_for(&server, t, 3, 250);
    let l = dns.txt("servfail.test").await;
    assert_eq!((l.status, l.queries), (DnsStatus::ServFail, 3));
    assert_eq!(server.total("servfail.test", RecordType::TXT), 3);
    assert!(l.detail.unwrap_or_default().contains("3 attempts"));

    let l = quick.txt("silent.test").await;
    assert_eq!((l.status, l.queries), (DnsStatus::Timeout, 3));
    // the 250 ms timeout is below hickory's 333 ms UDP re-send floor: one datagram per attempt
    assert_eq!(server.total("silent.test", RecordType::TXT), 3);

    for (name, status) in [
        ("nx.test", DnsStatus::NxDomain),
        ("refused.test", DnsStatus::Refused),
        ("nodata.test", DnsStatus::NoData),
    ] {
        let l = dns.txt(name).await;
        assert_eq!((l.status, l.queries), (status, 1), "{name}");
        assert_eq!(server.total(name, RecordType::TXT), 1, "{name}");
    }

    // SERVFAIL once, then data: the retry succeeds
    let l = dns
        .addresses_uncached("flaky.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!((l.status, l.queries), (DnsStatus::NoError, 2));
    assert_eq!(l.records, vec![v4("192.0.2.9")]);

    // attempts = 1: no retry at all
    let once = dns_for(&server, t, 1, 2000);
    assert_eq!(once.txt("servfail.test").await.queries, 1);
    assert_eq!(server.total("servfail.test", RecordType::TXT), 4);
}

/// RFC 2308 §2.2: "It is possible to distinguish between a NODATA and a referral response by
/// the presence of a SOA record in the authority section or the absence of NS records in the
/// authority section." A referral (from a resolver that does not recurse) is a failed lookup,
/// not an absent record, and like REFUSED it is not asked again.
async fn referrals_are_failures_not_nodata(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 3, 2000);
    let l = dns.txt("referral.test").await;
    assert_eq!(
        (l.status, l.queries),
        (DnsStatus::Referral, 1),
        "{:?}",
        l.detail
    );
    assert!(l.detail.unwrap_or_default().contains("referral"));
    let l = dns.mx("referral.test").await;
    assert_eq!((l.status, l.queries), (DnsStatus::Referral, 1));
    let l = dns.addresses("referral.test", IpVersion::Both).await;
    assert_eq!(l.lookup.status, DnsStatus::Referral);
    assert_eq!(
        (l.v4, l.v6),
        (Some(DnsStatus::Referral), Some(DnsStatus::Referral))
    );
    for rtype in [
        RecordType::TXT,
        RecordType::MX,
        RecordType::A,
        RecordType::AAAA,
    ] {
        assert_eq!(server.total("referral.test", rtype), 1, "{rtype}");
    }
}

/// A slow answer within the timeout is an answer.
async fn slow_answer_within_timeout(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 2000);
    let l = dns
        .addresses_uncached("slow.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!(l.status, DnsStatus::NoError);
    assert!(l.elapsed >= Duration::from_millis(150));
}

/// RFC 2181 §9: "When a DNS client receives a reply with TC set, it should ignore that
/// response, and query again, using a mechanism, such as a TCP connection, that will permit
/// larger replies."
async fn truncated_udp_answer_is_retried_over_tcp(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 2, 1000);
    let l = dns.txt("big.test").await;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(l.records.len(), 30);
    assert_eq!(
        l.records[0],
        vec![format!("00{}", "x".repeat(200)).into_bytes()]
    );
    assert_eq!(server.count("big.test", RecordType::TXT, "udp"), 1);
    assert_eq!(server.count("big.test", RecordType::TXT, "tcp"), 1);
}

/// With two resolvers, one silent, a retry reaches the live one.
async fn a_dead_resolver_is_skipped_on_retry(t: Transport) {
    let server = TestServer::start();
    let (dead, _dead_tcp) = bind_pair().await; // bound, never read
    let dns = Dns::new(DnsConfig {
        resolvers: vec![dead.local_addr().unwrap(), server.addr],
        timeout: Duration::from_millis(600),
        attempts: 3,
        transport: t,
        ..DnsConfig::default()
    })
    .unwrap();
    for _ in 0..3 {
        let l = dns
            .addresses_uncached("data.test", IpVersion::V4)
            .await
            .lookup;
        assert_eq!(l.status, DnsStatus::NoError, "{:?}", l.detail);
    }
}

/// Datagrams waiting on a bound socket that is never read (a silent resolver), drained.
fn drain_count(silent: &tokio::net::UdpSocket) -> usize {
    let mut buf = [0u8; 512];
    let mut n = 0;
    // bounded: the socket's receive buffer holds a finite number of datagrams
    for _ in 0..10_000 {
        match silent.try_recv(&mut buf) {
            Ok(_) => n += 1,
            Err(_) => break,
        }
    }
    n
}

/// Regression (multiplexed transport): the resolver of every attempt came from one counter
/// shared by all lookups, so a lookup whose first attempt went to the silent resolver of
/// [silent, live] was retried on the silent one again as soon as one other lookup had been
/// sent in between.
///
/// Regression (hickory transport): one hickory name-server pool held every resolver and
/// picked each attempt's by its measured latency, which NXDOMAIN and NODATA answers also
/// penalize (hickory counts them as failures), while an untried resolver starts with a random
/// microsecond estimate: a retry could go to the silent resolver again, and the lookup timed
/// out after `attempts` tries with a working resolver left unasked. Now each resolver has its
/// own pool and stsscan rotates the attempts itself.
///
/// RFC 1035 §7.2: "The key algorithm uses the state information of the request to select the
/// next name server address to query, and also computes a timeout which will cause the next
/// action should a response not arrive. The next action will usually be a transmission to
/// some other server, but may be a temporary error to the client." Each lookup's attempt k
/// goes to resolver (first + k) mod n, whatever else is in flight: with attempts = 2 every
/// lookup reaches the live resolver and the silent one gets at most one query per lookup.
async fn a_retry_goes_to_the_next_resolver_despite_other_lookups(t: Transport) {
    let server = TestServer::start();
    let (dead, _dead_tcp) = bind_pair().await; // bound, never answers
    let silent = dead.local_addr().unwrap();
    let client = || {
        Dns::new(DnsConfig {
            resolvers: vec![silent, server.addr],
            // below hickory's 333 ms UDP re-send floor: one datagram per attempt
            timeout: Duration::from_millis(250),
            attempts: 2,
            transport: t,
            ..DnsConfig::default()
        })
        .unwrap()
    };
    // Several fresh clients at once (hickory's first choice was random per client), each
    // with sequential lookups that the live resolver answers with NODATA and NXDOMAIN.
    const CLIENTS: usize = 8;
    const LOOKUPS: usize = 4;
    let runs = (0..CLIENTS).map(|c| {
        let dns = client();
        async move {
            let mut failures = Vec::new();
            for i in 0..LOOKUPS {
                let (name, want) = if i % 2 == 0 {
                    ("nodata.test", DnsStatus::NoData)
                } else {
                    ("nx.test", DnsStatus::NxDomain)
                };
                let l = dns.txt(name).await;
                if l.status != want || l.queries > 2 {
                    failures.push(format!("client {c} lookup {i}: {l:?}"));
                }
            }
            failures
        }
    });
    let failures: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    let got = drain_count(&dead);
    assert!(
        got <= CLIENTS * LOOKUPS,
        "the silent resolver got {got} queries for {} lookups",
        CLIENTS * LOOKUPS
    );

    // One client, a lookup sent while another waits for its first attempt.
    let dns = client();
    for round in 0..3 {
        let first = {
            let dns = dns.clone();
            tokio::spawn(async move { dns.txt("nodata.test").await })
        };
        // while the first lookup waits for its first attempt, another lookup is sent
        tokio::time::sleep(Duration::from_millis(50)).await;
        let other = dns.txt("nx.test").await;
        let first = first.await.unwrap();
        assert_eq!(
            other.status,
            DnsStatus::NxDomain,
            "round {round}: {:?}",
            other.detail
        );
        assert_eq!(
            first.status,
            DnsStatus::NoData,
            "round {round}: {:?} after {} queries",
            first.detail,
            first.queries
        );
        let silent = drain_count(&dead);
        assert!(
            silent <= 2,
            "round {round}: the silent resolver got {silent} queries for two lookups"
        );
    }
}

/// The rate limit applies to every query: 60 queries at 50/s (burst 50) cannot finish before
/// the limiter has released the last 10, i.e. 200 ms (a lower bound, not a performance
/// assertion).
#[tokio::test]
async fn rate_limit_applies_to_queries() {
    let server = TestServer::start();
    let dns = Dns::new(DnsConfig {
        resolvers: vec![server.addr],
        timeout: Duration::from_millis(1000),
        attempts: 1,
        rate_per_sec: std::num::NonZeroU32::new(50),
        ..DnsConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    for _ in 0..60 {
        assert_eq!(dns.txt("data.test").await.status, DnsStatus::NoError);
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(server.total("data.test", RecordType::TXT), 60);
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// RFC 1035 §3.3.14: "TXT-DATA  One or more <character-string>s." Each RR keeps its strings
/// apart and as raw bytes; the RRs keep their order.
async fn txt_keeps_strings_and_bytes(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 1000);
    let l = dns.txt("multi.test").await;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(
        l.records,
        vec![
            vec![b"v=STSv1; ".to_vec(), b"id=abc".to_vec()],
            vec![b"other".to_vec()],
            vec![b"\xff\x00bin".to_vec(), Vec::new()],
        ]
    );
}

/// RFC 7505 §3: "it advertises a single MX RR (see Section 3.3.9 of [RFC1035]) with an RDATA
/// section consisting of preference number 0 and a zero-length label, written in master files
/// as ".", as the exchange domain". MX exchanges come back lowercase without the trailing dot.
async fn mx_records_and_null_mx(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 1000);
    let l = dns.mx("data.test").await;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(
        l.records,
        vec![
            (20, "mx2.data.test".to_string()),
            (10, "mx1.data.test".to_string())
        ]
    );
    let l = dns.mx("nullmx.test").await;
    assert_eq!(l.records, vec![(0, String::new())]);
    assert_eq!(dns.mx("nodata.test").await.status, DnsStatus::NoData);
}

/// RFC 1034 §4.3.2 step 3a: "If the data at the node is a CNAME, and QTYPE doesn't match
/// CNAME, copy the CNAME RR into the answer section of the response, change QNAME to the
/// canonical name in the CNAME RR, and go back to step 1."
async fn cname_chains_are_followed_and_recorded(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 1000);

    let l = dns
        .addresses_uncached("cname.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(l.records, vec![v4("192.0.2.7")]);
    assert_eq!(l.cname_chain, vec!["hop1.test", "hop2.test"]);
    assert_eq!(l.ttl, Some(50), "smallest TTL along the chain");

    let l = dns.txt("cname.test").await;
    assert_eq!(l.records, vec![vec![b"v=STSv1; id=vendor".to_vec()]]);
    assert_eq!(l.cname_chain, vec!["hop1.test", "hop2.test"]);

    // incomplete chain: the client asks for the target
    let l = dns
        .addresses_uncached("partial.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!(l.status, DnsStatus::NoError);
    assert_eq!(l.cname_chain, vec!["data.test"]);
    assert_eq!(l.records, vec![v4("192.0.2.1"), v4("192.0.2.2")]);
    assert_eq!((l.queries, l.ttl), (2, Some(30)));
    assert_eq!(server.total("data.test", RecordType::A), 1);

    // dangling chain: NXDOMAIN for the target, chain kept
    let l = dns.txt("dangling.test").await;
    assert_eq!(l.status, DnsStatus::NxDomain);
    assert_eq!(l.cname_chain, vec!["nx.test"]);

    let l = dns.txt("loop.test").await;
    assert_eq!(l.status, DnsStatus::CnameLoop);
    assert_eq!(l.queries, 1);
}

// ---------------------------------------------------------------------------------------------
// Addresses and the cache
// ---------------------------------------------------------------------------------------------

async fn both_families_are_combined_and_kept(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 1000);

    let r = dns.addresses("data.test", IpVersion::Both).await;
    assert_eq!(r.lookup.status, DnsStatus::NoError);
    assert_eq!(
        r.lookup.records,
        vec![
            v4("192.0.2.1"),
            v4("192.0.2.2"),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        ]
    );
    assert_eq!(
        (r.v4, r.v6),
        (Some(DnsStatus::NoError), Some(DnsStatus::NoError))
    );

    let r = dns.addresses("mixed.test", IpVersion::Both).await;
    assert_eq!(r.lookup.status, DnsStatus::NoError);
    assert_eq!(r.v6, Some(DnsStatus::ServFail));
    assert_eq!(r.lookup.records, vec![v4("192.0.2.20")]);

    // no address and a failure: the host's existence is undecided → the failure
    let r = dns.addresses("halffail.test", IpVersion::Both).await;
    assert_eq!(r.lookup.status, DnsStatus::ServFail);
    assert_eq!(
        (r.v4, r.v6),
        (Some(DnsStatus::NoData), Some(DnsStatus::ServFail))
    );

    let r = dns.addresses("nx.test", IpVersion::Both).await;
    assert_eq!(r.lookup.status, DnsStatus::NxDomain);
    let r = dns.addresses("data.test", IpVersion::V6).await;
    assert_eq!((r.v4, r.v6), (None, Some(DnsStatus::NoError)));
    assert_eq!(r.lookup.records.len(), 1);
}

/// Many domains share one MX host: N concurrent lookups send one query per family, and later
/// lookups are served from the cache.
async fn concurrent_address_lookups_are_single_flight(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 2000);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let dns = dns.clone();
        // mixed case and trailing dots are the same host
        let host = if i % 2 == 0 {
            "shared-mx.test"
        } else {
            "Shared-MX.test."
        };
        tasks.push(tokio::spawn(async move {
            dns.addresses(host, IpVersion::Both).await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert!(results.iter().all(|r| Arc::ptr_eq(r, &results[0])));
    assert_eq!(results[0].lookup.records, vec![v4("192.0.2.30")]);
    assert_eq!(server.total("shared-mx.test", RecordType::A), 1);
    assert_eq!(server.total("shared-mx.test", RecordType::AAAA), 1);
    let s = dns.cache_stats();
    assert_eq!(s.misses, 1);
    assert_eq!(s.joins + s.hits, 63);

    let again = dns.addresses("shared-mx.test", IpVersion::Both).await;
    assert!(Arc::ptr_eq(&again, &results[0]));
    assert_eq!(dns.cache_stats().hits, s.hits + 1);
    assert_eq!(server.total("shared-mx.test", RecordType::A), 1);
    // a different family is a different key
    dns.addresses("shared-mx.test", IpVersion::V4).await;
    assert_eq!(server.total("shared-mx.test", RecordType::A), 2);
}

/// An address lookup keeps at most `MAX_ADDRESSES_PER_FAMILY` addresses of each family, the
/// first ones in answer order, in the result and in the cache entry: a 64 KiB answer (≈ 4 000
/// A records) must not make each of up to `cache_capacity` entries that big.
async fn big_address_answers_are_kept_bounded(t: Transport) {
    let server = TestServer::start();
    let dns = dns_for(&server, t, 1, 2000);
    let cap = stsscan::dns::MAX_ADDRESSES_PER_FAMILY;
    assert!(cap < 60);
    let mut want: Vec<IpAddr> = (0..cap as u8)
        .map(|i| IpAddr::from([198, 51, 100, i]))
        .collect();
    want.extend((1..=3).map(|i| format!("2001:db8::{i}").parse::<IpAddr>().unwrap()));
    for round in 0..2 {
        let l = dns.addresses("many.test", IpVersion::Both).await;
        assert_eq!(l.lookup.status, DnsStatus::NoError);
        assert_eq!(l.lookup.records, want, "round {round}");
        assert!(l.lookup.records.capacity() <= cap + 3, "round {round}");
    }
    assert_eq!(
        dns.cache_stats().hits,
        1,
        "the second lookup is the cached entry"
    );
    let l = dns
        .addresses_uncached("many.test", IpVersion::V4)
        .await
        .lookup;
    assert_eq!(l.records, want[..cap]);
    assert!(l.records.capacity() <= cap);
}

/// Regression: A `noerror` with AAAA `servfail` combines to `noerror` and was cached for the
/// A TTL (300 s here), so a transient AAAA failure hid the host's IPv6 addresses that long.
/// Such an entry now lives at most `cache_failure_ttl`.
#[tokio::test]
async fn a_half_failed_address_lookup_is_cached_like_a_failure() {
    let server = TestServer::start();
    let dns = Dns::new(DnsConfig {
        resolvers: vec![server.addr],
        timeout: Duration::from_millis(2000),
        attempts: 1,
        transport: MUX,
        cache_failure_ttl: Duration::from_millis(50),
        ..DnsConfig::default()
    })
    .unwrap();
    let l = dns.addresses("mixed.test", IpVersion::Both).await;
    assert_eq!(
        (l.lookup.status, l.v4, l.v6),
        (
            DnsStatus::NoError,
            Some(DnsStatus::NoError),
            Some(DnsStatus::ServFail)
        )
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    dns.addresses("mixed.test", IpVersion::Both).await;
    let s = dns.cache_stats();
    assert_eq!((s.hits, s.misses), (0, 2), "{s:?}");
    assert_eq!(server.total("mixed.test", RecordType::AAAA), 2);
    // a complete answer is kept for its TTL
    dns.addresses("data.test", IpVersion::Both).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    dns.addresses("data.test", IpVersion::Both).await;
    assert_eq!(dns.cache_stats().hits, 1);
}

#[tokio::test]
async fn cache_stays_bounded() {
    let server = TestServer::start();
    let dns = Dns::new(DnsConfig {
        resolvers: vec![server.addr],
        timeout: Duration::from_millis(1000),
        attempts: 1,
        cache_capacity: 16,
        ..DnsConfig::default()
    })
    .unwrap();
    for i in 0..100 {
        let r = dns
            .addresses(&format!("bench{i}.test"), IpVersion::V4)
            .await;
        assert_eq!(r.lookup.status, DnsStatus::NoError);
    }
    let s = dns.cache_stats();
    assert!(s.entries <= 16, "{s:?}");
    assert_eq!(s.evictions, 84);
}

// ---------------------------------------------------------------------------------------------
// Safety through the reqwest resolver
// ---------------------------------------------------------------------------------------------

/// RFC 6890 §2.2.2 lists 127.0.0.0/8 ("Loopback", "Forwardable: False", "Global: False") and
/// 10.0.0.0/8 ("Private-Use"); such answers must never be connected to on a public scan.
#[tokio::test]
async fn resolver_drops_refused_addresses() {
    let server = TestServer::start();
    let dns = dns_for(&server, Transport::Hickory, 1, 1000);
    let public = ScanResolver::new(
        dns.clone(),
        Arc::new(AddressPolicy::public()),
        IpVersion::Both,
    );
    let addrs = public.resolve_host("unsafe.test").await.unwrap();
    assert_eq!(addrs, vec![SocketAddr::new(v4("93.184.216.34"), 0)]);
    assert_eq!(
        public.resolve_host("private.test").await,
        Err(ResolveError::Refused {
            addr: v4("10.1.2.3"),
            refusal: Refusal::Private
        })
    );
    match public.resolve_host("nx.test").await {
        Err(e @ ResolveError::Dns { status, .. }) => {
            assert_eq!(status, DnsStatus::NxDomain);
            assert!(e.is_host_not_found());
        }
        other => panic!("{other:?}"),
    }
    match public.resolve_host("servfail.test").await {
        Err(e @ ResolveError::Dns { status, .. }) => {
            assert_eq!(status, DnsStatus::ServFail);
            assert!(
                !e.is_host_not_found(),
                "a failure is a dns-error, not host-not-found"
            );
        }
        other => panic!("{other:?}"),
    }
    match public.resolve_host("nodata.test").await {
        Err(ResolveError::Dns { status, .. }) => assert_eq!(status, DnsStatus::NoData),
        other => panic!("{other:?}"),
    }
    let lab = ScanResolver::new(
        dns,
        Arc::new(AddressPolicy {
            allow_private: true,
            blocklist: vec!["93.184.216.0/24".parse().unwrap()],
        }),
        IpVersion::Both,
    );
    let mut got = lab.resolve_host("unsafe.test").await.unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            SocketAddr::new(v4("10.1.2.3"), 0),
            SocketAddr::new(v4("127.0.0.1"), 0),
            SocketAddr::new("::ffff:169.254.169.254".parse().unwrap(), 0),
        ]
    );
}

fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

/// End to end: reqwest resolves through [`ScanResolver`]; with `allow_private` it reaches a
/// loopback HTTP server, without it the request fails before connecting and the typed refusal
/// is in the error chain.
#[tokio::test]
async fn reqwest_uses_the_scan_resolver() {
    let server = TestServer::start();
    let dns = dns_for(&server, Transport::Hickory, 1, 1000);
    // a one-shot HTTP server on the DNS server's address, another port
    let http = TcpListener::bind((server.addr.ip(), 0)).await.unwrap();
    let port = http.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    let acc = accepted.clone();
    let srv = tokio::spawn(async move {
        for _ in 0..2 {
            let Ok((mut c, _)) = http.accept().await else {
                return;
            };
            acc.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await;
            let _ = c
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    let IpAddr::V4(ip) = server.addr.ip() else {
        panic!()
    };
    let o = ip.octets();
    let url = format!(
        "http://web-{}-{}-{}-{}.test:{port}/",
        o[0], o[1], o[2], o[3]
    );

    let client = |policy: AddressPolicy| {
        reqwest::Client::builder()
            .use_preconfigured_tls(tls_config())
            .dns_resolver(Arc::new(ScanResolver::new(
                dns.clone(),
                Arc::new(policy),
                IpVersion::Both,
            )))
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    };
    let lab = client(AddressPolicy {
        allow_private: true,
        blocklist: vec![],
    });
    let body = lab.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "ok");

    let public = client(AddressPolicy::public());
    let err = public.get(&url).send().await.unwrap_err();
    assert_eq!(
        ResolveError::find_in(&err).cloned(),
        Some(ResolveError::Refused {
            addr: IpAddr::V4(ip),
            refusal: Refusal::Loopback
        })
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the refused request never connected"
    );
    srv.abort();
}

// ---------------------------------------------------------------------------------------------
// Measurement (not a timed assertion): `cargo test --test net dns::measure -- --ignored
// --nocapture`
// ---------------------------------------------------------------------------------------------

/// Times 20 000 uncached A lookups of distinct names (64 in flight) against the in-test server
/// (own thread, own runtime) and reports lookups/s and client CPU µs per lookup (process CPU
/// minus the server thread's), next to the CPU cost of encoding + decoding the same query and
/// response messages alone. hickory opens a fresh UDP socket per query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly with --ignored --nocapture"]
async fn measure_lookup_throughput() {
    measure_raw().await;
    measure_one(Transport::Hickory).await;
    measure_one(Transport::Multiplexed { sockets: 4 }).await;
}

/// The bare loop behind issue 6's anchor ("a raw multiplexed socket with hickory-proto
/// encoding"), as a baseline for the transports on the same machine: one connected UDP socket,
/// the same names and number in flight, each answer decoded and matched to its query by ID,
/// the next query sent at once. No timers, no task or channel per query, no retries, no
/// address cache.
#[allow(clippy::print_stdout)] // printing the report is the point of the measurement
async fn measure_raw() {
    const N: usize = 20_000;
    const CONCURRENCY: usize = 64;
    let server = TestServer::start();
    let sock = tokio::net::UdpSocket::bind(SocketAddr::new(server.addr.ip(), 0))
        .await
        .unwrap();
    sock.connect(server.addr).await.unwrap();
    // The wire form of query `i` and its name.
    let query = |i: usize| {
        let id = u16::try_from(i % 65_536).unwrap();
        let name = n(&format!("bench{i}.test."));
        let mut q = Message::new(id, hickory_proto::op::MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.add_query(hickory_proto::op::Query::query(name.clone(), RecordType::A));
        (q.to_vec().unwrap(), name)
    };
    // The name in flight under each ID (IDs are unique among the 64 in flight).
    let mut in_flight: Vec<Option<hickory_proto::rr::Name>> = vec![None; 65_536];
    let cpu0 = process_cpu_ns();
    let t0 = Instant::now();
    let mut sent = 0;
    while sent < CONCURRENCY {
        let (wire, name) = query(sent);
        sock.send(&wire).await.unwrap();
        in_flight[sent % 65_536] = Some(name);
        sent += 1;
    }
    let mut buf = vec![0u8; 4096];
    let mut ok = 0;
    for _ in 0..N {
        let len = tokio::time::timeout(Duration::from_secs(5), sock.recv(&mut buf))
            .await
            .expect("an answer within 5 s (no retries in this loop)")
            .unwrap();
        let m = Message::from_vec(&buf[..len]).unwrap();
        let name = in_flight[usize::from(m.metadata.id)]
            .take()
            .expect("an answer to a query in flight");
        let same_question = m.queries.first().is_some_and(|q| *q.name() == name);
        ok += usize::from(same_question && m.answers.len() == 1);
        if sent < N {
            let (wire, name) = query(sent);
            sock.send(&wire).await.unwrap();
            in_flight[sent % 65_536] = Some(name);
            sent += 1;
        }
    }
    let wall = t0.elapsed();
    let cpu_total = Duration::from_nanos(process_cpu_ns().saturating_sub(cpu0));
    let server_cpu = server.stop();
    let client_cpu = cpu_total.saturating_sub(server_cpu);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
    println!(
        "dns lookups over a bare socket loop: {N} ({ok} with the answer), {CONCURRENCY} in flight, wall {:.2} s → {:.0} lookups/s; \
         CPU: process {:.1} µs/lookup, server thread {:.1}, client {:.1}",
        wall.as_secs_f64(),
        N as f64 / wall.as_secs_f64(),
        per(cpu_total),
        per(server_cpu),
        per(client_cpu),
    );
    assert_eq!(ok, N);
}

#[allow(clippy::print_stdout)] // printing the report is the point of the measurement
async fn measure_one(transport: Transport) {
    const N: usize = 20_000;
    const CONCURRENCY: usize = 64;
    let server = TestServer::start();
    let dns = dns_for(&server, transport, 1, 2000);
    // warm-up
    for i in 0..100 {
        dns.addresses_uncached(&format!("benchw{i}.test"), IpVersion::V4)
            .await;
    }
    let cpu0 = process_cpu_ns();
    let t0 = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (dns, next) = (dns.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= N {
                    return ok;
                }
                let l = dns
                    .addresses_uncached(&format!("bench{i}.test"), IpVersion::V4)
                    .await
                    .lookup;
                ok += usize::from(l.status == DnsStatus::NoError);
                assert_eq!(l.status, DnsStatus::NoError, "bench{i}: {:?}", l.detail);
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap();
    }
    let wall = t0.elapsed();
    let cpu_total = Duration::from_nanos(process_cpu_ns().saturating_sub(cpu0));
    let server_cpu = server.stop();
    let client_cpu = cpu_total.saturating_sub(server_cpu);

    // the wire-format work alone: build + encode the query, decode it, build + encode the
    // response, decode it
    let c0 = thread_cpu_ns();
    for i in 0..N {
        let mut q = Message::query();
        q.add_query(hickory_proto::op::Query::query(
            n(&format!("bench{i}.test.")),
            RecordType::A,
        ));
        let wire = q.to_vec().unwrap();
        let req = Message::from_vec(&wire).unwrap();
        let mut m = Message::response(req.metadata.id, OpCode::Query);
        m.queries = req.queries.clone();
        m.answers = vec![a(&format!("bench{i}.test."), [192, 0, 2, 99])];
        let back = Message::from_vec(&m.to_vec().unwrap()).unwrap();
        assert_eq!(back.answers.len(), 1);
    }
    let codec = Duration::from_nanos(thread_cpu_ns().saturating_sub(c0));

    let per = |d: Duration| d.as_secs_f64() * 1e6 / N as f64;
    println!(
        "dns lookups over {transport:?}: {N} ({ok} noerror), {CONCURRENCY} in flight, wall {:.2} s → {:.0} lookups/s; \
         CPU: process {:.1} µs/lookup, server thread {:.1}, client {:.1}; \
         message encode+decode alone {:.1} µs/lookup",
        wall.as_secs_f64(),
        N as f64 / wall.as_secs_f64(),
        per(cpu_total),
        per(server_cpu),
        per(client_cpu),
        per(codec),
    );
    assert_eq!(ok, N);
}
