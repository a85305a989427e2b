//! Ingest into the real datastore: the rows the pipeline hands on are what the table holds,
//! masked and typed, and a file refused halfway leaves nothing behind.

use pubdata_core::field::{FieldSpec, FieldType};
use pubdata_ingest::{ingest, IngestOptions, MaskMethod, MaskRule, MaskSecret};
use pubdata_store::{OpenOptions, Store};

async fn store() -> Store {
    let dir = std::env::temp_dir().join(format!(
        "pubdata_ingest_ds_{}_{}",
        std::process::id(),
        pubdata_store::now_ms()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("d.db").display());
    let store = Store::open(&url, OpenOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn ingest_into(store: &Store, table: &str, csv: String, opts: IngestOptions) -> Result<u64, String> {
    let mut loader = store.datastore_loader(table).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let report = ingest(csv.as_bytes(), "upload.csv", None, &opts, &mut loader, &mut |_| {});
        report.map(|r| r.rows).map_err(|e| e.code().to_string())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingested_rows_land_masked_and_typed() {
    let store = store().await;
    let mut csv = String::from("code,name,phone,amount,day\n");
    for i in 0..3000 {
        csv.push_str(&format!(
            "{},名称{i},138{:08},{i}.5,2023/5/{}\n",
            110_000 + i,
            i,
            i % 28 + 1
        ));
    }
    let mut code = FieldSpec::new("code", FieldType::Code);
    code.key = true;
    let opts = IngestOptions {
        fields: vec![
            code,
            FieldSpec::new("name", FieldType::String),
            FieldSpec::new("phone", FieldType::Code),
            FieldSpec::new("amount", FieldType::Decimal),
            FieldSpec::new("day", FieldType::Date),
        ],
        masks: vec![MaskRule {
            column: "phone".into(),
            method: MaskMethod::Keep { first: 3, last: 4 },
        }],
        mask_secret: MaskSecret(b"s".to_vec()),
        ..IngestOptions::default()
    };
    assert_eq!(ingest_into(&store, "ds_42", csv, opts).await, Ok(3000));
    assert_eq!(store.datastore_row_count("ds_42").await.unwrap(), 3000);
    let page = store.select_rows("ds_42", 2, 1000).await.unwrap();
    assert_eq!(page.columns, vec!["code", "name", "phone", "amount", "day"]);
    assert_eq!(
        page.rows[0],
        vec![
            Some("111000".to_string()),
            Some("名称1000".to_string()),
            Some("138****1000".to_string()),
            Some("1000.5".to_string()),
            Some("2023-05-21".to_string()),
        ]
    );
    let cols = store.datastore_columns("ds_42").await.unwrap();
    assert_eq!(cols[2].field_type, FieldType::String, "masked");
    assert!(cols[0].key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_refused_halfway_leaves_no_table() {
    let store = store().await;
    let mut csv = String::from("a,b\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},x\n"));
    }
    csv.push_str("1,2,3\n");
    let code = ingest_into(&store, "ds_43", csv, IngestOptions::default()).await;
    assert_eq!(code, Err("ragged_rows".to_string()));
    assert!(store.datastore_columns("ds_43").await.unwrap().is_empty());
    assert!(
        store.datastore_row_count("ds_43").await.is_err(),
        "the table was rolled back"
    );
    // The writer was handed back: ordinary writes work again.
    store.drop_datastore_table("ds_43").await.unwrap();
}
