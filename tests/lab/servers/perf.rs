//! A lab for `scripts/lab-perf.sh` to measure: an ignored test that starts the test world,
//! writes its addresses (DNS, one HTTPS host, one normal SMTP host, the CA file) to `$STSSCAN_LAB_PERF_INFO` (shell `KEY=value` lines) and serves until
//! `$STSSCAN_LAB_PERF_INFO.stop` appears or `$STSSCAN_LAB_PERF_SECONDS` (default 60, at most
//! 600) pass, with `$STSSCAN_LAB_PERF_WORKERS` UDP DNS workers (default 2). Performance is reported by the script, never asserted here.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by scripts/lab-perf.sh"]
async fn serve_lab_for_perf() {
    let Ok(info) = std::env::var("STSSCAN_LAB_PERF_INFO") else {
        eprintln!("note: STSSCAN_LAB_PERF_INFO not set; nothing to do");
        return;
    };
    let secs: u64 = std::env::var("STSSCAN_LAB_PERF_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
        .min(600);
    let workers = std::env::var("STSSCAN_LAB_PERF_WORKERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let mut made = None;
    let lab = stsscan::lab::server::start(
        |b| {
            let w = std::sync::Arc::new(super::TestWorld { b });
            made = Some(std::sync::Arc::clone(&w));
            w as std::sync::Arc<dyn stsscan::lab::model::World>
        },
        stsscan::lab::server::LabOptions {
            dns_udp_workers: workers,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let w = made.unwrap();
    let https = SocketAddr::new(w.https_ip(), lab.ports().https);
    let smtp = SocketAddr::new(
        w.smtp_ip(stsscan::lab::model::SmtpPersonality::Normal),
        lab.ports().smtp,
    );
    let text = format!(
        "DNS_IP={}\nDNS_PORT={}\nHTTPS={}\nSMTP={}\nCA={}\n",
        lab.dns_addr().ip(),
        lab.dns_addr().port(),
        https,
        smtp,
        lab.ca_file().display()
    );
    let tmp = format!("{info}.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &info).unwrap();
    let stop = format!("{info}.stop");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) && !std::path::Path::new(&stop).exists() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let c = lab.counters();
    eprintln!(
        "lab served {} DNS queries, {} HTTPS requests, HTTPS conns {:?}, SMTP conns {:?}",
        c.dns_total(),
        c.https_total(),
        c.https_conns(w.https_ip()),
        c.smtp_conns(w.smtp_ip(stsscan::lab::model::SmtpPersonality::Normal))
    );
    lab.shutdown().await;
}
