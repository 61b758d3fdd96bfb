//! Certificate verdicts (docs/ground-truth.md "Certificate verdicts") and RFC 6125 name
//! matching, judged at a fixed time against a throw-away PKI.

use rustls::pki_types::CertificateDer;
use stsscan::tls::{
    CertInfo, CertVerdict, TrustAnchors, describe_chain, judge_chain, name_matches, name_verdict,
    verdict_for_name,
};

use super::pki::{CURRENT, EXPIRED, FUTURE, Pki, leaf_params, now, self_signed};

const NAME: &str = "mta-sts.example.com";

fn verdict(chain: &[CertificateDer<'static>], anchors: &TrustAnchors) -> CertVerdict {
    judge_chain(chain, anchors, now()).verdict
}

#[test]
fn valid_chain_through_intermediate() {
    let pki = Pki::new("valid");
    let leaf = pki.leaf(&[NAME], CURRENT);
    let v = verdict_for_name(&leaf.chain, &pki.anchors(), now(), NAME);
    assert_eq!(v.verdict, CertVerdict::Valid, "{v:?}");
    assert_eq!(v.detail, None);
}

#[test]
fn expired_and_not_yet_valid() {
    let pki = Pki::new("time");
    let a = pki.anchors();
    assert_eq!(
        verdict(&pki.leaf(&[NAME], EXPIRED).chain, &a),
        CertVerdict::Expired
    );
    assert_eq!(
        verdict(&pki.leaf(&[NAME], FUTURE).chain, &a),
        CertVerdict::NotYetValid
    );
    // The detail gives the window as a date, not UNIX seconds (RFC 5280 §4.1.2.5: the
    // validity period is "the time interval during which the CA warrants that it will
    // maintain information about the status of the certificate").
    let d = judge_chain(&pki.leaf(&[NAME], EXPIRED).chain, &a, now()).detail;
    assert_eq!(
        d.as_deref(),
        Some(
            "certificate expired: not valid after 2002-01-01T00:00:00Z, 8917 days before the scan"
        )
    );
    let d = judge_chain(&pki.leaf(&[NAME], FUTURE).chain, &a, now()).detail;
    assert!(
        d.as_deref().is_some_and(|d| d
            .starts_with("certificate not valid yet: not valid before 2095-01-01T00:00:00Z, ")
            && d.ends_with(" days after the scan")),
        "{d:?}"
    );
    // The same chain is fine once "now" is inside its window: the judge uses the time given.
    let leaf = pki.leaf(&[NAME], FUTURE);
    let later = rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        4_000_000_000, // 2096-10-02
    ));
    // The CA certificates end in 2090, so the chain is judged expired then, not valid.
    assert_eq!(
        judge_chain(&leaf.chain, &a, later).verdict,
        CertVerdict::Expired
    );
}

#[test]
fn self_signed_leaf() {
    let a = Pki::new("anchors-only").anchors();
    let leaf = self_signed(&[NAME], CURRENT);
    assert_eq!(verdict(&leaf.chain, &a), CertVerdict::SelfSigned);
    // Self-signed and expired: still self-signed (renewing alone would not fix it).
    let old = self_signed(&[NAME], EXPIRED);
    assert_eq!(verdict(&old.chain, &a), CertVerdict::SelfSigned);
    // A self-signed certificate that *is* an anchor validates.
    let mut trusting = TrustAnchors::empty();
    trusting.add_der(leaf.chain[0].clone()).unwrap();
    assert_eq!(verdict(&leaf.chain, &trusting), CertVerdict::Valid);
    let info = CertInfo::from_der(&leaf.chain[0]).unwrap();
    assert!(info.is_self_signed);
}

#[test]
fn unknown_root_is_untrusted() {
    let known = Pki::new("known");
    let unknown = Pki::new("unknown");
    let leaf = unknown.leaf(&[NAME], CURRENT);
    assert_eq!(
        verdict(&leaf.chain, &known.anchors()),
        CertVerdict::Untrusted
    );
    // The Mozilla roots do not know the test PKI either.
    assert_eq!(
        verdict(&leaf.chain, &TrustAnchors::mozilla()),
        CertVerdict::Untrusted
    );
}

