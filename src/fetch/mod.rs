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
//! * reqwest does not expose the negotiated cipher suite, so [`PolicyFetch::tls_cipher`] is
//!   always `None` here (the version is recorded).
//! * reqwest's connect timeout covers the TCP connect *and* the TLS handshake, so a server
//!   that accepts TCP but stalls the handshake is `connect-timeout`, not `timeout`.
//!
//! It must not parse the policy (that is `records`) nor decide what the result means
//! (`assess`).

mod classify;
mod fetcher;

pub use fetcher::{
    DEFAULT_USER_AGENT, FetchConfig, FetchOutcome, MAX_ADDRESSES, PolicyFetch, PolicyFetcher,
    policy_url,
};
