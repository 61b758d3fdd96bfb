//! DNS server tests with a raw hickory-proto client pointed only at the lab's address.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use super::client::{STEP, query, tcp, udp};
use super::lab;

fn txt_strings(m: &hickory_proto::op::Message) -> Vec<Vec<Vec<u8>>> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.txt_data.iter().map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn dns_answers_records_nodata_and_rcodes() {
    let (lab, w) = lab().await;
    let dns = lab.dns_addr();
    assert_eq!(dns.ip(), std::net::IpAddr::V4(lab.block().addr(0, 53)));

    let m = udp(
        dns,
        &query("mta-sts.valid.test.", RecordType::A, true),
        STEP,
    )
    .await
    .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(
        m.answers[0].data,
        RData::A(hickory_proto::rr::rdata::A(w.b.addr(1, 1)))
    );
    assert_eq!(m.queries.len(), 1, "the question is echoed");

    // RFC 2308 §2.2: "NODATA is indicated by an answer with the RCODE set to NOERROR and no
    // relevant answers in the answer section. The authority section will contain an SOA
    // record, or there will be no NS records there."
    let m = udp(dns, &query("valid.test.", RecordType::AAAA, true), STEP)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);

    // RFC 1035 §4.1.1: "3 Name Error - Meaningful only for responses from an authoritative
    // name server, this code signifies that the domain name referenced in the query does not
    // exist."
    let m = udp(dns, &query("nx.test.", RecordType::TXT, false), STEP)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = udp(dns, &query("servfail.test.", RecordType::TXT, false), STEP)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = udp(dns, &query("refused.test.", RecordType::TXT, false), STEP)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // Same over TCP.
    let m = tcp(dns, &query("servfail.test.", RecordType::MX, false), STEP)
        .await
        .unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);

    // Drop: no answer at all, over UDP and TCP.
    let wait = Duration::from_millis(400);
    assert!(
        udp(dns, &query("drop.test.", RecordType::TXT, true), wait)
            .await
            .is_none()
    );
    assert!(
        tcp(dns, &query("drop.test.", RecordType::TXT, true), wait)
            .await
            .is_none()
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn dns_truncation_forces_tcp() {
    let (lab, _w) = lab().await;
    let dns = lab.dns_addr();
    // RFC 1035 §4.1.1: "TC TrunCation - specifies that this message was truncated due to
    // length greater than that permitted on the transmission channel."
    let m = udp(dns, &query("tc.test.", RecordType::TXT, true), STEP)
        .await
        .unwrap();
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    let m = tcp(dns, &query("tc.test.", RecordType::TXT, true), STEP)
        .await
        .unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(
        txt_strings(&m),
        vec![vec![b"v=STSv1; id=truncated;".to_vec()]]
    );

    // RFC 1035 §4.2.1: "Messages carried by UDP are restricted to 512 bytes (not counting the
    // IP or UDP headers)." A 0.9 KB answer is truncated without EDNS and sent with it.
    let m = udp(dns, &query("big.test.", RecordType::TXT, false), STEP)
        .await
        .unwrap();
    assert!(m.metadata.truncation);
    let m = udp(dns, &query("big.test.", RecordType::TXT, true), STEP)
        .await
        .unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 8);
    lab.shutdown().await;
}

