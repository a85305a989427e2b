//! Correction (数据纠错) queries, and the per-resource counts the quality evaluation uses.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct CorrectionRow {
    pub id: i64,
    pub reporter_id: i64,
    pub reporter_name: String,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub distribution_id: i64,
    pub distribution_title: String,
    pub distribution_version: i64,
    pub row_no: Option<i64>,
    pub field_name: Option<String>,
    pub description: String,
    pub evidence: Option<String>,
    pub state: String,
    /// How an accepted error will be fixed.
    pub fix: Option<String>,
    pub fixed_distribution_id: Option<i64>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The handling deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_at: Option<i64>,
}

const COLUMNS: &str = "c.id, c.reporter_id, u.display_name AS reporter_name, c.resource_id, r.code AS resource_code, \
    r.title AS resource_title, c.provider_org_id, o.name AS provider_name, c.distribution_id, \
    ds.title AS distribution_title, ds.version AS distribution_version, c.row_no, c.field_name, c.description, \
    c.evidence, c.state, c.fix, c.fixed_distribution_id, c.reason, c.stage_due, c.created_at, c.updated_at, \
    c.decided_at";
const FROM: &str = "corrections c JOIN users u ON u.id = c.reporter_id JOIN resources r ON r.id = c.resource_id \
    JOIN organisations o ON o.id = c.provider_org_id JOIN distributions ds ON ds.id = c.distribution_id";

fn row(r: &AnyRow) -> Result<CorrectionRow> {
    Ok(CorrectionRow {
        id: r.try_get("id")?,
        reporter_id: r.try_get("reporter_id")?,
        reporter_name: r.try_get("reporter_name")?,
        resource_id: r.try_get("resource_id")?,
        resource_code: r.try_get("resource_code")?,
        resource_title: r.try_get("resource_title")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        distribution_id: r.try_get("distribution_id")?,
        distribution_title: r.try_get("distribution_title")?,
        distribution_version: r.try_get("distribution_version")?,
        row_no: r.try_get("row_no")?,
        field_name: r.try_get("field_name")?,
        description: r.try_get("description")?,
        evidence: r.try_get("evidence")?,
        state: r.try_get("state")?,
        fix: r.try_get("fix")?,
        fixed_distribution_id: r.try_get("fixed_distribution_id")?,
        reason: r.try_get("reason")?,
        stage_due: r.try_get("stage_due")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// A report to insert.
#[derive(Debug, Clone)]
pub struct NewCorrectionRow<'a> {
    pub reporter_id: i64,
    pub resource_id: i64,
    pub provider_org_id: i64,
    pub distribution_id: i64,
    pub row_no: Option<i64>,
    pub field_name: Option<&'a str>,
    pub description: &'a str,
    pub evidence: Option<&'a str>,
    pub state: &'a str,
    pub stage_due: Option<&'a str>,
    pub fingerprint: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// What a report's state change writes; `None` keeps a column as it is.
#[derive(Debug, Clone, Default)]
pub struct CorrectionChange<'a> {
    pub state: &'a str,
    pub fix: Option<&'a str>,
    pub fixed_distribution_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub decided: bool,
}

/// Which reports to list; the newest first, or the oldest first for queues.
#[derive(Debug, Clone, Default)]
pub struct CorrectionFilter<'a> {
    pub reporter_id: Option<i64>,
    pub provider_org_id: Option<i64>,
    pub resource_id: Option<i64>,
    pub states: &'a [&'a str],
    pub oldest_first: bool,
    pub limit: i64,
    pub offset: i64,
}

impl CorrectionFilter<'_> {
    fn clause(&self) -> String {
        let states = if self.states.is_empty() {
            String::new()
        } else {
            format!(" AND c.state IN ({})", crate::placeholders(4, self.states.len()))
        };
        format!(
            "($1 = 0 OR c.reporter_id = $1) AND ($2 = 0 OR c.provider_org_id = $2) \
             AND ($3 = 0 OR c.resource_id = $3){states}"
        )
    }
}

