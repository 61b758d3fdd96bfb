//! The per-domain classification: DNS answers and the fetched policy (as plain values) → the
//! docs/ground-truth.md fields (`sts_txt`, `policy_fetch`, `policy_valid`, `mx_kind`, `tlsrpt`,
//! `policy_usable`, …), the parsed records, and findings with stable codes.
//!
//! Findings produced here (besides those of the records core, which keep their own codes):
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `sts-txt-lookup-failed` | warning | the `_mta-sts` TXT lookup failed (SERVFAIL, REFUSED, timeout): senders treat the domain as without MTA-STS for now |
//! | `txt-without-policy-host` | error | a `v=STSv1` record exists but `mta-sts.D` has no address or refuses connections |
//! | `policy-fetch-failed` | error | the policy could not be fetched (`sts-policy-fetch-error`) |
//! | `policy-host-excluded` | info | `mta-sts.D` is on the scan's `--exclude` list: not looked up, not fetched (`policy_fetch = excluded`); the policy is unknown, not failing |
//! | `policy-host-address-refused` | warning | every address of `mta-sts.D` is private, reserved or blocklisted: not fetched (`--allow-private` for the lab or an internal network) |
//! | `policy-redirect` | error | the policy URL answers with a redirect, which senders must not follow |
//! | `policy-cert-invalid` | error | the policy host's certificate is not valid for `mta-sts.D` (`sts-webpki-invalid`) |
//! | `policy-invalid` | error | the policy body is not a valid policy (`sts-policy-invalid`); a warning on a domain without a `v=STSv1` record (`--fetch-policy always`), which no sender reads yet |
//! | `policy-without-txt` | warning | a policy is served but no `v=STSv1` TXT record points senders to it |
//! | `policy-on-non-mail-domain` | info | a valid policy on a domain with a null MX or no MX at all |
//! | `mode-testing` | info | the policy is in `testing` mode: failures are reported, not enforced |
//! | `mode-none` | info | the policy is in `none` mode (MTA-STS being withdrawn) |
//! | `mx-lookup-failed` | warning | the MX lookup failed (`enforce_deliverable` is then unknown) |
//!
//! The policy host's findings (`txt-without-policy-host`, `policy-fetch-failed`,
//! `policy-redirect`, `policy-cert-invalid`) are only for a domain with a `v=STSv1` record:
//! under `--fetch-policy always` a domain without one has nothing there to fix.
//! | `tlsrpt-lookup-failed` | warning | the `_smtp._tls` TXT lookup failed |
//! | `tlsrpt-without-sts` | info | TLS-RPT is published without MTA-STS |
//!
//! An invalid or repeated `v=STSv1` / `v=TLSRPTv1` record is one finding, the records core's
//! (`sts-txt-invalid-record`, `sts-txt-multiple-records`, `tlsrpt-txt-invalid-record`,
//! `tlsrpt-txt-multiple-records`, or the `rua` error that made a TLS-RPT record invalid), all
//! of severity `error`: each makes the record useless to a sender (docs/schema.md,
//! severities). Earlier versions also restated them here as `sts-txt-invalid`,
//! `sts-txt-multiple`, `tlsrpt-invalid` and `tlsrpt-multiple`: one problem was counted twice,
//! and the TLS-RPT pair disagreed on severity.

use crate::dns::DnsStatus;
use crate::records::diag::{Finding, ParseError, Severity};
use crate::records::mx::{self, MxHost, MxSet};
use crate::records::policy::{self, Mode, Policy, PolicyParse};
use crate::records::sts_txt::{self, StsOutcome};
use crate::records::tlsrpt_txt::{self, TlsRptOutcome};

/// A TXT lookup as the DNS layer returned it.
#[derive(Debug, Clone, Copy)]
pub struct TxtAnswer<'a> {
    /// The lookup status.
    pub status: DnsStatus,
    /// Each TXT RR as its list of character-strings.
    pub records: &'a [Vec<Vec<u8>>],
}

/// The MX lookup and, when it found no MX records, whether the domain itself has an address.
#[derive(Debug, Clone, Copy)]
pub struct MxAnswer<'a> {
    /// The MX lookup status.
    pub status: DnsStatus,
    /// `(preference, exchange)` answers.
    pub records: &'a [(u16, String)],
    /// For NODATA: the status of the domain's own address lookup (implicit MX).
    pub apex_address: Option<DnsStatus>,
}

