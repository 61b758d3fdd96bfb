//! Line splitting and per-field grammar of the policy body (RFC 8461 §3.2 ABNF).

use super::{
    Fields, KNOWN_KEYS, LineEndings, MAX_AGE_LIMIT, Mode, MxPattern, PolicyParse, Version,
};
use crate::records::diag::{Finding, ParseError, Severity, Span};

/// Splits `body[start..]` into lines, checks terminators and feeds every line to [`field`].
pub(super) fn scan(body: &[u8], start: usize, out: &mut PolicyParse, fields: &mut Fields) {
    let (mut crlf, mut lf) = (0usize, 0usize);
    let mut first_style: Option<bool> = None; // Some(true) = CRLF first
    let mut mixed_reported = false;
    let (mut bare_cr_first, mut bare_cr_count) = (None::<usize>, 0usize);
    let mut pos = start;
    let mut ended_with_term = false;
    while pos < body.len() {
        let rest = &body[pos..];
        // A bare CR is invalid, but it is split on like a terminator so that the rest of the
        // body is still diagnosed line by line instead of as one garbled line.
        let (line_len, term_len, is_crlf) =
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => (i, 2, true),
                Some(i) if rest[i] == b'\r' => {
                    bare_cr_first.get_or_insert(pos + i);
                    bare_cr_count += 1;
                    field(&rest[..i], pos, out, fields);
                    pos += i + 1;
                    ended_with_term = true;
                    continue;
                }
                Some(i) => (i, 1, false),
                None => (rest.len(), 0, false),
            };
        let line = &rest[..line_len];
        if term_len > 0 {
            if is_crlf {
                crlf += 1;
            } else {
                lf += 1;
            }
            match first_style {
                None => first_style = Some(is_crlf),
                Some(first) if first != is_crlf && !mixed_reported => {
                    mixed_reported = true;
                    out.findings.push(Finding::at(
                        "policy-mixed-line-endings",
                        Severity::Warning,
                        format!(
                            "this line ends in {} but earlier lines end in {}",
                            if is_crlf { "CRLF" } else { "LF" },
                            if first { "CRLF" } else { "LF" }
                        ),
                        Span::new(pos + line_len, pos + line_len + term_len),
                    ));
                }
                Some(_) => {}
            }
        }
        field(line, pos, out, fields);
        pos += line_len + term_len;
        ended_with_term = term_len > 0;
    }
    if let Some(first) = bare_cr_first {
        out.errors.push(ParseError::new(
            "policy-bare-cr",
            format!(
                "CR not followed by LF ({} in the body); the only line terminators are LF and \
                 CRLF",
                bare_cr_count
            ),
            Span::new(first, first + 1),
        ));
    }
    out.line_endings = match (crlf, lf) {
        (0, 0) => LineEndings::None,
        (_, 0) => LineEndings::Crlf,
        (0, _) => LineEndings::Lf,
        _ => LineEndings::Mixed,
    };
    if out.line_endings == LineEndings::Lf {
        out.findings.push(Finding::new(
            "policy-lf-line-endings",
            Severity::Info,
            "lines end in LF only; the ABNF allows it (`sts-policy-term = LF / CRLF`) though \
             the prose says CRLF",
        ));
    }
    if !ended_with_term && pos > start {
        out.findings.push(Finding::at(
            "policy-no-final-newline",
            Severity::Info,
            "the last line has no line terminator (allowed: `[sts-policy-term]`)",
            Span::at(body.len()),
        ));
    }
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses one line (without its terminator) starting at byte `at` of the body.
fn field(line: &[u8], at: usize, out: &mut PolicyParse, f: &mut Fields) {
    let whole = Span::new(at, at + line.len());
    if line.iter().all(|&b| is_wsp(b) || b == b'\r') {
        out.errors.push(ParseError::new(
            "policy-blank-line",
            "blank line; the policy grammar has no empty lines (not even at the end)",
            whole,
        ));
        return;
    }
    let line = match std::str::from_utf8(line) {
        Ok(s) => s,
        Err(e) => {
            let bad = at + e.valid_up_to();
            out.errors.push(ParseError::new(
                "policy-bad-utf8",
                "invalid UTF-8 in the policy body",
                Span::new(bad, bad + e.error_len().unwrap_or(1)),
            ));
            return;
        }
    };
    let lead = line.bytes().take_while(|&b| is_wsp(b)).count();
    if lead > 0 {
        out.errors.push(ParseError::new(
            "policy-leading-whitespace",
            "whitespace before the key; a field starts with its name in the first column",
            Span::new(at, at + lead),
        ));
        return;
    }
    let Some(colon) = line.find(':') else {
        out.errors.push(ParseError::new(
            "policy-missing-colon",
            "line is not a `key: value` field (no `:`)",
            whole,
        ));
        return;
    };
    let key_raw = &line[..colon];
    let key = key_raw.trim_end_matches([' ', '\t']);
    if key.len() < key_raw.len() {
        out.errors.push(ParseError::new(
            "policy-space-before-colon",
            format!("whitespace between `{key}` and `:`; the colon must follow the key directly"),
            Span::new(at + key.len(), at + colon),
        ));
        return;
    }
    let after = &line[colon + 1..];
    let vstart_rel = colon + 1 + after.bytes().take_while(|&b| is_wsp(b)).count();
    let value_full = &line[vstart_rel..];
    let value = value_full.trim_end_matches([' ', '\t']);
    let vspan = Span::new(at + vstart_rel, at + vstart_rel + value.len());
    let kspan = Span::new(at, at + key.len());
    match key {
        "version" => {
            let parsed = (value == "STSv1").then_some(Version::StsV1);
            if first_time(f.version.is_some(), key, kspan, out) {
                if parsed.is_none() {
                    out.errors.push(ParseError::new(
                        "policy-bad-version",
                        format!("version is `{value}`; the only defined value is `STSv1`"),
                        vspan,
                    ));
                }
                f.version = Some((parsed, vspan));
            }
        }
        "mode" => {
            let parsed = Mode::from_value(value);
            if first_time(f.mode.is_some(), key, kspan, out) {
                if parsed.is_none() {
                    let hint = Mode::from_value(&value.to_ascii_lowercase())
                        .map(|m| format!(" (values are case-sensitive: did you mean `{m}`?)"))
                        .unwrap_or_default();
                    out.errors.push(ParseError::new(
                        "policy-bad-mode",
                        format!(
                            "mode is `{value}`; it must be `enforce`, `testing` or `none`{hint}"
                        ),
                        vspan,
                    ));
                }
                f.mode = Some((parsed, vspan));
            }
        }
        "max_age" => {
            let parsed = max_age(value, vspan);
            if first_time(f.max_age.is_some(), key, kspan, out) {
                if let Err(e) = &parsed {
                    out.errors.push(e.clone());
                }
                f.max_age = Some((parsed.ok(), vspan));
            }
        }
        "mx" => {
            f.mx_seen = true;
            match MxPattern::parse(value) {
                Ok(p) => {
                    if p.looks_like_ip() {
                        out.findings.push(Finding::at(
                            "policy-mx-ip-address",
                            Severity::Warning,
                            format!(
                                "`{value}` looks like an IP address: MX hosts are names, so this pattern never matches one"
                            ),
                            vspan,
                        ));
                    }
                    f.mx.push(p);
                }
                Err(e) => {
                    // Point at the offending part of the value when the pattern parser says
                    // where it is; otherwise at the whole value.
                    let inner = e.span.shifted(vspan.start);
                    let span = if inner.end <= vspan.end && inner.start < inner.end {
                        inner
                    } else {
                        vspan
                    };
                    out.errors.push(ParseError::new(
                        "policy-bad-mx",
                        format!(
                            "`{value}` is not a valid MX pattern: {} ({})",
                            e.message, e.code
                        ),
                        span,
                    ));
                }
            }
        }
        _ => extension(key, value, kspan, vspan, out, f),
    }
}

