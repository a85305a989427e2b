//! The PostgreSQL writer: one pooled connection, one transaction, multi-row INSERTs of up to
//! 500 rows with typed casts. Values are normalised in Rust first, so a cast never fails: what
//! does not convert is bound as NULL.

use std::sync::mpsc::Receiver;

use pubdata_core::field::FieldSpec;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection};

use super::convert::{self, Kind};
use super::index::{self, Longest};
use super::{column_name, quote, Msg, CATALOG_SQL};

/// Rows per INSERT, kept under PostgreSQL's 65,535 bind parameters.
const MAX_ROWS: usize = 500;
const MAX_PARAMS: usize = 30_000;

pub(crate) async fn write(mut conn: PoolConnection<Any>, table: &str, rx: Receiver<Msg>) -> Result<(), String> {
    run(&mut conn, table, rx)
        .await
        .map_err(|e| format!("loading {table} into PostgreSQL failed: {e}"))
}

async fn run(conn: &mut sqlx::AnyConnection, table: &str, rx: Receiver<Msg>) -> Result<(), sqlx::Error> {
    // Blocking receives are fine: this runs on the loader's own thread.
    let Ok(Msg::Begin(columns)) = rx.recv() else {
        return Ok(());
    };
    let mut tx = conn.begin().await?;
    create(&mut tx, table, &columns).await?;
    let kinds: Vec<Kind> = columns.iter().map(|c| Kind::of(c.field_type)).collect();
    let per_stmt = (MAX_PARAMS / (columns.len() + 1)).clamp(1, MAX_ROWS);
    let full_sql = insert_sql(table, &kinds, per_stmt);
    let mut finished = false;
    let mut longest = Longest::new(columns.len());
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Rows(batch) => {
                longest.observe(&batch);
                let mut r = 0;
                while r < batch.rows {
                    let n = per_stmt.min(batch.rows - r);
                    let partial;
                    let sql = if n == per_stmt {
                        &full_sql
                    } else {
                        partial = insert_sql(table, &kinds, n);
                        &partial
                    };
                    let mut q = sqlx::query(sql);
                    for i in r..r + n {
                        q = q.bind(batch.first_row as i64 + i as i64);
                        for (v, kind) in batch.row(i, kinds.len()).zip(&kinds) {
                            q = q.bind(v.and_then(|s| normalise(s, *kind)));
                        }
                    }
                    q.execute(&mut *tx).await?;
                    r += n;
                }
            }
            Msg::Finish => {
                finished = true;
                break;
            }
            Msg::Begin(_) => return Err(sqlx::Error::Protocol("begin sent twice".into())),
        }
    }
    if !finished {
        tx.rollback().await?;
        return Ok(());
    }
    // Indexes after the rows: one build per column is faster than updating them per row.
    for sql in index::create_sql(table, &columns, &longest, true) {
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    // Statistics now, so the first queries are planned on the indexes rather than on guesses.
    sqlx::query(&format!("ANALYZE {}", quote(table)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn create(tx: &mut sqlx::AnyConnection, table: &str, columns: &[FieldSpec]) -> Result<(), sqlx::Error> {
    let mut defs = vec!["\"_row\" BIGINT PRIMARY KEY".to_string()];
    defs.extend(
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} {}", quote(&column_name(i)), Kind::of(c.field_type).postgres_type())),
    );
    sqlx::query(&format!("DROP TABLE IF EXISTS {}", quote(table)))
        .execute(&mut *tx)
        .await?;
    sqlx::query(&format!("CREATE TABLE {} ({})", quote(table), defs.join(", ")))
        .execute(&mut *tx)
        .await?;
    sqlx::query(CATALOG_SQL).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM datastore_columns WHERE table_name = $1")
        .bind(table)
        .execute(&mut *tx)
        .await?;
    for (i, c) in columns.iter().enumerate() {
        sqlx::query(
            "INSERT INTO datastore_columns (table_name, position, column_name, field_name, field_type, is_key) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(table)
        .bind(i as i64 + 1)
        .bind(column_name(i))
        .bind(c.name.as_str())
        .bind(c.field_type.as_str())
        .bind(i64::from(c.key))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn insert_sql(table: &str, kinds: &[Kind], rows: usize) -> String {
    let mut names = vec!["\"_row\"".to_string()];
    names.extend((0..kinds.len()).map(|i| quote(&column_name(i))));
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", quote(table), names.join(", "));
    let mut p = 0;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        p += 1;
        sql.push_str(&format!("(${p}"));
        for k in kinds {
            p += 1;
            match k {
                Kind::Text => sql.push_str(&format!(", ${p}")),
                k => sql.push_str(&format!(", CAST(${p} AS {})", k.postgres_type())),
            }
        }
        sql.push(')');
    }
    sql
}

/// The text PostgreSQL's cast to the column type accepts, or `None` (NULL).
fn normalise(s: &str, kind: Kind) -> Option<String> {
    match kind {
        Kind::Text => Some(s.to_string()),
        Kind::Integer => convert::integer(s).map(|n| n.to_string()),
        Kind::Decimal => convert::decimal(s).map(str::to_string),
        Kind::Boolean => convert::boolean(s).map(|b| b.to_string()),
        Kind::Date => convert::date(s),
        Kind::Datetime => convert::datetime(s),
    }
}
