//! Reading a scan's completed parts back: the list of parts, the counts stored in their
//! footers, the set of input lines already done (for `--resume`), and removing what a crash
//! left behind (temporary files, an `mx` part whose `domains` part never completed).
//!
//! Only files named exactly `part-NNNNN.parquet` are complete; `.part-NNNNN.parquet.tmp` files
//! are parts a crash interrupted and are never read. Reading is streaming (batch by batch,
//! two projected columns), so memory stays flat whatever the scan size; the done set is a
//! bitmap over input line numbers (1 bit per line). This module never writes parts.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::{Array, StringArray, UInt64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::manifest::Counts;
use super::schema::Table;
use super::writer::OutputError;

/// The largest input line number the done set accepts (a larger one means the file is not
/// ours or is corrupt; refusing it keeps the bitmap bounded at 512 MiB).
pub const MAX_INPUT_LINE: u64 = u32::MAX as u64;

/// One completed part file of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    /// The table it belongs to.
    pub table: Table,
    /// Part number.
    pub part: u32,
    /// The `scan_date=` partition value it was found under.
    pub scan_date: String,
    /// Full path.
    pub path: PathBuf,
}

/// The file name of complete part `n`.
pub fn part_file_name(n: u32) -> String {
    format!("part-{n:05}.parquet")
}

/// The file name of part `n` while it is being written.
pub fn tmp_file_name(n: u32) -> String {
    format!(".part-{n:05}.parquet.tmp")
}

/// The part number of a complete part's file name, if `name` is one.
pub fn parse_part_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every `OUT/<table>/scan_date=*/scan_id=ID` directory that exists.
fn scan_dirs(
    out_dir: &Path,
    table: Table,
    scan_id: &str,
) -> Result<Vec<(String, PathBuf)>, OutputError> {
    let root = out_dir.join(table.as_str());
    let entries = match fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(OutputError::io(&root, e)),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| OutputError::io(&root, e))?;
        let name = entry.file_name();
        let Some(date) = name.to_str().and_then(|n| n.strip_prefix("scan_date=")) else {
            continue;
        };
        let dir = entry.path().join(format!("scan_id={scan_id}"));
        if dir.is_dir() {
            dirs.push((date.to_string(), dir));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Lists the completed parts of `scan_id` under `out_dir`, both tables, sorted by table
/// (`domains` first) then part number. Temporary files are ignored.
pub fn completed_parts(out_dir: &Path, scan_id: &str) -> Result<Vec<PartFile>, OutputError> {
    let mut parts = Vec::new();
    for table in [Table::Domains, Table::Mx] {
        for (date, dir) in scan_dirs(out_dir, table, scan_id)? {
            for entry in fs::read_dir(&dir).map_err(|e| OutputError::io(&dir, e))? {
                let entry = entry.map_err(|e| OutputError::io(&dir, e))?;
                if let Some(part) = entry.file_name().to_str().and_then(parse_part_name) {
                    parts.push(PartFile {
                        table,
                        part,
                        scan_date: date.clone(),
                        path: entry.path(),
                    });
                }
            }
        }
    }
    parts.sort_by(|a, b| {
        (a.table != Table::Domains, a.part, &a.path).cmp(&(
            b.table != Table::Domains,
            b.part,
            &b.path,
        ))
    });
    Ok(parts)
}

/// What [`prune_incomplete`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Temporary files of interrupted parts.
    pub tmp_files: Vec<PathBuf>,
    /// `mx` parts whose `domains` part is missing (a crash between the two renames).
    pub orphan_mx_parts: Vec<PathBuf>,
}

/// Removes what an interrupted writer left for `scan_id`: temporary part files, and `mx` parts
/// without their `domains` part (those domains are not done and will be scanned again, so
/// keeping their MX rows would duplicate them).
pub fn prune_incomplete(out_dir: &Path, scan_id: &str) -> Result<Pruned, OutputError> {
    let mut pruned = Pruned::default();
    for table in Table::ALL {
        for (_, dir) in scan_dirs(out_dir, table, scan_id)? {
            for entry in fs::read_dir(&dir).map_err(|e| OutputError::io(&dir, e))? {
                let entry = entry.map_err(|e| OutputError::io(&dir, e))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".part-") && name.ends_with(".tmp") {
                    let path = entry.path();
                    fs::remove_file(&path).map_err(|e| OutputError::io(&path, e))?;
                    pruned.tmp_files.push(path);
                }
            }
        }
    }
    let parts = completed_parts(out_dir, scan_id)?;
    for p in parts.iter().filter(|p| p.table == Table::Mx) {
        let partner = parts
            .iter()
            .any(|d| d.table == Table::Domains && d.part == p.part);
        if !partner {
            fs::remove_file(&p.path).map_err(|e| OutputError::io(&p.path, e))?;
            pruned.orphan_mx_parts.push(p.path.clone());
        }
    }
    Ok(pruned)
}

