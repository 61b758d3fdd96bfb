//! The Parquet dataset writer: a dedicated `std::thread` fed by a bounded channel, turning
//! rows into Arrow batches (at most [`WriterConfig::batch_rows`] rows buffered per table) and
//! batches into ZSTD-compressed Parquet parts under the Hive layout described in
//! [`crate::output`], plus the manifest after every completed part.
//!
//! A domain and its MX rows travel as one message, so part `N` of `mx` holds exactly the MX
//! rows of the domains in part `N` of `domains`. A part is rolled after
//! [`WriterConfig::part_rows`] domain rows (or that many MX rows times four). Each part is
//! written as `.part-NNNNN.parquet.tmp`, fsynced and renamed (`mx` first, `domains` last).
//! Memory is bounded by the channel capacity, the row buffers and one row group per open
//! file (row groups are cut at [`WriterConfig::row_group_rows`] rows or 64 MiB).
//!
//! Starting a writer for a scan id that already has parts (resume) removes what a crash left
//! (see [`super::read::prune_incomplete`]), continues the part numbering, takes the counts
//! of the existing parts from their footers and keeps the scan's original start time (so its
//! `scan_date` partition). Errors (unwritable directory, disk full) are
//! `Err` values naming the path; the writer never panics on row contents.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use tokio::sync::mpsc;

use super::manifest::{Counts, Manifest, PartInfo, ScanStatus};
use super::read::{self, part_file_name, tmp_file_name};
use super::rows::{DomainRow, MxRow};
use super::schema::{self, SCHEMA_VERSION, Table};

/// The output layer failing (not a measurement outcome).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The Parquet encoder or decoder failed.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The part concerned.
        path: PathBuf,
        /// The cause.
        source: ParquetError,
    },
    /// Building or reading an Arrow batch failed.
    #[error("{}: {source}", path.display())]
    Arrow {
        /// The part concerned.
        path: PathBuf,
        /// The cause.
        source: ArrowError,
    },
    /// A manifest or metadata JSON could not be encoded or decoded.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// An argument or a file content is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The writer thread stopped (after an error, returned by [`OutputWriter::finish`]).
    #[error("the output writer has stopped; finish() returns the cause")]
    WriterStopped,
    /// The writer thread panicked.
    #[error("the output writer thread panicked")]
    WriterPanicked,
}

impl OutputError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parquet(path: &Path, source: ParquetError) -> Self {
        OutputError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Everything the writer needs, with defaults for the tuning knobs.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Output root `OUT`.
    pub out_dir: PathBuf,
    /// Scan identifier: 1–128 characters of `[A-Za-z0-9._-]`, not starting with `.`.
    pub scan_id: String,
    /// When the scan started; its UTC date is the `scan_date` partition.
    pub started_at: DateTime<Utc>,
    /// Version of the tool, written in metadata and manifest.
    pub tool_version: String,
    /// The full resolved configuration (written in every file and in the manifest).
    pub config: serde_json::Value,
    /// The DNS resolvers used.
    pub resolvers: Vec<String>,
    /// Rows buffered per table before they become a batch (default 8192).
    pub batch_rows: usize,
    /// Domain rows per part before it is rolled (default 1 000 000).
    pub part_rows: u64,
    /// Maximum rows per Parquet row group (default 65 536).
    pub row_group_rows: usize,
    /// Capacity of the channel in messages (default 1024).
    pub channel_capacity: usize,
    /// ZSTD level (default 3).
    pub zstd_level: i32,
}

impl WriterConfig {
    /// A configuration with default tuning.
    pub fn new(
        out_dir: impl Into<PathBuf>,
        scan_id: impl Into<String>,
        started_at: DateTime<Utc>,
        config: serde_json::Value,
    ) -> Self {
        WriterConfig {
            out_dir: out_dir.into(),
            scan_id: scan_id.into(),
            started_at,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            config,
            resolvers: Vec::new(),
            batch_rows: 8192,
            part_rows: 1_000_000,
            row_group_rows: 65_536,
            channel_capacity: 1024,
            zstd_level: 3,
        }
    }

    /// The `scan_date=` partition value.
    pub fn scan_date(&self) -> String {
        self.started_at.format("%Y-%m-%d").to_string()
    }

