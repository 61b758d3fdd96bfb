//! End-to-end: small explicit worlds on the real lab servers, checked against their truth
//! with hickory (pointed only at the lab DNS address) and minimal bounded TLS/SMTP clients.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use stsscan::lab::model::World;
use stsscan::lab::world::serve::POLICY_PATH;
use stsscan::lab::world::vocab::{CertVerdict, PolicyFetch, SmtpOutcome, TxtState};
use stsscan::lab::world::{ExplicitWorld, Provider, Scenario};

use super::{a_of, check_policy_body};

// ---- end to end ---------------------------------------------------------------------------

/// A small explicit world on real servers, queried with hickory pointed only at the lab DNS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_world_end_to_end_with_hickory() {
    use hickory_resolver::Resolver;
    use hickory_resolver::config::{
        ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    };
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let mut made = None;
    let lab = stsscan::lab::server::start(
        |b| {
            let w = Arc::new(
                ExplicitWorld::builder()
                    .domain("good.test", Scenario::EnforceValid)
                    .domain("cname.test", Scenario::TxtCname2)
                    .domain("split.test", Scenario::TxtMultiString)
                    .domain("fail.test", Scenario::TxtServfail)
                    .domain("null.test", Scenario::NullMx)
                    .domain_at("g.test", Scenario::NoSts, Provider::GoogleLike)
                    .build(b.octet),
            );
            made = Some(Arc::clone(&w));
            w as Arc<dyn World>
        },
        stsscan::lab::server::LabOptions::default(),
    )
    .await
    .unwrap();
    let world = made.unwrap();
    let dns = lab.dns_addr();
    assert!(dns.ip().is_loopback());
    let mut udp = ConnectionConfig::udp();
    udp.port = dns.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = dns.port();
    let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
        dns.ip(),
        true,
        vec![udp, tcp],
    )]);
    let mut opts = ResolverOpts::default();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
    opts.cache_size = 0;
    let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .unwrap();

    let txt = |name: &'static str| {
        let r = &resolver;
        async move {
            r.lookup(name, RecordType::TXT).await.map(|l| {
                l.answers()
                    .iter()
                    .filter_map(|rec| match &rec.data {
                        hickory_proto::rr::RData::TXT(t) => Some(t.txt_data.concat()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
        }
    };
    for d in ["good.test", "cname.test", "split.test"] {
        let t = world.truth(d).unwrap();
        assert_eq!(t.sts_txt, TxtState::Valid);
        let name: &'static str = Box::leak(format!("_mta-sts.{d}.").into_boxed_str());
        let recs = txt(name).await.unwrap();
        let id = t.sts_id.unwrap();
        assert_eq!(recs.len(), 1, "{d}: {recs:?}");
        assert_eq!(
            String::from_utf8_lossy(&recs[0]),
            format!("v=STSv1; id={id};"),
            "{d}"
        );
    }
    let err = txt("_mta-sts.fail.test.").await.unwrap_err();
    assert!(!err.is_no_records_found(), "SERVFAIL is not NODATA: {err}");

    let mx = resolver.lookup("g.test.", RecordType::MX).await.unwrap();
    let mut got: Vec<(u16, String)> = mx
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::MX(m) => Some((
                m.preference,
                m.exchange.to_ascii().trim_end_matches('.').to_owned(),
            )),
            _ => None,
        })
        .collect();
    got.sort();
    let t = world.truth("g.test").unwrap();
    let want: Vec<(u16, String)> =
        t.mx.iter()
            .map(|m| (m.mx_preference, m.mx_host.clone()))
            .collect();
    assert_eq!(got, want);
    let a = resolver
        .lookup(format!("{}.", t.mx[0].mx_host), RecordType::A)
        .await
        .unwrap();
    let addrs: Vec<String> = a
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            hickory_proto::rr::RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(addrs, t.mx[0].mx_addresses);

    let null = resolver.lookup("null.test.", RecordType::MX).await.unwrap();
    assert_eq!(null.answers().len(), 1);
    lab.shutdown().await;
}

// ---- end to end over HTTPS and SMTP ---------------------------------------------------------

mod wire {
    //! Minimal bounded clients for the end-to-end test (independent of the scanner's code).

    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::ServerName;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;

    pub(crate) const STEP: Duration = Duration::from_secs(5);

    pub(crate) fn connector(roots: rustls::RootCertStore) -> TlsConnector {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        TlsConnector::from(Arc::new(cfg))
    }

    /// Reads until EOF, at most 1 MiB and [`STEP`].
    pub(crate) async fn read_all<S: AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = tokio::time::timeout(STEP, async {
            let mut buf = [0u8; 16384];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || out.len() > 1 << 20 {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
        })
        .await;
        out
    }

    /// TLS handshake with `sni` verified against the lab root, then `GET path`; Err when the
    /// handshake (i.e. the certificate) fails. Returns status and decoded body.
    pub(crate) async fn get(
        c: &TlsConnector,
        addr: SocketAddr,
        sni: &str,
        path: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(sni.to_owned()).unwrap();
        let mut tls = tokio::time::timeout(STEP, c.connect(name, tcp)).await??;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n");
        tls.write_all(req.as_bytes()).await?;
        let raw = read_all(&mut tls).await;
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut rest = &raw[end + 4..];
        if !head.contains("transfer-encoding: chunked") {
            return Ok((status, rest.to_vec()));
        }
        let mut body = Vec::new();
        for _ in 0..10_000 {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..nl]).unwrap(), 16).unwrap();
            rest = &rest[nl + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        Ok((status, body))
    }

    /// Reads one SMTP reply's lines (bounded); None on EOF, timeout or garbage.
    pub(crate) async fn reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<String>> {
        tokio::time::timeout(STEP, async {
            let mut lines = Vec::new();
            for _ in 0..200 {
                while let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                    let line: Vec<u8> = buf.drain(..p + 2).collect();
                    let line = String::from_utf8(line[..p].to_vec()).ok()?;
                    let done = line.as_bytes().get(3) != Some(&b'-');
                    lines.push(line);
                    if done {
                        return Some(lines);
                    }
                }
                let mut chunk = [0u8; 4096];
                let n = s.read(&mut chunk).await.ok()?;
                if n == 0 || buf.len() > 65_536 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            None
        })
        .await
        .ok()?
    }
}

