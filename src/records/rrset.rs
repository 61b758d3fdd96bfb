//! The TXT RRset rule that MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460 §3) share: records
//! that do not begin with the version tag are discarded (near misses are reported), and
//! exactly one record may remain. Each record kind supplies its side in a [`Rule`]; this
//! module owns the walk, the discarded list and the RRset-level findings.

use super::diag::{Finding, ParseError, Severity};
use super::fields::{is_wsp, push_capped, shown};
use super::sts_txt::{Discarded, MAX_DISCARDED};

/// Whether `record` begins with the version tag `version` and then `;`, allowing whitespace
/// before the `;` as both ABNFs' delimiters do (RFC 8461 errata 6285; RFC 8460 `tlsrpt-delim`).
pub(crate) fn begins_with(record: &[u8], version: &str) -> bool {
    record
        .strip_prefix(version.as_bytes())
        .is_some_and(|rest| rest.iter().find(|&&c| !is_wsp(c)) == Some(&b';'))
}

/// What a sender concludes from the records that begin with the version tag.
#[derive(Debug)]
pub(crate) enum Kept<T> {
    /// None.
    Absent,
    /// Exactly one, valid.
    Valid(T),
    /// Exactly one, invalid.
    Invalid(ParseError),
    /// This many.
    Multiple(usize),
}

/// Parses one record into its value and its findings.
pub(crate) type Parse<T> = fn(&[u8]) -> Result<(T, Vec<Finding>), ParseError>;

/// One record kind's side of the rule: its version tag, parser, codes and wording.
pub(crate) struct Rule<T> {
    /// The version tag without the `;` (e.g. `v=STSv1`).
    pub version: &'static str,
    /// Whether a discarded record looks like a failed attempt at this kind.
    pub near_miss: fn(&[u8]) -> bool,
    /// Parses one record into its value and findings.
    pub parse: Parse<T>,
    /// The kind with its article, for messages ("an MTA-STS record").
    pub a_record: &'static str,
    /// Code of the note that a kept record is split into several strings.
    pub multi_string: &'static str,
    /// Code of a near miss.
    pub near_miss_code: &'static str,
    /// Code of an invalid single record.
    pub invalid_code: &'static str,
    /// Code of several records.
    pub multiple_code: &'static str,
    /// Code of the truncation note when findings reach the cap.
    pub truncated_code: &'static str,
    /// The message for an invalid single record, given its parse error.
    pub invalid_message: fn(&ParseError) -> String,
    /// What senders conclude from several records (end of the message).
    pub multiple_consequence: &'static str,
}

/// The result of the walk.
#[derive(Debug)]
pub(crate) struct Walked<T> {
    pub kept: Kept<T>,
    /// Records discarded by the version rule (at most [`MAX_DISCARDED`]).
    pub discarded: Vec<Discarded>,
    pub findings: Vec<Finding>,
}

/// Applies the rule to all TXT RRs at the owner name; each RR is its list of
/// character-strings, concatenated without separator.
pub(crate) fn evaluate<T>(rrs: &[Vec<Vec<u8>>], rule: &Rule<T>) -> Walked<T> {
    let mut findings = Vec::new();
    let push = |findings: &mut Vec<Finding>, f| push_capped(findings, f, rule.truncated_code);
    let mut discarded = Vec::new();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for (index, strings) in rrs.iter().enumerate() {
        let record: Vec<u8> = strings.concat();
        if begins_with(&record, rule.version) {
            if strings.len() > 1 {
                push(
                    &mut findings,
                    Finding::new(
                        rule.multi_string,
                        Severity::Info,
                        format!(
                            "record {index} is split into {} strings, concatenated without spaces",
                            strings.len()
                        ),
                    ),
                );
            }
            kept.push(record);
            continue;
        }
        let near_miss = (rule.near_miss)(&record);
        if near_miss {
            let why = match (rule.parse)(&record) {
                Err(e) => e.message,
                Ok(_) => format!("it does not begin with \"{};\"", rule.version),
            };
            push(
                &mut findings,
                Finding::new(
                    rule.near_miss_code,
                    Severity::Warning,
                    format!(
                        "record {index} ({:?}) looks like {} but is discarded: {why}",
                        shown(&record),
                        rule.a_record
                    ),
                ),
            );
        }
        if discarded.len() < MAX_DISCARDED {
            discarded.push(Discarded {
                index,
                text: shown(&record),
                near_miss,
            });
        }
    }
    let kept = match kept.as_slice() {
        [] => Kept::Absent,
        [record] => match (rule.parse)(record) {
            Ok((value, record_findings)) => {
                for f in record_findings {
                    push(&mut findings, f);
                }
                Kept::Valid(value)
            }
            Err(e) => {
                push(
                    &mut findings,
                    Finding::at(
                        rule.invalid_code,
                        Severity::Error,
                        (rule.invalid_message)(&e),
                        e.span,
                    ),
                );
                Kept::Invalid(e)
            }
        },
        many => {
            push(
                &mut findings,
                Finding::new(
                    rule.multiple_code,
                    Severity::Error,
                    format!(
                        "{} records begin with \"{};\"; {}",
                        many.len(),
                        rule.version,
                        rule.multiple_consequence
                    ),
                ),
            );
            Kept::Multiple(many.len())
        }
    };
    Walked {
        kept,
        discarded,
        findings,
    }
}
