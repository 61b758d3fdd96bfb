//! Domain-name normalization: user or list input → a canonical A-label name.
//!
//! Owns [`normalize`] (trim, strip one root dot, IDNA UTS-46 to A-labels, lowercase, LDH and
//! length checks) and the small label predicates the other parsers reuse ([`is_ldh_label`],
//! [`is_a_label`], [`check_ascii_name`]). It must not do I/O (no DNS lookups) and never panics
//! on any input; inputs longer than [`MAX_INPUT_LEN`] bytes are refused before any work.
//!
//! Errors carry a stable code:
//!
//! | code | meaning |
//! |---|---|
//! | `domain-empty` | nothing left after trimming whitespace and one trailing dot |
//! | `domain-too-long` | more than 253 octets in presentation form (or an absurd input) |
//! | `domain-empty-label` | two dots in a row, a leading dot, or more than one trailing dot |
//! | `domain-label-too-long` | a label longer than 63 octets |
//! | `domain-bad-char` | a character outside letters, digits and `-` (LDH) |
//! | `domain-bad-hyphen` | a label that starts or ends with `-` |
//! | `domain-bad-a-label` | an `xn--` label that is not valid Punycode / IDNA |
//! | `domain-idna-invalid` | a Unicode name that UTS-46 processing rejects |
//! | `domain-numeric-tld` | the last label is all digits (an IP address, not a domain) |

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::Serialize;

use super::diag::{ParseError, Span};

/// Longest label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in presentation form without the root dot, in octets (RFC 1035 §2.3.4's 255
/// wire octets minus the length octets).
pub const MAX_NAME_LEN: usize = 253;
/// Inputs longer than this many bytes are refused without IDNA processing.
pub const MAX_INPUT_LEN: usize = 1024;

/// A normalized domain name: lowercase A-labels, no trailing dot, every label LDH.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DomainName {
    ascii: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unicode: Option<String>,
}

impl DomainName {
    /// The A-label form, e.g. `xn--bcher-kva.example`.
    pub fn as_str(&self) -> &str {
        &self.ascii
    }

    /// The Unicode (U-label) form, when it differs from the A-label form.
    pub fn unicode(&self) -> Option<&str> {
        self.unicode.as_deref()
    }

    /// The labels, left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.ascii.split('.')
    }

    /// How many labels the name has.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The A-label string.
    pub fn into_string(self) -> String {
        self.ascii
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ascii)
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.ascii
    }
}

/// Why a string is not a usable domain name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainError {
    /// Stable kebab-case code (see the module table).
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The offending bytes, relative to the string given to the function that failed.
    pub span: Span,
}

impl DomainError {
    fn new(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        DomainError {
            code,
            message: message.into(),
            span,
        }
    }

    /// The same error as a [`ParseError`] (same code, message and span).
    pub fn to_parse_error(&self) -> ParseError {
        ParseError::new(self.code, self.message.clone(), self.span)
    }

    /// The same error with its span moved `offset` bytes to the right.
    #[must_use]
    pub fn shifted(mut self, offset: usize) -> Self {
        self.span = self.span.shifted(offset);
        self
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for DomainError {}

impl From<DomainError> for ParseError {
    fn from(e: DomainError) -> Self {
        ParseError::new(e.code, e.message, e.span)
    }
}

/// True for a letter, digit or hyphen (RFC 5321 `Ldh-str` characters).
pub fn is_ldh_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// True if `label` is an RFC 5321 `sub-domain` of at most 63 octets:
/// `Let-dig [Ldh-str]`, i.e. letters, digits and hyphens, not starting or ending with `-`.
pub fn is_ldh_label(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_LABEL_LEN
        && b.iter().all(|&c| is_ldh_char(c))
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
}

/// True if `label` has the ACE prefix `xn--` (case-insensitive), i.e. claims to be an A-label.
pub fn is_a_label(label: &str) -> bool {
    label
        .as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"xn--"))
}

