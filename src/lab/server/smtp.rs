//! The lab's SMTP MX hosts: a hand-written ESMTP server per address in [`Listeners::smtp`],
//! behaving as the address's [`SmtpPersonality`] (see the variant docs in
//! [`crate::lab::model`]; this module implements them to the letter) with STARTTLS upgrades
//! through tokio-rustls and the certificate from [`World::smtp_cert`].
//!
//! The normal dialog: `220` greeting; `EHLO` → `250-` reply advertising `PIPELINING`, `SIZE`,
//! `STARTTLS`, `8BITMIME`; `STARTTLS` → `220`, TLS handshake, a fresh dialog whose EHLO reply
//! omits STARTTLS; `QUIT` → `221` and close; any other command → `502`. No mail is ever accepted.
//! Plaintext the client pipelined after STARTTLS is discarded (RFC 3207 §4.2 and the STARTTLS
//! injection fix).
//!
//! Bounds: command lines of at most [`MAX_LINE`] bytes (else `500` and close), at most
//! [`MAX_COMMANDS`] commands per connection (then `421`), [`IDLE`] without a command closes
//! the connection, and every connection — tarpits and endless replies included — ends after
//! [`SESSION_BOUND`].
//!
//! [`Listeners::smtp`]: crate::lab::model::Listeners::smtp

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::counters::{Counters, OpenGuard};
use super::net::{Counted, Shutdown, linger_close, serve_connections};
use crate::lab::model::{SmtpPersonality, World};

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4 allows 512).
pub const MAX_LINE: usize = 1024;
/// Commands accepted on one connection.
pub const MAX_COMMANDS: usize = 64;
/// Idle time (waiting for a command or a TLS handshake) before the server closes.
pub const IDLE: Duration = Duration::from_secs(60);
/// Total lifetime of any connection, tarpits and endless replies included.
pub const SESSION_BOUND: Duration = Duration::from_secs(120);
/// Concurrent connections per listener; further connections are closed at once.
pub const MAX_CONNS: usize = 4096;
/// Host name the lab's MX hosts announce.
pub const HOSTNAME: &str = "mx.stsscan-lab.invalid";
/// Plaintext sent right after `220 Ready to start TLS` by
/// [`SmtpPersonality::PipelinedAfterStarttls`].
pub const INJECTED: &[u8] = b"250-injected.stsscan-lab.invalid\r\n250 PIPELINING\r\n";
/// Plaintext sent by [`SmtpPersonality::LateInjectionAfterStarttls`] once the client's
/// first TLS bytes arrived after `220 Ready to start TLS`, plus [`LATE_INJECTION_DELAY`].
pub const LATE_INJECTED: &[u8] = b"250 injected\r\n";
/// How long [`SmtpPersonality::LateInjectionAfterStarttls`] waits, after the client's first
/// TLS bytes arrived, before sending [`LATE_INJECTED`].
pub const LATE_INJECTION_DELAY: Duration = Duration::from_millis(50);
/// What [`SmtpPersonality::Garbage`] sends instead of a greeting.
pub const GARBAGE: &[u8] = b"\x16\x03\x01\x00\xff\x00\xfe\x80\x81\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\x00\x1b[2J\x7f\xff\xfe\x00\x00\x01SSH-2.0-\x00\x80\xbf";
/// The TLS 1.0 ServerHello [`SmtpPersonality::LegacyTlsOnly`] answers any ClientHello with:
/// version 3.1, TLS_RSA_WITH_AES_128_CBC_SHA, null compression and an empty
/// `renegotiation_info` extension (RFC 5746, as real TLS 1.0 servers send), so that a modern
/// client fails on the version and nothing else.
pub const TLS10_SERVER_HELLO: [u8; 54] = {
    let mut b = [0u8; 54];
    // Record: handshake, TLS 1.0, length 49; ServerHello, length 45; server_version 3.1.
    let head = [
        0x16, 0x03, 0x01, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x01,
    ];
    let mut i = 0;
    while i < head.len() {
        b[i] = head[i];
        i += 1;
    }
    // 32 bytes of server random: a fixed pattern.
    while i < 11 + 32 {
        b[i] = (i as u8).wrapping_mul(37);
        i += 1;
    }
    // session id length 0, cipher suite 0x002f, compression null, extensions (5 bytes):
    // renegotiation_info (0xff01), length 1, empty renegotiated_connection.
    let tail = [
        0x00, 0x00, 0x2f, 0x00, 0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00,
    ];
    let mut j = 0;
    while j < tail.len() {
        b[43 + j] = tail[j];
        j += 1;
    }
    b
};