/// Real HTTPS and SMTP servers behave as the truth says: a client trusting only the lab root
/// completes the handshake iff `policy_cert = valid`, statuses and bodies match, and EHLO
/// advertises STARTTLS iff `starttls`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_hosts_and_mx_behave_as_the_truth_says() {
    use std::net::SocketAddr;
    use tokio::io::AsyncWriteExt;

    let policy = [
        Scenario::EnforceValid,
        Scenario::EnforceValidChunked,
        Scenario::PolicyCertExpiring,
        Scenario::PolicyCertWildcard,
        Scenario::PolicyCertSelfSigned,
        Scenario::PolicyCertExpired,
        Scenario::PolicyCertApex,
        Scenario::PolicyCertUntrusted,
        Scenario::PolicyCertMissingIntermediate,
        Scenario::PolicyCertWrongPurpose,
        Scenario::PolicyHttp404,
        Scenario::PolicyRedirect301,
        Scenario::PolicyTooLargeChunked,
        Scenario::PolicyNmxTypo,
    ];
    let smtp = [
        Scenario::EnforceValid,
        Scenario::SmtpNoStarttls,
        Scenario::SmtpRejectGreeting,
        Scenario::SmtpMultilineGreeting,
    ];
    let mut made = None;
    let lab = stsscan::lab::server::start(
        |b| {
            let mut builder = ExplicitWorld::builder();
            for s in policy.iter().chain(&smtp) {
                builder = builder.domain(&format!("{}.test", s.name()), *s);
            }
            let w = Arc::new(builder.build(b.octet));
            made = Some(Arc::clone(&w));
            w as Arc<dyn World>
        },
        stsscan::lab::server::LabOptions::default(),
    )
    .await
    .unwrap();
    let world = made.unwrap();
    let c = wire::connector(lab.root_store());
    for s in policy {
        let d = format!("{}.test", s.name());
        let t = world.truth(&d).unwrap();
        let host = format!("mta-sts.{d}");
        let ip: IpAddr = a_of(world.as_ref(), &host)[0].parse().unwrap();
        let addr = SocketAddr::new(ip, lab.ports().https);
        let got = wire::get(&c, addr, &host, POLICY_PATH).await;
        assert_eq!(
            got.is_ok(),
            t.policy_cert == Some(CertVerdict::Valid),
            "{d}: {got:?} vs {:?}",
            t.policy_cert
        );
        let Ok((status, body)) = got else { continue };
        assert_eq!(Some(status), t.policy_http_status, "{d}");
        match t.policy_fetch {
            PolicyFetch::TooLarge => assert!(body.len() > 65_536, "{d}"),
            PolicyFetch::Ok => {
                assert!(body.len() <= 65_536, "{d}");
                check_policy_body(&t, &body);
            }
            _ => {}
        }
    }
    for s in smtp {
        let d = format!("{}.test", s.name());
        let t = world.truth(&d).unwrap();
        let m = &t.mx[0];
        let ip: IpAddr = m.mx_addresses[0].parse().unwrap();
        let mut tcp = tokio::net::TcpStream::connect(SocketAddr::new(ip, lab.ports().smtp))
            .await
            .unwrap();
        let mut buf = Vec::new();
        let greeting = wire::reply(&mut tcp, &mut buf).await.unwrap();
        // RFC 5321 §4.2.3: "554 Transaction failed (Or, in the case of a connection-opening
        // response, "No SMTP service here")".
        if m.smtp == SmtpOutcome::GreetingRejected {
            assert!(greeting[0].starts_with("554"), "{d}: {greeting:?}");
            assert_eq!(m.starttls, None);
            continue;
        }
        assert!(
            greeting.last().unwrap().starts_with("220 "),
            "{d}: {greeting:?}"
        );
        tcp.write_all(b"EHLO scanner.test\r\n").await.unwrap();
        let ehlo = wire::reply(&mut tcp, &mut buf).await.unwrap();
        // RFC 3207 §3: "The STARTTLS keyword is used to tell the SMTP client that the SMTP
        // server is currently able to negotiate the use of TLS."
        let offered = ehlo.iter().any(|l| {
            l.get(4..)
                .is_some_and(|k| k.eq_ignore_ascii_case("STARTTLS"))
        });
        assert_eq!(Some(offered), m.starttls, "{d}: {ehlo:?}");
    }
    lab.shutdown().await;
}
