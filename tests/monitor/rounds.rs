//! Monitoring rounds against a lab world that changes between scans, the alerts file, the
//! webhook and the exit codes of `stsscan diff` / `stsscan monitor`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::rr::RecordType;
use stsscan::cli::diff::RawArgs;
use stsscan::cli::progress::ProgressMode;
use stsscan::lab::model::{
    CertSpec, CertVariant, DnsReply, HttpBehaviour, Listeners, SmtpPersonality, World,
};
use stsscan::lab::server::{self, LabOptions};
use stsscan::lab::world::spec::{
    ContentType, Fault, HostCert, MaxAge, MxLayout, MxServer, PolicyBody, PolicyHost, PolicyHttp,
    PolicyMx, PolicySyntax, StsTxt, TlsRpt,
};
use stsscan::lab::world::vocab::PolicyMode;
use stsscan::lab::world::{ExplicitWorld, LabWorld, Scenario, Spec};
use stsscan::monitor::rules::{Alert, RuleOptions, Severity};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// ---------------------------------------------------------------------------------------
// Lab: a world that changes between scans.
// ---------------------------------------------------------------------------------------

/// Several worlds on one lab; `phase` selects the one served.
pub(crate) struct Phases {
    pub(crate) worlds: Vec<LabWorld<ExplicitWorld>>,
    pub(crate) phase: Arc<AtomicUsize>,
}

impl Phases {
    fn now(&self) -> &LabWorld<ExplicitWorld> {
        let i = self.phase.load(Ordering::SeqCst).min(self.worlds.len() - 1);
        &self.worlds[i]
    }
}

impl World for Phases {
    fn dns(&self, qname: &str, qtype: RecordType) -> DnsReply {
        self.now().dns(qname, qtype)
    }
    fn listeners(&self) -> Listeners {
        let mut l = Listeners::default();
        for w in &self.worlds {
            let x = w.listeners();
            l.https.extend(x.https);
            l.smtp.extend(x.smtp);
            l.blackhole.extend(x.blackhole);
        }
        l
    }
    fn https_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec {
        self.now().https_cert(addr, sni)
    }
    fn https_response(
        &self,
        addr: IpAddr,
        sni: Option<&str>,
        host: Option<&str>,
        path: &str,
    ) -> HttpBehaviour {
        self.now().https_response(addr, sni, host, path)
    }
    fn smtp_personality(&self, addr: IpAddr) -> SmtpPersonality {
        self.now().smtp_personality(addr)
    }
    fn smtp_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec {
        self.now().smtp_cert(addr, sni)
    }
}

fn enforce_body(max_age: MaxAge, mode: PolicyMode, mx: PolicyMx) -> PolicyHttp {
    PolicyHttp::Serve {
        body: PolicyBody {
            syntax: PolicySyntax::Crlf,
            mode,
            max_age,
            mx,
        },
        content_type: ContentType::TextPlain,
        framing: stsscan::lab::model::BodyFraming::ContentLength,
    }
}

fn served(cert: CertVariant, http: PolicyHttp) -> PolicyHost {
    PolicyHost::Served {
        cert: HostCert {
            variant: cert,
            names: stsscan::lab::world::spec::CertNames::Host,
        },
        http,
    }
}

fn base() -> Spec {
    Spec {
        sts: StsTxt::Valid,
        sts_fault: Fault::None,
        host: served(
            CertVariant::Valid,
            enforce_body(MaxAge::Week, PolicyMode::Enforce, PolicyMx::Cover),
        ),
        mx: MxLayout::SelfHosted(MxServer::NORMAL),
        mx_fault: Fault::None,
        tlsrpt: TlsRpt::Mailto,
        tlsrpt_fault: Fault::None,
        id_generation: 0,
    }
}

fn mx_expiring(days: u16) -> MxServer {
    MxServer {
        personality: SmtpPersonality::Normal,
        cert: HostCert {
            variant: CertVariant::ExpiresInDays(days),
            names: stsscan::lab::world::spec::CertNames::Host,
        },
    }
}

