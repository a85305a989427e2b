//! Open plan (开放计划) and plan item (开放数据清单) queries.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub id: i64,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub title: String,
    pub period_start: String,
    pub period_end: String,
    /// `policy` or `demand`.
    pub source: String,
    pub created_by: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanItemRow {
    pub id: i64,
    pub plan_id: i64,
    pub name: String,
    pub domain: String,
    pub open_type: String,
    pub planned_date: String,
    pub notes: Option<String>,
    pub demand_id: Option<i64>,
    pub resource_id: Option<i64>,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A plan item to insert.
#[derive(Debug, Clone)]
pub struct NewPlanItem<'a> {
    pub name: &'a str,
    pub domain: &'a str,
    pub open_type: &'a str,
    pub planned_date: &'a str,
    pub notes: Option<&'a str>,
    pub demand_id: Option<i64>,
}

fn plan_row(r: &AnyRow) -> Result<PlanRow> {
    Ok(PlanRow {
        id: r.try_get("id")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        title: r.try_get("title")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        source: r.try_get("source")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
    })
}

fn item_row(r: &AnyRow) -> Result<PlanItemRow> {
    Ok(PlanItemRow {
        id: r.try_get("id")?,
        plan_id: r.try_get("plan_id")?,
        name: r.try_get("name")?,
        domain: r.try_get("domain")?,
        open_type: r.try_get("open_type")?,
        planned_date: r.try_get("planned_date")?,
        notes: r.try_get("notes")?,
        demand_id: r.try_get("demand_id")?,
        resource_id: r.try_get("resource_id")?,
        status: r.try_get("status")?,
        cancel_reason: r.try_get("cancel_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const PLAN_COLUMNS: &str = "p.id, p.provider_org_id, o.name AS provider_name, p.title, p.period_start, p.period_end, \
    p.source, p.created_by, p.created_at";
const ITEM_COLUMNS: &str =
    "id, plan_id, name, domain, open_type, planned_date, notes, demand_id, resource_id, status, \
    cancel_reason, created_at, updated_at";

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_plan(
        &mut self,
        provider_org_id: i64,
        title: &str,
        period_start: &str,
        period_end: &str,
        source: &str,
        created_by: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO open_plans (provider_org_id, title, period_start, period_end, source, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(provider_org_id)
        .bind(title)
        .bind(period_start)
        .bind(period_end)
        .bind(source)
        .bind(created_by)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn insert_plan_item(&mut self, plan_id: i64, item: &NewPlanItem<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO plan_items (plan_id, name, domain, open_type, planned_date, notes, demand_id, status, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'planned', $8, $8) RETURNING id",
        )
        .bind(plan_id)
        .bind(item.name)
        .bind(item.domain)
        .bind(item.open_type)
        .bind(item.planned_date)
        .bind(item.notes)
        .bind(item.demand_id)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn plan_item(&mut self, id: i64) -> Result<Option<PlanItemRow>> {
        let r = sqlx::query(&format!("SELECT {ITEM_COLUMNS} FROM plan_items WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(item_row).transpose()
    }

    /// Sets an item's status (and its link to a resource, and a cancellation reason).
    pub async fn update_plan_item(
        &mut self,
        id: i64,
        status: &str,
        resource_id: Option<i64>,
        cancel_reason: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE plan_items SET status = $1, resource_id = $2, cancel_reason = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(status)
        .bind(resource_id)
        .bind(cancel_reason)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The items a resource fulfils, to advance them with it.
    pub async fn plan_items_of_resource(&mut self, resource_id: i64) -> Result<Vec<PlanItemRow>> {
        let rows = sqlx::query(&format!("SELECT {ITEM_COLUMNS} FROM plan_items WHERE resource_id = $1"))
            .bind(resource_id)
            .fetch_all(self.conn())
            .await?;
        rows.iter().map(item_row).collect()
    }
}

impl Store {
    pub async fn plan(&self, id: i64) -> Result<Option<PlanRow>> {
        let r = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM open_plans p JOIN organisations o ON o.id = p.provider_org_id WHERE p.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref().map(plan_row).transpose()
    }

    /// Plans, newest first, optionally of one provider.
    pub async fn plans(&self, provider_org_id: Option<i64>) -> Result<Vec<PlanRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {PLAN_COLUMNS} FROM open_plans p JOIN organisations o ON o.id = p.provider_org_id \
             WHERE ($1 = 0 OR p.provider_org_id = $1) ORDER BY p.period_start DESC, p.id DESC"
        ))
        .bind(provider_org_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(plan_row).collect()
    }

    pub async fn plan_items(&self, plan_id: i64) -> Result<Vec<PlanItemRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} FROM plan_items WHERE plan_id = $1 ORDER BY planned_date, id"
        ))
        .bind(plan_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(item_row).collect()
    }

    /// Every item of a provider's plans, for its progress view.
    pub async fn provider_plan_items(&self, provider_org_id: i64) -> Result<Vec<PlanItemRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ITEM_COLUMNS} FROM plan_items WHERE plan_id IN (SELECT id FROM open_plans WHERE provider_org_id = $1) \
             ORDER BY planned_date, id"
        ))
        .bind(provider_org_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(item_row).collect()
    }
}
