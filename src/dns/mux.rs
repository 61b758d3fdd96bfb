//! An optional multiplexed UDP transport ([`crate::dns::Transport::Multiplexed`]).
//!
//! hickory opens a fresh UDP socket (and spawns a background task) per query; on this class of
//! machine that costs far more CPU than the DNS message itself (see the measurement test in
//! `tests/net/dns.rs`). This transport keeps a few long-lived UDP sockets with random source
//! ports, sends each query with an unpredictable ID on one of them, and demultiplexes answers
//! by (ID, resolver address, question); a datagram that is not a response (QR=1) with OPCODE
//! QUERY and a class-IN question is dropped like one that matches no query. An answer with TC=1 is asked again over a fresh TCP
//! connection (RFC 7766). It only builds and parses messages with hickory-proto; the meaning
//! of an answer is decided by [`crate::dns::client`].
//!
//! Source ports. RFC 5452 §9.2: "Resolver implementations MUST: o Use an unpredictable
//! source port for outgoing queries from the range of available ports (53, or 1024 and above)
//! that is as large as possible and practicable; o Use multiple different source ports
//! simultaneously in case of multiple outstanding queries". Each socket is bound to a port
//! the kernel picks at random from its ephemeral range, several sockets are in use at once,
//! and each carries at most [`ROTATE_AFTER`] queries before a fresh socket (a new random port)
//! takes its place; the old one closes as soon as its last query ends. An off-path spoofer's
//! chance per forged answer is (queries in flight) / (open ports × IDs) here as with a socket
//! per query; what sharing gives up is that a port, once seen, stays valid a little longer,
//! and rotation bounds that to [`ROTATE_AFTER`] queries. (The hickory transport, a socket per
//! query, remains as `--dns-transport hickory`.)
//!
//! Connected sockets. With one resolver per address family (the usual set-up: a local
//! recursive resolver) each socket is `connect`ed to it: the kernel then drops datagrams
//! from any other source before they wake the receive task (the receive loop still checks
//! the source, for the unconnected case of several resolvers), and it skips a route lookup
//! per datagram sent and received. Measured on loopback (a C ping-pong, 500 000 exchanges,
//! only the client's socket connected, three runs each): 7.0–7.6 µs of kernel CPU per
//! exchange connected, against 7.6–8.4 µs unconnected (means 7.2 and 8.0); at 3.9 queries per
//! lab domain that is ≈ 3 µs, ≈ 1 % of the scanner's CPU per domain, too little for
//! `scripts/bench-ab.sh` to resolve. A connected socket
//! reports an ICMP error (port unreachable) on its next call; a send that gets one is
//! repeated once, since the error belongs to an earlier query, which times out. A resolver
//! that cannot be connected to (no route) gets an unconnected socket.
//!
//! Reads are capped: a UDP datagram by its 65 535-octet buffer, a TCP answer by its 16-bit
//! length prefix.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::{SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{DNSClass, Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The EDNS UDP payload size advertised (the DNS Flag Day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;

/// Receive buffer asked for each socket (the kernel caps it at `net.core.rmem_max`).
const RECV_BUFFER: usize = 8 << 20;

/// Queries one socket carries before a fresh socket (a new random source port) replaces it.
/// Measured A/B over 20 000 lab domains (≈ 1 200 rotations): +1.6 % scanner CPU, within the
/// run-to-run noise.
pub(crate) const ROTATE_AFTER: u32 = 64;

struct Waiter {
    /// Unique per query: an ID is reused once its query ended, so removal checks the token.
    token: u64,
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
    tx: oneshot::Sender<Message>,
}

type Pending = Arc<Mutex<HashMap<u16, Waiter>>>;

/// One socket and its receive task. It lives while its slot or a query on it holds it;
/// dropping it stops the receive task, which closes the socket.
struct Sock {
    sock: Arc<UdpSocket>,
    /// The one resolver this socket is connected to, if its family has only one: the kernel
    /// then drops datagrams from any other source and skips a route lookup per datagram.
    peer: Option<SocketAddr>,
    pending: Pending,
    /// Queries sent on it so far.
    uses: AtomicU32,
    task: JoinHandle<()>,
}

