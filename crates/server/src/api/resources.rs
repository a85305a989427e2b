//! `/api/v1/resources`, `/api/v1/plans` and `/api/v1/review-queue`: preparing, reviewing and
//! publishing resources (steps 1–3) through the same services as the web UI.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use pubdata_core::metadata::NewResourceMeta;
use pubdata_core::plan::{ItemAction, NewPlan, NewPlanItem};
use pubdata_core::resource::ReviewChecklist;
use pubdata_core::DomainError;
use pubdata_service::ingest::{self, NewApi, UploadInfo};
use pubdata_service::plans;
use pubdata_service::resources::{self, Decision, Resource};
use pubdata_store::{DistributionRow, PlanItemRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct ResourceDto {
    pub id: i64,
    /// 资源代码 `{region}-{provider code}-{seq}`.
    pub code: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    /// draft, pending_review, returned, published, withdrawn.
    pub state: String,
    /// none, pending_review, returned: a revision of a published resource.
    pub revision_state: String,
    /// The metadata (DESIGN §3).
    #[schema(value_type = Object)]
    pub meta: serde_json::Value,
    /// The revision's working copy, when there is one.
    #[schema(value_type = Option<Object>)]
    pub revision_meta: Option<serde_json::Value>,
    pub review_due: Option<String>,
    pub published_at: Option<i64>,
    pub withdrawn_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Resource> for ResourceDto {
    fn from(r: Resource) -> Self {
        let row = r.row;
        ResourceDto {
            id: row.id,
            code: row.code,
            provider_org_id: row.provider_org_id,
            provider_name: row.provider_name,
            state: row.state,
            revision_state: row.revision_state,
            meta: row.meta,
            revision_meta: row.revision_meta,
            review_due: row.review_due,
            published_at: row.published_at,
            withdrawn_reason: row.withdrawn_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DistributionDto {
    pub id: i64,
    pub version: i64,
    /// `file` or `api`.
    pub kind: String,
    pub title: String,
    /// uploaded, ingesting, ready, failed, superseded.
    pub state: String,
    pub filename: Option<String>,
    pub media_type: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    pub row_count: Option<i64>,
    /// The ingest report: profile, quality audit and privacy findings (never values).
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    pub api_url: Option<String>,
    pub api_method: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub api_params: Option<serde_json::Value>,
    pub change_note: Option<String>,
    pub created_at: i64,
    /// While ingesting: rows and bytes read so far.
    #[schema(value_type = Option<Object>)]
    pub progress: Option<serde_json::Value>,
}

impl From<DistributionRow> for DistributionDto {
    fn from(d: DistributionRow) -> Self {
        DistributionDto {
            id: d.id,
            version: d.version,
            kind: d.kind,
            title: d.title,
            state: d.state,
            filename: d.filename,
            media_type: d.media_type,
            sha256: d.sha256,
            size_bytes: d.size_bytes,
            row_count: d.row_count,
            report: d.report,
            api_url: d.api_url,
            api_method: d.api_method,
            api_params: d.api_params,
            change_note: d.change_note,
            created_at: d.created_at,
            progress: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewResourceDto {
    pub provider_org_id: i64,
    /// The plan item the resource fulfils.
    pub plan_item_id: Option<i64>,
    /// Metadata as text values (see the field list in DESIGN §3); `fields` is the 数据项 list.
    #[schema(value_type = Object)]
    pub meta: NewResourceMeta,
}

#[derive(Deserialize, ToSchema)]
pub struct MetaDto {
    #[schema(value_type = Object)]
    pub meta: NewResourceMeta,
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionDto {
    /// `approve` or `return`.
    pub decision: String,
    /// 合规性 / 可用性 / 安全性, each `{"pass": bool, "note": "…"}`.
    #[schema(value_type = Object)]
    pub checklist: ReviewChecklist,
    /// Reasons for a return, one per entry.
    #[serde(default)]
    pub reasons: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReasonDto {
    pub reason: String,
}

#[derive(Deserialize, IntoParams)]
pub struct ResourceQuery {
    /// A provider's resources (its staff and the administration institution); omit for the
    /// published catalogue.
    pub provider_org_id: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

async fn dto(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<ResourceDto>> {
    Ok(Json(resources::get(&app.store, &ctx.caller, id).await?.into()))
}

/// Resources: a provider's own, or the published catalogue.
#[utoipa::path(get, path = "/resources", operation_id = "list_resources", tag = "resources", params(ResourceQuery),
    responses((status = 200, body = [ResourceDto], description = "resources"),
    (status = 403, body = ErrorBody, description = "not staff of that provider")))]
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ResourceQuery>,
) -> AppResult<Json<Vec<ResourceDto>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(
            DomainError::Validation(vec![pubdata_core::FieldError::new("limit", "range")
                .with("min", 1)
                .with("max", 500)])
            .into(),
        );
    }
    let rows = match q.provider_org_id {
        Some(org) => resources::list_for_provider(&app.store, &ctx.caller, org).await?,
        None => resources::catalogue(&app.store, limit, q.offset.unwrap_or(0).max(0)).await?,
    };
    Ok(Json(rows.into_iter().map(ResourceDto::from).collect()))
}

/// Creates a draft resource for a provider department.
#[utoipa::path(post, path = "/resources", operation_id = "create_resource", tag = "resources", request_body = NewResourceDto,
    responses((status = 201, body = ResourceDto, description = "the draft"),
    (status = 403, body = ErrorBody, description = "not an editor of that provider"),
    (status = 422, body = ErrorBody, description = "invalid metadata, every field listed")))]
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<NewResourceDto>,
) -> AppResult<impl IntoResponse> {
    let id = resources::create_with(
        &app.store,
        &ctx.caller,
        d.provider_org_id,
        &d.meta,
        d.plan_item_id,
        &app.config.security,
    )
    .await?;
    Ok((StatusCode::CREATED, dto(&app, &ctx, id).await?))
}

/// One resource (unpublished ones only for their provider's staff and the administration institution).
#[utoipa::path(get, path = "/resources/{id}", operation_id = "get_resource", tag = "resources", params(("id" = i64, Path)),
    responses((status = 200, body = ResourceDto, description = "the resource"),
    (status = 404, body = ErrorBody, description = "no such resource visible to the caller")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ResourceDto>> {
    dto(&app, &ctx, id).await
}

/// Replaces the metadata of a draft, or of the revision working copy of a published resource.
#[utoipa::path(put, path = "/resources/{id}", operation_id = "update_resource", tag = "resources", params(("id" = i64, Path)),
    request_body = MetaDto, responses((status = 200, body = ResourceDto, description = "updated"),
    (status = 409, body = ErrorBody, description = "not editable in its state (e.g. under review)"),
    (status = 422, body = ErrorBody, description = "invalid metadata")))]
pub async fn update(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<MetaDto>,
) -> AppResult<Json<ResourceDto>> {
    resources::update_with(&app.store, &ctx.caller, id, &d.meta, &app.config.security).await?;
    dto(&app, &ctx, id).await
}

/// Deletes a draft.
#[utoipa::path(delete, path = "/resources/{id}", operation_id = "delete_resource", tag = "resources", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 409, body = ErrorBody, description = "not a draft")))]
pub async fn delete(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<StatusCode> {
    resources::delete(&app.store, &ctx.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Submits for review (审核发布); refused with the full list of what is missing.
#[utoipa::path(post, path = "/resources/{id}/submit", operation_id = "submit_resource", tag = "resources", params(("id" = i64, Path)),
    responses((status = 200, body = ResourceDto, description = "pending review, with its due date"),
    (status = 409, body = ErrorBody, description = "not submittable in its state"),
    (status = 422, body = ErrorBody, description = "everything still missing, listed")))]
pub async fn submit(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ResourceDto>> {
    resources::submit_with(&app.store, &ctx.caller, id, &app.calendar, &app.config.security).await?;
    dto(&app, &ctx, id).await
}

/// The reviewer's decision: approve (publish) or return with reasons.
#[utoipa::path(post, path = "/resources/{id}/decision", operation_id = "decide_resource", tag = "review", params(("id" = i64, Path)),
    request_body = DecisionDto, responses((status = 200, body = ResourceDto, description = "published or returned"),
    (status = 403, body = ErrorBody, description = "not a reviewer"),
    (status = 409, body = ErrorBody, description = "nothing to review, or one's own submission"),
    (status = 422, body = ErrorBody, description = "checklist or reasons incomplete")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<DecisionDto>,
) -> AppResult<Json<ResourceDto>> {
    let decision = match d.decision.as_str() {
        "approve" => Decision::Approve(d.checklist),
        "return" => Decision::Return {
            checklist: d.checklist,
            reasons: d.reasons,
        },
        _ => return Err(DomainError::field("decision", "decision").into()),
    };
    resources::decide_with(&app.store, &ctx.caller, id, decision, &app.config.security).await?;
    app.catalogue.refresh(&app.store).await;
    dto(&app, &ctx, id).await
}

/// 下架 — withdraws a published resource with a reason.
#[utoipa::path(post, path = "/resources/{id}/withdraw", operation_id = "withdraw_resource", tag = "resources", params(("id" = i64, Path)),
    request_body = ReasonDto, responses((status = 200, body = ResourceDto, description = "withdrawn"),
    (status = 409, body = ErrorBody, description = "not published")))]
pub async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<ReasonDto>,
) -> AppResult<Json<ResourceDto>> {
    resources::withdraw(&app.store, &ctx.caller, id, &d.reason).await?;
    app.catalogue.refresh(&app.store).await;
    dto(&app, &ctx, id).await
}

/// The resource's distributions, newest version first.
#[utoipa::path(get, path = "/resources/{id}/distributions", operation_id = "list_distributions", tag = "resources",
    params(("id" = i64, Path)), responses((status = 200, body = [DistributionDto], description = "versions")))]
