//! `tlsrpt receive`: the RFC 8460 §5.4 HTTPS reporting endpoint. Accepts `POST` requests whose
//! `Content-Type` is `application/tlsrpt+gzip` or `application/tlsrpt+json`, parses the body
//! with [`crate::records::tlsrpt_report`] and appends the report to the dataset
//! ([`super::store`]); the dataset is flushed every [`ReceiveConfig::flush_interval`], when
//! its buffer fills, and at shutdown, so a crash loses at most one interval of reports.
//!
//! Answers (closed set): `200` stored (or already stored: same `report-id`), `400`
//! unparsable report (also recorded in the `errors` table), `405` not `POST`, `413` body over
//! [`ReceiveConfig::max_body`], `415` other media type, `503` the dataset could not be
//! written (the sender should retry). TLS (hyper over tokio-rustls) unless
//! the caller passes no TLS configuration (the CLI requires `--insecure-http` for that).
//! Connections are capped ([`MAX_CONNECTIONS`]) and each is bounded in time
//! ([`CONNECTION_TIMEOUT`]); reports parsed at once are capped ([`PARSE_SLOTS`]). A periodic
//! flush that fails keeps the endpoint serving (counted in
//! [`ReceiveCounters::flush_failed`]); the rows stay buffered for the next one. This module is compiled with feature `lab`, which brings hyper.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::ingest::{IngestStats, store_parsed};
use super::mime::ReportMediaType;
use super::store::{Added, Store};
use crate::records::tlsrpt_report::{self, MAX_REPORT_BYTES};

/// Connections served at once; further ones wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest a connection may live (TLS handshake, request, response).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// Reports parsed at once. A parsed report may take ≈ 20 × its (inflated, at most 16 MiB)
/// JSON in memory (`records::tlsrpt_report`), so parsing, not connections, is what must be
/// bounded; the others wait their turn.
pub const PARSE_SLOTS: usize = 2;

/// Configuration of the endpoint.
#[derive(Clone)]
pub struct ReceiveConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Dataset directory.
    pub out: PathBuf,
    /// TLS server configuration; `None` serves plain HTTP (behind a reverse proxy).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// How often buffered rows are written.
    pub flush_interval: Duration,
}

impl std::fmt::Debug for ReceiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiveConfig")
            .field("listen", &self.listen)
            .field("out", &self.out)
            .field("tls", &self.tls.is_some())
            .field("max_body", &self.max_body)
            .field("flush_interval", &self.flush_interval)
            .finish()
    }
}

impl ReceiveConfig {
    /// Defaults: body limit [`MAX_REPORT_BYTES`], flush every 10 s.
    pub fn new(listen: SocketAddr, out: PathBuf, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        ReceiveConfig {
            listen,
            out,
            tls,
            max_body: MAX_REPORT_BYTES,
            flush_interval: Duration::from_secs(10),
        }
    }
}

/// Counters of answers given.
#[derive(Debug, Default)]
pub struct ReceiveCounters {
    /// 200, new report stored.
    pub stored: AtomicU64,
    /// 200, report id already stored.
    pub duplicate: AtomicU64,
    /// 400.
    pub bad_request: AtomicU64,
    /// 405.
    pub bad_method: AtomicU64,
    /// 413.
    pub too_large: AtomicU64,
    /// 415.
    pub bad_media_type: AtomicU64,
    /// Periodic flushes that failed (a full disk, say): the rows stay buffered, the endpoint
    /// keeps serving, and the next tick tries again.
    pub flush_failed: AtomicU64,
}

struct Shared {
    store: Mutex<Store>,
    max_body: usize,
    counters: Arc<ReceiveCounters>,
    parsing: Semaphore,
}

/// A running endpoint.
#[derive(Debug)]
pub struct Receiver {
    local_addr: SocketAddr,
    counters: Arc<ReceiveCounters>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Receiver {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The answer counters.
    pub fn counters(&self) -> &ReceiveCounters {
        &self.counters
    }

    /// Stops accepting, waits for open connections (bounded by [`CONNECTION_TIMEOUT`]) and
    /// flushes the dataset.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("receiver task panicked")?
    }
}

