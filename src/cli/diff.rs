//! `stsscan diff`: compares two scans and prints the alerts (human summary or JSON lines),
//! exiting Nagios-style: 0 ok (no alert or only info), 1 warning, 2 critical, 3 could not run
//! (every error, usage errors included — see [`run_raw`] — and two scans that both have
//! domains but none in common, which compare nothing: most likely the wrong directories).
//! An empty scan (a complete scan of no domain) is a valid side: every domain is then new.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;

use crate::monitor::report::{human, jsonl, nagios_status};
use crate::monitor::rules::{RuleOptions, diff};
use crate::monitor::snapshot::{Overlap, complete_scans, load};

/// Exit status when the command could not run (Nagios UNKNOWN).
pub const EXIT_UNKNOWN: u8 = 3;

/// The raw arguments of a Nagios-style subcommand: parsed by the subcommand itself so that a
/// usage error exits 3 (clap's default is 2, which means "critical" here).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct RawArgs {
    /// The subcommand's arguments (see `--help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<OsString>,
}

/// Output format of the alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A summary for people, grouped by severity.
    Human,
    /// One JSON object per alert: code, severity, domain, subject, message, old, new, scan ids.
    Jsonl,
}

/// The rule selection flags shared by `diff` and `monitor`.
#[derive(Debug, Clone, clap::Args)]
pub struct RuleArgs {
    /// Only these rules (comma-separated codes; default: all).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub rules: Option<Vec<String>>,
    /// Skip these rules (comma-separated codes).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    pub skip_rules: Vec<String>,
    /// Certificate expiry thresholds in days; the smallest is critical, the others warnings.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "21,14,7",
        value_name = "DAYS"
    )]
    pub expiry_days: Vec<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

impl RuleArgs {
    /// The validated rule options.
    pub fn options(&self) -> anyhow::Result<RuleOptions> {
        RuleOptions::select(self.rules.as_deref(), &self.skip_rules, &self.expiry_days)
            .map_err(anyhow::Error::msg)
    }
}

/// Arguments of `stsscan diff`.
#[derive(Debug, Parser)]
#[command(
    name = "stsscan diff",
    about = "Compare two scans and report what changed (exit 0 ok, 1 warning, 2 critical, 3 could not run)",
    after_help = "Examples:\n  \
  stsscan diff history/                          # the two most recent complete scans\n  \
  stsscan diff old-scan/ new-scan/ --format jsonl\n  \
  stsscan diff history/ --old-scan A --new-scan B --skip-rules max-age-short\n\n\
Exit 3 also when both scans have domains but none in common (the wrong directories?); the \
summary counts the domains only one of the scans has."
)]
pub struct Args {
    /// One dataset directory (history), or OLD and NEW dataset directories.
    #[arg(value_name = "DIR", required = true, num_args = 1..=2)]
    pub dirs: Vec<PathBuf>,
    /// The old scan's id (default: the second most recent complete scan in DIR, or the most
    /// recent in OLD).
    #[arg(long, value_name = "ID")]
    pub old_scan: Option<String>,
    /// The new scan's id (default: the most recent complete scan).
    #[arg(long, value_name = "ID")]
    pub new_scan: Option<String>,
    /// Rules and output.
    #[command(flatten)]
    pub rules: RuleArgs,
}

/// Parses `raw` as the arguments of `name` with clap, mapping usage errors to exit 3 (help
/// and version print and exit 0), then runs `f`; every `Err` is printed and exits 3.
pub fn run_nagios<A: Parser>(
    name: &str,
    raw: &RawArgs,
    f: impl FnOnce(&A) -> anyhow::Result<ExitCode>,
) -> anyhow::Result<ExitCode> {
    let argv = std::iter::once(OsString::from(name)).chain(raw.args.iter().cloned());
    let args = match A::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => EXIT_UNKNOWN,
            };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    match f(&args) {
        Ok(code) => Ok(code),
        Err(err) => {
            errln!("stsscan: error: {err:#}");
            Ok(ExitCode::from(EXIT_UNKNOWN))
        }
    }
}

/// Runs `stsscan diff` from its raw arguments.
pub fn run_raw(raw: &RawArgs) -> anyhow::Result<ExitCode> {
    run_nagios::<Args>("stsscan diff", raw, run)
}

/// Picks (old dir, old id, new dir, new id).
fn pick(args: &Args) -> anyhow::Result<(PathBuf, String, PathBuf, String)> {
    let latest = |dir: &PathBuf, skip: usize| -> anyhow::Result<String> {
        let scans = complete_scans(dir)?;
        let n = scans.len();
        if n == 0 && !dir.join("manifest").is_dir() {
            bail!(
                "{}: not a stsscan dataset (no manifest/ directory)",
                dir.display()
            );
        }
        if n <= skip {
            bail!(
                "{} has {n} complete scan(s); need {} (or name them with --old-scan/--new-scan)",
                dir.display(),
                skip + 1
            );
        }
        Ok(scans[n - 1 - skip].scan_id.clone())
    };
    match args.dirs.as_slice() {
        [dir] => {
            let new = match &args.new_scan {
                Some(id) => id.clone(),
                None => latest(dir, 0)?,
            };
            let old = match &args.old_scan {
                Some(id) => id.clone(),
                None => {
                    // The complete scan just before `new`.
                    let scans = complete_scans(dir)?;
                    let pos = scans.iter().position(|m| m.scan_id == new);
                    let before = match pos {
                        Some(p) if p > 0 => Some(scans[p - 1].scan_id.clone()),
                        Some(_) => None,
                        None => scans
                            .last()
                            .map(|m| m.scan_id.clone())
                            .filter(|s| *s != new),
                    };
                    before.with_context(|| {
                        format!(
                            "{}: no complete scan before {new}; name one with --old-scan",
                            dir.display()
                        )
                    })?
                }
            };
            Ok((dir.clone(), old, dir.clone(), new))
        }
        [old_dir, new_dir] => {
            let old = match &args.old_scan {
                Some(id) => id.clone(),
                None => latest(old_dir, 0)?,
            };
            let new = match &args.new_scan {
                Some(id) => id.clone(),
                None => latest(new_dir, 0)?,
            };
            Ok((old_dir.clone(), old, new_dir.clone(), new))
        }
        _ => bail!("give one history directory or OLD and NEW directories"),
    }
}

/// Runs `stsscan diff` with parsed arguments.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let opts = args.rules.options()?;
    for dir in &args.dirs {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!("{}: not a directory", dir.display()),
            Err(e) => bail!("{}: {e}", dir.display()),
        }
    }
    let (old_dir, old_id, new_dir, new_id) = pick(args)?;
    if old_dir == new_dir && old_id == new_id {
        bail!("the old and the new scan are the same scan ({new_id})");
    }
    let old = load(&old_dir, &old_id)?;
    let new = load(&new_dir, &new_id)?;
    let overlap = Overlap::of(&old, &new);
    if overlap.disjoint() {
        bail!(
            "the scans have no domain in common ({old_id} in {}: {} domains; {new_id} in {}: {} domains): nothing to compare; wrong directories or scan ids?",
            old_dir.display(),
            overlap.old,
            new_dir.display(),
            overlap.new
        );
    }
    let alerts = diff(&old, &new, &opts);
    match args.rules.format {
        Format::Human => out!("{}", human(&alerts, Some(&old_id), &new_id, &overlap)),
        Format::Jsonl => out!("{}", jsonl(&alerts)?),
    }
    Ok(ExitCode::from(nagios_status(&alerts)))
}
