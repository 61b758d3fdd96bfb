//! `stsscan report`: a small dataset written with `OutputWriter`, rendered, and checked for
//! the figures, the escaping of untrusted text, balanced tags, scan selection, the top-N
//! bound, the CLI's default output path and a headless Chromium render (required in CI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] functions unwrap like the tests do"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use stsscan::output::manifest::ScanStatus;
use stsscan::output::{DomainRow, FindingRow, MxRow, OutputWriter, WriterConfig};
use stsscan::report::{Options, render, select};

/// How a row of the domains-needing-action table opens.
const ACTION: &str = "<tr class=\"action\">";
const HOSTILE_HOST: &str = "<b onmouseover=1>.hostile.test";
const HOSTILE: &str = "<script>alert('pwned')</script> & \"quotes\"";

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn finding(code: &str, severity: &str, message: &str) -> FindingRow {
    FindingRow {
        code: code.into(),
        severity: severity.into(),
        message: message.into(),
    }
}

fn ok_row(line: u64, domain: &str) -> DomainRow {
    DomainRow {
        input_line: line,
        input: domain.into(),
        input_status: "ok".into(),
        domain: Some(domain.into()),
        sts_txt: Some("absent".into()),
        policy_fetch: Some("not-attempted".into()),
        mx_kind: Some("hosts".into()),
        mx_hosts: Some(vec![format!("mx.{domain}")]),
        tlsrpt: Some("absent".into()),
        ..DomainRow::default()
    }
}

fn mx(domain: &str, host: &str, smtp: &str, cert: Option<&str>, matches: Option<bool>) -> MxRow {
    MxRow {
        domain: domain.into(),
        mx_host: host.into(),
        mx_preference: 10,
        address: Some("192.0.2.1".into()),
        ip_version: Some(4),
        address_dns: Some("noerror".into()),
        mx_policy_match: matches,
        smtp: Some(smtp.into()),
        mx_cert: cert.map(Into::into),
        tls_version: (smtp == "ok").then(|| "TLSv1.3".into()),
        ..MxRow::default()
    }
}

/// Scan `id` started on `day` with: one enforce domain that cannot deliver (its MX is not
/// listed in the policy), one domain whose policy fetch fails with a hostile finding message,
/// `clean` domains with TLS-RPT sharing one provider MX (the first with a `testing` policy
/// that would not deliver if enforced: it loses no mail), one invalid line.
fn write_scan(dir: &Path, id: &str, day: u32, clean: u64, status: ScanStatus) {
    write_scan_with(dir, id, day, clean, status, serde_json::json!({}));
}

