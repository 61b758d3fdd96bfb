//! The command lines of `stsscan monitor` and `stsscan diff` around the comparison: the
//! portfolio's CSV column (`--column`, `--input-format`, as `stsscan scan` takes them), an
//! empty scan as the baseline, two scans with no domain in common, and one-line errors naming
//! the bad input. The lab is started in the test process; `diff` runs as the real binary.
//! Only loopback; every wait is bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use stsscan::cli::monitor::Round;
use stsscan::cli::progress::ProgressMode;
use stsscan::lab::model::World;
use stsscan::lab::server::{self, Lab, LabOptions};
use stsscan::monitor::rules::{RuleOptions, Severity};
use stsscan::monitor::snapshot::{Overlap, complete_scans};
use tokio::process::Command;

use super::every::{Setup, finish};
use super::rounds::{by_domain, world};

/// Runs the binary with `args` (bounded); returns its exit code, stdout and stderr.
async fn stsscan(args: &[&str]) -> (Option<i32>, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stsscan");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("stsscan ends in time")
        .expect("wait for stsscan");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A lab serving world A of `rounds` (it never changes here) and its domains.
async fn lab_of_world_a() -> (Lab, Vec<String>) {
    let lab = server::start(
        |blk| Arc::new(world(0, blk.octet)) as Arc<dyn World>,
        LabOptions::default(),
    )
    .await
    .unwrap();
    let names = world(0, lab.block().octet)
        .source()
        .domains()
        .map(str::to_owned)
        .collect();
    (lab, names)
}

/// One monitoring round of the portfolio `list` into `history`, against `lab`.
async fn round(lab: &Lab, list: &Path, history: &Path) -> Round {
    let cfg = stsscan::cli::demo::lab_scan_config(
        lab,
        list.to_path_buf(),
        lab.ca_file().to_path_buf(),
        history.to_path_buf(),
        8,
    )
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(120),
        stsscan::cli::monitor::round(cfg, &RuleOptions::default(), None, ProgressMode::Quiet),
    )
    .await
    .expect("round timed out")
    .unwrap()
}

fn write_list(path: &Path, names: &[String]) {
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// An asset inventory whose domains are in neither a `domain` column nor column 2 (where
/// the default looks, as in Tranco's `rank,domain`), in a file named `.txt`: `monitor` scans
/// the portfolio's domains when told the format and the column, by name or by number, as
/// `stsscan scan` does, and records the selection in the manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_reads_the_csv_column_given_by_column() {
    let s = Setup::start(|octet| Arc::new(world(0, octet)) as Arc<dyn World>).await;
    let names: Vec<String> = world(0, s.lab.block().octet)
        .source()
        .domains()
        .map(str::to_owned)
        .collect();
    let rows: String = names
        .iter()
        .map(|n| format!("{n},mail-team,gold\n"))
        .collect();
    std::fs::write(&s.list, format!("hostname,owner,tier\n{rows}")).unwrap();
    let n = names.len();

    let child = s.spawn("3s", &["--input-format", "csv", "--column", "hostname"]);
    let (code, stdout, stderr) = finish(child, Duration::from_secs(120)).await;
    // A first round: only pad-10's certificate is inside a threshold (warning).
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("(no previous scan) → ")
            && stdout.contains(&format!(": {n} domains, 0 critical, 1 warning")),
        "{stdout}"
    );
    let scans = complete_scans(&s.history()).unwrap();
    assert_eq!(scans.len(), 1);
    let input = &scans[0].config["input"];
    assert_eq!(input["format"], "csv", "{input}");
    assert_eq!(
        input["column"],
        serde_json::json!({"name": "hostname"}),
        "{input}"
    );

    // The column by number, in the inventory without its header row (a header is skipped
    // only when it names the column `domain`): the same domains, nothing changed.
    std::fs::write(&s.list, rows).unwrap();
    let child = s.spawn("3s", &["--input-format", "csv", "--column", "1"]);
    let (code, stdout, stderr) = finish(child, Duration::from_secs(120)).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(": {n} domains, 0 critical, 0 warning, 0 info\n")),
        "{stdout}"
    );
    assert!(!stdout.contains("only in the"), "{stdout}");
    s.lab.shutdown().await;
}

