//! The lab servers: real DNS, HTTPS and SMTP servers on loopback serving a [`World`], a
//! private PKI, and counters for tests.
//!
//! A lab owns one address block `127.B.0.0/16` ([`AddressBlock`]): [`start`] reserves it by
//! binding the DNS server on `127.B.0.53` (UDP and TCP; a random B in 16..=250, retried while
//! the address is taken, unless [`LabOptions::block`] fixes it), builds the world for that
//! block, binds an HTTPS and/or SMTP listener on every address of [`World::listeners`] and
//! spawns the servers on the current tokio runtime. Everything stops on [`Lab::shutdown`] or
//! when the [`Lab`] is dropped (all tasks are aborted; the CA file is removed).
//!
//! * [`dns`] — hand-written UDP/TCP loops over hickory-proto messages.
//! * [`https`] — tokio-rustls + a hand-written HTTP/1.1 responder.
//! * [`smtp`] — ESMTP with STARTTLS and the [`SmtpPersonality`](crate::lab::model::SmtpPersonality) behaviours.
//! * [`pki`] — rcgen root / intermediate / unknown root, cached leaves, the rustls resolver.
//! * [`counters`] — what tests read back.
//!
//! Black holes ([`Listeners::blackhole`](crate::lab::model::Listeners::blackhole)): on those
//! addresses the HTTPS and SMTP ports are bound with a listen queue the lab fills itself and
//! never accepts from, so connection attempts go unanswered and time out — how the lab makes
//! `connect-timeout` on loopback without a packet filter (Linux semantics; see `net.rs`).
//!
//! This module only binds loopback addresses (a world listing any other address is an error)
//! and never imports the scanner's `records` or `assess` modules. A world may list `::1`
//! ([`Ipv6Loopback`](crate::lab::world::Ipv6Loopback)): it is bound on the lab's service
//! ports like every other address, and since every process shares it, such a lab must run on
//! ports of its own rather than the standard ones.

pub mod counters;
pub mod dns;
pub mod https;
mod net;
pub mod pki;
pub mod smtp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use counters::{ConnStats, Counters};
pub use pki::{LeafPem, Pki};

use crate::lab::model::World;
use pki::{Service, WorldCertResolver};

/// A lab's address block `127.octet.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressBlock {
    /// The second octet B of `127.B.0.0/16`.
    pub octet: u8,
}

impl AddressBlock {
    /// The address `127.B.c.d`.
    pub fn addr(&self, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.octet, c, d)
    }

    /// The address of the lab's DNS server, `127.B.0.53`.
    pub fn dns_ip(&self) -> Ipv4Addr {
        self.addr(0, 53)
    }

    /// True when `ip` lies in this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127 && v4.octets()[1] == self.octet)
    }
}

/// The ports the lab's services listen on (the same on every address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// DNS, UDP and TCP (0: any free port, see [`Lab::dns_addr`]).
    pub dns: u16,
    /// HTTPS policy hosts (must not be 0).
    pub https: u16,
    /// SMTP MX hosts (must not be 0).
    pub smtp: u16,
}

impl Ports {
    /// The real ports 53 / 443 / 25.
    pub const STANDARD: Ports = Ports {
        dns: 53,
        https: 443,
        smtp: 25,
    };
    /// Unprivileged stand-ins 10053 / 10443 / 10025.
    pub const UNPRIVILEGED: Ports = Ports {
        dns: 10053,
        https: 10443,
        smtp: 10025,
    };
}

impl Default for Ports {
    /// [`Ports::STANDARD`] when this process may bind ports below 1024 (found by trying),
    /// else [`Ports::UNPRIVILEGED`].
    fn default() -> Self {
        if net::can_bind_privileged() {
            Ports::STANDARD
        } else {
            Ports::UNPRIVILEGED
        }
    }
}

/// How to start a lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// The block's second octet; None: random in 16..=250, retried while taken.
    pub block: Option<u8>,
    /// Service ports.
    pub ports: Ports,
    /// UDP DNS workers sharing the socket (at least 1).
    pub dns_udp_workers: usize,
    /// Seed of the servers' random draws (DNS drops, see [`dns`]); None: a random seed.
    pub seed: Option<u64>,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            block: None,
            ports: Ports::default(),
            dns_udp_workers: 2,
            seed: None,
        }
    }
}

