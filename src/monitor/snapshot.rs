//! A scan reduced to what the rules compare: per domain a [`DomainSnap`] (fifteen `domains`
//! columns and its `mx` rows), read from the completed parts with a column projection, batch
//! by batch. Memory is proportional to the portfolio (one small struct per domain and MX
//! address, ≈ 1 KB per domain measured; repeated values such as vocabulary strings, MX hosts
//! and addresses shared through one [`Text`] each), never to the width of the tables. A complete scan of no domain row (an empty
//! list or shard writes no part) is an empty snapshot. Also: how two scans' domains overlap
//! ([`Overlap`]), and finding the complete scans of a dataset directory by manifest.
//!
//! This module only reads; it never writes parts or manifests.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use arrow::array::{
    Array, ArrayRef, BooleanArray, ListArray, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt32Array,
};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::output::manifest::{Manifest, ScanStatus};
use crate::output::read::completed_parts;
use crate::output::schema::Table;

/// The most MX rows kept per domain (a larger answer is truncated: the rules only need the
/// hosts a real MX set has).
pub const MAX_MX_PER_DOMAIN: usize = 256;
/// The longest string kept from any column (longer values are cut at a char boundary).
pub const MAX_VALUE_BYTES: usize = 1024;

/// A string value of a snapshot: shared, so that the values a portfolio repeats (every
/// vocabulary value, MX hosts of large providers, their addresses) are held once per load.
pub type Text = Arc<str>;

/// One MX row (domain × host × address) as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MxSnap {
    /// `mx.mx_host`.
    pub host: Text,
    /// `mx.address`.
    pub address: Option<Text>,
    /// `mx.mx_policy_match`.
    pub policy_match: Option<bool>,
    /// `mx.smtp`.
    pub smtp: Option<Text>,
    /// `mx.mx_cert` (the verdict for the host's name).
    pub cert: Option<Text>,
    /// `mx.cert_not_after`, microseconds since the epoch.
    pub cert_not_after: Option<i64>,
}

/// One domain of a scan as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainSnap {
    /// `scanned_at`, microseconds since the epoch.
    pub scanned_at: i64,
    /// `sts_txt`.
    pub sts_txt: Option<Text>,
    /// `sts_id`.
    pub sts_id: Option<Text>,
    /// `policy_fetch`.
    pub policy_fetch: Option<Text>,
    /// `policy_cert`.
    pub policy_cert: Option<Text>,
    /// `policy_cert_not_after`, microseconds.
    pub policy_cert_not_after: Option<i64>,
    /// `policy_body_sha256`.
    pub policy_body_sha256: Option<Text>,
    /// `policy_mode`.
    pub policy_mode: Option<Text>,
    /// `policy_max_age`.
    pub policy_max_age: Option<u32>,
    /// `mx_hosts` (empty when null).
    pub mx_hosts: Vec<Text>,
    /// `mx_kind` (`hosts`, `implicit`, `null`, …).
    pub mx_kind: Option<Text>,
    /// `tlsrpt`.
    pub tlsrpt: Option<Text>,
    /// `enforce_deliverable`.
    pub enforce_deliverable: Option<bool>,
    /// `rfc8460_result`.
    pub rfc8460_result: Option<Text>,
    /// The domain's `mx` rows.
    pub mx: Vec<MxSnap>,
}

/// A scan: its id and every scanned domain (input_status = ok) by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The scan id (None for the empty snapshot standing in for "no previous scan").
    pub scan_id: Option<String>,
    /// Domains by A-label.
    pub domains: HashMap<Box<str>, DomainSnap>,
}

const DOMAIN_COLUMNS: &[&str] = &[
    "input_status",
    "domain",
    "scanned_at",
    "sts_txt",
    "sts_id",
    "policy_fetch",
    "policy_cert",
    "policy_cert_not_after",
    "policy_body_sha256",
    "policy_mode",
    "policy_max_age",
    "mx_hosts",
    "mx_kind",
    "tlsrpt",
    "enforce_deliverable",
    "rfc8460_result",
];

