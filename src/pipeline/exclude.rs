//! The opt-out list of domain names (`--exclude FILE`): names whose owners asked not to be
//! scanned. It owns parsing the file and matching a name against it; it does no network I/O
//! and decides nothing about rows (the input reader marks listed input lines `excluded`, the
//! scanner leaves listed MX and policy hosts alone).
//!
//! File format, as `--blocklist`: one name per line, `#` starts a comment (a whole line or
//! the rest of one), blank lines are ignored. Each entry is normalized like an input domain
//! ([`crate::records::domain::normalize`]: trimmed, one trailing dot dropped, lowercase, IDNA
//! U-labels to A-labels), and an entry covers that name **and every name below it**, at a
//! label boundary: `example.com` excludes `example.com` and `mx.example.com`, not
//! `notexample.com`. Wildcard spellings (`*.example.com`, `.example.com`) are refused with a
//! message saying to write the bare name, which already covers the names below it; a list
//! never silently means something else than it says.
//!
//! The names are kept in a `HashSet` and a name is tested by looking up each of its suffixes
//! at label boundaries (at most 127 lookups for the longest legal name), so a list of a
//! million entries costs its memory once and nothing per entry at lookup time.

use std::collections::HashSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::ser::SerializeStruct;

/// The longest line read from an exclusion file; a longer line is an error (no name is
/// longer than 253 octets, even with a comment after it this is generous).
const MAX_LINE_BYTES: usize = 4096;

/// A parsed `--exclude` list.
pub struct ExclusionList {
    file: PathBuf,
    names: HashSet<Box<str>>,
    sha256: String,
}

/// Why an exclusion file could not be used: the 1-based line (0 when the file could not be
/// read at all) and a sentence naming the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcludeError {
    /// 1-based line number, 0 for an I/O error before any line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ExclusionList {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ExclusionList, ExcludeError> {
        let f = std::fs::File::open(path).map_err(|e| ExcludeError {
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, std::io::BufReader::new(f))
    }

    /// Parses an exclusion list read from `reader`; `file` is only remembered, for messages
    /// and the manifest.
    pub fn parse(file: &Path, mut reader: impl BufRead) -> Result<ExclusionList, ExcludeError> {
        let mut names = HashSet::new();
        let mut buf = Vec::with_capacity(256);
        let mut line = 0usize;
        loop {
            buf.clear();
            let n = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| ExcludeError {
                    line: line + 1,
                    message: format!("cannot read: {e}"),
                })?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
                return Err(ExcludeError {
                    line,
                    message: format!("line longer than {MAX_LINE_BYTES} bytes"),
                });
            }
            let text = std::str::from_utf8(&buf).map_err(|_| ExcludeError {
                line,
                message: "the line is not valid UTF-8".to_owned(),
            })?;
            if let Some(name) =
                parse_entry(text).map_err(|message| ExcludeError { line, message })?
            {
                names.insert(name.into_boxed_str());
            }
        }
        let sha256 = fingerprint(&names);
        Ok(ExclusionList {
            file: file.to_path_buf(),
            names,
            sha256,
        })
    }

    /// Whether `name` (a host or domain name, A-labels; case and one trailing dot ignored) is
    /// listed or lies below a listed name.
    pub fn contains(&self, name: &str) -> bool {
        if self.names.is_empty() {
            return false;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        let lower;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lower = name.to_ascii_lowercase();
            lower.as_str()
        } else {
            name
        };
        let mut rest = name;
        loop {
            if self.names.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => return false,
            }
        }
    }

    /// The number of distinct entries (after normalization).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the list has no entry.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The file the list was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// SHA-256 (lowercase hex) of the normalized entries, sorted, each followed by `\n`:
    /// the list's content, whatever its comments, order or spelling.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// One line of an exclusion file: `Ok(None)` for a blank or comment line, the normalized name,
/// or why the entry is not a name.
fn parse_entry(line: &str) -> Result<Option<String>, String> {
    let entry = line.split('#').next().unwrap_or("").trim();
    let entry = entry.trim_start_matches('\u{feff}').trim();
    if entry.is_empty() {
        return Ok(None);
    }
    if let Some(bare) = entry
        .strip_prefix("*.")
        .or_else(|| entry.strip_prefix('.'))
        .filter(|b| !b.is_empty())
    {
        return Err(format!(
            "{entry:?}: write the bare name {bare:?}: an entry already excludes every name below it (no wildcard syntax)"
        ));
    }
    crate::records::domain::normalize(entry)
        .map(|d| Some(d.into_string()))
        .map_err(|e| format!("{entry:?} is not a domain name ({e})"))
}

fn fingerprint(names: &HashSet<Box<str>>) -> String {
    let mut sorted: Vec<&str> = names.iter().map(|n| &**n).collect();
    sorted.sort_unstable();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for n in sorted {
        ctx.update(n.as_bytes());
        ctx.update(b"\n");
    }
    hex::encode(ctx.finish())
}

