//! The tiny DNS server of the DNS client tests: UDP and TCP on one port of a random
//! 127.x.y.z, its own thread and runtime (so its CPU time can be measured apart), answers per
//! query name from [`behaviour`], counts every query it receives. Loopback only.

// Test helpers may unwrap: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Query counters: (qname, qtype, "udp"|"tcp") → count.
pub(super) type Counts = Arc<Mutex<HashMap<(String, RecordType, &'static str), u32>>>;

pub(super) struct TestServer {
    pub(super) addr: SocketAddr,
    counts: Counts,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// CPU time (ns) the server thread used, written when it stops.
    cpu_ns: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the server on a fresh 127.x.y.z (retried on EADDRINUSE) in its own thread with
    /// its own runtime, so its CPU time can be told apart from the client's.
    pub(super) fn start() -> TestServer {
        let counts: Counts = Arc::default();
        let cpu_ns = Arc::new(AtomicU64::new(0));
        let (tx_addr, rx_addr) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (c2, cpu2) = (counts.clone(), cpu_ns.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (udp, tcp) = bind_pair().await;
                tx_addr.send(udp.local_addr().unwrap()).unwrap();
                let cpu_start = thread_cpu_ns();
                let udp = Arc::new(udp);
                let u = tokio::spawn(serve_udp(udp, c2.clone()));
                let t = tokio::spawn(serve_tcp(tcp, c2));
                let _ = stop_rx.await;
                u.abort();
                t.abort();
                cpu2.store(thread_cpu_ns().saturating_sub(cpu_start), Ordering::SeqCst);
            });
        });
        let addr = rx_addr.recv_timeout(Duration::from_secs(10)).unwrap();
        TestServer {
            addr,
            counts,
            stop: Some(stop_tx),
            cpu_ns,
            thread: Some(thread),
        }
    }

    pub(super) fn count(&self, name: &str, t: RecordType, proto: &'static str) -> u32 {
        let c = self.counts.lock().unwrap();
        c.get(&(name.to_string(), t, proto)).copied().unwrap_or(0)
    }

    pub(super) fn total(&self, name: &str, t: RecordType) -> u32 {
        self.count(name, t, "udp") + self.count(name, t, "tcp")
    }

    /// Stops the server and returns the CPU time its thread used.
    pub(super) fn stop(mut self) -> Duration {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Duration::from_nanos(self.cpu_ns.load(Ordering::SeqCst))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// CPU time of the calling thread (Linux `/proc/thread-self/schedstat`, first field, ns).
pub(super) fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time of the whole process (utime + stime from `/proc/self/stat`, in ns).
pub(super) fn process_cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // fields after the ")" of the command name; utime and stime are fields 14 and 15
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks * 10_000_000 // USER_HZ = 100
}

/// Binds UDP and TCP on the same port of a random 127.x.y.z, retrying on collisions.
pub(super) async fn bind_pair() -> (UdpSocket, TcpListener) {
    let seed = RandomState::new().build_hasher().finish();
    for i in 0..200u64 {
        let r = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let ip = Ipv4Addr::new(
            127,
            (r >> 8) as u8 | 1,
            (r >> 16) as u8,
            (r >> 24) as u8 | 1,
        );
        let Ok(udp) = UdpSocket::bind((ip, 0)).await else {
            continue;
        };
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind((ip, port)).await {
            return (udp, tcp);
        }
    }
    panic!("no free loopback address");
}

pub(super) async fn serve_udp(sock: Arc<UdpSocket>, counts: Counts) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(req) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let (sock, counts) = (sock.clone(), counts.clone());
        tokio::spawn(async move {
            if let Some(resp) = respond(&req, false, &counts).await {
                let _ = sock.send_to(&resp, peer).await;
            }
        });
    }
}

