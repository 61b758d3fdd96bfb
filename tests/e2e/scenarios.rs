//! Every scenario class of the catalog (and every provider topology where the scenario lets
//! the provider vary) scanned through `pipeline::run::run` and graded field by field against
//! the lab's ground truth: agreement must be 100 %.

use std::sync::Arc;

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
    let scanned = scan_graded(cfg, Arc::new(move |d| world.truth(d)), false).await;
    assert_agreement(&scanned, names.len() as u64);
    assert!(!scanned.summary.interrupted);
    assert_eq!(scanned.summary.written.counts.domains, names.len() as u64);
    run.lab.shutdown().await;
}
