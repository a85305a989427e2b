//! `/api/v1/evaluation/…`: the evaluation of the provider departments (评估考核, §8) as JSON —
//! the indicator system (read by anyone, saved as a new version by the administration
//! institution's managers), evaluation runs (created by them; read by anyone, the consumers'
//! part by the administration institution only), CSV export and a provider's trend.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use pubdata_core::evaluation::{self, Indicator, IndicatorSystem, Layer, CATALOGUE};
use pubdata_core::{DomainError, FieldError};
use pubdata_service::evaluation::{self as service, ConsumerResult, ProviderResult, Run, SystemView, TrendPoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::i18n::{t, Lang};
use crate::AppState;

/// A metric of the catalogue.
#[derive(Serialize, ToSchema)]
pub struct MetricDto {
    pub id: String,
    /// readiness, platform, data or use.
    pub layer: String,
    /// ratio (0–1), days, count or score (0–100).
    pub unit: String,
    /// higher_is_better or lower_is_better.
    pub direction: String,
    /// Its name and what it measures, in the caller's language.
    pub name: String,
    pub doc: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct IndicatorDto {
    /// A metric id of the catalogue.
    pub metric: String,
    /// Above 0, at most 1000.
    pub weight: f64,
    /// readiness, platform, data or use; when omitted, the metric's own layer.
    #[serde(default)]
    pub layer: Option<String>,
}

/// An indicator system version; version 0 is the built-in default, before any is saved.
#[derive(Serialize, ToSchema)]
pub struct SystemDto {
    pub version: i64,
    pub indicators: Vec<IndicatorDto>,
    pub note: Option<String>,
    pub created_at: Option<i64>,
    /// Every saved version, newest first.
    pub versions: Vec<i64>,
    /// The metrics an indicator may use.
    pub metrics: Vec<MetricDto>,
}

#[derive(Deserialize, ToSchema)]
pub struct SystemInputDto {
    pub indicators: Vec<IndicatorDto>,
    /// What changed and why.
    #[serde(default)]
    pub note: String,
}

fn key<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub(crate) fn metric_name(lang: Lang, id: &str) -> String {
    t(lang, &format!("evaluation.metric.{id}"), &[])
}

fn metrics(lang: Lang) -> Vec<MetricDto> {
    CATALOGUE
        .iter()
        .map(|m| MetricDto {
            id: m.id.into(),
            layer: m.layer.as_str().into(),
            unit: key(&m.unit),
            direction: key(&m.direction),
            name: metric_name(lang, m.id),
            doc: t(lang, &format!("evaluation.metric_doc.{}", m.id), &[]),
        })
        .collect()
}

fn indicator_dto(i: &Indicator) -> IndicatorDto {
    IndicatorDto {
        metric: i.metric.clone(),
        weight: i.weight,
        layer: Some(i.layer.as_str().into()),
    }
}

async fn system_dto(app: &AppState, lang: Lang, s: SystemView) -> AppResult<SystemDto> {
    let versions = service::versions(&app.store)
        .await?
        .into_iter()
        .map(|v| v.version)
        .collect();
    Ok(SystemDto {
        version: s.version,
        indicators: s.indicators.iter().map(indicator_dto).collect(),
        note: s.note,
        created_at: s.created_at,
        versions,
        metrics: metrics(lang),
    })
}

/// Reads indicators as given (a layer left out is the metric's own); an unknown layer is
/// reported on its row, with the system's own checks.
pub(crate) fn to_system(items: Vec<IndicatorDto>) -> Result<IndicatorSystem, DomainError> {
    let mut errors = Vec::new();
    let indicators = items
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let given = d.layer.as_deref().map(str::trim).filter(|l| !l.is_empty());
            let layer = match given {
                Some(l) => Layer::parse(l).unwrap_or_else(|| {
                    errors.push(FieldError::new(
                        &format!("indicators[{i}].layer"),
                        "evaluation.unknown_layer",
                    ));
                    Layer::Data
                }),
                None => evaluation::metric(d.metric.trim()).map_or(Layer::Data, |m| m.layer),
            };
            Indicator {
                metric: d.metric.trim().to_string(),
                weight: d.weight,
                layer,
            }
        })
        .collect();
    let system = IndicatorSystem { indicators };
    if let Err(DomainError::Validation(v)) = system.validate() {
        errors.extend(v);
    }
    if errors.is_empty() {
        Ok(system)
    } else {
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        Err(DomainError::Validation(errors))
    }
}

