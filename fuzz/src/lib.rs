//! Helpers shared by the fuzz targets: a sink that checks what the readers hand on, and the
//! invariants every successful ingest must keep.

use pubdata_core::field::{FieldSpec, RowSink};
use pubdata_ingest::{ingest, IngestOptions, Report};

/// Options for fuzzing: the documented defaults, with limits small enough that one input
/// cannot take seconds or gigabytes (the limit paths are exercised too).
pub fn fuzz_options() -> IngestOptions {
    IngestOptions {
        max_cell_bytes: 64 << 10,
        max_record_bytes: 256 << 10,
        max_uncompressed_bytes: 32 << 20,
        sample_rows: 20,
        key_budget_bytes: 1 << 20,
        progress_every_rows: 7,
        ..IngestOptions::default()
    }
}

/// Records what the pipeline delivers and checks the reader's contract as it goes.
#[derive(Default)]
pub struct CheckingSink {
    pub columns: Option<Vec<String>>,
    pub rows: u64,
    pub finished: u32,
    /// Every delivered cell, when asked for (the masking checks read them).
    pub keep_cells: bool,
    pub cells: Vec<Option<String>>,
}

impl RowSink for CheckingSink {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String> {
        assert!(self.columns.is_none(), "begin called twice");
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        assert!(!names.is_empty(), "a table without columns was begun");
        for (i, n) in names.iter().enumerate() {
            assert!(!n.trim().is_empty(), "empty column name at {i}: {names:?}");
            assert!(!names[..i].contains(n), "duplicate column name {n:?}: {names:?}");
        }
        self.columns = Some(names);
        Ok(())
    }

    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String> {
        let n = self.columns.as_ref().expect("a row before begin").len();
        assert_eq!(values.len(), n, "a row of {} cells under {n} columns", values.len());
        assert_eq!(self.finished, 0, "a row after finish");
        self.rows += 1;
        if self.keep_cells {
            self.cells.extend(values.iter().map(|v| v.map(str::to_string)));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.finished += 1;
        Ok(())
    }
}

/// Ingests `data` as a file called `name` and checks the report against what the sink saw.
/// Errors are fine (bad input must be an `Err`, never a panic); a success must be consistent.
pub fn check_ingest(data: &[u8], name: &str, opts: &IngestOptions) -> Option<(Report, CheckingSink)> {
    check_ingest_into(data, name, opts, CheckingSink::default())
}

/// [`check_ingest`] into a given (fresh) sink, e.g. one that keeps the cells.
pub fn check_ingest_into(
    data: &[u8],
    name: &str,
    opts: &IngestOptions,
    mut sink: CheckingSink,
) -> Option<(Report, CheckingSink)> {
    let mut last_rows = 0u64;
    let mut progress = |p: pubdata_ingest::Progress| {
        assert!(p.rows >= last_rows, "progress went backwards");
        last_rows = p.rows;
    };
    let report = ingest(data, name, Some(data.len() as u64), opts, &mut sink, &mut progress).ok()?;
    check_report(&report, &sink);
    Some((report, sink))
}

pub fn check_report(report: &Report, sink: &CheckingSink) {
    assert_eq!(report.rows, sink.rows, "report rows vs rows delivered");
    assert_eq!(sink.finished, 1, "finish called {} times", sink.finished);
    let names = sink.columns.as_ref().expect("success without begin");
    assert_eq!(report.columns.len(), names.len(), "a profile per column");
    let q = &report.quality;
    assert!(
        (0.0..=100.0).contains(&q.overall_score),
        "overall quality score {} out of range",
        q.overall_score
    );
    for s in &q.column_scores {
        assert!(s.score.is_finite(), "column score {s:?}");
    }
    for f in &report.privacy {
        assert!(
            names.contains(&f.column),
            "privacy finding for unknown column {:?}",
            f.column
        );
        assert!(f.count <= report.rows, "more findings than rows: {f:?}");
    }
}