/// One SMTP listener.
pub(crate) struct SmtpHost {
    pub(crate) world: Arc<dyn World>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) addr: IpAddr,
    pub(crate) tls: Arc<rustls::ServerConfig>,
}

/// What the command loop ended with.
enum End {
    Close,
    StartTls,
    /// `220` to STARTTLS was sent; plaintext must follow before the handshake
    /// ([`SmtpPersonality::LateInjectionAfterStarttls`]).
    LateInjection,
}

/// A line-oriented connection.
struct Conn<S> {
    io: S,
    buf: Vec<u8>,
}

enum Line {
    Text(String),
    TooLong,
    Eof,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn send(&mut self, s: &[u8]) -> std::io::Result<()> {
        self.io.write_all(s).await?;
        self.io.flush().await
    }

    async fn line(&mut self) -> Line {
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(p) = self.buf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=p).collect();
                if raw.len() > MAX_LINE {
                    return Line::TooLong;
                }
                let text = String::from_utf8_lossy(&raw);
                return Line::Text(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Line::TooLong;
            }
            match tokio::time::timeout(IDLE, self.io.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Line::Eof,
                Ok(Ok(n)) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    }
}

impl SmtpHost {
    /// Accepts connections until shutdown; dropping the future ends every connection.
    pub(crate) async fn serve(self: Arc<Self>, listener: TcpListener, stop: Shutdown) {
        let Some(ctr) = self.counters.smtp_addr(self.addr) else {
            return;
        };
        serve_connections(listener, stop, MAX_CONNS, |stream| {
            let guard = ctr.connect();
            let me = Arc::clone(&self);
            async move {
                let _ = tokio::time::timeout(SESSION_BOUND, me.conn(stream, &guard)).await;
                drop(guard);
            }
        })
        .await;
    }

