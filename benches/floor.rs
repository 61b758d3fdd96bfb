//! The floor: what the work of scanning one domain must cost at minimum on this machine, with
//! no sockets, no scheduler and no waiting. `scripts/bench.sh` combines these unit costs with
//! the measured mix of a lab scan (DNS exchanges, STARTTLS probes and policy fetches per
//! domain) into a per-domain floor and prints the scanner's CPU per domain as a ratio to it.
//!
//! * `floor/dns_exchange` — one DNS query encoded and decoded plus its answer encoded and
//!   decoded (hickory-proto), averaged over the messages a domain needs: TXT `_mta-sts.D`,
//!   TXT `_smtp._tls.D`, MX `D` and A of the MX host.
//! * `floor/tls_handshake_client` — the client half of one full TLS 1.3 handshake (rustls,
//!   *ring*, X25519, an ECDSA P-256 leaf + intermediate verified by WebPKI to a trusted root —
//!   the lab's chain shape), client and server in one process over in-memory buffers; only the
//!   time spent in client calls is counted.
//! * `floor/tls_handshake_both` — the same handshake, client and server halves together.
//! * `floor/parquet_1000_domains` — building the Arrow batches of 1 000 domain rows and 2 000 MX
//!   rows with the output module's schema and writing them ZSTD-compressed into a `Vec`.
//!
//! The work itself lives in `benches/common/floor_work.rs`, shared with
//! `benches/floor_count.rs`, which repeats it a fixed number of times so that
//! `scripts/callgrind.sh` can count its instructions.

#![allow(clippy::unwrap_used, reason = "a benchmark: a setup failure aborts it")]

mod common {
    pub(crate) mod chain;
    pub(crate) mod floor_work;
}

use std::hint::black_box;
use std::time::Duration;

use common::floor_work::{dns4, exchanges, handshake, parquet_rows, rows, tls_configs};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor");
    let ex = exchanges();
    // One iteration = the four exchanges; bench.sh divides by 4.
    g.bench_function("dns_exchange", |b| b.iter(|| dns4(black_box(&ex))));
    let (ccfg, scfg) = tls_configs();
    g.bench_function("tls_handshake_client", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| handshake(&ccfg, &scfg)).sum())
    });
    g.bench_function("tls_handshake_both", |b| b.iter(|| handshake(&ccfg, &scfg)));
    let (domains, mx) = rows(1000);
    g.bench_function("parquet_1000_domains", |b| {
        b.iter(|| parquet_rows(black_box(&domains), black_box(&mx)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
