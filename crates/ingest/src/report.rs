//! The result of an ingest: what was read, each column's profile, the quality audit and the
//! privacy findings. Serialises to JSON for the store; `Display` is the human summary printed by
//! `pubdata ingest FILE`. Never holds personal data values, only where they were found.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decode::TextEncoding;
use crate::detect::Format;
use crate::privacy::PiiKind;
use crate::profile::ColumnProfile;
use crate::quality::{DuplicateCheck, QualityReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The file name as given.
    pub name: String,
    pub format: Format,
    /// CSV and JSON: the detected text encoding.
    pub encoding: Option<TextEncoding>,
    /// CSV: the delimiter used.
    pub delimiter: Option<String>,
    /// XLSX: every sheet in the workbook, and the one read.
    pub sheets: Vec<String>,
    pub sheet: Option<String>,
    /// Data rows (the header is not counted).
    pub rows: u64,
    /// Bytes read from the input.
    pub bytes: u64,
    pub columns: Vec<ColumnProfile>,
    pub quality: QualityReport,
    pub privacy: Vec<PrivacyFinding>,
    /// Columns whose values were masked before loading.
    pub masked_columns: Vec<String>,
    pub warnings: Vec<Warning>,
}

/// Personal data of one kind found in one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyFinding {
    pub column: String,
    pub kind: PiiKind,
    /// Cells containing this kind.
    pub count: u64,
    /// The first data rows where it was found (1-based); never the values.
    pub rows: Vec<u64>,
}

/// Something the provider should look at that did not stop the ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// Machine code: `formula_cells`, `error_cells`, `formula_scan_failed`, `unknown_mask_column`,
    /// `type_changed`.
    pub code: String,
    pub message: String,
}

impl Warning {
    pub(crate) fn new(code: &str, message: String) -> Self {
        Warning {
            code: code.into(),
            message,
        }
    }
}

impl Report {
    pub fn warning(&self, code: &str) -> Option<&Warning> {
        self.warnings.iter().find(|w| w.code == code)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_summary(f)?;
        self.fmt_columns(f)?;
        self.fmt_quality(f)?;
        self.fmt_privacy(f)?;
        if !self.warnings.is_empty() {
            writeln!(f, "\nWarnings")?;
            for w in &self.warnings {
                writeln!(f, "  [{}] {}", w.code, w.message)?;
            }
        }
        Ok(())
    }
}

impl Report {
    fn fmt_summary(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.format.as_str().to_uppercase())?;
        if let Some(e) = self.encoding {
            write!(f, ", {}", e.as_str())?;
        }
        if let Some(d) = &self.delimiter {
            let shown = if d == "\t" { "tab".to_string() } else { format!("'{d}'") };
            write!(f, ", delimiter {shown}")?;
        }
        if let Some(s) = &self.sheet {
            write!(f, ", sheet {s:?} of [{}]", self.sheets.join(", "))?;
        }
        writeln!(
            f,
            "; {} rows, {} columns, {} bytes",
            self.rows,
            self.columns.len(),
            self.bytes
        )
    }

    fn fmt_columns(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(4)
            .max(6);
        writeln!(
            f,
            "\nColumns\n  {:<width$}  {:<13}  {:>10}  {:>10}  {:>9}  range",
            "column", "type", "nulls", "distinct≈", "length"
        )?;
        for c in &self.columns {
            let pad = width + c.name.len() - c.name.chars().count();
            let length = match (c.min_length, c.max_length) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}–{b}"),
                _ => "-".into(),
            };
            let range = match (&c.min, &c.max) {
                _ if c.values_withheld => "(withheld: personal or masked data)".to_string(),
                (Some(a), Some(b)) => format!("{a} … {b}"),
                _ => String::new(),
            };
            let mut ty = c.inferred_type.as_str().to_string();
            if c.loaded_type != c.inferred_type {
                ty = format!("{ty}→{}", c.loaded_type.as_str());
            }
            writeln!(
                f,
                "  {:<pad$}  {:<13}  {:>10}  {:>10}  {:>9}  {range}",
                c.name, ty, c.nulls, c.distinct_estimate, length
            )?;
        }
        for c in self
            .columns
            .iter()
            .filter(|c| !c.top_values.is_empty() || !c.date_formats.is_empty())
        {
            let repeated: Vec<String> = c
                .top_values
                .iter()
                .filter(|t| t.count > 1)
                .take(5)
                .map(|t| format!("{} ({})", t.value, t.count))
                .collect();
            if !repeated.is_empty() {
                writeln!(f, "  top {}: {}", c.name, repeated.join(", "))?;
            }
            if !c.date_formats.is_empty() {
                writeln!(f, "  date formats in {}: {}", c.name, c.date_formats.join(", "))?;
            }
        }
        Ok(())
    }

    fn fmt_quality(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = &self.quality;
        writeln!(
            f,
            "\nQuality: {:.1}/100 (against {} fields)",
            q.overall_score,
            match q.basis {
                crate::quality::AuditBasis::Declared => "declared",
                crate::quality::AuditBasis::Inferred => "inferred",
            }
        )?;
        match &q.duplicate_check {
            DuplicateCheck::None => {}
            DuplicateCheck::Exact => writeln!(f, "  duplicate keys: checked exactly")?,
            DuplicateCheck::Partial { from_row, keys_stored } => writeln!(
                f,
                "  duplicate keys: key budget full at row {from_row} ({keys_stored} keys); later rows checked against those only"
            )?,
        }
        if q.findings.is_empty() {
            writeln!(f, "  no problems found")?;
        }
        for x in &q.findings {
            if x.rows.is_empty() {
                writeln!(f, "  {:<20} {}", x.rule.as_str(), x.column)?;
            } else {
                writeln!(
                    f,
                    "  {:<20} {}: {} (rows {})",
                    x.rule.as_str(),
                    x.column,
                    x.count,
                    rows_list(&x.rows)
                )?;
            }
        }
        let low: Vec<String> = q
            .column_scores
            .iter()
            .filter(|c| c.score < 100.0)
            .map(|c| format!("{} {:.1}", c.column, c.score))
            .collect();
        if !low.is_empty() {
            writeln!(f, "  column scores below 100: {}", low.join(", "))?;
        }
        Ok(())
    }

    fn fmt_privacy(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.privacy.is_empty() {
            return writeln!(f, "\nPersonal data: none found");
        }
        writeln!(f, "\nPersonal data (mask or justify before review)")?;
        for p in &self.privacy {
            let masked = if self.masked_columns.contains(&p.column) {
                " [masked]"
            } else {
                ""
            };
            writeln!(
                f,
                "  {:<10} {}: {} cells (rows {}){masked}",
                p.kind.as_str(),
                p.column,
                p.count,
                rows_list(&p.rows)
            )?;
        }
        Ok(())
    }
}

fn rows_list(rows: &[u64]) -> String {
    rows.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
}
