//! The lab's HTTPS hosts: one TLS listener per address in [`Listeners::https`], a hand-written
//! HTTP/1.1 responder (so that every [`HttpBehaviour`] is exact: verbatim header fields,
//! `Content-Length` or chunked framing, stalls and silent closes).
//!
//! Per request the server reads the head (at most [`MAX_HEAD`] bytes, else `431` and close),
//! calls [`World::https_response`] with the listener address, the SNI, the `Host` header
//! (lowercased, without a `:port` suffix) and the request-target as sent, and then:
//! `Respond` → the status line, the world's header fields in order, `Content-Length` or
//! `Transfer-Encoding: chunked` (8 KiB chunks), the body (none for `HEAD`); `Stall` → nothing,
//! the connection is held for at most [`STALL_BOUND`]; `Close` → the connection is closed
//! without a response. Connections are kept alive for at most [`MAX_REQUESTS`] requests and
//! closed after [`IDLE`] without a request. Request bodies are discarded (at most 64 KiB).
//! A malformed request head gets `400` and an over-long one `431`; closing connections linger
//! briefly, discarding unread input, so the client reads the response rather than a reset.
//!
//! [`Listeners::https`]: crate::lab::model::Listeners::https

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::counters::Counters;
use super::net::{Counted, Shutdown, linger_close, serve_connections};
use crate::lab::model::{BodyFraming, HttpBehaviour, HttpResponse, World};

/// Largest request head (request line and header fields) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Requests served on one connection before it is closed.
pub const MAX_REQUESTS: usize = 100;
/// Time allowed for the TLS handshake and between requests.
pub const IDLE: Duration = Duration::from_secs(30);
/// How long a `Stall` holds a connection.
pub const STALL_BOUND: Duration = Duration::from_secs(300);
/// Concurrent connections per listener; further connections are closed at once.
pub const MAX_CONNS: usize = 4096;
/// Largest request body read and discarded.
pub const MAX_REQUEST_BODY: usize = 64 * 1024;
/// Chunk size of chunked responses.
pub const CHUNK: usize = 8 * 1024;

/// One HTTPS listener.
pub(crate) struct HttpsHost {
    pub(crate) world: Arc<dyn World>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) addr: IpAddr,
    pub(crate) tls: Arc<rustls::ServerConfig>,
}

impl HttpsHost {
    /// Accepts connections until shutdown; dropping the future ends every connection.
    pub(crate) async fn serve(self: Arc<Self>, listener: TcpListener, stop: Shutdown) {
        let Some(ctr) = self.counters.https_addr(self.addr) else {
            return;
        };
        serve_connections(listener, stop, MAX_CONNS, |stream| {
            let guard = ctr.connect();
            let me = Arc::clone(&self);
            async move {
                let stream = Counted::new(stream, Arc::clone(guard.counters()));
                me.conn(stream).await;
                drop(guard);
            }
        })
        .await;
    }

    async fn conn<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S) {
        let acceptor = TlsAcceptor::from(Arc::clone(&self.tls));
        let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(stream)).await else {
            return;
        };
        let sni = tls.get_ref().1.server_name().map(str::to_ascii_lowercase);
        let mut io = BufWriter::new(tls);
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        for _ in 0..MAX_REQUESTS {
            let head = match tokio::time::timeout(IDLE, read_head(&mut io, &mut buf)).await {
                Ok(Ok(Some(h))) => h,
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return,
            };
            let Some(req) = Request::parse(&head) else {
                if write_simple(&mut io, 400, "Bad Request").await.is_ok() {
                    linger_close(&mut io).await;
                }
                return;
            };
            if req.too_big {
                if write_simple(&mut io, 431, "Request Header Fields Too Large")
                    .await
                    .is_ok()
                {
                    linger_close(&mut io).await;
                }
                return;
            }
            // Discard a request body announced by Content-Length (bounded).
            let mut keep_alive = req.keep_alive;
            if req.chunked_body || req.content_length > MAX_REQUEST_BODY {
                keep_alive = false;
            } else if req.content_length > 0 {
                let have = buf.len().min(req.content_length);
                buf.drain(..have);
                let mut rest = vec![0u8; req.content_length - have];
                if tokio::time::timeout(IDLE, io.read_exact(&mut rest))
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    return;
                }
            }
            self.counters.https_request(sni.as_deref(), &req.path);
            let behaviour = self.world.https_response(
                self.addr,
                sni.as_deref(),
                req.host.as_deref(),
                &req.path,
            );
            match behaviour {
                HttpBehaviour::Close => return,
                HttpBehaviour::Stall => {
                    tokio::time::sleep(STALL_BOUND).await;
                    return;
                }
                HttpBehaviour::Respond(resp) => {
                    if write_response(&mut io, &resp, req.head_only, keep_alive)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            if !keep_alive {
                linger_close(&mut io).await;
                return;
            }
        }
    }
}

