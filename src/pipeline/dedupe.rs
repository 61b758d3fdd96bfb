//! Exact duplicate detection over a domain list of any length, in bounded memory.
//!
//! [`SeenSet`] remembers 64-bit fingerprints of the names seen so far. The most recent ones
//! live in a hash set; when it reaches its capacity they are sorted and merged into a sorted
//! file of fingerprints (a temporary file in `TMPDIR`, 8 bytes per name, unlinked as soon as it
//! is created), and recorded in a fixed-size Bloom filter. A lookup checks the hash set, then
//! the Bloom filter, and only when the filter says "maybe" searches the file (a binary search
//! with positioned reads; the page cache keeps it cheap). So memory stays at the capacity of
//! the hash set plus the filter whatever the input size — about 13 MiB from half a million
//! names on — and the answer is exact for the fingerprints: a false "maybe" only costs a file search.
//!
//! If the file cannot be written (disk full, no `TMPDIR`), the set keeps everything in memory
//! instead: correctness over flatness; [`SeenSet::spill_error`] says why.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;

/// Fingerprints kept in memory before a spill: 7/8 of 2^19, just below the hash table's
/// growth threshold so the table never grows past 2^19 buckets (≈ 4.5 MiB).
pub const DEFAULT_MEMORY_ENTRIES: usize = 458_752;
/// Bloom filter bits (8 MiB): about 4 % false "maybe" at 10 million names with 4 hashes (each
/// costs a binary search of the file, ~24 positioned reads from the page cache).
pub const DEFAULT_BLOOM_BITS: usize = 1 << 26;
const BLOOM_HASHES: u64 = 4;

/// The set of fingerprints seen; see the module docs.
pub struct SeenSet {
    recent: HashSet<u64>,
    memory_entries: usize,
    bloom_bits: usize,
    bloom: Vec<u64>,
    spill: Option<Spill>,
    spill_error: Option<String>,
    spill_dir: std::path::PathBuf,
}

struct Spill {
    file: File,
    entries: u64,
}

impl Default for SeenSet {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MEMORY_ENTRIES, DEFAULT_BLOOM_BITS)
    }
}

impl SeenSet {
    /// A set spilling after `memory_entries` fingerprints, with a Bloom filter of `bloom_bits`
    /// bits (rounded up to a multiple of 64).
    pub fn with_limits(memory_entries: usize, bloom_bits: usize) -> Self {
        SeenSet {
            recent: HashSet::new(),
            memory_entries: memory_entries.max(1),
            bloom_bits: bloom_bits.max(64).div_ceil(64) * 64,
            bloom: Vec::new(),
            spill: None,
            spill_error: None,
            spill_dir: std::env::temp_dir(),
        }
    }

    /// Spills into `dir` instead of the system's temporary directory.
    pub fn with_spill_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.spill_dir = dir.into();
        self
    }

    /// Adds `fp`; returns `true` if it was not seen before.
    pub fn insert(&mut self, fp: u64) -> bool {
        if self.recent.contains(&fp) || self.spilled_contains(fp) {
            return false;
        }
        self.recent.insert(fp);
        if self.recent.len() >= self.memory_entries && self.spill_error.is_none() {
            if let Err(e) = self.spill() {
                self.spill_error = Some(e.to_string());
            }
        }
        true
    }

    /// Fingerprints seen so far.
    pub fn len(&self) -> u64 {
        self.recent.len() as u64 + self.spill.as_ref().map_or(0, |s| s.entries)
    }

    /// Whether nothing was seen yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fingerprints that live in the file.
    pub fn spilled(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.entries)
    }

    /// Why spilling to disk failed (the set then grows in memory), if it did.
    pub fn spill_error(&self) -> Option<&str> {
        self.spill_error.as_deref()
    }

    fn bloom_positions(&self, fp: u64) -> impl Iterator<Item = usize> + use<> {
        // fp is already a uniform hash: double hashing from its two halves
        let m = self.bloom_bits as u64;
        let h1 = fp;
        let h2 = fp.rotate_left(32) | 1;
        (0..BLOOM_HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize)
    }

    fn spilled_contains(&self, fp: u64) -> bool {
        let Some(spill) = &self.spill else {
            return false;
        };
        let maybe = self.bloom_positions(fp).all(|p| {
            self.bloom
                .get(p / 64)
                .is_some_and(|w| w & (1 << (p % 64)) != 0)
        });
        // A read error is treated as "not seen": the domain is scanned rather than dropped.
        maybe && search(&spill.file, spill.entries, fp).unwrap_or(false)
    }

    /// Merges the in-memory fingerprints into a new sorted file.
    fn spill(&mut self) -> io::Result<()> {
        let mut fresh: Vec<u64> = self.recent.iter().copied().collect();
        fresh.sort_unstable();
        let out = anonymous_file(&self.spill_dir)?;
        let mut w = BufWriter::with_capacity(1 << 16, &out);
        let mut written = 0u64;
        let mut old = match &self.spill {
            Some(s) => Some(Run::new(&s.file, s.entries)?),
            None => None,
        };
        let mut fresh = fresh.into_iter().peekable();
        loop {
            let next_old = match &mut old {
                Some(r) => r.peek()?,
                None => None,
            };
            let take = match (next_old, fresh.peek().copied()) {
                (None, None) => break,
                (Some(a), Some(b)) if b < a => fresh.next(),
                (None, Some(_)) => fresh.next(),
                (Some(_), _) => old.as_mut().and_then(Run::take),
            };
            if let Some(v) = take {
                w.write_all(&v.to_be_bytes())?;
                written += 1;
            }
        }
        w.flush()?;
        drop(w);
        if self.bloom.is_empty() {
            self.bloom = vec![0; self.bloom_bits / 64];
        }
        for &fp in &self.recent {
            for p in self.bloom_positions(fp) {
                if let Some(word) = self.bloom.get_mut(p / 64) {
                    *word |= 1 << (p % 64);
                }
            }
        }
        self.spill = Some(Spill {
            file: out,
            entries: written,
        });
        self.recent = HashSet::new();
        Ok(())
    }
}

