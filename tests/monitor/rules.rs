//! The pure rule engine on hand-made row pairs: each rule fires exactly when it should.

use std::path::Path;

use stsscan::monitor::rules::{Alert, Rule, RuleOptions, Severity, diff};
use stsscan::monitor::snapshot::{DomainSnap, MxSnap, Overlap, Snapshot, Text};
use stsscan::output::manifest::{Counts, Manifest, ScanStatus};

const DAY: i64 = 86_400_000_000;
const T0: i64 = 1_780_000_000_000_000;

// ---------------------------------------------------------------------------------------
// Pure rule engine on hand-made rows.
// ---------------------------------------------------------------------------------------

fn s(v: &str) -> Option<Text> {
    Some(v.into())
}

/// A healthy enforce domain: valid TXT, policy fetched, one covered MX with STARTTLS.
fn healthy(at: i64) -> DomainSnap {
    DomainSnap {
        scanned_at: at,
        sts_txt: s("valid"),
        sts_id: s("20260101"),
        policy_fetch: s("ok"),
        policy_cert: s("valid"),
        policy_cert_not_after: Some(at + 90 * DAY),
        policy_body_sha256: s("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        policy_mode: s("enforce"),
        policy_max_age: Some(604_800),
        mx_hosts: vec!["mx1.example.com".into()],
        mx_kind: s("hosts"),
        tlsrpt: s("valid"),
        enforce_deliverable: Some(true),
        rfc8460_result: None,
        mx: vec![MxSnap {
            host: "mx1.example.com".into(),
            address: s("192.0.2.1"),
            policy_match: Some(true),
            smtp: s("ok"),
            cert: s("valid"),
            cert_not_after: Some(at + 90 * DAY),
        }],
    }
}

fn snap(id: &str, rows: &[(&str, DomainSnap)]) -> Snapshot {
    Snapshot {
        scan_id: Some(id.to_owned()),
        domains: rows.iter().map(|(d, r)| ((*d).into(), r.clone())).collect(),
    }
}

fn run_pair(old: DomainSnap, new: DomainSnap) -> Vec<Alert> {
    diff(
        &snap("old", &[("example.com", old)]),
        &snap("new", &[("example.com", new)]),
        &RuleOptions::default(),
    )
}

fn codes(alerts: &[Alert]) -> Vec<(&'static str, Severity)> {
    alerts.iter().map(|a| (a.code, a.severity)).collect()
}

#[test]
fn unchanged_domain_raises_nothing() {
    let a = healthy(T0);
    let b = healthy(T0 + DAY);
    assert!(run_pair(a, b).is_empty());
}

#[test]
fn policy_changed_id_unchanged_is_critical() {
    // RFC 8461 §3.1: "id: A short string used to track policy updates. This string MUST
    // uniquely identify a given instance of a policy, such that senders can determine when
    // the policy has been updated by comparing to the "id" of a previously seen policy."
    let old = healthy(T0);
    let mut new = healthy(T0 + DAY);
    new.policy_body_sha256 = s("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    let alerts = run_pair(old.clone(), new.clone());
    assert_eq!(
        codes(&alerts),
        vec![("policy-changed-id-unchanged", Severity::Critical)]
    );
    assert_eq!(alerts[0].old.as_deref(), Some("sha256 aaaaaaaaaaaa"));
    assert_eq!(alerts[0].old_scan.as_deref(), Some("old"));
    assert_eq!(alerts[0].new_scan, "new");
    // With the id bumped as well: no alert.
    new.sts_id = s("20260102");
    assert!(run_pair(old.clone(), new.clone()).is_empty());
    // Not comparable when the new fetch failed (that is fetch-failed's business).
    let mut failed = healthy(T0 + DAY);
    failed.policy_fetch = s("http-status");
    failed.policy_body_sha256 = None;
    assert_eq!(
        codes(&run_pair(old, failed)),
        vec![("fetch-failed", Severity::Critical)]
    );
}

#[test]
fn id_changed_policy_unchanged_is_info() {
    let old = healthy(T0);
    let mut new = healthy(T0 + DAY);
    new.sts_id = s("20260102");
    let alerts = run_pair(old, new);
    assert_eq!(
        codes(&alerts),
        vec![("id-changed-policy-unchanged", Severity::Info)]
    );
    assert_eq!(alerts[0].old.as_deref(), Some("20260101"));
    assert_eq!(alerts[0].new.as_deref(), Some("20260102"));
}

fn moved(mode: &str, matched: Option<bool>) -> DomainSnap {
    let mut new = healthy(T0 + DAY);
    new.policy_mode = s(mode);
    new.mx_hosts = vec!["mx1.example.com".into(), "mx2.newprovider.net".into()];
    new.mx.push(MxSnap {
        host: "mx2.newprovider.net".into(),
        address: s("198.51.100.7"),
        policy_match: matched,
        smtp: s("ok"),
        cert: s("valid"),
        cert_not_after: Some(T0 + 90 * DAY),
    });
    new
}

#[test]
fn mx_not_covered_by_mode() {
    // RFC 8461 §4.1: "senders who are validating the policy MUST ... verify that the MX
    // hostname matches ... the "mx" field[s]" — an uncovered MX fails under enforce.
    let mut old = healthy(T0);
    old.policy_mode = s("enforce");
    let a = run_pair(old.clone(), moved("enforce", Some(false)));
    assert_eq!(codes(&a), vec![("mx-not-covered", Severity::Critical)]);
    assert_eq!(a[0].subject.as_deref(), Some("mx2.newprovider.net"));
    assert_eq!(a[0].old.as_deref(), Some("mx1.example.com"));
    assert_eq!(
        a[0].new.as_deref(),
        Some("mx1.example.com mx2.newprovider.net")
    );
    let mut told = healthy(T0);
    told.policy_mode = s("testing");
    assert_eq!(
        codes(&run_pair(told.clone(), moved("testing", Some(false)))),
        vec![("mx-not-covered", Severity::Warning)]
    );
    // Covered new host, or mode none: nothing.
    assert!(run_pair(old.clone(), moved("enforce", Some(true))).is_empty());
    let mut nold = healthy(T0);
    nold.policy_mode = s("none");
    assert!(run_pair(nold, moved("none", Some(false))).is_empty());
    // An old host that was already uncovered is not "new" (the MX set did not gain it).
    let mut both_old = moved("enforce", Some(false));
    both_old.scanned_at = T0;
    assert!(run_pair(both_old, moved("enforce", Some(false))).is_empty());
    // An old scan whose MX lookup failed has no MX set: the uncovered host is reported, but
    // not as "new" (it may have been there all along).
    let mut failed = healthy(T0);
    failed.mx_kind = s("lookup-failed");
    failed.mx_hosts = Vec::new();
    failed.mx = Vec::new();
    let a = run_pair(failed, moved("enforce", Some(false)));
    assert_eq!(codes(&a), vec![("mx-not-covered", Severity::Critical)]);
    assert!(a[0].message.contains("may not be new"), "{}", a[0].message);
    assert_eq!(a[0].old.as_deref(), Some("unknown (no MX set measured)"));
}

#[test]
fn mode_downgraded() {
    for to in ["testing", "none"] {
        let mut new = healthy(T0 + DAY);
        new.policy_mode = s(to);
        // Same body hash here: only the mode rule is under test.
        let a = run_pair(healthy(T0), new);
        assert_eq!(
            codes(&a),
            vec![("mode-downgraded", Severity::Warning)],
            "{to}"
        );
        assert_eq!(a[0].new.as_deref(), Some(to));
    }
    // testing → enforce is an upgrade.
    let mut old = healthy(T0);
    old.policy_mode = s("testing");
    assert!(run_pair(old, healthy(T0 + DAY)).is_empty());
}

#[test]
fn txt_removed_without_none() {
    // RFC 8461 §8.3: "publish a new policy with "mode" equal to "none" and a small "max_age"
    // ... [then] remove the TXT and policy endpoints".
    let mut gone = healthy(T0 + DAY);
    gone.sts_txt = s("absent");
    gone.sts_id = None;
    gone.policy_fetch = s("not-attempted");
    gone.policy_body_sha256 = None;
    gone.policy_mode = None;
    gone.policy_max_age = None;
    gone.policy_cert_not_after = None;
    gone.enforce_deliverable = None;
    let a = run_pair(healthy(T0), gone.clone());
    assert_eq!(
        codes(&a),
        vec![("txt-removed-without-none", Severity::Critical)]
    );
    assert!(a[0].message.contains("in mode enforce"), "{}", a[0].message);
    // An old scan that could not read the policy did not show mode none either; the alert
    // says what it saw instead of a mode.
    let mut unread = healthy(T0);
    unread.policy_fetch = s("http-status");
    unread.policy_mode = None;
    let a = run_pair(unread, gone.clone());
    assert_eq!(
        codes(&a),
        vec![("txt-removed-without-none", Severity::Critical)]
    );
    assert!(
        a[0].message
            .contains("unreadable (the previous scan's fetch: http-status)"),
        "{}",
        a[0].message
    );
    assert_eq!(
        a[0].old.as_deref(),
        Some("valid (policy fetch http-status)")
    );
    // After a scan that showed mode: none, the removal is the documented procedure.
    let mut none = healthy(T0);
    none.policy_mode = s("none");
    assert!(run_pair(none, gone.clone()).is_empty());
    // A lookup failure is not a removal.
    let mut failed = gone;
    failed.sts_txt = s("lookup-failed");
    assert!(run_pair(healthy(T0), failed).is_empty());
}

#[test]
fn cert_expiring_fires_once_per_threshold() {
    let opts = RuleOptions::default();
    let mut history = Vec::new();
    // Scans one day apart; the policy certificate expires at T0 + 25 days.
    let not_after = T0 + 25 * DAY;
    for day in 0..30 {
        let mut d = healthy(T0 + day * DAY);
        d.policy_cert_not_after = Some(not_after);
        history.push(d);
    }
    let mut fired = Vec::new();
    for (i, pair) in history.windows(2).enumerate() {
        let a = diff(
            &snap("o", &[("example.com", pair[0].clone())]),
            &snap("n", &[("example.com", pair[1].clone())]),
            &opts,
        );
        for al in a {
            assert_eq!(al.code, "cert-expiring");
            assert_eq!(al.subject.as_deref(), Some("mta-sts.example.com"));
            fired.push((i + 1, al.severity, al.new.clone().unwrap()));
        }
    }
    // Inside 21 days from day 5 (20 days left), 14 from day 12, 7 from day 19; expired
    // later stays at the innermost level: nothing more.
    assert_eq!(
        fired,
        vec![
            (5, Severity::Warning, "within 21 days".to_owned()),
            (12, Severity::Warning, "within 14 days".to_owned()),
            (19, Severity::Critical, "within 7 days".to_owned()),
        ]
    );
}

#[test]
fn cert_expiring_mx_per_host_and_renewal() {
    let old = healthy(T0);
    let mut new = healthy(T0 + DAY);
    new.mx[0].cert_not_after = Some(T0 + DAY + 5 * DAY);
    // A second address of the same host with a later certificate: the earliest counts.
    let mut second = new.mx[0].clone();
    second.address = s("192.0.2.2");
    second.cert_not_after = Some(T0 + 80 * DAY);
    new.mx.push(second);
    let a = run_pair(old, new.clone());
    assert_eq!(codes(&a), vec![("cert-expiring", Severity::Critical)]);
    assert_eq!(a[0].subject.as_deref(), Some("mx1.example.com"));
    // Renewed: back outside every threshold, nothing fires.
    let mut renewed = healthy(T0 + 2 * DAY);
    renewed.mx[0].cert_not_after = Some(T0 + 200 * DAY);
    assert!(run_pair(new, renewed).is_empty());
    // A domain new to the portfolio is checked for expiry only.
    let mut fresh = healthy(T0);
    fresh.policy_cert_not_after = Some(T0 + 10 * DAY);
    fresh.policy_body_sha256 = s("cccc");
    let a = diff(
        &Snapshot::default(),
        &snap("n", &[("new.example", fresh)]),
        &RuleOptions::default(),
    );
    assert_eq!(codes(&a), vec![("cert-expiring", Severity::Warning)]);
    assert_eq!(a[0].old_scan, None);
    // A certificate that was outside every threshold and has already expired by the next
    // scan (a jump, e.g. scans a month apart) is critical, and its new state says "expired",
    // not "within 7 days".
    let mut lapsed = healthy(T0 + 30 * DAY);
    lapsed.mx[0].cert_not_after = Some(T0 + 29 * DAY);
    let a = run_pair(healthy(T0), lapsed);
    assert_eq!(codes(&a), vec![("cert-expiring", Severity::Critical)]);
    assert_eq!(a[0].old.as_deref(), Some("outside thresholds"));
    assert_eq!(a[0].new.as_deref(), Some("expired"));
    assert!(a[0].message.contains("has expired"), "{}", a[0].message);
}

#[test]
fn custom_thresholds() {
    let opts = RuleOptions::select(None, &[], &[3, 30]).unwrap();
    assert_eq!(opts.expiry_days, vec![30, 3]);
    assert_eq!(opts.expiry_level(T0 + 40 * DAY, T0), 0);
    assert_eq!(opts.expiry_level(T0 + 10 * DAY, T0), 1);
    assert_eq!(opts.expiry_level(T0 + DAY, T0), 2);
    assert_eq!(opts.expiry_level(T0 - DAY, T0), 2);
    assert!(RuleOptions::select(None, &[], &[]).is_err());
}

/// RFC 7505 (abstract): the null MX is the "mechanism by which a domain announces that it
/// accepts no mail". A domain that moves from mail hosts to a null MX under an enforce policy
/// loses no mail to the policy: `delivery-broken` is a warning saying so, not a critical
/// "would no longer deliver". RFC 8461 §5: under "testing" "messages may be delivered as
/// though there were no MTA-STS validation failure": a warning too.
#[test]
fn delivery_broken_without_lost_mail_is_a_warning() {
    let mut new = healthy(T0 + DAY);
    new.mx_hosts.clear();
    new.mx_kind = s("null");
    new.mx.clear();
    new.enforce_deliverable = Some(false);
    let a = run_pair(healthy(T0), new);
    assert_eq!(codes(&a), vec![("delivery-broken", Severity::Warning)]);
    assert!(a[0].message.contains("null MX"), "{}", a[0].message);
    // Testing mode: senders still deliver.
    let mut testing = healthy(T0);
    testing.policy_mode = s("testing");
    let mut broken = testing.clone();
    broken.scanned_at = T0 + DAY;
    broken.mx[0].cert = s("expired");
    broken.enforce_deliverable = Some(false);
    let a = run_pair(testing, broken);
    let delivery: Vec<_> = a.iter().filter(|a| a.code == "delivery-broken").collect();
    assert_eq!(delivery.len(), 1, "{a:?}");
    assert_eq!(delivery[0].severity, Severity::Warning);
    assert!(
        delivery[0].message.contains("mode: testing"),
        "{}",
        delivery[0].message
    );
    // No MX at all (no address either): mail is lost, critical.
    let mut gone = healthy(T0 + DAY);
    gone.mx_hosts.clear();
    gone.mx_kind = s("none");
    gone.mx.clear();
    gone.enforce_deliverable = Some(false);
    assert_eq!(
        codes(&run_pair(healthy(T0), gone)),
        vec![("delivery-broken", Severity::Critical)]
    );
}

#[test]
fn fetch_failed_starttls_lost_delivery_tlsrpt_max_age() {
    let mut new = healthy(T0 + DAY);
    new.mx[0].smtp = s("starttls-not-offered");
    new.mx[0].cert_not_after = None;
    new.enforce_deliverable = Some(false);
    new.rfc8460_result = s("starttls-not-supported");
    new.tlsrpt = s("absent");
    new.policy_max_age = Some(3600);
    let a = run_pair(healthy(T0), new);
    assert_eq!(
        codes(&a),
        vec![
            ("delivery-broken", Severity::Critical),
            ("starttls-lost", Severity::Critical),
            ("tlsrpt-removed", Severity::Warning),
            ("max-age-short", Severity::Info),
        ]
    );
    assert_eq!(a[1].subject.as_deref(), Some("mx1.example.com 192.0.2.1"));
    // An MX that moved to a new address and lost STARTTLS there.
    let mut moved = healthy(T0 + DAY);
    moved.mx[0].address = s("192.0.2.99");
    moved.mx[0].smtp = s("handshake-failed");
    assert_eq!(
        codes(&run_pair(healthy(T0), moved)),
        vec![("starttls-lost", Severity::Critical)]
    );
    // An MX that was already failing: nothing new.
    let mut bad = healthy(T0);
    bad.mx[0].smtp = s("connect-timeout");
    let mut still = healthy(T0 + DAY);
    still.mx[0].smtp = s("connect-refused");
    assert!(run_pair(bad, still).is_empty());
}

/// RFC 8461 §3.3: "If a valid TXT record is found but no policy can be fetched via HTTPS
/// (for any reason), and there is no valid (non-expired) previously cached policy, senders
/// MUST continue with delivery as though the domain has not implemented MTA-STS": a policy
/// host whose certificate stops validating silently turns MTA-STS off (critical); §5: under
/// `enforce` senders "MUST NOT deliver the message to hosts that fail MX matching or
/// certificate validation" (MX: critical under enforce, warning under testing, info
/// otherwise). A certificate that was never valid, or an MX whose handshake now fails (no
/// verdict: that is `starttls-lost`), raises no `cert-invalid`.
#[test]
fn cert_invalid_by_subject_and_mode() {
    // The policy host's certificate replaced by a self-signed one with a long life: no
    // expiry threshold is crossed, only this rule sees it.
    let mut new = healthy(T0 + DAY);
    new.policy_cert = s("self-signed");
    new.policy_cert_not_after = Some(T0 + 3650 * DAY);
    let a = run_pair(healthy(T0), new);
    assert_eq!(codes(&a), vec![("cert-invalid", Severity::Critical)]);
    assert_eq!(a[0].subject.as_deref(), Some("mta-sts.example.com"));
    assert_eq!(
        (a[0].old.as_deref(), a[0].new.as_deref()),
        (Some("valid"), Some("self-signed"))
    );
    // An MX certificate for the wrong name, by the policy's mode.
    for (mode, severity) in [
        ("enforce", Severity::Critical),
        ("testing", Severity::Warning),
        ("none", Severity::Info),
    ] {
        let mut old = healthy(T0);
        old.policy_mode = s(mode);
        let mut new = healthy(T0 + DAY);
        new.policy_mode = s(mode);
        new.mx[0].cert = s("name-mismatch");
        let a = run_pair(old, new);
        assert_eq!(codes(&a), vec![("cert-invalid", severity)], "{mode}");
        assert_eq!(a[0].subject.as_deref(), Some("mx1.example.com 192.0.2.1"));
    }
    // The MX host moved to a new address whose certificate is expired.
    let mut moved = healthy(T0 + DAY);
    moved.mx[0].address = s("192.0.2.99");
    moved.mx[0].cert = s("expired");
    let a = run_pair(healthy(T0), moved);
    assert_eq!(codes(&a), vec![("cert-invalid", Severity::Critical)]);
    assert_eq!(a[0].subject.as_deref(), Some("mx1.example.com 192.0.2.99"));
    // Already invalid before: nothing new.
    let mut bad = healthy(T0);
    bad.mx[0].cert = s("untrusted");
    bad.policy_cert = s("expired");
    let mut still = healthy(T0 + DAY);
    still.mx[0].cert = s("self-signed");
    still.policy_cert = s("expired");
    assert!(run_pair(bad, still).is_empty());
    // The handshake fails now: no verdict, so `starttls-lost`, not `cert-invalid`.
    let mut lost = healthy(T0 + DAY);
    lost.mx[0].smtp = s("handshake-failed");
    lost.mx[0].cert = None;
    assert_eq!(
        codes(&run_pair(healthy(T0), lost)),
        vec![("starttls-lost", Severity::Critical)]
    );
}

#[test]
fn rule_selection() {
    let mut new = healthy(T0 + DAY);
    new.tlsrpt = s("absent");
    new.policy_max_age = Some(60);
    let only = RuleOptions::select(Some(&["max-age-short".to_owned()]), &[], &[21]).unwrap();
    let a = diff(
        &snap("o", &[("example.com", healthy(T0))]),
        &snap("n", &[("example.com", new.clone())]),
        &only,
    );
    assert_eq!(codes(&a), vec![("max-age-short", Severity::Info)]);
    let skip = RuleOptions::select(None, &["max-age-short".to_owned()], &[21]).unwrap();
    let a = diff(
        &snap("o", &[("example.com", healthy(T0))]),
        &snap("n", &[("example.com", new)]),
        &skip,
    );
    assert_eq!(codes(&a), vec![("tlsrpt-removed", Severity::Warning)]);
    let err = RuleOptions::select(Some(&["nope".to_owned()]), &[], &[21]).unwrap_err();
    assert!(
        err.contains("nope") && err.contains("cert-expiring"),
        "{err}"
    );
}

#[test]
fn docs_list_every_rule() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring.md"))
            .unwrap();
    for r in Rule::ALL {
        let row = format!("| `{}` | {} |", r.code(), r.severities());
        assert!(doc.contains(&row), "docs/monitoring.md lacks the row {row}");
    }
}

#[test]
fn garbage_part_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let part = dir
        .path()
        .join("domains/scan_date=2026-11-29/scan_id=x/part-00000.parquet");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, b"PAR1 not really parquet PAR1").unwrap();
    let err = stsscan::monitor::snapshot::load(dir.path(), "x").unwrap_err();
    assert!(format!("{err:#}").contains("part-00000.parquet"), "{err:#}");
    // A scan with no part at all and no manifest is an error naming it, and no manifest
    // means no complete scan.
    let err = stsscan::monitor::snapshot::load(dir.path(), "y").unwrap_err();
    assert!(format!("{err:#}").contains("no scan y in"), "{err:#}");
    assert!(
        stsscan::monitor::snapshot::complete_scans(dir.path())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn human_summary_groups_by_severity_and_jsonl_has_every_field() {
    let mut new = healthy(T0 + DAY);
    new.tlsrpt = s("absent");
    new.mx[0].smtp = s("starttls-not-offered");
    let alerts = run_pair(healthy(T0), new);
    let one = Overlap {
        old: 1,
        new: 1,
        common: 1,
    };
    let text = stsscan::monitor::report::human(&alerts, Some("old"), "new", &one);
    assert!(
        text.starts_with("old → new: 1 domains, 1 critical, 1 warning, 0 info"),
        "{text}"
    );
    let crit = text.find("CRITICAL (1):").unwrap();
    let warn = text.find("WARNING (1):").unwrap();
    assert!(crit < warn, "{text}");
    assert!(
        text.contains("example.com  tlsrpt-removed: valid → absent"),
        "{text}"
    );
    assert!(text.contains("starttls-lost [mx1.example.com 192.0.2.1]: ok → starttls-not-offered"));
    assert_eq!(stsscan::monitor::report::nagios_status(&alerts), 2);
    let lines = stsscan::monitor::report::jsonl(&alerts).unwrap();
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        for k in [
            "code", "severity", "domain", "subject", "message", "old", "new", "old_scan",
            "new_scan",
        ] {
            assert!(v.get(k).is_some(), "{k} missing in {l}");
        }
    }
    assert!(text.lines().nth(1).is_some_and(str::is_empty), "{text}");
    assert!(
        stsscan::monitor::report::human(&[], None, "n", &Overlap::default()).contains("no changes")
    );
}

