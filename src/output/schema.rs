//! The Arrow schema of both tables, defined once: a table of `Column`s per table, each with
//! its name, nullability, description and a typed accessor into the row struct. The Arrow
//! [`Schema`], the field descriptions (field metadata key `description`), the batch builder and
//! the column list checked against `docs/schema.md` all derive from these two tables, so they
//! cannot drift apart.
//!
//! Rules: names are snake_case and stable; columns are only ever *added* (bump
//! [`SCHEMA_VERSION`] when one is); status columns are dictionary-encoded strings; timestamps
//! are UTC microseconds. This module builds batches in memory only; files are the writer's.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, ListArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
    StringDictionaryBuilder, StructArray, TimestampMicrosecondArray, UInt8Array, UInt16Array,
    UInt32Array, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Int32Type, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use chrono::{DateTime, Utc};

use super::rows::{DomainRow, FindingRow, MxRow};

/// Version of the output schema, written in every file's key-value metadata and in the
/// manifest. Incremented whenever a column is added; columns are never renamed or removed.
pub const SCHEMA_VERSION: u32 = 4;

/// Field metadata key holding a column's description.
pub const DESCRIPTION_KEY: &str = "description";

/// The two tables of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// One row per input line.
    Domains,
    /// One row per domain × MX host × address.
    Mx,
}

impl Table {
    /// Both tables, in the order their parts are renamed (`mx` first, `domains` last).
    pub const ALL: [Table; 2] = [Table::Mx, Table::Domains];

    /// The table's directory name under the output root.
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Domains => "domains",
            Table::Mx => "mx",
        }
    }

    /// The table's Arrow schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            Table::Domains => schema_of(DOMAIN_COLUMNS),
            Table::Mx => schema_of(MX_COLUMNS),
        }
    }

    /// Name, Arrow type, nullability and description of every column, in schema order.
    pub fn columns(self) -> Vec<ColumnInfo> {
        match self {
            Table::Domains => infos(DOMAIN_COLUMNS),
            Table::Mx => infos(MX_COLUMNS),
        }
    }
}

/// Public description of one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    /// Column name.
    pub name: &'static str,
    /// Arrow type.
    pub data_type: DataType,
    /// Whether the column may hold nulls.
    pub nullable: bool,
    /// One-line description.
    pub description: &'static str,
}

/// Typed accessor of one column into a row of type `R`.
pub(crate) enum Getter<R> {
    /// The writer's scan id (not a row field), dictionary-encoded.
    ScanId,
    /// Plain UTF-8 string.
    Str(fn(&R) -> Option<&str>),
    /// Dictionary-encoded UTF-8 string (status columns).
    Dict(fn(&R) -> Option<&str>),
    /// Boolean.
    Bool(fn(&R) -> Option<bool>),
    /// Unsigned 8-bit integer.
    U8(fn(&R) -> Option<u8>),
    /// Unsigned 16-bit integer.
    U16(fn(&R) -> Option<u16>),
    /// Unsigned 32-bit integer.
    U32(fn(&R) -> Option<u32>),
    /// Unsigned 64-bit integer.
    U64(fn(&R) -> Option<u64>),
    /// UTC timestamp, microseconds.
    Time(fn(&R) -> Option<DateTime<Utc>>),
    /// List of strings.
    List(fn(&R) -> Option<&[String]>),
    /// List of findings (never null; empty when none).
    Findings(fn(&R) -> &[FindingRow]),
}

/// One column of a table: name, nullability, description and accessor.
pub(crate) struct Column<R> {
    name: &'static str,
    nullable: bool,
    doc: &'static str,
    get: Getter<R>,
}

macro_rules! opt {
    (Str $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: true,
            doc: $doc,
            get: Getter::Str(|r| r.$f.as_deref()),
        }
    };
    (Dict $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: true,
            doc: $doc,
            get: Getter::Dict(|r| r.$f.as_deref()),
        }
    };
    (List $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: true,
            doc: $doc,
            get: Getter::List(|r| r.$f.as_deref()),
        }
    };
    ($k:ident $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: true,
            doc: $doc,
            get: Getter::$k(|r| r.$f),
        }
    };
}

