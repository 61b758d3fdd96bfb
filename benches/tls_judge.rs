//! Criterion benchmarks of judging a captured chain (`stsscan::tls::judge_chain`), the hot path
//! of every STARTTLS probe and policy fetch, on a lab-shaped chain (P-256 leaf ← intermediate
//! ← root):
//!
//! * `tls_judge/webpki_no_memo` — WebPKI path validation with the plain ring algorithms (two
//!   signature verifications): what judging cost before the signature memo;
//! * `tls_judge/judge_chain_memo_hit` — `judge_chain` when both signatures were verified
//!   before (every probe of a provider address, and the intermediate of every lab chain);
//! * `tls_judge/name_verdict` — the per-MX-name check a shared probe adds per row.

#![allow(clippy::unwrap_used, reason = "a benchmark: a setup failure aborts it")]

mod common {
    pub(crate) mod chain;
}

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::UnixTime;
use rustls::server::ParsedCertificate;
use stsscan::tls::{self, TrustAnchors};

fn bench(c: &mut Criterion) {
    let chain = common::chain::lab_shaped_chain();
    let mut anchors = TrustAnchors::empty();
    anchors.add_der(chain.root.clone()).unwrap();
    let certs = vec![chain.leaf.clone(), chain.intermediate.clone()];
    let now = UnixTime::now();
    let plain = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let mut g = c.benchmark_group("tls_judge");
    g.bench_function("webpki_no_memo", |b| {
        b.iter(|| {
            let leaf = ParsedCertificate::try_from(black_box(&certs[0])).unwrap();
            verify_server_cert_signed_by_trust_anchor(
                &leaf,
                anchors.roots(),
                &certs[1..],
                now,
                plain,
            )
            .is_ok()
        })
    });
    assert!(tls::judge_chain(&certs, &anchors, now).is_valid());
    g.bench_function("judge_chain_memo_hit", |b| {
        b.iter(|| tls::judge_chain(black_box(&certs), &anchors, now).is_valid())
    });
    let verdict = tls::judge_chain(&certs, &anchors, now);
    g.bench_function("name_verdict", |b| {
        b.iter(|| tls::name_verdict(&verdict, &certs, black_box("mx1.provider-a.test")).is_valid())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = criterion::Criterion::default()
        .sample_size(20)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
