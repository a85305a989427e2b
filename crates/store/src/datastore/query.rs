//! Reading a datastore table as the data API asks: typed filters, a text search, sorting, a
//! choice of fields, and offset or keyset paging. Field names are looked up in the column map,
//! never put into SQL; every value is bound and cast to its column's type.

use pubdata_core::{DomainError, FieldError};
use sqlx::Row;

use super::convert::{self, Kind};
use super::{check_table, quote, DatastoreColumn};
use crate::{Backend, Result, Store, StoreError};

pub use pubdata_core::datastore_query::{prefix_upper_bound, DatastoreQuery, Filter, Op, MAX_LIMIT};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueryResult {
    pub fields: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Rows matching the filters, whatever the page.
    pub total: u64,
    /// Pass as `after` for the next page (file order only), when there may be one.
    pub next_after: Option<i64>,
}

fn bad(field: String, code: &str) -> DomainError {
    DomainError::Validation(vec![FieldError::new(&field, code)])
}

/// The value as its column stores it, or a field error naming what was expected.
fn normalise(c: &DatastoreColumn, param: &str, value: &str) -> std::result::Result<String, DomainError> {
    let kind = Kind::of(c.field_type);
    let v = match kind {
        Kind::Integer => convert::integer(value).map(|i| i.to_string()),
        Kind::Decimal => convert::decimal(value).map(str::to_string),
        Kind::Boolean => convert::boolean(value).map(|b| if b { "1" } else { "0" }.to_string()),
        Kind::Date => convert::date(value),
        Kind::Datetime => convert::datetime(value),
        Kind::Text => Some(value.to_string()),
    };
    v.ok_or_else(|| {
        DomainError::Validation(vec![
            FieldError::new(param, "filter_value").with("type", c.field_type.as_str())
        ])
    })
}

pub(crate) struct Sql {
    pub(crate) backend: Backend,
    pub(crate) binds: Vec<String>,
}

impl Sql {
    /// A bound parameter cast to the column's type.
    fn param(&mut self, kind: Kind, value: String) -> String {
        self.binds.push(value);
        let n = self.binds.len();
        match (self.backend, kind) {
            (Backend::Postgres, Kind::Boolean) => format!("(CAST(${n} AS INTEGER) = 1)"),
            (Backend::Postgres, k) => format!("CAST(${n} AS {})", k.postgres_type()),
            (Backend::Sqlite, Kind::Integer | Kind::Boolean) => format!("CAST(${n} AS INTEGER)"),
            (Backend::Sqlite, Kind::Decimal) => format!("CAST(${n} AS REAL)"),
            (Backend::Sqlite, _) => format!("${n}"),
        }
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Store {
    /// One page of a datastore table under the query, with the total that matches.
    pub async fn query_datastore(&self, table: &str, query: &DatastoreQuery) -> Result<QueryResult> {
        check_table(table)?;
        let (columns, cached) = self.cached_columns(table).await?;
        match self.query_columns(table, &columns, query).await {
            // The table may have been replaced by another process since the columns were cached.
            Err(StoreError::Db(_)) if cached => {
                self.columns.invalidate(table);
                let (columns, _) = self.cached_columns(table).await?;
                self.query_columns(table, &columns, query).await
            }
            other => other,
        }
    }

    async fn query_columns(
        &self,
        table: &str,
        columns: &[DatastoreColumn],
        query: &DatastoreQuery,
    ) -> Result<QueryResult> {
        let by_name = |name: &str, param: String| {
            columns
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| bad(param, "unknown_field"))
        };
        let mut sql = Sql {
            backend: self.backend,
            binds: Vec::new(),
        };
        let mut wheres = conditions(&mut sql, columns, &query.filters)?;
        if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            if q.contains('\0') {
                return Err(bad("q".into(), "nul_character").into());
            }
            let text: Vec<&DatastoreColumn> = columns
                .iter()
                .filter(|c| Kind::of(c.field_type) == Kind::Text)
                .collect();
            if !text.is_empty() {
                let p = sql.param(Kind::Text, format!("%{}%", like_escape(q)));
                let any: Vec<String> = text
                    .iter()
                    .map(|c| format!("{} LIKE {p} ESCAPE '\\'", quote(&c.column)))
                    .collect();
                wheres.push(format!("({})", any.join(" OR ")));
            }
        }
        let selected: Vec<&DatastoreColumn> = if query.fields.is_empty() {
            columns.iter().collect()
        } else {
            query
                .fields
                .iter()
                .map(|f| by_name(f, "fields".into()))
                .collect::<std::result::Result<_, _>>()?
        };
        let order = match &query.sort {
            Some((name, desc)) => {
                let c = by_name(name, "sort".into())?;
                format!("{} {}, \"_row\"", quote(&c.column), if *desc { "DESC" } else { "ASC" })
            }
            None => "\"_row\"".to_string(),
        };
        if query.after.is_some() && query.sort.is_some() {
            return Err(bad("after".into(), "after_with_sort").into());
        }
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let filter_sql = if wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", wheres.join(" AND "))
        };
        let filter_binds = sql.binds.len();
        let mut page_wheres = wheres.clone();
        if let Some(after) = query.after {
            sql.binds.push(after.to_string());
            page_wheres.push(format!("\"_row\" > CAST(${} AS BIGINT)", sql.binds.len()));
        }
        let page_filter = if page_wheres.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", page_wheres.join(" AND "))
        };
        let exprs: Vec<String> = selected
            .iter()
            .map(|c| {
                let q = quote(&c.column);
                match c.field_type {
                    pubdata_core::field::FieldType::Boolean => {
                        format!("CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END")
                    }
                    _ => format!("CAST({q} AS TEXT)"),
                }
            })
            .collect();
        let offset = if query.after.is_some() { 0 } else { query.offset };
        let page_sql = format!(
            "SELECT \"_row\", {} FROM {} {page_filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            if exprs.is_empty() {
                "NULL".to_string()
            } else {
                exprs.join(", ")
            },
            quote(table),
        );
        let mut page = sqlx::query(&page_sql);
        for b in &sql.binds {
            page = page.bind(b.clone());
        }
        let raw = page.fetch_all(&self.read).await?;
        let mut last_row = None;
        let mut rows = Vec::with_capacity(raw.len());
        for r in &raw {
            last_row = Some(r.try_get::<i64, _>(0)?);
            rows.push(
                (1..=selected.len())
                    .map(|i| r.try_get::<Option<String>, _>(i))
                    .collect::<std::result::Result<Vec<_>, _>>()?,
            );
        }
        let full = rows.len() as u64 == limit;
        let next_after = (query.sort.is_none() && full).then_some(last_row).flatten();
        // A page that is not full ends the matches: no need to count them (unless it is empty
        // past the first page, or keyset paging skipped rows before it).
        let total = if query.after.is_none() && !full && (!rows.is_empty() || offset == 0) {
            offset + rows.len() as u64
        } else {
            let total_sql = format!("SELECT COUNT(*) FROM {} {filter_sql}", quote(table));
            let mut count = sqlx::query_scalar::<_, i64>(&total_sql);
            for b in &sql.binds[..filter_binds] {
                count = count.bind(b.clone());
            }
            count.fetch_one(&self.read).await?.max(0) as u64
        };
        Ok(QueryResult {
            fields: selected.iter().map(|c| c.name.clone()).collect(),
            rows,
            total,
            next_after,
        })
    }
}

