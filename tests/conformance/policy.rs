//! RFC 8461 §3.2 conformance of the MTA-STS policy body parser, plus the policy corpus in
//! `datasets/records/policies/` (every file must produce exactly the codes its manifest says).

use std::collections::BTreeSet;
use std::path::Path;

use stsscan::records::diag::render_caret;
use stsscan::records::policy::{
    self, LineEndings, MAX_POLICY_BYTES, Mode, PolicyParse, content_type_findings,
};

fn codes(p: &PolicyParse) -> BTreeSet<&'static str> {
    p.errors
        .iter()
        .map(|e| e.code)
        .chain(p.findings.iter().map(|f| f.code))
        .collect()
}

fn error_codes(body: &str) -> Vec<&'static str> {
    policy::parse(body.as_bytes())
        .errors
        .iter()
        .map(|e| e.code)
        .collect()
}

/// RFC 8461 §3.2 example:
///
/// ```text
/// version: STSv1
/// mode: enforce
/// mx: mail.example.com
/// mx: *.example.net
/// mx: backupmx.example.com
/// max_age: 604800
/// ```
#[test]
fn rfc8461_example_policy_parses() {
    let body = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n\
                mx: backupmx.example.com\r\nmax_age: 604800\r\n";
    let p = policy::parse(body.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert!(p.findings.is_empty(), "{:?}", p.findings);
    let pol = p.policy.unwrap();
    assert_eq!(pol.mode, Mode::Enforce);
    assert_eq!(pol.max_age, 604_800);
    let mx: Vec<String> = pol.mx.iter().map(|m| m.to_string()).collect();
    assert_eq!(
        mx,
        ["mail.example.com", "*.example.net", "backupmx.example.com"]
    );
    assert!(pol.mx[1].matches("mx1.example.net"));
    assert!(!pol.mx[1].matches("a.b.example.net"));
}

/// RFC 8461 §3.2: "This resource contains the following CRLF-separated key/value pairs" (errata
/// 6253, status Reported, proposes "LF- or CRLF-separated") — yet the ABNF says
/// `sts-policy-term = LF / CRLF`, so LF-only bodies are valid (with an info finding).
#[test]
fn lf_and_crlf_terminators_are_both_valid() {
    let crlf = "version: STSv1\r\nmode: none\r\nmax_age: 604800\r\n";
    let lf = crlf.replace("\r\n", "\n");
    let p = policy::parse(crlf.as_bytes());
    assert!(p.is_valid());
    assert_eq!(p.line_endings, LineEndings::Crlf);
    let p = policy::parse(lf.as_bytes());
    assert!(p.is_valid());
    assert_eq!(p.line_endings, LineEndings::Lf);
    assert!(codes(&p).contains("policy-lf-line-endings"));
}

/// `sts-policy-term = LF / CRLF`: a bare CR is neither, so it cannot separate fields.
#[test]
fn bare_cr_is_not_a_terminator() {
    let body = "version: STSv1\rmode: none\rmax_age: 604800\r";
    let p = policy::parse(body.as_bytes());
    assert!(!p.is_valid());
    let e = p
        .errors
        .iter()
        .find(|e| e.code == "policy-bare-cr")
        .unwrap();
    assert_eq!((e.span.start, e.span.end), (14, 15));
}

/// `sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
/// [sts-policy-term]`: the final terminator is optional, and no empty line is allowed.
#[test]
fn final_terminator_optional_blank_lines_invalid() {
    let p = policy::parse(b"version: STSv1\r\nmode: none\r\nmax_age: 604800");
    assert!(p.is_valid());
    assert!(codes(&p).contains("policy-no-final-newline"));
    assert_eq!(
        error_codes("version: STSv1\r\nmode: none\r\nmax_age: 604800\r\n\r\n"),
        ["policy-blank-line"]
    );
}

/// `sts-policy-field-delim = ":" *WSP` directly after the field name; `*WSP` after the value.
#[test]
fn whitespace_only_where_the_abnf_allows_it() {
    assert!(policy::parse(b"version:STSv1\nmode:\tnone  \nmax_age:   1 \n").is_valid());
    assert_eq!(
        error_codes("version: STSv1\nmode : none\nmax_age: 604800\n"),
        ["policy-space-before-colon", "policy-missing-mode"]
    );
    assert_eq!(
        error_codes("version: STSv1\n mode: none\nmax_age: 604800\n"),
        ["policy-leading-whitespace", "policy-missing-mode"]
    );
}

/// RFC 8461 §3.2: "version": "Currently, only "STSv1" is supported." (`%s"STSv1"`,
/// case-sensitive).
#[test]
fn only_stsv1_is_a_version() {
    assert_eq!(
        error_codes("version: stsv1\nmode: none\nmax_age: 604800\n"),
        ["policy-bad-version"]
    );
}

/// RFC 8461 §3.2: "mode": "One of "enforce", "testing", or "none", indicating the expected
/// behavior of a Sending MTA in the case of a policy validation failure."
#[test]
fn mode_values_are_exact() {
    for (v, ok) in [
        ("enforce", true),
        ("testing", true),
        ("none", true),
        ("Enforce", false),
        ("enforcing", false),
        ("report", false),
    ] {
        let body = format!("version: STSv1\nmode: {v}\nmx: mx.example\nmax_age: 604800\n");
        assert_eq!(policy::parse(body.as_bytes()).is_valid(), ok, "{v}");
    }
}

/// RFC 8461 §3.2: "max_age": "Max lifetime of the policy (plaintext non-negative integer
/// seconds, maximum value of 31557600)." and `sts-policy-max-age-value = 1*10(DIGIT)`.
#[test]
fn max_age_range_and_digits() {
    let body = |v: &str| format!("version: STSv1\nmode: none\nmax_age: {v}\n");
    assert!(policy::parse(body("0").as_bytes()).is_valid());
    assert!(policy::parse(body("31557600").as_bytes()).is_valid());
    assert_eq!(
        error_codes(&body("31557601")),
        ["policy-max-age-out-of-range"]
    );
    assert_eq!(error_codes(&body("12345678901")), ["policy-bad-max-age"]);
    assert_eq!(error_codes(&body("86400.0")), ["policy-bad-max-age"]);
}

/// RFC 8461 §3.2 ABNF: `0*(sts-policy-mx *WSP sts-policy-term) / ; required at least once,
/// except when mode is "none"` (a branch of `sts-policy-field`), and
/// `sts-policy-mx-value = ["*."] Domain`.
#[test]
fn mx_required_unless_mode_none() {
    assert_eq!(
        error_codes("version: STSv1\nmode: testing\nmax_age: 604800\n"),
        ["policy-missing-mx"]
    );
    assert!(policy::parse(b"version: STSv1\nmode: none\nmax_age: 604800\n").is_valid());
    assert_eq!(
        error_codes("version: STSv1\nmode: testing\nmx: *.*.example\nmax_age: 604800\n"),
        ["policy-bad-mx"]
    );
}

/// RFC 8461 §3.2: "If any non-repeated field -- i.e., all fields excepting "mx" -- is
/// duplicated, all entries except for the first SHALL be ignored."
#[test]
fn duplicated_fields_first_wins_mx_repeats() {
    let p = policy::parse(
        b"version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmx: b.example\n\
          max_age: 604800\nmax_age: 1\n",
    );
    let pol = p.policy.as_ref().unwrap();
    assert_eq!(pol.mode, Mode::Enforce);
    assert_eq!(pol.max_age, 604_800);
    assert_eq!(pol.mx.len(), 2);
    assert!(codes(&p).contains("policy-duplicate-field"));
}

/// RFC 8461 §3.2: "Parsers MUST accept TXT records and policy files that are syntactically
/// valid (i.e., valid key/value pairs separated by semicolons for TXT records), possibly
/// containing additional key/value pairs not specified in this document, in which case unknown
/// fields SHALL be ignored." Extension fields must still match
/// `sts-policy-extension`.
#[test]
fn extensions_are_ignored_but_validated() {
    let p = policy::parse(b"version: STSv1\nmode: none\nmax_age: 604800\nx-vendor: abc 1\n");
    assert_eq!(
        p.policy.unwrap().extensions,
        [("x-vendor".to_owned(), "abc 1".to_owned())]
    );
    assert_eq!(
        error_codes("version: STSv1\nmode: none\nmax_age: 604800\n-x: 1\n"),
        ["policy-bad-key"]
    );
}

/// Typo keys are extensions to a sender ("unknown fields SHALL be ignored"), so `nmx:` in an
/// enforce policy leaves it with zero `mx` — invalid — and the warning names the intended key.
#[test]
fn typo_key_nmx_is_explained() {
    let body = "version: STSv1\nmode: enforce\nnmx: mx.example\nmax_age: 604800\n";
    let p = policy::parse(body.as_bytes());
    assert_eq!(error_codes(body), ["policy-missing-mx"]);
    let f = p
        .findings
        .iter()
        .find(|f| f.code == "policy-key-typo")
        .unwrap();
    assert!(f.message.contains("`mx`"), "{}", f.message);
}

/// stsscan caps policy bodies at 64 KiB and calls a larger one invalid instead of truncating
/// (design rule; RFC 8461 §3.3 leaves the limit to senders: "a suggested maximum policy size
/// is 64 kilobytes").
#[test]
fn oversize_body_is_invalid() {
    let mut body = b"version: STSv1\nmode: none\nmax_age: 604800\nx: ".to_vec();
    body.resize(MAX_POLICY_BYTES + 1, b'a');
    assert_eq!(policy::parse(&body).errors[0].code, "policy-too-large");
    body.truncate(MAX_POLICY_BYTES);
    assert!(policy::parse(&body).is_valid());
}

/// RFC 8461 §3.2: "When fetching a policy, senders SHOULD validate that the media type is
/// "text/plain" to guard against cases where web servers allow untrusted users to host
/// non-text content (typically, HTML or images) at a user-defined path."
#[test]
fn content_type_text_plain() {
    assert!(content_type_findings(Some("text/plain; charset=utf-8")).is_empty());
    assert!(content_type_findings(Some("Text/Plain")).is_empty());
    assert_eq!(
        content_type_findings(Some("text/html"))[0].code,
        "policy-content-type-not-text-plain"
    );
    assert_eq!(
        content_type_findings(None)[0].code,
        "policy-content-type-missing"
    );
}

/// Errors carry spans that put the caret under the offending bytes.
#[test]
fn caret_rendering_of_errors() {
    let body = "version: STSv1\nmode: enforce\nmx: mail.example.com.\nmax_age: 604800\n";
    let p = policy::parse(body.as_bytes());
    let e = &p.errors[0];
    assert_eq!(e.code, "policy-bad-mx");
    let out = render_caret(body, e.span, e.code);
    assert_eq!(
        out,
        "3 | mx: mail.example.com.\n  |                     ^ policy-bad-mx"
    );
}

/// Every file of the corpus yields exactly the codes `MANIFEST.tsv` lists for it.
#[test]
fn corpus_matches_manifest() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/records/policies");
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
        let body = std::fs::read(dir.join(file)).unwrap();
        let p = policy::parse(&body);
        let want: BTreeSet<&str> = want.split_whitespace().collect();
        if p.is_valid() != (expect == "valid") || codes(&p) != want {
            mismatches.push(format!(
                "{file}: valid={} codes={:?}, manifest says {expect} {want:?}",
                p.is_valid(),
                codes(&p)
            ));
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "txt"))
        })
        .count();
    assert_eq!(checked, files, "every corpus file is in MANIFEST.tsv");
}
