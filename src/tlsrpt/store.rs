//! The TLS-RPT report dataset on disk: the Arrow schema of its two tables, buffering rows,
//! writing ZSTD Parquet parts atomically, reading back the report ids already stored (for
//! deduplication across runs) and reading rows back for `tlsrpt report`.
//!
//! # Layout of a dataset directory `DIR`
//!
//! ```text
//! DIR/reports/part-<uuidv7>.parquet   one row per report × policy × failure detail
//! DIR/errors/part-<uuidv7>.parquet    one row per input that is not a valid report
//! ```
//!
//! A part is written as `.part-<uuid>.parquet.tmp`, fsynced and renamed, so readers only ever
//! see complete parts; a crash loses at most the rows buffered since the last flush. This
//! module stores what it is given verbatim; it never parses reports and never decides a
//! verdict.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{
    Array, ArrayRef, AsArray, ListBuilder, RecordBatch, StringBuilder, StringDictionaryBuilder,
    TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef, TimeUnit, UInt64Type};
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::records::tlsrpt_report::Report;

/// Name of the table of report rows.
pub const REPORTS_TABLE: &str = "reports";
/// Name of the table of rejected inputs.
pub const ERRORS_TABLE: &str = "errors";
/// Rows buffered (both tables together) before [`Store`] writes parts by itself.
pub const DEFAULT_FLUSH_ROWS: usize = 8192;

/// Longest string stored in a column (longer values are cut at a character boundary).
pub const MAX_FIELD_CHARS: usize = 4096;

/// Most `policy_string` and `mx_host` entries stored per row (a policy has a handful of
/// lines; the rest of a longer list is dropped).
pub const MAX_LIST_ITEMS: usize = 32;

/// Buffered row bytes (estimated by [`ReportRow::weight`]) that make [`Store`] write parts,
/// also in the middle of one report: each failure detail is a row that repeats its report's
/// and policy's fields, so a small report of many tiny details makes many big rows.
pub const FLUSH_BYTES: usize = 32 * 1024 * 1024;

/// One row of the `reports` table: a report × policy × failure detail (or × nothing when the
/// policy has no failure details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// `report-id`.
    pub report_id: String,
    /// `organization-name`.
    pub organization_name: String,
    /// `contact-info`.
    pub contact_info: Option<String>,
    /// `date-range.start-datetime` (UTC).
    pub date_start: DateTime<Utc>,
    /// `date-range.end-datetime` (UTC).
    pub date_end: DateTime<Utc>,
    /// 0-based index of the policy in `policies`.
    pub policy_index: u32,
    /// `policy-type`.
    pub policy_type: String,
    /// `policy-domain`.
    pub policy_domain: String,
    /// `policy-string` lines.
    pub policy_string: Vec<String>,
    /// `mx-host` patterns.
    pub mx_host: Vec<String>,
    /// `total-successful-session-count` of the policy.
    pub total_successful_session_count: u64,
    /// `total-failure-session-count` of the policy.
    pub total_failure_session_count: u64,
    /// 0-based index of the failure detail; `None` when the policy has none.
    pub detail_index: Option<u32>,
    /// `result-type`.
    pub result_type: Option<String>,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<String>,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: Option<String>,
    /// `failed-session-count`.
    pub failed_session_count: Option<u64>,
    /// `additional-information`.
    pub additional_information: Option<String>,
    /// `failure-reason-code`.
    pub failure_reason_code: Option<String>,
    /// Finding codes of the parser, space-separated (empty when none).
    pub findings: String,
    /// Where the report came from (file path, `path#msg=N/part=M`, `http:PEER`).
    pub source: String,
    /// When it was ingested (UTC).
    pub ingested_at: DateTime<Utc>,
}

/// One row of the `errors` table: an input that did not yield a valid report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    /// Where the input came from.
    pub source: String,
    /// Error code: a `tlsrpt-*` parser code or an ingest code (see `docs/tlsrpt.md`).
    pub code: String,
    /// Human-readable reason.
    pub message: String,
    /// When it was ingested (UTC).
    pub ingested_at: DateTime<Utc>,
}

/// What [`Store::add_report`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// New report: its rows are buffered.
    Added,
    /// A report with this id is already in the dataset (or this run): nothing stored.
    Duplicate,
}

