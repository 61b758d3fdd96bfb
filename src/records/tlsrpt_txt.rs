//! The `_smtp._tls` TLS-RPT TXT record (RFC 8460 §3): its grammar, its `rua` URIs, and the
//! RRset rule.
//!
//! Owns [`parse_record`] (one record → [`TlsRptTxt`] plus findings, or a [`ParseError`]) and
//! [`evaluate_rrset`] (every TXT RR at `_smtp._tls.D` → a [`TlsRptOutcome`]). It reuses the
//! field splitter of [`super::sts_txt`]. It must not do DNS or send reports. Pure, never
//! panics, keeps at most [`MAX_RUA`] URIs and [`super::sts_txt::MAX_FINDINGS`] findings.
//!
//! The grammar (RFC 8460 §3, RFC 7405 `%s` case-sensitive strings):
//!
//! ```text
//! tlsrpt-record    = tlsrpt-version 1*(tlsrpt-delim tlsrpt-field) [tlsrpt-delim]
//! tlsrpt-delim     = *WSP ";" *WSP
//! tlsrpt-field     = tlsrpt-rua / tlsrpt-extension   ; tlsrpt-rua is required
//! tlsrpt-version   = %s"v=TLSRPTv1"
//! tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//! tlsrpt-uri       = URI   ; RFC 3986; commas, exclamation points and semicolons MUST be encoded
//! tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
//! tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! Parse error codes:
//!
//! | code | meaning |
//! |---|---|
//! | `tlsrpt-txt-empty` | the record is empty |
//! | `tlsrpt-txt-not-ascii` | a byte outside US-ASCII (nothing in the ABNF allows one) |
//! | `tlsrpt-txt-missing-version` | no `v=TLSRPTv1` anywhere |
//! | `tlsrpt-txt-version-not-first` | `v=TLSRPTv1` present but not at the very start |
//! | `tlsrpt-txt-bad-version` | starts with `v=` but not exactly `v=TLSRPTv1` |
//! | `tlsrpt-txt-bad-delimiter` | something other than `;` between fields |
//! | `tlsrpt-txt-empty-field` | two delimiters in a row (`;;`) |
//! | `tlsrpt-txt-trailing-whitespace` | whitespace at the end not preceded by `;` |
//! | `tlsrpt-txt-missing-equals` | a field without `=` |
//! | `tlsrpt-txt-bad-field-name` | a field name that is not `tlsrpt-ext-name` |
//! | `tlsrpt-txt-bad-ext-value` | an extension value empty or with a space, `=`, `;` or control character |
//! | `tlsrpt-txt-missing-rua` | no `rua=` field (field names are case-sensitive) |
//! | `tlsrpt-txt-bad-uri` | a `rua` entry that is not an RFC 3986 URI (empty, bad character, bad `%`) |
//! | `tlsrpt-txt-bad-scheme` | a URI scheme other than `mailto` or `https` (or `http`, see below) |
//! | `tlsrpt-txt-bad-mailto` | a `mailto:` URI without a `local@domain` address |
//! | `tlsrpt-txt-bad-https` | an `https:` URI without `//` and a host |
//!
//! Finding codes:
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `tlsrpt-txt-http-scheme` | error | an `http:` URI: only `mailto` and `https` are supported |
//! | `tlsrpt-txt-unencoded-bang` | error | a `!` inside a URI, which MUST be encoded (`%21`) — often a DMARC-style size limit |
//! | `tlsrpt-txt-duplicate-uri` | warning | the same URI listed twice |
//! | `tlsrpt-txt-too-many-uris` | warning | more than [`MAX_RUA`] URIs; the rest were dropped |
//! | `tlsrpt-txt-space-before-semicolon` | info | whitespace before `;`: the ABNF allows it, the prose says records begin with `v=TLSRPTv1;` |
//! | `tlsrpt-txt-duplicate-field` | warning | a field given twice; the first wins (for `rua`, the first that is a valid URI list: another is an extension by the ABNF) |
//! | `tlsrpt-txt-extension` | info | an extension field, ignored by senders |
//! | `tlsrpt-txt-multi-string` | info | the RR is split into several strings |
//! | `tlsrpt-txt-near-miss` | warning | a discarded record that looks like a failed attempt at a TLS-RPT record |
//! | `tlsrpt-txt-multiple-records` | error | more than one record begins with `v=TLSRPTv1;`: senders assume no TLS-RPT |
//! | `tlsrpt-txt-invalid-record` | error | the one remaining record is syntactically invalid |
//! | `tlsrpt-txt-findings-truncated` | info | more than the maximum number of findings |

