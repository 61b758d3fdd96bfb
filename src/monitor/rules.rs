//! The rule engine: a pure function from the previous and the current state of one domain
//! ([`DomainSnap`] pairs) to [`Alert`]s. No files, no clock (certificate expiry is measured
//! against each scan's own `scanned_at`), no network.
//!
//! Every rule has a stable kebab-case code ([`Rule::code`]) and a documented severity; the
//! table is in `docs/monitoring.md` and checked against [`Rule::ALL`] by the tests.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::snapshot::{DomainSnap, MxSnap, Snapshot, Text};
use crate::assess::verdict::undeliverable_loses_mail;

/// Microseconds in one day.
const DAY_MICROS: i64 = 86_400_000_000;

/// How bad an alert is (Nagios-style: info is OK, warning is 1, critical is 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Worth knowing; nothing will break.
    Info,
    /// Something is likely wrong or will break soon.
    Warning,
    /// Mail delivery or policy protection is broken or about to be.
    Critical,
}

impl Severity {
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

macro_rules! rules {
    ($( $(#[doc = $doc:literal])* $v:ident = $code:literal, $sev:literal; )*) => {
        /// A change-detection rule.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[doc = $doc])* $v, )*
        }
        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$v,)*];
            /// The stable kebab-case code.
            pub fn code(self) -> &'static str {
                match self { $(Rule::$v => $code,)* }
            }
            /// The severities the rule can raise, as documented (`warning/critical`).
            pub fn severities(self) -> &'static str {
                match self { $(Rule::$v => $sev,)* }
            }
        }
    };
}

rules! {
    /// The policy body (`policy_body_sha256`) changed while the TXT `id` did not: senders that
    /// cached the old policy keep using it until it expires (RFC 8461 §3.1: the id "MUST"
    /// change whenever the policy does).
    PolicyChangedIdUnchanged = "policy-changed-id-unchanged", "critical";
    /// The TXT `id` changed but the policy body is identical (harmless; makes senders refetch).
    IdChangedPolicyUnchanged = "id-changed-policy-unchanged", "info";
    /// The MX set changed and a new MX host is not matched by the policy (critical under
    /// `enforce`, warning under `testing`).
    MxNotCovered = "mx-not-covered", "warning/critical";
    /// The policy mode went from `enforce` to `testing` or `none`.
    ModeDowngraded = "mode-downgraded", "warning";
    /// The `_mta-sts` TXT went from valid to absent without an earlier scan showing
    /// `mode: none` (RFC 8461 §8.3 removal procedure).
    TxtRemovedWithoutNone = "txt-removed-without-none", "critical";
    /// A policy host or MX certificate entered an expiry threshold (the innermost threshold
    /// is critical, the others warnings); each threshold fires once.
    CertExpiring = "cert-expiring", "warning/critical";
    /// A certificate that was valid is not any more (expired, replaced by a self-signed or
    /// wrong-name one, chain broken): for the policy host critical (RFC 8461 §3.3: senders
    /// treat it as a failure to fetch the policy), for an MX address critical under
    /// `enforce`, warning under `testing`, info otherwise.
    CertInvalid = "cert-invalid", "info/warning/critical";
    /// The policy fetch went from `ok` to a failure.
    FetchFailed = "fetch-failed", "critical";
    /// An MX address went from STARTTLS `ok` to a failure.
    StarttlsLost = "starttls-lost", "critical";
    /// An RFC 8461 sender enforcing the policy would deliver before and would not now:
    /// critical, or a warning when no mail is lost by it ([`undeliverable_loses_mail`]): the
    /// domain now publishes a null MX (RFC 7505: it "accepts no mail"), or the policy is in
    /// mode `testing` or `none` (senders deliver anyway).
    DeliveryBroken = "delivery-broken", "warning/critical";
    /// The TLS-RPT record went from valid to absent or invalid.
    TlsrptRemoved = "tlsrpt-removed", "warning";
    /// The policy `max_age` dropped below one day (86400 s).
    MaxAgeShort = "max-age-short", "info";
}

impl Rule {
    /// The rule with this code.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// One alert: a rule that fired for a domain (and for an MX host, where it applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The rule's code.
    pub code: &'static str,
    /// How bad.
    pub severity: Severity,
    /// The domain (A-label).
    pub domain: String,
    /// The MX host or `mta-sts.D` the alert is about, when not the domain as a whole.
    pub subject: Option<String>,
    /// A sentence for people.
    pub message: String,
    /// The value in the old scan.
    pub old: Option<String>,
    /// The value in the new scan.
    pub new: Option<String>,
    /// The old scan's id (None when there was no previous scan).
    pub old_scan: Option<String>,
    /// The new scan's id.
    pub new_scan: String,
}

