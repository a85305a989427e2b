//! 质量审核 — rows checked against the 数据项 dictionary (declared `FieldSpec`s, or the types
//! inferred from the first rows when none are declared): type conformity, required values,
//! duplicate keys, dates, codes, lengths and decimal precision, each with counts and the first
//! failing rows, and a 0–100 score.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

use pubdata_core::field::{FieldSpec, FieldType};
use serde::{Deserialize, Serialize};

use crate::sketch::{HashIdentity, HASHER};
use crate::value::{self, ValueClass};

/// Failing rows listed per finding.
const SAMPLE_ROWS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityRule {
    /// A value that is not of the field's type (integer, decimal, boolean).
    TypeMismatch,
    /// An empty value in a required field.
    RequiredNull,
    /// A key (the fields with `key: true`) seen before.
    DuplicateKey,
    /// Not a valid date/date-time in a recognised format (includes impossible dates).
    InvalidDate,
    /// A code with characters other than ASCII letters and digits, or not of the declared length.
    InvalidCode,
    /// Longer (in characters) than the declared length.
    TooLong,
    /// More digits after the decimal point than the declared precision.
    PrecisionExceeded,
    /// A declared field the file does not have.
    MissingColumn,
    /// A file column that is not declared.
    UndeclaredColumn,
}

impl QualityRule {
    pub fn as_str(self) -> &'static str {
        match self {
            QualityRule::TypeMismatch => "type_mismatch",
            QualityRule::RequiredNull => "required_null",
            QualityRule::DuplicateKey => "duplicate_key",
            QualityRule::InvalidDate => "invalid_date",
            QualityRule::InvalidCode => "invalid_code",
            QualityRule::TooLong => "too_long",
            QualityRule::PrecisionExceeded => "precision_exceeded",
            QualityRule::MissingColumn => "missing_column",
            QualityRule::UndeclaredColumn => "undeclared_column",
        }
    }
}

/// One rule failing in one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityFinding {
    pub rule: QualityRule,
    /// The column (for duplicate keys, the key columns joined with `+`).
    pub column: String,
    /// Failing cells (for duplicate keys: rows repeating an earlier key; 0 for column findings).
    pub count: u64,
    /// The first failing data rows (1-based).
    pub rows: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnScore {
    pub column: String,
    pub score: f64,
}

/// How completely duplicate keys were checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum DuplicateCheck {
    /// No key fields.
    None,
    /// Every row's key compared with every earlier one (64-bit hashes: a false duplicate needs a
    /// hash collision, about 1 in 10^8 for 600 million keys).
    Exact,
    /// The key budget filled at `from_row`: later rows were still compared with the keys stored
    /// before it, but not with each other, so some duplicates among them may be missed.
    Partial { from_row: u64, keys_stored: u64 },
}

/// Whether the audit used declared fields or, lacking them, types inferred from the first rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBasis {
    Declared,
    Inferred,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    pub basis: AuditBasis,
    pub findings: Vec<QualityFinding>,
    pub column_scores: Vec<ColumnScore>,
    /// See [`Audit::report`] for the formula.
    pub overall_score: f64,
    pub duplicate_check: DuplicateCheck,
}

#[derive(Default, Clone)]
struct Tally {
    count: u64,
    rows: Vec<u64>,
}

impl Tally {
    fn hit(&mut self, row: u64) {
        self.count += 1;
        if self.rows.len() < SAMPLE_ROWS {
            self.rows.push(row);
        }
    }
}

const CELL_RULES: [QualityRule; 6] = [
    QualityRule::TypeMismatch,
    QualityRule::RequiredNull,
    QualityRule::InvalidDate,
    QualityRule::InvalidCode,
    QualityRule::TooLong,
    QualityRule::PrecisionExceeded,
];

fn slot(rule: QualityRule) -> usize {
    CELL_RULES.iter().position(|r| *r == rule).unwrap_or(0)
}