pub async fn distributions(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<Vec<DistributionDto>>> {
    resources::get(&app.store, &ctx.caller, id).await?;
    let rows = app.store.distributions(id).await?;
    Ok(Json(rows.into_iter().map(DistributionDto::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewApiDto {
    pub title: String,
    pub url: String,
    /// GET (default) or POST.
    #[serde(default)]
    pub method: String,
    /// `name: description` lines.
    #[serde(default)]
    pub params: String,
    #[serde(default)]
    pub doc: String,
    #[serde(default)]
    pub change_note: String,
}

/// Registers an external API as the resource's next data version.
#[utoipa::path(post, path = "/resources/{id}/distributions/api", operation_id = "add_api_distribution", tag = "resources",
    params(("id" = i64, Path)), request_body = NewApiDto,
    responses((status = 201, body = DistributionDto, description = "added"), (status = 422, body = ErrorBody, description = "invalid")))]
pub async fn add_api(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<NewApiDto>,
) -> AppResult<impl IntoResponse> {
    let api = NewApi {
        title: d.title,
        url: d.url,
        method: d.method,
        params: d.params,
        doc: d.doc,
        change_note: d.change_note,
    };
    let dist = ingest::add_api(&app.store, &ctx.caller, id, &api).await?;
    let row = app
        .store
        .distribution(dist)
        .await?
        .ok_or(DomainError::NotFound { what: "distribution" })?;
    Ok((StatusCode::CREATED, Json(DistributionDto::from(row))))
}

#[derive(Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The file's name; its extension (csv, tsv, txt, xlsx, json) decides how it is read.
    pub filename: String,
    pub title: Option<String>,
    pub change_note: Option<String>,
}

/// Uploads a data file as the raw request body (streamed, hashed and size-limited); its ingest
/// is queued at once. Poll the distribution for the ingest report.
#[utoipa::path(post, path = "/resources/{id}/distributions/file", operation_id = "upload_distribution", tag = "resources",
    params(("id" = i64, Path), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = DistributionDto, description = "stored; ingest queued"),
    (status = 409, body = ErrorBody, description = "an ingest is still running"),
    (status = 413, body = ErrorBody, description = "larger than the upload limit"),
    (status = 422, body = ErrorBody, description = "empty file or unsupported type")))]
