//! HTTPS host tests: every `HttpBehaviour` and every `CertVariant`'s observable property, with
//! a rustls client trusting only the lab root (or capturing the chain).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::client::{STEP, capturing, https_get, https_send, read_all, verifying};
use super::{CHUNKED_LEN, POLICY, lab};

const WK: &str = "/.well-known/mta-sts.txt";

#[tokio::test]
async fn https_serves_policy_redirect_404_and_echo() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let tls = verifying(lab.root_store());

    let r = https_get(&tls, addr, "mta-sts.valid.test", "mta-sts.valid.test", WK)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(
        r.header("content-length"),
        Some(POLICY.len().to_string().as_str())
    );
    assert_eq!(r.body, POLICY.as_bytes());

    // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed" — the lab serves the 301 as
    // declared, so a scanner can be checked for not following it.
    let r = https_get(&tls, addr, "mta-sts.valid.test", "redirect.test", WK)
        .await
        .unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://mta-sts.valid.test/.well-known/mta-sts.txt")
    );
    let r = https_get(
        &tls,
        addr,
        "mta-sts.valid.test",
        "mta-sts.valid.test",
        "/other",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404);

    // The world sees SNI, the Host header without its port, and the path as sent.
    let r = https_get(&tls, addr, "mta-sts.valid.test", "Echo.Test:8443", "/x?y=1")
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "sni=Some(\"mta-sts.valid.test\") host=Some(\"echo.test\") path=/x?y=1"
    );
    lab.shutdown().await;
}

#[tokio::test]
async fn https_chunked_body_over_64k() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let tls = verifying(lab.root_store());
    let r = https_get(&tls, addr, "mta-sts.valid.test", "chunked.test", WK)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.chunked);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.body.len(), CHUNKED_LEN);
    assert!(r.body.len() > 64 * 1024);
    assert_eq!(&r.body[..3], b"abc");
    lab.shutdown().await;
}

#[tokio::test]
async fn https_stall_and_close() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let tls = verifying(lab.root_store());

    // Close: handshake succeeds, then EOF without a byte of response.
    let mut s = https_send(&tls, addr, "mta-sts.valid.test", "close.test", WK)
        .await
        .unwrap();
    let raw = read_all(&mut s, STEP).await.unwrap();
    assert!(raw.is_empty());

    // Stall: the request is read and nothing comes back; the connection stays open.
    let mut s = https_send(&tls, addr, "mta-sts.valid.test", "stall.test", WK)
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_millis(700), s.read(&mut buf)).await;
    assert!(r.is_err(), "stalled host answered: {r:?}");
    let stats = lab.counters().https_conns(w.https_ip()).unwrap();
    assert_eq!(stats.open, 1);
    assert_eq!(stats.accepted, 2);
    // Shutting the lab down ends the stalled connection too (EOF or reset, promptly).
    lab.shutdown().await;
    let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
}

#[tokio::test]
async fn https_counters() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let tls = verifying(lab.root_store());
    for _ in 0..3 {
        https_get(&tls, addr, "mta-sts.valid.test", "mta-sts.valid.test", WK)
            .await
            .unwrap();
    }
    https_get(&tls, addr, "echo.test", "echo.test", "/")
        .await
        .unwrap();
    let c = lab.counters();
    assert_eq!(c.https_requests(Some("mta-sts.valid.test"), WK), 3);
    assert_eq!(c.https_requests(Some("echo.test"), "/"), 1);
    assert_eq!(c.https_requests(None, WK), 0);
    assert_eq!(c.https_total(), 4);
    // Give the server a moment to see the closes.
    for _ in 0..50 {
        if c.https_conns(w.https_ip()).unwrap().open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = c.https_conns(w.https_ip()).unwrap();
    assert_eq!(s.accepted, 4);
    assert_eq!(s.open, 0);
    assert!(s.max_open >= 1);
    assert!(s.bytes_in > 0 && s.bytes_out > s.bytes_in);
    assert!(c.https_conns(lab.block().addr(9, 9).into()).is_none());
    lab.shutdown().await;
}

/// The verification error (Debug text) a lab-root-trusting client gets for `sni`.
async fn verify_error(lab: &stsscan::lab::server::Lab, addr: SocketAddr, sni: &str) -> String {
    let tls = verifying(lab.root_store());
    match https_get(&tls, addr, sni, sni, WK).await {
        Ok(r) => panic!("{sni}: handshake succeeded ({})", r.status),
        Err(e) => format!(
            "{:?}",
            e.get_ref().map(|i| format!("{i:?}")).unwrap_or_default()
        ),
    }
}

/// The chain presented for `sni`, captured without verification.
async fn chain(addr: SocketAddr, sni: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let (tls, cap) = capturing();
    https_get(&tls, addr, sni, sni, WK).await.unwrap();
    cap.chain.lock().unwrap().clone()
}

fn parsed(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).unwrap().1
}

