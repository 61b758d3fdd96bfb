//! MX patterns (RFC 8461 §3.2 `mx:` values, matched per §4.1) and MX RRset semantics (null MX
//! per RFC 7505, implicit MX per RFC 5321 §5.1).
//!
//! Owns [`MxPattern`] (parse, match, display) and [`classify`] (a list of MX answers → an
//! [`MxSet`] plus findings). It must not resolve anything: the DNS layer hands in the answers
//! and decides whether "no MX records" means NODATA (implicit MX applies) or NXDOMAIN (it does
//! not).
//!
//! Pattern parse error codes:
//!
//! | code | meaning |
//! |---|---|
//! | `mx-pattern-empty` | the value is empty |
//! | `mx-pattern-trailing-dot` | the value ends with `.` (the ABNF `Domain` has no root dot) |
//! | `mx-pattern-bad-wildcard` | `*` anywhere but as the whole leftmost label followed by `.` |
//! | `mx-pattern-u-label` | non-ASCII: the RFC requires A-labels |
//! | `mx-pattern-empty-label` | two dots in a row or a leading dot |
//! | `mx-pattern-label-too-long` | a label over 63 octets |
//! | `mx-pattern-bad-char` | a character outside LDH |
//! | `mx-pattern-bad-hyphen` | a label starting or ending with `-` |
//! | `mx-pattern-too-long` | over 253 octets |
//! | `mx-pattern-bad-a-label` | an `xn--` label that is not valid Punycode |
//!
//! MX RRset finding codes:
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `mx-null-mixed` | error | a null MX next to other MX records (RFC 7505 §3 MUST NOT) |
//! | `mx-null-nonzero-preference` | warning | a null MX (`.`) with a preference other than 0 |
//! | `mx-ip-literal` | error | an exchange that is an IP address, not a host name |
//! | `mx-bad-hostname` | error | an exchange that is not a valid LDH host name |
//! | `mx-duplicate-host` | warning | the same exchange listed more than once |
//! | `mx-truncated` | warning | more than [`MAX_MX_HOSTS`] exchanges; the rest were dropped |
//! | `mx-implicit` | info | no MX records: the domain itself is the implicit MX |

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use super::diag::{Finding, ParseError, Severity, Span};
use super::domain::{self, DomainError};

/// At most this many MX hosts are kept from one RRset (sorted by preference first).
pub const MAX_MX_HOSTS: usize = 64;

/// One `mx:` pattern of an MTA-STS policy: a domain, optionally with a leading `*.` wildcard.
///
/// Stored lowercase; [`fmt::Display`] gives back the canonical text, which parses to the same
/// pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MxPattern {
    wildcard: bool,
    base: String,
}

impl MxPattern {
    /// Parses an `mx` value: `sts-policy-mx-value = ["*."] Domain` (RFC 8461 §3.2, `Domain`
    /// from RFC 5321), A-labels only, case-insensitive, no trailing dot. Spans are relative to
    /// `value`.
    pub fn parse(value: &str) -> Result<MxPattern, ParseError> {
        if value.is_empty() {
            return Err(ParseError::new(
                "mx-pattern-empty",
                "the mx pattern is empty",
                Span::at(0),
            ));
        }
        if value.len() > domain::MAX_INPUT_LEN {
            return Err(ParseError::new(
                "mx-pattern-too-long",
                format!("the mx pattern is {} bytes long", value.len()),
                Span::new(0, value.len()),
            ));
        }
        let (wildcard, base, offset) = match value.strip_prefix("*.") {
            Some(rest) => (true, rest, 2),
            None => (false, value, 0),
        };
        if let Some(i) = base.find('*') {
            return Err(ParseError::new(
                "mx-pattern-bad-wildcard",
                "'*' is only allowed as the whole leftmost label, as in '*.example.com'",
                Span::new(offset + i, offset + i + 1),
            ));
        }
        if let Some((i, ch)) = base.char_indices().find(|(_, c)| !c.is_ascii()) {
            return Err(ParseError::new(
                "mx-pattern-u-label",
                "mx patterns must use Punycode A-labels ('xn--…'), not Unicode U-labels",
                Span::new(offset + i, offset + i + ch.len_utf8()),
            ));
        }
        if base.len() > 1 && base.ends_with('.') && !base.ends_with("..") {
            return Err(ParseError::new(
                "mx-pattern-trailing-dot",
                "an mx pattern must not end with '.'",
                Span::new(offset + base.len() - 1, offset + base.len()),
            ));
        }
        // RFC 5321 `Domain` allows an all-digit last label (`sub-domain = Let-dig
        // [Ldh-str]`), so "192.0.2.1" is a syntactically valid pattern that can never match
        // a host name; the policy parser warns about it (`policy-mx-ip-address`). The
        // numeric check is `check_ascii_name`'s last, so every other rule has passed.
        match domain::check_ascii_name(base) {
            Err(e) if e.code != "domain-numeric-tld" => {
                return Err(pattern_error(e.shifted(offset)));
            }
            _ => {}
        }
        let lower = base.to_ascii_lowercase();
        if lower.split('.').any(domain::is_a_label) {
            match domain::normalize(&lower) {
                Ok(d) if d.as_str() == lower => {}
                _ => {
                    return Err(ParseError::new(
                        "mx-pattern-bad-a-label",
                        "an 'xn--' label is not valid Punycode for an IDNA name",
                        Span::new(offset, offset + base.len()),
                    ));
                }
            }
        }
        Ok(MxPattern {
            wildcard,
            base: lower,
        })
    }

