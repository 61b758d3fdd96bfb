//! The lab servers speak the real protocols: DNS (every `DnsOutcome`, TC → TCP, multi-string
//! TXT, CNAME chains, NXDOMAIN after a CNAME, null MX, delays, random drops), HTTPS (every `HttpBehaviour`, certificate variants)
//! and SMTP (every `SmtpPersonality`, STARTTLS), checked with our own clients here and with
//! dig/kdig/curl/openssl in [`tools`]. Each test starts its own lab on its own `127.B.0.0/16`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod client;
mod perf;
mod tools;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hickory_proto::rr::RecordType;
use stsscan::lab::model::{
    BodyFraming, CertSpec, CertVariant, DnsOutcome, DnsReply, DropRate, HttpBehaviour,
    HttpResponse, LabRData, LabRecord, Listeners, SmtpPersonality, World,
};
use stsscan::lab::server::{AddressBlock, Lab, LabOptions};

/// The policy body served for `mta-sts.valid.test`.
pub(crate) const POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx.valid.test\r\nmax_age: 86400\r\n";
/// Size of the chunked body served for `chunked.test` (over 64 KiB).
pub(crate) const CHUNKED_LEN: usize = 100 * 1024;
/// Injected DNS delay for `delay.test`.
pub(crate) const DNS_DELAY: Duration = Duration::from_millis(400);

/// Every personality, one SMTP address each: `127.B.2.(index+1)`.
pub(crate) const PERSONALITIES: &[SmtpPersonality] = &[
    SmtpPersonality::Normal,
    SmtpPersonality::NoStarttls,
    SmtpPersonality::StarttlsRefused,
    SmtpPersonality::HandshakeAbort,
    SmtpPersonality::LegacyTlsOnly,
    SmtpPersonality::MultilineGreeting,
    SmtpPersonality::SlowGreeting { delay_ms: 300 },
    SmtpPersonality::Tarpit { interval_ms: 20 },
    SmtpPersonality::ConnectionLimit { limit: 1 },
    SmtpPersonality::RejectGreeting,
    SmtpPersonality::TempFailGreeting,
    SmtpPersonality::Garbage,
    SmtpPersonality::EndlessContinuation,
    SmtpPersonality::PipelinedAfterStarttls,
    SmtpPersonality::CloseAfterEhlo,
    SmtpPersonality::HeloOnly,
    SmtpPersonality::LateInjectionAfterStarttls,
    SmtpPersonality::RejectEhloAndHelo,
    SmtpPersonality::CloseAfterTls,
    SmtpPersonality::RejectEhloAfterTls,
];

/// The DNS names answered with a random drop rate, and the rate.
pub(crate) const DROP_NAMES: &[(&str, f64)] = &[
    ("drop0.test", 0.0),
    ("drop50.test", 0.5),
    ("dropall.test", 1.0),
];

/// A small explicit world, written against the trait directly.
pub(crate) struct TestWorld {
    pub(crate) b: AddressBlock,
}

impl TestWorld {
    /// The one HTTPS address.
    pub(crate) fn https_ip(&self) -> IpAddr {
        IpAddr::V4(self.b.addr(1, 1))
    }

    /// The black hole (HTTPS and SMTP ports never answer a connection attempt).
    pub(crate) fn blackhole_ip(&self) -> IpAddr {
        IpAddr::V4(self.b.addr(3, 1))
    }

    /// The SMTP address of `p`.
    pub(crate) fn smtp_ip(&self, p: SmtpPersonality) -> IpAddr {
        let i = PERSONALITIES.iter().position(|x| *x == p).unwrap_or(0);
        IpAddr::V4(self.b.addr(2, u8::try_from(i + 1).unwrap_or(1)))
    }

    fn rec(name: &str, data: LabRData) -> LabRecord {
        LabRecord {
            name: name.to_owned(),
            ttl: 300,
            data,
        }
    }

    fn answer(records: Vec<LabRecord>) -> DnsReply {
        DnsReply::now(DnsOutcome::Answer {
            records,
            truncate_udp: false,
        })
    }
}

