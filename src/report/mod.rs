//! `stsscan report DIR`: a self-contained HTML page about one scan (the latest complete one,
//! or `--scan-id`) or, with `--history`, about every scan in the dataset.
//!
//! Owns: choosing the scan from the manifests, the page's sections (headline figures,
//! misconfiguration breakdown by severity, STARTTLS and certificates per MX row, MX provider
//! concentration, domains needing action with reason and fix) and its inline SVG charts.
//! A figure that the scan's scope did not measure (`--fetch-policy never`, `--probe none`, as
//! the manifest's configuration records) reads "not measured", never 0. The fixes come from
//! [`crate::cli::check::explain`], so the page and `stsscan check` use the same words. Reading is streaming with column projection ([`aggregate`]); the history
//! uses only the manifests' counts. The page has no script and loads nothing; every value
//! from the scan is HTML-escaped ([`html::esc`]). This module never scans and never writes
//! anything but the page.

pub mod aggregate;
pub mod html;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::check::{Mark, explain};
use crate::output::manifest::{Manifest, ScanStatus};
use crate::output::writer::OutputError;
use aggregate::{Summary, Urgency, summarize};
use html::{Series, bar_chart, esc, line_chart, page_end, page_start, pct, table};

/// What to report on.
#[derive(Debug, Clone)]
pub struct Options {
    /// The dataset root (`OUT` of `stsscan scan`).
    pub dir: PathBuf,
    /// The scan to show; `None` means the latest complete scan.
    pub scan_id: Option<String>,
    /// Add adoption and breakage over every scan of the dataset.
    pub history: bool,
    /// Domains needing action listed at most.
    pub top: usize,
}

