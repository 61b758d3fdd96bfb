//! Live counters of a running scan, shared between the pipeline (which updates them) and the
//! CLI (which shows progress and the closing summary). Updating is a few atomic adds per domain
//! plus one short lock for the per-status tallies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Counters of one scan.
#[derive(Debug)]
pub struct ScanStats {
    started: Instant,
    /// Input entries read (domains, invalid lines, duplicates and excluded lines).
    pub read: AtomicU64,
    /// Entries whose rows were handed to the writer.
    pub done: AtomicU64,
    /// Domains being scanned right now.
    pub in_flight: AtomicU64,
    /// Domains whose scan hit a tool-side problem (recorded in the row's detail).
    pub errors: AtomicU64,
    /// Entries skipped because a completed part already has them (`--resume`).
    pub resumed: AtomicU64,
    /// STARTTLS probes run (not shared).
    pub probes: AtomicU64,
    /// Of those, probes repeated with the MX name as SNI because the address-shared result had
    /// a certificate for another name.
    pub sni_reprobes: AtomicU64,
    /// Of those, re-probes that got the same leaf certificate as the shared probe: the server
    /// does not choose its certificate by that name, so the re-probe confirmed the mismatch
    /// instead of finding the name's own certificate.
    pub sni_reprobes_same_cert: AtomicU64,
    /// Policy fetches made.
    pub fetches: AtomicU64,
    tallies: Mutex<BTreeMap<&'static str, BTreeMap<String, u64>>>,
    total: AtomicU64,
    /// Seconds from the start until the last entry of the input had started (set once the
    /// input has ended; never for an interrupted or failed run).
    all_started: OnceLock<f64>,
}

impl Default for ScanStats {
    fn default() -> Self {
        ScanStats {
            started: Instant::now(),
            read: AtomicU64::new(0),
            done: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            sni_reprobes: AtomicU64::new(0),
            sni_reprobes_same_cert: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            tallies: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            all_started: OnceLock::new(),
        }
    }
}

impl ScanStats {
    /// Adds one to the tally of `value` in column `field` (e.g. `sts_txt` = `valid`).
    pub fn tally(&self, field: &'static str, value: &str) {
        if let Ok(mut t) = self.tallies.lock() {
            // per domain and field: no allocation once the value has been seen
            let values = t.entry(field).or_default();
            match values.get_mut(value) {
                Some(n) => *n += 1,
                None => {
                    values.insert(value.to_owned(), 1);
                }
            }
        }
    }

    /// A copy of the per-status tallies, ordered by field then value.
    pub fn tallies(&self) -> Vec<(&'static str, String, u64)> {
        self.tallies
            .lock()
            .map(|t| {
                t.iter()
                    .flat_map(|(f, values)| values.iter().map(|(v, n)| (*f, v.clone(), *n)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets the number of entries expected, when known (for an ETA).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// The number of entries expected, if known.
    pub fn total(&self) -> Option<u64> {
        match self.total.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Records that every entry of the input has started (the scheduler calls it once, when
    /// the input has ended); what remains is waiting for the domains in flight.
    pub fn mark_all_started(&self) {
        let _ = self.all_started.set(self.elapsed_secs());
    }

    /// Seconds from the start until every entry had started, once the input has ended.
    pub fn all_started_secs(&self) -> Option<f64> {
        self.all_started.get().copied()
    }

    /// Seconds since the scan started.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Entries finished per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed_secs();
        if secs > 0.0 {
            self.done.load(Ordering::Relaxed) as f64 / secs
        } else {
            0.0
        }
    }
}
