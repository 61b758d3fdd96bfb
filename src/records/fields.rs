//! The `v=<version>; name=value; …` grammar that the `_mta-sts` (RFC 8461 §3.1) and the
//! `_smtp._tls` (RFC 8460 §3) TXT records share, and that [`super::sts_txt`] and
//! [`super::tlsrpt_txt`] instantiate with their own version tag, required field, error codes
//! and wording (a [`Grammar`]).
//!
//! Owns the record frame ([`parse`]: empty, US-ASCII, the version first and exact, the field
//! splitter, field names, duplicates, extension fields, the required field present) and the
//! small byte helpers both parsers and the RRset rule use. What a required field's value must
//! be (`sts-id`, `tlsrpt-rua`) stays with each record's module. Pure, never panics, keeps at
//! most [`MAX_FINDINGS`] findings and [`MAX_EXTENSIONS`] extensions per record.

use super::diag::{Finding, ParseError, Severity, Span};
use super::sts_txt::{MAX_EXTENSIONS, MAX_FINDINGS, MAX_SHOWN_LEN};

/// Pushes a finding unless the cap is reached (then one truncation note with `truncated_code`).
pub(crate) fn push_capped(findings: &mut Vec<Finding>, f: Finding, truncated_code: &'static str) {
    if findings.len() < MAX_FINDINGS {
        findings.push(f);
    } else if findings.len() == MAX_FINDINGS {
        findings.push(Finding::new(
            truncated_code,
            Severity::Info,
            format!("more than {MAX_FINDINGS} findings; the rest are not shown"),
        ));
    }
}

/// `WSP = SP / HTAB` (RFC 5234).
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")` — the same production in
/// RFC 8461 (`sts-ext-name`) and RFC 8460 (`tlsrpt-ext-name`).
pub(crate) fn is_ext_name(name: &[u8]) -> bool {
    matches!(name.first(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 32
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// `ext-value = 1*(%x21-3A / %x3C / %x3E-7E)`: index of the first byte that is not allowed.
pub(crate) fn bad_ext_value_byte(value: &[u8]) -> Option<usize> {
    value
        .iter()
        .position(|&c| !(0x21..=0x7e).contains(&c) || c == b';' || c == b'=')
}

/// One `name=value` field as the splitter found it (value without surrounding delimiters).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawField<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) name_span: Span,
    pub(crate) value: &'a [u8],
    pub(crate) value_span: Span,
}

/// The error codes the splitter uses, per record type.
pub(crate) struct SplitCodes {
    pub(crate) bad_delimiter: &'static str,
    pub(crate) empty_field: &'static str,
    pub(crate) trailing_whitespace: &'static str,
    pub(crate) missing_equals: &'static str,
}

/// What the splitter returns: the fields, and where whitespace first preceded a `;`.
pub(crate) struct Split<'a> {
    pub(crate) fields: Vec<RawField<'a>>,
    pub(crate) space_before_semicolon: Option<Span>,
}

/// Splits `input[start..]` (just after the version) into `1*(delim field) [delim]` with
/// `delim = *WSP ";" *WSP`. A field value runs to the next `;` or the end, minus trailing
/// whitespace (which belongs to the next delimiter); the caller checks values.
pub(crate) fn split_fields<'a>(
    input: &'a [u8],
    start: usize,
    codes: &SplitCodes,
) -> Result<Split<'a>, ParseError> {
    let mut fields = Vec::new();
    let mut space_before_semicolon = None;
    let mut pos = start;
    let n = input.len();
    loop {
        let ws = pos;
        while pos < n && is_wsp(input[pos]) {
            pos += 1;
        }
        if pos == n {
            if pos > ws {
                return Err(ParseError::new(
                    codes.trailing_whitespace,
                    "whitespace at the end of the record without a ';' before it",
                    Span::new(ws, pos),
                ));
            }
            break;
        }
        if input[pos] != b';' {
            return Err(ParseError::new(
                codes.bad_delimiter,
                "expected ';' between fields",
                Span::new(pos, pos + 1),
            ));
        }
        if pos > ws && space_before_semicolon.is_none() {
            space_before_semicolon = Some(Span::new(ws, pos));
        }
        pos += 1;
        while pos < n && is_wsp(input[pos]) {
            pos += 1;
        }
        if pos == n {
            break; // the optional trailing delimiter
        }
        if input[pos] == b';' {
            return Err(ParseError::new(
                codes.empty_field,
                "empty field between two ';'",
                Span::new(pos, pos + 1),
            ));
        }
        let name_start = pos;
        while pos < n && input[pos] != b'=' && input[pos] != b';' {
            pos += 1;
        }
        if pos == n || input[pos] != b'=' {
            return Err(ParseError::new(
                codes.missing_equals,
                "field has no '=' (fields are name=value)",
                Span::new(name_start, pos),
            ));
        }
        let name_end = pos;
        pos += 1;
        let value_start = pos;
        while pos < n && input[pos] != b';' {
            pos += 1;
        }
        let mut value_end = pos;
        while value_end > value_start && is_wsp(input[value_end - 1]) {
            value_end -= 1;
        }
        pos = value_end;
        fields.push(RawField {
            name: &input[name_start..name_end],
            name_span: Span::new(name_start, name_end),
            value: &input[value_start..value_end],
            value_span: Span::new(value_start, value_end),
        });
    }
    Ok(Split {
        fields,
        space_before_semicolon,
    })
}