/// Reads until the end of a request head; returns it (without the blank line) and leaves any
/// following bytes in `buf`. None: the client closed cleanly before a new request.
async fn read_head<R: AsyncRead + Unpin>(
    io: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find_head_end(buf) {
            let head: Vec<u8> = buf.drain(..end.0).collect();
            buf.drain(..end.1);
            return Ok(Some(head));
        }
        if buf.len() > MAX_HEAD {
            // Hand back an over-long marker: the parser reports `too_big`.
            let mut head = std::mem::take(buf);
            head.truncate(MAX_HEAD + 1);
            return Ok(Some(head));
        }
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// (end of head, length of the terminator) for `\r\n\r\n` or a bare `\n\n`.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The parts of a request the lab uses.
#[derive(Debug, Default, PartialEq, Eq)]
struct Request {
    path: String,
    host: Option<String>,
    head_only: bool,
    keep_alive: bool,
    content_length: usize,
    chunked_body: bool,
    too_big: bool,
}

impl Request {
    fn parse(head: &[u8]) -> Option<Request> {
        if head.len() > MAX_HEAD {
            return Some(Request {
                too_big: true,
                ..Default::default()
            });
        }
        let text = std::str::from_utf8(head).ok()?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let mut parts = lines.next()?.split(' ');
        let method = parts.next()?;
        let path = parts.next()?;
        let version = parts.next()?;
        if parts.next().is_some() || method.is_empty() || path.is_empty() {
            return None;
        }
        if !version.starts_with("HTTP/1.") {
            return None;
        }
        let mut req = Request {
            path: path.to_owned(),
            head_only: method == "HEAD",
            keep_alive: version == "HTTP/1.1",
            ..Default::default()
        };
        for line in lines {
            let (name, value) = line.split_once(':')?;
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "host" if req.host.is_none() => req.host = Some(strip_port(value)),
                "connection" => {
                    let v = value.to_ascii_lowercase();
                    if v.contains("close") {
                        req.keep_alive = false;
                    } else if v.contains("keep-alive") {
                        req.keep_alive = true;
                    }
                }
                "content-length" => req.content_length = value.parse().ok()?,
                "transfer-encoding" => req.chunked_body = true,
                _ => {}
            }
        }
        Some(req)
    }
}

/// `Host` value lowercased without a `:port` suffix (`[v6]:port` keeps the brackets).
fn strip_port(host: &str) -> String {
    let h = host.to_ascii_lowercase();
    if h.starts_with('[') {
        return match h.find(']') {
            Some(i) => h.get(..=i).unwrap_or_default().to_owned(),
            None => h,
        };
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
        _ => h,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

async fn write_simple<W: AsyncWrite + Unpin>(
    io: &mut W,
    status: u16,
    why: &str,
) -> std::io::Result<()> {
    let msg = format!("HTTP/1.1 {status} {why}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    io.write_all(msg.as_bytes()).await?;
    io.flush().await
}

async fn write_response<W: AsyncWrite + Unpin>(
    io: &mut W,
    resp: &HttpResponse,
    head_only: bool,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    match resp.framing {
        BodyFraming::ContentLength => {
            head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
        }
        BodyFraming::Chunked => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes()).await?;
    if !head_only {
        match resp.framing {
            BodyFraming::ContentLength => io.write_all(&resp.body).await?,
            BodyFraming::Chunked => {
                for chunk in resp.body.chunks(CHUNK) {
                    io.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .await?;
                    io.write_all(chunk).await?;
                    io.write_all(b"\r\n").await?;
                }
                io.write_all(b"0\r\n\r\n").await?;
            }
        }
    }
    io.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_head() {
        let r = Request::parse(
            b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: MTA-STS.Example.com:10443\r\nConnection: close",
        )
        .unwrap();
        assert_eq!(r.path, "/.well-known/mta-sts.txt");
        assert_eq!(r.host.as_deref(), Some("mta-sts.example.com"));
        assert!(!r.keep_alive);
        assert!(Request::parse(b"GARBAGE").is_none());
        assert!(Request::parse(&vec![b'a'; MAX_HEAD + 1]).unwrap().too_big);
    }

    #[test]
    fn strips_ports() {
        assert_eq!(strip_port("a.b:443"), "a.b");
        assert_eq!(strip_port("[::1]:443"), "[::1]");
        assert_eq!(strip_port("a.b"), "a.b");
    }
}
