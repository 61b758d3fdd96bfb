//! `stsscan tlsrpt`: ingest of the `datasets/tlsrpt/` corpus (files, messages, mboxes),
//! deduplication, the `errors` table, the HTTPS receive endpoint on loopback, and the
//! text/HTML report with and without a scan to join. Only loopback and temporary
//! directories are used.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions unwrap like the tests do"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use stsscan::records::tlsrpt_report::RESULT_TYPES;
use stsscan::tlsrpt::ingest::{IngestStats, ingest_paths};
use stsscan::tlsrpt::report;
use stsscan::tlsrpt::store::{self, ERRORS_TABLE, REPORTS_TABLE};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/tlsrpt")
}

/// Every row of a table as column name → value strings.
fn rows(dir: &Path, table: &str) -> Vec<BTreeMap<String, Option<String>>> {
    let mut out = Vec::new();
    store::for_each_batch(dir, table, &[], |b| {
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let cols: Vec<_> = names.iter().map(|n| store::column_strings(b, n)).collect();
        for i in 0..b.num_rows() {
            out.push(
                names
                    .iter()
                    .zip(&cols)
                    .map(|(n, c)| (n.clone(), c[i].clone()))
                    .collect(),
            );
        }
        Ok(())
    })
    .unwrap();
    out
}

fn get<'a>(r: &'a BTreeMap<String, Option<String>>, k: &str) -> Option<&'a str> {
    r.get(k).and_then(|v| v.as_deref())
}

/// The whole corpus: every IANA result type arrives as a row, invalid reports become
/// `errors` rows with the parser's code, and nothing stops the run.
#[test]
fn corpus_ingest_covers_every_result_type_and_records_invalid_reports() {
    let out = tempfile::tempdir().unwrap();
    let s = ingest_paths(&[corpus()], out.path()).unwrap();
    let reports = rows(out.path(), REPORTS_TABLE);
    let types: BTreeSet<&str> = reports
        .iter()
        .filter_map(|r| get(r, "result_type"))
        .collect();
    for t in RESULT_TYPES {
        assert!(types.contains(t.as_str()), "missing result type {t}");
    }
    // rfc8460-example.json and .json.gz carry the same report-id, and mail/reports.mbox
    // re-sends one report: two duplicates.
    assert_eq!(s.duplicates, 2);
    let errors = rows(out.path(), ERRORS_TABLE);
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).unwrap();
    let mut invalid = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f[1] != "invalid" {
            continue;
        }
        invalid += 1;
        let row = errors
            .iter()
            .find(|r| get(r, "source").is_some_and(|s| s.ends_with(f[0])))
            .unwrap_or_else(|| panic!("no errors row for {}", f[0]));
        assert_eq!(get(row, "code"), Some(f[2].trim()), "{}", f[0]);
    }
    assert_eq!(invalid, 7);
    // The RFC 8460 Appendix B example: "failed-session-count": 200 for starttls-not-supported.
    let ex = reports
        .iter()
        .find(|r| {
            get(r, "result_type") == Some("starttls-not-supported")
                && get(r, "failed_session_count") == Some("200")
        })
        .unwrap();
    assert_eq!(get(ex, "organization_name"), Some("Company-X"));
    assert_eq!(get(ex, "policy_domain"), Some("company-y.example"));
    assert_eq!(
        get(ex, "receiving_mx_hostname"),
        Some("mx2.mail.company-y.example")
    );
    assert_eq!(get(ex, "receiving_ip"), Some("203.0.113.56"));
    // Stored in the canonical text form of the address ("2001:db8:abcd:0013::1" as written).
    assert_eq!(
        get(ex, "sending_mta_ip"),
        Some(
            "2001:db8:abcd:0013::1"
                .parse::<std::net::IpAddr>()
                .unwrap()
                .to_string()
                .as_str()
        )
    );
}

