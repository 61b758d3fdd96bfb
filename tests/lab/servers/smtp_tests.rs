//! SMTP host tests: every `SmtpPersonality`, spoken to with a plain tokio client (and
//! tokio-rustls after STARTTLS).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use stsscan::lab::model::SmtpPersonality as P;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::client::{STEP, cmd, read_all, reply, verifying};
use super::{TestWorld, lab};

async fn connect(lab: &stsscan::lab::server::Lab, w: &TestWorld, p: P) -> TcpStream {
    TcpStream::connect(SocketAddr::new(w.smtp_ip(p), lab.ports().smtp))
        .await
        .unwrap()
}

fn codes(lines: &[String]) -> Vec<&str> {
    lines.iter().map(|l| &l[..3]).collect()
}

/// Greets, EHLOs; returns the stream, its buffer and the EHLO reply.
async fn ehlo(
    lab: &stsscan::lab::server::Lab,
    w: &TestWorld,
    p: P,
) -> (TcpStream, Vec<u8>, Vec<String>) {
    let mut s = connect(lab, w, p).await;
    let mut buf = Vec::new();
    let g = reply(&mut s, &mut buf).await.unwrap();
    assert_eq!(g.last().unwrap()[..4].to_owned(), "220 ", "{p:?}: {g:?}");
    cmd(&mut s, "EHLO scanner.test").await;
    let e = reply(&mut s, &mut buf).await.unwrap_or_default();
    (s, buf, e)
}

#[tokio::test]
async fn smtp_normal_dialog_with_starttls() {
    let (lab, w) = lab().await;
    let (mut s, mut buf, e) = ehlo(&lab, &w, P::Normal).await;
    assert_eq!(
        e.iter().map(|l| &l[4..]).skip(1).collect::<Vec<_>>(),
        vec!["PIPELINING", "SIZE 10240000", "STARTTLS", "8BITMIME"]
    );
    assert!(e[..4].iter().all(|l| l.starts_with("250-")) && e[4].starts_with("250 "));
    cmd(&mut s, "MAIL FROM:<a@b.test>").await;
    assert_eq!(
        codes(&reply(&mut s, &mut buf).await.unwrap()),
        ["502"],
        "no mail accepted"
    );
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
    assert!(buf.is_empty());
    let tls = verifying(lab.root_store());
    let mut t = tls
        .connect(ServerName::try_from("mx.valid.test").unwrap(), s)
        .await
        .unwrap();
    // RFC 3207 §4.2: "A server MUST NOT return the STARTTLS extension in response to an EHLO
    // command received after a TLS handshake has completed."
    cmd(&mut t, "EHLO scanner.test").await;
    let e = reply(&mut t, &mut buf).await.unwrap();
    assert!(e.iter().all(|l| !l.contains("STARTTLS")), "{e:?}");
    assert!(e.iter().any(|l| l.contains("PIPELINING")));
    cmd(&mut t, "QUIT").await;
    assert_eq!(codes(&reply(&mut t, &mut buf).await.unwrap()), ["221"]);
    let st = lab.counters().smtp_conns(w.smtp_ip(P::Normal)).unwrap();
    assert_eq!(st.accepted, 1);
    assert!(st.bytes_out > 500, "TLS handshake bytes counted: {st:?}");
    lab.shutdown().await;
}