/// The audit of one table in progress.
pub(crate) struct Audit {
    names: Vec<String>,
    specs: Vec<FieldSpec>,
    basis: AuditBasis,
    tallies: Vec<[Tally; 6]>,
    bad_cells: Vec<u64>,
    key_columns: Vec<usize>,
    seen: HashSet<u64, HashIdentity>,
    max_keys: usize,
    duplicates: Tally,
    partial_from: Option<u64>,
    missing: Vec<String>,
    undeclared: Vec<String>,
    rows: u64,
}

impl Audit {
    /// `specs[i]` is the effective spec of file column `names[i]`; `missing` lists declared
    /// fields the file lacks, `undeclared` file columns with no declaration.
    pub fn new(
        names: &[String],
        specs: Vec<FieldSpec>,
        basis: AuditBasis,
        missing: Vec<String>,
        undeclared: Vec<String>,
        key_budget_bytes: usize,
    ) -> Audit {
        let key_columns = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.key)
            .map(|(i, _)| i)
            .collect();
        Audit {
            names: names.to_vec(),
            tallies: vec![Default::default(); specs.len()],
            bad_cells: vec![0; specs.len()],
            specs,
            basis,
            key_columns,
            seen: HashSet::default(),
            max_keys: max_keys(key_budget_bytes),
            duplicates: Tally::default(),
            partial_from: None,
            missing,
            undeclared,
            rows: 0,
        }
    }

    /// Checks one row; `values` are trimmed cells (empty = null), `classes` their classification.
    pub fn check(&mut self, row: u64, values: &[&str], classes: &[ValueClass]) {
        self.rows += 1;
        for (i, spec) in self.specs.iter().enumerate() {
            if let Some(rule) = cell_rule(spec, values[i], &classes[i]) {
                self.tallies[i][slot(rule)].hit(row);
                self.bad_cells[i] += 1;
            }
        }
        if !self.key_columns.is_empty() {
            self.check_key(row, values);
        }
    }

    fn check_key(&mut self, row: u64, values: &[&str]) {
        let mut h = HASHER.build_hasher();
        for &i in &self.key_columns {
            h.write(values[i].as_bytes());
            // 0xFF never occurs in UTF-8, so ("ab","c") and ("a","bc") differ.
            h.write_u8(0xFF);
        }
        let key = h.finish();
        if self.seen.len() < self.max_keys {
            if !self.seen.insert(key) {
                self.duplicates.hit(row);
            }
        } else if self.seen.contains(&key) {
            self.duplicates.hit(row);
        } else if self.partial_from.is_none() {
            self.partial_from = Some(row);
        }
    }

    /// Column score = 100 × (rows − cells failing any rule) / rows; a declared column missing
    /// from the file scores 0. Overall = the mean of the column scores × (1 − rows repeating an
    /// earlier key / rows). Scores are rounded to one decimal; an empty table scores 100.
    pub fn report(self) -> QualityReport {
        let rows = self.rows.max(1) as f64;
        let mut findings = Vec::new();
        for name in &self.missing {
            findings.push(column_finding(QualityRule::MissingColumn, name));
        }
        for name in &self.undeclared {
            findings.push(column_finding(QualityRule::UndeclaredColumn, name));
        }
        for (i, tallies) in self.tallies.iter().enumerate() {
            for (rule, t) in CELL_RULES.iter().zip(tallies) {
                if t.count > 0 {
                    findings.push(QualityFinding {
                        rule: *rule,
                        column: self.names[i].clone(),
                        count: t.count,
                        rows: t.rows.clone(),
                    });
                }
            }
        }
        let key_name = self
            .key_columns
            .iter()
            .map(|&i| self.names[i].as_str())
            .collect::<Vec<_>>()
            .join("+");
        if self.duplicates.count > 0 {
            findings.push(QualityFinding {
                rule: QualityRule::DuplicateKey,
                column: key_name,
                count: self.duplicates.count,
                rows: self.duplicates.rows.clone(),
            });
        }
        let mut column_scores: Vec<ColumnScore> = self
            .names
            .iter()
            .zip(&self.bad_cells)
            .map(|(n, &bad)| ColumnScore {
                column: n.clone(),
                score: round1(100.0 * (rows - bad as f64).max(0.0) / rows),
            })
            .collect();
        column_scores.extend(self.missing.iter().map(|n| ColumnScore {
            column: n.clone(),
            score: 0.0,
        }));
        let mean = if column_scores.is_empty() {
            100.0
        } else {
            column_scores.iter().map(|c| c.score).sum::<f64>() / column_scores.len() as f64
        };
        let overall = round1(mean * (1.0 - self.duplicates.count as f64 / rows));
        let duplicate_check = match (self.key_columns.is_empty(), self.partial_from) {
            (true, _) => DuplicateCheck::None,
            (false, None) => DuplicateCheck::Exact,
            (false, Some(from_row)) => DuplicateCheck::Partial {
                from_row,
                keys_stored: self.seen.len() as u64,
            },
        };
        QualityReport {
            basis: self.basis,
            findings,
            column_scores,
            overall_score: overall,
            duplicate_check,
        }
    }
}