#[test]
fn leaf_only_is_incomplete_chain() {
    let pki = Pki::new("incomplete");
    let leaf = pki.leaf(&[NAME], CURRENT);
    let only = vec![leaf.chain[0].clone()];
    let v = judge_chain(&only, &pki.anchors(), now());
    assert_eq!(v.verdict, CertVerdict::IncompleteChain, "{v:?}");
    // Only a leaf, but issued by an anchor directly: nothing is missing.
    let direct = pki.leaf_by_root(&[NAME]);
    assert_eq!(verdict(&direct.chain, &pki.anchors()), CertVerdict::Valid);
    // Leaf plus the intermediate is complete.
    assert_eq!(verdict(&leaf.chain, &pki.anchors()), CertVerdict::Valid);
}

#[test]
fn other_defects_are_invalid_with_detail() {
    let pki = Pki::new("invalid");
    // A CA certificate presented as the leaf.
    let ca_as_leaf = vec![pki.inter.der().clone(), pki.root.der().clone()];
    let v = judge_chain(&ca_as_leaf, &pki.anchors(), now());
    assert_eq!(v.verdict, CertVerdict::Invalid, "{v:?}");
    assert!(v.detail.is_some());
    // A leaf whose signature was tampered with.
    let leaf = pki.leaf(&[NAME], CURRENT);
    let mut der = leaf.chain[0].to_vec();
    let last = der.len() - 1;
    der[last] ^= 0x55;
    let tampered = vec![CertificateDer::from(der), leaf.chain[1].clone()];
    let v = judge_chain(&tampered, &pki.anchors(), now());
    assert_eq!(v.verdict, CertVerdict::Invalid, "{v:?}");
}

/// RFC 5280 §4.2.1.12: "If the extension is present, then the certificate MUST only be used
/// for one of the purposes indicated." A leaf from the trusted intermediate whose
/// extendedKeyUsage is `clientAuth` only (a client certificate installed on a server) is
/// `invalid`: not `valid`, and neither a time nor a trust verdict. Without the extension, or
/// with `serverAuth` among others, it validates.
#[test]
fn leaf_without_server_auth_purpose_is_invalid() {
    use rcgen::ExtendedKeyUsagePurpose as Eku;
    let pki = Pki::new("purpose");
    let with = |ekus: Vec<Eku>| {
        let mut p = leaf_params(&[NAME], NAME, CURRENT);
        p.extended_key_usages = ekus;
        pki.leaf_from(p).chain
    };
    let client_only = with(vec![Eku::ClientAuth]);
    let v = verdict_for_name(&client_only, &pki.anchors(), now(), NAME);
    assert_eq!(v.verdict, CertVerdict::Invalid, "{v:?}");
    assert!(
        v.detail
            .as_deref()
            .is_some_and(|d| d.contains("extended key usage for server authentication")),
        "{v:?}"
    );
    assert_eq!(
        verdict(&with(vec![Eku::EmailProtection]), &pki.anchors()),
        CertVerdict::Invalid
    );
    assert_eq!(
        verdict(
            &with(vec![Eku::ClientAuth, Eku::ServerAuth]),
            &pki.anchors()
        ),
        CertVerdict::Valid
    );
    assert_eq!(
        verdict(&with(Vec::new()), &pki.anchors()),
        CertVerdict::Valid
    );
}

#[test]
fn chain_problem_takes_precedence_over_name_mismatch() {
    // docs/ground-truth.md: "A chain problem takes precedence over a name mismatch."
    let pki = Pki::new("precedence");
    let a = pki.anchors();
    let wrong_name = pki.leaf(&["www.example.com"], CURRENT);
    assert_eq!(
        verdict_for_name(&wrong_name.chain, &a, now(), NAME).verdict,
        CertVerdict::NameMismatch
    );
    let expired_wrong = pki.leaf(&["www.example.com"], EXPIRED);
    assert_eq!(
        verdict_for_name(&expired_wrong.chain, &a, now(), NAME).verdict,
        CertVerdict::Expired
    );
    let self_wrong = self_signed(&["www.example.com"], CURRENT);
    assert_eq!(
        verdict_for_name(&self_wrong.chain, &a, now(), NAME).verdict,
        CertVerdict::SelfSigned
    );
}

