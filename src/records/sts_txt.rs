//! The `_mta-sts` TXT record (RFC 8461 §3.1): its grammar and the RRset rule.
//!
//! Owns [`parse_record`] (one record's bytes → [`StsTxt`] plus findings, or a [`ParseError`])
//! and [`evaluate_rrset`] (every TXT RR at `_mta-sts.D` → an [`StsOutcome`]), on the
//! `key=value; …` grammar it shares with [`super::tlsrpt_txt`] (the private `fields` module).
//! It must not do DNS: callers hand in the RR strings. Pure, never panics, keeps at most
//! [`MAX_FINDINGS`] findings and [`MAX_EXTENSIONS`] extensions per record.
//!
//! The grammar (RFC 8461 §3.1, with RFC 7405 `%s` case-sensitive strings):
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-field       = sts-id / sts-extension
//! sts-field-delim = *WSP ";" *WSP
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! sts-extension   = sts-ext-name "=" sts-ext-value
//! sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//! sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)
//! ```
//!
//! Parse error codes:
//!
//! | code | meaning |
//! |---|---|
//! | `sts-txt-empty` | the record is empty |
//! | `sts-txt-not-ascii` | a byte outside US-ASCII ("MTA-STS TXT records MUST be US-ASCII") |
//! | `sts-txt-missing-version` | no `v=STSv1` anywhere |
//! | `sts-txt-version-not-first` | `v=STSv1` present but not at the very start |
//! | `sts-txt-bad-version` | starts with `v=` but not exactly `v=STSv1` (e.g. `v=STS1`, `v=stsv1`) |
//! | `sts-txt-bad-delimiter` | something other than `;` between fields |
//! | `sts-txt-empty-field` | two delimiters in a row (`;;`) |
//! | `sts-txt-trailing-whitespace` | whitespace at the end not preceded by `;` (the ABNF has no place for it) |
//! | `sts-txt-missing-equals` | a field without `=` |
//! | `sts-txt-bad-field-name` | a field name that is not `sts-ext-name` |
//! | `sts-txt-bad-id` | `id` empty, longer than 32, or not letters and digits |
//! | `sts-txt-bad-ext-value` | an extension value empty or with a space, `=`, `;` or control character |
//! | `sts-txt-missing-id` | no `id=` field (field names are case-sensitive) |
//!
//! Finding codes:
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `sts-txt-space-before-semicolon` | info | whitespace before `;`: allowed by the ABNF though the prose says records begin with `v=STSv1;` (errata 6285) |
//! | `sts-txt-duplicate-field` | warning | a field given twice; the first wins (for `id`, the first that fits the `sts-id` grammar: another is an extension by the ABNF) |
//! | `sts-txt-extension` | info | an extension field, ignored by senders |
//! | `sts-txt-multi-string` | info | the RR is split into several strings (concatenated without spaces) |
//! | `sts-txt-near-miss` | warning | a discarded record that looks like a failed attempt at an MTA-STS record |
//! | `sts-txt-multiple-records` | error | more than one record begins with `v=STSv1;`: senders assume no policy |
//! | `sts-txt-invalid-record` | error | the one remaining record is syntactically invalid: senders assume no policy |
//! | `sts-txt-findings-truncated` | info | more than [`MAX_FINDINGS`] findings; the rest were dropped |

use std::fmt;

use serde::Serialize;

use super::diag::{Finding, ParseError, Span};
use super::fields::{self, ExtCodes, Grammar, RawField, SplitCodes, find};
use super::rrset::{self, Kept, Rule};

/// The version field every record must start with.
pub const VERSION: &str = "v=STSv1";
/// At most this many findings are kept for one record or RRset.
pub const MAX_FINDINGS: usize = 32;
/// At most this many extension fields are kept for one record.
pub const MAX_EXTENSIONS: usize = 16;
/// At most this many discarded records are described in an [`StsRrset`].
pub const MAX_DISCARDED: usize = 16;
/// Discarded record text is cut to this many bytes.
pub const MAX_SHOWN_LEN: usize = 256;

