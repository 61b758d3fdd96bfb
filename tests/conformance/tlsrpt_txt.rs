//! RFC 8460 §3 conformance of the `_smtp._tls` TXT record parser and RRset rule, plus the
//! corpus in `datasets/records/txt/tlsrpt.jsonl`. Each test quotes the sentence it checks.

use std::path::Path;

use serde_json::Value;
use stsscan::records::diag::{ParseError, Severity};
use stsscan::records::tlsrpt_txt::{
    ParsedTlsRptTxt, RuaScheme, TlsRptOutcome, evaluate_rrset, parse_record,
};

fn ok(s: &str) -> ParsedTlsRptTxt {
    parse_record(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> ParseError {
    match parse_record(s.as_bytes()) {
        Ok(p) => panic!("{s:?} parsed as {:?}", p.record),
        Err(e) => e,
    }
}

fn uris(p: &ParsedTlsRptTxt) -> Vec<&str> {
    p.record.rua.iter().map(|u| u.uri.as_str()).collect()
}

fn rrset(records: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
    records
        .iter()
        .map(|rr| rr.iter().map(|s| s.as_bytes().to_vec()).collect())
        .collect()
}

/// RFC 8460 §3 examples: `"v=TLSRPTv1;rua=mailto:reports@example.com"` and
/// `"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"`.
#[test]
fn rfc8460_examples() {
    let p = ok("v=TLSRPTv1;rua=mailto:reports@example.com");
    assert_eq!(uris(&p), vec!["mailto:reports@example.com"]);
    assert_eq!(p.record.rua[0].scheme, RuaScheme::Mailto);
    let p = ok("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt");
    assert_eq!(p.record.rua[0].scheme, RuaScheme::Https);
    assert!(p.findings.is_empty());
}

/// RFC 8460 §3 ABNF: `tlsrpt-version = %s"v=TLSRPTv1"` first, then
/// `1*(tlsrpt-delim tlsrpt-field) [tlsrpt-delim]` with `tlsrpt-delim = *WSP ";" *WSP`.
#[test]
fn abnf_version_and_delimiters() {
    assert_eq!(
        err("v=tlsrptv1; rua=mailto:a@b.example").code,
        "tlsrpt-txt-bad-version"
    );
    assert_eq!(
        err("v=TLSRPTv2; rua=mailto:a@b.example").code,
        "tlsrpt-txt-bad-version"
    );
    assert_eq!(
        err("rua=mailto:a@b.example; v=TLSRPTv1").code,
        "tlsrpt-txt-version-not-first"
    );
    assert_eq!(
        err("v=TLSRPTv1 rua=mailto:a@b.example").code,
        "tlsrpt-txt-bad-delimiter"
    );
    assert_eq!(
        ok("v=TLSRPTv1 ;\trua=mailto:a@b.example ; ").findings[0].code,
        "tlsrpt-txt-space-before-semicolon"
    );
}

/// RFC 8460 §3 ABNF: `tlsrpt-field = tlsrpt-rua / tlsrpt-extension ; Note that the
/// tlsrpt-rua record is required.`
#[test]
fn abnf_rua_required() {
    assert_eq!(err("v=TLSRPTv1").code, "tlsrpt-txt-missing-rua");
    assert_eq!(
        err("v=TLSRPTv1; ruf=mailto:a@b.example").code,
        "tlsrpt-txt-missing-rua"
    );
    assert_eq!(
        err("v=TLSRPTv1; RUA=mailto:a@b.example").code,
        "tlsrpt-txt-missing-rua"
    );
}

/// RFC 8460 §3: "the Policy Domain can specify a comma-separated list of URIs"; ABNF
/// `tlsrpt-rua = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`.
#[test]
fn abnf_rua_list() {
    let p = ok("v=TLSRPTv1; rua=mailto:a@b.example ,\t https://r.example/x,mailto:c@d.example");
    assert_eq!(
        uris(&p),
        vec![
            "mailto:a@b.example",
            "https://r.example/x",
            "mailto:c@d.example"
        ]
    );
    assert_eq!(err("v=TLSRPTv1; rua=").code, "tlsrpt-txt-bad-uri");
    assert_eq!(
        err("v=TLSRPTv1; rua=mailto:a@b.example,").code,
        "tlsrpt-txt-bad-uri"
    );
}

/// RFC 8460 §3: "Two URI schemes are supported: "mailto" and "https"."
#[test]
fn only_mailto_and_https() {
    assert_eq!(
        err("v=TLSRPTv1; rua=ftp://r.example/").code,
        "tlsrpt-txt-bad-scheme"
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=r@example.com").code,
        "tlsrpt-txt-bad-uri"
    );
    let p = ok("v=TLSRPTv1; rua=http://r.example/");
    assert_eq!(p.record.rua[0].scheme, RuaScheme::Http);
    assert_eq!(
        (p.findings[0].code, p.findings[0].severity),
        ("tlsrpt-txt-http-scheme", Severity::Error)
    );
    assert_eq!(err("v=TLSRPTv1; rua=mailto:").code, "tlsrpt-txt-bad-mailto");
    assert_eq!(
        err("v=TLSRPTv1; rua=https:r.example").code,
        "tlsrpt-txt-bad-https"
    );
}

/// RFC 8460 §3 ABNF: `tlsrpt-uri = URI ; "URI" is imported from [RFC3986]; commas (ASCII
/// 0x2C), exclamation points (ASCII 0x21), and semicolons (ASCII 0x3B) MUST be encoded`.
#[test]
fn uri_encoding() {
    let p = ok("v=TLSRPTv1; rua=mailto:a@b.example!10m");
    assert_eq!(p.findings[0].code, "tlsrpt-txt-unencoded-bang");
    assert_eq!(p.findings[0].severity, Severity::Error);
    assert!(
        ok("v=TLSRPTv1; rua=mailto:a@b.example%21%2C%3B")
            .findings
            .is_empty()
    );
    // An unencoded ',' splits the list; an unencoded ';' ends the field.
    assert_eq!(
        ok("v=TLSRPTv1; rua=mailto:a@b.example,mailto:c@d.example")
            .record
            .rua
            .len(),
        2
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=mailto:a@b.example;x").code,
        "tlsrpt-txt-missing-equals"
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=mailto:a@b%2").code,
        "tlsrpt-txt-bad-uri"
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=https://r.example/<x>").code,
        "tlsrpt-txt-bad-uri"
    );
}

/// RFC 8460 §3 ABNF: `tlsrpt-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`,
/// `tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`.
#[test]
fn abnf_extensions() {
    let p = ok("v=TLSRPTv1; rua=mailto:a@b.example; x_1.y-z=v:a/l");
    assert_eq!(
        p.record.extensions,
        vec![("x_1.y-z".into(), "v:a/l".into())]
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=mailto:a@b.example; .x=1").code,
        "tlsrpt-txt-bad-field-name"
    );
    assert_eq!(
        err("v=TLSRPTv1; rua=mailto:a@b.example; x=").code,
        "tlsrpt-txt-bad-ext-value"
    );
}

/// RFC 8460 §3: "If multiple TXT records for "_smtp._tls" are returned by the resolver,
/// records that do not begin with "v=TLSRPTv1;" are discarded. If the number of resulting
/// records is not one, senders MUST assume the recipient domain does not implement TLSRPT."
#[test]
fn rrset_rule() {
    let r = evaluate_rrset(&rrset(&[
        &["v=spf1 -all"],
        &["v=TLSRPTv1; rua=mailto:a@b.example"],
    ]));
    assert_eq!(r.outcome.kind(), "valid");
    let r = evaluate_rrset(&rrset(&[
        &["v=TLSRPTv1; rua=mailto:a@b.example"],
        &["v=TLSRPTv1; rua=https://r.example/"],
    ]));
    assert_eq!(r.outcome, TlsRptOutcome::Multiple(2));
    let r = evaluate_rrset(&rrset(&[&["v=TLSRPTv1"]]));
    assert_eq!(r.outcome, TlsRptOutcome::Absent);
    assert_eq!(evaluate_rrset(&[]).outcome, TlsRptOutcome::Absent);
}

/// RFC 8460 §3: "If the resulting TXT record contains multiple strings (as described in
/// Section 3.1.3 of [RFC4408]), then the record MUST be treated as if those strings are
/// concatenated without adding spaces."
#[test]
fn multiple_strings_concatenated() {
    let r = evaluate_rrset(&rrset(&[&[
        "v=TLSRPTv1; rua=mailto:rep",
        "orts@example.com",
    ]]));
    match r.outcome {
        TlsRptOutcome::Valid(rec) => assert_eq!(rec.rua[0].uri, "mailto:reports@example.com"),
        other => panic!("{other:?}"),
    }
}

/// Every record of `datasets/records/txt/tlsrpt.jsonl` yields exactly its expected code and
/// findings.
#[test]
fn corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/records/txt/tlsrpt.jsonl");
    let text = std::fs::read_to_string(&path).expect("corpus");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("json line");
        let record = case["record"].as_str().expect("record");
        let expect = case["expect"].as_str().expect("expect");
        let want: Vec<&str> = case["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        match parse_record(record.as_bytes()) {
            Ok(p) => {
                assert_eq!(expect, "valid", "{record:?} parsed");
                let got: Vec<&str> = p.findings.iter().map(|f| f.code).collect();
                assert_eq!(got, want, "{record:?}");
            }
            Err(e) => assert_eq!(e.code, expect, "{record:?}: {e}"),
        }
        n += 1;
    }
    assert!(n >= 25, "corpus has only {n} records");
}
