//! Input edge cases end to end: a Tranco CSV and a gzip-compressed plain list in one scan,
//! with duplicates (after normalization) and invalid lines. Every line makes one row; the
//! duplicate and invalid ones make no network traffic at all.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use hickory_proto::rr::RecordType;
use stsscan::lab::world::{ExplicitWorld, Scenario};
use stsscan::pipeline::input::InputFormat;

use crate::common::{LabRun, assert_agreement, scan_graded};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_gzip_duplicates_and_invalid_lines() {
    let run = LabRun::start(|octet| {
        ExplicitWorld::builder()
            .domain("alpha.test", Scenario::EnforceValid)
            .domain("beta.test", Scenario::NoSts)
            .domain("gamma.test", Scenario::TestingValid)
            .domain("delta.test", Scenario::NullMx)
            .build(octet)
    })
    .await;
    // Tranco: rank,domain (no header). Line numbers run over both files in order.
    let csv = run.dir.path().join("top-1m.csv");
    std::fs::write(
        &csv,
        "1,alpha.test\n2,beta.test\n3,ALPHA.test.\n4,not a domain!\n5,gamma.test\n",
    )
    .expect("write csv");
    let gz = run.dir.path().join("more.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(b"# comment\n\ndelta.test\nbeta.test\n-bad-.test\nxn--zz\n")
        .expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write gz");

    let mut cfg = run.config(csv.clone(), 8);
    cfg.input.paths = vec![csv, gz];
    cfg.input.format = InputFormat::Auto;
    let world = run.world.clone();
    let s = scan_graded(cfg, Arc::new(move |d| world.truth(d)), true).await;
    assert_agreement(&s, 4);

    let by_line: BTreeMap<u64, _> = s.rows.iter().map(|(r, m)| (r.input_line, (r, m))).collect();
    let lines: Vec<(u64, &str, &str)> = by_line
        .iter()
        .map(|(l, (r, _))| (*l, r.input.as_str(), r.input_status.as_str()))
        .collect();
    let expected = [
        (1, "ok", Some("alpha.test"), None),
        (2, "ok", Some("beta.test"), None),
        (3, "duplicate", Some("alpha.test"), None),
        (4, "invalid", None, Some("domain-bad-char")),
        (5, "ok", Some("gamma.test"), None),
        // more.txt.gz: line 6 is a comment and 7 blank (numbered, no row).
        (8, "ok", Some("delta.test"), None),
        (9, "duplicate", Some("beta.test"), None),
        (10, "invalid", None, Some("domain-bad-hyphen")),
        (11, "invalid", None, Some("domain-bad-a-label")),
    ];
    assert_eq!(
        lines.iter().map(|l| l.0).collect::<Vec<_>>(),
        expected.iter().map(|e| e.0).collect::<Vec<_>>(),
        "one row per domain line: {lines:?}"
    );
    for (line, st, domain, error) in expected {
        let (row, mx) = by_line[&line];
        assert_eq!(row.input_status, st, "line {line} ({})", row.input);
        assert_eq!(row.domain.as_deref(), domain, "line {line}");
        if st != "ok" {
            // No scan: no DNS result, no policy, no MX rows.
            assert!(
                row.sts_txt.is_none() && row.mx_kind.is_none(),
                "line {line}"
            );
            assert!(mx.is_empty(), "line {line}");
        }
        // `input_error` is the stable code alone (docs/schema.md), so it can be grouped by;
        // the sentence is the row's one finding.
        assert_eq!(row.input_error.as_deref(), error, "line {line}");
        if let Some(code) = error {
            assert_eq!(row.findings.len(), 1, "line {line}: {:?}", row.findings);
            let f = &row.findings[0];
            assert_eq!((f.code.as_str(), f.severity.as_str()), (code, "error"));
            assert!(
                !f.message.is_empty() && !f.message.starts_with(code),
                "{f:?}"
            );
            assert_eq!(row.max_severity.as_deref(), Some("error"));
        }
    }

    // Network: each distinct valid domain looked up exactly once; nothing for the
    // duplicates or the invalid lines.
    let counters = run.lab.counters();
    for d in ["alpha.test", "beta.test", "gamma.test", "delta.test"] {
        let q = format!("_mta-sts.{d}");
        assert_eq!(counters.dns_queries(&q, RecordType::TXT), 1, "{q}");
        assert_eq!(counters.dns_queries(d, RecordType::MX), 1, "{d} MX");
    }
    for ((name, _), _) in counters.dns_by_name() {
        assert!(
            ["alpha.test", "beta.test", "gamma.test", "delta.test"]
                .iter()
                .any(|d| name == *d || name.ends_with(&format!(".{d}")))
                || name.ends_with(".lab"),
            "query for {name}"
        );
    }
    let mx_rows: usize = s.rows.iter().map(|(_, m)| m.len()).sum();
    let smtp: u64 = counters.smtp_all().values().map(|c| c.accepted).sum();
    assert!(
        smtp as usize <= mx_rows,
        "{smtp} SMTP connections for {mx_rows} MX rows"
    );
    run.lab.shutdown().await;
}
