//! The DNS client graded against the lab: a generated world (every scenario, adversarial mix)
//! served by the lab's DNS server on its own 127.B.0.0/16 block, and the world's own ground
//! truth (derived from its scenario definitions, never from the scanner). For every domain the
//! client's `_mta-sts` TXT status must be the truth's `sts_txt_dns`, the MX RRset its MX
//! rows, and each MX host's addresses its `mx_addresses`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use stsscan::dns::{Dns, DnsConfig, DnsStatus, IpVersion, Transport};
use stsscan::lab::server::{LabOptions, Ports, start};
use stsscan::lab::world::vocab::MxKind;
use stsscan::lab::world::{GeneratedWorld, Mix};

async fn grade(transport: Transport) {
    let g = GeneratedWorld {
        seed: 8461,
        n: 600,
        mix: Mix::Adversarial,
    };
    let opts = LabOptions {
        ports: Ports {
            dns: 0,
            ..Ports::UNPRIVILEGED
        },
        ..LabOptions::default()
    };
    let lab = start(move |b| Arc::new(g.build(b.octet, 2)), opts)
        .await
        .unwrap();
    let world = g.build(lab.block().octet, 2);
    let dns = Dns::new(DnsConfig {
        resolvers: vec![lab.dns_addr()],
        timeout: Duration::from_millis(1000),
        attempts: 2,
        transport,
        ..DnsConfig::default()
    })
    .unwrap();

    let domains: Vec<String> = g.domains().collect();
    // the grading is not vacuous: the world exercises every DNS status of the truth
    let statuses: BTreeSet<&str> = domains
        .iter()
        .map(|d| world.truth(d).unwrap().sts_txt_dns.as_str())
        .collect();
    for want in ["noerror", "nxdomain", "servfail", "refused", "timeout"] {
        assert!(statuses.contains(want), "{want} missing from {statuses:?}");
    }
    let checked_hosts = std::sync::atomic::AtomicUsize::new(0);
    let checked_hosts = &checked_hosts;
    let mismatches: Vec<String> = futures::stream::iter(domains)
        .map(|d| {
            let (dns, truth) = (dns.clone(), world.truth(&d).unwrap());
            async move {
                let mut bad = Vec::new();
                let txt = dns.txt(&format!("_mta-sts.{d}")).await;
                if txt.status.as_str() != truth.sts_txt_dns.as_str() {
                    bad.push(format!(
                        "{d} ({}): _mta-sts TXT {} vs truth {}",
                        truth.scenario, txt.status, truth.sts_txt_dns
                    ));
                }
                let mx = dns.mx(&d).await;
                match truth.mx_kind {
                    MxKind::Hosts | MxKind::MixedNull | MxKind::Null => {
                        let mine: BTreeSet<(u16, String)> = mx
                            .records
                            .iter()
                            .filter(|(_, h)| !h.is_empty())
                            .cloned()
                            .collect();
                        let want: BTreeSet<(u16, String)> = truth
                            .mx
                            .iter()
                            .map(|m| (m.mx_preference, m.mx_host.clone()))
                            .collect();
                        if mx.status != DnsStatus::NoError || mine != want {
                            bad.push(format!(
                                "{d} ({}): MX {} {mine:?} vs truth {want:?}",
                                truth.scenario, mx.status
                            ));
                        }
                        for m in &truth.mx {
                            checked_hosts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let a = dns.addresses(&m.mx_host, IpVersion::Both).await;
                            let mut got: Vec<String> =
                                a.lookup.records.iter().map(|ip| ip.to_string()).collect();
                            got.sort();
                            if got != m.mx_addresses {
                                bad.push(format!(
                                    "{d} ({}): {} addresses {got:?} ({}) vs truth {:?}",
                                    truth.scenario, m.mx_host, a.lookup.status, m.mx_addresses
                                ));
                            }
                        }
                    }
                    MxKind::LookupFailed => {
                        if !mx.status.is_failure() {
                            bad.push(format!("{d}: MX {} vs truth lookup-failed", mx.status));
                        }
                    }
                    MxKind::Implicit | MxKind::None => {
                        if !mx.status.is_negative() {
                            bad.push(format!("{d}: MX {} vs truth {}", mx.status, truth.mx_kind));
                        }
                    }
                }
                bad
            }
        })
        .buffer_unordered(24)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    let hosts = checked_hosts.load(std::sync::atomic::Ordering::Relaxed);
    assert!(hosts >= 100, "only {hosts} MX hosts checked");
    let s = dns.cache_stats();
    assert!(
        s.hits + s.joins > 0,
        "shared MX hosts are looked up once: {s:?}"
    );
}

#[tokio::test]
async fn client_agrees_with_lab_truth_over_hickory() {
    grade(Transport::Hickory).await;
}

#[tokio::test]
async fn client_agrees_with_lab_truth_over_mux() {
    grade(Transport::Multiplexed { sockets: 2 }).await;
}
