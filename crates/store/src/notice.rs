//! Notice (告知) queries: a user's inbox of decisions and reasons.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct NoticeRow {
    pub id: i64,
    pub user_id: i64,
    /// What happened, e.g. `resource_returned`: the key of its translated title.
    pub kind: String,
    /// Named values for the title, e.g. the resource's name.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The reason a person wrote, shown as written.
    pub reason: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

fn row(r: &AnyRow) -> Result<NoticeRow> {
    let params: String = r.try_get("params")?;
    Ok(NoticeRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        kind: r.try_get("kind")?,
        params: serde_json::from_str(&params).unwrap_or_default(),
        reason: r.try_get("reason")?,
        link: r.try_get("link")?,
        created_at: r.try_get("created_at")?,
        read_at: r.try_get("read_at")?,
    })
}

const COLUMNS: &str = "id, user_id, kind, params, reason, link, created_at, read_at";

impl Tx {
    pub async fn insert_notice(
        &mut self,
        user_id: i64,
        kind: &str,
        params: &serde_json::Map<String, serde_json::Value>,
        reason: Option<&str>,
        link: Option<&str>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO notices (user_id, kind, params, reason, link, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user_id)
        .bind(kind)
        .bind(serde_json::Value::Object(params.clone()).to_string())
        .bind(reason)
        .bind(link)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// Marks one of the user's notices read; `false` if it is not theirs or already read.
    pub async fn mark_notice_read(&mut self, user_id: i64, id: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE notices SET read_at = $1 WHERE id = $2 AND user_id = $3 AND read_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .bind(user_id)
            .execute(self.conn())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

impl Store {
    pub async fn notices(&self, user_id: i64, limit: i64) -> Result<Vec<NoticeRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM notices WHERE user_id = $1 ORDER BY read_at IS NOT NULL, id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(row).collect()
    }

    pub async fn notice(&self, user_id: i64, id: i64) -> Result<Option<NoticeRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM notices WHERE id = $1 AND user_id = $2"))
            .bind(id)
            .bind(user_id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn unread_notices(&self, user_id: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM notices WHERE user_id = $1 AND read_at IS NULL")
                .bind(user_id)
                .fetch_one(self.reader())
                .await?,
        )
    }
}
