//! `/api/v1/security-reports`: confidential reports of data-security problems (安全问题报告) as
//! JSON — reporting one, triage, routing, the actions taken from it and its resolution.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use pubdata_core::security_report::{Action, NewReport, Severity};
use pubdata_core::DomainError;
use pubdata_service::security_reports::{self, ReportView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::demands::header_key;
use super::showcases::{event_dto, OutcomeEventDto};
use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

/// A report. Its reporter sees what they wrote, the state and the resolution; `severity`,
/// `provider_org_id`, `provider_name`, `reporter_name`, `stage_due` and `history` are given
/// only to the administration institution and the provider it is routed to.
#[derive(Serialize, ToSchema)]
pub struct SecurityReportDto {
    pub id: i64,
    /// personal_data, leak, misuse or other.
    pub kind: String,
    pub resource_id: Option<i64>,
    pub resource_title: Option<String>,
    pub grant_id: Option<i64>,
    pub description: String,
    pub evidence: Option<String>,
    /// submitted, triaged, routed or resolved.
    pub state: String,
    pub resolution: Option<String>,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    /// low, medium, high or critical.
    pub severity: Option<String>,
    pub provider_org_id: Option<i64>,
    pub provider_name: Option<String>,
    pub reporter_name: Option<String>,
    pub stage_due: Option<String>,
    pub overdue: bool,
    pub history: Vec<OutcomeEventDto>,
}

fn dto(v: ReportView) -> SecurityReportDto {
    let r = v.row;
    let full = v.full;
    SecurityReportDto {
        id: r.id,
        kind: r.kind,
        resource_id: r.resource_id,
        resource_title: r.resource_title,
        // Only those who handle the report see which grant it names (and it is kept only when
        // such a grant exists), so the reporter's answer never reveals whether a grant exists.
        grant_id: r.grant_id.filter(|_| full),
        description: r.description,
        evidence: r.evidence,
        state: r.state,
        resolution: r.resolution,
        created_at: r.created_at,
        resolved_at: r.resolved_at,
        severity: r.severity,
        provider_org_id: r.provider_org_id,
        provider_name: r.provider_name,
        reporter_name: full.then_some(r.reporter_name),
        stage_due: r.stage_due,
        overdue: v.overdue,
        history: v.events.into_iter().map(event_dto).collect(),
    }
}

async fn one(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Json<SecurityReportDto>> {
    Ok(Json(dto(security_reports::get(&app.store, &ctx.caller, id).await?)))
}

#[derive(Deserialize, IntoParams)]
pub struct QueueQuery {
    /// Only the unresolved ones, oldest first (the queue); default true.
    pub open: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct SecurityReportQueueEntryDto {
    pub report: SecurityReportDto,
    /// Working days past the deadline.
    pub overdue_days: i64,
}

/// The reports the caller handles: all for the administration institution, those routed to
/// their department for a provider's staff.
#[utoipa::path(get, path = "/security-reports", operation_id = "security_report_queue", tag = "security-reports",
    params(QueueQuery), responses((status = 200, body = [SecurityReportQueueEntryDto], description = "the reports"),
    (status = 403, body = ErrorBody, description = "not administration or provider staff")))]
pub async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<QueueQuery>,
) -> AppResult<Json<Vec<SecurityReportQueueEntryDto>>> {
    let entries = security_reports::queue(&app.store, &ctx.caller, q.open.unwrap_or(true), &app.calendar).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| SecurityReportQueueEntryDto {
                overdue_days: e.overdue_days,
                report: dto(e.report),
            })
            .collect(),
    ))
}

/// 报告安全问题 — anyone logged in reports a problem: `kind` (personal_data, leak, misuse,
/// other), optional `resource_id` and `grant_id`, `description`, optional `evidence`. The same
/// report sent again (the same `idempotency_key` or the same content within minutes) is answered
/// with the first one and status 200.
#[utoipa::path(post, path = "/security-reports", operation_id = "submit_security_report", tag = "security-reports",
    request_body = Object, responses((status = 201, body = SecurityReportDto, description = "reported"),
    (status = 200, body = SecurityReportDto, description = "a repeat of an earlier submission: that report"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 422, body = ErrorBody, description = "what is wrong, per field")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    JsonBody(mut form): JsonBody<NewReport>,
) -> AppResult<(StatusCode, Json<SecurityReportDto>)> {
    header_key(&headers, &mut form.idempotency_key);
    let s = security_reports::submit(&app.store, &ctx.caller, &form, &app.security_reports, &app.calendar).await?;
    let status = if s.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, one(&app, &ctx, s.id).await?))
}

