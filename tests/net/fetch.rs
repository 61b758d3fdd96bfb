//! The policy fetch (RFC 8461 §3.3) and TLS capture against HTTPS servers the tests start on
//! their own loopback addresses, plus the certificate verdicts (`certs`).

// Test code and its fixtures: panicking on a setup failure is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fetch/certs.rs"]
mod certs;
#[path = "fetch/pki.rs"]
mod pki;
#[path = "fetch/server.rs"]
mod server;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sha2::{Digest, Sha256};
use stsscan::fetch::{FetchConfig, FetchOutcome, PolicyFetch, PolicyFetcher};
use stsscan::tls::{CertVerdict, TlsSession, TrustAnchors, capturing_client_config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use pki::{CURRENT, EXPIRED, Leaf, Pki, self_signed};
use server::{
    Framing, Reply, TestServer, neighbour, start, start_plaintext, start_silent, start_with,
};

const DOMAIN: &str = "example.com";
const HOST: &str = "mta-sts.example.com";
const UA: &str = "stsscan-test/1 (+https://example.org/contact)";
const POLICY_CRLF: &[u8] =
    b"version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n";
const POLICY_LF: &[u8] = b"version: STSv1\nmode: testing\nmx: *.example.com\nmax_age: 604800\n";

fn fetcher(anchors: TrustAnchors, port: u16) -> PolicyFetcher {
    let mut config = FetchConfig::new(anchors);
    config.user_agent = UA.to_owned();
    config.https_port = port;
    config.connect_timeout = Duration::from_secs(5);
    config.total_timeout = Duration::from_secs(10);
    PolicyFetcher::try_new(config).unwrap()
}

async fn fetch_from(pki: &Pki, server: &TestServer) -> PolicyFetch {
    fetcher(pki.anchors(), server.addr.port())
        .fetch(DOMAIN, &[server.addr.ip()])
        .await
}

fn good_leaf(pki: &Pki) -> Leaf {
    pki.leaf(&[HOST], CURRENT)
}

#[tokio::test]
async fn ok_crlf_policy_with_valid_certificate() {
    let pki = Pki::new("ok-crlf");
    let srv = start(&good_leaf(&pki), Reply::ok("text/plain", POLICY_CRLF)).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.body.as_deref(), Some(POLICY_CRLF));
    assert_eq!(r.body_len, Some(POLICY_CRLF.len() as u64));
    assert_eq!(
        r.body_sha256,
        Some(hex::encode(Sha256::digest(POLICY_CRLF)))
    );
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    assert_eq!(r.address, Some(srv.addr));
    assert_eq!(r.attempts, 1);
    assert_eq!(r.tls_version.as_deref(), Some("TLSv1.3"));
    // The rustls test server issues TLS 1.3 tickets, which name the suite.
    let cipher = r.tls_cipher.clone().unwrap_or_default();
    assert!(cipher.starts_with("TLS13_"), "{r:?}");
    assert_eq!(r.tls_kx_group.as_deref(), Some("X25519"));
    assert_eq!(r.chain.len(), 2);
    assert_eq!(
        r.cert_verdict.as_ref().map(|v| v.verdict),
        Some(CertVerdict::Valid)
    );
    assert_eq!(
        r.chain_verdict.as_ref().map(|v| v.verdict),
        Some(CertVerdict::Valid)
    );
    assert_eq!(
        r.url,
        format!("https://{HOST}:{}/.well-known/mta-sts.txt", srv.addr.port())
    );
}

#[tokio::test]
async fn request_carries_sni_path_host_and_user_agent() {
    // RFC 8461 §3.2: "Thus, for a Policy Domain of "example.com", the full URL is
    // "https://mta-sts.example.com/.well-known/mta-sts.txt"." — so SNI and Host are the
    // Policy Host, mta-sts.<domain>.
    let pki = Pki::new("sni");
    let srv = start(&good_leaf(&pki), Reply::ok("text/plain", POLICY_LF)).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    let seen = srv.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].sni.as_deref(), Some(HOST));
    assert!(
        seen[0]
            .head
            .starts_with("GET /.well-known/mta-sts.txt HTTP/1.1\r\n"),
        "{}",
        seen[0].head
    );
    assert_eq!(seen[0].header("user-agent").as_deref(), Some(UA));
    assert_eq!(
        seen[0].header("host"),
        Some(format!("{HOST}:{}", srv.addr.port()))
    );
    // No content coding is asked for, so the 64 KiB cap is on the bytes received.
    assert_eq!(seen[0].header("accept-encoding"), None);
}

