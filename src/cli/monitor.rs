//! `stsscan monitor`: scans a portfolio into a history directory (one Hive partition per
//! scan, the normal dataset layout), compares it with the previous complete scan there,
//! writes the alerts to `DIR/alerts/scan_id=ID.jsonl`, prints the summary, optionally POSTs
//! the alerts to a webhook, and exits Nagios-style: 0 ok, 1 warning, 2 critical, 3 could not
//! run (every error, usage errors included). `--every` repeats the round on a schedule until
//! Ctrl-C, which lets a scan in progress drain and close as `interrupted` (a second aborts);
//! see `docs/monitoring.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use tokio::sync::watch;

use super::diff::{EXIT_UNKNOWN, Format, RawArgs, RuleArgs, run_nagios};
use super::progress::ProgressMode;
use super::scan::{self, print_summary};
use anyhow::Context as _;

use super::scan_args::{InputFormatArg, NetArgs, parse_duration};
use crate::monitor::report::{WebhookPayload, human, jsonl, nagios_status, write_alerts};
use crate::monitor::rules::{Alert, RuleOptions, diff};
use crate::monitor::snapshot::{Overlap, Snapshot, latest_complete, load};
use crate::monitor::webhook::{self, WEBHOOK_TIMEOUT};
use crate::pipeline::config::ScanConfig;
use crate::pipeline::input::{CsvColumn, InputFormat, InputSpec, Shard};
use crate::pipeline::run::{self, RunOptions};

/// Arguments of `stsscan monitor`.
#[derive(Debug, Parser)]
#[command(
    name = "stsscan monitor",
    about = "Scan a portfolio, compare with the previous scan, alert (exit 0 ok, 1 warning, 2 critical, 3 could not run)",
    after_help = "Examples:\n  \
  stsscan monitor --domains portfolio.txt --history /var/lib/stsscan\n  \
  stsscan monitor --domains portfolio.txt --history hist/ --webhook https://hooks.example/stsscan\n  \
  stsscan monitor --domains assets.csv --column hostname --history hist/ --every 6h --format jsonl"
)]
pub struct Args {
    /// The portfolio: one domain per line (# comments) or CSV, optionally gzip.
    #[arg(long, value_name = "FILE")]
    pub domains: PathBuf,
    /// Format of --domains (auto: CSV when the name ends in .csv or .csv.gz).
    #[arg(long, value_enum, default_value = "auto")]
    pub input_format: InputFormatArg,
    /// CSV column with the domain: a 1-based number or a header name (default: a `domain`
    /// header, else column 2 as in Tranco's rank,domain).
    #[arg(long, value_name = "N|NAME")]
    pub column: Option<CsvColumn>,
    /// History dataset directory (created if missing): every scan is a partition of it.
    #[arg(long, value_name = "DIR")]
    pub history: PathBuf,
    /// POST the alerts of each round as JSON to this http(s) URL.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Repeat the round at this interval (e.g. 6h) until Ctrl-C; default: run once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,
    /// Domains scanned at once.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// No progress display on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Rules and output.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Network, limits and safety (as for `stsscan scan`).
    #[command(flatten)]
    pub net: NetArgs,
}

/// Runs `stsscan monitor` from its raw arguments.
pub fn run_raw(raw: &RawArgs) -> anyhow::Result<ExitCode> {
    run_nagios::<Args>("stsscan monitor", raw, run)
}

/// What one monitoring round produced.
#[derive(Debug, Clone)]
pub struct Round {
    /// The new scan's id.
    pub scan_id: String,
    /// The previous complete scan compared with (None on the first round).
    pub previous: Option<String>,
    /// Domains in the new scan.
    pub domains: usize,
    /// How the domains of the new and the previous scan overlap (the previous scan counts
    /// as empty on the first round).
    pub overlap: Overlap,
    /// The alerts.
    pub alerts: Vec<Alert>,
    /// Where the alerts were written.
    pub alerts_file: PathBuf,
    /// Nagios status of the alerts (0, 1 or 2).
    pub status: u8,
}

/// One round: finds the previous complete scan in `cfg.out`, scans into it, compares, writes
/// the alerts file and (when `webhook` is given) POSTs them. A first round compares with an
/// empty history, so only certificate expiry can fire. Signals are the caller's (see
/// [`round_until`]).
pub async fn round(
    cfg: ScanConfig,
    opts: &RuleOptions,
    webhook: Option<&str>,
    mode: ProgressMode,
) -> anyhow::Result<Round> {
    // Never stops early: the sender lives until the round is over.
    let (_never, stop) = watch::channel(false);
    round_until(cfg, opts, webhook, mode, stop).await
}

