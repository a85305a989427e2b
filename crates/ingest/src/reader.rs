//! What every reader (CSV, XLSX, JSON) hands on: a header, then rows of cells, pushed into a
//! consumer one at a time so nothing but the current row is held.

use crate::decode::DecodeState;
use crate::IngestError;

pub(crate) trait RowConsumer {
    /// The column names, checked (non-empty, unique), before any row.
    fn header(&mut self, names: Vec<String>) -> Result<(), IngestError>;
    /// One data row with exactly as many cells as the header.
    fn row(&mut self, cells: &[&str]) -> Result<(), IngestError>;
}

/// Reuses a vector's allocation for references of another lifetime (the vector is emptied,
/// so no reference survives).
pub(crate) fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// An I/O error from a decoded stream: undecodable text becomes `bad_encoding` with its offset.
pub(crate) fn map_io(e: std::io::Error, state: &DecodeState, row: u64) -> IngestError {
    match state.error_at.get() {
        Some(byte_offset) => IngestError::BadEncoding {
            byte_offset,
            row,
            detail: "save the file as UTF-8 (or GB18030) and upload it again".into(),
        },
        None => IngestError::Io(e),
    }
}
