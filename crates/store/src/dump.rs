//! A portable dump of the whole database — every application table and every datastore table —
//! as canonical JSON lines, and loading such a dump into an empty database of either backend.
//!
//! The application's columns are all BIGINT or TEXT, so a row is a JSON array of integers,
//! strings and nulls that both backends read back exactly (the audit chain depends on it).
//! Datastore tables are dumped as their `_row` and each cell's text (as the data API shows
//! it), and re-created from their column types on load. Rows come in a canonical order (every
//! column ascending, bytewise, NULLs first), so the same data gives the same bytes — and the
//! same sha256 — from SQLite and PostgreSQL.

use std::collections::BTreeMap;

use pubdata_core::field::FieldType;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use crate::datastore::convert::{self, Kind};
use crate::datastore::{column_name, index, quote, CATALOG_SQL};
use crate::{Backend, Result, Store, StoreError};

/// One table as dumped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<DumpColumn>,
    /// For a datastore table (`ds_…`): how to re-create it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datastore: Option<DatastoreSchema>,
}

/// A column as dumped: its name and `integer` or `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The column types of a datastore table (`c1`, `c2`, … in order, as in `datastore_columns`)
/// and which of them have an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatastoreSchema {
    pub field_types: Vec<String>,
    /// 0-based positions of the indexed columns, keys first.
    pub indexed: Vec<usize>,
}

/// Each table's row count and the sha256 of its canonical dump, by table name.
pub type Sums = BTreeMap<String, (u64, String)>;

/// What a committed load holds: its tables and rows (matching the dump's checksums) and the
/// verified length of its audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub tables: usize,
    pub rows: u64,
    pub audit_events: i64,
}

/// The columns that hold a file store key: the objects a dump must carry with it.
pub const FILE_REFERENCES: &[(&str, &str)] = &[
    ("application_attachments", "object_key"),
    ("distributions", "export_key"),
    ("distributions", "object_key"),
    ("showcases", "screenshot_key"),
];

const INTEGER: &str = "integer";
const TEXT: &str = "text";

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Other(msg.into())
}

impl TableSchema {
    fn is_datastore(&self) -> bool {
        self.name.starts_with("ds_")
    }

    /// The SELECT that reads the table in canonical order.
    fn select(&self, backend: Backend) -> String {
        if let Some(ds) = &self.datastore {
            let mut exprs = vec!["\"_row\"".to_string()];
            for (i, t) in ds.field_types.iter().enumerate() {
                let q = quote(&column_name(i));
                exprs.push(match FieldType::parse(t) {
                    // SQLite stores booleans as 0/1; both backends answer true/false.
                    Some(FieldType::Boolean) => format!("CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END"),
                    // SQLite keeps the loader's ISO text; PostgreSQL's own text follows DateStyle.
                    Some(FieldType::Date) if backend == Backend::Postgres => format!("to_char({q}, 'YYYY-MM-DD')"),
                    Some(FieldType::Datetime) if backend == Backend::Postgres => {
                        format!("to_char({q}, 'YYYY-MM-DD HH24:MI:SS')")
                    }
                    _ => format!("CAST({q} AS TEXT)"),
                });
            }
            return format!(
                "SELECT {} FROM {} ORDER BY \"_row\"",
                exprs.join(", "),
                quote(&self.name)
            );
        }
        let names: Vec<String> = self.columns.iter().map(|c| quote(&c.name)).collect();
        // `id` first where there is one (the primary key: the natural order), then the rest.
        let mut by = self.columns.iter().collect::<Vec<_>>();
        by.sort_by_key(|c| c.name != "id");
        let order: Vec<String> = by
            .into_iter()
            .map(|c| match (backend, c.kind.as_str()) {
                (Backend::Postgres, TEXT) => format!("{} COLLATE \"C\" NULLS FIRST", quote(&c.name)),
                _ => format!("{} NULLS FIRST", quote(&c.name)),
            })
            .collect();
        format!(
            "SELECT {} FROM {} ORDER BY {}",
            names.join(", "),
            quote(&self.name),
            order.join(", ")
        )
    }
}

/// A consistent read of the whole database: one read transaction, so every table is seen at
/// the same moment while the platform keeps running.
pub struct DumpReader {
    tx: Transaction<'static, Any>,
    backend: Backend,
}

impl Store {
    /// Starts a consistent dump (a snapshot: REPEATABLE READ on PostgreSQL, a WAL read
    /// transaction on SQLite).
    pub async fn dump_reader(&self) -> Result<DumpReader> {
        let mut tx = self.read.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(DumpReader {
            tx,
            backend: self.backend,
        })
    }