/// Domains only one of the scans has are counted under the header; a first round (no
/// previous scan) says nothing about them.
#[test]
fn human_summary_counts_the_domains_only_one_scan_has() {
    let o = Overlap::of(
        &snap(
            "old",
            &[("a.example", healthy(T0)), ("b.example", healthy(T0))],
        ),
        &snap(
            "new",
            &[
                ("b.example", healthy(T0 + DAY)),
                ("c.example", healthy(T0 + DAY)),
                ("d.example", healthy(T0 + DAY)),
            ],
        ),
    );
    assert_eq!(
        o,
        Overlap {
            old: 2,
            new: 3,
            common: 1
        }
    );
    assert_eq!((o.only_old(), o.only_new(), o.disjoint()), (1, 2, false));
    let text = stsscan::monitor::report::human(&[], Some("old"), "new", &o);
    assert!(
        text.starts_with(
            "old → new: 3 domains, 0 critical, 0 warning, 0 info\n\
             1 domains in both scans compared; 2 only in the new scan (only certificate expiry checked), 1 only in the old scan (not compared)\n"
        ),
        "{text}"
    );
    let first = stsscan::monitor::report::human(&[], None, "new", &o);
    assert_eq!(first.lines().count(), 2, "{first}");
    // Disjoint: both scans have domains, none in common. An empty side is a baseline.
    let x = snap("x", &[("x.example", healthy(T0))]);
    let y = snap("y", &[("y.example", healthy(T0))]);
    assert!(Overlap::of(&x, &y).disjoint());
    assert!(!Overlap::of(&snap("e", &[]), &y).disjoint());
    assert!(!Overlap::of(&x, &snap("e", &[])).disjoint());
}

