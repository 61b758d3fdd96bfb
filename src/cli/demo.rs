//! `stsscan demo`: the whole product in one command, without the internet. Starts a generated
//! lab world in-process, scans it with a progress bar into a real dataset, and prints what a
//! study would report (adoption, modes, misconfiguration classes) and the agreement with the
//! lab's ground truth.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use super::progress::ProgressMode;
use super::scan::{self, print_summary};
use crate::grade::Grader;
use crate::lab::server::{self, LabOptions};
use crate::lab::world::{GeneratedWorld, Mix};
use crate::pipeline::config::{DnsTransport, ProbeDedup, ScanConfig};
use crate::pipeline::input::{CsvColumn, InputFormat, InputSpec, Shard};
use crate::pipeline::run::{self, RunOptions};

/// Arguments of `stsscan demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Domains in the generated world.
    #[arg(long, default_value_t = 20_000)]
    pub domains: u64,
    /// World seed (the same seed gives the same world).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scenario mix: realistic (like the internet) or adversarial (every scenario equally).
    #[arg(long, default_value = "realistic", value_parser = parse_mix)]
    pub mix: Mix,
    /// Dataset directory.
    #[arg(long, short, default_value = "stsscan-demo")]
    pub out: PathBuf,
    /// Domains scanned at once.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
    /// Self-hosted addresses per server class in the lab.
    #[arg(long, default_value_t = 8)]
    pub pool_size: u8,
    /// DNS transport of the scan: multiplexed (a few shared, rotating sockets; as `scan`) or
    /// hickory (a fresh socket per query).
    #[arg(long, value_enum, default_value = "multiplexed")]
    pub dns_transport: DnsTransport,
    /// How STARTTLS probes are shared, as `scan --probe-dedup`. The lab pools many
    /// self-hosted MX names on each address with a certificate per SNI name, so
    /// `address-once` shows in the agreement what per-name verdicts it gets wrong.
    #[arg(long, value_enum, default_value = "address")]
    pub probe_dedup: ProbeDedup,
}

fn parse_mix(s: &str) -> Result<Mix, String> {
    Mix::from_name(s).ok_or_else(|| format!("unknown mix {s:?}: use realistic or adversarial"))
}

/// Runs `stsscan demo`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rt = scan::runtime()?;
    rt.block_on(demo(args))
}

