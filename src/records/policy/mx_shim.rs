//! Temporary stand-in for `crate::records::mx::MxPattern` until branch records-a lands it.
//! `["*."] Domain` with RFC 5321 `Domain = sub-domain *("." sub-domain)`.

use std::fmt;

use crate::records::diag::{ParseError, Span};

/// An MX pattern (`mail.example.com` or `*.example.net`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MxPattern(String);

impl MxPattern {
    /// Parses `["*."] Domain`.
    pub fn parse(s: &str) -> Result<MxPattern, ParseError> {
        let domain = s.strip_prefix("*.").unwrap_or(s);
        let bad = |m: &str| ParseError::new("mx-bad-pattern", m, Span::new(0, s.len()));
        if domain.is_empty() || domain.len() > 253 {
            return Err(bad("empty or too long"));
        }
        for label in domain.split('.') {
            let b = label.as_bytes();
            let ok = !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
            if !ok {
                return Err(bad("not an LDH domain name"));
            }
        }
        Ok(MxPattern(s.to_ascii_lowercase()))
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