#[derive(Deserialize, IntoParams)]
pub struct SystemQuery {
    /// A saved version; the newest when omitted.
    pub version: Option<i64>,
}

/// 评估指标体系 — the indicator system the providers are evaluated with (the newest version, or
/// the one asked for), with the catalogue of metrics.
#[utoipa::path(get, path = "/evaluation/system", operation_id = "get_indicator_system", tag = "evaluation",
    params(SystemQuery), security(()), responses((status = 200, body = SystemDto, description = "the system"),
    (status = 404, body = ErrorBody, description = "no such version")))]
pub async fn get_system(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<SystemQuery>,
) -> AppResult<Json<SystemDto>> {
    let s = service::system(&app.store, q.version).await?;
    Ok(Json(system_dto(&app, ctx.lang, s).await?))
}

/// Saves a new version of the indicator system (earlier versions are kept, and runs name the
/// version they used): each indicator a known metric, used once, with a weight above 0.
#[utoipa::path(put, path = "/evaluation/system", operation_id = "put_indicator_system", tag = "evaluation",
    request_body = SystemInputDto, responses((status = 200, body = SystemDto, description = "the new version"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 403, body = ErrorBody, description = "not a manager of the administration institution"),
    (status = 422, body = ErrorBody, description = "an unknown or repeated metric, or a weight out of range, per row")))]
pub async fn put_system(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(input): JsonBody<SystemInputDto>,
) -> AppResult<Json<SystemDto>> {
    if !service::may_manage(&ctx.caller) {
        super::current_user(&ctx)?;
        return Err(AppError::Domain(DomainError::Forbidden));
    }
    let system = to_system(input.indicators).map_err(AppError::Domain)?;
    let version = service::save_system(&app.store, &ctx.caller, &system, &input.note).await?;
    let s = service::system(&app.store, Some(version)).await?;
    Ok(Json(system_dto(&app, ctx.lang, s).await?))
}

/// A provider in a run.
#[derive(Serialize, ToSchema)]
pub struct ProviderResultDto {
    pub org_id: i64,
    pub name: String,
    /// 1 for the best; equal totals share a rank; null when nothing was measured.
    pub rank: Option<u32>,
    /// 0–100.
    pub total: Option<f64>,
    /// readiness, platform, data, use: each 0–100.
    pub layers: Vec<LayerScoreDto>,
    /// One per indicator, in the system's order: the raw value and its 0–100 score.
    pub values: Vec<Option<f64>>,
    pub scores: Vec<Option<f64>>,
    /// The six quality dimensions (completeness, validity, consistency, normativity, continuity,
    /// authenticity), 0–100.
    pub quality: Vec<Option<f64>>,
}

#[derive(Serialize, ToSchema)]
pub struct LayerScoreDto {
    pub layer: String,
    pub score: Option<f64>,
}

/// A consumer in a run (the administration institution only).
#[derive(Serialize, ToSchema)]
pub struct ConsumerResultDto {
    pub user_id: i64,
    pub login: String,
    pub display_name: String,
    pub feedback_due: u64,
    pub feedback_on_time: u64,
    /// On time / due, 0–1.
    pub feedback_compliance: Option<f64>,
    pub revoked_grants: u64,
    pub security_reports: u64,
    /// Revoked grants plus triaged security reports on their grants, in the period.
    pub incidents: u64,
    pub accepted_showcases: u64,
    pub downloads: i64,
    pub api_calls: i64,
}