/// The SQL conditions of `filters` on `columns`, their values bound into `sql`; shared by the
/// data API's queries and the downloads' keyset reads ([`crate::export`]).
pub(crate) fn conditions(sql: &mut Sql, columns: &[DatastoreColumn], filters: &[Filter]) -> Result<Vec<String>> {
    let postgres = sql.backend == Backend::Postgres;
    let by_name = |name: &str, param: String| {
        columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| bad(param, "unknown_field"))
    };
    let mut wheres = Vec::new();
    for f in filters {
        let param = format!("{}.{}", f.field, format!("{:?}", f.op).to_lowercase());
        let c = by_name(&f.field, param.clone())?;
        // No stored text holds a NUL (PostgreSQL refuses them), so no value with one can match.
        if f.value.contains('\0') {
            return Err(bad(param, "nul_character").into());
        }
        let col = quote(&c.column);
        let kind = Kind::of(c.field_type);
        // Equality is the same under any deterministic collation; on PostgreSQL, naming the
        // byte-order ("C") collation of the column's index lets the index answer it.
        let eq_col = if postgres && kind == Kind::Text {
            format!("{col} COLLATE \"C\"")
        } else {
            col.clone()
        };
        let cond = match f.op {
            Op::Prefix if kind != Kind::Text => return Err(bad(param, "prefix_text_only").into()),
            Op::Prefix => {
                // A range the column's index answers, around the LIKE that decides: the range
                // holds every text the LIKE matches, so the answer is exactly the LIKE's. On
                // SQLite, LIKE ignores the case of ASCII letters: the range runs from the
                // prefix in upper case to past the prefix in lower case, which holds every
                // case variant.
                let (low, high) = if postgres {
                    (f.value.clone(), prefix_upper_bound(&f.value))
                } else {
                    (
                        f.value.to_ascii_uppercase(),
                        prefix_upper_bound(&f.value.to_ascii_lowercase()),
                    )
                };
                let mut range = vec![format!("{eq_col} >= {}", sql.param(Kind::Text, low))];
                if let Some(high) = high {
                    range.push(format!("{eq_col} < {}", sql.param(Kind::Text, high)));
                }
                let p = sql.param(Kind::Text, format!("{}%", like_escape(&f.value)));
                format!("{} AND {col} LIKE {p} ESCAPE '\\'", range.join(" AND "))
            }
            Op::In => {
                let values: Vec<&str> = f.value.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
                if values.is_empty() || values.len() > 100 {
                    return Err(bad(param, "in_values").into());
                }
                let mut ps = Vec::new();
                for v in values {
                    let v = normalise(c, &param, v)?;
                    ps.push(sql.param(kind, v));
                }
                format!("{eq_col} IN ({})", ps.join(", "))
            }
            op => {
                let v = normalise(c, &param, &f.value)?;
                let p = sql.param(kind, v);
                let (sym, col) = match op {
                    Op::Gt => (">", &col),
                    Op::Gte => (">=", &col),
                    Op::Lt => ("<", &col),
                    Op::Lte => ("<=", &col),
                    _ => ("=", &eq_col),
                };
                format!("{col} {sym} {p}")
            }
        };
        wheres.push(cond);
    }
    Ok(wheres)
}
