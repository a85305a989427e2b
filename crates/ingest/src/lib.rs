//! Ingest: reading uploaded files as streams of rows, profiling, auditing and masking them.
//!
//! [`ingest`] reads CSV (UTF-8, UTF-8 with BOM, GB18030/GBK), XLSX or JSON from any
//! `std::io::Read` in bounded memory, profiles every column, audits rows against the declared
//! 数据项 (`FieldSpec`s), finds personal data, masks columns by rule, and hands the rows to a
//! [`RowSink`] (the datastore, or [`pubdata_core::field::NullSink`] for a dry run). No SQL, no HTTP.
//!
//! Memory stays bounded whatever the file size: the current row, the first `sample_rows` rows
//! (at most 16 MiB) held while types are inferred, fixed-size sketches per column (4 KiB
//! HyperLogLog, 64 top-value counters), and the duplicate-key set up to `key_budget_bytes`.
//! XLSX is the exception: calamine holds the workbook's shared-strings table in memory.

mod csv;
mod decode;
mod detect;
mod error;
mod json;
pub mod mask;
mod pipeline;
pub mod privacy;
mod profile;
pub mod quality;
mod reader;
mod report;
mod sketch;
mod value;
pub mod watermark;
mod xlsx;

pub use decode::TextEncoding;
pub use detect::{detect_format, Format};
pub use error::{IngestError, RaggedRow};
pub use mask::{DatePart, MaskMethod, MaskRule};
pub use privacy::PiiKind;
pub use profile::{ColumnProfile, TopValue};
pub use quality::{AuditBasis, ColumnScore, DuplicateCheck, QualityFinding, QualityReport, QualityRule};
pub use report::{PrivacyFinding, Report, Warning};
pub use value::{parse_date, DateStyle, ParsedDate};

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use pubdata_core::field::{FieldSpec, RowSink};

use decode::{Counted, Decoder};
use pipeline::Pipeline;

/// The secret key for [`MaskMethod::Hash`]; never printed.
#[derive(Clone, Default)]
pub struct MaskSecret(pub Vec<u8>);

impl std::fmt::Debug for MaskSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskSecret(***)")
    }
}

/// How to read, check and mask a file. `Default` gives the documented limits.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The declared 数据项; empty: types are inferred and the audit checks against them.
    pub fields: Vec<FieldSpec>,
    pub masks: Vec<MaskRule>,
    pub mask_secret: MaskSecret,
    /// XLSX: the sheet to read; `None` reads the first.
    pub sheet: Option<String>,
    /// Largest cell, in bytes (default 1 MiB).
    pub max_cell_bytes: usize,
    /// Largest record (row), in bytes (default 1 MiB).
    pub max_record_bytes: usize,
    /// XLSX: largest total uncompressed size of the workbook's parts (default 1 GiB).
    pub max_uncompressed_bytes: u64,
    /// XLSX: largest compression ratio of a part of 1 MiB or more (default 200).
    pub max_compression_ratio: u64,
    /// Rows held back to infer column types before the sink sees any (default 1000).
    pub sample_rows: usize,
    /// Memory for the duplicate-key hash set (default 64 MiB, about 3.7 million keys).
    pub key_budget_bytes: usize,
    /// Progress is reported every this many rows (default 65,536) and at the end.
    pub progress_every_rows: u64,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            fields: Vec::new(),
            masks: Vec::new(),
            mask_secret: MaskSecret::default(),
            sheet: None,
            max_cell_bytes: 1 << 20,
            max_record_bytes: 1 << 20,
            max_uncompressed_bytes: 1 << 30,
            max_compression_ratio: 200,
            sample_rows: 1000,
            key_budget_bytes: 64 << 20,
            progress_every_rows: 65_536,
        }
    }
}

/// How far an ingest has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
    pub rows: u64,
}

const HEAD: usize = 64 * 1024;
/// XLSX read from a stream is spooled in memory up to this size, then to a temporary file.
const SPOOL_MEMORY: usize = 32 << 20;