/// What happened when the policy was (or was not) fetched.
#[derive(Debug, Clone, Copy)]
pub enum PolicyAnswer<'a> {
    /// Not fetched (no `v=STSv1` record, or `--fetch-policy never`).
    NotAttempted,
    /// `mta-sts.D` is on the scan's `--exclude` list: neither looked up nor fetched.
    Excluded,
    /// `mta-sts.D` did not resolve to a usable address.
    HostLookup {
        /// Status of the address lookup.
        status: DnsStatus,
        /// All addresses were refused by the safety rule.
        refused: bool,
    },
    /// A fetch was made.
    Fetched {
        /// The fetch outcome (`ok`, `http-status`, …: docs/ground-truth.md).
        outcome: &'a str,
        /// HTTP status, when a response arrived.
        http_status: Option<u16>,
        /// The Content-Type header.
        content_type: Option<&'a str>,
        /// The body, when `outcome` is `ok`.
        body: Option<&'a [u8]>,
        /// The certificate verdict for `mta-sts.D`, when a handshake completed.
        cert: Option<&'a str>,
    },
}

/// The classification of one domain before MX probing.
#[derive(Debug, Clone)]
pub struct DomainAssessment {
    /// `absent`, `valid`, `invalid`, `multiple`, `lookup-failed`.
    pub sts_txt: &'static str,
    /// The policy id of a valid record.
    pub sts_id: Option<String>,
    /// The parse error of an invalid record.
    pub sts_txt_error: Option<ParseError>,
    /// `policy_fetch` (docs/ground-truth.md; plus `address-refused` and `excluded`).
    pub policy_fetch: String,
    /// Certificate verdict of the policy host.
    pub policy_cert: Option<String>,
    /// The parse of the body, when one was fetched.
    pub policy: Option<PolicyParse>,
    /// `mx_kind`.
    pub mx_kind: &'static str,
    /// The MX hosts a sender would try, in preference order (empty for null/none/failed).
    pub mx_hosts: Vec<MxHost>,
    /// `absent`, `valid`, `invalid`, `multiple`, `lookup-failed`.
    pub tlsrpt: &'static str,
    /// The rua URIs of a valid record.
    pub tlsrpt_rua: Vec<String>,
    /// The parse error of an invalid TLS-RPT record.
    pub tlsrpt_error: Option<ParseError>,
    /// The docs/ground-truth.md `policy_usable`.
    pub policy_usable: bool,
    /// Findings, records-core ones included.
    pub findings: Vec<Finding>,
}

impl DomainAssessment {
    /// The valid policy, if any.
    pub fn valid_policy(&self) -> Option<&Policy> {
        self.policy.as_ref().and_then(|p| p.policy.as_ref())
    }

    /// The RFC 8460 §4.3.1 result type of a policy that a sender found (valid TXT record) but
    /// cannot use: `sts-policy-fetch-error`, `sts-webpki-invalid` or `sts-policy-invalid`.
    /// `None` also when the scan did not fetch the policy (`--fetch-policy never`): what a
    /// sender's fetch would meet is then not known, and when the policy host is on the scan's
    /// `--exclude` list (`excluded`).
    pub fn policy_failure(&self) -> Option<&'static str> {
        if self.sts_txt != "valid"
            || self.policy_usable
            || matches!(self.policy_fetch.as_str(), "not-attempted" | "excluded")
        {
            return None;
        }
        // A completed handshake with a certificate that does not validate comes first,
        // whatever the HTTP layer did after it: a sender validating PKIX stops at the
        // handshake and never sees the response.
        if self.policy_cert.as_deref().is_some_and(|c| c != "valid") {
            Some("sts-webpki-invalid")
        } else if self.policy_fetch != "ok" {
            Some("sts-policy-fetch-error")
        } else {
            Some("sts-policy-invalid")
        }
    }

    /// Whether `host` matches a pattern of the valid policy (`None` without one).
    pub fn policy_match(&self, host: &str) -> Option<bool> {
        self.valid_policy()
            .map(|p| p.mx.iter().any(|pat| pat.matches(host)))
    }
}

/// Whether a TXT answer has a record beginning with `v=STSv1` — the condition for a sender
/// (and stsscan in `--fetch-policy auto`) to fetch the policy.
pub fn has_sts_record(txt: &TxtAnswer<'_>) -> bool {
    txt.status == DnsStatus::NoError
        && txt
            .records
            .iter()
            .any(|rr| sts_txt::begins_with_version(&rr.concat()))
}

fn txt_failed(status: DnsStatus) -> bool {
    !matches!(
        status,
        DnsStatus::NoError | DnsStatus::NoData | DnsStatus::NxDomain
    )
}

