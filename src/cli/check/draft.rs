//! `stsscan check DOMAIN --policy FILE`: a policy judged before it is published. The MX
//! hosts, their STARTTLS and their certificates are the live ones the check has just probed;
//! the policy is FILE, as if it were served at `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`.
//!
//! The verdicts are the scan's own — [`verdict::summarize`] and [`verdict::host_findings`] on
//! facts rebuilt from the MX rows with FILE's `mx` patterns, and [`undeliverable_loses_mail`]
//! for what a failure costs — so a draft is judged exactly as the published policy will be.
//! This module owns only that re-judgement and the steps of publishing (serve the file, then
//! publish or change the TXT id, RFC 8461 §3.1); the live requirements stay in
//! [`super::explain`]. It reads FILE, and nothing else.

use std::path::Path;

use anyhow::Context;

use super::{Check, Mark, check, with_detail};
use crate::assess::verdict::{self, AddressFacts, MxHostFacts, undeliverable_loses_mail};
use crate::output::{DomainRow, MxRow};
use crate::records::diag::Severity;
use crate::records::policy::{self, MAX_POLICY_BYTES, Mode, Policy};

/// Reads a draft policy: FILE, or standard input for `-`. A file larger than a policy may be
/// (RFC 8461 §3.2 bodies are small; the scanner refuses more than [`MAX_POLICY_BYTES`]) is read
/// only that far, and the parser reports it as too large.
pub fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    crate::cli::validate::read_input(path, MAX_POLICY_BYTES as u64 + 1).context("--policy")
}

