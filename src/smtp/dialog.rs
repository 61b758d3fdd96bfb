//! The STARTTLS dialog over any byte stream (RFC 5321, RFC 3207), generic over
//! `AsyncRead + AsyncWrite + Unpin` so tests drive it in memory (`tokio::io::duplex`).
//!
//! This module owns the client side of one SMTP session: wait for the greeting (never send
//! before it), `EHLO` (falling back to `HELO` after a 5xx), `STARTTLS`, the TLS handshake with
//! SNI = the MX name, `EHLO` again over TLS, `QUIT`. It records what it saw in an
//! [`SmtpProbe`] whose [`SmtpStatus`] is the ground-truth outcome. It does not open sockets
//! (see [`super::probe`](mod@super::probe)) and does not judge certificates: the TLS client
//! configuration it is given must let the handshake finish (a capturing verifier); the chain
//! is returned raw.
//!
//! Bounds: every reply is framed by [`ReplyParser`] with [`ReplyLimits`]; every phase has
//! [`DialogConfig::phase_timeout`]; the caller's `deadline` bounds the whole session, so a
//! tarpit cannot hold a slot. Recorded texts are capped ([`MAX_TEXT`], [`MAX_LINES`],
//! [`MAX_INJECTED`]).
//!
//! Decisions:
//! * A timeout or close before the STARTTLS reply is `protocol-error`, except before the
//!   greeting completed, which is `greeting-timeout` (timeout) or `protocol-error` (close).
//! * A 5xx to EHLO falls back to HELO (`starttls-not-offered` if HELO is accepted,
//!   `ehlo-rejected` if not); a 4xx to EHLO is `ehlo-rejected` without trying HELO.
//! * A timeout or close in the handshake is `handshake-failed`; after the handshake, any
//!   failure of the second EHLO is `post-tls-error`.
//! * `QUIT` ends every session whose channel is still usable, whatever was refused (RFC 5321
//!   §4.1.1.10: "The sender MUST NOT intentionally close the transmission channel until it
//!   sends a QUIT command"): after a 4xx/5xx or unexpected greeting, EHLO, HELO or STARTTLS
//!   reply, and over TLS after the last EHLO. Not after a timeout, a close, a malformed reply
//!   or a failed handshake. It is best effort (at most 2 s) and never changes the status.
//! * `starttls_offered` is `Some(true|false)` after a `250` to EHLO, `Some(false)` after a
//!   5xx (a HELO-only server has no extensions), and `None` if EHLO got no reply or a 4xx
//!   (a temporary refusal says nothing about the extensions).
//! * Bytes the server sends after its `220` to STARTTLS and before our ClientHello are the
//!   STARTTLS injection class: recorded (`starttls_injection`, capped bytes) and discarded, as
//!   RFC 3207 §4.2 requires discarding pre-TLS knowledge; the handshake then proceeds.
//!   That check sees what arrived with or before the `220` line plus what is readable
//!   without waiting. Bytes arriving later are the TLS client's first bytes: the handshake
//!   fails, and when those bytes do not start a TLS record ([`super::injection`]) the probe
//!   is `handshake-failed` with `starttls_injection` set, the text in `injected_bytes` and
//!   a detail saying so (a sender's TLS client fails on them the same way).
//! * A server speaking only TLS 1.0/1.1 (rustls: `PeerIncompatible::ServerDoesNotSupportTls12Or13`
//!   or a `protocol_version` alert received) is `tls-version-unsupported`; every other
//!   handshake failure, including a close, is `handshake-failed`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{AlertDescription, ClientConfig, PeerIncompatible};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::coalesce::Coalesce;
use super::injection::{Recorder, late_plaintext};
use super::reply::{Reply, ReplyError, ReplyLimits, ReplyParser, cut};
use super::status::{SmtpPhase, SmtpStatus};
use crate::tls::TlsSession;