/// The meaning of a domain's MX answer (RFC 7505, RFC 5321 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxClass {
    /// `mx_kind` (docs/ground-truth.md).
    pub kind: &'static str,
    /// The hosts a sender would try, in preference order.
    pub hosts: Vec<MxHost>,
    /// Findings about the RRset.
    pub findings: Vec<Finding>,
}

/// Classifies the MX answer of `domain`: hosts, null MX, implicit MX (NODATA and the domain
/// has an address), none (NXDOMAIN, or NODATA without an address) or a failed lookup.
pub fn classify_mx(domain: &str, mx: MxAnswer<'_>) -> MxClass {
    let mut findings = Vec::new();
    let (kind, hosts) = match mx.status {
        DnsStatus::NoError => {
            let a = mx::classify(domain, mx.records);
            findings.extend(a.findings);
            let hosts = a.set.hosts().to_vec();
            (a.set.kind(), hosts)
        }
        DnsStatus::NoData => match mx.apex_address {
            Some(DnsStatus::NoError) => {
                let a = mx::classify::<&str>(domain, &[]);
                let hosts = a.set.hosts().to_vec();
                debug_assert!(matches!(a.set, MxSet::Implicit(_)));
                ("implicit", hosts)
            }
            Some(s) if txt_failed(s) => ("lookup-failed", Vec::new()),
            _ => ("none", Vec::new()),
        },
        DnsStatus::NxDomain => ("none", Vec::new()),
        s => {
            findings.push(Finding::new(
                "mx-lookup-failed",
                Severity::Warning,
                format!("the MX lookup failed ({})", s.as_str()),
            ));
            ("lookup-failed", Vec::new())
        }
    };
    MxClass {
        kind,
        hosts,
        findings,
    }
}