macro_rules! req {
    (Str $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: false,
            doc: $doc,
            get: Getter::Str(|r| Some(r.$f.as_str())),
        }
    };
    (Dict $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: false,
            doc: $doc,
            get: Getter::Dict(|r| Some(r.$f.as_str())),
        }
    };
    (Findings $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: false,
            doc: $doc,
            get: Getter::Findings(|r| &r.$f),
        }
    };
    ($k:ident $f:ident, $doc:literal) => {
        Column {
            name: stringify!($f),
            nullable: false,
            doc: $doc,
            get: Getter::$k(|r| Some(r.$f)),
        }
    };
}

const SCAN_ID_DOC: &str =
    "Identifier of the scan that wrote the row (also the scan_id= partition).";

#[rustfmt::skip]
static DOMAIN_COLUMNS: &[Column<DomainRow>] = &[
    Column { name: "scan_id", nullable: false, doc: SCAN_ID_DOC, get: Getter::ScanId },
    req!(Time scanned_at, "When the domain's scan started (UTC)."),
    req!(U64 input_line, "1-based line number of the input list."),
    req!(Str input, "The raw input line (line ending removed)."),
    req!(Dict input_status, "ok, invalid, duplicate or excluded (on the scan's --exclude list); only ok rows were scanned."),
    opt!(Str input_error, "Why the input line is not a valid domain (a stable code; the sentence is the row's finding), when invalid."),
    opt!(Str domain, "Normalized domain: A-labels, lowercase, no trailing dot."),
    opt!(Str domain_unicode, "The domain in Unicode (U-labels)."),
    opt!(Dict sts_txt, "Verdict on the _mta-sts TXT RRset (RFC 8461 §3.1)."),
    opt!(Dict sts_txt_dns, "DNS status of the _mta-sts TXT query."),
    opt!(List sts_txt_records, "Every TXT string at _mta-sts.D, verbatim (character-strings joined)."),
    opt!(List sts_txt_cname_chain, "CNAME targets followed from _mta-sts.D, in order."),
    opt!(Str sts_txt_error, "Parse error code of the v=STSv1 record when sts_txt = invalid."),
    opt!(Str sts_id, "The id field when sts_txt = valid."),
    opt!(Dict policy_fetch, "Outcome of the HTTPS policy fetch (RFC 8461 §3.3)."),
    opt!(Str policy_url, "URL of the policy fetch."),
    opt!(Str policy_address, "IP address the policy fetch connected to."),
    opt!(U16 policy_http_status, "HTTP status code, when a response was received."),
    opt!(Dict policy_content_type, "Content-Type header of the policy response, as received."),
    opt!(Str policy_location, "Location header of a 3xx response (never followed)."),
    opt!(Dict policy_cert, "Verdict on the policy host's certificate for mta-sts.D."),
    opt!(Time policy_cert_not_after, "notAfter of the policy host's leaf certificate (UTC)."),
    opt!(Str policy_cert_issuer, "Issuer DN of the policy host's leaf certificate."),
    opt!(Dict policy_tls_version, "TLS version negotiated with the policy host."),
    opt!(Str policy_body_sha256, "SHA-256 of the policy body, lowercase hex."),
    opt!(U64 policy_body_bytes, "Length of the policy body in bytes (reading stops past 65536)."),
    opt!(Str policy_body, "The policy body as text (lossy UTF-8, at most 64 KiB), when policy_fetch = ok."),
    opt!(Bool policy_valid, "The body is a valid RFC 8461 §3.2 policy (when policy_fetch = ok)."),
    opt!(Str policy_error, "Parse error code of the policy when policy_valid = false."),
    opt!(Str policy_fetch_detail, "Free-text detail of the fetch outcome; for `host-not-found` and `dns-error` `address lookup: STATUS` (the DNS status of the policy host's address lookup), for `address-refused` the refused addresses and why."),
    opt!(Dict policy_mode, "The policy mode, when policy_valid."),
    opt!(U32 policy_max_age, "The policy max_age in seconds, when policy_valid."),
    opt!(List policy_mx, "The policy mx patterns as written, when policy_valid."),
    opt!(Dict mx_dns, "DNS status of the MX query."),
    opt!(Dict mx_kind, "Shape of the MX RRset (RFC 5321 §5.1, RFC 7505)."),
    opt!(List mx_hosts, "MX host names in preference order, lowercase, no trailing dot."),
    opt!(U32 mx_count, "Number of MX records in the answer."),
    opt!(Dict tlsrpt, "Verdict on the _smtp._tls TXT RRset (RFC 8460 §3)."),
    opt!(Dict tlsrpt_dns, "DNS status of the _smtp._tls TXT query."),
    opt!(List tlsrpt_records, "Every TXT string at _smtp._tls.D, verbatim."),
    opt!(List tlsrpt_rua, "The rua URIs, when tlsrpt = valid."),
    opt!(Str tlsrpt_error, "Parse error code of the v=TLSRPTv1 record when tlsrpt = invalid."),
    opt!(Bool policy_usable, "sts_txt = valid and policy_fetch = ok and policy_cert = valid and policy_valid."),
    opt!(Bool enforce_deliverable, "When policy_usable and mx_kind is not lookup-failed: an RFC 8461 sender enforcing the policy would deliver."),
    opt!(Bool all_mx_covered, "When policy_valid: every MX host matches a policy mx pattern."),
    opt!(Bool all_mx_starttls, "Every probed MX host offers STARTTLS."),
    opt!(Bool all_mx_cert_valid, "Every probed MX host presents a certificate valid for its name."),
    opt!(Dict rfc8460_result, "RFC 8460 result type explaining why a sender would fail, or null."),
    req!(Findings findings, "Findings of every check: code, severity, message."),
    opt!(Dict max_severity, "Highest severity among findings, null when there are none."),
    req!(U64 duration_ms, "Wall time spent on the domain, milliseconds."),
    opt!(Str policy_cert_detail, "Why policy_cert is not valid: the WebPKI error (e.g. the leaf lacks the serverAuth purpose) or the name not covered; null when valid. Schema 2."),
];

