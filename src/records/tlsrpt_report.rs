//! TLS-RPT aggregate reports (RFC 8460 §4): the JSON documents (usually gzip-compressed,
//! `application/tlsrpt+gzip`) that sending MTAs mail or POST to the `rua` of a domain.
//!
//! This module owns the typed report model, the closed vocabularies of policy types and result
//! types (the IANA "STARTTLS Validation Result Types" registry of RFC 8460 §6.6), and a
//! tolerant parser that turns the variants seen in the field into findings. It does no I/O and
//! never panics. Memory is bounded: JSON input is capped at [`MAX_REPORT_BYTES`], gzip output
//! at [`MAX_INFLATED_BYTES`] (checked while inflating), JSON nesting by serde_json's recursion
//! limit (128), and findings at [`MAX_DIAGNOSTICS`]. The JSON is first read into a
//! `serde_json::Value` tree (simple, depth-safe); its worst case is roughly 20× the input for
//! adversarial arrays of tiny values, i.e. a few hundred MiB at the 16 MiB cap — callers that
//! parse many reports at once should bound their concurrency accordingly.
//!
//! # Decisions
//!
//! * Required (error when absent or of the wrong JSON type): `organization-name`,
//!   `date-range.start-datetime`/`end-datetime` (RFC 3339), `report-id`, `policies`, and per
//!   policy `policy.policy-type`, `policy.policy-domain`, `summary` with both counts, and per
//!   failure detail `result-type` and `failed-session-count`. Everything else is optional.
//! * `contact-info` is listed in §4.4 without "optional", yet real reporters omit it: a
//!   warning. `failure-details` absent means none.
//! * Variants accepted with a finding: `mx-host` and `policy-string` as one string instead of
//!   an array (the RFC's own Appendix B example writes `mx-host` as a string);
//!   `failure-error-code` (spelling of the Appendix B example) for `failure-reason-code`;
//!   counts written as strings of digits; unknown result or policy types (kept as `Other`);
//!   unknown fields.
//! * Errors are located by a byte span when the JSON itself is malformed; structural errors
//!   span the whole input and name the JSON path in the message.
//!
//! # Codes
//!
//! | code | kind | meaning |
//! |---|---|---|
//! | `tlsrpt-too-large` | error | JSON input over [`MAX_REPORT_BYTES`] |
//! | `tlsrpt-bad-gzip` | error | the gzip stream is corrupt |
//! | `tlsrpt-inflated-too-large` | error | gzip inflates past [`MAX_INFLATED_BYTES`] |
//! | `tlsrpt-bad-json` | error | not JSON (syntax, bad UTF-8, nesting over 128) |
//! | `tlsrpt-not-object` | error | top-level JSON value is not an object |
//! | `tlsrpt-missing-field` | error | a required field is absent |
//! | `tlsrpt-bad-type` | error | a field has the wrong JSON type |
//! | `tlsrpt-bad-datetime` | error | a date-time is not RFC 3339 |
//! | `tlsrpt-bad-count` | error | a count is not a non-negative integer |
//! | `tlsrpt-missing-contact-info` | warning | no `contact-info` |
//! | `tlsrpt-unknown-result-type` | warning | result type not in the IANA registry |
//! | `tlsrpt-unknown-policy-type` | warning | policy type not `sts`/`tlsa`/`no-policy-found` |
//! | `tlsrpt-date-range-reversed` | warning | end before start |
//! | `tlsrpt-not-full-day` | info | range is not one UTC day (RFC SHOULD) |
//! | `tlsrpt-non-utc-datetime` | info | a date-time has a non-zero UTC offset |
//! | `tlsrpt-failure-count-mismatch` | warning | detail counts exceed the summary's failure count |
//! | `tlsrpt-bad-ip` | warning | an IP field does not parse as an IP address |
//! | `tlsrpt-mx-host-string` | info | `mx-host` is a string, not an array |
//! | `tlsrpt-policy-string-string` | info | `policy-string` is a string, not an array |
//! | `tlsrpt-failure-error-code` | info | `failure-error-code` used for `failure-reason-code` |
//! | `tlsrpt-count-as-string` | info | a count is a JSON string of digits |
//! | `tlsrpt-unknown-field` | info | a field not defined by RFC 8460 |
//! | `tlsrpt-too-many-diagnostics` | warning | further findings were dropped |