impl Drop for Sock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sock {
    /// Binds a socket on a kernel-chosen (random) port and starts its receive task. Must be
    /// called within a Tokio runtime.
    fn open(ipv6: bool, peer: Option<SocketAddr>) -> io::Result<Arc<Sock>> {
        let bind: SocketAddr = if ipv6 {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let std_sock = StdUdpSocket::bind(bind)?;
        // A resolver that cannot be connected to (e.g. an IPv6 resolver on a host without an
        // IPv6 route) gets an unconnected socket: its queries then fail one by one, as before,
        // instead of the scan refusing to start.
        let peer = peer.filter(|p| std_sock.connect(p).is_ok());
        // Answers to a burst of queries arrive together; with the default receive buffer
        // (~208 KiB) the kernel drops some while the runtime is busy with TLS handshakes.
        // Best effort: capped by `net.core.rmem_max`.
        let _ = socket2::SockRef::from(&std_sock).set_recv_buffer_size(RECV_BUFFER);
        std_sock.set_nonblocking(true)?;
        let sock = Arc::new(UdpSocket::from_std(std_sock)?);
        let pending: Pending = Arc::default();
        let task = tokio::spawn(receive(sock.clone(), pending.clone()));
        Ok(Arc::new(Sock {
            sock,
            peer,
            pending,
            uses: AtomicU32::new(0),
            task,
        }))
    }
}

/// A place for one socket of an address family; its socket is replaced every
/// [`ROTATE_AFTER`] queries.
struct Slot {
    ipv6: bool,
    peer: Option<SocketAddr>,
    current: RwLock<Arc<Sock>>,
}

/// A set of UDP sockets with answer demultiplexing and source-port rotation.
pub(crate) struct UdpMux {
    slots: Vec<Slot>,
    next: AtomicUsize,
    ids: RandomState,
    counter: AtomicU64,
    tokens: AtomicU64,
    rotations: AtomicU64,
}

/// Removes a waiter when its query ends (answer, timeout or cancellation).
struct Guard<'a> {
    pending: &'a Pending,
    id: u16,
    token: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let mut map = lock(self.pending);
        if map.get(&self.id).is_some_and(|w| w.token == self.token) {
            map.remove(&self.id);
        }
    }
}

