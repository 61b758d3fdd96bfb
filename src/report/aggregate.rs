//! Streaming aggregation of one scan's completed parts into a [`Summary`]: counts per status,
//! findings per code and severity, MX outcomes, MX provider concentration (bounded
//! heavy-hitter counters) and the top-N domains needing action with their MX rows.
//!
//! Parts are read batch by batch with column projection (only the columns the report shows),
//! so memory does not grow with the scan: every map here is bounded (closed vocabularies,
//! finding codes, a capped heavy-hitter table, at most `top` kept domains with at most
//! [`MAX_MX_PER_DOMAIN`] MX rows and [`MAX_FINDINGS_KEPT`] findings each, text capped at
//! [`MAX_TEXT`] bytes). This module never writes and never judges: verdicts come from the rows.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, UInt16Type, UInt32Type};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::assess::verdict::undeliverable_loses_mail;
use crate::output::read::{PartFile, completed_parts};
use crate::output::writer::OutputError;
use crate::output::{DomainRow, FindingRow, MxRow, Table};

/// MX rows kept per domain needing action.
pub const MAX_MX_PER_DOMAIN: usize = 32;
/// Findings kept per domain needing action.
pub const MAX_FINDINGS_KEPT: usize = 16;
/// Bytes kept of any free text (messages, details) of a kept domain.
pub const MAX_TEXT: usize = 512;
/// Distinct keys a heavy-hitter counter tracks before it starts decrementing.
pub const HEAVY_HITTER_CAPACITY: usize = 20_000;

/// Counts of the most frequent keys of a stream in bounded memory (Misra–Gries): exact while
/// fewer than `capacity` distinct keys were seen; afterwards each count is at most
/// [`TopCounter::max_error`] below the truth.
#[derive(Debug, Clone)]
pub struct TopCounter {
    capacity: usize,
    counts: HashMap<String, u64>,
    total: u64,
    decrements: u64,
}

impl TopCounter {
    /// A counter tracking at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        TopCounter {
            capacity: capacity.max(1),
            counts: HashMap::new(),
            total: 0,
            decrements: 0,
        }
    }

    /// Counts one occurrence of `key`.
    pub fn add(&mut self, key: &str) {
        self.total = self.total.saturating_add(1);
        if let Some(n) = self.counts.get_mut(key) {
            *n = n.saturating_add(1);
            return;
        }
        if self.counts.len() < self.capacity {
            self.counts.insert(key.to_string(), 1);
            return;
        }
        // Misra–Gries: the new key and every tracked key lose one occurrence.
        self.decrements = self.decrements.saturating_add(1);
        self.counts.retain(|_, n| {
            *n -= 1;
            *n > 0
        });
    }

    /// Occurrences counted in total.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How far below the truth a reported count may be (0 when exact).
    pub fn max_error(&self) -> u64 {
        self.decrements
    }

    /// The `n` largest counts, largest first (ties by key).
    pub fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.counts.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Why a domain is listed as needing action; the order is the listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// A sender enforcing the domain's MTA-STS policy cannot deliver (`enforce_deliverable`
    /// is false): mail is being lost or deferred now.
    EnforceUndeliverable,
    /// At least one finding of severity `error`.
    Error,
}

impl Urgency {
    /// Stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::EnforceUndeliverable => "enforce-undeliverable",
            Urgency::Error => "error",
        }
    }
}

/// Why a domain needs action, if it does. An undeliverable policy that loses no mail now
/// (beside a null MX, or under mode `testing` or `none`: [`undeliverable_loses_mail`]) is
/// listed only if the domain has an error.
fn urgency(
    enforce_deliverable: Option<bool>,
    mx_kind: Option<&str>,
    mode: Option<&str>,
    max_severity: Option<&str>,
) -> Option<Urgency> {
    if enforce_deliverable == Some(false) && undeliverable_loses_mail(mx_kind, mode) {
        Some(Urgency::EnforceUndeliverable)
    } else if max_severity == Some("error") {
        Some(Urgency::Error)
    } else {
        None
    }
}

