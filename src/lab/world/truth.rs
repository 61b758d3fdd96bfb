//! The ground truth (`docs/ground-truth.md`): for each domain, what an RFC-exact scanner must
//! observe, derived from the domain's [`Spec`](super::spec::Spec) by the declarations of [`super::spec`] — never
//! by parsing what is served. Writers live in [`super::write`].

use serde::Serialize;

use super::DomainEntry;
use super::hosts::{Context, policy_patterns};
use super::spec::{Fault, PolicyHost, PolicyHttp, TxtSetup};
use super::vocab::{
    CertVerdict, DnsStatus, MxKind, PolicyFetch, PolicyMode, SmtpOutcome, TxtState,
};

/// The policy body size limit (RFC 8461 §3.3 recommends 64 KiB).
pub const POLICY_LIMIT: usize = 65_536;

/// Ground truth of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainTruth {
    /// A-label, lowercase, no trailing dot.
    pub domain: String,
    /// The scenario name (`custom` for a custom spec).
    pub scenario: &'static str,
    /// State of the `_mta-sts` TXT lookup.
    pub sts_txt: TxtState,
    /// DNS status of the `_mta-sts` TXT query.
    pub sts_txt_dns: DnsStatus,
    /// The `id` when `sts_txt = valid`.
    pub sts_id: Option<String>,
    /// Outcome of the policy fetch.
    pub policy_fetch: PolicyFetch,
    /// HTTP status when a response was received.
    pub policy_http_status: Option<u16>,
    /// Certificate verdict of `mta-sts.D` when a handshake completed.
    pub policy_cert: Option<CertVerdict>,
    /// The body is a valid policy (when `policy_fetch = ok`).
    pub policy_valid: Option<bool>,
    /// Mode when `policy_valid`.
    pub policy_mode: Option<PolicyMode>,
    /// max_age when `policy_valid`.
    pub policy_max_age: Option<u32>,
    /// The `mx` patterns as written when `policy_valid`.
    pub policy_mx: Option<Vec<String>>,
    /// Shape of the MX RRset.
    pub mx_kind: MxKind,
    /// State of the `_smtp._tls` TXT lookup.
    pub tlsrpt: TxtState,
    /// The rua URIs when `tlsrpt = valid`.
    pub tlsrpt_rua: Option<Vec<String>>,
    /// `sts_txt = valid` and `policy_fetch = ok` and `policy_cert = valid` and `policy_valid`.
    pub policy_usable: bool,
    /// When `policy_usable`: some MX matches a pattern, and its probe is `ok` with
    /// `mx_cert = valid`.
    pub enforce_deliverable: Option<bool>,
    /// One row per MX host.
    pub mx: Vec<MxTruth>,
}

/// Ground truth of one MX host of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MxTruth {
    /// The MX target (the domain itself for an implicit MX).
    pub mx_host: String,
    /// MX preference (0 for an implicit MX).
    pub mx_preference: u16,
    /// The addresses, sorted.
    pub mx_addresses: Vec<String>,
    /// When `policy_valid`: the host matches a policy pattern (RFC 8461 §4.1).
    pub mx_policy_match: Option<bool>,
    /// Probe outcome.
    pub smtp: SmtpOutcome,
    /// STARTTLS advertised in the EHLO reply (None if EHLO never answered).
    pub starttls: Option<bool>,
    /// Certificate verdict for the host name when a handshake completed.
    pub mx_cert: Option<CertVerdict>,
    /// Plaintext pipelined after `220` to STARTTLS (None if STARTTLS never got `220`).
    pub starttls_injection: Option<bool>,
}

fn lookup(fault: Fault, setup: &TxtSetup) -> (TxtState, DnsStatus) {
    match fault {
        Fault::ServFail => (TxtState::LookupFailed, DnsStatus::Servfail),
        Fault::Refused => (TxtState::LookupFailed, DnsStatus::Refused),
        Fault::Timeout => (TxtState::LookupFailed, DnsStatus::Timeout),
        Fault::None | Fault::TruncateUdp => {
            let dns = if setup.nxdomain {
                DnsStatus::Nxdomain
            } else if setup.records.is_empty() {
                DnsStatus::Nodata
            } else {
                DnsStatus::Noerror
            };
            (setup.state, dns)
        }
    }
}