#[test]
fn name_verdict_equals_verdict_for_name() {
    let pki = Pki::new("combine");
    let a = pki.anchors();
    let chains = [
        pki.leaf(&[NAME], CURRENT).chain,
        pki.leaf(&["*.example.com"], CURRENT).chain,
        pki.leaf(&[NAME], EXPIRED).chain,
        self_signed(&[NAME], CURRENT).chain,
    ];
    for chain in &chains {
        let judged = judge_chain(chain, &a, now());
        for name in [NAME, "mx.example.com", "example.com", "other.example.net"] {
            assert_eq!(
                name_verdict(&judged, chain, name),
                verdict_for_name(chain, &a, now(), name)
            );
        }
    }
}

#[test]
fn rfc6125_wildcard_rules() {
    // RFC 6125 §6.4.3: "The client SHOULD NOT attempt to match a presented identifier in
    // which the wildcard character comprises a label other than the left-most label" and
    // "If the wildcard character is the only character of the left-most label in the
    // presented identifier, the client SHOULD NOT compare against anything but the left-most
    // label of the reference identifier (e.g., *.example.com would match foo.example.com but
    // not bar.foo.example.com or example.com)."
    let pki = Pki::new("wildcard");
    let wild = pki.leaf(&["*.example.com"], CURRENT).chain[0].clone();
    assert!(name_matches(&wild, "a.example.com"));
    assert!(name_matches(&wild, "mta-sts.example.com"));
    assert!(name_matches(&wild, "MTA-STS.Example.COM."));
    // one trailing dot is the root; two would be an empty label, not a DNS name
    assert!(!name_matches(&wild, "mta-sts.example.com.."));
    assert!(!name_matches(&wild, "a.b.example.com"));
    assert!(!name_matches(&wild, "example.com"));
    assert!(!name_matches(&wild, "a.example.net"));
    // A partial-label wildcard is not honoured (webpki, like browsers, only accepts "*" as
    // the complete left-most label).
    let partial = pki.leaf(&["x*.example.com"], CURRENT).chain[0].clone();
    assert!(!name_matches(&partial, "xa.example.com"));
    assert!(!name_matches(&partial, "x.example.com"));
    // A wildcard in a non-leftmost label never matches.
    let inner = pki.leaf(&["a.*.example.com"], CURRENT).chain[0].clone();
    assert!(!name_matches(&inner, "a.b.example.com"));
    // Exact names.
    let exact = pki.leaf(&[NAME], CURRENT).chain[0].clone();
    assert!(name_matches(&exact, NAME));
    assert!(!name_matches(&exact, "sts.example.com"));
    assert!(!name_matches(&exact, "not a name"));
}

#[test]
fn no_common_name_fallback() {
    // RFC 6125 §6.4.4: "a client MUST NOT seek a match for a reference identifier of CN-ID
    // if the presented identifiers include a DNS-ID, SRV-ID, URI-ID, or any
    // application-specific identifier types supported by the client."; webpki (like RFC 9525, which
    // obsoletes it) never consults the CN at all.
    let pki = Pki::new("cn");
    let cn_only = pki.leaf_from(leaf_params(&[], NAME, CURRENT));
    assert!(!name_matches(&cn_only.chain[0], NAME));
    let cn_and_other_san = pki.leaf_from(leaf_params(&["other.example.com"], NAME, CURRENT));
    assert!(!name_matches(&cn_and_other_san.chain[0], NAME));
    assert_eq!(
        verdict_for_name(&cn_only.chain, &pki.anchors(), now(), NAME).verdict,
        CertVerdict::NameMismatch
    );
}