/// A domain needing action, with what the report shows about it.
#[derive(Debug, Clone)]
pub struct ActionDomain {
    /// Why it is listed.
    pub urgency: Urgency,
    /// The domain row, with the columns [`crate::cli::check::explain`] reads (text capped).
    pub row: DomainRow,
    /// Its MX rows (at most [`MAX_MX_PER_DOMAIN`]).
    pub mx: Vec<MxRow>,
}

/// Everything the report shows about one scan.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows of the `domains` table.
    pub rows: u64,
    /// `column` → value → rows, for the `domains` status columns the report shows (ok rows
    /// only, except `input_status`; nulls counted as `null`).
    pub domains: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// `column` → value → rows of the `mx` table.
    pub mx: BTreeMap<&'static str, BTreeMap<String, u64>>,
    /// Rows of the `mx` table.
    pub mx_rows: u64,
    /// (severity, code) → domains with at least one such finding.
    pub findings: BTreeMap<(String, String), u64>,
    /// Domains per MX host name.
    pub mx_hosts: TopCounter,
    /// Domains per MX operator domain ([`mx_parent`] of the host).
    pub mx_domains: TopCounter,
    /// Domains needing action, in listing order, at most `top`.
    pub action: Vec<ActionDomain>,
    /// Domains needing action in total, per urgency.
    pub action_total: BTreeMap<Urgency, u64>,
}

impl Summary {
    /// How many domains need action for `urgency`.
    pub fn needing_action(&self, urgency: Urgency) -> u64 {
        self.action_total.get(&urgency).copied().unwrap_or(0)
    }
}

/// `domains` status columns counted (dictionary or boolean columns).
pub const DOMAIN_STATUS_COLUMNS: &[&str] = &[
    "input_status",
    "sts_txt",
    "policy_fetch",
    "policy_cert",
    "policy_usable",
    "policy_mode",
    "enforce_deliverable",
    "mx_kind",
    "tlsrpt",
    "rfc8460_result",
    "max_severity",
];

/// `mx` status columns counted.
pub const MX_STATUS_COLUMNS: &[&str] = &["smtp", "mx_cert", "tls_version", "rfc8460_result"];

/// Extra `domains` columns read for the domains needing action.
const DOMAIN_DETAIL_COLUMNS: &[&str] = &[
    "input_line",
    "domain",
    "findings",
    "sts_txt_dns",
    "sts_txt_records",
    "sts_txt_error",
    "sts_id",
    "policy_url",
    "policy_http_status",
    "policy_location",
    "policy_content_type",
    "policy_valid",
    "policy_error",
    "policy_fetch_detail",
    "policy_max_age",
    "policy_mx",
    "mx_dns",
    "tlsrpt_rua",
    "tlsrpt_error",
];

const MX_DETAIL_COLUMNS: &[&str] = &[
    "domain",
    "mx_host",
    "mx_preference",
    "address",
    "address_dns",
    "address_refused",
    "mx_excluded",
    "mx_policy_match",
    "smtp_detail",
    "tls_version",
    "tls_cipher",
];

fn open(path: &Path, columns: &[&str]) -> Result<ParquetRecordBatchReader, OutputError> {
    let file = File::open(path).map_err(|e| OutputError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| OutputError::parquet(path, e))?;
    let schema = builder.schema().clone();
    // Columns a part lacks (an older schema version) are simply not read: they read as null.
    let idx: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), idx);
    builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| OutputError::parquet(path, e))
}

/// Cuts `s` to at most [`MAX_TEXT`] bytes on a character boundary.
fn cap(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Typed access to the columns of one batch by name; a missing column or a wrong type reads
/// as null.
struct Cols<'a>(&'a RecordBatch);

