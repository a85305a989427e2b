//! Resource (数据资源), distribution (挂接资源), review and catalogue-change queries.
//! States are stored as the core state machine's names; metadata as its JSON form.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_ms, Result, Store, Tx};

#[derive(Debug, Clone, Serialize)]
pub struct ResourceRow {
    pub id: i64,
    pub code: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub state: String,
    pub revision_state: String,
    pub title: String,
    pub open_type: String,
    pub meta: serde_json::Value,
    /// Metadata of a revision under review while the published version stays online.
    pub revision_meta: Option<serde_json::Value>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    /// The review deadline (YYYY-MM-DD, working days from submission).
    pub review_due: Option<String>,
    pub published_at: Option<i64>,
    pub withdrawn_reason: Option<String>,
}

/// What a state change writes.
#[derive(Debug, Clone, Default)]
pub struct ResourceStateChange<'a> {
    pub state: &'a str,
    pub revision_state: &'a str,
    pub submitted_at: Option<i64>,
    pub review_due: Option<String>,
    pub published_at: Option<i64>,
    pub withdrawn_reason: Option<String>,
}

const RESOURCE_COLUMNS: &str = "r.id, r.code, r.provider_org_id, o.name AS provider_name, r.state, r.revision_state, \
    r.title, r.open_type, r.meta, r.revision_meta, r.created_by, r.created_at, r.updated_at, r.submitted_at, \
    r.review_due, r.published_at, r.withdrawn_reason";
const RESOURCE_FROM: &str = "resources r JOIN organisations o ON o.id = r.provider_org_id";
/// The datastore table of the current data of the resource `resource` (an SQL expression of
/// this file, never input): the newest ready file distribution's, as `current_file` in the service.
fn current_table_sql(resource: &str) -> String {
    format!(
        "SELECT d.datastore_table FROM distributions d WHERE d.resource_id = {resource} \
         AND d.kind = 'file' AND d.state = 'ready' ORDER BY d.version DESC LIMIT 1"
    )
}

fn parse_json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

