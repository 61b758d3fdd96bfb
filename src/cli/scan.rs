//! `stsscan scan`: a batch scan of domain lists into a Parquet dataset, with progress, a
//! closing summary, Ctrl-C handling (first drains and closes, second aborts) and `--resume`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::watch;

use super::progress::{self, ProgressMode};
use super::scan_args::{InputArgs, NetArgs};
use crate::pipeline::config::{DEFAULT_EHLO_NAME, ScanConfig, default_user_agent};
use crate::pipeline::run::{self, RowTap, RunOptions, RunSummary};
use crate::pipeline::stats::ScanStats;

/// Arguments of `stsscan scan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
  stsscan scan top-1m.csv --out data/          # Tranco list, system resolver\n  \
  stsscan scan domains.txt.gz --resolver 127.0.0.53 --concurrency 2000 --out data/\n  \
  stsscan scan domains.txt --out data/ --resume 20261129T120000Z-3f9a2c\n\n\
Read the dataset with DuckDB:\n  \
  SELECT sts_txt, count(*) FROM read_parquet('data/domains/**/*.parquet', hive_partitioning = true, union_by_name = true) GROUP BY 1;")]
pub struct Args {
    /// What to scan.
    #[command(flatten)]
    pub input: InputArgs,
    /// Dataset directory (created if missing); parts go to OUT/domains/ and OUT/mx/.
    #[arg(long, short, default_value = "stsscan-out")]
    pub out: PathBuf,
    /// Domains scanned at once.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Continue the scan with this id: only input lines missing from its completed parts are
    /// scanned. The flags and the input files must be the same as when it started.
    #[arg(long, value_name = "SCAN_ID")]
    pub resume: Option<String>,
    /// The id of a new scan (default: UTC time and a random suffix).
    #[arg(long, value_name = "ID", conflicts_with = "resume")]
    pub scan_id: Option<String>,
    /// Domain rows per Parquet part file; a crash loses at most the open part.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub part_rows: u64,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// No progress and no summary (same as --progress quiet).
    #[arg(long, short)]
    pub quiet: bool,
    /// Network, limits and safety.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Runs `stsscan scan`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let input = args.input.resolve()?;
    let mut cfg = args.net.resolve(input, args.out.clone())?;
    crate::pipeline::reach::check_scan(&cfg)?;
    cfg.concurrency = args.concurrency as usize;
    let opts = RunOptions {
        scan_id: args
            .resume
            .clone()
            .or_else(|| args.scan_id.clone())
            .unwrap_or_else(run::new_scan_id),
        resume: args.resume.is_some(),
        tap: None,
        part_rows: Some(args.part_rows),
    };
    let mode = if args.quiet {
        ProgressMode::Quiet
    } else {
        args.progress
    };
    if let Some(note) = identification_note(&cfg.ehlo_name, &cfg.user_agent, cfg.allow_private) {
        if mode != ProgressMode::Quiet {
            errln!("{note}");
        }
    }
    let rt = runtime()?;
    let summary = rt.block_on(execute(cfg, opts, mode, "scan"))?;
    if mode != ProgressMode::Quiet {
        print_summary(&summary.0, &summary.1);
    }
    Ok(if summary.0.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// The multi-threaded runtime every network command uses.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Runs a scan with progress and Ctrl-C handling; returns the summary and the stats.
pub async fn execute(
    cfg: ScanConfig,
    opts: RunOptions,
    mode: ProgressMode,
    label: &str,
) -> anyhow::Result<(RunSummary, Arc<ScanStats>)> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = ctrl_c(
        stop_tx,
        mode,
        "finishing the domains in flight",
        "the open part is lost, `--resume` rescans it",
    )
    .await?;
    let result = execute_until(cfg, opts, mode, label, stop_rx).await;
    signals.abort();
    result
}

/// Listens for Ctrl-C (SIGINT) and, on Unix, SIGTERM (what `kill`, systemd, cron wrappers and
/// container runtimes send) until the returned task is aborted (the handlers are registered
/// before this returns, so no signal is missed): the first sets `stop` and says `stopping`
/// unless quiet, the second exits 130 at once saying `aborted`.
pub async fn ctrl_c(
    stop: watch::Sender<bool>,
    mode: ProgressMode,
    stopping: &'static str,
    aborted: &'static str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut signals = Interrupts::register()?;
    Ok(tokio::spawn(async move {
        let Some(first) = signals.next().await else {
            // Keep `stop` false (a dropped sender would read as a stop).
            return std::future::pending().await;
        };
        if mode != ProgressMode::Quiet {
            errln!("\nstsscan: stopping ({first}): {stopping} (Ctrl-C again aborts)");
        }
        let _ = stop.send(true);
        if let Some(second) = signals.next().await {
            errln!("stsscan: aborted ({second}); {aborted}");
            std::process::exit(130);
        }
        std::future::pending().await
    }))
}

/// The signals that stop a run, registered on creation.
struct Interrupts {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Interrupts {
            int: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C (SIGINT)")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    #[cfg(not(unix))]
    fn register() -> anyhow::Result<Self> {
        Ok(Interrupts {})
    }

