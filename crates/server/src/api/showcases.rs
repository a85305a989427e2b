//! `/api/v1/showcases`: showcases of what was built with the data (应用成果) as JSON —
//! submitting one, the administration institution's review, the public gallery.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use pubdata_core::showcase::{Action, NewShowcase};
use pubdata_core::DomainError;
use pubdata_service::showcases::{self, GalleryQuery, ShowcaseView};
use pubdata_store::{InteractionEventRow, ShowcaseResourceRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::demands::header_key;
use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

/// One step of a showcase's or a security report's history; `details` says what an action
/// touched (e.g. the grant revoked).
#[derive(Serialize, ToSchema)]
pub struct OutcomeEventDto {
    pub action: String,
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    pub due: Option<String>,
    pub at: i64,
}

pub(crate) fn event_dto(e: InteractionEventRow) -> OutcomeEventDto {
    OutcomeEventDto {
        action: e.action,
        actor: e.actor,
        from_state: e.from_state,
        to_state: e.to_state,
        reason: e.reason,
        details: e.details,
        due: e.due,
        at: e.at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct ShowcaseResourceDto {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub domain: String,
}

impl From<ShowcaseResourceRow> for ShowcaseResourceDto {
    fn from(r: ShowcaseResourceRow) -> Self {
        ShowcaseResourceDto {
            resource_id: r.resource_id,
            code: r.code,
            title: r.title,
            provider_org_id: r.provider_org_id,
            provider_name: r.provider_name,
            domain: r.domain,
        }
    }
}

/// A showcase. `submitter_id`, `submitter_name`, `reason` and `history` are given only to the
/// submitter and the administration institution.
#[derive(Serialize, ToSchema)]
pub struct ShowcaseDto {
    pub id: i64,
    pub title: String,
    /// app, website, report, research, visualisation, news or other.
    pub kind: String,
    pub description: String,
    pub link: String,
    /// Where the screenshot is served (metadata stripped), if there is one.
    pub screenshot_url: Option<String>,
    /// submitted, accepted or rejected.
    pub state: String,
    /// The review deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    pub overdue: bool,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub resources: Vec<ShowcaseResourceDto>,
    pub submitter_id: Option<i64>,
    pub submitter_name: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub history: Vec<OutcomeEventDto>,
}

fn dto(v: ShowcaseView) -> ShowcaseDto {
    let screenshot_url = v.screenshot_url().map(|u| format!("/api/v1{u}"));
    let own = v.caller.submitter || v.caller.admin;
    let r = v.row;
    ShowcaseDto {
        id: r.id,
        title: r.title,
        kind: r.kind,
        description: r.description,
        link: r.link,
        screenshot_url,
        state: r.state,
        stage_due: r.stage_due.filter(|_| own),
        overdue: v.overdue,
        created_at: r.created_at,
        decided_at: r.decided_at,
        resources: v.resources.into_iter().map(Into::into).collect(),
        submitter_id: own.then_some(r.submitter_id),
        submitter_name: own.then_some(r.submitter_name),
        reason: r.reason.filter(|_| own),
        history: v.events.into_iter().map(event_dto).collect(),
    }
}

async fn one(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<ShowcaseDto>> {
    Ok(Json(dto(showcases::get(&app.store, &ctx.caller, id).await?)))
}

#[derive(Deserialize, IntoParams, Default)]
#[serde(default)]
pub struct GalleryParams {
    /// app, website, report, research, visualisation, news or other.
    pub kind: Option<String>,
    /// A domain key of a resource used (e.g. `transport`).
    pub domain: Option<String>,
    /// A provider of a resource used.
    pub provider_org_id: Option<i64>,
    /// A resource used.
    pub resource_id: Option<i64>,
    /// 1–100, default 24.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl GalleryParams {
    pub(crate) fn query(self) -> GalleryQuery {
        GalleryQuery {
            kind: self.kind.unwrap_or_default(),
            domain: self.domain.unwrap_or_default(),
            provider_org_id: self.provider_org_id,
            resource_id: self.resource_id,
            limit: self.limit.unwrap_or(24),
            offset: self.offset.unwrap_or(0),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ShowcasePageDto {
    pub total: i64,
    pub items: Vec<ShowcaseDto>,
}

/// 成果展示 — the gallery: accepted showcases, newest first, filtered by type, domain, provider
/// or resource used.
#[utoipa::path(get, path = "/showcases", operation_id = "list_showcases", tag = "showcases",
    params(GalleryParams), security(()), responses((status = 200, body = ShowcasePageDto, description = "one page"),
    (status = 422, body = ErrorBody, description = "an unknown type")))]
pub async fn list(State(app): State<AppState>, Query(q): Query<GalleryParams>) -> AppResult<Json<ShowcasePageDto>> {
    let (views, total) = showcases::gallery(&app.store, &q.query()).await?;
    Ok(Json(ShowcasePageDto {
        total,
        items: views.into_iter().map(dto).collect(),
    }))
}

/// A submission: the showcase's fields and, optionally, the screenshot as base64.
#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct NewShowcaseDto {
    pub title: String,
    /// app, website, report, research, visualisation, news or other.
    pub kind: String,
    pub description: String,
    /// An http or https address.
    pub link: String,
    /// Ids of the published resources used.
    #[schema(value_type = Vec<i64>)]
    pub resource_ids: Vec<serde_json::Value>,
    /// A PNG, JPEG or WebP image, base64-encoded (≤ 5 MB, ≤ 10,000 px a side, ≤ 40 megapixels);
    /// re-encoded without its metadata.
    pub screenshot_base64: Option<String>,
    pub idempotency_key: String,
}

/// 提交应用成果 — anyone logged in submits what they built: `title`, `kind`, `description`,
/// `link`, `resource_ids` (published resources), optional `screenshot_base64`. The same
/// submission sent again (the same `idempotency_key` — in the body or the `Idempotency-Key`
/// header — or the same content within minutes) is answered with the first one and status 200.
#[utoipa::path(post, path = "/showcases", operation_id = "submit_showcase", tag = "showcases",
    request_body = NewShowcaseDto, responses((status = 201, body = ShowcaseDto, description = "submitted for review"),
    (status = 200, body = ShowcaseDto, description = "a repeat of an earlier submission: that showcase"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field (e.g. a resource is not published, \
     the screenshot is not an image or too large)")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    JsonBody(d): JsonBody<NewShowcaseDto>,
) -> AppResult<(StatusCode, Json<ShowcaseDto>)> {
    let resource_ids = d
        .resource_ids
        .iter()
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let mut form = NewShowcase {
        title: d.title,
        kind: d.kind,
        description: d.description,
        link: d.link,
        resource_ids,
        idempotency_key: d.idempotency_key,
    };
    header_key(&headers, &mut form.idempotency_key);
    let screenshot = match d.screenshot_base64.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| DomainError::field("screenshot", "screenshot_type"))?,
        ),
        None => None,
    };
    let s = showcases::submit(
        &app.store,
        &app.files,
        &ctx.caller,
        &form,
        screenshot.as_deref(),
        &app.showcases,
        &app.calendar,
    )
    .await?;
    let status = if s.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, one(&app, &ctx, s.id).await?))
}

