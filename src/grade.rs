//! Grading a scan against the lab's ground truth: every graded field of docs/ground-truth.md,
//! compared for exact equality, per domain and per MX host.
//!
//! This is the one place where scanner output and lab truth meet. It depends on both but
//! neither depends on it, so the lab stays independent of the scanner's verdict code.
//!
//! What a scan did not measure on purpose is not graded: rows that are not `ok` (invalid,
//! duplicate and `--exclude`d input lines), and under `--exclude` the policy fields of a
//! domain whose policy host is listed (`policy_fetch = excluded`), the measured fields of a
//! listed MX host (`mx_excluded`: only its presence, preference and policy match are graded)
//! and `enforce_deliverable` when the scan left it unknown because of such a host.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::lab::world::{DomainTruth, MxTruth};
use crate::output::{DomainRow, MxRow};

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The domain.
    pub domain: String,
    /// The field (`mx:HOST:field` for MX fields).
    pub field: String,
    /// What the lab says.
    pub expected: String,
    /// What the scan wrote.
    pub got: String,
}

/// The MX field name of an `mx_cert` disagreement on a row whose probe sent another name as
/// SNI (see [`crate::output::MxRow::probe_sni`]).
pub const MX_CERT_OTHER_SNI: &str = "mx_cert (probe made for another name)";

fn s<T: std::fmt::Debug>(v: &T) -> String {
    format!("{v:?}")
}

/// Compares one domain's rows to its truth; returns the disagreements.
pub fn compare(truth: &DomainTruth, row: &DomainRow, mx_rows: &[MxRow]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let d = &truth.domain;
    // `--exclude`: the policy host was not contacted, so its fields (and the verdicts built on
    // them) say nothing the truth could be compared with; neither does an `enforce_deliverable`
    // left unknown because an excluded MX host was not probed.
    let policy_excluded = row.policy_fetch.as_deref() == Some("excluded");
    let deliverable_unknown = row.enforce_deliverable.is_none()
        && (policy_excluded || mx_rows.iter().any(|r| r.mx_excluded == Some(true)));
    let mut check = |field: &str, expected: String, got: String| {
        let skipped = (policy_excluded && field.starts_with("policy_"))
            || (deliverable_unknown && field == "enforce_deliverable");
        if expected != got && !skipped {
            out.push(Mismatch {
                domain: d.clone(),
                field: field.to_owned(),
                expected,
                got,
            });
        }
    };
    check(
        "sts_txt",
        truth.sts_txt.as_str().to_owned(),
        row.sts_txt.clone().unwrap_or_default(),
    );
    check(
        "sts_txt_dns",
        truth.sts_txt_dns.as_str().to_owned(),
        row.sts_txt_dns.clone().unwrap_or_default(),
    );
    check("sts_id", s(&truth.sts_id), s(&row.sts_id));
    check(
        "policy_fetch",
        truth.policy_fetch.as_str().to_owned(),
        row.policy_fetch.clone().unwrap_or_default(),
    );
    check(
        "policy_http_status",
        s(&truth.policy_http_status),
        s(&row.policy_http_status),
    );
    check(
        "policy_cert",
        s(&truth.policy_cert.map(|c| c.as_str())),
        s(&row.policy_cert.as_deref()),
    );
    check("policy_valid", s(&truth.policy_valid), s(&row.policy_valid));
    check(
        "policy_mode",
        s(&truth.policy_mode.map(|m| m.as_str())),
        s(&row.policy_mode.as_deref()),
    );
    check(
        "policy_max_age",
        s(&truth.policy_max_age),
        s(&row.policy_max_age),
    );
    check("policy_mx", s(&truth.policy_mx), s(&row.policy_mx));
    check(
        "mx_kind",
        truth.mx_kind.as_str().to_owned(),
        row.mx_kind.clone().unwrap_or_default(),
    );
    check(
        "tlsrpt",
        truth.tlsrpt.as_str().to_owned(),
        row.tlsrpt.clone().unwrap_or_default(),
    );
    check("tlsrpt_rua", s(&truth.tlsrpt_rua), s(&row.tlsrpt_rua));
    check(
        "policy_usable",
        s(&Some(truth.policy_usable)),
        s(&row.policy_usable),
    );
    check(
        "enforce_deliverable",
        s(&truth.enforce_deliverable),
        s(&row.enforce_deliverable),
    );
    for mt in &truth.mx {
        compare_mx(d, mt, mx_rows, policy_excluded, &mut out);
    }
    let hosts: Vec<&str> = truth.mx.iter().map(|m| m.mx_host.as_str()).collect();
    let mut seen: Vec<&str> = mx_rows.iter().map(|r| r.mx_host.as_str()).collect();
    seen.dedup();
    if truth.mx_kind.as_str() != "lookup-failed" && hosts != seen {
        out.push(Mismatch {
            domain: d.clone(),
            field: "mx_hosts".to_owned(),
            expected: s(&hosts),
            got: s(&seen),
        });
    }
    out
}