    /// The next signal's name; `None` if the signal streams ended (they do not while the
    /// runtime lives).
    #[cfg(unix)]
    async fn next(&mut self) -> Option<&'static str> {
        tokio::select! {
            s = self.int.recv() => s.map(|()| "SIGINT"),
            s = self.term.recv() => s.map(|()| "SIGTERM"),
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Option<&'static str> {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}

/// Runs a scan with progress until the input ends or `stop` turns true (the domains in
/// flight finish and the dataset is closed as `interrupted`); the caller handles signals.
pub async fn execute_until(
    cfg: ScanConfig,
    opts: RunOptions,
    mode: ProgressMode,
    label: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(RunSummary, Arc<ScanStats>)> {
    let stats = Arc::new(ScanStats::default());
    let reporter = progress::start(stats.clone(), mode, label);
    let result = run::run(cfg, opts, stats.clone(), stop).await;
    reporter.finish().await;
    Ok((result?, stats))
}

/// Wraps a tap for [`RunOptions::tap`].
pub fn tap(
    f: impl Fn(&crate::output::DomainRow, &[crate::output::MxRow]) + Send + Sync + 'static,
) -> RowTap {
    Arc::new(f)
}

/// The summary's note on a scan's tail: after the last entry has started, the scan still waits
/// for the domains in flight, each bounded by its timeouts and retries (a DNS server that never
/// answers costs `--dns-timeout` × `--dns-attempts`). On a short list that wait is a large part
/// of the wall time, so entries per second of wall time understates the rate the scan ran at;
/// the note gives the rate at which entries started. Shown when the starts took at least a
/// second (a list that fits in `--concurrency` starts at once: no rate to give) and the wait
/// is at least a second and a tenth of the run.
fn tail_note(done: u64, all_started_secs: Option<f64>, elapsed_secs: f64) -> Option<String> {
    let started = all_started_secs?;
    let tail = elapsed_secs - started;
    if done == 0 || started < 1.0 || tail < 1.0 || tail < elapsed_secs / 10.0 {
        return None;
    }
    Some(format!(
        "  all entries had started after {started:.1}s ({:.0}/s); the last ones in flight took {tail:.1}s more (timeouts and retries)",
        done as f64 / started
    ))
}

/// The closing summary on stderr: counts per status, where the data went.
pub fn print_summary(summary: &RunSummary, stats: &ScanStats) {
    use std::sync::atomic::Ordering::Relaxed;
    let done = stats.done.load(Relaxed);
    errln!(
        "{} {} entries in {:.1}s ({:.0}/s){}",
        if summary.interrupted {
            "interrupted after"
        } else {
            "scanned"
        },
        done,
        stats.elapsed_secs(),
        stats.rate(),
        match stats.resumed.load(Relaxed) {
            0 => String::new(),
            n => format!(", {n} already done"),
        }
    );
    if let Some(note) = tail_note(done, stats.all_started_secs(), stats.elapsed_secs()) {
        errln!("{note}");
    }
    let mut last = "";
    let mut line = String::new();
    for (field, value, n) in stats.tallies() {
        if field != last {
            if !line.is_empty() {
                errln!("{line}");
            }
            line = format!("  {field:<13}");
            last = field;
        }
        line.push_str(&format!(" {value}={n}"));
    }
    if !line.is_empty() {
        errln!("{line}");
    }
    errln!(
        "  policy fetches {}, STARTTLS probes {} ({} repeated with the MX name as SNI, {} of them got the same certificate); {}",
        stats.fetches.load(Relaxed),
        stats.probes.load(Relaxed),
        stats.sni_reprobes.load(Relaxed),
        stats.sni_reprobes_same_cert.load(Relaxed),
        summary.caches
    );
    if let Some(w) = referral_warning(&stats.tallies()) {
        errln!("  warning: {w}");
    }
    for w in &summary.warnings {
        errln!("  warning: {w}");
    }
    errln!("  manifest: {}", summary.written.manifest.display());
}

/// A note when a scan of the internet (no `--allow-private`) keeps the default EHLO name or
/// User-Agent: operators who see the traffic should be able to tell who scans and how to
/// reach them (docs/design: "Identify the scanner").
fn identification_note(ehlo_name: &str, user_agent: &str, allow_private: bool) -> Option<String> {
    let defaults: Vec<&str> = [
        (ehlo_name == DEFAULT_EHLO_NAME).then_some("--ehlo-name"),
        (user_agent == default_user_agent()).then_some("--user-agent"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!allow_private && !defaults.is_empty()).then(|| {
        format!(
            "note: {} left at the default; set {} to a name and a contact URL of yours, so the operators of the servers you probe can reach you",
            defaults.join(" and "),
            if defaults.len() == 1 { "it" } else { "them" }
        )
    })
}

/// A warning when many `_mta-sts` lookups got a referral (RFC 2308 §2.2): the resolver does
/// not recurse, so the dataset says little about the domains. Given from a tenth of the
/// lookups on; the tallies are `(field, value, count)`.
fn referral_warning(tallies: &[(&'static str, String, u64)]) -> Option<String> {
    let dns = tallies.iter().filter(|(f, _, _)| *f == "sts_txt_dns");
    let (mut all, mut referrals) = (0u64, 0u64);
    for (_, v, n) in dns {
        all += n;
        if v == "referral" {
            referrals += n;
        }
    }
    (referrals > 0 && referrals * 10 >= all).then(|| {
        format!(
            "{referrals} of {all} _mta-sts lookups got a referral: the resolver does not recurse; scan again with --resolver set to a recursive resolver"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::{
        DEFAULT_EHLO_NAME, default_user_agent, identification_note, referral_warning, tail_note,
    };

    #[test]
    fn an_internet_scan_with_default_identification_gets_a_note() {
        let ua = default_user_agent();
        let note = identification_note(DEFAULT_EHLO_NAME, &ua, false).expect("defaults");
        assert!(note.contains("--ehlo-name and --user-agent"), "{note}");
        let note = identification_note("scanner.example.org", &ua, false).expect("one default");
        assert!(note.contains("--user-agent left at the default"), "{note}");
        let mine = "research-scan (+https://example.org/scan)";
        assert_eq!(
            identification_note("scanner.example.org", mine, false),
            None
        );
        assert_eq!(
            identification_note(DEFAULT_EHLO_NAME, &ua, true),
            None,
            "the lab needs no note"
        );
    }

    #[test]
    fn a_resolver_that_refers_is_named_in_a_warning() {
        let t = |referral: u64, noerror: u64| {
            vec![
                ("sts_txt", "absent".to_owned(), referral + noerror),
                ("sts_txt_dns", "noerror".to_owned(), noerror),
                ("sts_txt_dns", "referral".to_owned(), referral),
            ]
        };
        let w = referral_warning(&t(500, 500)).expect("half the lookups referred");
        assert!(w.starts_with("500 of 1000 _mta-sts lookups"), "{w}");
        assert!(w.contains("--resolver"));
        assert_eq!(referral_warning(&t(5, 995)), None);
        assert_eq!(referral_warning(&t(0, 10)), None);
    }

    #[test]
    fn the_tail_note_gives_the_rate_entries_started_at() {
        // 100 000 entries started within 4.4 s; the last DNS timeouts (3 × 2 s) ended at 10.5 s.
        let note = tail_note(100_000, Some(4.4), 10.5).expect("a long tail is noted");
        assert!(note.contains("after 4.4s (22727/s)"), "{note}");
        assert!(note.contains("took 6.1s more"), "{note}");
        // No note: the input never ended (interrupted), nothing was scanned, or the wait was
        // short in seconds or against the run.
        assert_eq!(tail_note(100_000, None, 10.5), None);
        assert_eq!(tail_note(0, Some(1.5), 7.0), None);
        // 400 entries within the concurrency window start at once: no rate to give.
        assert_eq!(tail_note(400, Some(0.02), 30.2), None);
        assert_eq!(tail_note(1_000, Some(2.0), 2.9), None);
        assert_eq!(tail_note(1_000_000, Some(250.0), 258.0), None);
    }
}