/// Longest recorded text (greeting, STARTTLS reply, one EHLO line, detail), in bytes.
pub const MAX_TEXT: usize = 512;
/// Most recorded EHLO lines and capability keywords.
pub const MAX_LINES: usize = 64;
/// Most recorded bytes of STARTTLS injection.
pub const MAX_INJECTED: usize = 512;
/// Longest wait for the reply to `QUIT` (also bounded by the phase timeout and deadline).
const QUIT_WAIT: Duration = Duration::from_secs(2);
/// Bytes read from the socket at once.
const READ_CHUNK: usize = 4096;

/// Settings of one dialog.
#[derive(Debug, Clone)]
pub struct DialogConfig {
    /// The name sent with EHLO/HELO (identifies the scanner).
    pub ehlo_name: String,
    /// Longest wait for each reply (greeting, EHLO, STARTTLS, ...) and for the handshake.
    pub phase_timeout: Duration,
    /// The TLS client configuration: a capturing verifier that lets the handshake finish,
    /// normally [`crate::tls::capturing_client_config`].
    pub tls: Arc<ClientConfig>,
    /// Reply framing caps.
    pub limits: ReplyLimits,
}

/// SMTP service extensions advertised in an EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `PIPELINING` (RFC 2920).
    pub pipelining: bool,
    /// `SIZE` (RFC 1870), with its limit when one is given and numeric.
    pub size: Option<Option<u64>>,
    /// `8BITMIME` (RFC 6152).
    pub eightbitmime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `CHUNKING` (RFC 3030).
    pub chunking: bool,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    pub enhancedstatuscodes: bool,
    /// `REQUIRETLS` (RFC 8689).
    pub requiretls: bool,
    /// Every keyword, upper-cased, in order (at most [`MAX_LINES`]).
    pub keywords: Vec<String>,
}

impl Capabilities {
    /// Parses the lines of a `250` EHLO reply. The first line is the server's domain, each
    /// further line is `ehlo-keyword *( SP ehlo-param )`; keywords are case-insensitive.
    pub fn from_ehlo(lines: &[String]) -> Self {
        let mut caps = Self::default();
        for line in lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(kw) = words.next() else { continue };
            let kw = kw.to_ascii_uppercase();
            match kw.as_str() {
                "STARTTLS" => caps.starttls = true,
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok())),
                "8BITMIME" => caps.eightbitmime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "CHUNKING" => caps.chunking = true,
                "ENHANCEDSTATUSCODES" => caps.enhancedstatuscodes = true,
                "REQUIRETLS" => caps.requiretls = true,
                _ => {}
            }
            if caps.keywords.len() < MAX_LINES {
                caps.keywords.push(cut(&kw, 64));
            }
        }
        caps
    }
}

/// Everything one STARTTLS probe observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpProbe {
    /// The outcome (the ground-truth `smtp` value).
    pub status: SmtpStatus,
    /// The phase in which the outcome was decided (`done` after a complete dialog).
    pub phase: SmtpPhase,
    /// The SNI name sent in the ClientHello (the MX name), when a handshake was attempted.
    pub sni: Option<String>,
    /// The greeting reply (`code text | text ...`, capped).
    pub greeting: Option<String>,
    /// The greeting's reply code.
    pub greeting_code: Option<u16>,
    /// The reply code to EHLO (before TLS).
    pub ehlo_code: Option<u16>,
    /// EHLO was refused with 5xx and HELO was tried.
    pub used_helo: bool,
    /// The lines of the `250` EHLO reply before TLS (capped).
    pub ehlo_lines: Vec<String>,
    /// Extensions from the `250` EHLO reply before TLS.
    pub capabilities: Option<Capabilities>,
    /// STARTTLS advertised in the EHLO reply; `Some(false)` after a 5xx to EHLO, `None` if
    /// EHLO got no reply or a 4xx.
    pub starttls_offered: Option<bool>,
    /// The reply to STARTTLS (`code text`, capped).
    pub starttls_reply: Option<String>,
    /// The reply code to STARTTLS.
    pub starttls_code: Option<u16>,
    /// The server sent plaintext after its `220` to STARTTLS: pipelined with it (discarded,
    /// the handshake proceeds) or read by the TLS client instead of a ServerHello (the
    /// handshake fails: `handshake-failed`).
    pub starttls_injection: bool,
    /// The injected bytes (at most [`MAX_INJECTED`]; for the late case, the text up to where
    /// a TLS record starts).
    pub injected_bytes: Vec<u8>,
    /// Negotiated TLS version (`TLSv1.2`, `TLSv1.3`; see [`TlsSession`]).
    pub tls_version: Option<String>,
    /// Negotiated cipher suite (IANA name as rustls spells it, e.g.
    /// `TLS13_AES_256_GCM_SHA384`).
    pub tls_cipher: Option<String>,
    /// The certificate chain the server presented, leaf first. Judge it per MX name with
    /// [`crate::tls::verdict_for_name`]: with address dedup one probe serves many names.
    pub chain: Vec<CertificateDer<'static>>,
    /// The reply code to EHLO over TLS.
    pub ehlo_tls_code: Option<u16>,
    /// The lines of the EHLO reply over TLS (capped).
    pub ehlo_tls_lines: Vec<String>,
    /// Extensions from the `250` EHLO reply over TLS. RFC 3207 §4.2: "A server MUST NOT
    /// return the STARTTLS extension in response to an EHLO command received after a TLS
    /// handshake has completed" (see [`SmtpProbe::starttls_after_tls`]).
    pub capabilities_tls: Option<Capabilities>,
    /// Some reply ended lines with a bare LF.
    pub bare_lf: bool,
    /// Some reply line exceeded 512 octets (RFC 5321 §4.5.3.1.5).
    pub long_line: bool,
    /// The dialog ended because a phase timeout or the session deadline expired.
    pub timed_out: bool,
    /// Free text on what went wrong (capped).
    pub detail: Option<String>,
    /// Time from the start of the probe to its end.
    pub elapsed: Duration,
}