/// RFC 8460 §4.4: "failure-details: ... (optional)". A policy without failures is one row
/// whose failure columns are null, carrying its summary counts.
#[test]
fn policy_without_failures_is_one_row_with_null_failure_fields() {
    let out = tempfile::tempdir().unwrap();
    let s = ingest_paths(
        &[corpus().join("google-style-no-failures.json")],
        out.path(),
    )
    .unwrap();
    assert_eq!((s.added, s.errors), (1, 0));
    let reports = rows(out.path(), REPORTS_TABLE);
    let policies: BTreeSet<_> = reports.iter().map(|r| get(r, "policy_index")).collect();
    assert_eq!(reports.len(), policies.len(), "one row per policy");
    for r in &reports {
        for k in [
            "detail_index",
            "result_type",
            "failed_session_count",
            "receiving_mx_hostname",
        ] {
            assert_eq!(get(r, k), None, "{k}");
        }
        assert!(get(r, "total_successful_session_count").is_some());
    }
}

/// RFC 8460 §4.4: "report-id: A unique identifier for the report." Ingesting the same inputs
/// again (a new run reading the ids already stored) adds no report and no error row.
#[test]
fn second_ingest_run_deduplicates_by_report_id() {
    let out = tempfile::tempdir().unwrap();
    let first = ingest_paths(&[corpus()], out.path()).unwrap();
    let n_reports = rows(out.path(), REPORTS_TABLE).len();
    let n_errors = rows(out.path(), ERRORS_TABLE).len();
    let second = ingest_paths(&[corpus()], out.path()).unwrap();
    assert!(first.added > 0);
    assert_eq!(second.added, 0);
    assert_eq!(second.duplicates, first.added + first.duplicates);
    assert_eq!(second.errors, 0);
    assert_eq!(rows(out.path(), REPORTS_TABLE).len(), n_reports);
    assert_eq!(rows(out.path(), ERRORS_TABLE).len(), n_errors);
}

