//! `/api/v1/…/quality`: the six quality dimensions of §8 for a published resource and for a
//! provider department, with the reasons behind each score in the caller's language. The same
//! views fill the dataset page and the provider workspace.

use axum::extract::{Path, State};
use axum::Json;
use pubdata_core::quality::{Dimension, Reason, Score, Scores};
use pubdata_service::quality::{self, ProviderQuality, ResourceQuality};
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{has, t, Lang};
use crate::AppState;

/// Why a score is below 100, or why it is not measured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonDto {
    /// Stable machine code, e.g. `column_nulls`.
    pub code: String,
    /// Points it takes off the score.
    pub points: f64,
    /// The reason in the caller's language.
    pub message: String,
    /// Its named values (column, share, count, …).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionDto {
    /// completeness, validity, consistency, normativity, continuity or authenticity.
    pub dimension: String,
    /// Its name in the caller's language (完整性 …).
    pub name: String,
    /// 0–100 with one decimal; null when there is nothing to measure.
    pub score: Option<f64>,
    pub reasons: Vec<ReasonDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DistributionQualityDto {
    pub id: i64,
    pub version: i64,
    pub title: String,
    pub dimensions: Vec<DimensionDto>,
}

/// The lowest dimension and its costliest reasons.
#[derive(Debug, Serialize, ToSchema)]
pub struct FixFirstDto {
    pub dimension: String,
    pub name: String,
    pub reasons: Vec<ReasonDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceQualityDto {
    pub resource_id: i64,
    pub code: String,
    pub title: String,
    /// The mean of the measured dimensions.
    pub overall: Option<f64>,
    pub dimensions: Vec<DimensionDto>,
    /// Each loaded table offered now.
    pub distributions: Vec<DistributionQualityDto>,
    pub fix_first: Option<FixFirstDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DimensionScoreDto {
    pub dimension: String,
    pub name: String,
    pub score: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderQualityDto {
    pub org_id: i64,
    pub name: String,
    pub overall: Option<f64>,
    /// Each dimension: the plain mean over the published resources measured on it.
    pub dimensions: Vec<DimensionScoreDto>,
    /// Lowest overall first.
    pub resources: Vec<ResourceQualityDto>,
}

pub(crate) fn dimension_name(lang: Lang, d: Dimension) -> String {
    t(lang, &format!("quality_dim.{}", d.as_str()), &[])
}

/// A parameter as the message shows it: shares as percentages, rule and element keys by name.
pub(crate) fn param_text(lang: Lang, name: &str, v: &serde_json::Value) -> String {
    let translated = |prefix: &str, key: &str| {
        let k = format!("{prefix}.{key}");
        if has(lang, &k) {
            t(lang, &k, &[])
        } else {
            key.to_string()
        }
    };
    match (name, v) {
        ("share", serde_json::Value::Number(n)) => format!("{:.1}%", n.as_f64().unwrap_or(0.0) * 100.0),
        ("rule", serde_json::Value::String(s)) => translated("quality_rule", s),
        ("element", serde_json::Value::String(s)) => translated("quality_element", s),
        ("declared" | "actual", serde_json::Value::String(s)) => translated("field_type", s),
        (_, serde_json::Value::String(s)) => s.clone(),
        (_, other) => other.to_string(),
    }
}

pub fn reason_dto(lang: Lang, r: &Reason) -> ReasonDto {
    let params: Vec<(&str, String)> = r.params.iter().map(|(k, v)| (*k, param_text(lang, k, v))).collect();
    ReasonDto {
        code: r.code.to_string(),
        points: (r.points * 10.0).round() / 10.0,
        message: t(lang, &format!("quality_reason.{}", r.code), &params),
        params: serde_json::to_value(&r.params).unwrap_or_default(),
    }
}

fn dimension_dto(lang: Lang, d: Dimension, s: &Score) -> DimensionDto {
    DimensionDto {
        dimension: d.as_str().into(),
        name: dimension_name(lang, d),
        score: s.value(),
        reasons: s.reasons.iter().map(|r| reason_dto(lang, r)).collect(),
    }
}

fn dimensions(lang: Lang, s: &Scores) -> Vec<DimensionDto> {
    Dimension::ALL
        .iter()
        .map(|d| dimension_dto(lang, *d, s.get(*d)))
        .collect()
}

pub fn resource_dto(lang: Lang, q: &ResourceQuality) -> ResourceQualityDto {
    ResourceQualityDto {
        resource_id: q.resource_id,
        code: q.code.clone(),
        title: q.title.clone(),
        overall: q.overall,
        dimensions: dimensions(lang, &q.scores),
        distributions: q
            .distributions
            .iter()
            .map(|d| DistributionQualityDto {
                id: d.id,
                version: d.version,
                title: d.title.clone(),
                dimensions: dimensions(lang, &d.scores),
            })
            .collect(),
        fix_first: q.fix_first.as_ref().map(|f| FixFirstDto {
            dimension: f.dimension.as_str().into(),
            name: dimension_name(lang, f.dimension),
            reasons: f.reasons.iter().map(|r| reason_dto(lang, r)).collect(),
        }),
    }
}

pub fn provider_dto(lang: Lang, q: &ProviderQuality) -> ProviderQualityDto {
    ProviderQualityDto {
        org_id: q.org_id,
        name: q.name.clone(),
        overall: q.overall,
        dimensions: q
            .dimensions
            .iter()
            .map(|(d, score)| DimensionScoreDto {
                dimension: d.as_str().into(),
                name: dimension_name(lang, *d),
                score: *score,
            })
            .collect(),
        resources: q.resources.iter().map(|r| resource_dto(lang, r)).collect(),
    }
}

/// A published resource's six quality scores with their reasons.
#[utoipa::path(get, path = "/resources/{id}/quality", operation_id = "resource_quality", tag = "quality",
    params(("id" = i64, Path)), security(()), responses(
    (status = 200, body = ResourceQualityDto, description = "the scores and their reasons"),
    (status = 404, body = ErrorBody, description = "no such published resource")))]
pub async fn resource(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<ResourceQualityDto>> {
    let q = quality::of_published(&app.store, id, quality::today()).await?;
    Ok(Json(resource_dto(ctx.lang, &q)))
}

/// A provider department's scores over its published resources, and each resource's.
#[utoipa::path(get, path = "/organisations/{id}/quality", operation_id = "organisation_quality", tag = "quality",
    params(("id" = i64, Path)), security(()), responses(
    (status = 200, body = ProviderQualityDto, description = "the department's scores"),
    (status = 404, body = ErrorBody, description = "no such provider department")))]
pub async fn organisation(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> AppResult<Json<ProviderQualityDto>> {
    let q = quality::of_provider(&app.store, id, quality::today()).await?;
    Ok(Json(provider_dto(ctx.lang, &q)))
}