use std::fmt;

use serde::Serialize;

use super::diag::{Finding, ParseError, Severity, Span};
use super::fields::{self, ExtCodes, Grammar, SplitCodes, find, is_wsp, push_capped};
use super::rrset::{self, Kept, Rule};
use super::sts_txt::Discarded;

/// The version field every record must start with.
pub const VERSION: &str = "v=TLSRPTv1";
/// At most this many `rua` URIs are kept.
pub const MAX_RUA: usize = 16;

/// The scheme of a reporting URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuaScheme {
    /// `mailto:` — reports by email (RFC 6068).
    Mailto,
    /// `https:` — reports POSTed over HTTPS.
    Https,
    /// `http:` — not supported by RFC 8460; kept so it can be reported.
    Http,
}

impl RuaScheme {
    /// The stable lowercase name: `mailto`, `https`, `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuaScheme::Mailto => "mailto",
            RuaScheme::Https => "https",
            RuaScheme::Http => "http",
        }
    }
}

/// One `rua` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RuaUri {
    /// The URI as written.
    pub uri: String,
    /// Its scheme.
    pub scheme: RuaScheme,
}

/// A valid `_smtp._tls` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptTxt {
    /// The reporting URIs of the first `rua` field, in order, duplicates removed.
    pub rua: Vec<RuaUri>,
    /// Extension fields `(name, value)` in order, first occurrence of each name only.
    pub extensions: Vec<(String, String)>,
}

impl fmt::Display for TlsRptTxt {
    /// The canonical text: `v=TLSRPTv1; rua=a,b` then `; name=value` per extension.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{VERSION}; rua=")?;
        for (i, u) in self.rua.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&u.uri)?;
        }
        for (k, v) in &self.extensions {
            write!(f, "; {k}={v}")?;
        }
        Ok(())
    }
}

/// A record that parsed, with what was noticed on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedTlsRptTxt {
    /// The record.
    pub record: TlsRptTxt,
    /// Non-fatal findings (codes in the module table).
    pub findings: Vec<Finding>,
    /// The first `rua` URI that parses but makes the record invalid for a sender: an `http:`
    /// URI (RFC 8460 §3 supports "mailto" and "https") or an unencoded `!` ("MUST be
    /// encoded"). Decided over every URI of the counted `rua` field, also those past
    /// [`MAX_RUA`], so it never depends on a cap. [`evaluate_rrset`] makes such a record
    /// [`TlsRptOutcome::Invalid`].
    pub unsupported: Option<ParseError>,
}

fn push_finding(findings: &mut Vec<Finding>, f: Finding) {
    push_capped(findings, f, GRAMMAR.ext.truncated);
}

const GRAMMAR: Grammar = Grammar {
    version: VERSION,
    required: "rua",
    empty: "tlsrpt-txt-empty",
    not_ascii: (
        "tlsrpt-txt-not-ascii",
        "the record contains a byte outside US-ASCII, which its grammar does not allow",
    ),
    missing_version: "tlsrpt-txt-missing-version",
    version_not_first: "tlsrpt-txt-version-not-first",
    bad_version: "tlsrpt-txt-bad-version",
    bad_field_name: "tlsrpt-txt-bad-field-name",
    missing_required: "tlsrpt-txt-missing-rua",
    space_before_semicolon: (
        "tlsrpt-txt-space-before-semicolon",
        "whitespace before ';': the ABNF allows it, but the RFC's prose says records begin with \
         \"v=TLSRPTv1;\" and some senders discard such records",
    ),
    split: SplitCodes {
        bad_delimiter: "tlsrpt-txt-bad-delimiter",
        empty_field: "tlsrpt-txt-empty-field",
        trailing_whitespace: "tlsrpt-txt-trailing-whitespace",
        missing_equals: "tlsrpt-txt-missing-equals",
    },
    ext: ExtCodes {
        bad_value: "tlsrpt-txt-bad-ext-value",
        extension: "tlsrpt-txt-extension",
        duplicate: "tlsrpt-txt-duplicate-field",
        truncated: "tlsrpt-txt-findings-truncated",
    },
};

