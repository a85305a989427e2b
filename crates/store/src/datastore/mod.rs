//! The datastore: a typed table per distribution, loaded from ingested rows.
//! Queries for previews and counts; the loaders live in `sqlite.rs` and `postgres.rs`.
//!
//! Tables are named `ds_<id>` and their columns `c1, c2, …`: column names come from uploaded
//! files, so they are never put into SQL. The catalog table `datastore_columns` maps each
//! generated column to its field name and type. Every table also has `_row`, the 1-based data
//! row number, as its primary key (stable order for paging).
//!
//! Loading is one transaction on one connection. The store keeps the single-writer rule
//! (DESIGN §5): on SQLite the loader first takes the store's one writer connection from its
//! pool and holds it, idle, until the load commits or rolls back, so the application's other
//! writes queue behind the load (up to the pool's 60 s acquire timeout) instead of failing
//! with SQLITE_BUSY; the rows themselves go through a separate `rusqlite` connection with a
//! prepared statement, which is several times faster than statements through sqlx's `Any`
//! driver. Another process writing the same file waits on SQLite's busy timeout (10 s).
//! On PostgreSQL a pooled connection runs multi-row INSERTs; other writers are not blocked.
//!
//! `RowSink` is synchronous and the store is async: the loader sends batches of rows over a
//! bounded channel to a writer thread, so parsing and inserting overlap on two cores and
//! memory stays bounded. Call the loader's `RowSink` methods from a blocking context (e.g.
//! inside `tokio::task::spawn_blocking`), never directly on an async task.

pub(crate) mod convert;
pub mod index;
pub(crate) mod query;
pub use query::{prefix_upper_bound, DatastoreQuery, Filter, Op, QueryResult, MAX_LIMIT};
mod postgres;
mod sqlite;

use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pubdata_core::field::{FieldSpec, FieldType, RowSink};
use sqlx::Row;

use crate::{Backend, Result, Store, StoreError};

/// The table of a distribution's data.
pub fn table_name(distribution_id: i64) -> String {
    format!("ds_{distribution_id}")
}

/// One column of a datastore table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreColumn {
    /// The SQL column, e.g. `c3`.
    pub column: String,
    /// The field name from the file, e.g. `区划代码`.
    pub name: String,
    pub field_type: FieldType,
    pub key: bool,
}

/// Rows as text (NULL as `None`), in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreRows {
    /// Field names.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// How long a cached column list is trusted without reading the catalogue again. This process
/// forgets a table's entry itself when it loads, replaces or drops the table; the age bounds how
/// long another process's (another node's) reload goes unseen, and a query that fails on a
/// cached list reads the catalogue and tries once more.
const COLUMN_CACHE_TTL: Duration = Duration::from_secs(10);

/// The column lists of datastore tables (table → columns), so a data API query does not read
/// the catalogue each time. Shared by the clones of a [`Store`].
#[derive(Clone, Default)]
pub(crate) struct ColumnCache(Arc<Mutex<CacheInner>>);

#[derive(Default)]
struct CacheInner {
    /// Bumped by every invalidation: a list read before it is not stored after it.
    epoch: u64,
    tables: HashMap<String, (Instant, Arc<Vec<DatastoreColumn>>)>,
}

impl ColumnCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached columns when fresh, and the epoch to pass to `put` otherwise.
    fn get(&self, table: &str) -> (u64, Option<Arc<Vec<DatastoreColumn>>>) {
        let inner = self.lock();
        let hit = inner
            .tables
            .get(table)
            .filter(|(at, _)| at.elapsed() < COLUMN_CACHE_TTL)
            .map(|(_, c)| c.clone());
        (inner.epoch, hit)
    }

    fn put(&self, epoch: u64, table: &str, columns: Arc<Vec<DatastoreColumn>>) {
        let mut inner = self.lock();
        if inner.epoch == epoch && !columns.is_empty() {
            if inner.tables.len() >= 10_000 {
                inner.tables.clear();
            }
            inner.tables.insert(table.to_string(), (Instant::now(), columns));
        }
    }

    /// Forgets a table (created, replaced or dropped).
    pub(crate) fn invalidate(&self, table: &str) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.tables.remove(table);
    }
}

/// Rows per batch sent to the writer, and the batch's byte bound.
const BATCH_ROWS: usize = 8192;
const BATCH_BYTES: usize = 4 << 20;
/// Batches in flight: bounds memory to about `CHANNEL × BATCH_BYTES`.
const CHANNEL: usize = 4;

pub(crate) const CATALOG_SQL: &str = "CREATE TABLE IF NOT EXISTS datastore_columns (\
    table_name TEXT NOT NULL, position BIGINT NOT NULL, column_name TEXT NOT NULL, \
    field_name TEXT NOT NULL, field_type TEXT NOT NULL, is_key BIGINT NOT NULL, \
    PRIMARY KEY (table_name, position))";

