//! Minimal clients for the lab server tests: raw DNS over UDP/TCP (hickory-proto messages),
//! an HTTPS GET over tokio-rustls, an SMTP reply reader, and TLS client configurations (one
//! trusting only the lab root, one that accepts anything and records the chain).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::TlsConnector;

/// Per-step bound of the test clients.
pub(crate) const STEP: Duration = Duration::from_secs(5);

/// A DNS query message for `name`/`qtype` (RD set, EDNS optional).
pub(crate) fn query(name: &str, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        m.set_edns(e);
    }
    m
}

/// Sends `msg` over UDP and waits at most `wait` for the answer (None: no answer).
pub(crate) async fn udp(server: SocketAddr, msg: &Message, wait: Duration) -> Option<Message> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&msg.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(Message::from_vec(&buf[..n]).unwrap())
}

/// Sends `msg` over TCP and waits at most `wait` for the answer (None: no answer).
pub(crate) async fn tcp(server: SocketAddr, msg: &Message, wait: Duration) -> Option<Message> {
    let mut s = TcpStream::connect(server).await.unwrap();
    let q = msg.to_vec().unwrap();
    let mut out = (q.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&q);
    s.write_all(&out).await.unwrap();
    let mut len = [0u8; 2];
    tokio::time::timeout(wait, s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).await.unwrap();
    Some(Message::from_vec(&buf).unwrap())
}

/// Accepts any server certificate and keeps the chain it saw.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub(crate) chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap() = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn builder() -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier> {
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
}

/// A client trusting only the lab root.
pub(crate) fn verifying(roots: rustls::RootCertStore) -> TlsConnector {
    let cfg = builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
}

/// A client accepting any certificate; the chain lands in the returned [`Capture`].
pub(crate) fn capturing() -> (TlsConnector, Arc<Capture>) {
    let cap = Arc::new(Capture::default());
    let cfg = builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&cap) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    (TlsConnector::from(Arc::new(cfg)), cap)
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) chunked: bool,
}

impl Http {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads everything until EOF (bounded in size and time); Err on timeout.
pub(crate) async fn read_all<S: AsyncRead + Unpin>(
    s: &mut S,
    wait: Duration,
) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let fut = async {
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            assert!(out.len() < 4 << 20, "response too large");
        }
    };
    tokio::time::timeout(wait, fut).await.map_err(|_| ())?;
    Ok(out)
}

/// Parses a full HTTP/1.1 response (chunked bodies decoded).
pub(crate) fn parse_http(raw: &[u8]) -> Http {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = std::str::from_utf8(&raw[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_owned(), v.trim().to_owned())
        })
        .collect();
    let mut rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    let body = if chunked {
        let mut body = Vec::new();
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            assert_eq!(&rest[size..size + 2], b"\r\n");
            rest = &rest[size + 2..];
        }
        body
    } else {
        rest.to_vec()
    };
    Http {
        status,
        headers,
        body,
        chunked,
    }
}

/// TLS-connects to `addr` with `sni` and sends `GET path` with `Host: host` and
/// `Connection: close`; returns the stream to read from.
pub(crate) async fn https_send(
    connector: &TlsConnector,
    addr: SocketAddr,
    sni: &str,
    host: &str,
    path: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).unwrap();
    let mut tls = tokio::time::timeout(STEP, connector.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timeout"))??;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await?;
    tls.flush().await?;
    Ok(tls)
}

/// GET over HTTPS, returning the parsed response.
pub(crate) async fn https_get(
    connector: &TlsConnector,
    addr: SocketAddr,
    sni: &str,
    host: &str,
    path: &str,
) -> std::io::Result<Http> {
    let mut tls = https_send(connector, addr, sni, host, path).await?;
    let raw = read_all(&mut tls, STEP)
        .await
        .map_err(|()| std::io::Error::other("timeout"))?;
    Ok(parse_http(&raw))
}

/// Reads one SMTP reply (all lines up to the one with a space after the code); None on EOF,
/// timeout or a line that is not a reply line.
pub(crate) async fn reply<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    let fut = async {
        loop {
            while let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = buf.drain(..p + 2).collect();
                let line = String::from_utf8(line[..p].to_vec()).ok()?;
                let last = line.as_bytes().get(3) == Some(&b' ') || line.len() == 3;
                if line.len() < 3 || !line.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                    return None;
                }
                lines.push(line);
                if last {
                    return Some(());
                }
                if lines.len() > 1000 {
                    return None;
                }
            }
            let mut chunk = [0u8; 4096];
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                return None;
            }
        }
    };
    tokio::time::timeout(STEP, fut).await.ok()??;
    Some(lines)
}

/// Writes one SMTP command line.
pub(crate) async fn cmd<S: AsyncWrite + Unpin>(s: &mut S, line: &str) {
    s.write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    s.flush().await.unwrap();
}
