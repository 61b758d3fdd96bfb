//! The lab's DNS server: UDP and TCP on `127.B.0.53`, answering every query from
//! [`World::dns`]. Hand-written loops over hickory-proto's `Message` (rather than
//! hickory-server's handler) so that "no response", a TC-bit answer over UDP and injected delays
//! are exact and cheap.
//!
//! Wire behaviour per [`DnsOutcome`]: records → NOERROR with the records in order (a CNAME
//! chain as given); an empty list → NODATA (NOERROR, empty answer, an SOA in the authority
//! section); NXDOMAIN (with SOA) / SERVFAIL / REFUSED as RCODEs; `Drop` → nothing is sent;
//! `NxDomainAfterCname` → NXDOMAIN with the CNAME chain in the answer section and an SOA
//! (RFC 6604 §3: the RCODE is that of the last name of the chain);
//! `truncate_udp` → over UDP an empty answer with TC set, over TCP the full answer. A UDP answer
//! larger than the client's payload size (512 without EDNS) is also truncated (TC). Delays
//! never block the server (a sleeping task per delayed answer, at most [`MAX_DELAYED`] at once).
//! Responses set RA (the lab plays a recursive resolver) and echo RD and the question as
//! received. The server never panics on malformed input: undecodable queries are answered
//! FORMERR when a header can be read and ignored otherwise.
//!
//! Random loss: every decoded query is counted, then dropped (nothing sent, UDP or TCP) with
//! the probability [`DnsReply::drop_rate`](crate::lab::model::DnsReply::drop_rate) the world
//! gives for it. The draw is SipHash of the lab seed ([`LabOptions::seed`]), the query id,
//! name and type and the server's running query number — reproducible for a seeded lab and a
//! given order of queries, and fresh for every retry (a retry has a new number), so a client
//! that retries gets through. Drops are counted ([`Counters::dns_dropped`]).
//!
//! [`LabOptions::seed`]: super::LabOptions::seed

use std::hash::Hasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use siphasher::sip::SipHasher13;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use super::counters::Counters;
use super::net::{Shutdown, serve_connections};
use crate::lab::model::{DnsOutcome, DropRate, LabRData, LabRecord, World};

/// Delayed UDP answers pending at once; further delayed queries are dropped.
pub const MAX_DELAYED: usize = 8192;
/// Concurrent TCP connections served; further connections are closed at once.
pub const MAX_TCP_CONNS: usize = 1024;
/// A TCP connection idle this long is closed.
pub const TCP_IDLE: Duration = Duration::from_secs(10);
/// EDNS UDP payload size the lab advertises (and the cap it applies).
pub const EDNS_PAYLOAD: u16 = 1232;
/// TTL of the SOA in negative answers (also its MINIMUM field).
pub const NEGATIVE_TTL: u32 = 60;

/// Transport a query came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// Shared state of the DNS server.
pub(crate) struct DnsServer {
    pub(crate) world: Arc<dyn World>,
    pub(crate) counters: Arc<Counters>,
    /// Seed of the random drops.
    pub(crate) seed: u64,
    /// Queries seen so far (the per-query part of the drop draw).
    pub(crate) seq: AtomicU64,
}

/// The uniformly distributed draw deciding whether one query is dropped: SipHash-1-3 keyed by
/// `seed` over the query id, name, type and the query's sequence number `n`.
pub(crate) fn drop_draw(seed: u64, id: u16, qname: &str, qtype: RecordType, n: u64) -> u64 {
    let mut h = SipHasher13::new_with_keys(seed, 0x6c61_622d_6472_6f70);
    h.write_u16(id);
    h.write(qname.as_bytes());
    h.write_u16(u16::from(qtype));
    h.write_u64(n);
    h.finish()
}

/// Whether the query is dropped at `rate`.
pub(crate) fn dropped(
    rate: DropRate,
    seed: u64,
    id: u16,
    qname: &str,
    qtype: RecordType,
    n: u64,
) -> bool {
    !rate.is_none() && rate.drops(drop_draw(seed, id, qname, qtype, n))
}

