//! Streaming domain-list input: plain text (one name per line, `#` comments, blank lines) or
//! CSV (Tranco's `rank,domain`, a `domain` header, or `--column`), from files or stdin,
//! optionally gzip-compressed (detected by magic bytes, not by file name).
//!
//! Every non-blank, non-comment line becomes exactly one [`InputEntry`]: a normalized domain, an
//! invalid line with its reason ([`InputError`]), a duplicate of an earlier line, or a domain on
//! the `--exclude` opt-out list ([`super::exclude`]; every occurrence of a listed name is
//! `excluded`, none is a duplicate, and a listed name is never remembered for de-duplication).
//! Nothing is dropped silently, nothing is loaded whole: lines are read one at a time with a
//! length cap. Lines that belong to another shard (`--shard i/N`) are skipped before
//! normalization costs anything but a hash.
//!
//! Deduplication keeps 64-bit SipHash-1-3 fingerprints of the normalized names in a
//! [`SeenSet`]: in memory up to about 900 000 names, then spilled to a sorted temporary file
//! behind a Bloom filter, so memory stays flat (≈ 26 MiB at most) whatever the input size. The
//! chance of a false duplicate among 100 M names is about 3 × 10⁻⁴; it is documented rather
//! than hidden (the row says `duplicate`, never dropped).
//!
//! Why a line is invalid is a stable code (the row's `input_error`) with a sentence for people
//! (its finding): the `domain-*` codes of [`crate::records::domain`], or one of these:
//!
//! | code | meaning |
//! |---|---|
//! | `input-line-too-long` | the line is longer than [`MAX_LINE_BYTES`] bytes (only its first 200 characters are kept) |
//! | `input-not-utf8` | the line is not valid UTF-8 |
//! | `input-csv-missing-column` | a CSV row has fewer fields than the domain column's position |

use std::fs::File;
use std::hash::Hasher;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use siphasher::sip::SipHasher13;

use super::dedupe::SeenSet;
use super::exclude::ExclusionList;

/// The longest line accepted; longer lines are reported as invalid without being buffered.
pub const MAX_LINE_BYTES: usize = 4096;

/// Fixed keys so that fingerprints and shard assignment are stable across runs and machines.
const DEDUPE_KEY: (u64, u64) = (0x7374_7373_6361_6e31, 0x6465_6475_7065_0001);
const SHARD_KEY: (u64, u64) = (0x7374_7373_6361_6e31, 0x7368_6172_6400_0001);

/// How input files are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// CSV when the file name ends in `.csv` or `.csv.gz`, else plain.
    Auto,
    /// One domain per line.
    Plain,
    /// Comma-separated values.
    Csv,
}

/// Which CSV column holds the domain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsvColumn {
    /// A header named `domain` if the first row has one, else column 2 when rows have two or
    /// more fields (Tranco's `rank,domain`), else column 1.
    Auto,
    /// A 1-based column index.
    Index(usize),
    /// The column whose header (first row) has this name.
    Name(String),
}

impl std::str::FromStr for CsvColumn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<usize>() {
            Ok(0) => Err("column numbers start at 1".to_owned()),
            Ok(n) => Ok(CsvColumn::Index(n)),
            Err(_) if s.trim().is_empty() => Err("empty column name".to_owned()),
            Err(_) => Ok(CsvColumn::Name(s.trim().to_owned())),
        }
    }
}

/// A `--shard i/N` selection: keep the domains whose stable hash modulo `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Shard {
    /// 0-based shard index.
    pub index: u32,
    /// Number of shards (≥ 1).
    pub count: u32,
}

impl Shard {
    /// All domains.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether `domain` (normalized) belongs to this shard.
    pub fn contains(&self, domain: &str) -> bool {
        self.count <= 1 || shard_of(domain, self.count) == self.index
    }
}

/// The shard (0..count) of a normalized domain: SipHash-1-3 with a fixed key.
pub fn shard_of(domain: &str, count: u32) -> u32 {
    let mut h = SipHasher13::new_with_keys(SHARD_KEY.0, SHARD_KEY.1);
    h.write(domain.as_bytes());
    (h.finish() % u64::from(count.max(1))) as u32
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected INDEX/COUNT like 0/4, got {s:?}"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard index {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!(
                "shard {index}/{count}: the index must be below the count (0-based)"
            ));
        }
        Ok(Shard { index, count })
    }
}

