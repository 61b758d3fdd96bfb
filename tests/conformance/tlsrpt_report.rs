//! RFC 8460 §4 conformance of the TLS-RPT JSON report parser, plus the report corpus in
//! `datasets/tlsrpt/` (every file must produce exactly the codes its manifest says).

use std::collections::BTreeSet;
use std::path::Path;

use stsscan::records::tlsrpt_report::{
    self, MAX_REPORT_BYTES, PolicyType, RESULT_TYPES, ReportParse, ResultType,
};

fn dataset(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/tlsrpt");
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("dataset {name}: {e}"))
}

fn codes(p: &ReportParse) -> BTreeSet<&'static str> {
    p.errors
        .iter()
        .map(|e| e.code)
        .chain(p.findings.iter().map(|f| f.code))
        .collect()
}

/// RFC 8460 Appendix B ("Example JSON Report"): the example report must parse, including its
/// string-valued `mx-host` and its `failure-error-code` spelling (both noted as findings).
#[test]
fn rfc8460_example_report_parses() {
    let p = tlsrpt_report::parse(&dataset("rfc8460-example.json"));
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let r = p.report.as_ref().unwrap();
    assert_eq!(r.organization_name, "Company-X");
    assert_eq!(r.report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
    assert_eq!(
        r.contact_info.as_deref(),
        Some("sts-reporting@company-x.example")
    );
    assert_eq!(r.date_range.start.to_rfc3339(), "2016-04-01T00:00:00+00:00");
    let pol = &r.policies[0];
    assert_eq!(pol.policy.policy_type, PolicyType::Sts);
    assert_eq!(pol.policy.policy_domain, "company-y.example");
    assert_eq!(pol.policy.mx_host, ["*.mail.company-y.example"]);
    assert_eq!(pol.policy.policy_string.len(), 4);
    assert_eq!(pol.summary.total_successful_session_count, 5326);
    assert_eq!(pol.summary.total_failure_session_count, 303);
    let d = &pol.failure_details;
    assert_eq!(d.len(), 3);
    assert_eq!(d[0].result_type, ResultType::CertificateExpired);
    assert_eq!(
        d[0].sending_mta_ip,
        Some("2001:db8:abcd:12::1".parse().unwrap())
    );
    assert_eq!(d[1].result_type, ResultType::StarttlsNotSupported);
    assert_eq!(d[1].receiving_ip, Some("203.0.113.56".parse().unwrap()));
    assert_eq!(d[1].failed_session_count, 200);
    assert_eq!(d[2].result_type, ResultType::ValidationFailure);
    assert_eq!(
        d[2].failure_reason_code.as_deref(),
        Some("X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED")
    );
    assert_eq!(
        codes(&p),
        BTreeSet::from(["tlsrpt-failure-error-code", "tlsrpt-mx-host-string"])
    );
}

/// Reports are sent as "application/tlsrpt+gzip" (RFC 8460 §5.3, §6.2): the gzip of the
/// example parses to the same report.
#[test]
fn gzip_report_equals_plain_report() {
    let plain = tlsrpt_report::parse(&dataset("rfc8460-example.json"));
    let gz = tlsrpt_report::parse_gzip(&dataset("rfc8460-example.json.gz"));
    assert_eq!(gz, plain);
}

/// RFC 8460 §4.3: result types are a registry ("The list of result types will start with the
/// minimal set below and is expected to grow over time based on real-world experience."), so an
/// unregistered one is kept as `Other` with a finding, never rejected.
#[test]
fn every_registered_result_type_and_unknown_ones() {
    let p = tlsrpt_report::parse(&dataset("all-result-types.json"));
    assert!(p.errors.is_empty() && p.findings.is_empty(), "{p:?}");
    let seen: BTreeSet<String> = p
        .report
        .unwrap()
        .policies
        .iter()
        .flat_map(|pol| pol.failure_details.iter())
        .map(|d| d.result_type.as_str().to_owned())
        .collect();
    let all: BTreeSet<String> = RESULT_TYPES.iter().map(|r| r.as_str().to_owned()).collect();
    assert_eq!(seen, all);
    let p = tlsrpt_report::parse(&dataset("variant-unknown-result-type.json"));
    let r = p.report.unwrap();
    assert_eq!(
        r.policies[0].failure_details[0].result_type,
        ResultType::Other("certificate-revoked".into())
    );
}

/// RFC 8460 §4.4: "policy-type: The type of policy that was applied by the sending domain.
/// Presently, the only three valid choices are "tlsa", "sts", and the literal string
/// "no-policy-found"."
#[test]
fn policy_types() {
    let p = tlsrpt_report::parse(&dataset("all-result-types.json"));
    let types: Vec<PolicyType> = p
        .report
        .unwrap()
        .policies
        .into_iter()
        .map(|pol| pol.policy.policy_type)
        .collect();
    assert_eq!(
        types,
        [PolicyType::Sts, PolicyType::Tlsa, PolicyType::NoPolicyFound]
    );
}

/// RFC 8460 §4.1: "The report SHOULD cover a full day, from 00:00-24:00 UTC."
#[test]
fn partial_day_is_noted() {
    let json = String::from_utf8(dataset("google-style-no-failures.json"))
        .unwrap()
        .replace("2024-03-10T23:59:59Z", "2024-03-10T06:00:00Z");
    let p = tlsrpt_report::parse(json.as_bytes());
    assert!(p.report.is_some());
    assert_eq!(codes(&p), BTreeSet::from(["tlsrpt-not-full-day"]));
}

/// Size caps: JSON over the cap is rejected without parsing.
#[test]
fn oversize_json_is_rejected() {
    let big = vec![b' '; MAX_REPORT_BYTES + 1];
    assert_eq!(
        tlsrpt_report::parse(&big).errors[0].code,
        "tlsrpt-too-large"
    );
}

/// Every file of the corpus yields exactly the codes `MANIFEST.tsv` lists for it.
#[test]
fn corpus_matches_manifest() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/tlsrpt");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut cols = line.split('\t');
        let (file, expect, want) = (
            cols.next().unwrap(),
            cols.next().unwrap(),
            cols.next().unwrap_or(""),
        );
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let p = if file.ends_with(".gz") {
            tlsrpt_report::parse_gzip(&bytes)
        } else {
            tlsrpt_report::parse(&bytes)
        };
        let want: BTreeSet<&str> = want.split_whitespace().collect();
        if p.report.is_some() != (expect == "valid") || codes(&p) != want {
            mismatches.push(format!(
                "{file}: valid={} codes={:?}, manifest says {expect} {want:?}",
                p.report.is_some(),
                codes(&p)
            ));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(".json") || n.ends_with(".gz")
            })
        })
        .count();
    assert_eq!(checked, files, "every corpus file is in MANIFEST.tsv");
}
