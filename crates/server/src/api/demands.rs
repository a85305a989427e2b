//! `/api/v1/demands`: data demands (数据需求) as JSON — the public list of demands and their
//! outcomes, submitting one, routing it to a provider, and the provider's assessment (开放研判).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pubdata_core::demand::NewDemand;
use pubdata_core::plan::NewPlanItem;
use pubdata_core::DomainError;
use pubdata_service::demands::{self, Decision, DemandView, PublicQuery};
use pubdata_store::InteractionEventRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

/// A demand. `requester_id`, `requester_name` and `purpose` are given only to the requester, the
/// administration institution and the provider assessing it; everyone else sees them as null.
#[derive(Serialize, ToSchema)]
pub struct DemandDto {
    pub id: i64,
    pub title: String,
    /// What data is wanted.
    pub description: String,
    /// The 领域 key.
    pub domain: String,
    /// The provider it is routed to.
    pub provider_org_id: Option<i64>,
    pub provider_name: Option<String>,
    /// submitted, assessing, accepted, declined, already_open, fulfilled or withdrawn.
    pub state: String,
    /// The provider's reason (declined) or reply (accepted, already_open).
    pub reply: Option<String>,
    /// The resource that answers it: the one pointed to (already_open), or the plan item's once
    /// it has one.
    pub resource_id: Option<i64>,
    pub resource_code: Option<String>,
    pub resource_title: Option<String>,
    /// The plan item an acceptance created.
    pub plan_item_id: Option<i64>,
    /// The current stage's deadline (YYYY-MM-DD).
    pub stage_due: Option<String>,
    /// Still waiting past its deadline.
    pub overdue: bool,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub fulfilled_at: Option<i64>,
    pub requester_id: Option<i64>,
    pub requester_name: Option<String>,
    pub purpose: Option<String>,
    /// Every step (for those who see the demand in full).
    pub history: Vec<InteractionEventDto>,
}

/// One step of a demand's or a correction's history.
#[derive(Serialize, ToSchema)]
pub struct InteractionEventDto {
    pub action: String,
    pub actor: String,
    pub from_state: String,
    pub to_state: String,
    pub reason: Option<String>,
    pub due: Option<String>,
    pub at: i64,
}

pub(crate) fn event_dto(e: InteractionEventRow) -> InteractionEventDto {
    InteractionEventDto {
        action: e.action,
        actor: e.actor,
        from_state: e.from_state,
        to_state: e.to_state,
        reason: e.reason,
        due: e.due,
        at: e.at,
    }
}

fn dto(v: DemandView) -> DemandDto {
    let r = v.row;
    let full = v.full;
    DemandDto {
        id: r.id,
        title: r.title,
        description: r.description,
        domain: r.domain,
        provider_org_id: r.provider_org_id,
        provider_name: r.provider_name,
        state: r.state,
        reply: r.reply,
        resource_id: r.linked_resource_id,
        resource_code: r.linked_resource_code,
        resource_title: r.linked_resource_title,
        plan_item_id: r.plan_item_id,
        stage_due: r.stage_due,
        overdue: v.overdue,
        created_at: r.created_at,
        answered_at: r.answered_at,
        fulfilled_at: r.fulfilled_at,
        requester_id: full.then_some(r.requester_id),
        requester_name: full.then_some(r.requester_name),
        purpose: full.then_some(r.purpose),
        history: v.events.into_iter().map(event_dto).collect(),
    }
}

