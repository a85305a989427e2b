//! Data demand (数据需求) queries. A demand's linked resource is the one an `already_open` answer
//! points to, or the resource of the plan item an acceptance created, whichever there is.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::interaction::contains_pattern;
use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct DemandRow {
    pub id: i64,
    pub requester_id: i64,
    pub requester_name: String,
    pub title: String,
    pub description: String,
    pub purpose: String,
    /// The 领域 key.
    pub domain: String,
    /// The provider it is routed to.
    pub provider_org_id: Option<i64>,
    pub provider_name: Option<String>,
    pub state: String,
    /// The provider's reason (declined) or reply (accepted, already open).
    pub reply: Option<String>,
    /// The resource an `already_open` answer points to.
    pub resource_id: Option<i64>,
    pub plan_item_id: Option<i64>,
    /// The plan item's resource, or the one pointed to.
    pub linked_resource_id: Option<i64>,
    pub linked_resource_code: Option<String>,
    pub linked_resource_title: Option<String>,
    /// The current stage's deadline (YYYY-MM-DD); the last one's once answered.
    pub stage_due: Option<String>,
    pub stage_started_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub answered_at: Option<i64>,
    pub fulfilled_at: Option<i64>,
}

const COLUMNS: &str = "d.id, d.requester_id, u.display_name AS requester_name, d.title, d.description, d.purpose, \
    d.domain, d.provider_org_id, o.name AS provider_name, d.state, d.reply, d.resource_id, d.plan_item_id, \
    r.id AS linked_resource_id, r.code AS linked_resource_code, r.title AS linked_resource_title, d.stage_due, \
    d.stage_started_at, d.created_at, d.updated_at, d.answered_at, d.fulfilled_at";
const FROM: &str = "demands d JOIN users u ON u.id = d.requester_id \
    LEFT JOIN organisations o ON o.id = d.provider_org_id \
    LEFT JOIN plan_items pi ON pi.id = d.plan_item_id \
    LEFT JOIN resources r ON r.id = COALESCE(d.resource_id, pi.resource_id)";

fn row(r: &AnyRow) -> Result<DemandRow> {
    Ok(DemandRow {
        id: r.try_get("id")?,
        requester_id: r.try_get("requester_id")?,
        requester_name: r.try_get("requester_name")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        purpose: r.try_get("purpose")?,
        domain: r.try_get("domain")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        state: r.try_get("state")?,
        reply: r.try_get("reply")?,
        resource_id: r.try_get("resource_id")?,
        plan_item_id: r.try_get("plan_item_id")?,
        linked_resource_id: r.try_get("linked_resource_id")?,
        linked_resource_code: r.try_get("linked_resource_code")?,
        linked_resource_title: r.try_get("linked_resource_title")?,
        stage_due: r.try_get("stage_due")?,
        stage_started_at: r.try_get("stage_started_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        answered_at: r.try_get("answered_at")?,
        fulfilled_at: r.try_get("fulfilled_at")?,
    })
}

/// A demand to insert.
#[derive(Debug, Clone)]
pub struct NewDemandRow<'a> {
    pub requester_id: i64,
    pub title: &'a str,
    pub description: &'a str,
    pub purpose: &'a str,
    pub domain: &'a str,
    pub provider_org_id: Option<i64>,
    pub state: &'a str,
    pub stage_due: Option<&'a str>,
    pub fingerprint: &'a str,
    pub idempotency_key: Option<&'a str>,
}

/// What a demand's state change writes; `None` keeps a column as it is.
#[derive(Debug, Clone, Default)]
pub struct DemandChange<'a> {
    pub state: &'a str,
    pub provider_org_id: Option<i64>,
    /// A new stage's deadline (its start is now).
    pub stage_due: Option<&'a str>,
    pub reply: Option<&'a str>,
    pub resource_id: Option<i64>,
    pub plan_item_id: Option<i64>,
    pub answered: bool,
    pub fulfilled: bool,
}

/// Which demands to list.
#[derive(Debug, Clone, Default)]
pub struct DemandFilter<'a> {
    pub requester_id: Option<i64>,
    pub provider_org_id: Option<i64>,
    /// Any of these states (all when empty).
    pub states: &'a [&'a str],
    pub domain: Option<&'a str>,
    /// Words in the title or description.
    pub text: Option<&'a str>,
    /// Queues list the oldest first; otherwise the newest come first.
    pub oldest_first: bool,
    pub limit: i64,
    pub offset: i64,
}