impl DnsServer {
    /// Serves UDP on `sock` until shutdown. Several workers may share one socket.
    pub(crate) async fn serve_udp(self: Arc<Self>, sock: Arc<UdpSocket>, mut stop: Shutdown) {
        let mut delayed: JoinSet<()> = JoinSet::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = tokio::select! {
                () = stop.wait() => return,
                Some(_) = delayed.join_next(), if !delayed.is_empty() => continue,
                r = sock.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    // ICMP errors from earlier sends surface here on some systems; keep going.
                    Err(_) => continue,
                },
            };
            let Some(query) = buf.get(..n) else { continue };
            let Some((resp, delay)) = self.answer(query, Transport::Udp) else {
                continue;
            };
            if delay.is_zero() {
                let _ = sock.send_to(&resp, peer).await;
            } else if delayed.len() < MAX_DELAYED {
                let sock = Arc::clone(&sock);
                delayed.spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = sock.send_to(&resp, peer).await;
                });
            }
        }
    }

    /// Serves TCP on `listener` until shutdown.
    pub(crate) async fn serve_tcp(self: Arc<Self>, listener: TcpListener, stop: Shutdown) {
        serve_connections(listener, stop, MAX_TCP_CONNS, |stream| {
            let me = Arc::clone(&self);
            async move { me.tcp_conn(stream).await }
        })
        .await;
    }

    async fn tcp_conn(&self, mut stream: TcpStream) {
        let mut buf = vec![0u8; 65_535];
        loop {
            let mut len = [0u8; 2];
            match tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            let len = usize::from(u16::from_be_bytes(len));
            let Some(msg) = buf.get_mut(..len) else {
                return;
            };
            match tokio::time::timeout(TCP_IDLE, stream.read_exact(msg)).await {
                Ok(Ok(_)) => {}
                _ => return,
            }
            let Some((resp, delay)) = self.answer(msg, Transport::Tcp) else {
                continue;
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let Ok(rlen) = u16::try_from(resp.len()) else {
                return;
            };
            let mut out = Vec::with_capacity(resp.len() + 2);
            out.extend_from_slice(&rlen.to_be_bytes());
            out.extend_from_slice(&resp);
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    /// The encoded response to `query` and the delay before sending it; None: send nothing.
    fn answer(&self, query: &[u8], transport: Transport) -> Option<(Vec<u8>, Duration)> {
        let req = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) => {
                let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
                let resp = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
                return resp.to_vec().ok().map(|r| (r, Duration::ZERO));
            }
        };
        if req.metadata.message_type != MessageType::Query {
            return None;
        }
        let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.recursion_available = true;
        if let Some(edns) = &req.edns {
            let mut e = Edns::new();
            e.set_max_payload(EDNS_PAYLOAD);
            e.set_dnssec_ok(edns.flags().dnssec_ok);
            resp.set_edns(e);
        }
        if req.metadata.op_code != OpCode::Query {
            resp.metadata.response_code = ResponseCode::NotImp;
            return resp.to_vec().ok().map(|r| (r, Duration::ZERO));
        }
        let [q] = req.queries.as_slice() else {
            resp.metadata.response_code = ResponseCode::FormErr;
            return resp.to_vec().ok().map(|r| (r, Duration::ZERO));
        };
        resp.add_query(q.clone());
        let qname = qname_key(q.name());
        let qtype = q.query_type();
        self.counters.dns_query(&qname, qtype);
        let reply = self.world.dns(&qname, qtype);
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        if dropped(
            reply.drop_rate,
            self.seed,
            req.metadata.id,
            &qname,
            qtype,
            n,
        ) {
            self.counters.dns_drop(&qname, qtype);
            return None;
        }
        let truncate = match reply.outcome {
            DnsOutcome::Drop => return None,
            DnsOutcome::NxDomain => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.add_authority(soa_for(&qname));
                false
            }
            DnsOutcome::NxDomainAfterCname { records } => {
                resp.metadata.response_code = ResponseCode::NXDomain;
                let last = records
                    .iter()
                    .rev()
                    .find_map(|r| match &r.data {
                        LabRData::Cname(t) => Some(t.clone()),
                        _ => None,
                    })
                    .unwrap_or_else(|| qname.clone());
                resp.add_authority(soa_for(&last));
                match records.iter().map(to_record).collect::<Option<Vec<_>>>() {
                    Some(rrs) => {
                        resp.add_answers(rrs);
                    }
                    None => resp.metadata.response_code = ResponseCode::ServFail,
                }
                false
            }
            DnsOutcome::ServFail => {
                resp.metadata.response_code = ResponseCode::ServFail;
                false
            }
            DnsOutcome::Refused => {
                resp.metadata.response_code = ResponseCode::Refused;
                false
            }
            DnsOutcome::Answer {
                records,
                truncate_udp,
            } => {
                if records.is_empty() {
                    resp.add_authority(soa_for(&qname));
                }
                match records.iter().map(to_record).collect::<Option<Vec<_>>>() {
                    Some(rrs) => {
                        resp.add_answers(rrs);
                    }
                    // A record the world cannot express on the wire: fail like a broken server.
                    None => resp.metadata.response_code = ResponseCode::ServFail,
                }
                truncate_udp && transport == Transport::Udp
            }
        };
        let limit = match (&req.edns, transport) {
            (_, Transport::Tcp) => usize::from(u16::MAX),
            (Some(e), Transport::Udp) => usize::from(e.max_payload().clamp(512, EDNS_PAYLOAD)),
            (None, Transport::Udp) => 512,
        };
        let mut bytes = if truncate {
            None
        } else {
            resp.to_vec().ok().filter(|b| b.len() <= limit)
        };
        if bytes.is_none() {
            let mut tc = resp.truncate();
            tc.authorities.clear();
            bytes = tc.to_vec().ok();
        }
        bytes.map(|b| (b, reply.delay))
    }
}