/// `write_scan` with the scan configuration the manifest records.
fn write_scan_with(
    dir: &Path,
    id: &str,
    day: u32,
    clean: u64,
    status: ScanStatus,
    config: serde_json::Value,
) {
    let cfg = WriterConfig::new(dir, id, at(day), config);
    let w = OutputWriter::start(cfg).unwrap();
    let mut line = 0;
    let mut next = || {
        line += 1;
        line
    };

    let mut a = ok_row(next(), "broken-enforce.test");
    a.sts_txt = Some("valid".into());
    a.sts_id = Some("1".into());
    a.policy_fetch = Some("ok".into());
    a.policy_cert = Some("valid".into());
    a.policy_valid = Some(true);
    a.policy_mode = Some("enforce".into());
    a.policy_max_age = Some(86400);
    a.policy_mx = Some(vec!["mail.elsewhere.test".into()]);
    a.policy_usable = Some(true);
    a.enforce_deliverable = Some(false);
    a.all_mx_covered = Some(false);
    a.rfc8460_result = Some("validation-failure".into());
    a.findings = vec![
        finding(
            "mx-not-covered",
            "error",
            "MX host mx.broken-enforce.test matches no mx pattern",
        ),
        finding(
            "enforce-undeliverable",
            "error",
            "a sender enforcing the policy would not deliver",
        ),
    ];
    a.max_severity = Some("error".into());
    let a_mx = vec![mx(
        "broken-enforce.test",
        "mx.broken-enforce.test",
        "ok",
        Some("valid"),
        Some(false),
    )];
    w.blocking_send(a, a_mx).unwrap();

    let mut b = ok_row(next(), "hostile.test");
    b.sts_txt = Some("valid".into());
    b.sts_id = Some("2".into());
    b.policy_fetch = Some("http-status".into());
    b.policy_http_status = Some(404);
    b.policy_usable = Some(false);
    b.rfc8460_result = Some("sts-policy-fetch-error".into());
    b.findings = vec![
        finding("policy-fetch-failed", "error", HOSTILE),
        finding("tlsrpt-absent-info", "info", "not shown in the action list"),
    ];
    b.max_severity = Some("error".into());
    let b_mx = vec![mx(
        "hostile.test",
        HOSTILE_HOST,
        "starttls-not-offered",
        None,
        None,
    )];
    w.blocking_send(b, b_mx).unwrap();

    for i in 0..clean {
        let d = format!("clean{i}.test");
        let mut r = ok_row(next(), &d);
        r.tlsrpt = Some("valid".into());
        r.mx_hosts = Some(vec!["mx1.provider.test".into(), "mx2.provider.test".into()]);
        if i == 0 {
            r.sts_txt = Some("valid".into());
            r.policy_fetch = Some("ok".into());
            r.policy_cert = Some("valid".into());
            r.policy_valid = Some(true);
            r.policy_mode = Some("testing".into());
            r.policy_usable = Some(true);
            r.enforce_deliverable = Some(false);
            r.findings = vec![finding(
                "enforce-undeliverable",
                "warning",
                "senders deliver anyway under mode testing",
            )];
            r.max_severity = Some("warning".into());
        }
        let rows = vec![
            mx(&d, "mx1.provider.test", "ok", Some("valid"), None),
            mx(&d, "mx2.provider.test", "ok", Some("valid"), None),
        ];
        w.blocking_send(r, rows).unwrap();
    }
    let bad = DomainRow {
        input_line: next(),
        input: "not a domain".into(),
        input_status: "invalid".into(),
        input_error: Some("invalid-char".into()),
        ..DomainRow::default()
    };
    w.blocking_send(bad, Vec::new()).unwrap();
    w.finish(status).unwrap();
}

fn opts(dir: &Path) -> Options {
    Options {
        dir: dir.to_path_buf(),
        scan_id: None,
        history: false,
        top: 100,
    }
}

/// The cells of the table row whose first cell is `label` (first occurrence).
fn row_cells(html: &str, label: &str) -> Vec<String> {
    row_cells_of(html, "<tr>", label)
}

/// The cells of the row opened by `tr` whose first cell is `label`.
fn row_cells_of(html: &str, tr: &str, label: &str) -> Vec<String> {
    let start = html
        .find(&format!("{tr}<td>{label}</td>"))
        .unwrap_or_else(|| panic!("no row {label}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c[..c.find("</td>").unwrap()].to_string()
        })
        .collect()
}

/// Checks every element opened is closed in order (void elements excepted) and returns the
/// number of elements seen.
fn assert_balanced(html: &str) -> usize {
    const VOID: &[&str] = &["meta", "br", "hr", "img", "link", "input"];
    let mut stack: Vec<String> = Vec::new();
    let mut seen = 0;
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unterminated tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> without opening"));
            assert_eq!(open, name.trim(), "mismatched close");
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "bad tag <{tag}>");
        seen += 1;
        if !VOID.contains(&name.as_str()) && !tag.ends_with('/') {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    seen
}