fn compare_mx(
    d: &str,
    mt: &MxTruth,
    rows: &[MxRow],
    policy_excluded: bool,
    out: &mut Vec<Mismatch>,
) {
    let mine: Vec<&MxRow> = rows.iter().filter(|r| r.mx_host == mt.mx_host).collect();
    let host = &mt.mx_host;
    let mut push = |field: &str, expected: String, got: String| {
        // no policy fetched, so no pattern to match against
        let skipped = policy_excluded && field == "mx_policy_match";
        if expected != got && !skipped {
            out.push(Mismatch {
                domain: d.to_owned(),
                field: format!("mx:{host}:{field}"),
                expected,
                got,
            });
        }
    };
    let Some(first) = mine.first() else {
        push("present", "true".into(), "false".into());
        return;
    };
    push(
        "mx_preference",
        mt.mx_preference.to_string(),
        first.mx_preference.to_string(),
    );
    // On the `--exclude` list: not looked up, not probed; only what needs no contact.
    if first.mx_excluded == Some(true) {
        push(
            "mx_policy_match",
            s(&mt.mx_policy_match),
            s(&first.mx_policy_match),
        );
        return;
    }
    let mut addrs: Vec<String> = mine.iter().filter_map(|r| r.address.clone()).collect();
    addrs.sort();
    push("mx_addresses", s(&mt.mx_addresses), s(&addrs));
    push(
        "mx_policy_match",
        s(&mt.mx_policy_match),
        s(&first.mx_policy_match),
    );
    // The truth describes the host's (first) address.
    push(
        "smtp",
        mt.smtp.as_str().to_owned(),
        first.smtp.clone().unwrap_or_default(),
    );
    push("starttls", s(&mt.starttls), s(&first.starttls));
    // A certificate judged on a handshake made for another MX name (a probe shared under
    // `--probe-dedup address-once`) is counted apart from one judged on the host's own.
    push(
        if first.probe_sni_for_other_name().is_some() {
            MX_CERT_OTHER_SNI
        } else {
            "mx_cert"
        },
        s(&mt.mx_cert.map(|c| c.as_str())),
        s(&first.mx_cert.as_deref()),
    );
    push(
        "starttls_injection",
        s(&mt.starttls_injection),
        s(&first.starttls_injection),
    );
}

/// Agreement over a whole scan, accumulated row by row (thread-safe, bounded memory: only
/// the first [`Grader::KEEP`] mismatches are kept, all are counted).
#[derive(Debug, Default)]
pub struct Grader {
    inner: Mutex<GraderState>,
}

#[derive(Debug, Default)]
struct GraderState {
    domains: u64,
    agreeing: u64,
    no_truth: u64,
    by_field: BTreeMap<String, u64>,
    kept: Vec<Mismatch>,
}

/// The result of grading.
#[derive(Debug, Clone, Default)]
pub struct GradeReport {
    /// Domains graded.
    pub domains: u64,
    /// Domains on which every graded field agrees.
    pub agreeing: u64,
    /// Scanned domains the lab has no truth for.
    pub no_truth: u64,
    /// Disagreements per field (MX fields folded as `mx:*:field`).
    pub by_field: BTreeMap<String, u64>,
    /// The first disagreements.
    pub examples: Vec<Mismatch>,
}

impl GradeReport {
    /// Share of graded domains that agree on every field, in percent.
    pub fn agreement_percent(&self) -> f64 {
        if self.domains == 0 {
            100.0
        } else {
            100.0 * self.agreeing as f64 / self.domains as f64
        }
    }
}

impl Grader {
    /// Mismatches kept as examples.
    pub const KEEP: usize = 50;

    /// Grades one domain (skips rows that are not scanned domains).
    pub fn grade(&self, truth: Option<DomainTruth>, row: &DomainRow, mx: &[MxRow]) {
        if row.input_status != "ok" {
            return;
        }
        let Ok(mut st) = self.inner.lock() else {
            return;
        };
        let Some(truth) = truth else {
            st.no_truth += 1;
            return;
        };
        let mism = compare(&truth, row, mx);
        st.domains += 1;
        if mism.is_empty() {
            st.agreeing += 1;
        }
        for m in mism {
            let key = match m.field.split(':').collect::<Vec<_>>().as_slice() {
                ["mx", _, f] => format!("mx:*:{f}"),
                _ => m.field.clone(),
            };
            *st.by_field.entry(key).or_insert(0) += 1;
            if st.kept.len() < Self::KEEP {
                st.kept.push(m);
            }
        }
    }

    /// The report so far.
    pub fn report(&self) -> GradeReport {
        self.inner
            .lock()
            .map(|st| GradeReport {
                domains: st.domains,
                agreeing: st.agreeing,
                no_truth: st.no_truth,
                by_field: st.by_field.clone(),
                examples: st.kept.clone(),
            })
            .unwrap_or_default()
    }
}