/// Every manifest under `DIR/manifest/`, oldest first. Unreadable manifests are an error.
pub fn manifests(dir: &Path) -> Result<Vec<Manifest>, OutputError> {
    let mdir = dir.join("manifest");
    let entries = std::fs::read_dir(&mdir).map_err(|e| OutputError::io(&mdir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| OutputError::io(&mdir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("scan_id=") && name.ends_with(".json") {
            out.push(Manifest::load_file(&entry.path())?);
        }
    }
    out.sort_by(|a, b| (a.started_at, &a.scan_id).cmp(&(b.started_at, &b.scan_id)));
    Ok(out)
}

/// The manifest of the scan to show: `scan_id` if given, else the latest complete scan.
pub fn select(dir: &Path, scan_id: Option<&str>) -> Result<Manifest, OutputError> {
    if let Some(id) = scan_id {
        crate::output::writer::validate_scan_id(id)?;
        return Manifest::load(dir, id);
    }
    manifests(dir)?
        .into_iter()
        .rev()
        .find(|m| m.status == ScanStatus::Complete)
        .ok_or_else(|| {
            OutputError::Invalid(format!(
                "{}: no complete scan (use --scan-id)",
                dir.display()
            ))
        })
}

/// Renders the page.
pub fn render(opts: &Options) -> Result<String, OutputError> {
    let m = select(&opts.dir, opts.scan_id.as_deref())?;
    let s = summarize(&opts.dir, &m.scan_id, opts.top)?;
    let mut out = String::new();
    page_start(&mut out, &format!("stsscan report: scan {}", m.scan_id));
    let _ = writeln!(
        out,
        "<h1>MTA-STS, TLS-RPT and STARTTLS: scan {}</h1>\n<p>Status <b>{}</b>, started {}, \
         finished {}, stsscan {}, schema {}.</p>",
        esc(&m.scan_id),
        m.status.as_str(),
        m.started_at.to_rfc3339(),
        m.finished_at
            .map_or_else(|| "-".to_string(), |t| t.to_rfc3339()),
        esc(&m.tool_version),
        m.schema_version
    );
    if opts.history {
        history(&mut out, &manifests(&opts.dir)?);
    }
    headline(&mut out, &s, Scope::of(&m));
    breakdown(&mut out, &s);
    mx_section(&mut out, &s);
    action(&mut out, &s, opts.top);
    page_end(&mut out);
    Ok(out)
}

/// Renders the page and writes it to `out` (atomically: temporary file, then rename).
pub fn write(opts: &Options, out: &Path) -> Result<(), OutputError> {
    let page = render(opts)?;
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, page).map_err(|e| OutputError::io(&tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| OutputError::io(out, e))
}

fn count(s: &Summary, col: &str, v: &str) -> u64 {
    s.domains
        .get(col)
        .and_then(|m| m.get(v))
        .copied()
        .unwrap_or(0)
}

/// What a scan measured, from its manifest's configuration: a scan with `--fetch-policy never`
/// fetched no policy and one with `--probe none` probed no MX, so the figures that need them
/// are "not measured", not zero (docs/schema.md, "Narrower scan scopes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Scope {
    fetched: bool,
    probed: bool,
}

impl Scope {
    fn of(m: &Manifest) -> Self {
        let flag = |k: &str| m.config.get(k).and_then(serde_json::Value::as_str);
        Scope {
            fetched: flag("fetch_policy") != Some("never"),
            probed: flag("probe") != Some("none"),
        }
    }

    /// Whether the policy figures (usable policy, modes) were measured: they need a fetch.
    fn policies(self) -> bool {
        self.fetched
    }

    /// Whether deliverability ("enforce would not deliver", the policies losing mail) was
    /// measured: it needs a fetch and a probe.
    fn deliverability(self) -> bool {
        self.fetched && self.probed
    }

    /// Why figures are missing, as the flags that left them out; `None` for a full scan.
    fn missing(self) -> Option<String> {
        let flags: Vec<&str> = [
            (!self.fetched).then_some("--fetch-policy never"),
            (!self.probed).then_some("--probe none"),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!flags.is_empty()).then(|| flags.join(" and "))
    }
}

/// The cells of a headline figure: its count and share, or "not measured" when the scan's
/// scope left it out.
fn figure(name: &str, n: u64, of: u64, measured: bool) -> Vec<String> {
    if measured {
        vec![name.into(), n.to_string(), pct(n, of)]
    } else {
        vec![name.into(), "not measured".into(), String::new()]
    }
}

fn headline(out: &mut String, s: &Summary, scope: Scope) {
    let ok = count(s, "input_status", "ok");
    let with_mx: u64 = ["hosts", "mixed-null", "implicit"]
        .iter()
        .map(|k| count(s, "mx_kind", k))
        .sum();
    let sts_txt = count(s, "sts_txt", "valid");
    let usable = count(s, "policy_usable", "true");
    let tlsrpt = count(s, "tlsrpt", "valid");
    // Of those, the ones whose policy loses mail now (`undeliverable_loses_mail`: mode
    // enforce, or no MX and no address): the report's first group of domains needing action.
    let losing = s.needing_action(Urgency::EnforceUndeliverable);
    let rows = vec![
        vec!["input lines".into(), s.rows.to_string(), String::new()],
        figure("domains scanned", ok, ok, true),
        figure("with MX", with_mx, ok, true),
        figure("null MX (RFC 7505)", count(s, "mx_kind", "null"), ok, true),
        figure("valid MTA-STS TXT", sts_txt, ok, true),
        figure("usable MTA-STS policy", usable, ok, scope.policies()),
        figure(
            "mode enforce",
            count(s, "policy_mode", "enforce"),
            ok,
            scope.policies(),
        ),
        figure(
            "mode testing",
            count(s, "policy_mode", "testing"),
            ok,
            scope.policies(),
        ),
        figure(
            "mode none",
            count(s, "policy_mode", "none"),
            ok,
            scope.policies(),
        ),
        figure("valid TLS-RPT", tlsrpt, ok, true),
        figure(
            "enforce would not deliver",
            count(s, "enforce_deliverable", "false"),
            ok,
            scope.deliverability(),
        ),
        figure(
            "… and the policy loses mail now",
            losing,
            ok,
            scope.deliverability(),
        ),
    ];
    out.push_str("<h2 id=\"headline\">Headline figures</h2>\n");
    if let Some(flags) = scope.missing() {
        let _ = writeln!(
            out,
            "<p>This scan ran with <code>{}</code>: the figures that need a policy fetch or a \
             STARTTLS probe were not measured.</p>",
            esc(&flags)
        );
    }
    table(out, &["figure", "domains", "% of scanned"], &rows);
    // Only measured figures are charted.
    let bars: Vec<(String, u64)> = rows[2..]
        .iter()
        .filter_map(|r| Some((r[0].clone(), r[1].parse().ok()?)))
        .collect();
    bar_chart(out, "Domains", &bars);
}

fn breakdown(out: &mut String, s: &Summary) {
    let ok = count(s, "input_status", "ok");
    out.push_str("<h2 id=\"findings\">Misconfiguration breakdown</h2>\n");
    for sev in ["error", "warning", "info"] {
        let mut rows: Vec<(&str, u64)> = s
            .findings
            .iter()
            .filter(|((sv, _), _)| sv == sev)
            .map(|((_, code), n)| (code.as_str(), *n))
            .collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(out, "<h3 class=\"{sev}\">Severity {sev}</h3>");
        if rows.is_empty() {
            out.push_str("<p>None.</p>\n");
            continue;
        }
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|(c, n)| vec![(*c).to_string(), n.to_string(), pct(*n, ok)])
            .collect();
        table(
            out,
            &["finding code", "domains", "% of scanned"],
            &table_rows,
        );
    }
    let mut results: Vec<(&String, u64)> = s
        .domains
        .get("rfc8460_result")
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "null")
        .map(|(k, n)| (k, *n))
        .collect();
    results.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let results: Vec<Vec<String>> = results
        .into_iter()
        .map(|(k, n)| vec![k.clone(), n.to_string(), pct(n, ok)])
        .collect();
    out.push_str("<h3>RFC 8460 result types (why a sender would fail)</h3>\n");
    table(out, &["result type", "domains", "% of scanned"], &results);
}

