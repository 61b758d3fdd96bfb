//! STARTTLS probe tests: the dialog driven in memory (`tokio::io::duplex`) against scripted
//! server behaviours, and the TCP probe and the single-flight prober against servers on
//! loopback addresses (random 127.x.y.z) that each test starts itself.

// Test helpers (not only `#[test]` fns) may panic on broken fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::{ClientConfig, ServerConfig};
use stsscan::smtp::{
    DialogConfig, ProbeConfig, ProbeDedup, ProbeSource, Prober, ProberConfig, ReplyLimits,
    SmtpPhase, SmtpProbe, SmtpStatus, probe, run_dialog,
};
use stsscan::tls::{CertVerdict, TrustAnchors, capturing_client_config, verdict_for_name};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

const MX: &str = "mx.example.test";

// ---------------------------------------------------------------------------------------------
// TLS material: a test CA, a leaf for MX signed by it, and the scanner's capturing client
// configuration (it accepts any chain so the handshake finishes; the chain is judged after).

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_tls() -> Arc<ClientConfig> {
    capturing_client_config(&TrustAnchors::empty()).unwrap()
}

struct ServerTls {
    config: Arc<ServerConfig>,
    /// The leaf the server presents (its whole chain).
    cert: CertificateDer<'static>,
    /// The CA that signed it (not sent).
    ca: CertificateDer<'static>,
}