    /// `OUT/<table>/scan_date=…/scan_id=…`.
    pub fn partition_dir(&self, table: Table) -> PathBuf {
        self.out_dir
            .join(table.as_str())
            .join(format!("scan_date={}", self.scan_date()))
            .join(format!("scan_id={}", self.scan_id))
    }
}

/// Checks that a scan id is safe as a path component and a Hive partition value.
pub fn validate_scan_id(id: &str) -> Result<(), OutputError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(OutputError::Invalid(format!(
            "scan id {id:?}: use 1-128 characters of A-Z a-z 0-9 . _ - (not starting with .)"
        )))
    }
}

/// What the writer did, returned by [`OutputWriter::finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteSummary {
    /// Counts over all parts of the scan (including parts of earlier runs when resuming).
    pub counts: Counts,
    /// Every completed part of the scan.
    pub parts: Vec<PartInfo>,
    /// Path of the manifest written last.
    pub manifest: PathBuf,
}

enum Msg {
    Row(Box<DomainRow>, Vec<MxRow>),
    Rows(Vec<(DomainRow, Vec<MxRow>)>),
    Finish(ScanStatus),
}

/// A cloneable handle to send rows to the writer from any task or thread.
#[derive(Debug, Clone)]
pub struct RowSender {
    tx: mpsc::Sender<Msg>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl RowSender {
    /// Sends one domain row with its MX rows, waiting while the channel is full.
    pub async fn send(&self, domain: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        self.tx
            .send(Msg::Row(Box::new(domain), mx))
            .await
            .map_err(|_| OutputError::WriterStopped)
    }

    /// Sends several domains' rows as one message (one wake-up of the writer thread for the
    /// lot), waiting while the channel is full.
    pub async fn send_batch(&self, rows: Vec<(DomainRow, Vec<MxRow>)>) -> Result<(), OutputError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.tx
            .send(Msg::Rows(rows))
            .await
            .map_err(|_| OutputError::WriterStopped)
    }

    /// Like [`RowSender::send`], blocking the thread; never call it from an async task.
    pub fn blocking_send(&self, domain: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        self.tx
            .blocking_send(Msg::Row(Box::new(domain), mx))
            .map_err(|_| OutputError::WriterStopped)
    }
}

/// The running writer. Send rows through [`OutputWriter::sender`], then call
/// [`OutputWriter::finish`] once every producer is done.
#[derive(Debug)]
pub struct OutputWriter {
    sender: RowSender,
    handle: JoinHandle<Result<WriteSummary, OutputError>>,
}