/// Records a duplicate-field finding when `seen`; returns true for the first occurrence.
fn first_time(seen: bool, key: &str, kspan: Span, out: &mut PolicyParse) -> bool {
    if seen {
        out.findings.push(Finding::at(
            "policy-duplicate-field",
            Severity::Warning,
            format!("`{key}` appears again; only the first occurrence counts (RFC 8461 §3.2)"),
            kspan,
        ));
    }
    !seen
}

/// `sts-policy-max-age-value = 1*10(DIGIT)`, at most 31557600.
fn max_age(value: &str, vspan: Span) -> Result<u32, ParseError> {
    let err = if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        ParseError::new(
            "policy-bad-max-age",
            format!("max_age `{value}` is not a number of seconds (1 to 10 digits)"),
            vspan,
        )
    } else if value.len() > 10 {
        ParseError::new(
            "policy-bad-max-age",
            format!("max_age has {} digits; at most 10 are allowed", value.len()),
            vspan,
        )
    } else {
        match value.parse::<u32>() {
            Ok(n) if n <= MAX_AGE_LIMIT => return Ok(n),
            _ => ParseError::new(
                "policy-max-age-out-of-range",
                format!("max_age {value} exceeds the maximum of {MAX_AGE_LIMIT} seconds (1 year)"),
                vspan,
            ),
        }
    };
    Err(err)
}

