//! Criterion benchmarks of the TXT-record parsers, MX patterns and domain normalization, over
//! the corpus in `datasets/records/txt/` (realistic valid and broken records).
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stsscan::records::domain::normalize;
use stsscan::records::mx::{MxPattern, classify};
use stsscan::records::{sts_txt, tlsrpt_txt};

/// The `record` strings of one corpus file.
fn corpus(name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/records/txt")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            v["record"]
                .as_str()
                .unwrap_or_else(|| panic!("no record in {l}"))
                .as_bytes()
                .to_vec()
        })
        .collect()
}

fn bench_txt(c: &mut Criterion) {
    let sts = corpus("sts.jsonl");
    let tls = corpus("tlsrpt.jsonl");
    let mut g = c.benchmark_group("txt");
    g.throughput(Throughput::Elements(sts.len() as u64));
    g.bench_function("sts_txt/parse_record/corpus", |b| {
        b.iter(|| {
            for r in &sts {
                let _ = black_box(sts_txt::parse_record(black_box(r)));
            }
        })
    });
    let rrsets: Vec<Vec<Vec<u8>>> = sts.iter().map(|r| vec![r.clone()]).collect();
    g.bench_function("sts_txt/evaluate_rrset/corpus", |b| {
        b.iter(|| {
            for rr in &rrsets {
                let _ = black_box(sts_txt::evaluate_rrset(std::slice::from_ref(black_box(rr))));
            }
        })
    });
    g.throughput(Throughput::Elements(tls.len() as u64));
    g.bench_function("tlsrpt_txt/parse_record/corpus", |b| {
        b.iter(|| {
            for r in &tls {
                let _ = black_box(tlsrpt_txt::parse_record(black_box(r)));
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    let typical = b"v=STSv1; id=20160831085700Z;".to_vec();
    g.bench_function("sts_txt/parse_record/rfc-example", |b| {
        b.iter(|| sts_txt::parse_record(black_box(&typical)))
    });
    g.finish();
}

fn bench_names(c: &mut Criterion) {
    let mut g = c.benchmark_group("names");
    g.throughput(Throughput::Elements(1));
    g.bench_function("domain/normalize/ascii", |b| {
        b.iter(|| normalize(black_box("Mail.Example.COM.")))
    });
    g.bench_function("domain/normalize/idn", |b| {
        b.iter(|| normalize(black_box("bücher.example")))
    });
    g.bench_function("mx/pattern/parse", |b| {
        b.iter(|| MxPattern::parse(black_box("*.mail.protection.example.net")))
    });
    let p = MxPattern::parse("*.mail.protection.example.net").unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("mx/pattern/matches", |b| {
        b.iter(|| p.matches(black_box("tenant-example-com.mail.protection.example.net.")))
    });
    let answers = [
        (10u16, "alt1.aspmx.l.example.com."),
        (5, "aspmx.l.example.com."),
        (20, "alt2.aspmx.l.example.com."),
    ];
    g.bench_function("mx/classify/3-hosts", |b| {
        b.iter(|| classify(black_box("example.com"), black_box(&answers)))
    });
    g.finish();
}

criterion_group!(benches, bench_txt, bench_names);
criterion_main!(benches);
