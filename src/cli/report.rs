//! `stsscan report DIR`: writes a self-contained HTML page about a scan (or, with
//! `--history`, every scan) of a dataset. The page is built by [`crate::report`]; this file
//! only parses the arguments and says where the page went.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::report::{Options, write};

/// Arguments of `stsscan report`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
  stsscan report scans/                 # latest complete scan → scans/report.html\n  \
  stsscan report scans/ --history --out trend.html")]
pub struct Args {
    /// The dataset root (the `--out` of `stsscan scan`).
    pub dir: PathBuf,
    /// Report on this scan instead of the latest complete one.
    #[arg(long)]
    pub scan_id: Option<String>,
    /// Add adoption and breakage over every complete scan of the dataset.
    #[arg(long)]
    pub history: bool,
    /// Where to write the page (default DIR/report.html).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Domains needing action listed at most.
    #[arg(long, default_value_t = 200)]
    pub top: usize,
}

/// Runs `stsscan report`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.dir.join("report.html"));
    let opts = Options {
        dir: args.dir.clone(),
        scan_id: args.scan_id.clone(),
        history: args.history,
        top: args.top,
    };
    write(&opts, &out)?;
    {
        errln!("stsscan: wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
