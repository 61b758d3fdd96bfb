//! `tlsrpt ingest`: walking files and directories, recognising report files (`.json`,
//! `.json.gz`), RFC 5322 messages (`.eml`) and mbox files, extracting the report parts and
//! appending them to the dataset ([`super::store`]). A bad input becomes an `errors` row with
//! an [`IngestCode`] or a `tlsrpt-*` parser code; only the tool failing (an unwritable
//! dataset) stops the run. Every read is capped; mboxes are streamed one message at a time.

use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::Context;

use super::mime::{self, MboxMessage, ReportMediaType};
use super::store::{Added, Store};
use crate::records::tlsrpt_report::{self, MAX_REPORT_BYTES, ReportParse};

/// Deepest directory nesting followed.
pub const MAX_DIR_DEPTH: usize = 32;

/// Why an input yielded no report (besides the `tlsrpt-*` codes of the report parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestCode {
    /// `ingest-unreadable`: the file could not be opened or read.
    Unreadable,
    /// `ingest-too-large`: the file is larger than the cap for its kind.
    TooLarge,
    /// `ingest-unrecognized`: neither JSON, gzip, an RFC 5322 message nor an mbox.
    Unrecognized,
    /// `ingest-no-report-part`: a message without an `application/tlsrpt+json` or
    /// `application/tlsrpt+gzip` part.
    NoReportPart,
    /// `ingest-message-too-large`: an mbox message larger than the message cap (skipped).
    MessageTooLarge,
}

impl IngestCode {
    /// The kebab-case code stored in the `errors` table.
    pub fn as_str(self) -> &'static str {
        match self {
            IngestCode::Unreadable => "ingest-unreadable",
            IngestCode::TooLarge => "ingest-too-large",
            IngestCode::Unrecognized => "ingest-unrecognized",
            IngestCode::NoReportPart => "ingest-no-report-part",
            IngestCode::MessageTooLarge => "ingest-message-too-large",
        }
    }
}

/// Counters of one ingest run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Files visited.
    pub files: u64,
    /// Messages read (from `.eml` files and mboxes).
    pub messages: u64,
    /// Reports added to the dataset.
    pub added: u64,
    /// Valid reports skipped because their `report-id` was already stored.
    pub duplicates: u64,
    /// Rows added to the `errors` table (an input already recorded with the same code is not
    /// recorded again).
    pub errors: u64,
}

/// The kind of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Gzip,
    Message,
    Mbox,
}

fn kind_of(path: &Path, head: &[u8]) -> Option<Kind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".json") {
        return Some(Kind::Json);
    }
    if name.ends_with(".gz") {
        return Some(Kind::Gzip);
    }
    if name.ends_with(".eml") {
        return Some(Kind::Message);
    }
    if name.ends_with(".mbox") || name == "mbox" {
        return Some(Kind::Mbox);
    }
    let trimmed: &[u8] = {
        let skip = head.iter().take_while(|b| b.is_ascii_whitespace()).count();
        &head[skip..]
    };
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Gzip)
    } else if trimmed.starts_with(b"{") {
        Some(Kind::Json)
    } else if head.starts_with(b"From ") {
        Some(Kind::Mbox)
    } else if looks_like_header(head) {
        Some(Kind::Message)
    } else {
        None
    }
}

/// The first line is an RFC 5322 header field (`name: value`).
fn looks_like_header(head: &[u8]) -> bool {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    match line.iter().position(|&b| b == b':') {
        Some(i) if i > 0 => line[..i].iter().all(|&b| b.is_ascii_graphic() && b != b':'),
        _ => false,
    }
}

/// Reads at most `cap + 1` bytes of `path`; `None` (with an error row) on failure or excess.
fn read_capped(
    store: &mut Store,
    stats: &mut IngestStats,
    path: &Path,
    cap: usize,
) -> anyhow::Result<Option<Vec<u8>>> {
    let source = path.display().to_string();
    let mut buf = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let res = File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf));
    if let Err(e) = res {
        error(
            store,
            stats,
            &source,
            IngestCode::Unreadable.as_str(),
            &e.to_string(),
        )?;
        return Ok(None);
    }
    if buf.len() > cap {
        let msg = format!("larger than {cap} bytes");
        error(store, stats, &source, IngestCode::TooLarge.as_str(), &msg)?;
        return Ok(None);
    }
    Ok(Some(buf))
}

fn error(
    store: &mut Store,
    stats: &mut IngestStats,
    source: &str,
    code: &str,
    message: &str,
) -> anyhow::Result<()> {
    if store.add_error(source, code, message)? {
        stats.errors += 1;
    }
    Ok(())
}

/// Parses one report (JSON or gzip) and stores it, or an error row.
pub fn ingest_report_bytes(
    store: &mut Store,
    stats: &mut IngestStats,
    bytes: &[u8],
    media: ReportMediaType,
    source: &str,
) -> anyhow::Result<Option<Added>> {
    let parsed = match media {
        ReportMediaType::Json => tlsrpt_report::parse(bytes),
        ReportMediaType::Gzip => tlsrpt_report::parse_gzip(bytes),
    };
    store_parsed(store, stats, &parsed, source)
}

