//! `/api/v1/applications`, `/api/v1/grants` and accepting the terms of unconditional data: the
//! whole application process (数据申请、初审、审核、告知、授权) as JSON.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use pubdata_core::application::{Action, NewApplication, NewScope};
use pubdata_core::DomainError;
use pubdata_service::access::{self, ApplicationView};
use pubdata_store::{ApplicationEventRow, ApplicationItemRow, ApplicationRow, GrantRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct ApplicationDto {
    pub id: i64,
    /// `unconditional` (terms accepted) or `conditional`.
    pub kind: String,
    /// draft, pre_review, needs_info, provider_review, provider_rejected, granted, rejected, withdrawn.
    pub state: String,
    pub applicant_id: i64,
    pub applicant_name: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    /// What the applicant filled in: purpose, scenario, period_from, period_to,
    /// security_measures, commitment_accepted.
    #[schema(value_type = Object)]
    pub form: Value,
    /// The provider's approval scope, once approved.
    #[schema(value_type = Option<Object>)]
    pub scope: Option<Value>,
    /// What the administration institution asked for, while in needs_info.
    pub info_request: Option<String>,
    /// The reason the applicant was given, for a refusal.
    pub reason: Option<String>,
    /// The current stage's deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    pub created_at: i64,
    pub submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub resources: Vec<ApplicationItemDto>,
    pub history: Vec<EventDto>,
    pub grants: Vec<GrantDto>,
    /// What the applicant should know besides success: `feedback_overdue` when their usage
    /// feedback is overdue beyond the limit (under the `warn` policy).
    pub warnings: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationItemDto {
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub fields: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct EventDto {
    pub action: String,
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    /// For a reworded refusal: the provider's own words (staff only).
    pub original_reason: Option<String>,
    pub due: Option<String>,
    pub at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct GrantDto {
    pub id: i64,
    pub application_id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub consumer_id: i64,
    /// The granted fields; empty means every field (unconditional data).
    pub fields: Vec<String>,
    pub valid_from: String,
    /// The last valid day; empty when the grant does not end.
    pub valid_to: String,
    /// `download` and/or `api`.
    pub methods: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub row_filter: Option<Value>,
    /// active, expired or revoked.
    pub state: String,
    pub revoke_reason: Option<String>,
}

impl From<GrantRow> for GrantDto {
    fn from(g: GrantRow) -> Self {
        GrantDto {
            id: g.id,
            application_id: g.application_id,
            resource_id: g.resource_id,
            resource_code: g.resource_code,
            resource_title: g.resource_title,
            consumer_id: g.consumer_id,
            fields: g.fields,
            valid_from: g.valid_from,
            valid_to: g.valid_to,
            methods: g.methods,
            row_filter: g.row_filter,
            state: g.state,
            revoke_reason: g.revoke_reason,
        }
    }
}

fn item_dto(i: ApplicationItemRow) -> ApplicationItemDto {
    ApplicationItemDto {
        resource_id: i.resource_id,
        resource_code: i.resource_code,
        resource_title: i.resource_title,
        fields: i.fields,
    }
}

fn event_dto(e: ApplicationEventRow, staff: bool) -> EventDto {
    EventDto {
        action: e.action,
        actor: e.actor,
        from_state: e.from_state,
        to_state: e.to_state,
        reason: e.reason,
        original_reason: e.original_reason.filter(|_| staff),
        due: e.due,
        at: e.at,
    }
}

fn row_dto(row: ApplicationRow) -> ApplicationDto {
    ApplicationDto {
        id: row.id,
        kind: row.kind,
        state: row.state,
        applicant_id: row.applicant_id,
        applicant_name: row.applicant_name,
        provider_org_id: row.provider_org_id,
        provider_name: row.provider_name,
        form: row.form,
        scope: row.scope,
        info_request: row.info_request,
        reason: row.reason,
        stage_due: row.stage_due,
        created_at: row.created_at,
        submitted_at: row.submitted_at,
        decided_at: row.decided_at,
        resources: Vec::new(),
        history: Vec::new(),
        grants: Vec::new(),
        warnings: Vec::new(),
    }
}

fn view_dto(v: ApplicationView) -> ApplicationDto {
    // The applicant reads the reason they were given; staff also see the provider's own words.
    let staff = !v.caller.applicant;
    let mut dto = row_dto(v.row);
    dto.resources = v.items.into_iter().map(item_dto).collect();
    dto.history = v.events.into_iter().map(|e| event_dto(e, staff)).collect();
    dto.grants = v.grants.into_iter().map(GrantDto::from).collect();
    dto
}

async fn view(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<ApplicationDto>> {
    Ok(Json(view_dto(access::get(&app.store, &ctx.caller, id).await?)))
}

/// The caller's own applications, newest first.
#[utoipa::path(get, path = "/applications", operation_id = "list_applications", tag = "applications", responses(
    (status = 200, body = [ApplicationDto], description = "newest first (without history)"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<ApplicationDto>>> {
    let rows = access::mine(&app.store, &ctx.caller).await?;
    Ok(Json(rows.into_iter().map(row_dto).collect()))
}

/// Saves a new application as a draft (light checks only).
#[utoipa::path(post, path = "/applications", operation_id = "create_application", tag = "applications",
    request_body = Object, responses(
    (status = 201, body = ApplicationDto, description = "the draft"),
    (status = 403, body = ErrorBody, description = "only consumers apply"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field")))]
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(form): JsonBody<NewApplication>,
) -> AppResult<(StatusCode, Json<ApplicationDto>)> {
    let id = access::save_draft(&app.store, &ctx.caller, None, &form).await?;
    Ok((StatusCode::CREATED, view(&app, &ctx, id).await?))
}

/// An application with its resources, full history and grants.
#[utoipa::path(get, path = "/applications/{id}", operation_id = "get_application", tag = "applications",
    params(("id" = i64, Path)), responses((status = 200, body = ApplicationDto, description = "the application"),
    (status = 404, body = ErrorBody, description = "no such application of yours")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ApplicationDto>> {
    view(&app, &ctx, id).await
}

/// Edits a draft (or an application sent back for more information).
#[utoipa::path(put, path = "/applications/{id}", operation_id = "update_application", tag = "applications",
    params(("id" = i64, Path)), request_body = Object, responses(
    (status = 200, body = ApplicationDto, description = "saved"),
    (status = 409, body = ErrorBody, description = "no longer editable"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field")))]
pub async fn update(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(form): JsonBody<NewApplication>,
) -> AppResult<Json<ApplicationDto>> {
    access::save_draft(&app.store, &ctx.caller, Some(id), &form).await?;
    view(&app, &ctx, id).await
}

/// 提交 — every rule checked; on to pre-review.
#[utoipa::path(post, path = "/applications/{id}/submit", operation_id = "submit_application", tag = "applications",
    params(("id" = i64, Path)), responses((status = 200, body = ApplicationDto, description = "in pre-review"),
    (status = 409, body = ErrorBody, description = "not a draft, or usage feedback overdue beyond the limit \
    under the block policy (feedback_overdue)"),
    (status = 422, body = ErrorBody, description = "what is missing or wrong, per field")))]
pub async fn submit(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ApplicationDto>> {
    let outcome = access::submit(&app.store, &ctx.caller, id, &app.access, &app.calendar).await?;
    let Json(mut dto) = view(&app, &ctx, id).await?;
    if outcome.feedback_overdue {
        dto.warnings.push("feedback_overdue".into());
    }
    Ok(Json(dto))
}

/// 撤回 — before any decision.
#[utoipa::path(post, path = "/applications/{id}/withdraw", operation_id = "withdraw_application",
    tag = "applications", params(("id" = i64, Path)), responses(
    (status = 200, body = ApplicationDto, description = "withdrawn"),
    (status = 409, body = ErrorBody, description = "already decided")))]
pub async fn withdraw(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ApplicationDto>> {
    access::act(
        &app.store,
        &ctx.caller,
        id,
        Action::Withdraw,
        &app.access,
        &app.calendar,
    )
    .await?;
    view(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema)]
pub struct AnswerDto {
    /// The applicant's answer to the request for more information.
    pub reply: String,
}

/// 补充材料 — answers a request for more information (edit the application with PUT first).
#[utoipa::path(post, path = "/applications/{id}/answer", operation_id = "answer_application", tag = "applications",
    params(("id" = i64, Path)), request_body = AnswerDto, responses(
    (status = 200, body = ApplicationDto, description = "back in pre-review"),
    (status = 409, body = ErrorBody, description = "no information was asked for")))]
pub async fn answer(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<AnswerDto>,
) -> AppResult<Json<ApplicationDto>> {
    access::answer(&app.store, &ctx.caller, id, &d.reply, &app.access, &app.calendar).await?;
    view(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema)]
pub struct DecisionDto {
    /// forward, reject, request_info (administration institution, pre-review); approve,
    /// provider_reject (provider); relay (administration institution, after a provider refusal).
    pub decision: String,
    /// The reason (reject, provider_reject), what is missing (request_info), the note
    /// (forward) or the rewording (relay; empty relays the provider's words).
    #[serde(default)]
    pub text: String,
    /// For approve: resources (each resource_id, fields, filters), valid_from, valid_to, methods.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub scope: Option<NewScope>,
}

/// A decision on an application, by the role whose turn it is.
#[utoipa::path(post, path = "/applications/{id}/decision", operation_id = "decide_application",
    tag = "applications", params(("id" = i64, Path)), request_body = DecisionDto, responses(
    (status = 200, body = ApplicationDto, description = "decided"),
    (status = 403, body = ErrorBody, description = "not this role's decision"),
    (status = 409, body = ErrorBody, description = "not in the state for it"),
    (status = 422, body = ErrorBody, description = "a reason or scope problem, per field")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<DecisionDto>,
) -> AppResult<Json<ApplicationDto>> {
    let text = d.text.clone();
    let action = match d.decision.as_str() {
        "approve" => {
            let scope = d.scope.unwrap_or_default();
            access::approve(&app.store, &ctx.caller, id, &scope, &app.access, &app.calendar).await?;
            return view(&app, &ctx, id).await;
        }
        "forward" => Action::Forward { note: text },
        "reject" => Action::Reject { reason: text },
        "request_info" => Action::RequestInfo { missing: text },
        "provider_reject" => Action::ProviderReject { reason: text },
        "relay" => Action::Relay { wording: text },
        _ => return Err(DomainError::field("decision", "decision").into()),
    };
    access::act(&app.store, &ctx.caller, id, action, &app.access, &app.calendar).await?;
    view(&app, &ctx, id).await
}

#[derive(Serialize, ToSchema)]
pub struct QueueEntryDto {
    pub application: ApplicationDto,
    /// pre_review, provider_review or relay.
    pub stage: Option<String>,
    pub overdue: bool,
    /// Working days past the deadline.
    pub overdue_days: i64,
}

/// What waits on the caller: pre-review and relay for the administration institution, provider
/// review for a provider's reviewers. Oldest first, overdue marked.
#[utoipa::path(get, path = "/application-queue", operation_id = "application_queue", tag = "applications",
    responses((status = 200, body = [QueueEntryDto], description = "oldest first"),
    (status = 403, body = ErrorBody, description = "not a reviewer")))]
pub async fn queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<QueueEntryDto>>> {
    let entries = access::queue(&app.store, &ctx.caller, &app.calendar).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| QueueEntryDto {
                application: row_dto(e.row),
                stage: e.stage.map(str::to_string),
                overdue: e.overdue,
                overdue_days: e.overdue_days,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct TermsDto {
    /// The usage terms are accepted.
    pub accepted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct GrantIdDto {
    pub grant_id: i64,
}

/// 无条件开放 — accept the usage terms of an unconditional resource and be granted it at once.
#[utoipa::path(post, path = "/resources/{id}/accept-terms", operation_id = "accept_terms", tag = "applications",
    params(("id" = i64, Path)), request_body = TermsDto, responses(
    (status = 201, body = GrantIdDto, description = "granted (or the grant already held)"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 422, body = ErrorBody, description = "terms not accepted, conditional data, or not open")))]
pub async fn accept_terms(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<TermsDto>,
) -> AppResult<(StatusCode, Json<GrantIdDto>)> {
    let grant_id = access::accept_terms(&app.store, &ctx.caller, id, d.accepted).await?;
    Ok((StatusCode::CREATED, Json(GrantIdDto { grant_id })))
}

/// The caller's grants, newest first.
#[utoipa::path(get, path = "/grants", operation_id = "list_grants", tag = "applications", responses(
    (status = 200, body = [GrantDto], description = "newest first"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn grants(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<GrantDto>>> {
    let rows = access::my_grants(&app.store, &ctx.caller).await?;
    Ok(Json(rows.into_iter().map(GrantDto::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct AppKeyDto {
    /// Shown once: send it as `X-App-Key` to the data API. Only its hash is kept.
    pub app_key: String,
}

/// Issues a new AppKey for one of the caller's grants with API access; earlier keys stop working.
#[utoipa::path(post, path = "/grants/{id}/app-key", operation_id = "rotate_app_key", tag = "applications",
    params(("id" = i64, Path)), responses((status = 201, body = AppKeyDto, description = "the new key, once"),
    (status = 404, body = ErrorBody, description = "no such grant of yours"),
    (status = 409, body = ErrorBody, description = "the grant has no API access, or has ended")))]
pub async fn app_key(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<(StatusCode, Json<AppKeyDto>)> {
    let app_key = access::rotate_app_key(&app.store, &ctx.caller, id).await?;
    Ok((StatusCode::CREATED, Json(AppKeyDto { app_key })))
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeDto {
    /// Why, as the holder will read it.
    pub reason: String,
}

/// 撤销授权 — by the administration institution or the providing department; access stops at once.
#[utoipa::path(post, path = "/grants/{id}/revoke", operation_id = "revoke_grant", tag = "applications",
    params(("id" = i64, Path)), request_body = RevokeDto, responses((status = 204, description = "revoked"),
    (status = 403, body = ErrorBody, description = "not yours to revoke"),
    (status = 409, body = ErrorBody, description = "already ended")))]
pub async fn revoke(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<RevokeDto>,
) -> AppResult<StatusCode> {
    access::revoke_grant(&app.store, &ctx.caller, id, &d.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AttachmentQuery {
    /// The file's name, e.g. `立项书.pdf`.
    pub filename: String,
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentDto {
    pub id: i64,
    pub filename: String,
    /// application/pdf, image/png or image/jpeg, from the file's content.
    pub media_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// Attaches a PDF or image (≤ 10 MB, at most 10) to an editable application; the body is the
/// file itself.
#[utoipa::path(post, path = "/applications/{id}/attachments", operation_id = "add_attachment",
    tag = "applications", params(("id" = i64, Path), AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses(
    (status = 201, body = AttachmentDto, description = "attached"),
    (status = 409, body = ErrorBody, description = "the application is no longer editable"),
    (status = 413, body = ErrorBody, description = "larger than the request limit"),
    (status = 422, body = ErrorBody, description = "not a PDF, PNG or JPEG, too large, or too many")))]
pub async fn add_attachment(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<AttachmentQuery>,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, Json<AttachmentDto>)> {
    let aid = access::add_attachment(&app.store, &app.files, &ctx.caller, id, &q.filename, &body).await?;
    let view = access::get(&app.store, &ctx.caller, id).await?;
    let a = view
        .attachments
        .into_iter()
        .find(|a| a.id == aid)
        .ok_or(DomainError::NotFound { what: "attachment" })?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentDto {
            id: a.id,
            filename: a.filename,
            media_type: a.media_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
        }),
    ))
}

/// An attachment's file, for the applicant and the reviewers.
#[utoipa::path(get, path = "/applications/{id}/attachments/{attachment_id}", operation_id = "get_attachment",
    tag = "applications", params(("id" = i64, Path), ("attachment_id" = i64, Path)), responses(
    (status = 200, description = "the file"),
    (status = 404, body = ErrorBody, description = "no such attachment you may see")))]
pub async fn get_attachment(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, attachment_id)): Path<(i64, i64)>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (a, bytes) = access::attachment(&app.store, &app.files, &ctx.caller, id, attachment_id).await?;
    let disposition = crate::linked::content_disposition(&format!("attachment-{}", a.id), &a.filename);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, a.media_type),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
