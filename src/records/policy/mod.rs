//! The MTA-STS policy body (RFC 8461 §3.2): the bytes served at
//! `https://mta-sts.D/.well-known/mta-sts.txt`, parsed exactly by the RFC's ABNF, plus lint
//! findings for what the ABNF leaves soft.
//!
//! This module owns the grammar of the policy body, the HTTP `Content-Type` judgement of a
//! policy response ([`content_type_findings`]) and the `max_age` advisories. It must not fetch
//! anything, read a clock, or decide delivery: it is pure, and never panics on any input.
//! `mx:` values are validated by [`crate::records::mx::MxPattern::parse`] (one implementation of
//! the MX-pattern grammar for the whole crate).
//!
//! # Decisions
//!
//! * **Line terminators.** The ABNF says `sts-policy-term = LF / CRLF` although the prose says
//!   "CRLF-separated"; both are accepted. LF-only bodies get an info finding, bodies mixing
//!   both a warning. A CR not followed by LF is not a terminator and is invalid anywhere.
//! * **The last line** may lack a terminator: the ABNF ends `sts-policy-record` with
//!   `[sts-policy-term]` (optional), so `...max_age: 86400` at end of input is valid.
//! * **Blank lines** (empty or whitespace-only), including a trailing blank line (`\n\n` at the
//!   end), do not match the ABNF (`*(sts-policy-term sts-policy-field *WSP)`) and are errors.
//! * **Whitespace**: none before a key or before `:` (the field name is immediately followed by
//!   `":" *WSP`); any `*WSP` after `:` and after the value (`sts-policy-field *WSP`).
//! * **Keys and values are case-sensitive** (`%s"..."` in RFC 7405 notation). `Mode: enforce`
//!   therefore is syntactically an extension field (ignored), which leaves `mode` missing; it
//!   gets a `policy-key-typo` warning naming `mode`.
//! * **Duplicates**: "If any non-repeated field -- i.e., all fields excepting "mx" -- is
//!   duplicated, all entries except for the first SHOULD be ignored." The first wins; the
//!   others get a `policy-duplicate-field` warning. Every `mx` line adds a pattern.
//! * **Size**: a body over [`MAX_POLICY_BYTES`] (64 KiB) is invalid, not truncated.
//! * **UTF-8 BOM**: not part of the grammar (the first byte must start a field name), so it is
//!   an error with its own code.
//! * **HTML**: a body starting with `<` (after optional BOM/whitespace) is reported once as
//!   `policy-html-body` instead of one error per line.
//! * A [`Policy`] is returned only when there are no errors; findings never invalidate.
//!
//! # Codes
//!
//! | code | kind | meaning |
//! |---|---|---|
//! | `policy-too-large` | error | body longer than 65536 bytes |
//! | `policy-empty` | error | body has no bytes |
//! | `policy-bom` | error | body starts with a UTF-8 byte order mark |
//! | `policy-html-body` | error | body is an HTML (or XML) document |
//! | `policy-bad-utf8` | error | a line is not valid UTF-8 |
//! | `policy-bare-cr` | error | a CR not followed by LF |
//! | `policy-blank-line` | error | an empty or whitespace-only line |
//! | `policy-leading-whitespace` | error | whitespace before a key |
//! | `policy-missing-colon` | error | a line without `:` |
//! | `policy-space-before-colon` | error | whitespace between key and `:` |
//! | `policy-bad-key` | error | key does not match `sts-policy-ext-name` |
//! | `policy-bad-version` | error | `version` value is not `STSv1` |
//! | `policy-bad-mode` | error | `mode` value is not `testing`/`enforce`/`none` |
//! | `policy-bad-max-age` | error | `max_age` is not 1 to 10 digits |
//! | `policy-max-age-out-of-range` | error | `max_age` above 31557600 |
//! | `policy-bad-mx` | error | `mx` value is not a valid MX pattern |
//! | `policy-bad-extension` | error | extension value does not match `sts-policy-ext-value` |
//! | `policy-missing-version` | error | no `version` field |
//! | `policy-missing-mode` | error | no `mode` field |
//! | `policy-missing-max-age` | error | no `max_age` field |
//! | `policy-missing-mx` | error | no `mx` field while `mode` is not `none` |
//! | `policy-lf-line-endings` | info | lines end in LF only (accepted by the ABNF) |
//! | `policy-mixed-line-endings` | warning | both CRLF and LF terminators |
//! | `policy-no-final-newline` | info | the last line has no terminator (accepted) |
//! | `policy-duplicate-field` | warning | a non-`mx` field repeated; the first wins |
//! | `policy-mx-ip-address` | warning | an `mx` pattern whose last label is all digits (an IP address): valid by the ABNF, never matches |
//! | `policy-key-typo` | warning | unknown key that looks like a known one (`nmx`, `Mode`, `max-age`) |
//! | `policy-unknown-key` | info | a valid extension field, ignored |
//! | `policy-max-age-short` | warning | `max_age` below one day |
//! | `policy-max-age-below-week` | info | `max_age` below one week ("range of weeks or greater") |
//! | `policy-content-type-missing` | warning | response had no `Content-Type` |
//! | `policy-content-type-not-text-plain` | warning | media type is not `text/plain` |
//! | `policy-content-type-unusual-charset` | info | `charset` other than `utf-8`/`us-ascii` |
//! | `policy-content-type-malformed` | warning | `Content-Type` value does not parse as a media type |

