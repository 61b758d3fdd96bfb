//! `--exclude FILE`, the opt-out list of domain names, end to end against a lab: a listed
//! input domain (and every name below it) gets an `excluded` row and causes no DNS query at
//! all; a listed MX host suffix is neither looked up nor probed; a listed policy host is
//! neither looked up nor fetched. Every other domain is scanned as without the list and
//! agrees with the lab's ground truth; the manifest counts the excluded lines and records the
//! list's fingerprint.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::RecordType;
use stsscan::lab::world::{ExplicitWorld, Provider, Scenario};
use stsscan::output::Manifest;
use stsscan::pipeline::exclude::ExclusionList;

use crate::common::{LabRun, assert_agreement, scan_graded};

/// Whether `name` is `domain` or below it (label boundary).
fn at_or_below(name: &str, domain: &str) -> bool {
    name == domain || name.ends_with(&format!(".{domain}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_names_are_never_queried_or_contacted() {
    let run = LabRun::start(|octet| {
        ExplicitWorld::builder()
            .domain("alpha.test", Scenario::EnforceValid)
            .domain("optedout.test", Scenario::EnforceValid)
            .domain("notoptedout.test", Scenario::TestingValid)
            .domain_at(
                "tenant.test",
                Scenario::EnforceValid,
                Provider::MicrosoftLike,
            )
            .domain("partly.test", Scenario::MxPartlyCovered)
            .domain("policyout.test", Scenario::EnforceValid)
            .build(octet)
    })
    .await;
    let list = run.write_list(
        "domains.txt",
        [
            "alpha.test",
            "optedout.test",
            "mail.optedout.test",
            "notoptedout.test",
            "tenant.test",
            "partly.test",
            "policyout.test",
            "OPTEDOUT.test.",
            "xn--bcher-kva.test",
        ]
        .map(str::to_owned),
    );
    // An entry covers the name and every name below it; entries are normalized like input
    // domains (case, trailing dot, IDNA U-label → A-label).
    let optout = run.write_list(
        "optout.txt",
        [
            "# opt-out requests",
            "OptedOut.test.   # asked 2026-01-02",
            "protection.outlook.lab",
            "mx2.partly.test",
            "mta-sts.policyout.test",
            "",
            "bücher.test",
        ]
        .map(str::to_owned),
    );
    let mut cfg = run.config(list, 8);
    cfg.exclude = Some(Arc::new(
        ExclusionList::load(&optout).expect("exclusion list"),
    ));
    let world = run.world.clone();
    let s = scan_graded(cfg, Arc::new(move |d| world.truth(d)), true).await;
    // The five domains not on the list agree with the truth (the grader skips only what the
    // list kept the scan from measuring: see `stsscan::grade`).
    assert_agreement(&s, 5);

    let by_line: BTreeMap<u64, _> = s.rows.iter().map(|(r, m)| (r.input_line, (r, m))).collect();
    let status = |line: u64| by_line[&line].0.input_status.as_str();
    assert_eq!(
        (1..=9).map(status).collect::<Vec<_>>(),
        [
            "ok", "excluded", "excluded", "ok", "ok", "ok", "ok", "excluded", "excluded"
        ]
    );
    for line in [2, 3, 8, 9] {
        let (row, mx) = by_line[&line];
        assert!(
            row.domain.is_some(),
            "line {line}: the normalized name is kept"
        );
        assert!(
            row.sts_txt.is_none() && row.mx_kind.is_none() && row.policy_fetch.is_none(),
            "line {line}: not scanned"
        );
        assert!(mx.is_empty() && row.findings.is_empty(), "line {line}");
    }
    assert_eq!(by_line[&9].0.domain_unicode.as_deref(), Some("bücher.test"));

    let counters = run.lab.counters();
    // No DNS query at all for an excluded input domain or any name below it.
    for ((name, qtype), n) in counters.dns_by_name() {
        assert!(
            !at_or_below(&name, "optedout.test") && !at_or_below(&name, "xn--bcher-kva.test"),
            "{n} {qtype} queries for {name}"
        );
    }
    assert!(
        counters.dns_queries("_mta-sts.notoptedout.test", RecordType::TXT) >= 1,
        "a name that only ends in the same letters is scanned"
    );

    // The excluded MX host: not looked up, not probed; the domain is unknown, not failing.
    let truth = run.world.truth("tenant.test").expect("truth");
    let tenant_mx = &truth.mx[0];
    assert!(tenant_mx.mx_host.ends_with(".mail.protection.outlook.lab"));
    for t in [RecordType::A, RecordType::AAAA] {
        assert_eq!(counters.dns_queries(&tenant_mx.mx_host, t), 0, "{t}");
    }
    for a in &tenant_mx.mx_addresses {
        let ip: IpAddr = a.parse().expect("address");
        let accepted = counters.smtp_conns(ip).map_or(0, |c| c.accepted);
        assert_eq!(accepted, 0, "SMTP connections to the excluded MX at {ip}");
    }
    let (row, mx) = by_line[&5];
    assert_eq!(row.domain.as_deref(), Some("tenant.test"));
    assert_eq!(mx.len(), 1, "{mx:?}");
    let m = &mx[0];
    assert_eq!(m.mx_host, tenant_mx.mx_host);
    assert_eq!(m.mx_excluded, Some(true));
    assert!(m.address.is_none() && m.address_dns.is_none() && m.address_refused.is_none());
    assert!(m.smtp.is_none() && m.probe_id.is_none() && m.rfc8460_result.is_none());
    assert_eq!(m.mx_policy_match, Some(true), "matching needs no contact");
    assert_eq!(
        row.policy_fetch.as_deref(),
        Some("ok"),
        "the policy host is not listed"
    );
    assert_eq!(row.policy_usable, Some(true));
    assert_eq!(row.enforce_deliverable, None, "unknown, not undeliverable");
    assert_eq!(row.rfc8460_result, None);
    let codes: Vec<(&str, &str)> = row
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.severity.as_str()))
        .collect();
    assert!(codes.contains(&("mx-excluded", "info")), "{codes:?}");
    assert!(
        row.findings.iter().all(|f| f.severity != "error"),
        "{codes:?}"
    );

    // One of two MX hosts excluded: the other one decides, as a sender's would.
    let (row, mx) = by_line[&6];
    let excluded: Vec<_> = mx
        .iter()
        .map(|m| (m.mx_host.as_str(), m.mx_excluded))
        .collect();
    assert_eq!(
        excluded,
        [
            ("mx.partly.test", Some(false)),
            ("mx2.partly.test", Some(true))
        ]
    );
    assert_eq!(counters.dns_queries("mx2.partly.test", RecordType::A), 0);
    assert!(counters.dns_queries("mx.partly.test", RecordType::A) >= 1);
    assert_eq!(mx[0].smtp.as_deref(), Some("ok"));
    assert_eq!(row.enforce_deliverable, Some(true));

    // The excluded policy host: neither looked up nor fetched; the MX still probed.
    let (row, mx) = by_line[&7];
    assert_eq!(row.policy_fetch.as_deref(), Some("excluded"));
    assert!(row.policy_url.is_none() && row.policy_address.is_none());
    assert_eq!(row.sts_txt.as_deref(), Some("valid"));
    assert_eq!(row.rfc8460_result, None);
    assert!(
        row.findings
            .iter()
            .any(|f| f.code == "policy-host-excluded" && f.severity == "info")
    );
    for t in [RecordType::A, RecordType::AAAA] {
        assert_eq!(counters.dns_queries("mta-sts.policyout.test", t), 0, "{t}");
    }
    let path = "/.well-known/mta-sts.txt";
    assert_eq!(
        counters.https_requests(Some("mta-sts.policyout.test"), path),
        0
    );
    assert!(counters.https_requests(Some("mta-sts.tenant.test"), path) >= 1);
    assert_eq!(mx[0].smtp.as_deref(), Some("ok"));

    // The scan's tallies and the manifest count the excluded lines and record the list.
    let tallied = s
        .stats
        .tallies()
        .into_iter()
        .find(|(f, v, _)| *f == "input_status" && v == "excluded")
        .map(|(_, _, n)| n);
    assert_eq!(tallied, Some(4));
    let counts = &s.summary.written.counts.statuses["domains.input_status"];
    assert_eq!((counts["excluded"], counts["ok"]), (4, 5));
    let m = Manifest::load_file(&s.summary.written.manifest).expect("manifest");
    let ex = &m.config["exclude"];
    assert_eq!(ex["entries"], 5, "{ex}");
    assert_eq!(ex["sha256"].as_str().map(str::len), Some(64), "{ex}");
    assert_eq!(m.counts.statuses["domains.input_status"]["excluded"], 4);
    run.lab.shutdown().await;
}
