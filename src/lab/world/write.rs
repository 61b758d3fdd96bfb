//! Writers of the ground truth: JSON lines (one object per domain, MX rows nested) and
//! Parquet (two files — domains and MX rows — ZSTD, written in batches so memory stays flat
//! whatever the number of domains).

use std::io::Write;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, ListBuilder, RecordBatch, StringBuilder, StringDictionaryBuilder,
    UInt16Builder, UInt32Builder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::truth::DomainTruth;

/// Domains per Arrow batch.
pub const BATCH_ROWS: usize = 8192;
/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 65_536;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// Schema of the domains truth table.
pub fn domains_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("scenario", dict(), false),
        Field::new("sts_txt", dict(), false),
        Field::new("sts_txt_dns", dict(), false),
        Field::new("sts_id", DataType::Utf8, true),
        Field::new("policy_fetch", dict(), false),
        Field::new("policy_http_status", DataType::UInt16, true),
        Field::new("policy_cert", dict(), true),
        Field::new("policy_valid", DataType::Boolean, true),
        Field::new("policy_mode", dict(), true),
        Field::new("policy_max_age", DataType::UInt32, true),
        Field::new("policy_mx", list(), true),
        Field::new("mx_kind", dict(), false),
        Field::new("tlsrpt", dict(), false),
        Field::new("tlsrpt_rua", list(), true),
        Field::new("policy_usable", DataType::Boolean, false),
        Field::new("enforce_deliverable", DataType::Boolean, true),
    ]))
}

/// Schema of the MX truth table (one row per domain × MX host).
pub fn mx_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("mx_host", DataType::Utf8, false),
        Field::new("mx_preference", DataType::UInt16, false),
        Field::new("mx_addresses", list(), false),
        Field::new("mx_policy_match", DataType::Boolean, true),
        Field::new("smtp", dict(), false),
        Field::new("starttls", DataType::Boolean, true),
        Field::new("mx_cert", dict(), true),
        Field::new("starttls_injection", DataType::Boolean, true),
    ]))
}

type Dict = StringDictionaryBuilder<Int32Type>;

fn opt_list(b: &mut ListBuilder<StringBuilder>, v: Option<&Vec<String>>) {
    match v {
        Some(items) => {
            for s in items {
                b.values().append_value(s);
            }
            b.append(true);
        }
        None => b.append(false),
    }
}

#[derive(Default)]
struct DomainCols {
    domain: StringBuilder,
    scenario: Dict,
    sts_txt: Dict,
    sts_txt_dns: Dict,
    sts_id: StringBuilder,
    policy_fetch: Dict,
    policy_http_status: UInt16Builder,
    policy_cert: Dict,
    policy_valid: BooleanBuilder,
    policy_mode: Dict,
    policy_max_age: UInt32Builder,
    policy_mx: ListBuilder<StringBuilder>,
    mx_kind: Dict,
    tlsrpt: Dict,
    tlsrpt_rua: ListBuilder<StringBuilder>,
    policy_usable: BooleanBuilder,
    enforce_deliverable: BooleanBuilder,
}

#[derive(Default)]
struct MxCols {
    domain: StringBuilder,
    mx_host: StringBuilder,
    mx_preference: UInt16Builder,
    mx_addresses: ListBuilder<StringBuilder>,
    mx_policy_match: BooleanBuilder,
    smtp: Dict,
    starttls: BooleanBuilder,
    mx_cert: Dict,
    starttls_injection: BooleanBuilder,
}

impl DomainCols {
    fn push(&mut self, t: &DomainTruth) {
        self.domain.append_value(&t.domain);
        self.scenario.append_value(t.scenario);
        self.sts_txt.append_value(t.sts_txt.as_str());
        self.sts_txt_dns.append_value(t.sts_txt_dns.as_str());
        self.sts_id.append_option(t.sts_id.as_deref());
        self.policy_fetch.append_value(t.policy_fetch.as_str());
        self.policy_http_status.append_option(t.policy_http_status);
        self.policy_cert
            .append_option(t.policy_cert.map(|c| c.as_str()));
        self.policy_valid.append_option(t.policy_valid);
        self.policy_mode
            .append_option(t.policy_mode.map(|m| m.as_str()));
        self.policy_max_age.append_option(t.policy_max_age);
        opt_list(&mut self.policy_mx, t.policy_mx.as_ref());
        self.mx_kind.append_value(t.mx_kind.as_str());
        self.tlsrpt.append_value(t.tlsrpt.as_str());
        opt_list(&mut self.tlsrpt_rua, t.tlsrpt_rua.as_ref());
        self.policy_usable.append_value(t.policy_usable);
        self.enforce_deliverable
            .append_option(t.enforce_deliverable);
    }

