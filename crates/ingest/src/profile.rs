//! 数据画像 — per-column profile accumulated in constant memory: nulls, type evidence, distinct
//! estimate, min/max, length range, top values and date formats.

use pubdata_core::field::FieldType;
use serde::{Deserialize, Serialize};

use crate::sketch::{Hll, SpaceSaving};
use crate::value::{self, ColumnShape, ValueClass};

/// Counters in the Space-Saving summary; the report lists the top `TOP_LISTED`.
const TOP_COUNTERS: usize = 64;
const TOP_LISTED: usize = 10;
/// Longest min/max text shown in a report.
const SHOWN_CHARS: usize = 100;

/// The profile of one column, as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    /// The narrowest type all non-empty values fit.
    pub inferred_type: FieldType,
    /// The type the rows were loaded as (declared, or inferred from the first rows; masked
    /// columns load as strings).
    pub loaded_type: FieldType,
    pub nulls: u64,
    /// Distinct non-empty values (HyperLogLog estimate, ±2 %).
    pub distinct_estimate: u64,
    /// Numeric for numbers, lexical otherwise; withheld for personal data.
    pub min: Option<String>,
    pub max: Option<String>,
    /// Length range in characters.
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    /// Digits after the decimal point, at most (decimals).
    pub max_scale: u32,
    pub top_values: Vec<TopValue>,
    /// More distinct values than tracked counters: top counts are upper-bound estimates.
    pub top_values_approximate: bool,
    pub date_formats: Vec<String>,
    /// Min, max and top values are left out because the column holds personal data, is
    /// declared sensitive, or is masked.
    pub values_withheld: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopValue {
    pub value: String,
    /// Occurrences: exact while `top_values_approximate` is false, else a lower bound.
    pub count: u64,
}

pub(crate) struct ColumnStats {
    pub nulls: u64,
    pub non_null: u64,
    pub mask: u8,
    leading_zero: bool,
    has_letter: bool,
    min_chars: u32,
    max_chars: u32,
    max_scale: u8,
    num_min: f64,
    num_max: f64,
    lex_min: Option<String>,
    lex_max: Option<String>,
    hll: Hll,
    top: SpaceSaving,
    date_formats: u8,
}

impl Default for ColumnStats {
    fn default() -> Self {
        ColumnStats {
            nulls: 0,
            non_null: 0,
            mask: value::ALL,
            leading_zero: false,
            has_letter: false,
            min_chars: u32::MAX,
            max_chars: 0,
            max_scale: 0,
            num_min: f64::INFINITY,
            num_max: f64::NEG_INFINITY,
            lex_min: None,
            lex_max: None,
            hll: Hll::default(),
            top: SpaceSaving::new(TOP_COUNTERS),
            date_formats: 0,
        }
    }
}

impl ColumnStats {
    pub fn observe(&mut self, v: &str, c: &ValueClass, hash: u64) {
        self.non_null += 1;
        self.mask &= c.mask;
        self.leading_zero |= c.leading_zero;
        self.has_letter |= c.has_letter;
        self.min_chars = self.min_chars.min(c.chars);
        self.max_chars = self.max_chars.max(c.chars);
        self.max_scale = self.max_scale.max(c.scale);
        self.date_formats |= c.date_format;
        if let Some(n) = c.number {
            self.num_min = self.num_min.min(n);
            self.num_max = self.num_max.max(n);
        }
        match &mut self.lex_min {
            Some(m) if v < m.as_str() => {
                m.clear();
                m.push_str(v);
            }
            None => self.lex_min = Some(v.to_string()),
            _ => {}
        }
        match &mut self.lex_max {
            Some(m) if v > m.as_str() => {
                m.clear();
                m.push_str(v);
            }
            None => self.lex_max = Some(v.to_string()),
            _ => {}
        }
        self.hll.add(hash);
        self.top.add(v, hash);
    }

    pub fn infer(&self) -> FieldType {
        value::infer_type(&ColumnShape {
            mask: self.mask,
            non_null: self.non_null,
            leading_zero: self.leading_zero,
            has_letter: self.has_letter,
            min_chars: self.min_chars,
            max_chars: self.max_chars,
        })
    }

    pub fn report(&self, name: &str, loaded_type: FieldType, withheld: bool) -> ColumnProfile {
        let inferred = self.infer();
        let numeric = matches!(inferred, FieldType::Integer | FieldType::Decimal) && self.num_min.is_finite();
        let (min, max) = if withheld || self.non_null == 0 {
            (None, None)
        } else if numeric {
            (Some(number_text(self.num_min)), Some(number_text(self.num_max)))
        } else {
            (
                self.lex_min.as_deref().map(shorten),
                self.lex_max.as_deref().map(shorten),
            )
        };
        let top_values = if withheld {
            Vec::new()
        } else {
            // Once values were evicted, a counter may hold a value seen once plus the evicted
            // counts; only values certainly seen at least twice are listed then.
            self.top
                .top(TOP_LISTED)
                .into_iter()
                .filter(|c| !self.top.evicted || c.count - c.error >= 2)
                .map(|c| TopValue {
                    value: c.value.clone(),
                    count: c.count - c.error,
                })
                .collect()
        };
        ColumnProfile {
            name: name.to_string(),
            inferred_type: inferred,
            loaded_type,
            nulls: self.nulls,
            distinct_estimate: self.hll.estimate().min(self.non_null),
            min,
            max,
            min_length: (self.non_null > 0).then_some(self.min_chars),
            max_length: (self.non_null > 0).then_some(self.max_chars),
            max_scale: u32::from(self.max_scale),
            top_values,
            top_values_approximate: self.top.evicted,
            date_formats: value::format_names(self.date_formats),
            values_withheld: withheld,
        }
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