#[tokio::test]
async fn ok_lf_policy_and_content_type_recorded_not_judged() {
    // RFC 8461 §3.2: "senders SHOULD validate that the media type is "text/plain"" — a
    // SHOULD, so the fetch records the header for `assess` and still returns `ok`.
    let pki = Pki::new("ok-lf");
    let srv = start(
        &good_leaf(&pki),
        Reply::ok("text/html; charset=utf-8", POLICY_LF),
    )
    .await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.body.as_deref(), Some(POLICY_LF));
    assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
}

#[tokio::test]
async fn bad_certificates_are_recorded_not_fatal() {
    // RFC 8461 §3.3 requires the Policy Host's certificate to be valid for the "mta-sts" name
    // (RFC 6125 rules), chain to a trusted root CA and be non-expired — the scanner records
    // the verdict (`policy_cert`) and still reads the response (`policy_fetch = ok`).
    let pki = Pki::new("bad-certs");
    let complete = good_leaf(&pki);
    let leaf_only = Leaf {
        chain: vec![complete.chain[0].clone()],
        key_der: complete.key_der.clone(),
    };
    let cases: [(Leaf, CertVerdict); 5] = [
        (pki.leaf(&[HOST], EXPIRED), CertVerdict::Expired),
        (
            pki.leaf(&["www.example.com", "example.com"], CURRENT),
            CertVerdict::NameMismatch,
        ),
        (self_signed(&[HOST], CURRENT), CertVerdict::SelfSigned),
        (
            Pki::new("stranger").leaf(&[HOST], CURRENT),
            CertVerdict::Untrusted,
        ),
        (leaf_only, CertVerdict::IncompleteChain),
    ];
    for (leaf, want) in cases {
        let srv = start(&leaf, Reply::ok("text/plain", POLICY_CRLF)).await;
        let r = fetch_from(&pki, &srv).await;
        assert_eq!(r.outcome, FetchOutcome::Ok, "{want}: {r:?}");
        assert_eq!(
            r.cert_verdict.as_ref().map(|v| v.verdict),
            Some(want),
            "{r:?}"
        );
        assert_eq!(r.chain, leaf.chain);
    }
}

#[tokio::test]
async fn wildcard_certificate_is_valid_for_the_policy_host() {
    let pki = Pki::new("wild");
    let srv = start(
        &pki.leaf(&["*.example.com"], CURRENT),
        Reply::ok("text/plain", POLICY_LF),
    )
    .await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn not_found_is_http_status() {
    let pki = Pki::new("404");
    let reply = Reply::Respond {
        status: 404,
        headers: vec![("Content-Type".into(), "text/html".into())],
        body: b"<h1>not found</h1>".to_vec(),
        framing: Framing::Length,
    };
    let srv = start(&good_leaf(&pki), reply).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::HttpStatus, "{r:?}");
    assert_eq!(r.http_status, Some(404));
    assert_eq!(r.body, None);
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn redirect_is_not_followed() {
    // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed, and HTTP caching (as specified
    // in [RFC7234]) MUST NOT be used."
    let pki = Pki::new("301");
    let location = format!("https://{HOST}:1/elsewhere.txt");
    let reply = Reply::Respond {
        status: 301,
        headers: vec![("Location".into(), location.clone())],
        body: Vec::new(),
        framing: Framing::Length,
    };
    let srv = start(&good_leaf(&pki), reply).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Redirect, "{r:?}");
    assert_eq!(r.http_status, Some(301));
    assert_eq!(r.location.as_deref(), Some(location.as_str()));
    assert_eq!(r.attempts, 1);
    assert_eq!(
        srv.seen().len(),
        1,
        "exactly one request: the redirect was not followed"
    );
}

fn big_reply(len: usize, framing: Framing) -> Reply {
    let mut body = POLICY_LF.to_vec();
    body.resize(len, b'#');
    Reply::Respond {
        status: 200,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body,
        framing,
    }
}