/// Stores a parse outcome: the report's rows, or one error row naming the first error.
pub fn store_parsed(
    store: &mut Store,
    stats: &mut IngestStats,
    parsed: &ReportParse,
    source: &str,
) -> anyhow::Result<Option<Added>> {
    match &parsed.report {
        Some(report) => {
            let codes: Vec<String> = parsed.findings.iter().map(|f| f.code.to_string()).collect();
            let added = store.add_report(report, &codes, source)?;
            match added {
                Added::Added => stats.added += 1,
                Added::Duplicate => stats.duplicates += 1,
            }
            Ok(Some(added))
        }
        None => {
            let code = parsed
                .errors
                .first()
                .map_or("tlsrpt-bad-json".to_owned(), |e| e.code.to_string());
            let message = parsed
                .errors
                .iter()
                .take(8)
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            error(store, stats, source, &code, &message)?;
            Ok(None)
        }
    }
}

/// Extracts and stores every report part of one message.
fn ingest_message(
    store: &mut Store,
    stats: &mut IngestStats,
    message: &[u8],
    source: &str,
) -> anyhow::Result<()> {
    stats.messages += 1;
    let parts = mime::report_parts(message);
    if parts.is_empty() {
        let msg = "no application/tlsrpt+json or application/tlsrpt+gzip part";
        return error(store, stats, source, IngestCode::NoReportPart.as_str(), msg);
    }
    for p in parts {
        let src = format!("{source}/part={}", p.index);
        ingest_report_bytes(store, stats, &p.bytes, p.media_type, &src)?;
    }
    Ok(())
}

/// Ingests one file (any kind).
pub fn ingest_file(store: &mut Store, stats: &mut IngestStats, path: &Path) -> anyhow::Result<()> {
    stats.files += 1;
    let source = path.display().to_string();
    let mut head = [0u8; 512];
    let n = match File::open(path).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(e) => {
            let msg = e.to_string();
            return error(store, stats, &source, IngestCode::Unreadable.as_str(), &msg);
        }
    };
    let Some(kind) = kind_of(path, &head[..n]) else {
        let msg = "not a JSON or gzip report, an RFC 5322 message or an mbox";
        return error(
            store,
            stats,
            &source,
            IngestCode::Unrecognized.as_str(),
            msg,
        );
    };
    match kind {
        Kind::Json | Kind::Gzip => {
            if let Some(bytes) = read_capped(store, stats, path, MAX_REPORT_BYTES)? {
                // Sniff rather than trust the name: a `.json` may be gzip and vice versa.
                let media = if bytes.starts_with(&[0x1f, 0x8b]) {
                    ReportMediaType::Gzip
                } else {
                    ReportMediaType::Json
                };
                ingest_report_bytes(store, stats, &bytes, media, &source)?;
            }
        }
        Kind::Message => {
            if let Some(bytes) = read_capped(store, stats, path, mime::MAX_MESSAGE_BYTES)? {
                ingest_message(store, stats, &bytes, &source)?;
            }
        }
        Kind::Mbox => {
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    let msg = e.to_string();
                    return error(store, stats, &source, IngestCode::Unreadable.as_str(), &msg);
                }
            };
            let res = mime::for_each_mbox_message(BufReader::new(file), |i, m| {
                let src = format!("{source}#msg={i}");
                match m {
                    MboxMessage::Message(bytes) => ingest_message(store, stats, &bytes, &src),
                    MboxMessage::TooLarge => {
                        stats.messages += 1;
                        let msg = format!("message larger than {} bytes", mime::MAX_MESSAGE_BYTES);
                        error(
                            store,
                            stats,
                            &src,
                            IngestCode::MessageTooLarge.as_str(),
                            &msg,
                        )
                    }
                }
            });
            if let Err(e) = res {
                // An I/O error mid-file is a property of the input; a store error is ours.
                if e.downcast_ref::<std::io::Error>().is_some() {
                    let msg = e.to_string();
                    error(store, stats, &source, IngestCode::Unreadable.as_str(), &msg)?;
                } else {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Ingests files and directories (recursively, in name order, symlinks to directories not
/// followed) into the dataset at `out`, then flushes it.
pub fn ingest_paths(paths: &[impl AsRef<Path>], out: &Path) -> anyhow::Result<IngestStats> {
    let mut store = Store::open(out)?;
    let mut stats = IngestStats::default();
    for p in paths {
        walk(&mut store, &mut stats, p.as_ref(), 0)?;
    }
    store.flush()?;
    Ok(stats)
}

fn walk(
    store: &mut Store,
    stats: &mut IngestStats,
    path: &Path,
    depth: usize,
) -> anyhow::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let src = path.display().to_string();
            return error(
                store,
                stats,
                &src,
                IngestCode::Unreadable.as_str(),
                &e.to_string(),
            );
        }
    };
    let is_dir = meta.is_dir() || (depth == 0 && fs::metadata(path).is_ok_and(|m| m.is_dir()));
    if !is_dir {
        if meta.file_type().is_symlink()
            && depth > 0
            && fs::metadata(path).is_ok_and(|m| m.is_dir())
        {
            return Ok(());
        }
        return ingest_file(store, stats, path);
    }
    if depth >= MAX_DIR_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<_> = fs::read_dir(path)
        .with_context(|| format!("listing {}", path.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for e in entries {
        let name = e
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        walk(store, stats, &e, depth + 1)?;
    }
    Ok(())
}