/// Cuts `s` to [`MAX_FIELD_CHARS`] characters.
pub(crate) fn cap(s: &str) -> String {
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((i, _)) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

impl ReportRow {
    /// The row's size in memory, roughly: its strings' bytes plus a fixed part.
    pub fn weight(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        256 + self.report_id.len()
            + self.organization_name.len()
            + opt(&self.contact_info)
            + self.policy_type.len()
            + self.policy_domain.len()
            + self.policy_string.iter().map(String::len).sum::<usize>()
            + self.mx_host.iter().map(String::len).sum::<usize>()
            + opt(&self.result_type)
            + opt(&self.sending_mta_ip)
            + opt(&self.receiving_ip)
            + opt(&self.receiving_mx_hostname)
            + opt(&self.receiving_mx_helo)
            + opt(&self.additional_information)
            + opt(&self.failure_reason_code)
            + self.findings.len()
            + self.source.len()
    }
}

/// The finding codes of a report as the `findings` column: each code once, in the order
/// first seen, space-separated (a report with many findings of one kind says it once).
fn finding_codes(findings: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for f in findings {
        if !seen.contains(&f.as_str()) {
            seen.push(f);
        }
    }
    cap(&seen.join(" "))
}

/// Flattens a parsed report into rows (one per policy × failure detail).
pub fn report_rows(
    report: &Report,
    findings: &[String],
    source: &str,
    ingested_at: DateTime<Utc>,
) -> Vec<ReportRow> {
    let mut rows = Vec::new();
    for_each_row(report, findings, source, ingested_at, |r| rows.push(r));
    rows
}

/// [`report_rows`], one row at a time, so a caller can write them out as they come.
fn for_each_row(
    report: &Report,
    findings: &[String],
    source: &str,
    ingested_at: DateTime<Utc>,
    mut emit: impl FnMut(ReportRow),
) {
    let findings = finding_codes(findings);
    let list = |v: &[String]| v.iter().take(MAX_LIST_ITEMS).map(|s| cap(s)).collect();
    for (pi, p) in report.policies.iter().enumerate() {
        let base = ReportRow {
            report_id: cap(&report.report_id),
            organization_name: cap(&report.organization_name),
            contact_info: report.contact_info.as_deref().map(cap),
            date_start: report.date_range.start,
            date_end: report.date_range.end,
            policy_index: u32::try_from(pi).unwrap_or(u32::MAX),
            policy_type: cap(p.policy.policy_type.as_str()),
            policy_domain: cap(&p.policy.policy_domain),
            policy_string: list(&p.policy.policy_string),
            mx_host: list(&p.policy.mx_host),
            total_successful_session_count: p.summary.total_successful_session_count,
            total_failure_session_count: p.summary.total_failure_session_count,
            detail_index: None,
            result_type: None,
            sending_mta_ip: None,
            receiving_ip: None,
            receiving_mx_hostname: None,
            receiving_mx_helo: None,
            failed_session_count: None,
            additional_information: None,
            failure_reason_code: None,
            findings: findings.clone(),
            source: cap(source),
            ingested_at,
        };
        if p.failure_details.is_empty() {
            emit(base);
            continue;
        }
        for (di, d) in p.failure_details.iter().enumerate() {
            let mut r = base.clone();
            r.detail_index = Some(u32::try_from(di).unwrap_or(u32::MAX));
            r.result_type = Some(cap(d.result_type.as_str()));
            r.sending_mta_ip = d.sending_mta_ip.map(|ip| ip.to_string());
            r.receiving_ip = d.receiving_ip.map(|ip| ip.to_string());
            r.receiving_mx_hostname = d.receiving_mx_hostname.as_deref().map(cap);
            r.receiving_mx_helo = d.receiving_mx_helo.as_deref().map(cap);
            r.failed_session_count = Some(d.failed_session_count);
            r.additional_information = d.additional_information.as_deref().map(cap);
            r.failure_reason_code = d.failure_reason_code.as_deref().map(cap);
            emit(r);
        }
    }
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// The Arrow schema of the `reports` table (column order of `docs/tlsrpt.md`).
pub fn reports_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("report_id", DataType::Utf8, false),
        Field::new("organization_name", dict_type(), false),
        Field::new("contact_info", DataType::Utf8, true),
        Field::new("date_start", ts_type(), false),
        Field::new("date_end", ts_type(), false),
        Field::new("policy_index", DataType::UInt32, false),
        Field::new("policy_type", dict_type(), false),
        Field::new("policy_domain", DataType::Utf8, false),
        Field::new("policy_string", list_type(), false),
        Field::new("mx_host", list_type(), false),
        Field::new("total_successful_session_count", DataType::UInt64, false),
        Field::new("total_failure_session_count", DataType::UInt64, false),
        Field::new("detail_index", DataType::UInt32, true),
        Field::new("result_type", dict_type(), true),
        Field::new("sending_mta_ip", DataType::Utf8, true),
        Field::new("receiving_ip", DataType::Utf8, true),
        Field::new("receiving_mx_hostname", DataType::Utf8, true),
        Field::new("receiving_mx_helo", DataType::Utf8, true),
        Field::new("failed_session_count", DataType::UInt64, true),
        Field::new("additional_information", DataType::Utf8, true),
        Field::new("failure_reason_code", DataType::Utf8, true),
        Field::new("findings", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("ingested_at", ts_type(), false),
    ]))
}