#[tokio::test]
async fn body_cap_is_64_kib() {
    // design.md: "cap the body at 64 KiB and call a larger one invalid rather than truncating".
    let pki = Pki::new("cap");
    let leaf = good_leaf(&pki);
    // Exactly 65536 bytes, chunked: ok.
    let srv = start(&leaf, big_reply(65536, Framing::Chunked(4000))).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.body_len, Some(65536));
    // 65537 bytes with Content-Length: too-large without reading the body.
    let srv = start(&leaf, big_reply(65537, Framing::Length)).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::TooLarge, "{r:?}");
    assert_eq!(r.content_length, Some(65537));
    assert_eq!(r.body_len, None);
    assert_eq!(r.body, None);
    // 200 KiB chunked (no length announced): streamed, stopped after max_body + 1 bytes.
    let srv = start(&leaf, big_reply(200 * 1024, Framing::Chunked(16384))).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::TooLarge, "{r:?}");
    assert_eq!(r.content_length, None);
    assert_eq!(r.body_len, Some(65537));
    assert_eq!(r.body, None);
    // A lying Content-Length (announces 10, sends more) never yields more than announced.
    let srv = start(&leaf, big_reply(70000, Framing::Announce(10))).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.body_len, Some(10));
}

#[tokio::test]
async fn stall_is_timeout() {
    let pki = Pki::new("stall");
    let srv = start(&good_leaf(&pki), Reply::Stall).await;
    let mut config = FetchConfig::new(pki.anchors());
    config.https_port = srv.addr.port();
    config.total_timeout = Duration::from_millis(700);
    let r = PolicyFetcher::new(config)
        .fetch(DOMAIN, &[srv.addr.ip()])
        .await;
    assert_eq!(r.outcome, FetchOutcome::Timeout, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(5), "{:?}", r.elapsed);
    // The handshake completed, so the certificate was judged.
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn slow_body_is_timeout() {
    // Announces 100 bytes, sends 10 and goes silent: the head arrived, the body never
    // completes before the deadline.
    let pki = Pki::new("slow-body");
    let srv = start(
        &good_leaf(&pki),
        big_reply(10, Framing::AnnounceThenStall(100)),
    )
    .await;
    let mut config = FetchConfig::new(pki.anchors());
    config.https_port = srv.addr.port();
    config.total_timeout = Duration::from_millis(700);
    let r = PolicyFetcher::new(config)
        .fetch(DOMAIN, &[srv.addr.ip()])
        .await;
    assert_eq!(r.outcome, FetchOutcome::Timeout, "{r:?}");
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.body, None);
}

#[tokio::test]
async fn short_body_is_connection_closed() {
    // Announces 100 bytes, sends 10 and closes: no complete response.
    let pki = Pki::new("short-body");
    let srv = start(&good_leaf(&pki), big_reply(10, Framing::Announce(100))).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::ConnectionClosed, "{r:?}");
    assert_eq!(r.http_status, Some(200));
    assert_eq!(r.body, None);
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn close_after_handshake_is_connection_closed() {
    let pki = Pki::new("close");
    let srv = start(&good_leaf(&pki), Reply::Close).await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::ConnectionClosed, "{r:?}");
    assert_eq!(r.http_status, None);
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn refused_and_fallback_to_next_address() {
    let pki = Pki::new("refused");
    let srv = start(&good_leaf(&pki), Reply::ok("text/plain", POLICY_LF)).await;
    let dead = neighbour(srv.addr.ip());
    let f = fetcher(pki.anchors(), srv.addr.port());
    let r = f.fetch(DOMAIN, &[dead]).await;
    assert_eq!(r.outcome, FetchOutcome::ConnectRefused, "{r:?}");
    assert_eq!(r.cert_verdict, None);
    assert!(r.chain.is_empty());
    // The next address is tried after a refusal.
    let r = f.fetch(DOMAIN, &[dead, srv.addr.ip()]).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.attempts, 2);
    assert_eq!(r.address, Some(srv.addr));
}

