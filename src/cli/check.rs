//! `stsscan check DOMAIN`: the scan pipeline on one domain, explained to a person. Each
//! requirement of RFC 8461 / RFC 8460 is shown as ✓ (met), ✗ (not met), ! (worth fixing) or
//! – (not applicable), with the observed value and, for each failure, what to change.
//! `--format json` gives the same as one JSON object for scripts.
//!
//! Exit codes: 0 nothing to fix, 1 a requirement is not met, 2 the tool failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use super::scan::runtime;
use super::scan_args::NetArgs;
use crate::assess::verdict::undeliverable_loses_mail;
use crate::output::{DomainRow, MxRow};
use crate::pipeline::input::{CsvColumn, EntryKind, InputEntry, InputFormat, InputSpec, Shard};
use crate::pipeline::run::normalize;
use crate::pipeline::scanner::{Scanner, policy_host_dns_status};
use crate::pipeline::stats::ScanStats;
use crate::records::{sts_txt, tlsrpt_txt};

pub mod draft;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain words.
    Human,
    /// One JSON object.
    Json,
}

/// Arguments of `stsscan check`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
  stsscan check example.com\n  \
  stsscan check example.com --format json | jq .checks\n  \
  stsscan check example.com --policy mta-sts.txt   # before publishing or changing a policy\n  \
  stsscan lab serve --dir lab &   # a lab world: block 64, names in lab/domains.txt\n  \
  stsscan check \"$(head -1 lab/domains.txt)\" --resolver 127.64.0.53 --allow-private \\\n    \
  --ca-file lab/lab-root-ca.pem --no-default-roots\n\n\
Exit codes: 0 every requirement met (warnings allowed), 1 a requirement not met, 2 the check\n\
could not run (bad input, a domain on its own --exclude list, or a resolver that answered\n\
nothing). With --policy they judge the draft: 1 when publishing it would stop delivery or it\n\
is invalid.")]
pub struct Args {
    /// The domain to check (Unicode names are converted to A-labels).
    pub domain: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// A draft policy (`-` reads standard input) to judge before publishing it: the live MX
    /// hosts are probed and matched against FILE's `mx` patterns as if FILE were served at
    /// `https://mta-sts.DOMAIN/.well-known/mta-sts.txt`; the policy host is checked whether or
    /// not a TXT record exists. The exit code then judges the draft.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Network, limits and safety.
    #[command(flatten)]
    pub net: NetArgs,
}

/// The state of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Met.
    Pass,
    /// Not met: senders fail or ignore MTA-STS.
    Fail,
    /// Met, but worth fixing.
    Warn,
    /// Does not apply.
    Skip,
}

impl Mark {
    fn symbol(self) -> &'static str {
        match self {
            Mark::Pass => "✓",
            Mark::Fail => "✗",
            Mark::Warn => "!",
            Mark::Skip => "–",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Fail => "fail",
            Mark::Warn => "warn",
            Mark::Skip => "skip",
        }
    }
}

/// One requirement, as judged.
#[derive(Debug, Clone)]
pub struct Check {
    /// What is required.
    pub requirement: String,
    /// Whether it is met.
    pub mark: Mark,
    /// What the scan observed.
    pub observed: String,
    /// What to change, when it is not met.
    pub fix: Option<String>,
}

fn check(
    requirement: impl Into<String>,
    mark: Mark,
    observed: impl Into<String>,
    fix: Option<&str>,
) -> Check {
    Check {
        requirement: requirement.into(),
        mark,
        observed: observed.into(),
        fix: fix.map(str::to_owned),
    }
}

/// A verdict followed by why, when the scan recorded a reason (`invalid: certificate does not
/// allow extended key usage for server authentication`).
fn with_detail(verdict: &str, detail: Option<&str>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!("{verdict}: {d}"),
        _ => verdict.to_owned(),
    }
}

/// A fetch error's detail for a person, as " (…)": without reqwest's "error sending request
/// for url (URL): " preamble, which repeats the URL already shown, and without rustls'
/// trailing link to its manual. Empty when there is no detail.
fn short_detail(detail: Option<&str>, url: &str) -> String {
    in_parens(detail.filter(|d| !d.is_empty()).map(|d| {
        let d = d
            .strip_prefix(&format!("error sending request for url ({url}): "))
            .unwrap_or(d);
        d.split(": https://docs.rs/rustls").next().unwrap_or(d)
    }))
}

/// The fix for a policy fetch whose TLS handshake failed, chosen by what the server did (the
/// fetch's detail names the alert it sent): an alert refusing the name (`access_denied`,
/// `unrecognized_name`) means no certificate is set up for `mta-sts.DOMAIN`; a
/// `protocol_version` alert or no TLS 1.2/1.3 means an old server; `handshake_failure` or
/// `insufficient_security` means no cipher suite in common. Anything else (a close, a reset)
/// gets the general fix.
fn tls_error_fix(detail: Option<&str>) -> &'static str {
    let d = detail.unwrap_or_default();
    let alert = d.split("received fatal alert: ").nth(1).map(|a| {
        a.split(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or(a)
    });
    match alert {
        Some("AccessDenied" | "UnrecognisedName" | "UnrecognizedName") => {
            "install a certificate for mta-sts.DOMAIN on the policy host: it refused the TLS handshake for that name (SNI)"
        }
        Some("ProtocolVersion") => "serve TLS 1.2 or newer on port 443 of the policy host",
        Some("HandshakeFailure" | "InsufficientSecurity") => {
            "enable TLS 1.2 or newer with current cipher suites (ECDHE with AES-GCM or ChaCha20-Poly1305) on port 443 of the policy host"
        }
        _ if d.contains("Tls12Or13") => "serve TLS 1.2 or newer on port 443 of the policy host",
        _ => {
            "make port 443 of the policy host complete a TLS 1.2 or newer handshake for the name mta-sts.DOMAIN"
        }
    }
}

