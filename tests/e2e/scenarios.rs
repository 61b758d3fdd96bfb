//! Every scenario class of the catalog (and every provider topology where the scenario lets
//! the provider vary) scanned through `pipeline::run::run` and graded field by field against
//! the lab's ground truth: agreement must be 100 %.

use std::sync::Arc;

use stsscan::cli::check::{Mark, draft, explain};
use stsscan::lab::world::{ExplicitWorld, Provider, Scenario};

use crate::common::{LabRun, assert_agreement, scan_graded};

const PROVIDERS: [(Provider, &str); 3] = [
    (Provider::SelfHosted, "self"),
    (Provider::GoogleLike, "google"),
    (Provider::MicrosoftLike, "microsoft"),
];

/// The declared domains: one per scenario, three (one per provider) where the scenario's MX
/// set is hosted by a provider.
fn declared() -> Vec<(String, Scenario, Provider)> {
    let mut v = Vec::new();
    for s in Scenario::ALL {
        if s.uses_provider() {
            for (p, tag) in PROVIDERS {
                v.push((format!("{}.{tag}.test", s.name()), *s, p));
            }
        } else {
            v.push((format!("{}.test", s.name()), *s, Provider::SelfHosted));
        }
    }
    v
}

fn builder() -> stsscan::lab::world::ExplicitWorldBuilder {
    declared()
        .into_iter()
        .fold(ExplicitWorld::builder(), |b, (name, s, p)| {
            b.domain_at(&name, s, p)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_and_provider_agrees_with_the_truth() {
    let names: Vec<String> = declared().into_iter().map(|d| d.0).collect();
    let run = LabRun::start(|octet| builder().build(octet)).await;
    // Every scenario is present, and every provider topology is exercised.
    assert!(names.len() > Scenario::ALL.len());
    for s in Scenario::ALL {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{}.", s.name()))),
            "{s} missing"
        );
    }
    let list = run.write_list("domains.txt", names.iter().cloned());
    let cfg = run.config(list, 64);
    let world = run.world.clone();
    let scanned = scan_graded(cfg, Arc::new(move |d| world.truth(d)), true).await;
    assert_agreement(&scanned, names.len() as u64);
    // Not graded by the truth but recorded: the `_mta-sts` CNAME chain, also for the dangling
    // alias answered NXDOMAIN with the CNAME (RFC 6604 §3: the RCODE is the last name's).
    for (row, _) in &scanned.rows {
        let d = row.domain.clone().unwrap_or_default();
        let hops = match d.split('.').next().unwrap_or_default() {
            "txt-cname-1" | "txt-cname-dangling" => 1,
            "txt-cname-2" => 2,
            "txt-cname-3" => 3,
            _ => 0,
        };
        let want: Vec<String> = (1..=hops)
            .map(|j| format!("{d}.c{j}.stsvendor.lab"))
            .collect();
        assert_eq!(
            row.sts_txt_cname_chain.clone().unwrap_or_default(),
            want,
            "{d}: CNAME chain"
        );
    }
    // Not graded either: why a certificate verdict is not `valid` (schema 2). Every non-valid
    // verdict carries a reason and a valid one none; the wrong-purpose leaves name the missing
    // serverAuth purpose (RFC 5280 §4.2.1.12: "If the extension is present, then the
    // certificate MUST only be used for one of the purposes indicated.").
    let eku = |t: &Option<String>| {
        t.as_deref()
            .is_some_and(|t| t.contains("extended key usage for server authentication"))
    };
    let mut eku_reasons = 0;
    for (row, mx) in &scanned.rows {
        let d = row.domain.clone().unwrap_or_default();
        let mut pairs = vec![(row.policy_cert.clone(), row.policy_cert_detail.clone())];
        pairs.extend(
            mx.iter()
                .map(|m| (m.mx_cert.clone(), m.cert_detail.clone())),
        );
        for (verdict, detail) in &pairs {
            match verdict.as_deref() {
                None | Some("valid") => assert_eq!(detail, &None, "{d}"),
                Some(v) => assert!(detail.as_deref().is_some_and(|t| !t.is_empty()), "{d}: {v}"),
            }
            eku_reasons += usize::from(eku(detail));
        }
        if d.starts_with("policy-cert-wrong-purpose.") {
            assert!(eku(&row.policy_cert_detail), "{d}: {row:?}");
        }
        if d.starts_with("mx-cert-wrong-purpose.") {
            assert!(
                !mx.is_empty() && mx.iter().all(|m| eku(&m.cert_detail)),
                "{d}"
            );
        }
    }
    // three policy hosts (one per provider) and one self-hosted MX, nothing else
    assert_eq!(eku_reasons, 4);
    // Not graded: how bad an undeliverable policy is follows the MX set's shape. RFC 7505
    // (abstract): the null MX is the "mechanism by which a domain announces that it accepts
    // no mail", so a policy beside it costs no delivery (a warning, and `check` marks it !);
    // no MX and no address, or MX hosts that all fail, lose mail (an error, `check` fails).
    let of = |scenario: &str| {
        let rows: Vec<_> = scanned
            .rows
            .iter()
            .filter(|(r, _)| {
                r.domain
                    .as_deref()
                    .is_some_and(|d| d.starts_with(&format!("{scenario}.")))
            })
            .collect();
        assert!(!rows.is_empty(), "no row of {scenario}");
        rows
    };
    // RFC 8461 §5, "testing": "messages may be delivered as though there were no MTA-STS
    // validation failure": bad MX hosts under a testing policy lose no mail yet (a warning, !).
    for (scenario, severity, mark) in [
        ("mx-cert-self-signed", "warning", Mark::Warn),
        ("smtp-no-starttls", "warning", Mark::Warn),
        ("mx-null-with-policy", "warning", Mark::Warn),
        ("enforce-zero-mx", "error", Mark::Fail),
        ("enforce-all-bad-certs", "error", Mark::Fail),
    ] {
        for (row, mx) in of(scenario) {
            let f = row
                .findings
                .iter()
                .find(|f| f.code == "enforce-undeliverable");
            assert_eq!(f.map(|f| f.severity.as_str()), Some(severity), "{row:?}");
            let c = explain(row, mx);
            let c = c
                .iter()
                .find(|c| c.requirement == "a sender enforcing the policy can deliver");
            assert_eq!(c.map(|c| c.mark), Some(mark), "{scenario}: {c:?}");
        }
    }
    // `check --policy`: a draft is judged as the scan judges a published policy. With the live
    // policy as the draft, every domain whose policy is usable gets the scan's own verdict on
    // deliverability, and a published policy is "what senders see".
    let mut judged = 0;
    for (row, mx) in &scanned.rows {
        let (Some(true), Some(body)) = (row.policy_usable, row.policy_body.as_deref()) else {
            continue;
        };
        let c = draft::explain(row, mx, body.as_bytes(), "live.txt", true);
        let mark = |req: &str| c.iter().find(|c| c.requirement == req).map(|c| c.mark);
        let live = explain(row, mx);
        let live_mark = live
            .iter()
            .find(|c| c.requirement == "a sender enforcing the policy can deliver")
            .map(|c| c.mark);
        assert_eq!(
            mark("a sender enforcing the draft can deliver"),
            live_mark,
            "{:?}: {c:#?}",
            row.domain
        );
        assert_eq!(
            mark("the draft is what senders see"),
            Some(Mark::Pass),
            "{:?}",
            row.domain
        );
        judged += 1;
    }
    assert!(judged > 20, "{judged}");
    // A policy that lists none of the MX hosts, redrafted to list them, can be published.
    for (row, mx) in of("enforce-all-uncovered") {
        let hosts = row.mx_hosts.clone().unwrap_or_default();
        let mut body = String::from("version: STSv1\nmode: enforce\nmax_age: 604800\n");
        for h in &hosts {
            body.push_str(&format!("mx: {h}\n"));
        }
        let c = draft::explain(row, mx, body.as_bytes(), "fixed.txt", true);
        let listed = c
            .iter()
            .filter(|c| c.requirement.ends_with("is listed in the draft"));
        assert_eq!(listed.clone().count(), hosts.len(), "{c:#?}");
        assert!(listed.clone().all(|c| c.mark == Mark::Pass), "{c:#?}");
        let deliver = c
            .iter()
            .find(|c| c.requirement == "a sender enforcing the draft can deliver");
        assert_eq!(deliver.map(|c| c.mark), Some(Mark::Pass), "{c:#?}");
        assert!(!c.iter().any(|c| c.mark == Mark::Fail), "{c:#?}");
    }
    // One problem, one finding: a repeated or invalid record is said once, by the records
    // core, as an error (it "makes the record useless to a sender", docs/schema.md).
    for (scenario, code) in [
        ("txt-multiple", "sts-txt-multiple-records"),
        ("tlsrpt-multiple", "tlsrpt-txt-multiple-records"),
        ("tlsrpt-invalid-rua", "tlsrpt-txt-invalid-record"),
    ] {
        for (row, _) in of(scenario) {
            let said: Vec<_> = row
                .findings
                .iter()
                .filter(|f| f.code.contains("-multiple") || f.code.contains("-invalid"))
                .map(|f| (f.code.as_str(), f.severity.as_str()))
                .collect();
            assert_eq!(said, vec![(code, "error")], "{scenario}: {row:?}");
        }
    }
    // A policy certificate ten days from its end is worth renewing (from `monitor`'s first
    // `cert-expiring` threshold, 21 days), with the date; a fresh one passes.
    for (scenario, mark) in [
        ("policy-cert-expiring", Mark::Warn),
        ("enforce-valid", Mark::Pass),
    ] {
        for (row, mx) in of(scenario) {
            let c = explain(row, mx);
            let c = c
                .iter()
                .find(|c| c.requirement.ends_with("presents a valid certificate"));
            assert_eq!(c.map(|c| c.mark), Some(mark), "{scenario}: {c:?}");
            if mark == Mark::Warn {
                assert!(
                    c.is_some_and(|c| c.observed.contains("expires on")),
                    "{c:?}"
                );
            }
        }
    }
    // A dangling `_mta-sts` alias is worth fixing, and `check` names its target.
    for (row, mx) in of("txt-cname-dangling") {
        let c = explain(row, mx);
        let c = &c[0];
        assert_eq!(c.mark, Mark::Warn, "{c:?}");
        assert!(c.observed.contains(".c1.stsvendor.lab"), "{c:?}");
    }
    assert!(!scanned.summary.interrupted);
    assert_eq!(scanned.summary.written.counts.domains, names.len() as u64);
    run.lab.shutdown().await;
}
