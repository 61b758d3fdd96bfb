//! The narrower scan scopes against the default scan, on one lab: `--probe sts` (probe only
//! the MX of domains with an `_mta-sts` record) and DNS only (`--probe none --fetch-policy
//! never`). What a scope still measures must equal what the default scan measured; what it
//! does not measure must stay null (not known), never turn into a verdict.

use std::collections::BTreeMap;
use std::sync::Arc;

use stsscan::lab::world::{GeneratedWorld, Mix};
use stsscan::output::{DomainRow, MxRow};
use stsscan::pipeline::config::{FetchPolicy, ProbeScope};
use stsscan::records::sts_txt::begins_with_version;

use crate::common::{LabRun, assert_agreement, scan_graded};

type Rows = BTreeMap<String, (DomainRow, Vec<MxRow>)>;

fn by_domain(rows: Vec<(DomainRow, Vec<MxRow>)>) -> Rows {
    rows.into_iter()
        .filter(|(d, _)| d.input_status == "ok")
        .filter_map(|(d, mx)| Some((d.domain.clone()?, (d, mx))))
        .collect()
}

/// What the DNS lookups alone decide.
fn dns_view(d: &DomainRow) -> impl PartialEq + std::fmt::Debug {
    (
        d.sts_txt.clone(),
        d.sts_txt_records.clone(),
        d.mx_kind.clone(),
        d.mx_hosts.clone(),
        d.tlsrpt.clone(),
        d.tlsrpt_records.clone(),
    )
}

/// The domain's verdicts and findings.
fn verdicts(d: &DomainRow) -> impl PartialEq + std::fmt::Debug {
    let codes: Vec<(String, String)> = d
        .findings
        .iter()
        .map(|f| (f.code.clone(), f.severity.clone()))
        .collect();
    (
        d.policy_fetch.clone(),
        d.policy_usable,
        d.enforce_deliverable,
        d.all_mx_covered,
        d.all_mx_starttls,
        d.all_mx_cert_valid,
        d.rfc8460_result.clone(),
        d.max_severity.clone(),
        codes,
    )
}

/// What the probes found, per MX address.
fn probe_view(mx: &[MxRow]) -> Vec<impl PartialEq + std::fmt::Debug + Ord> {
    let mut v: Vec<_> = mx
        .iter()
        .map(|m| {
            (
                m.mx_host.clone(),
                m.address.clone(),
                m.smtp.clone(),
                m.starttls,
                m.mx_cert.clone(),
                m.rfc8460_result.clone(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Whether the scanner (and a sender) sees an MTA-STS record: a TXT RR begins with `v=STSv1`.
fn has_sts(d: &DomainRow) -> bool {
    d.sts_txt_records
        .as_ref()
        .is_some_and(|rs| rs.iter().any(|r| begins_with_version(r.as_bytes())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrower_scopes_measure_the_same_and_leave_the_rest_unknown() {
    const N: u64 = 1_200;
    let world = GeneratedWorld {
        seed: 41,
        n: N,
        mix: Mix::Adversarial,
    };
    let run = LabRun::start(|octet| world.build(octet, 8)).await;
    let list = run.write_list("domains.txt", world.domains());
    let truth = {
        let w = run.world.clone();
        Arc::new(move |d: &str| w.truth(d))
    };

    let mut full = scan_graded(run.config(list.clone(), 300), truth.clone(), true).await;
    assert_agreement(&full, N);
    let mut cfg = run.config(list.clone(), 300);
    cfg.probe = ProbeScope::Sts;
    let mut sts = scan_graded(cfg, truth.clone(), true).await;
    let mut cfg = run.config(list, 300);
    cfg.probe = ProbeScope::None;
    cfg.fetch_policy = FetchPolicy::Never;
    let mut dns_only = scan_graded(cfg, truth, true).await;
    run.lab.shutdown().await;

    let (full_rows, sts_rows, dns_rows) = (
        by_domain(std::mem::take(&mut full.rows)),
        by_domain(std::mem::take(&mut sts.rows)),
        by_domain(std::mem::take(&mut dns_only.rows)),
    );
    assert_eq!(full_rows.len() as u64, N);
    assert_eq!(sts_rows.len() as u64, N);
    assert_eq!(dns_rows.len() as u64, N);

    // `--probe sts`: a domain with an MTA-STS record is scanned exactly as by default; the MX
    // of the others are not probed, and nothing probe-derived is claimed for them.
    let mut with_sts = 0;
    for (domain, (d, mx)) in &sts_rows {
        let (fd, fmx) = &full_rows[domain];
        assert_eq!(dns_view(d), dns_view(fd), "{domain}: DNS under --probe sts");
        if has_sts(fd) {
            with_sts += 1;
            assert_eq!(
                verdicts(d),
                verdicts(fd),
                "{domain}: verdicts under --probe sts"
            );
            assert_eq!(
                probe_view(mx),
                probe_view(fmx),
                "{domain}: probes under --probe sts"
            );
        } else {
            assert!(
                mx.iter().all(|m| m.smtp.is_none() && m.mx_cert.is_none()),
                "{domain}"
            );
            assert_eq!(d.all_mx_starttls, None, "{domain}");
            assert_eq!(d.all_mx_cert_valid, None, "{domain}");
        }
    }
    assert!(
        with_sts > 100,
        "the adversarial world has MTA-STS domains ({with_sts})"
    );
    let probes =
        |s: &crate::common::Scanned| s.stats.probes.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        probes(&sts) < probes(&full),
        "{} vs {}",
        probes(&sts),
        probes(&full)
    );

    // DNS only: the same DNS answers; no fetch, no probe, and no verdict that needs either.
    // A valid TXT whose policy was not fetched is not an RFC 8460 `sts-policy-fetch-error`
    // (the result type of a policy a sender failed to fetch): no fetch was tried, so what a
    // sender would meet is not known.
    assert_eq!(probes(&dns_only), 0);
    assert_eq!(
        dns_only
            .stats
            .fetches
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    for (domain, (d, mx)) in &dns_rows {
        let (fd, _) = &full_rows[domain];
        assert_eq!(dns_view(d), dns_view(fd), "{domain}: DNS when DNS only");
        assert_eq!(d.policy_fetch.as_deref(), Some("not-attempted"), "{domain}");
        assert_eq!(d.enforce_deliverable, None, "{domain}");
        assert_eq!(d.all_mx_starttls, None, "{domain}");
        assert_eq!(d.all_mx_cert_valid, None, "{domain}");
        assert_eq!(d.rfc8460_result, None, "{domain}: {:?}", d.rfc8460_result);
        assert!(
            mx.iter()
                .all(|m| m.smtp.is_none() && m.rfc8460_result.is_none()),
            "{domain}"
        );
    }
}
