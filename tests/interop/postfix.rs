//! Postfix (Debian package `postfix`), run with `postfix -c DIR start-fg` from the templates
//! in `scripts/interop/`.

use std::path::PathBuf;
use std::process::Command;

use stsscan::smtp::{SmtpPhase, SmtpStatus};

use crate::harness::{
    Daemon, Instance, MX_NAME, assert_lab_chain, assert_starttls_not_offered, assert_tls12_ok,
    bounded, find_tool, run_probe, start,
};

const MAIN_CF: &str = include_str!("../../scripts/interop/postfix-main.cf.in");
const MASTER_CF: &str = include_str!("../../scripts/interop/postfix-master.cf.in");

/// The greeting configured with `smtpd_banner` (the `220` reply, as the probe records it).
const GREETING: &str = "220 mx.interop.test ESMTP stsscan-interop-postfix";

/// Postfix 3.7's EHLO reply with our main.cf, before TLS (the first line is `myhostname`).
fn ehlo(starttls: bool) -> Vec<String> {
    let mut v = vec![MX_NAME, "PIPELINING", "SIZE 10240000", "VRFY", "ETRN"];
    if starttls {
        v.push("STARTTLS");
    }
    v.extend([
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
    ]);
    v.into_iter().map(String::from).collect()
}

fn postfix() -> Option<PathBuf> {
    find_tool(
        "Postfix",
        "STSSCAN_POSTFIX",
        &["/usr/sbin/postfix", "/usr/local/sbin/postfix"],
    )
}

/// Starts one Postfix instance; `tls_level` is `smtpd_tls_security_level`.
fn start_postfix(bin: &PathBuf, inst: &Instance, tls_level: &str, protocols: &str) -> Daemon {
    for sub in ["conf", "queue", "data"] {
        std::fs::create_dir_all(inst.dir.path().join(sub)).unwrap();
    }
    // Postfix's daemons run as `postfix` and own data_directory.
    let status = Command::new("chown")
        .args(["postfix", &format!("{}/data", inst.path())])
        .status()
        .unwrap();
    assert!(status.success(), "chown postfix data dir");
    start("postfix", inst, |addr| {
        let ip = addr.ip().to_string();
        let port = addr.port().to_string();
        let vars = [
            ("@TLS_LEVEL@", tls_level),
            ("@TLS_PROTOCOLS@", protocols),
            ("@ADDR@", ip.as_str()),
            ("@PORT@", port.as_str()),
        ];
        inst.write_config("conf/main.cf", MAIN_CF, &vars);
        inst.write_config("conf/master.cf", MASTER_CF, &vars);
        let mut cmd = Command::new(bin);
        cmd.args(["-c", &format!("{}/conf", inst.path()), "start-fg"]);
        // start-fg runs `master -s` in its own session: kill it by its pid file too.
        let pid = inst.dir.path().join("queue/pid/master.pid");
        let _ = std::fs::remove_file(&pid);
        (cmd, vec![pid])
    })
}

/// STARTTLS on, TLS 1.2 and 1.3 accepted: the probe negotiates TLS 1.3 and records the
/// banner, both EHLO replies and the lab chain.
#[tokio::test]
async fn postfix_starttls_tls13() {
    let Some(bin) = postfix() else { return };
    let inst = Instance::new();
    let d = start_postfix(&bin, &inst, "may", ">=TLSv1.2");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        let log = d.log();
        assert_eq!(p.status, SmtpStatus::Ok, "{p:?}\n{log}");
        assert_eq!(p.phase, SmtpPhase::Done);
        assert_eq!(p.greeting.as_deref(), Some(GREETING));
        assert_eq!(p.greeting_code, Some(220));
        assert_eq!(p.ehlo_code, Some(250));
        assert!(!p.used_helo);
        assert_eq!(p.ehlo_lines, ehlo(true));
        let caps = p.capabilities.as_ref().unwrap();
        assert!(caps.starttls && caps.pipelining && caps.eightbitmime && caps.smtputf8);
        assert!(caps.chunking && caps.enhancedstatuscodes && !caps.requiretls);
        assert_eq!(caps.size, Some(Some(10_240_000)));
        assert_eq!(p.starttls_offered, Some(true));
        // RFC 3207 §4: "220 Ready to start TLS" is the example; Postfix adds an enhanced code.
        assert_eq!(
            p.starttls_reply.as_deref(),
            Some("220 2.0.0 Ready to start TLS")
        );
        assert_eq!(p.injection(), Some(false));
        assert_eq!(p.sni.as_deref(), Some(MX_NAME));
        assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(p.tls_cipher.as_deref(), Some("TLS13_AES_256_GCM_SHA384"));
        assert_lab_chain(&p, &inst.pki, &log);
        // RFC 3207 §4.2: "A server MUST NOT return the STARTTLS extension in response to an
        // EHLO command received after a TLS handshake has completed."
        assert_eq!(p.ehlo_tls_code, Some(250));
        assert_eq!(p.ehlo_tls_lines, ehlo(false));
        assert_eq!(p.starttls_after_tls(), Some(false));
        assert!(!p.bare_lf && !p.long_line && !p.timed_out);
        // Postfix logs the dialog it saw: one EHLO before and one after STARTTLS, then
        // QUIT (the line is written as the session ends: wait for it, boundedly).
        let want = "ehlo=2 starttls=1 quit=1 commands=4";
        let log = d.log_containing(want).await;
        assert!(log.contains(want), "{log}");
    })
    .await;
}

/// `smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2`: the probe records TLS 1.2 and an ECDHE
/// ECDSA suite (the lab key is P-256).
#[tokio::test]
async fn postfix_starttls_tls12_only() {
    let Some(bin) = postfix() else { return };
    let inst = Instance::new();
    let d = start_postfix(&bin, &inst, "may", ">=TLSv1.2, <=TLSv1.2");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        let cipher = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
        assert_tls12_ok(&p, cipher, &inst.pki, &d.log());
    })
    .await;
}

/// `smtpd_tls_security_level = none`: STARTTLS is not advertised, the probe stops after
/// EHLO with `starttls-not-offered` and records no TLS facts.
#[tokio::test]
async fn postfix_starttls_off() {
    let Some(bin) = postfix() else { return };
    let inst = Instance::new();
    let d = start_postfix(&bin, &inst, "none", ">=TLSv1.2");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        assert_starttls_not_offered(&p, GREETING, &ehlo(false), &d.log());
    })
    .await;
}