impl<'a> Cols<'a> {
    fn col(&self, name: &str) -> Option<&'a ArrayRef> {
        self.0.column_by_name(name)
    }

    fn str(&self, name: &str, i: usize) -> Option<&'a str> {
        let c = self.col(name)?;
        if c.is_null(i) {
            return None;
        }
        if let Some(s) = c.as_string_opt::<i32>() {
            return Some(s.value(i));
        }
        let d = c.as_dictionary_opt::<Int32Type>()?;
        let k = usize::try_from(d.keys().value(i)).ok()?;
        let values = d.values().as_string_opt::<i32>()?;
        (k < values.len()).then(|| values.value(k))
    }

    fn string(&self, name: &str, i: usize) -> Option<String> {
        self.str(name, i).map(cap)
    }

    fn bool(&self, name: &str, i: usize) -> Option<bool> {
        let c = self.col(name)?.as_boolean_opt()?;
        (!c.is_null(i)).then(|| c.value(i))
    }

    /// A boolean or string status as its stored text (`true`/`false` for booleans).
    fn status(&self, name: &str, i: usize) -> Option<String> {
        match self.col(name)?.as_boolean_opt() {
            Some(b) => (!b.is_null(i)).then(|| b.value(i).to_string()),
            None => self.str(name, i).map(str::to_string),
        }
    }

    fn u64(&self, name: &str, i: usize) -> Option<u64> {
        let c = self.col(name)?;
        if c.is_null(i) {
            return None;
        }
        if let Some(a) = c.as_primitive_opt::<arrow::datatypes::UInt64Type>() {
            return Some(a.value(i));
        }
        if let Some(a) = c.as_primitive_opt::<UInt32Type>() {
            return Some(u64::from(a.value(i)));
        }
        c.as_primitive_opt::<UInt16Type>()
            .map(|a| u64::from(a.value(i)))
    }

    fn list(&self, name: &str, i: usize) -> Option<Vec<String>> {
        let c = self.col(name)?.as_list_opt::<i32>()?;
        if c.is_null(i) {
            return None;
        }
        let v = c.value(i);
        let s = v.as_string_opt::<i32>()?;
        Some(
            (0..s.len())
                .take(MAX_MX_PER_DOMAIN)
                .filter(|&j| !s.is_null(j))
                .map(|j| cap(s.value(j)))
                .collect(),
        )
    }

    /// (code, severity, message) of every finding of row `i`.
    fn findings(&self, i: usize) -> Vec<(&'a str, &'a str, &'a str)> {
        let Some(c) = self.col("findings").and_then(|c| c.as_list_opt::<i32>()) else {
            return Vec::new();
        };
        if c.is_null(i) {
            return Vec::new();
        }
        let offsets = c.value_offsets();
        let (Some(&start), Some(&end)) = (offsets.get(i), offsets.get(i + 1)) else {
            return Vec::new();
        };
        let Some(st) = c.values().as_struct_opt() else {
            return Vec::new();
        };
        let field = |n: &str| st.column_by_name(n).and_then(|a| a.as_string_opt::<i32>());
        let (Some(code), Some(sev), Some(msg)) =
            (field("code"), field("severity"), field("message"))
        else {
            return Vec::new();
        };
        let (start, end) = (
            usize::try_from(start).unwrap_or(0),
            usize::try_from(end).unwrap_or(0),
        );
        (start..end.min(code.len()).min(sev.len()).min(msg.len()))
            .map(|j| (code.value(j), sev.value(j), msg.value(j)))
            .collect()
    }
}

/// The domain that names an MX host's operator, approximated without a public-suffix list:
/// the last two labels (`alt1.aspmx.l.gmail.com` → `gmail.com`), or the last three when the
/// top-level label has two letters (a country code), the second-to-last at most three, and
/// a third label exists (`mx.example.co.uk` → `example.co.uk`; `mx.abc.com` → `abc.com`).
pub fn mx_parent(host: &str) -> &str {
    let labels: Vec<&str> = host.rsplitn(4, '.').collect();
    let keep = match labels.as_slice() {
        [tld, sld, _, ..] if tld.len() == 2 && sld.len() <= 3 => 3,
        _ => 2,
    };
    let dots = host.matches('.').count();
    if dots < keep {
        return host;
    }
    // Index just past the (dots - keep + 1)-th dot.
    host.match_indices('.')
        .nth(dots - keep)
        .map_or(host, |(i, _)| &host[i + 1..])
}