#[tokio::test]
async fn smtp_starttls_failures() {
    let (lab, w) = lab().await;
    // NoStarttls: not advertised, and refused with 502.
    let (mut s, mut buf, e) = ehlo(&lab, &w, P::NoStarttls).await;
    assert!(e.iter().all(|l| !l.contains("STARTTLS")));
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["502"]);

    // StarttlsRefused: advertised, answered 454.
    let (mut s, mut buf, e) = ehlo(&lab, &w, P::StarttlsRefused).await;
    assert!(e.iter().any(|l| l.contains("STARTTLS")));
    cmd(&mut s, "STARTTLS").await;
    let r = reply(&mut s, &mut buf).await.unwrap();
    assert_eq!(r, ["454 4.7.0 TLS not available"]);

    // HandshakeAbort: 220 then the connection closes.
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::HandshakeAbort).await;
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
    let tls = verifying(lab.root_store());
    let r = tls
        .connect(ServerName::try_from("mx.valid.test").unwrap(), s)
        .await;
    assert!(r.is_err());

    // LegacyTlsOnly: a TLS 1.2+ client fails with a protocol-version error.
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::LegacyTlsOnly).await;
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
    let err = tls
        .connect(ServerName::try_from("mx.valid.test").unwrap(), s)
        .await
        .unwrap_err();
    let text = format!("{:?}", err.get_ref().map(|e| format!("{e:?}")));
    assert!(text.contains("ServerDoesNotSupportTls12Or13"), "{text}");
    lab.shutdown().await;
}

#[tokio::test]
async fn smtp_greeting_personalities() {
    let (lab, w) = lab().await;
    // RFC 5321 §4.1.1.1: "Normally, the response to EHLO will be a multiline reply." — and the
    // greeting may be multi-line too: three lines, 220- 220- 220.
    let mut s = connect(&lab, &w, P::MultilineGreeting).await;
    let mut buf = Vec::new();
    let g = reply(&mut s, &mut buf).await.unwrap();
    assert_eq!(g.len(), 3);
    assert!(g[0].starts_with("220-") && g[1].starts_with("220-") && g[2].starts_with("220 "));

    let start = Instant::now();
    let (_s, _b, e) = ehlo(&lab, &w, P::SlowGreeting { delay_ms: 300 }).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(e.iter().any(|l| l.contains("STARTTLS")));

    // RFC 5321 §3.1: "a 554 response MAY be given in the initial connection opening message
    // instead of the 220." And §4.2.3: "421 <domain> Service not available, closing
    // transmission channel".
    let mut s = connect(&lab, &w, P::TempFailGreeting).await;
    let mut buf = Vec::new();
    assert_eq!(
        reply(&mut s, &mut buf).await.unwrap(),
        ["421 4.3.2 Service not available"]
    );
    assert!(
        read_all(&mut s, STEP).await.unwrap().is_empty(),
        "closed after 421"
    );
    // §3.1: "A server taking this approach MUST still wait for the client to send a QUIT
    // (see Section 4.1.1.10) before closing the connection and SHOULD respond to any
    // intervening commands with "503 bad sequence of commands"."
    let mut s = connect(&lab, &w, P::RejectGreeting).await;
    let mut buf = Vec::new();
    assert_eq!(
        reply(&mut s, &mut buf).await.unwrap(),
        ["554 5.7.1 No SMTP service here"]
    );
    cmd(&mut s, "EHLO scanner.example").await;
    let r = reply(&mut s, &mut buf).await.unwrap();
    assert!(r[0].starts_with("503 "), "{r:?}");
    cmd(&mut s, "QUIT").await;
    assert!(reply(&mut s, &mut buf).await.unwrap()[0].starts_with("221 "));
    assert!(
        read_all(&mut s, STEP).await.unwrap().is_empty(),
        "closed after QUIT"
    );

    // Garbage: bytes that are not a reply, then EOF.
    let mut s = connect(&lab, &w, P::Garbage).await;
    let raw = read_all(&mut s, STEP).await.unwrap();
    assert_eq!(raw, stsscan::lab::server::smtp::GARBAGE);

    // Tarpit: the greeting trickles, one byte per interval, never completing a final line.
    let mut s = connect(&lab, &w, P::Tarpit { interval_ms: 20 }).await;
    let mut got = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(500) {
        let mut b = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut b)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&b[..n]),
            _ => break,
        }
    }
    assert!(
        got.len() >= 5 && got.len() <= 40,
        "{} bytes in 500 ms",
        got.len()
    );
    assert!(got.starts_with(b"220-"));
    lab.shutdown().await;
}

