//! Acceptance standards (数据接收标准, versioned) and provider self-evaluations (自评) with the
//! due notices sent for them.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, Store, Tx};

/// One version of the acceptance standards.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptanceRow {
    pub version: i64,
    pub rules: serde_json::Value,
    pub changed_by: Option<i64>,
    pub changed_by_name: Option<String>,
    pub changed_at: i64,
}

fn acceptance_row(r: &AnyRow) -> Result<AcceptanceRow> {
    let rules: String = r.try_get("rules")?;
    Ok(AcceptanceRow {
        version: r.try_get("version")?,
        rules: serde_json::from_str(&rules).unwrap_or_default(),
        changed_by: r.try_get("changed_by")?,
        changed_by_name: r.try_get("changed_by_name")?,
        changed_at: r.try_get("changed_at")?,
    })
}

const ACCEPTANCE_SELECT: &str = "SELECT a.version, a.rules, a.changed_by, u.display_name AS changed_by_name, \
    a.changed_at FROM acceptance_standards a LEFT JOIN users u ON u.id = a.changed_by";

/// A self-evaluation as stored.
#[derive(Debug, Clone, Serialize)]
pub struct SelfEvaluationRow {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    pub due: String,
    pub state: String,
    /// JSON list of `core::self_evaluation::Entry`.
    pub dimensions: serde_json::Value,
    pub action_plan: String,
    pub admin_comment: Option<String>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub first_submitted_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<i64>,
}

/// A new self-evaluation (a draft).
#[derive(Debug, Clone)]
pub struct NewSelfEvaluation<'a> {
    pub org_id: i64,
    pub period: &'a str,
    pub period_start: &'a str,
    pub period_end: &'a str,
    pub due: &'a str,
    pub dimensions: &'a serde_json::Value,
    pub created_by: i64,
    pub at: i64,
}

/// A change of a self-evaluation: its text, its state, and who decided when.
#[derive(Debug, Clone)]
pub struct SelfEvaluationChange<'a> {
    pub state: &'a str,
    pub dimensions: &'a serde_json::Value,
    pub action_plan: &'a str,
    pub admin_comment: Option<&'a str>,
    /// Set on submission (the first one is kept as `first_submitted_at`).
    pub submitted_at: Option<i64>,
    pub decided_by: Option<i64>,
    pub at: i64,
}

const SE_COLUMNS: &str = "s.id, s.org_id, o.name AS org_name, s.period, s.period_start, s.period_end, s.due, \
    s.state, s.dimensions, s.action_plan, s.admin_comment, s.created_by, s.created_at, s.updated_at, \
    s.submitted_at, s.first_submitted_at, s.decided_by, s.decided_at";
const SE_FROM: &str = "self_evaluations s JOIN organisations o ON o.id = s.org_id";

