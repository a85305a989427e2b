//! Security report (安全问题报告) queries. Confidential: the service decides who sees what.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct SecurityReportRow {
    pub id: i64,
    pub reporter_id: i64,
    pub reporter_name: String,
    pub kind: String,
    pub resource_id: Option<i64>,
    pub resource_title: Option<String>,
    /// The provider that owns the named resource.
    pub resource_provider_org_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub description: String,
    pub evidence: Option<String>,
    pub state: String,
    pub severity: Option<String>,
    /// The provider it is routed to.
    pub provider_org_id: Option<i64>,
    pub provider_name: Option<String>,
    pub resolution: Option<String>,
    pub stage_due: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
}

const COLUMNS: &str = "s.id, s.reporter_id, u.display_name AS reporter_name, s.kind, s.resource_id, \
    r.title AS resource_title, r.provider_org_id AS resource_provider_org_id, s.grant_id, s.description, s.evidence, \
    s.state, s.severity, s.provider_org_id, o.name AS provider_name, s.resolution, s.stage_due, s.created_at, \
    s.updated_at, s.resolved_at";
const FROM: &str = "security_reports s JOIN users u ON u.id = s.reporter_id \
    LEFT JOIN resources r ON r.id = s.resource_id LEFT JOIN organisations o ON o.id = s.provider_org_id";

fn row(r: &AnyRow) -> Result<SecurityReportRow> {
    Ok(SecurityReportRow {
        id: r.try_get("id")?,
        reporter_id: r.try_get("reporter_id")?,
        reporter_name: r.try_get("reporter_name")?,
        kind: r.try_get("kind")?,
        resource_id: r.try_get("resource_id")?,
        resource_title: r.try_get("resource_title")?,
        resource_provider_org_id: r.try_get("resource_provider_org_id")?,
        grant_id: r.try_get("grant_id")?,
        description: r.try_get("description")?,
        evidence: r.try_get("evidence")?,
        state: r.try_get("state")?,
        severity: r.try_get("severity")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        resolution: r.try_get("resolution")?,
        stage_due: r.try_get("stage_due")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

#[derive(Debug, Clone)]
pub struct NewSecurityReportRow<'a> {
    pub reporter_id: i64,
    pub kind: &'a str,
    pub resource_id: Option<i64>,
    pub grant_id: Option<i64>,
    pub description: &'a str,
    pub evidence: Option<&'a str>,
    pub state: &'a str,
    pub stage_due: Option<&'a str>,
    pub fingerprint: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// What a step writes; `None` keeps a column as it is.
#[derive(Debug, Clone, Default)]
pub struct SecurityReportChange<'a> {
    pub state: &'a str,
    pub severity: Option<&'a str>,
    pub provider_org_id: Option<i64>,
    pub resolution: Option<&'a str>,
    /// A new deadline (a routing starts the provider's).
    pub stage_due: Option<&'a str>,
    pub resolved: bool,
}

/// Which reports to list, newest first (oldest first for queues).
#[derive(Debug, Clone, Default)]
pub struct SecurityReportFilter<'a> {
    pub reporter_id: Option<i64>,
    pub provider_org_id: Option<i64>,
    pub states: &'a [&'a str],
    pub oldest_first: bool,
    pub limit: i64,
}

impl Tx {
    pub async fn insert_security_report(&mut self, s: &NewSecurityReportRow<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO security_reports (reporter_id, kind, resource_id, grant_id, description, evidence, state, \
             stage_due, stage_started_at, fingerprint, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(s.reporter_id)
        .bind(s.kind)
        .bind(s.resource_id)
        .bind(s.grant_id)
        .bind(s.description)
        .bind(s.evidence)
        .bind(s.state)
        .bind(s.stage_due)
        .bind(s.stage_due.map(|_| now))
        .bind(s.fingerprint)
        .bind(s.idempotency_key)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// The reporter's earlier report that this submission repeats. Run after [`Tx::lock_user`].
    pub async fn duplicate_security_report(
        &mut self,
        reporter_id: i64,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        since: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM security_reports WHERE reporter_id = $1 AND (idempotency_key = $2 \
             OR (fingerprint = $3 AND created_at >= $4)) ORDER BY id LIMIT 1",
        )
        .bind(reporter_id)
        .bind(idempotency_key.unwrap_or(""))
        .bind(fingerprint)
        .bind(since)
        .fetch_optional(self.conn())
        .await?)
    }

    pub async fn security_report_for_update(&mut self, id: i64) -> Result<Option<SecurityReportRow>> {
        let lock = self.lock("s");
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn set_security_report(&mut self, id: i64, c: &SecurityReportChange<'_>) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE security_reports SET state = $1, severity = COALESCE($2, severity), \
             provider_org_id = COALESCE($3, provider_org_id), resolution = COALESCE($4, resolution), \
             stage_due = CASE WHEN $5 = 1 THEN NULL ELSE COALESCE($6, stage_due) END, \
             stage_started_at = CASE WHEN $6 IS NULL THEN stage_started_at ELSE $7 END, \
             resolved_at = COALESCE(resolved_at, $8), updated_at = $7 WHERE id = $9",
        )
        .bind(c.state)
        .bind(c.severity)
        .bind(c.provider_org_id)
        .bind(c.resolution)
        .bind(i64::from(c.resolved))
        .bind(c.stage_due)
        .bind(now)
        .bind(c.resolved.then_some(now))
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn security_report(&self, id: i64) -> Result<Option<SecurityReportRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn list_security_reports(&self, f: &SecurityReportFilter<'_>) -> Result<Vec<SecurityReportRow>> {
        let order = if f.oldest_first { "s.id" } else { "s.id DESC" };
        let states = if f.states.is_empty() {
            String::new()
        } else {
            format!(" AND s.state IN ({})", crate::placeholders(3, f.states.len()))
        };
        let n = 3 + f.states.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE ($1 = 0 OR s.reporter_id = $1) \
             AND ($2 = 0 OR s.provider_org_id = $2){states} ORDER BY {order} LIMIT ${n}"
        );
        let mut q = sqlx::query(&sql)
            .bind(f.reporter_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0));
        for s in f.states {
            q = q.bind(*s);
        }
        let rows = q
            .bind(if f.limit > 0 { f.limit } else { 100 })
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(row).collect()
    }
}