/// The fix for a failed lookup whose DNS status is `status`: the domain's own `fix`, except
/// for a referral, which says the resolver this check used does not recurse (RFC 2308 §2.2),
/// so nothing is known about the domain yet.
fn dns_fix(status: Option<&str>, fix: &'static str) -> &'static str {
    if status == Some("referral") {
        "nothing to fix in the domain yet: the resolver used answered with a referral (it does not recurse); run the check again with --resolver set to a recursive resolver"
    } else {
        fix
    }
}

/// The fix for an MX address whose STARTTLS probe did not end `ok` (or `starttls-not-offered`,
/// which has its own), by the probe's status.
fn smtp_fix(status: &str, detail: Option<&str>) -> &'static str {
    match status {
        "connect-refused" => {
            "accept SMTP connections on port 25 of this address, or remove the MX entry"
        }
        "connect-timeout" => {
            "make port 25 of this address reachable from the internet (a firewall dropping packets looks like this), or remove the MX entry"
        }
        "greeting-timeout" => {
            "make the mail server send its 220 greeting promptly after a connection (an overloaded server or a tarpit looks like this)"
        }
        "greeting-rejected" | "greeting-tempfail" => {
            "make the mail server greet senders with 220 (it answered the connection with a rejection)"
        }
        "protocol-error" => {
            "make the mail server keep the session open and answer in RFC 5321 §4.2 reply syntax (it closed the connection or sent a malformed reply; its log says why)"
        }
        "ehlo-rejected" => "make the mail server accept EHLO (RFC 5321 §4.1.1.1)",
        "starttls-refused" => {
            "make the mail server accept the STARTTLS it advertises (a 454 usually means its certificate or key cannot be loaded)"
        }
        "tls-version-unsupported" => "enable TLS 1.2 or newer in the mail server",
        "handshake-failed" if detail.is_some_and(|d| d.contains("received fatal alert")) => {
            "configure the mail server's TLS for this host name: it refused the handshake with an alert (a certificate for the name, TLS 1.2 or newer, current cipher suites)"
        }
        "post-tls-error" => "make the mail server answer EHLO again after STARTTLS (RFC 3207 §4.2)",
        _ => "make the mail server complete an SMTP STARTTLS session with TLS 1.2 or newer",
    }
}

