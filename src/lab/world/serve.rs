//! [`LabWorld`]: turns a [`DomainSource`] (explicit or generated domains, each with a
//! [`Spec`]) into the [`World`] the lab servers call — DNS answers, listener addresses,
//! certificates, HTTP responses and SMTP personalities — without per-domain state.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use hickory_proto::rr::RecordType;

use super::hosts::{Context, HostServer, MxSet, policy_patterns};
use super::providers::{
    AddrRole, GOOGLE_CERT, GOOGLE_MX, MS_SUFFIX, MS_WILDCARD, STS_VENDOR_SUFFIX,
};
use super::spec::{Fault, MxLayout, PolicyHost, PolicyHttp, Spec, TxtSetup, oversized_policy};
use super::truth::DomainTruth;
use super::{DomainEntry, DomainSource};
use crate::lab::model::{
    BodyFraming, CertSpec, CertVariant, DnsOutcome, DnsReply, DropRate, HttpBehaviour,
    HttpResponse, LabRData, LabRecord, Listeners, SmtpPersonality, World,
};

/// The path of the MTA-STS policy (RFC 8461 §3.3).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";
const TTL: u32 = 300;

/// A world: a source of domains placed on a topology.
#[derive(Debug, Clone)]
pub struct LabWorld<S> {
    source: S,
    ctx: Context,
    dns_delay: Duration,
    dns_drop: DropRate,
    epoch: u32,
}

impl<S: DomainSource> LabWorld<S> {
    /// A world serving `source` in `ctx`.
    pub fn new(source: S, ctx: Context) -> Self {
        LabWorld {
            source,
            ctx,
            dns_delay: Duration::ZERO,
            dns_drop: DropRate::NONE,
            epoch: 0,
        }
    }

    /// The same world at a later `epoch` (0 is the start): "over time" scenarios apply their
    /// change from epoch 1 on (see [`super::Scenario::spec_at`]); every other domain is unchanged.
    pub fn at_epoch(mut self, epoch: u32) -> Self {
        self.epoch = epoch;
        self
    }

    /// The epoch this world is at.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The configuration of `domain` at this world's epoch.
    pub fn entry(&self, domain: &str) -> Option<DomainEntry> {
        let e = self.source.entry(domain)?;
        match e.origin {
            Some((s, p)) if self.epoch > 0 => Some(DomainEntry {
                spec: s.spec_at(p, self.epoch),
                ..e
            }),
            _ => Some(e),
        }
    }

    /// The same world answering every DNS query after `delay` (latency injection).
    pub fn with_dns_delay(mut self, delay: Duration) -> Self {
        self.dns_delay = delay;
        self
    }

    /// The same world dropping each DNS query (UDP or TCP) with probability `rate`, a fresh
    /// draw per query (packet loss: a client that retries gets through). The truth is
    /// unchanged: it describes what a scanner that retries enough observes.
    pub fn with_dns_drop_rate(mut self, rate: DropRate) -> Self {
        self.dns_drop = rate;
        self
    }

    /// The injected DNS delay and drop rate.
    pub fn dns_impairment(&self) -> (Duration, DropRate) {
        (self.dns_delay, self.dns_drop)
    }

    /// The domain source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The placement context (address plan and server classes).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The ground truth of `domain`, if it is in the world.
    pub fn truth(&self, domain: &str) -> Option<DomainTruth> {
        let e = self.entry(domain)?;
        Some(DomainTruth::derive(&self.ctx, domain, &e))
    }

    fn patterns(&self, domain: &str, spec: &Spec, pmx: super::spec::PolicyMx) -> Vec<String> {
        let set = self.ctx.mx_set(domain, spec.mx);
        policy_patterns(pmx, domain, &set).0
    }

