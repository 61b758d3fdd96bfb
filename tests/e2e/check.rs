//! `stsscan check DOMAIN --policy FILE`, the real binary against a lab: a draft that lists
//! the domain's MX host can be published (exit 0), one that lists another host would stop
//! delivery (exit 1), and the JSON names the draft's verdicts. And `check` and `scan` on a
//! host without a route to the internet: they refuse to start.

use std::path::Path;
use std::process::{Command, Output};

use stsscan::lab::world::{ExplicitWorld, Provider, Scenario};

use crate::common::LabRun;

fn check(run: &LabRun<ExplicitWorld>, domain: &str, draft: &Path, json: bool) -> Output {
    let ports = run.lab.ports();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stsscan"));
    cmd.args(["check", domain, "--policy"])
        .arg(draft)
        .args(["--resolver", &run.lab.dns_addr().to_string()])
        .arg("--ca-file")
        .arg(run.ca())
        .args(["--https-port", &ports.https.to_string()])
        .args(["--smtp-port", &ports.smtp.to_string()])
        .args(["--dns-timeout", "3s", "--smtp-timeout", "5s"])
        .args(["--allow-private", "--no-default-roots"]);
    if json {
        cmd.args(["--format", "json"]);
    }
    cmd.output().expect("run stsscan check")
}

/// RFC 8461 §5: "Sending MTAs MUST NOT deliver the message to hosts that fail MX matching or
/// certificate validation or that do not support STARTTLS." A draft is judged by that rule
/// against the live MX host before it is published, also for a domain without MTA-STS yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_policy_is_judged_against_the_live_mx_hosts() {
    let run = LabRun::start(|octet| {
        ExplicitWorld::builder()
            .domain_at("adopting.test", Scenario::NoSts, Provider::SelfHosted)
            .build(octet)
    })
    .await;
    let good = run.write_list(
        "good.txt",
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mx.adopting.test",
            "max_age: 604800",
        ]
        .map(String::from),
    );
    let bad = run.write_list(
        "bad.txt",
        [
            "version: STSv1",
            "mode: enforce",
            "mx: mail.elsewhere.test",
            "max_age: 604800",
        ]
        .map(String::from),
    );
    let out = check(&run, "adopting.test", &good, false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("✓ MX mx.adopting.test is listed in the draft"),
        "{text}"
    );
    assert!(
        text.contains("✓ a sender enforcing the draft can deliver"),
        "{text}"
    );
    // No TXT record yet: the next step is to publish one.
    assert!(
        text.contains("publish _mta-sts.adopting.test TXT"),
        "{text}"
    );

    let out = check(&run, "adopting.test", &bad, true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["draft"]["ok"], false, "{v:#}");
    let checks = v["draft"]["checks"].as_array().expect("draft checks");
    let status = |req: &str| {
        checks
            .iter()
            .find(|c| c["requirement"] == req)
            .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        status("MX mx.adopting.test is listed in the draft").as_deref(),
        Some("fail")
    );
    assert_eq!(
        status("a sender enforcing the draft can deliver").as_deref(),
        Some("fail")
    );
    // The live part is unchanged by the draft: the domain has no MTA-STS, nothing fails there.
    assert_eq!(v["ok"], true, "{v:#}");

    // A draft that is not a policy: exit 1 and the fix points at `validate policy`.
    let junk = run.write_list("junk.txt", ["mode: sometimes".to_owned()]);
    let out = check(&run, "adopting.test", &junk, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("stsscan validate policy"));
    // A draft that cannot be read: exit 2, naming the flag and the path.
    let out = check(
        &run,
        "adopting.test",
        &run.dir.path().join("missing.txt"),
        false,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--policy") && err.contains("missing.txt"),
        "{err}"
    );
    run.lab.shutdown().await;
}

/// In a network namespace of its own (`unshare -n`: a loopback interface that is down, no
/// route anywhere), an internet scan refuses to start, naming `--ip-version` and the family,
/// instead of recording every address as refusing connections; nothing is written. The route
/// lookup sends nothing. Skipped where a namespace cannot be made (no `unshare`, no privilege).
#[test]
fn without_a_route_an_internet_scan_refuses_to_start() {
    let can = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !can {
        eprintln!("skipped: cannot create a network namespace (unshare -n)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "example.test\n").expect("write list");
    let out = dir.path().join("out");
    let bin = env!("CARGO_BIN_EXE_stsscan");
    let run = |args: &[&str]| {
        Command::new("unshare")
            .arg("-n")
            .arg(bin)
            .args(args)
            .args(["--resolver", "127.0.0.1"])
            .output()
            .expect("run stsscan in a namespace")
    };
    let list = list.to_str().expect("path");
    let out_s = out.to_str().expect("path");
    for (args, family) in [
        (
            vec!["check", "example.test"],
            "--ip-version 4: this host has no route to the IPv4 internet",
        ),
        (
            vec!["check", "example.test", "--ip-version", "6"],
            "--ip-version 6: this host has no route to the IPv6 internet",
        ),
        (
            vec!["scan", list, "--out", out_s, "--ip-version", "both"],
            "--ip-version both: this host has no route to the IPv4 internet",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(family), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    assert!(!out.join("manifest").exists(), "nothing is written");
}
