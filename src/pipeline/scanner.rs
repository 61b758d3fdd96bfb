//! Scanning one domain: the DNS lookups (concurrently), the policy fetch and the MX probes
//! (concurrently with each other), then the pure verdicts, turned into one `domains` row and
//! its `mx` rows.
//!
//! The [`Scanner`] holds everything shared between domains: the DNS client with its
//! single-flight address cache, the policy fetcher, the single-flight, per-address-polite
//! STARTTLS prober, the trust anchors, and a bounded memo of chain verdicts per probe (one
//! provider address serves thousands of MX names; its chain is judged once, the name per MX).
//!
//! Findings written here (besides those of [`crate::assess`]):
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `mx-excluded` | info | an MX host on the scan's `--exclude` list: neither looked up nor contacted (`mx_excluded`); unknown, not failing ([`verdict::summarize`]) |
//! | `enforce-undeliverable` | error when the policy loses mail now, else warning ([`verdict::undeliverable_loses_mail`]) | a usable policy and no MX host that matches it, offers STARTTLS and presents a valid certificate (`enforce_deliverable = false`) |
//! | the row's `input_error` | error | an input line that is not a domain ([`super::input`]); nothing is scanned |
//!
//! The `--exclude` opt-out list ([`super::exclude`]) is honoured here for the names a scan of a
//! domain would contact: an MX host on it is neither resolved nor probed (one `mx` row with
//! `mx_excluded = true`), and a policy host `mta-sts.D` on it is neither resolved nor fetched
//! (`policy_fetch = excluded`). Input domains on it never reach the scanner's network code:
//! the input reader marks them, and [`Scanner::scan_entry`] writes their row.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use governor::Quota;

use super::config::{FetchPolicy, IpVersion, ProbeDedup, ProbeScope, ScanConfig};
use super::input::{EntryKind, InputEntry};
use super::stats::ScanStats;
use crate::assess::domain::{self as assess, MxAnswer, PolicyAnswer, TxtAnswer};
use crate::assess::verdict::{self, AddressFacts, MxHostFacts};
use crate::dns::{self, AddressPolicy, Dns, DnsConfig, DnsStatus, Lookup, Refusal};
use crate::fetch::{FetchConfig, PolicyFetch, PolicyFetcher};
use crate::output::{DomainRow, FindingRow, MxRow};
use crate::records::diag::{Finding, Severity};
use crate::records::mx::MxHost;
use crate::smtp::{ProbeConfig, Prober, ProberConfig, SharedProbe, SmtpProbe};
use crate::tls::{self, ChainVerdict, TrustAnchors, UnixTime};

/// Most MX hosts followed per domain (more is a misconfiguration or an attack).
pub const MAX_MX_HOSTS: usize = 16;
/// Most addresses probed per MX host.
pub const MAX_ADDRESSES_PER_HOST: usize = 8;
// the DNS layer keeps at least this many addresses per family of a host
const _: () = assert!(MAX_ADDRESSES_PER_HOST <= crate::dns::MAX_ADDRESSES_PER_FAMILY);
/// Judged chains memoized (per probe id).
const CHAIN_MEMO: usize = 8_192;

/// Everything shared by the scans of all domains.
pub struct Scanner {
    cfg: Arc<ScanConfig>,
    dns: Dns,
    safety: Arc<AddressPolicy>,
    fetcher: PolicyFetcher,
    prober: Prober,
    anchors: TrustAnchors,
    chains: Mutex<HashMap<u64, Arc<ProbeCerts>>>,
    stats: Arc<ScanStats>,
}

/// The family selection of the DNS layer for `--ip-version`.
fn family(v: IpVersion) -> dns::IpVersion {
    match v {
        IpVersion::V4 => dns::IpVersion::V4,
        IpVersion::V6 => dns::IpVersion::V6,
        IpVersion::Both => dns::IpVersion::Both,
    }
}

