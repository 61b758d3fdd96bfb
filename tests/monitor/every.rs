//! The `stsscan monitor` binary with `--every` against a lab started in the test process:
//! rounds on the schedule until Ctrl-C (SIGINT, sent with `kill -INT`), which ends the wait
//! at once with the last round's status; Ctrl-C during a round's scan drains the domains in
//! flight, closes the partition as `interrupted` and exits 3; a second Ctrl-C aborts (130).
//! Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use stsscan::lab::model::World;
use stsscan::lab::server::{self, Lab, LabOptions};
use stsscan::lab::world::{ExplicitWorld, LabWorld, Scenario};
use stsscan::monitor::report::nagios_status;
use stsscan::monitor::rules::{Alert, Severity};
use stsscan::output::manifest::{Manifest, ScanStatus};
use tokio::process::{Child, Command};

use super::rounds::{Phases, by_domain, expected_a_to_b, world};

/// A history directory, its portfolio and the lab they point at.
pub(crate) struct Setup {
    pub(crate) lab: Lab,
    dir: tempfile::TempDir,
    pub(crate) list: PathBuf,
}

impl Setup {
    pub(crate) async fn start(
        make: impl Fn(u8) -> Arc<dyn World> + Send + Sync + 'static,
    ) -> Setup {
        let lab = server::start(move |blk| make(blk.octet), LabOptions::default())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("portfolio.txt");
        Setup { lab, dir, list }
    }

    fn write_list(&self, world: &LabWorld<ExplicitWorld>) {
        let names: Vec<&str> = world.source().domains().collect();
        std::fs::write(&self.list, names.join("\n") + "\n").unwrap();
    }

    pub(crate) fn history(&self) -> PathBuf {
        self.dir.path().join("history")
    }

    /// `stsscan monitor` on the portfolio into the history, pointed at the lab (the timeouts
    /// of `lab_scan_config`, the SMTP ones given), with `extra` flags.
    pub(crate) fn spawn(&self, smtp_timeout: &str, extra: &[&str]) -> Child {
        let ports = self.lab.ports();
        let mut args: Vec<String> = vec!["monitor".into()];
        for (k, v) in [
            ("--domains", self.list.display().to_string()),
            ("--history", self.history().display().to_string()),
            ("--resolver", self.lab.dns_addr().to_string()),
            ("--ca-file", self.lab.ca_file().display().to_string()),
            ("--https-port", ports.https.to_string()),
            ("--smtp-port", ports.smtp.to_string()),
            ("--concurrency", "2".into()),
            ("--dns-timeout", "2s".into()),
            ("--connect-timeout", "2s".into()),
            ("--fetch-timeout", "3s".into()),
            ("--smtp-timeout", smtp_timeout.into()),
            ("--session-deadline", "20s".into()),
            ("--per-address-rate", "10000".into()),
            ("--per-address-connections", "4".into()),
        ] {
            args.push(k.into());
            args.push(v);
        }
        Command::new(env!("CARGO_BIN_EXE_stsscan"))
            .args(args)
            .args(["--allow-private", "--no-default-roots", "--quiet"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn stsscan monitor")
    }
}

/// The manifests in `history`.
fn manifests(history: &Path) -> Vec<Manifest> {
    let Ok(rd) = std::fs::read_dir(history.join("manifest")) else {
        return Vec::new();
    };
    let mut v: Vec<Manifest> = rd
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .map(|e| Manifest::load_file(&e.path()).unwrap())
        .collect();
    v.sort_by_key(|m| m.started_at);
    v
}

/// The alerts files of `history`, oldest scan first, with their alerts' (code, severity,
/// domain).
fn alerts_files(history: &Path) -> Vec<(String, Vec<serde_json::Value>)> {
    let ids: Vec<String> = manifests(history).into_iter().map(|m| m.scan_id).collect();
    ids.into_iter()
        .filter_map(|id| {
            let p = stsscan::cli::monitor::alerts_file(history, &id);
            let text = std::fs::read_to_string(p).ok()?;
            let lines = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            Some((id, lines))
        })
        .collect()
}

/// Files ending in `.tmp` under `dir`.
fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".tmp") {
                out.push(p);
            }
        }
    }
    out
}

