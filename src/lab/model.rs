//! The contract between a lab *world* (what exists: domains, records, hosts, scenarios) and the
//! lab *servers* (how DNS, HTTPS and SMTP hosts behave on the wire).
//!
//! A world is a pure description: every method is a function of its arguments and the world's
//! own parameters, so a generated ten-million-domain world needs no memory per domain. The
//! servers in [`crate::lab::server`] call these methods on every query, request and connection.
//!
//! Names passed to and returned from a world are lowercase, without a trailing dot.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bytes::Bytes;
use hickory_proto::rr::RecordType;

/// Everything a lab server needs to know about the world it serves.
pub trait World: Send + Sync + 'static {
    /// The DNS answer for `qname` (lowercase, no trailing dot) and `qtype`.
    fn dns(&self, qname: &str, qtype: RecordType) -> DnsReply;

    /// The addresses the lab must listen on. Hosts whose address is *not* listed here refuse
    /// connections for real (nothing listens there), which is how "policy host refuses 443"
    /// is simulated. The lists are small (at most a few thousand addresses) whatever the
    /// number of domains: generated worlds pool hosts on shared addresses.
    fn listeners(&self) -> Listeners;

    /// The certificate an HTTPS host at `addr` presents for the SNI name (None: no SNI sent).
    fn https_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec;

    /// How the HTTPS host at `addr` answers a request for `path` with the given SNI and
    /// `Host` header.
    fn https_response(
        &self,
        addr: IpAddr,
        sni: Option<&str>,
        host: Option<&str>,
        path: &str,
    ) -> HttpBehaviour;

    /// How the SMTP host at `addr` behaves (decided per address: there is no SNI before the
    /// greeting).
    fn smtp_personality(&self, addr: IpAddr) -> SmtpPersonality;

    /// The certificate the SMTP host at `addr` presents after STARTTLS for the SNI name.
    fn smtp_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec;
}

/// Addresses the lab binds, per service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listeners {
    /// HTTPS policy hosts.
    pub https: Vec<IpAddr>,
    /// SMTP MX hosts.
    pub smtp: Vec<IpAddr>,
    /// "Black holes": on these addresses the HTTPS and SMTP ports are bound but nothing is
    /// ever accepted, and the listen queue is kept full, so a client's connection attempt
    /// (its SYN) is never answered and `connect()` times out — a filtered host, on loopback.
    /// See `crate::lab::server` for the trick and its limits.
    pub blackhole: Vec<IpAddr>,
}

/// What the DNS server does with one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsReply {
    /// The response (or lack of one).
    pub outcome: DnsOutcome,
    /// Latency injected before answering.
    pub delay: Duration,
    /// Share of such queries the server silently drops at random (packet loss). Unlike
    /// [`DnsOutcome::Drop`] this is a draw per received query, so a retry can succeed.
    pub drop_rate: DropRate,
}

impl DnsReply {
    /// An immediate reply with `outcome`, never dropped at random.
    pub fn now(outcome: DnsOutcome) -> Self {
        DnsReply {
            outcome,
            delay: Duration::ZERO,
            drop_rate: DropRate::NONE,
        }
    }
}

/// A probability of dropping a query, in parts per million (0 = never, 1 000 000 = always).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct DropRate(u32);

impl DropRate {
    /// Never drop.
    pub const NONE: DropRate = DropRate(0);
    /// Drop everything.
    pub const ALL: DropRate = DropRate(1_000_000);

    /// The rate for a probability in `0.0..=1.0` (rounded to parts per million); None for
    /// anything else (negative, above 1, NaN).
    pub fn from_probability(p: f64) -> Option<DropRate> {
        if !(0.0..=1.0).contains(&p) {
            return None;
        }
        // In range and finite, so the product fits a u32.
        Some(DropRate((p * 1_000_000.0).round() as u32))
    }

    /// The rate in parts per million (at most 1 000 000).
    pub fn ppm(self) -> u32 {
        self.0.min(1_000_000)
    }

    /// The rate as a probability.
    pub fn probability(self) -> f64 {
        f64::from(self.ppm()) / 1_000_000.0
    }