impl Scanner {
    /// Builds the shared state for `cfg`. Fails on unusable configuration (bad CA file).
    pub fn new(cfg: Arc<ScanConfig>, stats: Arc<ScanStats>) -> anyhow::Result<Scanner> {
        let dns = Dns::new(DnsConfig {
            resolvers: cfg.resolvers.clone(),
            timeout: cfg.timeouts.dns,
            attempts: cfg.dns_attempts,
            rate_per_sec: cfg.dns_rate,
            transport: match cfg.dns_transport {
                super::config::DnsTransport::Hickory => dns::Transport::Hickory,
                super::config::DnsTransport::Multiplexed => {
                    dns::Transport::Multiplexed { sockets: 4 }
                }
            },
            ..DnsConfig::default()
        })?;
        // Parsed as a blocklist file is (CIDRs or bare addresses, IPv4 and IPv6): an entry
        // that does not parse is an error, never silently dropped.
        let blocklist = dns::parse_blocklist(&cfg.blocklist.join("\n"))
            .map_err(|(line, msg)| anyhow::anyhow!("blocklist entry {line}: {msg}"))?;
        let safety = Arc::new(AddressPolicy {
            allow_private: cfg.allow_private,
            blocklist,
        });
        let ca: Vec<_> = cfg.ca_file.iter().cloned().collect();
        let anchors = TrustAnchors::from_pem_files(&ca, !cfg.no_default_roots)?;
        let mut fc = FetchConfig::new(anchors.clone());
        fc.user_agent = cfg.user_agent.clone();
        fc.connect_timeout = cfg.timeouts.connect;
        fc.total_timeout = cfg.timeouts.fetch;
        fc.https_port = cfg.https_port;
        let tls_config = tls::capturing_client_config(&anchors)?;
        let mut pc = ProbeConfig::new(cfg.ehlo_name.clone(), tls_config);
        pc.connect_timeout = cfg.timeouts.connect;
        pc.phase_timeout = cfg.timeouts.smtp_reply;
        pc.session_deadline = cfg.timeouts.smtp_session;
        let mut prc = ProberConfig::new(pc);
        prc.dedup = match cfg.probe_dedup {
            ProbeDedup::Address | ProbeDedup::AddressOnce => crate::smtp::ProbeDedup::Address,
            ProbeDedup::AddressName => crate::smtp::ProbeDedup::AddressAndName,
        };
        prc.per_address_connections =
            NonZeroUsize::new(cfg.per_address_connections).unwrap_or(NonZeroUsize::MIN);
        // Evenly spaced: a burst of one, so no second sees more than the rate (the default
        // burst of `rate` let twice the rate through in a second).
        prc.per_address_rate =
            Some(Quota::per_second(cfg.per_address_rate).allow_burst(std::num::NonZeroU32::MIN));
        // Each cached probe keeps its certificate chain: 8 000 entries bound that memory
        // (provider addresses, used by many domains, stay hot; one-off hosts are evicted).
        // SNI re-probe results (mostly one name each) are evicted first, so their churn never
        // pushes out an address result that a later domain would then probe again.
        prc.cache_capacity = 8_000;
        let prober = Prober::new(prc);
        // One politeness budget per destination address for probes and policy fetches alike:
        // a hosting vendor's address serving thousands of `mta-sts.*` names gets at most
        // `--per-address-connections` at once and `--per-address-rate` new ones per second.
        fc.gate = Some(prober.gate());
        let fetcher = PolicyFetcher::new(fc);
        Ok(Scanner {
            cfg,
            dns,
            safety,
            fetcher,
            prober,
            anchors,
            chains: Mutex::new(HashMap::new()),
            stats,
        })
    }

    /// The resolvers in use, for the manifest.
    pub fn resolvers(&self) -> Vec<String> {
        if self.dns.resolvers().is_empty() {
            vec!["system".to_owned()]
        } else {
            self.dns.resolvers().iter().map(|r| r.to_string()).collect()
        }
    }