    /// True for a `*.` pattern.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// True when the last label is all digits, as in an IP address written as a pattern
    /// (`192.0.2.1`): valid by the ABNF, but no MX host name can match it.
    pub fn looks_like_ip(&self) -> bool {
        self.base
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The domain part (after `*.` if any), lowercase.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// RFC 8461 §4.1: does MX host `mx_host` match this pattern? Case-insensitive; one
    /// trailing root dot on the host is ignored; a wildcard matches exactly one leftmost label.
    /// A non-ASCII host is first converted to A-labels; a host that cannot be never matches.
    pub fn matches(&self, mx_host: &str) -> bool {
        if !mx_host.is_ascii() {
            return match domain::normalize(mx_host) {
                Ok(d) => self.matches_ascii(d.as_str()),
                Err(_) => false,
            };
        }
        let host = mx_host.strip_suffix('.').unwrap_or(mx_host);
        self.matches_ascii(host)
    }

    fn matches_ascii(&self, host: &str) -> bool {
        if !self.wildcard {
            return host.eq_ignore_ascii_case(&self.base);
        }
        let Some(split) = host.len().checked_sub(self.base.len() + 1) else {
            return false;
        };
        let (Some(label), Some(dot), Some(suffix)) = (
            host.get(..split),
            host.get(split..=split),
            host.get(split + 1..),
        ) else {
            return false;
        };
        dot == "."
            && suffix.eq_ignore_ascii_case(&self.base)
            && !label.is_empty()
            && !label.contains('.')
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.base)
    }
}

impl std::str::FromStr for MxPattern {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MxPattern::parse(s)
    }
}

fn pattern_error(e: DomainError) -> ParseError {
    let code = match e.code {
        "domain-empty" => "mx-pattern-empty",
        "domain-empty-label" => "mx-pattern-empty-label",
        "domain-label-too-long" => "mx-pattern-label-too-long",
        "domain-bad-hyphen" => "mx-pattern-bad-hyphen",
        "domain-too-long" => "mx-pattern-too-long",
        "domain-bad-a-label" => "mx-pattern-bad-a-label",
        _ => "mx-pattern-bad-char",
    };
    ParseError::new(code, e.message, e.span)
}

/// One mail exchanger of an RRset, normalized: lowercase, no trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct MxHost {
    /// The MX preference (lower is tried first).
    pub preference: u16,
    /// The exchange host name, lowercase, without the root dot.
    pub name: String,
}

/// What an MX RRset means for mail delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "hosts", rename_all = "kebab-case")]
pub enum MxSet {
    /// RFC 7505 null MX (exchange `.`): the domain accepts no mail.
    Null,
    /// A null MX next to other MX records: invalid per RFC 7505 §3; the other hosts, sorted.
    MixedNull(Vec<MxHost>),
    /// Ordinary MX records, sorted by preference then name, duplicates removed.
    Hosts(Vec<MxHost>),
    /// No MX records: the domain itself at preference 0 (RFC 5321 §5.1).
    Implicit(MxHost),
}

impl MxSet {
    /// The stable kebab-case name of the variant: `null`, `mixed-null`, `hosts`, `implicit`.
    pub fn kind(&self) -> &'static str {
        match self {
            MxSet::Null => "null",
            MxSet::MixedNull(_) => "mixed-null",
            MxSet::Hosts(_) => "hosts",
            MxSet::Implicit(_) => "implicit",
        }
    }

    /// The hosts a sender would try (none for a null MX), in preference order.
    pub fn hosts(&self) -> &[MxHost] {
        match self {
            MxSet::Null => &[],
            MxSet::MixedNull(h) | MxSet::Hosts(h) => h,
            MxSet::Implicit(h) => std::slice::from_ref(h),
        }
    }
}