    /// True when nothing is ever dropped.
    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// Whether a query whose uniformly distributed 64-bit draw is `draw` is dropped.
    pub fn drops(self, draw: u64) -> bool {
        draw % 1_000_000 < u64::from(self.ppm())
    }
}

/// The response to one DNS query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsOutcome {
    /// RCODE NOERROR with these answer records (empty: NODATA). A CNAME chain is given as the
    /// CNAME records followed by the records of the final target, as a recursive resolver
    /// would return them.
    Answer {
        /// Answer-section records, in order.
        records: Vec<LabRecord>,
        /// Over UDP, send an empty answer with the TC bit set so the client must retry over
        /// TCP; over TCP, answer normally.
        truncate_udp: bool,
    },
    /// RCODE NXDOMAIN.
    NxDomain,
    /// RCODE NXDOMAIN with these CNAME records in the answer section: a chain whose last
    /// target does not exist (a dangling alias). RFC 6604 §3: "The RCODE in the ultimate DNS
    /// response MUST BE set based on the final query cycle leading to that response." An SOA
    /// is put in the authority section, as for [`DnsOutcome::NxDomain`].
    NxDomainAfterCname {
        /// The CNAME records, in chain order, starting at the query name.
        records: Vec<LabRecord>,
    },
    /// RCODE SERVFAIL.
    ServFail,
    /// RCODE REFUSED.
    Refused,
    /// No response at all (the client times out).
    Drop,
}

/// One resource record in a lab answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabRecord {
    /// Owner name (lowercase, no trailing dot).
    pub name: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// The record data.
    pub data: LabRData,
}

/// Record data the lab can serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabRData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger; `exchange` is `""` for a null MX (RFC 7505, the root name `.`).
    Mx {
        /// Preference (lower is preferred).
        preference: u16,
        /// Target name, lowercase without trailing dot; `""` is the root.
        exchange: String,
    },
    /// A TXT record made of one or more character-strings (each at most 255 bytes).
    Txt(Vec<Vec<u8>>),
    /// An alias to another name.
    Cname(String),
}

/// Which certificate a TLS host presents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertSpec {
    /// DNS names in the subjectAltName extension (may include `*.example` wildcards). The
    /// subject CN is the first name, or a fixed lab string if empty.
    pub names: Vec<String>,
    /// How the certificate is made and presented.
    pub variant: CertVariant,
}

/// How a lab certificate is made and presented. Unless stated otherwise a leaf is issued by
/// the lab's intermediate CA, which is issued by the lab root (the root's PEM is the file
/// clients trust), and the server sends leaf + intermediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertVariant {
    /// Currently valid.
    Valid,
    /// notAfter in the past.
    Expired,
    /// notBefore in the future.
    NotYetValid,
    /// Self-signed leaf (issuer = subject), not chaining to the lab root.
    SelfSigned,
    /// Issued by a CA that clients do not trust (a second, unpublished lab root).
    UnknownCa,
    /// Valid, but the server sends only the leaf, without the intermediate.
    MissingIntermediate,
    /// Valid but expiring in the given number of days (for monitoring scenarios).
    ExpiresInDays(u16),
    /// Issued by the lab intermediate and sent with it, in its validity period, but with an
    /// extendedKeyUsage of `clientAuth` only: a client certificate installed as the server
    /// certificate. RFC 5280 §4.2.1.12: "If the extension is present, then the certificate
    /// MUST only be used for one of the purposes indicated", so path validation for a TLS
    /// server fails (`invalid`: a chain problem that is neither time nor trust).
    WrongPurpose,
    /// No certificate at all for this name: the server aborts the handshake with a fatal
    /// alert (rustls sends `access_denied`) right after the ClientHello, as servers set up to
    /// reject unknown SNI names do (e.g. nginx `ssl_reject_handshake on`). A TLS failure that
    /// is not a certificate problem: no certificate is ever sent.
    NoCertificate,
}

/// What an HTTPS host does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpBehaviour {
    /// Send this response.
    Respond(HttpResponse),
    /// Read the request and then send nothing, holding the connection open (a tarpit); the
    /// server drops it after a long bound (minutes) so tests end.
    Stall,
    /// Close the connection right after the TLS handshake, without a response.
    Close,
}

