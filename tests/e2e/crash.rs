//! The real binary against a lab started in the test process: `kill -9` in the middle of a
//! scan then `--resume` (every input line exactly once, every part readable, no `.tmp`, the
//! manifest complete), `--resume` with other flags refused, and Ctrl-C (SIGINT) or SIGTERM
//! closing the dataset cleanly with status `interrupted` and exit code 130.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use arrow::array::{Array, UInt64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use stsscan::lab::world::{GeneratedWorld, LabWorld, Mix};
use stsscan::output::manifest::{Manifest, ScanStatus};
use stsscan::output::read::completed_parts;
use stsscan::output::schema::Table;
use tokio::process::{Child, Command};

use crate::common::{LabRun, tmp_files};

/// Domains in the list: enough that a scan runs for several seconds.
const DOMAINS: u64 = 4_000;
/// Rows per part (as the brief's `--part-rows 500`).
const PART_ROWS: u64 = 500;

fn world(seed: u64) -> GeneratedWorld {
    GeneratedWorld {
        seed,
        n: DOMAINS,
        mix: Mix::Adversarial,
    }
}

/// The `stsscan scan` arguments pointing at `run`'s lab (the same timeouts as
/// `lab_scan_config`), without the scan id.
fn scan_args(run: &LabRun<GeneratedWorld>, list: &Path) -> Vec<String> {
    let ports = run.lab.ports();
    let mut v: Vec<String> = vec!["scan".into(), list.display().to_string()];
    for (k, val) in [
        ("--out", run.out().display().to_string()),
        ("--resolver", run.lab.dns_addr().to_string()),
        ("--ca-file", run.ca().display().to_string()),
        ("--https-port", ports.https.to_string()),
        ("--smtp-port", ports.smtp.to_string()),
        ("--part-rows", PART_ROWS.to_string()),
        ("--concurrency", "100".into()),
        ("--dns-timeout", "800ms".into()),
        ("--connect-timeout", "2s".into()),
        ("--fetch-timeout", "3s".into()),
        ("--smtp-timeout", "3s".into()),
        ("--session-deadline", "8s".into()),
        ("--per-address-rate", "10000".into()),
        ("--per-address-connections", "4".into()),
    ] {
        v.push(k.into());
        v.push(val);
    }
    v.extend(["--allow-private", "--no-default-roots", "--quiet"].map(String::from));
    v
}

/// A private copy of the binary under test (the shared development target directory can be
/// rebuilt by another checkout while the tests run; a copy taken at the start stays ours).
fn binary(run: &LabRun<GeneratedWorld>) -> PathBuf {
    let copy = run.dir.path().join("stsscan");
    if !copy.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_stsscan"), &copy).expect("copy the binary");
    }
    copy
}