impl OutputWriter {
    /// Validates the configuration, prepares the output directory (pruning what an earlier
    /// crashed run of the same scan left), writes a `running` manifest and starts the thread.
    ///
    /// Reusing a scan id means resuming that scan: when its manifest exists, the scan keeps
    /// the manifest's `started_at` (and so its `scan_date` partition), whatever `cfg` says.
    pub fn start(mut cfg: WriterConfig) -> Result<OutputWriter, OutputError> {
        validate_scan_id(&cfg.scan_id)?;
        let manifest_path = Manifest::path(&cfg.out_dir, &cfg.scan_id);
        if manifest_path.exists() {
            cfg.started_at = Manifest::load_file(&manifest_path)?.started_at;
        }
        if cfg.batch_rows == 0 || cfg.part_rows == 0 || cfg.row_group_rows == 0 {
            return Err(OutputError::Invalid(
                "batch_rows, part_rows and row_group_rows must be positive".into(),
            ));
        }
        let zstd = ZstdLevel::try_new(cfg.zstd_level)
            .map_err(|e| OutputError::Invalid(format!("zstd level: {e}")))?;
        let state = State::new(cfg, zstd)?;
        state.store_manifest(ScanStatus::Running, None)?;
        let (tx, rx) = mpsc::channel(state.cfg.channel_capacity.max(1));
        let handle = std::thread::Builder::new()
            .name("stsscan-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| OutputError::io(Path::new("<writer thread>"), e))?;
        Ok(OutputWriter {
            sender: RowSender { tx },
            handle,
        })
    }

    /// A handle for producers.
    pub fn sender(&self) -> RowSender {
        self.sender.clone()
    }

    /// Sends one domain row with its MX rows (see [`RowSender::send`]).
    pub async fn send(&self, domain: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        self.sender.send(domain, mx).await
    }

    /// Blocking variant of [`OutputWriter::send`].
    pub fn blocking_send(&self, domain: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        self.sender.blocking_send(domain, mx)
    }

    /// Closes the open part, writes the manifest with `status` and joins the thread. Blocks:
    /// from async code call it inside `spawn_blocking`. Rows sent after this are refused.
    pub fn finish(self, status: ScanStatus) -> Result<WriteSummary, OutputError> {
        // If the thread already stopped, the send fails and join returns its error.
        let _ = self.sender.tx.blocking_send(Msg::Finish(status));
        drop(self.sender);
        self.handle
            .join()
            .map_err(|_| OutputError::WriterPanicked)?
    }
}

struct TableFile {
    tmp: PathBuf,
    path: PathBuf,
    writer: ArrowWriter<File>,
    rows: u64,
}

struct OpenPart {
    number: u32,
    domains: TableFile,
    mx: TableFile,
    counts: Counts,
}

struct State {
    cfg: WriterConfig,
    zstd: ZstdLevel,
    domains_schema: SchemaRef,
    mx_schema: SchemaRef,
    config_json: String,
    domain_buf: Vec<DomainRow>,
    mx_buf: Vec<MxRow>,
    domain_buf_bytes: usize,
    part: Option<OpenPart>,
    next_part: u32,
    parts: Vec<PartInfo>,
    counts: Counts,
}

/// Flush the domain buffer early past this many bytes of variable-length text.
const DOMAIN_BUF_BYTES: usize = 32 << 20;
/// Cut a row group past this many encoded bytes.
const ROW_GROUP_BYTES: usize = 64 << 20;

impl State {
    fn new(cfg: WriterConfig, zstd: ZstdLevel) -> Result<State, OutputError> {
        let out = cfg.out_dir.clone();
        read::prune_incomplete(&out, &cfg.scan_id)?;
        let mut parts = Vec::new();
        let mut counts = Counts::default();
        let mut next_part = 0u32;
        for p in read::completed_parts(&out, &cfg.scan_id)? {
            let bytes = fs::metadata(&p.path)
                .map_err(|e| OutputError::io(&p.path, e))?
                .len();
            let (rows, part_counts) = read::part_counts(&p.path)?;
            if p.table == Table::Domains {
                counts.merge(&part_counts);
            }
            next_part = next_part.max(p.part.saturating_add(1));
            parts.push(PartInfo {
                table: p.table.as_str().to_string(),
                part: p.part,
                path: relative(&out, &p.path),
                rows,
                bytes,
            });
        }
        let config_json = serde_json::to_string(&cfg.config).map_err(|e| OutputError::Json {
            path: out.clone(),
            source: e,
        })?;
        Ok(State {
            domain_buf: Vec::with_capacity(cfg.batch_rows.min(8192)),
            mx_buf: Vec::new(),
            domain_buf_bytes: 0,
            domains_schema: Table::Domains.schema(),
            mx_schema: Table::Mx.schema(),
            config_json,
            zstd,
            part: None,
            next_part,
            parts,
            counts,
            cfg,
        })
    }

    fn run(mut self, mut rx: mpsc::Receiver<Msg>) -> Result<WriteSummary, OutputError> {
        let result = self.drain(&mut rx);
        // Refuse further rows at once, whatever happened.
        rx.close();
        if result.is_err() {
            self.abandon_part();
        }
        let status = result?;
        self.close_part()?;
        let manifest = self.store_manifest(status, Some(Utc::now()))?;
        Ok(WriteSummary {
            counts: self.counts,
            parts: self.parts,
            manifest,
        })
    }

    fn drain(&mut self, rx: &mut mpsc::Receiver<Msg>) -> Result<ScanStatus, OutputError> {
        loop {
            match rx.blocking_recv() {
                Some(Msg::Row(domain, mx)) => self.push(*domain, mx)?,
                Some(Msg::Rows(rows)) => {
                    for (domain, mx) in rows {
                        self.push(domain, mx)?;
                    }
                }
                Some(Msg::Finish(status)) => return Ok(status),
                // Every sender dropped without finish(): close cleanly as interrupted.
                None => return Ok(ScanStatus::Interrupted),
            }
        }
    }