use std::fmt;

use serde::Serialize;

use crate::records::diag::{Finding, ParseError, Severity, Span};
pub use crate::records::mx::MxPattern;

mod content_type;
mod lines;
#[cfg(test)]
mod tests;

pub use content_type::content_type_findings;

/// Largest accepted policy body, in bytes (RFC 8461 §3.3: senders SHOULD limit it to 64 KiB).
pub const MAX_POLICY_BYTES: usize = 65_536;

/// Largest valid `max_age` in seconds (RFC 8461 §3.2: "maximum value of 31557600").
pub const MAX_AGE_LIMIT: u32 = 31_557_600;

/// One day in seconds; a `max_age` below it gets `policy-max-age-short`.
pub const ONE_DAY: u32 = 86_400;

/// One week in seconds; a `max_age` below it gets `policy-max-age-below-week`.
pub const ONE_WEEK: u32 = 604_800;

/// The policy version; RFC 8461 defines only `STSv1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Version {
    /// `STSv1`, the only version defined by RFC 8461.
    #[serde(rename = "STSv1")]
    StsV1,
}

impl Version {
    /// The value as written in the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::StsV1 => "STSv1",
        }
    }
}

/// The policy mode (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `enforce`: senders must not deliver to MX hosts that fail validation.
    Enforce,
    /// `testing`: senders report failures (TLS-RPT) but deliver anyway.
    Testing,
    /// `none`: treat the domain as having no policy (used to withdraw MTA-STS).
    None,
}

impl Mode {
    /// The value as written in the policy (`enforce`, `testing`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }

    fn from_value(v: &str) -> Option<Mode> {
        match v {
            "enforce" => Some(Mode::Enforce),
            "testing" => Some(Mode::Testing),
            "none" => Some(Mode::None),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which line terminators a policy body used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineEndings {
    /// Every terminator is CRLF, as the RFC prose asks.
    Crlf,
    /// Every terminator is a bare LF (allowed by the ABNF).
    Lf,
    /// Both CRLF and LF occur.
    Mixed,
    /// The body has a single line and no terminator at all.
    None,
}

impl LineEndings {
    /// The stable kebab-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEndings::Crlf => "crlf",
            LineEndings::Lf => "lf",
            LineEndings::Mixed => "mixed",
            LineEndings::None => "none",
        }
    }
}

/// A valid MTA-STS policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// The `version` field (always `STSv1`).
    pub version: Version,
    /// The `mode` field.
    pub mode: Mode,
    /// The `max_age` field, seconds, `0..=31557600`.
    pub max_age: u32,
    /// Every `mx` field, in order (may be empty only when `mode` is `none`).
    pub mx: Vec<MxPattern>,
    /// Extension fields (unknown keys), first occurrence of each name, in order; ignored by
    /// senders.
    pub extensions: Vec<(String, String)>,
}

/// Writes the policy in canonical form: `version`, `mode`, each `mx`, `max_age`, then the
/// extensions, each line terminated by CRLF as the RFC prose asks.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "version: {}\r\n", self.version.as_str())?;
        write!(f, "mode: {}\r\n", self.mode.as_str())?;
        for mx in &self.mx {
            write!(f, "mx: {mx}\r\n")?;
        }
        write!(f, "max_age: {}\r\n", self.max_age)?;
        for (k, v) in &self.extensions {
            write!(f, "{k}: {v}\r\n")?;
        }
        Ok(())
    }
}

/// The outcome of [`parse`]: a policy when valid, otherwise errors; findings either way.
/// Serializes to JSON for `stsscan validate --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyParse {
    /// The policy, present only when `errors` is empty.
    pub policy: Option<Policy>,
    /// Fatal problems: each one makes the policy invalid (`sts-policy-invalid` in RFC 8460
    /// terms).
    pub errors: Vec<ParseError>,
    /// Non-fatal observations.
    pub findings: Vec<Finding>,
    /// The line terminators the body used.
    pub line_endings: LineEndings,
}