const MX_COLUMNS: &[&str] = &[
    "domain",
    "mx_host",
    "address",
    "mx_policy_match",
    "smtp",
    "mx_cert",
    "cert_not_after",
];

/// `s` cut to [`MAX_VALUE_BYTES`] at a char boundary.
fn cap(s: &str) -> &str {
    if s.len() <= MAX_VALUE_BYTES {
        return s;
    }
    let mut end = MAX_VALUE_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The values of one load, each held once: a 100 000-domain scan repeats a few dozen
/// vocabulary values and a few thousand MX hosts and addresses millions of times. Dropped
/// when the load ends (the snapshot keeps the shared values alive).
#[derive(Default)]
struct Interner(HashSet<Text>);

impl Interner {
    fn get(&mut self, s: &str) -> Text {
        let s = cap(s);
        if let Some(t) = self.0.get(s) {
            return t.clone();
        }
        let t: Text = Arc::from(s);
        self.0.insert(t.clone());
        t
    }
}

/// A string column (plain or dictionary-encoded), as plain UTF-8.
struct Strs(StringArray);

impl Strs {
    /// Row `i`, capped, borrowed from the batch.
    fn str(&self, i: usize) -> Option<&str> {
        (!self.0.is_null(i)).then(|| cap(self.0.value(i)))
    }

    /// Row `i` as a value shared through `names` (for columns whose values repeat).
    fn shared(&self, i: usize, names: &mut Interner) -> Option<Text> {
        (!self.0.is_null(i)).then(|| names.get(self.0.value(i)))
    }

    /// Row `i` as a value of its own (for columns whose values are unique per domain).
    fn own(&self, i: usize) -> Option<Text> {
        self.str(i).map(Text::from)
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> anyhow::Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .with_context(|| format!("{}: no column {name}", path.display()))
}

fn strings(batch: &RecordBatch, name: &str, path: &Path) -> anyhow::Result<Strs> {
    let col = column(batch, name, path)?;
    let plain = match col.data_type() {
        DataType::Utf8 => col.clone(),
        _ => arrow::compute::cast(col, &DataType::Utf8)
            .with_context(|| format!("{}: column {name} is not a string", path.display()))?,
    };
    let arr = plain
        .as_any()
        .downcast_ref::<StringArray>()
        .with_context(|| format!("{}: column {name} is not a string", path.display()))?
        .clone();
    Ok(Strs(arr))
}

fn typed<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> anyhow::Result<&'a T> {
    column(batch, name, path)?
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| format!("{}: column {name} has an unexpected type", path.display()))
}

fn opt<T>(present: bool, v: impl FnOnce() -> T) -> Option<T> {
    present.then(v)
}