    /// After an error: drop the open part and remove its temporary files (best effort; a
    /// resumed scan prunes whatever is left).
    fn abandon_part(&mut self) {
        if let Some(part) = self.part.take() {
            let tmps = [part.domains.tmp.clone(), part.mx.tmp.clone()];
            drop(part);
            for tmp in tmps {
                let _ = fs::remove_file(tmp);
            }
        }
    }

    fn push(&mut self, domain: DomainRow, mx: Vec<MxRow>) -> Result<(), OutputError> {
        if self.part.is_none() {
            self.open_part()?;
        }
        let Some(part) = self.part.as_mut() else {
            return Err(OutputError::Invalid("no open part".into()));
        };
        tally_domain(&mut part.counts, &domain);
        for m in &mx {
            part.counts.mx = part.counts.mx.saturating_add(1);
            part.counts.tally("mx.smtp", m.smtp.as_deref());
            part.counts.tally("mx.mx_cert", m.mx_cert.as_deref());
        }
        part.domains.rows += 1;
        part.mx.rows += mx.len() as u64;
        let roll = part.domains.rows >= self.cfg.part_rows
            || part.mx.rows >= self.cfg.part_rows.saturating_mul(4);
        self.domain_buf_bytes += domain.input.len()
            + domain.policy_body.as_ref().map_or(0, String::len)
            + domain.policy_fetch_detail.as_ref().map_or(0, String::len);
        self.domain_buf.push(domain);
        self.mx_buf.extend(mx);
        if self.domain_buf.len() >= self.cfg.batch_rows || self.domain_buf_bytes >= DOMAIN_BUF_BYTES
        {
            self.flush_domains()?;
        }
        if self.mx_buf.len() >= self.cfg.batch_rows {
            self.flush_mx()?;
        }
        if roll {
            self.close_part()?;
        }
        Ok(())
    }

    fn flush_domains(&mut self) -> Result<(), OutputError> {
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        if self.domain_buf.is_empty() {
            return Ok(());
        }
        let batch = schema::domains_batch(&self.cfg.scan_id, &self.domain_buf).map_err(|e| {
            OutputError::Arrow {
                path: part.domains.tmp.clone(),
                source: e,
            }
        })?;
        write_batch(&mut part.domains, &batch)?;
        self.domain_buf.clear();
        self.domain_buf_bytes = 0;
        Ok(())
    }

    fn flush_mx(&mut self) -> Result<(), OutputError> {
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        if self.mx_buf.is_empty() {
            return Ok(());
        }
        let batch =
            schema::mx_batch(&self.cfg.scan_id, &self.mx_buf).map_err(|e| OutputError::Arrow {
                path: part.mx.tmp.clone(),
                source: e,
            })?;
        write_batch(&mut part.mx, &batch)?;
        self.mx_buf.clear();
        Ok(())
    }

