//! `stsscan tlsrpt`: the command line of the TLS-RPT report dataset — `ingest` (files,
//! messages, mboxes, directories), `receive` (the RFC 8460 §5.4 HTTPS endpoint; feature
//! `lab`) and `report` (text on stdout and an HTML page). Owns argument parsing, building
//! the TLS configuration from PEM files and printing; all logic is in [`crate::tlsrpt`].
//!
//! Exit codes: 0 done (malformed inputs are rows of the `errors` table, not failures), 2
//! usage or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::tlsrpt::{ingest, report};

/// Arguments of `stsscan tlsrpt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub what: What,
}

/// The `tlsrpt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Ingest report files (.json, .json.gz), messages (.eml), mboxes and directories of
    /// them into a Parquet dataset, skipping report ids already stored.
    Ingest {
        /// Files or directories (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Dataset directory.
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Run the RFC 8460 §5.4 HTTPS endpoint, appending received reports to a dataset.
    #[cfg(feature = "lab")]
    Receive {
        /// Address to listen on, e.g. 0.0.0.0:8443.
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// Dataset directory.
        #[arg(long, short)]
        out: PathBuf,
        /// PEM certificate chain (leaf first).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve plain HTTP (only behind a TLS-terminating reverse proxy).
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        insecure_http: bool,
        /// Largest request body in bytes.
        #[arg(long, default_value_t = crate::records::tlsrpt_report::MAX_REPORT_BYTES)]
        max_body: usize,
        /// Seconds between flushes of received reports to Parquet.
        #[arg(long, default_value_t = 10)]
        flush_secs: u64,
    },
    /// Summarise a dataset: text on stdout, and an HTML page with charts with --out.
    Report {
        /// Dataset directory.
        dir: PathBuf,
        /// Write the HTML page here.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// A scan output directory (`stsscan scan --out`) to put failures next to.
        #[arg(long)]
        scan: Option<PathBuf>,
    },
}

/// Runs `stsscan tlsrpt`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.what {
        What::Ingest { paths, out } => {
            // A path on the command line that does not exist is a usage error, not an
            // input to record among the dataset's errors.
            for p in paths {
                std::fs::symlink_metadata(p)
                    .with_context(|| format!("{}: cannot read", p.display()))?;
            }
            let s = ingest::ingest_paths(paths, out)?;
            outln!(
                "files {}  messages {}  reports added {}  duplicates {}  errors {}",
                s.files,
                s.messages,
                s.added,
                s.duplicates,
                s.errors
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "lab")]
        What::Receive {
            listen,
            out,
            tls_cert,
            tls_key,
            insecure_http,
            max_body,
            flush_secs,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(c), Some(k)) => Some(server_config(c, k)?),
                _ if *insecure_http => None,
                _ => anyhow::bail!("give --tls-cert and --tls-key, or --insecure-http"),
            };
            let mut cfg = crate::tlsrpt::receive::ReceiveConfig::new(*listen, out.clone(), tls);
            cfg.max_body = *max_body;
            cfg.flush_interval = std::time::Duration::from_secs((*flush_secs).max(1));
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let r = crate::tlsrpt::receive::start(cfg).await?;
                outln!("listening on {}", r.local_addr());
                // SIGTERM (systemd, docker, kill) stops it like Ctrl-C: the reports already
                // answered 200 are written before exiting; a second signal aborts.
                let (stop, mut stopped) = tokio::sync::watch::channel(false);
                let signals = super::scan::ctrl_c(
                    stop,
                    super::progress::ProgressMode::Lines,
                    "writing the buffered reports",
                    "buffered reports are lost",
                )
                .await?;
                let _ = stopped.changed().await;
                let done = r.shutdown().await;
                signals.abort();
                done
            })?;
            Ok(ExitCode::SUCCESS)
        }
        What::Report { dir, out, scan } => {
            if !dir.is_dir() {
                anyhow::bail!("{}: not a TLS-RPT dataset directory", dir.display());
            }
            if let Some(scan) = scan {
                if !scan.is_dir() {
                    anyhow::bail!("--scan {}: not a scan dataset directory", scan.display());
                }
            }
            let agg = report::aggregate(dir)?;
            let top = report::top_details(&agg, scan.as_deref())?;
            out!("{}", report::render_text(&agg, &top));
            if let Some(out) = out {
                std::fs::write(out, report::render_html(&agg, &top))
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A rustls server configuration (ring provider) from PEM files.
#[cfg(feature = "lab")]
pub fn server_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> anyhow::Result<std::sync::Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", cert.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading {}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(std::sync::Arc::new(cfg))
}