/// Index of the first non-ASCII byte.
pub(crate) fn first_non_ascii(input: &[u8]) -> Option<usize> {
    input.iter().position(|b| !b.is_ascii())
}

/// Finds `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The shown, lossy and capped text of a record, for messages.
pub(crate) fn shown(input: &[u8]) -> String {
    let cut = &input[..input.len().min(MAX_SHOWN_LEN)];
    String::from_utf8_lossy(cut).into_owned()
}

/// One record type's instance of the shared grammar: its version tag, the field it requires,
/// and the codes and wording of its errors and findings.
pub(crate) struct Grammar {
    /// The version field every record starts with (`v=STSv1`, `v=TLSRPTv1`).
    pub(crate) version: &'static str,
    /// The one field a record must have (`id`, `rua`).
    pub(crate) required: &'static str,
    /// The record is empty.
    pub(crate) empty: &'static str,
    /// A byte outside US-ASCII: code and message.
    pub(crate) not_ascii: (&'static str, &'static str),
    /// The version tag is nowhere.
    pub(crate) missing_version: &'static str,
    /// The version tag is present but not at the very start.
    pub(crate) version_not_first: &'static str,
    /// The record starts with `v=` but not with the exact tag.
    pub(crate) bad_version: &'static str,
    /// A field name outside `ext-name`.
    pub(crate) bad_field_name: &'static str,
    /// The required field is missing.
    pub(crate) missing_required: &'static str,
    /// Whitespace before a `;` (info): code and message.
    pub(crate) space_before_semicolon: (&'static str, &'static str),
    /// The splitter's codes.
    pub(crate) split: SplitCodes,
    /// The extension fields' codes (also used for a repeated required field and truncation).
    pub(crate) ext: ExtCodes,
}

/// A record that passed the shared grammar: the first value of the required field, the
/// extension fields, and the findings.
pub(crate) struct Fields<T> {
    pub(crate) required: T,
    pub(crate) extensions: Vec<(String, String)>,
    pub(crate) findings: Vec<Finding>,
}

/// Parses one record (its strings already concatenated; spans index `input`) with grammar `g`.
/// `required` checks every occurrence of the required field and may add findings; the first
/// occurrence that fits the field's grammar is kept, and every other occurrence is a duplicate
/// finding. An occurrence that does not fit the field's grammar but is a syntactically valid
/// field (`name "=" ext-value`) is, by the ABNF, an extension field that happens to share the
/// name (`sts-field = sts-id / sts-extension`, `tlsrpt-field = tlsrpt-rua /
/// tlsrpt-extension`), and RFC 8461 §3.2 says "Parsers MUST accept TXT records ... that are
/// syntactically valid": it is a warning when another occurrence fits, and the record's error
/// only when none does. Its findings from `required` are dropped with it.
pub(crate) fn parse<T>(
    input: &[u8],
    g: &Grammar,
    mut required: impl FnMut(&RawField<'_>, &mut Vec<Finding>) -> Result<T, ParseError>,
) -> Result<Fields<T>, ParseError> {
    if input.is_empty() {
        return Err(ParseError::new(g.empty, "the record is empty", Span::at(0)));
    }
    if let Some(i) = first_non_ascii(input) {
        return Err(ParseError::new(
            g.not_ascii.0,
            g.not_ascii.1,
            Span::new(i, i + 1),
        ));
    }
    let start = check_version(input, g)?;
    let split = split_fields(input, start, &g.split)?;
    let mut findings = Vec::new();
    if let Some(span) = split.space_before_semicolon {
        let (code, message) = g.space_before_semicolon;
        let f = Finding::at(code, Severity::Info, message, span);
        push_capped(&mut findings, f, g.ext.truncated);
    }
    let mut value: Option<T> = None;
    // The first occurrence of the required field that did not fit its grammar, and the
    // warnings for every such occurrence (kept only if another occurrence fits).
    let mut misfit: Option<ParseError> = None;
    let mut misfits: Vec<Finding> = Vec::new();
    let mut extensions: Vec<(String, String)> = Vec::new();
    for f in &split.fields {
        let name = String::from_utf8_lossy(f.name);
        if !is_ext_name(f.name) {
            return Err(ParseError::new(
                g.bad_field_name,
                format!(
                    "{name:?} is not a valid field name (a letter or digit, then up to 31 \
                     letters, digits, '_', '-' or '.')"
                ),
                f.name_span,
            ));
        }
        if f.name == g.required.as_bytes() {
            let mut own = Vec::new();
            match required(f, &mut own) {
                Ok(v) if value.is_none() => {
                    value = Some(v);
                    for x in own {
                        push_capped(&mut findings, x, g.ext.truncated);
                    }
                }
                Ok(_) => push_capped(&mut findings, duplicate(&g.ext, &name, f), g.ext.truncated),
                Err(e) => {
                    if f.value.is_empty() || bad_ext_value_byte(f.value).is_some() {
                        // not even an extension field: the record is not syntactically valid
                        return Err(e);
                    }
                    misfits.push(Finding::at(
                        g.ext.duplicate,
                        Severity::Warning,
                        format!(
                            "field {name:?} appears more than once and this one does not count: {}",
                            e.message
                        ),
                        f.name_span,
                    ));
                    misfit.get_or_insert(e);
                }
            }
            continue;
        }
        extension_field(f, &name, &g.ext, &mut extensions, &mut findings)?;
    }
    let Some(required) = value else {
        if let Some(e) = misfit {
            return Err(e);
        }
        let r = g.required;
        let hint = if split
            .fields
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(r.as_bytes()))
        {
            format!(" (field names are case-sensitive: it must be \"{r}=\")")
        } else {
            String::new()
        };
        return Err(ParseError::new(
            g.missing_required,
            format!("the record has no {r} field{hint}"),
            Span::at(input.len()),
        ));
    };
    for x in misfits {
        push_capped(&mut findings, x, g.ext.truncated);
    }
    Ok(Fields {
        required,
        extensions,
        findings,
    })
}

