//! Mapping reqwest errors to [`FetchOutcome`] by walking the `source()` chain.
//!
//! `std::io::Error::source()` skips the error it wraps, so every `io::Error` in the chain is
//! also looked into with `get_ref()` (tokio-rustls wraps `rustls::Error` that way).
//!
//! Whether the TCP connection existed comes from the capture store (`hello_sent`: rustls
//! builds the ClientHello only on an established connection), not from the error: a connect
//! error before any ClientHello that carries an OS error is a connection-level failure —
//! refused, unreachable, or failed locally (`EACCES`, `EPERM`, `EADDRNOTAVAIL`,
//! `EAFNOSUPPORT`, `ENETUNREACH` on a host without a route for the family) — and is
//! `connect-refused` like the STARTTLS prober's connect errors, never `tls-error`: the TLS
//! handshake never started.

use std::error::Error as StdError;
use std::io;

use super::fetcher::FetchOutcome;

/// What the error chain contains.
#[derive(Debug, Default)]
struct Facts {
    io_kinds: Vec<io::ErrorKind>,
    /// An `io::Error` in the chain carries an OS error number (a failed system call).
    os_error: bool,
    rustls: Option<String>,
}

fn collect(err: &(dyn StdError + 'static)) -> Facts {
    let mut facts = Facts::default();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    // Bounded: error chains are short; 32 levels is far beyond any real chain.
    for _ in 0..32 {
        let Some(e) = current else { break };
        inspect(e, &mut facts);
        if let Some(ioe) = e.downcast_ref::<io::Error>() {
            if let Some(inner) = ioe.get_ref() {
                inspect(inner, &mut facts);
                let mut nested = inner.source();
                for _ in 0..8 {
                    let Some(n) = nested else { break };
                    inspect(n, &mut facts);
                    nested = n.source();
                }
            }
        }
        current = e.source();
    }
    facts
}

fn inspect(e: &(dyn StdError + 'static), facts: &mut Facts) {
    if let Some(ioe) = e.downcast_ref::<io::Error>() {
        facts.io_kinds.push(ioe.kind());
        facts.os_error |= ioe.raw_os_error().is_some();
    }
    if facts.rustls.is_none() {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            facts.rustls = Some(tls.to_string());
        }
    }
}

/// The full error text, each cause once, capped at 500 characters.
pub(super) fn detail(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    for _ in 0..16 {
        let Some(e) = current else { break };
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        current = e.source();
    }
    let mut out = parts.join(": ");
    if out.len() > 500 {
        let mut cut = 500;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

/// Classifies a reqwest error raised while sending the request or reading the response;
/// `hello_sent`: the capture store saw the ClientHello being built, so the TCP connection
/// was established.
pub(super) fn classify(err: &reqwest::Error, hello_sent: bool) -> FetchOutcome {
    decide(
        &collect(err),
        err.is_timeout(),
        err.is_connect(),
        hello_sent,
    )
}

/// Error kinds of a connect that failed before any TCP connection: refused (RST),
/// unreachable (ICMP, or no route), or a local failure (no such local address, not
/// permitted).
const CONNECT_FAILURE_KINDS: [io::ErrorKind; 7] = [
    io::ErrorKind::ConnectionRefused,
    io::ErrorKind::HostUnreachable,
    io::ErrorKind::NetworkUnreachable,
    io::ErrorKind::NetworkDown,
    io::ErrorKind::AddrNotAvailable,
    io::ErrorKind::AddrInUse,
    io::ErrorKind::PermissionDenied,
];

/// The decision of [`classify`] over what the error chain holds.
fn decide(facts: &Facts, is_timeout: bool, is_connect: bool, hello_sent: bool) -> FetchOutcome {
    let has = |k: io::ErrorKind| facts.io_kinds.contains(&k);
    if has(io::ErrorKind::ConnectionRefused)
        || has(io::ErrorKind::HostUnreachable)
        || has(io::ErrorKind::NetworkUnreachable)
    {
        return FetchOutcome::ConnectRefused;
    }
    if is_timeout || has(io::ErrorKind::TimedOut) {
        return if is_connect {
            FetchOutcome::ConnectTimeout
        } else {
            FetchOutcome::Timeout
        };
    }
    if is_connect
        && !hello_sent
        && facts.rustls.is_none()
        && (facts.os_error || CONNECT_FAILURE_KINDS.iter().any(|&k| has(k)))
    {
        // A system call of the TCP connect (socket, bind, connect) failed and no ClientHello
        // was built: there never was a connection to speak TLS on. EAFNOSUPPORT has no
        // ErrorKind of its own, hence the OS error number.
        return FetchOutcome::ConnectRefused;
    }
    if facts.rustls.is_some() {
        return FetchOutcome::TlsError;
    }
    if is_connect {
        // TCP connected (refusal, local failures and timeouts are handled above) but the TLS
        // handshake did not finish: the peer closed or reset it, or spoke something that is
        // not TLS.
        return FetchOutcome::TlsError;
    }
    FetchOutcome::ConnectionClosed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(Box<dyn StdError + Send + Sync>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("outer")
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn finds_rustls_error_inside_io_error() {
        let inner = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        let e = Wrap(Box::new(inner));
        let facts = collect(&e);
        assert!(facts.rustls.is_some());
        assert!(facts.io_kinds.contains(&io::ErrorKind::InvalidData));
        assert!(detail(&e).starts_with("outer: "));
    }

    #[test]
    fn detail_is_capped() {
        let e = io::Error::other("x".repeat(2000));
        assert_eq!(detail(&e).len(), 500);
    }

    /// The chain reqwest builds for a failed TCP connect: reqwest error → hyper-util client
    /// error → `ConnectError("tcp connect error")` → the OS error.
    fn connect_chain(os: io::Error) -> Wrap {
        Wrap(Box::new(Wrap(Box::new(os))))
    }

    /// Regression: a connect that failed for a local reason (no IPv6 route, no such local
    /// address, a firewall's EACCES/EPERM) fell through to the "TCP connected but the
    /// handshake did not finish" branch and was `tls-error`. RFC 8461 §3.3: "If a valid TXT
    /// record is found but no policy can be fetched via HTTPS (for any reason), and there is
    /// no valid (non-expired) previously cached policy, senders MUST continue with delivery
    /// as though the domain has not implemented MTA-STS." — the dataset records the reason:
    /// no TCP connection was established, so no TLS handshake failed; it is a
    /// connection-level outcome.
    #[cfg(target_os = "linux")]
    #[test]
    fn local_connect_failures_are_connect_refused_not_tls_errors() {
        // Linux errno values: EPERM, EACCES, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL,
        // ENETDOWN, ENETUNREACH, EHOSTUNREACH, ECONNREFUSED
        for errno in [1, 13, 97, 98, 99, 100, 101, 113, 111] {
            let e = connect_chain(io::Error::from_raw_os_error(errno));
            let facts = collect(&e);
            assert_eq!(
                decide(&facts, false, true, false),
                FetchOutcome::ConnectRefused,
                "errno {errno}: {facts:?}"
            );
        }
        // the same kinds without an OS error number (as other platforms may report them)
        for kind in CONNECT_FAILURE_KINDS {
            let facts = collect(&connect_chain(io::Error::from(kind)));
            assert_eq!(
                decide(&facts, false, true, false),
                FetchOutcome::ConnectRefused
            );
        }
    }

    /// Once the ClientHello was built the TCP connection existed: a reset or a close during
    /// the handshake stays `tls-error`, a connect error without any OS error (e.g. a name
    /// rustls does not accept as SNI, rejected before connecting) is not a refusal, and a
    /// timeout keeps its own rules.
    #[test]
    fn handshake_failures_stay_tls_errors() {
        let reset = collect(&connect_chain(io::Error::from(
            io::ErrorKind::ConnectionReset,
        )));
        assert_eq!(decide(&reset, false, true, true), FetchOutcome::TlsError);
        let eof = collect(&connect_chain(io::Error::from(
            io::ErrorKind::UnexpectedEof,
        )));
        assert_eq!(decide(&eof, false, true, true), FetchOutcome::TlsError);
        let name = collect(&connect_chain(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid dnsname",
        )));
        assert_eq!(decide(&name, false, true, false), FetchOutcome::TlsError);
        let tls = collect(&connect_chain(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        )));
        assert_eq!(decide(&tls, false, true, true), FetchOutcome::TlsError);
        let none = Facts::default();
        assert_eq!(
            decide(&none, true, true, false),
            FetchOutcome::ConnectTimeout
        );
        assert_eq!(decide(&none, true, false, true), FetchOutcome::Timeout);
        // after the response head (not a connect error) a reset is a closed connection
        assert_eq!(
            decide(&reset, false, false, true),
            FetchOutcome::ConnectionClosed
        );
    }
}