    fn answer(&self, q: &str, t: RecordType) -> DnsOutcome {
        if let Some(o) = self.provider_answer(q, t) {
            return o;
        }
        if let Some(rest) = q.strip_suffix(STS_VENDOR_SUFFIX) {
            return self.vendor_answer(rest, t);
        }
        if let Some(d) = q.strip_prefix("_mta-sts.") {
            if let Some(e) = self.entry(d) {
                let setup = e.spec.sts_setup(d);
                let depth = e.spec.sts.cname_depth();
                return fault(e.spec.sts_fault, || {
                    if depth > 0 {
                        chain(q, d, 1, depth, &setup, t)
                    } else {
                        txt_answer(q, &setup, t)
                    }
                });
            }
        }
        if let Some(d) = q.strip_prefix("_smtp._tls.") {
            if let Some(e) = self.entry(d) {
                let setup = e.spec.tlsrpt.setup(d);
                return fault(e.spec.tlsrpt_fault, || txt_answer(q, &setup, t));
            }
        }
        if let Some(d) = q.strip_prefix("mta-sts.") {
            if let Some(e) = self.entry(d) {
                let addr = match e.spec.host {
                    PolicyHost::NoAddress => return DnsOutcome::NxDomain,
                    PolicyHost::DnsError => return DnsOutcome::ServFail,
                    PolicyHost::Refused => self.ctx.topo.refused_addr(q),
                    PolicyHost::Blackhole => self.ctx.topo.blackhole_addr(),
                    PolicyHost::Served { .. } | PolicyHost::HandshakeRefused => {
                        self.ctx.topo.policy_addr(d)
                    }
                };
                return addresses(q, &[addr], t);
            }
        }
        for prefix in ["mx.", "mx2.", "mail.", "a.b.mx."] {
            if let Some(d) = q.strip_prefix(prefix) {
                if let Some(e) = self.entry(d) {
                    if let Some(o) = self.host_answer(q, d, &e.spec, t) {
                        return o;
                    }
                }
            }
        }
        if let Some(e) = self.entry(q) {
            return self.apex_answer(q, &e, t);
        }
        DnsOutcome::NxDomain
    }

    fn provider_answer(&self, q: &str, t: RecordType) -> Option<DnsOutcome> {
        if let Some(k) = GOOGLE_MX.iter().position(|n| *n == q) {
            return Some(addresses(q, &[self.ctx.topo.google_addr(k)], t));
        }
        if q.ends_with(".gmail.lab") {
            return Some(DnsOutcome::NxDomain);
        }
        if let Some(tenant) = q.strip_suffix(MS_SUFFIX) {
            if !tenant.is_empty() && !tenant.contains('.') {
                return Some(addresses(q, &self.ctx.topo.ms_addrs(q), t));
            }
            return Some(DnsOutcome::NxDomain);
        }
        None
    }

    fn vendor_answer(&self, rest: &str, t: RecordType) -> DnsOutcome {
        let Some((d, hop)) = rest.rsplit_once('.') else {
            return DnsOutcome::NxDomain;
        };
        let Some(j) = hop.strip_prefix('c').and_then(|j| j.parse::<u8>().ok()) else {
            return DnsOutcome::NxDomain;
        };
        let Some(e) = self.entry(d) else {
            return DnsOutcome::NxDomain;
        };
        let depth = e.spec.sts.cname_depth();
        let setup = e.spec.sts_setup(d);
        if j == 0 || j > depth || setup.nxdomain {
            return DnsOutcome::NxDomain;
        }
        let q = vendor_name(d, j);
        chain(&q, d, j + 1, depth, &setup, t)
    }

    fn host_answer(&self, q: &str, d: &str, spec: &Spec, t: RecordType) -> Option<DnsOutcome> {
        let set = self.ctx.mx_set(d, spec.mx);
        for h in &set.hosts {
            if h.name == q {
                if let Some(target) = &h.alias_of {
                    let mut records = vec![rec(q, LabRData::Cname(target.clone()))];
                    if t == RecordType::A {
                        records.extend(h.addresses.iter().filter_map(|a| a_rec(target, *a)));
                    }
                    return Some(answer(records));
                }
                return Some(addresses(q, &h.addresses, t));
            }
            if h.alias_of.as_deref() == Some(q) {
                return Some(addresses(q, &h.addresses, t));
            }
        }
        None
    }

    fn apex_answer(&self, q: &str, e: &DomainEntry, t: RecordType) -> DnsOutcome {
        let spec = &e.spec;
        match t {
            RecordType::MX => fault(spec.mx_fault, || {
                let set = self.ctx.mx_set(q, spec.mx);
                answer(mx_records(q, &set, spec.mx))
            }),
            RecordType::A if spec.mx != MxLayout::NoMail => {
                addresses(q, &[self.ctx.topo.web_addr(q)], t)
            }
            _ => answer(Vec::new()),
        }
    }

    fn policy_domain<'a>(sni: Option<&'a str>, host: Option<&'a str>) -> Option<String> {
        let h = host
            .map(|h| h.rsplit_once(':').map_or(h, |(n, _)| n))
            .or(sni)?;
        let h = h.trim_end_matches('.').to_ascii_lowercase();
        h.strip_prefix("mta-sts.").map(str::to_owned)
    }
}

