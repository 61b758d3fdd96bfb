//! `tlsrpt report`: aggregating the report dataset ([`super::store`]) into the figures an
//! operator needs — successful vs failed sessions per day, failures per result type, per
//! sending organization and per MX host, the top failure details — optionally joined with
//! what a scan (`stsscan scan` output, `OUT/domains` and `OUT/mx`) observed for the same
//! domain and MX host; rendered as plain text and as one self-contained HTML page with
//! hand-written inline SVG charts (no scripts, no external resources).
//!
//! Aggregation streams the dataset batch by batch; memory is bounded by the number of
//! distinct groups (failure-detail groups are capped at [`MAX_DETAIL_GROUPS`]). Summary
//! counts repeat on every failure-detail row of a policy, so they are counted once per
//! report × policy (rows whose `detail_index` is null or 0).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::store::{self, ERRORS_TABLE, REPORTS_TABLE};

/// Most distinct failure-detail groups kept; further groups count into `other_details`.
pub const MAX_DETAIL_GROUPS: usize = 100_000;
/// Failure-detail groups listed in the outputs.
pub const TOP_DETAILS: usize = 20;
/// Bars per category chart (the rest are summed into one `(other)` bar).
pub const MAX_BARS: usize = 15;

/// What the report label uses when a failure detail names no MX host.
pub const NO_MX: &str = "(not reported)";

/// One group of failure details.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DetailKey {
    /// `policy-domain`.
    pub policy_domain: String,
    /// `result-type`.
    pub result_type: String,
    /// `receiving-mx-hostname`, lowercase without trailing dot.
    pub mx_host: Option<String>,
    /// `failure-reason-code`.
    pub reason: Option<String>,
}

/// A top failure-detail group with what the scan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopDetail {
    /// The group.
    pub key: DetailKey,
    /// Sum of `failed-session-count`.
    pub failed_sessions: u64,
    /// Scan observations (`table.column`, value), when `--scan` was given.
    pub scan: Vec<(String, String)>,
}

/// The aggregated dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    /// Distinct report ids.
    pub reports: u64,
    /// Rows of the `reports` table.
    pub rows: u64,
    /// Successful and failed sessions per UTC day of `date_start` (`YYYY-MM-DD`).
    pub days: BTreeMap<String, (u64, u64)>,
    /// Failed sessions per result type (from failure details).
    pub by_result_type: BTreeMap<String, u64>,
    /// Successful and failed sessions per sending organization (from summaries).
    pub by_organization: BTreeMap<String, (u64, u64)>,
    /// Failed sessions per receiving MX host (from failure details).
    pub by_mx_host: BTreeMap<String, u64>,
    /// Failed sessions per failure-detail group.
    pub details: HashMap<DetailKey, u64>,
    /// Failed sessions in groups beyond [`MAX_DETAIL_GROUPS`].
    pub other_details: u64,
    /// Rows of the `errors` table per code.
    pub error_codes: BTreeMap<String, u64>,
}

impl Aggregate {
    /// Total successful sessions.
    pub fn successful(&self) -> u64 {
        saturating_sum(self.days.values().map(|d| d.0))
    }

    /// Total failed sessions (from summaries).
    pub fn failed(&self) -> u64 {
        saturating_sum(self.days.values().map(|d| d.1))
    }

    /// The [`TOP_DETAILS`] largest failure-detail groups, largest first (ties by key).
    pub fn top_details(&self) -> Vec<TopDetail> {
        let mut v: Vec<_> = self.details.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .take(TOP_DETAILS)
            .map(|(k, n)| TopDetail {
                key: k.clone(),
                failed_sessions: *n,
                scan: Vec::new(),
            })
            .collect()
    }
}

