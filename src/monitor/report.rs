//! Rendering alerts: the human summary (grouped by severity), JSON lines (one alert per
//! line), the alerts file of a monitoring round, the webhook payload, and the Nagios exit
//! status. Rendering returns strings; only the CLI prints.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::rules::{Alert, Severity};
use super::snapshot::Overlap;

/// Nagios-style status of a set of alerts: 0 OK (none or only info), 1 warning, 2 critical.
/// Status 3 (could not run) is the CLI's, for every `Err`.
pub fn nagios_status(alerts: &[Alert]) -> u8 {
    match alerts.iter().map(|a| a.severity).max() {
        Some(Severity::Critical) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    }
}

/// The human summary: a header line (with the new scan's domain count), a line saying how
/// many domains only one of the scans has when there are any (not for a first round, with no
/// previous scan), then the alerts grouped by severity (critical first), one line each with
/// the domain, the rule, the subject and old → new.
pub fn human(
    alerts: &[Alert],
    old_scan: Option<&str>,
    new_scan: &str,
    overlap: &Overlap,
) -> String {
    let mut s = String::new();
    let count = |sev| alerts.iter().filter(|a| a.severity == sev).count();
    let _ = writeln!(
        s,
        "{} → {new_scan}: {} domains, {} critical, {} warning, {} info",
        old_scan.unwrap_or("(no previous scan)"),
        overlap.new,
        count(Severity::Critical),
        count(Severity::Warning),
        count(Severity::Info),
    );
    if old_scan.is_some() && (overlap.only_old() > 0 || overlap.only_new() > 0) {
        let _ = writeln!(
            s,
            "{} domains in both scans compared; {} only in the new scan (only certificate expiry checked), {} only in the old scan (not compared)",
            overlap.common,
            overlap.only_new(),
            overlap.only_old(),
        );
    }
    for sev in [Severity::Critical, Severity::Warning, Severity::Info] {
        let group: Vec<_> = alerts.iter().filter(|a| a.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{} ({}):", sev.as_str().to_uppercase(), group.len());
        for a in group {
            let subject = a
                .subject
                .as_deref()
                .map(|x| format!(" [{x}]"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {}  {}{subject}: {} → {}",
                a.domain,
                a.code,
                a.old.as_deref().unwrap_or("-"),
                a.new.as_deref().unwrap_or("-"),
            );
            let _ = writeln!(s, "      {}", a.message);
        }
    }
    if alerts.is_empty() {
        s.push_str("no changes that need attention\n");
    }
    s
}

/// One JSON object per alert, newline-terminated.
pub fn jsonl(alerts: &[Alert]) -> anyhow::Result<String> {
    let mut s = String::new();
    for a in alerts {
        s.push_str(&serde_json::to_string(a)?);
        s.push('\n');
    }
    Ok(s)
}

/// The body POSTed to `--webhook`.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookPayload<'a> {
    /// The scan just made.
    pub scan_id: &'a str,
    /// The scan it was compared with (None on the first run).
    pub previous_scan_id: Option<&'a str>,
    /// Nagios status: 0, 1 or 2.
    pub status: u8,
    /// Highest severity, None when there are no alerts.
    pub max_severity: Option<Severity>,
    /// Every alert.
    pub alerts: &'a [Alert],
}

impl<'a> WebhookPayload<'a> {
    /// The payload for `alerts` of `scan_id` against `previous_scan_id`.
    pub fn new(scan_id: &'a str, previous_scan_id: Option<&'a str>, alerts: &'a [Alert]) -> Self {
        WebhookPayload {
            scan_id,
            previous_scan_id,
            status: nagios_status(alerts),
            max_severity: alerts.iter().map(|a| a.severity).max(),
            alerts,
        }
    }
}

/// `DIR/alerts/scan_id=ID.jsonl`.
pub fn alerts_path(dir: &Path, scan_id: &str) -> PathBuf {
    dir.join("alerts").join(format!("scan_id={scan_id}.jsonl"))
}

/// Writes the alerts of `scan_id` atomically (temporary file, fsync, rename) to
/// [`alerts_path`]; an empty file means "compared, nothing to report".
pub fn write_alerts(dir: &Path, scan_id: &str, alerts: &[Alert]) -> anyhow::Result<PathBuf> {
    let path = alerts_path(dir, scan_id);
    let adir = dir.join("alerts");
    fs::create_dir_all(&adir).with_context(|| format!("creating {}", adir.display()))?;
    let tmp = adir.join(format!(".scan_id={scan_id}.jsonl.tmp"));
    let body = jsonl(alerts)?;
    let mut f = fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(body.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