/// [`round`], with the scan stopped when `stop` turns true: the domains in flight finish,
/// the partition is closed with status `interrupted` and the round is an `Err` (nothing is
/// compared; later rounds and `stsscan diff` skip that scan). Once the scan is complete the
/// round runs to its end whatever `stop` says.
pub async fn round_until(
    cfg: ScanConfig,
    opts: &RuleOptions,
    webhook: Option<&str>,
    mode: ProgressMode,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Round> {
    let history = cfg.out.clone();
    if history.exists() && !history.is_dir() {
        bail!("--history {}: not a directory", history.display());
    }
    std::fs::create_dir_all(&history).with_context(|| {
        format!(
            "--history {}: cannot create the directory",
            history.display()
        )
    })?;
    let previous = latest_complete(&history)?;
    let scan_id = run::new_scan_id();
    let run_opts = RunOptions {
        scan_id: scan_id.clone(),
        resume: false,
        tap: None,
        part_rows: None,
    };
    let (summary, stats) = scan::execute_until(cfg, run_opts, mode, "monitor", stop).await?;
    if mode != ProgressMode::Quiet {
        print_summary(&summary, &stats);
    }
    if summary.interrupted {
        bail!("the scan {scan_id} was interrupted; no comparison made");
    }
    let (old, new) = {
        let h = history.clone();
        let (p, s) = (previous.clone(), scan_id.clone());
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Snapshot, Snapshot)> {
            let old = match &p {
                Some(id) => load(&h, id)?,
                None => Snapshot::default(),
            };
            Ok((old, load(&h, &s)?))
        })
        .await??
    };
    let overlap = Overlap::of(&old, &new);
    let alerts = diff(&old, &new, opts);
    let alerts_file = write_alerts(&history, &scan_id, &alerts)?;
    if let Some(url) = webhook {
        let payload = WebhookPayload::new(&scan_id, previous.as_deref(), &alerts);
        webhook::post(url, &payload, WEBHOOK_TIMEOUT).await?;
    }
    Ok(Round {
        status: nagios_status(&alerts),
        domains: new.domains.len(),
        overlap,
        scan_id,
        previous,
        alerts,
        alerts_file,
    })
}

/// The scan configuration of a monitoring run: the portfolio read as `--input-format` and
/// `--column` say, as `stsscan scan` reads its lists (every domain: no sharding, since the
/// previous scan compared with must cover the same portfolio).
pub fn config(args: &Args) -> anyhow::Result<ScanConfig> {
    let input = InputSpec {
        paths: vec![args.domains.clone()],
        format: match args.input_format {
            InputFormatArg::Auto => InputFormat::Auto,
            InputFormatArg::Plain => InputFormat::Plain,
            InputFormatArg::Csv => InputFormat::Csv,
        },
        column: args.column.clone().unwrap_or(CsvColumn::Auto),
        shard: Shard::ALL,
    };
    let mut cfg = args.net.resolve(input, args.history.clone())?;
    crate::pipeline::reach::check_scan(&cfg)?;
    cfg.concurrency = args.concurrency as usize;
    Ok(cfg)
}

fn print_round(r: &Round, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Human => out!(
            "{}",
            human(&r.alerts, r.previous.as_deref(), &r.scan_id, &r.overlap)
        ),
        Format::Jsonl => out!("{}", jsonl(&r.alerts)?),
    }
    Ok(())
}

/// Runs `stsscan monitor` with parsed arguments. Ctrl-C: the first stops the run (the scan
/// in progress finishes its domains in flight and is closed as `interrupted`; a round past
/// its scan completes; the wait for the next round ends at once), the second aborts (exit
/// 130). The exit status is that of the last round: its Nagios status, or 3 when it could
/// not run (an interrupted scan included).
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let opts = args.rules.options()?;
    let cfg = config(args)?;
    let mode = if args.quiet {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let rt = scan::runtime()?;
    rt.block_on(async {
        let (stop_tx, mut stop) = watch::channel(false);
        // registered for the whole run, so no signal is missed between rounds
        let signals = scan::ctrl_c(
            stop_tx,
            mode,
            "finishing the round in progress",
            "the open part is lost",
        )
        .await?;
        let webhook = args.webhook.as_deref();
        let result = async {
            let Some(every) = args.every else {
                let r = round_until(cfg, &opts, webhook, mode, stop.clone()).await?;
                print_round(&r, args.rules.format)?;
                return Ok(ExitCode::from(r.status));
            };
            loop {
                let started = tokio::time::Instant::now();
                let last = match round_until(cfg.clone(), &opts, webhook, mode, stop.clone()).await
                {
                    Ok(r) => {
                        print_round(&r, args.rules.format)?;
                        r.status
                    }
                    Err(e) => {
                        errln!("stsscan: monitor round failed: {e:#}");
                        EXIT_UNKNOWN
                    }
                };
                if *stop.borrow() {
                    return Ok(ExitCode::from(last));
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(started + every) => {}
                    _ = stop.wait_for(|s| *s) => return Ok(ExitCode::from(last)),
                }
            }
        }
        .await;
        signals.abort();
        result
    })
}

/// `DIR/alerts/scan_id=ID.jsonl` of a history directory.
pub fn alerts_file(history: &Path, scan_id: &str) -> PathBuf {
    crate::monitor::report::alerts_path(history, scan_id)
}