/// What the engine checks and with which thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleOptions {
    /// The enabled rules.
    pub enabled: BTreeSet<Rule>,
    /// Certificate expiry thresholds in days, sorted descending, deduplicated, non-empty.
    pub expiry_days: Vec<u32>,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            enabled: Rule::ALL.iter().copied().collect(),
            expiry_days: vec![21, 14, 7],
        }
    }
}

impl RuleOptions {
    /// Options from `--rules` (None: all), `--skip-rules` and `--expiry-days`; an unknown
    /// rule code or an empty threshold list is an error naming it.
    pub fn select(
        only: Option<&[String]>,
        skip: &[String],
        expiry_days: &[u32],
    ) -> Result<RuleOptions, String> {
        let parse = |codes: &[String]| -> Result<Vec<Rule>, String> {
            codes
                .iter()
                .map(|c| {
                    Rule::from_code(c.trim()).ok_or_else(|| {
                        let all: Vec<_> = Rule::ALL.iter().map(|r| r.code()).collect();
                        format!("unknown rule {c:?}; rules: {}", all.join(", "))
                    })
                })
                .collect()
        };
        let mut enabled: BTreeSet<Rule> = match only {
            Some(codes) => parse(codes)?.into_iter().collect(),
            None => Rule::ALL.iter().copied().collect(),
        };
        for r in parse(skip)? {
            enabled.remove(&r);
        }
        let mut days: Vec<u32> = expiry_days.to_vec();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        if days.is_empty() {
            return Err("--expiry-days needs at least one threshold".into());
        }
        Ok(RuleOptions {
            enabled,
            expiry_days: days,
        })
    }

    fn on(&self, rule: Rule) -> bool {
        self.enabled.contains(&rule)
    }

    /// The index of the innermost threshold (in `expiry_days`, descending) a certificate with
    /// `not_after` is inside of at `at` (both microseconds), i.e. the number of thresholds
    /// `t` with remaining time < `t` days; 0 when inside none. An expired certificate is
    /// inside every threshold.
    pub fn expiry_level(&self, not_after: i64, at: i64) -> usize {
        let left = not_after.saturating_sub(at);
        self.expiry_days
            .iter()
            .filter(|&&t| left < i64::from(t).saturating_mul(DAY_MICROS))
            .count()
    }
}

/// Compares two snapshots: every domain of `new` against its row in `old` (a domain new to
/// the portfolio is only checked for certificate expiry). Alerts are sorted by severity
/// (critical first), domain, code and subject.
pub fn diff(old: &Snapshot, new: &Snapshot, opts: &RuleOptions) -> Vec<Alert> {
    let mut out = Vec::new();
    let new_scan = new.scan_id.as_deref().unwrap_or_default();
    for (domain, n) in &new.domains {
        let o = old.domains.get(domain);
        let mut ctx = Ctx {
            domain,
            old_scan: old.scan_id.as_deref(),
            new_scan,
            out: &mut out,
        };
        diff_domain(o, n, opts, &mut ctx);
    }
    sort_alerts(&mut out);
    out
}

/// Sorts alerts: critical first, then domain, code, subject.
pub fn sort_alerts(alerts: &mut [Alert]) {
    alerts.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.domain.cmp(&b.domain))
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.subject.cmp(&b.subject))
    });
}

struct Ctx<'a> {
    domain: &'a str,
    old_scan: Option<&'a str>,
    new_scan: &'a str,
    out: &'a mut Vec<Alert>,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        rule: Rule,
        severity: Severity,
        subject: Option<&str>,
        message: String,
        old: Option<impl ToString>,
        new: Option<impl ToString>,
    ) {
        self.out.push(Alert {
            code: rule.code(),
            severity,
            domain: self.domain.to_owned(),
            subject: subject.map(str::to_owned),
            message,
            old: old.map(|v| v.to_string()),
            new: new.map(|v| v.to_string()),
            old_scan: self.old_scan.map(str::to_owned),
            new_scan: self.new_scan.to_owned(),
        });
    }
}

fn show(v: Option<&str>) -> String {
    v.unwrap_or("null").to_owned()
}