/// The row counts a `domains` part stored in its footer (key `counts`), plus its row count.
pub fn part_counts(path: &Path) -> Result<(u64, Counts), OutputError> {
    let file = fs::File::open(path).map_err(|e| OutputError::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| OutputError::parquet(path, e))?;
    let meta = builder.metadata().file_metadata();
    let rows = u64::try_from(meta.num_rows()).unwrap_or(0);
    let counts = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "counts"))
        .and_then(|k| k.value.as_deref())
        .map(serde_json::from_str::<Counts>)
        .transpose()
        .map_err(|e| OutputError::Json {
            path: path.to_path_buf(),
            source: e,
        })?
        .unwrap_or_default();
    Ok((rows, counts))
}

/// A set of input line numbers, one bit per line up to the largest inserted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineSet {
    bits: Vec<u64>,
    len: u64,
}

impl LineSet {
    /// Adds `line`; returns false if it was already present. Lines above
    /// [`MAX_INPUT_LINE`] are refused with `Err`.
    pub fn insert(&mut self, line: u64) -> Result<bool, OutputError> {
        if line > MAX_INPUT_LINE {
            return Err(OutputError::Invalid(format!(
                "input_line {line} exceeds the supported maximum {MAX_INPUT_LINE}"
            )));
        }
        let (word, bit) = ((line / 64) as usize, line % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let mask = 1u64 << bit;
        let new = self.bits[word] & mask == 0;
        self.bits[word] |= mask;
        if new {
            self.len += 1;
        }
        Ok(new)
    }

    /// Whether `line` is in the set.
    pub fn contains(&self, line: u64) -> bool {
        let word = line / 64;
        usize::try_from(word)
            .ok()
            .and_then(|w| self.bits.get(w))
            .is_some_and(|w| w & (1u64 << (line % 64)) != 0)
    }

    /// Number of lines in the set.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Calls `f(input_line, domain)` for every row of every completed `domains` part of
/// `scan_id`, reading only those two columns, batch by batch. Returns the number of rows.
pub fn for_each_done(
    out_dir: &Path,
    scan_id: &str,
    mut f: impl FnMut(u64, Option<&str>) -> Result<(), OutputError>,
) -> Result<u64, OutputError> {
    let mut rows = 0u64;
    for part in completed_parts(out_dir, scan_id)?
        .into_iter()
        .filter(|p| p.table == Table::Domains)
    {
        let path = &part.path;
        let file = fs::File::open(path).map_err(|e| OutputError::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| OutputError::parquet(path, e))?;
        let schema = builder.schema().clone();
        let index = |name: &str| {
            schema
                .index_of(name)
                .map_err(|_| OutputError::Invalid(format!("{}: no column {name}", path.display())))
        };
        let (line_idx, domain_idx) = (index("input_line")?, index("domain")?);
        let mask = ProjectionMask::roots(builder.parquet_schema(), [line_idx, domain_idx]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(8192)
            .build()
            .map_err(|e| OutputError::parquet(path, e))?;
        for batch in reader {
            let batch = batch.map_err(|e| OutputError::Arrow {
                path: path.clone(),
                source: e,
            })?;
            let bad =
                || OutputError::Invalid(format!("{}: unexpected column types", path.display()));
            let lines = batch
                .column_by_name("input_line")
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                .ok_or_else(bad)?;
            let domains = batch
                .column_by_name("domain")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(bad)?;
            for i in 0..batch.num_rows() {
                if lines.is_null(i) {
                    continue;
                }
                let domain = (!domains.is_null(i)).then(|| domains.value(i));
                f(lines.value(i), domain)?;
                rows += 1;
            }
        }
    }
    Ok(rows)
}

/// The input lines already written by `scan_id` (every row of its completed `domains`
/// parts, whatever its status: invalid and duplicate lines are done too).
pub fn done_lines(out_dir: &Path, scan_id: &str) -> Result<LineSet, OutputError> {
    let mut set = LineSet::default();
    for_each_done(out_dir, scan_id, |line, _| set.insert(line).map(|_| ()))?;
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names() {
        assert_eq!(part_file_name(7), "part-00007.parquet");
        assert_eq!(parse_part_name("part-00007.parquet"), Some(7));
        assert_eq!(parse_part_name("part-123456.parquet"), Some(123_456));
        assert_eq!(parse_part_name(".part-00007.parquet.tmp"), None);
        assert_eq!(parse_part_name("part-7.parquet"), None);
        assert_eq!(parse_part_name("part-0000x.parquet"), None);
    }

    #[test]
    fn line_set() {
        let mut s = LineSet::default();
        assert!(!s.contains(0) && s.is_empty());
        assert!(s.insert(1).unwrap());
        assert!(!s.insert(1).unwrap());
        assert!(s.insert(1_000_000).unwrap());
        assert!(s.contains(1) && s.contains(1_000_000) && !s.contains(2));
        assert!(!s.contains(u64::MAX));
        assert_eq!(s.len(), 2);
        assert!(s.insert(MAX_INPUT_LINE + 1).is_err());
    }
}