#[tokio::test]
async fn smtp_ehlo_personalities() {
    let (lab, w) = lab().await;
    // EndlessContinuation: 250- lines without end (read a bounded amount).
    let mut s = connect(&lab, &w, P::EndlessContinuation).await;
    let mut buf = Vec::new();
    reply(&mut s, &mut buf).await.unwrap();
    cmd(&mut s, "EHLO scanner.test").await;
    let (mut total, mut lines) = (0usize, 0usize);
    let mut b = vec![0u8; 65536];
    let mut carry: Vec<u8> = Vec::new();
    while total < 1 << 20 {
        let n = tokio::time::timeout(STEP, s.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        carry.extend_from_slice(&b[..n]);
        while let Some(p) = carry.windows(2).position(|w| w == b"\r\n") {
            assert!(carry.starts_with(b"250-"), "not a continuation line");
            carry.drain(..p + 2);
            lines += 1;
        }
        total += n;
    }
    assert!(lines > 10_000);
    drop(s);

    // CloseAfterEhlo: the EHLO reply, then EOF.
    let (mut s, _buf, e) = ehlo(&lab, &w, P::CloseAfterEhlo).await;
    assert!(e.last().unwrap().starts_with("250 "));
    assert!(read_all(&mut s, STEP).await.unwrap().is_empty());

    // HeloOnly: EHLO → 502, HELO → 250.
    let (mut s, mut buf, e) = ehlo(&lab, &w, P::HeloOnly).await;
    assert_eq!(codes(&e), ["502"]);
    cmd(&mut s, "HELO scanner.test").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["250"]);

    // A command line over the cap is refused and the connection closed.
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::Normal).await;
    cmd(&mut s, &"X".repeat(5000)).await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["500"]);
    lab.shutdown().await;
}

/// LateInjectionAfterStarttls: only the `220` until the client starts its handshake; then
/// `250 injected` arrives where the ServerHello belongs, so a TLS client fails.
#[tokio::test]
async fn smtp_late_injection_after_starttls() {
    use stsscan::lab::server::smtp::LATE_INJECTED;
    use tokio::io::AsyncWriteExt;
    let (lab, w) = lab().await;
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::LateInjectionAfterStarttls).await;
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
    // The server waits for the client's first TLS byte: nothing came with the 220.
    assert!(buf.is_empty(), "{buf:?}");
    s.write_all(&[0x16, 0x03, 0x01]).await.unwrap();
    let mut got = vec![0u8; LATE_INJECTED.len()];
    tokio::time::timeout(STEP, s.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, LATE_INJECTED);

    // A real TLS client reads the plaintext as a record and fails.
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::LateInjectionAfterStarttls).await;
    cmd(&mut s, "STARTTLS").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
    let tls = verifying(lab.root_store());
    let r = tokio::time::timeout(
        STEP,
        tls.connect(ServerName::try_from("mx.valid.test").unwrap(), s),
    )
    .await
    .unwrap();
    assert!(r.is_err());
    lab.shutdown().await;
}

