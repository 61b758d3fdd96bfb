//! The floor's work repeated a fixed number of times, for counting its instructions with
//! callgrind (`scripts/callgrind.sh`), which unlike the time of `benches/floor.rs` does not
//! move with the load of this shared VM.
//!
//! ```text
//! floor_count OP K
//! ```
//!
//! runs the set-up and then `K` repetitions of `OP` through a function that is never inlined,
//! so that callgrind can collect inside it alone (`--toggle-collect='*floor_op_OP*'`; for the
//! client half of a handshake, `'*floor_client_*'`). The script runs each operation at `K` and
//! at `2K` and takes the difference, so one-time costs (lazy statics, first allocations)
//! cancel. Operations:
//!
//! * `dns4` — the four DNS exchanges of a domain (`floor/dns_exchange`);
//! * `handshake` — one full TLS 1.3 handshake, both halves; its client calls alone are the
//!   `floor_client_*` functions (`floor/tls_handshake_client`);
//! * `parquet` — the Parquet rows of 1 000 domains (`floor/parquet_1000_domains`);
//! * `webpki_no_memo`, `judge_memo_hit` — judging the lab-shaped chain without and with the
//!   signature memo (`tls_judge/*`): half their difference is one signature verification.
//!
//! Run without valgrind it just does the work; it is not a criterion benchmark.

#![allow(
    clippy::unwrap_used,
    clippy::print_stderr,
    reason = "a benchmark driver: a setup failure aborts it"
)]

mod common {
    pub(crate) mod chain;
    pub(crate) mod floor_work;
}

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;

use common::floor_work::{dns4, exchanges, handshake, parquet_rows, rows, tls_configs};
use hickory_proto::rr::{Name, RData, RecordType};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, ServerConfig};
use stsscan::output::{DomainRow, MxRow};
use stsscan::tls::{self, TrustAnchors};

#[inline(never)]
fn floor_op_dns4(ex: &[(Name, RecordType, RData)]) -> usize {
    dns4(ex)
}

#[inline(never)]
fn floor_op_handshake(c: &Arc<ClientConfig>, s: &Arc<ServerConfig>) -> u128 {
    handshake(c, s).as_nanos()
}

#[inline(never)]
fn floor_op_parquet(domains: &[DomainRow], mx: &[MxRow]) -> usize {
    parquet_rows(domains, mx)
}

#[inline(never)]
fn floor_op_webpki_no_memo(
    certs: &[CertificateDer<'static>],
    anchors: &TrustAnchors,
    now: UnixTime,
    algs: WebPkiSupportedAlgorithms,
) -> bool {
    let leaf = ParsedCertificate::try_from(&certs[0]).unwrap();
    verify_server_cert_signed_by_trust_anchor(&leaf, anchors.roots(), &certs[1..], now, algs.all)
        .is_ok()
}

#[inline(never)]
fn floor_op_judge_memo_hit(
    certs: &[CertificateDer<'static>],
    anchors: &TrustAnchors,
    now: UnixTime,
) -> bool {
    tls::judge_chain(certs, anchors, now).is_valid()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (op, k) = match args.as_slice() {
        [_, op, k, ..] => match k.parse::<u32>() {
            Ok(k) => (op.as_str(), k),
            Err(_) => {
                eprintln!("floor_count: K must be a count, got '{k}'");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: floor_count dns4|handshake|parquet|webpki_no_memo|judge_memo_hit K");
            return ExitCode::from(2);
        }
    };
    let mut sink = 0u128;
    match op {
        "dns4" => {
            let ex = exchanges();
            for _ in 0..k {
                sink += floor_op_dns4(black_box(&ex)) as u128;
            }
        }
        "handshake" => {
            let (c, s) = tls_configs();
            for _ in 0..k {
                sink += floor_op_handshake(&c, &s);
            }
        }
        "parquet" => {
            let (domains, mx) = rows(1000);
            for _ in 0..k {
                sink += floor_op_parquet(black_box(&domains), black_box(&mx)) as u128;
            }
        }
        "webpki_no_memo" | "judge_memo_hit" => {
            let chain = common::chain::lab_shaped_chain();
            let mut anchors = TrustAnchors::empty();
            anchors.add_der(chain.root.clone()).unwrap();
            let certs = vec![chain.leaf.clone(), chain.intermediate.clone()];
            let now = UnixTime::now();
            let algs = rustls::crypto::ring::default_provider().signature_verification_algorithms;
            // Fills the memo, as the scanner's first probe of a chain does.
            assert!(tls::judge_chain(&certs, &anchors, now).is_valid());
            for _ in 0..k {
                let ok = if op == "webpki_no_memo" {
                    floor_op_webpki_no_memo(black_box(&certs), &anchors, now, algs)
                } else {
                    floor_op_judge_memo_hit(black_box(&certs), &anchors, now)
                };
                sink += u128::from(ok);
            }
        }
        other => {
            eprintln!("floor_count: unknown operation '{other}'");
            return ExitCode::from(2);
        }
    }
    black_box(sink);
    ExitCode::SUCCESS
}
