//! The flags shared by `scan`, `check` and `monitor` (`demo` scans with their defaults):
//! network, limits, safety and the `--exclude` opt-out list, and their
//! resolution into a validated [`ScanConfig`]. Bad values fail here, once, with a one-line
//! error naming the flag and the offending value.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::pipeline::config::{
    DEFAULT_EHLO_NAME, DnsTransport, FetchPolicy, IpVersion, ProbeDedup, ProbeScope, ScanConfig,
    Timeouts, default_user_agent,
};
use crate::pipeline::input::{CsvColumn, InputFormat, InputSpec, Shard};

/// Network, limit and safety flags.
#[derive(Debug, Clone, clap::Args)]
pub struct NetArgs {
    /// DNS resolver to use, as IP or IP:PORT (repeatable). Default: the system configuration
    /// (/etc/resolv.conf).
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// Timeout of one DNS query attempt (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub dns_timeout: Duration,
    /// Attempts per DNS query; only timeouts and SERVFAIL are retried.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub dns_attempts: u8,
    /// DNS transport: multiplexed (a few shared sockets, each moved to a fresh random source
    /// port every 64 queries; several times cheaper) or hickory (a fresh socket per query,
    /// re-sent within an attempt: for a lossy path to the resolver).
    #[arg(long, value_enum, default_value = "multiplexed")]
    pub dns_transport: DnsTransport,
    /// Global DNS query rate limit, in queries per second (default: unlimited).
    #[arg(long, value_name = "QPS")]
    pub dns_rate: Option<NonZeroU32>,
    /// When to fetch the MTA-STS policy: auto (only when a v=STSv1 TXT exists, as a sender
    /// does), always (finds orphan policies), never.
    #[arg(long, value_enum, default_value = "auto")]
    pub fetch_policy: FetchPolicy,
    /// Which MX hosts get a STARTTLS probe.
    #[arg(long, value_enum, default_value = "all")]
    pub probe: ProbeScope,
    /// How STARTTLS probes are shared: `address` (default) probes each destination address
    /// once and again with an MX name as SNI only when the first certificate does not cover
    /// that name; `address-once` never probes an address again for another name (fewest
    /// connections; per-name certificate verdicts may be wrong for servers that choose
    /// certificates by SNI, and such a row's `cert_detail` and `probe_sni` name the SNI the
    /// shared probe sent); `address+name` probes every (address, MX name) pair.
    #[arg(long, value_enum, default_value = "address")]
    pub probe_dedup: ProbeDedup,
    /// Address families to probe. Without --allow-private a scan refuses to start when this
    /// host has no route to the internet over one of them (every address of that family would
    /// be recorded as refusing connections).
    #[arg(long, value_enum, default_value = "4")]
    pub ip_version: IpVersion,
    /// Concurrent connections per destination address: STARTTLS probes and HTTPS policy
    /// fetches share it (a hosting vendor's address may serve thousands of policy hosts).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub per_address_connections: u16,
    /// New connections (probes and policy fetches) per second per destination address,
    /// evenly spaced: no burst above the rate.
    #[arg(long, default_value = "5")]
    pub per_address_rate: NonZeroU32,
    /// TCP connect timeout (HTTPS and SMTP).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Timeout of the whole policy fetch, counted from the first connect: every address tried,
    /// the TLS handshake, the request and the body. A host slower than this is recorded as
    /// `timeout`, or `connect-timeout` if no TCP connection was established in time (RFC 8461
    /// §3.3 suggests senders wait up to a minute).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub fetch_timeout: Duration,
    /// Timeout of one SMTP reply.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub smtp_timeout: Duration,
    /// Deadline of a whole SMTP session (tarpits cannot hold a slot longer).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub session_deadline: Duration,
    /// Allow connections to private, loopback, link-local and reserved addresses (the lab
    /// lives on loopback). Off by default: a scanner must not probe internal networks.
    #[arg(long)]
    pub allow_private: bool,
    /// File of CIDRs never to connect to (one per line, # comments).
    #[arg(long, value_name = "FILE")]
    pub blocklist: Option<PathBuf>,
    /// Opt-out file of domain names never to scan or contact: one name per line (# comments;
    /// Unicode names allowed). An entry covers the name and every name below it: example.com
    /// also excludes mx.example.com, not notexample.com; write the bare name, not *.example.com.
    /// A listed input domain gets a row with input_status excluded and no DNS query at all; a
    /// listed MX host (or mta-sts policy host) of another domain is neither looked up nor
    /// contacted (mx_excluded, policy_fetch excluded). --blocklist matches addresses, this
    /// matches names. `check` refuses a listed domain.
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<PathBuf>,
    /// Extra trust anchors in PEM (e.g. the lab CA printed by `stsscan lab serve`).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Trust only --ca-file, not the built-in Mozilla roots.
    #[arg(long, requires = "ca_file")]
    pub no_default_roots: bool,
    /// HTTPS port of policy hosts. Lab only: the internet uses 443.
    #[arg(long, default_value_t = 443)]
    pub https_port: u16,
    /// SMTP port of MX hosts. Lab only: the internet uses 25.
    #[arg(long, default_value_t = 25)]
    pub smtp_port: u16,
    /// The name sent in EHLO; set it to a name of yours with a reverse DNS entry and a web page.
    #[arg(long, default_value = DEFAULT_EHLO_NAME)]
    pub ehlo_name: String,
    /// The HTTP User-Agent; include a contact URL.
    #[arg(long)]
    pub user_agent: Option<String>,
}