impl std::fmt::Debug for ExclusionList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExclusionList")
            .field("file", &self.file)
            .field("entries", &self.names.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// [`ExclusionList`]'s summary for an optional, shared list (the `exclude` field of the scan
/// configuration).
pub(crate) fn serialize_summary<S: serde::Serializer>(
    list: &Option<std::sync::Arc<ExclusionList>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match list {
        Some(l) => serde::Serialize::serialize(&**l, s),
        None => s.serialize_none(),
    }
}

/// In the manifest's `config` the list is its count and fingerprint (and, as `source`, the
/// file it came from), not its entries: `--resume` compares them, and a million names stay
/// out of every Parquet file's metadata. The keys sort as `entries`, `sha256`, `source`, so a
/// `--resume` refusal (which shows the start of each differing value) shows count and
/// fingerprint first.
impl serde::Serialize for ExclusionList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ExclusionList", 3)?;
        st.serialize_field("entries", &self.names.len())?;
        st.serialize_field("sha256", &self.sha256)?;
        st.serialize_field("source", &self.file)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Result<ExclusionList, ExcludeError> {
        ExclusionList::parse(Path::new("ex.txt"), text.as_bytes())
    }

    /// "an entry excludes that name and every name below it (label-boundary suffix match)".
    #[test]
    fn an_entry_covers_its_name_and_the_names_below_it_at_label_boundaries() {
        let l = list("example.com\n").unwrap();
        for yes in [
            "example.com",
            "mx.example.com",
            "a.b.mx.example.com",
            "EXAMPLE.com.",
        ] {
            assert!(l.contains(yes), "{yes}");
        }
        for no in [
            "notexample.com",
            "com",
            "example.co",
            "example.com.evil",
            "xexample.com",
        ] {
            assert!(!l.contains(no), "{no}");
        }
        assert!(!list("").unwrap().contains("example.com"));
    }

    /// Entries are normalized like input domains: case, a trailing dot, IDNA U-labels.
    #[test]
    fn entries_are_normalized_like_input_domains() {
        let l = list("  OptedOut.Example.  \nbücher.test\n").unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.contains("optedout.example"));
        assert!(l.contains("mx1.optedout.example"));
        // RFC 5891: the U-label "bücher" is the A-label "xn--bcher-kva".
        assert!(l.contains("xn--bcher-kva.test"));
        assert!(l.contains("mail.xn--bcher-kva.test"));
        assert!(!l.contains("bcher.test"));
    }

    #[test]
    fn comments_and_blank_lines_are_not_entries() {
        let l = list("# opt-outs\n\n   \nexample.com # asked on 2026-01-02\r\n#b.test\n").unwrap();
        assert_eq!(l.len(), 1);
        assert!(l.contains("example.com") && !l.contains("b.test"));
    }

    #[test]
    fn a_bad_entry_names_its_line_and_value() {
        let e = list("ok.test\n\nnot a name!\n").err().unwrap();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("\"not a name!\""), "{}", e.message);
        assert!(e.message.contains("domain-bad-char"), "{}", e.message);
        let e = list("a.test\n*.example.com\n").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(
            e.message.contains("bare name \"example.com\""),
            "{}",
            e.message
        );
        let e = list(".example.com\n").err().unwrap();
        assert_eq!(e.line, 1);
        assert!(
            e.message.contains("bare name \"example.com\""),
            "{}",
            e.message
        );
        let e = ExclusionList::parse(Path::new("x"), &b"a.test\n\xff.test\n"[..])
            .err()
            .unwrap();
        assert_eq!((e.line, e.message.contains("UTF-8")), (2, true));
        let long = format!("a.test\n{}\n", "a".repeat(MAX_LINE_BYTES + 10));
        assert_eq!(list(&long).err().unwrap().line, 2);
    }

    /// The fingerprint is the content: order, comments and spelling do not change it.
    #[test]
    fn the_fingerprint_is_the_normalized_content() {
        let a = list("b.test\nA.test.\n").unwrap();
        let b = list("# x\na.test\nb.test # y\nb.test\n").unwrap();
        assert_eq!(a.sha256(), b.sha256());
        assert_eq!(a.len(), 2);
        assert_ne!(a.sha256(), list("a.test\n").unwrap().sha256());
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["entries"], 2);
        assert_eq!(json["sha256"], a.sha256());
        assert_eq!(json["source"], "ex.txt");
    }

    /// A large list is a set: a lookup walks the name's suffixes, not the entries.
    #[test]
    fn a_large_list_is_looked_up_by_suffix() {
        let text: String = (0..100_000).map(|i| format!("d{i}.test\n")).collect();
        let l = list(&text).unwrap();
        assert_eq!(l.len(), 100_000);
        assert!(l.contains("mx.d99999.test"));
        assert!(!l.contains("mx.d100000.test"));
    }
}
