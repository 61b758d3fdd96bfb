//! A tiny HTTPS server for the fetch tests: tokio-rustls plus a hand-written HTTP/1.1
//! responder, on its own random loopback address and an ephemeral port.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use super::pki::Leaf;

/// How the server frames a body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Framing {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked` with chunks of this size.
    Chunked(usize),
    /// `Content-Length` announcing this many bytes, then the real body, then close.
    Announce(u64),
    /// `Content-Length` announcing this many bytes, then the real body, then 30 s silence.
    AnnounceThenStall(u64),
}

/// What the server does after the TLS handshake.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Read the request head and answer.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        framing: Framing,
    },
    /// Read the request head and send nothing for 30 s.
    Stall,
    /// Close right after the handshake.
    Close,
}

impl Reply {
    pub(crate) fn ok(content_type: &str, body: &[u8]) -> Reply {
        Reply::Respond {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
            framing: Framing::Length,
        }
    }
}

/// What one connection showed the server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    pub(crate) sni: Option<String>,
    pub(crate) head: String,
}

impl Seen {
    /// A request header's value (case-insensitive name).
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A random 127.B.C.1 address (B, C in 1..=254), distinct per call with high probability.
pub(crate) fn random_loopback() -> Ipv4Addr {
    let r = RandomState::new().hash_one(std::time::SystemTime::now());
    Ipv4Addr::new(127, (r % 254 + 1) as u8, ((r >> 8) % 254 + 1) as u8, 1)
}

/// The address one above `ip` in its /24 (nothing listens there in the tests).
pub(crate) fn neighbour(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3].wrapping_add(1)))
        }
        other => other,
    }
}

/// Binds a random loopback address on an ephemeral port (retrying on EADDRINUSE/EADDRNOTAVAIL).
pub(crate) async fn bind_random() -> TcpListener {
    for _ in 0..20 {
        if let Ok(l) = TcpListener::bind((random_loopback(), 0)).await {
            return l;
        }
    }
    TcpListener::bind(("127.0.0.1", 0)).await.unwrap()
}

#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A server config presenting `leaf.chain`, signing with `signing_key_der` (normally the
/// leaf's own key; another key makes the handshake signature invalid).
pub(crate) fn server_config(leaf: &Leaf, signing: &Leaf, tls12_only: bool) -> Arc<ServerConfig> {
    let key = rustls::crypto::ring::sign::any_supported_type(&signing.key()).unwrap();
    let certified = Arc::new(CertifiedKey::new(leaf.chain.clone(), key));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .unwrap();
    Arc::new(
        builder
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Fixed(certified))),
    )
}

/// Starts a server presenting `leaf` and answering every connection with `reply`.
pub(crate) async fn start(leaf: &Leaf, reply: Reply) -> TestServer {
    start_with(server_config(leaf, leaf, false), reply).await
}

pub(crate) async fn start_with(config: Arc<ServerConfig>, reply: Reply) -> TestServer {
    let listener = bind_random().await;
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let acceptor = TlsAcceptor::from(config);
    let seen2 = seen.clone();
    let task = tokio::spawn(async move {
        // Bounded by the test: the task is aborted when the TestServer drops.
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let reply = reply.clone();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(
                    Duration::from_secs(30),
                    serve(tcp, acceptor, reply, seen),
                )
                .await;
            });
        }
    });
    TestServer { addr, seen, task }
}

async fn serve(tcp: TcpStream, acceptor: TlsAcceptor, reply: Reply, seen: Arc<Mutex<Vec<Seen>>>) {
    let Ok(mut tls) = acceptor.accept(tcp).await else {
        return;
    };
    let sni = tls.get_ref().1.server_name().map(str::to_owned);
    if let Reply::Close = reply {
        seen.lock().unwrap().push(Seen {
            sni,
            head: String::new(),
        });
        return;
    }
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock().unwrap().push(Seen {
        sni,
        head: String::from_utf8_lossy(&head).into_owned(),
    });
    match reply {
        Reply::Stall => tokio::time::sleep(Duration::from_secs(30)).await,
        Reply::Close => {}
        Reply::Respond {
            status,
            headers,
            body,
            framing,
        } => {
            let mut out = format!("HTTP/1.1 {status} Test\r\n");
            for (n, v) in &headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            match framing {
                Framing::Length => out.push_str(&format!("Content-Length: {}\r\n", body.len())),
                Framing::Announce(n) | Framing::AnnounceThenStall(n) => {
                    out.push_str(&format!("Content-Length: {n}\r\n"))
                }
                Framing::Chunked(_) => out.push_str("Transfer-Encoding: chunked\r\n"),
            }
            out.push_str("Connection: close\r\n\r\n");
            let mut wire = out.into_bytes();
            match framing {
                Framing::Chunked(size) => {
                    for chunk in body.chunks(size.max(1)) {
                        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        wire.extend_from_slice(chunk);
                        wire.extend_from_slice(b"\r\n");
                    }
                    wire.extend_from_slice(b"0\r\n\r\n");
                }
                _ => wire.extend_from_slice(&body),
            }
            let _ = tls.write_all(&wire).await;
            if let Framing::AnnounceThenStall(_) = framing {
                let _ = tls.flush().await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            let _ = tls.shutdown().await;
        }
    }
}

/// A plain TCP server that answers every connection with `bytes` (not TLS) and closes.
pub(crate) async fn start_plaintext(bytes: &'static [u8]) -> (SocketAddr, JoinHandle<()>) {
    let listener = bind_random().await;
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let _ = tcp.write_all(bytes).await;
            let _ = tcp.shutdown().await;
        }
    });
    (addr, task)
}
