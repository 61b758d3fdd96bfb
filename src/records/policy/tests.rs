//! Unit tests, one group per ABNF production of RFC 8461 §3.2.

use super::*;

const EXAMPLE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n\
                       mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";

fn errs(body: &str) -> Vec<&'static str> {
    parse(body.as_bytes())
        .errors
        .iter()
        .map(|e| e.code)
        .collect()
}

fn finds(body: &str) -> Vec<&'static str> {
    parse(body.as_bytes())
        .findings
        .iter()
        .map(|e| e.code)
        .collect()
}

fn span_text(body: &str, code: &str) -> String {
    let p = parse(body.as_bytes());
    let e = p.errors.iter().find(|e| e.code == code);
    let s = e.map(|e| e.span).or_else(|| {
        p.findings
            .iter()
            .find(|f| f.code == code)
            .and_then(|f| f.span)
    });
    s.map(|s| body.get(s.start..s.end).unwrap_or("<bad span>").to_owned())
        .unwrap_or_default()
}

#[test]
fn example_parses() {
    let p = parse(EXAMPLE.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let pol = p.policy.unwrap();
    assert_eq!(pol.mode, Mode::Enforce);
    assert_eq!(pol.max_age, 604_800);
    assert_eq!(pol.mx.len(), 3);
    assert_eq!(p.line_endings, LineEndings::Crlf);
    assert!(p.findings.is_empty(), "{:?}", p.findings);
}

#[test]
fn record_terminators() {
    // sts-policy-term = LF / CRLF; the last term is optional.
    let lf = EXAMPLE.replace("\r\n", "\n");
    let p = parse(lf.as_bytes());
    assert!(p.is_valid());
    assert_eq!(p.line_endings, LineEndings::Lf);
    assert_eq!(finds(&lf), ["policy-lf-line-endings"]);
    let no_final = EXAMPLE.trim_end();
    assert!(parse(no_final.as_bytes()).is_valid());
    assert_eq!(finds(no_final), ["policy-no-final-newline"]);
    let mixed = EXAMPLE.replacen("\r\n", "\n", 2);
    let p = parse(mixed.as_bytes());
    assert!(p.is_valid());
    assert_eq!(p.line_endings, LineEndings::Mixed);
    assert!(finds(&mixed).contains(&"policy-mixed-line-endings"));
}

#[test]
fn bare_cr_is_invalid() {
    let body = EXAMPLE.replace("\r\n", "\r");
    assert!(errs(&body).contains(&"policy-bare-cr"));
    let body = "version: STSv1\r\nmode: enforce\rX\r\nmx: a.example\r\nmax_age: 86400\r\n";
    assert!(errs(body).contains(&"policy-bare-cr"));
    assert_eq!(errs(body), ["policy-missing-colon", "policy-bare-cr"]); // `X` is its own line
}

#[test]
fn blank_lines_are_invalid() {
    let body = "version: STSv1\r\n\r\nmode: none\r\nmax_age: 86400\r\n";
    assert_eq!(errs(body), ["policy-blank-line"]);
    let trailing = format!("{EXAMPLE}\r\n");
    assert_eq!(errs(&trailing), ["policy-blank-line"]);
    let spaces = "version: STSv1\n  \nmode: none\nmax_age: 86400\n";
    assert_eq!(errs(spaces), ["policy-blank-line"]);
}

#[test]
fn whitespace_rules() {
    // No whitespace before a key or before ":"; *WSP after ":" and after the value.
    let body = " version: STSv1\nmode: none\nmax_age: 86400\n";
    assert!(errs(body).contains(&"policy-leading-whitespace"));
    let body = "version : STSv1\nmode: none\nmax_age: 86400\n";
    assert!(errs(body).contains(&"policy-space-before-colon"));
    assert_eq!(span_text(body, "policy-space-before-colon"), " ");
    let body = "version:STSv1\nmode:\t\tnone \t\nmax_age:86400   \n";
    assert!(parse(body.as_bytes()).is_valid(), "{:?}", errs(body));
}

#[test]
fn version_value() {
    // sts-policy-version-value = %s"STSv1"
    for bad in ["STSv2", "stsv1", "STSv1;", ""] {
        let body = format!("version: {bad}\nmode: none\nmax_age: 86400\n");
        assert_eq!(errs(&body), ["policy-bad-version"], "{bad}");
        assert_eq!(span_text(&body, "policy-bad-version"), bad);
    }
}

#[test]
fn mode_value() {
    for (v, m) in [
        ("enforce", Mode::Enforce),
        ("testing", Mode::Testing),
        ("none", Mode::None),
    ] {
        let body = format!("version: STSv1\nmode: {v}\nmx: a.example\nmax_age: 86400\n");
        assert_eq!(parse(body.as_bytes()).policy.unwrap().mode, m);
        assert_eq!(m.as_str(), v);
    }
    let body = "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 86400\n";
    let p = parse(body.as_bytes());
    assert_eq!(p.errors[0].code, "policy-bad-mode");
    assert!(p.errors[0].message.contains("did you mean `enforce`"));
    assert_eq!(span_text(body, "policy-bad-mode"), "Enforce");
    let body = "version: STSv1\nmode: enforcing\nmx: a.example\nmax_age: 86400\n";
    assert_eq!(errs(body), ["policy-bad-mode"]);
}

#[test]
fn max_age_value() {
    let age = |v: &str| format!("version: STSv1\nmode: none\nmax_age: {v}\n");
    assert_eq!(parse(age("0").as_bytes()).policy.unwrap().max_age, 0);
    assert_eq!(
        parse(age("31557600").as_bytes()).policy.unwrap().max_age,
        31_557_600
    );
    assert_eq!(
        parse(age("0000086400").as_bytes()).policy.unwrap().max_age,
        86_400
    );
    assert_eq!(errs(&age("31557601")), ["policy-max-age-out-of-range"]);
    assert_eq!(errs(&age("9999999999")), ["policy-max-age-out-of-range"]);
    assert_eq!(errs(&age("00000086400")), ["policy-bad-max-age"]);
    assert_eq!(errs(&age("-1")), ["policy-bad-max-age"]);
    assert_eq!(errs(&age("1d")), ["policy-bad-max-age"]);
    assert_eq!(errs(&age("")), ["policy-bad-max-age"]);
    assert_eq!(span_text(&age("86400x"), "policy-bad-max-age"), "86400x");
}

#[test]
fn max_age_advisories() {
    let age = |v: &str| format!("version: STSv1\r\nmode: none\r\nmax_age: {v}\r\n");
    assert_eq!(finds(&age("3600")), ["policy-max-age-short"]);
    assert_eq!(finds(&age("86400")), ["policy-max-age-below-week"]);
    assert!(finds(&age("604800")).is_empty());
    assert!(finds(&age("31557600")).is_empty());
}

#[test]
fn mx_values_and_requirement() {
    let body = "version: STSv1\nmode: enforce\nmax_age: 86400\n";
    assert_eq!(errs(body), ["policy-missing-mx"]);
    let body = "version: STSv1\nmode: none\nmax_age: 86400\n";
    assert!(parse(body.as_bytes()).is_valid());
    let body = "version: STSv1\nmode: testing\nmx: mx_1.example\nmax_age: 86400\n";
    assert_eq!(errs(body), ["policy-bad-mx"]);
    assert_eq!(span_text(body, "policy-bad-mx"), "_");
    let body = "version: STSv1\nmode: testing\nmx: \nmax_age: 86400\n";
    assert_eq!(errs(body), ["policy-bad-mx"]);
}

#[test]
fn missing_fields() {
    assert_eq!(errs("mode: none\nmax_age: 1\n"), ["policy-missing-version"]);
    assert_eq!(
        errs("version: STSv1\nmax_age: 1\n"),
        ["policy-missing-mode"]
    );
    assert_eq!(
        errs("version: STSv1\nmode: none\n"),
        ["policy-missing-max-age"]
    );
}

#[test]
fn duplicates_first_wins() {
    let body = "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmx: b.example\n\
                max_age: 86400\nmax_age: bogus\n";
    let p = parse(body.as_bytes());
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let pol = p.policy.unwrap();
    assert_eq!(pol.mode, Mode::Testing);
    assert_eq!(pol.max_age, 86_400);
    assert_eq!(pol.mx.len(), 2);
    let dups = p
        .findings
        .iter()
        .filter(|f| f.code == "policy-duplicate-field")
        .count();
    assert_eq!(dups, 2);
}

#[test]
fn extensions() {
    let body = "version: STSv1\nmode: none\nmax_age: 86400\ncomment: hosted by x=y; z\n";
    let p = parse(body.as_bytes());
    assert_eq!(
        p.policy.unwrap().extensions,
        [("comment".to_owned(), "hosted by x=y; z".to_owned())]
    );
    assert!(finds(body).contains(&"policy-unknown-key"));
    let bad = "version: STSv1\nmode: none\nmax_age: 86400\ncomment:\n";
    assert_eq!(errs(bad), ["policy-bad-extension"]);
    let bad = "version: STSv1\nmode: none\nmax_age: 86400\nmax age: 5\n";
    let p = parse(bad.as_bytes());
    assert_eq!(p.errors[0].code, "policy-bad-key");
    assert!(p.errors[0].message.contains("`max_age`"));
    let bad = "version: STSv1\nmode: none\nmax_age: 86400\nthis is prose\n";
    assert_eq!(errs(bad), ["policy-missing-colon"]);
}

#[test]
fn typo_keys_warn() {
    let body = "version: STSv1\nmode: enforce\nnmx: a.example\nmax_age: 86400\n";
    let p = parse(body.as_bytes());
    assert_eq!(errs(body), ["policy-missing-mx"]);
    let typo = p.findings.iter().find(|f| f.code == "policy-key-typo");
    assert!(typo.unwrap().message.contains("`mx`"));
    assert_eq!(span_text(body, "policy-key-typo"), "nmx");
}

#[test]
fn bom_html_size_empty() {
    let bom = format!("\u{feff}{EXAMPLE}");
    assert_eq!(errs(&bom), ["policy-bom"]);
    assert_eq!(parse(bom.as_bytes()).errors[0].span, Span::new(0, 3));
    assert_eq!(
        errs("<!DOCTYPE html>\n<html><body>Not found</body></html>\n"),
        ["policy-html-body"]
    );
    assert_eq!(errs("\n  <HTML>"), ["policy-html-body"]);
    assert_eq!(errs(""), ["policy-empty"]);
    let big = format!("{EXAMPLE}x: {}\n", "y".repeat(MAX_POLICY_BYTES));
    assert_eq!(errs(&big), ["policy-too-large"]);
    let exact = format!("{EXAMPLE}x: ");
    let exact = format!("{exact}{}", "y".repeat(MAX_POLICY_BYTES - exact.len()));
    assert_eq!(exact.len(), MAX_POLICY_BYTES);
    assert!(parse(exact.as_bytes()).is_valid());
}

#[test]
fn invalid_utf8() {
    let body = b"version: STSv1\nmode: none\nmax_age: 86400\nx: a\xffb\n";
    let p = parse(body);
    assert_eq!(p.errors[0].code, "policy-bad-utf8");
    assert_eq!(p.errors[0].span, Span::new(45, 46));
}

#[test]
fn display_round_trips() {
    let pol = parse(EXAMPLE.as_bytes()).policy.unwrap();
    assert_eq!(pol.to_string(), EXAMPLE);
    assert_eq!(parse(pol.to_string().as_bytes()).policy.unwrap(), pol);
}

#[test]
fn caret_points_at_the_problem() {
    let body = "version: STSv1\nmode: enforcing\nmx: a.example\nmax_age: 86400\n";
    let p = parse(body.as_bytes());
    let out = crate::records::diag::render_caret(body, p.errors[0].span, "unknown mode");
    assert_eq!(out, "2 | mode: enforcing\n  |       ^^^^^^^^^ unknown mode");
}

#[test]
fn serializes_for_json_output() {
    let v = serde_json::to_value(parse(EXAMPLE.as_bytes())).unwrap();
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["version"], "STSv1");
    assert_eq!(v["line_endings"], "crlf");
    let v = serde_json::to_value(parse(b"mode: bogus\n")).unwrap();
    assert_eq!(v["errors"][0]["code"], "policy-bad-mode");
    assert!(v["policy"].is_null());
}

/// RFC 8461 §3.2: `sts-policy-mx-value = ["*."] Domain`, with `Domain` from RFC 5321, whose
/// `sub-domain = Let-dig [Ldh-str]` allows an all-digit label; and "Parsers MUST accept TXT
/// records and policy files that are syntactically valid". A pattern written as an IP address
/// is valid and never matches: a warning, and the other patterns still count.
#[test]
fn an_ip_address_pattern_is_valid_and_warned_about() {
    let p =
        parse(b"version: STSv1\nmode: enforce\nmx: mail.d.test\nmx: 192.0.2.1\nmax_age: 86400\n");
    assert!(p.is_valid(), "{:?}", p.errors);
    let policy = p.policy.as_ref().unwrap();
    assert_eq!(policy.mx.len(), 2);
    assert!(policy.mx.iter().any(|m| m.matches("mail.d.test")));
    assert!(!policy.mx[1].matches("192.0.2.1.d.test"));
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == "policy-mx-ip-address" && f.severity == Severity::Warning),
        "{:?}",
        p.findings
    );
}
