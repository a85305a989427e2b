//! The job queue on both backends: jobs appear only when their transaction commits, one worker
//! holds a job at a time, a crashed worker's job is taken over when its lease runs out,
//! failures retry until attempts run out, and concurrent workers never share a job.

mod common;

use common::{postgres, sqlite};

use std::collections::HashSet;

use pubdata_store::{JobState, Store};
use serde_json::json;

async fn enqueue(store: &Store, n: i64, max_attempts: i64) -> Vec<i64> {
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            tx.enqueue_job("ingest", &json!({"distribution": i}), max_attempts)
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    ids
}

async fn lifecycle(store: Store) {
    // Enqueued in a transaction that rolls back: never seen.
    let mut tx = store.begin().await.unwrap();
    tx.enqueue_job("ingest", &json!({}), 3).await.unwrap();
    drop(tx);
    assert!(store.claim_job("w1", &["ingest"], 60_000).await.unwrap().is_none());

    let [id] = enqueue(&store, 1, 2).await[..] else {
        panic!()
    };
    assert!(
        store.claim_job("w1", &["other"], 60_000).await.unwrap().is_none(),
        "kinds filter"
    );
    let job = store
        .claim_job("w1", &["ingest"], 60_000)
        .await
        .unwrap()
        .expect("claimed");
    assert_eq!((job.id, job.state, job.attempts), (id, JobState::Running, 1));
    assert!(
        store.claim_job("w2", &["ingest"], 60_000).await.unwrap().is_none(),
        "held by w1"
    );
    assert!(store
        .job_heartbeat(id, "w1", &json!({"rows": 10}), 60_000)
        .await
        .unwrap());
    assert_eq!(
        store.job(id).await.unwrap().unwrap().progress,
        Some(json!({"rows": 10}))
    );

    // w1 "crashes": its lease runs out and w2 takes the job over; w1 can no longer touch it.
    assert!(store.job_heartbeat(id, "w1", &json!({}), -1).await.unwrap());
    let taken = store
        .claim_job("w2", &["ingest"], 60_000)
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!((taken.id, taken.attempts), (id, 2));
    assert!(!store.job_heartbeat(id, "w1", &json!({}), 60_000).await.unwrap());
    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.finish_job(id, "w1", &json!({})).await.unwrap(),
        "a stale worker cannot finish it"
    );
    // The last attempt fails: failed for good, with the error kept.
    assert_eq!(
        tx.fail_job(id, "w2", "bad file", true, 0).await.unwrap(),
        JobState::Failed
    );
    tx.commit().await.unwrap();
    let failed = store.job(id).await.unwrap().unwrap();
    assert_eq!(
        (failed.state, failed.error.as_deref()),
        (JobState::Failed, Some("bad file"))
    );

    // A retryable failure with attempts left is queued again, after its delay.
    let [id] = enqueue(&store, 1, 3).await[..] else {
        panic!()
    };
    store.claim_job("w1", &["ingest"], 60_000).await.unwrap().unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.fail_job(id, "w1", "database busy", true, 60_000).await.unwrap(),
        JobState::Queued
    );
    tx.commit().await.unwrap();
    assert!(
        store.claim_job("w1", &["ingest"], 60_000).await.unwrap().is_none(),
        "not before its delay"
    );

    let [id] = enqueue(&store, 1, 3).await[..] else {
        panic!()
    };
    store.claim_job("w1", &["ingest"], 60_000).await.unwrap().unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.finish_job(id, "w1", &json!({"rows": 42})).await.unwrap());
    tx.commit().await.unwrap();
    let done = store.job(id).await.unwrap().unwrap();
    assert_eq!((done.state, done.result), (JobState::Done, Some(json!({"rows": 42}))));
}

async fn no_job_claimed_twice(store: Store) {
    let ids: HashSet<i64> = enqueue(&store, 40, 3).await.into_iter().collect();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let s = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = s.claim_job(&format!("w{w}"), &["ingest"], 60_000).await.unwrap() {
                    mine.push(job.id);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for w in workers {
        claimed.extend(w.await.unwrap());
    }
    assert_eq!(claimed.len(), 40, "each job claimed once: {claimed:?}");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
}

#[tokio::test]
async fn sqlite_job_lifecycle() {
    lifecycle(sqlite().await).await;
}

#[tokio::test]
async fn sqlite_concurrent_workers() {
    no_job_claimed_twice(sqlite().await).await;
}

#[tokio::test]
async fn postgres_job_lifecycle() {
    if let Some(s) = postgres("jobs_life").await {
        lifecycle(s).await;
    }
}

#[tokio::test]
async fn postgres_concurrent_workers() {
    if let Some(s) = postgres("jobs_conc").await {
        no_job_claimed_twice(s).await;
    }
}