/// RFC 8460 §5.3: the report is sent as "a MIME message with a media type of
/// multipart/report" whose report part is `application/tlsrpt+gzip` or
/// `application/tlsrpt+json`. Both, base64 and quoted-printable, in `.eml` and mbox.
#[test]
fn eml_and_mbox_reports_are_extracted() {
    let out = tempfile::tempdir().unwrap();
    let s = ingest_paths(&[corpus().join("mail")], out.path()).unwrap();
    assert_eq!(
        s,
        IngestStats {
            files: 3,
            messages: 7,
            added: 4,
            duplicates: 1,
            errors: 2
        }
    );
    let reports = rows(out.path(), REPORTS_TABLE);
    let ids: BTreeSet<_> = reports.iter().filter_map(|r| get(r, "report_id")).collect();
    assert!(
        ids.contains("2024-03-10T00:00:00Z_mail.example.com"),
        "gzip+base64 eml"
    );
    assert!(
        ids.contains("2024-03-11T00:00:00Z_mail.example.com"),
        "json+qp eml"
    );
    let exp = reports
        .iter()
        .find(|r| get(r, "result_type") == Some("certificate-expired"))
        .unwrap();
    assert_eq!(get(exp, "failed_session_count"), Some("12"));
    assert!(
        get(exp, "source")
            .unwrap()
            .ends_with("gzip-base64.eml/part=1")
    );
    let errors = rows(out.path(), ERRORS_TABLE);
    let codes: BTreeMap<_, _> = errors
        .iter()
        .map(|r| {
            (
                get(r, "source")
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                get(r, "code").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes.get("reports.mbox#msg=2").map(String::as_str),
        Some("ingest-no-report-part")
    );
    assert_eq!(
        codes.get("part=1").map(String::as_str),
        Some("tlsrpt-bad-gzip")
    );
}

/// Malformed and unrecognised inputs are rows, never a stopped run; a huge line in an mbox
/// is read in bounded pieces.
#[test]
fn malformed_inputs_are_recorded_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::write(inputs.join("a.json"), b"{\"organization-name\": ").unwrap();
    std::fs::write(inputs.join("b.bin"), [0u8, 1, 2, 3]).unwrap();
    std::fs::write(inputs.join("c.eml"), b"Subject: hi\r\n\r\nno parts").unwrap();
    let mut mbox = b"From x\nContent-Type: text/plain\n\n".to_vec();
    mbox.extend(std::iter::repeat_n(b'a', 300_000));
    std::fs::write(inputs.join("d.mbox"), &mbox).unwrap();
    std::fs::copy(
        corpus().join("all-result-types.json"),
        inputs.join("z.json"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let s = ingest_paths(&[&inputs, &dir.path().join("missing")], &out).unwrap();
    assert_eq!(s.added, 1, "the valid report after the bad ones is stored");
    let codes: BTreeSet<String> = rows(&out, ERRORS_TABLE)
        .iter()
        .map(|r| get(r, "code").unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = [
        "tlsrpt-bad-json",
        "ingest-unrecognized",
        "ingest-no-report-part",
        "ingest-unreadable",
    ]
    .map(String::from)
    .into();
    assert_eq!(codes, want);
}

/// The figures: per-day sessions, per result type, organization and MX host, in the HTML
/// (read back from the `data-*` attributes of the SVG) and in the text.
#[test]
fn report_html_and_text_show_the_figures() {
    let out = tempfile::tempdir().unwrap();
    ingest_paths(&[corpus().join("mail")], out.path()).unwrap();
    let agg = report::aggregate(out.path()).unwrap();
    assert_eq!((agg.reports, agg.successful(), agg.failed()), (4, 3610, 22));
    let top = report::top_details(&agg, None).unwrap();
    let html = report::render_html(&agg, &top);
    for needle in [
        r#"data-reports="4" data-successful="3610" data-failed="22""#,
        r#"data-day="2024-03-10" data-ok="1200" data-failed="12""#,
        r#"data-day="2024-03-12" data-ok="1510" data-failed="7""#,
        r#"data-label="certificate-expired" data-value="12""#,
        r#"data-label="Mail Reporter" data-value="19""#,
        r#"data-label="mx1.mail.example.com" data-value="15""#,
        "<td>ingest-no-report-part</td>",
    ] {
        assert!(html.contains(needle), "HTML lacks {needle}");
    }
    assert!(
        !html.contains("<script") && !html.contains("http://")
            || html.contains("xmlns=\"http://www.w3.org/2000/svg\"")
    );
    let text = report::render_text(&agg, &top);
    assert!(text.contains("sessions: 3610 successful, 22 failed"));
    assert!(text.contains("  2024-03-11           900           3"));
    assert!(
        text.contains(
            "          12  mail.example.com  certificate-expired  mx=mx1.mail.example.com"
        )
    );
}

fn ts(col: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(col).with_timezone("UTC"))
}

fn write_batch(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// `--scan`: a certificate-expired failure is shown next to the scan's `cert_not_after` of
/// that MX host, an sts-policy-invalid failure next to the domain's `policy_error`; the
/// latest scan of a domain wins.
#[test]
fn report_joins_failures_with_scan_observations() {
    let out = tempfile::tempdir().unwrap();
    ingest_paths(&[corpus().join("mail")], out.path()).unwrap();
    let scan = tempfile::tempdir().unwrap();
    let t = Field::new(
        "scanned_at",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    );
    let dschema = Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, true),
        t.clone(),
        Field::new("policy_valid", DataType::Boolean, true),
        Field::new("policy_error", DataType::Utf8, true),
    ]));
    let d = RecordBatch::try_new(
        dschema,
        vec![
            Arc::new(StringArray::from(vec![
                "mail.example.com",
                "mail.example.com",
                "unrelated.example",
            ])),
            ts(vec![Some(1), Some(2_000_000), Some(3)]),
            Arc::new(BooleanArray::from(vec![true, false, true])),
            Arc::new(StringArray::from(vec![
                None,
                Some("policy-missing-version"),
                None,
            ])),
        ],
    )
    .unwrap();
    write_batch(
        &scan
            .path()
            .join("domains/scan_date=2024-03-12/scan_id=s/part-00000.parquet"),
        &d,
    );
    let mschema = Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("mx_host", DataType::Utf8, false),
        t,
        Field::new("mx_cert", DataType::Utf8, true),
        Field::new(
            "cert_not_after",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]));
    let m = RecordBatch::try_new(
        mschema,
        vec![
            Arc::new(StringArray::from(vec!["mail.example.com"])),
            Arc::new(StringArray::from(vec!["mx1.mail.example.com"])),
            ts(vec![Some(2_000_000)]),
            Arc::new(StringArray::from(vec!["expired"])),
            ts(vec![Some(1_709_251_200_000_000)]),
        ],
    )
    .unwrap();
    write_batch(
        &scan
            .path()
            .join("mx/scan_date=2024-03-12/scan_id=s/part-00000.parquet"),
        &m,
    );
    let agg = report::aggregate(out.path()).unwrap();
    let top = report::top_details(&agg, Some(scan.path())).unwrap();
    let by_type = |t: &str| {
        top.iter()
            .find(|d| d.key.result_type == t)
            .unwrap()
            .scan
            .clone()
    };
    let exp = by_type("certificate-expired");
    assert!(
        exp.contains(&("mx.mx_cert".into(), "expired".into())),
        "{exp:?}"
    );
    assert!(
        exp.iter()
            .any(|(k, v)| k == "mx.cert_not_after" && v.starts_with("2024-03-01T00:00:00")),
        "{exp:?}"
    );
    let inv = by_type("sts-policy-invalid");
    assert!(
        inv.contains(&(
            "domains.policy_error".into(),
            "policy-missing-version".into()
        )),
        "{inv:?}"
    );
    assert!(
        inv.contains(&("domains.policy_valid".into(), "false".into())),
        "{inv:?}"
    );
    let not_scanned = by_type("starttls-not-supported");
    assert_eq!(
        not_scanned,
        vec![("mx".to_owned(), "not in scan".to_owned())]
    );
    let html = report::render_html(&agg, &top);
    assert!(html.contains("domains.policy_error=policy-missing-version"));
}

