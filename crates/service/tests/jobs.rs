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

/// A handler that runs longer than the lease without reporting progress keeps its job: the
/// worker's keep-alive extends the lease, so a second worker does not run it twice. Once the
/// first worker is gone (its keep-alive stops), the job is claimed again after the lease.
#[tokio::test]
async fn keepalive_holds_the_lease_of_a_long_job() {
    let store = store().await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let slow = move |_ctx: JobContext| -> JobFuture {
        counted.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
            Ok(json!("slow done"))
        })
    };
    let first = Worker::new(store.clone(), "first")
        .lease_ms(300)
        .handle("slow", slow.clone());
    let second = Worker::new(store.clone(), "second").lease_ms(300).handle("slow", slow);
    let id = enqueue(&store, "slow", json!({})).await;
    let running = tokio::spawn(async move { first.run_once().await.unwrap() });
    // Well past the lease, while the first worker is still busy.
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !second.run_once().await.unwrap(),
            "the second worker took a job whose worker is alive"
        );
    }
    assert!(running.await.unwrap());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(store.job(id).await.unwrap().unwrap().state, JobState::Done);

    // A worker that died mid-job (a claim nobody keeps alive, as `kill -9` leaves it) loses the
    // job to the next worker once the lease runs out.
    let id = enqueue(&store, "slow", json!({})).await;
    let claimed = store.claim_job("dead", &["slow"], 300).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    assert!(!second.run_once().await.unwrap(), "the lease has not run out yet");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        second.run_once().await.unwrap(),
        "the job of a dead worker is claimed again"
    );
    assert_eq!(store.job(id).await.unwrap().unwrap().state, JobState::Done);
}
