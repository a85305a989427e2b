//! Stores for the backend tests: a fresh SQLite file, or a fresh schema in the PostgreSQL
//! database named by `PUBDATA_TEST_DATABASE_URL` (skipped with the reason when unset, except in
//! strict mode).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use pubdata_store::{OpenOptions, Store};

/// A name no other test in this run uses, even when two start in the same millisecond.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        pubdata_store::now_ms(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A migrated store in a new SQLite file, and the file's path.
pub async fn sqlite_file() -> (Store, PathBuf) {
    let dir = std::env::temp_dir().join(unique("pubdata_store_test"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test.db");
    let store = Store::open(&format!("sqlite://{}?mode=rwc", file.display()), OpenOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, file)
}

pub async fn sqlite() -> Store {
    sqlite_file().await.0
}

pub async fn postgres(tag: &str) -> Option<Store> {
    postgres_in(&unique(tag)).await
}

/// A migrated store in the given PostgreSQL schema (made when missing).
pub async fn postgres_in(schema: &str) -> Option<Store> {
    let Ok(url) = std::env::var("PUBDATA_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("PUBDATA_TEST_STRICT").as_deref() != Ok("1"),
            "PUBDATA_TEST_DATABASE_URL must be set in strict mode"
        );
        eprintln!("SKIP PostgreSQL test: PUBDATA_TEST_DATABASE_URL is not set");
        return None;
    };
    let store = Store::open(
        &url,
        OpenOptions {
            pg_schema: Some(schema.to_string()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

/// Two stores on one database, as two nodes (or a node and the CLI) would open it: a SQLite
/// file, or the same PostgreSQL schema (`None` as [`postgres`] when it is not configured).
pub async fn two_nodes(backend: &str) -> Option<(Store, Store)> {
    if backend == "sqlite" {
        let (a, file) = sqlite_file().await;
        let b = Store::open(&format!("sqlite://{}", file.display()), OpenOptions::default())
            .await
            .unwrap();
        return Some((a, b));
    }
    let schema = unique("two_nodes");
    Some((postgres_in(&schema).await?, postgres_in(&schema).await?))
}