use std::fmt;
use std::io::Read;
use std::net::IpAddr;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde_json::{Map, Value};

use crate::records::diag::{Finding, ParseError, Severity, Span};

/// Largest JSON report accepted, in bytes (also the cap on inflated gzip output).
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024;

/// Largest inflated size of a gzip report, in bytes; inflating stops one byte past it.
pub const MAX_INFLATED_BYTES: usize = MAX_REPORT_BYTES;

/// Most findings (and errors) kept per report; more are summarised by one finding.
pub const MAX_DIAGNOSTICS: usize = 256;

/// The kind of policy a report section is about (RFC 8460 §4.4 `policy-type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// `sts`: an MTA-STS policy (RFC 8461).
    Sts,
    /// `tlsa`: a DANE TLSA policy (RFC 6698, RFC 7672).
    Tlsa,
    /// `no-policy-found`: neither was found; counts cover opportunistic TLS.
    NoPolicyFound,
    /// Any other value, kept verbatim (with a `tlsrpt-unknown-policy-type` finding).
    Other(String),
}

impl PolicyType {
    /// The value as written in reports.
    pub fn as_str(&self) -> &str {
        match self {
            PolicyType::Sts => "sts",
            PolicyType::Tlsa => "tlsa",
            PolicyType::NoPolicyFound => "no-policy-found",
            PolicyType::Other(s) => s,
        }
    }

    fn from_value(s: &str) -> PolicyType {
        match s {
            "sts" => PolicyType::Sts,
            "tlsa" => PolicyType::Tlsa,
            "no-policy-found" => PolicyType::NoPolicyFound,
            other => PolicyType::Other(other.to_owned()),
        }
    }
}

/// A failure's result type (RFC 8460 §4.3, IANA "STARTTLS Validation Result Types").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// `starttls-not-supported`: the receiving MX did not support STARTTLS.
    StarttlsNotSupported,
    /// `certificate-host-mismatch`: the certificate did not match the MX host name.
    CertificateHostMismatch,
    /// `certificate-expired`: the certificate has expired.
    CertificateExpired,
    /// `certificate-not-trusted`: the certificate chain does not lead to a trusted root.
    CertificateNotTrusted,
    /// `validation-failure`: general failure for a reason not matching another type.
    ValidationFailure,
    /// `tlsa-invalid`: a DANE TLSA record was invalid.
    TlsaInvalid,
    /// `dnssec-invalid`: DNSSEC validation of the TLSA records failed.
    DnssecInvalid,
    /// `dane-required`: DANE was required but no usable TLSA records were found.
    DaneRequired,
    /// `sts-policy-fetch-error`: the MTA-STS policy could not be fetched.
    StsPolicyFetchError,
    /// `sts-policy-invalid`: the MTA-STS policy did not parse.
    StsPolicyInvalid,
    /// `sts-webpki-invalid`: the policy host's certificate did not validate.
    StsWebpkiInvalid,
    /// Any other value, kept verbatim (with a `tlsrpt-unknown-result-type` finding).
    Other(String),
}

/// Every registered result type, in registry order.
pub const RESULT_TYPES: [ResultType; 11] = [
    ResultType::StarttlsNotSupported,
    ResultType::CertificateHostMismatch,
    ResultType::CertificateExpired,
    ResultType::CertificateNotTrusted,
    ResultType::ValidationFailure,
    ResultType::TlsaInvalid,
    ResultType::DnssecInvalid,
    ResultType::DaneRequired,
    ResultType::StsPolicyFetchError,
    ResultType::StsPolicyInvalid,
    ResultType::StsWebpkiInvalid,
];

