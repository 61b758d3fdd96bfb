//! The capturing certificate verifier and the client configurations built on it.
//!
//! A scanner must *see* bad certificates, so the verifier accepts every chain and lets the
//! handshake finish. It does not skip the handshake signature: `CertificateVerify` (TLS 1.3)
//! and the `ServerKeyExchange` signature (TLS 1.2) are verified with the ring provider's
//! algorithms, so the server must hold the private key of the certificate it presented.
//! Session resumption is disabled: every handshake presents (and records) a full chain.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::anchors::TrustAnchors;
use super::judge::{ChainVerdict, judge_chain, verdict_for_name};

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
            let (name, name_verdict) = match server_name {
                ServerName::DnsName(dns) => {
                    let name = dns.as_ref().to_owned();
                    let v = verdict_for_name(&chain, &self.anchors, now, &name);
                    (Some(name), v)
                }
                _ => (None, chain_verdict.clone()),
            };
            let captured = Captured {
                chain,
                server_name: name,
                at: now,
                chain_verdict,
                name_verdict,
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

fn build(verifier: CapturingVerifier) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// The shared client configuration for SMTP probes: accepts any chain (so the handshake
/// finishes), TLS 1.2 and 1.3, ring provider, no resumption. The chain is read afterwards from
/// the connection ([`super::TlsSession`]) and judged per MX name with
/// [`super::verdict_for_name`] against the same `anchors`.
///
/// Building can only fail if the ring provider lacks TLS 1.2/1.3 suites, which it does not.
pub fn capturing_client_config(anchors: &TrustAnchors) -> Result<Arc<ClientConfig>, rustls::Error> {
    build(CapturingVerifier::new(anchors, None)).map(Arc::new)
}

/// A configuration for one connection (the reqwest policy fetch, which does not expose the
/// peer chain) whose verifier writes the presented chain and its verdicts, judged at
/// handshake time against `anchors`, into the returned slot.
pub fn capturing_client_config_with_slot(
    anchors: &TrustAnchors,
) -> Result<(ClientConfig, ChainSlot), rustls::Error> {
    let slot: ChainSlot = Arc::new(Mutex::new(None));
    let config = build(CapturingVerifier::new(anchors, Some(slot.clone())))?;
    Ok((config, slot))
}