pub(super) async fn serve_tcp(listener: TcpListener, counts: Counts) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        let counts = counts.clone();
        tokio::spawn(async move {
            // bounded: at most 100 queries per connection, each at most 65 535 octets
            for _ in 0..100 {
                let Ok(len) = conn.read_u16().await else {
                    return;
                };
                let mut buf = vec![0u8; usize::from(len)];
                if conn.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(req) = Message::from_vec(&buf) else {
                    return;
                };
                if let Some(resp) = respond(&req, true, &counts).await {
                    let Ok(len) = u16::try_from(resp.len()) else {
                        return;
                    };
                    let mut out = len.to_be_bytes().to_vec();
                    out.extend_from_slice(&resp);
                    if conn.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

pub(super) fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

pub(super) fn soa() -> Record {
    // negative TTL = min(SOA TTL 300, MINIMUM 60) = 60 (RFC 2308 §5)
    Record::from_rdata(
        n("test."),
        300,
        RData::SOA(SOA::new(
            n("ns.test."),
            n("hostmaster.test."),
            1,
            3600,
            600,
            86400,
            60,
        )),
    )
}

pub(super) fn rec(name: &str, ttl: u32, data: RData) -> Record {
    Record::from_rdata(n(name), ttl, data)
}

pub(super) fn a(name: &str, ip: [u8; 4]) -> Record {
    rec(name, 300, RData::A(A(Ipv4Addr::from(ip))))
}

pub(super) fn aaaa(name: &str, ip: &str) -> Record {
    rec(name, 300, RData::AAAA(AAAA(ip.parse().unwrap())))
}

pub(super) fn cname(from: &str, to: &str, ttl: u32) -> Record {
    rec(from, ttl, RData::CNAME(CNAME(n(to))))
}

/// What the server does for one query.
pub(super) enum Reply {
    /// Answer with this RCODE, answer section and (optionally) an SOA in the authority section.
    Msg(ResponseCode, Vec<Record>, bool),
    /// Never answer.
    Drop,
    /// Answer with TC=1 and no records (only over UDP).
    Truncate,
    /// A referral, as a server that does not recurse sends: NOERROR, no answer, NS records
    /// (with glue) and no SOA in the authority section.
    Referral,
}

/// The zone: what each name answers. `seen` is how many times (before this one) the server
/// received this name and type.
pub(super) fn behaviour(qname: &str, qt: RecordType, tcp: bool, seen: u32) -> (Reply, u64) {
    use RecordType as T;
    use Reply::*;
    let fq = format!("{qname}.");
    let noerror = |answers| (Msg(ResponseCode::NoError, answers, false), 0);
    let nodata = || (Msg(ResponseCode::NoError, vec![], true), 0);
    match (qname, qt) {
        ("data.test", T::A) => noerror(vec![a(&fq, [192, 0, 2, 1]), a(&fq, [192, 0, 2, 2])]),
        ("data.test", T::AAAA) => noerror(vec![aaaa(&fq, "2001:db8::1")]),
        ("data.test", T::MX) => noerror(vec![
            rec(&fq, 300, RData::MX(MX::new(20, n("MX2.Data.Test.")))),
            rec(&fq, 300, RData::MX(MX::new(10, n("mx1.data.test.")))),
        ]),
        ("data.test", T::TXT) => noerror(vec![rec(
            &fq,
            300,
            RData::TXT(TXT::new(vec!["v=STSv1; id=1".into()])),
        )]),
        ("data.test", _) => nodata(),
        ("_mta-sts.data.test" | "_smtp._tls.data.test", T::TXT) => noerror(vec![rec(
            &fq,
            300,
            RData::TXT(TXT::new(vec![format!("for {qname}")])),
        )]),
        ("nodata.test", _) => nodata(),
        ("nx.test", _) => (Msg(ResponseCode::NXDomain, vec![], true), 0),
        ("servfail.test", _) => (Msg(ResponseCode::ServFail, vec![], false), 0),
        ("refused.test", _) => (Msg(ResponseCode::Refused, vec![], false), 0),
        ("formerr.test", _) => (Msg(ResponseCode::FormErr, vec![], false), 0),
        ("silent.test", _) => (Drop, 0),
        ("referral.test", _) => (Referral, 0),
        ("flaky.test", T::A) if seen == 0 => (Msg(ResponseCode::ServFail, vec![], false), 0),
        ("flaky.test", T::A) => noerror(vec![a(&fq, [192, 0, 2, 9])]),
        ("slow.test", T::A) => (
            Msg(ResponseCode::NoError, vec![a(&fq, [192, 0, 2, 10])], false),
            150,
        ),
        ("big.test", T::TXT) if !tcp => (Truncate, 0),
        ("big.test", T::TXT) => noerror(
            (0..30)
                .map(|i| {
                    rec(
                        &fq,
                        300,
                        RData::TXT(TXT::new(vec![format!("{i:02}{}", "x".repeat(200))])),
                    )
                })
                .collect(),
        ),
        ("multi.test", T::TXT) => noerror(vec![
            rec(
                &fq,
                300,
                RData::TXT(TXT::from_bytes(vec![b"v=STSv1; ", b"id=abc"])),
            ),
            rec(&fq, 300, RData::TXT(TXT::from_bytes(vec![b"other"]))),
            rec(
                &fq,
                300,
                RData::TXT(TXT::from_bytes(vec![b"\xff\x00bin", b""])),
            ),
        ]),
        ("nullmx.test", T::MX) => noerror(vec![rec(&fq, 300, RData::MX(MX::new(0, Name::root())))]),
        ("cname.test", T::A | T::TXT) => noerror(vec![
            cname(&fq, "hop1.test.", 100),
            cname("hop1.test.", "Hop2.test.", 50),
            rec(
                "hop2.test.",
                200,
                if qt == T::A {
                    RData::A(A(Ipv4Addr::new(192, 0, 2, 7)))
                } else {
                    RData::TXT(TXT::new(vec!["v=STSv1; id=vendor".into()]))
                },
            ),
        ]),
        // a chain the server does not complete: the client asks for the target itself
        ("partial.test", _) => noerror(vec![cname(&fq, "data.test.", 30)]),
        // a chain to a name that does not exist
        ("dangling.test", _) => (
            Msg(
                ResponseCode::NXDomain,
                vec![cname(&fq, "nx.test.", 30)],
                true,
            ),
            0,
        ),
        ("loop.test", _) => noerror(vec![
            cname(&fq, "loop2.test.", 30),
            cname("loop2.test.", "loop.test.", 30),
        ]),
        ("mixed.test", T::A) => noerror(vec![a(&fq, [192, 0, 2, 20])]),
        ("mixed.test", T::AAAA) => (Msg(ResponseCode::ServFail, vec![], false), 0),
        ("halffail.test", T::A) => nodata(),
        ("halffail.test", T::AAAA) => (Msg(ResponseCode::ServFail, vec![], false), 0),
        ("shared-mx.test", T::A) => (
            Msg(ResponseCode::NoError, vec![a(&fq, [192, 0, 2, 30])], false),
            100,
        ),
        ("shared-mx.test", T::AAAA) => (Msg(ResponseCode::NoError, vec![], true), 100),
        ("unsafe.test", T::A) => noerror(vec![
            a(&fq, [127, 0, 0, 1]),
            a(&fq, [10, 1, 2, 3]),
            a(&fq, [93, 184, 216, 34]),
        ]),
        ("unsafe.test", T::AAAA) => noerror(vec![aaaa(&fq, "::ffff:169.254.169.254")]),
        // a big answer: 60 A records (≈ 1 KB, fits the EDNS payload), 3 AAAA
        ("many.test", T::A) => noerror((0..60).map(|i| a(&fq, [198, 51, 100, i])).collect()),
        ("many.test", T::AAAA) => noerror(
            (1..=3)
                .map(|i| aaaa(&fq, &format!("2001:db8::{i}")))
                .collect(),
        ),
        ("private.test", T::A) => noerror(vec![a(&fq, [10, 1, 2, 3])]),
        ("private.test", _) => nodata(),
        (q, T::A) if q.starts_with("web") => {
            // web.test → the loopback address in the label after "web-": web-127-1-2-3.test
            let ip: Vec<u8> = q
                .trim_start_matches("web-")
                .trim_end_matches(".test")
                .split('-')
                .filter_map(|p| p.parse().ok())
                .collect();
            match <[u8; 4]>::try_from(ip) {
                Ok(ip) => noerror(vec![a(&fq, ip)]),
                Err(_) => nodata(),
            }
        }
        (q, T::A) if q.starts_with("bench") => noerror(vec![a(&fq, [192, 0, 2, 99])]),
        (q, _) if q.starts_with("bench") || q.starts_with("web") => nodata(),
        _ => (Msg(ResponseCode::NXDomain, vec![], true), 0),
    }
}

pub(super) async fn respond(req: &Message, tcp: bool, counts: &Counts) -> Option<Vec<u8>> {
    let q = req.queries.first()?;
    let qname = q.name().to_lowercase().to_ascii();
    let qname = qname.trim_end_matches('.').to_string();
    let qt = q.query_type();
    let seen = {
        let mut c = counts.lock().ok()?;
        let e = c
            .entry((qname.clone(), qt, if tcp { "tcp" } else { "udp" }))
            .or_insert(0);
        *e += 1;
        *e - 1
    };
    let (reply, delay_ms) = behaviour(&qname, qt, tcp, seen);
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    let mut m = Message::response(req.metadata.id, OpCode::Query);
    m.metadata.recursion_desired = req.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.queries = req.queries.clone();
    match reply {
        Reply::Drop => return None,
        Reply::Truncate => m.metadata.truncation = true,
        Reply::Referral => {
            for host in ["ns1.elsewhere.example.", "ns2.elsewhere.example."] {
                m.authorities
                    .push(rec("referral.test.", 86400, RData::NS(NS(n(host)))));
                m.additionals.push(a(host, [192, 0, 2, 53]));
            }
        }
        Reply::Msg(code, answers, with_soa) => {
            m.metadata.response_code = code;
            m.answers = answers;
            if with_soa {
                m.authorities.push(soa());
            }
        }
    }
    m.to_vec().ok()
}