#[rustfmt::skip]
static MX_COLUMNS: &[Column<MxRow>] = &[
    Column { name: "scan_id", nullable: false, doc: SCAN_ID_DOC, get: Getter::ScanId },
    req!(Time scanned_at, "When the domain's scan started (UTC); equals the domains row."),
    req!(Str domain, "The domain (A-label) whose MX host this is."),
    req!(Str mx_host, "MX host name, lowercase, no trailing dot (the domain itself for implicit MX)."),
    req!(U16 mx_preference, "MX preference."),
    opt!(Bool mx_is_cname, "The MX target is an alias (CNAME), contrary to RFC 2181 §10.3; null for an implicit MX (no MX record, and RFC 5321 §5.1 follows a CNAME of the domain)."),
    opt!(Str address, "The IPv4 or IPv6 address probed; null when the host has none."),
    opt!(U8 ip_version, "4 or 6."),
    opt!(Dict address_dns, "DNS status of the A/AAAA lookup of mx_host."),
    opt!(Dict address_refused, "Why the safety rule refused to connect to the address, or null."),
    opt!(Bool mx_policy_match, "When policy_valid: mx_host matches a policy mx pattern (RFC 8461 §4.1)."),
    opt!(U64 probe_id, "Identifier of the STARTTLS probe; rows reusing one probe share it."),
    opt!(Bool probe_shared, "The probe result was reused from another domain's probe of the address."),
    opt!(Dict smtp, "Outcome of the SMTP/STARTTLS probe."),
    opt!(Str smtp_detail, "Free-text detail of the SMTP outcome (last reply, error)."),
    opt!(Str greeting, "The 220 greeting text (capped)."),
    opt!(List ehlo_capabilities, "EHLO keywords (uppercase) of the EHLO reply before STARTTLS."),
    opt!(Bool starttls, "STARTTLS advertised in the EHLO reply; null if EHLO never answered."),
    opt!(Bool starttls_injection, "Plaintext from the server after its 220 reply to STARTTLS (pipelined with it, or read by TLS instead of a ServerHello). Null when STARTTLS got no 220."),
    opt!(Dict tls_version, "Negotiated TLS version."),
    opt!(Dict tls_cipher, "Negotiated cipher suite (IANA name)."),
    opt!(Dict chain_verdict, "Verdict on the certificate chain, ignoring the name."),
    opt!(Dict mx_cert, "Verdict on the certificate for mx_host (chain and name)."),
    opt!(Str cert_subject, "Subject DN of the leaf certificate."),
    opt!(Str cert_issuer, "Issuer DN of the leaf certificate."),
    opt!(List cert_sans, "DNS subjectAltNames of the leaf certificate."),
    opt!(Time cert_not_before, "notBefore of the leaf certificate (UTC)."),
    opt!(Time cert_not_after, "notAfter of the leaf certificate (UTC)."),
    opt!(Dict cert_key_algorithm, "Public key algorithm of the leaf (rsa, ec, ed25519, ...)."),
    opt!(U32 cert_key_bits, "Public key size of the leaf in bits."),
    opt!(List cert_sha256, "SHA-256 of every certificate sent, leaf first, lowercase hex."),
    opt!(Dict rfc8460_result, "RFC 8460 result type of a failure on this host, or null."),
    opt!(U64 probe_ms, "Wall time of the probe, milliseconds."),
    opt!(Str cert_detail, "Why mx_cert is not valid: the WebPKI error (e.g. the leaf lacks the serverAuth purpose) or the name not covered (and the SNI sent, when the row shares a probe made for another name: `--probe-dedup address-once`); null when valid. Schema 2."),
    opt!(Str probe_sni, "The SNI name the probe sent (the MX name it was made for); null when it attempted no TLS handshake. Another name than mx_host: the row shares a probe made for that name, and mx_cert judges that handshake's certificate for mx_host. Schema 3."),
    opt!(Bool mx_excluded, "mx_host (or a name above it) is on the scan's --exclude opt-out list: neither looked up nor contacted, so address, address_dns and every probe column are null; false for every other host. Schema 4."),
];