    fn finish(&mut self) -> anyhow::Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.domain.finish()),
            Arc::new(self.scenario.finish()),
            Arc::new(self.sts_txt.finish()),
            Arc::new(self.sts_txt_dns.finish()),
            Arc::new(self.sts_id.finish()),
            Arc::new(self.policy_fetch.finish()),
            Arc::new(self.policy_http_status.finish()),
            Arc::new(self.policy_cert.finish()),
            Arc::new(self.policy_valid.finish()),
            Arc::new(self.policy_mode.finish()),
            Arc::new(self.policy_max_age.finish()),
            Arc::new(self.policy_mx.finish()),
            Arc::new(self.mx_kind.finish()),
            Arc::new(self.tlsrpt.finish()),
            Arc::new(self.tlsrpt_rua.finish()),
            Arc::new(self.policy_usable.finish()),
            Arc::new(self.enforce_deliverable.finish()),
        ];
        Ok(RecordBatch::try_new(domains_schema(), cols)?)
    }
}

impl MxCols {
    fn push(&mut self, t: &DomainTruth) {
        for m in &t.mx {
            self.domain.append_value(&t.domain);
            self.mx_host.append_value(&m.mx_host);
            self.mx_preference.append_value(m.mx_preference);
            opt_list(&mut self.mx_addresses, Some(&m.mx_addresses));
            self.mx_policy_match.append_option(m.mx_policy_match);
            self.smtp.append_value(m.smtp.as_str());
            self.starttls.append_option(m.starttls);
            self.mx_cert.append_option(m.mx_cert.map(|c| c.as_str()));
            self.starttls_injection.append_option(m.starttls_injection);
        }
    }

    fn finish(&mut self) -> anyhow::Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.domain.finish()),
            Arc::new(self.mx_host.finish()),
            Arc::new(self.mx_preference.finish()),
            Arc::new(self.mx_addresses.finish()),
            Arc::new(self.mx_policy_match.finish()),
            Arc::new(self.smtp.finish()),
            Arc::new(self.starttls.finish()),
            Arc::new(self.mx_cert.finish()),
            Arc::new(self.starttls_injection.finish()),
        ];
        Ok(RecordBatch::try_new(mx_schema(), cols)?)
    }
}

fn props() -> anyhow::Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build())
}

/// Writes the truth as Parquet: domain rows to `domains`, MX rows to `mx`. Returns the
/// number of domains written.
pub fn write_parquet<W1, W2>(
    rows: impl IntoIterator<Item = DomainTruth>,
    domains: W1,
    mx: W2,
) -> anyhow::Result<u64>
where
    W1: Write + Send,
    W2: Write + Send,
{
    let mut dw = ArrowWriter::try_new(domains, domains_schema(), Some(props()?))?;
    let mut mw = ArrowWriter::try_new(mx, mx_schema(), Some(props()?))?;
    let mut dc = DomainCols::default();
    let mut mc = MxCols::default();
    let mut n = 0u64;
    let mut in_batch = 0usize;
    for t in rows {
        dc.push(&t);
        mc.push(&t);
        n += 1;
        in_batch += 1;
        if in_batch == BATCH_ROWS {
            dw.write(&dc.finish()?)?;
            mw.write(&mc.finish()?)?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        dw.write(&dc.finish()?)?;
        mw.write(&mc.finish()?)?;
    }
    dw.close()?;
    mw.close()?;
    Ok(n)
}

/// Writes the truth as JSON lines (one object per domain, MX rows nested under `mx`).
/// Returns the number of domains written.
pub fn write_jsonl<W: Write>(
    rows: impl IntoIterator<Item = DomainTruth>,
    mut out: W,
) -> anyhow::Result<u64> {
    let mut n = 0u64;
    for t in rows {
        serde_json::to_writer(&mut out, &t)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