/// A valid `_mta-sts` TXT record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StsTxt {
    /// The policy id (1 to 32 letters and digits).
    pub id: String,
    /// Extension fields `(name, value)` in order, first occurrence of each name only.
    pub extensions: Vec<(String, String)>,
}

impl fmt::Display for StsTxt {
    /// The canonical text: `v=STSv1; id=…` then `; name=value` per extension.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{VERSION}; id={}", self.id)?;
        for (k, v) in &self.extensions {
            write!(f, "; {k}={v}")?;
        }
        Ok(())
    }
}

/// A record that parsed, with what was noticed on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParsedStsTxt {
    /// The record.
    pub record: StsTxt,
    /// Non-fatal findings (codes in the module table).
    pub findings: Vec<Finding>,
}

const GRAMMAR: Grammar = Grammar {
    version: VERSION,
    required: "id",
    empty: "sts-txt-empty",
    not_ascii: ("sts-txt-not-ascii", "MTA-STS TXT records must be US-ASCII"),
    missing_version: "sts-txt-missing-version",
    version_not_first: "sts-txt-version-not-first",
    bad_version: "sts-txt-bad-version",
    bad_field_name: "sts-txt-bad-field-name",
    missing_required: "sts-txt-missing-id",
    space_before_semicolon: (
        "sts-txt-space-before-semicolon",
        "whitespace before ';': the ABNF allows it, but the RFC's prose says records begin with \
         \"v=STSv1;\" and some senders discard such records (errata 6285)",
    ),
    split: SplitCodes {
        bad_delimiter: "sts-txt-bad-delimiter",
        empty_field: "sts-txt-empty-field",
        trailing_whitespace: "sts-txt-trailing-whitespace",
        missing_equals: "sts-txt-missing-equals",
    },
    ext: ExtCodes {
        bad_value: "sts-txt-bad-ext-value",
        extension: "sts-txt-extension",
        duplicate: "sts-txt-duplicate-field",
        truncated: "sts-txt-findings-truncated",
    },
};

/// Parses one `_mta-sts` TXT record (its strings already concatenated). Spans index `input`.
pub fn parse_record(input: &[u8]) -> Result<ParsedStsTxt, ParseError> {
    let p = fields::parse(input, &GRAMMAR, |f, _| {
        check_id(f)?;
        Ok(String::from_utf8_lossy(f.value).into_owned())
    })?;
    Ok(ParsedStsTxt {
        record: StsTxt {
            id: p.required,
            extensions: p.extensions,
        },
        findings: p.findings,
    })
}

fn check_id(f: &RawField<'_>) -> Result<(), ParseError> {
    let v = f.value;
    if v.is_empty() {
        return Err(ParseError::new(
            "sts-txt-bad-id",
            "the id is empty; it must be 1 to 32 letters and digits",
            f.value_span,
        ));
    }
    if let Some(i) = v.iter().position(|c| !c.is_ascii_alphanumeric()) {
        let at = f.value_span.start + i;
        return Err(ParseError::new(
            "sts-txt-bad-id",
            format!(
                "the id may contain only letters and digits, not {:?}",
                char::from(v[i])
            ),
            Span::new(at, at + 1),
        ));
    }
    if v.len() > 32 {
        return Err(ParseError::new(
            "sts-txt-bad-id",
            format!(
                "the id is {} characters long; at most 32 are allowed",
                v.len()
            ),
            f.value_span,
        ));
    }
    Ok(())
}

/// What the `_mta-sts` RRset means for a sender (RFC 8461 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum StsOutcome {
    /// No record begins with `v=STSv1;` (or there are no TXT records): no MTA-STS.
    Absent,
    /// Exactly one record begins with `v=STSv1;` and it is valid.
    Valid(StsTxt),
    /// Exactly one record begins with `v=STSv1;` and it is invalid: senders assume no policy.
    Invalid(ParseError),
    /// This many records begin with `v=STSv1;`: senders assume no policy.
    Multiple(usize),
}