/// A complete scan of no domain (an empty portfolio or shard writes no part file) is a valid
/// scan and a valid baseline: the round that makes it succeeds, and the next round, `diff`
/// of the history and `diff` of two datasets treat every domain as new, so only the expiry
/// rule fires (as on a first round), never a "removed" or "changed" rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_previous_scan_is_a_baseline_for_monitor_and_diff() {
    let (lab, names) = lab_of_world_a().await;
    let n = names.len();
    let dir = tempfile::tempdir().unwrap();
    let (empty, full) = (dir.path().join("empty.txt"), dir.path().join("all.txt"));
    write_list(&empty, &[]);
    write_list(&full, &names);
    let hist = dir.path().join("history");

    let r0 = round(&lab, &empty, &hist).await;
    assert_eq!(r0.previous, None);
    assert_eq!((r0.domains, r0.alerts.len(), r0.status), (0, 0, 0));
    let r1 = round(&lab, &full, &hist).await;
    assert_eq!(r1.previous.as_deref(), Some(r0.scan_id.as_str()));
    assert_eq!(
        r1.overlap,
        Overlap {
            old: 0,
            new: n,
            common: 0
        }
    );
    let want = BTreeMap::from([(
        "pad-10.test",
        BTreeSet::from([("cert-expiring", Severity::Warning)]),
    )]);
    assert_eq!(by_domain(&r1.alerts), want, "{:#?}", r1.alerts);
    assert_eq!(r1.status, 1);

    let h = hist.display().to_string();
    let (code, out, err) = stsscan(&["diff", &h]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "{} → {}: {n} domains, 0 critical, 1 warning, 0 info\n\
             0 domains in both scans compared; {n} only in the new scan",
            r0.scan_id, r1.scan_id
        )),
        "{out}"
    );
    // The other way round: nothing to compare, said so.
    let (code, out, err) = stsscan(&[
        "diff",
        &h,
        "--old-scan",
        &r1.scan_id,
        "--new-scan",
        &r0.scan_id,
    ])
    .await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("{n} only in the old scan (not compared)")),
        "{out}"
    );
    // OLD and NEW datasets, the old one holding only an empty scan.
    let hist0 = dir.path().join("empty-history");
    round(&lab, &empty, &hist0).await;
    let (code, out, err) = stsscan(&["diff", &hist0.display().to_string(), &h]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains(&format!("{n} only in the new scan")), "{out}");
    // A scan id the history does not have is named.
    let (code, out, err) = stsscan(&["diff", &h, "--old-scan", "no-such-scan"]).await;
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        err.contains(&format!("no scan no-such-scan in {h}")) && err.lines().count() == 1,
        "{err}"
    );
    lab.shutdown().await;
}

