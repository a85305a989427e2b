//! A burst of transactions that each read through the store while they are open (as a notice's
//! recipients are read during a decision) completes on PostgreSQL even when it outnumbers the
//! connections: transactions and reads draw on separate pools. Found by `bench/load.sh`, where
//! 48 concurrent submits stalled a server with 10 connections until their 30 s timeout.

mod common;

use std::time::Duration;

use pubdata_core::user::Role;
use pubdata_store::{OpenOptions, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_inside_a_burst_of_transactions_do_not_wait_on_the_burst_on_postgres() {
    let schema = common::unique("pools");
    let Some(migrated) = common::postgres_in(&schema).await else {
        return;
    };
    migrated.close().await;
    let url = std::env::var("PUBDATA_TEST_DATABASE_URL").unwrap();
    let store = Store::open(
        &url,
        OpenOptions {
            pg_schema: Some(schema),
            max_connections: Some(2),
        },
    )
    .await
    .unwrap();
    let burst = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let tx = store.begin().await?;
            store.users_with_role(Role::AdminReviewer, None).await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.commit().await
        })
    });
    let all = tokio::time::timeout(Duration::from_secs(20), futures_join(burst.collect())).await;
    let results = all.expect("the burst stalled: its reads waited on connections its transactions held");
    for r in results {
        r.unwrap().unwrap();
    }
    store.close().await;
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}
