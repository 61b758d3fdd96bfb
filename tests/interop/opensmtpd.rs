//! OpenSMTPD 6.8 (Debian `opensmtpd`), run in the foreground with `smtpd -d -f FILE` from the
//! template in `scripts/interop/`. Its binary is unpacked under `/opt/stsscan-interop/opensmtpd`
//! by `.ci/run` (the package conflicts with postfix).
//!
//! OpenSMTPD has a compiled-in spool (`/var/spool/smtpd`) and control socket
//! (`/var/run/smtpd.sock`) that one instance at a time can own, so these tests take a lock.
//! Its banner text is fixed (`ESMTP OpenSMTPD`; only the host name is configurable) and 6.8
//! has no per-listener TLS protocol setting, so there is no TLS 1.2-only case.

use std::path::PathBuf;
use std::process::Command;

use stsscan::smtp::{SmtpPhase, SmtpStatus};
use tokio::sync::Mutex;

use crate::harness::{
    Daemon, EHLO_NAME, Instance, MX_NAME, assert_starttls_not_offered, bounded, find_tool,
    run_probe, set_mode, start,
};

const SMTPD_CONF: &str = include_str!("../../scripts/interop/smtpd.conf.in");

/// One OpenSMTPD at a time (shared spool and control socket).
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The greeting: `hostname` from the listener, fixed text after it.
const GREETING: &str = "220 mx.interop.test ESMTP OpenSMTPD";

/// OpenSMTPD 6.8's EHLO reply.
fn ehlo(starttls: bool) -> Vec<String> {
    let first = format!("{MX_NAME} Hello {EHLO_NAME} [127.0.0.1], pleased to meet you");
    let mut v = vec![
        first.as_str(),
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
        "SIZE 36700160",
        "DSN",
    ];
    if starttls {
        v.push("STARTTLS");
    }
    v.push("HELP");
    v.into_iter().map(String::from).collect()
}

fn smtpd() -> Option<PathBuf> {
    find_tool(
        "OpenSMTPD",
        "STSSCAN_OPENSMTPD",
        &[
            "/usr/sbin/smtpd",
            "/opt/stsscan-interop/opensmtpd/usr/sbin/smtpd",
        ],
    )
}

fn start_smtpd(bin: &PathBuf, inst: &Instance, tls: &str) -> Daemon {
    // OpenSMTPD refuses a private key others can read.
    set_mode(&inst.dir.path().join("key.pem"), 0o600);
    start("opensmtpd", inst, |addr| {
        let ip = addr.ip().to_string();
        let port = addr.port().to_string();
        let conf = inst.write_config(
            "smtpd.conf",
            SMTPD_CONF,
            &[
                ("@TLS@", tls),
                ("@ADDR@", ip.as_str()),
                ("@PORT@", port.as_str()),
            ],
        );
        let mut cmd = Command::new(bin);
        // -v: the debug log names the TLS library error (see the STARTTLS test).
        cmd.arg("-d").arg("-v").arg("-f").arg(conf);
        (cmd, Vec::new())
    })
}

/// STARTTLS on (`listen … tls pki`). OpenSMTPD 6.8.0p2 as unpacked from Debian 12 offers
/// STARTTLS and answers `220`, then aborts every handshake with an `internal_error` alert.
///
/// The cause is in OpenSMTPD, not in its configuration or in the probe: 6.8 keeps private
/// keys in its privilege-separated `ca` process and gives the network-facing process a
/// public-only "fake" key whose RSA/ECDSA operations are routed to `ca` through
/// `RSA_METHOD`/`EC_KEY_METHOD` hooks and key ex_data (`rsae_*`/`ecdsae_*` in its debug log).
/// With OpenSSL 3 (Debian 12 links libssl3) the key handed to the TLS stack is the
/// provider's cached copy without those hooks, so the handshake signature is attempted with
/// the fake key and fails: `SSL_accept: error:…:missing private key` / `EVP lib`, hence the
/// alert. Measured here: ECDSA (the lab leaf) and RSA keys alike; TLS 1.3 and TLS 1.2
/// (`internal_error`); with RSA key exchange the decryption fails the same way
/// (`decrypt_error`); no `smtpd.conf` setting (pki lines, `ciphers`, key format, file modes)
/// avoids the privsep key path. Upstream: OpenSMTPD issues #1171 ("Incompatible with
/// OpenSSL 3.0") and #1239 (Debian 12, 6.8.0p2-4+b4), fixed by PR #1208 ("libtls: unbreak
/// with OpenSSL 3.x", OpenSMTPD 7.3). So real senders cannot use STARTTLS with this server
/// either, and the test pins what the probe records for it: everything up to STARTTLS, then
/// `handshake-failed` in phase `tls-handshake`, no TLS facts, and the daemon's own log names
/// the missing private key. If a fixed OpenSMTPD completes the handshake, this test fails
/// and should assert `ok` with the TLS fields as the Postfix/Exim tests do.
#[tokio::test]
async fn opensmtpd_starttls_handshake_alert() {
    let Some(bin) = smtpd() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let inst = Instance::new();
    let d = start_smtpd(&bin, &inst, "tls pki mx.interop.test");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        let log = d.log();
        assert_eq!(p.status, SmtpStatus::HandshakeFailed, "{p:?}\n{log}");
        assert_eq!(p.phase, SmtpPhase::TlsHandshake);
        assert_eq!(p.greeting.as_deref(), Some(GREETING));
        assert_eq!(p.ehlo_lines, ehlo(true));
        let caps = p.capabilities.as_ref().unwrap();
        assert!(caps.starttls && caps.eightbitmime && caps.enhancedstatuscodes);
        assert!(!caps.pipelining && !caps.chunking && !caps.smtputf8);
        assert_eq!(caps.size, Some(Some(36_700_160)));
        assert_eq!(p.starttls_offered, Some(true));
        assert_eq!(
            p.starttls_reply.as_deref(),
            Some("220 2.0.0 Ready to start TLS")
        );
        assert_eq!(p.injection(), Some(false));
        assert_eq!(p.sni.as_deref(), Some(MX_NAME));
        assert_eq!(
            p.detail.as_deref(),
            Some("TLS handshake: received fatal alert: InternalError")
        );
        assert_eq!(p.tls_version, None);
        assert!(p.chain.is_empty());
        assert!(p.capabilities_tls.is_none());
        assert!(!p.bare_lf && !p.long_line && !p.timed_out);
        // The server's side of it (its log line may trail the alert a little).
        let log = d.log_containing("missing private key").await;
        assert!(log.contains("missing private key"), "{log}");
        assert!(log.contains("EVP lib"), "{log}");
    })
    .await;
}

/// No `tls` on the listener: STARTTLS is not advertised.
#[tokio::test]
async fn opensmtpd_starttls_off() {
    let Some(bin) = smtpd() else { return };
    let _one = ONE_AT_A_TIME.lock().await;
    let inst = Instance::new();
    let d = start_smtpd(&bin, &inst, "");
    bounded(async {
        let p = run_probe(d.addr, MX_NAME).await;
        assert_starttls_not_offered(&p, GREETING, &ehlo(false), &d.log());
    })
    .await;
}