/// An [`MxSet`] and what was noticed while building it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxAnalysis {
    /// The meaning of the RRset.
    pub set: MxSet,
    /// Findings (codes in the module table).
    pub findings: Vec<Finding>,
}

/// True if an exchange is the root name, i.e. a null MX target.
fn is_root(exchange: &str) -> bool {
    exchange.is_empty() || exchange == "."
}

/// Classifies the MX answers for `domain` (each `(preference, exchange)`, exchange in
/// presentation form with or without the root dot). An empty `answers` means the domain exists
/// but has no MX records (the caller must not pass NXDOMAIN here): the implicit MX applies.
pub fn classify<S: AsRef<str>>(domain: &str, answers: &[(u16, S)]) -> MxAnalysis {
    let mut findings = Vec::new();
    if answers.is_empty() {
        let name = normalize_host(domain);
        findings.push(Finding::new(
            "mx-implicit",
            Severity::Info,
            format!("no MX records: mail goes to {name} itself (implicit MX, RFC 5321 §5.1)"),
        ));
        return MxAnalysis {
            set: MxSet::Implicit(MxHost {
                preference: 0,
                name,
            }),
            findings,
        };
    }
    let mut null_seen = false;
    let mut hosts: Vec<MxHost> = Vec::new();
    for (pref, exchange) in answers {
        let exchange = exchange.as_ref();
        if is_root(exchange) {
            null_seen = true;
            if *pref != 0 {
                findings.push(Finding::new(
                    "mx-null-nonzero-preference",
                    Severity::Warning,
                    format!("null MX with preference {pref}; RFC 7505 specifies preference 0"),
                ));
            }
            continue;
        }
        hosts.push(MxHost {
            preference: *pref,
            name: normalize_host(exchange),
        });
    }
    hosts.sort();
    let mut kept: Vec<MxHost> = Vec::with_capacity(hosts.len().min(MAX_MX_HOSTS));
    for h in hosts {
        if kept.iter().any(|k| k.name == h.name) {
            findings.push(Finding::new(
                "mx-duplicate-host",
                Severity::Warning,
                format!(
                    "{} is listed more than once; keeping its lowest preference",
                    h.name
                ),
            ));
            continue;
        }
        if kept.len() == MAX_MX_HOSTS {
            findings.push(Finding::new(
                "mx-truncated",
                Severity::Warning,
                format!("more than {MAX_MX_HOSTS} MX hosts; the rest are ignored"),
            ));
            break;
        }
        check_exchange(&h.name, &mut findings);
        kept.push(h);
    }
    let set = match (null_seen, kept.is_empty()) {
        (true, true) => MxSet::Null,
        (true, false) => {
            findings.push(Finding::new(
                "mx-null-mixed",
                Severity::Error,
                "a null MX is published together with other MX records; \
                 RFC 7505 says a domain with a null MX MUST NOT advertise any other MX RR",
            ));
            MxSet::MixedNull(kept)
        }
        (false, _) => MxSet::Hosts(kept),
    };
    MxAnalysis { set, findings }
}

fn normalize_host(name: &str) -> String {
    let t = name.trim();
    t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase()
}

