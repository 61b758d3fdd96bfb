//! The rows the pipeline hands to the writer: plain owned structs, one per table.
//!
//! This module owns the *Rust shape* of a row; the Arrow shape (names, types, docs) lives in
//! [`super::schema`]. Closed vocabularies are carried as `String` so the pipeline passes the
//! `as_str()` of its own enums and the output layer never depends on them; the allowed values
//! of each column are listed in [`super::vocab`] and in `docs/schema.md`.
//!
//! Conventions: `None` means "not applicable / not observed" and becomes a Parquet null; lists
//! are `Option<Vec<String>>` so "not looked up" (null) stays apart from "looked up, empty"
//! (empty list). The scan id is not a row field: the writer stamps it on every row.

use chrono::{DateTime, Utc};

/// One finding attached to a domain (a rule the domain breaks or a noteworthy fact).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingRow {
    /// Stable kebab-case code, e.g. `policy-content-type`.
    pub code: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
}

/// One row of the `domains` table: one input line, whatever happened to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainRow {
    /// When the domain's scan started (UTC).
    pub scanned_at: DateTime<Utc>,
    /// 1-based line number in the input.
    pub input_line: u64,
    /// The raw input text of the line (trimmed of the line ending only).
    pub input: String,
    /// `ok`, `invalid`, `duplicate` or `excluded` (on the `--exclude` list).
    pub input_status: String,
    /// Why the input is invalid (a code), when `input_status = invalid`.
    pub input_error: Option<String>,
    /// Normalized A-label domain, lowercase, no trailing dot.
    pub domain: Option<String>,
    /// The domain in Unicode (U-labels).
    pub domain_unicode: Option<String>,

    /// MTA-STS TXT verdict.
    pub sts_txt: Option<String>,
    /// DNS status of the `_mta-sts` TXT query.
    pub sts_txt_dns: Option<String>,
    /// Every TXT string returned for `_mta-sts.D`, verbatim.
    pub sts_txt_records: Option<Vec<String>>,
    /// CNAME targets followed to reach the TXT RRset.
    pub sts_txt_cname_chain: Option<Vec<String>>,
    /// Parse error code of the `v=STSv1` record when `sts_txt = invalid`.
    pub sts_txt_error: Option<String>,
    /// The `id` when `sts_txt = valid`.
    pub sts_id: Option<String>,

    /// Outcome of the policy fetch.
    pub policy_fetch: Option<String>,
    /// URL fetched.
    pub policy_url: Option<String>,
    /// Address connected to for the fetch.
    pub policy_address: Option<String>,
    /// HTTP status code when a response was received.
    pub policy_http_status: Option<u16>,
    /// The `Content-Type` header as received.
    pub policy_content_type: Option<String>,
    /// The `Location` header of a 3xx response.
    pub policy_location: Option<String>,
    /// Certificate verdict of the policy host for `mta-sts.D`.
    pub policy_cert: Option<String>,
    /// `notAfter` of the policy host's leaf certificate.
    pub policy_cert_not_after: Option<DateTime<Utc>>,
    /// Issuer DN of the policy host's leaf certificate.
    pub policy_cert_issuer: Option<String>,
    /// TLS version negotiated with the policy host.
    pub policy_tls_version: Option<String>,
    /// SHA-256 of the body (lowercase hex).
    pub policy_body_sha256: Option<String>,
    /// Body length in bytes (as received, up to the cap plus one).
    pub policy_body_bytes: Option<u64>,
    /// The body as text (lossy UTF-8), at most 64 KiB, when fetched.
    pub policy_body: Option<String>,
    /// Whether the body is a valid RFC 8461 §3.2 policy.
    pub policy_valid: Option<bool>,
    /// Parse error code of the policy when `policy_valid = false`.
    pub policy_error: Option<String>,
    /// Free-text detail of the fetch outcome (error chain, reason phrase).
    pub policy_fetch_detail: Option<String>,
    /// Policy mode when valid.
    pub policy_mode: Option<String>,
    /// Policy `max_age` when valid.
    pub policy_max_age: Option<u32>,
    /// Policy `mx` patterns as written, when valid.
    pub policy_mx: Option<Vec<String>>,

    /// DNS status of the MX query.
    pub mx_dns: Option<String>,
    /// Shape of the MX RRset.
    pub mx_kind: Option<String>,
    /// MX host names in preference order (lowercase, no trailing dot).
    pub mx_hosts: Option<Vec<String>>,
    /// Number of MX records.
    pub mx_count: Option<u32>,

    /// TLS-RPT TXT verdict.
    pub tlsrpt: Option<String>,
    /// DNS status of the `_smtp._tls` TXT query.
    pub tlsrpt_dns: Option<String>,
    /// Every TXT string returned for `_smtp._tls.D`, verbatim.
    pub tlsrpt_records: Option<Vec<String>>,
    /// `rua` URIs when `tlsrpt = valid`.
    pub tlsrpt_rua: Option<Vec<String>>,
    /// Parse error code of the `v=TLSRPTv1` record when `tlsrpt = invalid`.
    pub tlsrpt_error: Option<String>,

    /// `sts_txt = valid` ∧ `policy_fetch = ok` ∧ `policy_cert = valid` ∧ `policy_valid`.
    pub policy_usable: Option<bool>,
    /// Would an RFC 8461 sender in enforce mode deliver (when `policy_usable`).
    pub enforce_deliverable: Option<bool>,
    /// Every MX host matches a policy pattern (when `policy_valid`).
    pub all_mx_covered: Option<bool>,
    /// Every probed MX offers STARTTLS.
    pub all_mx_starttls: Option<bool>,
    /// Every probed MX presents a certificate valid for its name.
    pub all_mx_cert_valid: Option<bool>,
    /// The RFC 8460 result type explaining why a sender would fail, or `None`.
    pub rfc8460_result: Option<String>,
    /// Findings of every check.
    pub findings: Vec<FindingRow>,
    /// Highest severity among `findings` (`None` when there are none).
    pub max_severity: Option<String>,
    /// Wall time spent on the domain, in milliseconds.
    pub duration_ms: u64,
    /// Why `policy_cert` is not `valid`: the WebPKI error, or the name not covered.
    pub policy_cert_detail: Option<String>,
}

