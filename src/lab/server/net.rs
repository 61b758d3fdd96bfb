//! Socket plumbing shared by the lab servers: the shutdown signal, the accept loop, a
//! byte-counting stream wrapper, the privileged-port probe, a small random source and the
//! "black hole" listener.
//! No protocol logic here.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::counters::AddrCounters;

/// A clonable "the lab is shutting down" signal.
#[derive(Debug, Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A new signal and its trigger.
    pub(crate) fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// Resolves once shutdown was requested (or the trigger was dropped).
    pub(crate) async fn wait(&mut self) {
        // An Err means the sender is gone: the lab is gone, so stop as well.
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// Accepts connections on `listener` until `stop` fires and runs the task `handle` makes for
/// each, at most `max` at once: over the cap the task is dropped unpolled, which closes the
/// connection (after `handle` has seen it, so a counter it takes still counts the attempt).
/// Finished tasks are reaped as the loop goes; when the loop ends, every connection ends with
/// it. An accept error (e.g. out of file descriptors) pauses the loop for 10 ms, not a spin.
pub(crate) async fn serve_connections<F, Fut>(
    listener: TcpListener,
    mut stop: Shutdown,
    max: usize,
    mut handle: F,
) where
    F: FnMut(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        let stream = tokio::select! {
            () = stop.wait() => return,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let task = handle(stream);
        if conns.len() < max {
            conns.spawn(task);
        }
    }
}

/// A stream that adds the bytes it moves to an address's counters.
#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    counters: Arc<AddrCounters>,
}

impl<S> Counted<S> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: S, counters: Arc<AddrCounters>) -> Self {
        Counted { inner, counters }
    }

    /// The wrapped stream.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.counters
                .add_in(buf.filled().len().saturating_sub(before));
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.counters.add_out(n);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// True when this process may bind ports below 1024 (root or CAP_NET_BIND_SERVICE), found by
/// trying to bind a few low ports on 127.0.0.1 (each released at once).
pub(crate) fn can_bind_privileged() -> bool {
    for port in [1u16, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
        match StdTcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))) {
            Ok(_) => return true,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return false,
            Err(_) => continue,
        }
    }
    false
}

/// A random 64-bit value (not cryptographic: block choice, serial numbers).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Longest a closing connection keeps reading the client's unread input.
pub(crate) const LINGER: Duration = Duration::from_secs(2);
/// Most input discarded while closing.
pub(crate) const LINGER_BYTES: usize = 1 << 20;

/// Shuts the write side down (TLS: close_notify) and then reads and discards what the client is still sending (at most
/// [`LINGER_BYTES`] for at most [`LINGER`]), so that closing with unread input does not reset
/// the connection before the client has read the response.
pub(crate) async fn linger_close<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) {
    let _ = io.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while total < LINGER_BYTES {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Listen backlog of a black hole (Linux queues backlog + 1 established connections).
pub(crate) const BLACKHOLE_BACKLOG: u32 = 1;
/// Most filler connections a black hole opens before giving up.
pub(crate) const BLACKHOLE_MAX_FILL: usize = 16;
/// A loopback connection not established within this time is taken as unanswered. On
/// loopback the kernel answers a SYN within the sending system call, so this is generous.
pub(crate) const BLACKHOLE_PROBE: Duration = Duration::from_millis(250);

/// A bound port that never accepts and whose listen queue is full: connection attempts to it
/// are never answered, so clients see `connect()` time out (on loopback, where an unbound
/// port is refused at once and no packet filter is wanted).
///
/// The trick: the socket listens with a backlog of [`BLACKHOLE_BACKLOG`] and the lab itself
/// opens connections to it — never accepted — until one is no longer answered within
/// [`BLACKHOLE_PROBE`]. From then on the accept queue is full and Linux drops every new SYN
/// (`tcp_conn_request`: "acceptq full" → drop, counted as `ListenOverflows`; with the default
/// `net.ipv4.tcp_abort_on_overflow = 0` nothing is sent back), and the client retransmits its
/// SYN until its own timeout. Nothing else on the machine is touched. On systems that reset
/// instead of dropping, the clients would see a refusal; the lab tests check for a timeout.
#[derive(Debug)]
pub(crate) struct Blackhole {
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    /// Binds `addr` and fills its queue.
    pub(crate) async fn bind(addr: SocketAddr) -> io::Result<Blackhole> {
        let sock = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        sock.set_reuseaddr(true)?;
        sock.bind(addr)?;
        let listener = sock.listen(BLACKHOLE_BACKLOG)?;
        let mut fillers = Vec::new();
        for _ in 0..BLACKHOLE_MAX_FILL {
            match tokio::time::timeout(BLACKHOLE_PROBE, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Ok(Blackhole {
                        _listener: listener,
                        _fillers: fillers,
                    });
                }
            }
        }
        Err(io::Error::other(format!(
            "{addr}: the listen queue did not fill after {BLACKHOLE_MAX_FILL} connections"
        )))
    }
}
