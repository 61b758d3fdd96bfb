//! Certificate capture and judging for every TLS connection the scanner makes (the MTA-STS
//! policy fetch over HTTPS and the SMTP STARTTLS probe).
//!
//! # What this module owns
//!
//! * [`TrustAnchors`] — the Mozilla roots (`webpki-roots`) plus extra PEM anchors
//!   (`--ca-file`, used for the lab), optionally without the defaults.
//! * [`capturing_client_config`] / [`capturing_client_config_with_slot`] — rustls client
//!   configurations (ring provider, TLS 1.2 and 1.3, no session resumption) whose certificate
//!   verifier **accepts any chain** so the handshake completes and the scanner can record bad
//!   certificates instead of aborting. Handshake signatures are still verified with the
//!   provider's algorithms, so the peer must own the key of the certificate it presented.
//!   The per-connection variant records the chain and its verdicts ([`Captured`]) and, through
//!   a never-resuming session store ([`CaptureStore`]), handshake facts ([`HandshakeFacts`]).
//! * [`judge_chain`], [`name_matches`], [`verdict_for_name`], [`name_verdict`] — pure
//!   judging (given a time) of a captured chain into the closed [`CertVerdict`] vocabulary of
//!   `docs/ground-truth.md`.
//! * [`CertInfo`] / [`describe_chain`] — descriptive facts about each certificate, parsed with
//!   x509-parser; garbage DER gives an error value, never a panic.
//! * [`TlsSession`] — negotiated version, cipher suite and chain of a finished handshake.
//! * [`sigmemo`] — a bounded memo of successful certificate-signature verifications, so an
//!   intermediate shared by thousands of chains is verified once.
//!
//! # What it must not do
//!
//! It opens no sockets. Judging reads no clock: callers pass the time to judge at (the
//! per-connection verifier uses the handshake time rustls hands it). It never decides whether
//! a connection may proceed — every verdict is data.

mod anchors;
mod info;
mod judge;
mod session;
pub mod sigmemo;
mod verifier;

pub use anchors::{AnchorError, TrustAnchors};
pub use info::{CertInfo, CertInfoError, chain_sha256, describe_chain};
pub use judge::{
    CertVerdict, ChainVerdict, judge_chain, name_matches, name_verdict, verdict_for_name,
};
pub use session::TlsSession;
pub use verifier::{
    CaptureSlots, CaptureStore, Captured, CapturingVerifier, ChainSlot, HandshakeFacts,
    HandshakeSlot, capturing_client_config, capturing_client_config_with_slot,
};

pub use rustls::pki_types::{CertificateDer, UnixTime};