fn server_tls() -> ServerTls {
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
enum B {
    Normal,
    MultilineGreeting,
    /// Greeting after a delay; records whether the client sent anything before it.
    SlowGreeting(Duration),
    /// Trickles an endless `220-` greeting one byte per interval.
    Tarpit(Duration),
    /// Sends this greeting, then closes.
    Greeting(&'static str),
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
}

type Log = Arc<Mutex<Vec<String>>>;

fn log(l: &Log, s: impl Into<String>) {
    l.lock().unwrap().push(s.into());
}

/// Reads one command line (bounded), `None` on close/error.
async fn read_cmd<S: AsyncRead + Unpin>(io: &mut S) -> Option<String> {
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
fn tls10_server_hello() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x01,
    ];
    v.extend_from_slice(&[0x42; 32]);
    v.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    v
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, b: B, tls: Arc<ServerConfig>, l: Log) {
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
        B::Garbage => {
            let _ = io
                .write_all(b"\x00\x01\xfe\xff\x16\x03\x01 binary\r\nnonsense\r\n")
                .await;
            let _ = io.shutdown().await;
            return;
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

fn dialog_cfg() -> DialogConfig {
    DialogConfig {
        ehlo_name: "scanner.example.net".to_owned(),
        phase_timeout: Duration::from_secs(30),
        tls: client_tls(),
        limits: ReplyLimits::default(),
    }
}

/// Runs the dialog in memory against behaviour `b` with a 60 s session deadline.
async fn mem(b: B) -> (SmtpProbe, Vec<String>, CertificateDer<'static>) {
    mem_with(b, dialog_cfg(), Duration::from_secs(60)).await
}

async fn mem_with(
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

// ---------------------------------------------------------------------------------------------
// In-memory dialog tests.

/// RFC 3207 §4.2: "Upon completion of the TLS handshake, the SMTP protocol is reset to the
/// initial state (the state in SMTP after a server issues a 220 service ready greeting). The
/// server MUST discard any knowledge obtained from the client, such as the argument to the
/// EHLO command, which was not obtained from the TLS negotiation itself. The client MUST
/// discard any knowledge obtained from the server, such as the list of SMTP service
/// extensions, which was not obtained from the TLS negotiation itself. The client SHOULD send
/// an EHLO command as the first command after a successful TLS negotiation."
#[tokio::test]
async fn normal_dialog_reaches_ok_and_captures_tls() {
    let (p, log, cert) = mem(B::Normal).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::Done);
    assert_eq!(p.greeting.as_deref(), Some("220 mx.example.test ESMTP"));
    assert_eq!(p.starttls_offered, Some(true));
    let caps = p.capabilities.clone().unwrap();
    assert!(caps.starttls && caps.pipelining && caps.eightbitmime);
    assert_eq!(caps.size, Some(Some(10_240_000)));
    assert_eq!(p.starttls_code, Some(220));
    assert!(!p.starttls_injection);
    assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
    assert!(p.tls_cipher.as_deref().unwrap().starts_with("TLS13_"));
    assert_eq!(p.chain, vec![cert]);
    assert_eq!(p.sni.as_deref(), Some(MX));
    assert_eq!(p.ehlo_tls_code, Some(250));
    assert!(p.ehlo_tls_lines.iter().all(|l| !l.contains("starttls")));
    assert_eq!(
        log,
        vec![
            "EHLO scanner.example.net",
            "STARTTLS",
            "sni:mx.example.test",
            "tls:EHLO scanner.example.net",
            "tls:QUIT",
        ]
    );
    assert!(!p.timed_out && p.detail.is_none());
    assert_eq!(p.injection(), Some(false));
    assert_eq!(p.starttls_after_tls(), Some(false));
}

/// RFC 3207 §4.2: "A server MUST NOT return the STARTTLS extension in response to an EHLO
/// command received after a TLS handshake has completed." Recorded, not fatal.
#[tokio::test]
async fn starttls_advertised_again_after_tls_is_recorded() {
    let (p, _, _) = mem(B::StarttlsAfterTls).await;
    assert_eq!(p.status, SmtpStatus::Ok);
    assert_eq!(p.starttls_after_tls(), Some(true));
}

/// RFC 5321 §4.1.1.1: `ehlo = "EHLO" SP ( Domain / address-literal ) CRLF`. A configured
/// name with CR LF cannot smuggle a second command.
#[tokio::test]
async fn ehlo_name_with_crlf_sends_one_command() {
    let mut cfg = dialog_cfg();
    cfg.ehlo_name = "scanner.example.net\r\nMAIL FROM:<x@y>".to_owned();
    let (p, log, _) = mem_with(B::NoStarttls, cfg, Duration::from_secs(60)).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered);
    assert_eq!(log, vec!["EHLO scanner.example.netMAILFROM:<x@y>", "QUIT"]);
}

/// RFC 5321 §4.2.1: "The format for multiline replies requires that every line, except the
/// last, begin with the reply code, followed immediately by a hyphen".
#[tokio::test]
async fn multiline_greeting() {
    let (p, _, _) = mem(B::MultilineGreeting).await;
    assert_eq!(p.status, SmtpStatus::Ok);
    assert_eq!(
        p.greeting.as_deref(),
        Some("220 mx.example.test ESMTP | no UCE | welcome")
    );
}

/// RFC 5321 §3.1: "the SMTP client ... waits for the server's greeting (220)"; §4.3.1: the
/// greeting must be received before the client sends anything. The client stays silent.
#[tokio::test]
async fn slow_greeting_is_awaited_without_speaking_first() {
    let (p, log, _) = mem(B::SlowGreeting(Duration::from_millis(500))).await;
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert_eq!(
        log.first().map(String::as_str),
        Some("silent-before-greeting")
    );
    assert!(p.elapsed >= Duration::from_millis(500));
}

/// RFC 5321 §4.5.3.2: "An SMTP client MUST provide a timeout mechanism." A tarpit trickling
/// its greeting is cut by the session deadline: greeting-timeout.
#[tokio::test]
async fn tarpit_is_cut_by_session_deadline() {
    let (p, _, _) = mem_with(
        B::Tarpit(Duration::from_millis(20)),
        dialog_cfg(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(p.status, SmtpStatus::GreetingTimeout);
    assert_eq!(p.phase, SmtpPhase::Greeting);
    assert!(p.timed_out);
    // Cut at the deadline (1 s), far before the 30 s phase timeout.
    assert!(p.elapsed >= Duration::from_secs(1) && p.elapsed < Duration::from_secs(10));
}

/// The per-phase timeout also ends a tarpit before the session deadline.
#[tokio::test]
async fn tarpit_is_cut_by_phase_timeout() {
    let mut cfg = dialog_cfg();
    cfg.phase_timeout = Duration::from_secs(1);
    let (p, _, _) = mem_with(
        B::Tarpit(Duration::from_millis(20)),
        cfg,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(p.status, SmtpStatus::GreetingTimeout);
    assert!(p.timed_out);
    assert!(p.elapsed >= Duration::from_secs(1) && p.elapsed < Duration::from_secs(30));
}

/// Every phase within its own timeout, but the whole session exceeds the deadline.
#[tokio::test]
async fn session_deadline_bounds_the_whole_dialog() {
    let mut cfg = dialog_cfg();
    cfg.phase_timeout = Duration::from_secs(2);
    let deadline = Duration::from_millis(2500);
    let (p, _, _) = mem_with(B::SlowReplies(Duration::from_secs(1)), cfg, deadline).await;
    // Greeting at 1 s, EHLO reply at 2 s, the STARTTLS reply would come at 3 s > 2.5 s.
    assert_eq!(p.status, SmtpStatus::ProtocolError, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::Starttls);
    assert!(p.timed_out);
    assert!(p.elapsed >= deadline && p.elapsed < Duration::from_secs(20));
}

/// RFC 5321 §3.1: "the SMTP server may ... reject a connection with a 554 response"; and
/// §4.2.1: a 4yz is a transient negative completion (421 service not available).
#[tokio::test]
async fn rejected_and_tempfail_greetings() {
    let (p, log, _) = mem(B::Greeting("554 5.7.1 No SMTP service here\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingRejected);
    assert_eq!(p.greeting_code, Some(554));
    assert_eq!(p.starttls_offered, None);
    assert!(log.iter().all(|l| !l.starts_with("EHLO")));
    let (p, _, _) = mem(B::Greeting("421 4.3.2 Service not available\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingTempfail);
    assert_eq!(p.greeting_code, Some(421));
    // A multi-line 554 is still one reply.
    let (p, _, _) = mem(B::Greeting("554-go\r\n554 away\r\n")).await;
    assert_eq!(p.status, SmtpStatus::GreetingRejected);
    // A close before any greeting is a protocol error, not a timeout.
    let (p, _, _) = mem(B::Greeting("")).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert!(!p.timed_out);
    // A non-220 positive greeting is a protocol error.
    let (p, _, _) = mem(B::Greeting("250 hello\r\n")).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
}

#[tokio::test]
async fn garbage_greeting_is_protocol_error() {
    let (p, _, _) = mem(B::Garbage).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Greeting);
    assert!(p.detail.unwrap().contains("bad-code"));
}

#[tokio::test]
async fn endless_continuation_is_protocol_error() {
    let (p, _, _) = mem(B::EndlessContinuation).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Ehlo);
    assert!(p.detail.unwrap().contains("too-many-lines"));
    assert_eq!(p.starttls_offered, None);
}

/// RFC 3207 §4: "The STARTTLS keyword is used to tell the SMTP client that the SMTP server
/// is currently able to negotiate the use of TLS." Without it the client does not try.
#[tokio::test]
async fn no_starttls_offered() {
    let (p, log, _) = mem(B::NoStarttls).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered);
    assert_eq!(p.starttls_offered, Some(false));
    assert!(!log.iter().any(|l| l == "STARTTLS"));
    assert_eq!(log.last().map(String::as_str), Some("QUIT"));
}

/// RFC 3207 §4: "454 TLS not available due to temporary reason"; a 4xx/5xx to STARTTLS is
/// starttls-refused.
#[tokio::test]
async fn starttls_refused() {
    let (p, log, _) = mem(B::StarttlsReply("454 4.7.0 TLS not available\r\n")).await;
    assert_eq!(p.status, SmtpStatus::StarttlsRefused);
    assert_eq!(p.starttls_code, Some(454));
    assert_eq!(
        p.starttls_reply.as_deref(),
        Some("454 4.7.0 TLS not available")
    );
    assert_eq!(log.last().map(String::as_str), Some("QUIT"));
    let (p, _, _) = mem(B::StarttlsReply("501 5.5.4 Syntax error\r\n")).await;
    assert_eq!(p.status, SmtpStatus::StarttlsRefused);
}

#[tokio::test]
async fn close_after_ehlo_is_protocol_error() {
    let (p, _, _) = mem(B::CloseAfterEhlo).await;
    assert_eq!(p.status, SmtpStatus::ProtocolError);
    assert_eq!(p.phase, SmtpPhase::Starttls);
    assert_eq!(p.starttls_offered, Some(true));
    assert!(!p.timed_out);
}

/// RFC 5321 §3.2: "If the EHLO command is not acceptable to the SMTP server, 501, 500, 502,
/// or 550 failure replies MUST be returned as appropriate. The SMTP client MUST be able to
/// fall back to HELO" — and HELO carries no service extensions, so no STARTTLS.
#[tokio::test]
async fn helo_only_server() {
    let (p, log, _) = mem(B::HeloOnly).await;
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered, "{p:?}");
    assert!(p.used_helo);
    assert_eq!(p.ehlo_code, Some(502));
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(
        log,
        vec![
            "EHLO scanner.example.net",
            "HELO scanner.example.net",
            "QUIT"
        ]
    );
    let (p, _, _) = mem(B::EhloAndHeloRejected).await;
    assert_eq!(p.status, SmtpStatus::EhloRejected);
    assert_eq!(p.phase, SmtpPhase::Helo);
}

/// Bytes after `220` to STARTTLS and before the handshake (the STARTTLS command injection
/// class, CVE-2011-0411 family): recorded, discarded (RFC 3207 §4.2 "The client MUST discard
/// any knowledge obtained from the server ... which was not obtained from the TLS negotiation
/// itself"), and the handshake proceeds.
#[tokio::test]
async fn pipelined_bytes_after_220_are_injection() {
    let (p, log, _) = mem(B::Inject(b"250 injected\r\n")).await;
    assert!(p.starttls_injection);
    assert_eq!(p.injection(), Some(true));
    assert_eq!(p.injected_bytes, b"250 injected\r\n");
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}");
    assert!(log.iter().any(|l| l == "tls:EHLO scanner.example.net"));
    // Capped.
    let big: &'static [u8] = Box::leak(vec![b'A'; 5000].into_boxed_slice());
    let (p, _, _) = mem(B::Inject(big)).await;
    assert!(p.starttls_injection);
    assert_eq!(p.injected_bytes.len(), stsscan::smtp::dialog::MAX_INJECTED);
}

#[tokio::test]
async fn handshake_abort_is_handshake_failed() {
    let (p, _, _) = mem(B::HandshakeAbort).await;
    assert_eq!(p.status, SmtpStatus::HandshakeFailed, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::TlsHandshake);
    assert!(p.chain.is_empty() && p.tls_version.is_none());
}

/// RFC 8996 deprecates TLS 1.0 and 1.1; rustls only speaks TLS 1.2/1.3, so a server whose
/// ServerHello selects TLS 1.0 is tls-version-unsupported, not a generic handshake failure.
#[tokio::test]
async fn tls10_server_hello_is_version_unsupported() {
    let (p, _, _) = mem(B::Tls10ServerHello).await;
    assert_eq!(p.status, SmtpStatus::TlsVersionUnsupported, "{p:?}");
    assert_eq!(p.phase, SmtpPhase::TlsHandshake);
    assert!(p.detail.unwrap().contains("ServerDoesNotSupportTls12Or13"));
}

/// RFC 5246 §7.2.2 / RFC 8446 §6.2: a `protocol_version` alert means the server does not
/// support the offered versions.
#[tokio::test]
async fn protocol_version_alert_is_version_unsupported() {
    let (p, _, _) = mem(B::ProtocolVersionAlert).await;
    assert_eq!(p.status, SmtpStatus::TlsVersionUnsupported, "{p:?}");
    assert!(p.detail.unwrap().contains("ProtocolVersion"));
}

#[tokio::test]
async fn ehlo_rejected_after_tls_is_post_tls_error() {
    let (p, _, cert) = mem(B::PostTlsReject).await;
    assert_eq!(p.status, SmtpStatus::PostTlsError);
    assert_eq!(p.phase, SmtpPhase::EhloTls);
    assert_eq!(p.ehlo_tls_code, Some(554));
    assert_eq!(
        p.chain,
        vec![cert],
        "the chain is kept when TLS was established"
    );
}

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

fn prober(dedup: ProbeDedup, per_address: usize) -> Prober {
    let mut c = ProberConfig::new(probe_cfg());
    c.dedup = dedup;
    c.per_address_connections = NonZeroUsize::new(per_address).unwrap();
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

/// RFC 8461 §4.1: the MX host's certificate must be valid for the MX host name (RFC 6125
/// DNS-ID). One probe shared by two names (address dedup) is judged per name: valid for the
/// name in the SAN, name-mismatch for a tenant name that shares the address.
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

/// The bounded cache evicts finished results: a later request probes again.
#[tokio::test]
async fn cache_is_bounded() {
    let l = listener().await;
    let addr = l.local_addr().unwrap();
    let c = spawn_server(l, B::Normal, 3);
    let mut cfg = ProberConfig::new(probe_cfg());
    cfg.dedup = ProbeDedup::AddressAndName;
    cfg.cache_capacity = 1;
    cfg.per_address_rate = None;
    let prober = Prober::new(cfg);
    let a = prober.probe(addr, "a.example.test").await;
    let _b = prober.probe(addr, "b.example.test").await;
    let a2 = prober.probe(addr, "a.example.test").await;
    assert_eq!(a2.source, ProbeSource::Ran);
    assert_ne!(a.probe_id, a2.probe_id);
    assert_eq!(c.accepts.load(Ordering::SeqCst), 3);
    assert_eq!(prober.stats().evictions, 2);
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

// ---------------------------------------------------------------------------------------------
// Robustness: whatever the server sends, the dialog ends with a consistent, capped result.

mod props {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"220 mx ESMTP\r\n".to_vec()),
            Just(b"220-mx\r\n".to_vec()),
            Just(b"250-mx\r\n".to_vec()),
            Just(b"250-STARTTLS\r\n".to_vec()),
            Just(b"250-SIZE x\r\n".to_vec()),
            Just(b"250 ok\r\n".to_vec()),
            Just(b"250 STARTTLS\n".to_vec()),
            Just(b"220 go ahead\r\n".to_vec()),
            Just(b"421 4.7.0 bye\r\n".to_vec()),
            Just(b"454 4.7.0 no TLS\r\n".to_vec()),
            Just(b"502 5.5.2 what\r\n".to_vec()),
            Just(b"554 no\r\n".to_vec()),
            Just(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]),
            Just(tls10_server_hello()),
            proptest::collection::vec(any::<u8>(), 0..300),
            "[0-9]{3}[ -][ -~]{0,600}\r?\n".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn dialog_never_panics_and_results_are_consistent(
            greet in any::<bool>(),
            ehlo in any::<bool>(),
            frags in proptest::collection::vec(fragment(), 0..12)
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let p = rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(256 * 1024);
                // Half the cases get past the greeting, a quarter past EHLO, to reach deeper.
                let mut bytes = Vec::new();
                if greet {
                    bytes.extend_from_slice(b"220 mx ESMTP\r\n");
                    if ehlo {
                        bytes.extend_from_slice(b"250-mx\r\n250 STARTTLS\r\n");
                    }
                }
                bytes.extend(frags.concat());
                let srv = tokio::spawn(async move {
                    let _ = server.write_all(&bytes).await;
                    let _ = server.shutdown().await;
                    let mut sink = [0u8; 1024];
                    for _ in 0..1000 {
                        if !matches!(server.read(&mut sink).await, Ok(n) if n > 0) {
                            break;
                        }
                    }
                });
                let mut cfg = dialog_cfg();
                cfg.phase_timeout = Duration::from_secs(2);
                let p = tokio::time::timeout(
                    Duration::from_secs(10),
                    run_dialog(client, MX, &cfg, Instant::now() + Duration::from_secs(5)),
                )
                .await
                .expect("the dialog ends by itself");
                srv.abort();
                p
            });
            // No TLS server behind these bytes: never ok.
            prop_assert!(!p.status.tls_established());
            prop_assert!(p.chain.is_empty());
            prop_assert!(p.greeting.as_ref().is_none_or(|g| g.len() <= stsscan::smtp::dialog::MAX_TEXT));
            prop_assert!(p.ehlo_lines.len() <= stsscan::smtp::dialog::MAX_LINES);
            prop_assert!(p.injected_bytes.len() <= stsscan::smtp::dialog::MAX_INJECTED);
            prop_assert!(!p.starttls_injection || p.starttls_code == Some(220));
            if p.status == SmtpStatus::StarttlsRefused {
                prop_assert!(matches!(p.starttls_code, Some(400..=599)));
            }
            if p.status == SmtpStatus::GreetingRejected {
                prop_assert!(matches!(p.greeting_code, Some(500..=599)));
            }
            if p.starttls_code.is_some() {
                prop_assert_eq!(p.starttls_offered, Some(true));
            }
            prop_assert!(p.elapsed < Duration::from_secs(10));
        }
    }
}
