//! Writing and verifying the audit chain. Events are appended inside the transaction of the
//! change they record; the one-row `audit_head` serialises appenders on both backends.

use pubdata_core::audit::{chain_hash, AuditRecord, ChainBreak, StoredEvent, Verifier};
use serde::Serialize;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

/// One event to append: who did what to which object, with before/after summaries.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub client_ip: Option<&'a str>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub client_ip: Option<String>,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    Intact { events: i64 },
    Broken(ChainBreak),
}

impl Tx {
    /// Appends an event to the chain; returns its sequence number.
    pub async fn audit(&mut self, e: AuditEntry<'_>) -> Result<i64> {
        // The UPDATE takes the head's row lock, so concurrent writers chain one after another.
        let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
            .fetch_one(self.conn())
            .await?;
        let seq: i64 = head.try_get("seq")?;
        let prev: String = head.try_get("hash")?;
        let record = AuditRecord {
            seq,
            at_ms: now_ms(),
            actor_id: e.actor_id,
            actor: e.actor.to_string(),
            action: e.action.to_string(),
            object_type: e.object_type.to_string(),
            object_id: e.object_id,
            before: e.before.map(|v| v.to_string()),
            after: e.after.map(|v| v.to_string()),
            client_ip: e.client_ip.map(str::to_string),
        };
        let hash = chain_hash(&prev, &record);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, actor_id, actor, action, object_type, object_id, \
             before_state, after_state, client_ip, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(seq)
        .bind(record.at_ms)
        .bind(record.actor_id)
        .bind(&record.actor)
        .bind(&record.action)
        .bind(&record.object_type)
        .bind(&record.object_id)
        .bind(&record.before)
        .bind(&record.after)
        .bind(&record.client_ip)
        .bind(&prev)
        .bind(&hash)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(self.conn())
            .await?;
        Ok(seq)
    }
}

const PAGE: i64 = 5_000;

impl Store {
    /// Re-computes the whole chain and names the first broken row.
    pub async fn verify_audit(&self) -> Result<VerifyReport> {
        let mut conn = self.reader().acquire().await?;
        verify_chain(&mut conn).await
    }

    /// The newest events, optionally only those about one object.
    pub async fn recent_audit(&self, limit: i64, object: Option<(&str, &str)>) -> Result<Vec<AuditRow>> {
        let (ty, id) = object.unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, object_type, object_id, before_state, after_state, client_ip \
             FROM audit_events WHERE ($2 = '' OR (object_type = $2 AND object_id = $3)) ORDER BY seq DESC LIMIT $1",
        )
        .bind(limit)
        .bind(ty)
        .bind(id)
        .fetch_all(self.reader())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    object_type: r.try_get("object_type")?,
                    object_id: r.try_get("object_id")?,
                    before: r.try_get("before_state")?,
                    after: r.try_get("after_state")?,
                    client_ip: r.try_get("client_ip")?,
                })
            })
            .collect()
    }

    /// Test and forensic helper: runs raw SQL behind the application's back (e.g. to tamper).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.write).await?.rows_affected())
    }
}

/// Re-computes the whole chain on `conn` (inside a transaction, it sees that transaction's
/// writes) and names the first broken row.
pub(crate) async fn verify_chain(conn: &mut sqlx::AnyConnection) -> Result<VerifyReport> {
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let head_seq: i64 = head.try_get("seq")?;
    let head_hash: String = head.try_get("hash")?;
    let mut verifier = Verifier::default();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT seq, at, actor_id, actor, action, object_type, object_id, before_state, \
             after_state, client_ip, prev_hash, hash FROM audit_events \
             WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
        )
        .bind(after)
        .bind(head_seq)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let n = rows.len() as i64;
        for row in rows {
            let event = StoredEvent {
                record: AuditRecord {
                    seq: row.try_get("seq")?,
                    at_ms: row.try_get("at")?,
                    actor_id: row.try_get("actor_id")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    object_type: row.try_get("object_type")?,
                    object_id: row.try_get("object_id")?,
                    before: row.try_get("before_state")?,
                    after: row.try_get("after_state")?,
                    client_ip: row.try_get("client_ip")?,
                },
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
            };
            after = event.record.seq;
            if let Err(b) = verifier.push(&event) {
                return Ok(VerifyReport::Broken(b));
            }
        }
        if n < PAGE {
            break;
        }
    }
    Ok(match verifier.finish(head_seq, &head_hash) {
        Ok(events) => VerifyReport::Intact { events },
        Err(b) => VerifyReport::Broken(b),
    })
}
