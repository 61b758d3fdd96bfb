//! The command-line interface: clap arguments, resolved once into validated configurations,
//! and the mapping of outcomes to exit codes. Only this module (and the binary) prints.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Whether standard output's reader has gone (see [`print_out`]).
static STDOUT_GONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes command output to standard output. When the reader has gone (`stsscan check D |
/// head -3`), the rest of the output is dropped and the command runs on to its usual exit
/// status, which stays its verdict; Rust ignores SIGPIPE, so `println!` would panic there.
/// Any other write error (a full disk behind `>`) ends the process with a one-line error and
/// status 2.
pub(crate) fn print_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::Ordering::Relaxed;
    if STDOUT_GONE.load(Relaxed) {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_GONE.store(true, Relaxed);
            return;
        }
        print_err(format_args!(
            "stsscan: error: cannot write to standard output: {e}\n"
        ));
        std::process::exit(2);
    }
}

/// Writes diagnostics (progress, summaries, errors) to standard error, ignoring a failure:
/// with standard error closed there is nowhere to report it, and `eprintln!` would panic in
/// the middle of a scan.
pub(crate) fn print_err(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// `eprintln!` through [`print_err`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::print_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `println!` through [`print_out`].
macro_rules! outln {
    () => {
        $crate::cli::print_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::print_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` through [`print_out`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::print_out(format_args!($($arg)*))
    };
}

pub mod check;
#[cfg(feature = "lab")]
pub mod demo;
pub mod diff;
#[cfg(feature = "lab")]
pub mod lab;
pub mod monitor;
pub mod progress;
pub mod report;
pub mod scan;
pub mod scan_args;
pub mod tlsrpt;
pub mod validate;

/// stsscan measures email transport security: MTA-STS (RFC 8461), TLS-RPT (RFC 8460) and
/// SMTP STARTTLS, for one domain or for millions.
#[derive(Debug, Parser)]
#[command(name = "stsscan", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a simulated internet (the lab), scan it, and grade the scan against the lab's
    /// ground truth. No network access needed.
    #[cfg(feature = "lab")]
    Demo(demo::Args),
    /// Check one domain and explain in plain words what is wrong and how to fix it.
    Check(Box<check::Args>),
    /// Scan domain lists into a Parquet dataset.
    Scan(Box<scan::Args>),
    /// Write a self-contained HTML report of a scan (or the history of a dataset).
    Report(report::Args),
    /// Lint MTA-STS / TLS-RPT records, policies, reports, MX patterns and domain names.
    Validate(validate::Args),
    /// Ingest, receive and report on TLS-RPT reports (RFC 8460) sent to your domains.
    Tlsrpt(tlsrpt::Args),
    /// Run or inspect the simulated internet used for tests and demos.
    #[cfg(feature = "lab")]
    Lab(lab::Args),
    /// Compare two scans and report what changed (Nagios exit codes: 0 ok, 1 warning,
    /// 2 critical, 3 could not run). `stsscan diff --help` for the flags.
    Diff(diff::RawArgs),
    /// Scan a portfolio into a history directory, compare with the previous scan and alert
    /// (Nagios exit codes). `stsscan monitor --help` for the flags.
    Monitor(diff::RawArgs),
}

/// Parses the process arguments, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Tlsrpt(args) => tlsrpt::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Check(args) => check::run(args),
        Command::Report(args) => report::run(args),
        #[cfg(feature = "lab")]
        Command::Demo(args) => demo::run(args),
        #[cfg(feature = "lab")]
        Command::Lab(args) => lab::run(args),
        Command::Diff(args) => diff::run_raw(args),
        Command::Monitor(args) => monitor::run_raw(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            errln!("stsscan: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks (duplicate flags, conflicting shorts, …), which otherwise
    /// fire only when a broken subcommand is parsed.
    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every `--out` is also `-o`, as in `scan` and `demo`.
    #[test]
    fn every_out_flag_has_the_short_form() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_long() == Some("out") && arg.get_short() != Some('o') {
                    missing.push(path.to_owned());
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "stsscan", &mut missing);
        assert!(missing.is_empty(), "--out without -o in: {missing:?}");
    }
}
