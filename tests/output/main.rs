//! Integration tests of the output layer: rows → Parquet parts → read back with the parquet
//! crate's Arrow reader; layout, metadata, atomic rename, resume, a 200 000-row run through
//! the bounded channel, a snapshot of a printed batch, and docs/schema.md against the schema.
//!
//! These tests touch only temporary directories; no network at all.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions unwrap like the tests do"
)]

mod docs;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, AsArray, BooleanArray, DictionaryArray, ListArray, RecordBatch, StringArray,
    StructArray, TimestampMicrosecondArray, UInt16Array, UInt64Array,
};
use arrow::datatypes::{DataType, Int32Type, TimeUnit};
use arrow::util::pretty::pretty_format_batches;
use chrono::{DateTime, TimeZone, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use stsscan::output::manifest::{Manifest, ScanStatus};
use stsscan::output::read::{self, completed_parts, done_lines};
use stsscan::output::schema::{self, DESCRIPTION_KEY};
use stsscan::output::{DomainRow, FindingRow, MxRow, OutputWriter, Table, WriterConfig};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 23, 59, 58).unwrap()
}

fn strings(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

fn full_domain(line: u64, domain: &str) -> DomainRow {
    DomainRow {
        scanned_at: t0(),
        input_line: line,
        input: format!(" {domain} "),
        input_status: "ok".into(),
        domain: Some(domain.into()),
        domain_unicode: Some(domain.into()),
        sts_txt: Some("valid".into()),
        sts_txt_dns: Some("noerror".into()),
        sts_txt_records: strings(&["v=STSv1; id=20260314;", "unrelated"]),
        sts_txt_cname_chain: strings(&[]),
        sts_id: Some("20260314".into()),
        policy_fetch: Some("ok".into()),
        policy_url: Some(format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")),
        policy_address: Some("127.0.0.1".into()),
        policy_http_status: Some(200),
        policy_content_type: Some("text/plain".into()),
        policy_cert: Some("valid".into()),
        policy_cert_not_after: Some(Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()),
        policy_cert_issuer: Some("CN=Lab CA".into()),
        policy_tls_version: Some("TLSv1.3".into()),
        policy_body_sha256: Some("ab".repeat(32)),
        policy_body_bytes: Some(70),
        policy_body: Some(
            "version: STSv1\nmode: enforce\nmx: *.mx.example\nmax_age: 86400\n".into(),
        ),
        policy_valid: Some(true),
        policy_mode: Some("enforce".into()),
        policy_max_age: Some(86_400),
        policy_mx: strings(&["*.mx.example"]),
        mx_dns: Some("noerror".into()),
        mx_kind: Some("hosts".into()),
        mx_hosts: strings(&["a.mx.example", "b.mx.example"]),
        mx_count: Some(2),
        tlsrpt: Some("valid".into()),
        tlsrpt_dns: Some("noerror".into()),
        tlsrpt_records: strings(&["v=TLSRPTv1; rua=mailto:tls@example.org"]),
        tlsrpt_rua: strings(&["mailto:tls@example.org"]),
        policy_usable: Some(true),
        enforce_deliverable: Some(true),
        all_mx_covered: Some(true),
        all_mx_starttls: Some(true),
        all_mx_cert_valid: Some(false),
        findings: vec![FindingRow {
            code: "policy-max-age-short".into(),
            severity: "warning".into(),
            message: "max_age is one day".into(),
        }],
        max_severity: Some("warning".into()),
        duration_ms: 42,
        ..DomainRow::default()
    }
}

fn invalid_line(line: u64, input: &str) -> DomainRow {
    DomainRow {
        scanned_at: t0(),
        input_line: line,
        input: input.into(),
        input_status: "invalid".into(),
        input_error: Some("label-too-long".into()),
        ..DomainRow::default()
    }
}

fn mx_row(domain: &str, host: &str, smtp: &str) -> MxRow {
    MxRow {
        scanned_at: t0(),
        domain: domain.into(),
        mx_host: host.into(),
        mx_preference: 10,
        mx_is_cname: Some(false),
        address: Some("127.0.0.2".into()),
        ip_version: Some(4),
        address_dns: Some("noerror".into()),
        mx_policy_match: Some(true),
        probe_id: Some(7),
        probe_shared: Some(false),
        smtp: Some(smtp.into()),
        greeting: Some("220 mx ESMTP".into()),
        ehlo_capabilities: strings(&["PIPELINING", "STARTTLS"]),
        starttls: Some(true),
        starttls_injection: Some(false),
        tls_version: Some("TLSv1.3".into()),
        tls_cipher: Some("TLS13_AES_128_GCM_SHA256".into()),
        chain_verdict: Some("valid".into()),
        mx_cert: Some("valid".into()),
        cert_sans: strings(&[host]),
        cert_not_before: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()),
        cert_not_after: Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()),
        cert_key_algorithm: Some("ec".into()),
        cert_key_bits: Some(256),
        cert_sha256: strings(&["00", "11"]),
        probe_ms: Some(3),
        ..MxRow::default()
    }
}