#[tokio::test]
async fn dns_txt_cname_chain_and_null_mx() {
    let (lab, _w) = lab().await;
    let dns = lab.dns_addr();
    // RFC 1035 §3.3.14: "TXT-DATA One or more <character-string>s." The split is kept,
    // including an empty string.
    let m = udp(dns, &query("multi.test.", RecordType::TXT, true), STEP)
        .await
        .unwrap();
    assert_eq!(
        txt_strings(&m),
        vec![vec![
            b"v=STSv1; ".to_vec(),
            b"id=multi1;".to_vec(),
            Vec::new()
        ]]
    );

    // A CNAME chain is returned as a recursive resolver would: the aliases, then the target.
    let m = udp(dns, &query("CNAME.Test.", RecordType::TXT, true), STEP)
        .await
        .unwrap();
    let kinds: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(
        kinds,
        vec![RecordType::CNAME, RecordType::CNAME, RecordType::TXT]
    );
    assert_eq!(m.answers[1].name.to_ascii(), "hop.vendor.test.");
    assert_eq!(txt_strings(&m), vec![vec![b"v=STSv1; id=vendor;".to_vec()]]);
    assert_eq!(
        m.queries[0].name().to_ascii(),
        "CNAME.Test.",
        "question echoed as sent"
    );

    // RFC 7505 §3: "it advertises a single MX RR (see Section 3.3.9 of [RFC1035]) with an
    // RDATA section consisting of preference number 0 and a zero-length label, written in
    // master files as ".", as the exchange domain, to denote that there exists no mail
    // exchanger for a domain."
    let m = udp(dns, &query("nullmx.test.", RecordType::MX, true), STEP)
        .await
        .unwrap();
    match &m.answers[0].data {
        RData::MX(mx) => {
            assert_eq!(mx.preference, 0);
            assert!(mx.exchange.is_root());
        }
        other => panic!("{other:?}"),
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn dns_delay_does_not_block_other_queries() {
    let (lab, w) = lab().await;
    let dns = lab.dns_addr();
    let start = Instant::now();
    let slow =
        tokio::spawn(
            async move { udp(dns, &query("delay.test.", RecordType::A, true), STEP).await },
        );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fast = udp(
        dns,
        &query("mta-sts.valid.test.", RecordType::A, true),
        STEP,
    )
    .await;
    assert!(fast.is_some());
    assert!(
        start.elapsed() < super::DNS_DELAY,
        "fast answer waited for the delayed one"
    );
    let slow = slow.await.unwrap().unwrap();
    assert!(start.elapsed() >= super::DNS_DELAY);
    assert_eq!(
        slow.answers[0].data,
        RData::A(hickory_proto::rr::rdata::A(w.b.addr(1, 1)))
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn dns_counts_queries_and_survives_garbage() {
    let (lab, _w) = lab().await;
    let dns = lab.dns_addr();
    // Garbage and a truncated header must not stop the server.
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(b"\x12\x34\xff\xff\xff", dns).await.unwrap();
    sock.send_to(b"\x01", dns).await.unwrap();
    for _ in 0..3 {
        udp(
            dns,
            &query("_MTA-STS.valid.test.", RecordType::TXT, true),
            STEP,
        )
        .await
        .unwrap();
    }
    tcp(
        dns,
        &query("_mta-sts.valid.test.", RecordType::TXT, false),
        STEP,
    )
    .await
    .unwrap();
    udp(dns, &query("valid.test.", RecordType::MX, true), STEP)
        .await
        .unwrap();
    let c = lab.counters();
    assert_eq!(c.dns_queries("_mta-sts.valid.test", RecordType::TXT), 4);
    assert_eq!(c.dns_queries("valid.test", RecordType::MX), 1);
    assert_eq!(c.dns_queries("valid.test", RecordType::A), 0);
    assert_eq!(c.dns_by_type().get(&RecordType::TXT), Some(&4));
    assert_eq!(c.dns_total(), 5);
    lab.shutdown().await;
}

#[tokio::test]
async fn lab_stops_on_shutdown_and_drop() {
    let (lab, w) = lab().await;
    let dns = lab.dns_addr();
    let https = std::net::SocketAddr::new(w.https_ip(), lab.ports().https);
    let ca = lab.ca_file().to_owned();
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    lab.shutdown().await;
    assert!(tokio::net::TcpStream::connect(https).await.is_err());
    assert!(tokio::net::TcpStream::connect(dns).await.is_err());
    assert!(!ca.exists(), "CA file removed");

    let (lab2, w) = super::lab().await;
    let https = std::net::SocketAddr::new(w.https_ip(), lab2.ports().https);
    drop(lab2);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(tokio::net::TcpStream::connect(https).await.is_err());
}

#[tokio::test]
async fn dns_with_hickory_resolver() {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let (lab, w) = lab().await;
    let dns = lab.dns_addr();
    let mut ns = NameServerConfig::udp_and_tcp(dns.ip());
    for c in &mut ns.connections {
        c.port = dns.port();
    }
    let mut builder = hickory_resolver::TokioResolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    builder.options_mut().timeout = Duration::from_millis(500);
    builder.options_mut().attempts = 1;
    builder.options_mut().cache_size = 0;
    builder.options_mut().use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
    let resolver = builder.build().unwrap();

    // TC over UDP: the resolver retries over TCP and gets the answer.
    let l = resolver.lookup("tc.test.", RecordType::TXT).await.unwrap();
    assert_eq!(l.answers().len(), 1);
    let c = lab.counters();
    assert_eq!(
        c.dns_queries("tc.test", RecordType::TXT),
        2,
        "once over UDP, once over TCP"
    );

    // A CNAME chain resolves to the target's record.
    let l = resolver
        .lookup("cname.test.", RecordType::TXT)
        .await
        .unwrap();
    assert!(
        l.answers()
            .iter()
            .any(|r| r.record_type() == RecordType::TXT)
    );

    let l = resolver
        .lookup("mta-sts.valid.test.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(
        l.answers()[0].data,
        RData::A(hickory_proto::rr::rdata::A(w.b.addr(1, 1)))
    );
    // NXDOMAIN and NODATA come back as errors the resolver can tell apart from a timeout.
    let e = resolver
        .lookup("nx.test.", RecordType::TXT)
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("NXDomain"), "{e:?}");
    let e = resolver
        .lookup("drop.test.", RecordType::TXT)
        .await
        .unwrap_err();
    assert!(
        format!("{e:?}").to_ascii_lowercase().contains("timeout")
            || format!("{e:?}").contains("Timeout")
            || format!("{e}").contains("timed out"),
        "{e:?}"
    );
    lab.shutdown().await;
}

/// RFC 6604 §3: "The RCODE in the ultimate DNS response MUST BE set based on the final query
/// cycle leading to that response." A dangling alias is NXDOMAIN *with* the CNAME chain in the
/// answer section, over UDP and TCP.
#[tokio::test]
async fn dns_nxdomain_after_cname_keeps_the_chain() {
    let (lab, _w) = lab().await;
    let dns = lab.dns_addr();
    let q = query("dangling.test.", RecordType::TXT, true);
    for m in [
        udp(dns, &q, STEP).await.unwrap(),
        tcp(dns, &q, STEP).await.unwrap(),
    ] {
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let chain: Vec<(String, String)> = m
            .answers
            .iter()
            .map(|r| match &r.data {
                RData::CNAME(c) => (r.name.to_ascii(), c.0.to_ascii()),
                other => panic!("only CNAMEs in the answer: {other:?}"),
            })
            .collect();
        assert_eq!(
            chain,
            vec![
                ("dangling.test.".to_owned(), "hop.vendor.test.".to_owned()),
                (
                    "hop.vendor.test.".to_owned(),
                    "gone.vendor.test.".to_owned()
                ),
            ]
        );
        // The negative answer's SOA is that of the last name's zone.
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        assert_eq!(m.authorities[0].name.to_ascii(), "vendor.test.");
    }
    lab.shutdown().await;
}

/// Sends one A query for `name` over UDP; true when answered within `wait`.
async fn answered(dns: std::net::SocketAddr, name: &str, wait: Duration) -> bool {
    udp(dns, &query(name, RecordType::A, false), wait)
        .await
        .is_some()
}

/// Random drops: rate 0 never drops, rate 1 always (UDP and TCP), rate 0.5 drops about half of
/// a bounded number of queries, every drop is counted, and a retried query gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_random_drops_are_counted_and_retries_get_through() {
    let (lab, _w) = lab().await;
    let dns = lab.dns_addr();
    let c = lab.counters();

    // Rate 0: 40 queries, every one answered (a timeout here would be a real failure).
    for _ in 0..40 {
        assert!(answered(dns, "drop0.test.", STEP).await);
    }
    assert_eq!(c.dns_dropped(), 0);

    // Rate 1: nothing comes back, over UDP or TCP; the TCP connection stays usable.
    let short = Duration::from_millis(400);
    for _ in 0..3 {
        assert!(!answered(dns, "dropall.test.", short).await);
        assert!(
            tcp(dns, &query("dropall.test.", RecordType::A, false), short)
                .await
                .is_none()
        );
    }
    assert_eq!(c.dns_dropped(), 6);
    assert_eq!(
        c.dns_dropped_by_name()
            .get(&("dropall.test".to_owned(), RecordType::A)),
        Some(&6)
    );

    // Rate 0.5 over 200 concurrent queries: answered ≈ 100 (sd ≈ 7); 60..=140 is ±5.6 sd.
    // Every unanswered query was dropped by the lab (not lost elsewhere).
    let before = c.dns_dropped();
    let tries = (0..200).map(|_| answered(dns, "drop50.test.", STEP));
    let got = futures::future::join_all(tries).await;
    let ok = got.iter().filter(|a| **a).count() as u64;
    assert!((60..=140).contains(&ok), "answered {ok} of 200 at rate 0.5");
    assert_eq!(c.dns_dropped() - before, 200 - ok);

    // A client that retries gets through: each try is a fresh draw (2^-20 to fail 20 times).
    let mut through = false;
    for _ in 0..20 {
        if answered(dns, "drop50.test.", Duration::from_millis(500)).await {
            through = true;
            break;
        }
    }
    assert!(through, "20 retries at rate 0.5 all dropped");
    lab.shutdown().await;
}