/// Streams the projected `columns` of every completed part of `table` in `scan_id`.
fn for_each_batch(
    dir: &Path,
    scan_id: &str,
    table: Table,
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for part in completed_parts(dir, scan_id)?
        .into_iter()
        .filter(|p| p.table == table)
    {
        let path = &part.path;
        let file = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .with_context(|| format!("reading {}", path.display()))?;
        let schema = builder.schema().clone();
        let idx = columns
            .iter()
            .map(|c| {
                schema
                    .index_of(c)
                    .with_context(|| format!("{}: no column {c}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .with_context(|| format!("reading {}", path.display()))?;
        for batch in reader {
            let batch = batch.with_context(|| format!("reading {}", path.display()))?;
            f(&batch, path)?;
        }
    }
    Ok(())
}

fn list_strings(list: &ListArray, i: usize, names: &mut Interner) -> Vec<Text> {
    if list.is_null(i) {
        return Vec::new();
    }
    let values = list.value(i);
    let Some(s) = values.as_any().downcast_ref::<StringArray>() else {
        return Vec::new();
    };
    (0..s.len().min(MAX_MX_PER_DOMAIN))
        .filter(|&j| !s.is_null(j))
        .map(|j| names.get(s.value(j)))
        .collect()
}

/// Reads scan `scan_id` of dataset `dir` (its completed parts; the scan need not be complete).
/// A complete scan of no domain row (no part file) is an empty snapshot.
pub fn load(dir: &Path, scan_id: &str) -> anyhow::Result<Snapshot> {
    let mut snap = Snapshot {
        scan_id: Some(scan_id.to_owned()),
        domains: HashMap::new(),
    };
    let mut parts = 0usize;
    let mut names = Interner::default();
    for_each_batch(dir, scan_id, Table::Domains, DOMAIN_COLUMNS, |b, path| {
        parts += 1;
        let status = strings(b, "input_status", path)?;
        let domain = strings(b, "domain", path)?;
        let at = typed::<TimestampMicrosecondArray>(b, "scanned_at", path)?;
        let sts_txt = strings(b, "sts_txt", path)?;
        let sts_id = strings(b, "sts_id", path)?;
        let fetch = strings(b, "policy_fetch", path)?;
        let pverdict = strings(b, "policy_cert", path)?;
        let pcert = typed::<TimestampMicrosecondArray>(b, "policy_cert_not_after", path)?;
        let sha = strings(b, "policy_body_sha256", path)?;
        let mode = strings(b, "policy_mode", path)?;
        let age = typed::<UInt32Array>(b, "policy_max_age", path)?;
        let hosts = typed::<ListArray>(b, "mx_hosts", path)?;
        let mx_kind = strings(b, "mx_kind", path)?;
        let tlsrpt = strings(b, "tlsrpt", path)?;
        let deliver = typed::<BooleanArray>(b, "enforce_deliverable", path)?;
        let result = strings(b, "rfc8460_result", path)?;
        for i in 0..b.num_rows() {
            if status.str(i) != Some("ok") {
                continue;
            }
            let Some(name) = domain.str(i) else { continue };
            let d = DomainSnap {
                scanned_at: if at.is_null(i) { 0 } else { at.value(i) },
                sts_txt: sts_txt.shared(i, &mut names),
                sts_id: sts_id.own(i),
                policy_fetch: fetch.shared(i, &mut names),
                policy_cert: pverdict.shared(i, &mut names),
                policy_cert_not_after: opt(!pcert.is_null(i), || pcert.value(i)),
                policy_body_sha256: sha.own(i),
                policy_mode: mode.shared(i, &mut names),
                policy_max_age: opt(!age.is_null(i), || age.value(i)),
                mx_hosts: list_strings(hosts, i, &mut names),
                mx_kind: mx_kind.shared(i, &mut names),
                tlsrpt: tlsrpt.shared(i, &mut names),
                enforce_deliverable: opt(!deliver.is_null(i), || deliver.value(i)),
                rfc8460_result: result.shared(i, &mut names),
                mx: Vec::new(),
            };
            // First occurrence wins (the scanner never writes a domain twice as ok).
            snap.domains.entry(name.into()).or_insert(d);
        }
        Ok(())
    })?;
    if parts == 0 {
        no_parts(dir, scan_id)?;
        return Ok(snap);
    }
    for_each_batch(dir, scan_id, Table::Mx, MX_COLUMNS, |b, path| {
        let domain = strings(b, "domain", path)?;
        let host = strings(b, "mx_host", path)?;
        let addr = strings(b, "address", path)?;
        let matched = typed::<BooleanArray>(b, "mx_policy_match", path)?;
        let smtp = strings(b, "smtp", path)?;
        let verdict = strings(b, "mx_cert", path)?;
        let na = typed::<TimestampMicrosecondArray>(b, "cert_not_after", path)?;
        for i in 0..b.num_rows() {
            let (Some(d), Some(h)) = (domain.str(i), host.shared(i, &mut names)) else {
                continue;
            };
            let Some(entry) = snap.domains.get_mut(d) else {
                continue;
            };
            if entry.mx.len() >= MAX_MX_PER_DOMAIN {
                continue;
            }
            entry.mx.push(MxSnap {
                host: h,
                address: addr.shared(i, &mut names),
                policy_match: opt(!matched.is_null(i), || matched.value(i)),
                smtp: smtp.shared(i, &mut names),
                cert: verdict.shared(i, &mut names),
                cert_not_after: opt(!na.is_null(i), || na.value(i)),
            });
        }
        Ok(())
    })?;
    // A domain's few MX rows in a vector that grew by doubling: give back the slack.
    for d in snap.domains.values_mut() {
        d.mx.shrink_to_fit();
    }
    snap.domains.shrink_to_fit();
    Ok(snap)
}

/// A scan without a completed `domains` part is empty when its manifest says it is complete
/// with no domain row (an empty list or shard: a valid baseline, every domain of the other
/// scan is then new to it); anything else is an error naming the scan and the directory.
fn no_parts(dir: &Path, scan_id: &str) -> anyhow::Result<()> {
    let path = Manifest::path(dir, scan_id);
    if !path.exists() {
        bail!(
            "no scan {scan_id} in {} (neither a manifest nor a domains part)",
            dir.display()
        );
    }
    let m = Manifest::load_file(&path)?;
    match (m.status, m.counts.domains) {
        (ScanStatus::Complete, 0) => Ok(()),
        (ScanStatus::Complete, rows) => bail!(
            "scan {scan_id} in {}: its manifest counts {rows} domain rows but no domains part file is there",
            dir.display()
        ),
        (status, _) => bail!(
            "scan {scan_id} in {} has no completed domains part yet (status {})",
            dir.display(),
            status.as_str()
        ),
    }
}

/// How the domains of two scans overlap (domains with `input_status = ok`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overlap {
    /// Domains of the old scan.
    pub old: usize,
    /// Domains of the new scan.
    pub new: usize,
    /// Domains in both.
    pub common: usize,
}

impl Overlap {
    /// The overlap of `old` and `new`.
    pub fn of(old: &Snapshot, new: &Snapshot) -> Overlap {
        let common = new
            .domains
            .keys()
            .filter(|d| old.domains.contains_key(*d))
            .count();
        Overlap {
            old: old.domains.len(),
            new: new.domains.len(),
            common,
        }
    }

    /// Domains only in the old scan (not compared: the rules look at the new scan's domains).
    pub fn only_old(&self) -> usize {
        self.old.saturating_sub(self.common)
    }

    /// Domains only in the new scan (new to the portfolio: only certificate expiry is checked).
    pub fn only_new(&self) -> usize {
        self.new.saturating_sub(self.common)
    }

    /// Both scans have domains but none in common: comparing them says nothing (most likely
    /// the wrong directories or scan ids). An empty scan on either side is not disjoint.
    pub fn disjoint(&self) -> bool {
        self.old > 0 && self.new > 0 && self.common == 0
    }
}

/// The manifests of `dir` with status `complete`, oldest first (by `started_at`, then id).
/// Unreadable manifests are skipped; a missing `manifest/` directory gives an empty list.
pub fn complete_scans(dir: &Path) -> anyhow::Result<Vec<Manifest>> {
    let mdir = dir.join("manifest");
    let entries = match fs::read_dir(&mdir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing {}", mdir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", mdir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("scan_id=") && name.ends_with(".json")) {
            continue;
        }
        if let Ok(m) = Manifest::load_file(&entry.path()) {
            if m.status == ScanStatus::Complete {
                out.push(m);
            }
        }
    }
    out.sort_by(|a, b| {
        a.started_at
            .cmp(&b.started_at)
            .then_with(|| a.scan_id.cmp(&b.scan_id))
    });
    Ok(out)
}

/// The id of the most recent complete scan of `dir`, if any.
pub fn latest_complete(dir: &Path) -> anyhow::Result<Option<String>> {
    Ok(complete_scans(dir)?.pop().map(|m| m.scan_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value a portfolio repeats is held once per load; an over-long one is cut at a char
    /// boundary before it is shared.
    #[test]
    fn repeated_values_are_shared_and_capped() {
        let mut names = Interner::default();
        let a = names.get("aspmx.l.google.com");
        let b = names.get("aspmx.l.google.com");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &names.get("mx.example.net")));
        let long = "é".repeat(MAX_VALUE_BYTES);
        let cut = names.get(&long);
        assert!(cut.len() <= MAX_VALUE_BYTES && cut.len() >= MAX_VALUE_BYTES - 1);
        assert!(Arc::ptr_eq(&cut, &names.get(&long)));
    }
}
