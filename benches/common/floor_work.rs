//! The work the floor measures, shared by `benches/floor.rs` (criterion: time) and
//! `benches/floor_count.rs` (a fixed number of repetitions for `scripts/callgrind.sh`:
//! instructions). What each piece stands for is described in `benches/floor.rs`.

#![allow(clippy::unwrap_used, reason = "a benchmark: a setup failure aborts it")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rustls::client::Resumption;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use stsscan::output::schema::{domains_batch, mx_batch};
use stsscan::output::{DomainRow, FindingRow, MxRow, Table};

/// The four exchanges of a typical mail domain: (query name, type, answer rdata).
pub(crate) fn exchanges() -> Vec<(Name, RecordType, RData)> {
    let n = |s: &str| Name::from_ascii(s).unwrap();
    vec![
        (
            n("_mta-sts.example-domain-123.test."),
            RecordType::TXT,
            RData::TXT(TXT::new(vec!["v=STSv1; id=20240101T000000;".into()])),
        ),
        (
            n("_smtp._tls.example-domain-123.test."),
            RecordType::TXT,
            RData::TXT(TXT::new(vec![
                "v=TLSRPTv1; rua=mailto:tlsrpt@example-domain-123.test".into(),
            ])),
        ),
        (
            n("example-domain-123.test."),
            RecordType::MX,
            RData::MX(MX::new(10, n("mx1.provider-a.test."))),
        ),
        (
            n("mx1.provider-a.test."),
            RecordType::A,
            RData::A(A::new(127, 64, 1, 10)),
        ),
    ]
}

pub(crate) fn dns_exchange(id: u16, name: &Name, rtype: RecordType, rdata: &RData) -> usize {
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    q.set_edns(edns);
    let wire = q.to_vec().unwrap();
    // Server side: decode, answer, encode.
    let req = Message::from_vec(&wire).unwrap();
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_available = true;
    resp.add_query(req.queries[0].clone());
    resp.add_answer(Record::from_rdata(name.clone(), 300, rdata.clone()));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    resp.set_edns(e);
    let answer = resp.to_vec().unwrap();
    // Client side: decode the answer.
    let m = Message::from_vec(&answer).unwrap();
    m.answers.len() + wire.len()
}

/// Client and server configurations with the chain shape of the lab and of most of the web:
/// an ECDSA P-256 leaf issued by an intermediate issued by the root the client trusts; the
/// server sends leaf + intermediate, so the client verifies two certificate signatures (leaf
/// by intermediate, intermediate by root) plus the handshake signature. (Until session 3 the
/// floor used a self-signed leaf as its own anchor: one certificate signature fewer than any
/// real handshake, which understated the floor.)
pub(crate) fn tls_configs() -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = super::chain::lab_shaped_chain();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.leaf_key_pkcs8));
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![chain.leaf, chain.intermediate], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(chain.root).unwrap();
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every handshake is a full one, as every scanner handshake is (it must see the chain):
    // rustls resumes by default, and a resumed TLS 1.3 handshake verifies no certificate at
    // all — with the default, this floor measured resumptions after the first iteration.
    client.resumption = Resumption::disabled();
    (Arc::new(client), Arc::new(server))
}

/// Runs one full handshake over in-memory buffers; returns the time spent in client calls.
///
/// Every client call goes through one of the `floor_client_*` functions below, which are never
/// inlined: `scripts/callgrind.sh` counts the instructions of the client half by collecting only
/// inside them (`valgrind --tool=callgrind --toggle-collect='*floor_client_*'`).
pub(crate) fn handshake(
    client_cfg: &Arc<ClientConfig>,
    server_cfg: &Arc<ServerConfig>,
) -> Duration {
    let name = ServerName::try_from("mx1.provider-a.test").unwrap();
    let t = Instant::now();
    let mut client = floor_client_new(client_cfg, name);
    let mut client_time = t.elapsed();
    let mut server = ServerConnection::new(server_cfg.clone()).unwrap();
    let mut buf = Vec::with_capacity(8192);
    for _ in 0..16 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        buf.clear();
        let t = Instant::now();
        floor_client_write(&mut client, &mut buf);
        client_time += t.elapsed();
        if !buf.is_empty() {
            let mut rd = buf.as_slice();
            while !rd.is_empty() {
                server.read_tls(&mut rd).unwrap();
            }
            server.process_new_packets().unwrap();
        }
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            let t = Instant::now();
            floor_client_read(&mut client, &buf);
            client_time += t.elapsed();
        }
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    client_time
}

