//! Why an ingest stopped: each error says what was wrong and where (row, column, byte), in
//! English, and carries a stable machine code the web layer translates.

use serde::{Deserialize, Serialize};

/// A data row whose field count differs from the header's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaggedRow {
    /// 1-based data row (the header is not counted).
    pub row: u64,
    pub fields: usize,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("the file is empty: {detail}")]
    EmptyFile { detail: String },
    #[error("this is not a text table ({detail}); upload CSV, XLSX or JSON")]
    BinaryData { detail: String },
    #[error("unsupported file format: {detail}")]
    UnsupportedFormat { detail: String },
    #[error(
        "the text is neither UTF-8 nor GB18030/GBK: undecodable bytes at byte offset {byte_offset} \
         (data row {row}); {detail}"
    )]
    BadEncoding { byte_offset: u64, row: u64, detail: String },
    #[error(
        "the header has empty column names at positions {}; give every column a name",
        join(positions)
    )]
    EmptyHeader { positions: Vec<usize> },
    #[error("the header repeats column names: {}; make every column name unique", names.join(", "))]
    DuplicateHeader { names: Vec<String> },
    #[error(
        "rows have a different number of fields than the header's {expected}: {}{}; check delimiters and quoting",
        ragged_list(rows),
        if *more { " and more" } else { "" }
    )]
    RaggedRows {
        expected: usize,
        rows: Vec<RaggedRow>,
        /// More ragged rows exist beyond those listed.
        more: bool,
    },
    #[error("{} column {column:?} holds a cell larger than the limit of {limit} bytes", at_row(*row))]
    CellTooLarge { row: u64, column: String, limit: u64 },
    #[error("{} is larger than the limit of {limit} bytes", at_row(*row))]
    RecordTooLarge { row: u64, limit: u64 },
    #[error("refused as a possible zip bomb: {detail}")]
    ZipBomb { detail: String },
    #[error("not a readable XLSX workbook: {detail}")]
    BadXlsx { detail: String },
    #[error("the workbook has no sheet named {sheet:?}; its sheets are: {}", available.join(", "))]
    SheetNotFound { sheet: String, available: Vec<String> },
    #[error("invalid JSON at line {line}, column {column}: {detail}")]
    BadJson { line: usize, column: usize, detail: String },
    #[error("expected a JSON array of objects like [{{\"a\": 1}}, {{\"a\": 2}}], but {detail}")]
    NotArrayOfObjects { detail: String },
    #[error("data row {row} has the key {key:?} that the first object does not have; every object must use the first object's keys")]
    NewKey { row: u64, key: String },
    #[error("the destination refused the rows: {detail}")]
    Sink { detail: String },
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl IngestError {
    /// The stable machine code, e.g. `ragged_rows`, for translation and API clients.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::EmptyFile { .. } => "empty_file",
            IngestError::BinaryData { .. } => "binary_data",
            IngestError::UnsupportedFormat { .. } => "unsupported_format",
            IngestError::BadEncoding { .. } => "bad_encoding",
            IngestError::EmptyHeader { .. } => "empty_header",
            IngestError::DuplicateHeader { .. } => "duplicate_header",
            IngestError::RaggedRows { .. } => "ragged_rows",
            IngestError::CellTooLarge { .. } => "cell_too_large",
            IngestError::RecordTooLarge { .. } => "record_too_large",
            IngestError::ZipBomb { .. } => "zip_bomb",
            IngestError::BadXlsx { .. } => "bad_xlsx",
            IngestError::SheetNotFound { .. } => "sheet_not_found",
            IngestError::BadJson { .. } => "bad_json",
            IngestError::NotArrayOfObjects { .. } => "not_array_of_objects",
            IngestError::NewKey { .. } => "new_key",
            IngestError::Sink { .. } => "sink_failed",
            IngestError::Io(_) => "io",
        }
    }
}

fn join(positions: &[usize]) -> String {
    positions.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}

fn ragged_list(rows: &[RaggedRow]) -> String {
    rows.iter()
        .map(|r| format!("row {} has {} fields", r.row, r.fields))
        .collect::<Vec<_>>()
        .join(", ")
}

fn at_row(row: u64) -> String {
    if row == 0 {
        "the header".to_string()
    } else {
        format!("data row {row}")
    }
}