fn config(dir: &Path, scan_id: &str) -> WriterConfig {
    let mut cfg = WriterConfig::new(dir, scan_id, t0(), serde_json::json!({"concurrency": 5}));
    cfg.resolvers = vec!["127.0.0.1:5353".into()];
    cfg
}

fn read_all(path: &Path) -> (RecordBatch, Vec<(String, String)>) {
    let file = fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let schema = builder.schema().clone();
    let batches: Vec<_> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    (
        arrow::compute::concat_batches(&schema, &batches).unwrap(),
        kv,
    )
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn write_sample(dir: &Path, scan_id: &str) -> stsscan::output::WriteSummary {
    let w = OutputWriter::start(config(dir, scan_id)).unwrap();
    w.blocking_send(
        full_domain(1, "example.com"),
        vec![
            mx_row("example.com", "a.mx.example", "ok"),
            mx_row("example.com", "b.mx.example", "starttls-not-offered"),
        ],
    )
    .unwrap();
    w.blocking_send(invalid_line(2, "bad..name"), vec![])
        .unwrap();
    let dup = DomainRow {
        input_status: "duplicate".into(),
        domain: Some("example.com".into()),
        ..invalid_line(3, "EXAMPLE.com")
    };
    w.blocking_send(
        DomainRow {
            input_error: None,
            ..dup
        },
        vec![],
    )
    .unwrap();
    w.finish(ScanStatus::Complete).unwrap()
}

#[test]
fn round_trip_values_types_nulls_lists_dictionaries_timestamps() {
    // The sample rows use only documented status values.
    assert_eq!(
        schema::domain_row_violations(&full_domain(1, "example.com")),
        vec![]
    );
    assert_eq!(
        schema::mx_row_violations(&mx_row("e.com", "m.e.com", "ok")),
        vec![]
    );
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), "rt1");
    let path = dir
        .path()
        .join("domains/scan_date=2026-03-14/scan_id=rt1/part-00000.parquet");
    let (b, _) = read_all(&path);
    assert_eq!(b.num_rows(), 3);
    // The schema read back is the schema defined in one place, field docs included.
    assert_eq!(b.schema().fields(), Table::Domains.schema().fields());
    let desc = b
        .schema()
        .field_with_name("policy_usable")
        .unwrap()
        .metadata()[DESCRIPTION_KEY]
        .clone();
    assert!(desc.contains("policy_fetch = ok"), "{desc}");

    let dict = |name: &str| -> Vec<Option<String>> {
        let a = b.column_by_name(name).unwrap();
        let d: &DictionaryArray<Int32Type> = a.as_dictionary();
        let values = d.values().as_string::<i32>();
        (0..d.len())
            .map(|i| d.key(i).map(|k| values.value(k).to_string()))
            .collect()
    };
    assert_eq!(dict("scan_id"), vec![Some("rt1".to_string()); 3]);
    assert_eq!(
        dict("input_status"),
        vec![
            Some("ok".into()),
            Some("invalid".into()),
            Some("duplicate".into())
        ]
    );
    assert_eq!(dict("sts_txt"), vec![Some("valid".into()), None, None]);

    let ts = b.column_by_name("scanned_at").unwrap();
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(ts.value(0), t0().timestamp_micros());
    let na = b.column_by_name("policy_cert_not_after").unwrap();
    let na = na
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap();
    assert_eq!(na.value(0), 1_798_761_600_000_000);
    assert!(na.is_null(1));

    let lines = b.column_by_name("input_line").unwrap();
    let lines = lines.as_any().downcast_ref::<UInt64Array>().unwrap();
    assert_eq!(lines.values().to_vec(), vec![1, 2, 3]);
    let status = b.column_by_name("policy_http_status").unwrap();
    let status = status.as_any().downcast_ref::<UInt16Array>().unwrap();
    assert_eq!((status.value(0), status.is_null(1)), (200, true));
    let input = b.column_by_name("input").unwrap();
    let input = input.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(input.value(0), " example.com ");
    let domain = b.column_by_name("domain").unwrap();
    let domain = domain.as_any().downcast_ref::<StringArray>().unwrap();
    assert!(domain.is_null(1) && domain.value(2) == "example.com");
    let usable = b.column_by_name("policy_usable").unwrap();
    let usable = usable.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(usable.value(0) && usable.is_null(1));
    let body = b.column_by_name("policy_body").unwrap();
    assert!(
        body.as_string::<i32>()
            .value(0)
            .starts_with("version: STSv1\n")
    );

    // Lists: a value, an empty list and a null stay distinct.
    let recs = b.column_by_name("sts_txt_records").unwrap();
    let recs = recs.as_any().downcast_ref::<ListArray>().unwrap();
    let first = recs.value(0);
    let first = first.as_string::<i32>();
    assert_eq!(
        (first.len(), first.value(0), first.value(1)),
        (2, "v=STSv1; id=20260314;", "unrelated")
    );
    assert!(recs.is_null(1));
    let chain = b.column_by_name("sts_txt_cname_chain").unwrap();
    let chain = chain.as_any().downcast_ref::<ListArray>().unwrap();
    assert!(chain.is_valid(0) && chain.value(0).is_empty() && chain.is_null(1));

    // Findings: list<struct>, empty (not null) when there are none.
    let f = b.column_by_name("findings").unwrap();
    let f = f.as_any().downcast_ref::<ListArray>().unwrap();
    assert_eq!(f.null_count(), 0);
    assert_eq!(f.value_length(0), 1);
    assert_eq!(f.value_length(1), 0);
    let first = f.value(0);
    let s = first.as_any().downcast_ref::<StructArray>().unwrap();
    assert_eq!(
        s.column_by_name("code")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "policy-max-age-short"
    );
    assert_eq!(
        s.column_by_name("severity")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "warning"
    );

    // The mx table.
    let (m, _) = read_all(
        &dir.path()
            .join("mx/scan_date=2026-03-14/scan_id=rt1/part-00000.parquet"),
    );
    assert_eq!(m.schema().fields(), Table::Mx.schema().fields());
    assert_eq!(m.num_rows(), 2);
    let smtp = m.column_by_name("smtp").unwrap();
    let smtp: &DictionaryArray<Int32Type> = smtp.as_dictionary();
    let smtp_values = smtp.values().as_string::<i32>();
    let got: Vec<_> = (0..2)
        .map(|i| smtp_values.value(smtp.key(i).unwrap()))
        .collect();
    assert_eq!(got, vec!["ok", "starttls-not-offered"]);
}