fn se_row(r: &AnyRow) -> Result<SelfEvaluationRow> {
    let dims: String = r.try_get("dimensions")?;
    Ok(SelfEvaluationRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        org_name: r.try_get("org_name")?,
        period: r.try_get("period")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        due: r.try_get("due")?,
        state: r.try_get("state")?,
        dimensions: serde_json::from_str(&dims).unwrap_or_default(),
        action_plan: r.try_get("action_plan")?,
        admin_comment: r.try_get("admin_comment")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        submitted_at: r.try_get("submitted_at")?,
        first_submitted_at: r.try_get("first_submitted_at")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

impl Store {
    /// The standards in force: the newest version, `None` before the first change.
    pub async fn acceptance_standard(&self) -> Result<Option<AcceptanceRow>> {
        let r = sqlx::query(&format!("{ACCEPTANCE_SELECT} ORDER BY a.version DESC LIMIT 1"))
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(acceptance_row).transpose()
    }

    /// Every version, newest first.
    pub async fn acceptance_history(&self) -> Result<Vec<AcceptanceRow>> {
        let rows = sqlx::query(&format!("{ACCEPTANCE_SELECT} ORDER BY a.version DESC"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(acceptance_row).collect()
    }

    pub async fn self_evaluation(&self, id: i64) -> Result<Option<SelfEvaluationRow>> {
        let r = sqlx::query(&format!("SELECT {SE_COLUMNS} FROM {SE_FROM} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(se_row).transpose()
    }

    /// Self-evaluations, newest period first; one department's when `org_id` is given.
    pub async fn self_evaluations(&self, org_id: Option<i64>) -> Result<Vec<SelfEvaluationRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {SE_COLUMNS} FROM {SE_FROM} WHERE ($1 = 0 OR s.org_id = $1) \
             ORDER BY s.period_end DESC, o.name, s.id"
        ))
        .bind(org_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(se_row).collect()
    }

    /// Whether the due notice for a department's period was sent.
    pub async fn self_evaluation_notice_sent(&self, org_id: i64, period: &str) -> Result<bool> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM self_evaluation_notices WHERE org_id = $1 AND period = $2")
                .bind(org_id)
                .bind(period)
                .fetch_one(self.reader())
                .await?;
        Ok(n > 0)
    }
}

impl Tx {
    /// Records a new version of the standards; returns its number.
    pub async fn insert_acceptance_standard(
        &mut self,
        rules: &serde_json::Value,
        changed_by: Option<i64>,
        at: i64,
    ) -> Result<i64> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM acceptance_standards")
            .fetch_one(self.conn())
            .await?;
        let version = last.unwrap_or(0) + 1;
        sqlx::query(
            "INSERT INTO acceptance_standards (version, rules, changed_by, changed_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(version)
        .bind(rules.to_string())
        .bind(changed_by)
        .bind(at)
        .execute(self.conn())
        .await?;
        Ok(version)
    }

    pub async fn insert_self_evaluation(&mut self, n: &NewSelfEvaluation<'_>) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO self_evaluations (org_id, period, period_start, period_end, due, state, dimensions, \
             action_plan, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'draft', $6, '', $7, $8, $8) RETURNING id",
        )
        .bind(n.org_id)
        .bind(n.period)
        .bind(n.period_start)
        .bind(n.period_end)
        .bind(n.due)
        .bind(n.dimensions.to_string())
        .bind(n.created_by)
        .bind(n.at)
        .fetch_one(self.conn())
        .await
        .map_err(|e| crate::conflict_on_unique(e, "self_evaluation_exists", "period"))?;
        Ok(id)
    }

    pub async fn self_evaluation_for_update(&mut self, id: i64) -> Result<Option<SelfEvaluationRow>> {
        let lock = self.lock("s");
        let r = sqlx::query(&format!("SELECT {SE_COLUMNS} FROM {SE_FROM} WHERE s.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(se_row).transpose()
    }

    pub async fn update_self_evaluation(&mut self, id: i64, c: &SelfEvaluationChange<'_>) -> Result<()> {
        sqlx::query(
            "UPDATE self_evaluations SET state = $1, dimensions = $2, action_plan = $3, \
             admin_comment = COALESCE($4, admin_comment), submitted_at = COALESCE($5, submitted_at), \
             first_submitted_at = COALESCE(first_submitted_at, $5), decided_by = COALESCE($6, decided_by), \
             decided_at = CASE WHEN $6 IS NULL THEN decided_at ELSE $7 END, updated_at = $7 WHERE id = $8",
        )
        .bind(c.state)
        .bind(c.dimensions.to_string())
        .bind(c.action_plan)
        .bind(c.admin_comment)
        .bind(c.submitted_at)
        .bind(c.decided_by)
        .bind(c.at)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn record_self_evaluation_notice(&mut self, org_id: i64, period: &str, at: i64) -> Result<()> {
        sqlx::query("INSERT INTO self_evaluation_notices (org_id, period, sent_at) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(period)
            .bind(at)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
