//! Showcase (应用成果) queries: the submissions, the resources each used, and the public gallery.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct ShowcaseRow {
    pub id: i64,
    pub submitter_id: i64,
    pub submitter_name: String,
    pub title: String,
    pub kind: String,
    pub description: String,
    pub link: String,
    /// The re-encoded screenshot's key in the file store, and its media type.
    pub screenshot_key: Option<String>,
    pub screenshot_type: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    /// The review deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub decided_at: Option<i64>,
}

/// A resource a showcase used, as shown with it.
#[derive(Debug, Clone, Serialize)]
pub struct ShowcaseResourceRow {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub domain: String,
}

const COLUMNS: &str = "s.id, s.submitter_id, u.display_name AS submitter_name, s.title, s.kind, s.description, \
    s.link, s.screenshot_key, s.screenshot_type, s.state, s.reason, s.stage_due, s.created_at, s.updated_at, \
    s.decided_at";
const FROM: &str = "showcases s JOIN users u ON u.id = s.submitter_id";

fn row(r: &AnyRow) -> Result<ShowcaseRow> {
    Ok(ShowcaseRow {
        id: r.try_get("id")?,
        submitter_id: r.try_get("submitter_id")?,
        submitter_name: r.try_get("submitter_name")?,
        title: r.try_get("title")?,
        kind: r.try_get("kind")?,
        description: r.try_get("description")?,
        link: r.try_get("link")?,
        screenshot_key: r.try_get("screenshot_key")?,
        screenshot_type: r.try_get("screenshot_type")?,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        stage_due: r.try_get("stage_due")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// A showcase to insert.
#[derive(Debug, Clone)]
pub struct NewShowcaseRow<'a> {
    pub submitter_id: i64,
    pub title: &'a str,
    pub kind: &'a str,
    pub description: &'a str,
    pub link: &'a str,
    pub screenshot_key: Option<&'a str>,
    pub screenshot_type: Option<&'a str>,
    pub state: &'a str,
    pub stage_due: Option<&'a str>,
    pub fingerprint: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// Which showcases to list, newest first (oldest first for queues).
#[derive(Debug, Clone, Default)]
pub struct ShowcaseFilter<'a> {
    pub submitter_id: Option<i64>,
    pub state: Option<&'a str>,
    pub kind: Option<&'a str>,
    /// Showcases that used a resource of this domain, of this provider, or this resource.
    pub domain: Option<&'a str>,
    pub provider_org_id: Option<i64>,
    pub resource_id: Option<i64>,
    pub oldest_first: bool,
    pub limit: i64,
    pub offset: i64,
}

impl ShowcaseFilter<'_> {
    const CLAUSE: &'static str = "($1 = 0 OR s.submitter_id = $1) AND ($2 = '' OR s.state = $2) \
        AND ($3 = '' OR s.kind = $3) \
        AND ($4 = '' OR EXISTS (SELECT 1 FROM showcase_resources x WHERE x.showcase_id = s.id AND x.domain = $4)) \
        AND ($5 = 0 OR EXISTS (SELECT 1 FROM showcase_resources x WHERE x.showcase_id = s.id \
             AND x.provider_org_id = $5)) \
        AND ($6 = 0 OR EXISTS (SELECT 1 FROM showcase_resources x WHERE x.showcase_id = s.id AND x.resource_id = $6))";
}

impl Tx {
    pub async fn insert_showcase(&mut self, s: &NewShowcaseRow<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO showcases (submitter_id, title, kind, description, link, screenshot_key, screenshot_type, \
             state, stage_due, stage_started_at, fingerprint, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id",
        )
        .bind(s.submitter_id)
        .bind(s.title)
        .bind(s.kind)
        .bind(s.description)
        .bind(s.link)
        .bind(s.screenshot_key)
        .bind(s.screenshot_type)
        .bind(s.state)
        .bind(s.stage_due)
        .bind(s.stage_due.map(|_| now))
        .bind(s.fingerprint)
        .bind(s.idempotency_key)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn insert_showcase_resource(
        &mut self,
        showcase_id: i64,
        resource_id: i64,
        provider_org_id: i64,
        domain: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO showcase_resources (showcase_id, resource_id, provider_org_id, domain) VALUES ($1, $2, $3, $4)",
        )
        .bind(showcase_id)
        .bind(resource_id)
        .bind(provider_org_id)
        .bind(domain)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The submitter's earlier showcase that this submission repeats: the same idempotency key
    /// (ever), or the same content since `since` (ms). Run after [`Tx::lock_user`].
    pub async fn duplicate_showcase(
        &mut self,
        submitter_id: i64,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        since: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM showcases WHERE submitter_id = $1 AND (idempotency_key = $2 \
             OR (fingerprint = $3 AND created_at >= $4)) ORDER BY id LIMIT 1",
        )
        .bind(submitter_id)
        .bind(idempotency_key.unwrap_or(""))
        .bind(fingerprint)
        .bind(since)
        .fetch_optional(self.conn())
        .await?)
    }

    pub async fn showcase_for_update(&mut self, id: i64) -> Result<Option<ShowcaseRow>> {
        let lock = self.lock("s");
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    /// A decision: the new state and, for a rejection, its reason.
    pub async fn decide_showcase(&mut self, id: i64, state: &str, reason: Option<&str>) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE showcases SET state = $1, reason = COALESCE($2, reason), decided_at = $3, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(state)
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    pub async fn showcase(&self, id: i64) -> Result<Option<ShowcaseRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn list_showcases(&self, f: &ShowcaseFilter<'_>) -> Result<Vec<ShowcaseRow>> {
        let order = if f.oldest_first { "s.id" } else { "s.id DESC" };
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {} ORDER BY {order} LIMIT $7 OFFSET $8",
            ShowcaseFilter::CLAUSE
        );
        let rows = sqlx::query(&sql)
            .bind(f.submitter_id.unwrap_or(0))
            .bind(f.state.unwrap_or(""))
            .bind(f.kind.unwrap_or(""))
            .bind(f.domain.unwrap_or(""))
            .bind(f.provider_org_id.unwrap_or(0))
            .bind(f.resource_id.unwrap_or(0))
            .bind(if f.limit > 0 { f.limit } else { 100 })
            .bind(f.offset.max(0))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(row).collect()
    }

    pub async fn count_showcases(&self, f: &ShowcaseFilter<'_>) -> Result<i64> {
        let sql = format!("SELECT COUNT(*) FROM showcases s WHERE {}", ShowcaseFilter::CLAUSE);
        Ok(sqlx::query_scalar(&sql)
            .bind(f.submitter_id.unwrap_or(0))
            .bind(f.state.unwrap_or(""))
            .bind(f.kind.unwrap_or(""))
            .bind(f.domain.unwrap_or(""))
            .bind(f.provider_org_id.unwrap_or(0))
            .bind(f.resource_id.unwrap_or(0))
            .fetch_one(self.reader())
            .await?)
    }

    /// The resources a showcase used, in the order given.
    pub async fn showcase_resources(&self, showcase_id: i64) -> Result<Vec<ShowcaseResourceRow>> {
        let rows = sqlx::query(
            "SELECT x.resource_id, r.code, r.title, x.provider_org_id, o.name AS provider_name, x.domain \
             FROM showcase_resources x JOIN resources r ON r.id = x.resource_id \
             JOIN organisations o ON o.id = x.provider_org_id WHERE x.showcase_id = $1 ORDER BY x.resource_id",
        )
        .bind(showcase_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ShowcaseResourceRow {
                    resource_id: r.try_get("resource_id")?,
                    code: r.try_get("code")?,
                    title: r.try_get("title")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    provider_name: r.try_get("provider_name")?,
                    domain: r.try_get("domain")?,
                })
            })
            .collect()
    }
}
