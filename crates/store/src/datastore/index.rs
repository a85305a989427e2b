//! Per-column indexes (逐列索引) of datastore tables, so the data API's filters find rows
//! through an index instead of scanning the table.
//!
//! Indexed, at most [`MAX_INDEXES`] columns a table, in this order: every key field, then in
//! file order the code, integer, decimal, date and datetime columns and the strings whose
//! declared length (when declared) is at most [`MAX_TEXT_CHARS`]; a text column (string or code) whose longest
//! loaded value is longer than that is left out, so an index entry stays small (PostgreSQL
//! refuses B-tree entries over about 2.7 kB). Booleans are not indexed (two values).
//!
//! The indexes are built after the bulk load, in the load's transaction: building once is
//! faster than maintaining them row by row. On PostgreSQL, text columns are indexed with
//! `COLLATE "C"` (byte order), which is what the prefix filter's range and the equality filters
//! (written with the same collation in `query.rs`) need to use them; SQLite's default BINARY
//! collation is already byte order.

use pubdata_core::field::{FieldSpec, FieldType};

use super::convert::Kind;
use super::{column_name, quote, Batch};

/// The most per-column indexes a table gets.
pub const MAX_INDEXES: usize = 16;
/// The longest text (in characters) a text column may hold and still be indexed.
pub const MAX_TEXT_CHARS: usize = 64;

/// The longest value (in characters) seen in each column during a load.
#[derive(Debug, Default)]
pub(crate) struct Longest(Vec<usize>);

impl Longest {
    pub fn new(ncols: usize) -> Self {
        Longest(vec![0; ncols])
    }

    pub fn observe(&mut self, batch: &Batch) {
        let ncols = self.0.len();
        for r in 0..batch.rows {
            for (longest, v) in self.0.iter_mut().zip(batch.row(r, ncols)) {
                if let Some(s) = v {
                    // Bytes bound characters from above: count only when it may matter.
                    if s.len() > *longest {
                        let n = if s.len() <= MAX_TEXT_CHARS {
                            s.len()
                        } else {
                            s.chars().count()
                        };
                        *longest = (*longest).max(n);
                    }
                }
            }
        }
    }
}

/// The 0-based positions of the columns to index, keys first.
pub(crate) fn chosen(columns: &[FieldSpec], longest: &Longest) -> Vec<usize> {
    let short = |i: usize| longest.0.get(i).copied().unwrap_or(0) <= MAX_TEXT_CHARS;
    let wanted = |i: usize, c: &FieldSpec| match c.field_type {
        FieldType::Boolean => false,
        FieldType::Integer | FieldType::Decimal | FieldType::Date | FieldType::Datetime => true,
        FieldType::Code => short(i),
        FieldType::String => c.length.is_none_or(|n| n as usize <= MAX_TEXT_CHARS) && short(i),
    };
    let keys = columns.iter().enumerate().filter(|(_, c)| c.key).map(|(i, _)| i);
    let others = columns
        .iter()
        .enumerate()
        .filter(|(i, c)| !c.key && wanted(*i, c))
        .map(|(i, _)| i);
    keys.chain(others).take(MAX_INDEXES).collect()
}

/// The name of the index on the column at 0-based `i`, within PostgreSQL's 63 characters.
fn index_name(table: &str, i: usize) -> String {
    let suffix = format!("_{}_idx", column_name(i));
    let keep = table.len().min(63 - suffix.len());
    format!("{}{suffix}", &table[..keep])
}

/// The `CREATE INDEX` statements for the chosen columns.
pub(crate) fn create_sql(table: &str, columns: &[FieldSpec], longest: &Longest, postgres: bool) -> Vec<String> {
    let kinds: Vec<Kind> = columns.iter().map(|c| Kind::of(c.field_type)).collect();
    create_sql_at(table, &kinds, &chosen(columns, longest), postgres)
}

/// The `CREATE INDEX` statements for the columns at `positions` (0-based), e.g. as recorded in
/// a dump.
pub(crate) fn create_sql_at(table: &str, kinds: &[Kind], positions: &[usize], postgres: bool) -> Vec<String> {
    positions
        .iter()
        .filter(|&&i| i < kinds.len())
        .map(|&i| {
            let col = quote(&column_name(i));
            let expr = if postgres && kinds[i] == Kind::Text {
                format!("{col} COLLATE \"C\"")
            } else {
                col
            };
            format!(
                "CREATE INDEX {} ON {} ({expr})",
                quote(&index_name(table, i)),
                quote(table)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, t: FieldType) -> FieldSpec {
        FieldSpec::new(name, t)
    }

    #[test]
    fn keys_first_then_short_columns_at_most_sixteen() {
        let mut code = spec("code", FieldType::Code);
        code.key = true;
        let mut short = spec("name", FieldType::String);
        short.length = Some(20);
        let cols = vec![
            spec("note", FieldType::String),
            short,
            spec("flag", FieldType::Boolean),
            spec("n", FieldType::Integer),
            spec("long_code", FieldType::Code),
            code,
        ];
        let mut longest = Longest::new(cols.len());
        longest.0[4] = 65;
        longest.0[0] = 65;
        assert_eq!(chosen(&cols, &longest), vec![5, 1, 3]);
        longest.0[0] = 10;
        assert_eq!(chosen(&cols, &longest), vec![5, 0, 1, 3]);

        let many: Vec<FieldSpec> = (0..20).map(|i| spec(&format!("f{i}"), FieldType::Integer)).collect();
        assert_eq!(chosen(&many, &Longest::new(20)).len(), MAX_INDEXES);
    }

    #[test]
    fn names_fit_postgres() {
        let long = format!("ds_{}", "x".repeat(60));
        assert!(index_name(&long, 15).len() <= 63);
        assert_eq!(index_name("ds_7", 0), "ds_7_c1_idx");
    }
}
