//! The SQLite writer: one `rusqlite` connection, one IMMEDIATE transaction, one prepared
//! INSERT executed per row. Runs on its own thread, fed batches by the loader.

use std::sync::mpsc::Receiver;
use std::time::Duration;

use pubdata_core::field::FieldSpec;
use rusqlite::types::Null;
use rusqlite::{Connection, TransactionBehavior};

use super::convert::{self, Kind};
use super::index::{self, Longest};
use super::{column_name, quote, Batch, Msg, CATALOG_SQL};

pub(crate) fn write(path: &str, table: &str, rx: Receiver<Msg>) -> Result<(), String> {
    run(path, table, rx).map_err(|e| format!("loading {table} into SQLite failed: {e}"))
}

fn run(path: &str, table: &str, rx: Receiver<Msg>) -> Result<(), Box<dyn std::error::Error>> {
    let Ok(Msg::Begin(columns)) = rx.recv() else {
        return Ok(());
    };
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 32 MiB of page cache for the load and the key index build.
    conn.pragma_update(None, "cache_size", -32768)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    create(&tx, table, &columns)?;
    let kinds: Vec<Kind> = columns.iter().map(|c| Kind::of(c.field_type)).collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let names: Vec<String> = (0..columns.len()).map(|i| quote(&column_name(i))).collect();
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote(table),
        names.join(", "),
        placeholders.join(", ")
    );
    let mut finished = false;
    let mut longest = Longest::new(columns.len());
    {
        let mut stmt = tx.prepare(&insert)?;
        for msg in rx.iter() {
            match msg {
                Msg::Rows(batch) => {
                    longest.observe(&batch);
                    insert_batch(&mut stmt, &batch, &kinds)?
                }
                Msg::Finish => {
                    finished = true;
                    break;
                }
                Msg::Begin(_) => return Err("begin sent twice".into()),
            }
        }
    }
    if !finished {
        // The ingest stopped: dropping the transaction rolls the load back.
        return Ok(());
    }
    // Indexes after the rows: one build per column is faster than updating them per row.
    for sql in index::create_sql(table, &columns, &longest, false) {
        tx.execute_batch(&sql)?;
    }
    tx.commit()?;
    Ok(())
}

fn create(tx: &rusqlite::Transaction, table: &str, columns: &[FieldSpec]) -> rusqlite::Result<()> {
    let mut defs = vec!["\"_row\" INTEGER PRIMARY KEY".to_string()];
    defs.extend(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} {}", quote(&column_name(i)), Kind::of(c.field_type).sqlite_type())),
    );
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} ({}); {CATALOG_SQL};",
        defs.join(", "),
        t = quote(table)
    ))?;
    tx.execute("DELETE FROM datastore_columns WHERE table_name = ?1", [table])?;
    let mut stmt = tx.prepare(
        "INSERT INTO datastore_columns (table_name, position, column_name, field_name, field_type, is_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (i, c) in columns.iter().enumerate() {
        stmt.execute(rusqlite::params![
            table,
            i as i64 + 1,
            column_name(i),
            c.name,
            c.field_type.as_str(),
            i64::from(c.key)
        ])?;
    }
    Ok(())
}

fn insert_batch(stmt: &mut rusqlite::Statement, batch: &Batch, kinds: &[Kind]) -> rusqlite::Result<()> {
    for r in 0..batch.rows {
        for (i, (v, kind)) in batch.row(r, kinds.len()).zip(kinds).enumerate() {
            let p = i + 1;
            match (v, kind) {
                (None, _) => stmt.raw_bind_parameter(p, Null)?,
                (Some(s), Kind::Text) => stmt.raw_bind_parameter(p, s)?,
                (Some(s), Kind::Integer) => stmt.raw_bind_parameter(p, convert::integer(s))?,
                (Some(s), Kind::Decimal) => {
                    stmt.raw_bind_parameter(p, convert::decimal(s).and_then(|d| d.parse::<f64>().ok()))?
                }
                (Some(s), Kind::Boolean) => stmt.raw_bind_parameter(p, convert::boolean(s).map(i64::from))?,
                (Some(s), Kind::Date) => stmt.raw_bind_parameter(p, convert::date(s))?,
                (Some(s), Kind::Datetime) => stmt.raw_bind_parameter(p, convert::datetime(s))?,
            }
        }
        stmt.raw_execute()?;
    }
    Ok(())
}