impl ResultType {
    /// The registered kebab-case name (or the verbatim value of `Other`).
    pub fn as_str(&self) -> &str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch",
            ResultType::CertificateExpired => "certificate-expired",
            ResultType::CertificateNotTrusted => "certificate-not-trusted",
            ResultType::ValidationFailure => "validation-failure",
            ResultType::TlsaInvalid => "tlsa-invalid",
            ResultType::DnssecInvalid => "dnssec-invalid",
            ResultType::DaneRequired => "dane-required",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error",
            ResultType::StsPolicyInvalid => "sts-policy-invalid",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid",
            ResultType::Other(s) => s,
        }
    }

    /// The result type named `s` (exact, case-sensitive match); `Other` when unregistered.
    pub fn from_name(s: &str) -> ResultType {
        RESULT_TYPES
            .iter()
            .find(|r| r.as_str() == s)
            .cloned()
            .unwrap_or_else(|| ResultType::Other(s.to_owned()))
    }
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reporting period (RFC 8460 §4.4 `date-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// `start-datetime`, converted to UTC.
    pub start: DateTime<Utc>,
    /// `end-datetime`, converted to UTC.
    pub end: DateTime<Utc>,
}

/// The policy a report section applies to (RFC 8460 §4.4 `policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPolicy {
    /// `policy-type`.
    pub policy_type: PolicyType,
    /// `policy-string`: the policy as applied, one string per line (empty when absent).
    pub policy_string: Vec<String>,
    /// `policy-domain`.
    pub policy_domain: String,
    /// `mx-host`: MX patterns of the applied policy (empty when absent).
    pub mx_host: Vec<String>,
}

/// Session counts for one policy (RFC 8460 §4.4 `summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// `total-successful-session-count`.
    pub total_successful_session_count: u64,
    /// `total-failure-session-count`.
    pub total_failure_session_count: u64,
}

/// One class of failed sessions (RFC 8460 §4.4 `failure-details`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureDetail {
    /// `result-type`.
    pub result_type: ResultType,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<IpAddr>,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<IpAddr>,
    /// `failed-session-count`.
    pub failed_session_count: u64,
    /// `additional-information` (a URI).
    pub additional_information: Option<String>,
    /// `failure-reason-code` (or the `failure-error-code` variant).
    pub failure_reason_code: Option<String>,
}

/// One element of `policies`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyReport {
    /// `policy`.
    pub policy: AppliedPolicy,
    /// `summary`.
    pub summary: Summary,
    /// `failure-details` (empty when absent).
    pub failure_details: Vec<FailureDetail>,
}

/// A TLS-RPT aggregate report (RFC 8460 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `organization-name`.
    pub organization_name: String,
    /// `date-range`.
    pub date_range: DateRange,
    /// `contact-info`.
    pub contact_info: Option<String>,
    /// `report-id`.
    pub report_id: String,
    /// `policies`.
    pub policies: Vec<PolicyReport>,
}

/// The outcome of [`parse`] / [`parse_gzip`]: a report when valid, errors otherwise, and
/// findings either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportParse {
    /// The report, present only when `errors` is empty.
    pub report: Option<Report>,
    /// Fatal problems.
    pub errors: Vec<ParseError>,
    /// Non-fatal observations.
    pub findings: Vec<Finding>,
}

/// Parses a gzip-compressed report (`application/tlsrpt+gzip`, RFC 8460 §5.3), inflating at
/// most [`MAX_INFLATED_BYTES`] (+1 to detect overflow). Concatenated gzip members are joined.
pub fn parse_gzip(bytes: &[u8]) -> ReportParse {
    let mut out = Vec::new();
    let limit = u64::try_from(MAX_INFLATED_BYTES).unwrap_or(u64::MAX);
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(limit.saturating_add(1));
    let whole = Span::new(0, bytes.len());
    if let Err(e) = reader.read_to_end(&mut out) {
        return failed(ParseError::new(
            "tlsrpt-bad-gzip",
            format!("gzip stream is corrupt: {e}"),
            whole,
        ));
    }
    if out.len() > MAX_INFLATED_BYTES {
        return failed(ParseError::new(
            "tlsrpt-inflated-too-large",
            format!("report inflates to more than {MAX_INFLATED_BYTES} bytes"),
            whole,
        ));
    }
    parse(&out)
}

fn failed(e: ParseError) -> ReportParse {
    ReportParse {
        report: None,
        errors: vec![e],
        findings: Vec::new(),
    }
}