    /// The newest applied migration (0 on an empty database).
    pub async fn schema_version(&self) -> Result<i64> {
        let mut conn = self.read.acquire().await?;
        schema_version(&mut conn).await
    }

    /// The first table that holds data, if any: an import only goes into an empty database
    /// (one just migrated: only the migrations' record and the audit chain's zero head).
    pub async fn first_nonempty_table(&self) -> Result<Option<String>> {
        let mut conn = self.read.acquire().await?;
        for name in table_names(&mut conn, self.backend).await? {
            if name == "schema_migrations" {
                continue;
            }
            let sql = if name == "audit_head" {
                format!("SELECT COUNT(*) FROM {} WHERE seq <> 0", quote(&name))
            } else {
                format!("SELECT COUNT(*) FROM {}", quote(&name))
            };
            let n: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *conn).await?;
            if n > 0 || name.starts_with("ds_") {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Starts loading a dump in one transaction: nothing is visible, and nothing is left
    /// behind on failure, until [`DumpLoader::finish`] commits.
    pub async fn dump_loader(&self) -> Result<DumpLoader> {
        let mut tx = self.write.begin().await?;
        let mut foreign_keys = Vec::new();
        match self.backend {
            Backend::Sqlite => {
                sqlx::query("PRAGMA defer_foreign_keys = ON").execute(&mut *tx).await?;
            }
            Backend::Postgres => {
                // Rows go in table by table, so references are checked once at the end: the
                // constraints are dropped and added back (which validates them) in this
                // transaction.
                let rows = sqlx::query(
                    "SELECT c.conrelid::regclass::text, c.conname::text, pg_get_constraintdef(c.oid) \
                     FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
                     WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2",
                )
                .fetch_all(&mut *tx)
                .await?;
                for r in rows {
                    let (table, name, def): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                    sqlx::query(&format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote(&name)))
                        .execute(&mut *tx)
                        .await?;
                    foreign_keys.push(format!("ALTER TABLE {table} ADD CONSTRAINT {} {def}", quote(&name)));
                }
            }
        }
        let existing = table_names(&mut tx, self.backend).await?;
        // The migrations' seed rows (the audit chain's zero head) give way to the dump's.
        for name in existing.iter().filter(|n| *n != "schema_migrations") {
            sqlx::query(&format!("DELETE FROM {}", quote(name)))
                .execute(&mut *tx)
                .await?;
        }
        Ok(DumpLoader {
            tx,
            backend: self.backend,
            existing,
            foreign_keys,
            indexes: Vec::new(),
        })
    }
}

async fn schema_version(conn: &mut sqlx::AnyConnection) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(None);
    Ok(v.unwrap_or(0))
}

async fn table_names(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<Vec<String>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    let mut names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *conn).await?;
    names.sort();
    Ok(names)
}

