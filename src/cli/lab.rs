//! `stsscan lab …`: run or inspect the simulated internet.
//!
//! * `lab scenarios` — the catalog with realistic weights.
//! * `lab domains` — the domain list of a generated world, one per line.
//! * `lab truth` — the ground truth of a generated world (Parquet or JSONL).
//! * `lab serve` — serve a generated world on loopback until Ctrl-C.
//!
//! A generated world is `--seed`, `--domains`, `--mix`; `--block` (the B of `127.B.0.0/16`)
//! and `--pool-size` place its hosts, so `lab truth` and `lab serve` must get the same values
//! for the truth's addresses to match what is served.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::lab::model::{DropRate, World};
use crate::lab::server::{LabOptions, Ports};
use crate::lab::world::write::{write_jsonl, write_parquet};
use crate::lab::world::{GeneratedWorld, LabWorld, Mix, Scenario};

/// Arguments of `stsscan lab`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The `lab` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// List the scenario catalog with realistic weights (per million domains).
    Scenarios,
    /// Write the domain list of a generated world, one per line.
    Domains(DomainsArgs),
    /// Write the ground truth of a generated world.
    Truth(TruthArgs),
    /// Serve a generated world on loopback until Ctrl-C.
    Serve(ServeArgs),
}

/// The largest generated world: ten times the 10 M run of `docs/performance.md`. A typo of a
/// few digits more would otherwise write a domain list until the disk is full.
const MAX_WORLD_DOMAINS: u64 = 100_000_000;

/// Parameters of a generated world.
#[derive(Debug, Clone, clap::Args)]
pub struct WorldArgs {
    /// Seed: names and scenarios are pure functions of it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of domains (1 to 100 000 000; `lab serve` writes their list first, ≈ 25 bytes
    /// each).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_WORLD_DOMAINS))]
    pub domains: u64,
    /// Scenario mix: `realistic` or `adversarial`.
    #[arg(long, default_value = "realistic", value_parser = ["realistic", "adversarial"])]
    pub mix: String,
    /// The B of the world's 127.B.0.0/16 block.
    #[arg(long, default_value_t = 64)]
    pub block: u8,
    /// Addresses per self-hosted server class (1–64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub pool_size: u8,
    /// Epoch of the world: "over time" scenarios change from epoch 1 on.
    #[arg(long, default_value_t = 0)]
    pub epoch: u32,
}

impl WorldArgs {
    fn world(&self) -> anyhow::Result<LabWorld<GeneratedWorld>> {
        let Some(mix) = Mix::from_name(&self.mix) else {
            bail!("unknown mix {:?}", self.mix);
        };
        Ok(GeneratedWorld {
            seed: self.seed,
            n: self.domains,
            mix,
        }
        .build(self.block, self.pool_size)
        .at_epoch(self.epoch))
    }
}

/// Arguments of `lab domains`.
#[derive(Debug, clap::Args)]
pub struct DomainsArgs {
    /// The world.
    #[command(flatten)]
    pub world: WorldArgs,
    /// Output file (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Output format of `lab truth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TruthFormat {
    /// Two Parquet files: FILE (domains) and FILE with `.mx.parquet` (MX rows).
    Parquet,
    /// One JSON object per line, MX rows nested under `mx`.
    Jsonl,
}

/// Arguments of `lab truth`.
#[derive(Debug, clap::Args)]
pub struct TruthArgs {
    /// The world.
    #[command(flatten)]
    pub world: WorldArgs,
    /// Output file.
    #[arg(long, short)]
    pub out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TruthFormat::Parquet)]
    pub format: TruthFormat,
}

/// Arguments of `lab serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The world.
    #[command(flatten)]
    pub world: WorldArgs,
    /// DNS port (default: 53 if bindable, else 10053).
    #[arg(long)]
    pub dns_port: Option<u16>,
    /// HTTPS port (default: 443 if bindable, else 10443).
    #[arg(long)]
    pub https_port: Option<u16>,
    /// SMTP port (default: 25 if bindable, else 10025).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// Delay before every DNS answer, in milliseconds (latency injection).
    #[arg(long, default_value_t = 0)]
    pub dns_delay_ms: u64,
    /// Share of DNS queries (UDP and TCP) silently dropped at random, 0.0–1.0 (packet loss;
    /// e.g. 0.01). Each query is a fresh draw, seeded by --seed, so a client that retries gets
    /// through; the ground truth assumes it does.
    #[arg(long, default_value_t = 0.0, value_parser = parse_drop_rate)]
    pub dns_drop_rate: f64,
    /// Directory for the domain list and CA file (default: a new temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Parses a probability in 0.0..=1.0.