    /// Counters of the shared caches, for benchmarks and the closing summary. `evicted` counts
    /// probe results dropped from the bounded probe cache: a later domain that needs one of
    /// them probes that address (or, with `--probe-dedup address+name`, that address and
    /// name) again. SNI re-probe results are evicted first and counted apart.
    pub fn cache_report(&self) -> String {
        let d = self.dns.cache_stats();
        let p = self.prober.stats();
        format!(
            "address cache: {} hits, {} misses, {} joined; probes: {} run, {} cached, {} joined, {} evicted, {} re-probe results evicted",
            d.hits,
            d.misses,
            d.joins,
            p.probes_run,
            p.cache_hits,
            p.joins,
            p.evictions,
            p.reprobe_evictions
        )
    }

    /// Scans one input entry into its rows. Invalid, duplicate and excluded lines make a row
    /// without any network traffic.
    pub async fn scan_entry(&self, entry: &InputEntry) -> (DomainRow, Vec<MxRow>) {
        let scanned_at = Utc::now();
        let mut row = DomainRow {
            scanned_at,
            input_line: entry.line,
            input: entry.raw.clone(),
            ..DomainRow::default()
        };
        match &entry.kind {
            EntryKind::Invalid(e) => {
                row.input_status = "invalid".to_owned();
                row.input_error = Some(e.code.to_owned());
                set_findings(
                    &mut row,
                    vec![Finding::new(e.code, Severity::Error, e.message.clone())],
                );
                (row, Vec::new())
            }
            EntryKind::Duplicate(n) => {
                row.input_status = "duplicate".to_owned();
                row.domain = Some(n.ascii.clone());
                row.domain_unicode = n.unicode.clone();
                (row, Vec::new())
            }
            EntryKind::Excluded(n) => {
                row.input_status = "excluded".to_owned();
                row.domain = Some(n.ascii.clone());
                row.domain_unicode = n.unicode.clone();
                (row, Vec::new())
            }
            EntryKind::Domain(n) => {
                row.input_status = "ok".to_owned();
                row.domain = Some(n.ascii.clone());
                row.domain_unicode = n.unicode.clone();
                let started = Instant::now();
                let mx = self.scan_domain(&n.ascii, scanned_at, &mut row).await;
                row.duration_ms = started.elapsed().as_millis() as u64;
                (row, mx)
            }
        }
    }

    /// Whether `name` is on the `--exclude` list (or below a name on it).
    fn excluded(&self, name: &str) -> bool {
        self.cfg.exclude.as_ref().is_some_and(|l| l.contains(name))
    }