/// The caller's own showcases, newest first.
#[utoipa::path(get, path = "/showcases/mine", operation_id = "my_showcases", tag = "showcases",
    responses((status = 200, body = [ShowcaseDto], description = "newest first (without history)"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn mine(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<ShowcaseDto>>> {
    let views = showcases::mine(&app.store, &ctx.caller).await?;
    Ok(Json(views.into_iter().map(dto).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct ShowcaseQueueEntryDto {
    pub showcase: ShowcaseDto,
    /// Working days past the review deadline.
    pub overdue_days: i64,
}

/// The administration institution's review queue, oldest first.
#[utoipa::path(get, path = "/showcases/queue", operation_id = "showcase_queue", tag = "showcases",
    responses((status = 200, body = [ShowcaseQueueEntryDto], description = "waiting for review"),
    (status = 403, body = ErrorBody, description = "not the administration institution")))]
pub async fn queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<ShowcaseQueueEntryDto>>> {
    let entries = showcases::queue(&app.store, &ctx.caller, &app.calendar).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| ShowcaseQueueEntryDto {
                overdue_days: e.overdue_days,
                showcase: dto(e.showcase),
            })
            .collect(),
    ))
}

/// A showcase: accepted ones for everyone; the others for their submitter and the
/// administration institution (404 for everyone else).
#[utoipa::path(get, path = "/showcases/{id}", operation_id = "get_showcase", tag = "showcases",
    params(("id" = i64, Path)), security(()), responses((status = 200, body = ShowcaseDto, description = "the showcase"),
    (status = 404, body = ErrorBody, description = "no such showcase you may see")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<ShowcaseDto>> {
    one(&app, &ctx, id).await
}

/// The screenshot (re-encoded, without metadata).
#[utoipa::path(get, path = "/showcases/{id}/screenshot", operation_id = "get_showcase_screenshot",
    tag = "showcases", params(("id" = i64, Path)), security(()), responses(
    (status = 200, description = "the image (PNG, JPEG or WebP)"),
    (status = 404, body = ErrorBody, description = "no such showcase you may see, or no screenshot")))]
pub async fn screenshot(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    image_response(&app, &ctx, id).await
}

pub(crate) async fn image_response(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Response> {
    let (bytes, media_type) = showcases::screenshot(&app.store, &app.files, &ctx.caller, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, "private, max-age=300".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct ShowcaseDecisionDto {
    /// accept or reject.
    pub decision: String,
    /// reject: the reason the submitter reads (required).
    pub reason: String,
}

pub(crate) fn decision(decision: &str, reason: String) -> Result<Action, DomainError> {
    match decision.trim() {
        "accept" => Ok(Action::Accept),
        "reject" => Ok(Action::Reject { reason }),
        _ => Err(DomainError::field("decision", "showcase_decision")),
    }
}

/// 审核 — the administration institution accepts a showcase into the gallery or rejects it with
/// a reason; the submitter is told.
#[utoipa::path(post, path = "/showcases/{id}/decision", operation_id = "decide_showcase", tag = "showcases",
    params(("id" = i64, Path)), request_body = ShowcaseDecisionDto, responses(
    (status = 200, body = ShowcaseDto, description = "decided"),
    (status = 403, body = ErrorBody, description = "not the administration institution, or one's own"),
    (status = 404, body = ErrorBody, description = "no such showcase you may see"),
    (status = 409, body = ErrorBody, description = "already decided"),
    (status = 422, body = ErrorBody, description = "no reason for a rejection, or an unknown decision")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<ShowcaseDecisionDto>,
) -> AppResult<Json<ShowcaseDto>> {
    let action = decision(&d.decision, d.reason)?;
    showcases::act(&app.store, &ctx.caller, id, &action).await?;
    one(&app, &ctx, id).await
}
