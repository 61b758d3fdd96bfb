//! Judging a captured chain: WebPKI path validation (rustls-webpki through rustls) classified
//! into the certificate verdicts of `docs/ground-truth.md`, and RFC 6125 name matching.
//!
//! Classification order (the first that applies):
//! 1. no certificate, or a leaf webpki cannot parse → `invalid`;
//! 2. path validation to an anchor succeeds → `valid`;
//! 3. the leaf is self-signed (issuer DN = subject DN and its signature verifies with its own
//!    public key) → `self-signed` (even if also expired: renewing would not fix it);
//! 4. webpki reports an expired / not-yet-valid certificate → `expired` / `not-yet-valid`
//!    (webpki checks the leaf's validity period before looking for its issuer, so an expired
//!    leaf from an unknown CA is `expired`);
//! 5. webpki reports an unknown issuer → `incomplete-chain` when only the leaf was sent,
//!    else `untrusted`;
//! 6. anything else (bad signature, CA certificate used as leaf, bad encoding, …) →
//!    `invalid` with the webpki error as detail.

use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, Error};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::anchors::TrustAnchors;
use super::info::is_self_signed;

/// Verdict on a certificate chain (and, with [`verdict_for_name`], on the name), closed
/// vocabulary shared with the lab's ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertVerdict {
    /// `valid`: the chain validates to a trust anchor at the time of judging (and, for a
    /// name verdict, the leaf is valid for the name).
    Valid,
    /// `expired`: a certificate of the chain is past its notAfter.
    Expired,
    /// `not-yet-valid`: a certificate of the chain is before its notBefore.
    NotYetValid,
    /// `name-mismatch`: the chain is fine but the leaf's SAN dNSNames do not cover the name
    /// (RFC 6125: DNS-ID only, wildcard only as the whole leftmost label, no CN fallback).
    NameMismatch,
    /// `self-signed`: the leaf is self-issued and not a trust anchor.
    SelfSigned,
    /// `untrusted`: the chain (more than the leaf) ends at an unknown root.
    Untrusted,
    /// `incomplete-chain`: only a leaf was sent, it is not self-signed and its issuer is not a
    /// trust anchor (a missing intermediate).
    IncompleteChain,
    /// `invalid`: any other problem (empty chain, unparsable DER, bad signature, CA
    /// certificate as leaf, …); see the detail.
    Invalid,
}

impl CertVerdict {
    /// Every value, in declaration order.
    pub const ALL: [CertVerdict; 8] = [
        CertVerdict::Valid,
        CertVerdict::Expired,
        CertVerdict::NotYetValid,
        CertVerdict::NameMismatch,
        CertVerdict::SelfSigned,
        CertVerdict::Untrusted,
        CertVerdict::IncompleteChain,
        CertVerdict::Invalid,
    ];

