//! Criterion benchmarks of the MTA-STS policy parser and the TLS-RPT report parser, on files
//! of the corpora in `datasets/records/policies/` and `datasets/tlsrpt/`.
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stsscan::records::{policy, tlsrpt_report};

fn read(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench_policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy");
    for name in [
        "rfc8461-example.txt",
        "lf-only.txt",
        "typo-nmx-enforce.txt",
        "html-404-page.txt",
        "too-large.txt",
    ] {
        let body = read(&format!("records/policies/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| policy::parse(black_box(&body))));
    }
    g.bench_function("content-type", |b| {
        b.iter(|| policy::content_type_findings(black_box(Some("text/plain; charset=utf-8"))))
    });
    g.finish();
}

fn bench_report(c: &mut Criterion) {
    let mut g = c.benchmark_group("tlsrpt-report");
    for name in [
        "rfc8460-example.json",
        "all-result-types.json",
        "google-style-no-failures.json",
    ] {
        let json = read(&format!("tlsrpt/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function(name, |b| b.iter(|| tlsrpt_report::parse(black_box(&json))));
    }
    let gz = read("tlsrpt/rfc8460-example.json.gz");
    g.bench_function("rfc8460-example.json.gz", |b| {
        b.iter(|| tlsrpt_report::parse_gzip(black_box(&gz)))
    });
    g.finish();
}

criterion_group!(benches, bench_policy, bench_report);
criterion_main!(benches);