/// One row of the `mx` table: one domain × MX host × address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MxRow {
    /// When the domain's scan started (UTC); equal to the domain row's `scanned_at`.
    pub scanned_at: DateTime<Utc>,
    /// The domain (A-label) whose MX this is.
    pub domain: String,
    /// MX host name, lowercase, no trailing dot (the domain itself for `implicit`).
    pub mx_host: String,
    /// MX preference.
    pub mx_preference: u16,
    /// The MX target is an alias (CNAME), which RFC 2181 §10.3 forbids.
    pub mx_is_cname: Option<bool>,
    /// The address probed (`None` when the host has no usable address).
    pub address: Option<String>,
    /// 4 or 6.
    pub ip_version: Option<u8>,
    /// DNS status of the A/AAAA lookup that produced (or failed to produce) the address.
    pub address_dns: Option<String>,
    /// Why the safety rule refused to connect to the address.
    pub address_refused: Option<String>,
    /// The host matches a policy `mx` pattern (when `policy_valid`).
    pub mx_policy_match: Option<bool>,
    /// Identifier of the probe (shared by every row that reused it).
    pub probe_id: Option<u64>,
    /// The probe result was reused from another domain's probe of the same address.
    pub probe_shared: Option<bool>,
    /// SMTP probe outcome.
    pub smtp: Option<String>,
    /// Free-text detail of the SMTP outcome.
    pub smtp_detail: Option<String>,
    /// The greeting text (capped).
    pub greeting: Option<String>,
    /// EHLO keywords (uppercase) from the last EHLO reply before STARTTLS.
    pub ehlo_capabilities: Option<Vec<String>>,
    /// STARTTLS advertised in the EHLO reply.
    pub starttls: Option<bool>,
    /// The server sent pipelined plaintext after `220` to STARTTLS.
    pub starttls_injection: Option<bool>,
    /// Negotiated TLS version.
    pub tls_version: Option<String>,
    /// Negotiated cipher suite (IANA name).
    pub tls_cipher: Option<String>,
    /// Verdict on the chain alone (ignoring the name).
    pub chain_verdict: Option<String>,
    /// Certificate verdict for this MX host name.
    pub mx_cert: Option<String>,
    /// Subject DN of the leaf.
    pub cert_subject: Option<String>,
    /// Issuer DN of the leaf.
    pub cert_issuer: Option<String>,
    /// DNS SANs of the leaf.
    pub cert_sans: Option<Vec<String>>,
    /// Leaf `notBefore`.
    pub cert_not_before: Option<DateTime<Utc>>,
    /// Leaf `notAfter`.
    pub cert_not_after: Option<DateTime<Utc>>,
    /// Leaf public key algorithm.
    pub cert_key_algorithm: Option<String>,
    /// Leaf public key size in bits.
    pub cert_key_bits: Option<u32>,
    /// SHA-256 (lowercase hex) of every certificate sent, leaf first.
    pub cert_sha256: Option<Vec<String>>,
    /// RFC 8460 result type for a failure on this host, or `None`.
    pub rfc8460_result: Option<String>,
    /// Wall time of the probe in milliseconds.
    pub probe_ms: Option<u64>,
    /// Why `mx_cert` is not `valid`: the WebPKI error, or the name not covered.
    pub cert_detail: Option<String>,
    /// The SNI name the probe sent (the MX name it was made for), when it attempted a
    /// handshake; another name than `mx_host` means the row shares a probe made for that name.
    pub probe_sni: Option<String>,
    /// The MX host name is on the scan's `--exclude` list (or below a name on it): not looked
    /// up, not contacted; `false` for every other host.
    pub mx_excluded: Option<bool>,
}

impl MxRow {
    /// The probe's SNI name when it is another MX name than `mx_host`: the row's results
    /// come from a probe made for that name.
    pub fn probe_sni_for_other_name(&self) -> Option<&str> {
        sni_for_other_name(self.probe_sni.as_deref(), &self.mx_host)
    }
}

/// `sni` when it names another host than `host` (ASCII case and a trailing dot ignored).
pub fn sni_for_other_name<'a>(sni: Option<&'a str>, host: &str) -> Option<&'a str> {
    sni.filter(|s| !s.eq_ignore_ascii_case(host.trim_end_matches('.')))
}