/// Refuses anything but `ds_` plus lower-case letters, digits and underscores, so a table name
/// is safe to quote and can never name one of the application's own tables.
pub(crate) fn check_table(table: &str) -> Result<()> {
    let ok = table.len() <= 63
        && table.len() > 3
        && table.starts_with("ds_")
        && table
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Other(format!(
            "invalid datastore table name {table:?}: use ds_ followed by lower-case letters, digits or _"
        )))
    }
}

pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The generated SQL name of the column at 0-based `i`.
pub(crate) fn column_name(i: usize) -> String {
    format!("c{}", i + 1)
}

/// Rows collected for the writer: cell text concatenated, with each cell's byte range
/// (`None` for NULL).
#[derive(Default)]
pub(crate) struct Batch {
    pub text: String,
    pub cells: Vec<Option<(usize, usize)>>,
    pub rows: usize,
    /// The first row's 1-based number.
    pub first_row: u64,
}

impl Batch {
    pub fn row(&self, r: usize, ncols: usize) -> impl Iterator<Item = Option<&str>> {
        self.cells[r * ncols..(r + 1) * ncols]
            .iter()
            .map(|c| c.map(|(a, b)| &self.text[a..b]))
    }
}

pub(crate) enum Msg {
    Begin(Vec<FieldSpec>),
    Rows(Batch),
    Finish,
}

/// A [`RowSink`] that loads rows into a datastore table in one transaction. Dropped without
/// `finish` (an ingest error), the transaction rolls back and the previous table, if any,
/// stays as it was.
pub struct DatastoreLoader {
    tx: Option<SyncSender<Msg>>,
    worker: Option<JoinHandle<Result<(), String>>>,
    batch: Batch,
    ncols: usize,
    rows: u64,
}

impl DatastoreLoader {
    fn new(worker: impl FnOnce(std::sync::mpsc::Receiver<Msg>) -> Result<(), String> + Send + 'static) -> Self {
        let (tx, rx) = sync_channel(CHANNEL);
        let worker = std::thread::Builder::new()
            .name("datastore-writer".into())
            .spawn(move || worker(rx))
            .ok();
        DatastoreLoader {
            tx: Some(tx),
            worker,
            batch: Batch::default(),
            ncols: 0,
            rows: 0,
        }
    }

    /// Rows received so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn send(&mut self, msg: Msg) -> Result<(), String> {
        let sent = self.tx.as_ref().map(|tx| tx.send(msg).is_ok()).unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The writer stopped: its result says why.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| "the datastore writer stopped".into()))
        }
    }

    fn join(&mut self) -> Result<(), String> {
        self.tx = None;
        match self.worker.take() {
            Some(w) => w.join().unwrap_or_else(|_| Err("the datastore writer panicked".into())),
            None => Err("the datastore writer could not be started".into()),
        }
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.batch.rows == 0 {
            return Ok(());
        }
        let next = Batch {
            first_row: self.rows + 1,
            text: String::with_capacity(self.batch.text.capacity()),
            cells: Vec::with_capacity(self.batch.cells.capacity()),
            rows: 0,
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.send(Msg::Rows(full))
    }
}

impl RowSink for DatastoreLoader {
    fn begin(&mut self, columns: &[FieldSpec]) -> Result<(), String> {
        self.ncols = columns.len();
        self.batch.first_row = 1;
        self.send(Msg::Begin(columns.to_vec()))
    }

    fn row(&mut self, values: &[Option<&str>]) -> Result<(), String> {
        if values.len() != self.ncols {
            return Err(format!("a row has {} values for {} columns", values.len(), self.ncols));
        }
        let b = &mut self.batch;
        for v in values {
            b.cells.push(v.map(|s| {
                let start = b.text.len();
                b.text.push_str(s);
                (start, b.text.len())
            }));
        }
        b.rows += 1;
        self.rows += 1;
        if b.rows >= BATCH_ROWS || b.text.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        self.flush()?;
        self.send(Msg::Finish)?;
        self.join()
    }
}

impl Drop for DatastoreLoader {
    fn drop(&mut self) {
        if self.worker.is_some() {
            // Closing the channel without `Finish` makes the writer roll back.
            let _ = self.join();
        }
    }
}

impl Store {
    /// A loader that (re)creates `table` from the rows it is given, replacing any table of that
    /// name when it commits. On SQLite this holds the store's writer connection until the
    /// loader finishes or is dropped (see the module docs), and needs a database file.
    pub async fn datastore_loader(&self, table: &str) -> Result<DatastoreLoader> {
        check_table(table)?;
        let table = table.to_string();
        let rt = tokio::runtime::Handle::current();
        let cache = self.columns.clone();
        match self.backend {
            Backend::Sqlite => {
                let mut token = self.write.acquire().await?;
                let path = sqlite_file(&mut token).await?;
                Ok(DatastoreLoader::new(move |rx| {
                    let result = sqlite::write(&path, &table, rx);
                    cache.invalidate(&table);
                    // Returning the writer connection to the pool needs the runtime.
                    let _guard = rt.enter();
                    drop(token);
                    result
                }))
            }
            Backend::Postgres => {
                let conn = self.write.acquire().await?;
                Ok(DatastoreLoader::new(move |rx| {
                    let result = rt.block_on(postgres::write(conn, &table, rx));
                    cache.invalidate(&table);
                    result
                }))
            }
        }
    }