/// A listener with backlog 0 whose queue is already full: Linux drops further SYNs, so a TCP
/// connect to it never completes. Returns the address and what must be kept alive.
async fn full_backlog() -> (
    SocketAddr,
    tokio::net::TcpListener,
    Vec<tokio::net::TcpStream>,
) {
    let ip = server::random_loopback();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(ip), 0)).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(0).unwrap();
    let mut fillers = Vec::new();
    for _ in 0..3 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(s);
        }
    }
    (addr, listener, fillers)
}

#[tokio::test]
async fn full_backlog_is_connect_timeout() {
    let (addr, _listener, _fillers) = full_backlog().await;
    let mut config = FetchConfig::new(TrustAnchors::empty());
    config.https_port = addr.port();
    config.connect_timeout = Duration::from_millis(400);
    config.total_timeout = Duration::from_secs(5);
    let r = PolicyFetcher::new(config).fetch(DOMAIN, &[addr.ip()]).await;
    assert_eq!(r.outcome, FetchOutcome::ConnectTimeout, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
}

#[tokio::test]
async fn stalled_handshake_is_timeout_not_connect_timeout() {
    // TCP connects, the ClientHello is never answered: "connected, response not complete in
    // time" (docs/ground-truth.md `timeout`), not a connect timeout.
    let (addr, task) = start_silent().await;
    let mut config = FetchConfig::new(TrustAnchors::empty());
    config.https_port = addr.port();
    config.connect_timeout = Duration::from_millis(400);
    config.total_timeout = Duration::from_secs(5);
    let r = PolicyFetcher::new(config).fetch(DOMAIN, &[addr.ip()]).await;
    task.abort();
    assert_eq!(r.outcome, FetchOutcome::Timeout, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    assert_eq!(r.cert_verdict, None);
}

#[tokio::test]
async fn not_tls_is_tls_error() {
    let (addr, task) =
        start_plaintext(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let r = fetcher(TrustAnchors::empty(), addr.port())
        .fetch(DOMAIN, &[addr.ip()])
        .await;
    task.abort();
    assert_eq!(r.outcome, FetchOutcome::TlsError, "{r:?}");
    assert_eq!(r.cert_verdict, None);
}

#[tokio::test]
async fn handshake_signature_is_still_verified() {
    // The capturing verifier accepts any chain but not a server that does not hold the
    // certificate's key: that handshake fails (`tls-error`), it is not a certificate verdict.
    let pki = Pki::new("wrong-key");
    let presented = good_leaf(&pki);
    let impostor = good_leaf(&pki);
    let srv = start_with(
        server::server_config(&presented, &impostor, false),
        Reply::ok("text/plain", POLICY_LF),
    )
    .await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::TlsError, "{r:?}");
    assert_eq!(r.cert_verdict, None);
    assert!(r.detail.is_some());
}

#[tokio::test]
async fn tls12_server() {
    let pki = Pki::new("tls12");
    let leaf = good_leaf(&pki);
    let srv = start_with(
        server::server_config(&leaf, &leaf, true),
        Reply::ok("text/plain", POLICY_LF),
    )
    .await;
    let r = fetch_from(&pki, &srv).await;
    assert_eq!(r.outcome, FetchOutcome::Ok, "{r:?}");
    assert_eq!(r.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(r.cert_verdict.map(|v| v.verdict), Some(CertVerdict::Valid));
}

#[tokio::test]
async fn shared_capturing_config_records_session_facts() {
    // The SMTP probe's path: one shared config, chain read from the connection afterwards.
    for tls12 in [false, true] {
        let pki = Pki::new("session");
        let leaf = self_signed(&["mx.example.net"], CURRENT);
        let srv = start_with(
            server::server_config(&leaf, &leaf, tls12),
            Reply::ok("text/plain", b"x"),
        )
        .await;
        let config = capturing_client_config(&pki.anchors()).unwrap();
        let connector = tokio_rustls::TlsConnector::from(config);
        let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("mx.example.net").unwrap();
        let mut tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
            .await
            .unwrap()
            .unwrap();
        let session = TlsSession::from_connection(tls.get_ref().1);
        assert_eq!(session.chain, leaf.chain);
        let (version, prefix) = if tls12 {
            ("TLSv1.2", "TLS_ECDHE_")
        } else {
            ("TLSv1.3", "TLS13_")
        };
        assert_eq!(session.version.as_deref(), Some(version));
        let suite = session.cipher_suite.unwrap();
        assert!(suite.starts_with(prefix), "{suite}");
        // Complete one request so the server has recorded what it saw.
        tls.write_all(b"GET / HTTP/1.1\r\nHost: mx.example.net\r\n\r\n")
            .await
            .unwrap();
        let mut response = Vec::new();
        let mut limited = (&mut tls).take(4096);
        let read = limited.read_to_end(&mut response);
        tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .unwrap()
            .unwrap();
        assert!(response.starts_with(b"HTTP/1.1 200"));
        assert_eq!(srv.seen()[0].sni.as_deref(), Some("mx.example.net"));
        let v = stsscan::tls::verdict_for_name(
            &session.chain,
            &pki.anchors(),
            rustls::pki_types::UnixTime::now(),
            "mx.example.net",
        );
        assert_eq!(v.verdict, CertVerdict::SelfSigned);
    }
}

/// Politeness per destination address applies to policy fetches too (a hosting vendor's
/// address may serve thousands of `mta-sts.*` names): with one connection per address, a
/// second fetch to it waits until the first is done, and that wait is not counted against
/// its own timeout or its `elapsed`.
#[tokio::test]
async fn fetches_to_one_address_share_its_politeness_slot() {
    use std::num::NonZeroUsize;
    use std::sync::Arc;
    use stsscan::gate::AddressGate;

    let pki = Pki::new("gate");
    let srv = start(&good_leaf(&pki), Reply::Stall).await;
    let mut config = FetchConfig::new(pki.anchors());
    config.https_port = srv.addr.port();
    config.connect_timeout = Duration::from_secs(5);
    config.total_timeout = Duration::from_millis(600);
    config.gate = Some(Arc::new(AddressGate::new(NonZeroUsize::MIN, None, 16)));
    let fetcher = Arc::new(PolicyFetcher::try_new(config).unwrap());
    let ip = srv.addr.ip();
    let one = {
        let f = Arc::clone(&fetcher);
        tokio::spawn(async move { f.fetch(DOMAIN, &[ip]).await })
    };
    let two = {
        let f = Arc::clone(&fetcher);
        tokio::spawn(async move { f.fetch("example.net", &[ip]).await })
    };
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(srv.seen().len(), 1, "one connection at a time");
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert_eq!(srv.seen().len(), 2);
    for r in [&one, &two] {
        // each had its whole 600 ms: a stalled response, not a queue, ended it
        assert_eq!(r.outcome, FetchOutcome::Timeout, "{r:?}");
        assert!(r.elapsed < Duration::from_millis(1_000), "{:?}", r.elapsed);
    }
}

/// Regression: the whole-fetch deadline (`--fetch-timeout`) that fires while the TCP connect
/// to a later address is still pending was recorded `timeout` ("connected, but the response
/// was not complete in time") although no TCP connection had been established: it is
/// `connect-timeout`. RFC 8461 §3.3: "If a valid TXT record is found but no policy can be
/// fetched via HTTPS (for any reason), and there is no valid (non-expired) previously cached
/// policy, senders MUST continue with delivery as though the domain has not implemented
/// MTA-STS." — the dataset records the reason: which step did not finish, here the TCP
/// connect.
#[tokio::test]
async fn deadline_during_a_later_connect_is_connect_timeout() {
    let (slow, _listener, _fillers) = full_backlog().await;
    let dead = neighbour(slow.ip());
    let mut config = FetchConfig::new(TrustAnchors::empty());
    config.https_port = slow.port();
    config.total_timeout = Duration::from_millis(600);
    // (a) the first address refuses, the deadline fires while connecting to the second
    //     (the per-address connect timeout is longer than the whole fetch);
    // (b) the first connect times out, the deadline fires during the second one.
    for (first, connect) in [(dead, 5_000), (slow.ip(), 350)] {
        config.connect_timeout = Duration::from_millis(connect);
        let r = PolicyFetcher::new(config.clone())
            .fetch(DOMAIN, &[first, slow.ip()])
            .await;
        assert_eq!(r.outcome, FetchOutcome::ConnectTimeout, "{first}: {r:?}");
        assert_eq!(r.attempts, 2, "{r:?}");
        assert_eq!(r.address, Some(slow));
        assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
        assert_eq!(r.cert_verdict, None);
    }
}