/// Checks the version prefix; returns where the fields start.
fn check_version(input: &[u8], g: &Grammar) -> Result<usize, ParseError> {
    let (version, r) = (g.version, g.required);
    let v = version.as_bytes();
    if input.starts_with(v) {
        match input.get(v.len()) {
            None => {
                return Err(ParseError::new(
                    g.missing_required,
                    format!("the record has no {r} field (\"{version}; {r}=…\")"),
                    Span::at(v.len()),
                ));
            }
            Some(&c) if c == b';' || is_wsp(c) => return Ok(v.len()),
            Some(_) => {}
        }
    }
    let token_end = input
        .iter()
        .position(|&c| c == b';' || is_wsp(c))
        .unwrap_or(input.len());
    if input.len() >= 2 && input[..2].eq_ignore_ascii_case(b"v=") {
        return Err(ParseError::new(
            g.bad_version,
            format!(
                "the version must be exactly \"{version}\" (case-sensitive), not {:?}",
                shown(&input[..token_end])
            ),
            Span::new(0, token_end),
        ));
    }
    if let Some(i) = find(input, v) {
        return Err(ParseError::new(
            g.version_not_first,
            format!("\"{version}\" must be the very first thing in the record"),
            Span::new(i, i + v.len()),
        ));
    }
    Err(ParseError::new(
        g.missing_version,
        format!("the record does not start with \"{version}\""),
        Span::new(0, token_end),
    ))
}

/// The codes an extension field's checks use, per record type.
pub(crate) struct ExtCodes {
    /// The value is not `1*(%x21-3A / %x3C / %x3E-7E)`.
    pub(crate) bad_value: &'static str,
    /// A valid extension field (info: senders ignore it).
    pub(crate) extension: &'static str,
    /// A field name seen before (first wins).
    pub(crate) duplicate: &'static str,
    /// Findings were cut at [`MAX_FINDINGS`].
    pub(crate) truncated: &'static str,
}

/// One extension field of an `_mta-sts` or `_smtp._tls` record (both RFCs give extensions the
/// same grammar): the value is checked, a repeated name (or a second `v`) is a duplicate whose
/// first occurrence wins, and the field is kept (at most [`MAX_EXTENSIONS`]) with an info
/// finding, since senders ignore it.
pub(crate) fn extension_field(
    f: &RawField<'_>,
    name: &str,
    codes: &ExtCodes,
    extensions: &mut Vec<(String, String)>,
    findings: &mut Vec<Finding>,
) -> Result<(), ParseError> {
    if let Some(i) = bad_ext_value_byte(f.value).or(f.value.is_empty().then_some(0)) {
        return Err(ParseError::new(
            codes.bad_value,
            format!(
                "the value of {name:?} must be 1 or more visible characters other than \
                 ';' and '='"
            ),
            if f.value.is_empty() {
                f.value_span
            } else {
                Span::new(f.value_span.start + i, f.value_span.start + i + 1)
            },
        ));
    }
    if f.name == b"v" || extensions.iter().any(|(k, _)| k.as_bytes() == f.name) {
        push_capped(findings, duplicate(codes, name, f), codes.truncated);
        return Ok(());
    }
    let ext = Finding::at(
        codes.extension,
        Severity::Info,
        format!("extension field {name:?}: senders ignore it"),
        f.name_span,
    );
    push_capped(findings, ext, codes.truncated);
    if extensions.len() < MAX_EXTENSIONS {
        extensions.push((
            name.to_owned(),
            String::from_utf8_lossy(f.value).into_owned(),
        ));
    }
    Ok(())
}

/// The warning for a field name seen before in the record (the first occurrence counts).
fn duplicate(codes: &ExtCodes, name: &str, f: &RawField<'_>) -> Finding {
    Finding::at(
        codes.duplicate,
        Severity::Warning,
        format!("field {name:?} appears more than once; the first one counts"),
        f.name_span,
    )
}
