//! [`ScanResolver`]: the `reqwest::dns::Resolve` implementation used by the policy fetch.
//!
//! It resolves through the scan's [`Dns`] (so one `--resolver` flag points the whole scan at
//! one resolver, and policy hosts share the address cache) and applies the
//! [`AddressPolicy`] to every address of every answer: refused addresses are dropped, and if
//! none is left the resolution fails with a [`ResolveError`] saying why. The error is a typed
//! value so the fetch layer can classify it (find it with `std::error::Error::source` /
//! `downcast_ref` on reqwest's error chain): a DNS status (`host-not-found` for `nxdomain` /
//! `nodata`, `dns-error` otherwise) or a refusal.
//!
//! Note: reqwest does not call a resolver for URLs whose host is an IP literal; callers must
//! check such addresses with [`AddressPolicy::check`] themselves.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{AddressPolicy, Dns, DnsStatus, IpVersion, Refusal};

/// Why a host name could not be turned into connectable addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The DNS lookup gave no address: the combined status (`nxdomain`, `nodata`, `servfail`,
    /// `timeout`, …) and its detail.
    Dns {
        /// Combined A/AAAA status.
        status: DnsStatus,
        /// Free-text detail.
        detail: Option<String>,
    },
    /// Every address was refused by the [`AddressPolicy`]; the refusal of the first one.
    Refused {
        /// The first address.
        addr: std::net::IpAddr,
        /// Why it was refused.
        refusal: Refusal,
    },
}

impl ResolveError {
    /// The host has no address at all (`nxdomain` or `nodata` for every family asked): the
    /// fetch outcome `host-not-found`; other DNS statuses are `dns-error`.
    pub fn is_host_not_found(&self) -> bool {
        matches!(self, ResolveError::Dns { status, .. } if status.is_negative())
    }

    /// Finds a `ResolveError` in an error's `source()` chain (e.g. a `reqwest::Error`).
    pub fn find_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a ResolveError> {
        let mut cur = Some(err);
        // bounded: error chains are short; 32 links is far beyond any real one
        for _ in 0..32 {
            let e = cur?;
            if let Some(r) = e.downcast_ref::<ResolveError>() {
                return Some(r);
            }
            cur = e.source();
        }
        None
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Dns { status, detail } => match detail {
                Some(d) => write!(f, "DNS {status}: {d}"),
                None => write!(f, "DNS {status}"),
            },
            ResolveError::Refused { addr, refusal } => {
                write!(f, "address {addr} refused: {refusal}")
            }
        }
    }
}

impl std::error::Error for ResolveError {}

/// A reqwest resolver over the scan's [`Dns`] and [`AddressPolicy`].
#[derive(Debug, Clone)]
pub struct ScanResolver {
    dns: Dns,
    policy: Arc<AddressPolicy>,
    version: IpVersion,
}

impl ScanResolver {
    /// A resolver asking for `version` addresses and keeping those `policy` allows.
    pub fn new(dns: Dns, policy: Arc<AddressPolicy>, version: IpVersion) -> Self {
        ScanResolver {
            dns,
            policy,
            version,
        }
    }

    /// Resolves `host` to the allowed socket addresses (port 0: reqwest fills in the port).
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let res = self.dns.addresses(host, self.version).await;
        let l = &res.lookup;
        if l.records.is_empty() {
            let status = if l.status == DnsStatus::NoError {
                DnsStatus::NoData
            } else {
                l.status
            };
            return Err(ResolveError::Dns {
                status,
                detail: l.detail.clone(),
            });
        }
        let mut first_refusal = None;
        let mut out = Vec::with_capacity(l.records.len());
        for ip in &l.records {
            match self.policy.check(*ip) {
                Ok(()) => out.push(SocketAddr::new(*ip, 0)),
                Err(r) => {
                    first_refusal.get_or_insert((*ip, r));
                }
            }
        }
        match (out.is_empty(), first_refusal) {
            (true, Some((addr, refusal))) => Err(ResolveError::Refused { addr, refusal }),
            _ => Ok(out),
        }
    }
}

impl Resolve for ScanResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            match this.resolve_host(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(e) => Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}
