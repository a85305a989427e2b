//! Background workers: each claims queued jobs of the kinds it has handlers for, runs them
//! while a keep-alive extends the lease (handlers may also record progress), and records the
//! outcome. A job whose worker died (a crash, `kill -9`, a lost node) is claimed again once its
//! lease runs out, so handlers must be idempotent (e.g. ingest replaces its datastore table).
//! The lease is therefore short: it bounds how long a crashed node's job waits.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pubdata_store::JobRow;

use crate::{Result, Store};

/// How a job ended, from the handler's point of view.
#[derive(Debug)]
pub enum JobError {
    /// Worth trying again later (e.g. the database was unavailable).
    Retry(String),
    /// Will not get better by retrying (e.g. a malformed file); recorded as failed.
    Fatal(String),
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<serde_json::Value, JobError>> + Send>>;

/// What a handler gets: the store, the job, and a way to report progress.
#[derive(Clone)]
pub struct JobContext {
    pub store: Store,
    pub job: JobRow,
    worker: String,
    lease_ms: i64,
}

impl JobContext {
    /// Records progress and extends the lease; `false` means another worker took the job over.
    pub async fn progress(&self, progress: serde_json::Value) -> Result<bool> {
        self.store
            .job_heartbeat(self.job.id, &self.worker, &progress, self.lease_ms)
            .await
    }
}

pub trait JobHandler: Send + Sync {
    fn run(&self, ctx: JobContext) -> JobFuture;
}

impl<F> JobHandler for F
where
    F: Fn(JobContext) -> JobFuture + Send + Sync,
{
    fn run(&self, ctx: JobContext) -> JobFuture {
        self(ctx)
    }
}

#[derive(Clone)]
pub struct Worker {
    store: Store,
    id: String,
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
    lease_ms: i64,
    idle: Duration,
}

impl Worker {
    pub fn new(store: Store, id: impl Into<String>) -> Self {
        Worker {
            store,
            id: id.into(),
            handlers: HashMap::new(),
            lease_ms: 60_000,
            idle: Duration::from_millis(500),
        }
    }

    pub fn handle(mut self, kind: &'static str, handler: impl JobHandler + 'static) -> Self {
        self.handlers.insert(kind, Arc::new(handler));
        self
    }

    pub fn lease_ms(mut self, ms: i64) -> Self {
        self.lease_ms = ms;
        self
    }

    /// Runs one job if one is ready; `Ok(false)` when there was none.
    pub async fn run_once(&self) -> Result<bool> {
        let kinds: Vec<&str> = self.handlers.keys().copied().collect();
        let Some(job) = self.store.claim_job(&self.id, &kinds, self.lease_ms).await? else {
            return Ok(false);
        };
        let Some(handler) = self.handlers.get(job.kind.as_str()).cloned() else {
            return Ok(true);
        };
        let id = job.id;
        let attempt = job.attempts;
        let ctx = JobContext {
            store: self.store.clone(),
            job,
            worker: self.id.clone(),
            lease_ms: self.lease_ms,
        };
        // Keep the lease while the handler runs, however long it takes between progress reports.
        let keepalive = {
            let (store, worker, lease_ms) = (self.store.clone(), self.id.clone(), self.lease_ms);
            tokio::spawn(async move {
                let every = Duration::from_millis((lease_ms / 3).max(1) as u64);
                loop {
                    tokio::time::sleep(every).await;
                    match store.extend_job_lease(id, &worker, lease_ms).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!("job {id}: cannot extend the lease: {e}"),
                    }
                }
            })
        };
        // A panicking handler must not take the worker down: run it as its own task.
        let outcome = match tokio::spawn(handler.run(ctx)).await {
            Ok(o) => o,
            Err(e) => Err(JobError::Fatal(format!("the job crashed: {e}"))),
        };
        keepalive.abort();
        let mut tx = self.store.begin().await?;
        match outcome {
            Ok(result) => {
                tx.finish_job(id, &self.id, &result).await?;
            }
            Err(JobError::Retry(e)) => {
                // Back off 5 s, 25 s, 125 s, … between attempts.
                let delay = 5_000 * 5i64.pow(attempt.clamp(1, 6) as u32 - 1);
                tx.fail_job(id, &self.id, &e, true, delay).await?;
            }
            Err(JobError::Fatal(e)) => {
                tx.fail_job(id, &self.id, &e, false, 0).await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Works until the process ends, sleeping while the queue is empty.
    pub async fn run(self) {
        loop {
            match self.run_once().await {
                Ok(true) => continue,
                Ok(false) => tokio::time::sleep(self.idle).await,
                Err(e) => {
                    tracing::warn!("worker {}: {e}", self.id);
                    tokio::time::sleep(self.idle * 4).await;
                }
            }
        }
    }
}