/// A report with one `sts` policy of `policy_strings` lines and `details` failure details.
fn report_json(id: &str, day: &str, ok: u64, policy_strings: &str, details: &str) -> String {
    format!(
        r#"{{"organization-name":"o","date-range":{{"start-datetime":"{day}T00:00:00Z","end-datetime":"{day}T23:59:59Z"}},"contact-info":"c","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-string":[{policy_strings}],"policy-domain":"d.example"}},"summary":{{"total-successful-session-count":{ok},"total-failure-session-count":0}},"failure-details":[{details}]}}]}}"#
    )
}

/// Reports are untrusted: a small report of many tiny failure details must not turn into
/// rows many times its size (each detail row repeats its policy's fields, so the finding codes
/// are stored once each and the lists are capped), and one such report is written out in
/// parts as its rows come, never held whole.
#[test]
fn a_report_of_many_details_stays_bounded_in_rows() {
    use stsscan::records::tlsrpt_report::parse;
    let strings = vec![format!("\"{}\"", "x".repeat(100)); 200].join(",");
    let details = vec![r#"{"result-type":"x","failed-session-count":0,"u":1}"#; 2000].join(",");
    let json = report_json("r", "2024-01-01", 1, &strings, &details);
    let p = parse(json.as_bytes());
    let report = p.report.as_ref().unwrap();
    let codes: Vec<String> = p.findings.iter().map(|f| f.code.to_string()).collect();
    assert!(
        codes.len() > 100,
        "the report has many findings of few kinds"
    );
    let rows = store::report_rows(report, &codes, "s", chrono::Utc::now());
    assert_eq!(rows.len(), 2000);
    // the codes once each: a short column, not thousands of bytes per row
    assert!(rows[0].findings.len() < 200, "{}", rows[0].findings);
    assert_eq!(rows[0].policy_string.len(), store::MAX_LIST_ITEMS);
    let bytes: usize = rows.iter().map(store::ReportRow::weight).sum();
    // each code once
    let stored: Vec<&str> = rows[0].findings.split(' ').collect();
    let unique: BTreeSet<&str> = stored.iter().copied().collect();
    assert_eq!(stored.len(), unique.len(), "{stored:?}");
    // with a small byte budget the store writes the report's rows in several parts at once
    let dir = tempfile::tempdir().unwrap();
    let mut st = store::Store::open(dir.path()).unwrap();
    st.set_flush_bytes(bytes / 4);
    st.add_report(report, &codes, "s").unwrap();
    assert!(st.parts_written() >= 3, "{} parts", st.parts_written());
    st.flush().unwrap();
    assert_eq!(rows_in(dir.path()), 2000);
}

fn rows_in(dir: &Path) -> usize {
    rows(dir, REPORTS_TABLE).len()
}

/// Session counts are the reporter's claim: totals over days saturate instead of
/// overflowing (a debug build panicked, a release build wrapped to a small number).
#[test]
fn session_totals_saturate() {
    use stsscan::records::tlsrpt_report::parse;
    let dir = tempfile::tempdir().unwrap();
    let mut st = store::Store::open(dir.path()).unwrap();
    for (id, day) in [("a", "2024-01-01"), ("b", "2024-01-02")] {
        let p = parse(report_json(id, day, u64::MAX, "", "").as_bytes());
        st.add_report(p.report.as_ref().unwrap(), &[], "s").unwrap();
    }
    st.flush().unwrap();
    let agg = report::aggregate(dir.path()).unwrap();
    assert_eq!(agg.successful(), u64::MAX);
    let _ = report::render_text(&agg, &[]);
}

/// RFC 8460 §3 lets a domain list several `rua` URIs, so one report can arrive twice: by
/// HTTPS to a running receiver and by mail to an `ingest` of the same dataset, neither of
/// which saw the other's ids. The report then counts once.
#[test]
fn a_report_stored_twice_counts_once() {
    use stsscan::records::tlsrpt_report::parse;
    let dir = tempfile::tempdir().unwrap();
    let p = parse(report_json("same-id", "2024-01-01", 10, "", "").as_bytes());
    let mut receiver = store::Store::open(dir.path()).unwrap();
    let mut ingest = store::Store::open(dir.path()).unwrap();
    ingest
        .add_report(p.report.as_ref().unwrap(), &[], "mail")
        .unwrap();
    ingest.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    receiver
        .add_report(p.report.as_ref().unwrap(), &[], "http")
        .unwrap();
    receiver.flush().unwrap();
    let agg = report::aggregate(dir.path()).unwrap();
    assert_eq!(agg.reports, 1);
    assert_eq!(agg.successful(), 10, "one report of 10 sessions");
}

#[cfg(feature = "lab")]
mod receive {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use stsscan::lab::model::{CertSpec, CertVariant};
    use stsscan::lab::server::Pki;
    use stsscan::tlsrpt::receive::{ReceiveConfig, start};

    use super::*;

    fn server_tls(pki: &Pki) -> Arc<rustls::ServerConfig> {
        let ck = pki
            .certified_key(&CertSpec {
                names: vec!["tlsrpt.test".into()],
                variant: CertVariant::Valid,
            })
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(ck)));
        Arc::new(cfg)
    }

    /// A client for the endpoint's plain-HTTP mode (`--insecure-http`); reqwest still needs a
    /// TLS configuration with a crypto provider.
    fn plain_http_client() -> reqwest::Client {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    fn client(pki: &Pki, addr: SocketAddr) -> reqwest::Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.root_der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve("tlsrpt.test", addr)
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    /// RFC 8460 §5.4: reports are submitted by HTTPS POST with the media types of §5.3
    /// ("application/tlsrpt+gzip" or "application/tlsrpt+json"); the endpoint answers 200 when
    /// stored (also for a re-sent report-id), 415 for another type, 413 past the body limit,
    /// 400 for an unparsable report, 405 for another method — and the reports land in the
    /// dataset.
    #[tokio::test]
    async fn receive_endpoint_status_codes_and_storage() {
        let pki = Pki::new().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut cfg = ReceiveConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            out.path().to_owned(),
            Some(server_tls(&pki)),
        );
        cfg.max_body = 64 * 1024;
        let r = start(cfg).await.unwrap();
        let url = format!("https://tlsrpt.test:{}/v1/tlsrpt", r.local_addr().port());
        let c = client(&pki, r.local_addr());
        let gz = std::fs::read(corpus().join("rfc8460-example.json.gz")).unwrap();
        let json = std::fs::read(corpus().join("all-result-types.json")).unwrap();
        let post =
            |ct: &str, body: Vec<u8>| c.post(&url).header("content-type", ct).body(body).send();
        let status = |resp: reqwest::Response| resp.status().as_u16();
        assert_eq!(
            status(post("application/tlsrpt+gzip", gz.clone()).await.unwrap()),
            200
        );
        assert_eq!(
            status(post("application/tlsrpt+gzip", gz).await.unwrap()),
            200
        );
        assert_eq!(
            status(
                post("Application/TLSRPT+JSON; charset=utf-8", json.clone())
                    .await
                    .unwrap()
            ),
            200
        );
        assert_eq!(status(post("application/json", json).await.unwrap()), 415);
        assert_eq!(
            status(
                post("application/tlsrpt+json", vec![b' '; 70_000])
                    .await
                    .unwrap()
            ),
            413
        );
        let bad = post("application/tlsrpt+json", b"{\"policies\": 3}".to_vec())
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 400);
        assert!(bad.text().await.unwrap().contains("tlsrpt-"));
        assert_eq!(status(c.get(&url).send().await.unwrap()), 405);
        let counters = r.counters();
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(counters.stored.load(Relaxed), 2);
        assert_eq!(counters.duplicate.load(Relaxed), 1);
        r.shutdown().await.unwrap();
        let reports = rows(out.path(), REPORTS_TABLE);
        let ids: BTreeSet<_> = reports.iter().filter_map(|r| get(r, "report_id")).collect();
        assert_eq!(ids.len(), 2);
        assert!(
            reports
                .iter()
                .all(|r| get(r, "source").unwrap().starts_with("http:127.0.0.1:"))
        );
        let errors = rows(out.path(), ERRORS_TABLE);
        assert_eq!(errors.len(), 1);
    }

    /// `tlsrpt receive` stopped by SIGTERM (systemd, docker, `kill`) writes the reports it
    /// has already answered 200 for, as Ctrl-C does: the sender will not send them again.
    #[tokio::test]
    async fn sigterm_writes_the_accepted_reports() {
        use std::process::Stdio;
        use tokio::io::{AsyncBufReadExt, BufReader};
        let out = tempfile::tempdir().unwrap();
        let data = out.path().join("rpt");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stsscan"))
            .args([
                "tlsrpt",
                "receive",
                "--listen",
                "127.0.0.1:0",
                "--insecure-http",
            ])
            .arg("-o")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let addr = first.strip_prefix("listening on ").unwrap().to_owned();
        let c = plain_http_client();
        let resp = c
            .post(format!("http://{addr}/"))
            .header("content-type", "application/tlsrpt+json")
            .body(super::report_json("term-1", "2024-01-01", 3, "", ""))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let pid = child.id().unwrap().to_string();
        let st = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(st.success());
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{status:?}");
        let ids: Vec<String> = rows(&data, REPORTS_TABLE)
            .iter()
            .filter_map(|r| get(r, "report_id").map(str::to_owned))
            .collect();
        assert_eq!(ids, ["term-1"]);
    }

    /// The module promises "503 the dataset could not be written (the sender should retry)":
    /// a periodic flush that fails (here the `reports` directory is a file for a while) keeps
    /// the endpoint serving, and the buffered report is written once the disk recovers.
    #[tokio::test]
    async fn the_endpoint_survives_a_failed_flush() {
        let out = tempfile::tempdir().unwrap();
        let mut cfg =
            ReceiveConfig::new("127.0.0.1:0".parse().unwrap(), out.path().to_owned(), None);
        cfg.flush_interval = Duration::from_millis(50);
        let r = start(cfg).await.unwrap();
        let url = format!("http://127.0.0.1:{}/", r.local_addr().port());
        let c = plain_http_client();
        let post = |body: String| {
            c.post(&url)
                .header("content-type", "application/tlsrpt+json")
                .body(body)
                .send()
        };
        let blocker = out.path().join(REPORTS_TABLE);
        std::fs::write(&blocker, b"").unwrap();
        let first = post(super::report_json("r1", "2024-01-01", 1, "", ""));
        assert_eq!(first.await.unwrap().status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            r.counters()
                .flush_failed
                .load(std::sync::atomic::Ordering::Relaxed)
                > 0
        );
        std::fs::remove_file(&blocker).unwrap();
        let second = post(super::report_json("r2", "2024-01-01", 1, "", ""));
        assert_eq!(second.await.unwrap().status().as_u16(), 200);
        r.shutdown().await.unwrap();
        let ids: BTreeSet<String> = rows(out.path(), REPORTS_TABLE)
            .iter()
            .filter_map(|r| get(r, "report_id").map(str::to_owned))
            .collect();
        assert_eq!(ids, BTreeSet::from(["r1".to_owned(), "r2".to_owned()]));
    }
}
