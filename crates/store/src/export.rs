//! Reading a whole datastore table in file order, a page at a time, for downloads: keyset
//! paging on `_row` without the per-page count the data API's queries make — all of it, or the
//! granted columns of the rows a grant's filters allow, each with its row number.

use pubdata_core::field::FieldType;
use sqlx::Row;

use crate::datastore::query::{conditions, Sql};
use crate::datastore::{quote, DatastoreColumn, Filter};
use crate::{Result, Store};

/// Where an export of one datastore table has got to.
#[derive(Debug, Clone)]
pub struct DatastoreCursor {
    columns: Vec<DatastoreColumn>,
    select: String,
    /// Values bound before the row number and the limit: a filter's.
    binds: Vec<String>,
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
        self.datastore_cursor_where(table, &[], &[]).await
    }

    /// A cursor over the columns named `fields` (all when empty), in table order, of the rows of
    /// `table` that pass every filter; `None` when there is no such table. Unknown names and
    /// values of the wrong type are the data API's field errors.
    pub async fn datastore_cursor_where(
        &self,
        table: &str,
        fields: &[String],
        filters: &[Filter],
    ) -> Result<Option<DatastoreCursor>> {
        // Reading the column map also checks the table name.
        let all = self.datastore_columns(table).await?;
        if all.is_empty() {
            return Ok(None);
        }
        let mut sql = Sql {
            backend: self.backend(),
            binds: Vec::new(),
        };
        let mut wheres = conditions(&mut sql, &all, filters)?;
        let columns: Vec<DatastoreColumn> = all
            .into_iter()
            .filter(|c| fields.is_empty() || fields.contains(&c.name))
            .collect();
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
        let n = sql.binds.len();
        wheres.push(format!("\"_row\" > ${}", n + 1));
        Ok(Some(DatastoreCursor {
            select: format!(
                "SELECT \"_row\"{}{} FROM {} WHERE {} ORDER BY \"_row\" LIMIT ${}",
                if exprs.is_empty() { "" } else { ", " },
                exprs.join(", "),
                quote(table),
                wheres.join(" AND "),
                n + 2
            ),
            columns,
            binds: sql.binds,
            after: 0,
            done: false,
        }))
    }

    /// The next `limit` rows (at least one) as text, NULL as `None`; empty once the table is read.
    pub async fn datastore_next(&self, cursor: &mut DatastoreCursor, limit: u64) -> Result<Vec<Vec<Option<String>>>> {
        let rows = self.datastore_next_numbered(cursor, limit).await?;
        Ok(rows.into_iter().map(|(_, row)| row).collect())
    }

    /// The same, each row with its row number in the whole table (`_row`: 1, 2, …).
    pub async fn datastore_next_numbered(
        &self,
        cursor: &mut DatastoreCursor,
        limit: u64,
    ) -> Result<Vec<(i64, Vec<Option<String>>)>> {
        if cursor.done {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, i64::MAX as u64);
        let mut query = sqlx::query(&cursor.select);
        for b in &cursor.binds {
            query = query.bind(b.clone());
        }
        let raw = query
            .bind(cursor.after)
            .bind(limit as i64)
            .fetch_all(self.reader())
            .await?;
        let n = cursor.columns.len();
        let mut rows = Vec::with_capacity(raw.len());
        for r in &raw {
            let row_no = r.try_get::<i64, _>(0)?;
            cursor.after = row_no;
            let values = (1..=n)
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            rows.push((row_no, values));
        }
        if (rows.len() as u64) < limit {
            cursor.done = true;
        }
        Ok(rows)
    }
}
