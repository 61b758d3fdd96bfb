//! The `Content-Type` of a policy response (RFC 8461 §3.2): "When fetching a policy, senders
//! SHOULD validate that the media type is "text/plain" to guard against cases where web
//! servers allow untrusted users to host non-text content (typically, HTML or images) at a
//! user-defined path. All parameters other than charset=utf-8 or charset=us-ascii are ignored."
//!
//! Media types are case-insensitive (RFC 7231 §3.1.1.1); parameters may follow `;`.

use crate::records::diag::{Finding, Severity};

/// Findings about the `Content-Type` header value of a policy response (`None` when the
/// header is absent). An empty result means `text/plain` with an acceptable charset (or none).
pub fn content_type_findings(ct: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(ct) = ct else {
        out.push(Finding::new(
            "policy-content-type-missing",
            Severity::Warning,
            "the policy response has no Content-Type; senders SHOULD require text/plain",
        ));
        return out;
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim_matches([' ', '\t']);
    let Some((ty, sub)) = media.split_once('/') else {
        out.push(Finding::new(
            "policy-content-type-malformed",
            Severity::Warning,
            format!("Content-Type `{}` is not a media type", shorten(ct)),
        ));
        return out;
    };
    if !is_token(ty) || !is_token(sub) {
        out.push(Finding::new(
            "policy-content-type-malformed",
            Severity::Warning,
            format!("Content-Type `{}` is not a media type", shorten(ct)),
        ));
        return out;
    }
    if !(ty.eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("plain")) {
        out.push(Finding::new(
            "policy-content-type-not-text-plain",
            Severity::Warning,
            format!(
                "Content-Type is `{}`; senders SHOULD accept only text/plain (RFC 8461 §3.2)",
                shorten(media)
            ),
        ));
        return out;
    }
    for param in parts {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if !name
            .trim_matches([' ', '\t'])
            .eq_ignore_ascii_case("charset")
        {
            continue;
        }
        let value = value.trim_matches([' ', '\t']);
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if !(value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("us-ascii")) {
            out.push(Finding::new(
                "policy-content-type-unusual-charset",
                Severity::Info,
                format!(
                    "charset `{}` is neither utf-8 nor us-ascii; senders ignore it",
                    shorten(value)
                ),
            ));
        }
    }
    out
}

/// RFC 7230 `token = 1*tchar`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// At most 80 characters of untrusted header text, for messages.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(ct: Option<&str>) -> Vec<&'static str> {
        content_type_findings(ct).iter().map(|f| f.code).collect()
    }

    #[test]
    fn text_plain_variants_are_clean() {
        for ct in [
            "text/plain",
            "TEXT/Plain",
            "text/plain; charset=utf-8",
            "text/plain;charset=\"US-ASCII\"",
            "text/plain; format=flowed",
            " text/plain ",
        ] {
            assert!(codes(Some(ct)).is_empty(), "{ct}");
        }
    }

    #[test]
    fn wrong_or_missing_types() {
        assert_eq!(codes(None), ["policy-content-type-missing"]);
        assert_eq!(
            codes(Some("text/html; charset=utf-8")),
            ["policy-content-type-not-text-plain"]
        );
        assert_eq!(
            codes(Some("application/octet-stream")),
            ["policy-content-type-not-text-plain"]
        );
        assert_eq!(codes(Some("")), ["policy-content-type-malformed"]);
        assert_eq!(codes(Some("text")), ["policy-content-type-malformed"]);
        assert_eq!(
            codes(Some("text /plain")),
            ["policy-content-type-malformed"]
        );
        assert_eq!(
            codes(Some("text/plain; charset=iso-8859-1")),
            ["policy-content-type-unusual-charset"]
        );
    }
}
