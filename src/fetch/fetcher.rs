//! The fetcher itself: configuration, result record and the request/response handling.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::redirect::Policy;
use ring::digest::{SHA256, digest};
use rustls::pki_types::CertificateDer;

use super::classify::{classify, detail};
use crate::gate::AddressGate;
use crate::tls::{ChainVerdict, HandshakeSlot, TrustAnchors, capturing_client_config_with_slot};

/// The User-Agent sent when none is configured: the scanner's name, version and a contact URL.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "stsscan/",
    env!("CARGO_PKG_VERSION"),
    " (MTA-STS measurement; +https://github.com/stsscan/stsscan)"
);

/// At most this many addresses of the policy host are tried.
pub const MAX_ADDRESSES: usize = 8;
// the DNS layer keeps at least this many addresses per family of a host
const _: () = assert!(MAX_ADDRESSES <= crate::dns::MAX_ADDRESSES_PER_FAMILY);

/// Slack after the total deadline before the outer guard cancels an exchange.
const GUARD_GRACE: Duration = Duration::from_millis(250);

/// Longest header value (Content-Type, Location) kept, in bytes.
const MAX_HEADER_VALUE: usize = 1024;

/// How to fetch policies.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Anchors the policy host's chain is judged against.
    pub anchors: TrustAnchors,
    /// The User-Agent header (identify the scanner, with a contact URL).
    pub user_agent: String,
    /// Timeout of the TCP connect plus TLS handshake, per address (a TCP connect that does
    /// not complete is `connect-timeout`, a stalled handshake `timeout`).
    pub connect_timeout: Duration,
    /// Deadline for the whole fetch (all addresses, headers and body). When it fires, the
    /// outcome says what was pending: a TCP connect (`connect-timeout`) or, once connected,
    /// the handshake or the response (`timeout`).
    pub total_timeout: Duration,
    /// The HTTPS port (443; the lab moves it). Sent in the URL (and `Host`) when not 443.
    pub https_port: u16,
    /// Largest accepted body in bytes (RFC 8461 policies are small; 65536 by default).
    pub max_body: usize,
    /// Politeness per destination address (connections at once and their rate), shared with
    /// the STARTTLS prober in a scan; `None` for none. Waiting here comes before the fetch's
    /// timeouts start, so queueing behind other fetches to a hosting vendor's address never
    /// turns into a `timeout`.
    pub gate: Option<Arc<AddressGate>>,
}

impl FetchConfig {
    /// Defaults: [`DEFAULT_USER_AGENT`], 10 s connect, 30 s total, port 443, 64 KiB.
    pub fn new(anchors: TrustAnchors) -> Self {
        FetchConfig {
            anchors,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            connect_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            https_port: 443,
            max_body: 65536,
            gate: None,
        }
    }
}

/// Outcome of a policy fetch: the `policy_fetch` values of `docs/ground-truth.md` that are
/// decided by the fetch itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchOutcome {
    /// `ok`: status 200 and a body of at most `max_body` bytes, whatever the certificate.
    Ok,
    /// `http-status`: a status that is neither 200 nor 3xx.
    HttpStatus,
    /// `redirect`: a 3xx status; RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed, and
    /// HTTP caching (as specified in \[RFC7234\]) MUST NOT be used."
    Redirect,
    /// `too-large`: the body (announced or received) exceeds `max_body` bytes.
    TooLarge,
    /// `host-not-found`: no address was given for `mta-sts.<domain>` (or the name cannot be
    /// a host); the DNS layer normally records this before the fetch.
    HostNotFound,
    /// `connect-refused`: the TCP connect to the last address tried failed without a
    /// connection: refused (RST), unreachable (ICMP), or failed locally (no route for the
    /// address family, a source address not available, not permitted: `ENETUNREACH`,
    /// `EAFNOSUPPORT`, `EADDRNOTAVAIL`, `EACCES`, `EPERM`). The OS error is in `detail`. Never
    /// a TLS outcome: no handshake started.
    ConnectRefused,
    /// `connect-timeout`: no TCP connection was established in time: the connect timeout
    /// expired, or the whole-fetch deadline fired while a TCP connect (to any of the
    /// addresses) was still pending.
    ConnectTimeout,
    /// `tls-error`: TCP connected but the TLS handshake failed for a reason other than the
    /// certificate (alert, protocol error, bad handshake signature, peer closed mid-way).
    TlsError,
    /// `timeout`: connected, but the response was not complete before the deadline.
    Timeout,
    /// `connection-closed`: the connection ended without a complete, parsable response.
    ConnectionClosed,
}