/// How many 64-bit key hashes fit the budget without the set's next doubling exceeding it:
/// a hash set slot costs 9 bytes, and at most 7/8 of the slots are used.
fn max_keys(budget: usize) -> usize {
    let mut slots: usize = 16;
    while slots.saturating_mul(2).saturating_mul(9) <= budget {
        slots *= 2;
    }
    slots / 8 * 7
}

fn column_finding(rule: QualityRule, column: &str) -> QualityFinding {
    QualityFinding {
        rule,
        column: column.to_string(),
        count: 0,
        rows: Vec::new(),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The first rule a cell breaks, if any.
fn cell_rule(spec: &FieldSpec, v: &str, c: &ValueClass) -> Option<QualityRule> {
    if c.null {
        return spec.required.then_some(QualityRule::RequiredNull);
    }
    let fits = |bits: u8| c.mask & bits != 0;
    match spec.field_type {
        FieldType::Integer if !fits(value::INT) => Some(QualityRule::TypeMismatch),
        FieldType::Decimal if !fits(value::DEC) => Some(QualityRule::TypeMismatch),
        FieldType::Decimal => match spec.precision {
            Some(p) if u32::from(c.scale) > p => Some(QualityRule::PrecisionExceeded),
            _ => None,
        },
        FieldType::Boolean if !(fits(value::BOOL) || v == "0" || v == "1") => Some(QualityRule::TypeMismatch),
        FieldType::Date if !fits(value::DATE) => Some(QualityRule::InvalidDate),
        FieldType::Datetime if !fits(value::DATETIME) => Some(QualityRule::InvalidDate),
        FieldType::Code => {
            let chars_ok = fits(value::CODE) || v.bytes().all(|b| b.is_ascii_alphanumeric());
            let len_ok = spec.length.is_none_or(|l| c.chars == l);
            (!chars_ok || !len_ok).then_some(QualityRule::InvalidCode)
        }
        FieldType::String => match spec.length {
            Some(l) if c.chars > l => Some(QualityRule::TooLong),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::classify;

    fn audit(specs: Vec<FieldSpec>, rows: &[&[&str]]) -> QualityReport {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        let mut a = Audit::new(&names, specs, AuditBasis::Declared, vec![], vec![], 1 << 20);
        for (i, r) in rows.iter().enumerate() {
            let classes: Vec<ValueClass> = r
                .iter()
                .map(|v| if v.is_empty() { ValueClass::NULL } else { classify(v) })
                .collect();
            a.check(i as u64 + 1, r, &classes);
        }
        a.report()
    }

    fn finding(r: &QualityReport, rule: QualityRule) -> &QualityFinding {
        r.findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("no {rule:?} in {r:?}"))
    }

    #[test]
    fn each_rule_fires_with_rows() {
        let mut code = FieldSpec::new("code", FieldType::Code);
        code.key = true;
        code.required = true;
        code.length = Some(6);
        let mut amount = FieldSpec::new("amount", FieldType::Decimal);
        amount.precision = Some(2);
        let mut name = FieldSpec::new("name", FieldType::String);
        name.length = Some(3);
        let specs = vec![
            code,
            FieldSpec::new("n", FieldType::Integer),
            amount,
            FieldSpec::new("day", FieldType::Date),
            name,
            FieldSpec::new("flag", FieldType::Boolean),
        ];
        let r = audit(
            specs,
            &[
                &["110101", "1", "1.25", "2023-05-01", "东城区", "是"],
                &["110101", "x", "1.255", "2023-02-30", "东城区街道", "0"],
                &["", "2", "abc", "20230501", "", "maybe"],
                &["11-101", "3", "2", "2023年5月1日", "a", "true"],
                &["1101011", "4", "2", "2023/5/1", "b", "false"],
            ],
        );
        assert_eq!(finding(&r, QualityRule::DuplicateKey).rows, vec![2]);
        assert_eq!(finding(&r, QualityRule::RequiredNull).rows, vec![3]);
        assert_eq!(finding(&r, QualityRule::InvalidCode).rows, vec![4, 5]);
        assert_eq!(finding(&r, QualityRule::PrecisionExceeded).rows, vec![2]);
        assert_eq!(finding(&r, QualityRule::InvalidDate).rows, vec![2]);
        assert_eq!(finding(&r, QualityRule::TooLong).rows, vec![2]);
        let mismatches: Vec<(&str, &[u64])> = r
            .findings
            .iter()
            .filter(|f| f.rule == QualityRule::TypeMismatch)
            .map(|f| (f.column.as_str(), f.rows.as_slice()))
            .collect();
        assert_eq!(
            mismatches,
            vec![("n", &[2u64][..]), ("amount", &[3][..]), ("flag", &[3][..])]
        );
        assert_eq!(r.duplicate_check, DuplicateCheck::Exact);
        // code: 3 bad cells of 5 → 40; n, amount(2 bad), day, name, flag.
        let scores: Vec<f64> = r.column_scores.iter().map(|c| c.score).collect();
        assert_eq!(scores, vec![40.0, 80.0, 60.0, 80.0, 80.0, 80.0]);
        let mean = (40.0 + 80.0 + 60.0 + 80.0 + 80.0 + 80.0) / 6.0;
        assert_eq!(r.overall_score, round1(mean * (1.0 - 1.0 / 5.0)));
    }

    #[test]
    fn clean_data_scores_100() {
        let r = audit(vec![FieldSpec::new("n", FieldType::Integer)], &[&["1"], &["2"]]);
        assert!(r.findings.is_empty());
        assert_eq!(r.overall_score, 100.0);
        assert_eq!(r.duplicate_check, DuplicateCheck::None);
    }

    #[test]
    fn key_budget_degrades_to_partial() {
        let mut k = FieldSpec::new("k", FieldType::Integer);
        k.key = true;
        let names = vec!["k".to_string()];
        let mut a = Audit::new(&names, vec![k], AuditBasis::Declared, vec![], vec![], 0);
        let cap = max_keys(0) as u64;
        for i in 1..=cap + 10 {
            let v = i.to_string();
            a.check(i, &[&v], &[classify(&v)]);
        }
        // Early keys are still found again after the budget filled.
        a.check(cap + 11, &["1"], &[classify("1")]);
        let r = a.report();
        assert_eq!(
            r.duplicate_check,
            DuplicateCheck::Partial {
                from_row: cap + 1,
                keys_stored: cap
            }
        );
        assert_eq!(finding(&r, QualityRule::DuplicateKey).rows, vec![cap + 11]);
        assert!(max_keys(64 << 20) > 3_000_000);
    }
}
