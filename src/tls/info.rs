//! Descriptive facts about certificates (subject, SANs, validity, key, hash), parsed with
//! x509-parser. Unparsable input is an error value, never a panic.

use ring::digest::{SHA256, digest};
use rustls::pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Facts about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject distinguished name (RFC 4514 style, as x509-parser prints it).
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// subjectAltName dNSName entries, as written (lowercase not enforced).
    pub san_dns: Vec<String>,
    /// notBefore, seconds since the Unix epoch (UTC).
    pub not_before: i64,
    /// notAfter, seconds since the Unix epoch (UTC).
    pub not_after: i64,
    /// Public key algorithm short name (`rsaEncryption`, `id-ecPublicKey`, `ed25519`, or the
    /// dotted OID when unknown).
    pub key_algorithm: String,
    /// Public key size in bits (RSA modulus bits, EC field bits, 256 for Ed25519; 0 when
    /// unknown).
    pub key_bits: u32,
    /// Signature algorithm short name (e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`)
    /// or dotted OID.
    pub signature_algorithm: String,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    /// Issuer DN equals subject DN and the signature verifies with the certificate's own key.
    pub is_self_signed: bool,
}

/// A certificate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparsable certificate: {0}")]
pub struct CertInfoError(pub String);

impl CertInfo {
    /// Parses one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertInfoError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertInfoError(e.to_string()))?;
        let registry = x509_parser::objects::oid_registry();
        let oid_name = |oid: &x509_parser::der_parser::oid::Oid<'_>| {
            x509_parser::objects::oid2sn(oid, registry)
                .map(str::to_owned)
                .unwrap_or_else(|_| oid.to_id_string())
        };
        let mut san_dns = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for gn in &san.value.general_names {
                if let GeneralName::DNSName(n) = gn {
                    san_dns.push((*n).to_owned());
                }
            }
        }
        let spki = cert.public_key();
        let key_oid = &spki.algorithm.algorithm;
        let key_bits = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) if *key_oid == OID_PKCS1_RSAENCRYPTION => {
                significant_bits(rsa.modulus)
            }
            Ok(PublicKey::EC(point)) if *key_oid == OID_KEY_TYPE_EC_PUBLIC_KEY => {
                u32::try_from(point.key_size()).unwrap_or(0)
            }
            _ if key_oid.to_id_string() == "1.3.101.112" => 256,
            _ if key_oid.to_id_string() == "1.3.101.113" => 456,
            Ok(other) => u32::try_from(other.key_size()).unwrap_or(0),
            Err(_) => 0,
        };
        Ok(CertInfo {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            san_dns,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            key_algorithm: oid_name(key_oid),
            key_bits,
            signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
            sha256: hex::encode(digest(&SHA256, der)),
            is_self_signed: is_self_signed(&cert),
        })
    }

    /// notAfter as a UTC date-time (None if out of chrono's range).
    pub fn not_after_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.not_after, 0)
    }

    /// notBefore as a UTC date-time (None if out of chrono's range).
    pub fn not_before_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::from_timestamp(self.not_before, 0)
    }
}

/// SHA-256 of each certificate's DER, lowercase hex, in chain order (what the output keeps of
/// the certificates after the leaf, without parsing them).
pub fn chain_sha256(chain: &[CertificateDer<'_>]) -> Vec<String> {
    chain
        .iter()
        .map(|c| hex::encode(digest(&SHA256, c.as_ref())))
        .collect()
}

/// Describes every certificate of a chain, in order; unparsable entries are errors in place.
pub fn describe_chain(chain: &[CertificateDer<'_>]) -> Vec<Result<CertInfo, CertInfoError>> {
    chain
        .iter()
        .map(|c| CertInfo::from_der(c.as_ref()))
        .collect()
}

/// Whether `cert` is self-signed: issuer DN equals subject DN (byte for byte) and its
/// signature verifies with its own public key under one of the ring provider's algorithms.
/// A self-issued certificate whose signature does not verify (or uses an unsupported
/// algorithm) is not self-signed.
pub(crate) fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    let key = &cert.public_key().subject_public_key.data;
    let message = cert.tbs_certificate.as_ref();
    let signature = &cert.signature_value.data;
    super::sigmemo::algorithms()
        .iter()
        .any(|alg| alg.verify_signature(key, message, signature).is_ok())
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn significant_bits(bytes: &[u8]) -> u32 {
    let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    let Some(first) = trimmed.first() else {
        return 0;
    };
    let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
    (len - 1).saturating_mul(8) + (8 - first.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_bits_counts_from_top_bit() {
        assert_eq!(significant_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(significant_bits(&[0x01, 0x00]), 9);
        assert_eq!(significant_bits(&[0x00, 0x00]), 0);
        assert_eq!(significant_bits(&[]), 0);
    }

    #[test]
    fn garbage_is_an_error_value() {
        assert!(CertInfo::from_der(&[]).is_err());
        assert!(CertInfo::from_der(&[0x30, 0x82, 0xff, 0xff, 0x00]).is_err());
        let chain = [CertificateDer::from(vec![1, 2, 3])];
        assert!(describe_chain(&chain)[0].is_err());
    }
}