fn lock(p: &Pending) -> std::sync::MutexGuard<'_, HashMap<u16, Waiter>> {
    p.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UdpMux {
    /// Binds `per_family` sockets for each address family used by `servers`. Must be called
    /// within a Tokio runtime (each socket has a receive task).
    pub(crate) fn new(servers: &[SocketAddr], per_family: usize) -> io::Result<UdpMux> {
        let mut slots = Vec::new();
        for ipv6 in [false, true] {
            let mut family: Vec<SocketAddr> = servers
                .iter()
                .copied()
                .filter(|s| s.is_ipv6() == ipv6)
                .collect();
            family.sort_unstable();
            family.dedup();
            let peer = match family.as_slice() {
                [] => continue,
                [one] => Some(*one),
                _ => None,
            };
            for _ in 0..per_family.max(1) {
                slots.push(Slot {
                    ipv6,
                    peer,
                    current: RwLock::new(Sock::open(ipv6, peer)?),
                });
            }
        }
        Ok(UdpMux {
            slots,
            next: AtomicUsize::new(0),
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            rotations: AtomicU64::new(0),
        })
    }

    /// Sockets replaced so far (each after [`ROTATE_AFTER`] queries).
    #[cfg(test)]
    fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }

    /// The socket of `slot` for one more query. The query that uses a socket up replaces it
    /// (if a fresh socket cannot be opened, e.g. out of descriptors, the old one carries on
    /// and the next [`ROTATE_AFTER`] queries try again).
    fn take(&self, slot: &Slot) -> Arc<Sock> {
        let sock = slot
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let used = sock.uses.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if used % ROTATE_AFTER == 0 {
            if let Ok(fresh) = Sock::open(slot.ipv6, slot.peer) {
                *slot.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
                self.rotations.fetch_add(1, Ordering::Relaxed);
            }
        }
        sock
    }

    fn next_id(&self) -> u16 {
        // keyed SipHash of a counter: unpredictable without the per-process random key
        (self
            .ids
            .hash_one(self.counter.fetch_add(1, Ordering::Relaxed))
            & 0xffff) as u16
    }

    fn next_token(&self) -> u64 {
        self.tokens.fetch_add(1, Ordering::Relaxed)
    }

    /// One exchange with `server`: UDP, then TCP if the answer is truncated.
    pub(crate) async fn exchange(
        &self,
        server: SocketAddr,
        name: &Name,
        rtype: RecordType,
        timeout: Duration,
    ) -> Result<Message, NetError> {
        let family = |s: &&Slot| s.ipv6 == server.is_ipv6();
        let count = self.slots.iter().filter(family).count();
        if count == 0 {
            return Err(NetError::NoConnections);
        }
        let pick = self.next.fetch_add(1, Ordering::Relaxed) % count;
        let Some(slot) = self.slots.iter().filter(family).nth(pick) else {
            return Err(NetError::NoConnections);
        };
        // held until the query ends: a replaced socket closes after its last query
        let sock = self.take(slot);
        let (tx, rx) = oneshot::channel();
        let token = self.next_token();
        let mut waiter = Some(Waiter {
            token,
            server,
            name: name.clone(),
            rtype,
            tx,
        });
        let mut chosen = None;
        {
            let mut map = lock(&sock.pending);
            for _ in 0..64 {
                let id = self.next_id();
                if let std::collections::hash_map::Entry::Vacant(v) = map.entry(id) {
                    if let Some(w) = waiter.take() {
                        v.insert(w);
                    }
                    chosen = Some(id);
                    break;
                }
            }
        }
        let Some(id) = chosen else {
            return Err(NetError::Busy);
        };
        let _guard = Guard {
            pending: &sock.pending,
            id,
            token,
        };
        let wire = encode_query(id, name, rtype)?;
        let run = async {
            if sock.peer == Some(server) {
                match sock.sock.send(&wire).await {
                    // A connected socket reports an ICMP error for an earlier datagram on its
                    // next call; it belongs to that query, which times out on its own.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        sock.sock.send(&wire).await
                    }
                    sent => sent,
                }
            } else {
                sock.sock.send_to(&wire, server).await
            }
            .map_err(NetError::from)?;
            let answer = rx
                .await
                .map_err(|_| NetError::Message("receiver stopped"))?;
            if answer.metadata.truncation {
                return tcp_exchange(server, &wire, id, name, rtype).await;
            }
            Ok(answer)
        };
        tokio::time::timeout(timeout, run)
            .await
            .unwrap_or(Err(NetError::Timeout))
    }
}

fn encode_query(id: u16, name: &Name, rtype: RecordType) -> Result<Vec<u8>, NetError> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    m.set_edns(edns);
    m.to_vec().map_err(NetError::from)
}

/// Whether `m` answers the query `(id, name, rtype)`: a response (QR=1) with OPCODE QUERY
/// (RFC 1035 §4.1.1: the OPCODE "is set by the originator of a query and copied into the
/// response"), the same ID and the same question, class IN included (RFC 5452 §9.1: ID,
/// question and source must match; the source is checked by the caller). Anything else is
/// dropped like a forged reply.
fn answers(m: &Message, id: u16, name: &Name, rtype: RecordType) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.metadata.op_code == OpCode::Query
        && m.queries.first().is_some_and(|q| {
            q.name() == name && q.query_type() == rtype && q.query_class() == DNSClass::IN
        })
}

async fn receive(sock: Arc<UdpSocket>, pending: Pending) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => {
                // e.g. ICMP errors surfaced by the OS; the query times out on its own
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let Some(data) = buf.get(..n) else { continue };
        let Ok(m) = Message::from_vec(data) else {
            continue;
        };
        let id = m.metadata.id;
        let mut map = lock(&pending);
        let matches = map
            .get(&id)
            .is_some_and(|w| w.server == from && answers(&m, id, &w.name, w.rtype));
        if matches {
            if let Some(w) = map.remove(&id) {
                let _ = w.tx.send(m);
            }
        }
    }
}

