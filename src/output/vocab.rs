//! The closed vocabularies of the output: for every status column, the only strings it may
//! hold. The values are those of `docs/ground-truth.md` (the graded fields) plus the output's
//! own (`input_status`, `address_refused`, TLS versions).
//!
//! This module owns the lists, not the meaning: each value's meaning is documented in
//! `docs/schema.md`, and a test fails when a value listed here is missing from that page. The
//! writer does not reject unknown values (a measurement is never dropped); [`check`] lets a
//! caller or a test find them.

/// A named closed vocabulary and the columns that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vocabulary {
    /// Name of the vocabulary (the heading in `docs/schema.md`).
    pub name: &'static str,
    /// Columns (`table.column`) whose values come from this vocabulary.
    pub columns: &'static [&'static str],
    /// The allowed values.
    pub values: &'static [&'static str],
}

/// Every closed vocabulary of the output.
pub const VOCABULARIES: &[Vocabulary] = &[
    Vocabulary {
        name: "input status",
        columns: &["domains.input_status"],
        values: &["ok", "invalid", "duplicate", "excluded"],
    },
    Vocabulary {
        name: "TXT verdicts",
        columns: &["domains.sts_txt", "domains.tlsrpt"],
        values: &["absent", "valid", "invalid", "multiple", "lookup-failed"],
    },
    Vocabulary {
        name: "DNS status",
        columns: &[
            "domains.sts_txt_dns",
            "domains.tlsrpt_dns",
            "domains.mx_dns",
            "mx.address_dns",
        ],
        values: &[
            "noerror",
            "nodata",
            "nxdomain",
            "servfail",
            "refused",
            "referral",
            "formerr",
            "notimp",
            "other-rcode",
            "timeout",
            "network-error",
            "truncated",
            "cname-loop",
            "invalid-name",
        ],
    },
    Vocabulary {
        name: "policy fetch outcomes",
        columns: &["domains.policy_fetch"],
        values: &[
            "not-attempted",
            "ok",
            "http-status",
            "redirect",
            "too-large",
            "host-not-found",
            "dns-error",
            "connect-refused",
            "connect-timeout",
            "tls-error",
            "timeout",
            "connection-closed",
            "address-refused",
            "excluded",
        ],
    },
    Vocabulary {
        name: "certificate verdicts",
        columns: &["domains.policy_cert", "mx.mx_cert", "mx.chain_verdict"],
        values: &[
            "valid",
            "expired",
            "not-yet-valid",
            "name-mismatch",
            "self-signed",
            "untrusted",
            "incomplete-chain",
            "invalid",
        ],
    },
    Vocabulary {
        name: "policy modes",
        columns: &["domains.policy_mode"],
        values: &["enforce", "testing", "none"],
    },
    Vocabulary {
        name: "MX kinds",
        columns: &["domains.mx_kind"],
        values: &[
            "hosts",
            "null",
            "mixed-null",
            "implicit",
            "none",
            "lookup-failed",
        ],
    },
    Vocabulary {
        name: "SMTP outcomes",
        columns: &["mx.smtp"],
        values: &[
            "ok",
            "connect-refused",
            "connect-timeout",
            "greeting-timeout",
            "greeting-rejected",
            "greeting-tempfail",
            "protocol-error",
            "ehlo-rejected",
            "starttls-not-offered",
            "starttls-refused",
            "tls-version-unsupported",
            "handshake-failed",
            "post-tls-error",
        ],
    },
    Vocabulary {
        name: "RFC 8460 result types",
        columns: &["domains.rfc8460_result", "mx.rfc8460_result"],
        values: &[
            "starttls-not-supported",
            "certificate-host-mismatch",
            "certificate-expired",
            "certificate-not-trusted",
            "validation-failure",
            "tlsa-invalid",
            "dnssec-invalid",
            "dane-required",
            "sts-policy-fetch-error",
            "sts-policy-invalid",
            "sts-webpki-invalid",
        ],
    },
    Vocabulary {
        name: "severities",
        columns: &["domains.max_severity", "domains.findings.severity"],
        values: &["error", "warning", "info"],
    },
    Vocabulary {
        name: "address refusals",
        columns: &["mx.address_refused"],
        values: &[
            "private",
            "loopback",
            "link-local",
            "multicast",
            "reserved",
            "unspecified",
            "documentation",
            "shared-cgnat",
            "benchmarking",
            "broadcast",
            "blocklisted",
        ],
    },
    Vocabulary {
        name: "TLS versions",
        columns: &["domains.policy_tls_version", "mx.tls_version"],
        values: &["TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
    },
];

/// The vocabulary of `table.column`, if the column has a closed one.
pub fn vocabulary(table: &str, column: &str) -> Option<&'static Vocabulary> {
    VOCABULARIES.iter().find(|v| {
        v.columns.iter().any(|c| {
            c.split_once('.')
                .is_some_and(|(t, col)| t == table && col == column)
        })
    })
}

/// `Ok` when `value` is allowed in `table.column` (or the column has no closed vocabulary);
/// otherwise the name of the vocabulary it violates.
pub fn check(table: &str, column: &str, value: &str) -> Result<(), &'static str> {
    match vocabulary(table, column) {
        Some(v) if !v.values.contains(&value) => Err(v.name),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kebab_case_and_unique() {
        for v in VOCABULARIES {
            for (i, value) in v.values.iter().enumerate() {
                let kebab = !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                // TLS versions keep the protocol's own spelling (`TLSv1.3`, as rustls and
                // OpenSSL print it); every other vocabulary is kebab-case.
                let tls = v.name == "TLS versions"
                    && value
                        .strip_prefix("TLSv1.")
                        .is_some_and(|d| d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()));
                assert!(kebab || tls, "{value} in {}", v.name);
                assert!(!v.values[..i].contains(value), "duplicate {value}");
            }
        }
    }

    #[test]
    fn check_finds_unknown_values() {
        assert_eq!(check("mx", "smtp", "ok"), Ok(()));
        assert_eq!(check("mx", "smtp", "OK"), Err("SMTP outcomes"));
        assert_eq!(check("domains", "sts_txt", "lookup-failed"), Ok(()));
        assert_eq!(check("domains", "sts_txt", "servfail"), Err("TXT verdicts"));
        // a column without a closed vocabulary accepts anything
        assert_eq!(check("domains", "input", "anything"), Ok(()));
    }
}