/// Parses one `_smtp._tls` TXT record (its strings already concatenated). Spans index `input`.
pub fn parse_record(input: &[u8]) -> Result<ParsedTlsRptTxt, ParseError> {
    let p = fields::parse(input, &GRAMMAR, |f, findings| {
        parse_rua(f.value, f.value_span.start, findings)
    })?;
    let (rua, unsupported) = p.required;
    Ok(ParsedTlsRptTxt {
        record: TlsRptTxt {
            rua,
            extensions: p.extensions,
        },
        findings: p.findings,
        unsupported,
    })
}

/// `tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)`; `offset` is where `value` starts in the record.
/// Every URI is checked; the first [`MAX_RUA`] distinct ones are kept. Also returns the first
/// URI problem that makes the record invalid though it parses ([`ParsedTlsRptTxt::unsupported`]).
type RuaList = (Vec<RuaUri>, Option<ParseError>);

fn parse_rua(
    value: &[u8],
    offset: usize,
    findings: &mut Vec<Finding>,
) -> Result<RuaList, ParseError> {
    let mut out: Vec<RuaUri> = Vec::new();
    let mut unsupported: Option<ParseError> = None;
    let mut capped = false;
    let mut start = 0usize;
    loop {
        let end = value[start..]
            .iter()
            .position(|&c| c == b',')
            .map_or(value.len(), |i| start + i);
        let mut s = start;
        let mut e = end;
        while s < e && is_wsp(value[s]) {
            s += 1;
        }
        while e > s && is_wsp(value[e - 1]) {
            e -= 1;
        }
        let (uri, problem) = check_uri(&value[s..e], offset + s, findings)?;
        if unsupported.is_none() {
            unsupported = problem;
        }
        if out.iter().any(|u| u.uri == uri.uri) {
            push_finding(
                findings,
                Finding::at(
                    "tlsrpt-txt-duplicate-uri",
                    Severity::Warning,
                    format!("{} is listed more than once", uri.uri),
                    Span::new(offset + s, offset + e),
                ),
            );
        } else if out.len() == MAX_RUA {
            if !capped {
                capped = true;
                push_finding(
                    findings,
                    Finding::new(
                        "tlsrpt-txt-too-many-uris",
                        Severity::Warning,
                        format!("more than {MAX_RUA} rua URIs; the rest are ignored"),
                    ),
                );
            }
        } else {
            out.push(uri);
        }
        if end == value.len() {
            break;
        }
        start = end + 1;
    }
    Ok((out, unsupported))
}

/// RFC 3986 characters allowed in a URI outside percent-encoding.
fn is_uri_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#[]".contains(&c)
}

