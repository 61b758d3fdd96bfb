//! Domain-name normalization against RFC 1035, RFC 1123, RFC 3696 and IDNA (RFC 5890/5891,
//! UTS-46 mapping). Each test quotes the sentence it checks.

use stsscan::records::domain::{
    DomainName, MAX_LABEL_LEN, MAX_NAME_LEN, is_a_label, is_ldh_label, normalize,
};

fn code(input: &str) -> &'static str {
    match normalize(input) {
        Ok(d) => panic!("{input:?} unexpectedly normalized to {d}"),
        Err(e) => e.code,
    }
}

fn ok(input: &str) -> DomainName {
    normalize(input).unwrap_or_else(|e| panic!("{input:?}: {e}"))
}

/// RFC 1035 §2.3.4: "labels          63 octets or less" and "names           255 octets or
/// less" (wire form; 253 octets in presentation form without the root dot).
#[test]
fn rfc1035_size_limits() {
    assert_eq!(MAX_LABEL_LEN, 63);
    assert_eq!(MAX_NAME_LEN, 253);
    let l63 = "a".repeat(63);
    assert_eq!(ok(&format!("{l63}.example")).as_str().len(), 63 + 8);
    assert_eq!(code(&format!("a{l63}.example")), "domain-label-too-long");
    let max = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
    assert_eq!(ok(&max).as_str().len(), 253);
    assert_eq!(code(&format!("{max}b")), "domain-too-long");
    // The root dot does not count.
    assert_eq!(ok(&format!("{max}.")).as_str().len(), 253);
}

/// RFC 1035 §2.3.1: labels "must start with a letter, end with a letter or digit, and have as
/// interior characters only letters, digits, and hyphen"; RFC 1123 §2.1: "the restriction on
/// the first character is relaxed to allow either a letter or a digit."
#[test]
fn rfc1035_rfc1123_ldh_labels() {
    assert!(is_ldh_label("3com"));
    assert!(is_ldh_label("a-b"));
    assert!(!is_ldh_label("-ab"));
    assert!(!is_ldh_label("ab-"));
    assert!(!is_ldh_label("a_b"));
    assert_eq!(ok("3com.example").as_str(), "3com.example");
    assert_eq!(code("-mx.example"), "domain-bad-hyphen");
    assert_eq!(code("mx-.example"), "domain-bad-hyphen");
    assert_eq!(code("m_x.example"), "domain-bad-char");
    assert_eq!(code("m x.example"), "domain-bad-char");
    assert_eq!(code("a..example"), "domain-empty-label");
}

/// RFC 3696 §2: "There is an additional rule that essentially requires that top-level domain
/// names not be all-numeric."
#[test]
fn rfc3696_numeric_tld() {
    assert_eq!(code("192.0.2.1"), "domain-numeric-tld");
    assert_eq!(code("example.123"), "domain-numeric-tld");
    assert!(normalize("123.example").is_ok());
}

/// RFC 4343 (Abstract): "Domain Name System (DNS) names are "case insensitive"." — so the
/// normalized form is lowercase and equal for any spelling.
#[test]
fn rfc4343_case_insensitive() {
    assert_eq!(ok("MAIL.Example.COM"), ok("mail.example.com"));
    assert_eq!(ok("MAIL.Example.COM").as_str(), "mail.example.com");
}

/// RFC 5890 §2.3.2.1: an A-label starts with the ACE prefix "xn--"; RFC 5891 §4.4: the
/// U-label is converted to an A-label (Punycode, RFC 3492) for use in the DNS.
#[test]
fn rfc5890_a_labels() {
    let d = ok("Bücher.example");
    assert_eq!(d.as_str(), "xn--bcher-kva.example");
    assert_eq!(d.unicode(), Some("bücher.example"));
    assert!(is_a_label("XN--bcher-kva"));
    assert_eq!(ok("xn--bcher-kva.EXAMPLE"), d);
    assert_eq!(code("xn--a.example"), "domain-bad-a-label");
    assert_eq!(code("bü cher.example"), "domain-idna-invalid");
}

/// RFC 3490 §3.1 requirement 1: "Whenever dots are used as label separators, the following
/// characters MUST be recognized as dots: U+002E (full stop),
/// U+3002 (ideographic full stop), U+FF0E (fullwidth full stop), U+FF61 (halfwidth
/// ideographic full stop)" (UTS-46 keeps this mapping).
#[test]
fn rfc3490_label_separators() {
    let want = ok("bücher.example");
    for sep in ['\u{3002}', '\u{ff0e}', '\u{ff61}'] {
        assert_eq!(ok(&format!("bücher{sep}example")), want, "{sep:?}");
    }
}

/// Inputs from lists carry whitespace and a root dot; neither is part of the name.
#[test]
fn trims_and_strips_one_root_dot() {
    assert_eq!(ok(" example.com.\r\n").as_str(), "example.com");
    assert_eq!(code("example.com.."), "domain-empty-label");
    assert_eq!(code("."), "domain-empty");
    assert_eq!(code(""), "domain-empty");
}
