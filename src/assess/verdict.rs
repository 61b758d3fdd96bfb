//! Domain-level verdicts derived from per-record results: is the policy usable, is every MX
//! covered, would an RFC 8461 sender deliver under `enforce`, and which RFC 8460 result type
//! explains a failure. Pure functions of already-classified values; the classification of raw
//! observations happens in [`super::domain`].
//!
//! A host the scanner chose not to contact on the operator's word (its name on `--exclude`,
//! or an address of it on `--blocklist`: [`MxHostFacts::withheld`]) is unknown, never a
//! failure: when no other host decides deliverability, `enforce_deliverable` is null.

use crate::records::diag::{Finding, Severity};

/// Certificate verdict string for a good certificate (docs/ground-truth.md).
pub const CERT_VALID: &str = "valid";
/// SMTP outcome string for a completed STARTTLS session.
pub const SMTP_OK: &str = "ok";

/// Whether an undeliverable policy (`enforce_deliverable = false`) loses mail now, by the shape
/// of the MX set (`mx_kind`) and the policy's `mode`:
///
/// * a null MX: never. RFC 7505 (abstract) makes it the "mechanism by which a domain announces
///   that it accepts no mail", so nothing would have been delivered with or without the policy;
/// * no MX and no address (`none`): always, whatever the mode, since no sender can deliver;
/// * mail hosts: only under `enforce` (RFC 8461 §5: "Sending MTAs MUST NOT deliver the message
///   to hosts that fail MX matching or certificate validation or that do not support
///   STARTTLS"). Under `testing` "messages may be delivered as though there were no MTA-STS
///   validation failure", and under `none` senders treat the domain as without a policy. A
///   missing mode counts as `enforce`.
///
/// When it does not, the scan's `enforce-undeliverable` finding is a warning, `stsscan check`
/// marks it "worth fixing", the report does not list the domain as needing action for it and
/// `monitor`'s `delivery-broken` is a warning.
pub fn undeliverable_loses_mail(mx_kind: Option<&str>, mode: Option<&str>) -> bool {
    match mx_kind {
        Some("null") => false,
        Some("none") => true,
        _ => !matches!(mode, Some("testing" | "none")),
    }
}

/// What the scan saw of one MX host, reduced to what the verdicts need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHostFacts {
    /// The MX host name.
    pub host: String,
    /// Matches a pattern of the (valid) policy; `None` when there is no valid policy.
    pub policy_match: Option<bool>,
    /// Per address: the SMTP outcome and the certificate verdict for this host name.
    pub addresses: Vec<AddressFacts>,
    /// The scanner withheld contact on the operator's word: the host name is on `--exclude`
    /// (then `addresses` is empty: not even looked up), or an address is on `--blocklist`.
    /// What a sender would meet there is unknown, not failing.
    pub withheld: bool,
}

/// One probed (or unprobed) address of an MX host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFacts {
    /// SMTP outcome (docs/ground-truth.md), `None` when not probed.
    pub smtp: Option<String>,
    /// STARTTLS advertised.
    pub starttls: Option<bool>,
    /// Certificate verdict for the host name, when a handshake completed.
    pub cert: Option<String>,
    /// Plaintext was pipelined after `220` to STARTTLS.
    pub injection: Option<bool>,
}

impl AddressFacts {
    /// A sender could deliver securely here: TLS established and the certificate is valid for
    /// the MX name.
    pub fn secure(&self) -> bool {
        self.smtp.as_deref() == Some(SMTP_OK) && self.cert.as_deref() == Some(CERT_VALID)
    }
}

impl MxHostFacts {
    /// At least one address of the host was probed.
    pub fn probed(&self) -> bool {
        self.addresses.iter().any(|a| a.smtp.is_some())
    }

    /// Some address of the host accepts a secure session.
    pub fn secure(&self) -> bool {
        self.addresses.iter().any(AddressFacts::secure)
    }

    /// Every probed address advertised STARTTLS.
    pub fn starttls_everywhere(&self) -> Option<bool> {
        let probed: Vec<_> = self.addresses.iter().filter(|a| a.smtp.is_some()).collect();
        if probed.is_empty() {
            return None;
        }
        Some(probed.iter().all(|a| a.starttls == Some(true)))
    }

