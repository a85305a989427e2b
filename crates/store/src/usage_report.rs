//! Usage report (数据应用反馈) queries: the reports of grants, the grants owing them, and the
//! reminders sent per due date.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::access::{grant_row, GRANT_COLUMNS, GRANT_FROM};
use crate::{now_ms, GrantRow, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct UsageReportRow {
    pub id: i64,
    pub grant_id: i64,
    pub consumer_id: i64,
    /// The due date it covers (YYYY-MM-DD).
    pub period_due: String,
    pub purpose: String,
    pub result: String,
    pub users_count: Option<i64>,
    pub decisions: Option<String>,
    pub problems: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, grant_id, consumer_id, period_due, purpose, result, users_count, decisions, problems, \
    link, created_at";

fn row(r: &AnyRow) -> Result<UsageReportRow> {
    Ok(UsageReportRow {
        id: r.try_get("id")?,
        grant_id: r.try_get("grant_id")?,
        consumer_id: r.try_get("consumer_id")?,
        period_due: r.try_get("period_due")?,
        purpose: r.try_get("purpose")?,
        result: r.try_get("result")?,
        users_count: r.try_get("users_count")?,
        decisions: r.try_get("decisions")?,
        problems: r.try_get("problems")?,
        link: r.try_get("link")?,
        created_at: r.try_get("created_at")?,
    })
}

#[derive(Debug, Clone)]
pub struct NewUsageReportRow<'a> {
    pub grant_id: i64,
    pub consumer_id: i64,
    pub period_due: &'a str,
    pub purpose: &'a str,
    pub result: &'a str,
    pub users_count: Option<i64>,
    pub decisions: Option<&'a str>,
    pub problems: Option<&'a str>,
    pub link: Option<&'a str>,
    pub fingerprint: &'a str,
    pub idempotency_key: Option<&'a str>,
}

impl Tx {
    pub async fn insert_usage_report(&mut self, u: &NewUsageReportRow<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO usage_reports (grant_id, consumer_id, period_due, purpose, result, users_count, decisions, \
             problems, link, fingerprint, idempotency_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(u.grant_id)
        .bind(u.consumer_id)
        .bind(u.period_due)
        .bind(u.purpose)
        .bind(u.result)
        .bind(u.users_count)
        .bind(u.decisions)
        .bind(u.problems)
        .bind(u.link)
        .bind(u.fingerprint)
        .bind(u.idempotency_key)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// The consumer's earlier report that this submission repeats: the same idempotency key, or
    /// the same content since `since`. Run after [`Tx::lock_user`].
    pub async fn duplicate_usage_report(
        &mut self,
        consumer_id: i64,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        since: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM usage_reports WHERE consumer_id = $1 AND (idempotency_key = $2 \
             OR (fingerprint = $3 AND created_at >= $4)) ORDER BY id LIMIT 1",
        )
        .bind(consumer_id)
        .bind(idempotency_key.unwrap_or(""))
        .bind(fingerprint)
        .bind(since)
        .fetch_optional(self.conn())
        .await?)
    }

    /// The due dates of a grant already covered, within the transaction.
    pub async fn usage_periods(&mut self, grant_id: i64) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT period_due FROM usage_reports WHERE grant_id = $1 ORDER BY period_due")
                .bind(grant_id)
                .fetch_all(self.conn())
                .await?,
        )
    }

    /// Records a reminder of `kind` for a grant's due date; `false` when it was already sent.
    pub async fn claim_usage_reminder(&mut self, grant_id: i64, period_due: &str, kind: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO usage_reminders (grant_id, period_due, kind, sent_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(grant_id)
        .bind(period_due)
        .bind(kind)
        .bind(now_ms())
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl Store {
    /// The reports of the given grants, oldest first.
    pub async fn usage_reports_of(&self, grant_ids: &[i64]) -> Result<Vec<UsageReportRow>> {
        if grant_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM usage_reports WHERE grant_id IN ({}) ORDER BY id",
            crate::placeholders(1, grant_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in grant_ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(row).collect()
    }

    /// Grants that may owe reports (active or expired), of one provider's resources or of all,
    /// oldest first.
    pub async fn grants_owing_feedback(&self, provider_org_id: Option<i64>, limit: i64) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE g.state IN ('active', 'expired') \
             AND ($1 = 0 OR r.provider_org_id = $1) ORDER BY g.id LIMIT $2"
        ))
        .bind(provider_org_id.unwrap_or(0))
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(grant_row).collect()
    }
}