/// Parses a JSON report (RFC 8460 §4). Never panics; rejects input over [`MAX_REPORT_BYTES`].
pub fn parse(json: &[u8]) -> ReportParse {
    let whole = Span::new(0, json.len());
    if json.len() > MAX_REPORT_BYTES {
        return failed(ParseError::new(
            "tlsrpt-too-large",
            format!(
                "report is {} bytes; the limit is {MAX_REPORT_BYTES}",
                json.len()
            ),
            Span::new(MAX_REPORT_BYTES, json.len()),
        ));
    }
    let value: Value = match serde_json::from_slice(json) {
        Ok(v) => v,
        Err(e) => {
            let at = offset_of(json, e.line(), e.column());
            return failed(ParseError::new(
                "tlsrpt-bad-json",
                format!("not valid JSON: {e}"),
                Span::new(at, (at + 1).min(json.len()).max(at)),
            ));
        }
    };
    let mut cx = Cx {
        whole,
        errors: Vec::new(),
        findings: Vec::new(),
        dropped: 0,
    };
    let report = match value.as_object() {
        Some(obj) => cx.report(obj),
        None => {
            cx.error("tlsrpt-not-object", "the report is not a JSON object");
            None
        }
    };
    if cx.dropped > 0 {
        cx.findings.push(Finding::new(
            "tlsrpt-too-many-diagnostics",
            Severity::Warning,
            format!("{} further errors/findings were dropped", cx.dropped),
        ));
    }
    ReportParse {
        report: report.filter(|_| cx.errors.is_empty()),
        errors: cx.errors,
        findings: cx.findings,
    }
}