pub async fn upload(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> AppResult<impl IntoResponse> {
    let ticket = ingest::begin_upload(&app.store, &ctx.caller, id, &q.filename).await?;
    let limit = app.config.max_upload_bytes;
    let mut writer = app.files.writer(&ticket.key, limit).await?;
    let mut stream = body.into_data_stream();
    loop {
        use futures_util::StreamExt;
        match stream.next().await {
            Some(Ok(chunk)) => {
                if writer.write(&chunk).await?.is_err() {
                    writer.abort().await;
                    return Err(AppError::BodyTooLarge(usize::try_from(limit).unwrap_or(usize::MAX)));
                }
            }
            Some(Err(_)) => {
                writer.abort().await;
                return Err(DomainError::field("file", "upload_interrupted").into());
            }
            None => break,
        }
    }
    let stored = writer.finish().await?;
    let info = UploadInfo {
        title: q.title.unwrap_or_default(),
        change_note: q.change_note.unwrap_or_default(),
    };
    let dist = match ingest::finish_upload(&app.store, &ctx.caller, &ticket, &stored, &info).await {
        Ok(d) => d,
        Err(e) => {
            app.files.delete(&ticket.key).await?;
            return Err(e.into());
        }
    };
    let row = app
        .store
        .distribution(dist)
        .await?
        .ok_or(DomainError::NotFound { what: "distribution" })?;
    Ok((StatusCode::CREATED, Json(DistributionDto::from(row))))
}

/// The review queue, oldest submission first, with deadlines in working days.
#[utoipa::path(get, path = "/review-queue", operation_id = "review_queue", tag = "review",
    responses((status = 200, body = [ResourceDto], description = "awaiting review"),
    (status = 403, body = ErrorBody, description = "not a reviewer")))]