async fn tcp_exchange(
    server: SocketAddr,
    wire: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, NetError> {
    let mut conn = TcpStream::connect(server).await?;
    let len = u16::try_from(wire.len()).map_err(|_| NetError::Message("query too long"))?;
    let mut out = Vec::with_capacity(wire.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(wire);
    conn.write_all(&out).await?;
    let len = conn.read_u16().await?;
    let mut buf = vec![0u8; usize::from(len)];
    conn.read_exact(&mut buf).await?;
    let m = Message::from_vec(&buf).map_err(|e| NetError::Msg(e.to_string()))?;
    if !answers(&m, id, name, rtype) {
        return Err(NetError::Message("TCP answer does not match the query"));
    }
    if m.metadata.truncation {
        return Err(NetError::Truncated);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(token: u64) -> (Waiter, oneshot::Receiver<Message>) {
        let (tx, rx) = oneshot::channel();
        let w = Waiter {
            token,
            server: "127.0.0.1:53".parse().unwrap(),
            name: Name::from_ascii("a.test.").unwrap(),
            rtype: RecordType::A,
            tx,
        };
        (w, rx)
    }

    /// Regression: a finished query's guard removed the waiter of a newer query that had been
    /// given the same (recycled) ID, which then failed with `network-error`.
    #[test]
    fn guard_only_removes_its_own_waiter() {
        let pending: Pending = Arc::default();
        let (newer, _rx) = waiter(2);
        lock(&pending).insert(7, newer);
        drop(Guard {
            pending: &pending,
            id: 7,
            token: 1,
        });
        assert!(lock(&pending).contains_key(&7), "newer waiter kept");
        drop(Guard {
            pending: &pending,
            id: 7,
            token: 2,
        });
        assert!(lock(&pending).is_empty());
    }

    /// RFC 5452 §3: a resolver accepts a reply only if "The question section of the reply
    /// packet is equivalent to that of a question packet currently waiting for a response"
    /// and "The ID field of the reply packet matches that of the question packet" (the source
    /// address is compared by the receive loop).
    #[test]
    fn answers_must_match_id_and_question() {
        let name = Name::from_ascii("a.test.").unwrap();
        let mut m = Message::response(42, OpCode::Query);
        m.add_query(Query::query(
            Name::from_ascii("A.Test.").unwrap(),
            RecordType::A,
        ));
        assert!(answers(&m, 42, &name, RecordType::A));
        assert!(!answers(&m, 43, &name, RecordType::A));
        assert!(!answers(&m, 42, &name, RecordType::AAAA));
        let other = Name::from_ascii("b.test.").unwrap();
        assert!(!answers(&m, 42, &other, RecordType::A));
        let mut q = Message::new(42, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(name.clone(), RecordType::A));
        assert!(
            !answers(&q, 42, &name, RecordType::A),
            "a query is not an answer"
        );
        let empty = Message::response(42, OpCode::Query);
        assert!(!answers(&empty, 42, &name, RecordType::A));
    }

    /// RFC 1035 §4.1.1: OPCODE "A four bit field that specifies kind of query in this message.
    /// This value is set by the originator of a query and copied into the response." A reply
    /// whose OPCODE is not the QUERY we sent, or whose question has another class than IN, does
    /// not answer our query.
    #[test]
    fn answers_must_copy_the_opcode_and_class() {
        let name = Name::from_ascii("a.test.").unwrap();
        let question = Query::query(name.clone(), RecordType::A);
        for op in [OpCode::Update, OpCode::Notify, OpCode::Status] {
            let mut m = Message::response(42, op);
            m.add_query(question.clone());
            assert!(!answers(&m, 42, &name, RecordType::A), "{op:?}");
        }
        let mut chaos = question.clone();
        chaos.set_query_class(DNSClass::CH);
        let mut m = Message::response(42, OpCode::Query);
        m.add_query(chaos);
        assert!(!answers(&m, 42, &name, RecordType::A));
        let mut m = Message::response(42, OpCode::Query);
        m.add_query(question);
        assert!(answers(&m, 42, &name, RecordType::A));
    }

    /// The same over the wire: a reply with the right ID, question and source but OPCODE
    /// UPDATE, QR=0 or class CH (here carrying a forged address) arrives first and is dropped;
    /// the real reply that follows is the answer (RFC 1035 §4.1.1 as above).
    #[tokio::test]
    async fn replies_that_are_not_query_responses_are_dropped() {
        let forged_a: std::net::Ipv4Addr = "192.0.2.66".parse().unwrap();
        for bad in ["update", "qr0", "chaos"] {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            let srv = tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = server.recv_from(&mut buf).await {
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let id = q.metadata.id;
                    let mut forged = match bad {
                        "update" => Message::response(id, OpCode::Update),
                        "qr0" => Message::new(id, MessageType::Query, OpCode::Query),
                        _ => Message::response(id, OpCode::Query),
                    };
                    let mut real = Message::response(id, OpCode::Query);
                    for query in q.queries {
                        forged.add_answer(hickory_resolver::proto::rr::Record::from_rdata(
                            query.name().clone(),
                            60,
                            hickory_resolver::proto::rr::RData::A(forged_a.into()),
                        ));
                        let mut fq = query.clone();
                        if bad == "chaos" {
                            fq.set_query_class(DNSClass::CH);
                        }
                        forged.add_query(fq);
                        real.add_query(query);
                    }
                    let _ = server.send_to(&forged.to_vec().unwrap(), from).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = server.send_to(&real.to_vec().unwrap(), from).await;
                }
            });
            let mux = UdpMux::new(&[addr], 1).unwrap();
            let name = Name::from_ascii("a.test.").unwrap();
            let m = mux
                .exchange(addr, &name, RecordType::A, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(m.metadata.op_code, OpCode::Query, "{bad}");
            assert!(m.answers.is_empty(), "{bad}: the forged reply was taken");
            srv.abort();
        }
    }

    /// Answers every query with an empty NOERROR response and records its source port.
    async fn responder(sock: UdpSocket, ports: Arc<Mutex<Vec<u16>>>) {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::response(q.metadata.id, OpCode::Query);
            for query in q.queries {
                r.add_query(query);
            }
            ports.lock().unwrap().push(from.port());
            let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
        }
    }

    /// RFC 5452 §9.2: "Resolver implementations MUST: o Use an unpredictable source port for
    /// outgoing queries from the range of available ports (53, or 1024 and above) that is as
    /// large as possible and practicable". Each socket carries exactly `ROTATE_AFTER` queries,
    /// every run of queries comes from a new port, and a replaced socket is closed once its
    /// last query ended (its port can be bound again).
    #[tokio::test]
    async fn sockets_rotate_to_fresh_ports_and_old_ones_close() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let ports = Arc::new(Mutex::new(Vec::new()));
        let srv = tokio::spawn(responder(server, ports.clone()));
        let mux = UdpMux::new(&[addr], 1).unwrap();
        let name = Name::from_ascii("a.test.").unwrap();
        let per = ROTATE_AFTER as usize;
        for _ in 0..3 * per {
            let m = mux
                .exchange(addr, &name, RecordType::A, Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(m.queries.first().map(|q| q.name()), Some(&name));
        }
        assert_eq!(mux.rotations(), 3);
        let ports = ports.lock().unwrap().clone();
        assert_eq!(ports.len(), 3 * per);
        let runs: Vec<u16> = ports.chunks(per).map(|r| r[0]).collect();
        for (r, chunk) in ports.chunks(per).enumerate() {
            assert!(chunk.iter().all(|p| *p == runs[r]), "run {r}: {chunk:?}");
        }
        let distinct: std::collections::HashSet<u16> = runs.iter().copied().collect();
        assert_eq!(distinct.len(), 3, "{runs:?}");
        // the receive tasks of replaced sockets are aborted; give the runtime a moment
        let mut closed = false;
        for _ in 0..100 {
            closed = runs
                .iter()
                .all(|p| StdUdpSocket::bind(("127.0.0.1", *p)).is_ok());
            if closed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(closed, "replaced sockets still bound: {runs:?}");
        srv.abort();
    }

    /// The socket a query of `mux` to `server` would use (without counting a use).
    fn socket_for(mux: &UdpMux, server: SocketAddr) -> Arc<Sock> {
        let slot = mux
            .slots
            .iter()
            .find(|s| s.ipv6 == server.is_ipv6())
            .unwrap();
        slot.current.read().unwrap().clone()
    }

    /// With one resolver per address family the sockets are connected to it (the kernel then
    /// filters sources and keeps the route); with several they are not, and each query names
    /// its resolver.
    #[tokio::test]
    async fn only_a_lone_resolver_gets_connected_sockets() {
        let a: SocketAddr = "127.0.0.1:5301".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:5302".parse().unwrap();
        let one = UdpMux::new(&[a, a], 2).unwrap();
        assert_eq!(one.slots.len(), 2);
        for slot in &one.slots {
            let sock = slot.current.read().unwrap().clone();
            assert_eq!(sock.peer, Some(a));
            assert_eq!(sock.sock.peer_addr().unwrap(), a);
        }
        let two = UdpMux::new(&[a, b], 1).unwrap();
        let sock = socket_for(&two, a);
        assert_eq!(sock.peer, None);
        assert!(sock.sock.peer_addr().is_err(), "not connected");
    }

    /// A socket whose resolver cannot be connected to stays unconnected (here: an IPv6
    /// resolver for an IPv4 socket, which the kernel refuses without sending anything).
    #[tokio::test]
    async fn a_failed_connect_leaves_the_socket_unconnected() {
        let v6: SocketAddr = "[::1]:5304".parse().unwrap();
        let sock = Sock::open(false, Some(v6)).unwrap();
        assert_eq!(sock.peer, None);
        assert!(sock.sock.peer_addr().is_err());
        let v4: SocketAddr = "127.0.0.1:5304".parse().unwrap();
        assert_eq!(Sock::open(false, Some(v4)).unwrap().peer, Some(v4));
    }

    /// RFC 5452 §3: a resolver accepts a reply only if, among others, "The response comes
    /// from the same network address to which the question was sent". A forged answer from
    /// another source that arrives first (with the right ID and question) is never taken,
    /// whether the socket is connected (one resolver) or not (two).
    #[tokio::test]
    async fn answers_from_another_source_are_never_taken() {
        let forged_a: std::net::Ipv4Addr = "192.0.2.66".parse().unwrap();
        for resolvers in [1usize, 2] {
            let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            let spoofer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let srv = tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                while let Ok((n, from)) = server.recv_from(&mut buf).await {
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    let mut forged = Message::response(q.metadata.id, OpCode::Query);
                    let mut real = Message::response(q.metadata.id, OpCode::Query);
                    for query in q.queries {
                        forged.add_answer(hickory_resolver::proto::rr::Record::from_rdata(
                            query.name().clone(),
                            60,
                            hickory_resolver::proto::rr::RData::A(forged_a.into()),
                        ));
                        forged.add_query(query.clone());
                        real.add_query(query);
                    }
                    let _ = spoofer.send_to(&forged.to_vec().unwrap(), from).await;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = server.send_to(&real.to_vec().unwrap(), from).await;
                }
            });
            let other: SocketAddr = "127.0.0.1:5303".parse().unwrap();
            let servers = if resolvers == 1 {
                vec![addr]
            } else {
                vec![addr, other]
            };
            let mux = UdpMux::new(&servers, 1).unwrap();
            let name = Name::from_ascii("a.test.").unwrap();
            for _ in 0..3 {
                let m = mux
                    .exchange(addr, &name, RecordType::A, Duration::from_secs(5))
                    .await
                    .unwrap();
                assert!(
                    m.answers.is_empty(),
                    "{resolvers} resolver(s): forged answer taken"
                );
            }
            srv.abort();
        }
    }

    /// A resolver port that answers with ICMP port unreachable: with a connected socket the
    /// kernel reports that error on a later call, which must not fail another query; every
    /// query times out as it would against a silent resolver (`timeout` is retried,
    /// `network-error` is not).
    #[tokio::test]
    async fn a_refusing_resolver_port_times_out_like_a_silent_one() {
        let closed = StdUdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let name = Name::from_ascii("a.test.").unwrap();
        // `stalled`: the receive task is stopped, as when it has not been polled yet, so
        // the error waits for the next send
        for stalled in [false, true] {
            let mux = UdpMux::new(&[addr], 1).unwrap();
            if stalled {
                socket_for(&mux, addr).task.abort();
            }
            for i in 0..6 {
                let res = mux
                    .exchange(addr, &name, RecordType::A, Duration::from_millis(50))
                    .await;
                assert!(
                    matches!(res, Err(NetError::Timeout)),
                    "stalled {stalled}, query {i}: {res:?}"
                );
            }
        }
    }

    #[test]
    fn query_encoding_asks_for_recursion_with_edns() {
        let name = Name::from_ascii("a.test.").unwrap();
        let wire = encode_query(9, &name, RecordType::TXT).unwrap();
        let m = Message::from_vec(&wire).unwrap();
        assert_eq!(m.metadata.id, 9);
        assert!(m.metadata.recursion_desired);
        assert_eq!(m.edns.as_ref().map(|e| e.max_payload()), Some(EDNS_PAYLOAD));
        assert_eq!(m.queries.len(), 1);
    }
}