fn parse_drop_rate(s: &str) -> Result<f64, String> {
    let p: f64 = s.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
    if DropRate::from_probability(p).is_none() {
        return Err(format!("{s:?} is not a probability in 0.0..=1.0"));
    }
    Ok(p)
}

/// Runs `stsscan lab …`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.command {
        LabCommand::Scenarios => scenarios(),
        LabCommand::Domains(a) => domains(a),
        LabCommand::Truth(a) => truth(a),
        LabCommand::Serve(a) => serve(a),
    }
}

fn scenarios() -> anyhow::Result<ExitCode> {
    for s in Scenario::ALL {
        outln!("{}\t{}", s.name(), s.realistic_weight());
    }
    Ok(ExitCode::SUCCESS)
}

fn write_domains(world: &LabWorld<GeneratedWorld>, out: &mut dyn Write) -> anyhow::Result<()> {
    for d in world.source().domains() {
        out.write_all(d.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(
        File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

fn domains(a: &DomainsArgs) -> anyhow::Result<ExitCode> {
    let world = a.world.world()?;
    match &a.out {
        Some(p) => write_domains(&world, &mut create(p)?)?,
        // A reader that stops early (`stsscan lab domains | head`) is not a failure.
        None => match write_domains(&world, &mut std::io::stdout().lock()) {
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {}
            r => r?,
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// The MX table path next to a domains Parquet file: `x.parquet` → `x.mx.parquet`.
pub fn mx_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map_or_else(|| "truth".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}.mx.parquet"))
}

fn truth(a: &TruthArgs) -> anyhow::Result<ExitCode> {
    let world = a.world.world()?;
    let rows = world.source().domains().filter_map(|d| world.truth(&d));
    match a.format {
        TruthFormat::Jsonl => {
            write_jsonl(rows, create(&a.out)?)?;
        }
        TruthFormat::Parquet => {
            let mx = mx_path(&a.out);
            let w = &a.world;
            let meta: Vec<(String, String)> = [
                ("stsscan.version", env!("CARGO_PKG_VERSION").to_owned()),
                ("lab.seed", w.seed.to_string()),
                ("lab.domains", w.domains.to_string()),
                ("lab.mix", w.mix.clone()),
                ("lab.block", w.block.to_string()),
                ("lab.pool_size", w.pool_size.to_string()),
                ("lab.epoch", w.epoch.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            write_parquet(rows, create(&a.out)?, create(&mx)?, &meta)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(a: &ServeArgs) -> anyhow::Result<ExitCode> {
    let world = a.world.world()?;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("stsscan-lab-serve-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let list = dir.join("domains.txt");
    write_domains(&world, &mut create(&list)?)?;
    let defaults = Ports::default();
    let ports = Ports {
        dns: a.dns_port.unwrap_or(defaults.dns),
        https: a.https_port.unwrap_or(defaults.https),
        smtp: a.smtp_port.unwrap_or(defaults.smtp),
    };
    let opts = LabOptions {
        block: Some(a.world.block),
        ports,
        seed: Some(a.world.seed),
        ..LabOptions::default()
    };
    let drop_rate = DropRate::from_probability(a.dns_drop_rate)
        .with_context(|| format!("--dns-drop-rate {} is not in 0.0..=1.0", a.dns_drop_rate))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let world: Arc<dyn World> = Arc::new(
            world
                .with_dns_delay(std::time::Duration::from_millis(a.dns_delay_ms))
                .with_dns_drop_rate(drop_rate),
        );
        let lab = crate::lab::server::start(move |_| world, opts).await?;
        let ca = dir.join("lab-root-ca.pem");
        std::fs::write(&ca, lab.ca_pem()).with_context(|| format!("writing {}", ca.display()))?;
        outln!("lab serving {} domains (seed {}, mix {})", a.world.domains, a.world.seed, a.world.mix);
        outln!("dns      {}", lab.dns_addr());
        outln!("ca       {}", ca.display());
        outln!("domains  {}", list.display());
        if a.dns_delay_ms > 0 || !drop_rate.is_none() {
            outln!(
                "impair   dns delay {} ms, dns drop rate {}",
                a.dns_delay_ms,
                drop_rate.probability()
            );
        }
        outln!(
            "ports    dns {} https {} smtp {}",
            lab.dns_addr().port(),
            ports.https,
            ports.smtp
        );
        outln!("truth    stsscan lab truth --seed {} --domains {} --mix {} --block {} --pool-size {} --epoch {} --out truth.parquet",
            a.world.seed, a.world.domains, a.world.mix, a.world.block, a.world.pool_size, a.world.epoch);
        outln!("Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        lab.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
