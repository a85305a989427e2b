//! `/api/v1/corrections`: error reports on published data (数据纠错) as JSON — reporting one,
//! the provider's handling, the public list and the per-resource counts.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pubdata_core::correction::{Action, NewCorrection};
use pubdata_core::DomainError;
use pubdata_service::corrections::{self, CorrectionView, Counts, PublicQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::demands::{event_dto, header_key, InteractionEventDto};
use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

/// A report. `reporter_id`, `reporter_name`, `description`, `evidence` and `reason` are given
/// only to the reporter, the provider's staff and the administration institution; everyone else
/// sees them as null.
#[derive(Serialize, ToSchema)]
pub struct CorrectionDto {
    pub id: i64,
    pub resource_id: i64,
    pub resource_code: String,
    pub resource_title: String,
    pub provider_org_id: i64,
    pub provider_name: String,
    pub distribution_id: i64,
    pub distribution_title: String,
    pub distribution_version: i64,
    /// The row, counted from 1.
    pub row: Option<i64>,
    /// The 数据项 in error.
    pub field: Option<String>,
    /// submitted, under_review, accepted or rejected.
    pub state: String,
    /// How an accepted error will be fixed.
    pub fix: Option<String>,
    /// The distribution (new version) that fixes it.
    pub fixed_distribution_id: Option<i64>,
    /// The handling deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    /// Undecided past its deadline.
    pub overdue: bool,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub reporter_id: Option<i64>,
    pub reporter_name: Option<String>,
    /// What is wrong.
    pub description: Option<String>,
    pub evidence: Option<String>,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub history: Vec<InteractionEventDto>,
}

fn dto(v: CorrectionView) -> CorrectionDto {
    let r = v.row;
    let full = v.full;
    CorrectionDto {
        id: r.id,
        resource_id: r.resource_id,
        resource_code: r.resource_code,
        resource_title: r.resource_title,
        provider_org_id: r.provider_org_id,
        provider_name: r.provider_name,
        distribution_id: r.distribution_id,
        distribution_title: r.distribution_title,
        distribution_version: r.distribution_version,
        row: r.row_no,
        field: r.field_name,
        state: r.state,
        fix: r.fix,
        fixed_distribution_id: r.fixed_distribution_id,
        stage_due: r.stage_due,
        overdue: v.overdue,
        created_at: r.created_at,
        decided_at: r.decided_at,
        reporter_id: full.then_some(r.reporter_id),
        reporter_name: full.then_some(r.reporter_name),
        description: full.then_some(r.description),
        evidence: r.evidence.filter(|_| full),
        reason: r.reason.filter(|_| full),
        history: v.events.into_iter().map(event_dto).collect(),
    }
}

async fn one(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<CorrectionDto>> {
    Ok(Json(dto(corrections::get(&app.store, &ctx.caller, id).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    pub resource_id: Option<i64>,
    /// submitted, under_review, accepted or rejected.
    pub state: Option<String>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionPageDto {
    pub total: i64,
    pub items: Vec<CorrectionDto>,
}

/// Reports on the catalogue's data, newest first, each with its public part only.
#[utoipa::path(get, path = "/corrections", operation_id = "list_corrections", tag = "corrections",
    params(ListQuery), security(()), responses((status = 200, body = CorrectionPageDto, description = "one page"),
    (status = 422, body = ErrorBody, description = "an unknown state")))]
pub async fn list(State(app): State<AppState>, Query(q): Query<ListQuery>) -> AppResult<Json<CorrectionPageDto>> {
    let query = PublicQuery {
        resource_id: q.resource_id,
        state: q.state.unwrap_or_default(),
        limit: q.limit.unwrap_or(20),
        offset: q.offset.unwrap_or(0),
    };
    let (views, total) = corrections::public_list(&app.store, &query).await?;
    Ok(Json(CorrectionPageDto {
        total,
        items: views.into_iter().map(dto).collect(),
    }))
}

/// 数据纠错 — anyone logged in reports an error on published data: `resource_id`,
/// `distribution_id`, optional `row` and `field`, `description` of what is wrong, optional
/// `evidence`. The same report sent again (the same `idempotency_key` — in the body or the
/// `Idempotency-Key` header — or the same content within minutes) is answered with the first
/// one and status 200.
#[utoipa::path(post, path = "/corrections", operation_id = "submit_correction", tag = "corrections",
    request_body = Object, responses((status = 201, body = CorrectionDto, description = "reported"),
    (status = 200, body = CorrectionDto, description = "a repeat of an earlier submission: that report"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field (e.g. the resource is withdrawn)")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    JsonBody(mut form): JsonBody<NewCorrection>,
) -> AppResult<(StatusCode, Json<CorrectionDto>)> {
    header_key(&headers, &mut form.idempotency_key);
    let s = corrections::submit(&app.store, &ctx.caller, &form, &app.corrections, &app.calendar).await?;
    let status = if s.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, one(&app, &ctx, s.id).await?))
}

/// The caller's own reports, newest first.
#[utoipa::path(get, path = "/corrections/mine", operation_id = "my_corrections", tag = "corrections",
    responses((status = 200, body = [CorrectionDto], description = "newest first (without history)"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn mine(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<CorrectionDto>>> {
    let views = corrections::mine(&app.store, &ctx.caller).await?;
    Ok(Json(views.into_iter().map(dto).collect()))
}

#[derive(Deserialize, IntoParams)]
pub struct HandledQuery {
    /// Only the undecided ones, oldest first (the queue); default true.
    pub open: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionQueueEntryDto {
    pub correction: CorrectionDto,
    /// Working days past the deadline.
    pub overdue_days: i64,
}

/// The reports the caller handles: its department's for a provider's staff, all for the
/// administration institution.
#[utoipa::path(get, path = "/correction-queue", operation_id = "correction_queue", tag = "corrections",
    params(HandledQuery), responses((status = 200, body = [CorrectionQueueEntryDto], description = "the reports"),
    (status = 403, body = ErrorBody, description = "not administration or provider staff")))]
pub async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HandledQuery>,
) -> AppResult<Json<Vec<CorrectionQueueEntryDto>>> {
    let entries = corrections::handled(&app.store, &ctx.caller, q.open.unwrap_or(true), &app.calendar).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| CorrectionQueueEntryDto {
                overdue_days: e.overdue_days,
                correction: dto(e.correction),
            })
            .collect(),
    ))
}

/// A report: in full with its history for the reporter, the provider's staff and the
/// administration institution; its public part for everyone else.
#[utoipa::path(get, path = "/corrections/{id}", operation_id = "get_correction", tag = "corrections",
    params(("id" = i64, Path)), security(()), responses((status = 200, body = CorrectionDto, description = "the report"),
    (status = 404, body = ErrorBody, description = "no such report")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<CorrectionDto>> {
    one(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct CorrectionDecisionDto {
    /// start_review, accept or reject.
    pub decision: String,
    /// accept: how it will be fixed (required); reject: the reason (required).
    pub text: String,
    /// accept: the resource's distribution (new version) that fixes it, if there is one yet.
    pub fixed_distribution_id: Option<i64>,
}

/// The provider's handling of a report on its data: take it up, then accept (saying how it will
/// be fixed) or reject (with the reason). The reporter is told each step.
#[utoipa::path(post, path = "/corrections/{id}/decision", operation_id = "decide_correction",
    tag = "corrections", params(("id" = i64, Path)), request_body = CorrectionDecisionDto, responses(
    (status = 200, body = CorrectionDto, description = "done"),
    (status = 403, body = ErrorBody, description = "not the provider's staff"),
    (status = 409, body = ErrorBody, description = "not in the state for it"),
    (status = 422, body = ErrorBody, description = "the fix or reason is missing, or the distribution is another resource's")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<CorrectionDecisionDto>,
) -> AppResult<Json<CorrectionDto>> {
    let action = match d.decision.trim() {
        "start_review" => Action::StartReview,
        "accept" => Action::Accept {
            fix: d.text,
            fixed_distribution_id: d.fixed_distribution_id,
        },
        "reject" => Action::Reject { reason: d.text },
        _ => return Err(DomainError::field("decision", "correction_decision").into()),
    };
    corrections::act(&app.store, &ctx.caller, id, &action).await?;
    one(&app, &ctx, id).await
}

/// Reports on one resource by state (accepted ones are confirmed errors).
#[utoipa::path(get, path = "/resources/{id}/correction-counts", operation_id = "correction_counts",
    tag = "corrections", params(("id" = i64, Path)), security(()), responses(
    (status = 200, body = CorrectionCountsDto, description = "reports by state")))]
pub async fn counts(State(app): State<AppState>, Path(id): Path<i64>) -> AppResult<Json<CorrectionCountsDto>> {
    Ok(Json(corrections::counts(&app.store, id).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct CorrectionCountsDto {
    pub submitted: i64,
    pub under_review: i64,
    pub accepted: i64,
    pub rejected: i64,
}

impl From<Counts> for CorrectionCountsDto {
    fn from(c: Counts) -> Self {
        CorrectionCountsDto {
            submitted: c.submitted,
            under_review: c.under_review,
            accepted: c.accepted,
            rejected: c.rejected,
        }
    }
}