/// `detail` as " (detail)" after an observed value, or nothing.
fn in_parens(detail: Option<&str>) -> String {
    detail.map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Runs `stsscan check`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let n = normalize(&args.domain).map_err(|e| anyhow::anyhow!("{:?}: {e}", args.domain))?;
    let mut cfg = args.net.resolve(
        InputSpec {
            paths: Vec::new(),
            format: InputFormat::Plain,
            column: CsvColumn::Auto,
            shard: Shard::ALL,
        },
        std::path::PathBuf::new(),
    )?;
    cfg.concurrency = 1;
    crate::pipeline::reach::check_scan(&cfg)?;
    // The operator's own opt-out list: checking a listed domain would contact what the list
    // says not to contact (its MX and policy hosts not on the list are still checked).
    if let Some(list) = cfg.exclude.as_ref().filter(|l| l.contains(&n.ascii)) {
        anyhow::bail!(
            "{} is on the exclusion list {}; nothing was checked",
            n.ascii,
            list.file().display()
        );
    }
    let draft = match &args.policy {
        Some(path) => {
            // A draft is usually checked before any TXT record exists: look at the policy
            // host anyway (a sender would not, so its problems stay warnings in the live part).
            cfg.fetch_policy = crate::pipeline::config::FetchPolicy::Always;
            Some((path.display().to_string(), draft::read(path)?))
        }
        None => None,
    };
    let probed = cfg.probe != crate::pipeline::config::ProbeScope::None;
    let rt = runtime()?;
    let (row, mx) = rt.block_on(async {
        let scanner = Scanner::new(Arc::new(cfg), Arc::new(ScanStats::default()))?;
        let entry = InputEntry {
            line: 1,
            raw: args.domain.clone(),
            kind: EntryKind::Domain(n),
        };
        anyhow::Ok(scanner.scan_entry(&entry).await)
    })?;
    if let Some(e) = resolver_silent(&row) {
        anyhow::bail!(
            "{e}; check --resolver (nothing is known about {})",
            args.domain
        );
    }
    let checks = explain(&row, &mx);
    let drafted = draft
        .as_ref()
        .map(|(file, body)| (file.as_str(), draft::explain(&row, &mx, body, file, probed)));
    let failed = match &drafted {
        Some((_, d)) => d.iter().any(|c| c.mark == Mark::Fail),
        None => checks.iter().any(|c| c.mark == Mark::Fail),
    };
    match args.format {
        Format::Human => {
            print_human(&row, &checks);
            if let Some((file, d)) = &drafted {
                outln!();
                outln!(
                    "If {file} were the policy of {}:",
                    row.domain.as_deref().unwrap_or("?")
                );
                outln!();
                print_checks(d);
                outln!();
                outln!("{}", verdict_line(d, "The draft can be published"));
            }
        }
        Format::Json => print_json(&row, &mx, &checks, drafted.as_ref())?,
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// An error when not one of the domain's three lookups (`_mta-sts` TXT, MX, `_smtp._tls` TXT)
/// got an answer: then the resolver, not the domain, is what failed (`check` exits 2).
pub fn resolver_silent(row: &DomainRow) -> Option<String> {
    let silent = |s: Option<&str>| matches!(s, Some("timeout" | "network-error"));
    (silent(row.sts_txt_dns.as_deref())
        && silent(row.mx_dns.as_deref())
        && silent(row.tlsrpt_dns.as_deref()))
    .then(|| {
        format!(
            "the resolver answered none of the domain's DNS queries ({})",
            row.mx_dns.as_deref().unwrap_or("timeout")
        )
    })
}

/// The requirements of RFC 8461 and RFC 8460 for one scanned domain.
pub fn explain(row: &DomainRow, mx: &[MxRow]) -> Vec<Check> {
    let d = row.domain.as_deref().unwrap_or("?");
    let mut out = Vec::new();
    let sts = row.sts_txt.as_deref().unwrap_or("absent");
    let has_sts = !matches!(sts, "absent" | "lookup-failed");
    let cname_chain = row.sts_txt_cname_chain.as_deref().unwrap_or_default();

    // RFC 8461 §3.1
    out.push(match sts {
        "valid" => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Pass,
            format!("v=STSv1; id={}", row.sts_id.as_deref().unwrap_or("")),
            None,
        ),
        // An alias that leads nowhere (a hosted-policy vendor dropped the name, or a typo):
        // senders see no record, but the owner meant to publish one.
        "absent" if !cname_chain.is_empty() => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Warn,
            format!(
                "_mta-sts.{d} is an alias (CNAME) of {}, which has no v=STSv1 TXT record ({}): senders see no MTA-STS record",
                cname_chain.last().map_or("?", String::as_str),
                row.sts_txt_dns.as_deref().unwrap_or("?"),
            ),
            Some("point the alias at the name that holds your v=STSv1 TXT record (e.g. your policy vendor's current one), or remove it and publish the record directly"),
        ),
        "absent" => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Skip,
            "no MTA-STS record: senders use opportunistic TLS only",
            Some("to adopt MTA-STS publish a policy at https://mta-sts.DOMAIN/.well-known/mta-sts.txt and a TXT record \"v=STSv1; id=20250101T000000\" at _mta-sts.DOMAIN"),
        ),
        "multiple" => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Fail,
            format!("{} records begin with v=STSv1", versioned(row.sts_txt_records.as_deref(), sts_txt::begins_with_version)),
            Some("keep exactly one TXT record beginning with v=STSv1; senders ignore MTA-STS when there are several (RFC 8461 §3.1)"),
        ),
        "invalid" => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Fail,
            format!("invalid record ({})", row.sts_txt_error.as_deref().unwrap_or("?")),
            Some("write it as \"v=STSv1; id=ID\" with an id of 1-32 letters and digits; `stsscan validate sts-txt '<record>'` shows the exact problem"),
        ),
        _ => check(
            format!("_mta-sts.{d} has one valid TXT record"),
            Mark::Fail,
            format!("the lookup failed ({})", row.sts_txt_dns.as_deref().unwrap_or("?")),
            Some(dns_fix(row.sts_txt_dns.as_deref(), "make the DNS servers of the domain answer TXT queries for _mta-sts (no SERVFAIL or timeouts)")),
        ),
    });

    // Without a TXT record senders never fetch the policy, so what `--fetch-policy always` (or
    // `--policy`) found on the policy host is worth fixing before publishing one, not a
    // failure now: the scan's findings are warnings too.
    let unpublished = |m: Mark| {
        if m == Mark::Fail && matches!(sts, "absent" | "lookup-failed") {
            Mark::Warn
        } else {
            m
        }
    };

    // RFC 8461 §3.3
    let fetch = row.policy_fetch.as_deref().unwrap_or("not-attempted");
    let url = row
        .policy_url
        .clone()
        .unwrap_or_else(|| format!("https://mta-sts.{d}/.well-known/mta-sts.txt"));
    if fetch == "excluded" {
        out.push(check(
            "the policy is served over HTTPS",
            Mark::Skip,
            format!("not fetched: mta-sts.{d} is on the exclusion list (--exclude)"),
            None,
        ));
    } else if fetch == "not-attempted" {
        out.push(check(
            "the policy is served over HTTPS",
            Mark::Skip,
            if sts == "lookup-failed" {
                "not fetched (the _mta-sts lookup failed)"
            } else {
                "not fetched (no v=STSv1 TXT record)"
            },
            None,
        ));
    } else {
        let (mark, observed, fix) = match fetch {
            "ok" => (Mark::Pass, format!("{url} → 200"), None),
            "host-not-found" => (
                Mark::Fail,
                format!("mta-sts.{d} has no address"),
                Some(
                    "add an A/AAAA record for mta-sts.DOMAIN pointing at a web server that serves the policy",
                ),
            ),
            "connect-refused" => (
                Mark::Fail,
                format!("mta-sts.{d} refuses HTTPS connections"),
                Some("serve HTTPS on port 443 of the policy host"),
            ),
            "redirect" => (
                Mark::Fail,
                format!(
                    "{url} → {} redirect to {}",
                    row.policy_http_status.unwrap_or(0),
                    row.policy_location.as_deref().unwrap_or("?")
                ),
                Some(
                    "serve the policy directly with status 200: RFC 8461 §3.3 says redirects MUST NOT be followed",
                ),
            ),
            "http-status" => (
                Mark::Fail,
                format!("{url} → {}", row.policy_http_status.unwrap_or(0)),
                Some(
                    "serve the policy file at exactly /.well-known/mta-sts.txt with status 200 (check the path and any bot protection)",
                ),
            ),
            "too-large" => (
                Mark::Fail,
                format!("{url} → body over 64 KiB"),
                Some("serve only the policy: a few hundred bytes of text"),
            ),
            "dns-error" => {
                let detail = row.policy_fetch_detail.as_deref();
                let status = detail.and_then(policy_host_dns_status);
                (
                    Mark::Fail,
                    format!(
                        "the address lookup of mta-sts.{d} failed{}",
                        in_parens(status.or(detail))
                    ),
                    Some(dns_fix(
                        status,
                        "make the DNS servers of the domain answer A/AAAA queries for mta-sts.DOMAIN (no SERVFAIL or timeouts)",
                    )),
                )
            }
            "connect-timeout" => (
                Mark::Fail,
                format!("mta-sts.{d} did not accept a connection on port 443 in time"),
                Some(
                    "make port 443 of the policy host reachable from the internet (a firewall dropping packets looks like this)",
                ),
            ),
            "address-refused" => (
                Mark::Warn,
                format!(
                    "not fetched: every address of mta-sts.{d} is private, reserved or blocklisted{}",
                    short_detail(row.policy_fetch_detail.as_deref(), &url)
                ),
                Some(
                    "publish a public address for mta-sts.DOMAIN (senders on the internet cannot reach a private one); if the address is on your own --blocklist, nothing is wrong",
                ),
            ),
            other => {
                let (what, fix) = match other {
                    "tls-error" => (
                        "the TLS handshake failed",
                        tls_error_fix(row.policy_fetch_detail.as_deref()),
                    ),
                    "connection-closed" => (
                        "the server closed the connection without a complete response",
                        "make the policy host complete the HTTPS request (the web server's or proxy's log says why it closed)",
                    ),
                    "timeout" => (
                        "connected, but the response was not complete in time",
                        "make the policy host answer HTTPS requests promptly",
                    ),
                    other => (other, "make the policy host answer HTTPS requests promptly"),
                };
                (
                    Mark::Fail,
                    format!(
                        "{url}: {what}{}",
                        short_detail(row.policy_fetch_detail.as_deref(), &url)
                    ),
                    Some(fix),
                )
            }
        };
        out.push(check(
            "the policy is served over HTTPS with status 200",
            unpublished(mark),
            observed,
            fix,
        ));
        if let Some(cert) = row.policy_cert.as_deref() {
            out.push(if cert == "valid" {
                match expiring_soon(row.policy_cert_not_after, row.scanned_at) {
                    Some(when) => check(
                        format!("mta-sts.{d} presents a valid certificate"),
                        Mark::Warn,
                        format!("valid, but {when}"),
                        Some("renew it before then: with an expired certificate senders cannot fetch the policy, and once their cached copy runs out they fall back to no MTA-STS"),
                    ),
                    None => check(format!("mta-sts.{d} presents a valid certificate"), Mark::Pass, "valid", None),
                }
            } else {
                check(
                    format!("mta-sts.{d} presents a valid certificate"),
                    unpublished(Mark::Fail),
                    with_detail(cert, row.policy_cert_detail.as_deref()),
                    Some("install a certificate from a public CA that names mta-sts.DOMAIN, with its intermediates, and renew it before it expires (RFC 8461 §3.3)"),
                )
            });
        }
        if let Some(ct) = row.policy_content_type.as_deref() {
            let plain = ct
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/plain"));
            out.push(check(
                "the policy is served as text/plain",
                if plain { Mark::Pass } else { Mark::Warn },
                ct,
                (!plain).then_some("serve the file with Content-Type: text/plain (RFC 8461 §3.2: senders SHOULD check it)"),
            ));
        }
    }

    // RFC 8461 §3.2
    if let Some(valid) = row.policy_valid {
        out.push(if valid {
            check(
                "the policy is valid",
                Mark::Pass,
                format!(
                    "mode {}, max_age {}, mx {}",
                    row.policy_mode.as_deref().unwrap_or("?"),
                    row.policy_max_age.unwrap_or(0),
                    row.policy_mx
                        .as_ref()
                        .map(|m| m.join(", "))
                        .unwrap_or_default()
                ),
                None,
            )
        } else {
            check(
                "the policy is valid",
                unpublished(Mark::Fail),
                format!("invalid ({})", row.policy_error.as_deref().unwrap_or("?")),
                Some(
                    "fix the policy text; `stsscan validate policy FILE` points at the exact line",
                ),
            )
        });
    }

    // RFC 8461 §4.1 and §4.2, per MX host.
    let mut hosts: Vec<&str> = mx.iter().map(|r| r.mx_host.as_str()).collect();
    hosts.dedup();
    match row.mx_kind.as_deref() {
        Some("null") => out.push(check(
            "the domain receives mail",
            Mark::Skip,
            "null MX (RFC 7505): no mail accepted",
            None,
        )),
        // NXDOMAIN for the MX query: the name does not exist at all (a typo, or an expired
        // registration), which is worth saying rather than "nothing to fix".
        Some("none") if row.mx_dns.as_deref() == Some("nxdomain") => out.push(check(
            "the domain exists",
            Mark::Fail,
            format!("{d} does not exist (NXDOMAIN)"),
            Some("check the spelling of the domain, or its registration and delegation"),
        )),
        Some("none") => out.push(check(
            "the domain receives mail",
            Mark::Skip,
            "no MX and no address",
            None,
        )),
        Some("mixed-null") => out.push(check(
            "the MX set is either a null MX or mail hosts",
            Mark::Fail,
            "a null MX (0 .) is published together with other MX records",
            Some("RFC 7505 §3: a domain that advertises a null MX MUST NOT advertise any other MX RR; remove the null MX if the domain receives mail, or the other MX records if it does not"),
        )),
        Some("implicit") => out.push(check(
            "the domain receives mail",
            Mark::Pass,
            "no MX records: mail goes to the domain's own address (implicit MX, RFC 5321 §5.1)",
            None,
        )),
        Some("lookup-failed") => out.push(check(
            "the MX records resolve",
            Mark::Fail,
            format!(
                "MX lookup failed ({})",
                row.mx_dns.as_deref().unwrap_or("?")
            ),
            Some(dns_fix(row.mx_dns.as_deref(), "make the DNS servers answer MX queries")),
        )),
        _ => {}
    }
    for h in hosts {
        let rows: Vec<&MxRow> = mx.iter().filter(|r| r.mx_host == h).collect();
        if let Some(m) = rows.first().and_then(|r| r.mx_policy_match) {
            out.push(if m {
                check(format!("MX {h} is listed in the policy"), Mark::Pass, "matches an mx pattern", None)
            } else {
                check(
                    format!("MX {h} is listed in the policy"),
                    Mark::Fail,
                    format!("matches none of: {}", row.policy_mx.as_ref().map(|m| m.join(", ")).unwrap_or_default()),
                    Some("add an `mx:` line for this host (a wildcard matches one leftmost label only), then change the TXT id so senders refresh the policy"),
                )
            });
        }
        for r in rows {
            let addr = r.address.as_deref().unwrap_or("no address");
            let req = format!("MX {h} ({addr}) offers STARTTLS with a valid certificate");
            out.push(match (r.smtp.as_deref(), r.mx_cert.as_deref()) {
                (None, _) if r.mx_excluded == Some(true) => check(req, Mark::Skip, "not contacted: the host is on the exclusion list (--exclude)", None),
                (None, _) if r.address_refused.is_some() => check(req, Mark::Skip, format!("not probed: address refused ({})", r.address_refused.as_deref().unwrap_or("")), None),
                (None, _) if r.address.is_none() => check(req, Mark::Fail, format!("the host does not resolve ({})", r.address_dns.as_deref().unwrap_or("?")), Some("add an A/AAAA record for the MX host")),
                (None, _) => check(req, Mark::Skip, "not probed", None),
                (Some("ok"), Some("valid")) => match expiring_soon(r.cert_not_after, r.scanned_at) {
                    Some(when) => check(req, Mark::Warn, format!("valid, but the certificate {when}"), Some("renew it before then: a sender enforcing the policy does not deliver to a host whose certificate has expired (RFC 8460 result certificate-expired)")),
                    None => check(req, Mark::Pass, format!("{} {}", r.tls_version.as_deref().unwrap_or(""), r.tls_cipher.as_deref().unwrap_or("")), None),
                },
                (Some("ok"), cert) => check(req, Mark::Fail, with_detail(&format!("certificate {}", cert.unwrap_or("?")), r.cert_detail.as_deref()), Some("install a certificate from a public CA whose subjectAltName covers the MX host name, with its intermediates")),
                (Some("starttls-not-offered"), _) => check(req, Mark::Fail, "STARTTLS not advertised", Some("enable STARTTLS in the mail server (e.g. Postfix smtpd_tls_security_level = may)")),
                (Some(s), _) => check(req, Mark::Fail, format!("{s}{}", in_parens(r.smtp_detail.as_deref())), Some(smtp_fix(s, r.smtp_detail.as_deref()))),
            });
        }
    }
    if let Some(deliverable) = row.enforce_deliverable {
        out.push(if deliverable {
            check("a sender enforcing the policy can deliver", Mark::Pass, "at least one listed MX accepts a valid TLS session", None)
        } else {
            let result = row.rfc8460_result.as_deref().unwrap_or("validation-failure");
            let mode = row.policy_mode.as_deref();
            // ✗ when the policy loses mail now, ! when it does not: one rule for the scan's
            // finding, this check, the report and `monitor`.
            let mark = if undeliverable_loses_mail(row.mx_kind.as_deref(), mode) {
                Mark::Fail
            } else {
                Mark::Warn
            };
            let (observed, fix) = match row.mx_kind.as_deref() {
                Some("null") => (
                    "the domain publishes a null MX (RFC 7505) and accepts no mail, with or without MTA-STS".to_owned(),
                    "if the domain receives no mail, remove the MTA-STS records or publish mode: none; if it does, replace the null MX with MX records for the hosts the policy lists",
                ),
                Some("none") => (
                    "the domain has no MX and no address, so no sender can deliver to it".to_owned(),
                    "publish MX records for the mail hosts the policy lists (or, if the domain receives no mail, a null MX \"0 .\" and mode: none)",
                ),
                _ if mark == Mark::Warn => (
                    format!(
                        "no listed MX accepts a valid TLS session ({result}); under mode: {} senders deliver anyway and report the failure",
                        mode.unwrap_or("?")
                    ),
                    "fix the MX entries above before switching to mode: enforce, or senders will stop delivering",
                ),
                _ => (
                    format!("no listed MX accepts a valid TLS session ({result})"),
                    "fix the MX entries above, or publish mode: testing until they are fixed (senders then deliver and report)",
                ),
            };
            check("a sender enforcing the policy can deliver", mark, observed, Some(fix))
        });
    }

    // RFC 8460 §3
    out.push(match row.tlsrpt.as_deref() {
        Some("valid") => check(format!("_smtp._tls.{d} publishes TLS-RPT"), Mark::Pass, row.tlsrpt_rua.as_ref().map(|r| r.join(", ")).unwrap_or_default(), None),
        Some("absent") | None => check(
            format!("_smtp._tls.{d} publishes TLS-RPT"),
            if has_sts { Mark::Warn } else { Mark::Skip },
            "no TLS-RPT record",
            Some("publish \"v=TLSRPTv1; rua=mailto:tls-reports@DOMAIN\" at _smtp._tls.DOMAIN to receive daily reports of TLS failures"),
        ),
        Some("lookup-failed") => check(
            format!("_smtp._tls.{d} publishes TLS-RPT"),
            Mark::Fail,
            format!("the lookup failed ({})", row.tlsrpt_dns.as_deref().unwrap_or("?")),
            Some(dns_fix(row.tlsrpt_dns.as_deref(), "make the DNS servers of the domain answer TXT queries for _smtp._tls (no SERVFAIL or timeouts)")),
        ),
        Some("multiple") => check(
            format!("_smtp._tls.{d} publishes TLS-RPT"),
            Mark::Fail,
            format!(
                "{} records begin with v=TLSRPTv1, so senders send no reports",
                versioned(row.tlsrpt_records.as_deref(), tlsrpt_txt::begins_with_version)
            ),
            Some("keep exactly one TXT record beginning with v=TLSRPTv1 (RFC 8460 §3)"),
        ),
        Some(other) => check(
            format!("_smtp._tls.{d} publishes TLS-RPT"),
            Mark::Fail,
            format!("{other}{}", in_parens(row.tlsrpt_error.as_deref())),
            Some("keep one record \"v=TLSRPTv1; rua=mailto:…\"; `stsscan validate tlsrpt-txt '<record>'` shows the problem"),
        ),
    });
    out
}