/// A normalized name as the records core returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// A-label form: lowercase, no trailing dot.
    pub ascii: String,
    /// Unicode form, when it differs from the A-label form.
    pub unicode: Option<String>,
}

/// The function that turns a raw line into a domain, or a reason it is not one.
pub type Normalizer = fn(&str) -> Result<Normalized, InputError>;

/// One input line that is neither blank nor a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEntry {
    /// 1-based line number, counted over all inputs in order (stable for `--resume`).
    pub line: u64,
    /// The text of the line (or CSV field), trimmed; lossy UTF-8 when the line was not UTF-8.
    pub raw: String,
    /// What the line turned out to be.
    pub kind: EntryKind,
}

/// Why an input line is not a domain to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// Stable kebab-case code (see the module table), written to `input_error`.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl InputError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        InputError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// What an input line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A domain to scan.
    Domain(Normalized),
    /// Not a domain.
    Invalid(InputError),
    /// The same normalized domain appeared earlier; it is scanned once.
    Duplicate(Normalized),
    /// The domain (or a parent of it) is on the `--exclude` list: never scanned, no traffic.
    Excluded(Normalized),
}

/// Where to read from and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputSpec {
    /// Files; `-` is standard input.
    pub paths: Vec<PathBuf>,
    /// Plain or CSV.
    pub format: InputFormat,
    /// Which CSV column holds the domain.
    pub column: CsvColumn,
    /// Which shard to keep.
    pub shard: Shard,
}

/// Reads every input in order, yielding entries. Blocking: run it on its own thread.
pub struct InputReader {
    spec: InputSpec,
    normalize: Normalizer,
    exclude: Option<std::sync::Arc<ExclusionList>>,
    next_path: usize,
    current: Option<Source>,
    line: u64,
    seen: SeenSet,
    buf: Vec<u8>,
}

struct Source {
    name: String,
    reader: Box<dyn BufRead + Send>,
    csv: Option<CsvState>,
}

struct CsvState {
    column: Option<usize>,
    first: bool,
}

impl InputReader {
    /// Why input de-duplication could not spill to its temporary file and kept every name in
    /// memory instead (the scan is still exact; only its memory grew), if it happened.
    pub fn dedupe_warning(&self) -> Option<String> {
        self.seen.spill_error().map(|e| {
            format!(
                "input de-duplication kept every name in memory: spilling to a temporary file failed: {e}"
            )
        })
    }

    /// A reader over `spec`, normalizing names with `normalize`.
    pub fn new(spec: InputSpec, normalize: Normalizer) -> Self {
        InputReader {
            spec,
            normalize,
            exclude: None,
            next_path: 0,
            current: None,
            line: 0,
            seen: SeenSet::default(),
            buf: Vec::with_capacity(256),
        }
    }

    /// The same reader, marking every domain on `list` (or below a name on it) as
    /// [`EntryKind::Excluded`].
    #[must_use]
    pub fn excluding(mut self, list: Option<std::sync::Arc<ExclusionList>>) -> Self {
        self.exclude = list;
        self
    }

    /// Opens every input once to fail early on a missing file (before any scanning starts).
    pub fn check_readable(spec: &InputSpec) -> anyhow::Result<()> {
        for p in &spec.paths {
            if p.as_os_str() != "-" {
                File::open(p)
                    .map_err(|e| anyhow::anyhow!("cannot read input {}: {e}", p.display()))?;
            }
        }
        Ok(())
    }