/// An evaluation run: the period, the system version it used, and its results.
#[derive(Serialize, ToSchema)]
pub struct RunDto {
    pub id: i64,
    pub created_at: i64,
    /// month, quarter or year; the label reads `2026-11`, `2026-Q4` or `2026`.
    pub period_kind: String,
    pub period_label: String,
    /// The days evaluated: from `period_from` up to, not including, `period_to`.
    pub period_from: String,
    pub period_to: String,
    /// When the platform's state was read (the period's end, or the run's time when earlier).
    pub as_of: i64,
    pub system_version: i64,
    pub indicators: Vec<IndicatorDto>,
    /// By rank.
    pub providers: Vec<ProviderResultDto>,
    /// Empty unless the caller is the administration institution.
    pub consumers: Vec<ConsumerResultDto>,
}

/// A run in a list.
#[derive(Serialize, ToSchema)]
pub struct RunSummaryDto {
    pub id: i64,
    pub created_at: i64,
    pub period_kind: String,
    pub period_label: String,
    pub system_version: i64,
    pub providers: usize,
}

fn provider_dto(p: &ProviderResult) -> ProviderResultDto {
    let s = &p.scored;
    ProviderResultDto {
        org_id: s.org_id,
        name: s.name.clone(),
        rank: s.rank,
        total: s.total,
        layers: Layer::ALL
            .iter()
            .zip(&s.layers)
            .map(|(l, v)| LayerScoreDto {
                layer: l.as_str().into(),
                score: *v,
            })
            .collect(),
        values: s.values.clone(),
        scores: s.scores.clone(),
        quality: p.quality.clone(),
    }
}

fn consumer_dto(c: &ConsumerResult) -> ConsumerResultDto {
    ConsumerResultDto {
        user_id: c.user_id,
        login: c.login.clone(),
        display_name: c.display_name.clone(),
        feedback_due: c.feedback_due,
        feedback_on_time: c.feedback_on_time,
        feedback_compliance: c.feedback_compliance,
        revoked_grants: c.revoked_grants,
        security_reports: c.security_reports,
        incidents: c.incidents,
        accepted_showcases: c.accepted_showcases,
        downloads: c.downloads,
        api_calls: c.api_calls,
    }
}

fn run_dto(r: &Run) -> RunDto {
    let s = &r.snapshot;
    RunDto {
        id: r.id,
        created_at: r.created_at,
        period_kind: s.period_kind.clone(),
        period_label: s.period_label.clone(),
        period_from: s.period_from.clone(),
        period_to: s.period_to.clone(),
        as_of: s.as_of,
        system_version: s.system_version,
        indicators: s.indicators.iter().map(indicator_dto).collect(),
        providers: s.providers.iter().map(provider_dto).collect(),
        consumers: s.consumers.iter().map(consumer_dto).collect(),
    }
}

/// Every run, newest period first.
#[utoipa::path(get, path = "/evaluation/runs", operation_id = "list_evaluation_runs", tag = "evaluation",
    security(()), responses((status = 200, body = [RunSummaryDto], description = "the runs")))]