/// World A (phase 0) and world B (phase 1), in block `block`. Both declare the same MX
/// server classes first (the `pad-*` domains), so every host keeps its address.
pub(crate) fn world(phase: usize, block: u8) -> LabWorld<ExplicitWorld> {
    let b = phase >= 1;
    let pick = |a: Spec, bb: Spec| if b { bb } else { a };
    let no_sts = Spec {
        sts: StsTxt::Absent,
        host: PolicyHost::NoAddress,
        tlsrpt: TlsRpt::Absent,
        ..base()
    };
    ExplicitWorld::builder()
        .custom(
            "pad-30.test",
            Spec {
                mx: MxLayout::SelfHosted(mx_expiring(30)),
                ..no_sts
            },
        )
        .custom(
            "pad-10.test",
            Spec {
                mx: MxLayout::SelfHosted(mx_expiring(10)),
                ..no_sts
            },
        )
        .domain("same.test", Scenario::EnforceValid)
        // RFC 8461 §8.3 done right: mode none first (world A), then the TXT removed (B).
        .custom("decommission.test", {
            let none = Spec {
                host: served(
                    CertVariant::Valid,
                    enforce_body(MaxAge::Week, PolicyMode::None, PolicyMx::Cover),
                ),
                ..base()
            };
            pick(
                none,
                Spec {
                    sts: StsTxt::Absent,
                    ..none
                },
            )
        })
        .custom(
            "policy-edit.test",
            pick(
                base(),
                Spec {
                    host: served(
                        CertVariant::Valid,
                        enforce_body(MaxAge::Max, PolicyMode::Enforce, PolicyMx::Cover),
                    ),
                    ..base()
                },
            ),
        )
        .custom(
            "mx-move.test",
            pick(
                base(),
                Spec {
                    mx: MxLayout::Pair,
                    host: served(
                        CertVariant::Valid,
                        enforce_body(MaxAge::Week, PolicyMode::Enforce, PolicyMx::FirstOnly),
                    ),
                    ..base()
                },
            ),
        )
        .custom(
            "expiring.test",
            Spec {
                host: served(
                    CertVariant::ExpiresInDays(if b { 10 } else { 30 }),
                    enforce_body(MaxAge::Week, PolicyMode::Enforce, PolicyMx::Cover),
                ),
                ..base()
            },
        )
        .custom(
            "mx-expiring.test",
            Spec {
                mx: MxLayout::SelfHosted(mx_expiring(if b { 10 } else { 30 })),
                ..base()
            },
        )
        .custom(
            "downgrade.test",
            pick(
                base(),
                Spec {
                    host: served(
                        CertVariant::Valid,
                        enforce_body(MaxAge::Week, PolicyMode::Testing, PolicyMx::Cover),
                    ),
                    ..base()
                },
            ),
        )
        .custom(
            "txt-removed.test",
            pick(
                base(),
                Spec {
                    sts: StsTxt::Absent,
                    ..base()
                },
            ),
        )
        .custom(
            "fetch-broken.test",
            pick(
                base(),
                Spec {
                    host: served(CertVariant::Valid, PolicyHttp::Status(404)),
                    ..base()
                },
            ),
        )
        .custom(
            "tlsrpt-gone.test",
            pick(
                base(),
                Spec {
                    tlsrpt: TlsRpt::Absent,
                    ..base()
                },
            ),
        )
        .custom(
            "starttls.test",
            pick(
                no_sts,
                Spec {
                    mx: MxLayout::SelfHosted(MxServer {
                        personality: SmtpPersonality::NoStarttls,
                        cert: HostCert::VALID,
                    }),
                    ..no_sts
                },
            ),
        )
        .custom(
            "max-age.test",
            pick(
                base(),
                Spec {
                    host: served(
                        CertVariant::Valid,
                        enforce_body(MaxAge::Short, PolicyMode::Enforce, PolicyMx::Cover),
                    ),
                    ..base()
                },
            ),
        )
        .build(block)
}

