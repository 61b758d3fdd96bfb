//! Exim 4 (Debian `exim4-daemon-light`), run in the foreground with `exim4 -C FILE -bdf` from
//! the template in `scripts/interop/`. Debian's postfix and exim4 packages conflict, so
//! `.ci/run` installs Postfix and unpacks Exim's binary under `/opt/stsscan-interop/exim`.

use std::path::PathBuf;
use std::process::Command;

use stsscan::smtp::{SmtpPhase, SmtpStatus};

use crate::harness::{
    Daemon, EHLO_NAME, Instance, MX_NAME, assert_lab_chain, assert_starttls_not_offered,
    assert_tls12_ok, bounded, find_tool, run_probe, start,
};

const EXIM_CONF: &str = include_str!("../../scripts/interop/exim.conf.in");

/// The greeting configured with `smtp_banner`.
const GREETING: &str = "220 mx.interop.test ESMTP stsscan-interop-exim";

/// Exim 4.96's EHLO reply with our configuration: the first line greets the client by its
/// EHLO name and address (the probe connects from 127.0.0.1).
fn ehlo(starttls: bool) -> Vec<String> {
    let first = format!("{MX_NAME} Hello {EHLO_NAME} [127.0.0.1]");
    let mut v = vec![
        first.as_str(),
        "SIZE 52428800",
        "8BITMIME",
        "PIPELINING",
        "PIPECONNECT",
        "CHUNKING",
    ];
    if starttls {
        v.push("STARTTLS");
    }
    v.extend(["SMTPUTF8", "HELP"]);
    v.into_iter().map(String::from).collect()
}

fn exim() -> Option<PathBuf> {
    find_tool(
        "Exim",
        "STSSCAN_EXIM",
        &[
            "/usr/sbin/exim4",
            "/opt/stsscan-interop/exim/usr/sbin/exim4",
            "/usr/sbin/exim",
        ],
    )
}

/// Starts one Exim instance; `tls_hosts` is `tls_advertise_hosts`.
fn start_exim(bin: &PathBuf, inst: &Instance, tls_hosts: &str, ciphers: &str) -> Daemon {
    let spool = inst.dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    // Exim writes its spool and logs as its own user.
    let status = Command::new("chown")
        .arg("Debian-exim:")
        .arg(&spool)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "chown Debian-exim spool (does the user exist?)"
    );
    start("exim", inst, |addr| {
        let ip = addr.ip().to_string();
        let port = addr.port().to_string();
        let conf = inst.write_config(
            "exim.conf",
            EXIM_CONF,
            &[
                ("@TLS_HOSTS@", tls_hosts),
                ("@TLS_CIPHERS@", ciphers),
                ("@ADDR@", ip.as_str()),
                ("@PORT@", port.as_str()),
            ],
        );
        let mut cmd = Command::new(bin);
        // -bdf: daemon in the foreground; -q0 is not given, so no queue runner starts.
        cmd.arg("-C")
            .arg(&conf)
            .args(["-bdf", "-oP"])
            .arg(inst.dir.path().join("exim.pid"));
        (cmd, Vec::new())
    })
}

/// The main log Exim wrote, for failure messages and dialog checks.
fn mainlog(inst: &Instance) -> String {
    std::fs::read_to_string(inst.dir.path().join("spool/mainlog")).unwrap_or_default()
}

/// STARTTLS on with GnuTLS defaults: TLS 1.3.
#[tokio::test]
async fn exim_starttls_tls13() {
    let Some(bin) = exim() else { return };
    let inst = Instance::new();
    let d = start_exim(&bin, &inst, "*", "NORMAL");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        let log = format!("{}\n{}", d.log(), mainlog(&inst));
        assert_eq!(p.status, SmtpStatus::Ok, "{p:?}\n{log}");
        assert_eq!(p.phase, SmtpPhase::Done);
        assert_eq!(p.greeting.as_deref(), Some(GREETING));
        assert_eq!(p.ehlo_code, Some(250));
        assert_eq!(p.ehlo_lines, ehlo(true));
        let caps = p.capabilities.as_ref().unwrap();
        assert!(caps.starttls && caps.pipelining && caps.eightbitmime && caps.smtputf8);
        assert!(caps.chunking && !caps.enhancedstatuscodes && !caps.requiretls);
        assert_eq!(caps.size, Some(Some(52_428_800)));
        assert_eq!(p.starttls_offered, Some(true));
        assert_eq!(p.starttls_reply.as_deref(), Some("220 TLS go ahead"));
        assert_eq!(p.injection(), Some(false));
        assert_eq!(p.tls_version.as_deref(), Some("TLSv1.3"));
        assert_eq!(p.tls_cipher.as_deref(), Some("TLS13_AES_256_GCM_SHA384"));
        assert_lab_chain(&p, &inst.pki, &log);
        // RFC 3207 §4.2: "A server MUST NOT return the STARTTLS extension in response to an
        // EHLO command received after a TLS handshake has completed."
        assert_eq!(p.ehlo_tls_lines, ehlo(false));
        assert_eq!(p.starttls_after_tls(), Some(false));
        assert!(!p.bare_lf && !p.long_line && !p.timed_out);
    })
    .await;
}

/// `tls_require_ciphers = NORMAL:-VERS-TLS1.3`: TLS 1.2 with an ECDHE ECDSA suite.
#[tokio::test]
async fn exim_starttls_tls12_only() {
    let Some(bin) = exim() else { return };
    let inst = Instance::new();
    let d = start_exim(&bin, &inst, "*", "NORMAL:-VERS-TLS1.3");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        let log = format!("{}\n{}", d.log(), mainlog(&inst));
        let cipher = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384";
        assert_tls12_ok(&p, cipher, &inst.pki, &log);
    })
    .await;
}

/// `tls_advertise_hosts =` (empty): no STARTTLS keyword, `starttls-not-offered`.
#[tokio::test]
async fn exim_starttls_off() {
    let Some(bin) = exim() else { return };
    let inst = Instance::new();
    let d = start_exim(&bin, &inst, "", "NORMAL");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        assert_starttls_not_offered(&p, GREETING, &ehlo(false), &mainlog(&inst));
    })
    .await;
}
