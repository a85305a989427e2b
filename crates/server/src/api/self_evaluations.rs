//! `/api/v1/self-evaluations`: provider departments' periodic self-evaluations (自评) over the
//! six quality dimensions — opening one pre-filled with the computed scores, writing and
//! submitting it, and the administration institution's acknowledgement or return.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use pubdata_core::quality::Dimension;
use pubdata_core::self_evaluation::needs_action;
use pubdata_core::DomainError;
use pubdata_service::self_evaluation::{self as se, SelfEvaluation, Text};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::quality::{dimension_name, param_text};
use super::{current_user, ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{t, Lang};
use crate::AppState;

/// One reason behind a weak resource's score.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceReasonDto {
    pub code: String,
    pub points: f64,
    /// The reason in the caller's language.
    pub message: String,
}

/// One of the weakest published resources on a dimension.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceDto {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    pub score: f64,
    pub reasons: Vec<EvidenceReasonDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EntryDto {
    pub dimension: String,
    pub name: String,
    /// The department's score when the evaluation was opened; null when not measured.
    pub score: Option<f64>,
    /// Below 80: a comment is required, and the evaluation needs an action plan.
    pub needs_action: bool,
    pub evidence: Vec<EvidenceDto>,
    pub comment: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SelfEvaluationDto {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    /// e.g. `2026-Q3`.
    pub period: String,
    pub period_start: String,
    pub period_end: String,
    /// The last day in time (YYYY-MM-DD).
    pub due: String,
    /// draft, submitted, acknowledged or returned.
    pub state: String,
    pub entries: Vec<EntryDto>,
    pub action_plan: String,
    /// The administration institution's comment (required when returned).
    pub admin_comment: Option<String>,
    pub submitted_at: Option<i64>,
    pub first_submitted_at: Option<i64>,
    pub decided_at: Option<i64>,
    /// Whether the first submission came by the due day; null while never submitted.
    pub on_time: Option<bool>,
    pub overdue: bool,
}

pub fn evidence(lang: Lang, v: &serde_json::Value) -> Vec<EvidenceDto> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| EvidenceDto {
                    resource_id: e["resource_id"].as_i64().unwrap_or_default(),
                    code: e["code"].as_str().unwrap_or_default().into(),
                    title: e["title"].as_str().unwrap_or_default().into(),
                    score: e["score"].as_f64().unwrap_or_default(),
                    reasons: e["reasons"]
                        .as_array()
                        .map(|rs| {
                            rs.iter()
                                .map(|r| {
                                    let code = r["code"].as_str().unwrap_or_default();
                                    let params: Vec<(String, String)> = r["params"]
                                        .as_object()
                                        .map(|p| p.iter().map(|(k, v)| (k.clone(), param_text(lang, k, v))).collect())
                                        .unwrap_or_default();
                                    let params: Vec<(&str, String)> =
                                        params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                                    EvidenceReasonDto {
                                        code: code.into(),
                                        points: r["points"].as_f64().unwrap_or_default(),
                                        message: t(lang, &format!("quality_reason.{code}"), &params),
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn dto(lang: Lang, s: &SelfEvaluation) -> SelfEvaluationDto {
    SelfEvaluationDto {
        id: s.id,
        org_id: s.org_id,
        org_name: s.org_name.clone(),
        period: s.period.clone(),
        period_start: s.period_start.clone(),
        period_end: s.period_end.clone(),
        due: s.due.clone(),
        state: s.state.as_str().into(),
        entries: s
            .entries
            .iter()
            .map(|e| EntryDto {
                dimension: e.dimension.as_str().into(),
                name: dimension_name(lang, e.dimension),
                score: e.score.map(|x| (x * 10.0).round() / 10.0),
                needs_action: needs_action(e.score),
                evidence: evidence(lang, &e.evidence),
                comment: e.comment.clone(),
            })
            .collect(),
        action_plan: s.action_plan.clone(),
        admin_comment: s.admin_comment.clone(),
        submitted_at: s.submitted_at,
        first_submitted_at: s.first_submitted_at,
        decided_at: s.decided_at,
        on_time: s.on_time,
        overdue: s.overdue,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// One department's; without it, all the caller may read.
    pub org_id: Option<i64>,
}

/// Self-evaluations, newest period first: a department's staff see its own, the administration
/// institution all.
#[utoipa::path(get, path = "/self-evaluations", operation_id = "list_self_evaluations", tag = "quality",
    params(ListQuery), responses((status = 200, body = [SelfEvaluationDto], description = "newest period first"),
    (status = 403, body = ErrorBody, description = "neither provider staff nor the administration institution")))]
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<ListQuery>,
) -> AppResult<Json<Vec<SelfEvaluationDto>>> {
    current_user(&ctx)?;
    let all = se::list(&app.store, &ctx.caller, q.org_id).await?;
    Ok(Json(all.iter().map(|s| dto(ctx.lang, s)).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpenDto {
    pub org_id: i64,
    /// e.g. `2026-Q3`; by default the last period that has ended.
    #[serde(default)]
    pub period: Option<String>,
}

/// Opens the department's self-evaluation for a period that has ended, pre-filled with its
/// computed scores and their evidence (an existing one is returned as it is).
#[utoipa::path(post, path = "/self-evaluations", operation_id = "open_self_evaluation", tag = "quality",
    request_body = OpenDto, responses((status = 201, body = SelfEvaluationDto, description = "the draft"),
    (status = 403, body = ErrorBody, description = "not staff of the department"),
    (status = 422, body = ErrorBody, description = "a period not ended yet, or not a period")))]
pub async fn open(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<OpenDto>,
) -> AppResult<impl IntoResponse> {
    current_user(&ctx)?;
    let today = pubdata_service::quality::today();
    let schedule = app.config.self_evaluation;
    let id = se::open(&app.store, &ctx.caller, &schedule, d.org_id, d.period.as_deref(), today).await?;
    let s = se::get(&app.store, &ctx.caller, id).await?;
    Ok((StatusCode::CREATED, Json(dto(ctx.lang, &s))))
}

/// One self-evaluation (the department's staff and the administration institution).
#[utoipa::path(get, path = "/self-evaluations/{id}", operation_id = "get_self_evaluation", tag = "quality",
    params(("id" = i64, Path)), responses((status = 200, body = SelfEvaluationDto, description = "it"),
    (status = 404, body = ErrorBody, description = "no such self-evaluation visible to the caller")))]
pub async fn get(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<SelfEvaluationDto>> {
    current_user(&ctx)?;
    Ok(Json(dto(ctx.lang, &se::get(&app.store, &ctx.caller, id).await?)))
}

/// What the staff write. Absent comments and plan are left as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct TextDto {
    /// Per dimension (completeness, validity, …): the staff's comment.
    pub comments: BTreeMap<String, String>,
    pub action_plan: Option<String>,
}

fn text_of(s: &SelfEvaluation, d: TextDto) -> AppResult<Text> {
    let mut comments = BTreeMap::new();
    for (k, v) in d.comments {
        let dim = Dimension::ALL
            .into_iter()
            .find(|x| x.as_str() == k)
            .ok_or(DomainError::field(&format!("comments.{k}"), "unknown_dimension"))?;
        comments.insert(dim, v);
    }
    Ok(Text {
        comments,
        action_plan: d.action_plan.unwrap_or_else(|| s.action_plan.clone()),
    })
}

/// Saves the draft's comments and action plan.
#[utoipa::path(put, path = "/self-evaluations/{id}", operation_id = "save_self_evaluation", tag = "quality",
    params(("id" = i64, Path)), request_body = TextDto,
    responses((status = 200, body = SelfEvaluationDto, description = "saved"),
    (status = 409, body = ErrorBody, description = "submitted or acknowledged: not editable"),
    (status = 422, body = ErrorBody, description = "a text too long")))]
pub async fn save(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<TextDto>,
) -> AppResult<Json<SelfEvaluationDto>> {
    current_user(&ctx)?;
    let s = se::get(&app.store, &ctx.caller, id).await?;
    se::save(&app.store, &ctx.caller, id, &text_of(&s, d)?, false).await?;
    Ok(Json(dto(ctx.lang, &se::get(&app.store, &ctx.caller, id).await?)))
}

/// Saves the text given and submits it to the administration institution. A dimension below
/// 80 needs a comment, and then the evaluation an action plan; all problems are listed.
#[utoipa::path(post, path = "/self-evaluations/{id}/submit", operation_id = "submit_self_evaluation", tag = "quality",
    params(("id" = i64, Path)), request_body = TextDto,
    responses((status = 200, body = SelfEvaluationDto, description = "submitted"),
    (status = 409, body = ErrorBody, description = "already submitted or acknowledged"),
    (status = 422, body = ErrorBody, description = "comments or the action plan missing")))]