#[inline(never)]
fn floor_client_new(cfg: &Arc<ClientConfig>, name: ServerName<'static>) -> ClientConnection {
    ClientConnection::new(cfg.clone(), name).unwrap()
}

#[inline(never)]
fn floor_client_write(client: &mut ClientConnection, buf: &mut Vec<u8>) {
    while client.wants_write() {
        client.write_tls(buf).unwrap();
    }
}

#[inline(never)]
fn floor_client_read(client: &mut ClientConnection, mut rd: &[u8]) {
    while !rd.is_empty() {
        client.read_tls(&mut rd).unwrap();
    }
    client.process_new_packets().unwrap();
}

pub(crate) fn rows(n: usize) -> (Vec<DomainRow>, Vec<MxRow>) {
    let now = Utc::now();
    let s = |x: &str| Some(x.to_owned());
    let mut domains = Vec::with_capacity(n);
    let mut mx = Vec::with_capacity(2 * n);
    for i in 0..n {
        let d = format!("example-domain-{i}.test");
        domains.push(DomainRow {
            scanned_at: now,
            input_line: i as u64 + 1,
            input: d.clone(),
            input_status: "ok".into(),
            domain: Some(d.clone()),
            domain_unicode: Some(d.clone()),
            sts_txt: s("absent"),
            sts_txt_dns: s("nodata"),
            findings: vec![FindingRow {
                code: "no-mta-sts".into(),
                severity: "info".into(),
                message: "the domain publishes no MTA-STS record".into(),
            }],
            duration_ms: 12,
            ..DomainRow::default()
        });
        for k in 0..2u16 {
            mx.push(MxRow {
                scanned_at: now,
                domain: d.clone(),
                mx_host: format!("mx{k}.provider-a.test"),
                mx_preference: 10 * (k + 1),
                address: Some(format!("127.64.1.{}", 10 + k)),
                ip_version: Some(4),
                address_dns: s("ok"),
                probe_id: Some(u64::from(k)),
                probe_shared: Some(true),
                smtp: s("ok"),
                starttls: Some(true),
                tls_version: s("TLSv1.3"),
                tls_cipher: s("TLS13_AES_256_GCM_SHA384"),
                chain_verdict: s("valid"),
                mx_cert: s("valid"),
                cert_subject: s("CN=*.provider-a.test"),
                cert_issuer: s("CN=Lab Root CA"),
                cert_sans: Some(vec!["*.provider-a.test".into()]),
                cert_not_before: Some(now),
                cert_not_after: Some(now),
                cert_key_algorithm: s("ecdsa-p256"),
                cert_key_bits: Some(256),
                cert_sha256: Some(vec!["ab".repeat(32)]),
                probe_ms: Some(3),
                ..MxRow::default()
            });
        }
    }
    (domains, mx)
}

fn write_parquet(table: Table, batch: &arrow::array::RecordBatch) -> usize {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, table.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    out.len()
}

/// One iteration of `floor/dns_exchange`: the four exchanges of a domain (bench.sh divides by
/// 4).
pub(crate) fn dns4(ex: &[(Name, RecordType, RData)]) -> usize {
    let mut n = 0;
    for (i, (name, t, rd)) in ex.iter().enumerate() {
        n += dns_exchange(i as u16, std::hint::black_box(name), *t, rd);
    }
    n
}

/// One iteration of `floor/parquet_1000_domains`: the Arrow batches of the rows built and
/// written ZSTD-compressed into a `Vec`.
pub(crate) fn parquet_rows(domains: &[DomainRow], mx: &[MxRow]) -> usize {
    let d = domains_batch("bench", std::hint::black_box(domains)).unwrap();
    let m = mx_batch("bench", std::hint::black_box(mx)).unwrap();
    write_parquet(Table::Domains, &d) + write_parquet(Table::Mx, &m)
}
