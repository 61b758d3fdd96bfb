//! Running a real MTA as a child process for one test: finding its binary (or skipping),
//! a private loopback address, a temp dir with the lab certificate, a guard that kills every
//! process it started, and the STARTTLS probe with the verdicts the tests assert.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stsscan::lab::model::{CertSpec, CertVariant};
use stsscan::lab::server::Pki;
use stsscan::smtp::{ProbeConfig, SmtpPhase, SmtpProbe, SmtpStatus, probe};
use stsscan::tls::{
    CertInfo, CertVerdict, TrustAnchors, UnixTime, capturing_client_config, verdict_for_name,
};

/// The name every MTA's certificate is issued for.
pub(crate) const MX_NAME: &str = "mx.interop.test";
/// The EHLO name the probe sends.
pub(crate) const EHLO_NAME: &str = "scanner.interop.test";
/// How long a daemon may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Start attempts (each on a fresh random address) before giving up.
const START_ATTEMPTS: usize = 3;

/// The first existing executable among `$env_var` and `candidates`. `None` means skip —
/// unless `STSSCAN_REQUIRE_TOOLS=1`, in which case the test fails.
pub(crate) fn find_tool(what: &str, env_var: &str, candidates: &[&str]) -> Option<PathBuf> {
    let from_env = std::env::var_os(env_var).map(PathBuf::from);
    let found = from_env
        .into_iter()
        .chain(candidates.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var("STSSCAN_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{what} is not installed and STSSCAN_REQUIRE_TOOLS=1 (see .ci/run)");
        }
        eprintln!(
            "note: {what} not installed; skipping (set {env_var} or install it as .ci/run does; \
             STSSCAN_REQUIRE_TOOLS=1 makes this a failure)"
        );
    }
    found
}

/// A random loopback address 127.B.C.D, away from 127.0.0.0/16 where other tests and
/// system services live, and a random high port (a system MTA listening on `0.0.0.0:25`
/// would make port 25 unusable on every loopback address). Calls in one process never share
/// an input (a counter is mixed in: two tests asking within one clock tick got the same
/// endpoint, and one probed the other's daemon).
pub(crate) fn random_endpoint() -> SocketAddr {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let mut x = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ call.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ 0x9e37_79b9_7f4a_7c15;
    // splitmix64 finaliser: adjacent calls give unrelated addresses.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    let b = 100 + (x % 150) as u8;
    let c = (x >> 8) as u8;
    let d = 2 + ((x >> 16) % 250) as u8;
    let port = 20_000 + ((x >> 24) % 40_000) as u16;
    SocketAddr::from((Ipv4Addr::new(127, b, c, d), port))
}

/// A temp dir for one MTA instance, readable by the unprivileged users the MTAs switch to,
/// holding `chain.pem` / `key.pem` for [`MX_NAME`] from the lab PKI.
pub(crate) struct Instance {
    /// The temp dir (removed on drop).
    pub(crate) dir: tempfile::TempDir,
    /// The lab PKI that issued the certificate.
    pub(crate) pki: Arc<Pki>,
}

impl Instance {
    /// Makes the dir and writes the certificate files.
    pub(crate) fn new() -> Instance {
        let dir = tempfile::Builder::new()
            .prefix("stsscan-interop-")
            .tempdir()
            .unwrap();
        set_mode(dir.path(), 0o755);
        let pki = Arc::new(Pki::new().unwrap());
        let pem = pki
            .leaf_pem(&CertSpec {
                names: vec![MX_NAME.to_owned()],
                variant: CertVariant::Valid,
            })
            .unwrap();
        // Test-only key; the MTAs read it after dropping privileges.
        for (name, text) in [("chain.pem", &pem.chain_pem), ("key.pem", &pem.key_pem)] {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            set_mode(&p, 0o644);
        }
        Instance { dir, pki }
    }