/// Longest string stored in one cell (and one list item), in bytes: longer values are cut at
/// the last UTF-8 boundary before it, so one row's memory is bounded whatever the pipeline
/// passes. Equal to the policy body cap of RFC 8461 §3.3 (64 KiB).
pub const MAX_CELL_BYTES: usize = 65_536;

/// Most items stored in one list cell; further items are dropped.
pub const MAX_LIST_ITEMS: usize = 4096;

/// `s` cut to at most [`MAX_CELL_BYTES`] bytes on a character boundary.
pub fn cap(s: &str) -> &str {
    if s.len() <= MAX_CELL_BYTES {
        return s;
    }
    let mut end = MAX_CELL_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list_item(data_type: DataType) -> Arc<Field> {
    Arc::new(Field::new_list_field(data_type, true))
}

fn finding_fields() -> Fields {
    Fields::from(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
    ])
}

fn data_type<R>(get: &Getter<R>) -> DataType {
    match get {
        Getter::ScanId | Getter::Dict(_) => dict_type(),
        Getter::Str(_) => DataType::Utf8,
        Getter::Bool(_) => DataType::Boolean,
        Getter::U8(_) => DataType::UInt8,
        Getter::U16(_) => DataType::UInt16,
        Getter::U32(_) => DataType::UInt32,
        Getter::U64(_) => DataType::UInt64,
        Getter::Time(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Getter::List(_) => DataType::List(list_item(DataType::Utf8)),
        Getter::Findings(_) => DataType::List(list_item(DataType::Struct(finding_fields()))),
    }
}

fn schema_of<R>(columns: &[Column<R>]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            Field::new(c.name, data_type(&c.get), c.nullable).with_metadata(HashMap::from([(
                DESCRIPTION_KEY.to_string(),
                c.doc.to_string(),
            )]))
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn infos<R>(columns: &[Column<R>]) -> Vec<ColumnInfo> {
    columns
        .iter()
        .map(|c| ColumnInfo {
            name: c.name,
            data_type: data_type(&c.get),
            nullable: c.nullable,
            description: c.doc,
        })
        .collect()
}

/// The short type name used in `docs/schema.md`: `string`, `dictionary<string>`, `bool`,
/// `uint8`…`uint64`, `timestamp[us, UTC]`, `list<…>`, `struct<name: type, …>`.
pub fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Utf8 => "string".into(),
        DataType::Dictionary(_, v) => format!("dictionary<{}>", type_name(v)),
        DataType::Boolean => "bool".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => format!("timestamp[us, {tz}]"),
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), type_name(f.data_type())))
                .collect();
            format!("struct<{}>", inner.join(", "))
        }
        other => other.to_string(),
    }
}

fn dict_array(
    values: impl Iterator<Item = Option<impl AsRef<str>>>,
) -> Result<ArrayRef, ArrowError> {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in values {
        match v {
            Some(s) => {
                b.append(cap(s.as_ref()))?;
            }
            None => b.append_null(),
        }
    }
    Ok(Arc::new(b.finish()))
}