/// `sts-policy-ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
fn is_ext_name(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// `sts-policy-ext-value = sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar]`
/// with `sts-policy-vchar = %x21-7E / UTF8-2 / UTF8-3 / UTF8-4` (the value is already trimmed
/// of trailing WSP, which belongs to `sts-policy-field *WSP`). Returns the offending offset.
fn ext_value_error(value: &str) -> Option<usize> {
    if value.is_empty() {
        return Some(0);
    }
    value
        .char_indices()
        .find(|&(_, c)| c.is_ascii_control())
        .map(|(i, _)| i)
}

fn extension(
    key: &str,
    value: &str,
    kspan: Span,
    vspan: Span,
    out: &mut PolicyParse,
    f: &mut Fields,
) {
    let typo = typo_of(key);
    if !is_ext_name(key) {
        let hint = typo
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        out.errors.push(ParseError::new(
            "policy-bad-key",
            format!(
                "`{key}` is not a valid field name (a letter or digit, then up to 31 letters, \
                 digits, `_`, `-`, `.`){hint}"
            ),
            kspan,
        ));
        return;
    }
    if let Some(i) = ext_value_error(value) {
        out.errors.push(ParseError::new(
            "policy-bad-extension",
            format!("value of extension field `{key}` is empty or contains control characters"),
            Span::new(
                vspan.start + i,
                (vspan.start + i + 1).min(vspan.end.max(vspan.start + i)),
            ),
        ));
        return;
    }
    if let Some(known) = typo {
        out.findings.push(Finding::at(
            "policy-key-typo",
            Severity::Warning,
            format!(
                "unknown key `{key}` looks like a typo of `{known}`; senders ignore it as an \
                 extension"
            ),
            kspan,
        ));
    } else {
        out.findings.push(Finding::at(
            "policy-unknown-key",
            Severity::Info,
            format!("extension field `{key}` is not defined by RFC 8461 and is ignored"),
            kspan,
        ));
    }
    if f.extensions.iter().any(|(k, _)| k == key) {
        first_time(true, key, kspan, out);
    } else {
        f.extensions.push((key.to_owned(), value.to_owned()));
    }
}

/// The known key that `key` (not itself a known key) probably meant, if any.
pub(super) fn typo_of(key: &str) -> Option<&'static str> {
    let norm: String = key
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            '-' | ' ' | '.' => '_',
            c => c,
        })
        .collect();
    KNOWN_KEYS.iter().copied().find(|&k| {
        norm == k
            || (norm.len() <= 16 && {
                let d = distance(&norm, k);
                d == 1 || (d == 2 && k.len() >= 4 && norm.len() >= 4)
            })
            || (k == "max_age" && norm.replace('_', "") == "maxage")
    })
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), ASCII-ish.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod typo_tests {
    use super::*;

    #[test]
    fn typos_name_the_intended_key() {
        assert_eq!(typo_of("nmx"), Some("mx"));
        assert_eq!(typo_of("MX"), Some("mx"));
        assert_eq!(typo_of("Mode"), Some("mode"));
        assert_eq!(typo_of("max-age"), Some("max_age"));
        assert_eq!(typo_of("maxage"), Some("max_age"));
        assert_eq!(typo_of("max_aeg"), Some("max_age"));
        assert_eq!(typo_of("Version"), Some("version"));
        assert_eq!(typo_of("verison"), Some("version"));
        assert_eq!(typo_of("comment"), None);
        assert_eq!(typo_of("report_uri"), None);
    }

    #[test]
    fn ext_name_grammar() {
        assert!(is_ext_name("x"));
        assert!(is_ext_name("a1_-."));
        assert!(is_ext_name(&"a".repeat(32)));
        assert!(!is_ext_name(&"a".repeat(33)));
        assert!(!is_ext_name("_x"));
        assert!(!is_ext_name("max age"));
        assert!(!is_ext_name(""));
    }

    #[test]
    fn ext_value_grammar() {
        assert_eq!(ext_value_error("a b=c;d"), None);
        assert_eq!(ext_value_error("héllo wörld"), None);
        assert_eq!(ext_value_error(""), Some(0));
        assert_eq!(ext_value_error("a\tb"), Some(1));
        assert_eq!(ext_value_error("a\u{7f}"), Some(1));
    }
}
