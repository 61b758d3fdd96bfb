//! Running a whole scan: the input on its own thread feeding a bounded channel, domains
//! scanned as tasks under a semaphore (`--concurrency` in flight, memory flat whatever the
//! input size), rows handed to the Parquet writer thread, graceful shutdown and `--resume`.
//!
//! Shutdown: when `shutdown` turns true no new domain starts; domains in flight finish and
//! the dataset is closed with status `interrupted` (a later `--resume` completes it).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc, watch};

use super::config::ScanConfig;
use super::input::{InputEntry, InputError, InputReader, Normalized};
use super::scanner::Scanner;
use super::stats::ScanStats;
use crate::output::manifest::ScanStatus;
use crate::output::{
    DomainRow, Manifest, MxRow, OutputError, OutputWriter, RowSender, WriteSummary, WriterConfig,
};

/// Input entries per message from the reader thread to the scheduler. Sending one entry at a
/// time woke the reader thread (a futex wake and a context switch) for every domain the
/// scheduler took; a batch wakes it once per `INPUT_BATCH` domains.
const INPUT_BATCH: usize = 256;

/// Batches buffered between the reader thread and the scheduler (`INPUT_QUEUE` ×
/// `INPUT_BATCH` = 4 096 entries read ahead).
const INPUT_QUEUE: usize = 16;

/// Domains' rows per message to the writer thread: one message per domain woke the writer
/// thread (a futex wake and a context switch) for every domain.
const ROW_BATCH: usize = 32;

/// Rows on their way to the writer, sent [`ROW_BATCH`] domains at a time by whichever task
/// completes a batch; [`RowBatcher::flush`] sends the rest before the writer is finished.
struct RowBatcher {
    sender: RowSender,
    buf: std::sync::Mutex<Vec<(DomainRow, Vec<MxRow>)>>,
}

impl RowBatcher {
    fn new(sender: RowSender) -> Self {
        RowBatcher {
            sender,
            buf: std::sync::Mutex::new(Vec::with_capacity(ROW_BATCH)),
        }
    }

    fn take(&self, at_least: usize) -> Vec<(DomainRow, Vec<MxRow>)> {
        let mut buf = self
            .buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buf.len() >= at_least {
            std::mem::replace(&mut *buf, Vec::with_capacity(ROW_BATCH))
        } else {
            Vec::new()
        }
    }

    async fn push(&self, row: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        self.buf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((row, mx));
        self.sender.send_batch(self.take(ROW_BATCH)).await
    }

    async fn flush(&self) -> Result<(), OutputError> {
        self.sender.send_batch(self.take(1)).await
    }
}

/// A callback that sees every row before it is written (grading against the lab, `check`).
pub type RowTap = Arc<dyn Fn(&DomainRow, &[MxRow]) + Send + Sync>;

/// How to run a scan.
#[derive(Clone)]
pub struct RunOptions {
    /// The scan id (new scans: see [`new_scan_id`]).
    pub scan_id: String,
    /// Continue `scan_id`: skip input lines already in its completed parts; refuse if the
    /// configuration differs from the one in its manifest.
    pub resume: bool,
    /// Called with every row before it is written.
    pub tap: Option<RowTap>,
    /// Domain rows per Parquet part (None: the writer's default, 1 000 000).
    pub part_rows: Option<u64>,
}

/// What a finished run reports.
#[derive(Debug)]
pub struct RunSummary {
    /// The writer's summary (counts, parts, manifest path).
    pub written: WriteSummary,
    /// Whether the run was interrupted before the input ended.
    pub interrupted: bool,
    /// Cache statistics line.
    pub caches: String,
    /// Things the user should know that did not stop the run (one line each).
    pub warnings: Vec<String>,
}

/// A fresh scan id: UTC time and a random suffix, e.g. `20261129T120000Z-3f9a2c`.
pub fn new_scan_id() -> String {
    let now = Utc::now().format("%Y%m%dT%H%M%SZ");
    let rand = uuid::Uuid::new_v4().simple().to_string();
    format!("{now}-{}", &rand[..6])
}

/// The records core's normalizer in the shape the input reader takes.
pub fn normalize(raw: &str) -> Result<Normalized, InputError> {
    crate::records::domain::normalize(raw)
        .map(|d| Normalized {
            ascii: d.as_str().to_owned(),
            unicode: d.unicode().map(str::to_owned),
        })
        .map_err(|e| InputError::new(e.code, e.message))
}

/// The configuration as written into the manifest and file metadata.
pub fn config_json(cfg: &ScanConfig) -> serde_json::Value {
    serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null)
}

