//! Application (数据申请), grant (授权), AppKey and download-log queries. Forms, scopes and
//! field lists are stored as JSON text; states as the core state machine's names.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

fn json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationRow {
    pub id: i64,
    pub applicant_id: i64,
    pub applicant_name: String,
    pub applicant_org_id: Option<i64>,
    pub provider_org_id: i64,
    pub provider_name: String,
    /// `unconditional` or `conditional`.
    pub kind: String,
    pub state: String,
    /// What the applicant filled in (purpose, scenario, period, measures, commitment).
    pub form: serde_json::Value,
    /// The provider's approval scope.
    pub scope: Option<serde_json::Value>,
    /// What the administration institution asked for (needs_info).
    pub info_request: Option<String>,
    /// A provider's refusal as the provider wrote it.
    pub provider_reason: Option<String>,
    /// The reason the applicant is given.
    pub reason: Option<String>,
    /// The current stage's deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    pub stage_started_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
}

const APP_COLUMNS: &str = "a.id, a.applicant_id, u.display_name AS applicant_name, a.applicant_org_id, \
    a.provider_org_id, o.name AS provider_name, a.kind, a.state, a.form, a.scope, a.info_request, a.provider_reason, \
    a.reason, a.stage_due, a.stage_started_at, a.created_at, a.updated_at, a.submitted_at, a.decided_at";
const APP_FROM: &str =
    "applications a JOIN users u ON u.id = a.applicant_id JOIN organisations o ON o.id = a.provider_org_id";