/// Binds and starts the endpoint.
pub async fn start(cfg: ReceiveConfig) -> anyhow::Result<Receiver> {
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let local_addr = listener.local_addr()?;
    let out = cfg.out.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&out)).await??;
    let counters = Arc::new(ReceiveCounters::default());
    let shared = Arc::new(Shared {
        store: Mutex::new(store),
        max_body: cfg.max_body,
        counters: Arc::clone(&counters),
        parsing: Semaphore::new(PARSE_SLOTS),
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(serve(listener, cfg, shared, stop_rx));
    Ok(Receiver {
        local_addr,
        counters,
        stop,
        task,
    })
}

async fn flush(shared: &Arc<Shared>) -> anyhow::Result<()> {
    let s = Arc::clone(shared);
    tokio::task::spawn_blocking(move || match s.store.lock() {
        Ok(mut st) => st.flush(),
        Err(_) => Err(anyhow::anyhow!("dataset lock poisoned")),
    })
    .await?
}

async fn serve(
    listener: TcpListener,
    cfg: ReceiveConfig,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut conns = JoinSet::new();
    let mut tick = tokio::time::interval(cfg.flush_interval.max(Duration::from_millis(10)));
    let acceptor = cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                // A failed flush keeps the rows buffered and the endpoint serving (a request
                // that cannot be stored gets 503); the next tick tries again.
                if flush(&shared).await.is_err() {
                    shared.counters.flush_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            r = listener.accept() => {
                let Ok((tcp, _peer)) = r else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { break };
                let shared = Arc::clone(&shared);
                let acceptor = acceptor.clone();
                let peer = tcp.peer_addr().map(|a| a.to_string()).unwrap_or_default();
                let stop = stop.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    let fut = async {
                        match acceptor {
                            Some(a) => {
                                if let Ok(tls) = a.accept(tcp).await {
                                    serve_conn(TokioIo::new(tls), shared, peer, stop).await;
                                }
                            }
                            None => serve_conn(TokioIo::new(tcp), shared, peer, stop).await,
                        }
                    };
                    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, fut).await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.abort_all();
    flush(&shared).await
}

/// Serves one HTTP/1.1 connection; on shutdown, finishes the request in flight and closes.
async fn serve_conn<I>(io: I, shared: Arc<Shared>, peer: String, mut stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| handle(Arc::clone(&shared), peer.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        () = async {
            let _ = stop.wait_for(|s| *s).await;
        } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

fn answer(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(
    shared: Arc<Shared>,
    peer: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let c = &shared.counters;
    if req.method() != Method::POST {
        c.bad_method.fetch_add(1, Ordering::Relaxed);
        let mut r = answer(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted");
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("POST"),
        );
        return Ok(r);
    }
    let ct = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(media) = ReportMediaType::from_content_type(ct) else {
        c.bad_media_type.fetch_add(1, Ordering::Relaxed);
        return Ok(answer(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/tlsrpt+gzip or application/tlsrpt+json",
        ));
    };
    let announced = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_large = || {
        c.too_large.fetch_add(1, Ordering::Relaxed);
        Ok(answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {} bytes", shared.max_body),
        ))
    };
    if announced.is_some_and(|n| n > shared.max_body as u64) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), shared.max_body)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large();
            }
            c.bad_request.fetch_add(1, Ordering::Relaxed);
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                "the body could not be read",
            ));
        }
    };
    let s = Arc::clone(&shared);
    let source = format!("http:{peer}");
    let Ok(_slot) = shared.parsing.acquire().await else {
        return Ok(answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report could not be stored; retry later",
        ));
    };
    let res = tokio::task::spawn_blocking(move || {
        let parsed = match media {
            ReportMediaType::Json => tlsrpt_report::parse(&body),
            ReportMediaType::Gzip => tlsrpt_report::parse_gzip(&body),
        };
        let first_error = parsed
            .errors
            .first()
            .map(|e| format!("{}: {}", e.code, e.message));
        let mut stats = IngestStats::default();
        let mut st = s
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("dataset lock poisoned"))?;
        let added = store_parsed(&mut st, &mut stats, &parsed, &source)?;
        Ok::<_, anyhow::Error>((added, first_error))
    })
    .await;
    let reply = match res {
        Ok(Ok((Some(Added::Added), _))) => {
            c.stored.fetch_add(1, Ordering::Relaxed);
            answer(StatusCode::OK, "report stored")
        }
        Ok(Ok((Some(Added::Duplicate), _))) => {
            c.duplicate.fetch_add(1, Ordering::Relaxed);
            answer(StatusCode::OK, "report already stored (same report-id)")
        }
        Ok(Ok((None, err))) => {
            c.bad_request.fetch_add(1, Ordering::Relaxed);
            let err: String = err.unwrap_or_default().chars().take(300).collect();
            answer(
                StatusCode::BAD_REQUEST,
                &format!("unparsable report: {err}"),
            )
        }
        Ok(Err(_)) | Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "the report could not be stored; retry later",
        ),
    };
    Ok(reply)
}
