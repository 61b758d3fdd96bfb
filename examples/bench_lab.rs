//! The lab half of `scripts/bench.sh`: serves a generated world on loopback in its own process
//! (so the scanner's CPU and memory can be measured apart from the lab's) and, when told to
//! stop, prints the lab's counters: DNS queries received, HTTPS requests and SMTP connections.
//!
//! ```text
//! bench_lab DIR DOMAINS BLOCK DNS_DELAY_MS MAX_SECONDS
//! ```
//!
//! Writes `DIR/domains.txt`, `DIR/lab-ca.pem` and `DIR/lab.env` (`DNS=ip:port`,
//! `HTTPS_PORT=`, `SMTP_PORT=`), then serves until `DIR/stop` exists (or `MAX_SECONDS` pass)
//! and writes `DIR/counters.env`. Seed 1, realistic mix, pool size 8 — the demo's defaults.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool"
)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use stsscan::lab::model::World;
use stsscan::lab::server::{self, LabOptions};
use stsscan::lab::world::{GeneratedWorld, Mix};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, n, block, delay_ms, max_secs] = args.as_slice() else {
        anyhow::bail!("usage: bench_lab DIR DOMAINS BLOCK DNS_DELAY_MS MAX_SECONDS");
    };
    let dir = std::path::PathBuf::from(dir);
    let n: u64 = n.parse().context("DOMAINS")?;
    let block: u8 = block.parse().context("BLOCK")?;
    let delay = Duration::from_millis(delay_ms.parse().context("DNS_DELAY_MS")?);
    let max = Duration::from_secs(max_secs.parse().context("MAX_SECONDS")?);
    std::fs::create_dir_all(&dir)?;
    let world = GeneratedWorld {
        seed: 1,
        n,
        mix: Mix::Realistic,
    };
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("domains.txt"))?);
        for d in world.domains() {
            writeln!(w, "{d}")?;
        }
        w.flush()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let built: Arc<dyn World> = Arc::new(world.build(block, 8).with_dns_delay(delay));
        let opts = LabOptions {
            block: Some(block),
            ..LabOptions::default()
        };
        let lab = server::start(move |_| built, opts).await?;
        std::fs::write(dir.join("lab-ca.pem"), lab.ca_pem())?;
        let ports = lab.ports();
        let env = format!(
            "DNS={}\nHTTPS_PORT={}\nSMTP_PORT={}\n",
            lab.dns_addr(),
            ports.https,
            ports.smtp
        );
        std::fs::write(dir.join("lab.env.tmp"), env)?;
        std::fs::rename(dir.join("lab.env.tmp"), dir.join("lab.env"))?;
        let start = Instant::now();
        while start.elapsed() < max && !dir.join("stop").exists() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let c = lab.counters();
        let smtp = c.smtp_all();
        let smtp_conns: u64 = smtp.values().map(|s| s.accepted).sum();
        let smtp_addrs = smtp.values().filter(|s| s.accepted > 0).count();
        let https_conns: u64 = c.https_all().values().map(|s| s.accepted).sum();
        let out = format!(
            "LAB_DNS_QUERIES={}\nLAB_HTTPS_REQUESTS={}\nLAB_HTTPS_CONNS={}\nLAB_SMTP_CONNS={}\nLAB_SMTP_ADDRS={}\n",
            c.dns_total(),
            c.https_total(),
            https_conns,
            smtp_conns,
            smtp_addrs
        );
        std::fs::write(dir.join("counters.env"), out)?;
        lab.shutdown().await;
        anyhow::Ok(())
    })
}