impl SmtpProbe {
    /// A probe result with only a status, phase and detail (e.g. a failed connect).
    pub fn bare(status: SmtpStatus, phase: SmtpPhase, detail: Option<String>) -> Self {
        Self {
            status,
            phase,
            sni: None,
            greeting: None,
            greeting_code: None,
            ehlo_code: None,
            used_helo: false,
            ehlo_lines: Vec::new(),
            capabilities: None,
            starttls_offered: None,
            starttls_reply: None,
            starttls_code: None,
            starttls_injection: false,
            injected_bytes: Vec::new(),
            tls_version: None,
            tls_cipher: None,
            chain: Vec::new(),
            ehlo_tls_code: None,
            ehlo_tls_lines: Vec::new(),
            capabilities_tls: None,
            bare_lf: false,
            long_line: false,
            timed_out: false,
            detail: detail.map(|d| cut(&d, MAX_TEXT)),
            elapsed: Duration::ZERO,
        }
    }

    /// The ground-truth `injection` value: whether plaintext followed the `220` to STARTTLS,
    /// `None` when STARTTLS never got a `220`.
    pub fn injection(&self) -> Option<bool> {
        (self.starttls_code == Some(220)).then_some(self.starttls_injection)
    }

    /// The server advertised STARTTLS again in its EHLO reply over TLS (an RFC 3207 §4.2
    /// violation); `None` when no `250` EHLO reply over TLS was received.
    pub fn starttls_after_tls(&self) -> Option<bool> {
        self.capabilities_tls.as_ref().map(|c| c.starttls)
    }

    fn note(&mut self, r: &Reply) {
        self.bare_lf |= r.bare_lf;
        self.long_line |= r.long_line;
    }

    fn end(&mut self, status: SmtpStatus, phase: SmtpPhase, detail: impl Into<String>) {
        self.status = status;
        self.phase = phase;
        self.detail = Some(cut(&detail.into(), MAX_TEXT));
    }

    fn end_read(&mut self, status: SmtpStatus, phase: SmtpPhase, f: &ReadFail, what: &str) {
        self.timed_out |= matches!(f, ReadFail::Timeout);
        self.end(status, phase, f.describe(what));
    }
}

/// Why a reply could not be read.
#[derive(Debug)]
enum ReadFail {
    Timeout,
    Closed { partial: bool },
    Io(io::Error),
    Write(io::Error),
    Reply(ReplyError),
}