/// The columns of an application table, each `integer` or `text`.
async fn columns_of(conn: &mut sqlx::AnyConnection, backend: Backend, table: &str) -> Result<Vec<DumpColumn>> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut *conn)
                .await?
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut columns = rows
        .iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let t: String = r.try_get(1)?;
            let kind = if t.to_ascii_uppercase().contains("INT") {
                INTEGER
            } else {
                TEXT
            };
            Ok(DumpColumn {
                name,
                kind: kind.into(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // By name, not by position: the backends' migrations may add columns in another order.
    columns.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(columns)
}

/// The 0-based column positions of a datastore table's per-column indexes, from their names
/// (`{table}_c{n}_idx`).
async fn indexed_columns(conn: &mut sqlx::AnyConnection, backend: Backend, table: &str) -> Result<Vec<usize>> {
    let sql = match backend {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL",
        Backend::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1"
        }
    };
    let names: Vec<String> = sqlx::query_scalar(sql).bind(table).fetch_all(&mut *conn).await?;
    let mut positions: Vec<usize> = names
        .iter()
        .filter_map(|n| {
            let rest = n.strip_suffix("_idx")?;
            let (_, num) = rest.rsplit_once("_c")?;
            num.parse::<usize>().ok()?.checked_sub(1)
        })
        .collect();
    positions.sort_unstable();
    positions.dedup();
    Ok(positions)
}

impl DumpReader {
    pub async fn schema_version(&mut self) -> Result<i64> {
        schema_version(&mut self.tx).await
    }

    /// Every table to dump (all but the migrations' own record), application tables first.
    pub async fn tables(&mut self) -> Result<Vec<TableSchema>> {
        dump_tables(&mut self.tx, self.backend).await
    }

    /// Calls `each` with every row of `table` as one canonical JSON line (with its newline),
    /// in canonical order; returns the number of rows.
    pub async fn rows(&mut self, table: &TableSchema, each: impl FnMut(&[u8]) -> Result<()>) -> Result<u64> {
        dump_rows(&mut self.tx, self.backend, table, each).await
    }

    /// The file store keys the snapshot's rows refer to ([`FILE_REFERENCES`]), sorted.
    pub async fn referenced_files(&mut self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        for (table, column) in FILE_REFERENCES {
            let sql = format!(
                "SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL",
                c = quote(column),
                t = quote(table)
            );
            keys.extend(sqlx::query_scalar::<_, String>(&sql).fetch_all(&mut *self.tx).await?);
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Ends the read transaction.
    pub async fn finish(self) -> Result<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

async fn dump_tables(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<Vec<TableSchema>> {
    let names = table_names(&mut *conn, backend).await?;
    let mut out = Vec::new();
    for name in names.iter().filter(|n| *n != "schema_migrations") {
        let datastore = if name.starts_with("ds_") {
            let field_types: Vec<String> =
                sqlx::query_scalar("SELECT field_type FROM datastore_columns WHERE table_name = $1 ORDER BY position")
                    .bind(name.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
            let indexed = indexed_columns(&mut *conn, backend, name).await?;
            Some(DatastoreSchema { field_types, indexed })
        } else {
            None
        };
        let columns = match &datastore {
            Some(ds) => std::iter::once(DumpColumn {
                name: "_row".into(),
                kind: INTEGER.into(),
            })
            .chain((0..ds.field_types.len()).map(|i| DumpColumn {
                name: column_name(i),
                kind: TEXT.into(),
            }))
            .collect(),
            None => columns_of(&mut *conn, backend, name).await?,
        };
        out.push(TableSchema {
            name: name.clone(),
            columns,
            datastore,
        });
    }
    out.sort_by_key(|t| (t.is_datastore(), t.name.clone()));
    Ok(out)
}

async fn dump_rows(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &TableSchema,
    mut each: impl FnMut(&[u8]) -> Result<()>,
) -> Result<u64> {
    use futures_util::TryStreamExt;
    let decimals: Vec<bool> = match &table.datastore {
        // Position 0 is `_row`.
        Some(ds) => std::iter::once(false)
            .chain(ds.field_types.iter().map(|t| t == FieldType::Decimal.as_str()))
            .collect(),
        None => vec![false; table.columns.len()],
    };
    let sql = table.select(backend);
    let mut stream = sqlx::query(&sql).fetch(&mut *conn);
    let mut n = 0u64;
    let mut line = Vec::with_capacity(256);
    while let Some(row) = stream.try_next().await? {
        line.clear();
        line.push(b'[');
        for (i, c) in table.columns.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            let v = if c.kind == INTEGER {
                row.try_get::<Option<i64>, _>(i)?.map(Value::from)
            } else if decimals[i] {
                row.try_get::<Option<String>, _>(i)?
                    .map(|s| Value::from(canonical_decimal(&s)))
            } else {
                row.try_get::<Option<String>, _>(i)?.map(Value::from)
            };
            serde_json::to_writer(&mut line, &v.unwrap_or(Value::Null)).map_err(|e| bad(e.to_string()))?;
        }
        line.extend_from_slice(b"]\n");
        each(&line)?;
        n += 1;
    }
    Ok(n)
}

/// A decimal as both backends can print it the same way: plain digits (no exponent), no `+`,
/// no leading zeros, no trailing zeros after the point and no point without a fraction, no
/// negative zero. PostgreSQL prints NUMERIC with its scale (`12.50`), SQLite REAL with `%.15g`
/// (`12.0`, `1.0e+20`).
pub fn canonical_decimal(s: &str) -> String {
    let s = s.trim();
    let plain;
    let s = if s.contains(['e', 'E']) {
        match s.parse::<f64>() {
            Ok(f) if f.is_finite() => {
                plain = format!("{f}");
                plain.as_str()
            }
            _ => return s.to_string(),
        }
    } else {
        s
    };
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') || digits.matches('.').count() > 1
    {
        return s.to_string();
    }
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::with_capacity(s.len());
    if negative && (int != "0" || !frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Every table's row count and checksum, as [`DumpReader::rows`] would write them.
async fn table_sums(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<Sums> {
    let mut sums = Sums::new();
    for schema in dump_tables(&mut *conn, backend).await? {
        let mut hasher = Sha256::new();
        let rows = dump_rows(&mut *conn, backend, &schema, |line| {
            hasher.update(line);
            Ok(())
        })
        .await?;
        sums.insert(schema.name.clone(), (rows, hex::encode(hasher.finalize())));
    }
    Ok(sums)
}

/// Loads a dump into an empty database, in one transaction.
pub struct DumpLoader {
    tx: Transaction<'static, Any>,
    backend: Backend,
    existing: Vec<String>,
    foreign_keys: Vec<String>,
    indexes: Vec<String>,
}

/// Rows per INSERT statement, under both backends' bind-parameter limits.
const MAX_PARAMS: usize = 30_000;
const MAX_ROWS: usize = 500;

impl DumpLoader {
    /// Prepares `table`: checks an application table's columns match this database's, or
    /// creates a datastore table from its types.
    pub async fn prepare(&mut self, table: &TableSchema) -> Result<()> {
        if let Some(ds) = &table.datastore {
            if !table.is_datastore()
                || table.name.len() > 63
                || !table.name[3..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(bad(format!("invalid datastore table name {:?}", table.name)));
            }
            let kinds = ds_kinds(ds)?;
            if table.columns.len() != kinds.len() + 1 {
                return Err(bad(format!(
                    "{}: {} columns for {} field types",
                    table.name,
                    table.columns.len(),
                    kinds.len()
                )));
            }
            let mut defs = vec![match self.backend {
                Backend::Sqlite => "\"_row\" INTEGER PRIMARY KEY".to_string(),
                Backend::Postgres => "\"_row\" BIGINT PRIMARY KEY".to_string(),
            }];
            defs.extend(kinds.iter().enumerate().map(|(i, k)| {
                let t = match self.backend {
                    Backend::Sqlite => k.sqlite_type(),
                    Backend::Postgres => k.postgres_type(),
                };
                format!("{} {t}", quote(&column_name(i)))
            }));
            sqlx::query(&format!("CREATE TABLE {} ({})", quote(&table.name), defs.join(", ")))
                .execute(&mut *self.tx)
                .await?;
            self.indexes.extend(index::create_sql_at(
                &table.name,
                &kinds,
                &ds.indexed,
                self.backend == Backend::Postgres,
            ));
            return Ok(());
        }
        if !self.existing.contains(&table.name) {
            if table.name == "datastore_columns" {
                // Made with the first datastore table, not by a migration.
                sqlx::query(CATALOG_SQL).execute(&mut *self.tx).await?;
            } else {
                return Err(bad(format!(
                    "the dump has a table {:?} this database does not: export and import with the same pubdata version",
                    table.name
                )));
            }
        }
        let here = columns_of(&mut self.tx, self.backend, &table.name).await?;
        if here != table.columns {
            return Err(bad(format!(
                "table {} differs between the dump and this database: export and import with the same pubdata version",
                table.name
            )));
        }
        Ok(())
    }

    /// Inserts rows (JSON arrays as dumped) into a prepared table.
    pub async fn insert(&mut self, table: &TableSchema, rows: &[Vec<Value>]) -> Result<()> {
        let ncols = table.columns.len();
        let kinds = match &table.datastore {
            Some(ds) => Some(ds_kinds(ds)?),
            None => None,
        };
        let per_stmt = (MAX_PARAMS / ncols.max(1)).clamp(1, MAX_ROWS);
        for chunk in rows.chunks(per_stmt) {
            let sql = insert_sql(table, kinds.as_deref(), chunk.len(), self.backend);
            let mut q = sqlx::query(&sql);
            for row in chunk {
                if row.len() != ncols {
                    return Err(bad(format!(
                        "{}: a row has {} values for {ncols} columns",
                        table.name,
                        row.len()
                    )));
                }
                for (i, v) in row.iter().enumerate() {
                    let kind = match &kinds {
                        Some(k) if i > 0 => Some(k[i - 1]),
                        _ => None,
                    };
                    q = bind(q, v, &table.columns[i].kind, kind, self.backend)
                        .map_err(|e| bad(format!("{}.{}: {e}", table.name, table.columns[i].name)))?;
                }
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Builds the datastore indexes, restores the references (checking them), moves the
    /// identity sequences past the loaded ids, then — still inside the transaction — dumps
    /// what it loaded again, compares every table's row count and checksum with `expected`
    /// and verifies the audit chain. It commits only if all of that holds; otherwise the
    /// transaction rolls back and the error names the first difference.
    pub async fn finish(mut self, expected: &Sums) -> Result<Loaded> {
        for sql in std::mem::take(&mut self.indexes) {
            sqlx::query(&sql).execute(&mut *self.tx).await?;
        }
        for sql in std::mem::take(&mut self.foreign_keys) {
            sqlx::query(&sql)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| bad(format!("the dump's references do not hold ({sql}): {e}")))?;
        }
        if self.backend == Backend::Postgres {
            let rows = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND is_identity = 'YES'",
            )
            .fetch_all(&mut *self.tx)
            .await?;
            for r in rows {
                let (table, column): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                let sql = format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)",
                    c = quote(&column),
                    t = quote(&table)
                );
                sqlx::query(&sql)
                    .bind(quote(&table))
                    .bind(column.as_str())
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        let sums = table_sums(&mut self.tx, self.backend).await?;
        compare_sums(&sums, expected)?;
        let audit_events = match crate::audit::verify_chain(&mut self.tx).await? {
            crate::VerifyReport::Intact { events } => events,
            crate::VerifyReport::Broken(b) => {
                return Err(bad(format!(
                    "the loaded audit chain does not verify ({b:?}); nothing was imported"
                )))
            }
        };
        self.tx.commit().await?;
        Ok(Loaded {
            tables: sums.len(),
            rows: sums.values().map(|s| s.0).sum(),
            audit_events,
        })
    }
}

/// Names the first table whose loaded rows differ from the dump's.
fn compare_sums(got: &Sums, want: &Sums) -> Result<()> {
    for (name, w) in want {
        let Some(g) = got.get(name) else {
            return Err(bad(format!(
                "table {name} is missing after the load; nothing was imported"
            )));
        };
        if g != w {
            let (rows, sha) = (g.0, &g.1);
            return Err(bad(format!(
                "table {name} loaded as {rows} rows (sha256 {sha}) but the dump has {} rows (sha256 {}); \
                 nothing was imported",
                w.0, w.1
            )));
        }
    }
    if let Some(extra) = got.keys().find(|k| !want.contains_key(*k)) {
        return Err(bad(format!(
            "the database has a table {extra} the dump has not; nothing was imported"
        )));
    }
    Ok(())
}

fn ds_kinds(ds: &DatastoreSchema) -> Result<Vec<Kind>> {
    ds.field_types
        .iter()
        .map(|t| {
            FieldType::parse(t)
                .map(Kind::of)
                .ok_or_else(|| bad(format!("unknown datastore field type {t:?}")))
        })
        .collect()
}

fn insert_sql(table: &TableSchema, kinds: Option<&[Kind]>, rows: usize, backend: Backend) -> String {
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", quote(&table.name), names.join(", "));
    let mut p = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for i in 0..names.len() {
            p += 1;
            if i > 0 {
                sql.push_str(", ");
            }
            match (backend, kinds, i) {
                (Backend::Postgres, Some(k), i) if i > 0 && k[i - 1] != Kind::Text => {
                    sql.push_str(&format!("CAST(${p} AS {})", k[i - 1].postgres_type()))
                }
                _ => sql.push_str(&format!("${p}")),
            }
        }
        sql.push(')');
    }
    sql
}

type Query<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds one dumped value: integers and text as they are; a datastore cell's text as its
/// column's type on SQLite (PostgreSQL casts the text in the statement).
fn bind<'q>(q: Query<'q>, v: &Value, kind: &str, ds: Option<Kind>, backend: Backend) -> Result<Query<'q>, String> {
    Ok(match v {
        Value::Null => match kind {
            INTEGER => q.bind(None::<i64>),
            _ => q.bind(None::<String>),
        },
        Value::Number(n) if kind == INTEGER => q.bind(n.as_i64().ok_or(format!("{n} is not a 64-bit integer"))?),
        Value::String(s) if kind == TEXT => match (backend, ds) {
            (Backend::Sqlite, Some(Kind::Integer)) => q.bind(convert::integer(s)),
            (Backend::Sqlite, Some(Kind::Decimal)) => q.bind(s.parse::<f64>().ok()),
            (Backend::Sqlite, Some(Kind::Boolean)) => q.bind(convert::boolean(s).map(i64::from)),
            _ => q.bind(s.clone()),
        },
        other => return Err(format!("{other} is not a {kind} value")),
    })
}
