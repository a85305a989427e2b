//! The datastore on both backends: typed tables loaded through the `RowSink` loader, values
//! that do not convert as NULL, rollback on an abandoned load, user column names kept out of
//! SQL, previews, counts and dropping; on SQLite, other writes queue behind a load.

mod common;

use common::{postgres, sqlite_file as sqlite};

use std::time::Duration;

use pubdata_core::field::{FieldSpec, FieldType, RowSink};
use pubdata_store::datastore::{table_name, DatastoreLoader};
use pubdata_store::{AuditEntry, Backend, Store};

fn columns() -> Vec<FieldSpec> {
    let mut code = FieldSpec::new("code", FieldType::Code);
    code.key = true;
    vec![
        code,
        FieldSpec::new("名称", FieldType::String),
        FieldSpec::new("n", FieldType::Integer),
        FieldSpec::new("amount", FieldType::Decimal),
        FieldSpec::new("day", FieldType::Date),
        FieldSpec::new("at", FieldType::Datetime),
        FieldSpec::new("flag", FieldType::Boolean),
        FieldSpec::new("a\"; DROP TABLE users; --", FieldType::String),
    ]
}

const ROWS: &[&[Option<&str>]] = &[
    &[
        Some("110101"),
        Some("东城区"),
        Some("42"),
        Some("41.84"),
        Some("2023/5/1"),
        Some("2023-05-01 08:30"),
        Some("是"),
        Some("x"),
    ],
    &[
        Some("110102"),
        None,
        Some("many"),
        Some("1,5"),
        Some("2023-02-30"),
        Some("soon"),
        Some("maybe"),
        None,
    ],
    &[
        Some("110101"),
        Some("重复"),
        Some("-7"),
        Some("-0.5"),
        Some("20230601"),
        Some("2023年6月1日"),
        Some("false"),
        Some("'"),
    ],
];

/// Feeds rows to a loader on a blocking thread, as the ingest pipeline does.
async fn load(
    mut loader: DatastoreLoader,
    cols: Vec<FieldSpec>,
    rows: Vec<Vec<Option<String>>>,
    finish: bool,
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        loader.begin(&cols)?;
        for r in &rows {
            let values: Vec<Option<&str>> = r.iter().map(|v| v.as_deref()).collect();
            loader.row(&values)?;
        }
        if finish {
            loader.finish()
        } else {
            Ok(())
        }
    })
    .await
    .unwrap()
}

fn owned(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
        .collect()
}

async fn story(store: Store) {
    let table = table_name(7);
    let loader = store.datastore_loader(&table).await.unwrap();
    load(loader, columns(), owned(ROWS), true).await.unwrap();
    assert_eq!(store.datastore_row_count(&table).await.unwrap(), 3);

    let cols = store.datastore_columns(&table).await.unwrap();
    assert_eq!(cols[0].column, "c1");
    assert!(cols[0].key);
    assert_eq!(cols[7].name, "a\"; DROP TABLE users; --");
    assert_eq!(cols[3].field_type, FieldType::Decimal);

    let page = store.select_rows(&table, 10, 0).await.unwrap();
    assert_eq!(page.columns[1], "名称");
    let first = &page.rows[0];
    assert_eq!(first[0].as_deref(), Some("110101"));
    assert_eq!(first[1].as_deref(), Some("东城区"));
    assert_eq!(first[2].as_deref(), Some("42"));
    assert_eq!(first[3].as_deref().map(|s| s.parse::<f64>().unwrap()), Some(41.84));
    assert_eq!(first[4].as_deref(), Some("2023-05-01"));
    assert_eq!(first[5].as_deref(), Some("2023-05-01 08:30:00"));
    assert_eq!(first[6].as_deref(), Some("true"));
    // Nothing in row 2 converts: every typed value is NULL, the text stays text.
    assert_eq!(
        page.rows[1],
        vec![Some("110102".into()), None, None, None, None, None, None, None]
    );
    assert_eq!(page.rows[2][4].as_deref(), Some("2023-06-01"));
    assert_eq!(page.rows[2][5].as_deref(), Some("2023-06-01 00:00:00"));
    assert_eq!(page.rows[2][6].as_deref(), Some("false"));
    assert_eq!(page.rows[2][7].as_deref(), Some("'"));
    let tail = store.select_rows(&table, 1, 2).await.unwrap();
    assert_eq!(tail.rows.len(), 1);
    assert_eq!(tail.rows[0][1].as_deref(), Some("重复"));

    // An abandoned reload rolls back and leaves the old table as it was.
    let loader = store.datastore_loader(&table).await.unwrap();
    load(loader, columns(), owned(&ROWS[..1]), false).await.unwrap();
    assert_eq!(store.datastore_row_count(&table).await.unwrap(), 3);
    // A finished reload replaces it.
    let loader = store.datastore_loader(&table).await.unwrap();
    load(
        loader,
        columns()[..2].to_vec(),
        vec![vec![Some("1".into()), Some("一".into())]],
        true,
    )
    .await
    .unwrap();
    assert_eq!(store.datastore_row_count(&table).await.unwrap(), 1);
    assert_eq!(store.datastore_columns(&table).await.unwrap().len(), 2);

    // A row of the wrong width is refused.
    let loader = store.datastore_loader(&table_name(8)).await.unwrap();
    let e = load(loader, columns(), vec![vec![Some("1".into())]], true)
        .await
        .unwrap_err();
    assert!(e.contains("1 values for 8 columns"), "{e}");

    assert!(store.drop_datastore_table(&table).await.unwrap());
    assert!(!store.drop_datastore_table(&table).await.unwrap());
    assert!(store.datastore_columns(&table).await.unwrap().is_empty());
    assert!(store.datastore_row_count(&table).await.is_err());
    for bad in ["users", "ds_1; DROP TABLE users", "DS_1", "ds_", "ds_\"x"] {
        assert!(store.datastore_loader(bad).await.is_err(), "{bad}");
        assert!(store.drop_datastore_table(bad).await.is_err(), "{bad}");
    }
    // The application's own tables are untouched.
    store.ping().await.unwrap();
    assert!(store.verify_audit().await.is_ok());
}