#[test]
fn layout_metadata_manifest_and_no_tmp_left() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_sample(dir.path(), "lay1");
    let files = files_under(dir.path());
    let expected: BTreeSet<String> = [
        "domains/scan_date=2026-03-14/scan_id=lay1/part-00000.parquet",
        "mx/scan_date=2026-03-14/scan_id=lay1/part-00000.parquet",
        "manifest/scan_id=lay1.json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(files, expected, "no temporary file is left after finish()");

    let path = dir
        .path()
        .join("domains/scan_date=2026-03-14/scan_id=lay1/part-00000.parquet");
    let (_, kv) = read_all(&path);
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("schema_version").as_deref(), Some("4"));
    assert_eq!(get("scan_id").as_deref(), Some("lay1"));
    assert_eq!(
        get("tool_version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(get("table").as_deref(), Some("domains"));
    let cfg: serde_json::Value = serde_json::from_str(&get("config").unwrap()).unwrap();
    assert_eq!(cfg, serde_json::json!({"concurrency": 5}));
    assert!(get("counts").unwrap().contains("\"domains\":3"));

    // ZSTD on every column chunk.
    let meta = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(&path).unwrap())
        .unwrap()
        .metadata()
        .clone();
    for rg in meta.row_groups() {
        for c in rg.columns() {
            assert!(
                matches!(c.compression(), Compression::ZSTD(_)),
                "{:?}",
                c.column_path()
            );
        }
    }

    let m = Manifest::load(dir.path(), "lay1").unwrap();
    assert_eq!(m.status, ScanStatus::Complete);
    assert!(m.finished_at.is_some());
    assert_eq!(m.schema_version, stsscan::output::SCHEMA_VERSION);
    assert_eq!(m.resolvers, vec!["127.0.0.1:5353".to_string()]);
    assert_eq!(m.counts.domains, 3);
    assert_eq!(m.counts.mx, 2);
    assert_eq!(m.counts.statuses["domains.input_status"]["invalid"], 1);
    assert_eq!(m.counts.statuses["mx.smtp"]["starttls-not-offered"], 1);
    assert_eq!(m.parts, summary.parts);
    let paths: Vec<_> = m.parts.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "domains/scan_date=2026-03-14/scan_id=lay1/part-00000.parquet",
            "mx/scan_date=2026-03-14/scan_id=lay1/part-00000.parquet"
        ]
    );
    assert_eq!((m.parts[0].rows, m.parts[1].rows), (3, 2));
    assert_eq!(m.parts[0].bytes, fs::metadata(&path).unwrap().len());
}

