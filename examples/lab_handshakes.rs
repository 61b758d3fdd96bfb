//! TLS handshake capacity of a running lab: many concurrent tokio-rustls clients doing full
//! handshakes (no session resumption) against one lab HTTPS host or one SMTP host
//! (greeting, EHLO, STARTTLS, handshake, QUIT), for a bounded time. Used by
//! `scripts/lab-perf.sh`; loopback only (the address must be in 127.0.0.0/8).
//!
//! ```text
//! lab_handshakes https|smtp IP:PORT SNI CA_FILE CONCURRENCY SECONDS
//! ```
//!
//! Prints one line: `MODE handshakes=N errors=E seconds=S rate=R/s concurrency=C`. Every
//! client verifies the certificate against CA_FILE (the lab root), so a handshake counts only
//! when it completed and verified. CONCURRENCY is capped at 1024 and SECONDS at 120.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a measurement tool"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Bound on one connection (connect + dialog + handshake).
const STEP: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Https,
    Smtp,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, addr, sni, ca, conc, secs] = args.as_slice() else {
        bail!("usage: lab_handshakes https|smtp IP:PORT SNI CA_FILE CONCURRENCY SECONDS");
    };
    let mode = match mode.as_str() {
        "https" => Mode::Https,
        "smtp" => Mode::Smtp,
        other => bail!("mode {other:?}: https or smtp"),
    };
    let addr: SocketAddr = addr.parse().context("IP:PORT")?;
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address: this tool only measures the local lab");
    }
    let conc: usize = conc.parse::<usize>().context("CONCURRENCY")?.clamp(1, 1024);
    let secs: u64 = secs.parse::<u64>().context("SECONDS")?.clamp(1, 120);
    let name = ServerName::try_from(sni.clone()).context("SNI")?;
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).with_context(|| format!("reading {ca}"))?;
    for c in ca_certs(&pem)? {
        roots.add(c)?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Full handshakes only: no resumption.
    cfg.resumption = rustls::client::Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(cfg));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let ok = Arc::new(AtomicU64::new(0));
        let err = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let until = start + Duration::from_secs(secs);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..conc {
            let (ok, err, connector, name) =
                (ok.clone(), err.clone(), connector.clone(), name.clone());
            tasks.spawn(async move {
                while Instant::now() < until {
                    let one = tokio::time::timeout(STEP, once(mode, addr, &connector, &name));
                    match one.await {
                        Ok(Ok(())) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => err.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let elapsed = start.elapsed().as_secs_f64();
        let n = ok.load(Ordering::Relaxed);
        println!(
            "{} handshakes={n} errors={} seconds={elapsed:.1} rate={:.0}/s concurrency={conc}",
            if mode == Mode::Https {
                "https"
            } else {
                "smtp-starttls"
            },
            err.load(Ordering::Relaxed),
            n as f64 / elapsed
        );
    });
    Ok(())
}

/// One connection: a full, verified handshake (after the SMTP dialog in SMTP mode), then a
/// clean close.
async fn once(
    mode: Mode,
    addr: SocketAddr,
    connector: &TlsConnector,
    name: &ServerName<'static>,
) -> anyhow::Result<()> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    if mode == Mode::Smtp {
        let mut r = BufReader::new(&mut tcp);
        expect(&mut r, "220").await?;
        r.get_mut().write_all(b"EHLO perf.test\r\n").await?;
        expect(&mut r, "250").await?;
        r.get_mut().write_all(b"STARTTLS\r\n").await?;
        expect(&mut r, "220").await?;
    }
    let mut tls = connector.connect(name.clone(), tcp).await?;
    if mode == Mode::Smtp {
        tls.write_all(b"QUIT\r\n").await?;
    }
    tls.shutdown().await?;
    Ok(())
}

/// Reads one (possibly multi-line) SMTP reply and checks its code.
async fn expect<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R, code: &str) -> anyhow::Result<()> {
    let mut line = String::new();
    for _ in 0..32 {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            bail!("closed while waiting for {code}");
        }
        if !line.starts_with(code) {
            bail!("expected {code}, got {line:?}");
        }
        if line.as_bytes().get(3) == Some(&b' ') {
            return Ok(());
        }
    }
    bail!("reply too long")
}

/// The certificates of a PEM file (rustls-pki-types' PEM reader).
fn ca_certs(pem: &[u8]) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .context("parsing the CA PEM")?;
    if certs.is_empty() {
        bail!("no certificate in the CA file");
    }
    Ok(certs)
}
