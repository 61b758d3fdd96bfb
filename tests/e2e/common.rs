//! Shared helpers: starting a lab for a world, writing the domain list and the CA, scanning
//! in-process through `pipeline::run::run` with a tap that grades every row, and reading the
//! dataset back.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stsscan::grade::{GradeReport, Grader};
use stsscan::lab::model::World;
use stsscan::lab::server::{self, Lab, LabOptions};
use stsscan::lab::world::{DomainSource, DomainTruth, LabWorld};
use stsscan::output::{DomainRow, MxRow};
use stsscan::pipeline::config::ScanConfig;
use stsscan::pipeline::run::{self, RunOptions, RunSummary};
use stsscan::pipeline::stats::ScanStats;

/// Generous bound on one in-process scan of a small world (a hang fails the test).
pub(crate) const SCAN_TIMEOUT: Duration = Duration::from_secs(600);

/// A lab started for a world, with a private directory for the list, CA and dataset.
pub(crate) struct LabRun<S: DomainSource> {
    /// The running lab.
    pub(crate) lab: Lab,
    /// The same world the lab serves (for truth).
    pub(crate) world: Arc<LabWorld<S>>,
    /// Temporary directory (list, CA, dataset under `out/`).
    pub(crate) dir: tempfile::TempDir,
}

impl<S: DomainSource> LabRun<S>
where
    LabWorld<S>: World,
{
    /// Starts a lab in a random block serving the world `make(octet)`.
    pub(crate) async fn start(make: impl Fn(u8) -> LabWorld<S>) -> Self {
        let mut keep: Option<Arc<LabWorld<S>>> = None;
        let lab = server::start(
            |b| {
                let w = Arc::new(make(b.octet));
                keep = Some(w.clone());
                w as Arc<dyn World>
            },
            LabOptions::default(),
        )
        .await
        .expect("lab starts");
        let world = keep.expect("world built");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca.pem"), lab.ca_pem()).expect("write CA");
        LabRun { lab, world, dir }
    }

    /// The CA file.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The dataset directory.
    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Writes `lines` to `name` in the temp dir.
    pub(crate) fn write_list<I: IntoIterator<Item = String>>(
        &self,
        name: &str,
        lines: I,
    ) -> PathBuf {
        let path = self.dir.path().join(name);
        let f = std::fs::File::create(&path).expect("create list");
        let mut w = std::io::BufWriter::new(f);
        for l in lines {
            writeln!(w, "{l}").expect("write list");
        }
        w.flush().expect("flush list");
        path
    }

    /// The scan configuration pointing at this lab.
    pub(crate) fn config(&self, list: PathBuf, concurrency: usize) -> ScanConfig {
        let mut cfg = stsscan::cli::demo::lab_scan_config(
            &self.lab,
            list,
            self.ca(),
            self.out(),
            concurrency,
        )
        .expect("lab scan config");
        // Tests share 2 busy cores with parallel tests and builds: a lab answer delayed past
        // `lab_scan_config`'s 800 ms would be graded as a (false) DNS timeout. The scenarios
        // that never answer then cost 3 × 3 s, which concurrency absorbs.
        cfg.timeouts.dns = Duration::from_secs(3);
        cfg.dns_attempts = 3;
        cfg.timeouts.connect = Duration::from_secs(5);
        cfg.timeouts.fetch = Duration::from_secs(5);
        cfg.timeouts.smtp_reply = Duration::from_secs(5);
        cfg.timeouts.smtp_session = Duration::from_secs(10);
        cfg
    }
}

/// The truth of a domain, if the world has it.
pub(crate) type TruthFn = Arc<dyn Fn(&str) -> Option<DomainTruth> + Send + Sync>;

/// What an in-process scan produced.
pub(crate) struct Scanned {
    /// The run summary.
    pub(crate) summary: RunSummary,
    /// The scanner's counters.
    pub(crate) stats: Arc<ScanStats>,
    /// Grading of every `ok` row against the truth.
    pub(crate) report: GradeReport,
    /// Scenario of each mismatching domain (for the failure message).
    pub(crate) scenarios: BTreeMap<String, &'static str>,
    /// Every row (only when asked to keep them).
    pub(crate) rows: Vec<(DomainRow, Vec<MxRow>)>,
}

/// Scans `cfg` in-process, grading every row against `truth`.
pub(crate) async fn scan_graded(cfg: ScanConfig, truth: TruthFn, keep_rows: bool) -> Scanned {
    let grader = Arc::new(Grader::default());
    let rows = Arc::new(Mutex::new(Vec::new()));
    let scenarios = Arc::new(Mutex::new(BTreeMap::new()));
    let (g, r, sc) = (grader.clone(), rows.clone(), scenarios.clone());
    let tap: run::RowTap = Arc::new(move |row: &DomainRow, mx: &[MxRow]| {
        let t = row.domain.as_deref().and_then(|d| truth(d));
        if let Some(t) = &t {
            if row.input_status == "ok" && !stsscan::grade::compare(t, row, mx).is_empty() {
                sc.lock()
                    .expect("lock")
                    .insert(t.domain.clone(), t.scenario);
            }
        }
        g.grade(t, row, mx);
        if keep_rows {
            r.lock().expect("lock").push((row.clone(), mx.to_vec()));
        }
    });
    let opts = RunOptions {
        scan_id: run::new_scan_id(),
        resume: false,
        tap: Some(tap),
        part_rows: None,
    };
    let stats = Arc::new(ScanStats::default());
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let summary = tokio::time::timeout(SCAN_TIMEOUT, run::run(cfg, opts, stats.clone(), stop_rx))
        .await
        .expect("the scan finishes in time")
        .expect("the scan runs");
    let rows = std::mem::take(&mut *rows.lock().expect("lock"));
    let scenarios = std::mem::take(&mut *scenarios.lock().expect("lock"));
    Scanned {
        summary,
        stats,
        report: grader.report(),
        scenarios,
        rows,
    }
}

/// Asserts 100 % agreement over `expected_domains` graded domains; on failure lists every
/// kept mismatch as (domain, scenario, field, expected, got).
pub(crate) fn assert_agreement(s: &Scanned, expected_domains: u64) {
    let r = &s.report;
    let mut msg = String::new();
    for m in &r.examples {
        let scen = s.scenarios.get(&m.domain).copied().unwrap_or("?");
        msg.push_str(&format!(
            "\n  {} [{}] {}: expected {} got {}",
            m.domain, scen, m.field, m.expected, m.got
        ));
    }
    assert_eq!(r.no_truth, 0, "domains scanned without truth");
    assert_eq!(r.domains, expected_domains, "graded domains");
    assert!(
        r.agreeing == r.domains,
        "agreement {}/{} ({:.3} %); mismatches per field {:?}; first mismatches:{msg}",
        r.agreeing,
        r.domains,
        r.agreement_percent(),
        r.by_field
    );
}

/// Every `.tmp` file under `dir` (recursively).
pub(crate) fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
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