/// The key of the input files' SHA-256 in the manifest's `config` (one hex digest per input
/// path, `null` for standard input), which `--resume` checks: line numbers say which entries
/// are done, so they only mean the same domains in the same file.
pub const INPUT_SHA256: &str = "input_sha256";

/// The SHA-256 of each input file (`null` for `-`, standard input, or a file that cannot be
/// read, which the reader then reports).
fn input_fingerprint(paths: &[std::path::PathBuf]) -> serde_json::Value {
    use std::io::Read;
    let one = |p: &std::path::Path| -> Option<String> {
        if p.as_os_str() == "-" {
            return None;
        }
        let mut f = std::fs::File::open(p).ok()?;
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => ctx.update(&buf[..n]),
                Err(_) => return None,
            }
        }
        Some(hex::encode(ctx.finish()))
    };
    serde_json::Value::Array(
        paths
            .iter()
            .map(|p| one(p).map_or(serde_json::Value::Null, serde_json::Value::String))
            .collect(),
    )
}

/// The top-level settings that differ between two configurations, as `name: OLD at start, NEW
/// now` (at most four, then how many more).
fn differences(before: &serde_json::Value, now: &serde_json::Value) -> String {
    let empty = serde_json::Map::new();
    let (b, n) = (
        before.as_object().unwrap_or(&empty),
        now.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = b.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| b.get(*k) != n.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| {
                let t = v.map_or_else(|| "unset".to_owned(), serde_json::Value::to_string);
                t.chars().take(80).collect::<String>()
            };
            format!("{k}: {} at start, {} now", show(b.get(k)), show(n.get(k)))
        })
        .collect();
    let mut out = diffs.iter().take(4).cloned().collect::<Vec<_>>().join("; ");
    if diffs.len() > 4 {
        out.push_str(&format!("; and {} more", diffs.len() - 4));
    }
    out
}

/// `config` without the input fingerprint: the flags alone.
fn flags_of(config: &serde_json::Value) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove(INPUT_SHA256);
    }
    c
}

/// Runs a scan of `cfg` until the input ends or `shutdown` turns true.
///
/// The scheduling loop runs as a task on the runtime's workers, not on the caller's thread
/// (`block_on`): there, every finished domain's permit woke that thread through a futex and
/// every spawn from it had to wake a worker, two thread switches per domain.
pub async fn run(
    cfg: ScanConfig,
    opts: RunOptions,
    stats: Arc<ScanStats>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<RunSummary> {
    match tokio::spawn(schedule(cfg, opts, stats, shutdown)).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!("the scan task ended early: {e}")),
    }
}