    fn open_next(&mut self) -> io::Result<bool> {
        let Some(path) = self.spec.paths.get(self.next_path).cloned() else {
            return Ok(false);
        };
        self.next_path += 1;
        let (name, raw): (String, Box<dyn Read + Send>) = if path.as_os_str() == "-" {
            ("<stdin>".to_owned(), Box::new(io::stdin()))
        } else {
            let f = File::open(&path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })?;
            (path.display().to_string(), Box::new(f))
        };
        let mut reader = BufReader::with_capacity(64 * 1024, raw);
        let gz = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if gz {
            Box::new(BufReader::with_capacity(
                64 * 1024,
                flate2::bufread::MultiGzDecoder::new(reader),
            ))
        } else {
            Box::new(reader)
        };
        let csv = match self.spec.format {
            InputFormat::Csv => true,
            InputFormat::Plain => false,
            InputFormat::Auto => is_csv_name(&path),
        };
        self.current = Some(Source {
            name,
            reader,
            csv: csv.then_some(CsvState {
                column: None,
                first: true,
            }),
        });
        Ok(true)
    }

    fn entry(&mut self, raw: String) -> Option<InputEntry> {
        let kind = match (self.normalize)(&raw) {
            Err(reason) => EntryKind::Invalid(reason),
            Ok(n) => {
                if !self.spec.shard.contains(&n.ascii) {
                    return None;
                }
                if self.exclude.as_ref().is_some_and(|l| l.contains(&n.ascii)) {
                    return Some(InputEntry {
                        line: self.line,
                        raw,
                        kind: EntryKind::Excluded(n),
                    });
                }
                let mut h = SipHasher13::new_with_keys(DEDUPE_KEY.0, DEDUPE_KEY.1);
                h.write(n.ascii.as_bytes());
                if self.seen.insert(h.finish()) {
                    EntryKind::Domain(n)
                } else {
                    EntryKind::Duplicate(n)
                }
            }
        };
        // Invalid lines have no domain to shard by: shard 0 reports them, so the union of the
        // shards has every line exactly once.
        if matches!(kind, EntryKind::Invalid(_)) && self.spec.shard.index != 0 {
            return None;
        }
        Some(InputEntry {
            line: self.line,
            raw,
            kind,
        })
    }
}

fn is_csv_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

/// Reads one line into `buf` (without the terminator), keeping at most `cap` bytes.
/// Returns `None` at end of input, else whether the line was longer than `cap`.
fn read_line_capped<R: BufRead + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut any = false;
    let mut over = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(over));
        }
        any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        if take > room {
            over = true;
        }
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(if done { take + 1 } else { take });
        if done {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(over));
        }
    }
}

/// Splits one CSV line into fields (RFC 4180 quoting) with the `csv` crate. Records never
/// span lines here: the line cap applies before CSV parsing.
fn csv_fields(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match r.read_record(&mut rec) {
        Ok(true) => rec.iter().map(str::to_owned).collect(),
        _ => vec![line.to_owned()],
    }
}

