//! Reading a whole datastore table in file order, a page at a time, for downloads: keyset
//! paging on `_row` without the per-page count the data API's queries make.

use pubdata_core::field::FieldType;
use sqlx::Row;

use crate::datastore::{quote, DatastoreColumn};
use crate::{Result, Store};

/// Where an export of one datastore table has got to.
#[derive(Debug, Clone)]
pub struct DatastoreCursor {
    columns: Vec<DatastoreColumn>,
    select: String,
    /// The last row number read (0 before the first page).
    after: i64,
    done: bool,
}

impl DatastoreCursor {
    /// The table's columns, in file order.
    pub fn columns(&self) -> &[DatastoreColumn] {
        &self.columns
    }

    /// Whether the last page has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl Store {
    /// A cursor at the start of `table`; `None` when there is no such table.
    pub async fn datastore_cursor(&self, table: &str) -> Result<Option<DatastoreCursor>> {
        // Reading the column map also checks the table name.
        let columns = self.datastore_columns(table).await?;
        if columns.is_empty() {
            return Ok(None);
        }
        let exprs: Vec<String> = columns
            .iter()
            .map(|c| {
                let q = quote(&c.column);
                match c.field_type {
                    // SQLite stores booleans as 0/1; both backends answer true/false.
                    FieldType::Boolean => format!("CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END"),
                    _ => format!("CAST({q} AS TEXT)"),
                }
            })
            .collect();
        Ok(Some(DatastoreCursor {
            select: format!(
                "SELECT \"_row\", {} FROM {} WHERE \"_row\" > $1 ORDER BY \"_row\" LIMIT $2",
                exprs.join(", "),
                quote(table)
            ),
            columns,
            after: 0,
            done: false,
        }))
    }

    /// The next `limit` rows (at least one) as text, NULL as `None`; empty once the table is read.
    pub async fn datastore_next(&self, cursor: &mut DatastoreCursor, limit: u64) -> Result<Vec<Vec<Option<String>>>> {
        if cursor.done {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, i64::MAX as u64);
        let raw = sqlx::query(&cursor.select)
            .bind(cursor.after)
            .bind(limit as i64)
            .fetch_all(self.reader())
            .await?;
        let n = cursor.columns.len();
        let mut rows = Vec::with_capacity(raw.len());
        for r in &raw {
            cursor.after = r.try_get::<i64, _>(0)?;
            rows.push(
                (1..=n)
                    .map(|i| r.try_get::<Option<String>, _>(i))
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            );
        }
        if (rows.len() as u64) < limit {
            cursor.done = true;
        }
        Ok(rows)
    }
}
