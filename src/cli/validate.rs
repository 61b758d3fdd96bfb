//! `stsscan validate`: lint MTA-STS policies, `_mta-sts` and `_smtp._tls` TXT records, TLS-RPT
//! reports, MX patterns and domain names without touching the network.
//!
//! Owns the argument parsing of the subcommand, reading its (size-capped) inputs, and the two
//! output formats: human (a verdict line, each error and finding with line:column and a caret,
//! then the parsed fields) and JSON (one object; documented in `docs/validate.md`). It must not
//! contain grammar logic: every verdict comes from [`crate::records`].
//!
//! Exit codes: 0 valid (or, for `mx-match`, the host matches), 1 invalid (no match), 2 usage or
//! I/O error.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use crate::records::diag::{Finding, ParseError, Severity, position, render_caret};
use crate::records::mx::MxPattern;
use crate::records::{domain, policy, sts_txt, tlsrpt_report, tlsrpt_txt};

/// Largest file `validate` reads (policy files and reports); larger inputs are cut here and
/// the parsers report them as too large.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024 + 1;

/// Arguments of `stsscan validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    pub format: Format,
    /// What to validate.
    #[command(subcommand)]
    pub what: What,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A verdict line, diagnostics with carets, then the parsed fields.
    Human,
    /// One JSON object (see docs/validate.md).
    Json,
}

/// The things `validate` can check.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// An MTA-STS policy file (RFC 8461 §3.2); `-` reads standard input.
    Policy {
        /// The policy file, or `-`.
        file: PathBuf,
    },
    /// `_mta-sts` TXT records (RFC 8461 §3.1); several are judged as one RRset.
    StsTxt {
        /// One record per argument (the TXT strings already joined).
        #[arg(required = true)]
        records: Vec<String>,
    },
    /// `_smtp._tls` TLS-RPT TXT records (RFC 8460 §3); several are judged as one RRset.
    TlsrptTxt {
        /// One record per argument (the TXT strings already joined).
        #[arg(required = true)]
        records: Vec<String>,
    },
    /// A TLS-RPT JSON report (RFC 8460 §4), plain or gzip-compressed; `-` reads standard input.
    TlsrptReport {
        /// The report file, or `-`.
        file: PathBuf,
    },
    /// Whether an MX host matches MTA-STS `mx` patterns (RFC 8461 §4.1).
    MxMatch {
        /// An `mx` pattern such as `*.example.com` (repeatable).
        #[arg(long = "pattern", required = true)]
        patterns: Vec<String>,
        /// The MX host name.
        host: String,
    },
    /// A domain name (IDNA UTS-46 to A-labels, LDH, lengths).
    Domain {
        /// The name.
        name: String,
    },
}

/// One diagnostic with the input it points into.
struct Diag {
    code: &'static str,
    severity: Option<Severity>,
    message: String,
    span: Option<crate::records::diag::Span>,
    /// Index into [`Report::inputs`].
    input: usize,
}

/// What a subcommand found, before formatting.
struct Report {
    what: &'static str,
    /// `valid`, or `matches` for mx-match.
    verdict_key: &'static str,
    verdict: bool,
    inputs: Vec<String>,
    errors: Vec<Diag>,
    findings: Vec<Diag>,
    parsed: Value,
    /// Extra top-level JSON members.
    extra: Vec<(&'static str, Value)>,
}

impl Report {
    fn new(what: &'static str, inputs: Vec<String>) -> Self {
        Report {
            what,
            verdict_key: "valid",
            verdict: false,
            inputs,
            errors: Vec::new(),
            findings: Vec::new(),
            parsed: Value::Null,
            extra: Vec::new(),
        }
    }

    fn error(&mut self, e: &ParseError, input: usize) {
        self.errors.push(Diag {
            code: e.code,
            severity: None,
            message: e.message.clone(),
            span: Some(e.span),
            input,
        });
    }

    fn finding(&mut self, f: &Finding, input: usize) {
        self.findings.push(Diag {
            code: f.code,
            severity: Some(f.severity),
            message: f.message.clone(),
            span: f.span,
            input,
        });
    }