/// The Arrow schema of the `errors` table.
pub fn errors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("code", dict_type(), false),
        Field::new("message", DataType::Utf8, false),
        Field::new("ingested_at", ts_type(), false),
    ]))
}

fn strs<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for v in it {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn dicts<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in it {
        match v {
            Some(s) => {
                b.append_value(s);
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

fn times(it: impl Iterator<Item = DateTime<Utc>>) -> ArrayRef {
    let mut b = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for t in it {
        b.append_value(t.timestamp_micros());
    }
    Arc::new(b.finish())
}

fn u64s(it: impl Iterator<Item = Option<u64>>) -> ArrayRef {
    let mut b = UInt64Builder::new();
    for v in it {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn u32s(it: impl Iterator<Item = Option<u32>>) -> ArrayRef {
    let mut b = UInt32Builder::new();
    for v in it {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn lists<'a>(it: impl Iterator<Item = &'a Vec<String>>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new())
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    for v in it {
        for s in v {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// Builds a `reports` batch.
pub fn reports_batch(rows: &[ReportRow]) -> anyhow::Result<RecordBatch> {
    let cols: Vec<ArrayRef> = vec![
        strs(rows.iter().map(|r| Some(r.report_id.as_str()))),
        dicts(rows.iter().map(|r| Some(r.organization_name.as_str()))),
        strs(rows.iter().map(|r| r.contact_info.as_deref())),
        times(rows.iter().map(|r| r.date_start)),
        times(rows.iter().map(|r| r.date_end)),
        u32s(rows.iter().map(|r| Some(r.policy_index))),
        dicts(rows.iter().map(|r| Some(r.policy_type.as_str()))),
        strs(rows.iter().map(|r| Some(r.policy_domain.as_str()))),
        lists(rows.iter().map(|r| &r.policy_string)),
        lists(rows.iter().map(|r| &r.mx_host)),
        u64s(rows.iter().map(|r| Some(r.total_successful_session_count))),
        u64s(rows.iter().map(|r| Some(r.total_failure_session_count))),
        u32s(rows.iter().map(|r| r.detail_index)),
        dicts(rows.iter().map(|r| r.result_type.as_deref())),
        strs(rows.iter().map(|r| r.sending_mta_ip.as_deref())),
        strs(rows.iter().map(|r| r.receiving_ip.as_deref())),
        strs(rows.iter().map(|r| r.receiving_mx_hostname.as_deref())),
        strs(rows.iter().map(|r| r.receiving_mx_helo.as_deref())),
        u64s(rows.iter().map(|r| r.failed_session_count)),
        strs(rows.iter().map(|r| r.additional_information.as_deref())),
        strs(rows.iter().map(|r| r.failure_reason_code.as_deref())),
        strs(rows.iter().map(|r| Some(r.findings.as_str()))),
        strs(rows.iter().map(|r| Some(r.source.as_str()))),
        times(rows.iter().map(|r| r.ingested_at)),
    ];
    Ok(RecordBatch::try_new(reports_schema(), cols)?)
}

/// Builds an `errors` batch.
pub fn errors_batch(rows: &[ErrorRow]) -> anyhow::Result<RecordBatch> {
    let cols: Vec<ArrayRef> = vec![
        strs(rows.iter().map(|r| Some(r.source.as_str()))),
        dicts(rows.iter().map(|r| Some(r.code.as_str()))),
        strs(rows.iter().map(|r| Some(r.message.as_str()))),
        times(rows.iter().map(|r| r.ingested_at)),
    ];
    Ok(RecordBatch::try_new(errors_schema(), cols)?)
}

/// Writes `batch` as one complete part under `dir` (tmp file, fsync, rename).
fn write_part(dir: &Path, batch: &RecordBatch) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let id = uuid::Uuid::now_v7();
    let tmp = dir.join(format!(".part-{id}.parquet.tmp"));
    let path = dir.join(format!("part-{id}.parquet"));
    let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by(format!("stsscan {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props))
        .with_context(|| format!("writing {}", tmp.display()))?;
    w.write(batch)
        .with_context(|| format!("writing {}", tmp.display()))?;
    let file = w
        .into_inner()
        .with_context(|| format!("closing {}", tmp.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(path)
}

/// The complete part files of one table, sorted by name (oldest first: uuid v7).
pub fn part_files(dir: &Path, table: &str) -> anyhow::Result<Vec<PathBuf>> {
    let d = dir.join(table);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", d.display())),
    };
    for e in entries {
        let e = e.with_context(|| format!("listing {}", d.display()))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("part-") && name.ends_with(".parquet") {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Calls `f` with every record batch of every complete part of `table` under `dir`, reading
/// only the named columns (all when `columns` is empty).
pub fn for_each_batch(
    dir: &Path,
    table: &str,
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for path in part_files(dir, table)? {
        read_parquet(&path, columns, &mut f)?;
    }
    Ok(())
}

/// Reads one Parquet file batch by batch (8192 rows), projecting to `columns` if not empty
/// (names absent from the file are ignored).
pub(crate) fn read_parquet(
    path: &Path,
    columns: &[&str],
    f: &mut dyn FnMut(&RecordBatch) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("reading {}", path.display()))?;
    if !columns.is_empty() {
        let schema = builder.parquet_schema();
        let idx: Vec<usize> = (0..schema.num_columns())
            .filter(|&i| columns.contains(&schema.column(i).path().parts()[0].as_str()))
            .collect();
        let mask = parquet::arrow::ProjectionMask::leaves(schema, idx);
        builder = builder.with_projection(mask);
    }
    let reader = builder
        .with_batch_size(8192)
        .build()
        .with_context(|| format!("reading {}", path.display()))?;
    for batch in reader {
        let batch = batch.with_context(|| format!("reading {}", path.display()))?;
        f(&batch)?;
    }
    Ok(())
}

/// A column as optional strings (any type castable to UTF-8; `None` when absent).
pub fn column_strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(name) else {
        return vec![None; n];
    };
    if matches!(col.data_type(), DataType::Timestamp(..)) {
        // Formatted here: casting a zoned timestamp to text needs arrow's tz support.
        return column_micros(batch, name)
            .into_iter()
            .map(|v| {
                v.and_then(DateTime::<Utc>::from_timestamp_micros)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            })
            .collect();
    }
    let Ok(s) = arrow::compute::cast(col, &DataType::Utf8) else {
        return vec![None; n];
    };
    let s = s.as_string::<i32>();
    (0..n)
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_owned()))
        .collect()
}

/// A column as optional `u64` (`None` when absent or not numeric).
pub fn column_u64(batch: &RecordBatch, name: &str) -> Vec<Option<u64>> {
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(name) else {
        return vec![None; n];
    };
    let Ok(s) = arrow::compute::cast(col, &DataType::UInt64) else {
        return vec![None; n];
    };
    let s = s.as_primitive::<UInt64Type>();
    (0..n)
        .map(|i| (!s.is_null(i)).then(|| s.value(i)))
        .collect()
}

/// A column of timestamps as optional µs since the epoch (any time unit).
pub fn column_micros(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let n = batch.num_rows();
    let Some(col) = batch.column_by_name(name) else {
        return vec![None; n];
    };
    let (mul, div) = match col.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => (1_000_000, 1),
        DataType::Timestamp(TimeUnit::Millisecond, _) => (1_000, 1),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => (1, 1_000),
        _ => (1, 1),
    };
    let Ok(s) = arrow::compute::cast(col, &DataType::Int64) else {
        return vec![None; n];
    };
    let s = s.as_primitive::<arrow::datatypes::Int64Type>();
    (0..n)
        .map(|i| (!s.is_null(i)).then(|| s.value(i).saturating_mul(mul) / div))
        .collect()
}

/// The report dataset being appended to: the ids already stored and the rows not yet
/// written. Memory: the id set (one string per stored report) plus at most `flush_rows`
/// buffered rows and about [`FLUSH_BYTES`] of them (one more row at most), however a report is
/// shaped.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    ids: HashSet<String>,
    error_keys: HashSet<(String, String)>,
    reports: Vec<ReportRow>,
    /// [`ReportRow::weight`] of the buffered report rows.
    report_bytes: usize,
    errors: Vec<ErrorRow>,
    flush_rows: usize,
    flush_bytes: usize,
    parts_written: usize,
}

impl Store {
    /// Opens (creating if needed) the dataset at `dir` and reads the report ids it holds.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut ids = HashSet::new();
        for_each_batch(dir, REPORTS_TABLE, &["report_id"], |b| {
            ids.extend(column_strings(b, "report_id").into_iter().flatten());
            Ok(())
        })?;
        let mut error_keys = HashSet::new();
        for_each_batch(dir, ERRORS_TABLE, &["source", "code"], |b| {
            let src = column_strings(b, "source");
            let code = column_strings(b, "code");
            for (s, c) in src.into_iter().zip(code) {
                if let (Some(s), Some(c)) = (s, c) {
                    error_keys.insert((s, c));
                }
            }
            Ok(())
        })?;
        Ok(Store {
            dir: dir.to_owned(),
            ids,
            error_keys,
            reports: Vec::new(),
            report_bytes: 0,
            errors: Vec::new(),
            flush_rows: DEFAULT_FLUSH_ROWS,
            flush_bytes: FLUSH_BYTES,
            parts_written: 0,
        })
    }

    /// Sets how many buffered rows trigger a flush (at least 1).
    pub fn set_flush_rows(&mut self, n: usize) {
        self.flush_rows = n.max(1);
    }

    /// Sets how many buffered row bytes trigger a flush, also within one report (at least 1;
    /// [`FLUSH_BYTES`] by default).
    pub fn set_flush_bytes(&mut self, n: usize) {
        self.flush_bytes = n.max(1);
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of distinct report ids stored or buffered.
    pub fn known_reports(&self) -> usize {
        self.ids.len()
    }

    /// Number of part files written by this store.
    pub fn parts_written(&self) -> usize {
        self.parts_written
    }

    /// Adds a report unless its `report-id` is already known; flushes when the buffer is full.
    pub fn add_report(
        &mut self,
        report: &Report,
        findings: &[String],
        source: &str,
    ) -> anyhow::Result<Added> {
        if self.ids.contains(&cap(&report.report_id)) {
            return Ok(Added::Duplicate);
        }
        // Rows left buffered by failed flushes: write them before taking more, or refuse the
        // report (the caller answers "retry later"), so a failing disk cannot grow the buffer.
        if self.report_bytes >= self.flush_bytes.saturating_mul(4) {
            self.flush()?;
        }
        self.ids.insert(cap(&report.report_id));
        // Row by row, writing parts whenever the buffer reaches FLUSH_BYTES, so one report
        // of many details never holds more than that in memory.
        let mut failed = None;
        for_each_row(report, findings, source, Utc::now(), |r| {
            if failed.is_some() {
                return;
            }
            self.report_bytes += r.weight();
            self.reports.push(r);
            if self.report_bytes >= self.flush_bytes {
                if let Err(e) = self.flush() {
                    failed = Some(e);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.maybe_flush()?;
        Ok(Added::Added)
    }

    /// Records an input that did not yield a report, unless the same source already has an
    /// error row with the same code (re-ingesting the same files adds nothing); returns
    /// whether a row was added.
    pub fn add_error(&mut self, source: &str, code: &str, message: &str) -> anyhow::Result<bool> {
        if !self.error_keys.insert((cap(source), cap(code))) {
            return Ok(false);
        }
        self.errors.push(ErrorRow {
            source: cap(source),
            code: cap(code),
            message: cap(message),
            ingested_at: Utc::now(),
        });
        self.maybe_flush()?;
        Ok(true)
    }

    fn maybe_flush(&mut self) -> anyhow::Result<()> {
        if self.reports.len() + self.errors.len() >= self.flush_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Rows buffered and not yet on disk.
    pub fn buffered(&self) -> usize {
        self.reports.len() + self.errors.len()
    }

    /// Writes buffered rows as new parts (one per non-empty table).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if !self.reports.is_empty() {
            let b = reports_batch(&self.reports)?;
            write_part(&self.dir.join(REPORTS_TABLE), &b)?;
            self.reports.clear();
            self.report_bytes = 0;
            self.parts_written += 1;
        }
        if !self.errors.is_empty() {
            let b = errors_batch(&self.errors)?;
            write_part(&self.dir.join(ERRORS_TABLE), &b)?;
            self.errors.clear();
            self.parts_written += 1;
        }
        Ok(())
    }
}