#[test]
fn parts_roll_and_mx_part_n_holds_the_mx_of_domains_part_n() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "roll");
    cfg.part_rows = 10;
    cfg.batch_rows = 4;
    let w = OutputWriter::start(cfg).unwrap();
    for i in 1..=25u64 {
        let d = format!("d{i}.example");
        w.blocking_send(
            full_domain(i, &d),
            vec![
                mx_row(&d, "a.mx.example", "ok"),
                mx_row(&d, "b.mx.example", "ok"),
            ],
        )
        .unwrap();
    }
    let summary = w.finish(ScanStatus::Complete).unwrap();
    assert_eq!(summary.parts.len(), 6);
    let parts = completed_parts(dir.path(), "roll").unwrap();
    for n in 0..3u32 {
        let dom = parts
            .iter()
            .find(|p| p.table == Table::Domains && p.part == n)
            .unwrap();
        let mx = parts
            .iter()
            .find(|p| p.table == Table::Mx && p.part == n)
            .unwrap();
        let (db, _) = read_all(&dom.path);
        let (mb, _) = read_all(&mx.path);
        let names = |b: &RecordBatch| -> BTreeSet<String> {
            b.column_by_name("domain")
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&db), names(&mb), "part {n}");
        assert_eq!(mb.num_rows(), 2 * db.num_rows());
    }
    assert_eq!(summary.counts.domains, 25);
    assert_eq!(summary.counts.mx, 50);
}

#[test]
fn resume_ignores_tmp_parts_prunes_orphans_and_continues_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "res");
    cfg.part_rows = 5;
    let w = OutputWriter::start(cfg.clone()).unwrap();
    for i in 1..=10u64 {
        w.blocking_send(full_domain(i, &format!("d{i}.example")), vec![])
            .unwrap();
    }
    // A crash: the writer is dropped... simulated by finishing and then leaving debris.
    w.finish(ScanStatus::Interrupted).unwrap();
    let ddir = cfg.partition_dir(Table::Domains);
    let mdir = cfg.partition_dir(Table::Mx);
    // An interrupted part: a half-written temporary file with lines 11..=15 "in" it.
    fs::write(ddir.join(".part-00002.parquet.tmp"), b"PAR1 half written").unwrap();
    // A crash between the two renames: mx part 3 complete, domains part 3 never renamed.
    fs::copy(
        mdir.join("part-00000.parquet"),
        mdir.join("part-00003.parquet"),
    )
    .unwrap();

    let done = done_lines(dir.path(), "res").unwrap();
    assert_eq!(done.len(), 10);
    assert!((1..=10).all(|l| done.contains(l)) && !done.contains(11));

    // Resume (a day later): same scan id; debris is removed, numbering continues after the
    // highest part, and the parts stay in the scan_date partition of the scan's start.
    let mut later = cfg.clone();
    later.started_at = t0() + chrono::Duration::days(1);
    let w = OutputWriter::start(later).unwrap();
    assert!(!ddir.join(".part-00002.parquet.tmp").exists());
    assert!(!mdir.join("part-00003.parquet").exists());
    for i in 11..=12u64 {
        w.blocking_send(full_domain(i, &format!("d{i}.example")), vec![])
            .unwrap();
    }
    let summary = w.finish(ScanStatus::Complete).unwrap();
    assert!(ddir.join("part-00002.parquet").exists());
    assert_eq!(
        summary.counts.domains, 12,
        "counts of earlier parts come from their footers"
    );
    assert_eq!(summary.parts.len(), 6);
    let done = done_lines(dir.path(), "res").unwrap();
    assert_eq!(done.len(), 12);
    let m = Manifest::load(dir.path(), "res").unwrap();
    assert_eq!(m.counts.statuses["domains.sts_txt"]["valid"], 12);
    assert_eq!(m.started_at, t0());
    assert!(!dir.path().join("domains/scan_date=2026-03-15").exists());
}