    async fn scan_domain(
        &self,
        d: &str,
        scanned_at: DateTime<Utc>,
        row: &mut DomainRow,
    ) -> Vec<MxRow> {
        let fam = family(self.cfg.ip_version);
        let sts_name = format!("_mta-sts.{d}");
        let rpt_name = format!("_smtp._tls.{d}");
        let (sts, rpt, mx) = tokio::join!(
            self.dns.txt(&sts_name),
            self.dns.txt(&rpt_name),
            self.dns.mx(d)
        );
        let apex = if mx.status == DnsStatus::NoData {
            Some(self.dns.addresses(d, fam).await.lookup.status)
        } else {
            None
        };
        let sts_ans = TxtAnswer {
            status: sts.status,
            records: &sts.records,
        };
        let has_sts = assess::has_sts_record(&sts_ans);
        let mx_ans = MxAnswer {
            status: mx.status,
            records: &mx.records,
            apex_address: apex,
        };
        let mx_class = assess::classify_mx(d, mx_ans);
        let fetch_wanted = match self.cfg.fetch_policy {
            FetchPolicy::Auto => has_sts,
            FetchPolicy::Always => true,
            FetchPolicy::Never => false,
        };
        let probe_wanted = match self.cfg.probe {
            ProbeScope::All => true,
            ProbeScope::Sts => has_sts,
            ProbeScope::None => false,
        };
        let hosts: Vec<MxHost> = mx_class.hosts.iter().take(MAX_MX_HOSTS).cloned().collect();
        let (fetch, probed_hosts) = tokio::join!(
            self.fetch_policy(d, fetch_wanted),
            self.probe_hosts(&hosts, probe_wanted)
        );
        let answer = match &fetch {
            FetchResult::NotAttempted => PolicyAnswer::NotAttempted,
            FetchResult::Excluded => PolicyAnswer::Excluded,
            FetchResult::HostLookup {
                status, refused, ..
            } => PolicyAnswer::HostLookup {
                status: *status,
                refused: *refused,
            },
            FetchResult::Fetched(f) => PolicyAnswer::Fetched {
                outcome: f.outcome.as_str(),
                http_status: f.http_status,
                content_type: f.content_type.as_deref(),
                body: f.body.as_deref(),
                cert: f.cert_verdict.as_ref().map(|v| v.verdict.as_str()),
            },
        };
        let a = assess::assess(
            d,
            sts_ans,
            TxtAnswer {
                status: rpt.status,
                records: &rpt.records,
            },
            mx_class.clone(),
            answer,
        );

        // Per-MX facts and rows.
        let mut facts = Vec::with_capacity(probed_hosts.len());
        let mut mx_rows = Vec::new();
        let mut findings = a.findings.clone();
        for ph in &probed_hosts {
            let policy_match = a.policy_match(&ph.host.name);
            let mut hf = MxHostFacts {
                host: ph.host.name.clone(),
                policy_match,
                addresses: Vec::new(),
                withheld: ph.lookup.is_none(),
            };
            // An excluded host was not looked up: whether it is an alias is unknown.
            let alias = ph
                .lookup
                .as_ref()
                .and_then(|l| mx_alias(a.mx_kind, &l.cname_chain));
            let is_cname = alias == Some(true);
            let base = MxRow {
                scanned_at,
                domain: d.to_owned(),
                mx_host: ph.host.name.clone(),
                mx_preference: ph.host.preference,
                mx_is_cname: alias,
                address_dns: ph.lookup.as_ref().map(|l| l.status.as_str().to_owned()),
                mx_policy_match: policy_match,
                mx_excluded: Some(ph.lookup.is_none()),
                ..MxRow::default()
            };
            if ph.lookup.is_none() {
                findings.push(Finding::new(
                    "mx-excluded",
                    Severity::Info,
                    format!(
                        "MX host {} is on the scan's exclusion list, so it was neither looked up nor contacted",
                        ph.host.name
                    ),
                ));
            }
            if ph.addresses.is_empty() {
                mx_rows.push(base.clone());
            }
            for pa in &ph.addresses {
                let mut r = base.clone();
                r.address = Some(pa.ip.to_string());
                r.ip_version = Some(if pa.ip.is_ipv4() { 4 } else { 6 });
                let mut af = AddressFacts {
                    smtp: None,
                    starttls: None,
                    cert: None,
                    injection: None,
                };
                if let Some(refusal) = &pa.refused {
                    // The operator's own blocklist: what the address would show is unknown.
                    hf.withheld |= refusal == Refusal::Blocklisted.as_str();
                    r.address_refused = Some(refusal.clone());
                } else if let Some(sp) = &pa.probe {
                    self.fill_probe(&mut r, sp, &ph.host.name);
                    af.smtp = r.smtp.clone();
                    af.starttls = r.starttls;
                    af.cert = r.mx_cert.clone();
                    af.injection = r.starttls_injection;
                    if !af.secure() {
                        r.rfc8460_result = Some(verdict::address_failure(&af).to_owned());
                    }
                }
                hf.addresses.push(af);
                mx_rows.push(r);
            }
            findings.extend(verdict::host_findings(
                &hf,
                is_cname,
                a.valid_policy().map(|p| p.mode.as_str()),
            ));
            facts.push(hf);
        }
        // A failed MX lookup leaves the hosts a sender would try unknown, so whether it could
        // deliver is unknown too (not "undeliverable": the failure is DNS, not MTA-STS).
        let deliverability_known = probe_wanted && a.mx_kind != "lookup-failed";
        let summary = verdict::summarize(&facts, a.policy_usable, deliverability_known);
        if summary.enforce_deliverable == Some(false) {
            let mode = a.valid_policy().map(|p| p.mode.as_str());
            let result = summary.rfc8460_result.unwrap_or("validation-failure");
            let loses = verdict::undeliverable_loses_mail(Some(a.mx_kind), mode);
            let severity = if loses {
                Severity::Error
            } else {
                Severity::Warning
            };
            let message = match a.mx_kind {
                "null" => "the domain publishes a null MX (RFC 7505) and an MTA-STS policy; it accepts no mail either way".to_owned(),
                "none" => "the domain publishes an MTA-STS policy but has no MX and no address; no sender can deliver to it".to_owned(),
                _ if !loses => format!(
                    "no MX host both matches the policy and accepts a valid TLS session; senders deliver anyway under mode {}, but would not under enforce ({result})",
                    mode.unwrap_or("?")
                ),
                _ => format!(
                    "no MX host both matches the policy and accepts a valid TLS session; a sender enforcing the policy would not deliver ({result})"
                ),
            };
            findings.push(Finding::new("enforce-undeliverable", severity, message));
        }

        // The domain row.
        row.sts_txt = Some(a.sts_txt.to_owned());
        row.sts_txt_dns = Some(sts.status.as_str().to_owned());
        row.sts_txt_records = Some(txt_strings(&sts));
        row.sts_txt_cname_chain = Some(sts.cname_chain.clone());
        row.sts_txt_error = a.sts_txt_error.as_ref().map(|e| e.code.to_owned());
        row.sts_id = a.sts_id.clone();
        row.policy_fetch = Some(a.policy_fetch.clone());
        if let FetchResult::HostLookup { detail, .. } = &fetch {
            row.policy_fetch_detail = Some(detail.clone());
        }
        if let FetchResult::Fetched(f) = &fetch {
            self.stats
                .fetches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            row.policy_url = Some(f.url.clone());
            row.policy_address = f.address.map(|a| a.ip().to_string());
            row.policy_http_status = f.http_status;
            row.policy_content_type = f.content_type.clone();
            row.policy_location = f.location.clone();
            row.policy_tls_version = f.tls_version.clone();
            row.policy_body_sha256 = f.body_sha256.clone();
            row.policy_body_bytes = f.body_len;
            row.policy_body = f
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            row.policy_fetch_detail = f.detail.clone();
            row.policy_cert_detail = f.cert_verdict.as_ref().and_then(|v| v.detail.clone());
            if let Some(Ok(leaf)) = f.chain.first().map(|c| tls::CertInfo::from_der(c.as_ref())) {
                row.policy_cert_not_after = leaf.not_after_utc();
                row.policy_cert_issuer = Some(leaf.issuer);
            }
        }
        row.policy_cert = a.policy_cert.clone();
        if let Some(p) = &a.policy {
            row.policy_valid = Some(p.is_valid());
            row.policy_error = p.errors.first().map(|e| e.code.to_owned());
            if let Some(pol) = &p.policy {
                row.policy_mode = Some(pol.mode.as_str().to_owned());
                row.policy_max_age = Some(pol.max_age);
                row.policy_mx = Some(pol.mx.iter().map(|m| m.to_string()).collect());
            }
        }
        row.mx_dns = Some(mx.status.as_str().to_owned());
        row.mx_kind = Some(a.mx_kind.to_owned());
        row.mx_hosts = Some(a.mx_hosts.iter().map(|h| h.name.clone()).collect());
        row.mx_count = Some(a.mx_hosts.len() as u32);
        row.tlsrpt = Some(a.tlsrpt.to_owned());
        row.tlsrpt_dns = Some(rpt.status.as_str().to_owned());
        row.tlsrpt_records = Some(txt_strings(&rpt));
        row.tlsrpt_rua = (a.tlsrpt == "valid").then(|| a.tlsrpt_rua.clone());
        row.tlsrpt_error = a.tlsrpt_error.as_ref().map(|e| e.code.to_owned());
        row.policy_usable = Some(a.policy_usable);
        row.enforce_deliverable = summary.enforce_deliverable;
        row.all_mx_covered = summary.all_covered;
        row.all_mx_starttls = summary.all_starttls;
        row.all_mx_cert_valid = summary.all_cert_valid;
        row.rfc8460_result = a
            .policy_failure()
            .or(summary.rfc8460_result)
            .map(str::to_owned);
        set_findings(row, findings);
        mx_rows
    }