/// A manifest of `scan_id` in `dir` with `status` and `rows` domain rows, and no part file.
fn manifest_only(dir: &Path, scan_id: &str, status: ScanStatus, rows: u64) {
    let m = Manifest {
        scan_id: scan_id.to_owned(),
        tool_version: "test".into(),
        schema_version: stsscan::output::SCHEMA_VERSION,
        config: serde_json::json!({}),
        resolvers: Vec::new(),
        started_at: chrono::Utc::now(),
        finished_at: Some(chrono::Utc::now()),
        status,
        counts: Counts {
            domains: rows,
            ..Counts::default()
        },
        parts: Vec::new(),
    };
    m.store(dir).unwrap();
}

/// A complete scan of no domain row (an empty list or shard writes no part file) is an
/// empty snapshot, a valid baseline: every domain of the new scan is new to it, so only
/// `cert-expiring` can fire (nothing "removed" or "changed"). A scan with no part whose
/// manifest is not complete, or counts rows, is an error saying so.
#[test]
fn an_empty_complete_scan_is_an_empty_baseline() {
    let dir = tempfile::tempdir().unwrap();
    manifest_only(dir.path(), "empty", ScanStatus::Complete, 0);
    let old = stsscan::monitor::snapshot::load(dir.path(), "empty").unwrap();
    assert_eq!(old.scan_id.as_deref(), Some("empty"));
    assert!(old.domains.is_empty());
    let mut expiring = healthy(T0);
    expiring.mx[0].cert_not_after = Some(T0 + 10 * DAY);
    let mut broken = healthy(T0);
    broken.sts_txt = s("absent");
    broken.policy_fetch = s("not-attempted");
    broken.tlsrpt = s("absent");
    broken.mx[0].smtp = s("starttls-not-offered");
    let new = snap(
        "new",
        &[
            ("ok.example", healthy(T0)),
            ("expiring.example", expiring),
            ("broken.example", broken),
        ],
    );
    let alerts = diff(&old, &new, &RuleOptions::default());
    assert_eq!(codes(&alerts), vec![("cert-expiring", Severity::Warning)]);
    assert_eq!(alerts[0].domain, "expiring.example");
    assert_eq!(alerts[0].old_scan.as_deref(), Some("empty"));
    // The other way round: nothing in the new scan, nothing compared.
    assert!(diff(&new, &old, &RuleOptions::default()).is_empty());

    manifest_only(dir.path(), "running", ScanStatus::Running, 0);
    let err = stsscan::monitor::snapshot::load(dir.path(), "running").unwrap_err();
    assert!(format!("{err:#}").contains("status running"), "{err:#}");
    manifest_only(dir.path(), "lost", ScanStatus::Complete, 3);
    let err = stsscan::monitor::snapshot::load(dir.path(), "lost").unwrap_err();
    assert!(format!("{err:#}").contains("3 domain rows"), "{err:#}");
}
