//! Unit tests of the TLS-RPT report parser internals (offsets, full-day rule, gzip caps).

use std::io::Write;

use super::*;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn offsets_from_line_and_column() {
    let s = b"{\n  \"a\": x\n}";
    assert_eq!(offset_of(s, 2, 8), 9);
    assert_eq!(&s[9..10], b"x");
    assert_eq!(offset_of(s, 99, 99), s.len());
    let p = parse(s);
    assert_eq!(p.errors[0].code, "tlsrpt-bad-json");
    assert_eq!(p.errors[0].span, Span::new(9, 10));
}

#[test]
fn full_day_rule() {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let day = t("2024-01-01T00:00:00Z");
    assert!(is_full_day(day, t("2024-01-02T00:00:00Z")));
    assert!(is_full_day(day, t("2024-01-01T23:59:59Z")));
    assert!(is_full_day(day, t("2024-01-01T23:59:59.999Z")));
    assert!(!is_full_day(day, t("2024-01-01T12:00:00Z")));
    assert!(!is_full_day(
        t("2024-01-01T01:00:00Z"),
        t("2024-01-02T01:00:00Z")
    ));
}

#[test]
fn gzip_bomb_is_capped() {
    // 17 MiB of zeros deflates to ~17 KiB; inflation must stop at the cap.
    let bomb = gz(&vec![b' '; MAX_INFLATED_BYTES + 1024 * 1024]);
    assert!(bomb.len() < 100_000);
    let p = parse_gzip(&bomb);
    assert_eq!(p.errors[0].code, "tlsrpt-inflated-too-large");
}

#[test]
fn gzip_garbage_and_members() {
    assert_eq!(parse_gzip(b"not gzip").errors[0].code, "tlsrpt-bad-gzip");
    let mut two = gz(b"{\"organization-name\": ");
    two.extend(gz(b"1}"));
    // Members are concatenated before JSON parsing: `1` is the wrong type, not bad JSON.
    let p = parse_gzip(&two);
    assert!(
        p.errors.iter().any(|e| e.code == "tlsrpt-bad-type"),
        "{:?}",
        p.errors
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(parse(deep.as_bytes()).errors[0].code, "tlsrpt-bad-json");
}

#[test]
fn result_type_names_round_trip() {
    for r in RESULT_TYPES {
        assert_eq!(ResultType::from_name(r.as_str()), r);
    }
    assert_eq!(
        ResultType::from_name("Certificate-Expired"),
        ResultType::Other("Certificate-Expired".into())
    );
}

fn minimal(summary: &str, policy_type: &str) -> String {
    format!(
        r#"{{"organization-name":"o","contact-info":"c","report-id":"r",
        "date-range":{{"start-datetime":"2024-01-01T00:00:00Z","end-datetime":"2024-01-02T00:00:00Z"}},
        "policies":[{{"policy":{{"policy-type":"{policy_type}","policy-domain":"example.com"}},
        "summary":{summary}}}]}}"#
    )
}

fn all_codes(p: &ReportParse) -> Vec<&'static str> {
    p.errors
        .iter()
        .map(|e| e.code)
        .chain(p.findings.iter().map(|f| f.code))
        .collect()
}

#[test]
fn counts_must_be_non_negative_integers() {
    let ok = r#"{"total-successful-session-count":1,"total-failure-session-count":0}"#;
    let p = parse(minimal(ok, "sts").as_bytes());
    assert!(p.report.is_some() && all_codes(&p).is_empty(), "{p:?}");
    for bad in [
        "1.5",
        "-1",
        "\"+5\"",
        "\"five\"",
        "true",
        "18446744073709551616",
    ] {
        let s = format!(
            r#"{{"total-successful-session-count":{bad},"total-failure-session-count":0}}"#
        );
        assert_eq!(
            all_codes(&parse(minimal(&s, "sts").as_bytes())),
            ["tlsrpt-bad-count"],
            "{bad}"
        );
    }
    let s = r#"{"total-successful-session-count":" 7","total-failure-session-count":0}"#;
    let p = parse(minimal(s, "sts").as_bytes());
    assert_eq!(
        p.report.unwrap().policies[0]
            .summary
            .total_successful_session_count,
        7
    );
    let s = r#"{"total-successful-session-count":1}"#;
    assert_eq!(
        all_codes(&parse(minimal(s, "sts").as_bytes())),
        ["tlsrpt-missing-field"]
    );
}

#[test]
fn unknown_policy_type_is_kept() {
    let ok = r#"{"total-successful-session-count":1,"total-failure-session-count":0}"#;
    let p = parse(minimal(ok, "dane").as_bytes());
    assert_eq!(all_codes(&p), ["tlsrpt-unknown-policy-type"]);
    assert_eq!(
        p.report.unwrap().policies[0].policy.policy_type,
        PolicyType::Other("dane".into())
    );
}

#[test]
fn diagnostics_are_capped() {
    let fields: Vec<String> = (0..1000).map(|i| format!(r#""x{i}":1"#)).collect();
    let json = format!("{{{}}}", fields.join(","));
    let p = parse(json.as_bytes());
    assert!(p.findings.len() <= MAX_DIAGNOSTICS + 1);
    assert_eq!(
        p.findings.last().unwrap().code,
        "tlsrpt-too-many-diagnostics"
    );
}