impl Tx {
    pub async fn insert_correction(&mut self, c: &NewCorrectionRow<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO corrections (reporter_id, resource_id, provider_org_id, distribution_id, row_no, field_name, \
             description, evidence, state, stage_due, stage_started_at, fingerprint, idempotency_key, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
        )
        .bind(c.reporter_id)
        .bind(c.resource_id)
        .bind(c.provider_org_id)
        .bind(c.distribution_id)
        .bind(c.row_no)
        .bind(c.field_name)
        .bind(c.description)
        .bind(c.evidence)
        .bind(c.state)
        .bind(c.stage_due)
        .bind(c.stage_due.map(|_| now))
        .bind(c.fingerprint)
        .bind(c.idempotency_key)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// The reporter's earlier report that this submission repeats: the same idempotency key
    /// (ever), or the same content since `since` (ms). Run after [`Tx::lock_user`].
    pub async fn duplicate_correction(
        &mut self,
        reporter_id: i64,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        since: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM corrections WHERE reporter_id = $1 AND (idempotency_key = $2 \
             OR (fingerprint = $3 AND created_at >= $4)) ORDER BY id LIMIT 1",
        )
        .bind(reporter_id)
        .bind(idempotency_key.unwrap_or(""))
        .bind(fingerprint)
        .bind(since)
        .fetch_optional(self.conn())
        .await?)
    }

    pub async fn correction_for_update(&mut self, id: i64) -> Result<Option<CorrectionRow>> {
        let lock = self.lock("c");
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn set_correction_state(&mut self, id: i64, c: &CorrectionChange<'_>) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE corrections SET state = $1, fix = COALESCE($2, fix), \
             fixed_distribution_id = COALESCE($3, fixed_distribution_id), reason = COALESCE($4, reason), \
             decided_at = COALESCE(decided_at, $5), updated_at = $6 WHERE id = $7",
        )
        .bind(c.state)
        .bind(c.fix)
        .bind(c.fixed_distribution_id)
        .bind(c.reason)
        .bind(c.decided.then_some(now))
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Tx {
    /// Moves a report's handling deadline, e.g. an extension the administration institution
    /// grants (YYYY-MM-DD).
    pub async fn set_correction_due(&mut self, id: i64, due: &str) -> Result<()> {
        sqlx::query("UPDATE corrections SET stage_due = $1, updated_at = $2 WHERE id = $3")
            .bind(due)
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn correction(&self, id: i64) -> Result<Option<CorrectionRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn list_corrections(&self, f: &CorrectionFilter<'_>) -> Result<Vec<CorrectionRow>> {
        let order = if f.oldest_first { "c.id" } else { "c.id DESC" };
        let n = 4 + f.states.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            f.clause(),
            n + 1
        );
        let mut q = sqlx::query(&sql)
            .bind(f.reporter_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0))
            .bind(f.resource_id.unwrap_or(0));
        for s in f.states {
            q = q.bind(*s);
        }
        let rows = q
            .bind(if f.limit > 0 { f.limit } else { 100 })
            .bind(f.offset.max(0))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(row).collect()
    }

    pub async fn count_corrections(&self, f: &CorrectionFilter<'_>) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM corrections c WHERE {}", f.clause());
        let mut q = sqlx::query_scalar(&sql)
            .bind(f.reporter_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0))
            .bind(f.resource_id.unwrap_or(0));
        for s in f.states {
            q = q.bind(*s);
        }
        Ok(q.fetch_one(self.reader()).await?)
    }

    /// Reports per state for one resource, e.g. `[("accepted", 2), ("submitted", 1)]`.
    pub async fn correction_counts(&self, resource_id: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM corrections WHERE resource_id = $1 GROUP BY state ORDER BY state",
        )
        .bind(resource_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// Accepted reports per resource (resources without any are left out): confirmed errors,
    /// for the quality evaluation.
    pub async fn accepted_correction_counts(&self, resource_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        if resource_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT resource_id, COUNT(*) AS n FROM corrections WHERE state = 'accepted' AND resource_id IN ({}) \
             GROUP BY resource_id ORDER BY resource_id",
            crate::placeholders(1, resource_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in resource_ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource_id")?, r.try_get("n")?)))
            .collect()
    }
}