/// One URI: its scheme, or the parse error; with the problem that makes a record holding it
/// invalid though it parses (also pushed as an error finding).
fn check_uri(
    uri: &[u8],
    offset: usize,
    findings: &mut Vec<Finding>,
) -> Result<(RuaUri, Option<ParseError>), ParseError> {
    let mut problem: Option<ParseError> = None;
    let span = Span::new(offset, offset + uri.len());
    let bad = |msg: String, span: Span| ParseError::new("tlsrpt-txt-bad-uri", msg, span);
    if uri.is_empty() {
        return Err(bad("empty URI in the rua list".into(), span));
    }
    let mut i = 0;
    while i < uri.len() {
        let c = uri[i];
        if c == b'%' {
            let ok = uri
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(bad(
                    "'%' must be followed by two hex digits".into(),
                    Span::new(offset + i, offset + (i + 3).min(uri.len())),
                ));
            }
            i += 3;
            continue;
        }
        if !is_uri_char(c) {
            return Err(bad(
                format!(
                    "{:?} is not allowed in a URI; percent-encode it",
                    char::from(c)
                ),
                Span::new(offset + i, offset + i + 1),
            ));
        }
        i += 1;
    }
    let Some(colon) = uri.iter().position(|&c| c == b':') else {
        return Err(bad(
            "a URI needs a scheme, as in \"mailto:\" or \"https:\"".into(),
            span,
        ));
    };
    let scheme = &uri[..colon];
    let scheme_ok = matches!(scheme.first(), Some(c) if c.is_ascii_alphabetic())
        && scheme
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Err(bad(
            "a URI needs a scheme, as in \"mailto:\" or \"https:\"".into(),
            Span::new(offset, offset + colon),
        ));
    }
    let rest = &uri[colon + 1..];
    let text = String::from_utf8_lossy(uri).into_owned();
    let scheme = match scheme.to_ascii_lowercase().as_slice() {
        b"mailto" => {
            let to = &rest[..rest.iter().position(|&c| c == b'?').unwrap_or(rest.len())];
            let at = to.iter().rposition(|&c| c == b'@');
            if !at.is_some_and(|a| a > 0 && a + 1 < to.len()) {
                return Err(ParseError::new(
                    "tlsrpt-txt-bad-mailto",
                    "a mailto: URI needs an address, as in \"mailto:tlsrpt@example.com\"",
                    span,
                ));
            }
            RuaScheme::Mailto
        }
        s @ (b"https" | b"http") => {
            let host_ok = rest.strip_prefix(b"//").is_some_and(|a| {
                let auth_end = a
                    .iter()
                    .position(|&c| matches!(c, b'/' | b'?' | b'#'))
                    .unwrap_or(a.len());
                let auth = &a[..auth_end];
                let host = &auth[auth.iter().rposition(|&c| c == b'@').map_or(0, |p| p + 1)..];
                !host.is_empty() && host[0] != b':'
            });
            if !host_ok {
                return Err(ParseError::new(
                    "tlsrpt-txt-bad-https",
                    "an https: URI needs \"//\" and a host, as in \"https://tlsrpt.example.com/\"",
                    span,
                ));
            }
            if s == b"http" {
                let e = ParseError::new(
                    "tlsrpt-txt-http-scheme",
                    "plain http: is not a supported reporting scheme; use https: or mailto:",
                    Span::new(offset, offset + colon),
                );
                push_finding(findings, error_finding(&e));
                problem = Some(e);
                RuaScheme::Http
            } else {
                RuaScheme::Https
            }
        }
        _ => {
            return Err(ParseError::new(
                "tlsrpt-txt-bad-scheme",
                format!(
                    "unsupported URI scheme {:?}: TLS-RPT supports \"mailto\" and \"https\"",
                    String::from_utf8_lossy(scheme)
                ),
                Span::new(offset, offset + colon),
            ));
        }
    };
    if let Some(b) = uri.iter().position(|&c| c == b'!') {
        let e = ParseError::new(
            "tlsrpt-txt-unencoded-bang",
            "'!' MUST be percent-encoded (%21) in a TLS-RPT URI; a DMARC-style size \
             limit (\"!10m\") is not part of TLS-RPT",
            Span::new(offset + b, offset + b + 1),
        );
        push_finding(findings, error_finding(&e));
        problem.get_or_insert(e);
    }
    Ok((RuaUri { uri: text, scheme }, problem))
}

/// The error finding that says `e` (same code, message and span).
fn error_finding(e: &ParseError) -> Finding {
    Finding::at(e.code, Severity::Error, e.message.clone(), e.span)
}

/// What the `_smtp._tls` RRset means for a sender (RFC 8460 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum TlsRptOutcome {
    /// No record begins with `v=TLSRPTv1;`: the domain does not implement TLS-RPT.
    Absent,
    /// Exactly one record begins with `v=TLSRPTv1;` and it is valid.
    Valid(TlsRptTxt),
    /// Exactly one record begins with `v=TLSRPTv1;` and it is invalid.
    Invalid(ParseError),
    /// This many records begin with `v=TLSRPTv1;`: senders assume no TLS-RPT.
    Multiple(usize),
}

impl TlsRptOutcome {
    /// The stable kebab-case name: `absent`, `valid`, `invalid`, `multiple`.
    pub fn kind(&self) -> &'static str {
        match self {
            TlsRptOutcome::Absent => "absent",
            TlsRptOutcome::Valid(_) => "valid",
            TlsRptOutcome::Invalid(_) => "invalid",
            TlsRptOutcome::Multiple(_) => "multiple",
        }
    }
}

