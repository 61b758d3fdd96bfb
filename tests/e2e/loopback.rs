//! Nothing leaves the lab: every connection the lab saw was to its own block, every policy
//! fetch the scanner made is a request the lab counted, no policy is fetched (not even the
//! policy host looked up) for a domain without a `v=STSv1` TXT under `--fetch-policy auto`,
//! and every destination address was probed once plus the documented SNI re-probes
//! (`Scanner::probe_address`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use hickory_proto::rr::RecordType;
use stsscan::grade::{MX_CERT_OTHER_SNI, compare};
use stsscan::lab::world::{GeneratedWorld, Mix};
use stsscan::pipeline::config::{FetchPolicy, ProbeDedup};

use crate::common::{LabRun, assert_agreement, scan_graded};

/// Outcomes of a fetch in which the request reached the lab's HTTP layer: a response was
/// received (`policy_http_status` set), or the host read the request and then never answered
/// (`timeout`) or closed the connection (`connection-closed`).
fn request_reached_lab(policy_fetch: &str, http_status: Option<u16>) -> bool {
    http_status.is_some() || matches!(policy_fetch, "timeout" | "connection-closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_leaves_loopback_and_fetches_and_probes_are_accounted() {
    let world = GeneratedWorld {
        seed: 21,
        n: 3_000,
        mix: Mix::Adversarial,
    };
    let run = LabRun::start(|octet| world.build(octet, 4)).await;
    let block = run.lab.block();
    let list = run.write_list("domains.txt", world.domains());
    let cfg = run.config(list, 200);
    assert_eq!(cfg.fetch_policy, FetchPolicy::Auto);
    assert_eq!(cfg.resolvers, vec![run.lab.dns_addr()]);
    let truth_world = run.world.clone();
    let s = scan_graded(cfg, Arc::new(move |d| truth_world.truth(d)), true).await;
    assert_agreement(&s, world.n);
    let counters = run.lab.counters();
    assert_eq!(s.rows.len() as u64, world.n);

    // 1. Every connection the lab saw, and every address the scanner wrote, is in the block.
    for (ip, c) in counters.https_all().into_iter().chain(counters.smtp_all()) {
        if c.accepted > 0 {
            assert!(block.contains(ip), "{ip} outside the lab block");
        }
    }
    let mut probes_at: BTreeMap<IpAddr, BTreeSet<u64>> = BTreeMap::new();
    // the leaf each probe got (its SHA-256), by probe id
    let mut leaf_of: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for (row, mx) in &s.rows {
        if let Some(a) = &row.policy_address {
            let ip: IpAddr = a.parse().expect("policy address");
            assert!(
                block.contains(ip),
                "{}: policy fetched from {ip}",
                row.input
            );
        }
        for r in mx {
            if let Some(a) = &r.address {
                let ip: IpAddr = a.parse().expect("mx address");
                assert!(block.contains(ip), "{}: MX address {ip}", row.input);
                if let Some(id) = r.probe_id {
                    probes_at.entry(ip).or_default().insert(id);
                    let leaf = r.cert_sha256.as_ref().and_then(|c| c.first().cloned());
                    leaf_of.insert(id, leaf);
                }
            }
        }
    }

    // 2. Policy fetches = HTTPS requests for /.well-known/mta-sts.txt counted by the lab.
    let by_sni = counters.https_by_sni_path();
    let path = "/.well-known/mta-sts.txt";
    assert!(
        by_sni.keys().all(|(_, p)| p == path),
        "only the policy path is ever requested: {:?}",
        by_sni.keys().filter(|(_, p)| p != path).collect::<Vec<_>>()
    );
    let lab_requests: u64 = by_sni.values().sum();
    assert_eq!(counters.https_total(), lab_requests);
    let fetched = s
        .rows
        .iter()
        .filter(|(r, _)| r.policy_url.is_some())
        .count() as u64;
    assert_eq!(s.stats.fetches.load(Relaxed), fetched);
    let reached = s
        .rows
        .iter()
        .filter(|(r, _)| {
            request_reached_lab(
                r.policy_fetch.as_deref().unwrap_or_default(),
                r.policy_http_status,
            )
        })
        .count() as u64;
    assert!(reached > 0 && fetched >= reached);
    assert_eq!(
        lab_requests, reached,
        "requests the lab counted vs fetches that sent one"
    );
    // Fetches that never reached HTTP are those the lab could not see (nothing listens, or
    // the black hole never answers the SYN) or whose TLS handshake it refused.
    for (r, _) in s.rows.iter().filter(|(r, _)| r.policy_url.is_some()) {
        let outcome = r.policy_fetch.as_deref().unwrap_or_default();
        if !request_reached_lab(outcome, r.policy_http_status) {
            assert!(
                matches!(outcome, "connect-refused" | "connect-timeout" | "tls-error"),
                "{}: {outcome}",
                r.input
            );
        }
    }
    // A fetch that ended at the policy host's address lookup says how it ended.
    let mut lookups_failed = 0;
    for (r, _) in &s.rows {
        let outcome = r.policy_fetch.as_deref().unwrap_or_default();
        if matches!(outcome, "host-not-found" | "dns-error") {
            lookups_failed += 1;
            let detail = r.policy_fetch_detail.as_deref().unwrap_or_default();
            let status = detail.strip_prefix("address lookup: ");
            assert!(
                status.is_some_and(|s| s != "noerror" && !s.is_empty()),
                "{}: {outcome} with detail {detail:?}",
                r.input
            );
        }
    }
    assert!(
        lookups_failed > 0,
        "the adversarial world has policy hosts without addresses"
    );
    let https_accepted: u64 = counters.https_all().values().map(|c| c.accepted).sum();
    let never_connected = s
        .rows
        .iter()
        .filter(|(r, _)| {
            matches!(
                r.policy_fetch.as_deref(),
                Some("connect-refused" | "connect-timeout")
            )
        })
        .count() as u64;
    assert_eq!(
        https_accepted,
        fetched - never_connected,
        "one connection per fetch"
    );

    // 3. RFC 8461 §3.1: "If the number of resulting records is not one, or if the resulting
    // record is syntactically invalid, senders MUST assume the recipient domain does not have
    // an available MTA-STS Policy and skip the remaining steps of policy discovery." With no
    // record beginning with `v=STSv1` at all, `auto` neither looks up nor fetches the policy.
    let mut untagged = 0;
    for (row, _) in &s.rows {
        let d = row.domain.as_deref().expect("domain");
        let tagged = row
            .sts_txt_records
            .as_ref()
            .is_some_and(|rs| rs.iter().any(|t| t.starts_with("v=STSv1")));
        let host = format!("mta-sts.{d}");
        if tagged {
            assert_ne!(row.policy_fetch.as_deref(), Some("not-attempted"), "{d}");
            continue;
        }
        untagged += 1;
        assert_eq!(row.policy_fetch.as_deref(), Some("not-attempted"), "{d}");
        assert!(row.policy_url.is_none(), "{d}");
        assert_eq!(counters.dns_queries(&host, RecordType::A), 0, "{host} A");
        assert_eq!(
            counters.dns_queries(&host, RecordType::AAAA),
            0,
            "{host} AAAA"
        );
        assert_eq!(counters.https_requests(Some(&host), path), 0, "{host}");
    }
    // The adversarial mix includes orphan policies (served without a TXT).
    assert!(untagged > 0);
    let orphans = s
        .rows
        .iter()
        .filter(|(r, _)| {
            run.world
                .truth(r.domain.as_deref().unwrap_or_default())
                .is_some_and(|t| t.scenario == "policy-without-txt")
        })
        .count();
    assert!(orphans > 0, "the world has policy-without-txt domains");

    // 4. One probe per destination address, plus the documented SNI re-probes: the lab's
    // accepted connections per SMTP listener equal the distinct probes the rows name there.
    let mut extra = 0u64;
    let mut total = 0u64;
    for (ip, ids) in &probes_at {
        total += ids.len() as u64;
        extra += ids.len() as u64 - 1;
        if let Some(c) = counters.smtp_conns(*ip) {
            assert_eq!(c.accepted, ids.len() as u64, "connections to {ip}");
        }
    }
    assert_eq!(s.stats.probes.load(Relaxed), total, "probes run");
    assert_eq!(
        s.stats.sni_reprobes.load(Relaxed),
        extra,
        "every probe beyond the first per address is an SNI re-probe"
    );
    // The default re-probes rather than judge a name on another name's handshake: a row that
    // shares a probe made for another name (`probe_sni`) got a certificate covering its own.
    let mut shared_other_name = 0;
    for (_, mx) in &s.rows {
        for r in mx {
            let detail = r.cert_detail.as_deref().unwrap_or_default();
            assert!(!detail.contains("shared probe sent SNI"), "{detail}");
            if r.probe_sni_for_other_name().is_some() {
                assert_ne!(r.mx_cert.as_deref(), Some("name-mismatch"), "{r:?}");
                shared_other_name += 1;
            }
        }
    }
    assert!(
        shared_other_name > 0,
        "provider rows share one probe across names"
    );
    // A re-probe that got the address's shared certificate again is counted as such (the
    // shared probe is the address's first, lowest id).
    let mut same = 0u64;
    for ids in probes_at.values() {
        let mut ids = ids.iter();
        let Some(first) = ids.next() else { continue };
        let shared = leaf_of.get(first).cloned().flatten();
        same += ids
            .filter(|id| shared.is_some() && leaf_of.get(*id).cloned().flatten() == shared)
            .count() as u64;
    }
    assert_eq!(
        s.stats.sni_reprobes_same_cert.load(Relaxed),
        same,
        "re-probes that got the shared certificate again"
    );
    // the adversarial mix has hosts that show every name one certificate (e.g. a reused
    // self-signed one), so the count is exercised
    assert!(same > 0, "some re-probes got the shared certificate again");
    for (ip, c) in counters.smtp_all() {
        if c.accepted > 0 {
            assert!(probes_at.contains_key(&ip), "{ip} connected but in no row");
        }
        // The scanner opens at most 4 at once (`lab_scan_config`; the prober's own tests check
        // the limit exactly). The lab counts a connection as open until its server task ends,
        // which includes a lingering close after the client is gone, so its count may briefly
        // include connections the client has already closed: allow that, not more.
        assert!(c.max_open <= 8, "{ip}: {} at once", c.max_open);
    }
    run.lab.shutdown().await;
}

/// `--probe-dedup address-once`: every destination address is probed exactly once (the lab
/// accepts one connection per SMTP address the rows name, and no SNI re-probe is made), and
/// the documented cost shows: MX names served by the lab's pooled, SNI-choosing hosts are
/// judged on another name's certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_once_probes_every_address_exactly_once() {
    let world = GeneratedWorld {
        seed: 22,
        n: 600,
        mix: Mix::Realistic,
    };
    let run = LabRun::start(|octet| world.build(octet, 4)).await;
    let list = run.write_list("domains.txt", world.domains());
    let mut cfg = run.config(list, 100);
    cfg.probe_dedup = ProbeDedup::AddressOnce;
    let truth_world = run.world.clone();
    let s = scan_graded(cfg, Arc::new(move |d| truth_world.truth(d)), true).await;
    assert_eq!(s.rows.len() as u64, world.n);
    assert_eq!(s.stats.sni_reprobes.load(Relaxed), 0, "no SNI re-probe");
    let mut probes_at: BTreeMap<IpAddr, BTreeSet<u64>> = BTreeMap::new();
    let mut shared_mismatch = 0;
    let mut other_sni = 0;
    for (_, mx) in &s.rows {
        for r in mx {
            if let (Some(a), Some(id)) = (&r.address, r.probe_id) {
                probes_at
                    .entry(a.parse().expect("mx address"))
                    .or_default()
                    .insert(id);
                if r.probe_shared == Some(true) && r.mx_cert.as_deref() == Some("name-mismatch") {
                    shared_mismatch += 1;
                }
                // A row judged on a handshake made for another name says which name.
                let detail = r.cert_detail.as_deref().unwrap_or_default();
                if let Some(rest) = detail.split("the shared probe sent SNI ").nth(1) {
                    let sni = rest.split(';').next().unwrap_or_default();
                    assert_ne!(sni, r.mx_host, "{detail}");
                    assert_eq!(r.probe_sni.as_deref(), Some(sni), "{detail}");
                    assert_eq!(r.mx_cert.as_deref(), Some("name-mismatch"), "{detail}");
                    assert_eq!(r.probe_shared, Some(true), "{detail}");
                    other_sni += 1;
                }
            }
        }
    }
    assert!(probes_at.len() > 10, "{} addresses", probes_at.len());
    let counters = run.lab.counters();
    for (ip, ids) in &probes_at {
        assert_eq!(ids.len(), 1, "{ip}: probes {ids:?}");
        if let Some(c) = counters.smtp_conns(*ip) {
            assert!(c.accepted <= 1, "{ip}: {} connections", c.accepted);
        }
    }
    assert_eq!(
        s.stats.probes.load(Relaxed),
        probes_at.len() as u64,
        "probes = unique destination addresses"
    );
    assert!(
        shared_mismatch > 0,
        "the pooled SNI hosts make shared-certificate name mismatches"
    );
    assert!(
        other_sni > 0,
        "rows judged on another name's handshake say so"
    );
    // What address-once gets wrong is exactly that: every domain that disagrees with the
    // truth has an MX whose certificate was judged on a handshake made for another name
    // (`probe_sni`), and no certificate judged on its own handshake disagrees.
    let other = format!("mx:*:{MX_CERT_OTHER_SNI}");
    assert!(
        s.report.by_field.get(&other).is_some_and(|n| *n > 0),
        "{:?}",
        s.report.by_field
    );
    assert!(
        !s.report.by_field.contains_key("mx:*:mx_cert"),
        "{:?}",
        s.report.by_field
    );
    let mut disagreeing = 0;
    for (row, mx) in s.rows.iter().filter(|(r, _)| r.input_status == "ok") {
        let d = row.domain.as_deref().unwrap_or_default();
        let truth = run.world.truth(d).expect("truth");
        let mism = compare(&truth, row, mx);
        if !mism.is_empty() {
            disagreeing += 1;
            assert!(
                mism.iter().any(|m| m.field.ends_with(MX_CERT_OTHER_SNI)),
                "{d}: {mism:?}"
            );
        }
    }
    assert_eq!(disagreeing, s.report.domains - s.report.agreeing);
    run.lab.shutdown().await;
}