    async fn fetch_policy(&self, d: &str, wanted: bool) -> FetchResult {
        if !wanted {
            return FetchResult::NotAttempted;
        }
        let host = format!("mta-sts.{d}");
        if self.excluded(&host) {
            return FetchResult::Excluded;
        }
        let lookup = self.dns.addresses(&host, family(self.cfg.ip_version)).await;
        if lookup.lookup.status != DnsStatus::NoError {
            return FetchResult::HostLookup {
                status: lookup.lookup.status,
                refused: false,
                detail: format!("{HOST_LOOKUP}{}", lookup.lookup.status.as_str()),
            };
        }
        let (allowed, refused) = self.safety.partition(&lookup.lookup.records);
        if allowed.is_empty() {
            return FetchResult::HostLookup {
                status: lookup.lookup.status,
                refused: true,
                detail: refusals(&refused),
            };
        }
        FetchResult::Fetched(Box::new(self.fetcher.fetch(d, &allowed).await))
    }

    async fn probe_hosts(&self, hosts: &[MxHost], wanted: bool) -> Vec<ProbedHost> {
        let fam = family(self.cfg.ip_version);
        let futs = hosts.iter().map(|h| async move {
            if self.excluded(&h.name) {
                return ProbedHost {
                    host: h.clone(),
                    lookup: None,
                    addresses: Vec::new(),
                };
            }
            let lookup = self.dns.addresses(&h.name, fam).await;
            let mut addresses = Vec::new();
            for ip in lookup.lookup.records.iter().take(MAX_ADDRESSES_PER_HOST) {
                let refused = self.safety.check(*ip).err().map(|r| r.as_str().to_owned());
                let probe = if refused.is_none() && wanted {
                    Some(
                        self.probe_address(SocketAddr::new(*ip, self.cfg.smtp_port), &h.name)
                            .await,
                    )
                } else {
                    None
                };
                addresses.push(ProbedAddress {
                    ip: *ip,
                    refused,
                    probe,
                });
            }
            ProbedHost {
                host: h.clone(),
                lookup: Some(Lookup::clone(&lookup.lookup)),
                addresses,
            }
        });
        futures::future::join_all(futs).await
    }