#[test]
fn tmp_file_alone_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "tmp1");
    let ddir = cfg.partition_dir(Table::Domains);
    fs::create_dir_all(&ddir).unwrap();
    fs::write(ddir.join(".part-00000.parquet.tmp"), b"garbage").unwrap();
    assert!(completed_parts(dir.path(), "tmp1").unwrap().is_empty());
    assert!(done_lines(dir.path(), "tmp1").unwrap().is_empty());
    let pruned = read::prune_incomplete(dir.path(), "tmp1").unwrap();
    assert_eq!(pruned.tmp_files.len(), 1);
}

#[test]
fn two_hundred_thousand_rows_through_a_small_bounded_channel() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "big");
    cfg.channel_capacity = 64;
    cfg.part_rows = 100_000;
    let w = OutputWriter::start(cfg).unwrap();
    let sender = w.sender();
    let producer = std::thread::spawn(move || {
        for i in 1..=200_000u64 {
            let row = DomainRow {
                scanned_at: t0(),
                input_line: i,
                input: format!("d{i}.example"),
                input_status: "ok".into(),
                domain: Some(format!("d{i}.example")),
                sts_txt: Some(if i % 100 == 0 { "valid" } else { "absent" }.into()),
                ..DomainRow::default()
            };
            let mx = if i % 10 == 0 {
                vec![mx_row(&format!("d{i}.example"), "mx.example", "ok")]
            } else {
                vec![]
            };
            sender.blocking_send(row, mx).unwrap();
        }
    });
    producer.join().unwrap();
    let summary = w.finish(ScanStatus::Complete).unwrap();
    assert_eq!(summary.counts.domains, 200_000);
    assert_eq!(summary.counts.mx, 20_000);
    assert_eq!(summary.counts.statuses["domains.sts_txt"]["valid"], 2_000);
    assert_eq!(summary.parts.len(), 4);
    let done = done_lines(dir.path(), "big").unwrap();
    assert_eq!(done.len(), 200_000);
    assert!(done.contains(1) && done.contains(200_000) && !done.contains(200_001));
}

#[test]
fn unwritable_output_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, b"x").unwrap();
    let err = OutputWriter::start(config(&blocker, "s"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not-a-dir"), "{err}");

    // The parts directory becomes unwritable after start: the first row fails, finish()
    // returns the error with the path, and senders are told the writer stopped.
    let cfg = config(dir.path(), "s2");
    let w = OutputWriter::start(cfg.clone()).unwrap();
    fs::create_dir_all(dir.path().join("domains/scan_date=2026-03-14")).unwrap();
    fs::write(cfg.partition_dir(Table::Domains), b"file in the way").unwrap();
    let _ = w.blocking_send(full_domain(1, "a.example"), vec![]);
    let sender = w.sender();
    let err = w.finish(ScanStatus::Complete).unwrap_err().to_string();
    assert!(err.contains("scan_id=s2"), "{err}");
    assert!(
        sender
            .blocking_send(full_domain(2, "b.example"), vec![])
            .is_err()
    );
}

#[test]
fn failed_rename_is_an_error_and_resume_removes_the_debris() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "ren");
    let w = OutputWriter::start(cfg.clone()).unwrap();
    w.blocking_send(
        full_domain(1, "a.example"),
        vec![mx_row("a.example", "mx.a.example", "ok")],
    )
    .unwrap();
    // A directory where the finished domains part must go: the rename fails.
    let target = cfg.partition_dir(Table::Domains).join("part-00000.parquet");
    fs::create_dir_all(&target).unwrap();
    let err = w.finish(ScanStatus::Complete).unwrap_err().to_string();
    assert!(err.contains("part-00000.parquet"), "{err}");
    fs::remove_dir(&target).unwrap();
    // The mx part was renamed, its domains part was not: the domain is not done.
    assert!(done_lines(dir.path(), "ren").unwrap().is_empty());
    let w = OutputWriter::start(cfg.clone()).unwrap();
    let files = files_under(dir.path());
    assert!(
        files.iter().all(|f| f.starts_with("manifest/")),
        "debris left: {files:?}"
    );
    w.blocking_send(
        full_domain(1, "a.example"),
        vec![mx_row("a.example", "mx.a.example", "ok")],
    )
    .unwrap();
    let summary = w.finish(ScanStatus::Complete).unwrap();
    assert_eq!((summary.counts.domains, summary.counts.mx), (1, 1));
}