fn domain_row(c: &Cols<'_>, i: usize) -> DomainRow {
    let mut findings: Vec<FindingRow> = c
        .findings(i)
        .into_iter()
        .filter(|(_, sev, _)| *sev != "info")
        .map(|(code, severity, message)| FindingRow {
            code: cap(code),
            severity: cap(severity),
            message: cap(message),
        })
        .collect();
    findings.sort_by_key(|f| f.severity != "error");
    findings.truncate(MAX_FINDINGS_KEPT);
    DomainRow {
        input_line: c.u64("input_line", i).unwrap_or(0),
        input_status: "ok".into(),
        domain: c.string("domain", i),
        sts_txt: c.string("sts_txt", i),
        sts_txt_dns: c.string("sts_txt_dns", i),
        sts_txt_records: c.list("sts_txt_records", i),
        sts_txt_error: c.string("sts_txt_error", i),
        sts_id: c.string("sts_id", i),
        policy_fetch: c.string("policy_fetch", i),
        policy_url: c.string("policy_url", i),
        policy_http_status: c
            .u64("policy_http_status", i)
            .and_then(|v| u16::try_from(v).ok()),
        policy_content_type: c.string("policy_content_type", i),
        policy_location: c.string("policy_location", i),
        policy_cert: c.string("policy_cert", i),
        policy_valid: c.bool("policy_valid", i),
        policy_error: c.string("policy_error", i),
        policy_fetch_detail: c.string("policy_fetch_detail", i),
        policy_mode: c.string("policy_mode", i),
        policy_max_age: c
            .u64("policy_max_age", i)
            .and_then(|v| u32::try_from(v).ok()),
        policy_mx: c.list("policy_mx", i),
        mx_dns: c.string("mx_dns", i),
        mx_kind: c.string("mx_kind", i),
        tlsrpt: c.string("tlsrpt", i),
        tlsrpt_rua: c.list("tlsrpt_rua", i),
        tlsrpt_error: c.string("tlsrpt_error", i),
        policy_usable: c.bool("policy_usable", i),
        enforce_deliverable: c.bool("enforce_deliverable", i),
        rfc8460_result: c.string("rfc8460_result", i),
        max_severity: c.string("max_severity", i),
        findings,
        ..DomainRow::default()
    }
}

fn mx_row(c: &Cols<'_>, i: usize) -> MxRow {
    MxRow {
        domain: c.string("domain", i).unwrap_or_default(),
        mx_host: c.string("mx_host", i).unwrap_or_default(),
        mx_preference: c
            .u64("mx_preference", i)
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(0),
        address: c.string("address", i),
        address_dns: c.string("address_dns", i),
        address_refused: c.string("address_refused", i),
        mx_excluded: c.bool("mx_excluded", i),
        mx_policy_match: c.bool("mx_policy_match", i),
        smtp: c.string("smtp", i),
        smtp_detail: c.string("smtp_detail", i),
        tls_version: c.string("tls_version", i),
        tls_cipher: c.string("tls_cipher", i),
        mx_cert: c.string("mx_cert", i),
        rfc8460_result: c.string("rfc8460_result", i),
        ..MxRow::default()
    }
}

fn tally(map: &mut BTreeMap<&'static str, BTreeMap<String, u64>>, col: &'static str, v: &str) {
    let values = map.entry(col).or_default();
    // no allocation once the value has been seen (every row of a large scan comes here)
    match values.get_mut(v) {
        Some(n) => *n = n.saturating_add(1),
        None => {
            values.insert(v.to_owned(), 1);
        }
    }
}