impl FetchOutcome {
    /// Every value.
    pub const ALL: [FetchOutcome; 10] = [
        FetchOutcome::Ok,
        FetchOutcome::HttpStatus,
        FetchOutcome::Redirect,
        FetchOutcome::TooLarge,
        FetchOutcome::HostNotFound,
        FetchOutcome::ConnectRefused,
        FetchOutcome::ConnectTimeout,
        FetchOutcome::TlsError,
        FetchOutcome::Timeout,
        FetchOutcome::ConnectionClosed,
    ];

    /// The kebab-case string written to the output.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchOutcome::Ok => "ok",
            FetchOutcome::HttpStatus => "http-status",
            FetchOutcome::Redirect => "redirect",
            FetchOutcome::TooLarge => "too-large",
            FetchOutcome::HostNotFound => "host-not-found",
            FetchOutcome::ConnectRefused => "connect-refused",
            FetchOutcome::ConnectTimeout => "connect-timeout",
            FetchOutcome::TlsError => "tls-error",
            FetchOutcome::Timeout => "timeout",
            FetchOutcome::ConnectionClosed => "connection-closed",
        }
    }

    /// Whether a TLS handshake completed (so a certificate verdict is meaningful).
    pub fn handshake_completed(self) -> bool {
        !matches!(
            self,
            FetchOutcome::HostNotFound
                | FetchOutcome::ConnectRefused
                | FetchOutcome::ConnectTimeout
                | FetchOutcome::TlsError
        )
    }
}

impl std::fmt::Display for FetchOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything observed during one policy fetch.
#[derive(Debug, Clone)]
pub struct PolicyFetch {
    /// The outcome.
    pub outcome: FetchOutcome,
    /// The URL requested.
    pub url: String,
    /// The address of the last attempt (the one that answered, if any).
    pub address: Option<SocketAddr>,
    /// How many addresses were tried.
    pub attempts: usize,
    /// The HTTP status, when a response head was received.
    pub http_status: Option<u16>,
    /// The `Content-Type` header as sent (lossy UTF-8, capped at 1 KiB).
    pub content_type: Option<String>,
    /// The `Location` header of a 3xx (never followed; lossy UTF-8, capped at 1 KiB).
    pub location: Option<String>,
    /// The announced `Content-Length`, if any.
    pub content_length: Option<u64>,
    /// The body, only when `outcome` is `ok` (at most `max_body` bytes).
    pub body: Option<Bytes>,
    /// Bytes of body read (for `too-large` read while streaming: `max_body + 1`).
    pub body_len: Option<u64>,
    /// SHA-256 of the body (lowercase hex), when `outcome` is `ok`.
    pub body_sha256: Option<String>,
    /// The chain the policy host presented, leaf first (empty if none was seen).
    pub chain: Vec<CertificateDer<'static>>,
    /// The chain's verdict (no name), when the handshake completed.
    pub chain_verdict: Option<ChainVerdict>,
    /// The verdict for `mta-sts.<domain>` (RFC 8461 §3.3: the Policy Host's certificate must be
    /// valid for the "mta-sts" name, chain to a trusted root CA and be non-expired), when the
    /// handshake completed. This is `policy_cert`.
    pub cert_verdict: Option<ChainVerdict>,
    /// Negotiated TLS version (`TLSv1.3`, `TLSv1.2`), when a response was received.
    pub tls_version: Option<String>,
    /// Negotiated cipher suite: reqwest does not expose it; known only for TLS 1.3 when the
    /// server issued a session ticket (see module docs), else `None`.
    pub tls_cipher: Option<String>,
    /// Negotiated key exchange group (e.g. `X25519`), when the handshake completed.
    pub tls_kx_group: Option<String>,
    /// Free-text detail for anything but `ok`.
    pub detail: Option<String>,
    /// Wall time of the whole fetch.
    pub elapsed: Duration,
}

