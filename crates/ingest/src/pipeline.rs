//! The pipeline between a reader and the sink: every row is profiled and scanned for personal
//! data; the first rows are held back until the column types are known, then every row is
//! audited, masked and handed to the sink.

use std::cell::Cell;
use std::rc::Rc;

use pubdata_core::field::{FieldSpec, FieldType, RowSink};

use crate::mask::MaskMethod;
use crate::privacy::{self, PiiKind};
use crate::profile::ColumnStats;
use crate::quality::{Audit, AuditBasis};
use crate::reader::{recycle, RowConsumer};
use crate::report::{PrivacyFinding, Report, Warning};
use crate::sketch::hash_str;
use crate::value::{classify, ValueClass};
use crate::{IngestError, IngestOptions, Progress};

/// Held-back rows stop at this many bytes even before `sample_rows`.
const SAMPLE_BYTES: usize = 16 << 20;
const PII_ROWS: usize = 5;

/// The first rows, held while the column types are unknown.
#[derive(Default)]
struct Sample {
    text: String,
    ends: Vec<usize>,
    rows: usize,
}

#[derive(Default)]
struct ColumnPii {
    counts: [u64; 5],
    rows: [Vec<u64>; 5],
}

impl ColumnPii {
    fn observe(&mut self, v: &str, row: u64) {
        let found = privacy::scan(v);
        for k in found.kinds() {
            let i = k as usize;
            self.counts[i] += 1;
            if self.rows[i].len() < PII_ROWS {
                self.rows[i].push(row);
            }
        }
    }
}

pub(crate) struct Pipeline<'a> {
    opts: &'a IngestOptions,
    sink: &'a mut dyn RowSink,
    progress: &'a mut dyn FnMut(Progress),
    bytes: Rc<Cell<u64>>,
    total: Option<u64>,
    names: Vec<String>,
    stats: Vec<ColumnStats>,
    pii: Vec<ColumnPii>,
    classes: Vec<ValueClass>,
    sample: Option<Sample>,
    audit: Option<Audit>,
    masks: Vec<Option<MaskMethod>>,
    mask_out: Vec<String>,
    loaded: Vec<FieldSpec>,
    sensitive: Vec<bool>,
    basis: AuditBasis,
    rows: u64,
    scratch: Vec<&'static str>,
    out: Vec<Option<&'static str>>,
    pub warnings: Vec<Warning>,
}