/// Classifies one domain from its DNS answers and policy fetch.
pub fn assess(
    domain: &str,
    sts: TxtAnswer<'_>,
    tlsrpt: TxtAnswer<'_>,
    mx: MxClass,
    fetch: PolicyAnswer<'_>,
) -> DomainAssessment {
    let mut findings = Vec::new();

    // RFC 8461 §3.1: the RRset rule.
    let (sts_txt, sts_id, sts_txt_error) = if txt_failed(sts.status) {
        findings.push(Finding::new(
            "sts-txt-lookup-failed",
            Severity::Warning,
            format!("the _mta-sts TXT lookup failed ({})", sts.status.as_str()),
        ));
        ("lookup-failed", None, None)
    } else if sts.status != DnsStatus::NoError {
        ("absent", None, None)
    } else {
        let rrset = sts_txt::evaluate_rrset(sts.records);
        findings.extend(rrset.findings);
        match rrset.outcome {
            StsOutcome::Absent => ("absent", None, None),
            StsOutcome::Valid(r) => ("valid", Some(r.id), None),
            // The records core's findings already say it (`sts-txt-invalid-record`,
            // `sts-txt-multiple-records`): one finding per condition.
            StsOutcome::Invalid(e) => ("invalid", None, Some(e)),
            StsOutcome::Multiple(_) => ("multiple", None, None),
        }
    };
    let has_sts = sts_txt != "absent" && sts_txt != "lookup-failed";

    // RFC 8461 §3.3: the fetch.
    let mut policy_cert = None;
    let mut parse = None;
    let policy_fetch = match fetch {
        PolicyAnswer::NotAttempted => "not-attempted".to_owned(),
        PolicyAnswer::Excluded => "excluded".to_owned(),
        PolicyAnswer::HostLookup { status, refused } => {
            let v = if refused {
                "address-refused"
            } else if matches!(status, DnsStatus::NxDomain | DnsStatus::NoData) {
                "host-not-found"
            } else {
                "dns-error"
            };
            v.to_owned()
        }
        PolicyAnswer::Fetched {
            outcome,
            content_type,
            body,
            cert,
            ..
        } => {
            policy_cert = cert.map(str::to_owned);
            if outcome == "ok" {
                let p = policy::parse(body.unwrap_or_default());
                findings.extend(policy::content_type_findings(content_type));
                findings.extend(p.findings.iter().cloned());
                parse = Some(p);
            }
            outcome.to_owned()
        }
    };
    let policy_valid = parse.as_ref().map(PolicyParse::is_valid);
    match policy_fetch.as_str() {
        "not-attempted" | "ok" => {}
        // The operator's own opt-out list, not the domain: nothing measured, nothing to fix.
        "excluded" => findings.push(Finding::new(
            "policy-host-excluded",
            Severity::Info,
            format!(
                "mta-sts.{domain} is on the scan's exclusion list, so the policy was neither looked up nor fetched"
            ),
        )),
        // `--fetch-policy always` on a domain without a v=STSv1 record: senders never fetch,
        // so nothing here is for the domain to fix (the columns still say what happened).
        _ if !has_sts => {}
        "host-not-found" | "connect-refused" if has_sts => findings.push(Finding::new(
            "txt-without-policy-host",
            Severity::Error,
            format!(
                "an MTA-STS TXT record exists but mta-sts.{domain} {}",
                match policy_fetch.as_str() {
                    "host-not-found" => "has no address",
                    _ => "refuses HTTPS connections",
                }
            ),
        )),
        // The scan's own safety rule refused every address: a private or reserved address
        // no sender on the internet reaches, or the operator's --blocklist. Worth a look, not
        // a failure the scan measured.
        "address-refused" => findings.push(Finding::new(
            "policy-host-address-refused",
            Severity::Warning,
            format!(
                "every address of mta-sts.{domain} is private, reserved or blocklisted, so the policy was not fetched"
            ),
        )),
        "redirect" => findings.push(Finding::new(
            "policy-redirect",
            Severity::Error,
            "the policy URL answers with a redirect; RFC 8461 §3.3: redirects MUST NOT be followed",
        )),
        other => findings.push(Finding::new(
            "policy-fetch-failed",
            Severity::Error,
            format!("the policy could not be fetched ({other})"),
        )),
    }
    if let Some(cert) = policy_cert.as_ref().filter(|_| has_sts) {
        if cert != "valid" {
            findings.push(Finding::new(
                "policy-cert-invalid",
                Severity::Error,
                format!("the certificate of mta-sts.{domain} is not valid ({cert}); RFC 8461 §3.3 requires a certificate valid for the policy host"),
            ));
        }
    }
    if let Some(p) = &parse {
        if let Some(e) = p.errors.first() {
            // Without a v=STSv1 record no sender reads it yet: worth fixing, not an error.
            let severity = if has_sts {
                Severity::Error
            } else {
                Severity::Warning
            };
            findings.push(Finding::new(
                "policy-invalid",
                severity,
                format!("the policy is invalid: {}", e.message),
            ));
        }
        if !has_sts && p.is_valid() {
            findings.push(Finding::new(
                "policy-without-txt",
                Severity::Warning,
                "a policy is served but no v=STSv1 TXT record exists, so senders never fetch it",
            ));
        }
        if let Some(pol) = &p.policy {
            match pol.mode {
                Mode::Testing => findings.push(Finding::new(
                    "mode-testing",
                    Severity::Info,
                    "the policy is in testing mode: failures are reported, not enforced",
                )),
                Mode::None => findings.push(Finding::new(
                    "mode-none",
                    Severity::Info,
                    "the policy is in none mode: MTA-STS is being withdrawn",
                )),
                Mode::Enforce => {}
            }
        }
    }

    let MxClass {
        kind: mx_kind,
        hosts: mx_hosts,
        findings: mx_findings,
    } = mx;
    findings.extend(mx_findings);
    if policy_valid == Some(true) && matches!(mx_kind, "null" | "none") {
        findings.push(Finding::new(
            "policy-on-non-mail-domain",
            Severity::Info,
            "an MTA-STS policy is published for a domain that accepts no mail (null MX or no MX)",
        ));
    }

    // RFC 8460 §3: TLS-RPT.
    let (tlsrpt_v, tlsrpt_rua, tlsrpt_error) = if txt_failed(tlsrpt.status) {
        findings.push(Finding::new(
            "tlsrpt-lookup-failed",
            Severity::Warning,
            format!(
                "the _smtp._tls TXT lookup failed ({})",
                tlsrpt.status.as_str()
            ),
        ));
        ("lookup-failed", Vec::new(), None)
    } else if tlsrpt.status != DnsStatus::NoError {
        ("absent", Vec::new(), None)
    } else {
        // RFC 8460 §3 defines only the `mailto` and `https` schemes, and its ABNF says
        // "commas (ASCII 0x2C) and exclamation points (ASCII 0x21) MUST be encoded": the
        // records core makes a record with such a URI invalid (docs/ground-truth.md,
        // decisions), with the URI's error finding.
        let rrset = tlsrpt_txt::evaluate_rrset(tlsrpt.records);
        findings.extend(rrset.findings);
        match rrset.outcome {
            TlsRptOutcome::Absent => ("absent", Vec::new(), None),
            TlsRptOutcome::Valid(r) => ("valid", r.rua.into_iter().map(|u| u.uri).collect(), None),
            // Said by the records core's findings (`tlsrpt-txt-invalid-record`,
            // `tlsrpt-txt-multiple-records`, or the `rua` error above): one per condition.
            TlsRptOutcome::Invalid(e) => ("invalid", Vec::new(), Some(e)),
            TlsRptOutcome::Multiple(_) => ("multiple", Vec::new(), None),
        }
    };
    if tlsrpt_v == "valid" && !has_sts {
        findings.push(Finding::new(
            "tlsrpt-without-sts",
            Severity::Info,
            "TLS-RPT is published without MTA-STS",
        ));
    }

    let policy_usable = sts_txt == "valid"
        && policy_fetch == "ok"
        && policy_cert.as_deref() == Some("valid")
        && policy_valid == Some(true);

    DomainAssessment {
        sts_txt,
        sts_id,
        sts_txt_error,
        policy_fetch,
        policy_cert,
        policy: parse,
        mx_kind,
        mx_hosts,
        tlsrpt: tlsrpt_v,
        tlsrpt_rua,
        tlsrpt_error,
        policy_usable,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(records: &[&str]) -> Vec<Vec<Vec<u8>>> {
        records
            .iter()
            .map(|r| vec![r.as_bytes().to_vec()])
            .collect()
    }

    /// An MX lookup answered NXDOMAIN.
    fn no_mx() -> MxClass {
        classify_mx(
            "d.test",
            MxAnswer {
                status: DnsStatus::NxDomain,
                records: &[],
                apex_address: None,
            },
        )
    }

    /// A domain with these `_mta-sts` and `_smtp._tls` TXT records (NODATA when none), no MX
    /// (NXDOMAIN) and no policy fetch.
    fn records_only(sts: &[&str], rpt: &[&str]) -> DomainAssessment {
        let (sts, rpt) = (txt(sts), txt(rpt));
        let answer = |records| TxtAnswer {
            status: if Vec::is_empty(records) {
                DnsStatus::NoData
            } else {
                DnsStatus::NoError
            },
            records,
        };
        assess(
            "d.test",
            answer(&sts),
            answer(&rpt),
            no_mx(),
            PolicyAnswer::NotAttempted,
        )
    }

    /// A domain with `sts` as its `_mta-sts` TXT records (NoData when empty), no TLS-RPT
    /// record, no MX (NXDOMAIN) and the policy answer `fetch`.
    fn with_sts(sts: &[&str], fetch: PolicyAnswer<'_>) -> DomainAssessment {
        let sts = txt(sts);
        assess(
            "d.test",
            TxtAnswer {
                status: if sts.is_empty() {
                    DnsStatus::NoData
                } else {
                    DnsStatus::NoError
                },
                records: &sts,
            },
            TxtAnswer {
                status: DnsStatus::NoData,
                records: &[],
            },
            no_mx(),
            fetch,
        )
    }

    const BODY: &[u8] = b"version: STSv1\r\nmode: enforce\r\nmx: *.mail.test\r\nmax_age: 86400\r\n";

    fn fetched<'a>(body: &'a [u8], cert: &'a str) -> PolicyAnswer<'a> {
        PolicyAnswer::Fetched {
            outcome: "ok",
            http_status: Some(200),
            content_type: Some("text/plain"),
            body: Some(body),
            cert: Some(cert),
        }
    }

    #[test]
    fn usable_policy_and_matches() {
        let sts = txt(&["v=STSv1; id=20240101"]);
        let mxr = vec![
            (10, "a.mail.test".to_owned()),
            (20, "other.test".to_owned()),
        ];
        let a = assess(
            "d.test",
            TxtAnswer {
                status: DnsStatus::NoError,
                records: &sts,
            },
            TxtAnswer {
                status: DnsStatus::NxDomain,
                records: &[],
            },
            classify_mx(
                "d.test",
                MxAnswer {
                    status: DnsStatus::NoError,
                    records: &mxr,
                    apex_address: None,
                },
            ),
            fetched(BODY, "valid"),
        );
        assert_eq!(a.sts_txt, "valid");
        assert_eq!(a.sts_id.as_deref(), Some("20240101"));
        assert!(a.policy_usable);
        assert_eq!(a.mx_kind, "hosts");
        assert_eq!(a.policy_match("a.mail.test"), Some(true));
        assert_eq!(a.policy_match("other.test"), Some(false));
        assert_eq!(a.tlsrpt, "absent");
    }

    /// RFC 8461 §3.1: "If the number of resulting records is not one, or if the resulting
    /// record is syntactically invalid, senders MUST assume the recipient domain does not have
    /// an available MTA-STS Policy and skip the remaining steps of policy discovery."
    #[test]
    fn multiple_records_mean_no_policy() {
        let sts = txt(&["v=STSv1; id=1", "v=STSv1; id=2", "unrelated"]);
        let a = assess(
            "d.test",
            TxtAnswer {
                status: DnsStatus::NoError,
                records: &sts,
            },
            TxtAnswer {
                status: DnsStatus::NoData,
                records: &[],
            },
            classify_mx(
                "d.test",
                MxAnswer {
                    status: DnsStatus::NoData,
                    records: &[],
                    apex_address: Some(DnsStatus::NoError),
                },
            ),
            fetched(BODY, "valid"),
        );
        assert_eq!(a.sts_txt, "multiple");
        assert!(!a.policy_usable);
        assert_eq!(a.mx_kind, "implicit");
        assert_eq!(a.mx_hosts.len(), 1);
        // One finding for the one problem (the records core's).
        let rrset: Vec<_> = a
            .findings
            .iter()
            .filter(|f| f.code.starts_with("sts-txt"))
            .collect();
        assert_eq!(rrset.len(), 1, "{rrset:?}");
        assert_eq!(rrset[0].code, "sts-txt-multiple-records");
        assert_eq!(rrset[0].severity, Severity::Error);
    }

    /// One problem, one finding. RFC 8461 §3.1: "If the number of resulting records is not
    /// one, or if the resulting record is syntactically invalid, senders MUST assume the
    /// recipient domain does not have an available MTA-STS Policy"; RFC 8460 §3: "If the
    /// number of resulting records is not one, senders MUST assume the recipient domain does
    /// not implement TLSRPT." Each case is a record useless to a sender (`error`), said once,
    /// with the parse error's sentence in the message.
    #[test]
    fn an_rrset_problem_is_one_error_finding() {
        for (sts, rpt, code, says) in [
            (&["v=STSv1;"][..], &[][..], "sts-txt-invalid-record", "id"),
            (
                &["v=STSv1; id=1", "v=STSv1; id=2"][..],
                &[][..],
                "sts-txt-multiple-records",
                "2 records",
            ),
            (
                &[][..],
                &["v=TLSRPTv1;"][..],
                "tlsrpt-txt-invalid-record",
                "rua",
            ),
            (
                &[][..],
                &[
                    "v=TLSRPTv1; rua=mailto:a@d.test",
                    "v=TLSRPTv1; rua=mailto:b@d.test",
                ][..],
                "tlsrpt-txt-multiple-records",
                "2 records",
            ),
        ] {
            let a = records_only(sts, rpt);
            let codes: Vec<_> = a.findings.iter().map(|f| (f.code, f.severity)).collect();
            assert_eq!(codes, vec![(code, Severity::Error)], "{sts:?} {rpt:?}");
            assert!(
                a.findings[0].message.contains(says),
                "{}",
                a.findings[0].message
            );
        }
    }

    /// Regression (e2e grading): RFC 8460 §3 — "Two URI schemes are supported: "mailto" and
    /// "https"." and, in the ABNF, "commas (ASCII 0x2C), exclamation points (ASCII 0x21), and
    /// semicolons (ASCII 0x3B) MUST be encoded". A record whose only URI breaks either rule was
    /// graded `valid`.
    #[test]
    fn tlsrpt_http_scheme_or_unencoded_bang_is_invalid() {
        let rpt_of = |record: &str| records_only(&[], &[record]);
        for (record, code) in [
            (
                "v=TLSRPTv1; rua=http://r.d.test/x",
                "tlsrpt-txt-http-scheme",
            ),
            (
                "v=TLSRPTv1; rua=mailto:tlsrpt@d.test!10m",
                "tlsrpt-txt-unencoded-bang",
            ),
        ] {
            let a = rpt_of(record);
            assert_eq!(a.tlsrpt, "invalid", "{record}");
            assert!(a.tlsrpt_rua.is_empty());
            assert_eq!(a.tlsrpt_error.as_ref().map(|e| e.code), Some(code));
            // One error finding, the URI's: nothing restates it.
            let rpt: Vec<_> = a
                .findings
                .iter()
                .filter(|f| f.code.starts_with("tlsrpt"))
                .collect();
            assert_eq!(rpt.len(), 1, "{record}: {rpt:?}");
            assert_eq!((rpt[0].code, rpt[0].severity), (code, Severity::Error));
        }
        // Percent-encoded, both schemes: valid.
        let a = rpt_of("v=TLSRPTv1; rua=mailto:tlsrpt@d.test%2110m,https://r.d.test/x");
        assert_eq!(a.tlsrpt, "valid");
        assert_eq!(a.tlsrpt_rua.len(), 2);
    }

    #[test]
    fn failures_are_kept_apart() {
        let a = assess(
            "d.test",
            TxtAnswer {
                status: DnsStatus::ServFail,
                records: &[],
            },
            TxtAnswer {
                status: DnsStatus::Timeout,
                records: &[],
            },
            no_mx(),
            PolicyAnswer::NotAttempted,
        );
        assert_eq!(a.sts_txt, "lookup-failed");
        assert_eq!(a.tlsrpt, "lookup-failed");
        assert_eq!(a.mx_kind, "none");
        assert_eq!(a.policy_fetch, "not-attempted");
        let sts = txt(&["v=STSv1; id=1"]);
        let a = assess(
            "d.test",
            TxtAnswer {
                status: DnsStatus::NoError,
                records: &sts,
            },
            TxtAnswer {
                status: DnsStatus::NoData,
                records: &[],
            },
            classify_mx(
                "d.test",
                MxAnswer {
                    status: DnsStatus::NoData,
                    records: &[],
                    apex_address: Some(DnsStatus::NoData),
                },
            ),
            PolicyAnswer::HostLookup {
                status: DnsStatus::NxDomain,
                refused: false,
            },
        );
        assert_eq!(a.policy_fetch, "host-not-found");
        assert_eq!(a.mx_kind, "none");
        assert!(
            a.findings
                .iter()
                .any(|f| f.code == "txt-without-policy-host")
        );
    }

    /// RFC 2308 §2.2: "It is possible to distinguish between a NODATA and a referral response
    /// by the presence of a SOA record in the authority section or the absence of NS records
    /// in the authority section." A referral (a resolver that does not recurse) says nothing
    /// about the name: every lookup it answers failed, none is an absence.
    #[test]
    fn a_referral_is_a_failed_lookup_not_an_absence() {
        let referral = TxtAnswer {
            status: DnsStatus::Referral,
            records: &[],
        };
        let mx = classify_mx(
            "d.test",
            MxAnswer {
                status: DnsStatus::Referral,
                records: &[],
                apex_address: None,
            },
        );
        assert_eq!(mx.kind, "lookup-failed");
        assert!(mx.findings.iter().any(|f| f.code == "mx-lookup-failed"));
        let implicit = classify_mx(
            "d.test",
            MxAnswer {
                status: DnsStatus::NoData,
                records: &[],
                apex_address: Some(DnsStatus::Referral),
            },
        );
        assert_eq!(implicit.kind, "lookup-failed");
        let a = assess(
            "d.test",
            referral,
            referral,
            mx,
            PolicyAnswer::HostLookup {
                status: DnsStatus::Referral,
                refused: false,
            },
        );
        assert_eq!(a.sts_txt, "lookup-failed");
        assert_eq!(a.tlsrpt, "lookup-failed");
        assert_eq!(a.mx_kind, "lookup-failed");
        assert_eq!(a.policy_fetch, "dns-error");
    }

    /// RFC 8461 §3.3 requires the Policy Host's certificate to be valid for the "mta-sts" name,
    /// chain to a trusted root CA and be non-expired, so a bad certificate makes the policy
    /// unusable even when the body is valid.
    #[test]
    fn bad_policy_cert_is_unusable() {
        let sts = txt(&["v=STSv1; id=1"]);
        let a = assess(
            "d.test",
            TxtAnswer {
                status: DnsStatus::NoError,
                records: &sts,
            },
            TxtAnswer {
                status: DnsStatus::NoData,
                records: &[],
            },
            classify_mx(
                "d.test",
                MxAnswer {
                    status: DnsStatus::NoData,
                    records: &[],
                    apex_address: Some(DnsStatus::NoData),
                },
            ),
            fetched(BODY, "expired"),
        );
        assert_eq!(a.policy.as_ref().map(PolicyParse::is_valid), Some(true));
        assert!(!a.policy_usable);
        assert!(a.findings.iter().any(|f| f.code == "policy-cert-invalid"));
        assert_eq!(a.policy_failure(), Some("sts-webpki-invalid"));
        assert!(
            a.findings
                .iter()
                .any(|f| f.code == "policy-on-non-mail-domain")
        );
    }

    /// RFC 8460 §4.3.2.2: "sts-webpki-invalid: This indicates that the MTA-STS Policy could
    /// not be authenticated using PKIX validation." A handshake with a certificate that does
    /// not validate comes first even when the response after it was no 200: a sender
    /// validating PKIX stops at the handshake and never sees the response.
    #[test]
    fn a_bad_policy_certificate_outranks_the_response_after_it() {
        let with = |cert: Option<&'static str>| {
            with_sts(
                &["v=STSv1; id=1"],
                PolicyAnswer::Fetched {
                    outcome: "http-status",
                    http_status: Some(404),
                    content_type: None,
                    body: None,
                    cert,
                },
            )
        };
        assert_eq!(
            with(Some("expired")).policy_failure(),
            Some("sts-webpki-invalid")
        );
        assert_eq!(
            with(Some("valid")).policy_failure(),
            Some("sts-policy-fetch-error")
        );
        assert_eq!(with(None).policy_failure(), Some("sts-policy-fetch-error"));
    }

    /// RFC 8461 §3.3 concerns a sender that found a valid TXT record ("If a valid TXT record
    /// is found but no policy can be fetched ..."). Under `--fetch-policy always`, a domain
    /// without one has no policy host to fix: its failed fetch is in the columns, not an
    /// error finding, and a broken policy file there is a warning.
    #[test]
    fn without_a_record_the_policy_host_is_nothing_to_fix() {
        let none = |fetch| with_sts(&[], fetch);
        let errors = |a: &DomainAssessment| -> Vec<&str> {
            a.findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.code)
                .collect()
        };
        for fetch in [
            PolicyAnswer::HostLookup {
                status: DnsStatus::NxDomain,
                refused: false,
            },
            PolicyAnswer::HostLookup {
                status: DnsStatus::ServFail,
                refused: false,
            },
            PolicyAnswer::Fetched {
                outcome: "redirect",
                http_status: Some(301),
                content_type: None,
                body: None,
                cert: Some("expired"),
            },
            fetched(b"version: STSv1\nmode: sometimes\n", "valid"),
        ] {
            let a = none(fetch);
            assert_eq!(errors(&a), Vec::<&str>::new(), "{:?}", a.findings);
            assert_eq!(a.policy_failure(), None);
        }
        let a = none(fetched(b"version: STSv1\nmode: sometimes\n", "valid"));
        assert!(
            a.findings
                .iter()
                .any(|f| f.code == "policy-invalid" && f.severity == Severity::Warning)
        );
    }

    /// Every address of the policy host refused by the scan's safety rule (private, or on the
    /// operator's blocklist) is a warning, not an error the domain must fix: `stsscan check`
    /// printed "[error] policy-fetch-failed" above "Every requirement is met".
    #[test]
    fn a_refused_policy_host_address_is_a_warning() {
        let a = with_sts(
            &["v=STSv1; id=1"],
            PolicyAnswer::HostLookup {
                status: DnsStatus::NoError,
                refused: true,
            },
        );
        assert_eq!(a.policy_fetch, "address-refused");
        let f = policy_findings(&a);
        assert_eq!(f, [("policy-host-address-refused", Severity::Warning)]);
    }

    /// The `policy-*` findings of an assessment, as (code, severity).
    fn policy_findings(a: &DomainAssessment) -> Vec<(&'static str, Severity)> {
        a.findings
            .iter()
            .filter(|f| f.code.starts_with("policy"))
            .map(|f| (f.code, f.severity))
            .collect()
    }

    /// A policy host on the operator's `--exclude` list was not contacted: the policy is
    /// unknown, so no RFC 8460 result (RFC 8460 §4.3.1: "sts-policy-fetch-error: This
    /// indicates a failure to retrieve an MTA-STS policy", and no retrieval was tried) and no
    /// error, only an info.
    #[test]
    fn an_excluded_policy_host_is_unknown_not_failing() {
        let a = with_sts(&["v=STSv1; id=1"], PolicyAnswer::Excluded);
        assert_eq!(a.policy_fetch, "excluded");
        assert!(!a.policy_usable);
        assert_eq!(a.policy_failure(), None);
        let f = policy_findings(&a);
        assert_eq!(f, [("policy-host-excluded", Severity::Info)]);
    }

    /// A valid TXT record whose policy the scan did not fetch (`--fetch-policy never`) has no
    /// RFC 8460 result: a policy a sender failed to fetch is `sts-policy-fetch-error`, and
    /// here no fetch was tried. The host lookup that failed is one.
    #[test]
    fn an_unfetched_policy_is_no_fetch_error() {
        let with = |answer| with_sts(&["v=STSv1; id=1"], answer);
        let a = with(PolicyAnswer::NotAttempted);
        assert_eq!(a.sts_txt, "valid");
        assert_eq!(a.policy_fetch, "not-attempted");
        assert!(!a.policy_usable);
        assert_eq!(a.policy_failure(), None);
        let a = with(PolicyAnswer::HostLookup {
            status: DnsStatus::NxDomain,
            refused: false,
        });
        assert_eq!(a.policy_failure(), Some("sts-policy-fetch-error"));
    }
}