#[test]
fn scan_ids_that_are_not_safe_path_components_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(129)] {
        assert!(
            OutputWriter::start(config(dir.path(), bad)).is_err(),
            "{bad:?}"
        );
    }
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn async_producers_send_and_finish_in_spawn_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let w = OutputWriter::start(config(dir.path(), "async1")).unwrap();
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let s = w.sender();
        tasks.push(tokio::spawn(async move {
            for i in 0..50u64 {
                let line = t * 50 + i + 1;
                s.send(full_domain(line, &format!("d{line}.example")), vec![])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let summary = tokio::task::spawn_blocking(move || w.finish(ScanStatus::Complete))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.counts.domains, 200);
    assert_eq!(done_lines(dir.path(), "async1").unwrap().len(), 200);
}

#[test]
fn snapshot_of_a_printed_mx_batch() {
    let rows = vec![
        mx_row("example.com", "a.mx.example", "ok"),
        MxRow {
            address: None,
            ip_version: None,
            address_dns: Some("nxdomain".into()),
            smtp: None,
            starttls: None,
            tls_version: None,
            mx_cert: None,
            cert_sans: None,
            ..mx_row("example.com", "gone.mx.example", "ok")
        },
    ];
    let b = schema::mx_batch("snap", &rows).unwrap();
    let names = [
        "scan_id",
        "scanned_at",
        "mx_host",
        "address",
        "address_dns",
        "smtp",
        "starttls",
        "mx_cert",
        "cert_sans",
    ];
    let idx: Vec<usize> = names
        .iter()
        .map(|n| b.schema().index_of(n).unwrap())
        .collect();
    let mut b = b.project(&idx).unwrap();
    // arrow's printer needs chrono-tz (not enabled) to display a named zone: print the UTC
    // instants as naive timestamps instead.
    let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
    let mut columns = b.columns().to_vec();
    columns[1] = arrow::compute::cast(&columns[1], &naive).unwrap();
    let mut fields: Vec<_> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[1] = fields[1].clone().with_data_type(naive);
    b = RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
    let printed = pretty_format_batches(&[b]).unwrap().to_string();
    let expected = "\
+---------+---------------------+-----------------+-----------+-------------+------+----------+---------+----------------+
| scan_id | scanned_at          | mx_host         | address   | address_dns | smtp | starttls | mx_cert | cert_sans      |
+---------+---------------------+-----------------+-----------+-------------+------+----------+---------+----------------+
| snap    | 2026-03-14T23:59:58 | a.mx.example    | 127.0.0.2 | noerror     | ok   | true     | valid   | [a.mx.example] |
| snap    | 2026-03-14T23:59:58 | gone.mx.example |           | nxdomain    |      |          |         |                |
+---------+---------------------+-----------------+-----------+-------------+------+----------+---------+----------------+";
    assert_eq!(printed, expected, "\n{printed}");
}

/// Writes a small dataset of two scans on two dates to `$STSSCAN_DEMO_OUT` (used by
/// scripts/check-duckdb.sh); without the variable it writes to a temporary directory.
#[test]
fn write_demo_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::env::var_os("STSSCAN_DEMO_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let first = write_sample(&out, "demo-1");
    assert_eq!(first.counts.domains, 3);
    let mut cfg = config(&out, "demo-2");
    cfg.started_at = t0() + chrono::Duration::days(1);
    let w = OutputWriter::start(cfg).unwrap();
    let mut d = full_domain(1, "example.com");
    d.policy_mode = Some("testing".into());
    w.blocking_send(d, vec![mx_row("example.com", "a.mx.example", "ok")])
        .unwrap();
    w.blocking_send(full_domain(2, "example.net"), vec![])
        .unwrap();
    let second = w.finish(ScanStatus::Complete).unwrap();
    assert_eq!(
        second.parts[0].path,
        "domains/scan_date=2026-03-15/scan_id=demo-2/part-00000.parquet"
    );
}
