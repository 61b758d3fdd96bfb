//! Mapping reqwest errors to [`FetchOutcome`] by walking the `source()` chain.
//!
//! `std::io::Error::source()` skips the error it wraps, so every `io::Error` in the chain is
//! also looked into with `get_ref()` (tokio-rustls wraps `rustls::Error` that way).

use std::error::Error as StdError;
use std::io;

use super::fetcher::FetchOutcome;

/// What the error chain contains.
#[derive(Debug, Default)]
struct Facts {
    io_kinds: Vec<io::ErrorKind>,
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

/// Classifies a reqwest error raised while sending the request or reading the response.
pub(super) fn classify(err: &reqwest::Error) -> FetchOutcome {
    let facts = collect(err);
    let has = |k: io::ErrorKind| facts.io_kinds.contains(&k);
    if has(io::ErrorKind::ConnectionRefused)
        || has(io::ErrorKind::HostUnreachable)
        || has(io::ErrorKind::NetworkUnreachable)
    {
        return FetchOutcome::ConnectRefused;
    }
    if err.is_timeout() || has(io::ErrorKind::TimedOut) {
        return if err.is_connect() {
            FetchOutcome::ConnectTimeout
        } else {
            FetchOutcome::Timeout
        };
    }
    if facts.rustls.is_some() {
        return FetchOutcome::TlsError;
    }
    if err.is_connect() {
        // TCP connected (refusal and timeouts are handled above) but the TLS handshake did
        // not finish: the peer closed or reset it, or spoke something that is not TLS.
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
}