/// An HTTP/1.1 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code, e.g. 200, 301, 404.
    pub status: u16,
    /// Header fields, in order (e.g. `Content-Type`, `Location`). `Content-Length` or
    /// `Transfer-Encoding` are added by the server according to `framing`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// How the body is framed.
    pub framing: BodyFraming,
}

/// How a response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// `Content-Length` header.
    ContentLength,
    /// `Transfer-Encoding: chunked` (no length announced).
    Chunked,
}

/// How an SMTP host behaves. Each variant models a behaviour seen in the field (see
/// `shared/scenarios.md`); where a variant says "normal", the dialog is: `220` greeting,
/// `250-` EHLO reply advertising `PIPELINING`, `SIZE`, `STARTTLS`, `8BITMIME`, then `220`
/// to STARTTLS, a TLS handshake with the certificate from [`World::smtp_cert`], a second
/// EHLO (without STARTTLS), `221` to QUIT; any other command gets `502`; no mail is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmtpPersonality {
    /// The normal dialog (Postfix-like).
    Normal,
    /// EHLO does not advertise STARTTLS; STARTTLS gets `502`.
    NoStarttls,
    /// STARTTLS advertised but answered `454 4.7.0 TLS not available`.
    StarttlsRefused,
    /// `220` to STARTTLS, then the connection is closed instead of a TLS handshake.
    HandshakeAbort,
    /// Only TLS 1.0/1.1: answers the ClientHello with a TLS 1.0 ServerHello/alert that a
    /// modern client rejects as a protocol-version failure.
    LegacyTlsOnly,
    /// A multi-line `220-` greeting (three lines).
    MultilineGreeting,
    /// The greeting is sent after a delay (postscreen-like).
    SlowGreeting {
        /// Delay before the greeting, in milliseconds.
        delay_ms: u32,
    },
    /// Sends its greeting one byte at a time, one byte every `interval_ms`, forever (tarpit).
    Tarpit {
        /// Milliseconds between bytes.
        interval_ms: u32,
    },
    /// Normal, but answers `421 4.7.0 Too many connections` and closes when more than
    /// `limit` connections to this address are open at once.
    ConnectionLimit {
        /// Concurrent connections allowed.
        limit: u16,
    },
    /// Greets with `554 5.7.1 No SMTP service here`, answers every command with `503` and
    /// closes after `QUIT` (RFC 5321 §3.1), the idle timeout or the command limit.
    RejectGreeting,
    /// Greets with `421 4.3.2 Service not available` and closes.
    TempFailGreeting,
    /// Sends binary garbage instead of a greeting, then closes.
    Garbage,
    /// Answers EHLO with an endless stream of `250-` continuation lines.
    EndlessContinuation,
    /// Sends extra plaintext bytes right after `220 Ready to start TLS` (the STARTTLS
    /// command-injection class), then proceeds normally.
    PipelinedAfterStarttls,
    /// Answers STARTTLS with `220 2.0.0 Ready to start TLS`; once the client's ClientHello
    /// is arriving, waits
    /// [`LATE_INJECTION_DELAY`](crate::lab::server::smtp::LATE_INJECTION_DELAY) and sends the
    /// plaintext [`LATE_INJECTED`](crate::lab::server::smtp::LATE_INJECTED) (`250 injected`),
    /// then answers the ClientHello normally. The plaintext can never arrive with the `220`:
    /// a client's TLS layer reads it where the ServerHello should be and the handshake fails
    /// (the STARTTLS injection class, late variant).
    LateInjectionAfterStarttls,
    /// Closes the connection right after answering EHLO.
    CloseAfterEhlo,
    /// Answers EHLO with `502` (HELO-only server); HELO gets `250`.
    HeloOnly,
    /// Answers both EHLO and HELO with `550 5.7.1` (a server refusing this client).
    RejectEhloAndHelo,
    /// Normal up to a completed TLS handshake, then closes the connection (TLS close_notify)
    /// instead of answering the EHLO sent over TLS.
    CloseAfterTls,
    /// Normal up to a completed TLS handshake, then answers the EHLO sent over TLS with
    /// `554 5.7.0 Too many TLS sessions` and closes.
    RejectEhloAfterTls,
}