fn app_row(r: &AnyRow) -> Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        applicant_id: r.try_get("applicant_id")?,
        applicant_name: r.try_get("applicant_name")?,
        applicant_org_id: r.try_get("applicant_org_id")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        kind: r.try_get("kind")?,
        state: r.try_get("state")?,
        form: json(r.try_get("form")?).unwrap_or_default(),
        scope: json(r.try_get("scope")?),
        info_request: r.try_get("info_request")?,
        provider_reason: r.try_get("provider_reason")?,
        reason: r.try_get("reason")?,
        stage_due: r.try_get("stage_due")?,
        stage_started_at: r.try_get("stage_started_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        submitted_at: r.try_get("submitted_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// One resource of an application, with the fields asked for.
#[derive(Debug, Clone, Serialize)]
pub struct ApplicationItemRow {
    pub id: i64,
    pub application_id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplicationEventRow {
    pub id: i64,
    pub application_id: i64,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    pub original_reason: Option<String>,
    pub details: Option<serde_json::Value>,
    pub due: Option<String>,
    pub at: i64,
}

/// What an application event records.
#[derive(Debug, Clone, Default)]
pub struct NewApplicationEvent<'a> {
    pub application_id: i64,
    pub action: &'a str,
    pub actor_id: Option<i64>,
    pub actor: &'a str,
    pub from_state: &'a str,
    pub to_state: &'a str,
    pub reason: Option<&'a str>,
    pub original_reason: Option<&'a str>,
    pub details: Option<serde_json::Value>,
    pub due: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentRow {
    pub id: i64,
    pub application_id: i64,
    pub filename: String,
    pub media_type: String,
    pub object_key: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GrantRow {
    pub id: i64,
    pub application_id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    /// The provider department that owns the resource.
    pub provider_org_id: i64,
    pub consumer_id: i64,
    pub consumer_name: String,
    pub fields: Vec<String>,
    pub valid_from: String,
    pub valid_to: String,
    /// `download`, `api`, or both.
    pub methods: Vec<String>,
    pub row_filter: Option<serde_json::Value>,
    pub state: String,
    pub revoke_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const GRANT_COLUMNS: &str =
    "g.id, g.application_id, g.resource_id, r.code AS resource_code, r.title AS resource_title, \
    r.provider_org_id, g.consumer_id, u.display_name AS consumer_name, g.fields, g.valid_from, g.valid_to, g.methods, g.row_filter, \
    g.state, g.revoke_reason, g.created_at, g.updated_at";
pub(crate) const GRANT_FROM: &str =
    "grants g JOIN resources r ON r.id = g.resource_id JOIN users u ON u.id = g.consumer_id";

fn list(s: Option<String>) -> Vec<String> {
    json(s).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

pub(crate) fn grant_row(r: &AnyRow) -> Result<GrantRow> {
    Ok(GrantRow {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        resource_id: r.try_get("resource_id")?,
        resource_code: r.try_get("resource_code")?,
        resource_title: r.try_get("resource_title")?,
        provider_org_id: r.try_get("provider_org_id")?,
        consumer_id: r.try_get("consumer_id")?,
        consumer_name: r.try_get("consumer_name")?,
        fields: list(r.try_get("fields")?),
        valid_from: r.try_get("valid_from")?,
        valid_to: r.try_get("valid_to")?,
        methods: list(r.try_get("methods")?),
        row_filter: json(r.try_get("row_filter")?),
        state: r.try_get("state")?,
        revoke_reason: r.try_get("revoke_reason")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// What a grant is created with.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    pub application_id: i64,
    pub resource_id: i64,
    pub consumer_id: i64,
    pub fields: &'a [String],
    pub valid_from: &'a str,
    pub valid_to: &'a str,
    pub methods: &'a [String],
    pub row_filter: Option<&'a serde_json::Value>,
}

/// What an application's state change writes; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct ApplicationChange<'a> {
    pub state: &'a str,
    pub stage_due: Option<Option<&'a str>>,
    pub info_request: Option<Option<&'a str>>,
    pub provider_reason: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub scope: Option<&'a serde_json::Value>,
    pub submitted: bool,
    pub decided: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DownloadRow {
    pub id: i64,
    pub resource_id: i64,
    pub resource_title: String,
    pub distribution_id: i64,
    pub grant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub bytes: i64,
    pub at: i64,
}

impl Tx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_application(
        &mut self,
        applicant_id: i64,
        applicant_org_id: Option<i64>,
        provider_org_id: i64,
        kind: &str,
        state: &str,
        form: &serde_json::Value,
    ) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO applications (applicant_id, applicant_org_id, provider_org_id, kind, state, form, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(applicant_id)
        .bind(applicant_org_id)
        .bind(provider_org_id)
        .bind(kind)
        .bind(state)
        .bind(form.to_string())
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// The application, locked for this transaction on PostgreSQL.
    pub async fn application_for_update(&mut self, id: i64) -> Result<Option<ApplicationRow>> {
        let lock = self.lock("a");
        let r = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM {APP_FROM} WHERE a.id = $1{lock}"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(app_row).transpose()
    }

    pub async fn update_application_form(
        &mut self,
        id: i64,
        provider_org_id: i64,
        form: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE applications SET form = $1, provider_org_id = $2, updated_at = $3 WHERE id = $4")
            .bind(form.to_string())
            .bind(provider_org_id)
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_application_state(&mut self, id: i64, c: &ApplicationChange<'_>) -> Result<()> {
        let now = now_ms();
        let mut sets = vec!["state = $1".to_string(), "updated_at = $2".to_string()];
        let mut n = 3;
        let mut mark = |col: &str, sets: &mut Vec<String>| {
            sets.push(format!("{col} = ${n}"));
            n += 1;
        };
        if c.stage_due.is_some() {
            mark("stage_due", &mut sets);
            mark("stage_started_at", &mut sets);
        }
        if c.info_request.is_some() {
            mark("info_request", &mut sets);
        }
        if c.provider_reason.is_some() {
            mark("provider_reason", &mut sets);
        }
        if c.reason.is_some() {
            mark("reason", &mut sets);
        }
        if c.scope.is_some() {
            mark("scope", &mut sets);
        }
        if c.submitted {
            mark("submitted_at", &mut sets);
        }
        if c.decided {
            mark("decided_at", &mut sets);
        }
        let sql = format!("UPDATE applications SET {} WHERE id = ${n}", sets.join(", "));
        let mut q = sqlx::query(&sql).bind(c.state).bind(now);
        if let Some(due) = c.stage_due {
            q = q.bind(due).bind(due.map(|_| now));
        }
        if let Some(v) = c.info_request {
            q = q.bind(v);
        }
        if let Some(v) = c.provider_reason {
            q = q.bind(v);
        }
        if let Some(v) = c.reason {
            q = q.bind(v);
        }
        if let Some(v) = c.scope {
            q = q.bind(v.to_string());
        }
        if c.submitted {
            q = q.bind(now);
        }
        if c.decided {
            q = q.bind(now);
        }
        q.bind(id).execute(self.conn()).await?;
        Ok(())
    }

    /// Replaces the application's resources and the fields asked for of each.
    pub async fn set_application_items(&mut self, application_id: i64, items: &[(i64, Vec<String>)]) -> Result<()> {
        sqlx::query("DELETE FROM application_items WHERE application_id = $1")
            .bind(application_id)
            .execute(self.conn())
            .await?;
        for (resource_id, fields) in items {
            sqlx::query("INSERT INTO application_items (application_id, resource_id, fields) VALUES ($1, $2, $3)")
                .bind(application_id)
                .bind(resource_id)
                .bind(serde_json::json!(fields).to_string())
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    pub async fn insert_application_event(&mut self, e: &NewApplicationEvent<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO application_events (application_id, action, actor_id, actor, from_state, to_state, reason, \
             original_reason, details, due, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(e.application_id)
        .bind(e.action)
        .bind(e.actor_id)
        .bind(e.actor)
        .bind(e.from_state)
        .bind(e.to_state)
        .bind(e.reason)
        .bind(e.original_reason)
        .bind(e.details.as_ref().map(|d| d.to_string()))
        .bind(e.due)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_attachment(
        &mut self,
        application_id: i64,
        filename: &str,
        media_type: &str,
        object_key: &str,
        sha256: &str,
        size_bytes: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO application_attachments (application_id, filename, media_type, object_key, sha256, size_bytes, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(application_id)
        .bind(filename)
        .bind(media_type)
        .bind(object_key)
        .bind(sha256)
        .bind(size_bytes)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn delete_attachment(&mut self, application_id: i64, id: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM application_attachments WHERE id = $1 AND application_id = $2")
            .bind(id)
            .bind(application_id)
            .execute(self.conn())
            .await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn insert_grant(&mut self, g: &NewGrant<'_>) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO grants (application_id, resource_id, consumer_id, fields, valid_from, valid_to, methods, \
             row_filter, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $9) \
             RETURNING id",
        )
        .bind(g.application_id)
        .bind(g.resource_id)
        .bind(g.consumer_id)
        .bind(serde_json::json!(g.fields).to_string())
        .bind(g.valid_from)
        .bind(g.valid_to)
        .bind(serde_json::json!(g.methods).to_string())
        .bind(g.row_filter.map(|f| f.to_string()))
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    pub async fn grant_for_update(&mut self, id: i64) -> Result<Option<GrantRow>> {
        let lock = self.lock("g");
        let r = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE g.id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        r.as_ref().map(grant_row).transpose()
    }

    pub async fn set_grant_state(&mut self, id: i64, state: &str, revoke_reason: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE grants SET state = $1, revoke_reason = COALESCE($2, revoke_reason), updated_at = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(revoke_reason)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a new AppKey for the grant; earlier keys of the grant stop working.
    pub async fn replace_app_key(&mut self, grant_id: i64, prefix: &str, key_hash: &str) -> Result<i64> {
        let now = now_ms();
        sqlx::query("UPDATE app_keys SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(self.conn())
            .await?;
        Ok(sqlx::query_scalar(
            "INSERT INTO app_keys (grant_id, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(grant_id)
        .bind(prefix)
        .bind(key_hash)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }

    /// Moves a grant's validity window (`None` keeps a bound as it is).
    pub async fn set_grant_window(&mut self, id: i64, from: Option<&str>, to: Option<&str>) -> Result<()> {
        sqlx::query(
            "UPDATE grants SET valid_from = COALESCE($1, valid_from), valid_to = COALESCE($2, valid_to), \
             updated_at = $3 WHERE id = $4",
        )
        .bind(from)
        .bind(to)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stops every AppKey of the grant (revoked or expired grants).
    pub async fn revoke_app_keys(&mut self, grant_id: i64) -> Result<()> {
        sqlx::query("UPDATE app_keys SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(grant_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn insert_download(
        &mut self,
        resource_id: i64,
        distribution_id: i64,
        grant_id: Option<i64>,
        user_id: Option<i64>,
        bytes: i64,
        client_ip: Option<&str>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO downloads (resource_id, distribution_id, grant_id, user_id, bytes, client_ip, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(resource_id)
        .bind(distribution_id)
        .bind(grant_id)
        .bind(user_id)
        .bind(bytes)
        .bind(client_ip)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }
}

/// Which applications to list.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter<'a> {
    pub applicant_id: Option<i64>,
    pub provider_org_id: Option<i64>,
    pub states: &'a [&'a str],
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    pub async fn application(&self, id: i64) -> Result<Option<ApplicationRow>> {
        let r = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM {APP_FROM} WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(app_row).transpose()
    }

    /// Applications by applicant, provider and states; queues (with states) oldest submission
    /// first, otherwise newest first.
    pub async fn list_applications(&self, f: &ApplicationFilter<'_>) -> Result<Vec<ApplicationRow>> {
        let states = if f.states.is_empty() {
            String::new()
        } else {
            format!("AND a.state IN ({})", crate::placeholders(5, f.states.len()))
        };
        let order = if f.states.is_empty() {
            "a.id DESC"
        } else {
            "a.submitted_at, a.id"
        };
        let sql = format!(
            "SELECT {APP_COLUMNS} FROM {APP_FROM} WHERE ($1 = 0 OR a.applicant_id = $1) \
             AND ($2 = 0 OR a.provider_org_id = $2) {states} ORDER BY {order} LIMIT $3 OFFSET $4"
        );
        let mut q = sqlx::query(&sql)
            .bind(f.applicant_id.unwrap_or(0))
            .bind(f.provider_org_id.unwrap_or(0))
            .bind(if f.limit > 0 { f.limit } else { 100 })
            .bind(f.offset);
        for s in f.states {
            q = q.bind(*s);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(app_row).collect()
    }

    pub async fn application_items(&self, application_id: i64) -> Result<Vec<ApplicationItemRow>> {
        let rows = sqlx::query(
            "SELECT i.id, i.application_id, i.resource_id, r.code, r.title, i.fields FROM application_items i \
             JOIN resources r ON r.id = i.resource_id WHERE i.application_id = $1 ORDER BY i.id",
        )
        .bind(application_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApplicationItemRow {
                    id: r.try_get("id")?,
                    application_id: r.try_get("application_id")?,
                    resource_id: r.try_get("resource_id")?,
                    resource_code: r.try_get("code")?,
                    resource_title: r.try_get("title")?,
                    fields: list(r.try_get("fields")?),
                })
            })
            .collect()
    }

    pub async fn application_events(&self, application_id: i64) -> Result<Vec<ApplicationEventRow>> {
        let rows = sqlx::query(
            "SELECT id, application_id, action, actor_id, actor, from_state, to_state, reason, original_reason, \
             details, due, at FROM application_events WHERE application_id = $1 ORDER BY id",
        )
        .bind(application_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApplicationEventRow {
                    id: r.try_get("id")?,
                    application_id: r.try_get("application_id")?,
                    action: r.try_get("action")?,
                    actor_id: r.try_get("actor_id")?,
                    actor: r.try_get("actor")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    reason: r.try_get("reason")?,
                    original_reason: r.try_get("original_reason")?,
                    details: json(r.try_get("details")?),
                    due: r.try_get("due")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    pub async fn attachments(&self, application_id: i64) -> Result<Vec<AttachmentRow>> {
        let rows = sqlx::query(
            "SELECT id, application_id, filename, media_type, object_key, sha256, size_bytes, created_at \
             FROM application_attachments WHERE application_id = $1 ORDER BY id",
        )
        .bind(application_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttachmentRow {
                    id: r.try_get("id")?,
                    application_id: r.try_get("application_id")?,
                    filename: r.try_get("filename")?,
                    media_type: r.try_get("media_type")?,
                    object_key: r.try_get("object_key")?,
                    sha256: r.try_get("sha256")?,
                    size_bytes: r.try_get("size_bytes")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    pub async fn grant(&self, id: i64) -> Result<Option<GrantRow>> {
        let r = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE g.id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(grant_row).transpose()
    }

    /// Grants of a consumer (all resources), or to a resource (all consumers), newest first.
    pub async fn list_grants(&self, consumer_id: Option<i64>, resource_id: Option<i64>) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE ($1 = 0 OR g.consumer_id = $1) \
             AND ($2 = 0 OR g.resource_id = $2) ORDER BY g.id DESC LIMIT 500"
        ))
        .bind(consumer_id.unwrap_or(0))
        .bind(resource_id.unwrap_or(0))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(grant_row).collect()
    }

    /// Grants of an application.
    pub async fn application_grants(&self, application_id: i64) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE g.application_id = $1 ORDER BY g.id"
        ))
        .bind(application_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(grant_row).collect()
    }

    /// Active grants whose window ended before `today` (YYYY-MM-DD): the expiry job's work.
    pub async fn grants_past(&self, today: &str, limit: i64) -> Result<Vec<GrantRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS} FROM {GRANT_FROM} WHERE g.state = 'active' AND g.valid_to <> '' AND g.valid_to < $1 ORDER BY g.id LIMIT $2"
        ))
        .bind(today)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(grant_row).collect()
    }

    /// The grant an AppKey belongs to, when the key is current (one query); its use is recorded,
    /// at most once a minute per key: every data API call must not queue on the writer.
    pub async fn grant_by_app_key(&self, key_hash: &str) -> Result<Option<GrantRow>> {
        let r = sqlx::query(&format!(
            "SELECT {GRANT_COLUMNS}, k.last_used_at AS key_last_used_at FROM {GRANT_FROM} \
             JOIN app_keys k ON k.grant_id = g.id WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(self.reader())
        .await?;
        let Some(r) = r else { return Ok(None) };
        let last_used: Option<i64> = r.try_get("key_last_used_at")?;
        let now = now_ms();
        if last_used.is_none_or(|at| at < now - 60_000) {
            sqlx::query(
                "UPDATE app_keys SET last_used_at = $1 WHERE key_hash = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(now)
            .bind(key_hash)
            .bind(now - 60_000)
            .execute(&self.write)
            .await?;
        }
        grant_row(&r).map(Some)
    }

    /// The current AppKey's prefix and dates for a grant, when it has one.
    pub async fn app_key_of(&self, grant_id: i64) -> Result<Option<(String, i64, Option<i64>)>> {
        let r = sqlx::query(
            "SELECT prefix, created_at, last_used_at FROM app_keys WHERE grant_id = $1 AND revoked_at IS NULL",
        )
        .bind(grant_id)
        .fetch_optional(self.reader())
        .await?;
        r.map(|r| {
            Ok((
                r.try_get("prefix")?,
                r.try_get("created_at")?,
                r.try_get("last_used_at")?,
            ))
        })
        .transpose()
    }

    /// The bytes a streamed download sent, recorded once it finished (it is logged with 0 when
    /// it starts, so an interrupted one is still on record).
    pub async fn set_download_bytes(&self, id: i64, bytes: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE downloads SET bytes = $1 WHERE id = $2")
            .bind(bytes)
            .bind(id)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// A user's downloads, newest first.
    pub async fn downloads_of(&self, user_id: i64, limit: i64) -> Result<Vec<DownloadRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.resource_id, r.title, d.distribution_id, d.grant_id, d.user_id, d.bytes, d.at \
             FROM downloads d JOIN resources r ON r.id = d.resource_id WHERE d.user_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DownloadRow {
                    id: r.try_get("id")?,
                    resource_id: r.try_get("resource_id")?,
                    resource_title: r.try_get("title")?,
                    distribution_id: r.try_get("distribution_id")?,
                    grant_id: r.try_get("grant_id")?,
                    user_id: r.try_get("user_id")?,
                    bytes: r.try_get("bytes")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// How often each resource was downloaded.
    pub async fn download_counts(&self, resource_ids: &[i64]) -> Result<Vec<(i64, i64)>> {
        if resource_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT resource_id, COUNT(*) AS n FROM downloads WHERE resource_id IN ({}) GROUP BY resource_id",
            crate::placeholders(1, resource_ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in resource_ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("resource_id")?, r.try_get("n")?)))
            .collect()
    }
}