fn spawn(bin: &Path, args: &[String], extra: &[&str]) -> Child {
    Command::new(bin)
        .args(args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn stsscan")
}

/// Waits (bounded) until `scan_id` has at least `n` completed `domains` parts; panics if
/// the process ends first.
async fn wait_for_parts(child: &mut Child, out: &Path, scan_id: &str, n: usize) {
    for _ in 0..1200 {
        let done = completed_parts(out, scan_id)
            .map(|p| p.iter().filter(|p| p.table == Table::Domains).count())
            .unwrap_or(0);
        if done >= n {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("stsscan ended ({status}) before {n} parts were written");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {n} parts after 60 s");
}

/// Waits for the process (bounded) and returns its exit code and stderr.
async fn finish(child: Child, limit: Duration) -> (Option<i32>, String) {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("stsscan ends in time")
        .expect("wait for stsscan");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads every column of every completed part back; returns the `input_line` of every
/// `domains` row.
fn read_back(out: &Path, scan_id: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    let parts = completed_parts(out, scan_id).expect("list parts");
    assert!(parts.iter().any(|p| p.table == Table::Mx));
    for part in parts {
        let file = std::fs::File::open(&part.path).expect("open part");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap_or_else(|e| panic!("{}: {e}", part.path.display()))
            .build()
            .expect("reader");
        for batch in reader {
            let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", part.path.display()));
            if part.table != Table::Domains {
                continue;
            }
            let col = batch
                .column_by_name("input_line")
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().cloned())
                .expect("input_line column");
            lines.extend((0..col.len()).map(|i| col.value(i)));
        }
    }
    lines
}

/// Every input line 1..=n exactly once.
fn assert_exactly_once(mut lines: Vec<u64>, n: u64) {
    let total = lines.len();
    lines.sort_unstable();
    lines.dedup();
    assert_eq!(lines.len(), total, "a line was written twice");
    assert_eq!(lines, (1..=n).collect::<Vec<_>>(), "every input line once");
}

async fn start(seed: u64) -> (LabRun<GeneratedWorld>, PathBuf, Vec<String>) {
    let w = world(seed);
    let run = LabRun::start(|octet| -> LabWorld<GeneratedWorld> { w.build(octet, 4) }).await;
    let list = run.write_list("domains.txt", w.domains());
    let args = scan_args(&run, &list);
    (run, list, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_resume_writes_every_line_exactly_once() {
    let (run, list, args) = start(31).await;
    let out = run.out();
    let bin = binary(&run);
    let id = "e2e-crash";
    let mut child = spawn(&bin, &args, &["--scan-id", id]);
    wait_for_parts(&mut child, &out, id, 2).await;
    child.start_kill().expect("kill -9");
    let _ = finish(child, Duration::from_secs(30)).await;
    let crashed = Manifest::load(&out, id).expect("manifest after the crash");
    assert_eq!(
        crashed.status,
        ScanStatus::Running,
        "a killed scan stays running"
    );
    let before = read_back(&out, id).len() as u64;
    assert!((2 * PART_ROWS..DOMAINS).contains(&before), "{before} rows");

    let child = spawn(&bin, &args, &["--resume", id]);
    let (code, stderr) = finish(child, Duration::from_secs(300)).await;
    assert_eq!(code, Some(0), "resume failed: {stderr}");
    let m = Manifest::load(&out, id).expect("manifest");
    assert_eq!(m.status, ScanStatus::Complete);
    assert_eq!(m.counts.domains, DOMAINS);
    assert!(tmp_files(&out).is_empty(), "{:?}", tmp_files(&out));
    assert_exactly_once(read_back(&out, id), DOMAINS);

    // `--resume` with different flags is refused, naming the problem, and changes nothing.
    let other: Vec<String> = args
        .iter()
        .map(|a| {
            if a == "800ms" {
                "900ms".into()
            } else {
                a.clone()
            }
        })
        .collect();
    assert_ne!(other, args);
    let child = spawn(&bin, &other, &["--resume", id]);
    let (code, stderr) = finish(child, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("configuration differs"),
        "unclear error: {stderr}"
    );
    assert_eq!(
        Manifest::load(&out, id).expect("manifest").status,
        ScanStatus::Complete
    );

    // `--resume` with an opt-out list the scan did not start with is refused too, naming it:
    // the list decides which lines are scanned (docs/schema.md: "It refuses other flags").
    let optout = run.write_list("optout.txt", ["optedout.test".to_owned()]);
    let mut with_list = args.clone();
    with_list.extend(["--exclude".to_owned(), optout.display().to_string()]);
    let child = spawn(&bin, &with_list, &["--resume", id]);
    let (code, stderr) = finish(child, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("exclude: unset at start, {\"entries\":1,\"sha256\":"),
        "the list is not named: {stderr}"
    );

    // `--resume` after the list changed (re-downloaded under the same name, say) is refused
    // too: its line numbers would name other domains, so some would be skipped and others
    // scanned twice.
    let mut changed = std::fs::read(&list).expect("list");
    changed.splice(0..0, b"new-first-line.test\n".iter().copied());
    std::fs::write(&list, changed).expect("list");
    let child = spawn(&bin, &args, &["--resume", id]);
    let (code, stderr) = finish(child, Duration::from_secs(60)).await;
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("the input changed"),
        "unclear error: {stderr}"
    );
    run.lab.shutdown().await;
}

/// Starts a scan, sends `signal` once a part is written, and checks what both signals must
/// do: exit code 130, the dataset closed as `interrupted` with every written row counted, no
/// `.tmp` left, fewer rows than the input. Returns the lab (still running), the output
/// directory and the scan arguments.
async fn stop_with(
    signal: &str,
    seed: u64,
    id: &str,
) -> (LabRun<GeneratedWorld>, PathBuf, Vec<String>) {
    let (run, _list, args) = start(seed).await;
    let out = run.out();
    let bin = binary(&run);
    let mut child = spawn(&bin, &args, &["--scan-id", id]);
    wait_for_parts(&mut child, &out, id, 1).await;
    let pid = child.id().expect("pid").to_string();
    let st = Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .expect("kill");
    assert!(st.success(), "kill {signal}");
    let (code, stderr) = finish(child, Duration::from_secs(120)).await;
    assert_eq!(code, Some(130), "{signal}: {stderr}");
    // An interrupted run never started all its entries: no rate of starts in its summary.
    assert!(!stderr.contains("all entries had started"), "{stderr}");
    let m = Manifest::load(&out, id).expect("manifest");
    assert_eq!(m.status, ScanStatus::Interrupted);
    assert!(m.finished_at.is_some());
    assert!(tmp_files(&out).is_empty(), "{:?}", tmp_files(&out));
    let lines = read_back(&out, id);
    assert!((lines.len() as u64) < DOMAINS, "the scan stopped early");
    assert_eq!(m.counts.domains, lines.len() as u64);
    (run, out, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_closes_the_dataset_as_interrupted_with_exit_130() {
    let id = "e2e-sigint";
    let (run, out, args) = stop_with("-INT", 32, id).await;
    let bin = binary(&run);

    // `--resume` completes it: every line exactly once.
    let child = spawn(&bin, &args, &["--resume", id]);
    let (code, stderr) = finish(child, Duration::from_secs(300)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        Manifest::load(&out, id).expect("manifest").status,
        ScanStatus::Complete
    );
    assert_exactly_once(read_back(&out, id), DOMAINS);
    run.lab.shutdown().await;
}

/// SIGTERM (what `kill`, systemd and container runtimes send to stop a scheduled run) stops a
/// scan the way Ctrl-C does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_the_dataset_as_interrupted() {
    let (run, _out, _args) = stop_with("-TERM", 33, "e2e-sigterm").await;
    run.lab.shutdown().await;
}