/// The evaluation of a whole `_smtp._tls` TXT RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptRrset {
    /// What a sender concludes.
    pub outcome: TlsRptOutcome,
    /// Records discarded by the version rule (at most [`super::sts_txt::MAX_DISCARDED`]).
    pub discarded: Vec<Discarded>,
    /// Findings about the RRset and the remaining record.
    pub findings: Vec<Finding>,
}

/// True if a record "begins with `v=TLSRPTv1;`", also allowing whitespace before the `;` as
/// the ABNF's `tlsrpt-delim` does.
pub fn begins_with_version(record: &[u8]) -> bool {
    rrset::begins_with(record, VERSION)
}

fn is_near_miss(record: &[u8]) -> bool {
    let head = record[..record.len().min(64)].to_ascii_lowercase();
    find(&head, b"tlsrpt").is_some() || find(&head, b"tls-rpt").is_some()
}

/// The TLS-RPT side of the shared RRset rule.
const RULE: Rule<(TlsRptTxt, Option<ParseError>)> = Rule {
    version: VERSION,
    near_miss: is_near_miss,
    parse: |r| parse_record(r).map(|p| ((p.record, p.unsupported), p.findings)),
    a_record: "a TLS-RPT record",
    multi_string: "tlsrpt-txt-multi-string",
    near_miss_code: "tlsrpt-txt-near-miss",
    invalid_code: "tlsrpt-txt-invalid-record",
    multiple_code: "tlsrpt-txt-multiple-records",
    truncated_code: GRAMMAR.ext.truncated,
    invalid_message: |e| {
        format!(
            "the TLS-RPT record is invalid ({}: {}), so senders send no reports",
            e.code, e.message
        )
    },
    multiple_consequence: "senders assume the domain does not implement TLS-RPT",
};