fn cn(name: &x509_parser::x509::X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn https_certificate_variants() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    // Valid: leaf + intermediate, leaf issued by the intermediate, which the root issued.
    let c = chain(addr, "mta-sts.valid.test").await;
    assert_eq!(c.len(), 2);
    let (leaf, inter) = (parsed(&c[0]), parsed(&c[1]));
    assert_eq!(cn(leaf.subject()), "mta-sts.valid.test");
    assert_eq!(leaf.issuer(), inter.subject());
    assert_eq!(inter.issuer(), parsed(lab.ca_der()).subject());
    assert!(
        leaf.validity().not_before.timestamp() < now && now < leaf.validity().not_after.timestamp()
    );
    let san = leaf.subject_alternative_name().unwrap().unwrap();
    assert_eq!(
        format!("{:?}", san.value.general_names),
        "[DNSName(\"mta-sts.valid.test\")]"
    );

    // RFC 5280 §4.1.2.5: "The validity period for a certificate is the period of time from
    // notBefore through notAfter, inclusive."
    let c = chain(addr, "expired.test").await;
    assert!(parsed(&c[0]).validity().not_after.timestamp() < now);
    assert!(
        verify_error(&lab, addr, "expired.test")
            .await
            .contains("Expired")
    );
    let c = chain(addr, "notyet.test").await;
    assert!(parsed(&c[0]).validity().not_before.timestamp() > now);
    assert!(
        verify_error(&lab, addr, "notyet.test")
            .await
            .contains("NotValidYet")
    );
    let c = chain(addr, "expiring.test").await;
    let left = parsed(&c[0]).validity().not_after.timestamp() - now;
    assert!((9 * 86_400..=10 * 86_400 + 60).contains(&left), "{left}");

    // Self-signed: one certificate, issuer = subject.
    let c = chain(addr, "selfsigned.test").await;
    assert_eq!(c.len(), 1);
    assert_eq!(parsed(&c[0]).issuer(), parsed(&c[0]).subject());
    assert!(
        verify_error(&lab, addr, "selfsigned.test")
            .await
            .contains("UnknownIssuer")
    );

    // Unknown CA: leaf + an intermediate of the second root, not the lab root.
    let c = chain(addr, "unknownca.test").await;
    assert_eq!(c.len(), 2);
    let inter = parsed(&c[1]);
    assert_eq!(parsed(&c[0]).issuer(), inter.subject());
    assert_eq!(
        inter.issuer(),
        parsed(lab.pki().unknown_root_der()).subject()
    );
    assert_ne!(inter.issuer(), parsed(lab.ca_der()).subject());
    assert!(
        verify_error(&lab, addr, "unknownca.test")
            .await
            .contains("UnknownIssuer")
    );

    // Missing intermediate: only the leaf, issued by the (unsent) lab intermediate.
    let c = chain(addr, "nointermediate.test").await;
    assert_eq!(c.len(), 1);
    assert_eq!(
        parsed(&c[0]).issuer(),
        parsed(lab.pki().intermediate_der()).subject()
    );
    assert!(
        verify_error(&lab, addr, "nointermediate.test")
            .await
            .contains("UnknownIssuer")
    );

    // Name mismatch is the world's choice of names, and the verifier sees it.
    assert!(
        verify_error(&lab, addr, "wrongname.test")
            .await
            .contains("NotValidForName")
    );

    // The leaf cache holds one entry per distinct spec.
    assert!(lab.pki().cached_leaves() >= 8);
    lab.shutdown().await;
}

#[tokio::test]
async fn https_rejects_malformed_and_oversized_requests() {
    use tokio::io::AsyncWriteExt;
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let tls = verifying(lab.root_store());
    let name = rustls::pki_types::ServerName::try_from("mta-sts.valid.test").unwrap();

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = tls.connect(name.clone(), tcp).await.unwrap();
    s.write_all(b"\x00\x01garbage\r\n\r\n").await.unwrap();
    let raw = read_all(&mut s, STEP).await.unwrap();
    assert!(raw.starts_with(b"HTTP/1.1 400 "), "{raw:?}");

    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut s = tls.connect(name, tcp).await.unwrap();
    let mut req = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 40_000));
    // The server may answer and close before reading it all.
    let _ = s.write_all(&req).await;
    let raw = read_all(&mut s, STEP).await.unwrap();
    assert!(raw.starts_with(b"HTTP/1.1 431 "), "{raw:?}");
    assert_eq!(lab.counters().https_total(), 0, "neither reached the world");
    lab.shutdown().await;
}

/// `CertVariant::NoCertificate`: the server aborts the handshake with a fatal alert before
/// sending any certificate — a TLS failure that is not a certificate problem, for a verifying
/// and a non-verifying client alike.
#[tokio::test]
async fn https_no_certificate_aborts_with_an_alert() {
    let (lab, w) = lab().await;
    let addr = SocketAddr::new(w.https_ip(), lab.ports().https);
    let err = verify_error(&lab, addr, "nocert.test").await;
    assert!(err.contains("AlertReceived"), "{err}");
    let (tls, cap) = capturing();
    let r = https_get(&tls, addr, "nocert.test", "nocert.test", WK).await;
    let e = r.expect_err("no handshake without a certificate");
    let text = format!("{:?}", e.get_ref().map(|i| format!("{i:?}")));
    assert!(text.contains("AlertReceived"), "{text}");
    assert!(
        cap.chain.lock().unwrap().is_empty(),
        "no certificate was sent"
    );
    // The other names on the same listener are unaffected.
    assert_eq!(chain(addr, "mta-sts.valid.test").await.len(), 2);
    lab.shutdown().await;
}