/// The caller's own reports, newest first (their limited view).
#[utoipa::path(get, path = "/security-reports/mine", operation_id = "my_security_reports", tag = "security-reports",
    responses((status = 200, body = [SecurityReportDto], description = "newest first"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn mine(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<SecurityReportDto>>> {
    let views = security_reports::mine(&app.store, &ctx.caller).await?;
    Ok(Json(views.into_iter().map(dto).collect()))
}

/// A report, for its reporter (limited), the administration institution and the provider it is
/// routed to; 404 for everyone else.
#[utoipa::path(get, path = "/security-reports/{id}", operation_id = "get_security_report", tag = "security-reports",
    params(("id" = i64, Path)), responses((status = 200, body = SecurityReportDto, description = "the report"),
    (status = 404, body = ErrorBody, description = "no such report you may see")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<SecurityReportDto>> {
    one(&app, &ctx, id).await
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct SecurityReportActionDto {
    /// triage, route, withdraw_resource, revoke_grant or resolve.
    pub action: String,
    /// triage: low, medium, high or critical.
    pub severity: String,
    /// route: the provider department concerned.
    pub provider_org_id: Option<i64>,
    /// revoke_grant: the grant (the report's own, or another grant of its resource).
    pub grant_id: Option<i64>,
    /// withdraw_resource, revoke_grant: the reason the provider or consumer reads;
    /// resolve: the resolution record.
    pub text: String,
}

pub(crate) fn action(d: SecurityReportActionDto, resource_id: Option<i64>) -> Result<Action, DomainError> {
    Ok(match d.action.trim() {
        "triage" => Action::Triage {
            severity: Severity::parse(&d.severity).ok_or_else(|| DomainError::field("severity", "severity"))?,
        },
        "route" => Action::Route {
            provider_org_id: d
                .provider_org_id
                .ok_or_else(|| DomainError::field("provider_org_id", "required"))?,
        },
        "withdraw_resource" => Action::WithdrawResource {
            resource_id: resource_id.ok_or_else(|| DomainError::field("resource_id", "required"))?,
            reason: d.text,
        },
        "revoke_grant" => Action::RevokeGrant {
            grant_id: d.grant_id.ok_or_else(|| DomainError::field("grant_id", "required"))?,
            reason: d.text,
        },
        "resolve" => Action::Resolve { resolution: d.text },
        _ => return Err(DomainError::field("action", "security_report_action")),
    })
}

/// Triage (severity), routing to the provider concerned, withdrawing the report's resource,
/// revoking a grant, or resolving it with a record. A withdrawal or revocation is the same
/// operation as on the resource and grant pages, and is recorded on the report in the same
/// transaction.
#[utoipa::path(post, path = "/security-reports/{id}/action", operation_id = "act_on_security_report",
    tag = "security-reports", params(("id" = i64, Path)), request_body = SecurityReportActionDto, responses(
    (status = 200, body = SecurityReportDto, description = "done"),
    (status = 403, body = ErrorBody, description = "may see the report but not do this"),
    (status = 404, body = ErrorBody, description = "no such report you may see"),
    (status = 409, body = ErrorBody, description = "not in the state for it (e.g. resolved, or the resource is not published)"),
    (status = 422, body = ErrorBody, description = "what is missing or wrong")))]
pub async fn act(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<SecurityReportActionDto>,
) -> AppResult<Json<SecurityReportDto>> {
    let report = security_reports::get(&app.store, &ctx.caller, id).await?;
    let a = action(d, report.row.resource_id)?;
    let done = security_reports::act(&app.store, &ctx.caller, id, &a, &app.security_reports, &app.calendar).await?;
    if done.withdrew_resource {
        app.catalogue.refresh(&app.store).await;
    }
    one(&app, &ctx, id).await
}
