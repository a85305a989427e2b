//! Security management queries (§7 of the standard): the audit browser's filtered, keyset-paged
//! search; the download trace (下载追溯) per resource and per grant; and the destruction (销毁)
//! of data versions past retention, with the record of what was destroyed.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::AuditRow;
use crate::datastore::{quote, CATALOG_SQL};
use crate::{now_ms, Result, Store, Tx};

/// A value bound to a dynamically built query.
enum Bind {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(*v),
            Bind::Text(v) => q.bind(v.as_str()),
        };
    }
    q
}

/// Conditions joined with AND, with their `$n` placeholders numbered as they are added.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    fn push(&mut self, template: &str, value: Bind) {
        self.binds.push(value);
        self.sql.push(template.replace('?', &format!("${}", self.binds.len())));
    }

    fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}

/// What the audit browser asks for; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// The actor's label exactly (a login, `console:…`, `system:…`).
    pub actor: Option<String>,
    /// The action exactly, or every action starting with it when it ends with `.`
    /// (e.g. `resource.`).
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// Events at or after this time (ms).
    pub from_ms: Option<i64>,
    /// Events before this time (ms).
    pub to_ms: Option<i64>,
    /// Keyset paging: only events with a smaller sequence number.
    pub before_seq: Option<i64>,
}

/// One page of the audit browser, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct AuditPage {
    pub events: Vec<AuditRow>,
    /// The `before_seq` of the next (older) page, when there is one.
    pub next_before: Option<i64>,
}

fn audit_row(r: &AnyRow) -> Result<AuditRow> {
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
}

/// A download as the trace shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DownloadTraceRow {
    pub id: i64,
    pub at: i64,
    pub resource_id: i64,
    pub resource_title: String,
    pub distribution_id: i64,
    pub version: i64,
    pub grant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub user_login: Option<String>,
    pub user_name: Option<String>,
    pub bytes: i64,
    pub client_ip: Option<String>,
}

/// Which downloads the trace shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct DownloadFilter {
    pub resource_id: Option<i64>,
    pub grant_id: Option<i64>,
    /// Keyset paging: only downloads with a smaller id.
    pub before_id: Option<i64>,
}

/// One AppKey of a grant, current or revoked.
#[derive(Debug, Clone, Serialize)]
pub struct AppKeyTraceRow {
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A stored file version that may fall due for destruction: every loaded-file version of a
/// withdrawn resource, and superseded versions of any resource.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleCandidate {
    pub distribution_id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub resource_state: String,
    /// When the resource last changed state (its withdrawal, for a withdrawn one).
    pub resource_changed_at: i64,
    pub version: i64,
    pub state: String,
    /// When the version last changed state (its supersession, for a superseded one).
    pub changed_at: i64,
    pub title: String,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
    pub datastore_table: Option<String>,
    pub object_key: Option<String>,
    pub export_key: Option<String>,
}

/// A destruction as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct DestructionRow {
    pub id: i64,
    pub distribution_id: i64,
    pub resource_id: i64,
    pub resource_title: String,
    pub version: i64,
    pub reason: String,
    pub datastore_table: Option<String>,
    pub files: Vec<String>,
    pub actor: String,
    pub audit_seq: i64,
    pub destroyed_at: i64,
    pub files_deleted_at: Option<i64>,
    pub file_error: Option<String>,
}

/// What a destruction writes.
#[derive(Debug, Clone)]
pub struct NewDestruction<'a> {
    pub distribution_id: i64,
    pub resource_id: i64,
    pub version: i64,
    pub reason: &'a str,
    pub datastore_table: Option<&'a str>,
    pub files: &'a [String],
    pub actor: &'a str,
    pub audit_seq: i64,
}

const CANDIDATE_SQL: &str =
    "SELECT d.id, d.resource_id, r.code, r.title AS resource_title, r.state AS resource_state, \
    r.updated_at AS resource_changed_at, d.version, d.state, d.updated_at, d.title, d.size_bytes, d.row_count, \
    d.datastore_table, d.object_key, d.export_key \
    FROM distributions d JOIN resources r ON r.id = d.resource_id \
    WHERE d.kind = 'file' AND d.state NOT IN ('destroyed', 'uploaded', 'ingesting') \
    AND (d.state = 'superseded' OR r.state = 'withdrawn')";

fn candidate(r: &AnyRow) -> Result<LifecycleCandidate> {
    Ok(LifecycleCandidate {
        distribution_id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        resource_code: r.try_get("code")?,
        resource_title: r.try_get("resource_title")?,
        resource_state: r.try_get("resource_state")?,
        resource_changed_at: r.try_get("resource_changed_at")?,
        version: r.try_get("version")?,
        state: r.try_get("state")?,
        changed_at: r.try_get("updated_at")?,
        title: r.try_get("title")?,
        size_bytes: r.try_get("size_bytes")?,
        row_count: r.try_get("row_count")?,
        datastore_table: r.try_get("datastore_table")?,
        object_key: r.try_get("object_key")?,
        export_key: r.try_get("export_key")?,
    })
}