impl StsOutcome {
    /// The stable kebab-case name: `absent`, `valid`, `invalid`, `multiple`.
    pub fn kind(&self) -> &'static str {
        match self {
            StsOutcome::Absent => "absent",
            StsOutcome::Valid(_) => "valid",
            StsOutcome::Invalid(_) => "invalid",
            StsOutcome::Multiple(_) => "multiple",
        }
    }
}

/// A TXT record the RRset rule discarded because it does not begin with `v=STSv1;`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discarded {
    /// Position of the RR in the answer.
    pub index: usize,
    /// Its text (lossy UTF-8, cut to [`MAX_SHOWN_LEN`] bytes).
    pub text: String,
    /// Whether it looks like a failed attempt at an MTA-STS record.
    pub near_miss: bool,
}

/// The evaluation of a whole `_mta-sts` TXT RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StsRrset {
    /// What a sender concludes.
    pub outcome: StsOutcome,
    /// Records discarded by the version rule (at most [`MAX_DISCARDED`]).
    pub discarded: Vec<Discarded>,
    /// Findings about the RRset and the remaining record.
    pub findings: Vec<Finding>,
}

/// True if a record "begins with `v=STSv1;`", also allowing whitespace before the `;` as the
/// ABNF's `sts-field-delim` does (errata 6285).
pub fn begins_with_version(record: &[u8]) -> bool {
    rrset::begins_with(record, VERSION)
}

fn is_near_miss(record: &[u8]) -> bool {
    let head = &record[..record.len().min(64)];
    let lower = head.to_ascii_lowercase();
    find(&lower, b"stsv").is_some() || find(&lower, b"v=sts").is_some()
}

/// The MTA-STS side of the shared RRset rule.
const RULE: Rule<StsTxt> = Rule {
    version: VERSION,
    near_miss: is_near_miss,
    parse: |r| parse_record(r).map(|p| (p.record, p.findings)),
    a_record: "an MTA-STS record",
    multi_string: "sts-txt-multi-string",
    near_miss_code: "sts-txt-near-miss",
    invalid_code: "sts-txt-invalid-record",
    multiple_code: "sts-txt-multiple-records",
    truncated_code: GRAMMAR.ext.truncated,
    invalid_message: |e| {
        format!(
            "the MTA-STS record is invalid ({}: {}), so senders assume there is no policy",
            e.code, e.message
        )
    },
    multiple_consequence: "senders assume there is no policy",
};