async fn demo(args: &Args) -> anyhow::Result<ExitCode> {
    let world = GeneratedWorld {
        seed: args.seed,
        n: args.domains,
        mix: args.mix,
    };
    let pool = args.pool_size;
    let lab = server::start(
        move |b| Arc::new(world.build(b.octet, pool)),
        LabOptions::default(),
    )
    .await
    .context("starting the lab")?;
    let ports = lab.ports();
    errln!(
        "lab: {} domains ({} mix, seed {}), DNS {}, HTTPS :{}, SMTP :{}, CA {}",
        args.domains,
        args.mix.name(),
        args.seed,
        lab.dns_addr(),
        ports.https,
        ports.smtp,
        lab.ca_file().display()
    );

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let list = args.out.join("domains.txt");
    {
        let f = std::fs::File::create(&list)
            .with_context(|| format!("cannot write {}", list.display()))?;
        let mut w = std::io::BufWriter::new(f);
        for d in world.domains() {
            writeln!(w, "{d}")?;
        }
        w.flush()?;
    }
    let ca = args.out.join("lab-ca.pem");
    std::fs::write(&ca, lab.ca_pem())?;

    let mut cfg = lab_scan_config(&lab, list, ca, args.out.clone(), args.concurrency as usize)?;
    cfg.dns_transport = args.dns_transport;
    cfg.probe_dedup = args.probe_dedup;
    let grader = Arc::new(Grader::default());
    let adoption = Arc::new(Mutex::new(Adoption::default()));
    let (g, ad) = (grader.clone(), adoption.clone());
    let truth_world = world.build(lab.block().octet, pool);
    let tap = scan::tap(move |row, mx| {
        let truth = row.domain.as_deref().and_then(|d| truth_world.truth(d));
        g.grade(truth, row, mx);
        if let Ok(mut a) = ad.lock() {
            a.add(row);
        }
    });
    let opts = RunOptions {
        scan_id: run::new_scan_id(),
        resume: false,
        tap: Some(tap),
        part_rows: None,
    };
    let (summary, stats) = scan::execute(cfg, opts, args.progress, "demo").await?;
    lab.shutdown().await;
    if args.progress != ProgressMode::Quiet {
        print_summary(&summary, &stats);
    }

    let a = adoption.lock().map(|a| a.clone()).unwrap_or_default();
    let report = grader.report();
    outln!();
    outln!("== What the scan found ({} domains)", a.domains);
    let pct = |n: u64| 100.0 * n as f64 / a.domains.max(1) as f64;
    outln!(
        "  domains with MX            {:>7}  {:5.1} %",
        a.with_mx,
        pct(a.with_mx)
    );
    outln!(
        "  MTA-STS TXT record         {:>7}  {:5.2} %",
        a.sts_tagged,
        pct(a.sts_tagged)
    );
    outln!(
        "  usable MTA-STS policy      {:>7}  {:5.2} %",
        a.usable,
        pct(a.usable)
    );
    outln!(
        "  TLS-RPT record (valid)     {:>7}  {:5.2} %",
        a.tlsrpt,
        pct(a.tlsrpt)
    );
    outln!(
        "  modes: {}",
        a.modes
            .iter()
            .map(|(m, n)| format!("{m} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    outln!(
        "  misconfigured (TXT present, policy not usable): {}; would break enforce delivery: {}",
        a.sts_tagged.saturating_sub(a.usable),
        a.undeliverable
    );
    outln!("  most common findings:");
    let mut top: Vec<_> = a.findings.iter().collect();
    top.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
    for (code, n) in top.into_iter().take(12) {
        outln!("    {n:>7}  {code}");
    }
    outln!();
    outln!(
        "== Agreement with the lab's ground truth: {}/{} domains ({:.2} %)",
        report.agreeing,
        report.domains,
        report.agreement_percent()
    );
    for (field, n) in &report.by_field {
        outln!("    {n:>7}  {field}");
    }
    for m in report.examples.iter().take(10) {
        outln!(
            "    {}: {} expected {} got {}",
            m.domain,
            m.field,
            m.expected,
            m.got
        );
    }
    outln!();
    outln!(
        "Dataset: {}/domains and {}/mx (manifest {}).",
        args.out.display(),
        args.out.display(),
        summary.written.manifest.display()
    );
    outln!(
        "Try: duckdb -c \"SELECT sts_txt, policy_fetch, count(*) FROM read_parquet('{}/domains/**/*.parquet', hive_partitioning = true, union_by_name = true) GROUP BY ALL ORDER BY 3 DESC\"",
        args.out.display()
    );
    Ok(if report.agreeing == report.domains {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The scan configuration that points every lookup and connection at a running lab.
pub fn lab_scan_config(
    lab: &server::Lab,
    list: PathBuf,
    ca: PathBuf,
    out: PathBuf,
    concurrency: usize,
) -> anyhow::Result<ScanConfig> {
    let ports = lab.ports();
    let mut cfg = default_net().resolve(
        InputSpec {
            paths: vec![list],
            format: InputFormat::Plain,
            column: CsvColumn::Auto,
            shard: Shard::ALL,
        },
        out,
    )?;
    cfg.resolvers = vec![lab.dns_addr()];
    cfg.allow_private = true;
    cfg.ca_file = Some(ca);
    cfg.no_default_roots = true;
    cfg.https_port = ports.https;
    cfg.smtp_port = ports.smtp;
    cfg.concurrency = concurrency;
    // The lab is on loopback, but a busy machine (CI, other builds) can delay an answer by
    // hundreds of milliseconds: a timeout must mean a silent server, not a slow one.
    cfg.timeouts.dns = std::time::Duration::from_secs(2);
    cfg.dns_attempts = 3;
    cfg.timeouts.connect = std::time::Duration::from_secs(2);
    cfg.timeouts.fetch = std::time::Duration::from_secs(3);
    cfg.timeouts.smtp_reply = std::time::Duration::from_secs(3);
    cfg.timeouts.smtp_session = std::time::Duration::from_secs(8);
    cfg.per_address_rate = std::num::NonZeroU32::new(10_000).unwrap_or(cfg.per_address_rate);
    cfg.per_address_connections = 4;
    Ok(cfg)
}

fn default_net() -> super::scan_args::NetArgs {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct P {
        #[command(flatten)]
        net: super::scan_args::NetArgs,
    }
    P::parse_from(["x"]).net
}

/// Headline figures gathered from the rows.
#[derive(Debug, Clone, Default)]
struct Adoption {
    domains: u64,
    with_mx: u64,
    sts_tagged: u64,
    usable: u64,
    tlsrpt: u64,
    undeliverable: u64,
    modes: BTreeMap<String, u64>,
    findings: BTreeMap<String, u64>,
}

impl Adoption {
    fn add(&mut self, row: &crate::output::DomainRow) {
        if row.input_status != "ok" {
            return;
        }
        self.domains += 1;
        if matches!(
            row.mx_kind.as_deref(),
            Some("hosts" | "implicit" | "mixed-null")
        ) {
            self.with_mx += 1;
        }
        if !matches!(
            row.sts_txt.as_deref(),
            Some("absent" | "lookup-failed") | None
        ) {
            self.sts_tagged += 1;
        }
        if row.policy_usable == Some(true) {
            self.usable += 1;
        }
        if row.tlsrpt.as_deref() == Some("valid") {
            self.tlsrpt += 1;
        }
        if row.enforce_deliverable == Some(false) {
            self.undeliverable += 1;
        }
        if let Some(m) = &row.policy_mode {
            *self.modes.entry(m.clone()).or_insert(0) += 1;
        }
        for f in &row.findings {
            *self.findings.entry(f.code.clone()).or_insert(0) += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct P {
        #[command(flatten)]
        demo: Args,
    }

    /// Without flags the demo scans as `scan` does by default, so its agreement speaks for the
    /// scanner's defaults.
    #[test]
    fn demo_defaults_are_the_scan_defaults() {
        let demo = P::parse_from(["demo"]).demo;
        let net = default_net();
        assert_eq!(demo.probe_dedup, net.probe_dedup);
        assert_eq!(demo.dns_transport, net.dns_transport);
        assert_eq!(demo.probe_dedup, ProbeDedup::Address);
    }

    #[test]
    fn probe_dedup_is_a_demo_flag() {
        let demo = P::parse_from(["demo", "--probe-dedup", "address-once"]).demo;
        assert_eq!(demo.probe_dedup, ProbeDedup::AddressOnce);
        let demo = P::parse_from(["demo", "--probe-dedup", "address+name"]).demo;
        assert_eq!(demo.probe_dedup, ProbeDedup::AddressName);
        let err = P::try_parse_from(["demo", "--probe-dedup", "name"]).err();
        assert!(err.is_some_and(|e| e.to_string().contains("name")));
    }
}
