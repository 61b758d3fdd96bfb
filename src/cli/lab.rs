//! Placeholder: this subcommand is being written.

use std::process::ExitCode;

/// Arguments (placeholder).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the subcommand (placeholder).
pub fn run(_args: &Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet available")
}