impl ReadFail {
    fn describe(&self, what: &str) -> String {
        match self {
            Self::Timeout => format!("timeout waiting for {what}"),
            Self::Closed { partial: true } => format!("connection closed in the middle of {what}"),
            Self::Closed { partial: false } => format!("connection closed before {what}"),
            Self::Io(e) => format!("read error waiting for {what}: {e}"),
            Self::Write(e) => format!("write error before {what}: {e}"),
            Self::Reply(e) => format!("{what} was malformed: {e}"),
        }
    }
}

async fn read_reply<S: AsyncRead + Unpin>(
    io: &mut S,
    parser: &mut ReplyParser,
    until: Instant,
) -> Result<Reply, ReadFail> {
    let mut buf = [0u8; READ_CHUNK];
    loop {
        if let Some(r) = parser.next_reply() {
            return r.map_err(ReadFail::Reply);
        }
        match timeout_at(until, io.read(&mut buf)).await {
            Err(_) => return Err(ReadFail::Timeout),
            Ok(Ok(0)) => {
                return Err(ReadFail::Closed {
                    partial: !parser.is_idle(),
                });
            }
            Ok(Ok(n)) => parser.feed(buf.get(..n).unwrap_or_default()),
            Ok(Err(e)) => return Err(ReadFail::Io(e)),
        }
    }
}

async fn send<S: AsyncWrite + Unpin>(
    io: &mut S,
    line: &str,
    until: Instant,
) -> Result<(), ReadFail> {
    // One write per command: on a plain socket two writes are two segments (two `sendto`
    // calls) and over TLS two records, each sealed and sent on its own.
    let mut wire = Vec::with_capacity(line.len() + 2);
    wire.extend_from_slice(line.as_bytes());
    wire.extend_from_slice(b"\r\n");
    let write = async {
        io.write_all(&wire).await?;
        io.flush().await
    };
    match timeout_at(until, write).await {
        Err(_) => Err(ReadFail::Timeout),
        Ok(Err(e)) => Err(ReadFail::Write(e)),
        Ok(Ok(())) => Ok(()),
    }
}

/// Sends one command and reads its reply.
async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    parser: &mut ReplyParser,
    line: &str,
    until: Instant,
) -> Result<Reply, ReadFail> {
    send(io, line, until).await?;
    read_reply(io, parser, until).await
}

/// Best-effort `QUIT`: its outcome never changes the status.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    parser: &mut ReplyParser,
    cfg: &DialogConfig,
    deadline: Instant,
) {
    let until = deadline.min(Instant::now() + cfg.phase_timeout.min(QUIT_WAIT));
    let _ = command(io, parser, "QUIT", until).await;
    let _ = timeout_at(until, io.shutdown()).await;
}

fn lines_capped(r: &Reply) -> Vec<String> {
    r.lines
        .iter()
        .take(MAX_LINES)
        .map(|l| cut(l, MAX_TEXT))
        .collect()
}

/// The EHLO/HELO argument actually sent: `name` without anything outside printable
/// US-ASCII or spaces (no CR/LF command injection from a configuration value), `localhost`
/// if nothing is left. RFC 5321 §4.1.1.1: `ehlo = "EHLO" SP ( Domain / address-literal ) CRLF`.
pub fn sanitize_ehlo_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if clean.is_empty() {
        "localhost".to_owned()
    } else {
        clean
    }
}

/// Classifies a failed handshake: `tls-version-unsupported` when the server only offers a
/// version below TLS 1.2 (or says so with a `protocol_version` alert), else `handshake-failed`.
pub fn classify_handshake_error(e: &io::Error) -> SmtpStatus {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig,
        ))
        | Some(rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)) => {
            SmtpStatus::TlsVersionUnsupported
        }
        _ => SmtpStatus::HandshakeFailed,
    }
}

/// Runs the whole dialog on `io`, using `mx_name` as SNI, and never past `deadline`.
/// `elapsed` in the result counts from the call.
pub async fn run_dialog<S>(io: S, mx_name: &str, cfg: &DialogConfig, deadline: Instant) -> SmtpProbe
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let mut out = SmtpProbe::bare(SmtpStatus::ProtocolError, SmtpPhase::Greeting, None);
    drive(io, mx_name, cfg, deadline, &mut out).await;
    out.elapsed = start.elapsed();
    out
}