/// A new file in the temporary directory, unlinked at once: it lives as long as the handle.
fn anonymous_file(dir: &std::path::Path) -> io::Result<File> {
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            ".stsscan-seen-{}-{nanos}-{attempt}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free temporary file name",
    ))
}

/// A sequential reader over a sorted fingerprint file.
struct Run<'a> {
    reader: BufReader<&'a File>,
    left: u64,
    head: Option<u64>,
}

impl<'a> Run<'a> {
    fn new(file: &'a File, entries: u64) -> io::Result<Self> {
        // positioned reads elsewhere do not move the cursor, but a fresh handle starts at 0
        let mut f = file;
        io::Seek::seek(&mut f, io::SeekFrom::Start(0))?;
        Ok(Run {
            reader: BufReader::with_capacity(1 << 16, file),
            left: entries,
            head: None,
        })
    }

    fn peek(&mut self) -> io::Result<Option<u64>> {
        if self.head.is_none() && self.left > 0 {
            let mut b = [0u8; 8];
            self.reader.read_exact(&mut b)?;
            self.left -= 1;
            self.head = Some(u64::from_be_bytes(b));
        }
        Ok(self.head)
    }

    fn take(&mut self) -> Option<u64> {
        self.head.take()
    }
}

/// Binary search of a sorted fingerprint file with positioned reads.
fn search(file: &File, entries: u64, fp: u64) -> io::Result<bool> {
    let (mut lo, mut hi) = (0u64, entries);
    let mut b = [0u8; 8];
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        file.read_exact_at(&mut b, mid * 8)?;
        let v = u64::from_be_bytes(b);
        match v.cmp(&fp) {
            std::cmp::Ordering::Equal => return Ok(true),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a deterministic stream of well-mixed fingerprints
    fn mix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    #[test]
    fn a_failed_spill_is_reported_and_the_set_stays_exact_in_memory() {
        let missing = std::env::temp_dir().join("stsscan-no-such-dir/below");
        let mut seen = SeenSet::with_limits(10, 1024).with_spill_dir(&missing);
        let mut reference = HashSet::new();
        for i in 0..200u64 {
            let fp = if i % 2 == 1 { mix(i / 4) } else { mix(i) };
            assert_eq!(seen.insert(fp), reference.insert(fp), "value #{i}");
        }
        assert_eq!(seen.spilled(), 0);
        assert_eq!(seen.len(), reference.len() as u64);
        let e = seen.spill_error().expect("the spill failed");
        assert!(e.contains("No such file"), "{e}");
    }

    #[test]
    fn agrees_with_an_in_memory_set_across_many_spills() {
        // tiny limits: a spill every 100 entries, a filter small enough to say "maybe" often
        let mut seen = SeenSet::with_limits(100, 2048);
        let mut reference = HashSet::new();
        for i in 0..5_000u64 {
            // every third value repeats an earlier one, some from long before (spilled)
            let fp = if i % 3 == 2 { mix(i / 7) } else { mix(i) };
            assert_eq!(seen.insert(fp), reference.insert(fp), "value #{i}");
        }
        assert_eq!(seen.len(), reference.len() as u64);
        assert!(seen.spilled() > 3_000, "spilled {}", seen.spilled());
        assert!(seen.spill_error().is_none());
        // everything is still known after the last spill
        for &fp in &reference {
            assert!(!seen.insert(fp));
        }
    }

    #[test]
    fn memory_stays_at_the_limit() {
        let mut seen = SeenSet::with_limits(64, 1024);
        for i in 0..10_000u64 {
            assert!(seen.insert(mix(i)));
            assert!(seen.recent.len() < 64);
        }
        assert_eq!(seen.len(), 10_000);
        assert_eq!(seen.bloom.len(), 1024 / 64);
    }

    #[test]
    fn the_file_is_sorted_and_complete() {
        let mut seen = SeenSet::with_limits(10, 640);
        let values: Vec<u64> = (0..95).map(mix).collect();
        for &v in &values {
            seen.insert(v);
        }
        let spill = seen.spill.as_ref().unwrap();
        assert_eq!(spill.entries, 90);
        let mut run = Run::new(&spill.file, spill.entries).unwrap();
        let mut out = Vec::new();
        while let Some(v) = run.peek().unwrap() {
            out.push(v);
            run.take();
        }
        let mut want: Vec<u64> = values[..90].to_vec();
        want.sort_unstable();
        assert_eq!(out, want);
    }
}