/// Applies the RFC 8460 §3 RRset rule to all TXT RRs at `_smtp._tls.D`; each RR is its list
/// of character-strings, concatenated without separator.
pub fn evaluate_rrset(rrs: &[Vec<Vec<u8>>]) -> TlsRptRrset {
    let w = rrset::evaluate(rrs, &RULE);
    TlsRptRrset {
        outcome: match w.kept {
            Kept::Absent => TlsRptOutcome::Absent,
            Kept::Valid((r, None)) => TlsRptOutcome::Valid(r),
            // The URI's own error finding says it; nothing restates it.
            Kept::Valid((_, Some(e))) => TlsRptOutcome::Invalid(e),
            Kept::Invalid(e) => TlsRptOutcome::Invalid(e),
            Kept::Multiple(n) => TlsRptOutcome::Multiple(n),
        },
        discarded: w.discarded,
        findings: w.findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ParsedTlsRptTxt {
        parse_record(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &str) -> ParseError {
        match parse_record(s.as_bytes()) {
            Ok(p) => panic!("{s:?} parsed as {:?}", p.record),
            Err(e) => e,
        }
    }

    fn codes(p: &ParsedTlsRptTxt) -> Vec<&'static str> {
        p.findings.iter().map(|f| f.code).collect()
    }

    fn uris(p: &ParsedTlsRptTxt) -> Vec<&str> {
        p.record.rua.iter().map(|u| u.uri.as_str()).collect()
    }

    #[test]
    fn tlsrpt_version() {
        assert_eq!(
            err("v=tlsrptv1; rua=mailto:a@b").code,
            "tlsrpt-txt-bad-version"
        );
        assert_eq!(
            err("v=TLSRPTv2; rua=mailto:a@b").code,
            "tlsrpt-txt-bad-version"
        );
        assert_eq!(
            err("v=TLSRPT1; rua=mailto:a@b").code,
            "tlsrpt-txt-bad-version"
        );
        assert_eq!(
            err("rua=mailto:a@b; v=TLSRPTv1").code,
            "tlsrpt-txt-version-not-first"
        );
        assert_eq!(err("rua=mailto:a@b").code, "tlsrpt-txt-missing-version");
        assert_eq!(err("").code, "tlsrpt-txt-empty");
        assert_eq!(err("v=TLSRPTv1").code, "tlsrpt-txt-missing-rua");
        assert_eq!(err("v=TLSRPTv1;").code, "tlsrpt-txt-missing-rua");
        assert!(
            err("v=TLSRPTv1; RUA=mailto:a@b")
                .message
                .contains("case-sensitive")
        );
    }

    #[test]
    fn tlsrpt_rua_list() {
        let p = ok("v=TLSRPTv1; rua=mailto:a@b.example , \thttps://r.example/x,mailto:c@d.example");
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
            err("v=TLSRPTv1; rua=mailto:a@b,").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b,,mailto:c@d").code,
            "tlsrpt-txt-bad-uri"
        );
        let p = ok("v=TLSRPTv1; rua=mailto:a@b,mailto:a@b");
        assert_eq!(uris(&p), vec!["mailto:a@b"]);
        assert_eq!(codes(&p), vec!["tlsrpt-txt-duplicate-uri"]);
    }

    #[test]
    fn tlsrpt_uri_schemes() {
        let e = err("v=TLSRPTv1; rua=ftp://x.example/");
        assert_eq!(
            (e.code, e.span),
            ("tlsrpt-txt-bad-scheme", Span::new(16, 19))
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=reports@example.com").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(err("v=TLSRPTv1; rua=mailto:").code, "tlsrpt-txt-bad-mailto");
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:@x").code,
            "tlsrpt-txt-bad-mailto"
        );
        assert_eq!(err("v=TLSRPTv1; rua=https:/x").code, "tlsrpt-txt-bad-https");
        assert_eq!(
            err("v=TLSRPTv1; rua=https:///x").code,
            "tlsrpt-txt-bad-https"
        );
        let p = ok("v=TLSRPTv1; rua=http://r.example/");
        assert_eq!(p.record.rua[0].scheme, RuaScheme::Http);
        assert_eq!(codes(&p), vec!["tlsrpt-txt-http-scheme"]);
        assert_eq!(
            ok("v=TLSRPTv1; rua=MAILTO:a@b").record.rua[0].scheme,
            RuaScheme::Mailto
        );
    }

    #[test]
    fn tlsrpt_uri_encoding() {
        let p = ok("v=TLSRPTv1; rua=mailto:a@b.example!10m");
        let f = &p.findings[0];
        assert_eq!(
            (f.code, f.severity),
            ("tlsrpt-txt-unencoded-bang", Severity::Error)
        );
        assert_eq!(f.span, Some(Span::new(34, 35)));
        assert!(
            ok("v=TLSRPTv1; rua=mailto:a@b.example%2110m")
                .findings
                .is_empty()
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a b@c").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b%2").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b%zz").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=https://x/\"").code,
            "tlsrpt-txt-bad-uri"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@bé").code,
            "tlsrpt-txt-not-ascii"
        );
    }

    #[test]
    fn extensions_and_duplicates() {
        let p = ok("v=TLSRPTv1; rua=mailto:a@b; x.y=1; rua=mailto:c@d; x.y=2");
        assert_eq!(uris(&p), vec!["mailto:a@b"]);
        assert_eq!(p.record.extensions, vec![("x.y".into(), "1".into())]);
        assert_eq!(
            codes(&p),
            vec![
                "tlsrpt-txt-extension",
                "tlsrpt-txt-duplicate-field",
                "tlsrpt-txt-duplicate-field"
            ]
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b; x=").code,
            "tlsrpt-txt-bad-ext-value"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b; -x=1").code,
            "tlsrpt-txt-bad-field-name"
        );
        assert_eq!(
            err("v=TLSRPTv1 rua=mailto:a@b").code,
            "tlsrpt-txt-bad-delimiter"
        );
        assert_eq!(
            err("v=TLSRPTv1; rua=mailto:a@b ").code,
            "tlsrpt-txt-trailing-whitespace"
        );
    }

    #[test]
    fn display_round_trips() {
        let p = ok("v=TLSRPTv1;rua=mailto:a@b , https://c/d;k=v");
        assert_eq!(
            p.record.to_string(),
            "v=TLSRPTv1; rua=mailto:a@b,https://c/d; k=v"
        );
        assert_eq!(ok(&p.record.to_string()).record, p.record);
    }

    fn rr(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn rrset_rule() {
        assert_eq!(evaluate_rrset(&[]).outcome, TlsRptOutcome::Absent);
        let r = evaluate_rrset(&[rr(&["v=spf1 -all"]), rr(&["v=TLSRPTv1; rua=mailto:a@b"])]);
        assert_eq!(r.outcome.kind(), "valid");
        let r = evaluate_rrset(&[
            rr(&["v=TLSRPTv1; rua=mailto:a@b"]),
            rr(&["v=TLSRPTv1; rua=mailto:c@d"]),
        ]);
        assert_eq!(r.outcome, TlsRptOutcome::Multiple(2));
        let r = evaluate_rrset(&[rr(&["v=TLSRPTv1; rua=ftp://x"])]);
        assert_eq!(r.outcome.kind(), "invalid");
        let r = evaluate_rrset(&[rr(&["rua=mailto:a@b; v=TLSRPTv1"])]);
        assert_eq!(r.outcome, TlsRptOutcome::Absent);
        assert!(r.discarded[0].near_miss);
        let r = evaluate_rrset(&[rr(&["v=TLSRPTv1;", "rua=mailto:a@b"])]);
        assert_eq!(r.outcome.kind(), "valid");
        assert_eq!(r.findings[0].code, "tlsrpt-txt-multi-string");
    }

    /// RFC 8460 §3: "Two URI schemes are supported: "mailto" and "https"." Whether a record
    /// is valid never depends on the findings cap or the URI cap: an `http:` URI after 32
    /// findings, or after the first [`MAX_RUA`] URIs, still makes it invalid.
    #[test]
    fn an_unsupported_uri_invalidates_whatever_comes_before_it() {
        let mut many_fields = String::from("v=TLSRPTv1");
        for i in 0..40 {
            many_fields.push_str(&format!("; e{i}=1"));
        }
        many_fields.push_str("; rua=http://r.d.test/x");
        let mut many_uris: Vec<String> = (0..MAX_RUA + 1)
            .map(|i| format!("mailto:r{i}@d.test"))
            .collect();
        many_uris.push("https://r.d.test/a!b".into());
        let many_uris = format!("v=TLSRPTv1; rua={}", many_uris.join(","));
        for (record, code) in [
            (many_fields.as_str(), "tlsrpt-txt-http-scheme"),
            (many_uris.as_str(), "tlsrpt-txt-unencoded-bang"),
        ] {
            let r = evaluate_rrset(&[rr(&[record])]);
            match &r.outcome {
                TlsRptOutcome::Invalid(e) => assert_eq!(e.code, code),
                o => panic!("{code}: {o:?}"),
            }
        }
        // past the URI cap a URI is still checked: a malformed one is a parse error
        let mut bad: Vec<String> = (0..MAX_RUA)
            .map(|i| format!("mailto:r{i}@d.test"))
            .collect();
        bad.push("ftp://x".into());
        let e = err(&format!("v=TLSRPTv1; rua={}", bad.join(",")));
        assert_eq!(e.code, "tlsrpt-txt-bad-scheme");
    }

    /// RFC 8460 §3 ABNF: `tlsrpt-field = tlsrpt-rua / tlsrpt-extension`. A second `rua=`
    /// whose value is no valid URI list is still a syntactically valid field (an extension by
    /// the ABNF); the first `rua` counts and the record is valid. A first `rua` that does not
    /// fit yields to a later one that does.
    #[test]
    fn a_repeated_rua_that_does_not_fit_is_a_warning() {
        let p = ok("v=TLSRPTv1; rua=mailto:a@d.test; rua=reports");
        assert_eq!(uris(&p), ["mailto:a@d.test"]);
        assert_eq!(codes(&p), ["tlsrpt-txt-duplicate-field"]);
        let p = ok("v=TLSRPTv1; rua=reports; rua=mailto:a@d.test");
        assert_eq!(uris(&p), ["mailto:a@d.test"]);
        // an ignored repeat's unsupported URI does not make the record invalid
        let r = evaluate_rrset(&[rr(&[
            "v=TLSRPTv1; rua=mailto:a@d.test; rua=http://r.d.test/",
        ])]);
        assert_eq!(r.outcome.kind(), "valid");
        assert_eq!(err("v=TLSRPTv1; rua=reports").code, "tlsrpt-txt-bad-uri");
    }
}