#[test]
fn figures_breakdown_mx_and_action_list_are_right() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "s1", 1, 7, ScanStatus::Complete);
    let html = render(&opts(dir.path())).unwrap();
    // 10 input lines, 9 ok: 3 with MTA-STS TXT, 2 usable policies (enforce, testing),
    // 7 TLS-RPT.
    assert_eq!(row_cells(&html, "input lines")[1], "10");
    assert_eq!(row_cells(&html, "domains scanned")[1], "9");
    assert_eq!(row_cells(&html, "valid MTA-STS TXT")[1..], ["3", "33.33"]);
    assert_eq!(row_cells(&html, "usable MTA-STS policy")[1], "2");
    assert_eq!(row_cells(&html, "mode enforce")[1], "1");
    assert_eq!(row_cells(&html, "mode testing")[1], "1");
    assert_eq!(row_cells(&html, "valid TLS-RPT")[1..], ["7", "77.78"]);
    assert_eq!(row_cells(&html, "enforce would not deliver")[1], "2");
    // RFC 8461 §5: only the enforce policy loses mail; the testing one is not listed.
    assert_eq!(row_cells(&html, "… and the policy loses mail now")[1], "1");
    assert!(html.contains("2 domains: 1 whose policy loses mail now"));
    assert!(!html.contains(&format!("{ACTION}<td>clean0.test</td>")));
    assert_eq!(row_cells(&html, "with MX")[1], "9");
    // Findings per code and severity.
    assert_eq!(row_cells(&html, "policy-fetch-failed")[1], "1");
    assert_eq!(row_cells(&html, "tlsrpt-absent-info")[1], "1");
    assert_eq!(row_cells(&html, "sts-policy-fetch-error")[1], "1");
    // MX rows: 1 + 1 + 2 × 7 = 16, of which 15 ok, 1 without STARTTLS.
    assert!(html.contains("16 rows of the <code>mx</code>"));
    assert_eq!(row_cells(&html, "starttls-not-offered")[1], "1");
    assert_eq!(row_cells(&html, "ok")[1..], ["15", "93.75"]);
    // Provider concentration: both provider hosts serve 7 domains; the operator domain
    // counts each domain once.
    assert_eq!(row_cells(&html, "mx1.provider.test")[1], "7");
    assert_eq!(row_cells(&html, "provider.test")[1], "7");
    // Domains needing action: enforce-undeliverable first, then the error. RFC 8461 §5:
    // "enforce: In this mode, Sending MTAs MUST NOT deliver the message to hosts that fail MX
    // matching or certificate validation" — such a domain is losing mail now.
    let a = html
        .find(&format!("{ACTION}<td>broken-enforce.test</td>"))
        .unwrap();
    let b = html
        .find(&format!("{ACTION}<td>hostile.test</td>"))
        .unwrap();
    assert!(a < b);
    let broken = row_cells_of(&html, ACTION, "broken-enforce.test");
    assert_eq!(broken[1], "enforce-undeliverable");
    assert!(broken[2].contains("validation-failure") && broken[2].contains("mx-not-covered"));
    // The fix is the wording of `stsscan check`.
    assert!(
        broken[3].contains("add an `mx:` line for this host"),
        "{}",
        broken[3]
    );
    let hostile = row_cells_of(&html, ACTION, "hostile.test");
    assert!(hostile[3].contains("serve the policy file at exactly /.well-known/mta-sts.txt"));
    assert!(hostile[3].contains("enable STARTTLS in the mail server"));
    assert!(!hostile[2].contains("not shown in the action list"));
    // Self-contained: nothing loaded from elsewhere, no script.
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("http://e"));
    assert!(html.contains("<svg"));
    assert!(assert_balanced(&html) > 100);
}

#[test]
fn hostile_finding_messages_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "esc", 1, 1, ScanStatus::Complete);
    let html = render(&opts(dir.path())).unwrap();
    assert!(!html.contains("<script>") && !html.contains("<b onmouseover"));
    assert!(html.contains("&lt;b onmouseover=1&gt;.hostile.test"));
    assert!(
        html.contains(
            "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"
        )
    );
    assert_balanced(&html);
}

#[test]
fn latest_complete_scan_is_chosen_and_history_charts_every_complete_scan() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "old", 1, 3, ScanStatus::Complete);
    write_scan(dir.path(), "new", 2, 5, ScanStatus::Complete);
    write_scan(dir.path(), "running", 3, 1, ScanStatus::Running);
    assert_eq!(select(dir.path(), None).unwrap().scan_id, "new");
    let html = render(&opts(dir.path())).unwrap();
    assert!(html.contains("scan new</h1>"));
    assert_eq!(row_cells(&html, "domains scanned")[1], "7");
    let mut o = opts(dir.path());
    o.scan_id = Some("old".into());
    assert_eq!(row_cells(&render(&o).unwrap(), "domains scanned")[1], "5");
    o.scan_id = Some("../etc".into());
    assert!(render(&o).is_err());
    o.scan_id = None;
    o.history = true;
    let html = render(&o).unwrap();
    assert!(html.contains("2 complete scans of 3"));
    assert!(html.contains("<polyline"));
    assert_eq!(row_cells(&html, "old")[2..4], ["5", "3"]);
    assert_eq!(row_cells(&html, "new")[2..4], ["7", "3"]);
    assert_balanced(&html);
}