impl DomainTruth {
    /// Derives the truth of `domain` configured as `entry` in `ctx`.
    pub fn derive(ctx: &Context, domain: &str, entry: &DomainEntry) -> DomainTruth {
        let spec = &entry.spec;
        let sts = spec.sts_setup(domain);
        let (sts_txt, sts_txt_dns) = lookup(spec.sts_fault, &sts);
        let tagged = sts.tagged && sts_txt != TxtState::LookupFailed;
        let rpt = spec.tlsrpt.setup(domain);
        let (tlsrpt, _) = lookup(spec.tlsrpt_fault, &rpt);
        let set = ctx.mx_set(domain, spec.mx);
        let mx_kind = match spec.mx_fault {
            Fault::ServFail | Fault::Refused | Fault::Timeout => MxKind::LookupFailed,
            Fault::None | Fault::TruncateUdp => set.kind,
        };

        let mut fetch = PolicyFetch::NotAttempted;
        let mut status = None;
        let mut cert = None;
        let mut valid = None;
        let mut mode = None;
        let mut max_age = None;
        let mut pmx = None;
        let mut covered = vec![false; set.hosts.len()];
        if tagged {
            fetch = match spec.host {
                PolicyHost::NoAddress => PolicyFetch::HostNotFound,
                PolicyHost::DnsError => PolicyFetch::DnsError,
                PolicyHost::Refused => PolicyFetch::ConnectRefused,
                PolicyHost::Blackhole => PolicyFetch::ConnectTimeout,
                PolicyHost::HandshakeRefused => PolicyFetch::TlsError,
                PolicyHost::Served { cert: c, http } => {
                    cert = Some(c.verdict());
                    match http {
                        PolicyHttp::Serve { body, .. } => {
                            status = Some(200);
                            let (pats, cov) = policy_patterns(body.mx, domain, &set);
                            let r = body.render(&pats);
                            valid = Some(r.valid);
                            if r.valid {
                                mode = r.mode;
                                max_age = r.max_age;
                                pmx = Some(r.mx);
                                covered = cov;
                            }
                            if r.body.len() > POLICY_LIMIT {
                                PolicyFetch::TooLarge
                            } else {
                                PolicyFetch::Ok
                            }
                        }
                        PolicyHttp::Status(s) => {
                            status = Some(s);
                            PolicyFetch::HttpStatus
                        }
                        PolicyHttp::Redirect(s) => {
                            status = Some(s);
                            PolicyFetch::Redirect
                        }
                        PolicyHttp::TooLarge(_) => {
                            status = Some(200);
                            PolicyFetch::TooLarge
                        }
                        PolicyHttp::Stall => PolicyFetch::Timeout,
                        PolicyHttp::Close => PolicyFetch::ConnectionClosed,
                    }
                }
            };
        }
        let policy_valid = valid == Some(true);
        let policy_usable = sts_txt == TxtState::Valid
            && fetch == PolicyFetch::Ok
            && cert == Some(CertVerdict::Valid)
            && policy_valid;

        let mx: Vec<MxTruth> = set
            .hosts
            .iter()
            .zip(&covered)
            .map(|(h, cov)| {
                let mut addrs: Vec<String> = h.addresses.iter().map(|a| a.to_string()).collect();
                addrs.sort();
                MxTruth {
                    mx_host: h.name.clone(),
                    mx_preference: h.preference,
                    mx_addresses: addrs,
                    mx_policy_match: policy_valid.then_some(*cov),
                    smtp: h.probe.smtp,
                    starttls: h.probe.starttls,
                    mx_cert: h.probe.cert,
                    starttls_injection: h.probe.injection,
                }
            })
            .collect();
        // With a failed MX lookup the scanner knows no hosts.
        let mx = if mx_kind == MxKind::LookupFailed {
            Vec::new()
        } else {
            mx
        };
        // ... and whether a sender could deliver is unknown (the failure is DNS, not MTA-STS).
        let enforce_deliverable = (policy_usable && mx_kind != MxKind::LookupFailed).then(|| {
            mx.iter().any(|m| {
                m.mx_policy_match == Some(true)
                    && m.smtp == SmtpOutcome::Ok
                    && m.mx_cert == Some(CertVerdict::Valid)
            })
        });
        DomainTruth {
            domain: domain.to_owned(),
            scenario: entry.scenario,
            sts_txt,
            sts_txt_dns,
            sts_id: (sts_txt == TxtState::Valid)
                .then(|| sts.id.clone())
                .flatten(),
            policy_fetch: fetch,
            policy_http_status: status,
            policy_cert: cert,
            policy_valid: valid,
            policy_mode: mode,
            policy_max_age: max_age,
            policy_mx: pmx,
            mx_kind,
            tlsrpt,
            tlsrpt_rua: (tlsrpt == TxtState::Valid).then(|| rpt.rua.clone()),
            policy_usable,
            enforce_deliverable,
            mx,
        }
    }

    /// A TXT RR beginning with `v=STSv1` was seen (the policy fetch is attempted).
    pub fn sts_tagged(&self) -> bool {
        self.policy_fetch != PolicyFetch::NotAttempted
    }

    /// Delivery-breaking: a usable enforce policy under which no MX would receive mail.
    pub fn delivery_breaking(&self) -> bool {
        self.policy_mode == Some(PolicyMode::Enforce) && self.enforce_deliverable == Some(false)
    }
}