impl Iterator for InputReader {
    type Item = io::Result<InputEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                match self.open_next() {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                }
            }
            let Some(src) = self.current.as_mut() else {
                continue;
            };
            let over = match read_line_capped(&mut src.reader, &mut self.buf, MAX_LINE_BYTES) {
                Ok(Some(over)) => over,
                Ok(None) => {
                    self.current = None;
                    continue;
                }
                Err(e) => {
                    let name = src.name.clone();
                    self.current = None;
                    return Some(Err(io::Error::new(
                        e.kind(),
                        format!("reading {name}: {e}"),
                    )));
                }
            };
            self.line += 1;
            let text = String::from_utf8_lossy(&self.buf);
            let utf8_ok = matches!(text, std::borrow::Cow::Borrowed(_));
            // A byte-order mark (spreadsheet exports write one) is not part of the line: left
            // in, it would hide a CSV header's `domain` column.
            let text = text.trim().trim_start_matches('\u{feff}').trim().to_owned();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let line = self.line;
            // Invalid lines have no domain to shard by: only shard 0 reports them (as
            // `entry` does for the others), so the union of the shards has each line once.
            let reports_invalid = self.spec.shard.index == 0;
            if over {
                if !reports_invalid {
                    continue;
                }
                return Some(Ok(InputEntry {
                    line,
                    raw: text.chars().take(200).collect(),
                    kind: EntryKind::Invalid(InputError::new(
                        "input-line-too-long",
                        format!("line longer than {MAX_LINE_BYTES} bytes"),
                    )),
                }));
            }
            if !utf8_ok {
                if !reports_invalid {
                    continue;
                }
                return Some(Ok(InputEntry {
                    line,
                    raw: text,
                    kind: EntryKind::Invalid(InputError::new(
                        "input-not-utf8",
                        "line is not valid UTF-8",
                    )),
                }));
            }
            let field = match src.csv.as_mut() {
                None => text,
                Some(state) => {
                    let fields = csv_fields(&text);
                    if state.first {
                        state.first = false;
                        let header = fields
                            .iter()
                            .position(|f| f.trim().eq_ignore_ascii_case("domain"));
                        let named = match &self.spec.column {
                            CsvColumn::Name(n) => {
                                Some(fields.iter().position(|f| f.trim().eq_ignore_ascii_case(n)))
                            }
                            _ => None,
                        };
                        match (&self.spec.column, named, header) {
                            (CsvColumn::Name(n), Some(None), _) => {
                                return Some(Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    format!(
                                        "{}: the first row has no column named {n:?}",
                                        src.name
                                    ),
                                )));
                            }
                            (CsvColumn::Name(_), Some(Some(i)), _) => {
                                state.column = Some(i);
                                continue;
                            }
                            (CsvColumn::Auto, _, Some(i)) => {
                                state.column = Some(i);
                                continue;
                            }
                            (CsvColumn::Index(n), _, _) => {
                                state.column = Some(n - 1);
                                // a header row naming that column `domain` is no domain
                                if fields
                                    .get(n - 1)
                                    .is_some_and(|f| f.trim().eq_ignore_ascii_case("domain"))
                                {
                                    continue;
                                }
                            }
                            _ => state.column = Some(usize::from(fields.len() >= 2)),
                        }
                    }
                    let col = state.column.unwrap_or(0);
                    match fields.get(col) {
                        Some(f) => f.trim().to_owned(),
                        None if !reports_invalid => continue,
                        None => {
                            return Some(Ok(InputEntry {
                                line,
                                raw: text,
                                kind: EntryKind::Invalid(InputError::new(
                                    "input-csv-missing-column",
                                    format!("CSV row has no column {}", col + 1),
                                )),
                            }));
                        }
                    }
                }
            };
            if let Some(e) = self.entry(field) {
                return Some(Ok(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn norm(s: &str) -> Result<Normalized, InputError> {
        let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if s.is_empty() || s.contains(' ') {
            Err(InputError::new("test-bad", format!("not a domain: {s:?}")))
        } else {
            Ok(Normalized {
                ascii: s,
                unicode: None,
            })
        }
    }

    fn read(content: &[u8], name: &str, format: InputFormat, column: CsvColumn) -> Vec<InputEntry> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(content)
            .unwrap();
        let spec = InputSpec {
            paths: vec![p],
            format,
            column,
            shard: Shard::ALL,
        };
        InputReader::new(spec, norm).map(|e| e.unwrap()).collect()
    }

    #[test]
    fn plain_lines_comments_duplicates_and_invalid() {
        let got = read(
            b"# list\nExample.com.\n\nexample.com\nbad name\r\nb.test",
            "l.txt",
            InputFormat::Auto,
            CsvColumn::Auto,
        );
        let kinds: Vec<_> = got.iter().map(|e| (e.line, e.kind.clone())).collect();
        let n = |s: &str| Normalized {
            ascii: s.into(),
            unicode: None,
        };
        assert_eq!(
            kinds,
            vec![
                (2, EntryKind::Domain(n("example.com"))),
                (4, EntryKind::Duplicate(n("example.com"))),
                (
                    5,
                    EntryKind::Invalid(InputError::new("test-bad", "not a domain: \"bad name\""))
                ),
                (6, EntryKind::Domain(n("b.test"))),
            ]
        );
    }

    /// A listed name and the names below it are `excluded` on every line they appear (never
    /// `duplicate`), and excluding a name does not count it as seen.
    #[test]
    fn listed_domains_are_excluded_on_every_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(
            &p,
            "a.test\nOptedOut.test\nmx.optedout.test\noptedout.test\nnotoptedout.test\n",
        )
        .unwrap();
        let spec = InputSpec {
            paths: vec![p],
            format: InputFormat::Plain,
            column: CsvColumn::Auto,
            shard: Shard::ALL,
        };
        let list = ExclusionList::parse(Path::new("ex"), &b"optedout.test\n"[..]).unwrap();
        let got: Vec<_> = InputReader::new(spec, norm)
            .excluding(Some(std::sync::Arc::new(list)))
            .map(|e| e.unwrap())
            .map(|e| match e.kind {
                EntryKind::Domain(n) => (e.line, "ok", n.ascii),
                EntryKind::Excluded(n) => (e.line, "excluded", n.ascii),
                EntryKind::Duplicate(n) => (e.line, "duplicate", n.ascii),
                EntryKind::Invalid(_) => (e.line, "invalid", e.raw),
            })
            .collect();
        let want = [
            (1, "ok", "a.test"),
            (2, "excluded", "optedout.test"),
            (3, "excluded", "mx.optedout.test"),
            (4, "excluded", "optedout.test"),
            (5, "ok", "notoptedout.test"),
        ];
        assert_eq!(got, want.map(|(l, k, d)| (l, k, d.to_owned())).to_vec());
    }

    #[test]
    fn tranco_csv_and_header_and_index() {
        let got = read(
            b"1,google.com\n2,\"a.test\"\n",
            "top.csv",
            InputFormat::Auto,
            CsvColumn::Auto,
        );
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].raw, "a.test");
        let got = read(
            b"rank,Domain,x\n1,a.test,z\n",
            "t.csv",
            InputFormat::Auto,
            CsvColumn::Auto,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].raw, "a.test");
        let got = read(
            b"a.test,1\n",
            "t.txt",
            InputFormat::Csv,
            CsvColumn::Index(1),
        );
        assert_eq!(got[0].raw, "a.test");
        // `--column 2` on a file whose header names that column `domain`: the header is no row
        let got = read(
            b"rank,domain\n1,a.test\n",
            "top.csv",
            InputFormat::Auto,
            CsvColumn::Index(2),
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].raw, "a.test");
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"a.test\nb.test\n").unwrap();
        let gz = enc.finish().unwrap();
        let got = read(&gz, "list", InputFormat::Auto, CsvColumn::Auto);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_line() {
        let got = read(
            b"\xef\xbb\xbfdomain,rank\nexample.com,1\n",
            "export.csv",
            InputFormat::Auto,
            CsvColumn::Auto,
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].raw, "example.com");
        let got = read(
            b"\xef\xbb\xbfexample.com\n",
            "l.txt",
            InputFormat::Plain,
            CsvColumn::Auto,
        );
        assert_eq!(got[0].raw, "example.com");
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_invalid_rows() {
        let mut content = vec![b'a'; MAX_LINE_BYTES * 3];
        content.extend_from_slice(b"\n\xff\xfe.test\nok.test\n");
        let got = read(&content, "l.txt", InputFormat::Plain, CsvColumn::Auto);
        assert_eq!(got.len(), 3);
        assert!(
            matches!(got[0].kind, EntryKind::Invalid(ref e) if e.code == "input-line-too-long" && e.message.contains("longer"))
        );
        assert!(matches!(got[1].kind, EntryKind::Invalid(ref e) if e.code == "input-not-utf8"));
        assert_eq!(got[2].line, 3);
    }

    #[test]
    fn shards_partition_the_input() {
        let names: Vec<String> = (0..1000).map(|i| format!("d{i}.test")).collect();
        let content = names.join("\n");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.txt");
        std::fs::write(&p, &content).unwrap();
        let mut total = 0;
        for index in 0..4 {
            let spec = InputSpec {
                paths: vec![p.clone()],
                format: InputFormat::Plain,
                column: CsvColumn::Auto,
                shard: Shard { index, count: 4 },
            };
            let n = InputReader::new(spec, norm).count();
            assert!(n > 150, "shard {index} has {n}");
            total += n;
        }
        assert_eq!(total, 1000);
        // every kind of invalid line, too, is reported by exactly one shard (shard 0)
        let mut content = b"\xff\xfe.test\n-bad-.test\n".to_vec();
        content.extend(vec![b'a'; MAX_LINE_BYTES + 1]);
        content.extend(b"\nok.test\n");
        std::fs::write(&p, &content).unwrap();
        let csv = dir.path().join("l.csv");
        std::fs::write(&csv, "rank,domain\n1,a.test\n2\n").unwrap();
        for (path, format, lines) in [(&p, InputFormat::Plain, 4), (&csv, InputFormat::Csv, 2)] {
            let mut total = 0;
            for index in 0..4 {
                let spec = InputSpec {
                    paths: vec![path.clone()],
                    format,
                    column: CsvColumn::Auto,
                    shard: Shard { index, count: 4 },
                };
                total += InputReader::new(spec, norm).count();
            }
            assert_eq!(total, lines, "{}", path.display());
        }
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { index: 1, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
    }
}
