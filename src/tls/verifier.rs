//! The capturing certificate verifier and the client configurations built on it.
//!
//! A scanner must *see* bad certificates, so the verifier accepts every chain and lets the
//! handshake finish. It does not skip the handshake signature: `CertificateVerify` (TLS 1.3)
//! and the `ServerKeyExchange` signature (TLS 1.2) are verified with the ring provider's
//! algorithms, so the server must hold the private key of the certificate it presented.
//! Session resumption is disabled: every handshake presents (and records) a full chain.
//!
//! The per-connection variant also installs a [`CaptureStore`] as rustls's session store. It
//! never resumes (every lookup returns nothing) but rustls consults it when it builds the
//! ClientHello — i.e. once the TCP connection exists — and hands it the negotiated key
//! exchange group and any TLS 1.3 session ticket (which names the cipher suite). That is how
//! the fetch, whose HTTP client hides the TLS connection, tells a stalled handshake
//! (connected) from a TCP connect timeout, and learns the group and (when the server issues
//! a ticket) the suite.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{
    ClientSessionStore, Resumption, Tls12ClientSessionValue, Tls13ClientSessionValue,
};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, NamedGroup, SignatureScheme};

use super::anchors::TrustAnchors;
use super::judge::{ChainVerdict, judge_chain, name_verdict};

/// What a slot-carrying verifier recorded during one handshake.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The chain as presented, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server name the client asked for (SNI), if a DNS name.
    pub server_name: Option<String>,
    /// When the verifier ran.
    pub at: UnixTime,
    /// Verdict of the chain alone (no name) against the anchors at `at`.
    pub chain_verdict: ChainVerdict,
    /// Verdict for `server_name` (equal to `chain_verdict` when no DNS name was asked for).
    pub name_verdict: ChainVerdict,
}

/// A per-connection slot the capturing verifier writes into (see
/// [`capturing_client_config_with_slot`]).
pub type ChainSlot = Arc<Mutex<Option<Captured>>>;

/// A [`ServerCertVerifier`] that accepts any certificate chain (recording it when it has a
/// slot) while still verifying handshake signatures.
#[derive(Debug)]
pub struct CapturingVerifier {
    anchors: TrustAnchors,
    algorithms: WebPkiSupportedAlgorithms,
    slot: Option<ChainSlot>,
}

impl CapturingVerifier {
    /// A verifier judging against `anchors`, writing into `slot` if given.
    pub fn new(anchors: &TrustAnchors, slot: Option<ChainSlot>) -> Self {
        CapturingVerifier {
            anchors: anchors.clone(),
            algorithms: provider().signature_verification_algorithms,
            slot,
        }
    }

    /// The anchors chains are judged against.
    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }
}

impl ServerCertVerifier for CapturingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(slot) = &self.slot {
            let mut chain = Vec::with_capacity(1 + intermediates.len());
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
            let chain_verdict = judge_chain(&chain, &self.anchors, now);
            let (name, for_name) = match server_name {
                ServerName::DnsName(dns) => {
                    let name = dns.as_ref().to_owned();
                    // the chain was just validated: only the name check is left
                    let v = name_verdict(&chain_verdict, &chain, &name);
                    (Some(name), v)
                }
                _ => (None, chain_verdict.clone()),
            };
            let captured = Captured {
                chain,
                server_name: name,
                at: now,
                chain_verdict,
                name_verdict: for_name,
            };
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(captured);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn build(
    verifier: CapturingVerifier,
    store: Option<Arc<CaptureStore>>,
) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.resumption = match store {
        Some(store) => Resumption::store(store),
        None => Resumption::disabled(),
    };
    Ok(config)
}

/// The shared client configuration for SMTP probes: accepts any chain (so the handshake
/// finishes), TLS 1.2 and 1.3, ring provider, no resumption. The chain is read afterwards from
/// the connection ([`super::TlsSession`]) and judged per MX name with
/// [`super::verdict_for_name`] against the same `anchors`.
///
/// Building can only fail if the ring provider lacks TLS 1.2/1.3 suites, which it does not.
pub fn capturing_client_config(anchors: &TrustAnchors) -> Result<Arc<ClientConfig>, rustls::Error> {
    build(CapturingVerifier::new(anchors, None), None).map(Arc::new)
}

/// Handshake facts gathered by a [`CaptureStore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeFacts {
    /// rustls built the ClientHello: the TCP connection was established.
    pub hello_sent: bool,
    /// The key exchange group the server chose (e.g. `X25519`), once the handshake completed.
    pub kx_group: Option<String>,
    /// The TLS 1.3 cipher suite, known only when the server issued a session ticket.
    pub tls13_cipher: Option<String>,
}

/// The per-connection slot a [`CaptureStore`] writes into.
pub type HandshakeSlot = Arc<Mutex<HandshakeFacts>>;

/// The slots of one capturing connection.
#[derive(Debug, Clone, Default)]
pub struct CaptureSlots {
    /// Written by the verifier: the chain and its verdicts.
    pub chain: ChainSlot,
    /// Written by the session store: handshake progress and parameters.
    pub handshake: HandshakeSlot,
}

/// A rustls session store that never resumes and records handshake facts (see the module
/// docs).
#[derive(Debug)]
pub struct CaptureStore {
    slot: HandshakeSlot,
}

impl CaptureStore {
    fn edit(&self, f: impl FnOnce(&mut HandshakeFacts)) {
        f(&mut self.slot.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

impl ClientSessionStore for CaptureStore {
    fn set_kx_hint(&self, _server_name: ServerName<'static>, group: NamedGroup) {
        self.edit(|h| h.kx_group = Some(format!("{group:?}")));
    }

    fn kx_hint(&self, _server_name: &ServerName<'_>) -> Option<NamedGroup> {
        None
    }

    fn set_tls12_session(&self, _server_name: ServerName<'static>, _v: Tls12ClientSessionValue) {}

    fn tls12_session(&self, _server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.edit(|h| h.hello_sent = true);
        None
    }

    fn remove_tls12_session(&self, _server_name: &ServerName<'static>) {}

    fn insert_tls13_ticket(&self, _server_name: ServerName<'static>, v: Tls13ClientSessionValue) {
        let suite = v.suite().common.suite;
        let name = suite
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("0x{:04x}", u16::from(suite)));
        self.edit(|h| h.tls13_cipher = Some(name));
    }

    fn take_tls13_ticket(
        &self,
        _server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.edit(|h| h.hello_sent = true);
        None
    }
}

/// A configuration for one connection (the reqwest policy fetch, which does not expose the
/// TLS connection) whose verifier writes the presented chain and its verdicts, judged at
/// handshake time against `anchors`, into `slots.chain`, and whose session store records
/// handshake progress and parameters into `slots.handshake`. Never resumes a session.
pub fn capturing_client_config_with_slot(
    anchors: &TrustAnchors,
) -> Result<(ClientConfig, CaptureSlots), rustls::Error> {
    let slots = CaptureSlots::default();
    let store = Arc::new(CaptureStore {
        slot: slots.handshake.clone(),
    });
    let config = build(
        CapturingVerifier::new(anchors, Some(slots.chain.clone())),
        Some(store),
    )?;
    Ok((config, slots))
}
