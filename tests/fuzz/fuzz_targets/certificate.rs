//! Fuzz target: what the scanner does with a certificate a server presented — describing it
//! (`CertInfo::from_der`, x509-parser), matching it to an MX name (`name_matches`, webpki's
//! RFC 6125 DNS-ID rules) and judging it as a one-certificate chain against an empty trust
//! store. The first input byte sets where the name (after it) ends and the DER begins.
//! Invariants: no panic; a chain that nothing anchors is never judged valid; when x509-parser
//! reads the subjectAltName extension and webpki matched the name, one of the dNSNames the
//! dataset records covers it (the two parsers agree on what was matched). Where they may
//! disagree is not checked: webpki decodes lazily (the subject and validity only when needed,
//! the SAN entries only up to the one that matches), so it matches names in some damaged
//! certificates that x509-parser rejects. The scanner checks a name only on a chain that
//! validates, so a scan meets this only if a trusted CA signed such malformed DER.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stsscan::tls::{CertInfo, CertificateDer, TrustAnchors, UnixTime, judge_chain, name_matches};
use x509_parser::prelude::{FromDer, X509Certificate};

/// RFC 6125 §6.4.3 as webpki applies it: the whole name, or `*.` + all but its first label.
/// Not `records::mx::MxPattern::matches` (the same one-label rule for policy `mx` patterns):
/// its parser rejects names webpki accepts in a SAN (underscores, for one), which would make
/// the oracle fail on certificates the scanner handles correctly.
fn covers(san: &str, name: &str) -> bool {
    let (san, name) = (san.to_ascii_lowercase(), name.to_ascii_lowercase());
    let name = name.strip_suffix('.').unwrap_or(&name);
    if san == name {
        return true;
    }
    match (san.strip_prefix("*."), name.split_once('.')) {
        (Some(rest), Some((_, parent))) => rest == parent,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(n).min(rest.len());
    let (name, der) = rest.split_at(cut);
    let name = String::from_utf8_lossy(name);
    let leaf = CertificateDer::from(der.to_vec());
    let matched = name_matches(&leaf, &name);
    let san_parses =
        X509Certificate::from_der(der).is_ok_and(|(_, c)| c.subject_alternative_name().is_ok());
    if let Ok(info) = CertInfo::from_der(der) {
        assert_eq!(info.sha256.len(), 64);
        if matched && san_parses {
            assert!(
                info.san_dns.iter().any(|s| covers(s, &name)),
                "{name:?} matched, but no recorded SAN covers it: {:?}",
                info.san_dns
            );
        }
    }
    let verdict = judge_chain(
        &[leaf],
        &TrustAnchors::empty(),
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_790_000_000)),
    );
    assert!(!verdict.is_valid());
});