    /// Valid: no errors and no error-severity findings.
    fn conforming(&self) -> bool {
        self.errors.is_empty()
            && !self
                .findings
                .iter()
                .any(|f| f.severity == Some(Severity::Error))
    }
}

/// Runs `stsscan validate`.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let report = match &args.what {
        What::Policy { file } => check_policy(&read_input(file, MAX_FILE_BYTES)?),
        What::StsTxt { records } => check_sts_txt(records),
        What::TlsrptTxt { records } => check_tlsrpt_txt(records),
        What::TlsrptReport { file } => check_report(&read_input(file, MAX_FILE_BYTES)?),
        What::MxMatch { patterns, host } => check_mx_match(patterns, host),
        What::Domain { name } => check_domain(name),
    };
    match args.format {
        Format::Human => outln!("{}", human(&report)),
        Format::Json => outln!("{}", to_json(&report)),
    }
    Ok(if report.verdict {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads at most `cap` bytes of `path`, or of standard input for `-` (shared with `check
/// --policy`).
pub(super) fn read_input(path: &Path, cap: u64) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut buf)
            .context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {}", path.display()))?
            .take(cap)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(buf)
}

fn check_policy(body: &[u8]) -> Report {
    let mut r = Report::new("policy", vec![String::from_utf8_lossy(body).into_owned()]);
    let p = policy::parse(body);
    for e in &p.errors {
        r.error(e, 0);
    }
    for f in &p.findings {
        r.finding(f, 0);
    }
    r.extra
        .push(("line_endings", json!(p.line_endings.as_str())));
    if let Some(pol) = &p.policy {
        r.parsed = json!({
            "version": pol.version.as_str(),
            "mode": pol.mode.as_str(),
            "max_age": pol.max_age,
            "mx": pol.mx.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "extensions": pol.extensions,
        });
    }
    r.verdict = p.policy.is_some() && r.conforming();
    r
}

fn rrset_of(records: &[String]) -> Vec<Vec<Vec<u8>>> {
    records
        .iter()
        .map(|s| vec![s.as_bytes().to_vec()])
        .collect()
}

fn check_sts_txt(records: &[String]) -> Report {
    let mut r = Report::new("sts-txt", records.to_vec());
    if let [one] = records {
        match sts_txt::parse_record(one.as_bytes()) {
            Ok(p) => {
                p.findings.iter().for_each(|f| r.finding(f, 0));
                r.parsed = json!(p.record);
            }
            Err(e) => r.error(&e, 0),
        }
    } else {
        let set = sts_txt::evaluate_rrset(&rrset_of(records));
        let kept = records
            .iter()
            .position(|s| sts_txt::begins_with_version(s.as_bytes()))
            .unwrap_or(0);
        set.findings.iter().for_each(|f| r.finding(f, kept));
        match &set.outcome {
            sts_txt::StsOutcome::Valid(rec) => r.parsed = json!(rec),
            sts_txt::StsOutcome::Invalid(e) => {
                r.findings.retain(|f| f.code != "sts-txt-invalid-record");
                r.error(e, kept);
            }
            _ => {}
        }
        r.extra.push(("discarded", json!(set.discarded)));
    }
    let outcome = sts_txt::evaluate_rrset(&rrset_of(records)).outcome;
    r.extra.push(("outcome", json!(outcome.kind())));
    r.verdict = matches!(outcome, sts_txt::StsOutcome::Valid(_)) && r.conforming();
    r
}