    /// Every address that completed a handshake presented a certificate valid for the name
    /// (None if none completed one).
    pub fn cert_valid_everywhere(&self) -> Option<bool> {
        let certs: Vec<_> = self
            .addresses
            .iter()
            .filter_map(|a| a.cert.as_deref())
            .collect();
        if certs.is_empty() {
            return None;
        }
        Some(certs.iter().all(|c| *c == CERT_VALID))
    }

    /// The RFC 8460 result type that a sender enforcing a policy would report for this host,
    /// or `None` if it could deliver securely.
    pub fn rfc8460_failure(&self) -> Option<&'static str> {
        if self.policy_match == Some(false) {
            return Some("validation-failure");
        }
        if self.secure() {
            return None;
        }
        // Report the failure of the first probed address, in address order.
        let a = self.addresses.iter().find(|a| a.smtp.is_some())?;
        Some(address_failure(a))
    }
}

/// The RFC 8460 §4.3 result type for an address that is not secure.
pub fn address_failure(a: &AddressFacts) -> &'static str {
    match a.smtp.as_deref() {
        Some("starttls-not-offered") | Some("starttls-refused") => "starttls-not-supported",
        Some(SMTP_OK) => match a.cert.as_deref() {
            Some("expired") => "certificate-expired",
            Some("name-mismatch") => "certificate-host-mismatch",
            Some("self-signed") | Some("untrusted") | Some("incomplete-chain") => {
                "certificate-not-trusted"
            }
            _ => "validation-failure",
        },
        _ => "validation-failure",
    }
}

/// Findings about one MX host (codes documented in `docs/schema.md`):
///
/// | code | severity | meaning |
/// |---|---|---|
/// | `mx-is-cname` | warning | the MX target is an alias (RFC 2181 §10.3: it "must not be an alias") |
/// | `mx-not-covered` | error under `enforce`, else warning | the host matches no pattern of the policy: senders will not deliver to it |
/// | `mx-starttls-missing` | warning | an address of the host does not offer STARTTLS |
/// | `mx-cert-invalid` | warning | an address presented a certificate not valid for the host name |
/// | `starttls-injection` | warning | the server sent plaintext after `220` to STARTTLS (the command-injection class) |
pub fn host_findings(h: &MxHostFacts, is_cname: bool, mode: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    if is_cname {
        out.push(Finding::new(
            "mx-is-cname",
            Severity::Warning,
            format!(
                "MX host {} is an alias (CNAME); RFC 2181 §10.3 forbids it",
                h.host
            ),
        ));
    }
    if h.policy_match == Some(false) {
        let sev = if mode == Some("enforce") {
            Severity::Error
        } else {
            Severity::Warning
        };
        out.push(Finding::new(
            "mx-not-covered",
            sev,
            format!("MX host {} matches no mx pattern of the policy", h.host),
        ));
    }
    if h.addresses.iter().any(|a| {
        matches!(
            a.smtp.as_deref(),
            Some("starttls-not-offered") | Some("starttls-refused")
        )
    }) {
        out.push(Finding::new(
            "mx-starttls-missing",
            Severity::Warning,
            format!(
                "MX host {} does not offer STARTTLS on every address",
                h.host
            ),
        ));
    }
    if let Some(bad) = h
        .addresses
        .iter()
        .filter_map(|a| a.cert.as_deref())
        .find(|c| *c != CERT_VALID)
    {
        out.push(Finding::new(
            "mx-cert-invalid",
            Severity::Warning,
            format!(
                "MX host {} presents a certificate that is not valid for it ({bad})",
                h.host
            ),
        ));
    }
    if h.addresses.iter().any(|a| a.injection == Some(true)) {
        out.push(Finding::new(
            "starttls-injection",
            Severity::Warning,
            format!(
                "MX host {} sent plaintext after 220 to STARTTLS (STARTTLS command injection)",
                h.host
            ),
        ));
    }
    out
}