impl DemandFilter<'_> {
    /// The WHERE clause (states from `$5`) and its values in order.
    fn clause(&self) -> (String, Vec<String>) {
        let states = if self.states.is_empty() {
            String::new()
        } else {
            format!(" AND d.state IN ({})", crate::placeholders(5, self.states.len()))
        };
        let text = self.text.map(str::trim).filter(|t| !t.is_empty());
        let clause = format!(
            "($1 = 0 OR d.requester_id = $1) AND ($2 = 0 OR d.provider_org_id = $2) AND ($3 = '' OR d.domain = $3) \
             AND ($4 = '' OR LOWER(d.title) LIKE $4 ESCAPE '\\' OR LOWER(d.description) LIKE $4 ESCAPE '\\'){states}"
        );
        let values = vec![
            self.domain.unwrap_or("").to_string(),
            text.map(contains_pattern).unwrap_or_default(),
        ];
        (clause, values)
    }
}

impl Tx {
    pub async fn insert_demand(&mut self, d: &NewDemandRow<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO demands (requester_id, title, description, purpose, domain, provider_org_id, state, \
             stage_due, stage_started_at, fingerprint, idempotency_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(d.requester_id)
        .bind(d.title)
        .bind(d.description)
        .bind(d.purpose)
        .bind(d.domain)
        .bind(d.provider_org_id)
        .bind(d.state)
        .bind(d.stage_due)
        .bind(d.stage_due.map(|_| now))
        .bind(d.fingerprint)
        .bind(d.idempotency_key)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// The requester's earlier demand that this submission repeats: the same idempotency key
    /// (ever), or the same content submitted since `since` (ms). Run after [`Tx::lock_user`].
    pub async fn duplicate_demand(
        &mut self,
        requester_id: i64,
        idempotency_key: Option<&str>,
        fingerprint: &str,
        since: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM demands WHERE requester_id = $1 AND (idempotency_key = $2 \
             OR (fingerprint = $3 AND created_at >= $4)) ORDER BY id LIMIT 1",
        )
        .bind(requester_id)
        .bind(idempotency_key.unwrap_or(""))
        .bind(fingerprint)
        .bind(since)
        .fetch_optional(self.conn())
        .await?)
    }

    /// The demand, locked for this transaction on PostgreSQL.
    pub async fn demand_for_update(&mut self, id: i64) -> Result<Option<DemandRow>> {
        let lock = self.lock("d");
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn set_demand_state(&mut self, id: i64, c: &DemandChange<'_>) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE demands SET state = $1, provider_org_id = COALESCE($2, provider_org_id), \
             stage_due = COALESCE($3, stage_due), stage_started_at = COALESCE($4, stage_started_at), \
             reply = COALESCE($5, reply), resource_id = COALESCE($6, resource_id), \
             plan_item_id = COALESCE($7, plan_item_id), answered_at = COALESCE(answered_at, $8), \
             fulfilled_at = COALESCE(fulfilled_at, $9), updated_at = $10 WHERE id = $11",
        )
        .bind(c.state)
        .bind(c.provider_org_id)
        .bind(c.stage_due)
        .bind(c.stage_due.map(|_| now))
        .bind(c.reply)
        .bind(c.resource_id)
        .bind(c.plan_item_id)
        .bind(c.answered.then_some(now))
        .bind(c.fulfilled.then_some(now))
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Answered demands that the publication of `resource_id` fulfils: accepted ones whose plan
    /// item it fulfils, and already-open ones pointing to it. Locked on PostgreSQL.
    pub async fn demands_fulfilled_by(&mut self, resource_id: i64) -> Result<Vec<DemandRow>> {
        let lock = self.lock("d");
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE (d.state = 'accepted' AND pi.resource_id = $1) \
             OR (d.state = 'already_open' AND d.resource_id = $1) ORDER BY d.id{lock}"
        ))
        .bind(resource_id)
        .fetch_all(self.conn())
        .await?;
        rows.iter().map(row).collect()
    }
}

impl Store {
    pub async fn demand(&self, id: i64) -> Result<Option<DemandRow>> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(row).transpose()
    }

    pub async fn list_demands(&self, f: &DemandFilter<'_>) -> Result<Vec<DemandRow>> {
        let (clause, values) = f.clause();
        let order = if f.oldest_first { "d.id" } else { "d.id DESC" };
        let n = 5 + f.states.len();
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE {clause} ORDER BY {order} LIMIT ${n} OFFSET ${}",
            n + 1
        );
        let mut q = sqlx::query(&sql)
            .bind(f.requester_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0));
        for v in values {
            q = q.bind(v);
        }
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

    /// How many demands the filter matches (its limit and offset aside).
    pub async fn count_demands(&self, f: &DemandFilter<'_>) -> Result<i64> {
        let (clause, values) = f.clause();
        let sql = format!("SELECT COUNT(*) FROM demands d WHERE {clause}");
        let mut q = sqlx::query_scalar(&sql)
            .bind(f.requester_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0));
        for v in values {
            q = q.bind(v);
        }
        for s in f.states {
            q = q.bind(*s);
        }
        Ok(q.fetch_one(self.reader()).await?)
    }
}
