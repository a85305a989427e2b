//! Quality (§8) queries: when each published resource was last updated, and the timeliness
//! monitor's overdue flags.

use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, Tx};

/// A published resource with when it was last updated, for the timeliness monitor.
#[derive(Debug, Clone)]
pub struct UpdateTimes {
    pub resource_id: i64,
    pub provider_org_id: i64,
    pub title: String,
    pub meta: serde_json::Value,
    pub published_at: Option<i64>,
    /// When its newest data version that loaded (offered now or superseded) was added.
    pub last_version_at: Option<i64>,
}

/// A resource flagged overdue for update.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueRow {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub update_frequency: Option<String>,
    /// The day the overdue period counts from (YYYY-MM-DD).
    pub last_update: String,
    /// The last day in time.
    pub due: String,
    pub flagged_at: i64,
}

impl Store {
    /// Every published resource with its publication and newest data version times (one query).
    pub async fn published_update_times(&self) -> Result<Vec<UpdateTimes>> {
        let rows = sqlx::query(
            "SELECT r.id, r.provider_org_id, r.title, r.meta, r.published_at, \
             (SELECT MAX(d.created_at) FROM distributions d WHERE d.resource_id = r.id \
              AND d.state IN ('ready', 'superseded')) AS last_version_at \
             FROM resources r WHERE r.state = 'published' ORDER BY r.id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let meta: String = r.try_get("meta")?;
                Ok(UpdateTimes {
                    resource_id: r.try_get("id")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    title: r.try_get("title")?,
                    meta: serde_json::from_str(&meta).unwrap_or_default(),
                    published_at: r.try_get("published_at")?,
                    last_version_at: r.try_get("last_version_at")?,
                })
            })
            .collect()
    }

    /// The overdue flags of published resources, longest overdue first; one provider's only
    /// when `provider_org_id` is given.
    pub async fn overdue_resources(&self, provider_org_id: Option<i64>) -> Result<Vec<OverdueRow>> {
        let rows = sqlx::query(
            "SELECT f.resource_id, r.code, r.title, r.provider_org_id, o.name AS provider_name, r.meta, \
             f.last_update, f.due, f.flagged_at FROM resource_overdue f \
             JOIN resources r ON r.id = f.resource_id JOIN organisations o ON o.id = r.provider_org_id \
             WHERE r.state = 'published' AND ($1 = 0 OR r.provider_org_id = $1) ORDER BY f.due, f.resource_id",
        )
        .bind(provider_org_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let meta: String = r.try_get("meta")?;
                let meta: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
                Ok(OverdueRow {
                    resource_id: r.try_get("resource_id")?,
                    code: r.try_get("code")?,
                    title: r.try_get("title")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    provider_name: r.try_get("provider_name")?,
                    update_frequency: meta["update_frequency"].as_str().map(str::to_string),
                    last_update: r.try_get("last_update")?,
                    due: r.try_get("due")?,
                    flagged_at: r.try_get("flagged_at")?,
                })
            })
            .collect()
    }

    /// Every flag as `(resource_id, last_update)`, whatever the resource's state.
    pub async fn overdue_flags(&self) -> Result<Vec<(i64, String)>> {
        let rows = sqlx::query("SELECT resource_id, last_update FROM resource_overdue")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource_id")?, r.try_get("last_update")?)))
            .collect()
    }
}

impl Tx {
    /// Flags a resource overdue from `last_update` (replacing an older period's flag).
    pub async fn set_overdue(&mut self, resource_id: i64, last_update: &str, due: &str, at: i64) -> Result<()> {
        sqlx::query("DELETE FROM resource_overdue WHERE resource_id = $1")
            .bind(resource_id)
            .execute(self.conn())
            .await?;
        sqlx::query("INSERT INTO resource_overdue (resource_id, last_update, due, flagged_at) VALUES ($1, $2, $3, $4)")
            .bind(resource_id)
            .bind(last_update)
            .bind(due)
            .bind(at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn clear_overdue(&mut self, resource_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM resource_overdue WHERE resource_id = $1")
            .bind(resource_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