/// Reads every completed part of `scan_id` under `dir` and aggregates it, keeping at most
/// `top` domains needing action.
pub fn summarize(dir: &Path, scan_id: &str, top: usize) -> Result<Summary, OutputError> {
    let parts = completed_parts(dir, scan_id)?;
    let mut s = Summary {
        rows: 0,
        domains: BTreeMap::new(),
        mx: BTreeMap::new(),
        mx_rows: 0,
        findings: BTreeMap::new(),
        mx_hosts: TopCounter::new(HEAVY_HITTER_CAPACITY),
        mx_domains: TopCounter::new(HEAVY_HITTER_CAPACITY),
        action: Vec::new(),
        action_total: BTreeMap::new(),
    };
    // Kept domains needing action, keyed by listing order.
    let mut kept: BTreeMap<(Urgency, u64), ActionDomain> = BTreeMap::new();
    let domain_cols: Vec<&str> = DOMAIN_STATUS_COLUMNS
        .iter()
        .chain(DOMAIN_DETAIL_COLUMNS)
        .copied()
        .collect();
    let mx_cols: Vec<&str> = MX_STATUS_COLUMNS
        .iter()
        .chain(MX_DETAIL_COLUMNS)
        .copied()
        .collect();
    for part in parts.iter().filter(|p| p.table == Table::Domains) {
        for batch in open(&part.path, &domain_cols)? {
            let batch = batch.map_err(|e| arrow_err(part, e))?;
            let c = Cols(&batch);
            for i in 0..batch.num_rows() {
                s.rows += 1;
                let status = c.str("input_status", i).unwrap_or("null");
                tally(&mut s.domains, "input_status", status);
                if status != "ok" {
                    continue;
                }
                for col in DOMAIN_STATUS_COLUMNS.iter().skip(1) {
                    let v = c.status(col, i);
                    tally(&mut s.domains, col, v.as_deref().unwrap_or("null"));
                }
                let mut seen: Vec<(&str, &str)> = Vec::new();
                for (code, sev, _) in c.findings(i) {
                    if seen.len() < 256 && !seen.contains(&(sev, code)) {
                        seen.push((sev, code));
                        let n = s.findings.entry((cap(sev), cap(code))).or_default();
                        *n = n.saturating_add(1);
                    }
                }
                let Some(urgency) = urgency(
                    c.bool("enforce_deliverable", i),
                    c.str("mx_kind", i),
                    c.str("policy_mode", i),
                    c.str("max_severity", i),
                ) else {
                    continue;
                };
                *s.action_total.entry(urgency).or_default() += 1;
                let key = (urgency, c.u64("input_line", i).unwrap_or(u64::MAX));
                let full = kept.len() >= top;
                if full && kept.last_key_value().is_none_or(|(k, _)| *k <= key) {
                    continue;
                }
                kept.insert(
                    key,
                    ActionDomain {
                        urgency,
                        row: domain_row(&c, i),
                        mx: Vec::new(),
                    },
                );
                if kept.len() > top {
                    kept.pop_last();
                }
            }
        }
        // The MX rows of this part's domains are in the mx part with the same number.
        let wanted: HashMap<String, (Urgency, u64)> = kept
            .iter()
            .filter(|(_, a)| a.mx.is_empty())
            .filter_map(|(k, a)| Some((a.row.domain.clone()?, *k)))
            .collect();
        for mx_part in parts
            .iter()
            .filter(|p| p.table == Table::Mx && p.part == part.part)
        {
            read_mx(&mut s, mx_part, &mx_cols, &wanted, &mut kept)?;
        }
    }
    s.action = kept.into_values().collect();
    Ok(s)
}

fn arrow_err(part: &PartFile, e: arrow::error::ArrowError) -> OutputError {
    OutputError::Arrow {
        path: part.path.clone(),
        source: e,
    }
}