    /// Probes `addr` for MX `name`. With `--probe-dedup address` the result of the first name
    /// probed at the address is shared; when its certificate does not cover `name` (a server
    /// that picks certificates by SNI), the address is probed again with `name` as SNI, so
    /// every per-name verdict is about the certificate a sender would see. With
    /// `--probe-dedup address-once` the first result is shared whatever it covers.
    async fn probe_address(&self, addr: SocketAddr, name: &str) -> SharedProbe {
        use std::sync::atomic::Ordering::Relaxed;
        let sp = self.prober.probe(addr, name).await;
        if !sp.source.shared() {
            self.stats.probes.fetch_add(1, Relaxed);
        }
        let sent_other_sni = other_sni(&sp.probe, name).is_some();
        let covers = sp
            .probe
            .chain
            .first()
            .map(|leaf| tls::name_matches(leaf, name));
        if self.cfg.probe_dedup == ProbeDedup::Address && sent_other_sni && covers == Some(false) {
            let again = self
                .prober
                .probe_keyed(addr, name, crate::smtp::ProbeDedup::AddressAndName)
                .await;
            if !again.source.shared() {
                self.stats.probes.fetch_add(1, Relaxed);
                self.stats.sni_reprobes.fetch_add(1, Relaxed);
                if !again.probe.chain.is_empty()
                    && again.probe.chain.first() == sp.probe.chain.first()
                {
                    self.stats.sni_reprobes_same_cert.fetch_add(1, Relaxed);
                }
            }
            return again;
        }
        sp
    }