/// The alerts expected from A → B, per domain.
pub(crate) fn expected_a_to_b() -> BTreeMap<&'static str, BTreeSet<(&'static str, Severity)>> {
    use Severity::*;
    let mut m = BTreeMap::new();
    let mut add = |d, v: &[(&'static str, Severity)]| {
        m.insert(d, v.iter().copied().collect::<BTreeSet<_>>());
    };
    add(
        "policy-edit.test",
        &[("policy-changed-id-unchanged", Critical)],
    );
    add("mx-move.test", &[("mx-not-covered", Critical)]);
    add("expiring.test", &[("cert-expiring", Warning)]);
    add("mx-expiring.test", &[("cert-expiring", Warning)]);
    // Changing the mode changes the body: the id must change too.
    add(
        "downgrade.test",
        &[
            ("mode-downgraded", Warning),
            ("policy-changed-id-unchanged", Critical),
        ],
    );
    add(
        "txt-removed.test",
        &[("txt-removed-without-none", Critical)],
    );
    add("fetch-broken.test", &[("fetch-failed", Critical)]);
    add("tlsrpt-gone.test", &[("tlsrpt-removed", Warning)]);
    add("starttls.test", &[("starttls-lost", Critical)]);
    add(
        "max-age.test",
        &[
            ("max-age-short", Info),
            ("policy-changed-id-unchanged", Critical),
        ],
    );
    m
}

pub(crate) fn by_domain(alerts: &[Alert]) -> BTreeMap<&str, BTreeSet<(&'static str, Severity)>> {
    let mut m: BTreeMap<&str, BTreeSet<_>> = BTreeMap::new();
    for a in alerts {
        m.entry(a.domain.as_str())
            .or_default()
            .insert((a.code, a.severity));
    }
    m
}

/// A loopback webhook receiver: accepts one request, answers `status`, returns the body.
async fn receiver(status: u16) -> (String, tokio::task::JoinHandle<Option<String>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let h = tokio::spawn(async move {
        let work = async {
            let (mut c, _) = l.accept().await.ok()?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = c.read(&mut chunk).await.ok()?;
                if n == 0 || buf.len() > (4 << 20) {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let body =
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
                        let reply = format!(
                            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        c.write_all(reply.as_bytes()).await.ok()?;
                        return Some(body);
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(60), work)
            .await
            .ok()
            .flatten()
    });
    (url, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn monitor_rounds_on_a_changing_lab() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let lab = server::start(
        move |blk| {
            Arc::new(Phases {
                worlds: vec![world(0, blk.octet), world(1, blk.octet)],
                phase: p,
            }) as Arc<dyn World>
        },
        LabOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let hist = dir.path().join("history");
    let list = dir.path().join("portfolio.txt");
    let names: Vec<String> = world(0, lab.block().octet)
        .source()
        .domains()
        .map(str::to_owned)
        .collect();
    std::fs::write(&list, names.join("\n") + "\n").unwrap();
    let cfg = stsscan::cli::demo::lab_scan_config(
        &lab,
        list,
        lab.ca_file().to_path_buf(),
        hist.clone(),
        16,
    )
    .unwrap();
    let opts = RuleOptions::default();
    let round = |cfg, webhook: Option<String>| {
        let opts = opts.clone();
        async move {
            tokio::time::timeout(
                Duration::from_secs(120),
                stsscan::cli::monitor::round(cfg, &opts, webhook.as_deref(), ProgressMode::Quiet),
            )
            .await
            .expect("round timed out")
            .unwrap()
        }
    };

    // Round 1, world A, empty history: only the expiry rule can fire, and only pad-10 is
    // inside a threshold (10 days < 14).
    let r1 = round(cfg.clone(), None).await;
    assert_eq!(r1.previous, None);
    assert_eq!(r1.domains, names.len());
    let got = by_domain(&r1.alerts);
    assert_eq!(got.len(), 1, "{:#?}", r1.alerts);
    assert_eq!(
        got["pad-10.test"],
        BTreeSet::from([("cert-expiring", Severity::Warning)])
    );
    assert_eq!(r1.status, 1);

    // Round 2, world A again: nothing changed, nothing fires (the expiry fired once).
    let r2 = round(cfg.clone(), None).await;
    assert_eq!(r2.previous.as_deref(), Some(r1.scan_id.as_str()));
    assert!(r2.alerts.is_empty(), "{:#?}", r2.alerts);
    assert_eq!(r2.status, 0);
    assert_eq!(std::fs::read_to_string(&r2.alerts_file).unwrap(), "");

    // Round 3, world B, with a webhook.
    phase.store(1, Ordering::SeqCst);
    let (url, hook) = receiver(200).await;
    let r3 = round(cfg.clone(), Some(url)).await;
    assert_eq!(r3.previous.as_deref(), Some(r2.scan_id.as_str()));
    assert_eq!(by_domain(&r3.alerts), expected_a_to_b(), "{:#?}", r3.alerts);
    for a in &r3.alerts {
        assert_eq!(a.old_scan.as_deref(), Some(r2.scan_id.as_str()));
        assert_eq!(a.new_scan, r3.scan_id);
    }
    let mx = r3
        .alerts
        .iter()
        .find(|a| a.code == "mx-not-covered")
        .unwrap();
    assert_eq!(mx.subject.as_deref(), Some("mx2.mx-move.test"));
    assert_eq!(r3.status, 2);
    let body = tokio::time::timeout(Duration::from_secs(30), hook)
        .await
        .unwrap()
        .unwrap()
        .expect("the webhook got no request");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["scan_id"], r3.scan_id.as_str());
    assert_eq!(json["previous_scan_id"], r2.scan_id.as_str());
    assert_eq!(json["status"], 2);
    assert_eq!(json["max_severity"], "critical");
    assert_eq!(json["alerts"].as_array().unwrap().len(), r3.alerts.len());
    // The alerts file holds the same alerts, one JSON object per line.
    let file = std::fs::read_to_string(&r3.alerts_file).unwrap();
    assert_eq!(
        r3.alerts_file,
        hist.join("alerts")
            .join(format!("scan_id={}.jsonl", r3.scan_id))
    );
    let lines: Vec<serde_json::Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), r3.alerts.len());
    assert!(lines.iter().all(|l| l["code"].is_string()
        && l["severity"].is_string()
        && l["domain"].is_string()
        && l["message"].is_string()));

    // Round 4, world B again: a second identical scan raises nothing.
    let (url, hook) = receiver(200).await;
    let r4 = round(cfg.clone(), Some(url)).await;
    assert!(r4.alerts.is_empty(), "{:#?}", r4.alerts);
    let body = hook.await.unwrap().unwrap();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], 0);
    assert!(json["max_severity"].is_null());

    // A failing webhook is an error (the round could not report).
    let (url, _hook) = receiver(500).await;
    let opts2 = opts.clone();
    let err = stsscan::cli::monitor::round(cfg.clone(), &opts2, Some(&url), ProgressMode::Quiet)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("500"), "{err:#}");

    // `stsscan diff` on the history: explicit scans, exit status 2 (critical), and the
    // default pair (the two most recent complete scans: r4/r5 identical → 0).
    let raw = |v: Vec<String>| RawArgs {
        args: v.into_iter().map(Into::into).collect(),
    };
    let h = hist.display().to_string();
    let code = stsscan::cli::diff::run_raw(&raw(vec![
        h.clone(),
        "--old-scan".into(),
        r2.scan_id.clone(),
        "--new-scan".into(),
        r3.scan_id.clone(),
        "--format".into(),
        "jsonl".into(),
    ]))
    .unwrap();
    assert_eq!(code, ExitCode::from(2));
    let code = stsscan::cli::diff::run_raw(&raw(vec![
        h.clone(),
        "--old-scan".into(),
        r2.scan_id.clone(),
        "--new-scan".into(),
        r3.scan_id.clone(),
        "--rules".into(),
        "tlsrpt-removed,max-age-short".into(),
    ]))
    .unwrap();
    assert_eq!(code, ExitCode::from(1));
    let code = stsscan::cli::diff::run_raw(&raw(vec![h.clone()])).unwrap();
    assert_eq!(code, ExitCode::from(0));
    // Usage errors and failures exit 3, not clap's 2.
    let code = stsscan::cli::diff::run_raw(&raw(vec![h.clone(), "--bogus".into()])).unwrap();
    assert_eq!(code, ExitCode::from(3));
    let code =
        stsscan::cli::diff::run_raw(&raw(vec![h, "--old-scan".into(), "no-such-scan".into()]))
            .unwrap();
    assert_eq!(code, ExitCode::from(3));
    let code = stsscan::cli::monitor::run_raw(&raw(vec!["--history".into()])).unwrap();
    assert_eq!(code, ExitCode::from(3));
    lab.shutdown().await;
}