async fn one(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<DemandDto>> {
    Ok(Json(dto(demands::get(&app.store, &ctx.caller, id).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Words in the title or description.
    pub q: Option<String>,
    /// submitted, assessing, accepted, declined, already_open or fulfilled.
    pub state: Option<String>,
    /// A 领域 key or its Chinese name.
    pub domain: Option<String>,
    pub provider_org_id: Option<i64>,
    /// 1–100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DemandPageDto {
    /// How many demands match.
    pub total: i64,
    pub items: Vec<DemandDto>,
}

/// 需求公开 — every demand and its outcome, newest first, without who asked or why.
#[utoipa::path(get, path = "/demands", operation_id = "list_demands", tag = "demands", params(ListQuery),
    security(()), responses((status = 200, body = DemandPageDto, description = "one page, newest first"),
    (status = 422, body = ErrorBody, description = "an unknown state or domain")))]
pub async fn list(State(app): State<AppState>, ctx: Ctx, Query(q): Query<ListQuery>) -> AppResult<Json<DemandPageDto>> {
    let query = PublicQuery {
        text: q.q.unwrap_or_default(),
        state: q.state.unwrap_or_default(),
        domain: q.domain.unwrap_or_default(),
        provider_org_id: q.provider_org_id,
        limit: q.limit.unwrap_or(20),
        offset: q.offset.unwrap_or(0),
    };
    let (views, total) = demands::public_list(&app.store, &ctx.caller, &query).await?;
    Ok(Json(DemandPageDto {
        total,
        items: views.into_iter().map(dto).collect(),
    }))
}

/// An idempotency key from the `Idempotency-Key` header, when the body carries none.
pub(crate) fn header_key(headers: &HeaderMap, body_key: &mut String) {
    if body_key.trim().is_empty() {
        if let Some(k) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
            *body_key = k.to_string();
        }
    }
}

/// 提交数据需求 — anyone logged in. Naming `provider_org_id` sends it straight to that provider's
/// assessment; otherwise the administration institution routes it. The same demand sent again
/// (the same `idempotency_key` — in the body or the `Idempotency-Key` header — or the same text
/// within minutes) is answered with the first one and status 200.
#[utoipa::path(post, path = "/demands", operation_id = "submit_demand", tag = "demands", request_body = Object,
    responses((status = 201, body = DemandDto, description = "submitted"),
    (status = 200, body = DemandDto, description = "a repeat of an earlier submission: that demand"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    JsonBody(mut form): JsonBody<NewDemand>,
) -> AppResult<(StatusCode, Json<DemandDto>)> {
    header_key(&headers, &mut form.idempotency_key);
    let s = demands::submit(&app.store, &ctx.caller, &form, &app.demands, &app.calendar).await?;
    let status = if s.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, one(&app, &ctx, s.id).await?))
}