pub async fn review_queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<ResourceDto>>> {
    let q = resources::review_queue(&app.store, &ctx.caller, &app.calendar).await?;
    Ok(Json(q.into_iter().map(|e| ResourceDto::from(e.resource)).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewPlanDto {
    pub provider_org_id: i64,
    pub title: String,
    /// YYYY-MM-DD
    pub period_start: String,
    pub period_end: String,
    /// `policy` or `demand`.
    pub source: String,
}

#[derive(Serialize, ToSchema)]
pub struct PlanItemDto {
    pub id: i64,
    pub name: String,
    pub domain: String,
    pub open_type: String,
    pub planned_date: String,
    pub notes: Option<String>,
    pub resource_id: Option<i64>,
    /// planned, preparing, submitted, published, cancelled.
    pub status: String,
    pub overdue: bool,
    pub cancel_reason: Option<String>,
}

impl PlanItemDto {
    fn new(r: PlanItemRow, overdue: bool) -> Self {
        PlanItemDto {
            id: r.id,
            name: r.name,
            domain: r.domain,
            open_type: r.open_type,
            planned_date: r.planned_date,
            notes: r.notes,
            resource_id: r.resource_id,
            status: r.status,
            overdue,
            cancel_reason: r.cancel_reason,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PlanDto {
    pub id: i64,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub title: String,
    pub period_start: String,
    pub period_end: String,
    pub source: String,
    pub items: Vec<PlanItemDto>,
    /// Counts per status and overdue.
    #[schema(value_type = Object)]
    pub progress: pubdata_core::plan::Progress,
}

async fn plan_dto(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<PlanDto>> {
    let v = plans::view(&app.store, &ctx.caller, id).await?;
    Ok(Json(PlanDto {
        id: v.plan.id,
        provider_org_id: v.plan.provider_org_id,
        provider_name: v.plan.provider_name,
        title: v.plan.title,
        period_start: v.plan.period_start,
        period_end: v.plan.period_end,
        source: v.plan.source,
        items: v.items.into_iter().map(|(r, o)| PlanItemDto::new(r, o)).collect(),
        progress: v.progress,
    }))
}

/// Creates an open plan (开放计划) for a provider.
#[utoipa::path(post, path = "/plans", operation_id = "create_plan", tag = "plans", request_body = NewPlanDto,
    responses((status = 201, body = PlanDto, description = "created"), (status = 422, body = ErrorBody, description = "invalid")))]
pub async fn create_plan(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<NewPlanDto>,
) -> AppResult<impl IntoResponse> {
    let input = NewPlan {
        title: d.title,
        period_start: d.period_start,
        period_end: d.period_end,
        source: d.source,
    };
    let id = plans::create_plan(&app.store, &ctx.caller, d.provider_org_id, &input).await?;
    Ok((StatusCode::CREATED, plan_dto(&app, &ctx, id).await?))
}

/// A plan with its items (开放数据清单) and progress.
#[utoipa::path(get, path = "/plans/{id}", operation_id = "get_plan", tag = "plans", params(("id" = i64, Path)),
    responses((status = 200, body = PlanDto, description = "the plan"), (status = 404, body = ErrorBody, description = "not found")))]
pub async fn get_plan(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<PlanDto>> {
    plan_dto(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema)]
pub struct NewPlanItemDto {
    pub name: String,
    /// A 领域 key or its Chinese name.
    pub domain: String,
    /// unconditional / conditional (or 无条件开放 / 有条件开放).
    pub open_type: String,
    pub planned_date: String,
    #[serde(default)]
    pub notes: String,
}

/// Adds an item to a plan.
#[utoipa::path(post, path = "/plans/{id}/items", operation_id = "add_plan_item", tag = "plans", params(("id" = i64, Path)),
    request_body = NewPlanItemDto, responses((status = 201, body = PlanDto, description = "the plan with the item"),
    (status = 422, body = ErrorBody, description = "invalid")))]
pub async fn add_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<NewPlanItemDto>,
) -> AppResult<impl IntoResponse> {
    let item = NewPlanItem {
        name: d.name,
        domain: d.domain,
        open_type: d.open_type,
        planned_date: d.planned_date,
        notes: d.notes,
        demand_id: None,
    };
    plans::add_item(&app.store, &ctx.caller, id, &item).await?;
    Ok((StatusCode::CREATED, plan_dto(&app, &ctx, id).await?))
}

/// Cancels a plan item with a reason.
#[utoipa::path(post, path = "/plan-items/{id}/cancel", operation_id = "cancel_plan_item", tag = "plans", params(("id" = i64, Path)),
    request_body = ReasonDto, responses((status = 204, description = "cancelled"),
    (status = 409, body = ErrorBody, description = "already published or cancelled")))]