pub async fn submit(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<TextDto>,
) -> AppResult<Json<SelfEvaluationDto>> {
    current_user(&ctx)?;
    let s = se::get(&app.store, &ctx.caller, id).await?;
    se::save(&app.store, &ctx.caller, id, &text_of(&s, d)?, true).await?;
    Ok(Json(dto(ctx.lang, &se::get(&app.store, &ctx.caller, id).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionDto {
    /// `acknowledge` or `return`.
    pub decision: String,
    /// Required when returning.
    #[serde(default)]
    pub comment: String,
}

/// The administration institution acknowledges a submitted self-evaluation or returns it with
/// a comment for the department to revise.
#[utoipa::path(post, path = "/self-evaluations/{id}/decision", operation_id = "decide_self_evaluation", tag = "quality",
    params(("id" = i64, Path)), request_body = DecisionDto,
    responses((status = 200, body = SelfEvaluationDto, description = "acknowledged or returned"),
    (status = 403, body = ErrorBody, description = "not the administration institution"),
    (status = 409, body = ErrorBody, description = "not submitted"),
    (status = 422, body = ErrorBody, description = "a return without a comment")))]
pub async fn decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(d): JsonBody<DecisionDto>,
) -> AppResult<Json<SelfEvaluationDto>> {
    current_user(&ctx)?;
    let acknowledge = match d.decision.as_str() {
        "acknowledge" => true,
        "return" => false,
        _ => return Err(DomainError::field("decision", "decision").into()),
    };
    se::decide(&app.store, &ctx.caller, id, acknowledge, &d.comment).await?;
    Ok(Json(dto(ctx.lang, &se::get(&app.store, &ctx.caller, id).await?)))
}
