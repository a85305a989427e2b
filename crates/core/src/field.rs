//! 数据项 — the fields of a table: their declared types, and the row interface between the
//! ingest pipeline (which reads and checks rows) and the datastore (which loads them).

use serde::{Deserialize, Serialize};

/// The type of a field as declared in the 数据项 dictionary (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    Decimal,
    Date,
    Datetime,
    Boolean,
    /// A value from a code list, e.g. a region code: digits/letters of a fixed shape, kept as text.
    Code,
}

impl FieldType {
    pub const ALL: [FieldType; 7] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Boolean,
        FieldType::Code,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Boolean => "boolean",
            FieldType::Code => "code",
        }
    }

    pub fn parse(s: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// 数据分级 — the classification level of a field's data.
/// Variants are ordered from the least to the most protected level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// 一般数据
    #[default]
    General,
    /// 重要数据
    Important,
    /// 核心数据
    Core,
}

/// One field of the 数据项 dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// The column name in the data (e.g. `code`).
    pub name: String,
    /// 中文名 (e.g. 区划代码).
    #[serde(default)]
    pub title: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Maximum length in characters, when declared.
    #[serde(default)]
    pub length: Option<u32>,
    /// Digits after the decimal point, for decimals.
    #[serde(default)]
    pub precision: Option<u32>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    /// Part of the table's key (duplicate key values are a quality problem).
    #[serde(default)]
    pub key: bool,
    /// Holds personal or otherwise sensitive data.
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub classification: Classification,
}

impl FieldSpec {
    pub fn new(name: &str, field_type: FieldType) -> Self {
        FieldSpec {
            name: name.into(),
            title: String::new(),
            field_type,
            length: None,
            precision: None,
            description: String::new(),
            required: false,
            key: false,
            sensitive: false,
            classification: Classification::General,
        }
    }
}

/// Where the ingest pipeline delivers rows: the datastore, or nothing for a dry run.
/// `begin` receives the final column definitions before the first row.
pub trait RowSink {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String>;
    /// One row, values in column order; `None` is an empty cell.
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String>;
    fn finish(&mut self) -> Result<(), String>;
}

/// A sink that discards rows (for `pubdata ingest` without loading, and for tests).
#[derive(Debug, Default)]
pub struct NullSink {
    pub rows: u64,
}

impl RowSink for NullSink {
    fn begin(&mut self, _: &[FieldSpec]) -> Result<(), String> {
        Ok(())
    }

    fn row(&mut self, _: &[Option<&str>]) -> Result<(), String> {
        self.rows += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}