/// The requirements a draft policy `body` (named `file` in the output) must meet before it is
/// published for the scanned domain `row` with MX rows `mx`. `probed` says whether the MX hosts
/// were probed (not with `--probe none`).
pub fn explain(row: &DomainRow, mx: &[MxRow], body: &[u8], file: &str, probed: bool) -> Vec<Check> {
    let d = row.domain.as_deref().unwrap_or("?");
    let mut out = Vec::new();
    let parsed = policy::parse(body);
    let Some(pol) = &parsed.policy else {
        let first = parsed
            .errors
            .first()
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_default();
        out.push(check(
            format!("{file} is a valid MTA-STS policy"),
            Mark::Fail,
            format!("invalid ({} error(s)); {first}", parsed.errors.len()),
            Some(&format!(
                "`stsscan validate policy {file}` shows every problem with its position"
            )),
        ));
        return out;
    };
    out.push(check(
        format!("{file} is a valid MTA-STS policy"),
        Mark::Pass,
        format!(
            "mode {}, max_age {}, mx {}",
            pol.mode.as_str(),
            pol.max_age,
            if pol.mx.is_empty() {
                "(none)".to_owned()
            } else {
                pol.mx
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        None,
    ));
    let warnings: Vec<&str> = parsed
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| f.code)
        .collect();
    if !warnings.is_empty() {
        out.push(check(
            format!("{file} has nothing worth fixing"),
            Mark::Warn,
            warnings.join(", "),
            Some(&format!(
                "`stsscan validate policy {file}` explains each warning"
            )),
        ));
    }
    hosts(row, mx, pol, probed, &mut out);
    publishing(row, pol, d, &mut out);
    out
}

/// Coverage of each live MX host by the draft's patterns, patterns that cover none, and
/// whether a sender enforcing the draft could deliver.
fn hosts(row: &DomainRow, mx: &[MxRow], pol: &Policy, probed: bool, out: &mut Vec<Check>) {
    let mode = pol.mode.as_str();
    let names: Vec<&str> = row
        .mx_hosts
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    let mx_kind = row.mx_kind.as_deref();
    if mx_kind == Some("lookup-failed") {
        out.push(check(
            "the MX hosts are known",
            Mark::Fail,
            format!(
                "the MX lookup failed ({}), so the draft cannot be judged against them",
                row.mx_dns.as_deref().unwrap_or("?")
            ),
            Some("make the DNS servers answer MX queries, then check again"),
        ));
        return;
    }
    let mut facts = Vec::with_capacity(names.len());
    for h in &names {
        let pattern = pol.mx.iter().find(|p| p.matches(h));
        let covered = pattern.is_some();
        if pol.mode != Mode::None {
            out.push(match pattern {
                Some(p) => check(
                    format!("MX {h} is listed in the draft"),
                    Mark::Pass,
                    format!("matches mx: {p}"),
                    None,
                ),
                None => check(
                    format!("MX {h} is listed in the draft"),
                    // RFC 8461 §5: under enforce senders "MUST NOT deliver the message to hosts
                    // that fail MX matching"; under testing they deliver and report.
                    if pol.mode == Mode::Enforce {
                        Mark::Fail
                    } else {
                        Mark::Warn
                    },
                    "matches no mx pattern of the draft",
                    Some(&add_pattern(h)),
                ),
            });
        }
        let addresses = mx
            .iter()
            .filter(|r| r.mx_host == *h && r.address.is_some())
            .map(|r| AddressFacts {
                smtp: r.smtp.clone(),
                starttls: r.starttls,
                cert: r.mx_cert.clone(),
                injection: r.starttls_injection,
            })
            .collect();
        // Withheld on the operator's word (`--exclude`, or an address on `--blocklist`), as
        // the scanner decides it: unknown, never failing.
        let withheld = mx.iter().filter(|r| r.mx_host == *h).any(|r| {
            r.mx_excluded == Some(true) || r.address_refused.as_deref() == Some("blocklisted")
        });
        facts.push(MxHostFacts {
            host: (*h).to_owned(),
            policy_match: Some(covered),
            withheld,
            addresses,
        });
    }
    if pol.mode != Mode::None {
        for p in &pol.mx {
            if !names.iter().any(|h| p.matches(h)) && !names.is_empty() {
                out.push(check(
                    format!("mx: {p} names a current MX host"),
                    Mark::Warn,
                    "matches none of the domain's MX hosts",
                    Some("remove it, unless it is for a host about to be added to the MX set"),
                ));
            }
        }
    }
    // The same summary the scan computes for a published policy (RFC 8461 §5).
    let summary = verdict::summarize(&facts, true, probed);
    match summary.enforce_deliverable {
        None => out.push(check(
            "a sender enforcing the draft can deliver",
            Mark::Skip,
            if probed {
                "unknown: a listed MX host was not contacted (--exclude or --blocklist)"
            } else {
                "not judged: the MX hosts were not probed"
            },
            None,
        )),
        Some(true) => {
            let via = facts
                .iter()
                .find(|f| f.policy_match == Some(true) && f.secure())
                .map_or("?", |f| f.host.as_str());
            out.push(check(
                "a sender enforcing the draft can deliver",
                Mark::Pass,
                format!("{via} is listed and accepts a valid TLS session"),
                None,
            ));
        }
        Some(false) => {
            let result = summary.rfc8460_result.unwrap_or("validation-failure");
            let mark = if undeliverable_loses_mail(mx_kind, Some(mode)) {
                Mark::Fail
            } else {
                Mark::Warn
            };
            let (observed, fix) = match mx_kind {
                Some("null") => (
                    "the domain publishes a null MX (RFC 7505) and accepts no mail".to_owned(),
                    "publish no policy, or mode: none, for a domain that receives no mail",
                ),
                Some("none") => (
                    "the domain has no MX and no address: no sender can deliver to it".to_owned(),
                    "publish MX records for the hosts the draft lists before publishing it",
                ),
                _ if mark == Mark::Warn => (
                    format!(
                        "no listed MX host accepts a valid TLS session ({result}); under mode: {mode} senders deliver anyway and report it"
                    ),
                    "fix the MX hosts (see the checks above) before switching the draft to mode: enforce",
                ),
                _ if !facts.iter().any(|f| f.policy_match == Some(true)) => (
                    "the draft lists none of the MX hosts: publishing it stops delivery".to_owned(),
                    "list the MX hosts in `mx:` lines (see the checks above)",
                ),
                _ => (
                    format!(
                        "no listed MX host accepts a valid TLS session ({result}): publishing the draft stops delivery"
                    ),
                    "fix the MX hosts (see the checks above) first, or publish the draft with mode: testing",
                ),
            };
            out.push(check(
                "a sender enforcing the draft can deliver",
                mark,
                observed,
                Some(fix),
            ));
        }
    }
    // What else a sender would report under the draft, host by host (the scan's findings).
    for f in &facts {
        for finding in verdict::host_findings(f, false, Some(mode)) {
            if finding.code == "mx-not-covered" {
                continue; // shown above, with its fix
            }
            out.push(check(
                format!("MX {} is ready for the draft", f.host),
                Mark::Warn,
                with_detail(finding.code, Some(&finding.message)),
                Some("the live checks above say what to change on this host"),
            ));
        }
    }
}

/// The fix for an MX host the draft does not list: its own pattern, or the wildcard of its
/// parent when the parent has two labels or more (RFC 8461 §4.1: "the wildcard character '*'
/// may only be used to match the entire left-most label in the presented identifier").
fn add_pattern(host: &str) -> String {
    match host.split_once('.') {
        Some((_, parent)) if parent.contains('.') => format!(
            "add `mx: {host}` (or `mx: *.{parent}`, which covers every host one label below {parent})"
        ),
        _ => format!("add `mx: {host}`"),
    }
}

/// The steps that make the draft the policy senders use: it must be served where senders
/// fetch it, and the TXT id must be published or changed after that (RFC 8461 §3.1).
fn publishing(row: &DomainRow, pol: &Policy, d: &str, out: &mut Vec<Check>) {
    let url = format!("https://mta-sts.{d}/.well-known/mta-sts.txt");
    let fetch = row.policy_fetch.as_deref().unwrap_or("not-attempted");
    let requirement = format!("mta-sts.{d} can serve the draft");
    out.push(match row.policy_cert.as_deref() {
        // The handshake completed: the host is ready, whatever it serves at the URL today.
        Some("valid") => check(
            requirement,
            Mark::Pass,
            format!("mta-sts.{d} answers HTTPS with a valid certificate (the URL today: {fetch})"),
            None,
        ),
        Some(cert) => check(
            requirement,
            Mark::Fail,
            with_detail(&format!("certificate {cert}"), row.policy_cert_detail.as_deref()),
            Some("install a certificate from a public CA whose subjectAltName covers mta-sts.DOMAIN, with its intermediates"),
        ),
        None if fetch == "not-attempted" => check(requirement, Mark::Skip, "not checked", None),
        None => check(
            requirement,
            Mark::Warn,
            format!("no HTTPS session with mta-sts.{d} ({fetch}); the live check above says why"),
            Some(&format!("serve the draft at {url} over HTTPS, with a certificate valid for mta-sts.DOMAIN, as text/plain")),
        ),
    });
    let live = row
        .policy_body
        .as_deref()
        .map(|b| policy::parse(b.as_bytes()))
        .and_then(|p| p.policy);
    let txt = row.sts_txt.as_deref();
    let id = row.sts_id.as_deref().unwrap_or("");
    if txt == Some("valid") && live.as_ref() == Some(pol) {
        out.push(check(
            "the draft is what senders see",
            Mark::Pass,
            format!("it is the policy served now (id {id})"),
            None,
        ));
    } else if txt == Some("valid") {
        // RFC 8461 §3.1: the id "MUST uniquely identify a given instance of a policy, such
        // that senders can determine when the policy has been updated".
        out.push(check(
            "the draft is what senders see",
            Mark::Warn,
            format!("the TXT id is {id}; senders keep their cached policy until the id changes"),
            Some(&format!(
                "after the draft is served, change the id of _mta-sts.{d} (e.g. id={})",
                chrono::Utc::now().format("%Y%m%dT%H%M%S")
            )),
        ));
    } else {
        out.push(check(
            "the draft is what senders see",
            Mark::Warn,
            format!(
                "_mta-sts.{d} has no valid v=STSv1 TXT record ({}), so senders do not fetch a policy",
                txt.unwrap_or("absent")
            ),
            Some(&format!(
                "after the draft is served, publish _mta-sts.{d} TXT \"v=STSv1; id={}\"",
                chrono::Utc::now().format("%Y%m%dT%H%M%S")
            )),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(mx_hosts: &[&str]) -> DomainRow {
        DomainRow {
            domain: Some("example.com".into()),
            mx_kind: Some("mx".into()),
            mx_dns: Some("noerror".into()),
            mx_hosts: Some(mx_hosts.iter().map(|h| (*h).to_owned()).collect()),
            sts_txt: Some("absent".into()),
            policy_fetch: Some("not-attempted".into()),
            ..DomainRow::default()
        }
    }

    fn secure(host: &str) -> MxRow {
        MxRow {
            mx_host: host.into(),
            address: Some("192.0.2.1".into()),
            smtp: Some("ok".into()),
            starttls: Some(true),
            mx_cert: Some("valid".into()),
            starttls_injection: Some(false),
            ..MxRow::default()
        }
    }

    /// The "what senders see" step, which must be worth fixing with a fix containing `fix`.
    fn step_says(checks: &[Check], fix: &str) {
        let step = checks
            .iter()
            .find(|c| c.requirement == "the draft is what senders see");
        assert!(
            step.is_some_and(
                |s| s.mark == Mark::Warn && s.fix.as_deref().is_some_and(|f| f.contains(fix))
            ),
            "{step:?}"
        );
    }

    fn mark(checks: &[Check], requirement: &str) -> Mark {
        checks
            .iter()
            .find(|c| c.requirement.contains(requirement))
            .unwrap_or_else(|| panic!("no check {requirement:?} in {checks:#?}"))
            .mark
    }

    const ENFORCE: &[u8] = b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n";

    /// RFC 8461 §5, under enforce: "Sending MTAs MUST NOT deliver the message to hosts that
    /// fail MX matching or certificate validation or that do not support STARTTLS." A draft
    /// that leaves out a live MX host fails, naming it; under testing it is worth fixing.
    #[test]
    fn a_draft_missing_an_mx_host_fails_under_enforce() {
        let r = row(&["mx1.example.com", "mx2.example.com"]);
        let mx = [secure("mx1.example.com"), secure("mx2.example.com")];
        let c = explain(&r, &mx, ENFORCE, "draft.txt", true);
        assert_eq!(mark(&c, "draft.txt is a valid"), Mark::Pass);
        assert_eq!(mark(&c, "MX mx1.example.com is listed"), Mark::Pass);
        assert_eq!(mark(&c, "MX mx2.example.com is listed"), Mark::Fail);
        // mx1 still takes the mail securely.
        assert_eq!(mark(&c, "can deliver"), Mark::Pass);
        // Under testing the same gap is worth fixing, not a failure.
        let testing = String::from_utf8_lossy(ENFORCE).replace("enforce", "testing");
        let c = explain(&r, &mx, testing.as_bytes(), "draft.txt", true);
        assert_eq!(mark(&c, "MX mx2.example.com is listed"), Mark::Warn);
    }

    /// RFC 8461 §5: "Sending MTAs MUST NOT deliver the message to hosts that fail MX matching
    /// or certificate validation or that do not support STARTTLS." When no listed host passes,
    /// publishing the draft under enforce stops mail.
    #[test]
    fn a_draft_whose_listed_hosts_are_insecure_is_undeliverable() {
        let r = row(&["mx1.example.com"]);
        let mut bad = secure("mx1.example.com");
        bad.mx_cert = Some("expired".into());
        let c = explain(&r, &[bad.clone()], ENFORCE, "d", true);
        assert_eq!(mark(&c, "can deliver"), Mark::Fail);
        let observed = &c
            .iter()
            .find(|c| c.requirement.contains("can deliver"))
            .map(|c| c.observed.clone());
        assert!(
            observed
                .as_deref()
                .is_some_and(|o| o.contains("certificate-expired")),
            "{observed:?}"
        );
        assert_eq!(mark(&c, "is ready for the draft"), Mark::Warn);
        let testing = String::from_utf8_lossy(ENFORCE).replace("enforce", "testing");
        let c = explain(&r, &[bad], testing.as_bytes(), "d", true);
        assert_eq!(mark(&c, "can deliver"), Mark::Warn);
        // A draft listing no MX host at all says so.
        let none = b"version: STSv1\nmode: enforce\nmx: other.example.net\nmax_age: 604800\n";
        let c = explain(&r, &[secure("mx1.example.com")], none, "d", true);
        let deliver = c.iter().find(|c| c.requirement.contains("can deliver"));
        assert!(
            deliver.is_some_and(
                |c| c.mark == Mark::Fail && c.observed.contains("lists none of the MX hosts")
            ),
            "{deliver:?}"
        );
        // RFC 8461 §5: "none": "In this mode, Sending MTAs should treat the Policy Domain as
        // though it does not have any active policy": whatever the hosts, no mail is lost
        // (worth fixing before enforcing, as the scan judges a published policy).
        let withdraw = b"version: STSv1\nmode: none\nmax_age: 86400\n";
        let c = explain(&r, &[secure("mx1.example.com")], withdraw, "d", true);
        assert_eq!(mark(&c, "can deliver"), Mark::Warn);
        assert!(!c.iter().any(|c| c.mark == Mark::Fail), "{c:#?}");
        // Not probed: not judged.
        let c = explain(&r, &[], ENFORCE, "d", false);
        assert_eq!(mark(&c, "can deliver"), Mark::Skip);
    }

    #[test]
    fn the_fix_offers_a_wildcard_only_below_a_parent_with_two_labels() {
        assert_eq!(
            add_pattern("mx1.mail.example.com"),
            "add `mx: mx1.mail.example.com` (or `mx: *.mail.example.com`, which covers every host one label below mail.example.com)"
        );
        assert!(add_pattern("mx.example.com").contains("*.example.com"));
        assert_eq!(add_pattern("example.com"), "add `mx: example.com`");
    }

    /// An MX host the operator told the scan not to contact (`--exclude`) is unknown, not
    /// failing: deliverability under the draft is unknown too, as in the scan.
    #[test]
    fn a_withheld_host_leaves_the_draft_unjudged() {
        let r = row(&["mx1.example.com"]);
        let excluded = MxRow {
            mx_host: "mx1.example.com".into(),
            mx_excluded: Some(true),
            ..MxRow::default()
        };
        let c = explain(&r, &[excluded], ENFORCE, "d", true);
        let deliver = c.iter().find(|c| c.requirement.contains("can deliver"));
        assert!(
            deliver.is_some_and(|c| c.mark == Mark::Skip && c.observed.contains("--exclude")),
            "{deliver:?}"
        );
        assert!(!c.iter().any(|c| c.mark == Mark::Fail), "{c:#?}");
    }

    /// A pattern that matches no MX host of the domain protects nothing (a typo, or a host
    /// since removed): worth a look.
    #[test]
    fn a_pattern_matching_no_mx_host_is_worth_a_look() {
        let r = row(&["mx1.example.com"]);
        let body = b"version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.old.example.net\nmax_age: 604800\n";
        let c = explain(&r, &[secure("mx1.example.com")], body, "d", true);
        assert_eq!(
            mark(&c, "mx: *.old.example.net names a current MX host"),
            Mark::Warn
        );
        assert!(
            c.iter()
                .all(|c| !c.requirement.contains("mx: mx1.example.com names"))
        );
    }

    /// An invalid draft is judged no further; the fix names `validate policy`.
    #[test]
    fn an_invalid_draft_fails_first() {
        let r = row(&["mx1.example.com"]);
        let c = explain(&r, &[], b"version: STSv1\nmode: sometimes\n", "d.txt", true);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].mark, Mark::Fail);
        assert!(
            c[0].fix
                .as_deref()
                .is_some_and(|f| f.contains("validate policy d.txt"))
        );
    }

    /// RFC 8461 §3.1: the id "MUST uniquely identify a given instance of a policy, such that
    /// senders can determine when the policy has been updated by comparing to the "id" of a
    /// previously seen policy". A changed draft needs a new id; the policy served now does not.
    #[test]
    fn publishing_steps_follow_the_live_state() {
        let mut r = row(&["mx1.example.com"]);
        let mx = [secure("mx1.example.com")];
        let c = explain(&r, &mx, ENFORCE, "d", true);
        step_says(&c, "publish _mta-sts.example.com TXT");
        assert_eq!(mark(&c, "can serve the draft"), Mark::Skip);
        r.sts_txt = Some("valid".into());
        r.sts_id = Some("2024a".into());
        r.policy_fetch = Some("ok".into());
        r.policy_cert = Some("valid".into());
        r.policy_body =
            Some("version: STSv1\nmode: testing\nmx: mx1.example.com\nmax_age: 604800\n".into());
        let c = explain(&r, &mx, ENFORCE, "d", true);
        assert_eq!(mark(&c, "can serve the draft"), Mark::Pass);
        step_says(&c, "change the id");
        // The same policy with other line endings and field order is the policy served now.
        r.policy_body = Some(
            "version: STSv1\r\nmx: mx1.example.com\r\nmode: enforce\r\nmax_age: 604800\r\n".into(),
        );
        let c = explain(&r, &mx, ENFORCE, "d", true);
        assert_eq!(mark(&c, "the draft is what senders see"), Mark::Pass);
        // A bad certificate on the policy host fails: senders could not fetch the draft.
        r.policy_cert = Some("expired".into());
        let c = explain(&r, &mx, ENFORCE, "d", true);
        assert_eq!(mark(&c, "can serve the draft"), Mark::Fail);
    }
}