    /// The dir as text, for config templates.
    pub(crate) fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// Writes `template` with every `(placeholder, value)` substituted to `name` in the dir;
    /// panics if a placeholder is left.
    pub(crate) fn write_config(
        &self,
        name: &str,
        template: &str,
        vars: &[(&str, &str)],
    ) -> PathBuf {
        let mut text = template.replace("@DIR@", self.path());
        for (k, v) in vars {
            text = text.replace(k, v);
        }
        assert!(
            !text.contains('@'),
            "unsubstituted placeholder in {name}:\n{text}"
        );
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Sets the permission bits of `p`.
pub(crate) fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A running daemon. Drop kills it: first every pid listed in `pid_files` (daemons that
/// detach their master, like Postfix's), then the child itself, and reaps the child.
pub(crate) struct Daemon {
    /// The address it listens on.
    pub(crate) addr: SocketAddr,
    child: Child,
    pid_files: Vec<PathBuf>,
    log: PathBuf,
}

impl Daemon {
    /// The daemon's stdout/stderr so far (capped), for failure messages.
    pub(crate) fn log(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(8192);
        String::from_utf8_lossy(&text[start..]).into_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let term = |pid: u32| {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        };
        for f in &self.pid_files {
            if let Ok(text) = std::fs::read_to_string(f) {
                if let Ok(pid) = text.trim().parse::<u32>() {
                    term(pid);
                }
            }
        }
        // SIGTERM first so the daemon stops its own children; SIGKILL after a bounded wait.
        term(self.child.id());
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a daemon on a fresh random loopback address and port (up to [`START_ATTEMPTS`]
/// times, in case it is taken), returning once it accepts TCP connections.
/// `spawn(addr)` writes the configuration for `addr` and returns the command to run plus the
/// pid files to kill at the end.
pub(crate) fn start(
    name: &str,
    inst: &Instance,
    mut spawn: impl FnMut(SocketAddr) -> (Command, Vec<PathBuf>),
) -> Daemon {
    let mut last_log = String::new();
    for attempt in 0..START_ATTEMPTS {
        let addr = random_endpoint();
        // Something already listening there (another test's daemon, a leftover) would pass
        // the readiness check below in our daemon's place.
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            continue;
        }
        let (mut cmd, pid_files) = spawn(addr);
        let log = inst.dir.path().join(format!("{name}-{attempt}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut d = Daemon {
            addr,
            child,
            pid_files,
            log,
        };
        let until = Instant::now() + START_TIMEOUT;
        while Instant::now() < until {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return d;
            }
            if let Ok(Some(_)) = d.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last_log = d.log();
        drop(d);
    }
    panic!("{name} did not start listening after {START_ATTEMPTS} attempts; last log:\n{last_log}");
}

/// Probes `addr` as stsscan does, with SNI `name`.
pub(crate) async fn run_probe(addr: SocketAddr, name: &str) -> SmtpProbe {
    let tls = capturing_client_config(&TrustAnchors::mozilla()).unwrap();
    let mut cfg = ProbeConfig::new(EHLO_NAME, tls);
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.phase_timeout = Duration::from_secs(10);
    cfg.session_deadline = Duration::from_secs(30);
    probe(addr, name, &cfg).await
}

/// The probe's chain judged for `name`, trusting the lab root only / the Mozilla roots only.
pub(crate) fn verdicts(p: &SmtpProbe, pki: &Pki, name: &str) -> (CertVerdict, CertVerdict) {
    let mut lab = TrustAnchors::empty();
    lab.add_pem(pki.root_pem().as_bytes(), "lab root").unwrap();
    let now = UnixTime::now();
    (
        verdict_for_name(&p.chain, &lab, now, name).verdict,
        verdict_for_name(&p.chain, &TrustAnchors::mozilla(), now, name).verdict,
    )
}

/// Asserts the chain the server presented is exactly the lab's leaf for [`MX_NAME`] plus the
/// lab intermediate, and the verdicts for the right name and for another name.
pub(crate) fn assert_lab_chain(p: &SmtpProbe, pki: &Pki, log: &str) {
    assert_eq!(
        p.chain.len(),
        2,
        "leaf + intermediate expected; log:\n{log}"
    );
    assert_eq!(&p.chain[1], pki.intermediate_der());
    let leaf = CertInfo::from_der(&p.chain[0]).unwrap();
    assert_eq!(leaf.san_dns, vec![MX_NAME.to_owned()]);
    assert_eq!(leaf.subject, format!("CN={MX_NAME}"));
    assert!(
        leaf.issuer.contains("CN=stsscan lab intermediate CA"),
        "{}",
        leaf.issuer
    );
    // RFC 8461 §4.2: "the MX host name ... MUST match ... the identity in the certificate";
    // the lab root makes the chain valid, the Mozilla roots alone do not.
    assert_eq!(
        verdicts(p, pki, MX_NAME),
        (CertVerdict::Valid, CertVerdict::Untrusted)
    );
    assert_eq!(
        verdicts(p, pki, "other.interop.test").0,
        CertVerdict::NameMismatch
    );
}

/// Runs `f` with a bound on its duration, so no interop test can hang.
pub(crate) async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(90), f)
        .await
        .expect("interop test exceeded 90 s");
}

impl Daemon {
    /// The daemon's log once it contains `needle` (a line written as a session ends may
    /// trail the probe a little), waiting at most 5 s; the log as it is otherwise.
    pub(crate) async fn log_containing(&self, needle: &str) -> String {
        let mut log = self.log();
        for _ in 0..50 {
            if log.contains(needle) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            log = self.log();
        }
        log
    }
}

/// What every MTA's "STARTTLS off" test checks: the dialog stops after EHLO with
/// `starttls-not-offered`, the greeting and EHLO lines are recorded and no TLS fact is.
/// RFC 3207 §3: "The STARTTLS keyword is used to tell the SMTP client that the SMTP server is
/// currently able to negotiate the use of TLS."
pub(crate) fn assert_starttls_not_offered(
    p: &SmtpProbe,
    greeting: &str,
    ehlo_lines: &[String],
    log: &str,
) {
    assert_eq!(p.status, SmtpStatus::StarttlsNotOffered, "{p:?}\n{log}");
    assert_eq!(p.phase, SmtpPhase::Ehlo, "{p:?}");
    assert_eq!(p.greeting.as_deref(), Some(greeting));
    assert_eq!(p.ehlo_lines, ehlo_lines);
    assert_eq!(p.starttls_offered, Some(false));
    assert_eq!(p.starttls_code, None);
    assert_eq!(p.injection(), None);
    assert_eq!(p.sni, None);
    assert_eq!(p.tls_version, None);
    assert!(p.chain.is_empty());
}

/// What every MTA's "TLS 1.2 only" test checks: the probe completes on TLS 1.2 with the
/// expected ECDHE suite and records the lab chain.
pub(crate) fn assert_tls12_ok(p: &SmtpProbe, cipher: &str, pki: &Pki, log: &str) {
    assert_eq!(p.status, SmtpStatus::Ok, "{p:?}\n{log}");
    assert_eq!(p.phase, SmtpPhase::Done);
    assert_eq!(p.tls_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(p.tls_cipher.as_deref(), Some(cipher));
    assert_lab_chain(p, pki, log);
}