/// `diff` of two scans that both have domains but none in common compares nothing: it exits
/// 3 (could not run; 0 would say "no change") with one line giving both scans' domain counts.
/// A partial overlap is compared, and the summary counts the domains only one scan has.
/// `monitor` compares with its own history whatever the portfolio became: every domain new.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn diff_of_scans_with_no_domain_in_common_exits_3() {
    let (lab, names) = lab_of_world_a().await;
    let half = names.len() / 2;
    let (a, b) = names.split_at(half);
    let dir = tempfile::tempdir().unwrap();
    let lists = [("a.txt", a), ("b.txt", b), ("all.txt", &names[..])];
    for (file, list) in lists {
        write_list(&dir.path().join(file), list);
    }
    let (hist_a, hist) = (dir.path().join("history-a"), dir.path().join("history"));
    let r1 = round(&lab, &dir.path().join("a.txt"), &hist_a).await;
    let r2 = round(&lab, &dir.path().join("b.txt"), &hist).await;
    let r3 = round(&lab, &dir.path().join("all.txt"), &hist).await;
    assert_eq!(r2.previous, None);
    assert_eq!(r3.previous.as_deref(), Some(r2.scan_id.as_str()));
    assert_eq!(
        r3.overlap,
        Overlap {
            old: b.len(),
            new: names.len(),
            common: b.len()
        }
    );
    let (ha, h) = (hist_a.display().to_string(), hist.display().to_string());

    for format in ["human", "jsonl"] {
        let (code, out, err) = stsscan(&[
            "diff",
            &ha,
            &h,
            "--new-scan",
            &r2.scan_id,
            "--format",
            format,
        ])
        .await;
        assert_eq!(code, Some(3), "{out}{err}");
        assert_eq!(out, "");
        assert_eq!(err.lines().count(), 1, "{err}");
        for part in [
            "no domain in common".to_owned(),
            format!("{} in {ha}: {} domains", r1.scan_id, a.len()),
            format!("{} in {h}: {} domains", r2.scan_id, b.len()),
        ] {
            assert!(err.contains(&part), "{part:?} not in {err}");
        }
    }

    // B → all: A's domains are new (pad-10's certificate is inside a threshold: warning).
    let (code, out, err) = stsscan(&["diff", &h]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(&format!(
            "\n{} domains in both scans compared; {} only in the new scan (only certificate expiry checked), 0 only in the old scan (not compared)\n",
            b.len(),
            a.len()
        )),
        "{out}"
    );
    // A → all: B's domains are new, nothing fires.
    let (code, out, err) = stsscan(&["diff", &ha, &h]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!(
            "{} domains in both scans compared; {} only in the new scan",
            a.len(),
            b.len()
        )),
        "{out}"
    );
    lab.shutdown().await;
}

/// Bad input gives a one-line error naming it and exit 3: a directory that does not exist,
/// a file given as a directory, a directory that is no dataset, an unreadable Parquet part,
/// `--history` naming a file, `--column 0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_and_monitor_name_the_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (missing, file, plain) = (p("missing"), p("file.txt"), p("plain"));
    std::fs::write(&file, "a.example\n").unwrap();
    std::fs::create_dir(&plain).unwrap();
    let corrupt = dir.path().join("corrupt");
    let part = corrupt.join("domains/scan_date=2026-11-29/scan_id=x/part-00000.parquet");
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::create_dir_all(corrupt.join("manifest")).unwrap();
    std::fs::write(&part, b"PAR1 not really parquet PAR1").unwrap();
    let corrupt = corrupt.display().to_string();

    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["diff", &missing], format!("{missing}: No such file")),
        (
            vec!["diff", &plain, &missing],
            format!("{missing}: No such file"),
        ),
        (vec!["diff", &file], format!("{file}: not a directory")),
        (
            vec!["diff", &plain],
            format!("{plain}: not a stsscan dataset (no manifest/ directory)"),
        ),
        (
            vec!["diff", &corrupt, "--old-scan", "x", "--new-scan", "y"],
            "part-00000.parquet".to_owned(),
        ),
        (
            vec![
                "monitor",
                "--domains",
                &file,
                "--history",
                &file,
                "--resolver",
                "127.0.0.1:9",
            ],
            format!("--history {file}: not a directory"),
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = stsscan(&args).await;
        assert_eq!(code, Some(3), "{args:?}: {out}{err}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.contains(&want), "{args:?}: {want:?} not in {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    // A usage error (clap's own format, several lines), still exit 3 and naming the value.
    let (code, _, err) = stsscan(&[
        "monitor",
        "--domains",
        &file,
        "--history",
        &plain,
        "--column",
        "0",
    ])
    .await;
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("column numbers start at 1"), "{err}");
}
