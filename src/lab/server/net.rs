//! Socket plumbing shared by the lab servers: the shutdown signal, a byte-counting stream
//! wrapper, the privileged-port probe and a small random source. No protocol logic here.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

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