fn norm_host(h: &str) -> String {
    h.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Reads the dataset at `dir` and aggregates it.
pub fn aggregate(dir: &Path) -> anyhow::Result<Aggregate> {
    let mut agg = Aggregate::default();
    // Each report id with the `ingested_at` of its first copy read: the rows of another copy
    // (the same report stored twice, e.g. by a receiver and an `ingest` of the same mailbox
    // that did not see each other's ids) are skipped, so a report counts once.
    let mut ids: HashMap<String, Option<i64>> = HashMap::new();
    store::for_each_batch(dir, REPORTS_TABLE, &[], |b| {
        let n = b.num_rows();
        let id = store::column_strings(b, "report_id");
        let ingested = store::column_micros(b, "ingested_at");
        let org = store::column_strings(b, "organization_name");
        let start = store::column_micros(b, "date_start");
        let ok = store::column_u64(b, "total_successful_session_count");
        let failed = store::column_u64(b, "total_failure_session_count");
        let di = store::column_u64(b, "detail_index");
        let rt = store::column_strings(b, "result_type");
        let domain = store::column_strings(b, "policy_domain");
        let mx = store::column_strings(b, "receiving_mx_hostname");
        let count = store::column_u64(b, "failed_session_count");
        let reason = store::column_strings(b, "failure_reason_code");
        for i in 0..n {
            if let Some(id) = &id[i] {
                match ids.get(id) {
                    Some(first) if *first != ingested[i] => continue,
                    Some(_) => {}
                    None => {
                        ids.insert(id.clone(), ingested[i]);
                    }
                }
            }
            agg.rows += 1;
            let org = org[i].clone().unwrap_or_default();
            if di[i].is_none_or(|d| d == 0) {
                let day = start[i]
                    .and_then(DateTime::<Utc>::from_timestamp_micros)
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "unknown".to_owned());
                let (s, f) = (ok[i].unwrap_or(0), failed[i].unwrap_or(0));
                let d = agg.days.entry(day).or_default();
                d.0 = d.0.saturating_add(s);
                d.1 = d.1.saturating_add(f);
                let o = agg.by_organization.entry(org).or_default();
                o.0 = o.0.saturating_add(s);
                o.1 = o.1.saturating_add(f);
            }
            let Some(rt) = &rt[i] else { continue };
            let c = count[i].unwrap_or(0);
            let e = agg.by_result_type.entry(rt.clone()).or_default();
            *e = e.saturating_add(c);
            let host = mx[i].as_deref().map(norm_host);
            let e = agg
                .by_mx_host
                .entry(host.clone().unwrap_or_else(|| NO_MX.to_owned()))
                .or_default();
            *e = e.saturating_add(c);
            let key = DetailKey {
                policy_domain: norm_host(domain[i].as_deref().unwrap_or("")),
                result_type: rt.clone(),
                mx_host: host,
                reason: reason[i].clone(),
            };
            if let Some(v) = agg.details.get_mut(&key) {
                *v = v.saturating_add(c);
            } else if agg.details.len() < MAX_DETAIL_GROUPS {
                agg.details.insert(key, c);
            } else {
                agg.other_details = agg.other_details.saturating_add(c);
            }
        }
        Ok(())
    })?;
    agg.reports = ids.len() as u64;
    store::for_each_batch(dir, ERRORS_TABLE, &["code"], |b| {
        for c in store::column_strings(b, "code").into_iter().flatten() {
            *agg.error_codes.entry(c).or_default() += 1;
        }
        Ok(())
    })?;
    Ok(agg)
}

/// Columns of the scan's `domains` table shown next to failures.
const DOMAIN_COLS: [&str; 11] = [
    "sts_txt",
    "policy_fetch",
    "policy_http_status",
    "policy_fetch_detail",
    "policy_cert",
    "policy_cert_not_after",
    "policy_valid",
    "policy_error",
    "policy_mode",
    "tlsrpt",
    "rfc8460_result",
];
/// Columns of the scan's `mx` table shown next to failures.
const MX_COLS: [&str; 7] = [
    "smtp",
    "starttls",
    "mx_cert",
    "chain_verdict",
    "cert_not_after",
    "cert_issuer",
    "rfc8460_result",
];

/// Which scan columns explain a result type: (`domains` columns, `mx` columns).
pub fn scan_columns_for(result_type: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match result_type {
        "starttls-not-supported" => (&[], &["smtp", "starttls", "rfc8460_result"]),
        "certificate-expired" | "certificate-not-trusted" | "certificate-host-mismatch" => (
            &[],
            &[
                "mx_cert",
                "chain_verdict",
                "cert_not_after",
                "cert_issuer",
                "rfc8460_result",
            ],
        ),
        "validation-failure" => (
            &["rfc8460_result"],
            &["smtp", "mx_cert", "cert_not_after", "rfc8460_result"],
        ),
        "sts-policy-fetch-error" => (
            &["policy_fetch", "policy_http_status", "policy_fetch_detail"],
            &[],
        ),
        "sts-policy-invalid" => (&["policy_fetch", "policy_valid", "policy_error"], &[]),
        "sts-webpki-invalid" => (&["policy_cert", "policy_cert_not_after"], &[]),
        _ => (&["sts_txt", "policy_mode", "rfc8460_result"], &[]),
    }
}

type Observed = (i64, HashMap<String, String>);