impl PolicyFetch {
    fn new(url: String) -> Self {
        PolicyFetch {
            outcome: FetchOutcome::HostNotFound,
            url,
            address: None,
            attempts: 0,
            http_status: None,
            content_type: None,
            location: None,
            content_length: None,
            body: None,
            body_len: None,
            body_sha256: None,
            chain: Vec::new(),
            chain_verdict: None,
            cert_verdict: None,
            tls_version: None,
            tls_cipher: None,
            tls_kx_group: None,
            detail: None,
            elapsed: Duration::ZERO,
        }
    }
}

/// The policy URL for `domain` (an A-label) on `port`: RFC 8461 §3.3
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt`; a non-443 port is written in the URL.
pub fn policy_url(domain: &str, port: u16) -> String {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if port == 443 {
        format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")
    } else {
        format!("https://mta-sts.{domain}:{port}/.well-known/mta-sts.txt")
    }
}

/// Fetches MTA-STS policies. Share one per scan; each fetch builds its own reqwest client
/// (the certificate slot is per connection), sharing the anchors.
#[derive(Debug, Clone)]
pub struct PolicyFetcher {
    config: FetchConfig,
    /// Source address of the connections; `None` (always, outside the unit tests): the OS
    /// chooses. The unit tests set an address the host does not have, to provoke a connect
    /// that fails locally without sending anything.
    local_address: Option<IpAddr>,
}

/// A [`FetchConfig`] that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchConfigError {
    /// The User-Agent is not a valid HTTP header value (control characters, non-visible
    /// bytes).
    #[error("invalid User-Agent {0:?}: not a valid HTTP header value")]
    UserAgent(String),
    /// A timeout is zero.
    #[error("the {0} timeout must be greater than zero")]
    ZeroTimeout(&'static str),
}

impl PolicyFetcher {
    /// A fetcher with `config`, unchecked: with an invalid User-Agent every fetch ends in
    /// `tls-error` with a configuration detail. Prefer [`PolicyFetcher::try_new`].
    pub fn new(config: FetchConfig) -> Self {
        PolicyFetcher {
            config,
            local_address: None,
        }
    }

    /// A fetcher with `config`, checked: the User-Agent must be a valid header value and the
    /// timeouts non-zero.
    pub fn try_new(config: FetchConfig) -> Result<Self, FetchConfigError> {
        if reqwest::header::HeaderValue::from_str(&config.user_agent).is_err() {
            return Err(FetchConfigError::UserAgent(config.user_agent));
        }
        if config.connect_timeout.is_zero() {
            return Err(FetchConfigError::ZeroTimeout("connect"));
        }
        if config.total_timeout.is_zero() {
            return Err(FetchConfigError::ZeroTimeout("total"));
        }
        Ok(PolicyFetcher::new(config))
    }

    /// The configuration.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` from `addrs` (already
    /// resolved and vetted by the caller). Never fails: every outcome is a value.
    pub async fn fetch(&self, domain: &str, addrs: &[IpAddr]) -> PolicyFetch {
        let started = Instant::now();
        let mut deadline = started + self.config.total_timeout;
        let mut queued_total = Duration::ZERO;
        let domain = domain
            .strip_suffix('.')
            .unwrap_or(domain)
            .to_ascii_lowercase();
        let host = format!("mta-sts.{domain}");
        let url = policy_url(&domain, self.config.https_port);
        let mut result = PolicyFetch::new(url.clone());
        let parsed = match reqwest::Url::parse(&url) {
            Ok(u) if u.host_str() == Some(host.as_str()) => u,
            _ => {
                result.detail = Some(format!("{host} is not a valid host name"));
                return result;
            }
        };
        if addrs.is_empty() {
            result.detail = Some(format!("no address for {host}"));
            return result;
        }
        for ip in addrs.iter().take(MAX_ADDRESSES) {
            // The wait for the address's politeness slot does not count against the fetch.
            let queued = Instant::now();
            let _pass = match &self.config.gate {
                Some(g) => Some(g.enter(*ip).await),
                None => None,
            };
            let waited = queued.elapsed();
            deadline += waited;
            queued_total += waited;
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let addr = SocketAddr::new(*ip, self.config.https_port);
            let mut attempt = PolicyFetch::new(url.clone());
            attempt.address = Some(addr);
            attempt.attempts = result.attempts + 1;
            self.attempt(&host, &parsed, addr, deadline, &mut attempt)
                .await;
            let retry = matches!(
                attempt.outcome,
                FetchOutcome::ConnectRefused | FetchOutcome::ConnectTimeout
            );
            result = attempt;
            if !retry {
                break;
            }
        }
        if result.attempts == 0 {
            result.outcome = FetchOutcome::ConnectTimeout;
            result.detail = Some("deadline passed before connecting".to_owned());
        }
        // the fetch's own time, not the wait for politeness slots
        result.elapsed = started.elapsed().saturating_sub(queued_total);
        result
    }

    async fn attempt(
        &self,
        host: &str,
        url: &reqwest::Url,
        addr: SocketAddr,
        deadline: Instant,
        out: &mut PolicyFetch,
    ) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (tls, slots) = match capturing_client_config_with_slot(&self.config.anchors) {
            Ok(pair) => pair,
            Err(e) => {
                out.outcome = FetchOutcome::TlsError;
                out.detail = Some(format!("TLS configuration: {e}"));
                return;
            }
        };
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve_to_addrs(host, &[addr])
            .redirect(Policy::none())
            .no_proxy()
            .referer(false)
            .https_only(true)
            .http1_only()
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .local_address(self.local_address)
            .user_agent(self.config.user_agent.as_str())
            .connect_timeout(self.config.connect_timeout.min(remaining))
            .timeout(remaining)
            .build();
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                out.outcome = FetchOutcome::TlsError;
                out.detail = Some(format!("HTTP client configuration: {}", detail(&e)));
                return;
            }
        };
        let exchange = self.exchange(&client, url, &slots.handshake, out);
        // reqwest's own timeouts (set from the same deadline) classify first; this guard
        // only bounds the exchange should they not fire.
        let guard = deadline + GUARD_GRACE;
        match tokio::time::timeout_at(guard.into(), exchange).await {
            Ok(()) => {}
            Err(_) => {
                // The response head may have arrived: keep its facts, drop any partial body.
                out.outcome = FetchOutcome::Timeout;
                out.body = None;
                out.body_sha256 = None;
                out.detail = Some("deadline passed before the response was complete".into());
            }
        }
        let handshake = slots
            .handshake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stalled_handshake = out.outcome == FetchOutcome::ConnectTimeout && handshake.hello_sent;
        if stalled_handshake {
            // reqwest's connect timeout covers TCP and TLS; the ClientHello was built, so the
            // TCP connection existed and the handshake stalled: connected, not complete.
            out.outcome = FetchOutcome::Timeout;
            out.detail = Some(format!(
                "TLS handshake not complete in time: {}",
                out.detail.as_deref().unwrap_or("timed out")
            ));
        }
        if out.outcome == FetchOutcome::Timeout && !handshake.hello_sent {
            // The whole-fetch deadline fired before the connect timeout (they can be equal)
            // and no ClientHello was built: the TCP connection was never established.
            out.outcome = FetchOutcome::ConnectTimeout;
            out.detail = Some(format!(
                "TCP connection not established in time: {}",
                out.detail.as_deref().unwrap_or("timed out")
            ));
        }
        let completed = out.outcome.handshake_completed() && !stalled_handshake;
        if completed {
            out.tls_kx_group = handshake.kx_group;
            out.tls_cipher = handshake.tls13_cipher;
        }
        let captured = slots
            .chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(captured) = captured {
            out.chain = captured.chain;
            if completed {
                out.chain_verdict = Some(captured.chain_verdict);
                out.cert_verdict = Some(captured.name_verdict);
            }
        }
    }

    async fn exchange(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
        handshake: &HandshakeSlot,
        out: &mut PolicyFetch,
    ) {
        let mut response = match client.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                let hello_sent = handshake
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .hello_sent;
                out.outcome = classify(&e, hello_sent);
                out.detail = Some(detail(&e));
                return;
            }
        };
        let status = response.status();
        out.http_status = Some(status.as_u16());
        out.tls_version = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.version())
            .map(version_name);
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| capped_lossy(v.as_bytes()))
        };
        out.content_type = header(CONTENT_TYPE);
        out.location = header(LOCATION);
        out.content_length = response.content_length();
        if status.is_redirection() {
            out.outcome = FetchOutcome::Redirect;
            out.detail = Some(format!("HTTP {status}; redirects are not followed"));
            return;
        }
        if status.as_u16() != 200 {
            out.outcome = FetchOutcome::HttpStatus;
            out.detail = Some(format!("HTTP {status}"));
            return;
        }
        let max = self.config.max_body;
        if let Some(len) = out.content_length {
            if len > max as u64 {
                out.outcome = FetchOutcome::TooLarge;
                out.detail = Some(format!("Content-Length {len} exceeds {max} bytes"));
                return;
            }
        }
        let mut body = BytesMut::new();
        // Bounded: every iteration consumes a non-empty chunk and the loop stops once more
        // than `max` bytes were received; the total deadline bounds the time.
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let room = (max + 1).saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() > max {
                        out.outcome = FetchOutcome::TooLarge;
                        out.body_len = Some(body.len() as u64);
                        out.detail = Some(format!("body exceeds {max} bytes"));
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The head arrived, so the handshake completed: a timeout stays a
                    // timeout, anything else ended the body early.
                    out.outcome = match classify(&e, true) {
                        FetchOutcome::Timeout | FetchOutcome::ConnectTimeout => {
                            FetchOutcome::Timeout
                        }
                        _ => FetchOutcome::ConnectionClosed,
                    };
                    out.body_len = Some(body.len() as u64);
                    out.detail = Some(detail(&e));
                    return;
                }
            }
        }
        let body = body.freeze();
        out.outcome = FetchOutcome::Ok;
        out.body_len = Some(body.len() as u64);
        out.body_sha256 = Some(hex::encode(digest(&SHA256, &body)));
        out.body = Some(body);
    }
}

