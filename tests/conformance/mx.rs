//! MX patterns (RFC 8461 §3.2, §4.1) and MX RRset semantics (RFC 7505, RFC 5321 §5.1,
//! RFC 1035 §3.3.9). Each test quotes the sentence it checks.

use stsscan::records::diag::Severity;
use stsscan::records::mx::{MxHost, MxPattern, MxSet, classify};

fn pat(s: &str) -> MxPattern {
    MxPattern::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn bad(s: &str) -> &'static str {
    match MxPattern::parse(s) {
        Ok(p) => panic!("{s:?} parsed as {p}"),
        Err(e) => e.code,
    }
}

/// RFC 8461 §4.1: "the wildcard character '*' may only be used to match the entire left-most
/// label in the presented identifier. Thus, the mx pattern '*.example.com' matches
/// 'mail.example.com' but not 'example.com' or 'foo.bar.example.com'."
#[test]
fn rfc8461_4_1_wildcard_matches_one_leftmost_label() {
    let p = pat("*.example.com");
    assert!(p.matches("mail.example.com"));
    assert!(!p.matches("example.com"));
    assert!(!p.matches("foo.bar.example.com"));
    assert!(!p.matches("mailexample.com"));
    assert!(!p.matches("mail.example.com.evil"));
    assert!(!p.matches(".example.com"));
}

/// RFC 8461 §3.2: "Valid patterns can be either fully specified names ("example.com") or
/// suffixes prefixed by a wildcard ("*.example.net")."; ABNF
/// `sts-policy-mx-value = ["*."] Domain` (Domain from RFC 5321).
#[test]
fn rfc8461_3_2_pattern_syntax() {
    assert!(!pat("example.com").is_wildcard());
    assert!(pat("*.example.net").is_wildcard());
    assert_eq!(bad("*"), "mx-pattern-bad-wildcard");
    assert_eq!(bad("*example.net"), "mx-pattern-bad-wildcard");
    assert_eq!(bad("mx.*.example.net"), "mx-pattern-bad-wildcard");
    assert_eq!(bad("*.*.example.net"), "mx-pattern-bad-wildcard");
    // RFC 5321 Domain has no root dot and only LDH labels.
    assert_eq!(bad("mx.example.net."), "mx-pattern-trailing-dot");
    assert_eq!(bad("mx_1.example.net"), "mx-pattern-bad-char");
    assert_eq!(bad("mx..example.net"), "mx-pattern-empty-label");
    assert_eq!(bad(""), "mx-pattern-empty");
}

/// RFC 8461 §3.2: "In the case of Internationalized Domain Names ([RFC5891]), the "mx" value
/// MUST specify the Punycode-encoded A-label [RFC3492] to match against, and not the
/// Unicode-encoded U-label."
#[test]
fn rfc8461_3_2_a_labels_only() {
    assert_eq!(bad("mx.bücher.example"), "mx-pattern-u-label");
    let p = pat("mx.xn--bcher-kva.example");
    assert!(p.matches("mx.xn--bcher-kva.example"));
    assert_eq!(bad("mx.xn--a.example"), "mx-pattern-bad-a-label");
}

/// RFC 4343 (Abstract): "Domain Name System (DNS) names are "case insensitive"."; an MX host
/// name from DNS is fully qualified and may carry the root dot.
#[test]
fn matching_is_case_insensitive_and_ignores_root_dot() {
    assert!(pat("*.Example.COM").matches("MAIL.example.com."));
    assert!(pat("mail.example.com").matches("Mail.Example.Com."));
    assert!(!pat("mail.example.com").matches("mail.example.com.."));
    assert_eq!(pat("*.Example.COM").to_string(), "*.example.com");
}

/// `Display` gives text that parses back to the same pattern.
#[test]
fn display_round_trips() {
    for s in ["*.example.com", "MX1.Example.net", "a-b.c"] {
        let p = pat(s);
        assert_eq!(pat(&p.to_string()), p);
    }
}

/// RFC 7505 §3: "To indicate that a domain does not accept email, it advertises a single MX RR
/// (see Section 3.3.9 of [RFC1035]) with an RDATA section consisting of preference number 0
/// and a zero-length label, written in master files as ".", as the exchange domain, to denote
/// that there exists no mail exchanger for a domain."
#[test]
fn rfc7505_null_mx() {
    let a = classify("example.com", &[(0, ".")]);
    assert_eq!(a.set, MxSet::Null);
    assert!(a.set.hosts().is_empty());
    assert!(a.findings.is_empty());
    let b = classify("example.com", &[(10, ".")]);
    assert_eq!(b.set, MxSet::Null);
    assert_eq!(b.findings[0].code, "mx-null-nonzero-preference");
}

/// RFC 7505 §3: "A domain that advertises a null MX MUST NOT advertise any other MX RR."
#[test]
fn rfc7505_null_mx_with_others_is_invalid() {
    let a = classify("example.com", &[(10, "mx.example.com."), (0, ".")]);
    assert_eq!(a.set.kind(), "mixed-null");
    let f = a.findings.iter().find(|f| f.code == "mx-null-mixed");
    assert_eq!(f.map(|f| f.severity), Some(Severity::Error));
}

/// RFC 5321 §5.1: "If an empty list of MXs is returned, the address is treated as if it was
/// associated with an implicit MX RR, with a preference of 0, pointing to that host."
#[test]
fn rfc5321_implicit_mx() {
    let a = classify::<&str>("Example.com.", &[]);
    assert_eq!(
        a.set,
        MxSet::Implicit(MxHost {
            preference: 0,
            name: "example.com".into()
        })
    );
}

/// RFC 5321 §5.1: "MX records contain a preference indication that MUST be used in sorting if
/// more than one such record appears (see below). Lower numbers are more preferred than higher
/// ones."
#[test]
fn rfc5321_sorted_by_preference() {
    let a = classify(
        "example.com",
        &[
            (30, "c.example.com."),
            (10, "b.example.com."),
            (20, "a.example.com."),
        ],
    );
    let prefs: Vec<u16> = a.set.hosts().iter().map(|h| h.preference).collect();
    assert_eq!(prefs, vec![10, 20, 30]);
}

/// RFC 1035 §3.3.9: "EXCHANGE A <domain-name> which specifies a host willing to act as a mail
/// exchange for the owner name." — an IP address is not a domain name.
#[test]
fn rfc1035_exchange_is_a_host_name() {
    let a = classify("example.com", &[(10, "192.0.2.25"), (20, "[2001:db8::25]")]);
    let n = a
        .findings
        .iter()
        .filter(|f| f.code == "mx-ip-literal")
        .count();
    assert_eq!(n, 2);
    let b = classify(
        "example.com",
        &[(10, "mx.example.com"), (20, "MX.example.com.")],
    );
    assert_eq!(b.set.hosts().len(), 1);
    assert_eq!(b.findings[0].code, "mx-duplicate-host");
}