/// Summary verdicts over all MX hosts of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MxSummary {
    /// Every MX host matches a policy pattern (None without a valid policy or without MX).
    pub all_covered: Option<bool>,
    /// Every probed MX address advertised STARTTLS (None if nothing was probed).
    pub all_starttls: Option<bool>,
    /// Every MX host that completed a handshake presented a valid certificate for its name.
    pub all_cert_valid: Option<bool>,
    /// When the policy is usable: an RFC 8461 sender treating it as `enforce` finds at least
    /// one MX host that matches the policy and accepts a secure session.
    pub enforce_deliverable: Option<bool>,
    /// Why such a sender fails (RFC 8460 result type), when it does.
    pub rfc8460_result: Option<&'static str>,
}

/// Computes the [`MxSummary`] of a domain. `policy_usable` is the docs/ground-truth.md
/// definition (valid TXT, fetched, valid certificate, valid policy); `probed` says whether the
/// MX hosts are known and were probed (`--probe none`, or a failed MX lookup, leaves
/// deliverability unknown). Without a host that matches and accepts a secure session,
/// deliverability is also unknown when a matching host was [`withheld`](MxHostFacts::withheld).
pub fn summarize(hosts: &[MxHostFacts], policy_usable: bool, probed: bool) -> MxSummary {
    let all_covered = if hosts.is_empty() {
        None
    } else {
        hosts
            .iter()
            .map(|h| h.policy_match)
            .collect::<Option<Vec<bool>>>()
            .map(|v| v.iter().all(|m| *m))
    };
    let all_starttls = fold_all(hosts.iter().map(MxHostFacts::starttls_everywhere));
    let all_cert_valid = fold_all(hosts.iter().map(MxHostFacts::cert_valid_everywhere));
    let (enforce_deliverable, rfc8460_result) = if !policy_usable || !probed {
        (None, None)
    } else if hosts
        .iter()
        .any(|h| h.policy_match == Some(true) && h.secure())
    {
        (Some(true), None)
    } else if hosts
        .iter()
        .any(|h| h.withheld && h.policy_match != Some(false))
    {
        (None, None)
    } else {
        // Explain with the most-preferred host's failure; hosts are in preference order.
        let why = hosts
            .iter()
            .find_map(MxHostFacts::rfc8460_failure)
            .unwrap_or("validation-failure");
        (Some(false), Some(why))
    };
    MxSummary {
        all_covered,
        all_starttls,
        all_cert_valid,
        enforce_deliverable,
        rfc8460_result,
    }
}