#[tokio::test]
async fn datastore_story_on_sqlite() {
    let (store, _) = sqlite().await;
    assert_eq!(store.backend(), Backend::Sqlite);
    story(store).await;
}

#[tokio::test]
async fn datastore_story_on_postgres() {
    if let Some(store) = postgres("pubdata_ds").await {
        story(store).await;
    }
}

#[tokio::test]
async fn sqlite_columns_are_typed_and_keys_indexed() {
    let (store, file) = sqlite().await;
    let loader = store.datastore_loader("ds_1").await.unwrap();
    load(loader, columns(), owned(ROWS), true).await.unwrap();
    let conn = rusqlite::Connection::open(&file).unwrap();
    let types: Vec<String> = conn
        .query_row(
            "SELECT typeof(c1), typeof(c3), typeof(c4), typeof(c5), typeof(c7) FROM ds_1 WHERE _row = 1",
            [],
            |r| (0..5).map(|i| r.get(i)).collect(),
        )
        .unwrap();
    assert_eq!(types, vec!["text", "integer", "real", "text", "integer"]);
    // The key column's own index (each indexed column has one: see datastore/index.rs).
    let index: String = conn
        .query_row("SELECT sql FROM sqlite_master WHERE name = 'ds_1_c1_idx'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(index.contains("(\"c1\")"), "{index}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writes_queue_behind_a_load() {
    let (store, _) = sqlite().await;
    let mut loader = store.datastore_loader("ds_9").await.unwrap();
    let loader = tokio::task::spawn_blocking(move || {
        loader.begin(&columns()).unwrap();
        let row: Vec<Option<&str>> = ROWS[0].to_vec();
        loader.row(&row).unwrap();
        loader
    })
    .await
    .unwrap();
    let writer = store.clone();
    let write = tokio::spawn(async move {
        let mut tx = writer.begin().await.unwrap();
        // Holding the writer now means the load has committed: its table is there, whole.
        let rows_seen = writer.datastore_row_count("ds_9").await.unwrap();
        tx.audit(AuditEntry {
            actor_id: None,
            actor: "test",
            client_ip: None,
            action: "test.during_load",
            object_type: "thing",
            object_id: "1".into(),
            before: None,
            after: None,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        rows_seen
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!write.is_finished(), "a write ran while the load held the writer");
    tokio::task::spawn_blocking(move || {
        let mut loader = loader;
        loader.finish().unwrap();
    })
    .await
    .unwrap();
    // (Comparing clock readings here raced: the write may commit before `finish` returns.)
    assert_eq!(write.await.unwrap(), 1, "the write waited for the load's commit");
    assert_eq!(store.datastore_row_count("ds_9").await.unwrap(), 1);
}
