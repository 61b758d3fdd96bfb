//! Test fixtures: TLS material (a test CA and a leaf for the MX name, the scanner's capturing
//! client configuration) and a scripted SMTP server with the behaviours seen in the field.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ServerConfig};
use stsscan::smtp::{DialogConfig, ReplyLimits, SmtpProbe, run_dialog};
use stsscan::tls::{TrustAnchors, capturing_client_config};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

pub(crate) const MX: &str = "mx.example.test";

// ---------------------------------------------------------------------------------------------
// TLS material: a test CA, a leaf for MX signed by it, and the scanner's capturing client
// configuration (it accepts any chain so the handshake finishes; the chain is judged after).

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn client_tls() -> Arc<ClientConfig> {
    capturing_client_config(&TrustAnchors::empty()).unwrap()
}

pub(crate) struct ServerTls {
    pub(crate) config: Arc<ServerConfig>,
    /// The leaf the server presents (its whole chain).
    pub(crate) cert: CertificateDer<'static>,
    /// The CA that signed it (not sent).
    pub(crate) ca: CertificateDer<'static>,
}

pub(crate) fn server_tls() -> ServerTls {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "smtp test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![MX.to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let cert = leaf.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    ServerTls {
        config: Arc::new(config),
        cert,
        ca: ca.der().clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// A scripted SMTP server.

/// Server behaviours seen in the field (shared/scenarios.md, lab SmtpPersonality).
#[derive(Debug, Clone)]
pub(crate) enum B {
    Normal,
    MultilineGreeting,
    /// Greeting after a delay; records whether the client sent anything before it.
    SlowGreeting(Duration),
    /// Trickles an endless `220-` greeting one byte per interval.
    Tarpit(Duration),
    /// Sends this greeting, then closes.
    Greeting(&'static str),
    /// Sends this (refusing) greeting, then answers every command but QUIT with 503 and
    /// waits for QUIT (RFC 5321 §3.1).
    RefusingGreeting(&'static str),
    /// Answers EHLO (before TLS) with this reply and keeps the session open.
    EhloReply(&'static str),
    Garbage,
    /// Answers every command only after this delay (the session deadline test).
    SlowReplies(Duration),
    EndlessContinuation,
    NoStarttls,
    /// Answers STARTTLS with this reply.
    StarttlsReply(&'static str),
    CloseAfterEhlo,
    HeloOnly,
    EhloAndHeloRejected,
    /// Sends these plaintext bytes in the same write as `220` to STARTTLS, then does TLS.
    Inject(&'static [u8]),
    /// Sends `220` to STARTTLS; once the ClientHello arrived, waits this long and sends
    /// these plaintext bytes followed by a ServerHello record (the bytes reach the client
    /// where its ServerHello should be).
    InjectLate(Duration, &'static [u8]),
    HandshakeAbort,
    /// Answers the ClientHello with a TLS 1.0 ServerHello.
    Tls10ServerHello,
    /// Answers the ClientHello with a fatal protocol_version alert.
    ProtocolVersionAlert,
    /// Answers EHLO over TLS with 554.
    PostTlsReject,
    /// Normal, but holds every reply this long (the prober tests).
    Hold(Duration),
    /// Advertises STARTTLS again in the EHLO reply over TLS.
    StarttlsAfterTls,
    /// Normal, but the greeting ends in a bare LF and is longer than 512 octets.
    SloppyGreeting,
}

pub(crate) type Log = Arc<Mutex<Vec<String>>>;

pub(crate) fn log(l: &Log, s: impl Into<String>) {
    l.lock().unwrap().push(s.into());
}

/// Reads one command line (bounded), `None` on close/error.
pub(crate) async fn read_cmd<S: AsyncRead + Unpin>(io: &mut S) -> Option<String> {
    let mut line = Vec::new();
    for _ in 0..1000 {
        let mut b = [0u8; 1];
        match io.read(&mut b).await {
            Ok(1) => {
                if b[0] == b'\n' {
                    let s = String::from_utf8_lossy(&line).trim_end().to_owned();
                    return Some(s);
                }
                line.push(b[0]);
            }
            _ => return None,
        }
    }
    None
}

enum Next {
    Close,
    Tls,
}

async fn commands<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    b: &B,
    tls: bool,
    l: &Log,
) -> Next {
    let tag = if tls { "tls:" } else { "" };
    for _ in 0..20 {
        let Some(cmd) = read_cmd(io).await else {
            log(l, format!("{tag}closed"));
            return Next::Close;
        };
        log(l, format!("{tag}{cmd}"));
        match b {
            B::SlowReplies(d) | B::Hold(d) => tokio::time::sleep(*d).await,
            _ => {}
        }
        let verb = cmd
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: Vec<u8> = match (verb.as_str(), b) {
            (v, B::RefusingGreeting(_)) if v != "QUIT" => b"503 5.5.1 Bad sequence\r\n".to_vec(),
            ("EHLO", B::EhloReply(r)) if !tls => r.as_bytes().to_vec(),
            ("EHLO", B::EndlessContinuation) if !tls => {
                for i in 0..1_000_000u32 {
                    if io
                        .write_all(format!("250-X-LINE-{i}\r\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                return Next::Close;
            }
            ("EHLO", B::HeloOnly | B::EhloAndHeloRejected) => {
                b"502 5.5.2 Error: command not recognized\r\n".to_vec()
            }
            ("EHLO", B::PostTlsReject) if tls => b"554 5.7.0 go away\r\n".to_vec(),
            ("EHLO", B::StarttlsAfterTls) if tls => b"250-mx\r\n250 STARTTLS\r\n".to_vec(),
            ("EHLO", _) if tls => b"250-mx.example.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_vec(),
            ("EHLO", B::NoStarttls) => {
                b"250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n".to_vec()
            }
            ("EHLO", _) => b"250-mx.example.test greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-starttls\r\n250 8BITMIME\r\n".to_vec(),
            ("HELO", B::HeloOnly) => b"250 mx.example.test\r\n".to_vec(),
            ("HELO", _) => b"550 5.7.1 no\r\n".to_vec(),
            ("STARTTLS", B::StarttlsReply(r)) => r.as_bytes().to_vec(),
            ("STARTTLS", B::Inject(extra)) if !tls => {
                let mut v = b"220 2.0.0 Ready to start TLS\r\n".to_vec();
                v.extend_from_slice(extra);
                v
            }
            ("STARTTLS", _) if !tls => b"220 2.0.0 Ready to start TLS\r\n".to_vec(),
            ("QUIT", _) => {
                let _ = io.write_all(b"221 2.0.0 Bye\r\n").await;
                let _ = io.shutdown().await;
                return Next::Close;
            }
            _ => b"502 5.5.2 Error: command not recognized\r\n".to_vec(),
        };
        if io.write_all(&reply).await.is_err() {
            return Next::Close;
        }
        if matches!(b, B::CloseAfterEhlo) && verb == "EHLO" {
            return Next::Close;
        }
        if verb == "STARTTLS" && !tls && reply.starts_with(b"220") {
            return Next::Tls;
        }
    }
    Next::Close
}

/// A TLS 1.0 ServerHello (TLS_RSA_WITH_AES_128_CBC_SHA, no extensions).
pub(crate) fn tls10_server_hello() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01,
    ];
    v.extend_from_slice(&[0x42; 32]);
    v.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    v
}

pub(crate) async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    b: B,
    tls: Arc<ServerConfig>,
    l: Log,
) {
    match &b {
        B::SlowGreeting(d) => {
            tokio::time::sleep(*d).await;
            let mut buf = [0u8; 64];
            match io.read(&mut buf).now_or_never() {
                None => log(&l, "silent-before-greeting"),
                Some(_) => log(&l, "client-spoke-early"),
            }
            let _ = io.write_all(b"220 mx.example.test ESMTP\r\n").await;
        }
        B::Tarpit(every) => {
            let pattern = b"220-tarpit\r\n";
            for i in 0..100_000usize {
                if io.write_all(&[pattern[i % pattern.len()]]).await.is_err() {
                    return;
                }
                tokio::time::sleep(*every).await;
            }
            return;
        }
        B::Greeting(g) => {
            let _ = io.write_all(g.as_bytes()).await;
            let _ = io.shutdown().await;
            return;
        }
        B::RefusingGreeting(g) => {
            let _ = io.write_all(g.as_bytes()).await;
        }
        B::Garbage => {
            let _ = io
                .write_all(b"\x00\x01\xfe\xff\x16\x03\x01 binary\r\nnonsense\r\n")
                .await;
            let _ = io.shutdown().await;
            return;
        }
        B::SloppyGreeting => {
            let g = format!("220 mx.example.test {}\n", "x".repeat(600));
            let _ = io.write_all(g.as_bytes()).await;
        }
        B::MultilineGreeting => {
            let _ = io
                .write_all(b"220-mx.example.test ESMTP\r\n220-no UCE\r\n220 welcome\r\n")
                .await;
        }
        B::SlowReplies(d) => {
            tokio::time::sleep(*d).await;
            let _ = io.write_all(b"220 slow ESMTP\r\n").await;
        }
        _ => {
            let _ = io.write_all(b"220 mx.example.test ESMTP\r\n").await;
        }
    }
    if let Next::Close = commands(&mut io, &b, false, &l).await {
        return;
    }
    match b {
        B::HandshakeAbort => return,
        B::InjectLate(wait, extra) => {
            // Wait for the ClientHello (so the plaintext cannot travel with the 220), then
            // send the plaintext followed by a ServerHello record.
            let mut buf = [0u8; 4096];
            if !matches!(io.read(&mut buf).await, Ok(n) if n > 0) {
                return;
            }
            log(&l, format!("client-hello:{:#04x}", buf[0]));
            tokio::time::sleep(wait).await;
            let mut out = extra.to_vec();
            out.extend_from_slice(&tls10_server_hello());
            let _ = io.write_all(&out).await;
            for _ in 0..100 {
                if !matches!(io.read(&mut buf).await, Ok(n) if n > 0) {
                    break;
                }
            }
            return;
        }
        B::Tls10ServerHello | B::ProtocolVersionAlert => {
            let mut buf = [0u8; 4096];
            let _ = io.read(&mut buf).await; // the ClientHello
            let answer = match b {
                B::Tls10ServerHello => tls10_server_hello(),
                _ => vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
            };
            let _ = io.write_all(&answer).await;
            for _ in 0..100 {
                if !matches!(io.read(&mut buf).await, Ok(n) if n > 0) {
                    break;
                }
            }
            return;
        }
        _ => {}
    }
    let mut stream = match TlsAcceptor::from(tls).accept(io).await {
        Ok(s) => s,
        Err(e) => {
            log(&l, format!("tls-failed: {e}"));
            return;
        }
    };
    log(
        &l,
        format!("sni:{}", stream.get_ref().1.server_name().unwrap_or("-")),
    );
    let _ = commands(&mut stream, &b, true, &l).await;
}

pub(crate) fn dialog_cfg() -> DialogConfig {
    DialogConfig {
        ehlo_name: "scanner.example.net".to_owned(),
        phase_timeout: Duration::from_secs(30),
        tls: client_tls(),
        limits: ReplyLimits::default(),
    }
}

/// Runs the dialog in memory against behaviour `b` with a 60 s session deadline.
pub(crate) async fn mem(b: B) -> (SmtpProbe, Vec<String>, CertificateDer<'static>) {
    mem_with(b, dialog_cfg(), Duration::from_secs(60)).await
}

pub(crate) async fn mem_with(
    b: B,
    cfg: DialogConfig,
    deadline: Duration,
) -> (SmtpProbe, Vec<String>, CertificateDer<'static>) {
    let st = server_tls();
    let (client, server) = tokio::io::duplex(64 * 1024);
    let l: Log = Arc::default();
    let task = tokio::spawn(serve(server, b, st.config.clone(), l.clone()));
    let p = run_dialog(client, MX, &cfg, Instant::now() + deadline).await;
    // The client half is dropped: a well-behaved server task ends; give it a bounded moment.
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    let log = l.lock().unwrap().clone();
    (p, log, st.cert)
}