impl PolicyParse {
    /// True when the body is a valid policy.
    pub fn is_valid(&self) -> bool {
        self.policy.is_some()
    }
}

/// Parses an MTA-STS policy body (RFC 8461 §3.2). Never panics; reads at most
/// [`MAX_POLICY_BYTES`] (+1 to detect an oversize body) of `body`.
pub fn parse(body: &[u8]) -> PolicyParse {
    let mut out = PolicyParse {
        policy: None,
        errors: Vec::new(),
        findings: Vec::new(),
        line_endings: LineEndings::None,
    };
    if body.len() > MAX_POLICY_BYTES {
        out.errors.push(ParseError::new(
            "policy-too-large",
            format!(
                "policy body is {} bytes; the limit is {MAX_POLICY_BYTES} (RFC 8461 §3.3: 64 KiB)",
                body.len()
            ),
            Span::new(MAX_POLICY_BYTES, body.len()),
        ));
        return out;
    }
    if body.is_empty() {
        out.errors.push(ParseError::new(
            "policy-empty",
            "policy body is empty",
            Span::at(0),
        ));
        return out;
    }
    let mut start = 0;
    if body.starts_with(b"\xEF\xBB\xBF") {
        out.errors.push(ParseError::new(
            "policy-bom",
            "policy body starts with a UTF-8 byte order mark; the first byte must start a field \
             name such as `version`",
            Span::new(0, 3),
        ));
        start = 3;
    }
    if looks_like_html(&body[start..]) {
        let end = body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| start + i);
        out.errors.push(ParseError::new(
            "policy-html-body",
            "policy body is an HTML/XML document, not a policy (wrong path, bot protection or \
             a default web page?)",
            Span::new(start, end),
        ));
        return out;
    }
    let mut fields = Fields::default();
    lines::scan(body, start, &mut out, &mut fields);
    finish(body, fields, &mut out);
    out
}

/// True when the body (after leading whitespace) starts with `<`: an HTML or XML document.
fn looks_like_html(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// Fields collected while scanning lines (first occurrence wins).
#[derive(Default)]
struct Fields {
    version: Option<(Option<Version>, Span)>,
    mode: Option<(Option<Mode>, Span)>,
    max_age: Option<(Option<u32>, Span)>,
    mx: Vec<MxPattern>,
    mx_seen: bool,
    extensions: Vec<(String, String)>,
}

/// The known keys, for duplicate and typo detection.
const KNOWN_KEYS: [&str; 4] = ["version", "mode", "max_age", "mx"];

fn finish(body: &[u8], f: Fields, out: &mut PolicyParse) {
    let end = Span::at(body.len());
    let missing = |code: &'static str, what: &str| {
        ParseError::new(
            code,
            format!("required field `{what}` is missing (RFC 8461 §3.2)"),
            end,
        )
    };
    if f.version.is_none() {
        out.errors
            .push(missing("policy-missing-version", "version: STSv1"));
    }
    if f.mode.is_none() {
        out.errors.push(missing("policy-missing-mode", "mode"));
    }
    if f.max_age.is_none() {
        out.errors
            .push(missing("policy-missing-max-age", "max_age"));
    }
    let mode = f.mode.and_then(|(m, _)| m);
    if !f.mx_seen && mode.is_some_and(|m| m != Mode::None) {
        out.errors.push(ParseError::new(
            "policy-missing-mx",
            format!(
                "no `mx` field; at least one is required unless mode is `none` (mode is `{}`)",
                mode.map_or("?", Mode::as_str)
            ),
            end,
        ));
    }
    let max_age = f.max_age.and_then(|(m, _)| m);
    if let (Some(age), Some((_, span))) = (max_age, f.max_age) {
        if age < ONE_DAY {
            out.findings.push(Finding::at(
                "policy-max-age-short",
                Severity::Warning,
                format!(
                    "max_age {age} is under one day: senders re-fetch constantly and the policy \
                     protects little against an attacker at refresh time"
                ),
                span,
            ));
        } else if age < ONE_WEEK {
            out.findings.push(Finding::at(
                "policy-max-age-below-week",
                Severity::Info,
                format!(
                    "max_age {age} is under one week; RFC 8461 expects \"the range of weeks or \
                     greater\""
                ),
                span,
            ));
        }
    }
    if !out.errors.is_empty() {
        return;
    }
    if let (Some((Some(version), _)), Some(mode), Some(max_age)) = (f.version, mode, max_age) {
        out.policy = Some(Policy {
            version,
            mode,
            max_age,
            mx: f.mx,
            extensions: f.extensions,
        });
    }
}