fn mx_records(q: &str, set: &MxSet, layout: MxLayout) -> Vec<LabRecord> {
    let mut v = Vec::new();
    if set.null {
        v.push(rec(
            q,
            LabRData::Mx {
                preference: 0,
                exchange: String::new(),
            },
        ));
    }
    if layout == MxLayout::Implicit {
        return v;
    }
    for h in &set.hosts {
        v.push(rec(
            q,
            LabRData::Mx {
                preference: h.preference,
                exchange: h.name.clone(),
            },
        ));
    }
    v
}

fn vendor_name(d: &str, j: u8) -> String {
    format!("{d}.c{j}{STS_VENDOR_SUFFIX}")
}

fn rec(name: &str, data: LabRData) -> LabRecord {
    LabRecord {
        name: name.to_owned(),
        ttl: TTL,
        data,
    }
}

fn a_rec(name: &str, a: IpAddr) -> Option<LabRecord> {
    match a {
        IpAddr::V4(v4) => Some(rec(name, LabRData::A(v4))),
        IpAddr::V6(_) => None,
    }
}

fn answer(records: Vec<LabRecord>) -> DnsOutcome {
    DnsOutcome::Answer {
        records,
        truncate_udp: false,
    }
}

fn addresses(q: &str, addrs: &[IpAddr], t: RecordType) -> DnsOutcome {
    if t == RecordType::A {
        answer(addrs.iter().filter_map(|a| a_rec(q, *a)).collect())
    } else {
        answer(Vec::new())
    }
}

fn txt_answer(q: &str, setup: &TxtSetup, t: RecordType) -> DnsOutcome {
    if setup.nxdomain {
        return DnsOutcome::NxDomain;
    }
    if t != RecordType::TXT {
        return answer(Vec::new());
    }
    answer(
        setup
            .records
            .iter()
            .map(|strings| rec(q, LabRData::Txt(strings.clone())))
            .collect(),
    )
}

/// The answer for `q`, the start of a CNAME chain whose next hop is `from` (1-based) and
/// whose last hop (`depth`) holds the records.
/// When the last hop does not exist (a dangling alias) the answer is NXDOMAIN with the CNAME
/// records (RFC 6604 §3: the RCODE is that of the last name of the chain).
fn chain(q: &str, d: &str, from: u8, depth: u8, setup: &TxtSetup, t: RecordType) -> DnsOutcome {
    let mut records = Vec::new();
    let mut owner = q.to_owned();
    for j in from..=depth {
        let next = vendor_name(d, j);
        records.push(rec(&owner, LabRData::Cname(next.clone())));
        owner = next;
    }
    if setup.nxdomain {
        return DnsOutcome::NxDomainAfterCname { records };
    }
    if t == RecordType::TXT {
        records.extend(
            setup
                .records
                .iter()
                .map(|s| rec(&owner, LabRData::Txt(s.clone()))),
        );
    }
    answer(records)
}

fn fault(f: Fault, ok: impl FnOnce() -> DnsOutcome) -> DnsOutcome {
    match f {
        Fault::None => ok(),
        Fault::ServFail => DnsOutcome::ServFail,
        Fault::Refused => DnsOutcome::Refused,
        Fault::Timeout => DnsOutcome::Drop,
        Fault::TruncateUdp => match ok() {
            DnsOutcome::Answer { records, .. } => DnsOutcome::Answer {
                records,
                truncate_udp: true,
            },
            other => other,
        },
    }
}

fn default_cert(name: &str) -> CertSpec {
    CertSpec {
        names: vec![name.to_owned()],
        variant: CertVariant::Valid,
    }
}

fn respond(
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    f: BodyFraming,
) -> HttpBehaviour {
    HttpBehaviour::Respond(HttpResponse {
        status,
        headers,
        body,
        framing: f,
    })
}

fn not_found() -> HttpBehaviour {
    respond(
        404,
        vec![("Content-Type".into(), "text/html".into())],
        Bytes::from_static(b"<html><body>404 Not Found</body></html>\n"),
        BodyFraming::ContentLength,
    )
}

impl<S: DomainSource> World for LabWorld<S> {
    fn dns(&self, qname: &str, qtype: RecordType) -> DnsReply {
        let q = qname.trim_end_matches('.').to_ascii_lowercase();
        DnsReply {
            outcome: self.answer(&q, qtype),
            delay: self.dns_delay,
            drop_rate: self.dns_drop,
        }
    }