/// "expires on DATE (in N days)" when a valid certificate expires within the first threshold
/// of `monitor`'s `cert-expiring` rule (21 days by default), so that `check` and `monitor`
/// warn from the same day; `None` otherwise or without a date.
fn expiring_soon(
    not_after: Option<chrono::DateTime<chrono::Utc>>,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    let days = *crate::monitor::rules::RuleOptions::default()
        .expiry_days
        .first()?;
    let left = not_after? - at;
    (left < chrono::Duration::days(i64::from(days))).then(|| {
        format!(
            "expires on {} (in {} day(s))",
            (at + left).format("%Y-%m-%d"),
            left.num_days().max(0)
        )
    })
}

/// How many of a TXT RRset's records begin with the version (the ones senders count).
fn versioned(records: Option<&[String]>, begins: fn(&[u8]) -> bool) -> usize {
    records
        .unwrap_or_default()
        .iter()
        .filter(|r| begins(r.as_bytes()))
        .count()
}

fn print_human(row: &DomainRow, checks: &[Check]) {
    let d = row.domain.as_deref().unwrap_or("?");
    outln!("MTA-STS and TLS-RPT check of {d}");
    outln!();
    print_checks(checks);
    let notable: Vec<_> = row
        .findings
        .iter()
        .filter(|f| f.severity != "info")
        .collect();
    if !notable.is_empty() {
        outln!();
        outln!("Findings:");
        for f in notable {
            outln!("  [{}] {}: {}", f.severity, f.code, f.message);
        }
    }
    outln!();
    outln!("{}", verdict_line(checks, "Every requirement is met"));
}