/// What a scan observed for the domains and MX hosts of interest (the latest scan of each).
#[derive(Debug, Default)]
pub struct ScanLookup {
    domains: HashMap<String, Observed>,
    mx: HashMap<(String, String), Observed>,
}

fn parquet_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 8 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            parquet_files(&p, depth + 1, out);
        } else if name.starts_with("part-") && name.ends_with(".parquet") {
            out.push(p);
        }
    }
}

fn keep_latest<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Observed>,
    key: K,
    at: i64,
    vals: HashMap<String, String>,
) {
    match map.get(&key) {
        Some((t, _)) if *t > at => {}
        _ => {
            map.insert(key, (at, vals));
        }
    }
}

impl ScanLookup {
    /// Reads `scan/domains/**` and `scan/mx/**` complete parts, keeping rows of `domains`.
    pub fn load(scan: &Path, domains: &HashSet<String>) -> anyhow::Result<ScanLookup> {
        let mut out = ScanLookup::default();
        let mut files = Vec::new();
        parquet_files(&scan.join("domains"), 0, &mut files);
        let mut cols: Vec<&str> = vec!["domain", "scanned_at"];
        cols.extend(DOMAIN_COLS);
        for f in &files {
            store::read_parquet(f, &cols, &mut |b| {
                let d = store::column_strings(b, "domain");
                let at = store::column_micros(b, "scanned_at");
                let vals: Vec<_> = DOMAIN_COLS
                    .iter()
                    .map(|c| store::column_strings(b, c))
                    .collect();
                for i in 0..b.num_rows() {
                    let Some(dom) = &d[i] else { continue };
                    if !domains.contains(dom) {
                        continue;
                    }
                    let m = DOMAIN_COLS
                        .iter()
                        .zip(&vals)
                        .filter_map(|(c, v)| v[i].clone().map(|v| ((*c).to_owned(), v)))
                        .collect();
                    keep_latest(&mut out.domains, dom.clone(), at[i].unwrap_or(0), m);
                }
                Ok(())
            })?;
        }
        files.clear();
        parquet_files(&scan.join("mx"), 0, &mut files);
        let mut cols: Vec<&str> = vec!["domain", "mx_host", "scanned_at"];
        cols.extend(MX_COLS);
        for f in &files {
            store::read_parquet(f, &cols, &mut |b| {
                let d = store::column_strings(b, "domain");
                let h = store::column_strings(b, "mx_host");
                let at = store::column_micros(b, "scanned_at");
                let vals: Vec<_> = MX_COLS
                    .iter()
                    .map(|c| store::column_strings(b, c))
                    .collect();
                for i in 0..b.num_rows() {
                    let (Some(dom), Some(host)) = (&d[i], &h[i]) else {
                        continue;
                    };
                    if !domains.contains(dom) {
                        continue;
                    }
                    let m = MX_COLS
                        .iter()
                        .zip(&vals)
                        .filter_map(|(c, v)| v[i].clone().map(|v| ((*c).to_owned(), v)))
                        .collect();
                    let key = (dom.clone(), norm_host(host));
                    keep_latest(&mut out.mx, key, at[i].unwrap_or(0), m);
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// What the scan saw that bears on one failure group, as (`table.column`, value) pairs.
    /// Absent rows are said so (`domains` = `not in scan`, `mx` = `not in scan`).
    pub fn explain(&self, key: &DetailKey) -> Vec<(String, String)> {
        let (dcols, mcols) = scan_columns_for(&key.result_type);
        let mut out = Vec::new();
        if !dcols.is_empty() {
            match self.domains.get(&key.policy_domain) {
                Some((_, m)) => {
                    for c in dcols {
                        let v = m.get(*c).cloned().unwrap_or_else(|| "null".to_owned());
                        out.push((format!("domains.{c}"), v));
                    }
                }
                None => out.push(("domains".to_owned(), "not in scan".to_owned())),
            }
        }
        if !mcols.is_empty() {
            let hit = key
                .mx_host
                .as_ref()
                .and_then(|h| self.mx.get(&(key.policy_domain.clone(), h.clone())));
            match hit {
                Some((_, m)) => {
                    for c in mcols {
                        let v = m.get(*c).cloned().unwrap_or_else(|| "null".to_owned());
                        out.push((format!("mx.{c}"), v));
                    }
                }
                None => out.push(("mx".to_owned(), "not in scan".to_owned())),
            }
        }
        out
    }
}

/// The top failure details, joined with the scan at `scan` when given.
pub fn top_details(agg: &Aggregate, scan: Option<&Path>) -> anyhow::Result<Vec<TopDetail>> {
    let mut top = agg.top_details();
    if let Some(scan) = scan {
        let domains: HashSet<String> = top.iter().map(|t| t.key.policy_domain.clone()).collect();
        let lookup = ScanLookup::load(scan, &domains)?;
        for t in &mut top {
            t.scan = lookup.explain(&t.key);
        }
    }
    Ok(top)
}

fn sorted_desc<V: Copy>(m: &BTreeMap<String, V>, val: impl Fn(V) -> u64) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = m.iter().map(|(k, x)| (k.clone(), val(*x))).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// A sum of session counts that stops at `u64::MAX` (reports are untrusted: a reporter may
/// claim any count) instead of overflowing.
fn saturating_sum(v: impl Iterator<Item = u64>) -> u64 {
    v.fold(0, u64::saturating_add)
}

fn limit_bars(mut v: Vec<(String, u64)>) -> Vec<(String, u64)> {
    if v.len() > MAX_BARS {
        let rest = saturating_sum(v[MAX_BARS - 1..].iter().map(|x| x.1));
        v.truncate(MAX_BARS - 1);
        v.push(("(other)".to_owned(), rest));
    }
    v
}

/// The report as plain text.
pub fn render_text(agg: &Aggregate, top: &[TopDetail]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "TLS-RPT reports: {} reports, {} rows",
        agg.reports, agg.rows
    );
    let _ = writeln!(
        s,
        "sessions: {} successful, {} failed",
        agg.successful(),
        agg.failed()
    );
    let _ = writeln!(s, "\nsessions per day (successful / failed):");
    for (d, (ok, f)) in &agg.days {
        let _ = writeln!(s, "  {d}  {ok:>12}  {f:>10}");
    }
    let sections: [(&str, Vec<(String, u64)>); 3] = [
        (
            "failed sessions per result type",
            sorted_desc(&agg.by_result_type, |x| x),
        ),
        (
            "failed sessions per sending organization",
            sorted_desc(&agg.by_organization, |x: (u64, u64)| x.1),
        ),
        (
            "failed sessions per MX host",
            sorted_desc(&agg.by_mx_host, |x| x),
        ),
    ];
    for (title, rows) in sections {
        let _ = writeln!(s, "\n{title}:");
        for (k, v) in rows {
            let _ = writeln!(s, "  {v:>10}  {k}");
        }
    }
    let _ = writeln!(s, "\ntop failure details:");
    for t in top {
        let _ = writeln!(
            s,
            "  {:>10}  {}  {}  mx={}  reason={}",
            t.failed_sessions,
            t.key.policy_domain,
            t.key.result_type,
            t.key.mx_host.as_deref().unwrap_or(NO_MX),
            t.key.reason.as_deref().unwrap_or("-"),
        );
        for (k, v) in &t.scan {
            let _ = writeln!(s, "              scan: {k} = {v}");
        }
    }
    if !agg.error_codes.is_empty() {
        let _ = writeln!(s, "\nrejected inputs per code:");
        for (k, v) in &agg.error_codes {
            let _ = writeln!(s, "  {v:>10}  {k}");
        }
    }
    s
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// A horizontal bar chart; each bar carries `data-label` and `data-value`.
pub fn svg_bars(id: &str, rows: &[(String, u64)]) -> String {
    let rows = limit_bars(rows.to_vec());
    let bar_h = 22u64;
    let h = 10 + bar_h * rows.len().max(1) as u64;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let mut s = format!(
        r#"<svg id="{}" xmlns="http://www.w3.org/2000/svg" width="760" height="{h}" role="img">"#,
        esc(id)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 5 + bar_h * i as u64;
        let w = (460.0 * (*v as f64) / (max as f64)).round().max(1.0);
        let label_short: String = label.chars().take(40).collect();
        let _ = write!(
            s,
            r##"<g data-label="{l}" data-value="{v}"><title>{l}: {v}</title><text x="0" y="{ty}" font-size="12">{ls}</text><rect x="250" y="{y}" width="{w}" height="16" fill="#c0392b"/><text x="{tx}" y="{ty}" font-size="12">{v}</text></g>"##,
            l = esc(label),
            ls = esc(&label_short),
            ty = y + 13,
            tx = 255.0 + w,
        );
    }
    s.push_str("</svg>");
    s
}

/// Successful and failed sessions per day: two panels (each with its own scale, failures
/// being orders of magnitude rarer); each day carries `data-day`, `data-ok`, `data-failed`.
pub fn svg_days(days: &BTreeMap<String, (u64, u64)>) -> String {
    let n = days.len().max(1) as f64;
    let (w, panel) = (760.0, 110.0);
    let slot = (w - 60.0) / n;
    let bw = (slot * 0.8).max(1.0);
    let max_ok = days.values().map(|d| d.0).max().unwrap_or(0).max(1) as f64;
    let max_f = days.values().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
    let mut s = String::from(
        r#"<svg id="sessions-per-day" xmlns="http://www.w3.org/2000/svg" width="760" height="270" role="img">"#,
    );
    s.push_str(r#"<text x="0" y="12" font-size="12">successful sessions</text>"#);
    s.push_str(r#"<text x="0" y="142" font-size="12">failed sessions</text>"#);
    for (i, (day, (ok, f))) in days.iter().enumerate() {
        let x = 60.0 + slot * i as f64;
        let ho = panel * (*ok as f64) / max_ok;
        let hf = panel * (*f as f64) / max_f;
        let _ = write!(
            s,
            r##"<g data-day="{d}" data-ok="{ok}" data-failed="{f}"><title>{d}: {ok} successful, {f} failed</title><rect x="{x:.1}" y="{yo:.1}" width="{bw:.1}" height="{ho:.1}" fill="#27ae60"/><rect x="{x:.1}" y="{yf:.1}" width="{bw:.1}" height="{hf:.1}" fill="#c0392b"/></g>"##,
            d = esc(day),
            yo = 20.0 + panel - ho,
            yf = 150.0 + panel - hf,
        );
    }
    if let (Some(first), Some(last)) = (days.keys().next(), days.keys().last()) {
        let _ = write!(
            s,
            r#"<text x="60" y="268" font-size="11">{}</text><text x="700" y="268" font-size="11" text-anchor="end">{}</text>"#,
            esc(first),
            esc(last)
        );
    }
    s.push_str("</svg>");
    s
}

/// The report as one self-contained HTML page.
pub fn render_html(agg: &Aggregate, top: &[TopDetail]) -> String {
    let mut h = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>TLS-RPT report</title>\
         <style>body{font-family:sans-serif;max-width:60em;margin:1em auto}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}td.n{text-align:right}</style></head><body>\n",
    );
    let _ = writeln!(h, "<h1>TLS-RPT report</h1>");
    let _ = writeln!(
        h,
        "<p id=\"totals\" data-reports=\"{}\" data-successful=\"{}\" data-failed=\"{}\">{} reports; {} successful and {} failed sessions.</p>",
        agg.reports,
        agg.successful(),
        agg.failed(),
        agg.reports,
        agg.successful(),
        agg.failed()
    );
    let _ = writeln!(h, "<h2>Sessions per day</h2>\n{}", svg_days(&agg.days));
    let _ = writeln!(
        h,
        "<h2>Failed sessions per result type</h2>\n{}",
        svg_bars("by-result-type", &sorted_desc(&agg.by_result_type, |x| x))
    );
    let _ = writeln!(
        h,
        "<h2>Failed sessions per sending organization</h2>\n{}",
        svg_bars(
            "by-organization",
            &sorted_desc(&agg.by_organization, |x: (u64, u64)| x.1)
        )
    );
    let _ = writeln!(
        h,
        "<h2>Failed sessions per MX host</h2>\n{}",
        svg_bars("by-mx-host", &sorted_desc(&agg.by_mx_host, |x| x))
    );
    let _ = writeln!(
        h,
        "<h2>Top failure details</h2>\n<table id=\"top-details\"><tr><th>failed sessions</th><th>policy domain</th><th>result type</th><th>MX host</th><th>reason</th><th>scan observed</th></tr>"
    );
    for t in top {
        let scan: Vec<String> = t
            .scan
            .iter()
            .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
            .collect();
        let _ = writeln!(
            h,
            "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.failed_sessions,
            esc(&t.key.policy_domain),
            esc(&t.key.result_type),
            esc(t.key.mx_host.as_deref().unwrap_or(NO_MX)),
            esc(t.key.reason.as_deref().unwrap_or("")),
            scan.join("<br>")
        );
    }
    h.push_str("</table>\n");
    if !agg.error_codes.is_empty() {
        h.push_str("<h2>Rejected inputs</h2>\n<table id=\"errors\"><tr><th>code</th><th>inputs</th></tr>\n");
        for (k, v) in &agg.error_codes {
            let _ = writeln!(h, "<tr><td>{}</td><td class=\"n\">{v}</td></tr>", esc(k));
        }
        h.push_str("</table>\n");
    }
    h.push_str("</body></html>\n");
    h
}
