//! `/api/v1` security management (§7): the audit browser, the download trace of a resource and
//! of a grant, and destruction of data past retention (销毁).

use axum::extract::{Path, Query, State};
use axum::Json;
use pubdata_core::security::AuditQueryInput;
use pubdata_service::{lifecycle, security};
use pubdata_store::{AppKeyTraceRow, DestructionRow, DownloadTraceRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::accounts::AuditEventDto;
use super::ErrorBody;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

/// Filters of the audit browser; all optional and combined with AND.
#[derive(Deserialize, IntoParams, Default)]
#[serde(default)]
pub struct AuditParams {
    /// The actor exactly: a login, `console:…` or `system:…`.
    pub actor: String,
    /// An action (`resource.approve`), or every action starting with a prefix ending in `.`
    /// (`resource.`).
    pub action: String,
    /// The object's type, e.g. `resource`, `grant`, `distribution`.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// First day, YYYY-MM-DD, China Standard Time.
    pub from: String,
    /// Last day (inclusive), YYYY-MM-DD, China Standard Time.
    pub to: String,
    /// The next page: events with a sequence number below this (`next_before` of a page).
    pub before: String,
    /// Events per page, 1–1000 (default 100).
    pub limit: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPageDto {
    /// Newest first.
    pub events: Vec<AuditEventDto>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
    /// The chain's head: the last sequence number and its hash.
    pub head_seq: i64,
    pub head_hash: String,
}

/// Audit events matching the filters, newest first, paged by sequence number.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditParams), responses(
    (status = 200, body = AuditPageDto, description = "one page, newest first"),
    (status = 403, body = ErrorBody, description = "not allowed"),
    (status = 422, body = ErrorBody, description = "a filter is invalid, e.g. a malformed date")))]
