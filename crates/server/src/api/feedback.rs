//! `/api/v1/grants/{id}/usage-reports` and `/api/v1/usage-reports`: usage feedback on grants
//! (数据应用反馈) as JSON — the due dates, overdue marks and reports of a grant, and the lists for
//! the consumer, the provider and the administration institution.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pubdata_core::usage_report::NewUsageReport;
use pubdata_service::feedback::{self, GrantFeedback};
use pubdata_store::UsageReportRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::demands::header_key;
use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct UsageReportDto {
    pub id: i64,
    pub grant_id: i64,
    /// The due date (YYYY-MM-DD) the report covers.
    pub period_due: String,
    pub purpose: String,
    pub result: String,
    pub users: Option<i64>,
    pub decisions: Option<String>,
    pub problems: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
}

fn report_dto(r: UsageReportRow) -> UsageReportDto {
    UsageReportDto {
        id: r.id,
        grant_id: r.grant_id,
        period_due: r.period_due,
        purpose: r.purpose,
        result: r.result,
        users: r.users_count,
        decisions: r.decisions,
        problems: r.problems,
        link: r.link,
        created_at: r.created_at,
    }
}

/// A grant's feedback: its due dates, those covered, the next one and whether it is overdue.
#[derive(Serialize, ToSchema)]
pub struct GrantFeedbackDto {
    pub grant_id: i64,
    pub resource_id: i64,
    pub resource_title: String,
    pub consumer_id: i64,
    pub consumer_name: String,
    pub provider_org_id: i64,
    /// active, expired or revoked.
    pub grant_state: String,
    pub valid_from: String,
    pub valid_to: String,
    /// Every due date (YYYY-MM-DD): every N days from the start and at the end.
    pub due_dates: Vec<String>,
    /// The due dates a report covers.
    pub covered: Vec<String>,
    /// The earliest due date not yet covered.
    pub next_due: Option<String>,
    pub overdue: bool,
    /// Calendar days since `next_due` passed.
    pub overdue_days: i64,
    pub reports: Vec<UsageReportDto>,
}

fn dto(f: GrantFeedback) -> GrantFeedbackDto {
    let g = f.grant;
    GrantFeedbackDto {
        grant_id: g.id,
        resource_id: g.resource_id,
        resource_title: g.resource_title,
        consumer_id: g.consumer_id,
        consumer_name: g.consumer_name,
        provider_org_id: g.provider_org_id,
        grant_state: g.state,
        valid_from: g.valid_from,
        valid_to: g.valid_to,
        due_dates: f.due.iter().map(|d| d.to_string()).collect(),
        covered: f.covered.iter().map(|d| d.to_string()).collect(),
        next_due: f.standing.next_due.map(|d| d.to_string()),
        overdue: f.standing.overdue,
        overdue_days: f.standing.overdue_days,
        reports: f.reports.into_iter().map(report_dto).collect(),
    }
}

async fn one(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<GrantFeedbackDto>> {
    Ok(Json(dto(feedback::for_grant(
        &app.store,
        &ctx.caller,
        id,
        &app.access.feedback,
    )
    .await?)))
}

/// A grant's feedback, for its holder, its provider's staff and the administration institution;
/// 404 for everyone else.
#[utoipa::path(get, path = "/grants/{id}/usage-reports", operation_id = "grant_usage_reports", tag = "feedback",
    params(("id" = i64, Path)), responses((status = 200, body = GrantFeedbackDto, description = "the grant's feedback"),
    (status = 404, body = ErrorBody, description = "no such grant you may see")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<GrantFeedbackDto>> {
    one(&app, &ctx, id).await
}

/// 提交应用反馈 — the grant holder reports on the earliest due date not yet covered: `purpose`,
/// `result`, optional `users` (a number), `decisions`, `problems` (found with the data) and
/// `link`. The same report sent again is refused with 409 `usage_report_duplicate`.
#[utoipa::path(post, path = "/grants/{id}/usage-reports", operation_id = "submit_usage_report", tag = "feedback",
    params(("id" = i64, Path)), request_body = Object, responses(
    (status = 201, body = GrantFeedbackDto, description = "reported; the grant's feedback"),
    (status = 404, body = ErrorBody, description = "no such grant of yours"),
    (status = 409, body = ErrorBody, description = "a repeat of an earlier report (usage_report_duplicate), or \
    every due date is covered (usage_report_not_due)"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(mut form): JsonBody<NewUsageReport>,
) -> AppResult<(StatusCode, Json<GrantFeedbackDto>)> {
    header_key(&headers, &mut form.idempotency_key);
    feedback::submit(&app.store, &ctx.caller, id, &form, &app.access.feedback).await?;
    Ok((StatusCode::CREATED, one(&app, &ctx, id).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Only the grants whose feedback is overdue.
    pub overdue: Option<bool>,
    /// `mine` for the caller's own grants; otherwise the grants they oversee.
    pub scope: Option<String>,
}

/// Grants with their feedback: the caller's own with `scope=mine`; otherwise all for the
/// administration institution and their resources' for a provider's staff, most overdue first.
#[utoipa::path(get, path = "/usage-reports", operation_id = "list_usage_reports", tag = "feedback",
    params(ListQuery), responses((status = 200, body = [GrantFeedbackDto], description = "the grants"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 403, body = ErrorBody, description = "not administration or provider staff")))]
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<GrantFeedbackDto>>> {
    let rules = &app.access.feedback;
    let overdue = q.overdue.unwrap_or(false);
    let mut list = if q.scope.as_deref() == Some("mine") {
        feedback::mine(&app.store, &ctx.caller, rules).await?
    } else {
        feedback::overseen(&app.store, &ctx.caller, rules, overdue).await?
    };
    list.retain(|f| !overdue || f.standing.overdue);
    Ok(Json(list.into_iter().map(dto).collect()))
}