    /// The judged and described chain of a probe, computed once per probe id (a provider
    /// address serves thousands of MX names: parsing and verifying its chain per row was a
    /// sixth of the scanner's CPU).
    fn probe_certs(&self, sp: &SharedProbe) -> Arc<ProbeCerts> {
        if let Ok(memo) = self.chains.lock() {
            if let Some(v) = memo.get(&sp.probe_id) {
                return v.clone();
            }
        }
        let chain = &sp.probe.chain;
        let certs = Arc::new(ProbeCerts {
            verdict: tls::judge_chain(chain, &self.anchors, UnixTime::now()),
            sha256: tls::chain_sha256(chain),
            // only the leaf is described; the rest of the chain is kept as hashes
            leaf: chain
                .first()
                .and_then(|c| tls::CertInfo::from_der(c.as_ref()).ok()),
        });
        if let Ok(mut memo) = self.chains.lock() {
            if memo.len() >= CHAIN_MEMO {
                memo.clear();
            }
            memo.insert(sp.probe_id, certs.clone());
        }
        certs
    }

    fn fill_probe(&self, r: &mut MxRow, sp: &SharedProbe, name: &str) {
        let p = &sp.probe;
        r.probe_id = Some(sp.probe_id);
        r.probe_shared = Some(sp.source.shared());
        r.smtp = Some(p.status.as_str().to_owned());
        r.smtp_detail = p.detail.clone();
        r.greeting = p.greeting.clone();
        r.ehlo_capabilities = p.capabilities.as_ref().map(|c| c.keywords.clone());
        r.starttls = p.starttls_offered;
        r.starttls_injection = p.injection();
        r.tls_version = p.tls_version.clone();
        r.tls_cipher = p.tls_cipher.clone();
        r.probe_ms = Some(p.elapsed.as_millis() as u64);
        r.probe_sni = p.sni.clone();
        if p.chain.is_empty() {
            return;
        }
        let certs = self.probe_certs(sp);
        r.chain_verdict = Some(certs.verdict.verdict.as_str().to_owned());
        let for_name = tls::name_verdict(&certs.verdict, &p.chain, name);
        r.mx_cert = Some(for_name.verdict.as_str().to_owned());
        r.cert_detail = match (for_name.verdict, for_name.detail, other_sni(p, name)) {
            // Only `--probe-dedup address-once` leaves a row judged on a handshake made for
            // another name (the default probes again with this name): say so, since a server
            // that picks its certificate by SNI may have one for this name.
            (tls::CertVerdict::NameMismatch, Some(d), Some(sni)) => Some(format!(
                "{d} (the shared probe sent SNI {sni}; this name was not asked for)"
            )),
            (_, d, _) => d,
        };
        r.cert_sha256 = Some(certs.sha256.clone());
        if let Some(leaf) = &certs.leaf {
            r.cert_subject = Some(leaf.subject.clone());
            r.cert_issuer = Some(leaf.issuer.clone());
            r.cert_not_before = leaf.not_before_utc();
            r.cert_not_after = leaf.not_after_utc();
            r.cert_sans = Some(leaf.san_dns.clone());
            r.cert_key_algorithm = Some(leaf.key_algorithm.clone());
            r.cert_key_bits = Some(leaf.key_bits);
        }
    }
}

/// The SNI name `probe` sent when it is not `name` (a probe shared from another MX name).
fn other_sni<'a>(probe: &'a SmtpProbe, name: &str) -> Option<&'a str> {
    crate::output::rows::sni_for_other_name(probe.sni.as_deref(), name)
}

/// What a probe's chain says, shared by every row the probe serves.
struct ProbeCerts {
    verdict: ChainVerdict,
    sha256: Vec<String>,
    leaf: Option<tls::CertInfo>,
}

