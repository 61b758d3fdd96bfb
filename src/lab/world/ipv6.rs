//! [`Ipv6Loopback`]: any world, plus chosen host names on `::1`, the one IPv6 loopback
//! address, for IPv6 tests (`--ip-version 6|both`).
//!
//! Names given to [`Ipv6Loopback::smtp`] or [`Ipv6Loopback::https`] get an `AAAA ::1`
//! answer (their A answers are the inner world's), and `::1` is listed as an SMTP and/or
//! HTTPS listener. On `::1` the SMTP service behaves as the inner world's SMTP host at the
//! first A address of the first SMTP name (personality and per-SNI certificate), and the
//! HTTPS service as the inner world's HTTPS host at the first A address of the first HTTPS
//! name. Every other call is the inner world's.
//!
//! `::1` is a single address shared by every process on the machine, so the lab binds it on
//! the lab's own service ports: a test that serves `::1` starts its lab on ports it chose
//! for itself (see [`crate::lab::server::Ports`]), never on the standard ones.
//!
//! This module only adds answers and listeners; it does not change what the inner world
//! declares as truth (the truth lists IPv4 addresses only).

use std::net::{IpAddr, Ipv6Addr};

use hickory_proto::rr::RecordType;

use crate::lab::model::{
    CertSpec, DnsOutcome, DnsReply, HttpBehaviour, LabRData, LabRecord, Listeners, SmtpPersonality,
    World,
};

/// TTL of the added AAAA records.
const TTL: u32 = 300;

/// A world with some host names also on `::1`.
#[derive(Debug, Clone)]
pub struct Ipv6Loopback<W> {
    inner: W,
    smtp_names: Vec<String>,
    https_names: Vec<String>,
}

impl<W: World> Ipv6Loopback<W> {
    /// `inner` with nothing on `::1` yet.
    pub fn new(inner: W) -> Self {
        Ipv6Loopback {
            inner,
            smtp_names: Vec::new(),
            https_names: Vec::new(),
        }
    }

    /// Puts MX host `name` on `::1` (AAAA); `::1` serves SMTP as the first such name's
    /// IPv4 host.
    pub fn smtp(mut self, name: &str) -> Self {
        self.smtp_names.push(normalize(name));
        self
    }

    /// Puts policy host `name` (`mta-sts.D`) on `::1` (AAAA); `::1` serves HTTPS as the
    /// first such name's IPv4 host.
    pub fn https(mut self, name: &str) -> Self {
        self.https_names.push(normalize(name));
        self
    }

    /// The inner world.
    pub fn inner(&self) -> &W {
        &self.inner
    }

    /// The inner world's address whose behaviour `::1` copies for `names`.
    fn mirrored(&self, names: &[String]) -> Option<IpAddr> {
        let name = names.first()?;
        match self.inner.dns(name, RecordType::A).outcome {
            DnsOutcome::Answer { records, .. } => records.iter().find_map(|r| match r.data {
                LabRData::A(a) => Some(IpAddr::V4(a)),
                _ => None,
            }),
            _ => None,
        }
    }

    fn on_v6(&self, name: &str) -> bool {
        self.smtp_names
            .iter()
            .chain(&self.https_names)
            .any(|n| n == name)
    }

    /// The inner address standing in for `addr` for a service of `names`.
    fn as_inner(&self, addr: IpAddr, names: &[String]) -> IpAddr {
        if addr == IpAddr::V6(Ipv6Addr::LOCALHOST) {
            if let Some(a) = self.mirrored(names) {
                return a;
            }
        }
        addr
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl<W: World> World for Ipv6Loopback<W> {
    fn dns(&self, qname: &str, qtype: RecordType) -> DnsReply {
        let inner = self.inner.dns(qname, qtype);
        let q = normalize(qname);
        if qtype != RecordType::AAAA || !self.on_v6(&q) {
            return inner;
        }
        let record = LabRecord {
            name: q,
            ttl: TTL,
            data: LabRData::Aaaa(Ipv6Addr::LOCALHOST),
        };
        DnsReply {
            outcome: DnsOutcome::Answer {
                records: vec![record],
                truncate_udp: false,
            },
            delay: inner.delay,
            drop_rate: inner.drop_rate,
        }
    }

    fn listeners(&self) -> Listeners {
        let mut l = self.inner.listeners();
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        if !self.smtp_names.is_empty() && !l.smtp.contains(&v6) {
            l.smtp.push(v6);
        }
        if !self.https_names.is_empty() && !l.https.contains(&v6) {
            l.https.push(v6);
        }
        l
    }

    fn https_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec {
        self.inner
            .https_cert(self.as_inner(addr, &self.https_names), sni)
    }

    fn https_response(
        &self,
        addr: IpAddr,
        sni: Option<&str>,
        host: Option<&str>,
        path: &str,
    ) -> HttpBehaviour {
        self.inner
            .https_response(self.as_inner(addr, &self.https_names), sni, host, path)
    }

    fn smtp_personality(&self, addr: IpAddr) -> SmtpPersonality {
        self.inner
            .smtp_personality(self.as_inner(addr, &self.smtp_names))
    }

    fn smtp_cert(&self, addr: IpAddr, sni: Option<&str>) -> CertSpec {
        self.inner
            .smtp_cert(self.as_inner(addr, &self.smtp_names), sni)
    }
}