    fn listeners(&self) -> Listeners {
        Listeners {
            https: self.ctx.topo.https_listeners(),
            smtp: self.ctx.topo.smtp_listeners(),
            blackhole: self.ctx.topo.blackhole_listeners(),
        }
    }

    fn https_cert(&self, _addr: IpAddr, sni: Option<&str>) -> CertSpec {
        let Some(d) = Self::policy_domain(sni, None) else {
            return default_cert("policy.lab");
        };
        match self.entry(&d).map(|e| e.spec.host) {
            Some(PolicyHost::Served { cert, .. }) => cert.cert_spec(&format!("mta-sts.{d}")),
            Some(PolicyHost::HandshakeRefused) => CertSpec {
                names: vec![format!("mta-sts.{d}")],
                variant: CertVariant::NoCertificate,
            },
            _ => default_cert("policy.lab"),
        }
    }

    fn https_response(
        &self,
        _addr: IpAddr,
        sni: Option<&str>,
        host: Option<&str>,
        path: &str,
    ) -> HttpBehaviour {
        let Some(d) = Self::policy_domain(sni, host) else {
            return not_found();
        };
        let Some(e) = self.entry(&d) else {
            return not_found();
        };
        let PolicyHost::Served { http, .. } = e.spec.host else {
            return not_found();
        };
        if path != POLICY_PATH {
            return not_found();
        }
        let html = || vec![("Content-Type".to_owned(), "text/html".to_owned())];
        match http {
            PolicyHttp::Serve {
                body,
                content_type,
                framing,
            } => {
                let pats = self.patterns(&d, &e.spec, body.mx);
                let headers = content_type
                    .header()
                    .map(|v| ("Content-Type".to_owned(), v.to_owned()))
                    .into_iter()
                    .collect();
                respond(200, headers, body.render(&pats).body, framing)
            }
            PolicyHttp::Status(s) => respond(
                s,
                html(),
                Bytes::from(format!("<html><body>Error {s}</body></html>\n")),
                BodyFraming::ContentLength,
            ),
            PolicyHttp::Redirect(s) => {
                let mut h = html();
                h.push((
                    "Location".to_owned(),
                    format!("https://www.{d}{POLICY_PATH}"),
                ));
                respond(
                    s,
                    h,
                    Bytes::from_static(b"<html><body>Moved</body></html>\n"),
                    BodyFraming::ContentLength,
                )
            }
            PolicyHttp::TooLarge(framing) => {
                let pats = self.patterns(&d, &e.spec, super::spec::PolicyMx::Cover);
                respond(
                    200,
                    vec![("Content-Type".to_owned(), "text/plain".to_owned())],
                    oversized_policy(&pats),
                    framing,
                )
            }
            PolicyHttp::Stall => HttpBehaviour::Stall,
            PolicyHttp::Close => HttpBehaviour::Close,
        }
    }

    fn smtp_personality(&self, addr: IpAddr) -> SmtpPersonality {
        match self.ctx.topo.role(addr) {
            AddrRole::Pool(k) => self
                .ctx
                .servers
                .get(k)
                .map_or(SmtpPersonality::Normal, |s| s.personality),
            _ => SmtpPersonality::Normal,
        }
    }

    fn smtp_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec {
        match self.ctx.topo.role(addr) {
            AddrRole::Google => CertSpec {
                names: GOOGLE_CERT.iter().map(|s| (*s).to_owned()).collect(),
                variant: CertVariant::Valid,
            },
            AddrRole::Microsoft => default_cert(MS_WILDCARD),
            AddrRole::Pool(k) => {
                let host = sni.map_or("mx.lab".to_owned(), |s| {
                    s.trim_end_matches('.').to_ascii_lowercase()
                });
                match self.ctx.servers.get(k) {
                    Some(s) => s.cert.cert_spec(&host),
                    None => default_cert(&host),
                }
            }
            AddrRole::Policy | AddrRole::Blackhole | AddrRole::Other => default_cert("mx.lab"),
        }
    }
}

/// Where the truth says a host's service is (used by tests to cross-check the topology).
pub fn host_role_matches(ctx: &Context, server: HostServer, addr: IpAddr) -> bool {
    match (server, ctx.topo.role(addr)) {
        (HostServer::Google(_), AddrRole::Google) => true,
        (HostServer::Microsoft, AddrRole::Microsoft) => true,
        (HostServer::Pool(k), AddrRole::Pool(j)) => k == j,
        (HostServer::Refused, AddrRole::Other) => true,
        (HostServer::Blackhole, AddrRole::Blackhole) => true,
        _ => false,
    }
}