/// Checks an ASCII name without a trailing dot, label by label (any case accepted): non-empty
/// labels of at most 63 LDH octets not starting or ending with `-`, at most 253 octets in all,
/// and a last label that is not all digits. `xn--` labels are not decoded here (see
/// [`normalize`]). Spans are relative to `name`.
pub fn check_ascii_name(name: &str) -> Result<(), DomainError> {
    if name.is_empty() {
        return Err(DomainError::new(
            "domain-empty",
            "the name is empty",
            Span::at(0),
        ));
    }
    let mut start = 0usize;
    let mut last = Span::at(0);
    for label in name.split('.') {
        let span = Span::new(start, start + label.len());
        let b = label.as_bytes();
        if b.is_empty() {
            return Err(DomainError::new(
                "domain-empty-label",
                "empty label (two dots in a row, or a leading dot)",
                Span::at(start),
            ));
        }
        if let Some(i) = b.iter().position(|&c| !is_ldh_char(c)) {
            let ch = label[i..].chars().next().unwrap_or('?');
            let at = start + i;
            return Err(DomainError::new(
                "domain-bad-char",
                format!(
                    "character {ch:?} is not allowed in a host name (letters, digits and '-' only)"
                ),
                Span::new(at, at + ch.len_utf8()),
            ));
        }
        if b.len() > MAX_LABEL_LEN {
            return Err(DomainError::new(
                "domain-label-too-long",
                format!(
                    "label is {} octets long; at most {MAX_LABEL_LEN} are allowed",
                    b.len()
                ),
                span,
            ));
        }
        if b.first() == Some(&b'-') || b.last() == Some(&b'-') {
            return Err(DomainError::new(
                "domain-bad-hyphen",
                "a label must not start or end with '-'",
                span,
            ));
        }
        last = span;
        start += label.len() + 1;
    }
    if name.len() > MAX_NAME_LEN {
        return Err(DomainError::new(
            "domain-too-long",
            format!(
                "name is {} octets long; at most {MAX_NAME_LEN} are allowed",
                name.len()
            ),
            Span::new(0, name.len()),
        ));
    }
    if name.as_bytes()[last.start..last.end]
        .iter()
        .all(u8::is_ascii_digit)
    {
        return Err(DomainError::new(
            "domain-numeric-tld",
            "the last label is all digits: this looks like an IP address, not a domain name",
            last,
        ));
    }
    Ok(())
}

/// Normalizes user or list input to a [`DomainName`]: trims whitespace, strips one trailing
/// dot, maps Unicode through IDNA UTS-46 to A-labels, lowercases, and checks LDH syntax and
/// lengths. Error spans are relative to `input`.
pub fn normalize(input: &str) -> Result<DomainName, DomainError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(DomainError::new(
            "domain-too-long",
            format!(
                "input is {} bytes long; refusing to process more than {MAX_INPUT_LEN}",
                input.len()
            ),
            Span::new(0, input.len()),
        ));
    }
    let trimmed = input.trim_start();
    let offset = input.len() - trimmed.len();
    let trimmed = trimmed.trim_end();
    let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if name.is_empty() {
        return Err(DomainError::new(
            "domain-empty",
            "the name is empty",
            Span::new(offset, offset + trimmed.len()),
        ));
    }
    let ascii = if name.is_ascii() {
        check_ascii_name(name).map_err(|e| e.shifted(offset))?;
        let lower = name.to_ascii_lowercase();
        if lower.split('.').any(is_a_label) {
            match idna_to_ascii(&lower) {
                Some(a) if a == lower && !u_label_edge_hyphen(&lower) => {}
                _ => {
                    let (s, l) = first_a_label(&lower);
                    return Err(DomainError::new(
                        "domain-bad-a-label",
                        "an 'xn--' label is not valid Punycode for an IDNA name",
                        Span::new(offset + s, offset + s + l),
                    ));
                }
            }
        }
        lower
    } else {
        let Some(mapped) = idna_to_ascii(name) else {
            return Err(DomainError::new(
                "domain-idna-invalid",
                "the internationalized name is rejected by IDNA (UTS-46) processing",
                Span::new(offset, offset + name.len()),
            ));
        };
        let mapped = match mapped.strip_suffix('.') {
            Some(m) if name.len() == trimmed.len() => m.to_owned(),
            _ => mapped,
        };
        check_ascii_name(&mapped).map_err(|e| {
            // Spans into the mapped string mean nothing to the user: point at the input.
            DomainError::new(e.code, e.message, Span::new(offset, offset + name.len()))
        })?;
        if u_label_edge_hyphen(&mapped) {
            return Err(DomainError::new(
                "domain-bad-hyphen",
                "a label must not start or end with '-' (RFC 5891 §4.2.3.1), in Unicode too",
                Span::new(offset, offset + name.len()),
            ));
        }
        mapped
    };
    let unicode = if ascii.split('.').any(is_a_label) {
        let (u, res) =
            Uts46::new().to_unicode(ascii.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow);
        match res {
            Ok(()) if u != ascii => Some(u.into_owned()),
            _ => None,
        }
    } else {
        None
    };
    Ok(DomainName { ascii, unicode })
}

fn idna_to_ascii(name: &str) -> Option<String> {
    Uts46::new()
        .to_ascii(
            name.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Allow,
            DnsLength::Ignore,
        )
        .ok()
        .map(|c| c.to_ascii_lowercase())
}

/// Whether an `xn--` label of `ascii` decodes to a U-label starting or ending with `-`, which
/// RFC 5891 §4.2.3.1 forbids ("The Unicode string MUST NOT ... begin or end with a "-"") and
/// UTS-46 with `CheckHyphens=false` lets through.
fn u_label_edge_hyphen(ascii: &str) -> bool {
    ascii.split('.').filter(|l| is_a_label(l)).any(|l| {
        let (u, _) = Uts46::new().to_unicode(l.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow);
        u.starts_with('-') || u.ends_with('-')
    })
}

