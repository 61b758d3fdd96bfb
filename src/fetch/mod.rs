//! The MTA-STS policy fetch (RFC 8461 §3.3): `GET https://mta-sts.<domain>/.well-known/mta-sts.txt`.
//!
//! # What this module owns
//!
//! * [`PolicyFetcher`] / [`FetchConfig`] — one HTTPS GET per domain over reqwest with a
//!   capturing rustls configuration ([`crate::tls`]): the handshake always completes so the
//!   policy host's certificate is recorded and judged for `mta-sts.<domain>` instead of
//!   aborting the fetch ("the Policy Host MUST present a valid certificate" is a verdict,
//!   [`PolicyFetch::cert_verdict`], not a transport error).
//! * [`PolicyFetch`] / [`FetchOutcome`] — the result as data, with the `policy_fetch`
//!   vocabulary of `docs/ground-truth.md`.
//!
//! # Rules it enforces
//!
//! * It never resolves names: the pipeline has already resolved `mta-sts.<domain>` through
//!   the scanner's DNS layer and safety rule and passes the addresses; reqwest is pinned to
//!   them with `resolve_to_addrs`, proxies are disabled, and SNI is `mta-sts.<domain>`.
//!   Addresses are tried in the given order (at most [`MAX_ADDRESSES`]); the next one only
//!   after `connect-refused` or `connect-timeout`, all within one total deadline.
//! * A TCP connect that fails without a connection is `connect-refused` whatever the reason:
//!   refused, unreachable, or failed locally (`EACCES`, `EPERM`, `EADDRNOTAVAIL`,
//!   `EAFNOSUPPORT`, no route for the family), as in the STARTTLS prober. It is never
//!   `tls-error` (no handshake started), and the next address is tried: a scan host without
//!   IPv6 connectivity still reaches a dual-stack policy host over IPv4.
//! * "HTTP 3xx redirects MUST NOT be followed": a 3xx is `redirect` with its `Location`.
//! * Only status 200 is a policy; any other status is `http-status`.
//! * The body is streamed and capped: more than `max_body` bytes (65536 by default) is
//!   `too-large` — never truncated. An announced `Content-Length` above the cap is
//!   `too-large` without reading the body.
//! * No content decoding is requested or performed (no `Accept-Encoding`), so the cap
//!   applies to the bytes on the wire.
//! * The `Content-Type` is recorded, not judged: "senders SHOULD validate that the media
//!   type is text/plain" is a finding for `assess`.
//!
//! # Known limits
//!
//! * reqwest does not expose the TLS connection. The version comes from reqwest's `TlsInfo`;
//!   the key exchange group and, for TLS 1.3 when the server issues a session ticket, the
//!   cipher suite come from the capturing session store ([`crate::tls::CaptureStore`]);
//!   otherwise [`PolicyFetch::tls_cipher`] is `None`.
//! * reqwest's connect timeout covers the TCP connect *and* the TLS handshake; the session
//!   store tells them apart (rustls builds the ClientHello only once TCP is connected), so a
//!   stalled handshake is `timeout` and only a TCP connect that does not complete is
//!   `connect-timeout`. The same fact decides what the whole-fetch deadline interrupted: a
//!   TCP connect still pending (also to a second or later address) is `connect-timeout`,
//!   anything after it `timeout`; and whether a connect error is a connection-level failure
//!   (`connect-refused`) or a failed handshake (`tls-error`).
//!
//! It must not parse the policy (that is `records`) nor decide what the result means
//! (`assess`).

mod classify;
mod fetcher;

pub use fetcher::{
    DEFAULT_USER_AGENT, FetchConfig, FetchConfigError, FetchOutcome, MAX_ADDRESSES, PolicyFetch,
    PolicyFetcher, policy_url,
};
