//! RFC 8461 §3.1 conformance of the `_mta-sts` TXT record parser and RRset rule, plus the
//! corpus in `datasets/records/txt/sts.jsonl`. Each test quotes the sentence it checks.

use std::path::Path;

use serde_json::Value;
use stsscan::records::diag::{ParseError, Span};
use stsscan::records::sts_txt::{
    ParsedStsTxt, StsOutcome, StsTxt, begins_with_version, evaluate_rrset, parse_record,
};

fn ok(s: &str) -> ParsedStsTxt {
    parse_record(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> ParseError {
    match parse_record(s.as_bytes()) {
        Ok(p) => panic!("{s:?} parsed as {:?}", p.record),
        Err(e) => e,
    }
}

fn rrset(records: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
    records
        .iter()
        .map(|rr| rr.iter().map(|s| s.as_bytes().to_vec()).collect())
        .collect()
}

/// RFC 8461 §3.1 example: `_mta-sts.example.com.  IN TXT "v=STSv1; id=20160831085700Z;"`
#[test]
fn rfc8461_example_record() {
    let p = ok("v=STSv1; id=20160831085700Z;");
    assert_eq!(
        p.record,
        StsTxt {
            id: "20160831085700Z".into(),
            extensions: vec![]
        }
    );
    assert!(p.findings.is_empty());
}

/// RFC 8461 §3.1: "MTA-STS TXT records MUST be US-ASCII, semicolon-separated key/value pairs".
#[test]
fn us_ascii_semicolon_separated() {
    let e = err("v=STSv1; id=20160831085700Z; x=\u{e9}");
    assert_eq!((e.code, e.span), ("sts-txt-not-ascii", Span::new(31, 32)));
    assert_eq!(err("v=STSv1, id=1").code, "sts-txt-bad-version");
    assert_eq!(err("v=STSv1 id=1").code, "sts-txt-bad-delimiter");
}

/// RFC 8461 §3.1 ABNF: `sts-version = %s"v=STSv1"` (RFC 7405 `%s`: case-sensitive); "The TXT
/// record MUST begin with the sts-version field; the order of other fields is not
/// significant.": `sts-text-record = sts-version 1*(sts-field-delim sts-field)
/// [sts-field-delim]`.
#[test]
fn abnf_version_first_case_sensitive() {
    assert_eq!(err("v=stsv1; id=1").code, "sts-txt-bad-version");
    assert_eq!(err("V=STSv1; id=1").code, "sts-txt-bad-version");
    assert_eq!(err("v=STS1; id=1").code, "sts-txt-bad-version");
    assert_eq!(err("v=STSv1.1; id=1").code, "sts-txt-bad-version");
    assert_eq!(err("id=1; v=STSv1").code, "sts-txt-version-not-first");
    assert_eq!(err("\"v=STSv1; id=1\"").code, "sts-txt-version-not-first");
    assert_eq!(err("v=STSv1;").code, "sts-txt-missing-id");
}

/// RFC 8461 §3.1 ABNF: `sts-id = %s"id=" 1*32(ALPHA / DIGIT)` and `sts-field = sts-id /
/// sts-extension ; Note that sts-id record is required.`
#[test]
fn abnf_sts_id() {
    assert_eq!(ok("v=STSv1; id=a").record.id, "a");
    let max = "Z9".repeat(16);
    assert_eq!(ok(&format!("v=STSv1; id={max}")).record.id, max);
    assert_eq!(err(&format!("v=STSv1; id={max}a")).code, "sts-txt-bad-id");
    assert_eq!(err("v=STSv1; id=").code, "sts-txt-bad-id");
    assert_eq!(err("v=STSv1; id=2020-01-01").code, "sts-txt-bad-id");
    assert_eq!(err("v=STSv1; id=a_b").code, "sts-txt-bad-id");
    assert_eq!(err("v=STSv1; x=1").code, "sts-txt-missing-id");
    assert_eq!(err("v=STSv1; Id=1").code, "sts-txt-missing-id");
}

/// RFC 8461 §3.1 ABNF: `sts-field-delim = *WSP ";" *WSP` (WSP is SP or HTAB) with an optional
/// trailing delimiter. Whitespace before `;` is legal per the ABNF, though the prose discards
/// records "that do not begin with "v=STSv1;"". Errata 6285 (status: Reported, not verified)
/// proposes `sts-field-delim = ";" *WSP` to remove that conflict; until then such a record is
/// accepted, with an info finding.
#[test]
fn abnf_field_delim() {
    assert!(ok("v=STSv1;id=1").findings.is_empty());
    assert!(ok("v=STSv1 ;\t id=1 \t; ").record.id == "1");
    let p = ok("v=STSv1\t; id=1");
    assert_eq!(p.findings[0].code, "sts-txt-space-before-semicolon");
    assert_eq!(err("v=STSv1;; id=1").code, "sts-txt-empty-field");
    assert_eq!(err("v=STSv1; id=1 ").code, "sts-txt-trailing-whitespace");
}

/// RFC 8461 §3.1 ABNF: `sts-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`
/// and `sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E) ; chars excluding "=", ";", SP, and
/// CTLs` (the drafts said "control chars").
#[test]
fn abnf_extensions() {
    let p = ok("v=STSv1; id=1; a.b_c-9=!\"#:<>~");
    assert_eq!(
        p.record.extensions,
        vec![("a.b_c-9".into(), "!\"#:<>~".into())]
    );
    let name32 = format!("x{}", "y".repeat(31));
    assert!(parse_record(format!("v=STSv1; id=1; {name32}=v").as_bytes()).is_ok());
    assert_eq!(
        err(&format!("v=STSv1; id=1; {name32}z=v")).code,
        "sts-txt-bad-field-name"
    );
    assert_eq!(err("v=STSv1; id=1; -x=v").code, "sts-txt-bad-field-name");
    assert_eq!(err("v=STSv1; id=1; x=").code, "sts-txt-bad-ext-value");
    assert_eq!(err("v=STSv1; id=1; x=a=b").code, "sts-txt-bad-ext-value");
    assert_eq!(
        err("v=STSv1; id=1; x=a\u{7f}").code,
        "sts-txt-bad-ext-value"
    );
    assert_eq!(err("v=STSv1; id=1; x=a b").code, "sts-txt-bad-ext-value");
    assert_eq!(err("v=STSv1; id=1; x").code, "sts-txt-missing-equals");
}

/// Duplicated fields: the RFC gives no rule; the first occurrence wins, with a warning.
#[test]
fn duplicate_fields_first_wins() {
    let p = ok("v=STSv1; id=old; id=new");
    assert_eq!(p.record.id, "old");
    assert_eq!(p.findings[0].code, "sts-txt-duplicate-field");
}

/// RFC 8461 §3.1: "If multiple TXT records for "_mta-sts" are returned by the resolver,
/// records that do not begin with "v=STSv1;" are discarded. If the number of resulting records
/// is not one, or if the resulting record is syntactically invalid, senders MUST assume the
/// recipient domain does not have an available MTA-STS Policy".
#[test]
fn rrset_rule() {
    let r = evaluate_rrset(&rrset(&[&["v=spf1 -all"], &["v=STSv1; id=1"]]));
    assert_eq!(r.outcome.kind(), "valid");
    assert_eq!(r.discarded.len(), 1);
    let r = evaluate_rrset(&rrset(&[&["v=STSv1; id=1"], &["v=STSv1; id=2"]]));
    assert_eq!(r.outcome, StsOutcome::Multiple(2));
    let r = evaluate_rrset(&rrset(&[&["v=STSv1; id=1"], &["v=STSv1;id=1"]]));
    assert_eq!(r.outcome, StsOutcome::Multiple(2));
    let r = evaluate_rrset(&rrset(&[&["v=STSv1; id=not-valid"]]));
    assert!(matches!(r.outcome, StsOutcome::Invalid(ref e) if e.code == "sts-txt-bad-id"));
    // Records that do not begin with "v=STSv1;" are discarded before counting.
    let r = evaluate_rrset(&rrset(&[
        &["v=STSv10; id=1"],
        &["v=STSv1 id=1"],
        &["v=STSv1; id=ok"],
    ]));
    assert_eq!(r.outcome.kind(), "valid");
    assert_eq!(r.discarded.len(), 2);
    let r = evaluate_rrset(&rrset(&[&["v=STS1; id=1"]]));
    assert_eq!(r.outcome, StsOutcome::Absent);
    assert_eq!(r.findings[0].code, "sts-txt-near-miss");
    assert_eq!(evaluate_rrset(&[]).outcome, StsOutcome::Absent);
    assert!(begins_with_version(b"v=STSv1;"));
    assert!(!begins_with_version(b"v=STSv1"));
}

/// RFC 8461 §3.1: "If the resulting TXT record contains multiple strings, then the record MUST
/// be treated as if those strings are concatenated without adding spaces."
#[test]
fn multiple_strings_concatenated_without_spaces() {
    let r = evaluate_rrset(&rrset(&[&["v=STSv1; id=2016", "0831085700Z"]]));
    match r.outcome {
        StsOutcome::Valid(rec) => assert_eq!(rec.id, "20160831085700Z"),
        other => panic!("{other:?}"),
    }
    let r = evaluate_rrset(&rrset(&[&["v=STS", "v1;", "id=1"]]));
    assert_eq!(r.outcome.kind(), "valid");
}

/// Every record of `datasets/records/txt/sts.jsonl` yields exactly its expected code and
/// findings.
#[test]
fn corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/records/txt/sts.jsonl");
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
    assert!(n >= 30, "corpus has only {n} records");
}