enum FetchResult {
    NotAttempted,
    /// `mta-sts.D` is on the `--exclude` list: not looked up, not fetched.
    Excluded,
    /// The policy host's address lookup failed, or every address was refused; `detail` is
    /// the row's `policy_fetch_detail`.
    HostLookup {
        status: DnsStatus,
        refused: bool,
        detail: String,
    },
    Fetched(Box<PolicyFetch>),
}

struct ProbedHost {
    host: MxHost,
    /// The address lookup; `None` for a host on the `--exclude` list (never looked up).
    lookup: Option<Lookup<IpAddr>>,
    addresses: Vec<ProbedAddress>,
}

struct ProbedAddress {
    ip: IpAddr,
    refused: Option<String>,
    probe: Option<SharedProbe>,
}

/// How `policy_fetch_detail` begins when the policy host's address lookup failed (then
/// `host-not-found` or `dns-error`); the DNS status follows.
const HOST_LOOKUP: &str = "address lookup: ";

/// The DNS status of the policy host's failed address lookup, read back from a row's
/// `policy_fetch_detail` (`None` for any other detail).
pub fn policy_host_dns_status(detail: &str) -> Option<&str> {
    detail.strip_prefix(HOST_LOOKUP)
}

/// `mx_is_cname`: whether an MX host's address lookup went through an alias. RFC 2181 §10.3
/// is about "the value of ... a MX resource record"; an implicit MX has none, and RFC 5321
/// §5.1 follows a CNAME of the domain itself ("the resulting name is processed as if it were
/// the initial name"), so there it is `None`, and no `mx-is-cname` finding.
fn mx_alias(mx_kind: &str, cname_chain: &[String]) -> Option<bool> {
    (mx_kind != "implicit").then_some(!cname_chain.is_empty())
}

/// The policy host's refused addresses as `policy_fetch_detail`: "address 10.1.2.3 refused:
/// private", at most four of them (an answer may hold many), then how many more.
fn refusals(refused: &[(IpAddr, Refusal)]) -> String {
    const SHOWN: usize = 4;
    let mut out = refused
        .iter()
        .take(SHOWN)
        .map(|(ip, why)| format!("address {ip} refused: {}", why.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    if refused.len() > SHOWN {
        out.push_str(&format!(" and {} more", refused.len() - SHOWN));
    }
    out
}

/// Writes `findings` into the row, with their highest severity as `max_severity`.
fn set_findings(row: &mut DomainRow, findings: Vec<Finding>) {
    row.max_severity = findings
        .iter()
        .map(|f| f.severity)
        .min()
        .map(|s| s.as_str().to_owned());
    row.findings = findings
        .into_iter()
        .map(|f| FindingRow {
            code: f.code.to_owned(),
            severity: f.severity.as_str().to_owned(),
            message: f.message,
        })
        .collect();
}

/// TXT RRs as text (character-strings concatenated, lossy UTF-8).
fn txt_strings(l: &Lookup<Vec<Vec<u8>>>) -> Vec<String> {
    l.records
        .iter()
        .map(|rr| String::from_utf8_lossy(&rr.concat()).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_mx_record_pointing_at_an_alias_is_flagged() {
        let chain = vec!["real.test".to_owned()];
        assert_eq!(mx_alias("hosts", &chain), Some(true));
        assert_eq!(mx_alias("hosts", &[]), Some(false));
        assert_eq!(mx_alias("implicit", &chain), None);
    }

    /// The refused addresses of a policy host are named, a bounded number of them.
    #[test]
    fn refused_policy_addresses_are_named_and_bounded() {
        let one = [("10.1.2.3".parse().unwrap(), Refusal::Private)];
        assert_eq!(refusals(&one), "address 10.1.2.3 refused: private");
        let many: Vec<(IpAddr, Refusal)> = (1..=6u8)
            .map(|i| (IpAddr::from([10, 0, 0, i]), Refusal::Private))
            .collect();
        let text = refusals(&many);
        assert!(text.starts_with("address 10.0.0.1 refused: private, address 10.0.0.2"));
        assert!(
            text.ends_with("address 10.0.0.4 refused: private and 2 more"),
            "{text}"
        );
    }
}