/// Runs every enabled rule on one domain; `old` is None for a domain not in the old scan.
fn diff_domain(old: Option<&DomainSnap>, new: &DomainSnap, opts: &RuleOptions, cx: &mut Ctx<'_>) {
    if opts.on(Rule::CertExpiring) {
        cert_expiring(old, new, opts, cx);
    }
    let Some(old) = old else { return };
    let valid = |d: &DomainSnap| d.sts_txt.as_deref() == Some("valid");
    let fetched = |d: &DomainSnap| d.policy_fetch.as_deref() == Some("ok");

    // Policy body vs. id (both scans saw a valid TXT and fetched a body).
    if valid(old) && valid(new) && fetched(old) && fetched(new) {
        if let (Some(os), Some(ns), Some(oi), Some(ni)) = (
            &old.policy_body_sha256,
            &new.policy_body_sha256,
            &old.sts_id,
            &new.sts_id,
        ) {
            if os != ns && oi == ni && opts.on(Rule::PolicyChangedIdUnchanged) {
                cx.push(
                    Rule::PolicyChangedIdUnchanged,
                    Severity::Critical,
                    None,
                    format!(
                        "the policy changed but the _mta-sts TXT id is still {ni}: senders keep the cached old policy; publish a new id"
                    ),
                    Some(format!("sha256 {}", short(os))),
                    Some(format!("sha256 {}", short(ns))),
                );
            }
            if os == ns && oi != ni && opts.on(Rule::IdChangedPolicyUnchanged) {
                cx.push(
                    Rule::IdChangedPolicyUnchanged,
                    Severity::Info,
                    None,
                    "the _mta-sts TXT id changed but the policy body is the same".into(),
                    Some(oi.clone()),
                    Some(ni.clone()),
                );
            }
        }
    }

    // MX moved to a host the policy does not cover.
    if opts.on(Rule::MxNotCovered) && old.mx_hosts != new.mx_hosts {
        let mode = new.policy_mode.as_deref();
        let severity = match mode {
            Some("enforce") => Some(Severity::Critical),
            Some("testing") => Some(Severity::Warning),
            _ => None,
        };
        if let Some(severity) = severity {
            let old_hosts: BTreeSet<&str> = old.mx_hosts.iter().map(|h| &**h).collect();
            // An old scan whose MX lookup failed has no MX set to compare with: every
            // uncovered host is reported, saying it may not be new (staying silent would
            // miss a real move made while the lookup failed).
            let old_known = !matches!(old.mx_kind.as_deref(), None | Some("lookup-failed"));
            let mut seen = BTreeSet::new();
            for mx in &new.mx {
                if old_hosts.contains(&*mx.host)
                    || mx.policy_match != Some(false)
                    || !seen.insert(&*mx.host)
                {
                    continue;
                }
                let message = if old_known {
                    format!(
                        "new MX host {} is not matched by any mx pattern of the {} policy; add it to the policy (and bump the id)",
                        mx.host,
                        mode.unwrap_or("")
                    )
                } else {
                    format!(
                        "MX host {} is not matched by any mx pattern of the {} policy (the previous scan could not look up the MX set, so it may not be new); add it to the policy (and bump the id)",
                        mx.host,
                        mode.unwrap_or("")
                    )
                };
                cx.push(
                    Rule::MxNotCovered,
                    severity,
                    Some(&mx.host),
                    message,
                    Some(if old_known {
                        old.mx_hosts.join(" ")
                    } else {
                        "unknown (no MX set measured)".to_owned()
                    }),
                    Some(new.mx_hosts.join(" ")),
                );
            }
        }
    }

    if opts.on(Rule::ModeDowngraded)
        && old.policy_mode.as_deref() == Some("enforce")
        && matches!(new.policy_mode.as_deref(), Some("testing" | "none"))
    {
        cx.push(
            Rule::ModeDowngraded,
            Severity::Warning,
            None,
            "the policy mode was downgraded from enforce".into(),
            old.policy_mode.clone(),
            new.policy_mode.clone(),
        );
    }

    if opts.on(Rule::TxtRemovedWithoutNone)
        && valid(old)
        && new.sts_txt.as_deref() == Some("absent")
        && old.policy_mode.as_deref() != Some("none")
    {
        // The old scan may not have read the policy (its fetch failed): then no sender
        // learned mode none from it either, and one that cached an earlier policy keeps it.
        let (was, old_value) = match old.policy_mode.as_deref() {
            Some(mode) => (format!("in mode {mode}"), format!("valid (mode {mode})")),
            None => (
                format!(
                    "unreadable (the previous scan's fetch: {})",
                    show(old.policy_fetch.as_deref())
                ),
                format!("valid (policy fetch {})", show(old.policy_fetch.as_deref())),
            ),
        };
        cx.push(
            Rule::TxtRemovedWithoutNone,
            Severity::Critical,
            None,
            format!(
                "the _mta-sts TXT record was removed while the policy was {was}: senders keep a cached policy until its max_age; publish mode: none first (RFC 8461 §8.3)"
            ),
            Some(old_value),
            new.sts_txt.clone(),
        );
    }

    if opts.on(Rule::FetchFailed)
        && fetched(old)
        && !matches!(
            new.policy_fetch.as_deref(),
            // `excluded`: the operator's --exclude list now names the policy host; nothing
            // was tried, so nothing is known to have broken.
            None | Some("ok" | "not-attempted" | "excluded")
        )
    {
        cx.push(
            Rule::FetchFailed,
            Severity::Critical,
            Some(&format!("mta-sts.{}", cx.domain)),
            "the policy can no longer be fetched".into(),
            old.policy_fetch.clone(),
            new.policy_fetch.clone(),
        );
    }

    if opts.on(Rule::StarttlsLost) {
        starttls_lost(old, new, cx);
    }

    if opts.on(Rule::CertInvalid) {
        cert_invalid(old, new, cx);
    }

    if opts.on(Rule::DeliveryBroken)
        && old.enforce_deliverable == Some(true)
        && new.enforce_deliverable == Some(false)
    {
        let mode = new.policy_mode.as_deref();
        let loses = undeliverable_loses_mail(new.mx_kind.as_deref(), mode);
        let severity = if loses {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let message = match new.mx_kind.as_deref() {
            Some("null") => "the domain now publishes a null MX (it accepts no mail) beside its \
                             MTA-STS policy: if that is meant, withdraw the policy (mode: none, \
                             then remove it)"
                .to_owned(),
            _ if loses => "a sender enforcing the policy would no longer deliver mail".to_owned(),
            _ => format!(
                "a sender enforcing the policy would no longer deliver mail; under mode: {} \
                 senders still deliver and report, fix it before enforcing",
                mode.unwrap_or("?")
            ),
        };
        cx.push(
            Rule::DeliveryBroken,
            severity,
            None,
            message,
            Some("deliverable"),
            Some(format!(
                "undeliverable ({})",
                show(new.rfc8460_result.as_deref())
            )),
        );
    }

    if opts.on(Rule::TlsrptRemoved)
        && old.tlsrpt.as_deref() == Some("valid")
        && matches!(
            new.tlsrpt.as_deref(),
            Some("absent" | "invalid" | "multiple")
        )
    {
        cx.push(
            Rule::TlsrptRemoved,
            Severity::Warning,
            None,
            "the TLS-RPT record is gone or broken: failure reports stop arriving".into(),
            old.tlsrpt.clone(),
            new.tlsrpt.clone(),
        );
    }

    if opts.on(Rule::MaxAgeShort) {
        if let (Some(o), Some(n)) = (old.policy_max_age, new.policy_max_age) {
            if o >= 86_400 && n < 86_400 {
                cx.push(
                    Rule::MaxAgeShort,
                    Severity::Info,
                    None,
                    "max_age dropped below one day: senders refetch often and are less protected"
                        .into(),
                    Some(o.to_string()),
                    Some(n.to_string()),
                );
            }
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Per MX host: the earliest `cert_not_after` over its addresses.
fn mx_not_after(d: &DomainSnap) -> BTreeMap<&str, i64> {
    let mut m: BTreeMap<&str, i64> = BTreeMap::new();
    for mx in &d.mx {
        if let Some(t) = mx.cert_not_after {
            let e = m.entry(&*mx.host).or_insert(t);
            *e = (*e).min(t);
        }
    }
    m
}

fn cert_expiring(old: Option<&DomainSnap>, new: &DomainSnap, opts: &RuleOptions, cx: &mut Ctx<'_>) {
    let policy_host = format!("mta-sts.{}", cx.domain);
    let mut certs: Vec<(String, i64, Option<i64>)> = Vec::new();
    if let Some(t) = new.policy_cert_not_after {
        let o = old.and_then(|o| o.policy_cert_not_after.map(|ot| (ot, o.scanned_at)));
        certs.push((
            policy_host,
            t,
            o.map(|(ot, at)| opts.expiry_level(ot, at) as i64),
        ));
    }
    let old_mx = old.map(mx_not_after).unwrap_or_default();
    for (host, t) in mx_not_after(new) {
        let o = old.and_then(|o| {
            old_mx
                .get(host)
                .map(|ot| opts.expiry_level(*ot, o.scanned_at))
        });
        certs.push((host.to_owned(), t, o.map(|l| l as i64)));
    }
    for (subject, not_after, old_level) in certs {
        let level = opts.expiry_level(not_after, new.scanned_at);
        if level == 0 || old_level.is_some_and(|l| l >= level as i64) {
            continue;
        }
        let threshold = opts.expiry_days[level - 1];
        let severity = if level == opts.expiry_days.len() {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let left = not_after.saturating_sub(new.scanned_at) as f64 / DAY_MICROS as f64;
        let when = chrono::DateTime::from_timestamp_micros(not_after)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        cx.push(
            Rule::CertExpiring,
            severity,
            Some(&subject),
            if left < 0.0 {
                format!("the certificate of {subject} has expired ({when})")
            } else {
                format!(
                    "the certificate of {subject} expires in {left:.1} days ({when}), within {threshold} days"
                )
            },
            old_level.map(|l| match l {
                0 => "outside thresholds".to_owned(),
                l => format!("within {} days", opts.expiry_days[(l as usize).saturating_sub(1)]),
            }),
            Some(if left < 0.0 {
                "expired".to_owned()
            } else {
                format!("within {threshold} days")
            }),
        );
    }
}

/// Whether `held` was true of MX row `mx` in the old scan: of the same address; or, if the
/// host moved to a new address, of every address the host had.
fn held_before(old: &DomainSnap, mx: &MxSnap, held: impl Fn(&MxSnap) -> bool) -> bool {
    let same: Vec<&MxSnap> = old.mx.iter().filter(|o| o.host == mx.host).collect();
    match same.iter().find(|o| o.address == mx.address) {
        Some(o) => held(o),
        None => !same.is_empty() && same.iter().all(|o| held(o)),
    }
}

/// An MX row as an alert subject: `host address`.
fn mx_subject(mx: &MxSnap) -> String {
    match &mx.address {
        Some(a) => format!("{} {a}", mx.host),
        None => mx.host.to_string(),
    }
}

fn starttls_lost(old: &DomainSnap, new: &DomainSnap, cx: &mut Ctx<'_>) {
    let ok = |s: &Option<Text>| s.as_deref() == Some("ok");
    for mx in &new.mx {
        let Some(smtp) = mx.smtp.as_deref() else {
            continue;
        };
        if smtp == "ok" {
            continue;
        }
        if held_before(old, mx, |o| ok(&o.smtp)) {
            let subject = mx_subject(mx);
            cx.push(
                Rule::StarttlsLost,
                Severity::Critical,
                Some(&subject),
                format!("STARTTLS on MX {subject} no longer works"),
                Some("ok"),
                Some(smtp.to_owned()),
            );
        }
    }
}

/// A verdict that is present and not `valid`.
fn invalid(v: Option<&str>) -> Option<&str> {
    v.filter(|v| *v != "valid")
}

fn cert_invalid(old: &DomainSnap, new: &DomainSnap, cx: &mut Ctx<'_>) {
    let valid = |v: &Option<Text>| v.as_deref() == Some("valid");
    if valid(&old.policy_cert) {
        if let Some(now) = invalid(new.policy_cert.as_deref()) {
            let subject = format!("mta-sts.{}", cx.domain);
            cx.push(
                Rule::CertInvalid,
                Severity::Critical,
                Some(&subject),
                format!(
                    "the certificate of {subject} is no longer valid ({now}): senders treat the policy as not fetched (RFC 8461 §3.3)"
                ),
                Some("valid"),
                Some(now.to_owned()),
            );
        }
    }
    let (severity, effect) = match new.policy_mode.as_deref() {
        Some("enforce") => (
            Severity::Critical,
            "senders enforcing the policy no longer deliver to it",
        ),
        Some("testing") => (
            Severity::Warning,
            "senders would not deliver to it under mode: enforce",
        ),
        _ => (Severity::Info, "opportunistic senders still deliver"),
    };
    for mx in &new.mx {
        let Some(now) = invalid(mx.cert.as_deref()) else {
            continue;
        };
        if !held_before(old, mx, |o| valid(&o.cert)) {
            continue;
        }
        let subject = mx_subject(mx);
        cx.push(
            Rule::CertInvalid,
            severity,
            Some(&subject),
            format!("the certificate of MX {subject} is no longer valid ({now}): {effect}"),
            Some("valid"),
            Some(now.to_owned()),
        );
    }
}