/// The lowercase name without trailing dot that a world is asked about.
fn qname_key(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.ends_with('.') {
        s.pop();
    }
    s.make_ascii_lowercase();
    s
}

fn fqdn(name: &str) -> Option<Name> {
    if name.is_empty() || name == "." {
        return Some(Name::root());
    }
    let mut n = Name::from_ascii(name).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn to_record(r: &LabRecord) -> Option<Record> {
    let rdata = match &r.data {
        LabRData::A(a) => RData::A(A(*a)),
        LabRData::Aaaa(a) => RData::AAAA(AAAA(*a)),
        LabRData::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, fqdn(exchange)?)),
        LabRData::Txt(strings) => {
            if strings.iter().any(|s| s.len() > 255) {
                return None;
            }
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        LabRData::Cname(target) => RData::CNAME(CNAME(fqdn(target)?)),
    };
    Some(Record::from_rdata(fqdn(&r.name)?, r.ttl, rdata))
}

/// The SOA put in the authority section of negative answers: owned by the last two labels of
/// the query name (the lab's stand-in for "the zone").
fn soa_for(qname: &str) -> Record {
    let labels: Vec<&str> = qname.split('.').filter(|l| !l.is_empty()).collect();
    let zone = labels
        .get(labels.len().saturating_sub(2)..)
        .map(|l| l.join("."))
        .unwrap_or_default();
    let zone_name = fqdn(&zone).unwrap_or_else(Name::root);
    let mname = fqdn("ns.lab.invalid").unwrap_or_else(Name::root);
    let rname = fqdn("hostmaster.lab.invalid").unwrap_or_else(Name::root);
    let soa = SOA::new(mname, rname, 1, 3600, 600, 86_400, NEGATIVE_TTL);
    Record::from_rdata(zone_name, NEGATIVE_TTL, RData::SOA(soa))
}

/// The address a DNS server of block `octet` listens on, with `port`.
pub(crate) fn dns_socket_addr(octet: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, octet, 0, 53], port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::RecordType;

    #[test]
    fn qname_key_is_lowercase_without_dot() {
        let n = Name::from_ascii("_MTA-STS.Example.COM.").unwrap();
        assert_eq!(qname_key(&n), "_mta-sts.example.com");
    }

    #[test]
    fn null_mx_exchange_is_root() {
        let r = to_record(&LabRecord {
            name: "x.test".into(),
            ttl: 1,
            data: LabRData::Mx {
                preference: 0,
                exchange: String::new(),
            },
        })
        .unwrap();
        match r.data {
            RData::MX(mx) => assert!(mx.exchange.is_root()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn drop_draws_are_reproducible_fresh_per_query_and_near_the_rate() {
        let t = RecordType::TXT;
        assert_eq!(
            drop_draw(7, 1, "a.test", t, 0),
            drop_draw(7, 1, "a.test", t, 0)
        );
        assert_ne!(
            drop_draw(7, 1, "a.test", t, 0),
            drop_draw(7, 1, "a.test", t, 1)
        );
        assert_ne!(
            drop_draw(7, 1, "a.test", t, 0),
            drop_draw(8, 1, "a.test", t, 0)
        );
        for n in 0..1000 {
            assert!(!dropped(DropRate::NONE, 1, 2, "x.test", t, n));
            assert!(dropped(DropRate::ALL, 1, 2, "x.test", t, n));
        }
        // Rate 0.25 over 20 000 draws (sd ≈ 61): within 10 sd of 5 000.
        let quarter = DropRate::from_probability(0.25).unwrap();
        let hits = (0..20_000u64)
            .filter(|n| dropped(quarter, 3, (n % 65_536) as u16, "y.test", t, *n))
            .count();
        assert!((4_400..=5_600).contains(&hits), "{hits}");
    }

    #[test]
    fn drop_rate_parses_probabilities_only() {
        assert_eq!(DropRate::from_probability(0.01).unwrap().ppm(), 10_000);
        assert_eq!(DropRate::from_probability(1.0), Some(DropRate::ALL));
        assert_eq!(DropRate::from_probability(0.0), Some(DropRate::NONE));
        assert!(DropRate::from_probability(-0.1).is_none());
        assert!(DropRate::from_probability(1.5).is_none());
        assert!(DropRate::from_probability(f64::NAN).is_none());
    }

    #[test]
    fn soa_owner_is_last_two_labels() {
        let r = soa_for("a.b.example.com");
        assert_eq!(r.name.to_ascii(), "example.com.");
        assert_eq!(RecordType::SOA, r.record_type());
    }
}
