//! What demands and corrections share: their history (`interaction_events`), the per-user lock
//! that makes duplicate detection safe under concurrent submissions, and text search patterns.

use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, Backend, Result, Store, Tx};

/// One step in the history of a demand or a correction.
#[derive(Debug, Clone, Serialize)]
pub struct InteractionEventRow {
    pub id: i64,
    /// `demand` or `correction`.
    pub object_type: String,
    pub object_id: i64,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    pub details: Option<serde_json::Value>,
    pub due: Option<String>,
    pub at: i64,
}

/// What an event records.
#[derive(Debug, Clone, Default)]
pub struct NewInteractionEvent<'a> {
    pub object_type: &'a str,
    pub object_id: i64,
    pub action: &'a str,
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub reason: Option<&'a str>,
    pub details: Option<serde_json::Value>,
    pub due: Option<&'a str>,
}

impl Tx {
    pub async fn insert_interaction_event(&mut self, e: &NewInteractionEvent<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO interaction_events (object_type, object_id, action, actor_id, actor, from_state, to_state, \
             reason, details, due, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(e.object_type)
        .bind(e.object_id)
        .bind(e.action)
        .bind(e.actor_id)
        .bind(e.actor)
        .bind(e.from_state)
        .bind(e.to_state)
        .bind(e.reason)
        .bind(e.details.as_ref().map(|d| d.to_string()))
        .bind(e.due)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// Serialises this user's submissions until the transaction ends, so that two at once (a
    /// double click) cannot both miss each other. PostgreSQL locks the user's row; SQLite's
    /// single writer already runs one transaction at a time.
    pub async fn lock_user(&mut self, user_id: i64) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .fetch_optional(self.conn())
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The history of one demand or correction, oldest first.
    pub async fn interaction_events(&self, object_type: &str, object_id: i64) -> Result<Vec<InteractionEventRow>> {
        let rows = sqlx::query(
            "SELECT id, object_type, object_id, action, actor_id, actor, from_state, to_state, reason, details, due, \
             at FROM interaction_events WHERE object_type = $1 AND object_id = $2 ORDER BY id",
        )
        .bind(object_type)
        .bind(object_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let details: Option<String> = r.try_get("details")?;
                Ok(InteractionEventRow {
                    id: r.try_get("id")?,
                    object_type: r.try_get("object_type")?,
                    object_id: r.try_get("object_id")?,
                    action: r.try_get("action")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    reason: r.try_get("reason")?,
                    details: details.and_then(|d| serde_json::from_str(&d).ok()),
                    due: r.try_get("due")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

/// A `LIKE … ESCAPE '\'` pattern matching `text` anywhere, lower-cased (compare with `LOWER(col)`);
/// wildcards the user typed are matched literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_typed_wildcards_literally() {
        assert_eq!(contains_pattern(" 充电桩 "), "%充电桩%");
        assert_eq!(contains_pattern("50%_A\\"), "%50\\%\\_a\\\\%");
        assert_eq!(contains_pattern("  "), "%%");
    }
}

/// One demand (once routed to a provider) or correction, as the interaction statistics count it.
#[derive(Debug, Clone)]
pub struct ResponseRecord {
    /// `demand` or `correction`.
    pub kind: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub state: String,
    /// When it reached the provider: a demand's assessment start (or submission), a report's
    /// submission.
    pub received_at: i64,
    /// When the provider answered, if it has.
    pub answered_at: Option<i64>,
    /// The deadline of the current (or last) stage, YYYY-MM-DD.
    pub stage_due: Option<String>,
}

impl Store {
    /// Every demand routed to a provider (withdrawn ones aside) and every correction, with when
    /// each reached its provider and when it was answered: what the public interaction
    /// statistics are computed from.
    pub async fn response_records(&self) -> Result<Vec<ResponseRecord>> {
        let rows = sqlx::query(
            "SELECT CAST('demand' AS TEXT) AS kind, d.provider_org_id, o.name AS provider_name, d.state, \
             COALESCE(d.stage_started_at, d.created_at) AS received_at, d.answered_at, d.stage_due \
             FROM demands d JOIN organisations o ON o.id = d.provider_org_id \
             WHERE d.state NOT IN ('withdrawn', 'submitted') \
             UNION ALL \
             SELECT CAST('correction' AS TEXT) AS kind, c.provider_org_id, o.name AS provider_name, c.state, \
             c.created_at AS received_at, c.decided_at AS answered_at, c.stage_due \
             FROM corrections c JOIN organisations o ON o.id = c.provider_org_id",
        )
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ResponseRecord {
                    kind: r.try_get("kind")?,
                    provider_org_id: r.try_get("provider_org_id")?,
                    provider_name: r.try_get("provider_name")?,
                    state: r.try_get("state")?,
                    received_at: r.try_get("received_at")?,
                    answered_at: r.try_get("answered_at")?,
                    stage_due: r.try_get("stage_due")?,
                })
            })
            .collect()
    }
}
