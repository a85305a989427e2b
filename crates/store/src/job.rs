//! The job queue: jobs are enqueued inside the transaction that needs them, claimed by one
//! worker at a time under a lease, and claimed again when a lease runs out (a crashed worker).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Backend, Result, Store, StoreError, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<JobState> {
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed]
            .into_iter()
            .find(|j| j.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, kind, payload, state, attempts, max_attempts, progress, result, error, created_at, updated_at";

fn json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn row(r: &AnyRow) -> Result<JobRow> {
    let state: String = r.try_get("state")?;
    Ok(JobRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        payload: json(r.try_get("payload")?).unwrap_or_default(),
        state: JobState::parse(&state).ok_or_else(|| StoreError::Other(format!("unknown job state {state}")))?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        progress: json(r.try_get("progress")?),
        result: json(r.try_get("result")?),
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Tx {
    /// Queues a job; it becomes visible to workers when the transaction commits.
    pub async fn enqueue_job(&mut self, kind: &str, payload: &serde_json::Value, max_attempts: i64) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, created_at, updated_at) \
             VALUES ($1, $2, 'queued', 0, $3, $4, $4, $4) RETURNING id",
        )
        .bind(kind)
        .bind(payload.to_string())
        .bind(max_attempts)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }
}

impl Store {
    /// Claims the oldest runnable job of the given kinds: a queued one whose time has come, or a
    /// running one whose lease expired. PostgreSQL skips rows other workers hold; SQLite's single
    /// writer serialises claims anyway.
    pub async fn claim_job(&self, worker: &str, kinds: &[&str], lease_ms: i64) -> Result<Option<JobRow>> {
        let now = now_ms();
        let kind_list: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 4)).collect();
        let skip_locked = if self.backend() == Backend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, \
             updated_at = $3 WHERE id = (SELECT id FROM jobs WHERE kind IN ({}) AND \
             ((state = 'queued' AND run_after <= $3) OR (state = 'running' AND locked_until < $3)) \
             ORDER BY id LIMIT 1 {skip_locked}) RETURNING {COLUMNS}",
            kind_list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(worker).bind(now + lease_ms).bind(now);
        for k in kinds {
            q = q.bind(*k);
        }
        let r = q.fetch_optional(&self.write).await?;
        r.as_ref().map(row).transpose()
    }

    /// Records progress and extends the lease; `false` if the job is no longer this worker's.
    pub async fn job_heartbeat(
        &self,
        id: i64,
        worker: &str,
        progress: &serde_json::Value,
        lease_ms: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let n = sqlx::query(
            "UPDATE jobs SET progress = $1, locked_until = $2, updated_at = $3 \
             WHERE id = $4 AND locked_by = $5 AND state = 'running'",
        )
        .bind(progress.to_string())
        .bind(now + lease_ms)
        .bind(now)
        .bind(id)
        .bind(worker)
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Extends the lease of a job this worker still holds, leaving its progress alone; `false`
    /// if the job is no longer this worker's.
    pub async fn extend_job_lease(&self, id: i64, worker: &str, lease_ms: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND state = 'running'")
            .bind(now_ms() + lease_ms)
            .bind(id)
            .bind(worker)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    pub async fn job(&self, id: i64) -> Result<Option<JobRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// The newest jobs of a kind whose payload mentions `needle` (e.g. a distribution id).
    pub async fn jobs_of_kind(&self, kind: &str, limit: i64) -> Result<Vec<JobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(kind)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }
}

impl Tx {
    /// Marks a claimed job done. Called inside the transaction that stores the job's outcome,
    /// so the outcome and "done" commit together.
    pub async fn finish_job(&mut self, id: i64, worker: &str, result: &serde_json::Value) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE jobs SET state = 'done', result = $1, locked_by = NULL, locked_until = NULL, updated_at = $2 \
             WHERE id = $3 AND locked_by = $4 AND state = 'running'",
        )
        .bind(result.to_string())
        .bind(now_ms())
        .bind(id)
        .bind(worker)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a failure: queued again after `retry_after_ms` while attempts remain (and the
    /// error is worth retrying), otherwise failed for good.
    pub async fn fail_job(
        &mut self,
        id: i64,
        worker: &str,
        error: &str,
        retry: bool,
        retry_after_ms: i64,
    ) -> Result<JobState> {
        let now = now_ms();
        let state: Option<String> = sqlx::query_scalar(
            "UPDATE jobs SET state = CASE WHEN $1 = 1 AND attempts < max_attempts THEN 'queued' ELSE 'failed' END, \
             error = $2, run_after = $3, locked_by = NULL, locked_until = NULL, updated_at = $4 \
             WHERE id = $5 AND locked_by = $6 AND state = 'running' RETURNING state",
        )
        .bind(retry as i64)
        .bind(error)
        .bind(now + retry_after_ms)
        .bind(now)
        .bind(id)
        .bind(worker)
        .fetch_optional(self.conn())
        .await?;
        Ok(state.as_deref().and_then(JobState::parse).unwrap_or(JobState::Failed))
    }
}
