//! The validated scan configuration: every flag resolved once (ripgrep's LowArgs → HiArgs), so
//! the pipeline never re-checks user input. It is serialized whole into the manifest and the
//! Parquet key-value metadata, which is what makes a scan reproducible and `--resume` safe.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::exclude::ExclusionList;
use super::input::InputSpec;

/// When to fetch the MTA-STS policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FetchPolicy {
    /// Only when a TXT record beginning with `v=STSv1` exists (what a sender does).
    Auto,
    /// For every domain, to find orphan policies served without a TXT record.
    Always,
    /// Never.
    Never,
}

/// Which MX hosts get a STARTTLS probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeScope {
    /// Every MX of every domain.
    All,
    /// Only the MX of domains with an MTA-STS TXT record.
    Sts,
    /// No SMTP connections at all.
    None,
}

/// How probes are shared between domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeDedup {
    /// One probe per destination address and port, shared by every MX name that points there;
    /// when the certificate it got does not cover an MX name, the address is probed again
    /// with that name as SNI (a server may choose its certificate by SNI), so every per-name
    /// verdict is about the certificate a sender would see.
    Address,
    /// One probe per destination address and port, never repeated for another name (only
    /// once its result has left the bounded cache): the fewest connections, but a server that
    /// chooses its certificate by SNI is judged for every MX name on the certificate it sent
    /// for the first name probed (a `name-mismatch` may be an artefact of the sharing).
    AddressOnce,
    /// One probe per address, port and SNI name (more connections, exact per-name certificates).
    #[value(name = "address+name")]
    #[serde(rename = "address+name")]
    AddressName,
}

/// Which address families to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum IpVersion {
    /// IPv4 only.
    #[value(name = "4")]
    #[serde(rename = "4")]
    V4,
    /// IPv6 only.
    #[value(name = "6")]
    #[serde(rename = "6")]
    V6,
    /// Both.
    Both,
}

/// How DNS queries travel to the resolvers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DnsTransport {
    /// hickory-resolver's name-server pool: a fresh UDP socket and random source port per
    /// query, re-sent within an attempt (about 4x the CPU per lookup).
    Hickory,
    /// A few UDP sockets shared by all queries, answers matched by ID and question, each
    /// socket replaced by a fresh random port every 64 queries (the `scan` default).
    Multiplexed,
}

/// Timeouts per phase.
#[derive(Debug, Clone, Serialize)]
pub struct Timeouts {
    /// One DNS query attempt.
    #[serde(with = "humantime_serde_compat")]
    pub dns: Duration,
    /// TCP connect (HTTPS and SMTP).
    #[serde(with = "humantime_serde_compat")]
    pub connect: Duration,
    /// The whole policy fetch, counted from the first connect (every address, the handshake,
    /// the request and the body).
    #[serde(with = "humantime_serde_compat")]
    pub fetch: Duration,
    /// One SMTP reply.
    #[serde(with = "humantime_serde_compat")]
    pub smtp_reply: Duration,
    /// A whole SMTP session (tarpits cannot hold a slot longer).
    #[serde(with = "humantime_serde_compat")]
    pub smtp_session: Duration,
}

/// Everything a scan needs to run, validated.
#[derive(Debug, Clone, Serialize)]
pub struct ScanConfig {
    /// The input lists.
    pub input: InputSpec,
    /// Dataset directory.
    pub out: PathBuf,
    /// Resolvers (empty: the system configuration).
    pub resolvers: Vec<SocketAddr>,
    /// Attempts per DNS query (retries only on timeout and SERVFAIL).
    pub dns_attempts: usize,
    /// How queries travel.
    pub dns_transport: DnsTransport,
    /// Global DNS query rate limit.
    pub dns_rate: Option<NonZeroU32>,
    /// Domains in flight at once.
    pub concurrency: usize,
    /// When to fetch policies.
    pub fetch_policy: FetchPolicy,
    /// Which MX get probed.
    pub probe: ProbeScope,
    /// How probes are shared.
    pub probe_dedup: ProbeDedup,
    /// Address families.
    pub ip_version: IpVersion,
    /// Concurrent SMTP connections per destination address.
    pub per_address_connections: usize,
    /// SMTP connections per second per destination address.
    pub per_address_rate: NonZeroU32,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Connect to private/loopback/reserved addresses (the lab needs it).
    pub allow_private: bool,
    /// Extra CIDRs never to connect to.
    pub blocklist: Vec<String>,
    /// Domain names never to scan or contact (`--exclude`): listed input domains get an
    /// `excluded` row, listed MX and policy hosts are neither looked up nor contacted. In the
    /// manifest as its entry count, SHA-256 and file (absent without a list, so a scan started
    /// by an older version still resumes).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::exclude::serialize_summary"
    )]
    pub exclude: Option<Arc<ExclusionList>>,
    /// Extra trust anchors (PEM), e.g. the lab CA.
    pub ca_file: Option<PathBuf>,
    /// Use only `ca_file`, not the Mozilla roots.
    pub no_default_roots: bool,
    /// HTTPS port of policy hosts (443; the lab may move it).
    pub https_port: u16,
    /// SMTP port of MX hosts (25; the lab may move it).
    pub smtp_port: u16,
    /// The EHLO name.
    pub ehlo_name: String,
    /// The HTTP User-Agent.
    pub user_agent: String,
}

/// Serde adapter writing durations as humantime strings ("2s", "150ms").
mod humantime_serde_compat {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// The default EHLO name: a name that says what connected.
pub const DEFAULT_EHLO_NAME: &str = "stsscan.invalid";

/// The default User-Agent: names the tool and where to read about it.
pub fn default_user_agent() -> String {
    format!(
        "stsscan/{} (MTA-STS measurement; +https://github.com/stsscan/stsscan)",
        env!("CARGO_PKG_VERSION")
    )
}