fn check_tlsrpt_txt(records: &[String]) -> Report {
    let mut r = Report::new("tlsrpt-txt", records.to_vec());
    if let [one] = records {
        match tlsrpt_txt::parse_record(one.as_bytes()) {
            Ok(p) => {
                p.findings.iter().for_each(|f| r.finding(f, 0));
                r.parsed = json!(p.record);
            }
            Err(e) => r.error(&e, 0),
        }
    } else {
        let set = tlsrpt_txt::evaluate_rrset(&rrset_of(records));
        let kept = records
            .iter()
            .position(|s| tlsrpt_txt::begins_with_version(s.as_bytes()))
            .unwrap_or(0);
        set.findings.iter().for_each(|f| r.finding(f, kept));
        match &set.outcome {
            tlsrpt_txt::TlsRptOutcome::Valid(rec) => r.parsed = json!(rec),
            tlsrpt_txt::TlsRptOutcome::Invalid(e) => {
                r.findings.retain(|f| f.code != "tlsrpt-txt-invalid-record");
                // an unsupported URI is already there as its own error finding
                if !set
                    .findings
                    .iter()
                    .any(|f| f.code == e.code && f.span == Some(e.span))
                {
                    r.error(e, kept);
                }
            }
            _ => {}
        }
        r.extra.push(("discarded", json!(set.discarded)));
    }
    let outcome = tlsrpt_txt::evaluate_rrset(&rrset_of(records)).outcome;
    r.extra.push(("outcome", json!(outcome.kind())));
    r.verdict = matches!(outcome, tlsrpt_txt::TlsRptOutcome::Valid(_)) && r.conforming();
    r
}