fn first_a_label(name: &str) -> (usize, usize) {
    let mut start = 0;
    for label in name.split('.') {
        if is_a_label(label) {
            return (start, label.len());
        }
        start += label.len() + 1;
    }
    (0, name.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        match normalize(input) {
            Ok(d) => panic!("{input:?} normalized to {d}"),
            Err(e) => e.code,
        }
    }

    /// RFC 5891 §4.2.3.1: "The Unicode string MUST NOT contain "--" (two consecutive
    /// hyphens) in the third and fourth character positions and MUST NOT start or end with a
    /// "-" (hyphen)." The ASCII rule applies to U-labels too, typed or as their A-label.
    #[test]
    fn a_u_label_may_not_start_or_end_with_a_hyphen() {
        assert_eq!(code("-ü.com"), "domain-bad-hyphen");
        assert_eq!(code("ü-.com"), "domain-bad-hyphen");
        assert_eq!(code("xn----eha.com"), "domain-bad-a-label");
        assert_eq!(normalize("ü-ü.com").unwrap().as_str(), "xn----dhab.com");
    }

    #[test]
    fn trims_strips_root_dot_and_lowercases() {
        let d = normalize("  Mail.Example.COM. \n").unwrap();
        assert_eq!(d.as_str(), "mail.example.com");
        assert_eq!(d.unicode(), None);
        assert_eq!(d.label_count(), 3);
    }

    #[test]
    fn unicode_becomes_a_labels() {
        let d = normalize("Bücher.example").unwrap();
        assert_eq!(d.as_str(), "xn--bcher-kva.example");
        assert_eq!(d.unicode(), Some("bücher.example"));
        // An A-label input yields the same name and its Unicode form.
        let a = normalize("XN--BCHER-KVA.example").unwrap();
        assert_eq!(a, d);
    }

    #[test]
    fn ideographic_full_stop_is_a_dot() {
        let d = normalize("例え。テスト").unwrap();
        assert_eq!(d.label_count(), 2);
        assert!(d.as_str().starts_with("xn--"));
    }

    #[test]
    fn empty_and_dots() {
        assert_eq!(code(""), "domain-empty");
        assert_eq!(code("  "), "domain-empty");
        assert_eq!(code("."), "domain-empty");
        assert_eq!(code("example.com.."), "domain-empty-label");
        assert_eq!(code(".example.com"), "domain-empty-label");
        assert_eq!(code("a..b"), "domain-empty-label");
    }

    #[test]
    fn ldh_rules() {
        assert_eq!(code("exa_mple.com"), "domain-bad-char");
        assert_eq!(code("exa mple.com"), "domain-bad-char");
        assert_eq!(code("-a.com"), "domain-bad-hyphen");
        assert_eq!(code("a-.com"), "domain-bad-hyphen");
        assert_eq!(code("1.2.3.4"), "domain-numeric-tld");
        assert!(normalize("a--b.example").is_ok());
        assert!(normalize("3com.com").is_ok());
        let e = normalize(" ab_c.com").unwrap_err();
        assert_eq!(e.span, Span::new(3, 4));
    }

    #[test]
    fn lengths() {
        let l63 = "a".repeat(63);
        assert!(normalize(&format!("{l63}.com")).is_ok());
        assert_eq!(code(&format!("{l63}a.com")), "domain-label-too-long");
        // 4 labels of 63 + 3 dots = 255 > 253.
        let long = [l63.as_str(); 4].join(".");
        assert_eq!(code(&long), "domain-too-long");
        let ok = format!("{}.{}.{}.{}", l63, l63, l63, "a".repeat(61));
        assert_eq!(ok.len(), 253);
        assert!(normalize(&ok).is_ok());
        assert_eq!(code(&"a".repeat(5000)), "domain-too-long");
    }

    #[test]
    fn bad_a_labels() {
        assert_eq!(code("xn--.example"), "domain-bad-hyphen");
        assert_eq!(code("xn--a.example"), "domain-bad-a-label");
        assert_eq!(code("xn--9999999999999a.example"), "domain-bad-a-label");
        assert_eq!(code("xn--abc-.example"), "domain-bad-hyphen");
    }

    #[test]
    fn bad_unicode() {
        assert_eq!(code("exa\u{0}mple.com"), "domain-bad-char");
        assert_eq!(code("bü_cher.example"), "domain-idna-invalid");
    }

    #[test]
    fn predicates() {
        assert!(is_ldh_label("a"));
        assert!(is_ldh_label("a-1"));
        assert!(!is_ldh_label(""));
        assert!(!is_ldh_label("-a"));
        assert!(!is_ldh_label("a_b"));
        assert!(!is_ldh_label(&"a".repeat(64)));
        assert!(is_a_label("XN--abc"));
        assert!(!is_a_label("xn-abc"));
    }
}