/// Random blocks tried before giving up.
pub const BLOCK_ATTEMPTS: usize = 64;
/// Time [`Lab::shutdown`] waits for tasks before aborting them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running lab. Dropping it stops every server.
pub struct Lab {
    block: AddressBlock,
    ports: Ports,
    dns_addr: SocketAddr,
    pki: Arc<Pki>,
    ca_file: CaFile,
    counters: Arc<Counters>,
    world: Arc<dyn World>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Held for the lab's lifetime: they keep other labs out of this block.
    _block_marks: Vec<TcpListener>,
    /// Held for the lab's lifetime: the black-hole ports and their filler connections.
    _blackholes: Vec<net::Blackhole>,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("block", &self.block)
            .field("ports", &self.ports)
            .field("dns_addr", &self.dns_addr)
            .field("ca_file", &self.ca_file.path)
            .finish_non_exhaustive()
    }
}

/// The CA PEM on disk, removed on drop.
#[derive(Debug)]
struct CaFile {
    dir: PathBuf,
    path: PathBuf,
}

impl CaFile {
    fn write(block: u8, pem: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "stsscan-lab-{}-{block}-{:016x}",
            std::process::id(),
            net::random_u64()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("lab-root-ca.pem");
        std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
        Ok(CaFile { dir, path })
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What reserves a block: DNS UDP and TCP on `127.B.0.53:port`, plus idle TCP listeners on
/// `127.B.0.53` at the HTTPS and SMTP ports. The DNS port may be 0 (any), which alone would not
/// keep two labs out of the same block; the markers do, for labs using the same service ports
/// (labs on other ports cannot collide on the hosts' addresses anyway).
struct BlockReservation {
    udp: UdpSocket,
    tcp: TcpListener,
    marks: Vec<TcpListener>,
}

/// Receive buffer asked for the DNS UDP socket.
const UDP_RECV_BUFFER: usize = 8 << 20;

/// Reserves block `octet` for `ports`.
async fn bind_dns(octet: u8, ports: Ports) -> std::io::Result<BlockReservation> {
    let want = dns::dns_socket_addr(octet, ports.dns);
    let udp = UdpSocket::bind(want).await?;
    // A scan opens with a burst of thousands of queries; the default receive buffer (~208 KiB,
    // a few hundred small datagrams) would drop some of them. Best effort: the kernel caps
    // the size at `net.core.rmem_max`.
    let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(UDP_RECV_BUFFER);
    // With port 0 the TCP listener takes the UDP socket's port.
    let tcp = TcpListener::bind(SocketAddr::new(want.ip(), udp.local_addr()?.port())).await?;
    let mut mark_ports = vec![ports.https, ports.smtp];
    mark_ports.dedup();
    let mut marks = Vec::new();
    for port in mark_ports {
        if port != 0 && port != ports.dns {
            marks.push(TcpListener::bind(SocketAddr::new(want.ip(), port)).await?);
        }
    }
    Ok(BlockReservation { udp, tcp, marks })
}

/// Starts a lab on the current tokio runtime: reserves a block, builds the world with
/// `make_world`, binds every listener and spawns the servers.
pub async fn start<F>(make_world: F, opts: LabOptions) -> anyhow::Result<Lab>
where
    F: FnOnce(AddressBlock) -> Arc<dyn World>,
{
    if opts.ports.https == 0 || opts.ports.smtp == 0 {
        bail!("the HTTPS and SMTP ports must be fixed (non-zero): every host shares them");
    }
    let (block, reservation) = match opts.block {
        Some(octet) => {
            let r = bind_dns(octet, opts.ports)
                .await
                .with_context(|| format!("binding DNS on 127.{octet}.0.53:{}", opts.ports.dns))?;
            (AddressBlock { octet }, r)
        }
        None => {
            let mut last = None;
            let mut found = None;
            for _ in 0..BLOCK_ATTEMPTS {
                let octet = 16 + u8::try_from(net::random_u64() % 235).unwrap_or(0);
                match bind_dns(octet, opts.ports).await {
                    Ok(r) => {
                        found = Some((AddressBlock { octet }, r));
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            match found {
                Some(f) => f,
                None => bail!(
                    "no free 127.B.0.53:{} after {BLOCK_ATTEMPTS} tries: {last:?}",
                    opts.ports.dns
                ),
            }
        }
    };
    let BlockReservation {
        udp,
        tcp,
        marks: block_marks,
    } = reservation;
    let dns_addr = udp.local_addr()?;
    let world = make_world(block);
    let listeners = world.listeners();
    for ip in listeners
        .https
        .iter()
        .chain(&listeners.smtp)
        .chain(&listeners.blackhole)
    {
        if !ip.is_loopback() {
            bail!("the world lists {ip}, which is not a loopback address");
        }
    }
    let pki = Arc::new(Pki::new()?);
    let ca_file = CaFile::write(block.octet, pki.root_pem())?;
    let counters = Arc::new(Counters::new(&listeners.https, &listeners.smtp));
    let (stop, shutdown) = net::Shutdown::new();
    let mut tasks = JoinSet::new();

    let server = Arc::new(dns::DnsServer {
        world: Arc::clone(&world),
        counters: Arc::clone(&counters),
        seed: opts.seed.unwrap_or_else(net::random_u64),
        seq: std::sync::atomic::AtomicU64::new(0),
    });
    let udp = Arc::new(udp);
    for _ in 0..opts.dns_udp_workers.max(1) {
        tasks.spawn(Arc::clone(&server).serve_udp(Arc::clone(&udp), shutdown.clone()));
    }
    tasks.spawn(Arc::clone(&server).serve_tcp(tcp, shutdown.clone()));

    for ip in dedup(&listeners.https) {
        let sock = SocketAddr::new(ip, opts.ports.https);
        let listener = TcpListener::bind(sock)
            .await
            .with_context(|| format!("binding HTTPS on {sock}"))?;
        let tls = pki::server_config(
            WorldCertResolver {
                world: Arc::clone(&world),
                pki: Arc::clone(&pki),
                addr: ip,
                service: Service::Https,
            },
            &[b"http/1.1"],
        )?;
        let host = Arc::new(https::HttpsHost {
            world: Arc::clone(&world),
            counters: Arc::clone(&counters),
            addr: ip,
            tls,
        });
        tasks.spawn(host.serve(listener, shutdown.clone()));
    }
    for ip in dedup(&listeners.smtp) {
        let sock = SocketAddr::new(ip, opts.ports.smtp);
        let listener = TcpListener::bind(sock)
            .await
            .with_context(|| format!("binding SMTP on {sock}"))?;
        let tls = pki::server_config(
            WorldCertResolver {
                world: Arc::clone(&world),
                pki: Arc::clone(&pki),
                addr: ip,
                service: Service::Smtp,
            },
            &[],
        )?;
        let host = Arc::new(smtp::SmtpHost {
            world: Arc::clone(&world),
            counters: Arc::clone(&counters),
            addr: ip,
            tls,
        });
        tasks.spawn(host.serve(listener, shutdown.clone()));
    }
    let mut hole_ports = vec![opts.ports.https, opts.ports.smtp];
    hole_ports.dedup();
    let holes = dedup(&listeners.blackhole).into_iter().flat_map(|ip| {
        hole_ports
            .iter()
            .map(move |port| SocketAddr::new(ip, *port))
    });
    let blackholes = futures::future::try_join_all(holes.map(|sock| async move {
        net::Blackhole::bind(sock)
            .await
            .with_context(|| format!("binding a black hole on {sock}"))
    }))
    .await?;
    Ok(Lab {
        block,
        ports: opts.ports,
        dns_addr,
        pki,
        ca_file,
        counters,
        world,
        stop,
        tasks,
        _block_marks: block_marks,
        _blackholes: blackholes,
    })
}

fn dedup(ips: &[IpAddr]) -> Vec<IpAddr> {
    let mut v = ips.to_vec();
    v.sort();
    v.dedup();
    v
}

impl Lab {
    /// The DNS server's address `127.B.0.53:port` (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns_addr
    }

    /// The lab root CA certificate (PEM), the only certificate clients should trust.
    pub fn ca_pem(&self) -> &str {
        self.pki.root_pem()
    }

    /// The lab root CA certificate (DER).
    pub fn ca_der(&self) -> &rustls::pki_types::CertificateDer<'static> {
        self.pki.root_der()
    }

    /// A file holding [`Lab::ca_pem`]; it lives as long as the lab.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file.path
    }

    /// A root store holding only the lab root CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // A freshly made rcgen certificate always parses; ignore the impossible error.
        let _ = roots.add(self.pki.root_der().clone());
        roots
    }

    /// The PKI (intermediate and unknown-root certificates, leaf cache size).
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The service ports.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// The lab's address block.
    pub fn block(&self) -> AddressBlock {
        self.block
    }

    /// The world being served.
    pub fn world(&self) -> &Arc<dyn World> {
        &self.world
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Stops every server: listeners close at once, open connections are given
    /// [`SHUTDOWN_GRACE`] and then aborted.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
        self.tasks.abort_all();
    }
}