fn check_report(bytes: &[u8]) -> Report {
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    let parsed = if gzip {
        tlsrpt_report::parse_gzip(bytes)
    } else {
        tlsrpt_report::parse(bytes)
    };
    // Spans of a gzip report point into the inflated JSON, which we do not show.
    let shown = if gzip {
        String::new()
    } else {
        String::from_utf8_lossy(bytes).into_owned()
    };
    let mut r = Report::new("tlsrpt-report", vec![shown]);
    for e in &parsed.errors {
        r.error(e, 0);
    }
    for f in &parsed.findings {
        r.finding(f, 0);
    }
    r.extra.push(("gzip", json!(gzip)));
    if let Some(rep) = &parsed.report {
        r.parsed = json!({
            "organization_name": rep.organization_name,
            "report_id": rep.report_id,
            "contact_info": rep.contact_info,
            "date_range": {
                "start": rep.date_range.start.to_rfc3339(),
                "end": rep.date_range.end.to_rfc3339(),
            },
            "policies": rep.policies.iter().map(|p| json!({
                "policy_type": p.policy.policy_type.as_str(),
                "policy_domain": p.policy.policy_domain,
                "policy_string": p.policy.policy_string,
                "mx_host": p.policy.mx_host,
                "total_successful_session_count": p.summary.total_successful_session_count,
                "total_failure_session_count": p.summary.total_failure_session_count,
                "failure_details": p.failure_details.iter().map(|d| json!({
                    "result_type": d.result_type.as_str(),
                    "sending_mta_ip": d.sending_mta_ip.map(|i| i.to_string()),
                    "receiving_mx_hostname": d.receiving_mx_hostname,
                    "receiving_ip": d.receiving_ip.map(|i| i.to_string()),
                    "failed_session_count": d.failed_session_count,
                    "failure_reason_code": d.failure_reason_code,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
    }
    r.verdict = parsed.report.is_some() && r.conforming();
    r
}

fn check_mx_match(patterns: &[String], host: &str) -> Report {
    let mut inputs = patterns.to_vec();
    inputs.push(host.to_owned());
    let host_index = patterns.len();
    let mut r = Report::new("mx-match", inputs);
    r.verdict_key = "matches";
    let mut rows = Vec::new();
    let mut any = false;
    for (i, p) in patterns.iter().enumerate() {
        match MxPattern::parse(p) {
            Ok(pat) => {
                let m = pat.matches(host);
                any |= m;
                rows.push(json!({"pattern": pat.to_string(), "valid": true, "matches": m}));
            }
            Err(e) => {
                r.error(&e, i);
                rows.push(json!({"pattern": p, "valid": false, "matches": false}));
            }
        }
    }
    let host_name = match domain::normalize(host) {
        Ok(d) => Some(d),
        Err(e) => {
            r.error(&e.to_parse_error(), host_index);
            None
        }
    };
    r.parsed = json!({
        "host": host_name.as_ref().map(|d| d.as_str()),
        "patterns": rows,
    });
    r.verdict = any;
    r
}

fn check_domain(name: &str) -> Report {
    let mut r = Report::new("domain", vec![name.to_owned()]);
    match domain::normalize(name) {
        Ok(d) => {
            r.parsed = json!({
                "ascii": d.as_str(),
                "unicode": d.unicode(),
                "labels": d.label_count(),
            });
            r.verdict = true;
        }
        Err(e) => r.error(&e.to_parse_error(), 0),
    }
    r
}

fn diag_json(d: &Diag) -> Value {
    let mut v = json!({"code": d.code, "message": d.message});
    if let Some(s) = d.severity {
        v["severity"] = json!(s.as_str());
    }
    if let Some(span) = d.span {
        v["span"] = json!({"start": span.start, "end": span.end});
    }
    v
}

fn to_json(r: &Report) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("what".into(), json!(r.what));
    obj.insert(r.verdict_key.into(), json!(r.verdict));
    obj.insert("parsed".into(), r.parsed.clone());
    let multi = r.inputs.len() > 1;
    let with_input = |d: &Diag| {
        let mut v = diag_json(d);
        if multi {
            v["input"] = json!(d.input);
        }
        v
    };
    obj.insert(
        "errors".into(),
        Value::Array(r.errors.iter().map(with_input).collect()),
    );
    obj.insert(
        "findings".into(),
        Value::Array(r.findings.iter().map(with_input).collect()),
    );
    for (k, v) in &r.extra {
        obj.insert((*k).into(), v.clone());
    }
    Value::Object(obj).to_string()
}

fn human(r: &Report) -> String {
    let mut out = String::new();
    let verdict = match (r.verdict_key, r.verdict) {
        ("matches", true) => "MATCH",
        ("matches", false) => "NO MATCH",
        (_, true) if r.findings.is_empty() => "VALID",
        (_, true) => "VALID (with findings)",
        (_, false) => "INVALID",
    };
    out.push_str(&format!("{}: {verdict}\n", r.what));
    let mut show = |kind: &str, d: &Diag| {
        let input = r.inputs.get(d.input).map_or("", String::as_str);
        let at = match d.span {
            Some(s) if !input.is_empty() => {
                let p = position(input, s.start);
                if r.inputs.len() > 1 {
                    format!(" at input {}, {}:{}", d.input + 1, p.line, p.column)
                } else {
                    format!(" at {}:{}", p.line, p.column)
                }
            }
            _ => String::new(),
        };
        out.push_str(&format!("{kind}[{}]{at}: {}\n", d.code, d.message));
        if let Some(s) = d.span
            && !input.is_empty()
        {
            for line in render_caret(input, s, d.code).lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
    };
    for d in &r.errors {
        show("error", d);
    }
    for d in &r.findings {
        show(d.severity.map_or("error", Severity::as_str), d);
    }
    for (k, v) in &r.extra {
        match v {
            Value::String(s) => out.push_str(&format!("{k}: {s}\n")),
            Value::Array(a) if a.is_empty() => {}
            v => out.push_str(&format!("{k}: {v}\n")),
        }
    }
    if !r.parsed.is_null() {
        out.push_str("parsed:\n");
        out.push_str(&pretty_fields(&r.parsed, 1));
    }
    out.trim_end().to_owned()
}

fn pretty_fields(v: &Value, depth: usize) -> String {
    let pad = "  ".repeat(depth);
    let mut out = String::new();
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match val {
                    Value::Object(_) => {
                        out.push_str(&format!("{pad}{k}:\n{}", pretty_fields(val, depth + 1)));
                    }
                    Value::Array(a) if a.iter().any(|x| x.is_object()) => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        for x in a {
                            out.push_str(&format!("{pad}  -\n{}", pretty_fields(x, depth + 2)));
                        }
                    }
                    _ => out.push_str(&format!("{pad}{k}: {val}\n")),
                }
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
    out
}