    /// Drops a datastore table and its column map; `false` when there was no such table.
    pub async fn drop_datastore_table(&self, table: &str) -> Result<bool> {
        check_table(table)?;
        let existed = self.datastore_table_exists(table).await?;
        let mut tx = self.write.begin().await?;
        sqlx::query(CATALOG_SQL).execute(&mut *tx).await?;
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", quote(table)))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM datastore_columns WHERE table_name = $1")
            .bind(table)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.columns.invalidate(table);
        Ok(existed)
    }

    async fn datastore_table_exists(&self, table: &str) -> Result<bool> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
        };
        let n: i64 = sqlx::query_scalar(sql).bind(table).fetch_one(&self.read).await?;
        Ok(n > 0)
    }

    /// The columns of a datastore table, in order; empty when there is no such table.
    pub async fn datastore_columns(&self, table: &str) -> Result<Vec<DatastoreColumn>> {
        check_table(table)?;
        if !self.catalog_exists().await? {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT column_name, field_name, field_type, is_key FROM datastore_columns \
             WHERE table_name = $1 ORDER BY position",
        )
        .bind(table)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let t: String = r.try_get(2)?;
                Ok(DatastoreColumn {
                    column: r.try_get(0)?,
                    name: r.try_get(1)?,
                    field_type: FieldType::parse(&t).unwrap_or(FieldType::String),
                    key: r.try_get::<i64, _>(3)? != 0,
                })
            })
            .collect()
    }

    /// The columns of a datastore table from the column cache, reading the catalogue on a miss;
    /// `true` with them when they came from the cache.
    pub(crate) async fn cached_columns(&self, table: &str) -> Result<(Arc<Vec<DatastoreColumn>>, bool)> {
        let (epoch, hit) = self.columns.get(table);
        if let Some(columns) = hit {
            return Ok((columns, true));
        }
        let columns = Arc::new(self.datastore_columns(table).await?);
        self.columns.put(epoch, table, columns.clone());
        Ok((columns, false))
    }

    /// The SQL definitions of a datastore table's indexes other than its primary key, e.g.
    /// `CREATE INDEX "ds_7_c1_idx" ON "ds_7" ("c1")`: for tests and operators.
    pub async fn datastore_index_definitions(&self, table: &str) -> Result<Vec<String>> {
        check_table(table)?;
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 \
                 AND indexname <> tablename || '_pkey' ORDER BY indexname"
            }
        };
        Ok(sqlx::query_scalar(sql).bind(table).fetch_all(&self.read).await?)
    }

    async fn catalog_exists(&self) -> Result<bool> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'datastore_columns'",
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'datastore_columns'"
            }
        };
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&self.read).await?;
        Ok(n > 0)
    }

    /// Rows in a datastore table.
    pub async fn datastore_row_count(&self, table: &str) -> Result<u64> {
        check_table(table)?;
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .fetch_one(&self.read)
            .await?;
        Ok(n.max(0) as u64)
    }

    /// A page of rows as text, in file order: for previews and tests.
    pub async fn select_rows(&self, table: &str, limit: u64, offset: u64) -> Result<DatastoreRows> {
        let columns = self.datastore_columns(table).await?;
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
        let select = if exprs.is_empty() {
            "\"_row\"".to_string()
        } else {
            exprs.join(", ")
        };
        let sql = format!(
            "SELECT {select} FROM {} ORDER BY \"_row\" LIMIT $1 OFFSET $2",
            quote(table)
        );
        let rows = sqlx::query(&sql)
            .bind(limit.min(i64::MAX as u64) as i64)
            .bind(offset.min(i64::MAX as u64) as i64)
            .fetch_all(&self.read)
            .await?;
        let rows = rows
            .iter()
            .map(|r| (0..columns.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect())
            .collect::<std::result::Result<Vec<Vec<Option<String>>>, sqlx::Error>>()?;
        Ok(DatastoreRows {
            columns: columns.into_iter().map(|c| c.name).collect(),
            rows,
        })
    }
}

/// The file behind the main database of a SQLite connection.
async fn sqlite_file(conn: &mut sqlx::AnyConnection) -> Result<String> {
    let rows = sqlx::query("PRAGMA database_list").fetch_all(&mut *conn).await?;
    for r in rows {
        let name: String = r.try_get(1)?;
        let file: String = r.try_get(2)?;
        if name == "main" && !file.is_empty() {
            return Ok(file);
        }
    }
    Err(StoreError::Other(
        "the datastore needs a SQLite database file, not an in-memory database".into(),
    ))
}