fn resource_row(r: &AnyRow) -> Result<ResourceRow> {
    Ok(ResourceRow {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        provider_org_id: r.try_get("provider_org_id")?,
        provider_name: r.try_get("provider_name")?,
        state: r.try_get("state")?,
        revision_state: r.try_get("revision_state")?,
        title: r.try_get("title")?,
        open_type: r.try_get("open_type")?,
        meta: parse_json(r.try_get("meta")?).unwrap_or_default(),
        revision_meta: parse_json(r.try_get("revision_meta")?),
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        submitted_at: r.try_get("submitted_at")?,
        review_due: r.try_get("review_due")?,
        published_at: r.try_get("published_at")?,
        withdrawn_reason: r.try_get("withdrawn_reason")?,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct DistributionRow {
    pub id: i64,
    pub resource_id: i64,
    pub version: i64,
    /// `file` or `api`.
    pub kind: String,
    pub title: String,
    /// `uploaded`, `ingesting`, `ready`, `failed`, or `superseded` by a newer version.
    pub state: String,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub object_key: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
    pub job_id: Option<i64>,
    pub report: Option<serde_json::Value>,
    pub masking: Option<serde_json::Value>,
    pub privacy_justification: Option<String>,
    pub datastore_table: Option<String>,
    pub api_url: Option<String>,
    pub api_method: Option<String>,
    pub api_params: Option<serde_json::Value>,
    pub api_doc: Option<String>,
    pub change_note: Option<String>,
    pub created_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The published copy of a loaded file: the masked data as UTF-8 CSV in object storage,
    /// the file downloads serve (never the original upload, which may hold unmasked data).
    pub export_key: Option<String>,
    pub export_sha256: Option<String>,
    pub export_bytes: Option<i64>,
}

/// A new distribution: a stored file, or an external API.
#[derive(Debug, Clone, Default)]
pub struct NewDistribution {
    pub resource_id: i64,
    pub kind: String,
    pub title: String,
    pub state: String,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub object_key: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub api_url: Option<String>,
    pub api_method: Option<String>,
    pub api_params: Option<serde_json::Value>,
    pub api_doc: Option<String>,
    pub change_note: Option<String>,
    pub created_by: i64,
}

const DIST_COLUMNS: &str = "id, resource_id, version, kind, title, state, filename, media_type, object_key, sha256, \
    size_bytes, row_count, job_id, report, masking, privacy_justification, datastore_table, api_url, api_method, \
    api_params, api_doc, change_note, created_by, created_at, updated_at, export_key, export_sha256, export_bytes";

fn dist_row(r: &AnyRow) -> Result<DistributionRow> {
    Ok(DistributionRow {
        id: r.try_get("id")?,
        resource_id: r.try_get("resource_id")?,
        version: r.try_get("version")?,
        kind: r.try_get("kind")?,
        title: r.try_get("title")?,
        state: r.try_get("state")?,
        filename: r.try_get("filename")?,
        media_type: r.try_get("media_type")?,
        object_key: r.try_get("object_key")?,
        sha256: r.try_get("sha256")?,
        size_bytes: r.try_get("size_bytes")?,
        row_count: r.try_get("row_count")?,
        job_id: r.try_get("job_id")?,
        report: parse_json(r.try_get("report")?),
        masking: parse_json(r.try_get("masking")?),
        privacy_justification: r.try_get("privacy_justification")?,
        datastore_table: r.try_get("datastore_table")?,
        api_url: r.try_get("api_url")?,
        api_method: r.try_get("api_method")?,
        api_params: parse_json(r.try_get("api_params")?),
        api_doc: r.try_get("api_doc")?,
        change_note: r.try_get("change_note")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        export_key: r.try_get("export_key")?,
        export_sha256: r.try_get("export_sha256")?,
        export_bytes: r.try_get("export_bytes")?,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewRow {
    pub id: i64,
    pub object_type: String,
    pub object_id: i64,
    pub stage: String,
    pub reviewer_id: i64,
    pub reviewer: String,
    pub decision: String,
    pub checklist: serde_json::Value,
    pub reasons: Option<String>,
    pub due: Option<String>,
    pub created_at: i64,
}

impl Tx {
    /// The next sequence number of a provider's resources (for the stable resource code).
    pub async fn next_resource_seq(&mut self, provider_org_id: i64) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM resources WHERE provider_org_id = $1")
                .bind(provider_org_id)
                .fetch_one(self.conn())
                .await?,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_resource(
        &mut self,
        code: &str,
        provider_org_id: i64,
        seq: i64,
        state: &str,
        title: &str,
        open_type: &str,
        meta: &serde_json::Value,
        created_by: i64,
    ) -> Result<i64> {
        let now = now_ms();
        sqlx::query_scalar(
            "INSERT INTO resources (code, provider_org_id, seq, state, revision_state, title, open_type, meta, \
             created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'none', $5, $6, $7, $8, $9, $9) RETURNING id",
        )
        .bind(code)
        .bind(provider_org_id)
        .bind(seq)
        .bind(state)
        .bind(title)
        .bind(open_type)
        .bind(meta.to_string())
        .bind(created_by)
        .bind(now)
        .fetch_one(self.conn())
        .await
        .map_err(|e| crate::conflict_on_unique(e, "resource_code_taken", "code"))
    }

    /// Reads a resource for a change, locking it on PostgreSQL until the transaction ends.
    pub async fn resource_for_update(&mut self, id: i64) -> Result<Option<ResourceRow>> {
        let lock = self.lock("r");
        let r = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE r.id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        r.as_ref().map(resource_row).transpose()
    }

    pub async fn update_resource_meta(
        &mut self,
        id: i64,
        title: &str,
        open_type: &str,
        meta: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query("UPDATE resources SET title = $1, open_type = $2, meta = $3, updated_at = $4 WHERE id = $5")
            .bind(title)
            .bind(open_type)
            .bind(meta.to_string())
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_revision_meta(&mut self, id: i64, meta: Option<&serde_json::Value>) -> Result<()> {
        sqlx::query("UPDATE resources SET revision_meta = $1, updated_at = $2 WHERE id = $3")
            .bind(meta.map(|m| m.to_string()))
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub async fn set_resource_state(&mut self, id: i64, c: &ResourceStateChange<'_>) -> Result<()> {
        sqlx::query(
            "UPDATE resources SET state = $1, revision_state = $2, submitted_at = $3, review_due = $4, \
             published_at = COALESCE($5, published_at), withdrawn_reason = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(c.state)
        .bind(c.revision_state)
        .bind(c.submitted_at)
        .bind(&c.review_due)
        .bind(c.published_at)
        .bind(&c.withdrawn_reason)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn delete_resource(&mut self, id: i64) -> Result<()> {
        sqlx::query("UPDATE plan_items SET resource_id = NULL WHERE resource_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM distributions WHERE resource_id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM resources WHERE id = $1")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Adds a distribution as the resource's next version.
    pub async fn insert_distribution(&mut self, d: &NewDistribution) -> Result<(i64, i64)> {
        let version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM distributions WHERE resource_id = $1")
                .bind(d.resource_id)
                .fetch_one(self.conn())
                .await?;
        let now = now_ms();
        let id = sqlx::query_scalar(
            "INSERT INTO distributions (resource_id, version, kind, title, state, filename, media_type, object_key, \
             sha256, size_bytes, api_url, api_method, api_params, api_doc, change_note, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) RETURNING id",
        )
        .bind(d.resource_id)
        .bind(version)
        .bind(&d.kind)
        .bind(&d.title)
        .bind(&d.state)
        .bind(&d.filename)
        .bind(&d.media_type)
        .bind(&d.object_key)
        .bind(&d.sha256)
        .bind(d.size_bytes)
        .bind(&d.api_url)
        .bind(&d.api_method)
        .bind(d.api_params.as_ref().map(|p| p.to_string()))
        .bind(&d.api_doc)
        .bind(&d.change_note)
        .bind(d.created_by)
        .bind(now)
        .fetch_one(self.conn())
        .await?;
        Ok((id, version))
    }

    pub async fn distribution(&mut self, id: i64) -> Result<Option<DistributionRow>> {
        let r = sqlx::query(&format!("SELECT {DIST_COLUMNS} FROM distributions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        r.as_ref().map(dist_row).transpose()
    }

    pub async fn set_distribution_job(&mut self, id: i64, state: &str, job_id: Option<i64>) -> Result<()> {
        sqlx::query("UPDATE distributions SET state = $1, job_id = $2, updated_at = $3 WHERE id = $4")
            .bind(state)
            .bind(job_id)
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Records the outcome of an ingest: its state, report, row count and datastore table.
    pub async fn set_distribution_ingest(
        &mut self,
        id: i64,
        state: &str,
        report: Option<&serde_json::Value>,
        row_count: Option<i64>,
        table: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE distributions SET state = $1, report = $2, row_count = $3, datastore_table = $4, updated_at = $5 \
             WHERE id = $6",
        )
        .bind(state)
        .bind(report.map(|r| r.to_string()))
        .bind(row_count)
        .bind(table)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn set_distribution_privacy(
        &mut self,
        id: i64,
        masking: Option<&serde_json::Value>,
        justification: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE distributions SET masking = $1, privacy_justification = $2, updated_at = $3 WHERE id = $4")
            .bind(masking.map(|m| m.to_string()))
            .bind(justification)
            .bind(now_ms())
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Older file versions stay listed but are no longer the current data.
    pub async fn supersede_distributions(&mut self, resource_id: i64, except: i64) -> Result<()> {
        sqlx::query(
            "UPDATE distributions SET state = 'superseded', updated_at = $1 \
             WHERE resource_id = $2 AND id <> $3 AND kind = 'file' AND state = 'ready'",
        )
        .bind(now_ms())
        .bind(resource_id)
        .bind(except)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn insert_review(
        &mut self,
        object_type: &str,
        object_id: i64,
        stage: &str,
        reviewer_id: i64,
        decision: &str,
        checklist: &serde_json::Value,
        reasons: Option<&str>,
        due: Option<&str>,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO reviews (object_type, object_id, stage, reviewer_id, decision, checklist, reasons, due, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(object_type)
        .bind(object_id)
        .bind(stage)
        .bind(reviewer_id)
        .bind(decision)
        .bind(checklist.to_string())
        .bind(reasons)
        .bind(due)
        .bind(now_ms())
        .fetch_one(self.conn())
        .await?)
    }

    /// Records the published copy of a loaded file.
    pub async fn set_distribution_export(&mut self, id: i64, key: &str, sha256: &str, bytes: i64) -> Result<()> {
        sqlx::query(
            "UPDATE distributions SET export_key = $1, export_sha256 = $2, export_bytes = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(key)
        .bind(sha256)
        .bind(bytes)
        .bind(now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Appends to the catalogue change log that search indexes follow.
    pub async fn catalogue_change(&mut self, resource_id: i64, change: &str) -> Result<()> {
        sqlx::query("INSERT INTO catalogue_changes (resource_id, change, at) VALUES ($1, $2, $3)")
            .bind(resource_id)
            .bind(change)
            .bind(now_ms())
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

/// One entry of the catalogue change log that search indexes follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueChange {
    pub seq: i64,
    pub resource_id: i64,
    pub change: String,
    /// Milliseconds since the epoch, when the change was written (not committed).
    pub at: i64,
}

/// Which resources to list.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter<'a> {
    pub provider_org_id: Option<i64>,
    pub state: Option<&'a str>,
    /// Resources with anything awaiting review (a submission or a revision), oldest first.
    pub review_queue: bool,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    pub async fn resource(&self, id: i64) -> Result<Option<ResourceRow>> {
        let r = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE r.id = $1"
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref().map(resource_row).transpose()
    }

    /// A resource with the datastore table of its current data (the newest ready file
    /// distribution's, `None` when there is none or it has no table), in one query.
    pub async fn resource_with_table(&self, id: i64) -> Result<Option<(ResourceRow, Option<String>)>> {
        let r = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS}, ({}) AS current_table FROM {RESOURCE_FROM} WHERE r.id = $1",
            current_table_sql("r.id")
        ))
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref()
            .map(|r| Ok((resource_row(r)?, r.try_get("current_table")?)))
            .transpose()
    }

    /// The datastore table of a resource's current data (see [`Store::resource_with_table`]).
    pub async fn current_datastore_table(&self, resource_id: i64) -> Result<Option<String>> {
        let t: Option<Option<String>> = sqlx::query_scalar(&current_table_sql("$1"))
            .bind(resource_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(t.flatten())
    }

    pub async fn resource_by_code(&self, code: &str) -> Result<Option<ResourceRow>> {
        let r = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE r.code = $1"
        ))
        .bind(code)
        .fetch_optional(self.reader())
        .await?;
        r.as_ref().map(resource_row).transpose()
    }

    pub async fn list_resources(&self, f: &ResourceFilter<'_>) -> Result<Vec<ResourceRow>> {
        let order = if f.review_queue {
            "r.submitted_at, r.id"
        } else {
            "r.updated_at DESC, r.id DESC"
        };
        let queue = if f.review_queue {
            "AND (r.state = 'pending_review' OR r.revision_state = 'pending_review')"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE ($1 = 0 OR r.provider_org_id = $1) \
             AND ($2 = '' OR r.state = $2) {queue} ORDER BY {order} LIMIT $3 OFFSET $4"
        ))
        .bind(f.provider_org_id.unwrap_or(0))
        .bind(f.state.unwrap_or(""))
        .bind(if f.limit > 0 { f.limit } else { 100 })
        .bind(f.offset)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(resource_row).collect()
    }

    pub async fn count_resources(&self, state: Option<&str>) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE ($1 = '' OR state = $1)")
                .bind(state.unwrap_or(""))
                .fetch_one(self.reader())
                .await?,
        )
    }

    pub async fn distributions(&self, resource_id: i64) -> Result<Vec<DistributionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {DIST_COLUMNS} FROM distributions WHERE resource_id = $1 ORDER BY version DESC"
        ))
        .bind(resource_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(dist_row).collect()
    }

    pub async fn distribution(&self, id: i64) -> Result<Option<DistributionRow>> {
        let r = sqlx::query(&format!("SELECT {DIST_COLUMNS} FROM distributions WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(dist_row).transpose()
    }

    pub async fn reviews(&self, object_type: &str, object_id: i64) -> Result<Vec<ReviewRow>> {
        let rows = sqlx::query(
            "SELECT v.id, v.object_type, v.object_id, v.stage, v.reviewer_id, u.display_name AS reviewer, v.decision, \
             v.checklist, v.reasons, v.due, v.created_at FROM reviews v JOIN users u ON u.id = v.reviewer_id \
             WHERE v.object_type = $1 AND v.object_id = $2 ORDER BY v.id DESC",
        )
        .bind(object_type)
        .bind(object_id)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReviewRow {
                    id: r.try_get("id")?,
                    object_type: r.try_get("object_type")?,
                    object_id: r.try_get("object_id")?,
                    stage: r.try_get("stage")?,
                    reviewer_id: r.try_get("reviewer_id")?,
                    reviewer: r.try_get("reviewer")?,
                    decision: r.try_get("decision")?,
                    checklist: parse_json(r.try_get("checklist")?).unwrap_or_default(),
                    reasons: r.try_get("reasons")?,
                    due: r.try_get("due")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The newest catalogue change's sequence number (0 when there is none).
    pub async fn catalogue_head(&self) -> Result<i64> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM catalogue_changes")
            .fetch_one(self.reader())
            .await?;
        Ok(head.unwrap_or(0))
    }

    /// Catalogue changes after `seq`, oldest first, with when each was written.
    pub async fn catalogue_changes_after(&self, seq: i64, limit: i64) -> Result<Vec<CatalogueChange>> {
        let rows = sqlx::query(
            "SELECT seq, resource_id, change, at FROM catalogue_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CatalogueChange {
                    seq: r.try_get("seq")?,
                    resource_id: r.try_get("resource_id")?,
                    change: r.try_get("change")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Published resources with ids after `after_id`, in id order: a batch for a full reindex.
    pub async fn published_after(&self, after_id: i64, limit: i64) -> Result<Vec<ResourceRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE r.state = 'published' AND r.id > $1 \
             ORDER BY r.id LIMIT $2"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(resource_row).collect()
    }

    /// Distributions offered now (`ready`) of the resources with ids in `from..=to`.
    pub async fn ready_distributions_between(&self, from: i64, to: i64) -> Result<Vec<DistributionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {DIST_COLUMNS} FROM distributions WHERE resource_id BETWEEN $1 AND $2 AND state = 'ready' \
             ORDER BY resource_id, version DESC"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(dist_row).collect()
    }

    /// The resources with these ids (unknown ids are left out), in no particular order.
    pub async fn resources_by_ids(&self, ids: &[i64]) -> Result<Vec<ResourceRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {RESOURCE_COLUMNS} FROM {RESOURCE_FROM} WHERE r.id IN ({})",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(resource_row).collect()
    }

    /// Which of these resources are published now: one indexed read, for leaving out of search
    /// results what was withdrawn since the search index last caught up.
    pub async fn published_among(&self, ids: &[i64]) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id FROM resources WHERE state = 'published' AND id IN ({})",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(self.reader()).await?)
    }

    /// Distributions offered now (`ready`) of the resources with these ids.
    pub async fn ready_distributions_of(&self, ids: &[i64]) -> Result<Vec<DistributionRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {DIST_COLUMNS} FROM distributions WHERE state = 'ready' AND resource_id IN ({}) \
             ORDER BY resource_id, version DESC",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(dist_row).collect()
    }

    /// Catalogue changes after `seq`, oldest first: `(seq, resource_id, change)`.
    pub async fn catalogue_changes_since(&self, seq: i64, limit: i64) -> Result<Vec<(i64, i64, String)>> {
        let rows =
            sqlx::query("SELECT seq, resource_id, change FROM catalogue_changes WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(seq)
                .bind(limit)
                .fetch_all(self.reader())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("seq")?, r.try_get("resource_id")?, r.try_get("change")?)))
            .collect()
    }
}