fn list_array(values: impl Iterator<Item = Option<impl AsRef<[String]>>>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new()).with_field(list_item(DataType::Utf8));
    for v in values {
        match v {
            Some(items) => {
                for s in items.as_ref().iter().take(MAX_LIST_ITEMS) {
                    b.values().append_value(cap(s));
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

fn findings_array<'a>(
    values: impl Iterator<Item = &'a [FindingRow]>,
) -> Result<ArrayRef, ArrowError> {
    let (mut code, mut severity, mut message) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut lengths = Vec::new();
    for findings in values {
        let findings = &findings[..findings.len().min(MAX_LIST_ITEMS)];
        lengths.push(findings.len());
        for f in findings {
            code.append_value(cap(&f.code));
            severity.append_value(cap(&f.severity));
            message.append_value(cap(&f.message));
        }
    }
    let children: Vec<ArrayRef> = vec![
        Arc::new(code.finish()),
        Arc::new(severity.finish()),
        Arc::new(message.finish()),
    ];
    let structs = StructArray::try_new(finding_fields(), children, None)?;
    let list = ListArray::try_new(
        list_item(DataType::Struct(finding_fields())),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(structs),
        None,
    )?;
    Ok(Arc::new(list))
}

fn column_array<R>(get: &Getter<R>, scan_id: &str, rows: &[R]) -> Result<ArrayRef, ArrowError> {
    Ok(match get {
        Getter::ScanId => dict_array(rows.iter().map(|_| Some(scan_id)))?,
        Getter::Dict(f) => dict_array(rows.iter().map(f))?,
        Getter::Str(f) => Arc::new(rows.iter().map(|r| f(r).map(cap)).collect::<StringArray>()),
        Getter::Bool(f) => Arc::new(rows.iter().map(f).collect::<BooleanArray>()),
        Getter::U8(f) => Arc::new(rows.iter().map(f).collect::<UInt8Array>()),
        Getter::U16(f) => Arc::new(rows.iter().map(f).collect::<UInt16Array>()),
        Getter::U32(f) => Arc::new(rows.iter().map(f).collect::<UInt32Array>()),
        Getter::U64(f) => Arc::new(rows.iter().map(f).collect::<UInt64Array>()),
        Getter::Time(f) => Arc::new(
            rows.iter()
                .map(|r| f(r).map(|t| t.timestamp_micros()))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        Getter::List(f) => list_array(rows.iter().map(f)),
        Getter::Findings(f) => findings_array(rows.iter().map(f))?,
    })
}

fn batch_of<R>(
    schema: SchemaRef,
    columns: &[Column<R>],
    scan_id: &str,
    rows: &[R],
) -> Result<RecordBatch, ArrowError> {
    let arrays = columns
        .iter()
        .map(|c| column_array(&c.get, scan_id, rows))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, arrays)
}

/// Builds a `domains` batch from `rows`, stamping `scan_id` on each. Fails (rather than
/// writing a null) when a non-nullable column would be null.
pub fn domains_batch(scan_id: &str, rows: &[DomainRow]) -> Result<RecordBatch, ArrowError> {
    batch_of(Table::Domains.schema(), DOMAIN_COLUMNS, scan_id, rows)
}

/// Builds an `mx` batch from `rows`, stamping `scan_id` on each.
pub fn mx_batch(scan_id: &str, rows: &[MxRow]) -> Result<RecordBatch, ArrowError> {
    batch_of(Table::Mx.schema(), MX_COLUMNS, scan_id, rows)
}

/// A value outside its column's closed vocabulary (see [`super::vocab`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabularyViolation {
    /// `table.column`.
    pub column: String,
    /// The offending value.
    pub value: String,
}

fn violations_of<R>(table: Table, columns: &[Column<R>], row: &R) -> Vec<VocabularyViolation> {
    let mut out = Vec::new();
    let mut check = |column: &str, value: &str| {
        let (t, c) = column.split_once('.').unwrap_or((table.as_str(), column));
        if super::vocab::check(t, c, value).is_err() {
            out.push(VocabularyViolation {
                column: format!("{t}.{c}"),
                value: value.to_string(),
            });
        }
    };
    for col in columns {
        match &col.get {
            Getter::Dict(f) => {
                if let Some(v) = f(row) {
                    check(col.name, v);
                }
            }
            Getter::Findings(f) => {
                for finding in f(row) {
                    check(
                        &format!("{}.{}.severity", table.as_str(), col.name),
                        &finding.severity,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// Every status value of `row` that is not in its closed vocabulary (empty when the row is
/// clean). The writer stores such values anyway; tests and graders use this to catch them.
pub fn domain_row_violations(row: &DomainRow) -> Vec<VocabularyViolation> {
    violations_of(Table::Domains, DOMAIN_COLUMNS, row)
}

/// Like [`domain_row_violations`], for an `mx` row.
pub fn mx_row_violations(row: &MxRow) -> Vec<VocabularyViolation> {
    violations_of(Table::Mx, MX_COLUMNS, row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    #[test]
    fn names_are_unique_snake_case() {
        for table in Table::ALL {
            let cols = table.columns();
            for (i, c) in cols.iter().enumerate() {
                assert!(
                    c.name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                    "{}",
                    c.name
                );
                assert!(
                    !cols[..i].iter().any(|o| o.name == c.name),
                    "duplicate {}",
                    c.name
                );
                assert!(!c.description.is_empty());
            }
        }
    }

    #[test]
    fn empty_batches_have_the_schema() {
        let b = domains_batch("s", &[]).unwrap();
        assert_eq!(b.num_rows(), 0);
        assert_eq!(b.schema(), Table::Domains.schema());
        let b = mx_batch("s", &[]).unwrap();
        assert_eq!(b.schema(), Table::Mx.schema());
    }

    #[test]
    fn violations_name_the_column_and_value() {
        let clean = DomainRow {
            input_status: "ok".into(),
            sts_txt: Some("valid".into()),
            findings: vec![FindingRow {
                code: "any-code".into(),
                severity: "warning".into(),
                message: String::new(),
            }],
            ..DomainRow::default()
        };
        assert_eq!(domain_row_violations(&clean), vec![]);
        let dirty = DomainRow {
            sts_txt: Some("Valid".into()),
            findings: vec![FindingRow {
                severity: "fatal".into(),
                ..FindingRow::default()
            }],
            ..clean
        };
        let v: Vec<_> = domain_row_violations(&dirty)
            .into_iter()
            .map(|v| (v.column, v.value))
            .collect();
        assert_eq!(
            v,
            vec![
                ("domains.sts_txt".to_string(), "Valid".to_string()),
                ("domains.findings.severity".to_string(), "fatal".to_string()),
            ]
        );
        let mx = MxRow {
            smtp: Some("timeout".into()),
            tls_cipher: Some("anything goes".into()),
            ..MxRow::default()
        };
        let v = mx_row_violations(&mx);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].column, "mx.smtp");
    }

    #[test]
    fn cells_are_capped_on_a_char_boundary() {
        assert_eq!(cap("abc"), "abc");
        let exact = "a".repeat(MAX_CELL_BYTES);
        assert_eq!(cap(&exact).len(), MAX_CELL_BYTES);
        // 'é' is two bytes: 65535 'a' + 'é' straddles the cap and is dropped whole.
        let straddle = format!("{}é", "a".repeat(MAX_CELL_BYTES - 1));
        assert_eq!(cap(&straddle).len(), MAX_CELL_BYTES - 1);
        let row = DomainRow {
            input: "x".repeat(100_000),
            input_status: "ok".into(),
            policy_mx: Some(vec!["*.mx.example".to_string(); MAX_LIST_ITEMS + 10]),
            ..DomainRow::default()
        };
        let b = domains_batch("s", &[row]).unwrap();
        let input = b.column_by_name("input").unwrap();
        assert_eq!(input.as_string::<i32>().value(0).len(), MAX_CELL_BYTES);
        let mx = b.column_by_name("policy_mx").unwrap();
        assert_eq!(mx.as_list::<i32>().value_length(0) as usize, MAX_LIST_ITEMS);
    }

    #[test]
    fn type_names() {
        let cols = Table::Domains.columns();
        let by = |n: &str| {
            let c = cols.iter().find(|c| c.name == n).unwrap();
            type_name(&c.data_type)
        };
        assert_eq!(by("scanned_at"), "timestamp[us, UTC]");
        assert_eq!(by("sts_txt"), "dictionary<string>");
        assert_eq!(by("policy_mx"), "list<string>");
        assert_eq!(
            by("findings"),
            "list<struct<code: string, severity: string, message: string>>"
        );
    }
}