fn print_checks(checks: &[Check]) {
    for c in checks {
        outln!("  {} {}", c.mark.symbol(), c.requirement);
        outln!("      {}", c.observed);
        if c.mark != Mark::Pass && c.mark != Mark::Skip {
            if let Some(fix) = &c.fix {
                outln!("      fix: {fix}");
            }
        }
    }
}

/// The closing line: nothing to fix, worth fixing, or how many requirements are not met.
fn verdict_line(checks: &[Check], met: &str) -> String {
    let failed = checks.iter().filter(|c| c.mark == Mark::Fail).count();
    let worth = checks.iter().filter(|c| c.mark == Mark::Warn).count();
    if failed == 0 && worth == 0 {
        "Nothing to fix.".to_owned()
    } else if failed == 0 {
        format!("{met}; {worth} item(s) marked ! are worth fixing.")
    } else {
        format!("{failed} requirement(s) not met.")
    }
}

fn checks_json(checks: &[Check]) -> Vec<serde_json::Value> {
    checks
        .iter()
        .map(|c| {
            json!({
                "requirement": c.requirement,
                "status": c.mark.as_str(),
                "observed": c.observed,
                "fix": c.fix,
            })
        })
        .collect()
}

fn print_json(
    row: &DomainRow,
    mx: &[MxRow],
    checks: &[Check],
    draft: Option<&(&str, Vec<Check>)>,
) -> anyhow::Result<()> {
    let draft = draft.map(|(file, d)| {
        json!({
            "file": file,
            "ok": !d.iter().any(|c| c.mark == Mark::Fail),
            "checks": checks_json(d),
        })
    });
    let v = json!({
        "domain": row.domain,
        "ok": !checks.iter().any(|c| c.mark == Mark::Fail),
        "checks": checks_json(checks),
        "draft": draft,
        "sts_txt": row.sts_txt,
        "sts_txt_cname_chain": row.sts_txt_cname_chain,
        "sts_id": row.sts_id,
        "policy_fetch": row.policy_fetch,
        "policy_cert": row.policy_cert,
        "policy_cert_detail": row.policy_cert_detail,
        "policy_valid": row.policy_valid,
        "policy_mode": row.policy_mode,
        "policy_max_age": row.policy_max_age,
        "policy_mx": row.policy_mx,
        "mx_kind": row.mx_kind,
        "tlsrpt": row.tlsrpt,
        "tlsrpt_rua": row.tlsrpt_rua,
        "policy_usable": row.policy_usable,
        "enforce_deliverable": row.enforce_deliverable,
        "rfc8460_result": row.rfc8460_result,
        "mx": mx.iter().map(|r| json!({
            "host": r.mx_host,
            "address": r.address,
            "policy_match": r.mx_policy_match,
            "smtp": r.smtp,
            "starttls": r.starttls,
            "tls_version": r.tls_version,
            "cert": r.mx_cert,
            "cert_detail": r.cert_detail,
            "cert_not_after": r.cert_not_after.map(|t| t.to_rfc3339()),
        })).collect::<Vec<_>>(),
        "findings": row.findings.iter().map(|f| json!({
            "code": f.code, "severity": f.severity, "message": f.message,
        })).collect::<Vec<_>>(),
    });
    outln!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(domain: &str) -> DomainRow {
        DomainRow {
            domain: Some(domain.to_owned()),
            ..DomainRow::default()
        }
    }

    fn find<'a>(checks: &'a [Check], requirement: &str) -> &'a Check {
        checks
            .iter()
            .find(|c| c.requirement.contains(requirement))
            .unwrap_or_else(|| panic!("no check {requirement:?} in {checks:#?}"))
    }

    /// RFC 8461 §3.3: "If a valid TXT record is found but no policy can be fetched via HTTPS
    /// (for any reason), and there is no valid (non-expired) previously cached policy, senders
    /// MUST continue with delivery as though the domain has not implemented MTA-STS." Without
    /// a TXT record senders never get that far: a broken policy host found by `--fetch-policy
    /// always` (or `--policy`) is worth fixing, not a failure.
    #[test]
    fn without_a_txt_record_the_policy_host_is_worth_fixing_not_failing() {
        let mut r = row("a.test");
        r.sts_txt = Some("absent".into());
        r.policy_fetch = Some("ok".into());
        r.policy_cert = Some("expired".into());
        r.policy_valid = Some(false);
        let c = explain(&r, &[]);
        assert_eq!(find(&c, "served over HTTPS").mark, Mark::Pass);
        assert_eq!(find(&c, "presents a valid certificate").mark, Mark::Warn);
        assert_eq!(find(&c, "the policy is valid").mark, Mark::Warn);
        r.policy_fetch = Some("host-not-found".into());
        r.policy_cert = None;
        r.policy_valid = None;
        assert_eq!(
            find(&explain(&r, &[]), "served over HTTPS").mark,
            Mark::Warn
        );
        // With a record, the same host fails.
        r.sts_txt = Some("valid".into());
        assert_eq!(
            find(&explain(&r, &[]), "served over HTTPS").mark,
            Mark::Fail
        );
    }

    /// A valid certificate close to its end is worth renewing, from the day `monitor`'s
    /// `cert-expiring` rule first warns (21 days by default); later ones pass.
    #[test]
    fn a_certificate_about_to_expire_is_worth_renewing() {
        let at = chrono::Utc::now();
        let mut r = row("a.test");
        r.scanned_at = at;
        r.sts_txt = Some("valid".into());
        r.policy_fetch = Some("ok".into());
        r.policy_cert = Some("valid".into());
        r.policy_cert_not_after = Some(at + chrono::Duration::days(9));
        let mx = MxRow {
            scanned_at: at,
            mx_host: "mx.a.test".into(),
            address: Some("192.0.2.1".into()),
            smtp: Some("ok".into()),
            mx_cert: Some("valid".into()),
            cert_not_after: Some(at + chrono::Duration::days(20)),
            ..MxRow::default()
        };
        let c = explain(&r, std::slice::from_ref(&mx));
        let policy = find(&c, "mta-sts.a.test presents a valid certificate");
        assert_eq!(policy.mark, Mark::Warn);
        assert!(policy.observed.contains("(in 9 day(s))"), "{policy:?}");
        let host = find(&c, "MX mx.a.test (192.0.2.1) offers STARTTLS");
        assert_eq!(host.mark, Mark::Warn, "{host:?}");
        r.policy_cert_not_after = Some(at + chrono::Duration::days(60));
        let mut later = mx;
        later.cert_not_after = Some(at + chrono::Duration::days(22));
        let c = explain(&r, &[later]);
        assert_eq!(find(&c, "presents a valid certificate").mark, Mark::Pass);
        assert_eq!(find(&c, "offers STARTTLS").mark, Mark::Pass);
    }

    /// RFC 8461 §3.1 and RFC 8460 §3: records that do not begin with the version are discarded
    /// before counting, so the count shown is of those that do.
    #[test]
    fn repeated_records_are_counted_as_senders_count_them() {
        let mut r = row("a.test");
        r.sts_txt = Some("multiple".into());
        r.sts_txt_records = Some(vec![
            "v=STSv1; id=1".into(),
            "v=spf1 -all".into(),
            "v=STSv1; id=2".into(),
        ]);
        r.tlsrpt = Some("multiple".into());
        r.tlsrpt_records = Some(vec![
            "v=TLSRPTv1; rua=mailto:a@a.test".into(),
            "v=TLSRPTv1; rua=mailto:b@a.test".into(),
            "v=TLSRPTv1; rua=mailto:c@a.test".into(),
            "unrelated".into(),
        ]);
        let checks = explain(&r, &[]);
        let c = find(&checks, "has one valid TXT record");
        assert_eq!(
            (c.mark, c.observed.as_str()),
            (Mark::Fail, "2 records begin with v=STSv1")
        );
        let c = find(&checks, "publishes TLS-RPT");
        assert_eq!(c.mark, Mark::Fail);
        assert!(
            c.observed.starts_with("3 records begin with v=TLSRPTv1"),
            "{c:?}"
        );
    }

    /// An `_mta-sts` alias whose target has no record: senders see no policy (RFC 8461 §3.1
    /// follows CNAMEs like any TXT lookup), but the owner meant to publish one, so the check
    /// names the dead target; a domain without any record stays "not applicable".
    #[test]
    fn a_dangling_sts_alias_is_named_and_worth_fixing() {
        let mut r = row("a.test");
        r.sts_txt = Some("absent".into());
        r.sts_txt_dns = Some("nxdomain".into());
        r.sts_txt_cname_chain = Some(vec!["a-test.policy-vendor.example".into()]);
        let checks = explain(&r, &[]);
        let c = find(&checks, "has one valid TXT record");
        assert_eq!(c.mark, Mark::Warn);
        assert!(c.observed.contains("a-test.policy-vendor.example"), "{c:?}");
        assert!(c.observed.contains("nxdomain"), "{c:?}");
        assert!(c.fix.is_some());
        assert!(!checks.iter().any(|c| c.mark == Mark::Fail), "{checks:#?}");

        r.sts_txt_cname_chain = Some(Vec::new());
        let checks = explain(&r, &[]);
        assert_eq!(find(&checks, "has one valid TXT record").mark, Mark::Skip);
    }

    /// Why an undeliverable policy cannot deliver, and whether it loses mail now, decide the
    /// mark and the fix. RFC 7505 (abstract): the null MX is the "mechanism by which a domain
    /// announces that it accepts no mail", so a policy beside it costs nothing (a warning);
    /// with no MX and no address no sender can deliver at all (RFC 5321 §5.1), so the fix is
    /// the MX records, not the MX entries. RFC 8461 §5: only under "enforce" do "Sending MTAs
    /// MUST NOT deliver"; under "testing" "messages may be delivered as though there were no
    /// MTA-STS validation failure", so bad MX hosts are worth fixing before enforcing.
    #[test]
    fn an_undeliverable_policy_is_explained_by_the_mx_shape_and_mode() {
        let mut r = row("a.test");
        r.policy_valid = Some(true);
        r.enforce_deliverable = Some(false);
        r.rfc8460_result = Some("validation-failure".into());
        let cases = [
            (
                Some("null"),
                "enforce",
                Mark::Warn,
                "null MX",
                "remove the MTA-STS records",
            ),
            (
                Some("none"),
                "enforce",
                Mark::Fail,
                "no MX and no address",
                "publish MX records",
            ),
            (
                Some("none"),
                "testing",
                Mark::Fail,
                "no MX and no address",
                "publish MX records",
            ),
            (
                Some("hosts"),
                "enforce",
                Mark::Fail,
                "no listed MX accepts",
                "fix the MX entries above, or publish mode: testing",
            ),
            (
                Some("hosts"),
                "testing",
                Mark::Warn,
                "under mode: testing senders deliver anyway",
                "before switching to mode: enforce",
            ),
            (
                Some("implicit"),
                "none",
                Mark::Warn,
                "under mode: none senders deliver anyway",
                "before switching to mode: enforce",
            ),
        ];
        for (kind, mode, mark, observed, fix) in cases {
            r.mx_kind = kind.map(str::to_owned);
            r.policy_mode = Some(mode.into());
            let checks = explain(&r, &[]);
            let c = find(&checks, "a sender enforcing the policy can deliver");
            assert_eq!(c.mark, mark, "{kind:?} {mode}");
            assert!(c.observed.contains(observed), "{kind:?}: {c:?}");
            assert!(
                c.fix.as_deref().is_some_and(|f| f.contains(fix)),
                "{kind:?}: {c:?}"
            );
        }
    }

    #[test]
    fn fetch_details_lose_the_repeated_url_and_the_manual_link() {
        let url = "https://mta-sts.a.test/.well-known/mta-sts.txt";
        let d = format!(
            "error sending request for url ({url}): client error (SendRequest): connection error: peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof"
        );
        assert_eq!(
            short_detail(Some(&d), url),
            " (client error (SendRequest): connection error: peer closed connection without sending TLS close_notify)"
        );
        assert_eq!(
            short_detail(Some("RCODE SERVFAIL"), url),
            " (RCODE SERVFAIL)"
        );
        assert_eq!(short_detail(Some(""), url), "");
        assert_eq!(short_detail(None, url), "");
        let mut r = row("a.test");
        r.sts_txt = Some("valid".into());
        r.policy_fetch = Some("connection-closed".into());
        r.policy_fetch_detail = Some(d);
        let checks = explain(&r, &[]);
        let c = find(&checks, "the policy is served over HTTPS");
        assert_eq!(c.mark, Mark::Fail);
        assert!(
            c.observed.starts_with(&format!(
                "{url}: the server closed the connection without a complete response (client error"
            )),
            "{c:?}"
        );
    }

    /// The fix for a failed policy handshake follows what the server said: a host that refuses
    /// the name needs a certificate for it, not a newer TLS version.
    #[test]
    fn a_failed_policy_handshake_gets_the_fix_for_its_cause() {
        let detail = |d: &str| {
            let mut r = row("a.test");
            r.sts_txt = Some("valid".into());
            r.policy_fetch = Some("tls-error".into());
            r.policy_fetch_detail = Some(d.into());
            let checks = explain(&r, &[]);
            let c = find(&checks, "the policy is served over HTTPS");
            assert_eq!(c.mark, Mark::Fail);
            c.fix.clone().unwrap_or_default()
        };
        let refused = detail("client error (Connect): received fatal alert: AccessDenied");
        assert!(
            refused.contains("certificate for mta-sts.DOMAIN"),
            "{refused}"
        );
        assert!(detail("received fatal alert: UnrecognisedName").contains("(SNI)"));
        assert!(
            detail("received fatal alert: ProtocolVersion")
                .contains("TLS 1.2 or newer on port 443")
        );
        assert!(
            detail("peer is incompatible: ServerDoesNotSupportTls12Or13")
                .contains("TLS 1.2 or newer on port 443")
        );
        assert!(detail("received fatal alert: HandshakeFailure").contains("cipher suites"));
        assert!(detail("tls handshake eof").contains("complete a TLS 1.2 or newer handshake"));
    }

    /// Each way a STARTTLS probe can fail has its own fix: a greeting timeout is not a TLS
    /// version problem.
    #[test]
    fn a_failed_probe_gets_the_fix_for_its_status() {
        let fix = |status: &str, detail: &str| {
            let mut r = row("a.test");
            r.mx_kind = Some("explicit".into());
            let m = MxRow {
                mx_host: "mx.a.test".into(),
                address: Some("192.0.2.1".into()),
                smtp: Some(status.into()),
                smtp_detail: Some(detail.into()),
                ..MxRow::default()
            };
            let checks = explain(&r, &[m]);
            let c = find(&checks, "offers STARTTLS");
            assert_eq!(c.mark, Mark::Fail, "{status}");
            c.fix.clone().unwrap_or_default()
        };
        assert!(
            fix("greeting-timeout", "timeout waiting for the greeting").contains("220 greeting")
        );
        assert!(fix("connect-timeout", "").contains("firewall"));
        assert!(fix("tls-version-unsupported", "").contains("TLS 1.2 or newer"));
        assert!(
            fix(
                "handshake-failed",
                "TLS handshake: received fatal alert: AccessDenied"
            )
            .contains("refused the handshake")
        );
        assert!(
            fix("handshake-failed", "TLS handshake: tls handshake eof")
                .contains("complete an SMTP STARTTLS session")
        );
        assert!(fix("post-tls-error", "").contains("RFC 3207"));
        assert!(
            fix(
                "protocol-error",
                "the EHLO reply was malformed: too-many-lines"
            )
            .contains("reply syntax")
        );
        // every status of the closed vocabulary but `ok` and `starttls-not-offered` goes here
        for s in crate::smtp::SmtpStatus::ALL {
            if !matches!(s.as_str(), "ok" | "starttls-not-offered") {
                assert!(!fix(s.as_str(), "").is_empty());
            }
        }
    }

    /// A policy host on private or reserved addresses only: the scan refused to connect, and
    /// senders on the internet cannot either, unless the operator's own blocklist refused it.
    #[test]
    fn a_refused_policy_address_is_worth_fixing() {
        let mut r = row("a.test");
        r.sts_txt = Some("valid".into());
        r.policy_fetch = Some("address-refused".into());
        r.policy_fetch_detail = Some("address 10.1.2.3 refused: private".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "the policy is served over HTTPS");
        assert_eq!(c.mark, Mark::Warn);
        assert!(
            c.observed.ends_with("(address 10.1.2.3 refused: private)"),
            "{c:?}"
        );
        assert!(c.fix.as_deref().is_some_and(|f| f.contains("--blocklist")));
    }

    /// Hosts the operator's `--exclude` list kept the scan from contacting are skipped (–),
    /// never failed: nothing was measured there, and the domain has nothing to fix for it.
    #[test]
    fn excluded_hosts_are_skipped_not_failed() {
        let mut r = row("a.test");
        r.sts_txt = Some("valid".into());
        r.policy_fetch = Some("excluded".into());
        r.mx_kind = Some("hosts".into());
        let m = MxRow {
            mx_host: "mx1.optedout.example".into(),
            mx_excluded: Some(true),
            ..MxRow::default()
        };
        let checks = explain(&r, &[m]);
        let c = find(&checks, "the policy is served over HTTPS");
        assert_eq!(c.mark, Mark::Skip);
        assert!(
            c.observed
                .contains("mta-sts.a.test is on the exclusion list"),
            "{c:?}"
        );
        let c = find(&checks, "MX mx1.optedout.example (no address)");
        assert_eq!(c.mark, Mark::Skip);
        assert!(c.observed.contains("exclusion list"), "{c:?}");
        assert!(checks.iter().all(|c| c.mark != Mark::Fail), "{checks:#?}");
    }

    /// `check` of a domain on its own `--exclude` list refuses (exit 2, as every `Err`) with
    /// one line naming the list, before any lookup.
    #[test]
    fn a_listed_domain_is_refused() {
        use clap::Parser;
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("optout.txt");
        std::fs::write(&list, "# asked 2026-01-02\noptedout.example\n").unwrap();
        let list_arg = list.to_str().unwrap();
        for domain in ["optedout.example", "Mail.OptedOut.Example."] {
            let cli = crate::cli::Cli::try_parse_from([
                "stsscan",
                "check",
                domain,
                "--exclude",
                list_arg,
                // never used: the refusal comes first
                "--resolver",
                "127.0.0.1:9",
            ])
            .unwrap();
            let crate::cli::Command::Check(args) = cli.command else {
                panic!("not check");
            };
            let e = run(&args).unwrap_err().to_string();
            assert!(
                e.contains("is on the exclusion list") && e.contains("optout.txt"),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// RFC 7505 §3: "A domain that advertises a null MX MUST NOT advertise any other MX RR."
    /// The scan's `mx-null-mixed` finding is an error, so `check` fails it too.
    #[test]
    fn a_null_mx_beside_other_mx_fails() {
        let mut r = row("a.test");
        r.mx_kind = Some("mixed-null".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "null MX or mail hosts");
        assert_eq!(c.mark, Mark::Fail);
        assert!(c.fix.as_deref().is_some_and(|f| f.contains("MUST NOT")));
    }

    /// A referral (RFC 2308 §2.2: NS and no SOA in the authority section) comes from a
    /// resolver that does not recurse: the fix is the resolver, not the domain's DNS.
    #[test]
    fn a_referral_points_at_the_resolver() {
        let mut r = row("a.test");
        r.tlsrpt = Some("lookup-failed".into());
        r.tlsrpt_dns = Some("referral".into());
        r.mx_kind = Some("lookup-failed".into());
        r.mx_dns = Some("referral".into());
        let checks = explain(&r, &[]);
        for req in ["publishes TLS-RPT", "the MX records resolve"] {
            let c = find(&checks, req);
            assert!(
                c.fix.as_deref().is_some_and(|f| f.contains("--resolver")),
                "{c:?}"
            );
        }
        r.tlsrpt_dns = Some("servfail".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "publishes TLS-RPT");
        assert!(c.fix.as_deref().is_some_and(|f| f.contains("DNS servers")));
    }

    /// A name that does not exist is said to, not "nothing to fix"; a resolver that answered
    /// nothing is the resolver's failure, not the domain's.
    #[test]
    fn a_missing_domain_and_a_silent_resolver_are_named() {
        let mut r = row("nope.test");
        r.mx_kind = Some("none".into());
        r.mx_dns = Some("nxdomain".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "the domain exists");
        assert_eq!(c.mark, Mark::Fail);
        assert!(c.observed.contains("NXDOMAIN"), "{c:?}");
        r.mx_dns = Some("nodata".into());
        assert!(
            explain(&r, &[])
                .iter()
                .all(|c| c.requirement != "the domain exists")
        );
        let mut dead = row("a.test");
        dead.sts_txt_dns = Some("timeout".into());
        dead.mx_dns = Some("timeout".into());
        dead.tlsrpt_dns = Some("timeout".into());
        assert!(resolver_silent(&dead).is_some_and(|e| e.contains("resolver")));
        dead.mx_dns = Some("noerror".into());
        assert_eq!(resolver_silent(&dead), None);
        // a failed `_mta-sts` lookup is not "no record"
        dead.sts_txt = Some("lookup-failed".into());
        dead.policy_fetch = Some("not-attempted".into());
        let c = find(&explain(&dead, &[]), "the policy is served over HTTPS").clone();
        assert!(c.observed.contains("lookup failed"), "{c:?}");
    }

    /// A TLS-RPT lookup that failed is a DNS problem, not a record to rewrite.
    #[test]
    fn a_failed_tlsrpt_lookup_is_a_dns_problem() {
        let mut r = row("a.test");
        r.tlsrpt = Some("lookup-failed".into());
        r.tlsrpt_dns = Some("servfail".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "publishes TLS-RPT");
        assert_eq!(c.mark, Mark::Fail);
        assert_eq!(c.observed, "the lookup failed (servfail)");
        assert!(c.fix.as_deref().is_some_and(|f| f.contains("DNS servers")));
    }

    /// RFC 5321 §5.1: "If an empty list of MXs is returned, the address is treated as if it
    /// was associated with an implicit MX RR, with a preference of 0, pointing to that host."
    #[test]
    fn an_implicit_mx_is_said_to_be_one() {
        let mut r = row("a.test");
        r.mx_kind = Some("implicit".into());
        let checks = explain(&r, &[]);
        let c = find(&checks, "the domain receives mail");
        assert_eq!(c.mark, Mark::Pass);
        assert!(c.observed.contains("implicit MX"), "{c:?}");
    }
}
