//! Real tools against the lab: `dig` and `kdig` (UDP, TCP, TC fallback, multi-string TXT, null
//! MX, NXDOMAIN), `curl` (policy fetch with the lab CA, chunked body, expired certificate,
//! redirect not followed) and `openssl s_client` (STARTTLS with the lab CA; failures for the
//! broken personalities). A missing tool skips its test with a note, unless
//! `STSSCAN_REQUIRE_TOOLS=1`, in which case the test fails.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use stsscan::lab::model::SmtpPersonality as P;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{CHUNKED_LEN, POLICY, lab};

/// Bound on every tool run.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// True when `tool` is installed; otherwise prints a note (or fails when tools are required).
fn have(tool: &str) -> bool {
    if find(tool).is_some() {
        return true;
    }
    if std::env::var("STSSCAN_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("{tool} is not installed and STSSCAN_REQUIRE_TOOLS=1");
    }
    eprintln!("note: {tool} not installed; skipping (set STSSCAN_REQUIRE_TOOLS=1 to fail)");
    false
}

struct Out {
    ok: bool,
    stdout: String,
    all: String,
}

async fn run(tool: &str, args: &[String], stdin: &[u8]) -> Out {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(TOOL_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{tool} {args:?} did not finish"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    Out {
        ok: out.status.success(),
        stdout,
        all,
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

#[tokio::test]
async fn tool_dig() {
    if !have("dig") {
        return;
    }
    let (lab, w) = lab().await;
    let at = format!("@{}", lab.dns_addr().ip());
    let port = lab.dns_addr().port().to_string();
    let dig = |extra: &[&str]| {
        let mut a = s(&[&at, "-p", &port, "+time=2", "+tries=1"]);
        a.extend(s(extra));
        a
    };
    let o = run("dig", &dig(&["_mta-sts.valid.test", "TXT", "+short"]), b"").await;
    assert_eq!(o.stdout.trim(), "\"v=STSv1; id=20260101;\"", "{}", o.all);
    // RFC 1035 §3.3.14: "TXT-DATA One or more <character-string>s." — dig shows each one.
    let o = run("dig", &dig(&["multi.test", "TXT", "+short"]), b"").await;
    assert_eq!(
        o.stdout.trim(),
        "\"v=STSv1; \" \"id=multi1;\" \"\"",
        "{}",
        o.all
    );
    // RFC 7505 §3: the null MX is preference 0 and the root name ".".
    let o = run("dig", &dig(&["nullmx.test", "MX", "+short"]), b"").await;
    assert_eq!(o.stdout.trim(), "0 .", "{}", o.all);
    let o = run("dig", &dig(&["nx.test", "TXT"]), b"").await;
    assert!(o.stdout.contains("status: NXDOMAIN"), "{}", o.all);
    let o = run("dig", &dig(&["refused.test", "TXT"]), b"").await;
    assert!(o.stdout.contains("status: REFUSED"), "{}", o.all);
    // TC over UDP: +ignore shows the flag; by default dig retries over TCP and gets the data.
    let o = run("dig", &dig(&["tc.test", "TXT", "+ignore"]), b"").await;
    assert!(o.stdout.contains(" tc"), "{}", o.all);
    let o = run("dig", &dig(&["tc.test", "TXT", "+short"]), b"").await;
    assert_eq!(o.stdout.trim(), "\"v=STSv1; id=truncated;\"", "{}", o.all);
    let o = run("dig", &dig(&["cname.test", "TXT", "+tcp", "+short"]), b"").await;
    assert_eq!(
        o.stdout.trim(),
        "hop.vendor.test.\nfinal.vendor.test.\n\"v=STSv1; id=vendor;\"",
        "{}",
        o.all
    );
    let addr = w.b.addr(1, 1).to_string();
    let o = run(
        "dig",
        &dig(&["mta-sts.valid.test", "A", "+tcp", "+short"]),
        b"",
    )
    .await;
    assert_eq!(o.stdout.trim(), addr, "{}", o.all);
    assert!(lab.counters().dns_total() >= 9);
    lab.shutdown().await;
}

#[tokio::test]
async fn tool_kdig() {
    if !have("kdig") {
        return;
    }
    let (lab, _w) = lab().await;
    let at = format!("@{}", lab.dns_addr().ip());
    let port = lab.dns_addr().port().to_string();
    let kdig = |extra: &[&str]| {
        let mut a = s(&[&at, "-p", &port, "+time=2", "+retry=0"]);
        a.extend(s(extra));
        a
    };
    let o = run("kdig", &kdig(&["valid.test", "MX", "+short"]), b"").await;
    assert_eq!(o.stdout.trim(), "10 mx.valid.test.", "{}", o.all);
    let o = run("kdig", &kdig(&["multi.test", "TXT", "+tcp", "+short"]), b"").await;
    assert_eq!(
        o.stdout.trim(),
        "\"v=STSv1; \" \"id=multi1;\" \"\"",
        "{}",
        o.all
    );
    let o = run("kdig", &kdig(&["servfail.test", "TXT"]), b"").await;
    assert!(o.stdout.contains("SERVFAIL"), "{}", o.all);
    let o = run("kdig", &kdig(&["valid.test", "AAAA"]), b"").await;
    assert!(
        o.stdout.contains("NOERROR") && o.stdout.contains("SOA"),
        "{}",
        o.all
    );
    let o = run("kdig", &kdig(&["tc.test", "TXT", "+tcp", "+short"]), b"").await;
    assert_eq!(o.stdout.trim(), "\"v=STSv1; id=truncated;\"", "{}", o.all);
    lab.shutdown().await;
}

#[tokio::test]
async fn tool_curl() {
    if !have("curl") {
        return;
    }
    let (lab, w) = lab().await;
    let port = lab.ports().https;
    let ca = lab.ca_file().to_string_lossy().into_owned();
    let ip = w.https_ip().to_string();
    let curl = |host: &str, extra: &[&str]| {
        let mut a = s(&["-sS", "--max-time", "10", "--cacert", &ca]);
        a.push("--resolve".into());
        a.push(format!("{host}:{port}:{ip}"));
        a.extend(s(extra));
        a.push(format!("https://{host}:{port}/.well-known/mta-sts.txt"));
        a
    };
    let o = run("curl", &curl("mta-sts.valid.test", &[]), b"").await;
    assert!(o.ok, "{}", o.all);
    assert_eq!(o.stdout, POLICY);
    let o = run("curl", &curl("chunked.test", &["-D", "-"]), b"").await;
    assert!(o.ok, "{}", o.all);
    assert!(
        o.stdout
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
    );
    assert!(o.stdout.len() > CHUNKED_LEN);
    // RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be followed" (curl without -L does not).
    let o = run(
        "curl",
        &curl("redirect.test", &["-o", "/dev/null", "-w", "%{http_code}"]),
        b"",
    )
    .await;
    assert_eq!(o.stdout, "301", "{}", o.all);
    // An expired certificate is rejected by curl's verifier (exit 60).
    let o = run("curl", &curl("expired.test", &[]), b"").await;
    assert!(!o.ok);
    assert!(o.all.to_ascii_lowercase().contains("expired"), "{}", o.all);
    let o = run("curl", &curl("selfsigned.test", &[]), b"").await;
    assert!(!o.ok, "{}", o.all);
    assert!(lab.counters().https_total() >= 3);
    lab.shutdown().await;
}

#[tokio::test]
async fn tool_openssl_starttls() {
    if !have("openssl") {
        return;
    }
    let (lab, w) = lab().await;
    let ca = lab.ca_file().to_string_lossy().into_owned();
    let port = lab.ports().smtp;
    let sc = |p: P, sni: &str| {
        let mut a = s(&["s_client", "-starttls", "smtp", "-connect"]);
        a.push(SocketAddr::new(w.smtp_ip(p), port).to_string());
        a.extend(s(&[
            "-servername",
            sni,
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-brief",
        ]));
        a
    };
    for p in [P::Normal, P::MultilineGreeting, P::PipelinedAfterStarttls] {
        let o = run("openssl", &sc(p, "mx.valid.test"), b"QUIT\r\n").await;
        assert!(o.ok, "{p:?}: {}", o.all);
        assert!(o.all.contains("Verification: OK"), "{p:?}: {}", o.all);
    }
    // The SMTP certificate depends on SNI: an expired one for `expired.mx.test`.
    let o = run("openssl", &sc(P::Normal, "expired.mx.test"), b"QUIT\r\n").await;
    assert!(!o.ok);
    assert!(o.all.contains("certificate has expired"), "{}", o.all);
    // TLS 1.0-only host: an OpenSSL client limited to TLS 1.2+ refuses the ServerHello's
    // version. (Debian's OpenSSL 3.0 still accepts TLS 1.0 by default, hence the flags.)
    let mut legacy = sc(P::LegacyTlsOnly, "mx.valid.test");
    legacy.extend(s(&["-no_tls1", "-no_tls1_1"]));
    let o = run("openssl", &legacy, b"QUIT\r\n").await;
    assert!(!o.ok);
    let text = o.all.to_ascii_lowercase();
    assert!(
        text.contains("unsupported protocol")
            || text.contains("wrong version")
            || text.contains("protocol version"),
        "{}",
        o.all
    );
    for p in [P::StarttlsRefused, P::HandshakeAbort, P::NoStarttls] {
        let o = run("openssl", &sc(p, "mx.valid.test"), b"QUIT\r\n").await;
        assert!(!o.ok, "{p:?} succeeded: {}", o.all);
    }
    // Plain HTTPS handshake: the policy host's chain verifies against the lab CA.
    let mut a = s(&["s_client", "-connect"]);
    a.push(SocketAddr::new(w.https_ip(), lab.ports().https).to_string());
    a.extend(s(&[
        "-servername",
        "mta-sts.valid.test",
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-brief",
    ]));
    let o = run("openssl", &a, b"").await;
    assert!(o.ok && o.all.contains("Verification: OK"), "{}", o.all);
    lab.shutdown().await;
}

/// `dig` against the random drop rate: at 1.0 it gets no reply (exit 9, "no servers could be
/// reached"), at 0.0 it always gets one; and a dangling CNAME shows as NXDOMAIN with the chain.
#[tokio::test]
async fn tool_dig_drops_and_dangling_cname() {
    if !have("dig") {
        return;
    }
    let (lab, _w) = lab().await;
    let at = format!("@{}", lab.dns_addr().ip());
    let port = lab.dns_addr().port().to_string();
    let dig = |extra: &[&str]| {
        let mut a = s(&[&at, "-p", &port, "+time=1", "+tries=1"]);
        a.extend(s(extra));
        a
    };
    for _ in 0..5 {
        let o = run("dig", &dig(&["drop0.test", "A", "+short"]), b"").await;
        assert!(o.ok && !o.stdout.trim().is_empty(), "{}", o.all);
    }
    for extra in [&[][..], &["+tcp"][..]] {
        let mut a = vec!["dropall.test", "A"];
        a.extend_from_slice(extra);
        let o = run("dig", &dig(&a), b"").await;
        assert!(!o.ok, "dig {a:?} must time out: {}", o.all);
        assert!(
            o.all.contains("timed out") || o.all.contains("no servers could be reached"),
            "{}",
            o.all
        );
    }
    assert!(lab.counters().dns_dropped() >= 2);
    let o = run("dig", &dig(&["dangling.test", "TXT"]), b"").await;
    assert!(o.all.contains("status: NXDOMAIN"), "{}", o.all);
    assert!(o.all.contains("CNAME\thop.vendor.test."), "{}", o.all);
    lab.shutdown().await;
}