pub async fn list_runs(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<RunSummaryDto>>> {
    let runs = service::runs(&app.store, &ctx.caller).await?;
    Ok(Json(
        runs.iter()
            .map(|r| RunSummaryDto {
                id: r.id,
                created_at: r.created_at,
                period_kind: r.snapshot.period_kind.clone(),
                period_label: r.snapshot.period_label.clone(),
                system_version: r.snapshot.system_version,
                providers: r.snapshot.providers.len(),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct NewRunDto {
    /// month, quarter or year.
    pub kind: String,
    /// `2026-11` (month), `2026-Q4` (quarter) or `2026` (year); a period that has begun.
    pub period: String,
}

/// 开展评估 — evaluates a period under the newest indicator system and keeps the result as a
/// snapshot.
#[utoipa::path(post, path = "/evaluation/runs", operation_id = "create_evaluation_run", tag = "evaluation",
    request_body = NewRunDto, responses((status = 201, body = RunDto, description = "the run"),
    (status = 401, body = ErrorBody, description = "not logged in"),
    (status = 403, body = ErrorBody, description = "not a manager of the administration institution"),
    (status = 422, body = ErrorBody, description = "an unknown kind, a period written otherwise, or one that has not begun")))]
pub async fn create_run(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(input): JsonBody<NewRunDto>,
) -> AppResult<(StatusCode, Json<RunDto>)> {
    let id = service::create_run(
        &app.store,
        &ctx.caller,
        &input.kind,
        &input.period,
        &app.config.feedback,
        &app.config.self_evaluation,
    )
    .await?;
    let run = service::run(&app.store, &ctx.caller, id).await?;
    Ok((StatusCode::CREATED, Json(run_dto(&run))))
}

/// One run with every provider's raw values, scores, layer scores, total and rank; the
/// consumers' part for the administration institution only.
#[utoipa::path(get, path = "/evaluation/runs/{id}", operation_id = "get_evaluation_run", tag = "evaluation",
    params(("id" = i64, Path)), security(()), responses((status = 200, body = RunDto, description = "the run"),
    (status = 404, body = ErrorBody, description = "no such run")))]
pub async fn get_run(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<RunDto>> {
    let run = service::run(&app.store, &ctx.caller, id).await?;
    Ok(Json(run_dto(&run)))
}

#[derive(Deserialize, IntoParams)]
pub struct CsvQuery {
    /// providers (default) or consumers (the administration institution only).
    pub part: Option<String>,
}

/// A run as CSV: a line per provider (rank, total, layer scores, each indicator's value and
/// score), or per consumer.
#[utoipa::path(get, path = "/evaluation/runs/{id}/csv", operation_id = "export_evaluation_run", tag = "evaluation",
    params(("id" = i64, Path), CsvQuery), security(()),
    responses((status = 200, content_type = "text/csv", body = String, description = "UTF-8 CSV with a header line"),
    (status = 403, body = ErrorBody, description = "the consumers' part, not being the administration institution"),
    (status = 404, body = ErrorBody, description = "no such run")))]
pub async fn export_run(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<CsvQuery>,
) -> AppResult<Response> {
    let run = service::run(&app.store, &ctx.caller, id).await?;
    let consumers = q.part.as_deref() == Some("consumers");
    if consumers && !service::may_see_consumers(&ctx.caller) {
        super::current_user(&ctx)?;
        return Err(AppError::Domain(DomainError::Forbidden));
    }
    let name = format!(
        "evaluation-{}-{}.csv",
        run.snapshot.period_label,
        if consumers { "consumers" } else { "providers" }
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        service::csv(&run, consumers),
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
pub struct TrendQuery {
    /// month, quarter or year; every kind when omitted.
    pub kind: Option<String>,
}

/// A provider's place in each period evaluated.
#[derive(Serialize, ToSchema)]
pub struct TrendPointDto {
    pub run_id: i64,
    pub period_kind: String,
    pub period_label: String,
    pub total: Option<f64>,
    pub rank: Option<u32>,
    /// Providers ranked in that run.
    pub providers: usize,
}

impl From<TrendPoint> for TrendPointDto {
    fn from(p: TrendPoint) -> Self {
        TrendPointDto {
            run_id: p.run_id,
            period_kind: p.period_kind,
            period_label: p.period_label,
            total: p.total,
            rank: p.rank,
            providers: p.providers,
        }
    }
}

/// A provider department's total and rank across the periods evaluated (the newest run of
/// each), oldest first.
#[utoipa::path(get, path = "/organisations/{id}/evaluation", operation_id = "provider_evaluation_trend",
    tag = "evaluation", params(("id" = i64, Path), TrendQuery), security(()),
    responses((status = 200, body = [TrendPointDto], description = "oldest period first")))]
pub async fn trend(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<TrendQuery>,
) -> AppResult<Json<Vec<TrendPointDto>>> {
    let runs = service::runs(&app.store, &ctx.caller).await?;
    let points = service::trend(&runs, id, q.kind.as_deref());
    Ok(Json(points.into_iter().map(TrendPointDto::from).collect()))
}