fn txt(s: &str) -> LabRData {
    LabRData::Txt(vec![s.as_bytes().to_vec()])
}

impl World for TestWorld {
    fn dns(&self, qname: &str, qtype: RecordType) -> DnsReply {
        let https = self.b.addr(1, 1);
        let r = Self::rec;
        match (qname, qtype) {
            ("_mta-sts.valid.test", RecordType::TXT) => {
                Self::answer(vec![r(qname, txt("v=STSv1; id=20260101;"))])
            }
            ("mta-sts.valid.test", RecordType::A) => {
                Self::answer(vec![r(qname, LabRData::A(https))])
            }
            ("valid.test", RecordType::MX) => Self::answer(vec![r(
                qname,
                LabRData::Mx {
                    preference: 10,
                    exchange: "mx.valid.test".into(),
                },
            )]),
            ("mx.valid.test", RecordType::A) => {
                Self::answer(vec![r(qname, LabRData::A(self.b.addr(2, 1)))])
            }
            ("multi.test", RecordType::TXT) => Self::answer(vec![r(
                qname,
                LabRData::Txt(vec![
                    b"v=STSv1; ".to_vec(),
                    b"id=multi1;".to_vec(),
                    Vec::new(),
                ]),
            )]),
            ("cname.test", _) => Self::answer(vec![
                r("cname.test", LabRData::Cname("hop.vendor.test".into())),
                r(
                    "hop.vendor.test",
                    LabRData::Cname("final.vendor.test".into()),
                ),
                r("final.vendor.test", txt("v=STSv1; id=vendor;")),
            ]),
            ("nullmx.test", RecordType::MX) => Self::answer(vec![r(
                qname,
                LabRData::Mx {
                    preference: 0,
                    exchange: String::new(),
                },
            )]),
            ("nx.test", _) => DnsReply::now(DnsOutcome::NxDomain),
            ("servfail.test", _) => DnsReply::now(DnsOutcome::ServFail),
            ("refused.test", _) => DnsReply::now(DnsOutcome::Refused),
            ("drop.test", _) => DnsReply::now(DnsOutcome::Drop),
            ("tc.test", RecordType::TXT) => DnsReply::now(DnsOutcome::Answer {
                records: vec![r(qname, txt("v=STSv1; id=truncated;"))],
                truncate_udp: true,
            }),
            ("big.test", RecordType::TXT) => Self::answer(
                (0..8)
                    .map(|i| r(qname, LabRData::Txt(vec![vec![b'a' + i; 100]])))
                    .collect(),
            ),
            ("delay.test", RecordType::A) => DnsReply {
                outcome: DnsOutcome::Answer {
                    records: vec![r(qname, LabRData::A(https))],
                    truncate_udp: false,
                },
                delay: DNS_DELAY,
                drop_rate: DropRate::NONE,
            },
            (name, RecordType::A) if DROP_NAMES.iter().any(|(n, _)| *n == name) => {
                let rate = DROP_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, p)| DropRate::from_probability(*p))
                    .unwrap();
                DnsReply {
                    drop_rate: rate,
                    ..Self::answer(vec![r(qname, LabRData::A(https))])
                }
            }
            ("dangling.test", _) => DnsReply::now(DnsOutcome::NxDomainAfterCname {
                records: vec![
                    r("dangling.test", LabRData::Cname("hop.vendor.test".into())),
                    r(
                        "hop.vendor.test",
                        LabRData::Cname("gone.vendor.test".into()),
                    ),
                ],
            }),
            (
                "mta-sts.valid.test" | "valid.test" | "mx.valid.test" | "multi.test"
                | "nullmx.test" | "tc.test" | "big.test" | "delay.test",
                _,
            ) => Self::answer(Vec::new()),
            _ => DnsReply::now(DnsOutcome::NxDomain),
        }
    }

    fn listeners(&self) -> Listeners {
        Listeners {
            https: vec![self.https_ip()],
            smtp: PERSONALITIES.iter().map(|p| self.smtp_ip(*p)).collect(),
            blackhole: vec![self.blackhole_ip()],
        }
    }

    fn https_cert(&self, _addr: IpAddr, sni: Option<&str>) -> CertSpec {
        let name = sni.unwrap_or("mta-sts.valid.test").to_owned();
        let variant = match name.as_str() {
            "expired.test" => CertVariant::Expired,
            "notyet.test" => CertVariant::NotYetValid,
            "selfsigned.test" => CertVariant::SelfSigned,
            "unknownca.test" => CertVariant::UnknownCa,
            "nointermediate.test" => CertVariant::MissingIntermediate,
            "expiring.test" => CertVariant::ExpiresInDays(10),
            "nocert.test" => CertVariant::NoCertificate,
            _ => CertVariant::Valid,
        };
        if name == "wrongname.test" {
            return CertSpec {
                names: vec!["www.wrongname.test".into()],
                variant,
            };
        }
        CertSpec {
            names: vec![name],
            variant,
        }
    }

    fn https_response(
        &self,
        _addr: IpAddr,
        sni: Option<&str>,
        host: Option<&str>,
        path: &str,
    ) -> HttpBehaviour {
        let ok = |ct: &str, body: Bytes, framing| {
            HttpBehaviour::Respond(HttpResponse {
                status: 200,
                headers: vec![("Content-Type".into(), ct.into())],
                body,
                framing,
            })
        };
        match host {
            Some("stall.test") => HttpBehaviour::Stall,
            Some("close.test") => HttpBehaviour::Close,
            Some("chunked.test") => ok(
                "text/plain",
                Bytes::from(
                    (0..CHUNKED_LEN)
                        .map(|i| b'a' + (i % 26) as u8)
                        .collect::<Vec<_>>(),
                ),
                BodyFraming::Chunked,
            ),
            Some("redirect.test") => HttpBehaviour::Respond(HttpResponse {
                status: 301,
                headers: vec![(
                    "Location".into(),
                    "https://mta-sts.valid.test/.well-known/mta-sts.txt".into(),
                )],
                body: Bytes::new(),
                framing: BodyFraming::ContentLength,
            }),
            Some("echo.test") => ok(
                "text/plain",
                Bytes::from(format!("sni={sni:?} host={host:?} path={path}")),
                BodyFraming::ContentLength,
            ),
            _ if path == "/.well-known/mta-sts.txt" => ok(
                "text/plain",
                Bytes::from_static(POLICY.as_bytes()),
                BodyFraming::ContentLength,
            ),
            _ => HttpBehaviour::Respond(HttpResponse {
                status: 404,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: Bytes::from_static(b"<html>not found</html>"),
                framing: BodyFraming::ContentLength,
            }),
        }
    }

    fn smtp_personality(&self, addr: IpAddr) -> SmtpPersonality {
        match addr {
            IpAddr::V4(v4) => {
                let i = usize::from(v4.octets()[3]).saturating_sub(1);
                PERSONALITIES
                    .get(i)
                    .copied()
                    .unwrap_or(SmtpPersonality::Normal)
            }
            IpAddr::V6(_) => SmtpPersonality::Normal,
        }
    }

    fn smtp_cert(&self, _addr: IpAddr, sni: Option<&str>) -> CertSpec {
        CertSpec {
            names: vec!["mx.valid.test".into(), "*.mx.test".into()],
            variant: if sni == Some("expired.mx.test") {
                CertVariant::Expired
            } else {
                CertVariant::Valid
            },
        }
    }
}

/// Starts a lab serving [`TestWorld`] with default options (random block; port 53/443/25 as
/// root, 10053/10443/10025 otherwise).
pub(crate) async fn lab() -> (Lab, Arc<TestWorld>) {
    let mut made = None;
    let lab = stsscan::lab::server::start(
        |b| {
            let w = Arc::new(TestWorld { b });
            made = Some(Arc::clone(&w));
            w as Arc<dyn World>
        },
        LabOptions::default(),
    )
    .await
    .unwrap();
    (lab, made.unwrap())
}

mod dns_tests;
mod https_tests;
mod smtp_tests;