/// Input flags.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Domain lists: plain text (one per line, # comments) or CSV, optionally gzip; `-` reads
    /// standard input.
    #[arg(value_name = "LIST", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Input format (auto: CSV when the name ends in .csv or .csv.gz).
    #[arg(long, value_enum, default_value = "auto")]
    pub input_format: InputFormatArg,
    /// CSV column with the domain: a 1-based number or a header name (default: a `domain`
    /// header, else column 2 as in Tranco's rank,domain).
    #[arg(long, value_name = "N|NAME")]
    pub column: Option<CsvColumn>,
    /// Scan only shard INDEX of COUNT (0-based, stable hash of the domain). Under a Kubernetes
    /// Indexed Job, `--shard-count N` alone takes the index from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "shard_count")]
    pub shard: Option<Shard>,
    /// Number of shards when the index comes from JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "COUNT")]
    pub shard_count: Option<u32>,
}

/// `--input-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormatArg {
    /// By file name.
    Auto,
    /// One domain per line.
    Plain,
    /// CSV.
    Csv,
}

/// Parses a duration like `2s`, `500ms`, `1m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration like 2s or 500ms: {e}"))?;
    // Every duration flag is a timeout or an interval: zero would fail every step (or, for
    // `monitor --every`, rescan without pause).
    if d.is_zero() {
        return Err(format!("{s:?}: must be more than zero (e.g. 2s or 500ms)"));
    }
    Ok(d)
}

