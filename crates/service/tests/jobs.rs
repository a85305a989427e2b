//! The worker runs handlers, records their outcome and progress, retries what is worth
//! retrying, and survives a handler that panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use pubdata_service::jobs::{JobContext, JobError, JobFuture, Worker};
use pubdata_service::Store;
use pubdata_store::{JobState, OpenOptions};
use serde_json::json;

async fn store() -> Store {
    let db = std::env::temp_dir().join(format!(
        "pubdata_worker_{}_{}.db",
        std::process::id(),
        pubdata_store::now_ms()
    ));
    let s = Store::open(&format!("sqlite://{}?mode=rwc", db.display()), OpenOptions::default())
        .await
        .unwrap();
    s.migrate().await.unwrap();
    s
}

async fn enqueue(store: &Store, kind: &str, payload: serde_json::Value) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let id = tx.enqueue_job(kind, &payload, 2).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn double(ctx: JobContext) -> JobFuture {
    Box::pin(async move {
        let n = ctx.job.payload["n"]
            .as_i64()
            .ok_or(JobError::Fatal("payload lacks n".into()))?;
        ctx.progress(json!({"half": true}))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        Ok(json!({"doubled": n * 2}))
    })
}

#[tokio::test]
async fn worker_runs_retries_and_survives_panics() {
    let store = store().await;
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let calls = flaky_calls.clone();
    let worker = Worker::new(store.clone(), "test-worker")
        .handle("double", double)
        .handle("flaky", move |_ctx: JobContext| -> JobFuture {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err(JobError::Retry("busy".into()))
                } else {
                    Ok(json!("ok"))
                }
            })
        })
        .handle("panics", |_ctx: JobContext| -> JobFuture {
            Box::pin(async { panic!("handler bug") })
        });

    let ok = enqueue(&store, "double", json!({"n": 21})).await;
    let bad = enqueue(&store, "double", json!({})).await;
    let boom = enqueue(&store, "panics", json!({})).await;
    let flaky = enqueue(&store, "flaky", json!({})).await;
    let other = enqueue(&store, "unknown_kind", json!({})).await;
    while worker.run_once().await.unwrap() {}

    let j = store.job(ok).await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.result, j.progress),
        (
            JobState::Done,
            Some(json!({"doubled": 42})),
            Some(json!({"half": true}))
        )
    );
    let j = store.job(bad).await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.error.as_deref()),
        (JobState::Failed, Some("payload lacks n")),
        "fatal: no retry"
    );
    let j = store.job(boom).await.unwrap().unwrap();
    assert_eq!(j.state, JobState::Failed);
    assert!(j.error.unwrap().contains("crashed"));
    let j = store.job(flaky).await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.attempts),
        (JobState::Queued, 1),
        "retried later, not at once"
    );
    assert_eq!(
        store.job(other).await.unwrap().unwrap().state,
        JobState::Queued,
        "kinds without a handler wait"
    );
}