/// Applies the RFC 8461 §3.1 RRset rule to all TXT RRs at `_mta-sts.D`; each RR is its list of
/// character-strings, concatenated without separator.
pub fn evaluate_rrset(rrs: &[Vec<Vec<u8>>]) -> StsRrset {
    let w = rrset::evaluate(rrs, &RULE);
    StsRrset {
        outcome: match w.kept {
            Kept::Absent => StsOutcome::Absent,
            Kept::Valid(r) => StsOutcome::Valid(r),
            Kept::Invalid(e) => StsOutcome::Invalid(e),
            Kept::Multiple(n) => StsOutcome::Multiple(n),
        },
        discarded: w.discarded,
        findings: w.findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ParsedStsTxt {
        parse_record(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &str) -> ParseError {
        match parse_record(s.as_bytes()) {
            Ok(p) => panic!("{s:?} parsed as {:?}", p.record),
            Err(e) => e,
        }
    }

    fn codes(p: &ParsedStsTxt) -> Vec<&'static str> {
        p.findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn sts_text_record_minimal_and_trailing_delimiter() {
        assert_eq!(
            ok("v=STSv1; id=20160831085700Z;").record.id,
            "20160831085700Z"
        );
        assert_eq!(ok("v=STSv1;id=1").record.id, "1");
        assert_eq!(ok("v=STSv1;\tid=abc;\t ").record.id, "abc");
        assert!(ok("v=STSv1; id=1;").findings.is_empty());
    }

    #[test]
    fn sts_version_is_case_sensitive_and_first() {
        assert_eq!(err("v=stsv1; id=1").code, "sts-txt-bad-version");
        assert_eq!(err("V=STSv1; id=1").code, "sts-txt-bad-version");
        assert_eq!(err("v=STS1; id=1").code, "sts-txt-bad-version");
        assert_eq!(err("v=STSv10; id=1").code, "sts-txt-bad-version");
        assert_eq!(err("id=1; v=STSv1").code, "sts-txt-version-not-first");
        assert_eq!(err(" v=STSv1; id=1").code, "sts-txt-version-not-first");
        assert_eq!(err("v=spf1 -all").code, "sts-txt-bad-version");
        assert_eq!(err("hello").code, "sts-txt-missing-version");
        assert_eq!(err("").code, "sts-txt-empty");
        let e = err("v=STS1; id=1");
        assert_eq!(e.span, Span::new(0, 6));
    }

    #[test]
    fn sts_field_delim() {
        let p = ok("v=STSv1 ; id=1");
        assert_eq!(codes(&p), vec!["sts-txt-space-before-semicolon"]);
        assert_eq!(p.findings[0].span, Some(Span::new(7, 8)));
        assert_eq!(err("v=STSv1 id=1").code, "sts-txt-bad-delimiter");
        assert_eq!(err("v=STSv1;; id=1").code, "sts-txt-empty-field");
        assert_eq!(err("v=STSv1; id=1 ").code, "sts-txt-trailing-whitespace");
        assert_eq!(err("v=STSv1, id=1").code, "sts-txt-bad-version");
    }

    #[test]
    fn sts_id() {
        assert_eq!(
            ok(&format!("v=STSv1; id={}", "a".repeat(32)))
                .record
                .id
                .len(),
            32
        );
        assert_eq!(
            err(&format!("v=STSv1; id={}", "a".repeat(33))).code,
            "sts-txt-bad-id"
        );
        assert_eq!(err("v=STSv1; id=").code, "sts-txt-bad-id");
        let e = err("v=STSv1; id=2024-01-01");
        assert_eq!((e.code, e.span), ("sts-txt-bad-id", Span::new(16, 17)));
        assert_eq!(err("v=STSv1; id=abc def").code, "sts-txt-bad-id");
        assert_eq!(err("v=STSv1;").code, "sts-txt-missing-id");
        assert_eq!(err("v=STSv1").code, "sts-txt-missing-id");
        let e = err("v=STSv1; ID=abc");
        assert_eq!(e.code, "sts-txt-missing-id");
        assert!(e.message.contains("case-sensitive"));
        assert_eq!(err("v=STSv1; id").code, "sts-txt-missing-equals");
    }

    #[test]
    fn sts_extension() {
        let p = ok("v=STSv1; id=1; foo.bar_baz-1=a:b/c?d");
        assert_eq!(
            p.record.extensions,
            vec![("foo.bar_baz-1".into(), "a:b/c?d".into())]
        );
        assert_eq!(codes(&p), vec!["sts-txt-extension"]);
        assert_eq!(err("v=STSv1; id=1; _x=1").code, "sts-txt-bad-field-name");
        assert_eq!(
            err(&format!("v=STSv1; id=1; {}=1", "a".repeat(33))).code,
            "sts-txt-bad-field-name"
        );
        assert!(parse_record(format!("v=STSv1; id=1; {}=1", "a".repeat(32)).as_bytes()).is_ok());
        assert_eq!(err("v=STSv1; id=1; x=").code, "sts-txt-bad-ext-value");
        assert_eq!(err("v=STSv1; id=1; x=a=b").code, "sts-txt-bad-ext-value");
        assert_eq!(err("v=STSv1; id=1; x=a\u{1}").code, "sts-txt-bad-ext-value");
        assert_eq!(err("v=STSv1; id=1; x y=1").code, "sts-txt-bad-field-name");
    }

    #[test]
    fn duplicates_first_wins() {
        let p = ok("v=STSv1; id=first; id=second; x=1; x=2; v=STSv1");
        assert_eq!(p.record.id, "first");
        assert_eq!(p.record.extensions, vec![("x".into(), "1".into())]);
        assert_eq!(
            codes(&p)
                .iter()
                .filter(|c| **c == "sts-txt-duplicate-field")
                .count(),
            3
        );
    }

    /// RFC 8461 §3.1 ABNF: `sts-field = sts-id / sts-extension`, and §3.2: "Parsers MUST
    /// accept TXT records ... that are syntactically valid". `id=2024-01-01` is no `sts-id`
    /// but is a valid `sts-extension`: beside a valid id it is a warning, not an error; the
    /// id is the occurrence that fits, wherever it is; with none that fits, the first
    /// misfit's error stands.
    #[test]
    fn an_id_field_that_does_not_fit_yields_to_one_that_does() {
        for record in [
            "v=STSv1; id=abc; id=2024-01-01",
            "v=STSv1; id=2024-01-01; id=abc",
        ] {
            let p = ok(record);
            assert_eq!(p.record.id, "abc", "{record}");
            assert_eq!(codes(&p), ["sts-txt-duplicate-field"], "{record}");
            assert!(p.findings[0].message.contains("does not count"), "{record}");
        }
        assert_eq!(err("v=STSv1; id=2024-01-01").code, "sts-txt-bad-id");
        assert_eq!(err("v=STSv1; id=a_b; id=c-d").code, "sts-txt-bad-id");
    }

    #[test]
    fn us_ascii_only() {
        let e = err("v=STSv1; id=1; x=é");
        assert_eq!((e.code, e.span.start), ("sts-txt-not-ascii", 17));
        assert_eq!(
            parse_record(&[b'v', 0xff]).unwrap_err().code,
            "sts-txt-not-ascii"
        );
    }

    #[test]
    fn findings_are_capped() {
        let mut s = "v=STSv1; id=1".to_string();
        for _ in 0..100 {
            s.push_str("; id=2");
        }
        let p = ok(&s);
        assert_eq!(p.findings.len(), MAX_FINDINGS + 1);
        assert_eq!(
            p.findings.last().map(|f| f.code),
            Some("sts-txt-findings-truncated")
        );
    }

    #[test]
    fn display_round_trips() {
        let p = ok("v=STSv1;id=abc;k=v");
        assert_eq!(p.record.to_string(), "v=STSv1; id=abc; k=v");
        assert_eq!(ok(&p.record.to_string()).record, p.record);
    }

    fn rr(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn rrset_rule() {
        let r = evaluate_rrset(&[]);
        assert_eq!(r.outcome, StsOutcome::Absent);
        let r = evaluate_rrset(&[rr(&["v=spf1 -all"]), rr(&["v=STSv1; id=1"])]);
        assert_eq!(r.outcome.kind(), "valid");
        assert_eq!(r.discarded.len(), 1);
        assert!(!r.discarded[0].near_miss);
        let r = evaluate_rrset(&[rr(&["v=STSv1; id=1"]), rr(&["v=STSv1; id=2"])]);
        assert_eq!(r.outcome, StsOutcome::Multiple(2));
        let r = evaluate_rrset(&[rr(&["v=STSv1; id=bad-id"])]);
        assert_eq!(r.outcome.kind(), "invalid");
        assert!(
            r.findings
                .iter()
                .any(|f| f.code == "sts-txt-invalid-record")
        );
        let r = evaluate_rrset(&[rr(&["v=STS", "v1; id=1"])]);
        assert_eq!(r.outcome.kind(), "valid");
        assert!(r.findings.iter().any(|f| f.code == "sts-txt-multi-string"));
        let r = evaluate_rrset(&[rr(&["v=STS1; id=1"])]);
        assert_eq!(r.outcome, StsOutcome::Absent);
        assert!(r.discarded[0].near_miss);
        assert_eq!(r.findings[0].code, "sts-txt-near-miss");
        let r = evaluate_rrset(&[rr(&["v=STSv1 ; id=1"])]);
        assert_eq!(r.outcome.kind(), "valid");
    }

    #[test]
    fn begins_with_version_cases() {
        assert!(begins_with_version(b"v=STSv1;"));
        assert!(begins_with_version(b"v=STSv1 \t; id=1"));
        assert!(!begins_with_version(b"v=STSv1"));
        assert!(!begins_with_version(b"v=STSv1 id=1"));
        assert!(!begins_with_version(b"v=STSv10;"));
        assert!(!begins_with_version(b" v=STSv1;"));
    }
}