#[test]
fn cert_info_describes_the_chain() {
    let pki = Pki::new("info");
    let leaf = pki.leaf(&[NAME, "*.example.com"], CURRENT);
    let infos = describe_chain(&leaf.chain);
    assert_eq!(infos.len(), 2);
    let leaf_info = infos[0].as_ref().unwrap();
    assert_eq!(
        leaf_info.san_dns,
        vec![NAME.to_owned(), "*.example.com".to_owned()]
    );
    assert!(leaf_info.subject.contains(NAME), "{}", leaf_info.subject);
    assert!(
        leaf_info.issuer.contains("info intermediate"),
        "{}",
        leaf_info.issuer
    );
    assert_eq!(leaf_info.not_before, 1_577_836_800); // 2020-01-01
    assert_eq!(leaf_info.not_after, 3_786_912_000); // 2090-01-01
    assert_eq!(leaf_info.key_algorithm, "id-ecPublicKey");
    assert_eq!(leaf_info.key_bits, 256);
    assert_eq!(leaf_info.signature_algorithm, "ecdsa-with-SHA256");
    assert_eq!(leaf_info.sha256.len(), 64);
    assert!(!leaf_info.is_self_signed);
    let inter_info = infos[1].as_ref().unwrap();
    assert!(!inter_info.is_self_signed);
    assert_ne!(leaf_info.sha256, inter_info.sha256);
    let root_info = CertInfo::from_der(pki.root.der()).unwrap();
    assert!(root_info.is_self_signed);
}

#[test]
fn ca_file_loading() {
    let pki = Pki::new("cafile");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab-ca.pem");
    std::fs::write(&path, pki.root.pem()).unwrap();
    let with_defaults = TrustAnchors::from_pem_files(std::slice::from_ref(&path), true).unwrap();
    assert_eq!(with_defaults.extra_len(), 1);
    assert!(with_defaults.len() > 100);
    let only = TrustAnchors::from_pem_files(&[path], false).unwrap();
    assert_eq!(only.len(), 1);
    let leaf = pki.leaf(&[NAME], CURRENT);
    assert_eq!(verdict(&leaf.chain, &only), CertVerdict::Valid);
    assert_eq!(verdict(&leaf.chain, &with_defaults), CertVerdict::Valid);
}

mod garbage {
    //! Untrusted certificates never panic the judge or the describer.

    use proptest::prelude::*;

    use super::*;

    fn sample() -> (Vec<u8>, Vec<u8>) {
        static SAMPLE: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
        SAMPLE
            .get_or_init(|| {
                let pki = Pki::new("garbage");
                let leaf = pki.leaf(&[NAME, "*.example.com"], CURRENT);
                (leaf.chain[0].to_vec(), leaf.chain[1].to_vec())
            })
            .clone()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn mutated_certificates_never_panic(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let (leaf, inter) = sample();
            let mut der = leaf.clone();
            for (i, x) in flips {
                let i = i.index(der.len());
                der[i] ^= x | 1;
            }
            if truncate {
                der.truncate(cut.index(der.len()));
            }
            let chain = vec![CertificateDer::from(der.clone()), CertificateDer::from(inter)];
            let anchors = TrustAnchors::empty();
            let v = verdict_for_name(&chain, &anchors, now(), NAME);
            // No anchor: never valid, whatever the bytes.
            prop_assert_ne!(v.verdict, CertVerdict::Valid);
            let _ = name_matches(&chain[0], NAME);
            let _ = describe_chain(&chain);
            let _ = CertInfo::from_der(&der);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let chain = vec![CertificateDer::from(bytes.clone())];
            let v = judge_chain(&chain, &TrustAnchors::mozilla(), now());
            prop_assert_eq!(v.verdict, CertVerdict::Invalid);
            prop_assert!(!name_matches(&chain[0], NAME));
            prop_assert!(CertInfo::from_der(&bytes).is_err());
        }
    }
}