/// Polls `cond` every 50 ms for at most `limit`; panics if the process ends first or the
/// time is up.
async fn wait_until(
    child: &mut Child,
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("stsscan monitor ended ({status}) before {what}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sigint(child: &Child) {
    let pid = child.id().expect("pid").to_string();
    let st = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .expect("kill -INT");
    assert!(st.success());
}

/// Waits (bounded) for the process; returns its exit code, stdout and stderr.
pub(crate) async fn finish(child: Child, limit: Duration) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("stsscan monitor ends in time")
        .expect("wait for stsscan monitor");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Alerts read back from an alerts file, for [`nagios_status`] and [`by_domain`].
fn alerts(lines: &[serde_json::Value]) -> Vec<Alert> {
    lines
        .iter()
        .map(|l| {
            let code = stsscan::monitor::rules::Rule::from_code(l["code"].as_str().unwrap())
                .unwrap()
                .code();
            let severity = match l["severity"].as_str().unwrap() {
                "info" => Severity::Info,
                "warning" => Severity::Warning,
                "critical" => Severity::Critical,
                s => panic!("severity {s}"),
            };
            Alert {
                code,
                severity,
                domain: l["domain"].as_str().unwrap().into(),
                subject: l["subject"].as_str().map(Into::into),
                message: l["message"].as_str().unwrap().into(),
                old: None,
                new: None,
                old_scan: l["old_scan"].as_str().map(Into::into),
                new_scan: l["new_scan"].as_str().unwrap().into(),
            }
        })
        .collect()
}

/// Two rounds on a 6 s schedule (world A, then world B: the world is switched as soon as the
/// first round's alerts are written, long before the second round starts), then Ctrl-C while
/// waiting for the third: the process ends at once with the second round's Nagios status (2,
/// critical), nothing half-written, no third scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_runs_rounds_until_ctrl_c_and_exits_with_the_last_status() {
    let phase = Arc::new(AtomicUsize::new(0));
    let p = phase.clone();
    let s = Setup::start(move |octet| {
        Arc::new(Phases {
            worlds: vec![world(0, octet), world(1, octet)],
            phase: p.clone(),
        }) as Arc<dyn World>
    })
    .await;
    s.write_list(&world(0, s.lab.block().octet));
    let hist = s.history();
    let mut child = s.spawn("3s", &["--every", "6s"]);

    wait_until(
        &mut child,
        Duration::from_secs(120),
        "a first round",
        || !alerts_files(&hist).is_empty(),
    )
    .await;
    phase.store(1, Ordering::SeqCst);
    // Whether the second round's scan started only after the switch (it starts 6 s after
    // the first; a first round of 14 domains takes about a second).
    let switched_in_time = manifests(&hist).len() == 1;
    wait_until(
        &mut child,
        Duration::from_secs(120),
        "a second round",
        || alerts_files(&hist).len() >= 2,
    )
    .await;
    sigint(&child).await;
    let (code, stdout, stderr) = finish(child, Duration::from_secs(30)).await;

    let files = alerts_files(&hist);
    let ms = manifests(&hist);
    assert_eq!(ms.len(), 2, "a third round started: {stderr}");
    assert!(ms.iter().all(|m| m.status == ScanStatus::Complete));
    assert_eq!(files.len(), 2);
    assert!(tmp_files(&hist).is_empty(), "{:?}", tmp_files(&hist));
    // Round 1 (no previous scan): only pad-10's certificate is inside a threshold.
    let first = alerts(&files[0].1);
    assert_eq!(nagios_status(&first), 1, "{first:#?}");
    let second = alerts(&files[1].1);
    if switched_in_time {
        assert_eq!(by_domain(&second), expected_a_to_b(), "{second:#?}");
    } else {
        eprintln!("note: the second round started before the switch; its alerts not checked");
    }
    // The exit status is the last round's.
    assert_eq!(code, Some(i32::from(nagios_status(&second))), "{stderr}");
    // Both summaries on stdout.
    for (id, _) in &files {
        assert!(stdout.contains(&format!("→ {id}:")), "{stdout}");
    }
    s.lab.shutdown().await;
}

/// Tarpit MX hosts (one greeting byte a second) keep the scan's domains in flight for
/// seconds; Ctrl-C once the scan has started.
fn tarpit_world(octet: u8) -> LabWorld<ExplicitWorld> {
    ExplicitWorld::builder()
        .domain("slow1.test", Scenario::SmtpTarpit)
        .domain("slow2.test", Scenario::SmtpTarpit)
        .domain("slow3.test", Scenario::SmtpTarpit)
        .domain("slow4.test", Scenario::SmtpTarpit)
        .domain("fine.test", Scenario::EnforceValid)
        .build(octet)
}

/// Starts `monitor --every 1h` on the tarpit world and waits until its first scan has
/// started (its manifest says `running`) and has run a moment.
async fn started_on_tarpits() -> (Setup, Child) {
    let s = Setup::start(|octet| Arc::new(tarpit_world(octet)) as Arc<dyn World>).await;
    s.write_list(&tarpit_world(s.lab.block().octet));
    let hist = s.history();
    let mut child = s.spawn("5s", &["--every", "1h"]);
    wait_until(
        &mut child,
        Duration::from_secs(60),
        "a running scan",
        || {
            manifests(&hist)
                .iter()
                .any(|m| m.status == ScanStatus::Running)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    (s, child)
}

/// Ctrl-C during a round's scan: the domains in flight finish, the partition is closed as
/// `interrupted` (complete part files, no `.tmp`), nothing is compared, the exit status is 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_scan_drains_it_and_exits_3() {
    let (s, child) = started_on_tarpits().await;
    let hist = s.history();
    sigint(&child).await;
    let (code, stdout, stderr) = finish(child, Duration::from_secs(60)).await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(stdout, "");
    let ms = manifests(&hist);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].status, ScanStatus::Interrupted);
    assert!(ms[0].finished_at.is_some());
    assert!(ms[0].counts.domains < 5, "the scan stopped early");
    assert!(tmp_files(&hist).is_empty(), "{:?}", tmp_files(&hist));
    assert!(alerts_files(&hist).is_empty());
    s.lab.shutdown().await;
}

/// A second Ctrl-C aborts at once with 130, without waiting for the domains in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_aborts_with_130() {
    let (s, child) = started_on_tarpits().await;
    sigint(&child).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sigint(&child).await;
    let (code, _stdout, stderr) = finish(child, Duration::from_secs(30)).await;
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("aborted"), "{stderr}");
    s.lab.shutdown().await;
}