fn vocab_rows(s: &Summary, col: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> =
        s.mx.get(col)
            .into_iter()
            .flatten()
            .map(|(k, n)| (k.clone(), *n))
            .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn mx_section(out: &mut String, s: &Summary) {
    let _ = writeln!(
        out,
        "<h2 id=\"mx\">STARTTLS and certificates per MX</h2>\n<p>{} rows of the <code>mx</code> \
         table (one per domain × MX host × address; null = not probed).</p>",
        s.mx_rows
    );
    for (col, title) in [
        ("smtp", "SMTP / STARTTLS outcome"),
        ("mx_cert", "Certificate for the MX name"),
        ("tls_version", "TLS version"),
    ] {
        let rows = vocab_rows(s, col);
        let t: Vec<Vec<String>> = rows
            .iter()
            .map(|(k, n)| vec![k.clone(), n.to_string(), pct(*n, s.mx_rows)])
            .collect();
        let _ = writeln!(out, "<h3>{}</h3>", esc(title));
        table(out, &[col, "MX rows", "%"], &t);
        bar_chart(out, title, &rows);
    }
    out.push_str("<h2 id=\"providers\">MX provider concentration</h2>\n");
    for (counter, what) in [
        (&s.mx_hosts, "MX host"),
        (&s.mx_domains, "MX operator domain"),
    ] {
        let top = counter.top(20);
        let rows: Vec<Vec<String>> = top
            .iter()
            .map(|(k, n)| vec![k.clone(), n.to_string(), pct(*n, counter.total())])
            .collect();
        let _ = writeln!(
            out,
            "<h3>Top {what}s by domains</h3>\n<p>{} (domain, {what}) pairs{}.</p>",
            counter.total(),
            if counter.max_error() > 0 {
                format!(
                    "; counts may be up to {} low (bounded-memory counting)",
                    counter.max_error()
                )
            } else {
                String::new()
            }
        );
        table(out, &[what, "domains", "% of pairs"], &rows);
        bar_chart(out, &format!("Top {what}s"), &top);
    }
}

fn action(out: &mut String, s: &Summary, top: usize) {
    let total: u64 = s.action_total.values().sum();
    let _ = writeln!(
        out,
        "<h2 id=\"action\">Domains needing action</h2>\n<p>{} domains: {} whose policy loses \
         mail now (senders enforcing it cannot deliver), {} with errors. Listed: the first {} \
         (enforce-undeliverable first, then errors, in input order). An undeliverable policy \
         in mode testing or none, or beside a null MX, loses no mail yet and is listed only \
         for an error.</p>",
        total,
        s.needing_action(Urgency::EnforceUndeliverable),
        s.needing_action(Urgency::Error),
        top.min(s.action.len())
    );
    out.push_str(
        "<table>\n<thead><tr><th>domain</th><th>urgency</th><th>reason</th><th>fix</th></tr>\
         </thead>\n<tbody>\n",
    );
    for a in &s.action {
        let r = &a.row;
        let mut reason = String::new();
        if let Some(res) = &r.rfc8460_result {
            let _ = write!(reason, "<div><code>{}</code></div>", esc(res));
        }
        for f in &r.findings {
            let _ = write!(
                reason,
                "<div class=\"{cls}\">[{sev}] <code>{code}</code>: {msg}</div>",
                cls = if f.severity == "error" {
                    "error"
                } else {
                    "warning"
                },
                sev = esc(&f.severity),
                code = esc(&f.code),
                msg = esc(&f.message)
            );
        }
        let mut fixes: Vec<String> = Vec::new();
        for c in explain(r, &a.mx) {
            if c.mark == Mark::Fail || c.mark == Mark::Warn {
                if let Some(fix) = c.fix {
                    let line = format!("<b>{}</b>: {}", esc(&c.requirement), esc(&fix));
                    if !fixes.contains(&line) {
                        fixes.push(line);
                    }
                }
            }
        }
        let fix: String = fixes.iter().map(|f| format!("<div>{f}</div>")).collect();
        let _ = writeln!(
            out,
            "<tr class=\"action\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.domain.as_deref().unwrap_or("?")),
            a.urgency.as_str(),
            reason,
            fix
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn history(out: &mut String, ms: &[Manifest]) {
    let complete: Vec<&Manifest> = ms
        .iter()
        .filter(|m| m.status == ScanStatus::Complete)
        .collect();
    let labels: Vec<String> = complete
        .iter()
        .map(|m| m.started_at.format("%Y-%m-%d %H:%M").to_string())
        .collect();
    let get = |m: &Manifest, col: &str, v: &str| {
        m.counts
            .statuses
            .get(col)
            .and_then(|x| x.get(v))
            .copied()
            .unwrap_or(0)
    };
    // (name, column, value, whether a scan of that scope measured it)
    type Measured = fn(Scope) -> bool;
    let metrics: [(&str, &str, &str, Measured); 4] = [
        ("valid MTA-STS TXT", "domains.sts_txt", "valid", |_| true),
        (
            "usable policy",
            "domains.policy_usable",
            "true",
            Scope::policies,
        ),
        ("valid TLS-RPT", "domains.tlsrpt", "valid", |_| true),
        (
            "enforce would not deliver",
            "domains.enforce_deliverable",
            "false",
            Scope::deliverability,
        ),
    ];
    let scopes: Vec<Scope> = complete.iter().map(|m| Scope::of(m)).collect();
    // A figure the scan did not measure is a gap in the chart (NaN is not drawn).
    let series: Vec<Series> = metrics
        .iter()
        .map(|(name, col, v, measured)| Series {
            name: (*name).to_string(),
            values: complete
                .iter()
                .zip(&scopes)
                .map(|(m, scope)| {
                    if !measured(*scope) {
                        return f64::NAN;
                    }
                    let ok = get(m, "domains.input_status", "ok");
                    pct(get(m, col, v), ok).parse().unwrap_or(0.0)
                })
                .collect(),
        })
        .collect();
    let _ = writeln!(
        out,
        "<h2 id=\"history\">History</h2>\n<p>{} complete scans of {} in the dataset.</p>",
        complete.len(),
        ms.len()
    );
    line_chart(
        out,
        "Adoption and breakage (% of scanned domains)",
        &labels,
        &series,
        "%",
    );
    let rows: Vec<Vec<String>> = complete
        .iter()
        .zip(&scopes)
        .map(|(m, scope)| {
            let mut r = vec![
                m.scan_id.clone(),
                m.started_at.to_rfc3339(),
                get(m, "domains.input_status", "ok").to_string(),
            ];
            r.extend(metrics.iter().map(|(_, col, v, measured)| {
                if measured(*scope) {
                    get(m, col, v).to_string()
                } else {
                    "not measured".to_owned()
                }
            }));
            r
        })
        .collect();
    let mut head = vec!["scan", "started", "domains"];
    head.extend(metrics.iter().map(|m| m.0));
    table(out, &head, &rows);
}