pub async fn cancel_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<ReasonDto>,
) -> AppResult<StatusCode> {
    plans::item_action(&app.store, &ctx.caller, id, &ItemAction::Cancel { reason: d.reason }).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct PrivacyDto {
    /// Masking rules, e.g. `{"column": "phone", "method": "keep", "first": 3, "last": 4}`; methods:
    /// `redact`, `keep` (first, last), `hash`, `generalise_date` (to: month | year).
    #[schema(value_type = Vec<Object>)]
    #[serde(default)]
    pub masks: Vec<pubdata_ingest::MaskRule>,
    /// Why findings left unmasked may be published as they are.
    #[serde(default)]
    pub justification: String,
}

/// 脱敏 — masks columns with personal data (the file is ingested again) or justifies them.
#[utoipa::path(post, path = "/distributions/{id}/privacy", operation_id = "set_distribution_privacy", tag = "resources",
    params(("id" = i64, Path)), request_body = PrivacyDto,
    responses((status = 200, body = DistributionDto, description = "saved; re-ingesting when the rules changed"),
    (status = 409, body = ErrorBody, description = "an ingest is running, or the resource is under review"),
    (status = 422, body = ErrorBody, description = "a rule names a column the file does not have")))]
pub async fn set_privacy(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<PrivacyDto>,
) -> AppResult<Json<DistributionDto>> {
    ingest::set_privacy(&app.store, &ctx.caller, id, &d.masks, &d.justification).await?;
    distribution_dto(&app, &ctx, id).await
}

async fn distribution_dto(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<DistributionDto>> {
    let d = app
        .store
        .distribution(id)
        .await?
        .ok_or(DomainError::NotFound { what: "distribution" })?;
    resources::get(&app.store, &ctx.caller, d.resource_id)
        .await
        .map_err(|_| AppError::Domain(DomainError::NotFound { what: "distribution" }))?;
    let progress = match (d.state.as_str(), d.job_id) {
        ("ingesting", Some(job)) => {
            pubdata_service::ingest_job::live_progress(d.id).or(app.store.job(job).await?.and_then(|j| j.progress))
        }
        _ => None,
    };
    let mut dto = DistributionDto::from(d);
    dto.progress = progress;
    Ok(Json(dto))
}

/// One distribution, with the progress of its ingest while it runs.
#[utoipa::path(get, path = "/distributions/{id}", operation_id = "get_distribution", tag = "resources",
    params(("id" = i64, Path)), responses((status = 200, body = DistributionDto, description = "the distribution"),
    (status = 404, body = ErrorBody, description = "not found")))]
pub async fn get_distribution(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<DistributionDto>> {
    distribution_dto(&app, &ctx, id).await
}

#[derive(Serialize, ToSchema)]
pub struct RowsDto<'a> {
    pub fields: &'a [String],
    /// One object per row, field name to value (text; null when empty).
    #[schema(value_type = Vec<Object>)]
    pub records: Records<'a>,
    /// Rows matching the filters.
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
    /// Pass as `after` to get the next page in file order.
    pub next_after: Option<i64>,
}

/// The rows of a page as JSON objects, written straight from the query's result instead of
/// through a map per row (the data API's hottest path). Keys come in name order, the last of
/// equal names winning, as a `serde_json::Map` would write them.
pub struct Records<'a> {
    fields: &'a [String],
    rows: &'a [Vec<Option<String>>],
    /// Field positions in key order.
    order: Vec<usize>,
}