/// The caller's own demands, newest first.
#[utoipa::path(get, path = "/demands/mine", operation_id = "my_demands", tag = "demands", responses(
    (status = 200, body = [DemandDto], description = "newest first (without history)"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn mine(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<DemandDto>>> {
    let views = demands::mine(&app.store, &ctx.caller).await?;
    Ok(Json(views.into_iter().map(dto).collect()))
}

/// A demand: in full with its history for the requester, the administration institution and the
/// provider assessing it; de-identified for everyone else.
#[utoipa::path(get, path = "/demands/{id}", operation_id = "get_demand", tag = "demands",
    params(("id" = i64, Path)), security(()), responses((status = 200, body = DemandDto, description = "the demand"),
    (status = 404, body = ErrorBody, description = "no such demand")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<DemandDto>> {
    one(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema)]
pub struct DemandRouteDto {
    /// The provider department to assess it.
    #[serde(deserialize_with = "loose_text")]
    pub provider_org_id: String,
}

fn loose_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Null => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

/// 分派 — the administration institution routes a demand to a provider (or re-routes an
/// assessment to another one); the provider's assessment deadline starts.
#[utoipa::path(post, path = "/demands/{id}/route", operation_id = "route_demand", tag = "demands",
    params(("id" = i64, Path)), request_body = DemandRouteDto, responses(
    (status = 200, body = DemandDto, description = "in assessment"),
    (status = 403, body = ErrorBody, description = "not the administration institution"),
    (status = 409, body = ErrorBody, description = "already answered"),
    (status = 422, body = ErrorBody, description = "not a provider department, or the same one")))]
pub async fn route(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<DemandRouteDto>,
) -> AppResult<Json<DemandDto>> {
    demands::route(
        &app.store,
        &ctx.caller,
        id,
        &d.provider_org_id,
        &app.demands,
        &app.calendar,
    )
    .await?;
    one(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct DemandDecisionDto {
    /// accept, decline or already_open.
    pub decision: String,
    /// The reason (decline, required) or the reply to the requester (accept, already_open).
    pub text: String,
    /// already_open: the published resource that answers the demand.
    #[serde(deserialize_with = "loose_text")]
    pub resource_id: String,
    /// accept: one of the provider's plans; when omitted, the provider's demand plan for the
    /// item's year (created when missing).
    pub plan_id: Option<i64>,
    /// accept: the plan item — name and domain (default: the demand's), open_type
    /// (unconditional or conditional), planned_date (YYYY-MM-DD, not in the past), notes.
    #[schema(value_type = Option<Object>)]
    pub item: NewPlanItem,
}

/// 开放研判 — the assessment by the provider the demand is routed to: accept into the open plan
/// (the plan item is created with the decision), decline with a reason, or point to a published
/// resource that already answers it.
#[utoipa::path(post, path = "/demands/{id}/decision", operation_id = "decide_demand", tag = "demands",
    params(("id" = i64, Path)), request_body = DemandDecisionDto, responses(
    (status = 200, body = DemandDto, description = "answered"),
    (status = 403, body = ErrorBody, description = "not a provider's staff"),
    (status = 409, body = ErrorBody, description = "routed to another provider, or not in assessment"),
    (status = 422, body = ErrorBody, description = "a reason, plan item or resource problem, per field")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<DemandDecisionDto>,
) -> AppResult<Json<DemandDto>> {
    let decision = match d.decision.trim() {
        "accept" => Decision::Accept {
            reply: d.text,
            plan_id: d.plan_id,
            item: d.item,
        },
        "decline" => Decision::Decline { reason: d.text },
        "already_open" => Decision::AlreadyOpen {
            resource_id: d.resource_id,
            reply: d.text,
        },
        _ => return Err(DomainError::field("decision", "demand_decision").into()),
    };
    demands::decide(&app.store, &ctx.caller, id, &decision, &app.demands, &app.calendar).await?;
    one(&app, &ctx, id).await
}

/// 撤回 — the requester takes back a demand that has not been answered yet (submitted or in
/// assessment); whoever was to route or assess it is told.
#[utoipa::path(post, path = "/demands/{id}/withdraw", operation_id = "withdraw_demand", tag = "demands",
    params(("id" = i64, Path)), responses(
    (status = 200, body = DemandDto, description = "withdrawn"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 403, body = ErrorBody, description = "not the requester"),
    (status = 404, body = ErrorBody, description = "no such demand"),
    (status = 409, body = ErrorBody, description = "already answered or withdrawn")))]
pub async fn withdraw(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<DemandDto>> {
    demands::withdraw(&app.store, &ctx.caller, id, &app.demands, &app.calendar).await?;
    one(&app, &ctx, id).await
}

#[derive(Serialize, ToSchema)]
pub struct DemandQueueEntryDto {
    pub demand: DemandDto,
    /// routing or assessment.
    pub stage: Option<String>,
    /// Working days past the deadline.
    pub overdue_days: i64,
}

/// What waits on the caller, oldest first: demands to route and every open assessment for the
/// administration institution; its own assessments for a provider's staff.
#[utoipa::path(get, path = "/demand-queue", operation_id = "demand_queue", tag = "demands", responses(
    (status = 200, body = [DemandQueueEntryDto], description = "oldest first, overdue marked"),
    (status = 403, body = ErrorBody, description = "not administration or provider staff")))]
pub async fn queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<DemandQueueEntryDto>>> {
    let entries = demands::queue(&app.store, &ctx.caller, &app.calendar).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| DemandQueueEntryDto {
                stage: e.stage.map(|s| s.as_str().to_string()),
                overdue_days: e.overdue_days,
                demand: dto(e.demand),
            })
            .collect(),
    ))
}
