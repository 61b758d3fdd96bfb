//! IPv6 end to end (`--ip-version 4|6|both`): the MX host and the policy host of `v6.test`
//! also have an AAAA record pointing at `::1` (the only IPv6 loopback address), where the
//! lab serves SMTP and HTTPS as their IPv4 hosts do ([`Ipv6Loopback`]). `::1` is shared by
//! every test and process, so this lab runs on service ports it picked for itself (free on
//! `[::1]`, retried when taken), never the standard ones.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use stsscan::lab::model::World;
use stsscan::lab::server::{self, Lab, LabOptions, Ports};
use stsscan::lab::world::{ExplicitWorld, Ipv6Loopback, LabWorld, Scenario};
use stsscan::output::{DomainRow, MxRow};
use stsscan::pipeline::config::{IpVersion, ScanConfig};

use crate::common::{Scanned, assert_agreement, scan_graded};

const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

type V6World = Ipv6Loopback<LabWorld<ExplicitWorld>>;

fn world(octet: u8) -> V6World {
    let w = ExplicitWorld::builder()
        .domain("v6.test", Scenario::EnforceValid)
        .domain("v4only.test", Scenario::EnforceValid)
        .build(octet);
    Ipv6Loopback::new(w)
        .smtp("mx.v6.test")
        .https("mta-sts.v6.test")
}