/// Parses `IP` or `IP:PORT` (IPv6 with a port as `[::1]:53`).
pub fn parse_resolver(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        if sa.port() == 0 {
            bail!("--resolver {s:?}: port 0 is no resolver's port (DNS is 53)");
        }
        return Ok(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!(
        "--resolver {s:?}: expected an IP address or IP:PORT (e.g. 127.0.0.53 or 127.0.0.53:5353)"
    )
}

impl InputArgs {
    /// The validated input specification.
    pub fn resolve(&self) -> anyhow::Result<InputSpec> {
        let shard = match (self.shard, self.shard_count) {
            (Some(s), _) => s,
            (None, Some(count)) => {
                let idx = std::env::var("JOB_COMPLETION_INDEX").with_context(|| {
                    "--shard-count needs JOB_COMPLETION_INDEX in the environment (or use --shard I/N)"
                })?;
                format!("{idx}/{count}")
                    .parse::<Shard>()
                    .map_err(|e| anyhow::anyhow!("JOB_COMPLETION_INDEX={idx:?}: {e}"))?
            }
            (None, None) => Shard::ALL,
        };
        Ok(InputSpec {
            paths: self.inputs.clone(),
            format: match self.input_format {
                InputFormatArg::Auto => InputFormat::Auto,
                InputFormatArg::Plain => InputFormat::Plain,
                InputFormatArg::Csv => InputFormat::Csv,
            },
            column: self.column.clone().unwrap_or(CsvColumn::Auto),
            shard,
        })
    }
}

impl NetArgs {
    /// The validated configuration for a scan of `input` into `out`.
    pub fn resolve(&self, input: InputSpec, out: PathBuf) -> anyhow::Result<ScanConfig> {
        let resolvers = self
            .resolvers
            .iter()
            .map(|r| parse_resolver(r))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let blocklist = match &self.blocklist {
            None => Vec::new(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("--blocklist {}: cannot read", p.display()))?;
                crate::dns::parse_blocklist(&text)
                    .map_err(|(line, msg)| {
                        anyhow::anyhow!("--blocklist {}:{line}: {msg}", p.display())
                    })?
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            }
        };
        let exclude = match &self.exclude {
            None => None,
            Some(p) => Some(std::sync::Arc::new(
                crate::pipeline::exclude::ExclusionList::load(p).map_err(|e| match e.line {
                    0 => anyhow::anyhow!("--exclude {}: {}", p.display(), e.message),
                    l => anyhow::anyhow!("--exclude {}:{l}: {}", p.display(), e.message),
                })?,
            )),
        };
        if let Some(ca) = &self.ca_file {
            std::fs::metadata(ca)
                .with_context(|| format!("--ca-file {}: cannot read", ca.display()))?;
        }
        // RFC 5321 §4.1.1.1: EHLO takes a domain or an address literal (`[192.0.2.1]`).
        let literal = self.ehlo_name.starts_with('[') && self.ehlo_name.ends_with(']');
        if self.ehlo_name.is_empty()
            || self.ehlo_name.contains(char::is_whitespace)
            || (!literal && crate::records::domain::check_ascii_name(&self.ehlo_name).is_err())
        {
            bail!(
                "--ehlo-name {:?}: must be a host name (letters, digits, '-' and dots) or an address literal like [192.0.2.1]",
                self.ehlo_name
            );
        }
        Ok(ScanConfig {
            input,
            out,
            resolvers,
            dns_attempts: usize::from(self.dns_attempts),
            dns_rate: self.dns_rate,
            dns_transport: self.dns_transport,
            concurrency: 0,
            fetch_policy: self.fetch_policy,
            probe: self.probe,
            probe_dedup: self.probe_dedup,
            ip_version: self.ip_version,
            per_address_connections: usize::from(self.per_address_connections),
            per_address_rate: self.per_address_rate,
            timeouts: Timeouts {
                dns: self.dns_timeout,
                connect: self.connect_timeout,
                fetch: self.fetch_timeout,
                smtp_reply: self.smtp_timeout,
                smtp_session: self.session_deadline,
            },
            allow_private: self.allow_private,
            blocklist,
            exclude,
            ca_file: self.ca_file.clone(),
            no_default_roots: self.no_default_roots,
            https_port: self.https_port,
            smtp_port: self.smtp_port,
            ehlo_name: self.ehlo_name.clone(),
            user_agent: self.user_agent.clone().unwrap_or_else(default_user_agent),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers() {
        assert_eq!(
            parse_resolver("127.0.0.53").unwrap(),
            "127.0.0.53:53".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert!(parse_resolver("resolver.example").is_err());
        assert!(parse_resolver("127.0.0.1:0").is_err());
    }

    /// A bad `--exclude` entry is one line naming the file, the line and the value.
    #[test]
    fn a_bad_exclude_entry_names_file_line_and_value() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct P {
            #[command(flatten)]
            net: NetArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("optout.txt");
        std::fs::write(&list, "ok.example\n\n*.example.com\n").unwrap();
        let net = P::parse_from(["x", "--exclude", list.to_str().unwrap()]).net;
        let spec = InputArgs {
            inputs: vec![],
            input_format: InputFormatArg::Plain,
            column: None,
            shard: None,
            shard_count: None,
        }
        .resolve()
        .unwrap();
        let e = net
            .resolve(spec.clone(), PathBuf::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("--exclude {}:3: ", list.display())),
            "{e}"
        );
        assert!(e.contains("\"*.example.com\"") && !e.contains('\n'), "{e}");
        std::fs::write(&list, "ok.example\nB\u{fc}cher.test.\n").unwrap();
        let cfg = net.resolve(spec.clone(), PathBuf::new()).unwrap();
        let l = cfg.exclude.unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.contains("mx.xn--bcher-kva.test"));
        let missing = P::parse_from(["x", "--exclude", "/nonexistent/optout.txt"]).net;
        let e = missing
            .resolve(spec, PathBuf::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--exclude /nonexistent/optout.txt: cannot read"),
            "{e}"
        );
    }

    /// A zero timeout would fail every step and make the server look broken; a zero
    /// `monitor --every` would rescan a portfolio without pause.
    #[test]
    fn durations_are_more_than_zero() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for zero in ["0s", "0ms", "0h"] {
            let e = parse_duration(zero).unwrap_err();
            assert!(e.contains("more than zero"), "{e}");
        }
        assert!(parse_duration("10").is_err());
    }
}
