//! Domain-level verdicts against RFC 8461 §5 (policy application), RFC 8460 §4.3 (result
//! types) and RFC 2181 §10.3 (MX targets are not aliases). Each test quotes the sentence it
//! checks; the functions under test are the pure ones in `stsscan::assess::verdict`.

use stsscan::assess::verdict::{AddressFacts, MxHostFacts, host_findings, summarize};
use stsscan::records::diag::Severity;

/// One MX host with one address: `smtp` is the SMTP outcome, `cert` the certificate verdict.
fn host(name: &str, policy_match: Option<bool>, smtp: &str, cert: Option<&str>) -> MxHostFacts {
    MxHostFacts {
        host: name.into(),
        policy_match,
        addresses: vec![AddressFacts {
            smtp: Some(smtp.into()),
            starttls: Some(smtp == "ok"),
            cert: cert.map(str::to_owned),
            injection: Some(false),
        }],
        withheld: false,
    }
}

fn codes(h: &MxHostFacts, is_cname: bool, mode: &str) -> Vec<&'static str> {
    host_findings(h, is_cname, Some(mode))
        .iter()
        .map(|f| f.code)
        .collect()
}

/// RFC 2181 §10.3: "The domain name used as the value of a NS resource record, or part of the
/// value of a MX resource record must not be an alias." An MX target reached through a CNAME is
/// reported, and only then.
#[test]
fn rfc2181_10_3_mx_target_alias_is_flagged() {
    let good = host("mx.example.com", Some(true), "ok", Some("valid"));
    assert_eq!(codes(&good, true, "enforce"), ["mx-is-cname"]);
    assert!(codes(&good, false, "enforce").is_empty());
}

/// RFC 8461 §5: ""enforce": In this mode, Sending MTAs MUST NOT deliver the message to hosts that
/// fail MX matching or certificate validation or that do not support STARTTLS." Each of the
/// three failures alone makes a host unusable; one host passing all three makes the domain
/// deliverable.
#[test]
fn rfc8461_5_enforce_needs_match_starttls_and_valid_certificate() {
    let unmatched = host("a.example.com", Some(false), "ok", Some("valid"));
    let no_starttls = host("b.example.com", Some(true), "starttls-not-offered", None);
    let bad_cert = host("c.example.com", Some(true), "ok", Some("name-mismatch"));
    for h in [&unmatched, &no_starttls, &bad_cert] {
        let s = summarize(std::slice::from_ref(h), true, true);
        assert_eq!(s.enforce_deliverable, Some(false), "{}", h.host);
        assert!(s.rfc8460_result.is_some(), "{}", h.host);
    }
    let good = host("d.example.com", Some(true), "ok", Some("valid"));
    let s = summarize(&[unmatched, no_starttls, bad_cert, good], true, true);
    assert_eq!(s.enforce_deliverable, Some(true));
    assert_eq!(s.rfc8460_result, None);
}

/// RFC 8460 §4.3.1 result types name the failure: "starttls-not-supported" when the MX does not
/// offer STARTTLS, "certificate-host-mismatch" when the certificate does not match the host.
#[test]
fn rfc8460_result_type_explains_the_failure() {
    let no_starttls = host("b.example.com", Some(true), "starttls-not-offered", None);
    let s = summarize(&[no_starttls], true, true);
    assert_eq!(s.rfc8460_result, Some("starttls-not-supported"));
    let bad_cert = host("c.example.com", Some(true), "ok", Some("name-mismatch"));
    let s = summarize(&[bad_cert], true, true);
    assert_eq!(s.rfc8460_result, Some("certificate-host-mismatch"));
    let expired = host("c.example.com", Some(true), "ok", Some("expired"));
    let s = summarize(&[expired], true, true);
    assert_eq!(s.rfc8460_result, Some("certificate-expired"));
}

/// RFC 8461 §5: under "enforce" an unmatched MX receives no mail (an error); under "testing"
/// "messages may be delivered as though there were no MTA-STS validation failure" (a warning).
#[test]
fn rfc8461_5_unmatched_mx_is_an_error_only_under_enforce() {
    let unmatched = host("a.example.com", Some(false), "ok", Some("valid"));
    let sev = |mode: &str| {
        host_findings(&unmatched, false, Some(mode))
            .iter()
            .find(|f| f.code == "mx-not-covered")
            .map(|f| f.severity)
    };
    assert_eq!(sev("enforce"), Some(Severity::Error));
    assert_eq!(sev("testing"), Some(Severity::Warning));
}

/// Without a usable policy nothing is enforced, so deliverability under `enforce` is not a
/// question (RFC 8461 §3.3: "senders MUST continue with delivery as though the domain has not
/// implemented MTA-STS").
#[test]
fn no_usable_policy_means_no_enforce_verdict() {
    let h = host("a.example.com", None, "ok", Some("valid"));
    let s = summarize(&[h], false, true);
    assert_eq!(s.enforce_deliverable, None);
    assert_eq!(s.rfc8460_result, None);
}