/// A scan that fetched no policy and probed no MX (`--fetch-policy never --probe none`; see
/// docs/schema.md, "Narrower scan scopes") did not measure policies or deliverability: the
/// report says "not measured" instead of a count, says why, and leaves those figures out of
/// its charts. A full scan in the same history keeps its figures.
#[test]
fn figures_a_narrower_scope_did_not_measure_are_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "full", 1, 3, ScanStatus::Complete);
    let dns_only = serde_json::json!({"fetch_policy": "never", "probe": "none"});
    write_scan_with(dir.path(), "dns", 2, 3, ScanStatus::Complete, dns_only);
    let mut o = opts(dir.path());
    o.history = true;
    let html = render(&o).unwrap();
    assert!(html.contains("scan dns</h1>"));
    assert!(
        html.contains("ran with <code>--fetch-policy never and --probe none</code>"),
        "the report says why figures are missing"
    );
    for figure in [
        "usable MTA-STS policy",
        "mode enforce",
        "enforce would not deliver",
        "… and the policy loses mail now",
    ] {
        assert_eq!(
            row_cells(&html, figure)[1..],
            ["not measured", ""],
            "{figure}"
        );
    }
    assert_eq!(row_cells(&html, "valid MTA-STS TXT")[1], "3");
    // History: (scan, started, domains, valid TXT, usable, valid TLS-RPT, enforce would not
    // deliver).
    assert_eq!(row_cells(&html, "dns")[4], "not measured");
    assert_eq!(row_cells(&html, "dns")[6], "not measured");
    assert_eq!(row_cells(&html, "full")[4..7], ["2", "3", "2"]);
    assert_balanced(&html);

    // Probing nothing leaves the policy figures measured, deliverability not.
    let dir = tempfile::tempdir().unwrap();
    write_scan_with(
        dir.path(),
        "noprobe",
        1,
        3,
        ScanStatus::Complete,
        serde_json::json!({"fetch_policy": "auto", "probe": "none"}),
    );
    let html = render(&opts(dir.path())).unwrap();
    assert!(html.contains("ran with <code>--probe none</code>"));
    assert_eq!(row_cells(&html, "usable MTA-STS policy")[1], "2");
    assert_eq!(
        row_cells(&html, "enforce would not deliver")[1],
        "not measured"
    );
    // A full scan's page has no such sentence.
    write_scan(dir.path(), "later", 2, 3, ScanStatus::Complete);
    assert!(
        !render(&opts(dir.path()))
            .unwrap()
            .contains("This scan ran with")
    );
}

#[test]
fn action_list_keeps_only_the_top_n_most_urgent() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "top", 1, 2, ScanStatus::Complete);
    let mut o = opts(dir.path());
    o.top = 1;
    let html = render(&o).unwrap();
    assert!(html.contains("2 domains: 1 whose policy loses mail now"));
    assert!(html.contains(&format!("{ACTION}<td>broken-enforce.test</td>")));
    assert!(!html.contains(&format!("{ACTION}<td>hostile.test</td>")));
}

#[test]
fn no_complete_scan_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "crashed", 1, 1, ScanStatus::Running);
    let err = render(&opts(dir.path())).unwrap_err().to_string();
    assert!(err.contains("no complete scan"), "{err}");
}

#[test]
fn cli_writes_dir_report_html_by_default() {
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "cli", 1, 2, ScanStatus::Complete);
    let status = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .arg("report")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let out = dir.path().join("h.html");
    let status = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .args(["report", "--history", "--out"])
        .arg(&out)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success() && std::fs::read_to_string(out).unwrap().contains("History"));
}

/// The longest one Chromium run may take before it is killed: a loaded 2-core CI machine
/// starts it in about a second; a hang must fail the test, not stall CI.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);
/// The browser window (and screenshot) size.
const WIDTH: u32 = 1200;
const HEIGHT: u32 = 2400;

