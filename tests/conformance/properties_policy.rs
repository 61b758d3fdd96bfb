//! Property tests of the policy body and TLS-RPT report parsers: generated valid policies
//! round-trip through `Display` (RFC 8461 §3.2 grammar, written with CRLF as "This resource
//! contains the following CRLF-separated key/value pairs" asks), and arbitrary bytes never
//! panic either parser and always yield in-bounds spans.

use proptest::prelude::*;
use stsscan::records::mx::MxPattern;
use stsscan::records::policy::{self, MAX_AGE_LIMIT, Mode, Policy, Version};
use stsscan::records::tlsrpt_report;

fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?".prop_filter("no xn-- style labels", |l| !l.contains("--"))
}

fn mx_pattern() -> impl Strategy<Value = MxPattern> {
    (
        any::<bool>(),
        prop::collection::vec(label(), 1..3),
        "[a-z]{2,6}",
    )
        .prop_map(|(wild, labels, tld)| {
            let base = format!("{}.{tld}", labels.join("."));
            let text = if wild { format!("*.{base}") } else { base };
            MxPattern::parse(&text).unwrap_or_else(|e| panic!("generator made {text}: {e}"))
        })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Enforce), Just(Mode::Testing), Just(Mode::None)]
}

fn extensions() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("x[a-z0-9_.-]{0,12}", "[!-~]([ !-~éü漢]{0,20}[!-~])?", 0..3)
        .prop_map(|m| m.into_iter().collect())
}

fn valid_policy() -> impl Strategy<Value = Policy> {
    (
        mode(),
        0..=MAX_AGE_LIMIT,
        prop::collection::vec(mx_pattern(), 0..4),
        extensions(),
    )
        .prop_map(|(mode, max_age, mut mx, extensions)| {
            if mode != Mode::None && mx.is_empty() {
                mx.push(MxPattern::parse("mx.example.com").unwrap_or_else(|e| panic!("{e}")));
            }
            Policy {
                version: Version::StsV1,
                mode,
                max_age,
                mx,
                extensions,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// parse(display(policy)) == policy for every generated valid policy.
    #[test]
    fn display_round_trips(p in valid_policy()) {
        let text = p.to_string();
        let parsed = policy::parse(text.as_bytes());
        prop_assert!(parsed.errors.is_empty(), "{text:?}: {:?}", parsed.errors);
        prop_assert_eq!(parsed.policy, Some(p));
    }

    /// The same holds with LF line endings (`sts-policy-term = LF / CRLF`).
    #[test]
    fn lf_variant_round_trips(p in valid_policy()) {
        let text = p.to_string().replace("\r\n", "\n");
        prop_assert_eq!(policy::parse(text.as_bytes()).policy, Some(p));
    }

    /// Arbitrary bytes never panic; a policy is returned iff there are no errors; spans lie
    /// inside the input.
    #[test]
    fn policy_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let p = policy::parse(&bytes);
        prop_assert_eq!(p.policy.is_some(), p.errors.is_empty());
        for e in &p.errors {
            prop_assert!(e.span.start <= e.span.end && e.span.end <= bytes.len(), "{e:?}");
        }
        for f in p.findings.iter().filter_map(|f| f.span) {
            prop_assert!(f.end <= bytes.len());
        }
    }

    /// Valid policies with random bytes spliced in never panic and keep spans in bounds.
    #[test]
    fn policy_mutations(p in valid_policy(), at in any::<prop::sample::Index>(),
                        junk in prop::collection::vec(any::<u8>(), 1..8)) {
        let mut bytes = p.to_string().into_bytes();
        let i = at.index(bytes.len() + 1);
        bytes.splice(i..i, junk);
        let parsed = policy::parse(&bytes);
        prop_assert_eq!(parsed.policy.is_some(), parsed.errors.is_empty());
        for e in &parsed.errors {
            prop_assert!(e.span.end <= bytes.len(), "{e:?}");
        }
    }

    /// Arbitrary bytes never panic the report parsers.
    #[test]
    fn report_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let p = tlsrpt_report::parse(&bytes);
        prop_assert_eq!(p.report.is_some(), p.errors.is_empty());
        let _ = tlsrpt_report::parse_gzip(&bytes);
    }

    /// JSON-shaped noise (the alphabet of reports) never panics and bounds spans.
    #[test]
    fn report_json_noise(s in r#"[{}\[\]":, 0-9a-z\-]{0,300}"#) {
        let p = tlsrpt_report::parse(s.as_bytes());
        for e in &p.errors {
            prop_assert!(e.span.end <= s.len(), "{e:?}");
        }
    }
}