    /// The kebab-case string written to the output.
    pub fn as_str(self) -> &'static str {
        match self {
            CertVerdict::Valid => "valid",
            CertVerdict::Expired => "expired",
            CertVerdict::NotYetValid => "not-yet-valid",
            CertVerdict::NameMismatch => "name-mismatch",
            CertVerdict::SelfSigned => "self-signed",
            CertVerdict::Untrusted => "untrusted",
            CertVerdict::IncompleteChain => "incomplete-chain",
            CertVerdict::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for CertVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with a free-text detail (the webpki error, for anything but `valid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerdict {
    /// The verdict.
    pub verdict: CertVerdict,
    /// Why, when not `valid`.
    pub detail: Option<String>,
}

impl ChainVerdict {
    fn new(verdict: CertVerdict, detail: impl Into<String>) -> Self {
        ChainVerdict {
            verdict,
            detail: Some(detail.into()),
        }
    }

    /// Whether the verdict is `valid`.
    pub fn is_valid(&self) -> bool {
        self.verdict == CertVerdict::Valid
    }
}

/// Judges `chain` (leaf first, as presented) against `anchors` at time `now`, ignoring names.
/// Never returns [`CertVerdict::NameMismatch`].
pub fn judge_chain(
    chain: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: UnixTime,
) -> ChainVerdict {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return ChainVerdict::new(CertVerdict::Invalid, "no certificate presented");
    };
    let parsed = match ParsedCertificate::try_from(leaf) {
        Ok(p) => p,
        Err(e) => return ChainVerdict::new(CertVerdict::Invalid, format!("leaf: {e}")),
    };
    // the ring algorithms behind the memo: a repeated intermediate is verified once
    let algs = super::sigmemo::algorithms();
    let err = match verify_server_cert_signed_by_trust_anchor(
        &parsed,
        anchors.roots(),
        intermediates,
        now,
        algs,
    ) {
        Ok(()) => {
            return ChainVerdict {
                verdict: CertVerdict::Valid,
                detail: None,
            };
        }
        Err(e) => e,
    };
    // The certificate error alone ("certificate expired: …"), without rustls' generic
    // "invalid peer certificate: " prefix: the detail already belongs to a certificate column.
    let detail = describe(&err);
    if is_self_issued(leaf) {
        return ChainVerdict::new(
            CertVerdict::SelfSigned,
            format!("self-issued leaf; {detail}"),
        );
    }
    let verdict = match &err {
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => CertVerdict::Expired,
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => CertVerdict::NotYetValid,
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            if intermediates.is_empty() {
                CertVerdict::IncompleteChain
            } else {
                CertVerdict::Untrusted
            }
        }
        _ => CertVerdict::Invalid,
    };
    ChainVerdict::new(verdict, detail)
}

/// The certificate error for a person: rustls' text, except that a validity window is given
/// as dates and a span ("not valid after 2026-10-31T00:00:00Z, 30 days before the scan")
/// instead of UNIX seconds.
fn describe(err: &Error) -> String {
    match err {
        Error::InvalidCertificate(CertificateError::ExpiredContext { time, not_after }) => {
            format!(
                "certificate expired: not valid after {}, {} before the scan",
                utc(not_after.as_secs()),
                span(time.as_secs().saturating_sub(not_after.as_secs()))
            )
        }
        Error::InvalidCertificate(CertificateError::NotValidYetContext { time, not_before }) => {
            format!(
                "certificate not valid yet: not valid before {}, {} after the scan",
                utc(not_before.as_secs()),
                span(not_before.as_secs().saturating_sub(time.as_secs()))
            )
        }
        Error::InvalidCertificate(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// `secs` after the UNIX epoch as an RFC 3339 UTC time (seconds), or the raw number if it is
/// beyond chrono's range.
fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("{secs} (UNIX)"),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

/// A duration in the largest whole unit that fits: days, hours, minutes or seconds.
fn span(secs: u64) -> String {
    let (n, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Whether the leaf certificate `leaf` is valid for the DNS name `name` by the RFC 6125
/// DNS-ID rules webpki implements: subjectAltName dNSName entries only (the subject CN is
/// never consulted), a wildcard only as the complete leftmost label matching exactly one
/// label. A name that is not a syntactically valid DNS name never matches; a trailing dot and
/// letter case are ignored.
pub fn name_matches(leaf: &CertificateDer<'_>, name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    // One trailing dot is the root; a second would be an empty label, which webpki would
    // otherwise read as the root too.
    if name.ends_with('.') {
        return false;
    }
    let Ok(server_name) = ServerName::try_from(name.as_str()) else {
        return false;
    };
    if !matches!(server_name, ServerName::DnsName(_)) {
        return false;
    }
    let Ok(parsed) = ParsedCertificate::try_from(leaf) else {
        return false;
    };
    verify_server_name(&parsed, &server_name).is_ok()
}

/// The verdict of `chain` for the host `name`: [`judge_chain`] first (a chain problem takes
/// precedence), then `name-mismatch` if the leaf does not match `name`.
pub fn verdict_for_name(
    chain: &[CertificateDer<'_>],
    anchors: &TrustAnchors,
    now: UnixTime,
    name: &str,
) -> ChainVerdict {
    name_verdict(&judge_chain(chain, anchors, now), chain, name)
}

/// Combines an already computed chain verdict (from [`judge_chain`] on `chain`) with the
/// name check for `name` — the same result as [`verdict_for_name`] without validating the
/// chain again (one STARTTLS probe of an address serves many MX names).
pub fn name_verdict(
    chain_verdict: &ChainVerdict,
    chain: &[CertificateDer<'_>],
    name: &str,
) -> ChainVerdict {
    if !chain_verdict.is_valid() {
        return chain_verdict.clone();
    }
    match chain.first() {
        Some(leaf) if name_matches(leaf, name) => chain_verdict.clone(),
        _ => ChainVerdict::new(
            CertVerdict::NameMismatch,
            format!("certificate is not valid for {name}"),
        ),
    }
}

fn is_self_issued(der: &CertificateDer<'_>) -> bool {
    match X509Certificate::from_der(der.as_ref()) {
        Ok((_, cert)) => is_self_signed(&cert),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_strings() {
        let s: Vec<&str> = CertVerdict::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(
            s,
            [
                "valid",
                "expired",
                "not-yet-valid",
                "name-mismatch",
                "self-signed",
                "untrusted",
                "incomplete-chain",
                "invalid"
            ]
        );
    }

    #[test]
    fn validity_windows_are_described_with_dates() {
        let t = |s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s));
        let expired = Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: t(1_780_272_000),      // 2026-06-01T00:00:00Z
            not_after: t(1_777_680_000), // 2026-05-02T00:00:00Z
        });
        assert_eq!(
            describe(&expired),
            "certificate expired: not valid after 2026-05-02T00:00:00Z, 30 days before the scan"
        );
        let future = Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time: t(1_780_272_000),
            not_before: t(1_780_275_600),
        });
        assert_eq!(
            describe(&future),
            "certificate not valid yet: not valid before 2026-06-01T01:00:00Z, 1 hour after the scan"
        );
        assert_eq!(span(0), "0 seconds");
        assert_eq!(span(59), "59 seconds");
        assert_eq!(span(120), "2 minutes");
        assert_eq!(span(86_399), "23 hours");
        assert_eq!(utc(u64::MAX), format!("{} (UNIX)", u64::MAX));
    }

    #[test]
    fn empty_and_garbage_chains_are_invalid() {
        let a = TrustAnchors::mozilla();
        let now = UnixTime::now();
        assert_eq!(judge_chain(&[], &a, now).verdict, CertVerdict::Invalid);
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0xff]);
        assert_eq!(
            judge_chain(std::slice::from_ref(&junk), &a, now).verdict,
            CertVerdict::Invalid
        );
        assert!(!name_matches(&junk, "example.com"));
        assert_eq!(
            verdict_for_name(&[junk], &a, now, "example.com").verdict,
            CertVerdict::Invalid
        );
    }
}