fn read_mx(
    s: &mut Summary,
    part: &PartFile,
    cols: &[&str],
    wanted: &HashMap<String, (Urgency, u64)>,
    kept: &mut BTreeMap<(Urgency, u64), ActionDomain>,
) -> Result<(), OutputError> {
    // Hosts already counted for the current domain (rows of a domain are contiguous).
    let mut current = String::new();
    let mut hosts: Vec<String> = Vec::new();
    let mut parents: Vec<String> = Vec::new();
    for batch in open(&part.path, cols)? {
        let batch = batch.map_err(|e| arrow_err(part, e))?;
        let c = Cols(&batch);
        for i in 0..batch.num_rows() {
            s.mx_rows += 1;
            for col in MX_STATUS_COLUMNS {
                let v = c.status(col, i);
                tally(&mut s.mx, col, v.as_deref().unwrap_or("null"));
            }
            let domain = c.str("domain", i).unwrap_or("");
            let host = c.str("mx_host", i).unwrap_or("");
            if domain != current {
                current = domain.to_string();
                hosts.clear();
                parents.clear();
            }
            if hosts.len() < MAX_MX_PER_DOMAIN && !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
                s.mx_hosts.add(host);
            }
            let parent = mx_parent(host);
            if parents.len() < MAX_MX_PER_DOMAIN && !parents.iter().any(|p| p == parent) {
                parents.push(parent.to_string());
                s.mx_domains.add(parent);
            }
            if let Some(a) = wanted.get(domain).and_then(|k| kept.get_mut(k)) {
                if a.mx.len() < MAX_MX_PER_DOMAIN {
                    a.mx.push(mx_row(&c, i));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_counter_is_exact_below_capacity_and_bounded_above() {
        let mut t = TopCounter::new(3);
        for k in ["a", "b", "a", "c", "a", "b"] {
            t.add(k);
        }
        assert_eq!(t.top(2), vec![("a".into(), 3), ("b".into(), 2)]);
        assert_eq!(t.max_error(), 0);
        for i in 0..1000 {
            t.add(&format!("k{i}"));
            t.add("a");
        }
        assert!(t.counts.len() <= 3);
        let (k, n) = t.top(1).remove(0);
        assert_eq!(k, "a");
        assert!(n + t.max_error() >= 1003 && n <= 1003);
        assert_eq!(t.total(), 2006);
    }

    /// RFC 8461 §5: "enforce: In this mode, Sending MTAs MUST NOT deliver the message to
    /// hosts that fail MX matching or certificate validation": such a domain loses mail and
    /// comes first. Under "testing" "messages may be delivered as though there were no MTA-STS
    /// validation failure", and a null MX "announces that it accepts no mail" (RFC 7505,
    /// abstract): an undeliverable policy loses nothing there, so only an error lists it.
    #[test]
    fn urgency_puts_lost_mail_first_and_skips_what_loses_none() {
        use Urgency::*;
        let e = Some("enforce");
        let cases = [
            (
                (Some(false), Some("hosts"), e, Some("error")),
                Some(EnforceUndeliverable),
            ),
            (
                (Some(false), Some("none"), e, Some("error")),
                Some(EnforceUndeliverable),
            ),
            (
                (Some(false), Some("none"), Some("testing"), Some("error")),
                Some(EnforceUndeliverable),
            ),
            (
                (Some(false), Some("hosts"), e, Some("warning")),
                Some(EnforceUndeliverable),
            ),
            (
                (Some(false), Some("hosts"), Some("testing"), Some("warning")),
                None,
            ),
            (
                (Some(false), Some("hosts"), Some("testing"), Some("error")),
                Some(Error),
            ),
            (
                (Some(false), Some("implicit"), Some("none"), Some("warning")),
                None,
            ),
            ((Some(false), Some("null"), e, Some("warning")), None),
            ((Some(false), Some("null"), e, Some("error")), Some(Error)),
            ((Some(true), Some("hosts"), e, Some("error")), Some(Error)),
            ((None, Some("hosts"), None, Some("warning")), None),
            ((None, None, None, None), None),
        ];
        for ((deliverable, kind, mode, severity), want) in cases {
            assert_eq!(
                urgency(deliverable, kind, mode, severity),
                want,
                "{deliverable:?} {kind:?} {mode:?} {severity:?}"
            );
        }
    }

    #[test]
    fn mx_parent_keeps_the_registered_domain() {
        assert_eq!(mx_parent("alt1.aspmx.l.gmail.com"), "gmail.com");
        assert_eq!(mx_parent("mx1.mail.example.net"), "example.net");
        assert_eq!(mx_parent("mx.example.co.uk"), "example.co.uk");
        assert_eq!(mx_parent("mx.example.com"), "example.com");
        assert_eq!(mx_parent("mx.abc.com"), "abc.com");
        assert_eq!(mx_parent("example.net"), "example.net");
        assert_eq!(mx_parent("co.uk"), "co.uk");
        assert_eq!(mx_parent("localhost"), "localhost");
        assert_eq!(mx_parent(""), "");
    }

    #[test]
    fn cap_cuts_on_a_char_boundary() {
        let s = "é".repeat(MAX_TEXT);
        let c = cap(&s);
        assert!(c.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(c.ends_with('…'));
    }
}