pub async fn audit(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<AuditParams>,
) -> AppResult<Json<AuditPageDto>> {
    let input = AuditQueryInput {
        actor: q.actor,
        action: q.action,
        object_type: q.object_type,
        object_id: q.object_id,
        from: q.from,
        to: q.to,
        before: q.before,
        limit: q.limit,
    };
    let b = security::browse_audit(&app.store, &ctx.caller, &input).await?;
    Ok(Json(AuditPageDto {
        events: b.page.events.into_iter().map(AuditEventDto::from).collect(),
        next_before: b.page.next_before,
        head_seq: b.head_seq,
        head_hash: b.head_hash,
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct TraceParams {
    /// The next page: downloads with an id below this (`next_before` of a page).
    pub before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DownloadDto {
    pub id: i64,
    /// When (ms since the epoch).
    pub at: i64,
    pub resource_id: i64,
    pub resource_title: String,
    pub distribution_id: i64,
    /// The data version downloaded.
    pub version: i64,
    /// The grant it was made under; null for staff and open downloads.
    pub grant_id: Option<i64>,
    pub user_id: Option<i64>,
    pub user_login: Option<String>,
    pub user_name: Option<String>,
    pub bytes: i64,
    pub client_ip: Option<String>,
}

impl From<DownloadTraceRow> for DownloadDto {
    fn from(d: DownloadTraceRow) -> Self {
        DownloadDto {
            id: d.id,
            at: d.at,
            resource_id: d.resource_id,
            resource_title: d.resource_title,
            distribution_id: d.distribution_id,
            version: d.version,
            grant_id: d.grant_id,
            user_id: d.user_id,
            user_login: d.user_login,
            user_name: d.user_name,
            bytes: d.bytes,
            client_ip: d.client_ip,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DownloadTraceDto {
    /// Newest first.
    pub downloads: Vec<DownloadDto>,
    pub next_before: Option<i64>,
}

/// 下载追溯 — who downloaded a resource's data (the administration institution and the providing
/// department's staff).
#[utoipa::path(get, path = "/resources/{id}/downloads", tag = "security", params(("id" = i64, Path), TraceParams),
    responses(
    (status = 200, body = DownloadTraceDto, description = "newest first"),
    (status = 403, body = ErrorBody, description = "not the administration institution or the providing department"),
    (status = 404, body = ErrorBody, description = "no such resource")))]
pub async fn resource_downloads(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<TraceParams>,
) -> AppResult<Json<DownloadTraceDto>> {
    let (_, t) = security::resource_downloads(&app.store, &ctx.caller, id, q.before).await?;
    Ok(Json(DownloadTraceDto {
        downloads: t.downloads.into_iter().map(DownloadDto::from).collect(),
        next_before: t.next_before,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AppKeyUseDto {
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// When the data API last accepted it (to the minute); null when never.
    pub last_used_at: Option<i64>,
}

impl From<AppKeyTraceRow> for AppKeyUseDto {
    fn from(k: AppKeyTraceRow) -> Self {
        AppKeyUseDto {
            prefix: k.prefix,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GrantTraceDto {
    pub grant_id: i64,
    pub resource_id: i64,
    pub consumer_id: i64,
    pub state: String,
    /// Every AppKey the grant has had, newest first.
    pub app_keys: Vec<AppKeyUseDto>,
    pub downloads: Vec<DownloadDto>,
    pub next_before: Option<i64>,
}

/// The downloads made under a grant and its AppKeys' last use (the administration institution,
/// the providing department's staff and the grant's consumer).
#[utoipa::path(get, path = "/grants/{id}/downloads", tag = "security", params(("id" = i64, Path), TraceParams),
    responses(
    (status = 200, body = GrantTraceDto, description = "newest first"),
    (status = 404, body = ErrorBody, description = "no such grant, or not the caller's to see")))]
pub async fn grant_downloads(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<TraceParams>,
) -> AppResult<Json<GrantTraceDto>> {
    let g = security::grant_downloads(&app.store, &ctx.caller, id, q.before).await?;
    Ok(Json(GrantTraceDto {
        grant_id: g.grant.id,
        resource_id: g.grant.resource_id,
        consumer_id: g.grant.consumer_id,
        state: g.grant.state,
        app_keys: g.app_keys.into_iter().map(AppKeyUseDto::from).collect(),
        downloads: g.trace.downloads.into_iter().map(DownloadDto::from).collect(),
        next_before: g.trace.next_before,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PlannedDto {
    pub distribution_id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub version: i64,
    /// `withdrawn` (the resource was withdrawn) or `superseded` (a newer version replaced it).
    pub reason: String,
    /// When it falls due (ms); null when that kind is kept forever.
    pub due_at: Option<i64>,
    /// Due now: the next run destroys it, or destroy it at once.
    pub due: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DestructionDto {
    pub id: i64,
    pub distribution_id: i64,
    pub resource_id: i64,
    pub version: i64,
    pub reason: String,
    pub datastore_table: Option<String>,
    /// Object keys deleted (or to delete).
    pub files: Vec<String>,
    pub actor: String,
    /// The audit event recording it.
    pub audit_seq: i64,
    pub destroyed_at: i64,
    /// When every file was gone; null while a deletion is still to be retried.
    pub files_deleted_at: Option<i64>,
    pub file_error: Option<String>,
}

impl From<DestructionRow> for DestructionDto {
    fn from(d: DestructionRow) -> Self {
        DestructionDto {
            id: d.id,
            distribution_id: d.distribution_id,
            resource_id: d.resource_id,
            version: d.version,
            reason: d.reason,
            datastore_table: d.datastore_table,
            files: d.files,
            actor: d.actor,
            audit_seq: d.audit_seq,
            destroyed_at: d.destroyed_at,
            files_deleted_at: d.files_deleted_at,
            file_error: d.file_error,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LifecycleDto {
    pub withdrawn_retention_days: u32,
    pub superseded_retention_days: u32,
    /// Stored versions that are or will be due, soonest first.
    pub planned: Vec<PlannedDto>,
    /// The latest destructions, newest first.
    pub destroyed: Vec<DestructionDto>,
}

/// 销毁 — what is due for destruction and what was destroyed (the administration institution's
/// manager and sysadmin).
#[utoipa::path(get, path = "/lifecycle", tag = "security", responses(
    (status = 200, body = LifecycleDto, description = "due and destroyed"),
    (status = 403, body = ErrorBody, description = "not allowed")))]
pub async fn lifecycle(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<LifecycleDto>> {
    let o = lifecycle::overview(&app.store, &ctx.caller, &app.config.lifecycle, pubdata_store::now_ms()).await?;
    Ok(Json(LifecycleDto {
        withdrawn_retention_days: o.retention.withdrawn_retention_days,
        superseded_retention_days: o.retention.superseded_retention_days,
        planned: o
            .planned
            .into_iter()
            .map(|p| PlannedDto {
                distribution_id: p.candidate.distribution_id,
                resource_id: p.candidate.resource_id,
                resource_code: p.candidate.resource_code,
                resource_title: p.candidate.resource_title,
                version: p.candidate.version,
                reason: p.reason.as_str().into(),
                due_at: p.due_at,
                due: p.due,
            })
            .collect(),
        destroyed: o.destroyed.into_iter().map(DestructionDto::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct DestroyedDto {
    /// The destruction's id.
    pub destruction_id: i64,
}

/// Destroys a due data version now: its datastore table and files, recorded in the audit chain.
#[utoipa::path(post, path = "/lifecycle/distributions/{id}/destroy", tag = "security", params(("id" = i64, Path)),
    responses(
    (status = 200, body = DestroyedDto, description = "destroyed"),
    (status = 403, body = ErrorBody, description = "not allowed"),
    (status = 409, body = ErrorBody, description = "not due for destruction (code `not_due_for_destruction`)")))]
pub async fn destroy(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<DestroyedDto>> {
    let destruction_id = lifecycle::destroy_now(
        &app.store,
        &app.files,
        &ctx.caller,
        id,
        &app.config.lifecycle,
        pubdata_store::now_ms(),
    )
    .await?;
    Ok(Json(DestroyedDto { destruction_id }))
}