async fn schedule(
    cfg: ScanConfig,
    opts: RunOptions,
    stats: Arc<ScanStats>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<RunSummary> {
    InputReader::check_readable(&cfg.input)?;
    let cfg = Arc::new(cfg);
    let mut config = config_json(&cfg);
    let fingerprint = {
        let paths = cfg.input.paths.clone();
        tokio::task::spawn_blocking(move || input_fingerprint(&paths)).await?
    };
    if let Some(o) = config.as_object_mut() {
        o.insert(INPUT_SHA256.to_owned(), fingerprint);
    }
    let mut started_at = Utc::now();
    let done = if opts.resume {
        let m = Manifest::load(&cfg.out, &opts.scan_id).with_context(|| {
            format!(
                "--resume {}: no manifest of that scan in {}",
                opts.scan_id,
                cfg.out.display()
            )
        })?;
        if flags_of(&m.config) != flags_of(&config) {
            bail!(
                "--resume {}: the configuration differs from the one the scan started with ({}); use the same flags (see {})",
                opts.scan_id,
                differences(&flags_of(&m.config), &flags_of(&config)),
                Manifest::path(&cfg.out, &opts.scan_id).display()
            );
        }
        // A manifest written before the fingerprint existed has none to compare.
        if let Some(before) = m.config.get(INPUT_SHA256) {
            if Some(before) != config.get(INPUT_SHA256) {
                bail!(
                    "--resume {}: the input changed since the scan started (its SHA-256 differs), so its line numbers no longer name the same domains; resume with the same list, or start a new scan",
                    opts.scan_id
                );
            }
        }
        started_at = m.started_at;
        let done = crate::output::read::done_lines(&cfg.out, &opts.scan_id)?;
        Some(done)
    } else {
        if Manifest::path(&cfg.out, &opts.scan_id).exists() {
            bail!(
                "scan {} already exists in {}; use --resume {0} to complete it",
                opts.scan_id,
                cfg.out.display()
            );
        }
        None
    };

    let scanner = Arc::new(Scanner::new(cfg.clone(), stats.clone())?);
    let mut wc = WriterConfig::new(cfg.out.clone(), opts.scan_id.clone(), started_at, config);
    wc.resolvers = scanner.resolvers();
    if let Some(n) = opts.part_rows {
        wc.part_rows = n.max(1);
    }
    let writer = OutputWriter::start(wc)?;
    let batcher = Arc::new(RowBatcher::new(writer.sender()));

    // The input on its own thread.
    let (tx, mut rx) = mpsc::channel::<Vec<std::io::Result<InputEntry>>>(INPUT_QUEUE);
    let input = cfg.input.clone();
    let exclude = cfg.exclude.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let mut entries = InputReader::new(input, normalize).excluding(exclude);
        let mut batch = Vec::with_capacity(INPUT_BATCH);
        for e in entries.by_ref() {
            let stop = e.is_err();
            batch.push(e);
            // A starving scheduler (an empty queue: a slow or streaming input such as a pipe)
            // gets every entry at once; a busy one gets full batches.
            if batch.len() >= INPUT_BATCH || stop || tx.capacity() == tx.max_capacity() {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(INPUT_BATCH));
                if tx.blocking_send(full).is_err() || stop {
                    return entries.dedupe_warning();
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        entries.dedupe_warning()
    });
    let mut pending = std::collections::VecDeque::<std::io::Result<InputEntry>>::new();

    let concurrency = cfg.concurrency.max(1);
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut interrupted = false;
    let mut failure: Option<anyhow::Error> = None;
    let (err_tx, mut err_rx) = mpsc::channel::<anyhow::Error>(1);
    loop {
        if pending.is_empty() {
            let batch = tokio::select! {
                biased;
                _ = shutdown.wait_for(|s| *s) => { interrupted = true; break; }
                e = err_rx.recv() => { failure = e; break; }
                b = rx.recv() => b,
            };
            let Some(batch) = batch else { break };
            pending.extend(batch);
        }
        if let Ok(e) = err_rx.try_recv() {
            failure = Some(e);
            break;
        }
        let Some(entry) = pending.pop_front() else {
            continue;
        };
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                failure = Some(anyhow::anyhow!("reading the input: {e}"));
                break;
            }
        };
        stats.read.fetch_add(1, Ordering::Relaxed);
        if let Some(done) = &done {
            if done.contains(entry.line) {
                stats.resumed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        let permit = tokio::select! {
            biased;
            _ = shutdown.wait_for(|s| *s) => { interrupted = true; break; }
            p = permits.clone().acquire_owned() => p?,
        };
        let scanner = scanner.clone();
        let sender = batcher.clone();
        let stats = stats.clone();
        let err_tx = err_tx.clone();
        let tap = opts.tap.clone();
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let (row, mx) = scanner.scan_entry(&entry).await;
            if let Some(tap) = &tap {
                tap(&row, &mx);
            }
            for (field, v) in [
                ("input_status", Some(row.input_status.as_str())),
                ("sts_txt", row.sts_txt.as_deref()),
                ("sts_txt_dns", row.sts_txt_dns.as_deref()),
                ("policy_fetch", row.policy_fetch.as_deref()),
                ("mx_kind", row.mx_kind.as_deref()),
                ("tlsrpt", row.tlsrpt.as_deref()),
            ] {
                if let Some(v) = v {
                    stats.tally(field, v);
                }
            }
            if let Err(e) = sender.push(row, mx).await {
                let _ = err_tx.try_send(anyhow::Error::new(e).context("writing rows"));
            }
            stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            stats.done.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(rx);
    if !interrupted && failure.is_none() {
        stats.mark_all_started();
    }
    // Wait for every domain in flight.
    let _all = permits.acquire_many(concurrency as u32).await?;
    let warnings: Vec<String> = reader.await.ok().flatten().into_iter().collect();
    if let Err(e) = batcher.flush().await {
        failure.get_or_insert(anyhow::Error::new(e).context("writing rows"));
    }
    if failure.is_none() {
        failure = err_rx.try_recv().ok();
    }
    // A failed run is closed like an interrupted one: what was written is kept and `--resume`
    // completes it.
    let status = if failure.is_some() || interrupted {
        ScanStatus::Interrupted
    } else {
        ScanStatus::Complete
    };
    let written = tokio::task::spawn_blocking(move || writer.finish(status)).await??;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(RunSummary {
        written,
        interrupted,
        caches: scanner.cache_report(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--resume` with other flags says which: "concurrency: 500 at start, 7 now".
    #[test]
    fn resume_names_the_settings_that_differ() {
        let a = serde_json::json!({"concurrency": 500, "out": "d", "probe": "all"});
        let b = serde_json::json!({"concurrency": 7, "out": "d", "probe": "sts"});
        assert_eq!(
            differences(&a, &b),
            "concurrency: 500 at start, 7 now; probe: \"all\" at start, \"sts\" now"
        );
    }
}
