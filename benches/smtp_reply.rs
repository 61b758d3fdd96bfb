//! Criterion benchmarks of the sans-I/O SMTP reply framing (`stsscan::smtp::reply`): a typical
//! EHLO reply fed at once and one byte at a time (a trickling server), and an endless
//! continuation stream until the line cap rejects it.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stsscan::smtp::{ReplyLimits, ReplyParser};

const EHLO: &[u8] = b"250-mx.example.com at your service, [192.0.2.1]\r\n\
250-SIZE 157286400\r\n250-8BITMIME\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n\
250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n";

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("smtp_reply");
    g.throughput(Throughput::Bytes(EHLO.len() as u64));
    g.bench_function("ehlo_whole", |b| {
        b.iter(|| {
            let mut p = ReplyParser::default();
            p.feed(black_box(EHLO));
            p.next_reply()
        })
    });
    g.bench_function("ehlo_byte_at_a_time", |b| {
        b.iter(|| {
            let mut p = ReplyParser::default();
            let mut out = None;
            for byte in black_box(EHLO) {
                p.feed(std::slice::from_ref(byte));
                if let Some(r) = p.next_reply() {
                    out = Some(r);
                }
            }
            out
        })
    });
    let endless: Vec<u8> = b"250-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n".repeat(250);
    g.throughput(Throughput::Bytes(endless.len() as u64));
    g.bench_function("endless_continuation_rejected", |b| {
        b.iter(|| {
            let mut p = ReplyParser::new(ReplyLimits::default());
            for chunk in black_box(&endless).chunks(4096) {
                p.feed(chunk);
                if let Some(r) = p.next_reply() {
                    return r;
                }
            }
            p.next_reply()
                .unwrap_or(Err(stsscan::smtp::ReplyError::TooManyLines))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