/// Byte offset of serde_json's 1-based line/column (column 0 means "before the line").
fn offset_of(input: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match input[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(input.len())
}

/// Collects diagnostics while walking the JSON tree.
struct Cx {
    whole: Span,
    errors: Vec<ParseError>,
    findings: Vec<Finding>,
    dropped: usize,
}

const REPORT_KEYS: [&str; 5] = [
    "organization-name",
    "date-range",
    "contact-info",
    "report-id",
    "policies",
];
const POLICY_KEYS: [&str; 4] = ["policy-type", "policy-string", "policy-domain", "mx-host"];
const DETAIL_KEYS: [&str; 9] = [
    "result-type",
    "sending-mta-ip",
    "receiving-mx-hostname",
    "receiving-mx-helo",
    "receiving-ip",
    "failed-session-count",
    "additional-information",
    "failure-reason-code",
    "failure-error-code",
];

impl Cx {
    fn error(&mut self, code: &'static str, message: impl Into<String>) {
        if self.errors.len() < MAX_DIAGNOSTICS {
            self.errors.push(ParseError::new(code, message, self.whole));
        } else {
            self.dropped += 1;
        }
    }

    fn finding(&mut self, code: &'static str, severity: Severity, message: impl Into<String>) {
        if self.findings.len() < MAX_DIAGNOSTICS {
            self.findings.push(Finding::new(code, severity, message));
        } else {
            self.dropped += 1;
        }
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, known: &[&str], path: &str) {
        for k in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let shown: String = k.chars().take(64).collect();
            self.finding(
                "tlsrpt-unknown-field",
                Severity::Info,
                format!("{path}: field `{shown}` is not defined by RFC 8460"),
            );
        }
    }

    fn string(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error("tlsrpt-bad-type", format!("{path}.{key} must be a string"));
                None
            }
        }
    }

    fn required_string(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<String> {
        if obj.get(key).is_none_or(Value::is_null) {
            self.error("tlsrpt-missing-field", format!("{path}.{key} is required"));
            return None;
        }
        self.string(obj, key, path)
    }

    /// A string or an array of strings; a lone string gets `string_code`.
    fn strings(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        string_code: &'static str,
    ) -> Vec<String> {
        match obj.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => {
                self.finding(
                    string_code,
                    Severity::Info,
                    format!(
                        "{path}.{key} is a string; RFC 8460 §4.4 defines a JSON array of strings"
                    ),
                );
                vec![s.clone()]
            }
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => {
                self.error(
                    "tlsrpt-bad-type",
                    format!("{path}.{key} must be an array of strings"),
                );
                Vec::new()
            }
        }
    }

    /// A non-negative integer count; a string of digits is accepted with a finding.
    fn count(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<u64> {
        let bad = |cx: &mut Cx| {
            cx.error(
                "tlsrpt-bad-count",
                format!("{path}.{key} must be a non-negative integer"),
            );
            None
        };
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.error("tlsrpt-missing-field", format!("{path}.{key} is required"));
                None
            }
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => Some(v),
                None => bad(self),
            },
            Some(Value::String(s)) => match s.trim().parse::<u64>() {
                Ok(v) if !s.trim().starts_with('+') => {
                    self.finding(
                        "tlsrpt-count-as-string",
                        Severity::Info,
                        format!("{path}.{key} is a string (\"{s}\"), not a JSON number"),
                    );
                    Some(v)
                }
                _ => bad(self),
            },
            Some(_) => bad(self),
        }
    }

    fn ip(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<IpAddr> {
        let s = self.string(obj, key, path)?;
        match s.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let shown: String = s.chars().take(64).collect();
                self.finding(
                    "tlsrpt-bad-ip",
                    Severity::Warning,
                    format!("{path}.{key} `{shown}` is not an IP address"),
                );
                None
            }
        }
    }

    fn datetime(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<DateTime<Utc>> {
        let s = self.required_string(obj, key, path)?;
        match DateTime::parse_from_rfc3339(&s) {
            Ok(dt) => {
                if dt.offset().local_minus_utc() != 0 {
                    self.finding(
                        "tlsrpt-non-utc-datetime",
                        Severity::Info,
                        format!("{path}.{key} `{s}` is not in UTC"),
                    );
                }
                Some(dt.with_timezone(&Utc))
            }
            Err(e) => {
                let shown: String = s.chars().take(64).collect();
                self.error(
                    "tlsrpt-bad-datetime",
                    format!("{path}.{key} `{shown}` is not an RFC 3339 date-time: {e}"),
                );
                None
            }
        }
    }

    fn object<'v>(&mut self, v: Option<&'v Value>, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            None | Some(Value::Null) => {
                self.error("tlsrpt-missing-field", format!("{path} is required"));
                None
            }
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.error("tlsrpt-bad-type", format!("{path} must be an object"));
                None
            }
        }
    }

    fn report(&mut self, obj: &Map<String, Value>) -> Option<Report> {
        self.unknown_fields(obj, &REPORT_KEYS, "report");
        let organization_name = self.required_string(obj, "organization-name", "report");
        let date_range = self.date_range(obj.get("date-range"));
        let contact_info = self.string(obj, "contact-info", "report");
        if !obj.contains_key("contact-info") {
            self.finding(
                "tlsrpt-missing-contact-info",
                Severity::Warning,
                "report has no contact-info (RFC 8460 §4.4)",
            );
        }
        let report_id = self.required_string(obj, "report-id", "report");
        let policies = match obj.get("policies") {
            None | Some(Value::Null) => {
                self.error("tlsrpt-missing-field", "report.policies is required");
                None
            }
            Some(Value::Array(a)) => Some(
                a.iter()
                    .enumerate()
                    .filter_map(|(i, p)| self.policy_report(p, &format!("policies[{i}]")))
                    .collect(),
            ),
            Some(_) => {
                self.error("tlsrpt-bad-type", "report.policies must be an array");
                None
            }
        };
        Some(Report {
            organization_name: organization_name?,
            date_range: date_range?,
            contact_info,
            report_id: report_id?,
            policies: policies?,
        })
    }

    fn date_range(&mut self, v: Option<&Value>) -> Option<DateRange> {
        let o = self.object(v, "report.date-range")?;
        self.unknown_fields(o, &["start-datetime", "end-datetime"], "date-range");
        let start = self.datetime(o, "start-datetime", "date-range");
        let end = self.datetime(o, "end-datetime", "date-range");
        let (start, end) = (start?, end?);
        if end < start {
            self.finding(
                "tlsrpt-date-range-reversed",
                Severity::Warning,
                format!("date-range ends ({end}) before it starts ({start})"),
            );
        } else if !is_full_day(start, end) {
            self.finding(
                "tlsrpt-not-full-day",
                Severity::Info,
                format!(
                    "date-range {start} .. {end} is not one UTC day (RFC 8460 §4.1: \"The report \
                     SHOULD cover a full day, from 00:00-24:00 UTC\")"
                ),
            );
        }
        Some(DateRange { start, end })
    }

    fn policy_report(&mut self, v: &Value, path: &str) -> Option<PolicyReport> {
        let o = self.object(Some(v), path)?;
        self.unknown_fields(o, &["policy", "summary", "failure-details"], path);
        let policy = self.applied_policy(o.get("policy"), &format!("{path}.policy"));
        let summary = self.summary(o.get("summary"), &format!("{path}.summary"));
        let details: Vec<FailureDetail> = match o.get("failure-details") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .filter_map(|(i, d)| self.detail(d, &format!("{path}.failure-details[{i}]")))
                .collect(),
            Some(_) => {
                self.error(
                    "tlsrpt-bad-type",
                    format!("{path}.failure-details must be an array"),
                );
                Vec::new()
            }
        };
        let (policy, summary) = (policy?, summary?);
        let sum = details
            .iter()
            .fold(0u64, |a, d| a.saturating_add(d.failed_session_count));
        if sum > summary.total_failure_session_count {
            self.finding(
                "tlsrpt-failure-count-mismatch",
                Severity::Warning,
                format!(
                    "{path}: failure-details count {sum} failed sessions but the summary says {}",
                    summary.total_failure_session_count
                ),
            );
        }
        Some(PolicyReport {
            policy,
            summary,
            failure_details: details,
        })
    }

    fn applied_policy(&mut self, v: Option<&Value>, path: &str) -> Option<AppliedPolicy> {
        let o = self.object(v, path)?;
        self.unknown_fields(o, &POLICY_KEYS, path);
        let policy_type = self
            .required_string(o, "policy-type", path)
            .map(|s| PolicyType::from_value(&s));
        if let Some(PolicyType::Other(s)) = &policy_type {
            let shown: String = s.chars().take(64).collect();
            self.finding(
                "tlsrpt-unknown-policy-type",
                Severity::Warning,
                format!("{path}.policy-type `{shown}` is not sts, tlsa or no-policy-found"),
            );
        }
        let policy_string = self.strings(o, "policy-string", path, "tlsrpt-policy-string-string");
        let policy_domain = self.required_string(o, "policy-domain", path);
        let mx_host = self.strings(o, "mx-host", path, "tlsrpt-mx-host-string");
        Some(AppliedPolicy {
            policy_type: policy_type?,
            policy_string,
            policy_domain: policy_domain?,
            mx_host,
        })
    }

    fn summary(&mut self, v: Option<&Value>, path: &str) -> Option<Summary> {
        let o = self.object(v, path)?;
        self.unknown_fields(
            o,
            &[
                "total-successful-session-count",
                "total-failure-session-count",
            ],
            path,
        );
        let ok = self.count(o, "total-successful-session-count", path);
        let failed = self.count(o, "total-failure-session-count", path);
        Some(Summary {
            total_successful_session_count: ok?,
            total_failure_session_count: failed?,
        })
    }

    fn detail(&mut self, v: &Value, path: &str) -> Option<FailureDetail> {
        let o = self.object(Some(v), path)?;
        self.unknown_fields(o, &DETAIL_KEYS, path);
        let result_type = self
            .required_string(o, "result-type", path)
            .map(|s| ResultType::from_name(&s));
        if let Some(ResultType::Other(s)) = &result_type {
            let shown: String = s.chars().take(64).collect();
            self.finding(
                "tlsrpt-unknown-result-type",
                Severity::Warning,
                format!("{path}.result-type `{shown}` is not in the IANA registry"),
            );
        }
        let mut failure_reason_code = self.string(o, "failure-reason-code", path);
        if o.contains_key("failure-error-code") {
            self.finding(
                "tlsrpt-failure-error-code",
                Severity::Info,
                format!(
                    "{path} uses `failure-error-code` (the RFC 8460 Appendix B example's spelling) \
                     instead of `failure-reason-code`"
                ),
            );
            let alt = self.string(o, "failure-error-code", path);
            failure_reason_code = failure_reason_code.or(alt);
        }
        let failed_session_count = self.count(o, "failed-session-count", path);
        Some(FailureDetail {
            result_type: result_type?,
            sending_mta_ip: self.ip(o, "sending-mta-ip", path),
            receiving_mx_hostname: self.string(o, "receiving-mx-hostname", path),
            receiving_mx_helo: self.string(o, "receiving-mx-helo", path),
            receiving_ip: self.ip(o, "receiving-ip", path),
            failed_session_count: failed_session_count?,
            additional_information: self.string(o, "additional-information", path),
            failure_reason_code,
        })
    }
}

/// True when `start..end` is one UTC day: from midnight to the next midnight or to 23:59:59
/// (optionally with fractional seconds) of the same day.
fn is_full_day(start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    let midnight = start.num_seconds_from_midnight() == 0 && start.nanosecond() == 0;
    let len = end - start;
    midnight
        && (len == Duration::days(1)
            || (len >= Duration::seconds(86_399) && len < Duration::days(1)))
}

#[cfg(test)]
mod tests;