/// Chromium on the PATH (`chromium` as Debian names it, or `chromium-browser`).
fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `page` with `mode` (`--screenshot=FILE` or `--dump-dom`) in a
/// fresh profile and HOME under `dir`, with every host name resolving to nothing (the page
/// needs no network, and the test sends nothing off the machine). The process group is
/// killed after [`CHROMIUM_LIMIT`]. Returns stdout and stderr (the console log).
fn chromium(bin: &Path, dir: &Path, name: &str, page: &Path, mode: &str) -> (String, String) {
    use std::os::unix::process::CommandExt as _;
    let run = dir.join(name);
    let home = run.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let (out, err) = (run.join("stdout"), run.join("stderr"));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--force-color-profile=srgb",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", run.join("profile").display()))
        .arg(format!("--window-size={WIDTH},{HEIGHT}"))
        .arg(mode)
        .arg(format!("file://{}", page.display()))
        .env("HOME", &home)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + CHROMIUM_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            panic!(
                "Chromium ({mode}) did not finish within {CHROMIUM_LIMIT:?}:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    );
    assert!(
        status.success(),
        "Chromium ({mode}) failed: {status}\n{err}"
    );
    (out, err)
}

/// The console messages in Chromium's log (`INFO:CONSOLE:N] "…"`): a Content-Security-Policy
/// violation, a script error ("Uncaught …") or a failed load. The report has no script and
/// loads nothing, so there must be none.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// Decodes a PNG into 8-bit RGB(A) pixels: (width, height, channels, bytes).
fn decode_png(path: &Path) -> (u32, u32, usize, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut dec = png::Decoder::new(file);
    dec.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    assert!(channels >= 3, "not a colour image: {:?}", info.color_type);
    (info.width, info.height, channels, buf)
}

/// Headless Chromium (Debian's `chromium`; CI installs it, see `.ci/run`) renders a history
/// report with hostile scan text: the page's DOM after load holds every SVG chart, the
/// headline figures and the hostile text as text; the console shows no CSP violation, script
/// error or failed load; the screenshot has the window's size, is not blank and shows the
/// charts' bars. Without Chromium the test is skipped, unless `STSSCAN_REQUIRE_TOOLS=1`.
#[test]
fn chromium_renders_the_page_when_installed() {
    let Some(bin) = find_chromium() else {
        assert!(
            std::env::var("STSSCAN_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "chromium is not installed and STSSCAN_REQUIRE_TOOLS=1 (see .ci/run)"
        );
        eprintln!("note: chromium not installed; skipping (STSSCAN_REQUIRE_TOOLS=1 fails)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    write_scan(dir.path(), "first", 1, 3, ScanStatus::Complete);
    write_scan(dir.path(), "second", 2, 5, ScanStatus::Complete);
    let mut o = opts(dir.path());
    o.history = true;
    let html = render(&o).unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let svgs = html.matches("<svg").count();
    assert!(svgs >= 3, "{svgs} charts");

    // The DOM after the page has loaded.
    let (dom, log) = chromium(&bin, dir.path(), "dom", &page, "--dump-dom");
    assert!(
        console_messages(&log).is_empty(),
        "{:#?}",
        console_messages(&log)
    );
    assert_eq!(dom.matches("<svg").count(), svgs, "{dom}");
    assert!(dom.contains("<polyline") && dom.contains("<rect"));
    assert!(dom.contains("scan second</h1>"));
    assert!(dom.contains("<td>domains scanned</td><td class=\"n\">7</td>"));
    assert!(dom.contains("<td>enforce would not deliver</td><td class=\"n\">2</td>"));
    assert!(dom.contains("<td>broken-enforce.test</td>"));
    // The hostile message stays text: no element was made from it.
    assert!(!dom.contains("<script") && !dom.contains("<b onmouseover"));
    assert!(dom.contains("&lt;script&gt;alert('pwned')&lt;/script&gt; &amp;"));

    // The screenshot.
    let png = dir.path().join("report.png");
    let (_, log) = chromium(
        &bin,
        dir.path(),
        "png",
        &page,
        &format!("--screenshot={}", png.display()),
    );
    assert!(
        console_messages(&log).is_empty(),
        "{:#?}",
        console_messages(&log)
    );
    let (w, h, channels, px) = decode_png(&png);
    assert_eq!((w, h), (WIDTH, HEIGHT));
    let pixels = px.chunks_exact(channels);
    let total = pixels.len();
    let inked = pixels.clone().filter(|p| p[..3] != [255, 255, 255]).count();
    // The first chart colour, #1f77b4, fills the bars.
    let bars = pixels.filter(|p| p[..3] == [0x1f, 0x77, 0xb4]).count();
    assert!(
        inked * 50 > total,
        "blank screenshot: {inked} of {total} pixels inked"
    );
    assert!(bars > 500, "no chart bars: {bars} pixels of the bar colour");
}