fn version_name(v: reqwest::tls::Version) -> String {
    if v == reqwest::tls::Version::TLS_1_3 {
        "TLSv1.3".to_owned()
    } else if v == reqwest::tls::Version::TLS_1_2 {
        "TLSv1.2".to_owned()
    } else if v == reqwest::tls::Version::TLS_1_1 {
        "TLSv1.1".to_owned()
    } else if v == reqwest::tls::Version::TLS_1_0 {
        "TLSv1.0".to_owned()
    } else {
        format!("{v:?}")
    }
}

fn capped_lossy(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_HEADER_VALUE)];
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_shape() {
        // RFC 8461 §3.2: "Thus, for a Policy Domain of "example.com", the full URL is
        // "https://mta-sts.example.com/.well-known/mta-sts.txt"."
        assert_eq!(
            policy_url("example.com", 443),
            "https://mta-sts.example.com/.well-known/mta-sts.txt"
        );
        assert_eq!(
            policy_url("example.com.", 8443),
            "https://mta-sts.example.com:8443/.well-known/mta-sts.txt"
        );
    }

    #[test]
    fn vocabulary_strings() {
        let s: Vec<&str> = FetchOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(
            s,
            [
                "ok",
                "http-status",
                "redirect",
                "too-large",
                "host-not-found",
                "connect-refused",
                "connect-timeout",
                "tls-error",
                "timeout",
                "connection-closed"
            ]
        );
    }

    #[tokio::test]
    async fn no_address_and_bad_name_are_host_not_found() {
        let f = PolicyFetcher::new(FetchConfig::new(TrustAnchors::empty()));
        let r = f.fetch("example.com", &[]).await;
        assert_eq!(r.outcome, FetchOutcome::HostNotFound);
        assert_eq!(r.attempts, 0);
        let r = f
            .fetch("exa mple/com", &[IpAddr::from([127, 0, 0, 1])])
            .await;
        assert_eq!(r.outcome, FetchOutcome::HostNotFound);
        assert_eq!(r.attempts, 0);
    }

    #[test]
    fn try_new_checks_the_configuration() {
        let mut c = FetchConfig::new(TrustAnchors::empty());
        assert!(PolicyFetcher::try_new(c.clone()).is_ok());
        c.user_agent = "bad\r\nX-Injected: 1".to_owned();
        assert!(matches!(
            PolicyFetcher::try_new(c.clone()),
            Err(FetchConfigError::UserAgent(_))
        ));
        c.user_agent = DEFAULT_USER_AGENT.to_owned();
        c.total_timeout = Duration::ZERO;
        assert_eq!(
            PolicyFetcher::try_new(c).err(),
            Some(FetchConfigError::ZeroTimeout("total"))
        );
    }

    /// Regression: a connect that failed locally (here: binding a source address the host
    /// does not have, `EADDRNOTAVAIL`; `EAFNOSUPPORT` on a host without IPv6) was `tls-error`
    /// and the next address was not tried, so a scan host without IPv6 connectivity recorded
    /// every dual-stack policy host as a TLS error. RFC 8461 §3.3: "If a valid TXT record is
    /// found but no policy can be fetched via HTTPS (for any reason), and there is no valid
    /// (non-expired) previously cached policy, senders MUST continue with delivery as though
    /// the domain has not implemented MTA-STS." — the dataset records the reason: no TCP
    /// connection was established, so it is `connect-refused` (not a TLS failure), and the
    /// next address is tried as after a refusal.
    #[tokio::test]
    async fn a_local_connect_failure_is_connect_refused_and_the_next_address_is_tried() {
        use tokio::io::AsyncWriteExt;
        // The second address: a plain-TCP server on loopback that answers with something that
        // is not TLS (so reaching it ends in `tls-error`, with the TCP connection made).
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            // bounded: aborted at the end of the test
            while let Ok((mut tcp, _)) = listener.accept().await {
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                let _ = tcp.shutdown().await;
            }
        });
        let mut config = FetchConfig::new(TrustAnchors::empty());
        config.https_port = port;
        config.connect_timeout = Duration::from_secs(5);
        config.total_timeout = Duration::from_secs(10);
        // An IPv6 source address from the documentation prefix (RFC 3849), not configured on
        // the host: the bind fails before anything is sent. It applies only to IPv6
        // destinations, so the IPv4 loopback server is reached normally.
        let mut fetcher = PolicyFetcher::try_new(config).unwrap();
        fetcher.local_address = Some("2001:db8::5".parse().unwrap());
        let v6 = IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
        let v4 = IpAddr::from([127, 0, 0, 1]);

        let r = fetcher.fetch("example.com", &[v6]).await;
        assert_eq!(r.outcome, FetchOutcome::ConnectRefused, "{r:?}");
        assert_eq!(r.attempts, 1);
        assert!(
            r.detail.as_deref().unwrap_or("").contains("os error"),
            "{r:?}"
        );
        assert!(r.chain.is_empty() && r.cert_verdict.is_none());

        let r = fetcher.fetch("example.com", &[v6, v4]).await;
        server.abort();
        assert_eq!(r.attempts, 2, "the next address is tried: {r:?}");
        assert_eq!(r.address, Some(SocketAddr::new(v4, port)));
        assert_eq!(r.outcome, FetchOutcome::TlsError, "{r:?}");
    }

    #[test]
    fn header_values_are_capped() {
        assert_eq!(capped_lossy(&[b'a'; 5000]).len(), MAX_HEADER_VALUE);
        assert_eq!(capped_lossy(b"text/plain\xff"), "text/plain\u{fffd}");
    }
}