    fn open_file(&self, table: Table, number: u32) -> Result<TableFile, OutputError> {
        let dir = self.cfg.partition_dir(table);
        fs::create_dir_all(&dir).map_err(|e| OutputError::io(&dir, e))?;
        let tmp = dir.join(tmp_file_name(number));
        let path = dir.join(part_file_name(number));
        let file = File::create(&tmp).map_err(|e| OutputError::io(&tmp, e))?;
        let kv = vec![
            KeyValue::new("schema_version".into(), SCHEMA_VERSION.to_string()),
            KeyValue::new("scan_id".into(), self.cfg.scan_id.clone()),
            KeyValue::new("tool_version".into(), self.cfg.tool_version.clone()),
            KeyValue::new("config".into(), self.config_json.clone()),
            KeyValue::new(
                "resolvers".into(),
                serde_json::to_string(&self.cfg.resolvers).unwrap_or_default(),
            ),
            KeyValue::new("table".into(), table.as_str().to_string()),
            KeyValue::new("part".into(), number.to_string()),
        ];
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(self.zstd))
            .set_max_row_group_row_count(Some(self.cfg.row_group_rows))
            .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
            .set_key_value_metadata(Some(kv))
            .set_created_by(format!("stsscan {}", self.cfg.tool_version))
            .build();
        let schema = match table {
            Table::Domains => self.domains_schema.clone(),
            Table::Mx => self.mx_schema.clone(),
        };
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(props))
            .map_err(|e| OutputError::parquet(&tmp, e))?;
        Ok(TableFile {
            tmp,
            path,
            writer,
            rows: 0,
        })
    }

    fn open_part(&mut self) -> Result<(), OutputError> {
        let number = self.next_part;
        self.next_part = number
            .checked_add(1)
            .ok_or_else(|| OutputError::Invalid("part numbers exhausted".into()))?;
        let domains = self.open_file(Table::Domains, number)?;
        let mx = self.open_file(Table::Mx, number)?;
        self.part = Some(OpenPart {
            number,
            domains,
            mx,
            counts: Counts::default(),
        });
        Ok(())
    }

    fn close_part(&mut self) -> Result<(), OutputError> {
        self.flush_domains()?;
        self.flush_mx()?;
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        let counts_json = serde_json::to_string(&part.counts).map_err(|e| OutputError::Json {
            path: part.domains.tmp.clone(),
            source: e,
        })?;
        let mut domains = part.domains;
        domains
            .writer
            .append_key_value_metadata(KeyValue::new("counts".into(), counts_json));
        // mx first: a complete domains part implies a complete mx part.
        let mx_info = finish_file(part.mx, &self.cfg.out_dir, Table::Mx, part.number)?;
        let dom_info = finish_file(domains, &self.cfg.out_dir, Table::Domains, part.number)?;
        self.parts.push(dom_info);
        self.parts.push(mx_info);
        self.parts.sort_by_key(|p| (p.table != "domains", p.part));
        self.counts.merge(&part.counts);
        self.store_manifest(ScanStatus::Running, None)?;
        Ok(())
    }

    fn store_manifest(
        &self,
        status: ScanStatus,
        finished_at: Option<DateTime<Utc>>,
    ) -> Result<PathBuf, OutputError> {
        Manifest {
            scan_id: self.cfg.scan_id.clone(),
            tool_version: self.cfg.tool_version.clone(),
            schema_version: SCHEMA_VERSION,
            config: self.cfg.config.clone(),
            resolvers: self.cfg.resolvers.clone(),
            started_at: self.cfg.started_at,
            finished_at,
            status,
            counts: self.counts.clone(),
            parts: self.parts.clone(),
        }
        .store(&self.cfg.out_dir)
    }
}

fn tally_domain(c: &mut Counts, d: &DomainRow) {
    let b = |v: Option<bool>| v.map(|v| if v { "true" } else { "false" });
    c.domains = c.domains.saturating_add(1);
    c.tally("domains.input_status", Some(d.input_status.as_str()));
    c.tally("domains.sts_txt", d.sts_txt.as_deref());
    c.tally("domains.policy_fetch", d.policy_fetch.as_deref());
    c.tally("domains.policy_usable", b(d.policy_usable));
    c.tally("domains.enforce_deliverable", b(d.enforce_deliverable));
    c.tally("domains.mx_kind", d.mx_kind.as_deref());
    c.tally("domains.tlsrpt", d.tlsrpt.as_deref());
}

fn write_batch(file: &mut TableFile, batch: &RecordBatch) -> Result<(), OutputError> {
    file.writer
        .write(batch)
        .map_err(|e| OutputError::parquet(&file.tmp, e))
}

fn finish_file(
    mut file: TableFile,
    out_dir: &Path,
    table: Table,
    number: u32,
) -> Result<PartInfo, OutputError> {
    file.writer
        .finish()
        .map_err(|e| OutputError::parquet(&file.tmp, e))?;
    file.writer
        .inner()
        .sync_all()
        .map_err(|e| OutputError::io(&file.tmp, e))?;
    let rows = file.rows;
    drop(file.writer);
    let bytes = fs::metadata(&file.tmp)
        .map_err(|e| OutputError::io(&file.tmp, e))?
        .len();
    fs::rename(&file.tmp, &file.path).map_err(|e| OutputError::io(&file.path, e))?;
    if let Some(dir) = file.path.parent() {
        // Persist the rename; failure to open a directory for sync is not fatal everywhere.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(PartInfo {
        table: table.as_str().to_string(),
        part: number,
        path: relative(out_dir, &file.path),
        rows,
        bytes,
    })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
