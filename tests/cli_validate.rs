//! `stsscan validate` end to end: run the built binary, check exit codes and the JSON output;
//! and how commands behave when their standard output or error is closed early.
//! No network: every input is an argument, a temporary file or standard input.

#![allow(clippy::expect_used, reason = "test helpers fail loudly")]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .arg("validate")
        .args(args)
        .output()
        .expect("run stsscan")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .arg("validate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stsscan");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().expect("exit code"), v)
}

fn codes(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .expect("array")
        .iter()
        .map(|d| d["code"].as_str().expect("code").to_owned())
        .collect()
}

#[test]
fn sts_txt_valid_exits_0_with_parsed_id() {
    let (code, v) = json(&["sts-txt", "v=STSv1; id=20160831085700Z;"]);
    assert_eq!(code, 0);
    assert_eq!(v["valid"], true);
    assert_eq!(v["what"], "sts-txt");
    assert_eq!(v["outcome"], "valid");
    assert_eq!(v["parsed"]["id"], "20160831085700Z");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn sts_txt_bad_id_exits_1_with_span() {
    let (code, v) = json(&["sts-txt", "v=STSv1; id=2024-01-01"]);
    assert_eq!(code, 1);
    assert_eq!(v["valid"], false);
    assert_eq!(codes(&v, "errors"), vec!["sts-txt-bad-id"]);
    assert_eq!(v["errors"][0]["span"]["start"], 16);
    assert_eq!(v["errors"][0]["span"]["end"], 17);
}

#[test]
fn sts_txt_two_records_are_an_rrset() {
    let (code, v) = json(&["sts-txt", "v=STSv1; id=1", "v=STSv1; id=2", "v=spf1 -all"]);
    assert_eq!(code, 1);
    assert_eq!(v["outcome"], "multiple");
    assert_eq!(codes(&v, "findings"), vec!["sts-txt-multiple-records"]);
    assert_eq!(v["discarded"][0]["index"], 2);
}

#[test]
fn tlsrpt_txt_unencoded_bang_is_invalid() {
    let (code, v) = json(&["tlsrpt-txt", "v=TLSRPTv1; rua=mailto:r@example.com!10m"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v, "findings"), vec!["tlsrpt-txt-unencoded-bang"]);
    assert_eq!(v["findings"][0]["severity"], "error");
    let (code, v) = json(&["tlsrpt-txt", "v=TLSRPTv1; rua=mailto:r@example.com"]);
    assert_eq!(code, 0);
    assert_eq!(v["parsed"]["rua"][0]["scheme"], "mailto");
}

#[test]
fn mx_match_exit_codes() {
    let (code, v) = json(&["mx-match", "--pattern", "*.example.com", "MX1.example.com."]);
    assert_eq!(code, 0);
    assert_eq!(v["matches"], true);
    let (code, v) = json(&[
        "mx-match",
        "--pattern",
        "*.example.com",
        "--pattern",
        "mail.example.net",
        "a.b.example.com",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["matches"], false);
    assert_eq!(v["parsed"]["patterns"][1]["pattern"], "mail.example.net");
    let (code, v) = json(&["mx-match", "--pattern", "mx.example.com.", "mx.example.com"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v, "errors"), vec!["mx-pattern-trailing-dot"]);
    assert_eq!(v["errors"][0]["input"], 0);
}

#[test]
fn domain_idna() {
    let (code, v) = json(&["domain", "Bücher.Example."]);
    assert_eq!(code, 0);
    assert_eq!(v["parsed"]["ascii"], "xn--bcher-kva.example");
    assert_eq!(v["parsed"]["unicode"], "bücher.example");
    let (code, v) = json(&["domain", "exa_mple.com"]);
    assert_eq!(code, 1);
    assert_eq!(codes(&v, "errors"), vec!["domain-bad-char"]);
}

#[test]
fn policy_from_stdin_and_file() {
    let body = b"version: STSv1\r\nmode: enforce\r\nmx: *.example.com\r\nmax_age: 604800\r\n";
    let out = run_stdin(&["--format", "json", "policy", "-"], body);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["parsed"]["mode"], "enforce");
    assert_eq!(v["parsed"]["mx"][0], "*.example.com");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mta-sts.txt");
    std::fs::write(&path, b"version: STSv1\nmode: enforcing\nmax_age: 86400\n").expect("write");
    let (code, v) = json(&["policy", path.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    assert_eq!(v["valid"], false);
    assert!(!codes(&v, "errors").is_empty());
}

#[test]
fn tlsrpt_report_plain_and_gzip() {
    let report = br#"{"organization-name":"Company-X","date-range":{"start-datetime":"2016-04-01T00:00:00Z","end-datetime":"2016-04-01T23:59:59Z"},"contact-info":"sts-reporting@company-x.example","report-id":"5065427c-23d3-47ca-b6e0-946ea0e8c4be","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: *.mail.company-y.example","max_age: 86400"],"policy-domain":"company-y.example","mx-host":["*.mail.company-y.example"]},"summary":{"total-successful-session-count":5326,"total-failure-session-count":303},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"2001:db8:abcd:0012::1","receiving-mx-hostname":"mx1.mail.company-y.example","failed-session-count":100}]}]}"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("r.json");
    std::fs::write(&plain, report).expect("write");
    let (code, v) = json(&["tlsrpt-report", plain.to_str().expect("path")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["parsed"]["organization_name"], "Company-X");
    assert_eq!(v["gzip"], false);

    let gz = dir.path().join("r.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(report).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let (code, v) = json(&["tlsrpt-report", gz.to_str().expect("path")]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["gzip"], true);
    assert_eq!(
        v["parsed"]["policies"][0]["failure_details"][0]["result_type"],
        "certificate-expired"
    );

    std::fs::write(&plain, b"{not json").expect("write");
    let (code, v) = json(&["tlsrpt-report", plain.to_str().expect("path")]);
    assert_eq!(code, 1);
    assert_eq!(v["valid"], false);
}

#[test]
fn human_output_has_verdict_position_and_caret() {
    let out = run(&["sts-txt", "v=STSv1; id=2024-01-01"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("sts-txt: INVALID\n"), "{text}");
    assert!(text.contains("error[sts-txt-bad-id] at 1:17:"), "{text}");
    assert!(text.contains("1 | v=STSv1; id=2024-01-01"), "{text}");
    assert!(
        text.contains("|                 ^ sts-txt-bad-id"),
        "{text}"
    );
    let out = run(&["domain", "example.com"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ascii: \"example.com\""));
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(run(&["sts-txt"]).status.code(), Some(2));
    assert_eq!(run(&["mx-match", "host.example"]).status.code(), Some(2));
    assert_eq!(
        run(&["--format", "xml", "domain", "a.example"])
            .status
            .code(),
        Some(2)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.txt");
    let out = run(&["policy", missing.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.txt"));
}

/// An output whose reader has already gone: the write end of a pipe whose only reader
/// (a `true` process) has exited, so every write fails with EPIPE.
fn closed_pipe() -> Stdio {
    let mut reader = Command::new("true")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn true");
    let write_end = reader.stdin.take().expect("pipe");
    reader.wait().expect("wait for true");
    Stdio::from(write_end)
}

/// `stsscan validate policy FILE | head -1` and friends: a reader that stops early costs the
/// output, not the verdict (exit 0 valid, 1 invalid), and never a panic.
#[test]
fn a_closed_standard_output_keeps_the_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (body, code) in [
        (
            &b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 604800\r\n"[..],
            0,
        ),
        (
            &b"version: STSv1\nmode: Enforce\nmx: *.*.example.com\nmax_age: 10\n"[..],
            1,
        ),
    ] {
        let path = dir.path().join(format!("policy-{code}.txt"));
        std::fs::write(&path, body).expect("write policy");
        let out = Command::new(env!("CARGO_BIN_EXE_stsscan"))
            .args(["validate", "policy"])
            .arg(&path)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .expect("run stsscan");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(stderr.is_empty(), "{stderr}");
    }
    // `lab domains` writes through its own writer.
    let out = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .args(["lab", "domains", "--domains", "20000"])
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .expect("run stsscan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

/// A closed standard error: the failure is still the exit status (2), not a panic (101).
#[test]
fn a_closed_standard_error_keeps_the_exit_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_stsscan"))
        .arg("report")
        .arg(dir.path().join("no-such-dataset"))
        .stdout(Stdio::piped())
        .stderr(closed_pipe())
        .output()
        .expect("run stsscan");
    assert_eq!(out.status.code(), Some(2));
}

/// A generated world is bounded: `lab serve` writes the whole domain list before serving, so a
/// typo of a few digits more must be refused, naming the value, not fill the disk.
#[test]
fn an_oversized_lab_world_is_refused() {
    for sub in ["domains", "serve"] {
        let out = Command::new(env!("CARGO_BIN_EXE_stsscan"))
            .args(["lab", sub, "--domains", "99999999999"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run stsscan");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub}: {stderr}");
        assert!(stderr.contains("99999999999"), "{sub}: {stderr}");
        assert!(out.stdout.is_empty(), "{sub}: wrote before refusing");
    }
}