fn destruction(r: &AnyRow) -> Result<DestructionRow> {
    let files: String = r.try_get("files")?;
    Ok(DestructionRow {
        id: r.try_get("id")?,
        distribution_id: r.try_get("distribution_id")?,
        resource_id: r.try_get("resource_id")?,
        resource_title: r.try_get("resource_title")?,
        version: r.try_get("version")?,
        reason: r.try_get("reason")?,
        datastore_table: r.try_get("datastore_table")?,
        files: serde_json::from_str(&files).unwrap_or_default(),
        actor: r.try_get("actor")?,
        audit_seq: r.try_get("audit_seq")?,
        destroyed_at: r.try_get("destroyed_at")?,
        files_deleted_at: r.try_get("files_deleted_at")?,
        file_error: r.try_get("file_error")?,
    })
}

const DESTRUCTION_SQL: &str = "SELECT x.id, x.distribution_id, x.resource_id, r.title AS resource_title, x.version, \
    x.reason, x.datastore_table, x.files, x.actor, x.audit_seq, x.destroyed_at, x.files_deleted_at, x.file_error \
    FROM destructions x JOIN resources r ON r.id = x.resource_id";

impl Store {
    /// The audit events matching `f`, newest first, at most `limit` (keyset paging on `seq`).
    pub async fn search_audit(&self, f: &AuditFilter, limit: i64) -> Result<AuditPage> {
        let mut c = Conditions::default();
        if let Some(actor) = &f.actor {
            c.push("actor = ?", Bind::Text(actor.clone()));
        }
        match f.action.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                c.push(
                    &format!("substr(action, 1, {}) = ?", prefix.chars().count()),
                    Bind::Text(prefix.to_string()),
                );
            }
            Some(action) => c.push("action = ?", Bind::Text(action.to_string())),
            None => {}
        }
        if let Some(t) = &f.object_type {
            c.push("object_type = ?", Bind::Text(t.clone()));
        }
        if let Some(id) = &f.object_id {
            c.push("object_id = ?", Bind::Text(id.clone()));
        }
        if let Some(from) = f.from_ms {
            c.push("at >= ?", Bind::Int(from));
        }
        if let Some(to) = f.to_ms {
            c.push("at < ?", Bind::Int(to));
        }
        if let Some(before) = f.before_seq {
            c.push("seq < ?", Bind::Int(before));
        }
        let sql = format!(
            "SELECT seq, at, actor, action, object_type, object_id, before_state, after_state, client_ip \
             FROM audit_events{} ORDER BY seq DESC LIMIT {}",
            c.where_clause(),
            limit + 1
        );
        let rows = bind_all(sqlx::query(&sql), &c.binds).fetch_all(self.reader()).await?;
        let mut events = rows.iter().map(audit_row).collect::<Result<Vec<_>>>()?;
        let more = events.len() as i64 > limit;
        events.truncate(limit.max(0) as usize);
        let next_before = if more { events.last().map(|e| e.seq) } else { None };
        Ok(AuditPage { events, next_before })
    }

    /// The chain's head: the last sequence number and its hash.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let r = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.reader())
            .await?;
        Ok((r.try_get("seq")?, r.try_get("hash")?))
    }

    /// Downloads matching `f`, newest first, at most `limit`; the second value is the
    /// `before_id` of the next page.
    pub async fn download_trace(&self, f: DownloadFilter, limit: i64) -> Result<(Vec<DownloadTraceRow>, Option<i64>)> {
        let mut c = Conditions::default();
        if let Some(id) = f.resource_id {
            c.push("dl.resource_id = ?", Bind::Int(id));
        }
        if let Some(id) = f.grant_id {
            c.push("dl.grant_id = ?", Bind::Int(id));
        }
        if let Some(id) = f.before_id {
            c.push("dl.id < ?", Bind::Int(id));
        }
        let sql = format!(
            "SELECT dl.id, dl.at, dl.resource_id, r.title, dl.distribution_id, d.version, dl.grant_id, dl.user_id, \
             u.login, u.display_name, dl.bytes, dl.client_ip \
             FROM downloads dl JOIN resources r ON r.id = dl.resource_id \
             JOIN distributions d ON d.id = dl.distribution_id LEFT JOIN users u ON u.id = dl.user_id{} \
             ORDER BY dl.id DESC LIMIT {}",
            c.where_clause(),
            limit + 1
        );
        let rows = bind_all(sqlx::query(&sql), &c.binds).fetch_all(self.reader()).await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(DownloadTraceRow {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    resource_id: r.try_get("resource_id")?,
                    resource_title: r.try_get("title")?,
                    distribution_id: r.try_get("distribution_id")?,
                    version: r.try_get("version")?,
                    grant_id: r.try_get("grant_id")?,
                    user_id: r.try_get("user_id")?,
                    user_login: r.try_get("login")?,
                    user_name: r.try_get("display_name")?,
                    bytes: r.try_get("bytes")?,
                    client_ip: r.try_get("client_ip")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let more = out.len() as i64 > limit;
        out.truncate(limit.max(0) as usize);
        let next = if more { out.last().map(|d| d.id) } else { None };
        Ok((out, next))
    }

    /// Every AppKey a grant has had, newest first, with its last use.
    pub async fn app_keys_of_grant(&self, grant_id: i64) -> Result<Vec<AppKeyTraceRow>> {
        let rows = sqlx::query(
            "SELECT prefix, created_at, revoked_at, last_used_at FROM app_keys WHERE grant_id = $1 ORDER BY id DESC",
        )
        .bind(grant_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AppKeyTraceRow {
                    prefix: r.try_get("prefix")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                })
            })
            .collect()
    }

    /// Every stored file version that is, or will be, due for destruction.
    pub async fn lifecycle_candidates(&self) -> Result<Vec<LifecycleCandidate>> {
        let rows = sqlx::query(&format!("{CANDIDATE_SQL} ORDER BY d.id"))
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(candidate).collect()
    }

    /// The destructions, newest first.
    pub async fn destructions(&self, limit: i64) -> Result<Vec<DestructionRow>> {
        let rows = sqlx::query(&format!("{DESTRUCTION_SQL} ORDER BY x.id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(destruction).collect()
    }

    /// Destructions whose files are not all deleted yet, oldest first.
    pub async fn destructions_with_files_left(&self) -> Result<Vec<DestructionRow>> {
        let rows = sqlx::query(&format!(
            "{DESTRUCTION_SQL} WHERE x.files_deleted_at IS NULL ORDER BY x.id"
        ))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(destruction).collect()
    }

    /// Whether anything the platform still keeps points at this object: a distribution's
    /// upload or published copy, an application's attachment, a showcase's screenshot.
    pub async fn file_referenced(&self, key: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM distributions WHERE object_key = $1 OR export_key = $1) \
             + (SELECT COUNT(*) FROM application_attachments WHERE object_key = $1) \
             + (SELECT COUNT(*) FROM showcases WHERE screenshot_key = $1)",
        )
        .bind(key)
        .fetch_one(self.reader())
        .await?;
        Ok(n > 0)
    }

    /// Records how deleting a destruction's files went: done, or the error to retry after.
    pub async fn set_destruction_files(&self, id: i64, error: Option<&str>) -> Result<()> {
        let done = error.is_none().then(now_ms);
        sqlx::query("UPDATE destructions SET files_deleted_at = $1, file_error = $2 WHERE id = $3")
            .bind(done)
            .bind(error)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Forgets the cached columns of a dropped datastore table (after the drop committed).
    pub fn forget_datastore_columns(&self, table: &str) {
        self.columns.invalidate(table);
    }
}