impl<'a> Pipeline<'a> {
    pub fn new(
        opts: &'a IngestOptions,
        sink: &'a mut dyn RowSink,
        progress: &'a mut dyn FnMut(Progress),
        bytes: Rc<Cell<u64>>,
        total: Option<u64>,
    ) -> Self {
        Pipeline {
            opts,
            sink,
            progress,
            bytes,
            total,
            names: Vec::new(),
            stats: Vec::new(),
            pii: Vec::new(),
            classes: Vec::new(),
            sample: Some(Sample::default()),
            audit: None,
            masks: Vec::new(),
            mask_out: Vec::new(),
            loaded: Vec::new(),
            sensitive: Vec::new(),
            basis: AuditBasis::Inferred,
            rows: 0,
            scratch: Vec::new(),
            out: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn report_progress(&mut self) {
        (self.progress)(Progress {
            bytes_read: self.bytes.get(),
            total_bytes: self.total,
            rows: self.rows,
        });
    }

    /// Types are decided: tell the sink the columns and release the held-back rows.
    fn start_streaming(&mut self) -> Result<(), IngestError> {
        let Some(sample) = self.sample.take() else {
            return Ok(());
        };
        let declared = &self.opts.fields;
        self.basis = if declared.is_empty() {
            AuditBasis::Inferred
        } else {
            AuditBasis::Declared
        };
        let mut specs = Vec::with_capacity(self.names.len());
        let mut undeclared = Vec::new();
        for (name, stats) in self.names.iter().zip(&self.stats) {
            match declared.iter().find(|f| &f.name == name) {
                Some(f) => specs.push(f.clone()),
                None => {
                    if !declared.is_empty() {
                        undeclared.push(name.clone());
                    }
                    specs.push(FieldSpec::new(name, stats.infer()));
                }
            }
        }
        let missing: Vec<String> = declared
            .iter()
            .filter(|f| !self.names.contains(&f.name))
            .map(|f| f.name.clone())
            .collect();
        self.sensitive = specs.iter().map(|s| s.sensitive).collect();
        self.loaded = specs
            .iter()
            .zip(&self.masks)
            .map(|(s, m)| {
                let mut s = s.clone();
                if m.is_some() {
                    // Masked text no longer has the column's type.
                    s.field_type = FieldType::String;
                    s.length = None;
                    s.precision = None;
                }
                s
            })
            .collect();
        self.audit = Some(Audit::new(
            &self.names,
            specs,
            self.basis,
            missing,
            undeclared,
            self.opts.key_budget_bytes,
        ));
        self.sink
            .begin(&self.loaded)
            .map_err(|detail| IngestError::Sink { detail })?;
        let n = self.names.len();
        let mut start = 0;
        for r in 0..sample.rows {
            let ends = &sample.ends[r * n..(r + 1) * n];
            let mut values = recycle(std::mem::take(&mut self.scratch));
            for &end in ends {
                values.push(&sample.text[start..end]);
                start = end;
            }
            for (c, v) in self.classes.iter_mut().zip(&values) {
                *c = if v.is_empty() { ValueClass::NULL } else { classify(v) };
            }
            self.emit(r as u64 + 1, &values)?;
            self.scratch = recycle(values);
        }
        Ok(())
    }

    /// Audits, masks and delivers one row whose `classes` are current.
    fn emit(&mut self, row: u64, values: &[&str]) -> Result<(), IngestError> {
        if let Some(a) = &mut self.audit {
            a.check(row, values, &self.classes);
        }
        let secret = &self.opts.mask_secret.0;
        let mut out = recycle_cells(std::mem::take(&mut self.out));
        for (out_buf, (v, m)) in self.mask_out.iter_mut().zip(values.iter().zip(&self.masks)) {
            out.push(match (v.is_empty(), m) {
                (true, _) => None,
                (false, None) => Some(*v),
                (false, Some(m)) => {
                    m.apply(v, secret, out_buf);
                    Some(out_buf.as_str())
                }
            });
        }
        let result = self.sink.row(&out).map_err(|detail| IngestError::Sink { detail });
        self.out = recycle_cells(out);
        result
    }

    /// The reader is done: flush, finish the sink and assemble the report's column parts.
    pub fn finish(mut self, report: &mut Report) -> Result<(), IngestError> {
        if self.names.is_empty() || self.rows == 0 {
            return Err(IngestError::EmptyFile {
                detail: "there is a header but no data rows".into(),
            });
        }
        self.start_streaming()?;
        self.sink.finish().map_err(|detail| IngestError::Sink { detail })?;
        self.report_progress();
        report.rows = self.rows;
        report.bytes = self.bytes.get();
        report.masked_columns = self
            .names
            .iter()
            .zip(&self.masks)
            .filter(|(_, m)| m.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for (i, name) in self.names.iter().enumerate() {
            let pii = &self.pii[i];
            for k in PiiKind::ALL {
                if pii.counts[k as usize] > 0 {
                    report.privacy.push(PrivacyFinding {
                        column: name.clone(),
                        kind: k,
                        count: pii.counts[k as usize],
                        rows: pii.rows[k as usize].clone(),
                    });
                }
            }
            let withheld = self.sensitive[i] || self.masks[i].is_some() || pii.counts.iter().any(|&c| c > 0);
            let profile = self.stats[i].report(name, self.loaded[i].field_type, withheld);
            if self.basis == AuditBasis::Inferred
                && self.masks[i].is_none()
                && profile.inferred_type != profile.loaded_type
            {
                self.warnings.push(Warning::new(
                    "type_changed",
                    format!(
                        "column {name:?} looked like {} in the first rows and was loaded as such, but the \
                         whole column is {}; values that do not fit were loaded as NULL (see type_mismatch)",
                        profile.loaded_type.as_str(),
                        profile.inferred_type.as_str()
                    ),
                ));
            }
            report.columns.push(profile);
        }
        if let Some(a) = self.audit.take() {
            report.quality = a.report();
        }
        report.warnings.append(&mut self.warnings);
        Ok(())
    }
}

impl RowConsumer for Pipeline<'_> {
    fn header(&mut self, names: Vec<String>) -> Result<(), IngestError> {
        let n = names.len();
        self.stats = (0..n).map(|_| ColumnStats::default()).collect();
        self.pii = (0..n).map(|_| ColumnPii::default()).collect();
        self.classes = vec![ValueClass::NULL; n];
        self.mask_out = vec![String::new(); n];
        self.masks = names
            .iter()
            .map(|name| {
                self.opts
                    .masks
                    .iter()
                    .find(|r| &r.column == name)
                    .map(|r| r.method.clone())
            })
            .collect();
        for r in &self.opts.masks {
            if !names.contains(&r.column) {
                self.warnings.push(Warning::new(
                    "unknown_mask_column",
                    format!(
                        "a masking rule names column {:?}, which the file does not have",
                        r.column
                    ),
                ));
            }
        }
        self.names = names;
        Ok(())
    }

    fn row(&mut self, cells: &[&str]) -> Result<(), IngestError> {
        self.rows += 1;
        let row = self.rows;
        let mut values = recycle(std::mem::take(&mut self.scratch));
        for (i, cell) in cells.iter().enumerate() {
            let v = trim(cell);
            if v.is_empty() {
                self.stats[i].nulls += 1;
                self.classes[i] = ValueClass::NULL;
            } else {
                let c = classify(v);
                self.stats[i].observe(v, &c, hash_str(v));
                self.pii[i].observe(v, row);
                self.classes[i] = c;
            }
            values.push(v);
        }
        let result = match &mut self.sample {
            Some(s) => {
                for v in &values {
                    s.text.push_str(v);
                    s.ends.push(s.text.len());
                }
                s.rows += 1;
                if s.rows >= self.opts.sample_rows || s.text.len() >= SAMPLE_BYTES {
                    self.start_streaming()
                } else {
                    Ok(())
                }
            }
            None => self.emit(row, &values),
        };
        self.scratch = recycle(values);
        if matches!(row % self.opts.progress_every_rows.max(1), 0) {
            self.report_progress();
        }
        result
    }
}

/// `recycle` for the sink's row of optional cells.
fn recycle_cells<'b>(mut v: Vec<Option<&str>>) -> Vec<Option<&'b str>> {
    v.clear();
    v.into_iter().map(|_| None).collect()
}

/// Trims Unicode whitespace, with a fast path for cells that need none.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        (None, _) => s,
        _ => s.trim(),
    }
}