async fn drive<S>(
    mut io: S,
    mx_name: &str,
    cfg: &DialogConfig,
    deadline: Instant,
    out: &mut SmtpProbe,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let until = || deadline.min(Instant::now() + cfg.phase_timeout);
    let mut parser = ReplyParser::new(cfg.limits);

    // Greeting. RFC 5321 §3.1: the client waits for the 220 before sending anything.
    let greeting = match read_reply(&mut io, &mut parser, until()).await {
        Ok(r) => r,
        Err(f) => {
            let status = match f {
                ReadFail::Timeout => SmtpStatus::GreetingTimeout,
                _ => SmtpStatus::ProtocolError,
            };
            return out.end_read(status, SmtpPhase::Greeting, &f, "the greeting");
        }
    };
    out.note(&greeting);
    out.greeting = Some(greeting.summary(MAX_TEXT));
    out.greeting_code = Some(greeting.code);
    if greeting.code != 220 {
        if greeting.is_transient() {
            out.end(
                SmtpStatus::GreetingTempfail,
                SmtpPhase::Greeting,
                "4xx greeting",
            );
        } else if greeting.is_permanent() {
            out.end(
                SmtpStatus::GreetingRejected,
                SmtpPhase::Greeting,
                "5xx greeting",
            );
        } else {
            out.end(
                SmtpStatus::ProtocolError,
                SmtpPhase::Greeting,
                format!("unexpected greeting code {}", greeting.code),
            );
        }
        // RFC 5321 §3.1: a server rejecting the session with 554 "MUST still wait for the
        // client to send a QUIT"; a 421 server may already have closed (QUIT then fails fast).
        return quit(&mut io, &mut parser, cfg, deadline).await;
    }

    // EHLO, falling back to HELO after a 5xx.
    let ehlo_name = sanitize_ehlo_name(&cfg.ehlo_name);
    let ehlo_cmd = format!("EHLO {ehlo_name}");
    let ehlo = match command(&mut io, &mut parser, &ehlo_cmd, until()).await {
        Ok(r) => r,
        Err(f) => {
            return out.end_read(
                SmtpStatus::ProtocolError,
                SmtpPhase::Ehlo,
                &f,
                "the EHLO reply",
            );
        }
    };
    out.note(&ehlo);
    out.ehlo_code = Some(ehlo.code);
    if ehlo.code == 250 {
        out.ehlo_lines = lines_capped(&ehlo);
        let caps = Capabilities::from_ehlo(&ehlo.lines);
        out.starttls_offered = Some(caps.starttls);
        out.capabilities = Some(caps);
    } else if ehlo.is_permanent() {
        // A server that refuses EHLO has no extensions to offer (RFC 5321 §2.2.1: HELO is
        // the fallback), so no STARTTLS either way.
        out.starttls_offered = Some(false);
        out.used_helo = true;
        let helo = match command(&mut io, &mut parser, &format!("HELO {ehlo_name}"), until()).await
        {
            Ok(r) => r,
            Err(f) => {
                return out.end_read(
                    SmtpStatus::ProtocolError,
                    SmtpPhase::Helo,
                    &f,
                    "the HELO reply",
                );
            }
        };
        out.note(&helo);
        if helo.code == 250 {
            out.end(
                SmtpStatus::StarttlsNotOffered,
                SmtpPhase::Helo,
                "EHLO refused, HELO accepted: no extensions",
            );
        } else if helo.is_transient() || helo.is_permanent() {
            out.end(
                SmtpStatus::EhloRejected,
                SmtpPhase::Helo,
                format!("EHLO refused ({}), HELO refused ({})", ehlo.code, helo.code),
            );
        } else {
            out.end(
                SmtpStatus::ProtocolError,
                SmtpPhase::Helo,
                format!("unexpected HELO reply code {}", helo.code),
            );
        }
        return quit(&mut io, &mut parser, cfg, deadline).await;
    } else if ehlo.is_transient() {
        // A 4xx says nothing about the server's extensions: `starttls_offered` stays unknown.
        out.end(
            SmtpStatus::EhloRejected,
            SmtpPhase::Ehlo,
            format!("EHLO refused with {}", ehlo.code),
        );
        return quit(&mut io, &mut parser, cfg, deadline).await;
    } else {
        out.end(
            SmtpStatus::ProtocolError,
            SmtpPhase::Ehlo,
            format!("unexpected EHLO reply code {}", ehlo.code),
        );
        return quit(&mut io, &mut parser, cfg, deadline).await;
    }

    if out.starttls_offered != Some(true) {
        out.end(
            SmtpStatus::StarttlsNotOffered,
            SmtpPhase::Ehlo,
            "STARTTLS not in the EHLO reply",
        );
        return quit(&mut io, &mut parser, cfg, deadline).await;
    }

    // STARTTLS (RFC 3207 §4).
    let reply = match command(&mut io, &mut parser, "STARTTLS", until()).await {
        Ok(r) => r,
        Err(f) => {
            return out.end_read(
                SmtpStatus::ProtocolError,
                SmtpPhase::Starttls,
                &f,
                "the STARTTLS reply",
            );
        }
    };
    out.note(&reply);
    out.starttls_reply = Some(reply.summary(MAX_TEXT));
    out.starttls_code = Some(reply.code);
    if reply.code != 220 {
        if reply.is_transient() || reply.is_permanent() {
            out.end(
                SmtpStatus::StarttlsRefused,
                SmtpPhase::Starttls,
                format!("STARTTLS refused with {}", reply.code),
            );
            return quit(&mut io, &mut parser, cfg, deadline).await;
        }
        out.end(
            SmtpStatus::ProtocolError,
            SmtpPhase::Starttls,
            format!("unexpected STARTTLS reply code {}", reply.code),
        );
        return quit(&mut io, &mut parser, cfg, deadline).await;
    }

    // Anything the server sent after its 220 and before our ClientHello is injection: what is
    // already buffered, plus what is already readable without waiting.
    let mut injected = parser.buffered().to_vec();
    let mut buf = [0u8; READ_CHUNK];
    if let Some(Ok(n)) = io.read(&mut buf).now_or_never() {
        injected.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    if !injected.is_empty() {
        out.starttls_injection = true;
        injected.truncate(MAX_INJECTED);
        out.injected_bytes = injected;
    }
    drop(parser);

    // TLS handshake with SNI = the MX name.
    let name = mx_name.trim_end_matches('.').to_owned();
    out.sni = Some(name.clone());
    let Ok(server_name) = ServerName::try_from(name) else {
        return out.end(
            SmtpStatus::HandshakeFailed,
            SmtpPhase::TlsHandshake,
            format!("MX name {mx_name:?} is not a valid TLS server name"),
        );
    };
    let connector = TlsConnector::from(cfg.tls.clone());
    // The TLS client's first reads are recorded: plaintext the server sends after the check
    // above arrives there, where the ServerHello should be.
    // The TLS 1.3 client's last flight waits for the EHLO below: one segment for both.
    let io = Recorder::new(Coalesce::new(io), MAX_INJECTED);
    let handshake = connector.connect(server_name, io).into_fallible();
    let mut tls = match timeout_at(until(), handshake).await {
        Err(_) => {
            out.timed_out = true;
            return out.end(
                SmtpStatus::HandshakeFailed,
                SmtpPhase::TlsHandshake,
                "timeout in the TLS handshake",
            );
        }
        Ok(Err((e, io))) => {
            if let Some(text) = late_plaintext(io.first_bytes()) {
                // RFC 3207 §4.2: the server sent plaintext where the TLS negotiation must
                // begin; a sender's TLS client fails here too.
                out.starttls_injection = true;
                let room = MAX_INJECTED.saturating_sub(out.injected_bytes.len());
                out.injected_bytes
                    .extend_from_slice(text.get(..room.min(text.len())).unwrap_or_default());
                return out.end(
                    SmtpStatus::HandshakeFailed,
                    SmtpPhase::TlsHandshake,
                    format!(
                        "plaintext instead of a TLS record after the 220 to STARTTLS: {:?} (TLS handshake: {e})",
                        String::from_utf8_lossy(text.get(..64.min(text.len())).unwrap_or_default())
                    ),
                );
            }
            let status = classify_handshake_error(&e);
            return out.end(
                status,
                SmtpPhase::TlsHandshake,
                format!("TLS handshake: {e}"),
            );
        }
        Ok(Ok(tls)) => tls,
    };
    tls.get_mut().0.get_mut().handshake_done();
    let session = TlsSession::from_connection(tls.get_ref().1);
    out.tls_version = session.version;
    out.tls_cipher = session.cipher_suite;
    out.chain = session.chain;

    // RFC 3207 §4.2: the client MUST discard any knowledge obtained from the server and
    // SHOULD send EHLO as the first command after a successful TLS negotiation.
    let mut parser = ReplyParser::new(cfg.limits);
    let ehlo = match command(&mut tls, &mut parser, &ehlo_cmd, until()).await {
        Ok(r) => r,
        Err(f) => {
            return out.end_read(
                SmtpStatus::PostTlsError,
                SmtpPhase::EhloTls,
                &f,
                "the EHLO reply over TLS",
            );
        }
    };
    out.note(&ehlo);
    out.ehlo_tls_code = Some(ehlo.code);
    out.ehlo_tls_lines = lines_capped(&ehlo);
    if ehlo.code == 250 {
        out.capabilities_tls = Some(Capabilities::from_ehlo(&ehlo.lines));
    }
    if ehlo.code != 250 {
        out.end(
            SmtpStatus::PostTlsError,
            SmtpPhase::EhloTls,
            format!("EHLO over TLS answered {}", ehlo.code),
        );
        return quit(&mut tls, &mut parser, cfg, deadline).await;
    }
    out.status = SmtpStatus::Ok;
    out.phase = SmtpPhase::Quit;
    out.detail = None;
    quit(&mut tls, &mut parser, cfg, deadline).await;
    out.phase = SmtpPhase::Done;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5321 §2.4: "Verbs and argument values (e.g., "TO:" or "to:" in the RCPT command
    /// and extension name keywords) are not case sensitive". §4.1.1.1: the first line of the
    /// EHLO reply is the server's domain, each further line one `ehlo-line`.
    #[test]
    fn capabilities_are_case_insensitive_and_skip_the_domain_line() {
        let lines: Vec<String> = [
            "STARTTLS.example greets you",
            "pipelining",
            "Size 1000",
            "StartTLS",
            "8bitmime",
            "SMTPUTF8",
            "CHUNKING",
            "ENHANCEDSTATUSCODES",
            "REQUIRETLS",
            "X-FOO bar baz",
            "",
        ]
        .map(String::from)
        .to_vec();
        let c = Capabilities::from_ehlo(&lines);
        assert!(c.starttls && c.pipelining && c.eightbitmime && c.smtputf8);
        assert!(c.chunking && c.enhancedstatuscodes && c.requiretls);
        assert_eq!(c.size, Some(Some(1000)));
        assert_eq!(c.keywords.first().map(String::as_str), Some("PIPELINING"));
        assert!(c.keywords.contains(&"X-FOO".to_owned()));
        // The domain line alone advertises nothing, even if it spells a keyword.
        let c = Capabilities::from_ehlo(&lines[..1]);
        assert_eq!(c, Capabilities::default());
        // SIZE without a number (RFC 1870 allows it) or with junk.
        let c = Capabilities::from_ehlo(&["d".into(), "SIZE".into()]);
        assert_eq!(c.size, Some(None));
        let c = Capabilities::from_ehlo(&["d".into(), "SIZE lots".into()]);
        assert_eq!(c.size, Some(None));
        // Capped.
        let many: Vec<String> = (0..500).map(|i| format!("X{i}")).collect();
        assert_eq!(Capabilities::from_ehlo(&many).keywords.len(), MAX_LINES);
    }

    #[test]
    fn ehlo_name_cannot_inject_commands() {
        assert_eq!(
            sanitize_ehlo_name("scanner.example.net"),
            "scanner.example.net"
        );
        assert_eq!(sanitize_ehlo_name("[192.0.2.1]"), "[192.0.2.1]");
        assert_eq!(sanitize_ehlo_name("a\r\nMAIL FROM:<x>"), "aMAILFROM:<x>");
        assert_eq!(sanitize_ehlo_name(" \r\n"), "localhost");
        assert_eq!(sanitize_ehlo_name(&"a".repeat(1000)).len(), 255);
    }

    #[test]
    fn handshake_errors_are_classified() {
        let wrap = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let version = [
            wrap(PeerIncompatible::ServerDoesNotSupportTls12Or13.into()),
            wrap(PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig.into()),
            wrap(rustls::Error::AlertReceived(
                AlertDescription::ProtocolVersion,
            )),
        ];
        for e in &version {
            assert_eq!(
                classify_handshake_error(e),
                SmtpStatus::TlsVersionUnsupported
            );
        }
        let other = [
            wrap(PeerIncompatible::NoCipherSuitesInCommon.into()),
            wrap(rustls::Error::AlertReceived(
                AlertDescription::HandshakeFailure,
            )),
            io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof"),
            io::Error::other("boom"),
        ];
        for e in &other {
            assert_eq!(classify_handshake_error(e), SmtpStatus::HandshakeFailed);
        }
    }

    /// Records every write the dialog makes, as it makes it.
    struct Writes<S> {
        inner: S,
        seen: Vec<Vec<u8>>,
    }

    impl<S: AsyncRead + Unpin> AsyncRead for Writes<S> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<S: AsyncWrite + Unpin> AsyncWrite for Writes<S> {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
            if let std::task::Poll::Ready(Ok(n)) = r {
                let written = buf.get(..n).unwrap_or_default().to_vec();
                self.seen.push(written);
            }
            r
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Each command leaves in one write (one segment on a socket, one record over TLS), CRLF
    /// included. RFC 5321 §2.3.8: "Lines consist of zero or more data characters terminated
    /// by the sequence ASCII character "CR" (hex value 0D) followed immediately by ASCII
    /// character "LF" (hex value 0A)."
    #[tokio::test]
    async fn every_command_is_one_write_ending_in_crlf() {
        let (client, mut server) = tokio::io::duplex(4096);
        let srv = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            server.write_all(b"220 mx.example ESMTP\r\n").await?;
            for reply in [&b"250-mx.example\r\n250 PIPELINING\r\n"[..], b"221 bye\r\n"] {
                let n = server.read(&mut buf).await?;
                got.extend_from_slice(buf.get(..n).unwrap_or_default());
                server.write_all(reply).await?;
            }
            io::Result::Ok(got)
        });
        let mut io = Writes {
            inner: client,
            seen: Vec::new(),
        };
        let cfg = DialogConfig {
            ehlo_name: "scanner.example".into(),
            phase_timeout: Duration::from_secs(5),
            tls: crate::tls::capturing_client_config(&crate::tls::TrustAnchors::empty())
                .expect("client config"),
            limits: ReplyLimits::default(),
        };
        let mut out = SmtpProbe::bare(SmtpStatus::ProtocolError, SmtpPhase::Greeting, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        drive(&mut io, "mx.example", &cfg, deadline, &mut out).await;
        assert_eq!(out.status, SmtpStatus::StarttlsNotOffered);
        assert_eq!(
            io.seen,
            vec![b"EHLO scanner.example\r\n".to_vec(), b"QUIT\r\n".to_vec()]
        );
        let got = srv.await.expect("server task").expect("server io");
        assert_eq!(got, b"EHLO scanner.example\r\nQUIT\r\n");
    }

    #[test]
    fn injection_is_null_without_a_220() {
        let mut p = SmtpProbe::bare(SmtpStatus::StarttlsRefused, SmtpPhase::Starttls, None);
        assert_eq!(p.injection(), None);
        p.starttls_code = Some(454);
        assert_eq!(p.injection(), None);
        p.starttls_code = Some(220);
        assert_eq!(p.injection(), Some(false));
        p.starttls_injection = true;
        assert_eq!(p.injection(), Some(true));
        assert_eq!(p.starttls_after_tls(), None);
    }
}