#[tokio::test]
async fn smtp_pipelined_after_starttls_and_connection_limit() {
    let (lab, w) = lab().await;
    // The injected plaintext arrives right after the 220, before any TLS byte.
    let (mut s, mut buf, _) = ehlo(&lab, &w, P::PipelinedAfterStarttls).await;
    cmd(&mut s, "STARTTLS").await;
    let r = reply(&mut s, &mut buf).await.unwrap();
    assert_eq!(codes(&r), ["220"]);
    let mut extra = buf.clone();
    while extra.len() < stsscan::lab::server::smtp::INJECTED.len() {
        let mut b = [0u8; 256];
        let n = tokio::time::timeout(STEP, s.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        extra.extend_from_slice(&b[..n]);
    }
    assert_eq!(extra, stsscan::lab::server::smtp::INJECTED);
    // ...then the handshake proceeds normally.
    let tls = verifying(lab.root_store());
    let mut t = tls
        .connect(ServerName::try_from("mx.valid.test").unwrap(), s)
        .await
        .unwrap();
    let mut buf = Vec::new();
    cmd(&mut t, "EHLO scanner.test").await;
    assert_eq!(
        reply(&mut t, &mut buf).await.unwrap().last().unwrap()[..3].to_owned(),
        "250"
    );

    // ConnectionLimit { limit: 1 }: the second concurrent connection gets 421 and EOF.
    let p = P::ConnectionLimit { limit: 1 };
    let (_first, _b, e) = ehlo(&lab, &w, p).await;
    assert!(e.iter().any(|l| l.contains("STARTTLS")));
    let mut second = connect(&lab, &w, p).await;
    let mut buf = Vec::new();
    assert_eq!(
        reply(&mut second, &mut buf).await.unwrap(),
        ["421 4.7.0 Too many connections"]
    );
    let st = lab.counters().smtp_conns(w.smtp_ip(p)).unwrap();
    assert_eq!(st.max_open, 2);
    assert_eq!(st.accepted, 2);
    lab.shutdown().await;
}

/// EHLO and HELO both refused (→ `ehlo-rejected`), and the two post-TLS failures: the
/// handshake completes with a valid certificate, then the EHLO over TLS gets EOF or a 554
/// (→ `post-tls-error`).
#[tokio::test]
async fn smtp_ehlo_rejected_and_post_tls_failures() {
    let (lab, w) = lab().await;
    let (mut s, mut buf, e) = ehlo(&lab, &w, P::RejectEhloAndHelo).await;
    assert_eq!(codes(&e), ["550"]);
    cmd(&mut s, "HELO scanner.test").await;
    assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["550"]);

    for p in [P::CloseAfterTls, P::RejectEhloAfterTls] {
        let (mut s, mut buf, e) = ehlo(&lab, &w, p).await;
        assert!(e.iter().any(|l| l.contains("STARTTLS")), "{p:?}: {e:?}");
        cmd(&mut s, "STARTTLS").await;
        assert_eq!(codes(&reply(&mut s, &mut buf).await.unwrap()), ["220"]);
        let tls = verifying(lab.root_store());
        let mut t = tls
            .connect(ServerName::try_from("mx.valid.test").unwrap(), s)
            .await
            .unwrap_or_else(|e| panic!("{p:?}: the handshake completes: {e}"));
        cmd(&mut t, "EHLO scanner.test").await;
        let mut buf = Vec::new();
        let r = reply(&mut t, &mut buf).await;
        match p {
            P::CloseAfterTls => assert!(r.is_none(), "{p:?}: no reply, the server closed: {r:?}"),
            _ => assert_eq!(r.unwrap(), ["554 5.7.0 Too many TLS sessions"]),
        }
        assert!(read_all(&mut t, STEP).await.unwrap_or_default().is_empty());
    }
    lab.shutdown().await;
}

/// The black hole: a connection attempt to its SMTP or HTTPS port is never answered (the
/// client times out), while an address where nothing is bound refuses at once. Checked
/// repeatedly: the queue stays full.
#[tokio::test]
async fn blackhole_connections_time_out_and_unbound_addresses_refuse() {
    let (lab, w) = lab().await;
    for port in [lab.ports().smtp, lab.ports().https] {
        let addr = SocketAddr::new(w.blackhole_ip(), port);
        for _ in 0..3 {
            let r =
                tokio::time::timeout(Duration::from_millis(800), TcpStream::connect(addr)).await;
            assert!(r.is_err(), "{addr}: connect() must time out, got {r:?}");
        }
    }
    let unbound = SocketAddr::new(lab.block().addr(3, 2).into(), lab.ports().smtp);
    let r = tokio::time::timeout(STEP, TcpStream::connect(unbound))
        .await
        .expect("a refusal is immediate");
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    lab.shutdown().await;
}
