//! Peak memory of input de-duplication, the one structure of a scan that sees every domain.
//!
//! `cargo run --release --example dedupe_rss -- 10000000` reads N synthetic names (10 % of
//! them repeats) through the input reader from a generated file and prints the peak RSS of
//! the process (`VmHWM`), so 1 M and 10 M runs can be compared. Local files only.

#![allow(clippy::print_stdout, reason = "the example's report is its output")]

use std::io::Write;

use stsscan::pipeline::input::{CsvColumn, EntryKind, InputFormat, InputReader, InputSpec, Shard};

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("domains.txt");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for i in 0..n {
            // every tenth line repeats a name from far back
            let k = if i % 10 == 9 { i / 3 } else { i };
            writeln!(w, "d{k}.example")?;
        }
        w.flush()?;
    }
    let before = vm_hwm_kib();
    let spec = InputSpec {
        paths: vec![path],
        format: InputFormat::Plain,
        column: CsvColumn::Auto,
        shard: Shard::ALL,
    };
    let started = std::time::Instant::now();
    let (mut domains, mut dups, mut invalid) = (0u64, 0u64, 0u64);
    for e in InputReader::new(spec, stsscan::pipeline::run::normalize) {
        match e?.kind {
            EntryKind::Domain(_) => domains += 1,
            EntryKind::Duplicate(_) => dups += 1,
            EntryKind::Invalid(_) => invalid += 1,
            // no --exclude list here
            EntryKind::Excluded(_) => {}
        }
    }
    println!(
        "{n} lines: {domains} domains, {dups} duplicates, {invalid} invalid in {:.1} s; peak RSS {:.1} MiB (before reading {:.1} MiB)",
        started.elapsed().as_secs_f64(),
        vm_hwm_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
    Ok(())
}