impl Tx {
    /// A candidate re-read inside the transaction, locking the version on PostgreSQL.
    pub async fn lifecycle_candidate_for_update(&mut self, distribution_id: i64) -> Result<Option<LifecycleCandidate>> {
        let lock = self.lock("d");
        let r = sqlx::query(&format!("{CANDIDATE_SQL} AND d.id = $1{lock}"))
            .bind(distribution_id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(candidate).transpose()
    }

    /// 销毁 — marks a version destroyed (its keys and table forgotten), drops its datastore table
    /// with its column map, and records the destruction; all in this transaction.
    pub async fn destroy_distribution(&mut self, d: &NewDestruction<'_>) -> Result<i64> {
        let now = now_ms();
        sqlx::query(
            "UPDATE distributions SET state = 'destroyed', object_key = NULL, export_key = NULL, \
             export_sha256 = NULL, export_bytes = NULL, datastore_table = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(d.distribution_id)
        .execute(self.conn())
        .await?;
        if let Some(table) = d.datastore_table {
            crate::datastore::check_table(table)?;
            sqlx::query(CATALOG_SQL).execute(self.conn()).await?;
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", quote(table)))
                .execute(self.conn())
                .await?;
            sqlx::query("DELETE FROM datastore_columns WHERE table_name = $1")
                .bind(table)
                .execute(self.conn())
                .await?;
        }
        let files = serde_json::to_string(d.files).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_scalar(
            "INSERT INTO destructions (distribution_id, resource_id, version, reason, datastore_table, files, actor, \
             audit_seq, destroyed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(d.distribution_id)
        .bind(d.resource_id)
        .bind(d.version)
        .bind(d.reason)
        .bind(d.datastore_table)
        .bind(files)
        .bind(d.actor)
        .bind(d.audit_seq)
        .bind(now)
        .fetch_one(self.conn())
        .await?)
    }
}