/// The catalog's "over time" scenarios (`LabWorld::at_epoch`: enforce-valid at epoch 0, their
/// change from epoch 1) scanned at epoch 0, then twice at epoch 1: each raises exactly its
/// alerts once, a steady domain never raises any. RFC 8461 §3.1: the `id` "MUST uniquely
/// identify a given instance of a policy, such that senders can determine when the policy has
/// been updated by comparing to the "id" of a previously seen policy."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_time_scenarios_raise_exactly_their_alerts() {
    use Severity::*;
    let build = |block| {
        ExplicitWorld::builder()
            .domain("edited.test", Scenario::OverTimePolicyEditedIdKept)
            .domain("bumped.test", Scenario::OverTimeIdBumpedNoChange)
            .domain("removed.test", Scenario::OverTimeTxtRemoved)
            .domain("moved.test", Scenario::OverTimeMxMoved)
            .domain("steady.test", Scenario::EnforceValid)
            .build(block)
    };
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let lab = server::start(
        move |blk| {
            Arc::new(Phases {
                worlds: vec![build(blk.octet), build(blk.octet).at_epoch(1)],
                phase: p,
            }) as Arc<dyn World>
        },
        LabOptions::default(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("portfolio.txt");
    let names: Vec<String> = build(lab.block().octet)
        .source()
        .domains()
        .map(str::to_owned)
        .collect();
    std::fs::write(&list, names.join("\n") + "\n").unwrap();
    let cfg = stsscan::cli::demo::lab_scan_config(
        &lab,
        list,
        lab.ca_file().to_path_buf(),
        dir.path().join("history"),
        8,
    )
    .unwrap();
    let opts = RuleOptions::default();
    let round = || async {
        tokio::time::timeout(
            Duration::from_secs(120),
            stsscan::cli::monitor::round(cfg.clone(), &opts, None, ProgressMode::Quiet),
        )
        .await
        .expect("round timed out")
        .unwrap()
    };

    // Epoch 0: every domain is a valid enforce setup; a first round has nothing to compare.
    let r1 = round().await;
    assert_eq!(r1.domains, names.len());
    assert!(r1.alerts.is_empty(), "{:#?}", r1.alerts);

    // Epoch 1: each scenario's change, and nothing else.
    phase.store(1, Ordering::SeqCst);
    let r2 = round().await;
    let mut want: BTreeMap<&str, BTreeSet<(&str, Severity)>> = BTreeMap::new();
    // Policy edited (mode testing), id kept: senders keep the cached enforce policy.
    want.insert(
        "edited.test",
        BTreeSet::from([
            ("policy-changed-id-unchanged", Critical),
            ("mode-downgraded", Warning),
        ]),
    );
    // Id bumped, same policy body: harmless.
    want.insert(
        "bumped.test",
        BTreeSet::from([("id-changed-policy-unchanged", Info)]),
    );
    // TXT removed without `mode: none` first (RFC 8461 §8.3).
    want.insert(
        "removed.test",
        BTreeSet::from([("txt-removed-without-none", Critical)]),
    );
    // MX moved to the provider, the enforce policy still lists only mx.moved.test: every
    // new MX host is uncovered and an enforcing sender can no longer deliver.
    want.insert(
        "moved.test",
        BTreeSet::from([("mx-not-covered", Critical), ("delivery-broken", Critical)]),
    );
    assert_eq!(by_domain(&r2.alerts), want, "{:#?}", r2.alerts);
    let uncovered: BTreeSet<&str> = r2
        .alerts
        .iter()
        .filter(|a| a.code == "mx-not-covered")
        .filter_map(|a| a.subject.as_deref())
        .collect();
    assert_eq!(
        uncovered,
        stsscan::lab::world::providers::GOOGLE_MX
            .into_iter()
            .collect()
    );
    let bumped = r2
        .alerts
        .iter()
        .find(|a| a.code == "id-changed-policy-unchanged")
        .unwrap();
    assert!(
        bumped.old.is_some() && bumped.old != bumped.new,
        "{bumped:#?}"
    );
    assert_eq!(r2.status, 2);

    // Epoch 1 again: the changes were reported once.
    let r3 = round().await;
    assert!(r3.alerts.is_empty(), "{:#?}", r3.alerts);
    assert_eq!(r3.status, 0);
    lab.shutdown().await;
}