/// Reads `input` (a file called `name`, for its extension) to the end, delivering rows to
/// `sink`, and reports on it. `total_bytes` only feeds progress.
pub fn ingest(
    input: impl Read,
    name: &str,
    total_bytes: Option<u64>,
    opts: &IngestOptions,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, IngestError> {
    let count = Rc::new(Cell::new(0u64));
    let mut counted = Counted {
        inner: input,
        count: count.clone(),
    };
    let mut head = Vec::with_capacity(HEAD);
    (&mut counted).take(HEAD as u64).read_to_end(&mut head)?;
    if head.is_empty() {
        return Err(IngestError::EmptyFile {
            detail: "the file has 0 bytes".into(),
        });
    }
    let format = detect_format(name, &head)?;
    let rest = Cursor::new(head).chain(counted);
    let mut report = empty_report(name, format);
    let mut pipeline = Pipeline::new(opts, sink, progress, count, total_bytes);
    match format {
        Format::Csv => {
            let (decoder, state) = Decoder::new(rest);
            let limits = csv::CsvLimits {
                max_cell: opts.max_cell_bytes,
                max_record: opts.max_record_bytes,
                prefer_tab: name.to_ascii_lowercase().ends_with(".tsv"),
            };
            let delimiter = csv::read_csv(decoder, &state, &limits, &mut pipeline)?;
            report.encoding = Some(state.encoding.get());
            report.delimiter = Some((delimiter as char).to_string());
        }
        Format::Json => {
            let (decoder, state) = Decoder::new(rest);
            let limits = json::JsonLimits {
                max_cell: opts.max_cell_bytes,
                max_record: opts.max_record_bytes,
            };
            json::read_json(decoder, &state, &limits, &mut pipeline)?;
            report.encoding = Some(state.encoding.get());
        }
        Format::Xlsx => {
            let spooled = spool(rest, opts.max_uncompressed_bytes)?;
            read_xlsx(spooled, opts, &mut pipeline, &mut report)?;
        }
    }
    pipeline.finish(&mut report)?;
    Ok(report)
}

/// [`ingest`] on a file; an XLSX file is read in place (no spooling).
pub fn ingest_file(
    path: &Path,
    opts: &IngestOptions,
    sink: &mut dyn RowSink,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, IngestError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut file = File::open(path)?;
    let total = file.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD);
    (&mut file).take(HEAD as u64).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    if head.is_empty() || detect_format(&name, &head)? != Format::Xlsx {
        return ingest(file, &name, Some(total), opts, sink, progress);
    }
    let count = Rc::new(Cell::new(total));
    let mut report = empty_report(&name, Format::Xlsx);
    let mut pipeline = Pipeline::new(opts, sink, progress, count, Some(total));
    read_xlsx(file, opts, &mut pipeline, &mut report)?;
    pipeline.finish(&mut report)?;
    Ok(report)
}

fn read_xlsx<RS: Read + Seek>(
    rs: RS,
    opts: &IngestOptions,
    pipeline: &mut Pipeline,
    report: &mut Report,
) -> Result<(), IngestError> {
    let limits = xlsx::XlsxLimits {
        max_uncompressed: opts.max_uncompressed_bytes,
        max_ratio: opts.max_compression_ratio,
        max_cell: opts.max_cell_bytes,
    };
    let info = xlsx::read_xlsx(rs, opts.sheet.as_deref(), &limits, pipeline)?;
    if info.formula_cells > 0 {
        pipeline.warnings.push(Warning::new(
            "formula_cells",
            format!(
                "{} cells hold formulas (first: {}); their cached values were read, recalculate in Excel if they may be stale",
                info.formula_cells,
                info.formula_positions.join(", ")
            ),
        ));
    }
    if info.error_cells > 0 {
        pipeline.warnings.push(Warning::new(
            "error_cells",
            format!(
                "{} cells hold Excel errors such as #DIV/0! and were read as empty",
                info.error_cells
            ),
        ));
    }
    if let Some(e) = info.formula_scan_failed {
        pipeline.warnings.push(Warning::new(
            "formula_scan_failed",
            format!("formula cells could not be counted: {e}"),
        ));
    }
    report.sheets = info.sheets;
    report.sheet = Some(info.sheet);
    Ok(())
}

fn empty_report(name: &str, format: Format) -> Report {
    Report {
        name: name.to_string(),
        format,
        encoding: None,
        delimiter: None,
        sheets: Vec::new(),
        sheet: None,
        rows: 0,
        bytes: 0,
        columns: Vec::new(),
        quality: QualityReport {
            basis: AuditBasis::Inferred,
            findings: Vec::new(),
            column_scores: Vec::new(),
            overall_score: 100.0,
            duplicate_check: DuplicateCheck::None,
        },
        privacy: Vec::new(),
        masked_columns: Vec::new(),
        warnings: Vec::new(),
    }
}

/// A seekable copy of a stream: in memory when small, else a temporary file removed on drop.
enum Spool {
    Memory(Cursor<Vec<u8>>),
    File(File, PathBuf),
}

fn spool<R: Read>(mut r: R, limit: u64) -> Result<Spool, IngestError> {
    let mut mem = Vec::new();
    (&mut r).take(SPOOL_MEMORY as u64 + 1).read_to_end(&mut mem)?;
    if mem.len() <= SPOOL_MEMORY {
        return Ok(Spool::Memory(Cursor::new(mem)));
    }
    let path = std::env::temp_dir().join(format!(
        "pubdata-ingest-{}-{}.xlsx",
        std::process::id(),
        SPOOL_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let spool = Spool::File(file.try_clone()?, path);
    file.write_all(&mem)?;
    let copied = io::copy(&mut r.take(limit), &mut file)?;
    if copied + mem.len() as u64 >= limit {
        return Err(IngestError::ZipBomb {
            detail: format!("the workbook file itself is larger than {limit} bytes"),
        });
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(spool)
}

static SPOOL_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Read for Spool {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Spool::Memory(c) => c.read(buf),
            Spool::File(f, _) => f.read(buf),
        }
    }
}

impl Seek for Spool {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Spool::Memory(c) => c.seek(pos),
            Spool::File(f, _) => f.seek(pos),
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Spool::File(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