    async fn conn(&self, stream: TcpStream, guard: &OpenGuard) {
        let _ = stream.set_nodelay(true);
        let personality = self.world.smtp_personality(self.addr);
        let mut c = Conn {
            io: Counted::new(stream, Arc::clone(guard.counters())),
            buf: Vec::new(),
        };
        let greeting: Vec<u8> = match personality {
            SmtpPersonality::ConnectionLimit { limit } if guard.open_at_accept() > u64::from(limit) => {
                let _ = c.send(b"421 4.7.0 Too many connections\r\n").await;
                return;
            }
            SmtpPersonality::RejectGreeting => {
                if c.send(b"554 5.7.1 No SMTP service here\r\n").await.is_ok() {
                    refuse_until_quit(&mut c).await;
                }
                return;
            }
            SmtpPersonality::TempFailGreeting => {
                let _ = c.send(b"421 4.3.2 Service not available\r\n").await;
                return;
            }
            SmtpPersonality::Garbage => {
                let _ = c.send(GARBAGE).await;
                return;
            }
            SmtpPersonality::Tarpit { interval_ms } => {
                let line = format!("220-{HOSTNAME} ESMTP please wait\r\n");
                let every = Duration::from_millis(u64::from(interval_ms.max(1)));
                // Bounded by SESSION_BOUND around this future.
                for b in line.bytes().cycle() {
                    if c.send(&[b]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
                return;
            }
            SmtpPersonality::SlowGreeting { delay_ms } => {
                tokio::time::sleep(Duration::from_millis(u64::from(delay_ms))).await;
                format!("220 {HOSTNAME} ESMTP stsscan-lab\r\n").into_bytes()
            }
            SmtpPersonality::MultilineGreeting => format!(
                "220-{HOSTNAME} ESMTP stsscan-lab\r\n220-This server is a lab host.\r\n220 No UCE.\r\n"
            )
            .into_bytes(),
            _ => format!("220 {HOSTNAME} ESMTP stsscan-lab\r\n").into_bytes(),
        };
        if c.send(&greeting).await.is_err() {
            return;
        }
        let mut budget = MAX_COMMANDS;
        let end = dialog(&mut c, personality, false, &mut budget).await;
        if let End::LateInjection = end {
            // Wait until the client has started its handshake (its first bytes are
            // readable), so the plaintext cannot arrive together with the 220, then send it
            // where the ServerHello belongs.
            let mut first = [0u8; 1];
            let started = tokio::time::timeout(IDLE, c.io.get_ref().peek(&mut first)).await;
            if !matches!(started, Ok(Ok(1))) {
                return;
            }
            tokio::time::sleep(LATE_INJECTION_DELAY).await;
            if c.send(LATE_INJECTED).await.is_err() {
                return;
            }
        }
        match end {
            End::Close => {}
            End::StartTls | End::LateInjection => {
                // RFC 3207 §4.2: discard anything the client sent before the handshake.
                let Conn { io, .. } = c;
                if personality == SmtpPersonality::LegacyTlsOnly {
                    legacy_tls(io).await;
                    return;
                }
                let acceptor = TlsAcceptor::from(Arc::clone(&self.tls));
                let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(io)).await else {
                    return;
                };
                let mut c = Conn {
                    io: tls,
                    buf: Vec::new(),
                };
                let _ = dialog(&mut c, personality, true, &mut budget).await;
                let _ = c.io.shutdown().await;
            }
        }
    }
}

/// After a `554` greeting. RFC 5321 §3.1: "A server taking this approach MUST still wait for
/// the client to send a QUIT (see Section 4.1.1.10) before closing the connection and SHOULD
/// respond to any intervening commands with "503 bad sequence of commands"."
async fn refuse_until_quit<S: AsyncRead + AsyncWrite + Unpin>(c: &mut Conn<S>) {
    for _ in 0..MAX_COMMANDS {
        let Line::Text(line) = c.line().await else {
            return;
        };
        let quit = line
            .split(' ')
            .next()
            .is_some_and(|v| v.eq_ignore_ascii_case("QUIT"));
        if quit {
            if c.send(b"221 2.0.0 Bye\r\n").await.is_ok() {
                linger_close(&mut c.io).await;
            }
            return;
        }
        if c.send(b"503 5.5.1 Bad sequence of commands\r\n")
            .await
            .is_err()
        {
            return;
        }
    }
}

fn ehlo_reply(starttls: bool) -> Vec<u8> {
    let mut s = format!("250-{HOSTNAME} greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n");
    if starttls {
        s.push_str("250-STARTTLS\r\n");
    }
    s.push_str("250 8BITMIME\r\n");
    s.into_bytes()
}

/// Runs commands until QUIT, an error, or a STARTTLS that must be followed by a handshake.
async fn dialog<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<S>,
    p: SmtpPersonality,
    in_tls: bool,
    budget: &mut usize,
) -> End {
    loop {
        let line = match c.line().await {
            Line::Text(t) => t,
            Line::TooLong => {
                if c.send(b"500 5.5.2 Line too long\r\n").await.is_ok() {
                    linger_close(&mut c.io).await;
                }
                return End::Close;
            }
            Line::Eof => return End::Close,
        };
        if *budget == 0 {
            let _ = c.send(b"421 4.7.0 Too many commands, closing\r\n").await;
            return End::Close;
        }
        *budget -= 1;
        let verb = line
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let has_args = line.trim().contains(' ');
        let res = match verb.as_str() {
            "EHLO" | "HELO" if p == SmtpPersonality::RejectEhloAndHelo => {
                c.send(b"550 5.7.1 Client host rejected: access denied\r\n")
                    .await
            }
            "EHLO" if in_tls && p == SmtpPersonality::CloseAfterTls => return End::Close,
            "EHLO" if in_tls && p == SmtpPersonality::RejectEhloAfterTls => {
                let _ = c.send(b"554 5.7.0 Too many TLS sessions\r\n").await;
                return End::Close;
            }
            "EHLO" => match p {
                SmtpPersonality::HeloOnly => c.send(b"502 5.5.1 EHLO not supported\r\n").await,
                SmtpPersonality::EndlessContinuation => {
                    let mut n: u64 = 0;
                    loop {
                        n += 1;
                        let l = format!("250-X-LAB-CONTINUATION-{n} endless reply\r\n");
                        if c.io.write_all(l.as_bytes()).await.is_err() {
                            return End::Close;
                        }
                    }
                }
                SmtpPersonality::CloseAfterEhlo => {
                    let _ = c.send(&ehlo_reply(!in_tls)).await;
                    return End::Close;
                }
                SmtpPersonality::NoStarttls => c.send(&ehlo_reply(false)).await,
                _ => c.send(&ehlo_reply(!in_tls)).await,
            },
            "HELO" if p == SmtpPersonality::HeloOnly => {
                c.send(format!("250 {HOSTNAME}\r\n").as_bytes()).await
            }
            "STARTTLS" if in_tls => c.send(b"502 5.5.1 Already in TLS\r\n").await,
            "STARTTLS" if has_args => {
                c.send(b"501 5.5.4 Syntax error (no parameters allowed)\r\n")
                    .await
            }
            "STARTTLS" => match p {
                SmtpPersonality::NoStarttls | SmtpPersonality::HeloOnly => {
                    c.send(b"502 5.5.1 Command not implemented\r\n").await
                }
                SmtpPersonality::StarttlsRefused => {
                    c.send(b"454 4.7.0 TLS not available\r\n").await
                }
                SmtpPersonality::HandshakeAbort => {
                    let _ = c.send(b"220 2.0.0 Ready to start TLS\r\n").await;
                    return End::Close;
                }
                SmtpPersonality::LateInjectionAfterStarttls => {
                    if c.send(b"220 2.0.0 Ready to start TLS\r\n").await.is_err() {
                        return End::Close;
                    }
                    return End::LateInjection;
                }
                SmtpPersonality::PipelinedAfterStarttls => {
                    let mut out = b"220 2.0.0 Ready to start TLS\r\n".to_vec();
                    out.extend_from_slice(INJECTED);
                    if c.send(&out).await.is_err() {
                        return End::Close;
                    }
                    return End::StartTls;
                }
                _ => {
                    if c.send(b"220 2.0.0 Ready to start TLS\r\n").await.is_err() {
                        return End::Close;
                    }
                    return End::StartTls;
                }
            },
            "QUIT" => {
                let _ = c.send(b"221 2.0.0 Bye\r\n").await;
                return End::Close;
            }
            _ => c.send(b"502 5.5.2 Command not implemented\r\n").await,
        };
        if res.is_err() {
            return End::Close;
        }
    }
}

/// Reads one TLS record (the ClientHello) and answers with a TLS 1.0 ServerHello, which a
/// TLS 1.2+ client rejects with a `protocol_version` alert; then waits briefly for that alert.
async fn legacy_tls<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) {
    let mut header = [0u8; 5];
    let Ok(Ok(_)) = tokio::time::timeout(IDLE, io.read_exact(&mut header)).await else {
        return;
    };
    if header[0] != 0x16 {
        return;
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]])).min(18_432);
    let mut body = vec![0u8; len];
    let Ok(Ok(_)) = tokio::time::timeout(IDLE, io.read_exact(&mut body)).await else {
        return;
    };
    if io.write_all(&TLS10_SERVER_HELLO).await.is_err() || io.flush().await.is_err() {
        return;
    }
    let mut sink = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(5), io.read(&mut sink)).await;
}