/// A port that is free on `[::1]` right now.
fn free_v6_port() -> u16 {
    std::net::TcpListener::bind(SocketAddr::new(V6, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind [::1]:0")
}

/// Starts the lab on HTTPS and SMTP ports free on `[::1]` (retried: another test may take
/// a port between the check and the lab's bind).
async fn start_lab() -> (Lab, Arc<V6World>) {
    let mut last = None;
    for _ in 0..16 {
        let (https, smtp) = (free_v6_port(), free_v6_port());
        if https == smtp {
            continue;
        }
        let opts = LabOptions {
            ports: Ports {
                dns: 0,
                https,
                smtp,
            },
            ..LabOptions::default()
        };
        let mut keep = None;
        let started = server::start(
            |b| {
                let w = Arc::new(world(b.octet));
                keep = Some(w.clone());
                w as Arc<dyn World>
            },
            opts,
        )
        .await;
        match started {
            Ok(lab) => return (lab, keep.expect("world built")),
            Err(e) => last = Some(e),
        }
    }
    panic!("no lab on free [::1] ports: {last:?}");
}

struct Env {
    lab: Lab,
    world: Arc<V6World>,
    dir: tempfile::TempDir,
}

impl Env {
    fn config(&self, tag: &str, ip: IpVersion) -> ScanConfig {
        let list = self.dir.path().join("domains.txt");
        let ca = self.dir.path().join("ca.pem");
        let mut cfg =
            stsscan::cli::demo::lab_scan_config(&self.lab, list, ca, self.dir.path().join(tag), 4)
                .expect("lab scan config");
        cfg.ip_version = ip;
        cfg.timeouts.dns = Duration::from_secs(3);
        cfg.timeouts.connect = Duration::from_secs(5);
        cfg.timeouts.fetch = Duration::from_secs(5);
        cfg.timeouts.smtp_reply = Duration::from_secs(5);
        cfg.timeouts.smtp_session = Duration::from_secs(10);
        cfg
    }

    async fn scan(&self, cfg: ScanConfig, graded: bool) -> Scanned {
        let world = self.world.clone();
        let truth: crate::common::TruthFn = if graded {
            Arc::new(move |d| world.inner().truth(d))
        } else {
            Arc::new(|_| None)
        };
        scan_graded(cfg, truth, true).await
    }

    fn smtp_v6(&self) -> u64 {
        self.lab.counters().smtp_conns(V6).map_or(0, |c| c.accepted)
    }

    fn https_v6(&self) -> u64 {
        self.lab
            .counters()
            .https_conns(V6)
            .map_or(0, |c| c.accepted)
    }
}

fn rows<'a>(s: &'a Scanned, domain: &str) -> (&'a DomainRow, &'a [MxRow]) {
    let (d, mx) = s
        .rows
        .iter()
        .find(|(d, _)| d.domain.as_deref() == Some(domain))
        .unwrap_or_else(|| panic!("no row for {domain}"));
    (d, mx)
}

/// The probe results a valid, STARTTLS-capable MX host gets, whichever family.
fn assert_probed_ok(r: &MxRow) {
    assert_eq!(r.smtp.as_deref(), Some("ok"), "{r:?}");
    assert_eq!(r.starttls, Some(true));
    assert_eq!(r.starttls_injection, Some(false));
    assert_eq!(r.tls_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(r.mx_cert.as_deref(), Some("valid"), "{r:?}");
    assert_eq!(r.chain_verdict.as_deref(), Some("valid"));
    assert_eq!(r.cert_sans.as_deref(), Some(&["mx.v6.test".to_owned()][..]));
    assert_eq!(r.mx_policy_match, Some(true));
    assert!(r.address_refused.is_none() && r.probe_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_mx_and_policy_hosts_on_loopback() {
    let (lab, world) = start_lab().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("ca.pem"), lab.ca_pem()).expect("write CA");
    std::fs::write(dir.path().join("domains.txt"), "v6.test\nv4only.test\n").expect("list");
    let env = Env { lab, world, dir };
    let ports = env.lab.ports();
    let block = env.lab.block();
    assert!(env.lab.world().listeners().smtp.contains(&V6));

    // --ip-version 6: only AAAA; the MX and the policy are reached over [::1]:port.
    let s = env.scan(env.config("v6", IpVersion::V6), false).await;
    let (d, mx) = rows(&s, "v6.test");
    assert_eq!(mx.len(), 1, "{mx:?}");
    let r = &mx[0];
    assert_eq!(r.mx_host, "mx.v6.test");
    assert_eq!(r.address.as_deref(), Some("::1"));
    assert_eq!(r.ip_version, Some(6));
    assert_eq!(r.address_dns.as_deref(), Some("noerror"));
    assert_probed_ok(r);
    assert_eq!(r.probe_shared, Some(false));
    assert_eq!(d.policy_fetch.as_deref(), Some("ok"), "{d:?}");
    assert_eq!(d.policy_address.as_deref(), Some("::1"));
    assert_eq!(
        d.policy_url.as_deref(),
        Some(
            format!(
                "https://mta-sts.v6.test:{}/.well-known/mta-sts.txt",
                ports.https
            )
            .as_str()
        )
    );
    assert_eq!(d.policy_valid, Some(true));
    assert_eq!(d.policy_cert.as_deref(), Some("valid"));
    assert_eq!(d.enforce_deliverable, Some(true));
    assert_eq!(d.all_mx_starttls, Some(true));
    assert_eq!(d.all_mx_cert_valid, Some(true));
    // One probe and one policy connection reached the lab on ::1, none an IPv4 host.
    assert_eq!(env.smtp_v6(), 1);
    assert_eq!(env.https_v6(), 1);
    let v4_smtp: u64 = env
        .lab
        .counters()
        .smtp_all()
        .into_iter()
        .filter(|(ip, _)| block.contains(*ip))
        .map(|(_, c)| c.accepted)
        .sum();
    assert_eq!(v4_smtp, 0, "--ip-version 6 probed an IPv4 address");
    // A host without AAAA has no address to probe under --ip-version 6.
    let (_, mx) = rows(&s, "v4only.test");
    assert_eq!(mx.len(), 1);
    assert_eq!(mx[0].address, None);
    assert_eq!(mx[0].address_dns.as_deref(), Some("nodata"));
    assert!(mx[0].smtp.is_none());

    // --ip-version both: one row per address, A first, each probed on its own.
    let s = env.scan(env.config("both", IpVersion::Both), false).await;
    let (d, mx) = rows(&s, "v6.test");
    assert_eq!(mx.len(), 2, "{mx:?}");
    let v4: IpAddr = mx[0].address.as_deref().unwrap().parse().unwrap();
    assert!(block.contains(v4), "{v4}");
    assert_eq!(mx[0].ip_version, Some(4));
    assert_eq!(mx[1].address.as_deref(), Some("::1"));
    assert_eq!(mx[1].ip_version, Some(6));
    for r in mx {
        assert_probed_ok(r);
    }
    assert_ne!(mx[0].probe_id, mx[1].probe_id, "one probe per address");
    // The policy host's addresses are tried A first: the IPv4 host answers.
    assert_eq!(d.policy_fetch.as_deref(), Some("ok"));
    let policy_v4: IpAddr = d.policy_address.as_deref().unwrap().parse().unwrap();
    assert!(block.contains(policy_v4), "{policy_v4}");
    assert_eq!(env.https_v6(), 1);
    assert_eq!(env.smtp_v6(), 2);
    let (_, mx) = rows(&s, "v4only.test");
    assert_eq!(mx.len(), 1);
    assert_eq!(mx[0].ip_version, Some(4));
    // Every IPv4 connection is a probe of some IPv4 row (MX names of both domains share a
    // pool address; the second name is re-probed with its own SNI).
    let v4_probes: std::collections::BTreeSet<u64> = s
        .rows
        .iter()
        .flat_map(|(_, mx)| mx.iter())
        .filter(|r| r.ip_version == Some(4))
        .filter_map(|r| r.probe_id)
        .collect();
    let v4_conns: u64 = env
        .lab
        .counters()
        .smtp_all()
        .into_iter()
        .filter(|(ip, _)| block.contains(*ip))
        .map(|(_, c)| c.accepted)
        .sum();
    assert_eq!(v4_conns, v4_probes.len() as u64);

    // --ip-version 4 (the default): no AAAA query, nothing on ::1; agrees with the truth.
    let aaaa_before = env
        .lab
        .counters()
        .dns_queries("mx.v6.test", RecordType::AAAA);
    let s = env.scan(env.config("v4", IpVersion::V4), true).await;
    assert_agreement(&s, 2);
    let (_, mx) = rows(&s, "v6.test");
    assert_eq!(mx.len(), 1);
    assert_eq!(mx[0].ip_version, Some(4));
    assert_probed_ok(&mx[0]);
    assert_eq!(
        env.lab
            .counters()
            .dns_queries("mx.v6.test", RecordType::AAAA),
        aaaa_before
    );
    assert_eq!(env.smtp_v6(), 2);
    assert_eq!(env.https_v6(), 1);

    // Without --allow-private, ::1 is refused (loopback) for MX and policy host alike:
    // nothing connects.
    let mut cfg = env.config("private", IpVersion::V6);
    cfg.allow_private = false;
    let s = env.scan(cfg, false).await;
    let (d, mx) = rows(&s, "v6.test");
    assert_eq!(mx.len(), 1);
    assert_eq!(mx[0].address.as_deref(), Some("::1"));
    assert_eq!(mx[0].address_refused.as_deref(), Some("loopback"));
    assert!(mx[0].smtp.is_none() && mx[0].probe_id.is_none());
    assert!(d.policy_address.is_none());
    assert_ne!(d.policy_fetch.as_deref(), Some("ok"));
    assert_eq!((env.smtp_v6(), env.https_v6()), (2, 1));

    // An IPv6 CIDR on the blocklist refuses ::1 even with --allow-private.
    let mut cfg = env.config("blocked", IpVersion::Both);
    cfg.blocklist = vec!["::1/128".to_owned()];
    let s = env.scan(cfg, false).await;
    let (_, mx) = rows(&s, "v6.test");
    assert_eq!(mx.len(), 2);
    assert!(mx[0].address_refused.is_none());
    assert_probed_ok(&mx[0]);
    assert_eq!(mx[1].address.as_deref(), Some("::1"));
    assert_eq!(mx[1].address_refused.as_deref(), Some("blocklisted"));
    assert!(mx[1].smtp.is_none());
    assert_eq!(env.smtp_v6(), 2);

    env.lab.shutdown().await;
}