fn fold_all(values: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut any = false;
    for v in values.flatten() {
        any = true;
        if !v {
            return Some(false);
        }
    }
    any.then_some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7505 (abstract), RFC 8461 §5: see [`undeliverable_loses_mail`].
    #[test]
    fn undeliverable_loses_mail_by_mx_set_and_mode() {
        for (kind, mode, loses) in [
            (Some("hosts"), Some("enforce"), true),
            (Some("hosts"), Some("testing"), false),
            (Some("hosts"), Some("none"), false),
            (Some("hosts"), None, true),
            (Some("implicit"), Some("enforce"), true),
            (Some("implicit"), Some("testing"), false),
            (Some("null"), Some("enforce"), false),
            (Some("null"), Some("testing"), false),
            (Some("none"), Some("enforce"), true),
            (Some("none"), Some("testing"), true),
            (None, Some("enforce"), true),
        ] {
            assert_eq!(
                undeliverable_loses_mail(kind, mode),
                loses,
                "{kind:?} {mode:?}"
            );
        }
    }

    fn host(name: &str, m: Option<bool>, smtp: &str, cert: Option<&str>) -> MxHostFacts {
        MxHostFacts {
            host: name.into(),
            policy_match: m,
            addresses: vec![AddressFacts {
                smtp: Some(smtp.into()),
                starttls: Some(smtp != "starttls-not-offered"),
                cert: cert.map(str::to_owned),
                injection: None,
            }],
            withheld: false,
        }
    }

    /// RFC 8461 §5: under "enforce" "Sending MTAs MUST NOT deliver the message to hosts that
    /// fail MX matching or certificate validation or that do not support STARTTLS". A host
    /// the scanner did not contact on the operator's word (`--exclude`, `--blocklist`) was not
    /// seen to fail any of these: with no other host to decide, deliverability is unknown,
    /// not `false` with an `enforce-undeliverable` error.
    #[test]
    fn a_withheld_host_leaves_deliverability_unknown() {
        let excluded = MxHostFacts {
            host: "mx1.optedout.example".into(),
            policy_match: Some(true),
            addresses: Vec::new(),
            withheld: true,
        };
        let s = summarize(std::slice::from_ref(&excluded), true, true);
        assert_eq!((s.enforce_deliverable, s.rfc8460_result), (None, None));
        assert_eq!((s.all_starttls, s.all_cert_valid), (None, None));
        assert_eq!(excluded.rfc8460_failure(), None);
        // a blocklisted address beside a failing one: unknown too
        let mut blocked = host("b", Some(true), "starttls-not-offered", None);
        blocked.addresses.push(AddressFacts {
            smtp: None,
            starttls: None,
            cert: None,
            injection: None,
        });
        blocked.withheld = true;
        assert_eq!(summarize(&[blocked], true, true).enforce_deliverable, None);
        // another host decides: it delivers, or (withheld host unmatched) nothing does
        let good = host("c", Some(true), "ok", Some("valid"));
        let s = summarize(&[excluded.clone(), good], true, true);
        assert_eq!(s.enforce_deliverable, Some(true));
        let unmatched = MxHostFacts {
            policy_match: Some(false),
            ..excluded
        };
        let bad = host("d", Some(true), "ok", Some("expired"));
        let s = summarize(&[unmatched, bad], true, true);
        assert_eq!(s.enforce_deliverable, Some(false));
        assert_eq!(s.rfc8460_result, Some("validation-failure"));
    }

    /// RFC 8461 §5: ""enforce": In this mode, Sending MTAs MUST NOT deliver the message to
    /// hosts that fail MX matching or certificate validation or that do not support STARTTLS."
    /// — so delivery needs one MX that both matches and validates.
    #[test]
    fn deliverable_needs_a_matching_and_valid_mx() {
        let hs = vec![
            host("a", Some(false), "ok", Some("valid")),
            host("b", Some(true), "ok", Some("expired")),
        ];
        let s = summarize(&hs, true, true);
        assert_eq!(s.enforce_deliverable, Some(false));
        assert_eq!(s.rfc8460_result, Some("validation-failure"));
        assert_eq!(s.all_covered, Some(false));
        assert_eq!(s.all_cert_valid, Some(false));
        let hs = vec![
            host("b", Some(true), "ok", Some("expired")),
            host("c", Some(true), "ok", Some("valid")),
        ];
        let s = summarize(&hs, true, true);
        assert_eq!(s.enforce_deliverable, Some(true));
        assert_eq!(s.rfc8460_result, None);
    }

    #[test]
    fn failure_types_follow_rfc8460() {
        let f = |smtp: &str, cert: Option<&str>| {
            address_failure(&AddressFacts {
                smtp: Some(smtp.into()),
                starttls: None,
                cert: cert.map(str::to_owned),
                injection: None,
            })
        };
        assert_eq!(f("starttls-not-offered", None), "starttls-not-supported");
        assert_eq!(f("ok", Some("expired")), "certificate-expired");
        assert_eq!(f("ok", Some("name-mismatch")), "certificate-host-mismatch");
        assert_eq!(f("ok", Some("self-signed")), "certificate-not-trusted");
        assert_eq!(f("handshake-failed", None), "validation-failure");
    }

    #[test]
    fn unknown_without_policy_or_probe() {
        let hs = vec![host("a", None, "ok", Some("valid"))];
        assert_eq!(summarize(&hs, false, true).enforce_deliverable, None);
        assert_eq!(summarize(&hs, true, false).enforce_deliverable, None);
        assert_eq!(summarize(&hs, false, true).all_covered, None);
        assert_eq!(summarize(&[], true, true).enforce_deliverable, Some(false));
    }
}