fn check_exchange(name: &str, findings: &mut Vec<Finding>) {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    if bare.parse::<IpAddr>().is_ok() {
        findings.push(Finding::new(
            "mx-ip-literal",
            Severity::Error,
            format!("MX exchange {name} is an IP address; an MX must name a host"),
        ));
    } else if let Err(e) = domain::check_ascii_name(name) {
        findings.push(Finding::new(
            "mx-bad-hostname",
            Severity::Error,
            format!("MX exchange {name} is not a valid host name: {}", e.message),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> MxPattern {
        MxPattern::parse(s).unwrap()
    }

    fn err(s: &str) -> &'static str {
        MxPattern::parse(s).unwrap_err().code
    }

    #[test]
    fn parses_plain_and_wildcard() {
        let a = p("Mail.Example.com");
        assert!(!a.is_wildcard());
        assert_eq!(a.to_string(), "mail.example.com");
        let w = p("*.example.net");
        assert!(w.is_wildcard());
        assert_eq!(w.base(), "example.net");
        assert_eq!(w.to_string(), "*.example.net");
        assert_eq!(p(&w.to_string()), w);
        assert!(p("xn--bcher-kva.example").base().starts_with("xn--"));
    }

    #[test]
    fn rejects_bad_patterns() {
        assert_eq!(err(""), "mx-pattern-empty");
        assert_eq!(err("mx.example.com."), "mx-pattern-trailing-dot");
        assert_eq!(err("*"), "mx-pattern-bad-wildcard");
        assert_eq!(err("*."), "mx-pattern-empty");
        assert_eq!(err("*example.com"), "mx-pattern-bad-wildcard");
        assert_eq!(err("mx*.example.com"), "mx-pattern-bad-wildcard");
        assert_eq!(err("*.*.example.com"), "mx-pattern-bad-wildcard");
        assert_eq!(err("mail.*.example.com"), "mx-pattern-bad-wildcard");
        assert_eq!(err("bücher.example"), "mx-pattern-u-label");
        assert_eq!(err("a..example"), "mx-pattern-empty-label");
        assert_eq!(err("mx.example.com.."), "mx-pattern-empty-label");
        assert_eq!(err(" mx.example.com"), "mx-pattern-bad-char");
        assert_eq!(err("mx_1.example.com"), "mx-pattern-bad-char");
        assert_eq!(err("-mx.example.com"), "mx-pattern-bad-hyphen");
        assert_eq!(err("xn--a.example"), "mx-pattern-bad-a-label");
        assert_eq!(
            err(&format!("{}.com", "a".repeat(64))),
            "mx-pattern-label-too-long"
        );
        let e = MxPattern::parse("*.ex_ample.com").unwrap_err();
        assert_eq!(e.span, Span::new(4, 5));
    }

    #[test]
    fn wildcard_matches_one_label() {
        let w = p("*.example.com");
        assert!(w.matches("mail.example.com"));
        assert!(w.matches("MAIL.Example.COM."));
        assert!(!w.matches("example.com"));
        assert!(!w.matches(".example.com"));
        assert!(!w.matches("foo.bar.example.com"));
        assert!(!w.matches("mailexample.com"));
        assert!(!w.matches("mail.example.com.evil"));
        assert!(!w.matches(""));
        assert!(!w.matches("é.example.com.."));
    }

    #[test]
    fn plain_matches_exactly() {
        let a = p("mail.example.com");
        assert!(a.matches("mail.example.com"));
        assert!(a.matches("Mail.Example.Com."));
        assert!(!a.matches("mail.example.com.."));
        assert!(!a.matches("x.mail.example.com"));
        assert!(!a.matches("ail.example.com"));
        assert!(p("xn--bcher-kva.example").matches("bücher.example"));
    }

    #[test]
    fn implicit_mx() {
        let a = classify::<&str>("Example.COM.", &[]);
        assert_eq!(
            a.set,
            MxSet::Implicit(MxHost {
                preference: 0,
                name: "example.com".into()
            })
        );
        assert_eq!(a.set.kind(), "implicit");
        assert_eq!(a.set.hosts().len(), 1);
        assert_eq!(a.findings[0].code, "mx-implicit");
    }

    #[test]
    fn null_mx() {
        let a = classify("example.com", &[(0, ".")]);
        assert_eq!(a.set, MxSet::Null);
        assert!(a.findings.is_empty());
        assert!(a.set.hosts().is_empty());
        let b = classify("example.com", &[(10, "")]);
        assert_eq!(b.set, MxSet::Null);
        assert_eq!(b.findings[0].code, "mx-null-nonzero-preference");
    }

    #[test]
    fn mixed_null() {
        let a = classify("example.com", &[(0, "."), (10, "mx.example.com.")]);
        assert_eq!(a.set.kind(), "mixed-null");
        assert_eq!(a.set.hosts()[0].name, "mx.example.com");
        assert!(a.findings.iter().any(|f| f.code == "mx-null-mixed"));
    }

    #[test]
    fn hosts_sorted_deduped_checked() {
        let a = classify(
            "example.com",
            &[
                (20, "B.example.com."),
                (10, "a.example.com"),
                (5, "b.example.com"),
                (30, "192.0.2.1"),
                (40, "bad_host.example"),
            ],
        );
        let names: Vec<_> = a
            .set
            .hosts()
            .iter()
            .map(|h| (h.preference, h.name.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                (5, "b.example.com"),
                (10, "a.example.com"),
                (30, "192.0.2.1"),
                (40, "bad_host.example")
            ]
        );
        let codes: Vec<_> = a.findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&"mx-duplicate-host"));
        assert!(codes.contains(&"mx-ip-literal"));
        assert!(codes.contains(&"mx-bad-hostname"));
    }

    #[test]
    fn truncates_huge_rrsets() {
        let answers: Vec<(u16, String)> = (0..500u16)
            .map(|i| (i, format!("mx{i}.example.com")))
            .collect();
        let a = classify("example.com", &answers);
        assert_eq!(a.set.hosts().len(), MAX_MX_HOSTS);
        assert!(a.findings.iter().any(|f| f.code == "mx-truncated"));
    }
}