impl<'a> Records<'a> {
    fn new(fields: &'a [String], rows: &'a [Vec<Option<String>>]) -> Self {
        let mut order: Vec<usize> = (0..fields.len()).collect();
        // Stable: equal names stay in field order, and the last of them is kept.
        order.sort_by(|a, b| fields[*a].cmp(&fields[*b]));
        let mut keep: Vec<usize> = Vec::with_capacity(order.len());
        for i in order {
            match keep.last_mut() {
                Some(last) if fields[*last] == fields[i] => *last = i,
                _ => keep.push(i),
            }
        }
        Records {
            fields,
            rows,
            order: keep,
        }
    }
}

impl Serialize for Records<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Record<'r>(&'r Records<'r>, &'r [Option<String>]);
        impl Serialize for Record<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.order.len()))?;
                for &i in &self.0.order {
                    // A row shorter than the fields has no value there, like the zip before.
                    if let Some(v) = self.1.get(i) {
                        map.serialize_entry(&self.0.fields[i], v)?;
                    }
                }
                map.end()
            }
        }
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for r in self.rows {
            seq.serialize_element(&Record(self, r))?;
        }
        seq.end()
    }
}

/// The data API: rows of the resource's current data with typed filters, text search, sorting,
/// field choice and paging, as JSON or CSV. Needs a grant: an AppKey (`X-App-Key` header or
/// `app_key`), or a session or API token of a consumer holding a grant with API access; the
/// provider's and the administration institution's staff read everything.
#[utoipa::path(get, path = "/resources/{id}/rows", operation_id = "resource_rows", tag = "data", params(
    ("id" = i64, Path),
    ("q" = Option<String>, Query, description = "text any text field contains"),
    ("sort" = Option<String>, Query, description = "a field; `-field` for descending"),
    ("fields" = Option<String>, Query, description = "comma-separated fields to return"),
    ("limit" = Option<u64>, Query, description = "1–10000, default 100"),
    ("offset" = Option<u64>, Query, description = "rows to skip"),
    ("after" = Option<i64>, Query, description = "keyset paging: `next_after` of the previous page"),
    ("format" = Option<String>, Query, description = "json (default) or csv"),
    ("app_key" = Option<String>, Query, description = "a grant's AppKey (or the `X-App-Key` header)")),
    responses((status = 200, body = RowsDto, description = "a page of rows; filters are `<field>.<op>=value` with op eq, in, gt, gte, lt, lte, prefix"),
    (status = 401, body = ErrorBody, description = "not logged in, or an unknown, expired or revoked AppKey"),
    (status = 403, body = ErrorBody, description = "the AppKey is for another resource"),
    (status = 404, body = ErrorBody, description = "no such resource, or no loaded data"),
    (status = 409, body = ErrorBody, description = "no grant with API access"),
    (status = 429, body = ErrorBody, description = "the AppKey's rate limit; see Retry-After"),
    (status = 422, body = ErrorBody, description = "unknown field or parameter, or a value that does not fit its field")))]
pub async fn rows(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> AppResult<axum::response::Response> {
    let (query, csv) = pubdata_core::datastore_query::parse_rows_params(&params)?;
    // An AppKey (per grant) in `X-App-Key` or `app_key=`; otherwise the session or API token.
    let key = headers
        .get("x-app-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| params.iter().find(|(k, _)| k == "app_key").map(|(_, v)| v.clone()));
    let cred = match key.as_deref() {
        Some(k) => {
            app.app_key_limit.check(k)?;
            pubdata_service::data_api::Credential::AppKey(k)
        }
        None => pubdata_service::data_api::Credential::Caller,
    };
    let (result, grant) = pubdata_service::data_api::rows_with_grant(&app.store, &ctx.caller, id, &query, cred).await?;
    if let Some(grant) = grant {
        // Counted in memory; the server adds the counts to `api_calls_daily` every few seconds.
        app.api_calls.count(id, grant);
    }
    if csv {
        let mut out = String::new();
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .map(|c| {
                    if c.contains([',', '"', '\n', '\r']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push_str(&line(result.fields.iter().map(String::as_str).collect()));
        out.push('\n');
        for r in &result.rows {
            out.push_str(&line(r.iter().map(|c| c.as_deref().unwrap_or("")).collect()));
            out.push('\n');
        }
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    let dto = RowsDto {
        records: Records::new(&result.fields, &result.rows),
        fields: &result.fields,
        total: result.total,
        limit: query.limit,
        offset: query.offset,
        next_after: result.next_after,
    };
    Ok(Json(dto).into_response())
}
