//! `/api/v1/acceptance-standards` and `/api/v1/resources/{id}/acceptance`: the acceptance
//! standards (数据接收标准) every submission must pass — reading them, setting them (the
//! administration institution's manager), their history — and how one resource fares now.

use axum::extract::{Path, State};
use axum::Json;
use pubdata_core::acceptance::{AcceptanceRules, Element, MinScores, RuleResult};
use pubdata_core::DomainError;
use pubdata_service::acceptance::{self, Check, Standard};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{t, Lang};
use crate::AppState;

/// The lowest score accepted per quality dimension (0–100); null or absent sets no minimum.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct MinScoresDto {
    pub completeness: Option<f64>,
    pub validity: Option<f64>,
    pub consistency: Option<f64>,
    pub normativity: Option<f64>,
    pub continuity: Option<f64>,
    pub authenticity: Option<f64>,
}

/// The rules. Absent keys take the defaults (open format and personal-data rules on, summary
/// at least 20 characters, no minimum scores, no extra elements).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RulesDto {
    pub min_scores: MinScoresDto,
    /// At least one loaded table or API must be offered.
    pub open_format: bool,
    /// No personal data that is neither masked nor justified.
    pub personal_data: bool,
    /// The shortest summary accepted, in characters; 0 sets no rule.
    pub min_summary_chars: u32,
    /// Metadata required beyond the basics: fields, tags, industry, contact_phone,
    /// contact_email, field_titles, field_descriptions, spatial, temporal.
    pub required_elements: Vec<String>,
}

impl Default for RulesDto {
    fn default() -> Self {
        rules_dto(&AcceptanceRules::default())
    }
}

pub fn rules_dto(r: &AcceptanceRules) -> RulesDto {
    let m = &r.min_scores;
    RulesDto {
        min_scores: MinScoresDto {
            completeness: m.completeness,
            validity: m.validity,
            consistency: m.consistency,
            normativity: m.normativity,
            continuity: m.continuity,
            authenticity: m.authenticity,
        },
        open_format: r.open_format,
        personal_data: r.personal_data,
        min_summary_chars: r.min_summary_chars,
        required_elements: r.required_elements.iter().map(|e| e.as_str().to_string()).collect(),
    }
}

fn rules_of(d: RulesDto) -> AppResult<AcceptanceRules> {
    let mut required_elements = Vec::new();
    for (i, e) in d.required_elements.iter().enumerate() {
        match Element::parse(e.trim()) {
            Some(e) => required_elements.push(e),
            None => {
                return Err(DomainError::Validation(vec![pubdata_core::FieldError::new(
                    &format!("required_elements[{i}]"),
                    "unknown_element",
                )
                .with("value", e)])
                .into())
            }
        }
    }
    let m = d.min_scores;
    Ok(AcceptanceRules {
        min_scores: MinScores {
            completeness: m.completeness,
            validity: m.validity,
            consistency: m.consistency,
            normativity: m.normativity,
            continuity: m.continuity,
            authenticity: m.authenticity,
        },
        open_format: d.open_format,
        personal_data: d.personal_data,
        min_summary_chars: d.min_summary_chars,
        required_elements,
    })
}

/// The standards in force (version 0: the built-in defaults, never changed).
#[derive(Debug, Serialize, ToSchema)]
pub struct StandardDto {
    pub version: i64,
    pub rules: RulesDto,
    /// Who set this version, and when (milliseconds since the epoch).
    pub changed_by: Option<String>,
    pub changed_at: Option<i64>,
}

fn standard_dto(s: &Standard) -> StandardDto {
    StandardDto {
        version: s.version,
        rules: rules_dto(&s.rules),
        changed_by: s.changed_by.clone(),
        changed_at: s.changed_at,
    }
}

/// One rule and how the resource fares on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleResultDto {
    /// e.g. `min_score.completeness`, `open_format`, `personal_data`, `summary_length`,
    /// `element.tags`.
    pub rule: String,
    /// The rule's name in the caller's language.
    pub name: String,
    pub pass: bool,
    /// The message's code (`min_score`, `not_measured`, `open_format`, …).
    pub code: String,
    /// What was found, in the caller's language.
    pub message: String,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

pub fn rule_name(lang: Lang, rule: &str) -> String {
    t(lang, &format!("label.acceptance.{rule}"), &[])
}

fn params_of(r: &RuleResult) -> Vec<(&str, String)> {
    r.params.iter().map(|(k, v)| (*k, v.clone())).collect()
}

pub fn rule_result_dto(lang: Lang, r: &RuleResult) -> RuleResultDto {
    RuleResultDto {
        rule: r.rule.clone(),
        name: rule_name(lang, &r.rule),
        pass: r.pass,
        code: r.code.into(),
        message: t(lang, &format!("acceptance.detail.{}", r.code), &params_of(r)),
        params: serde_json::to_value(&r.params).unwrap_or_default(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckDto {
    /// The version of the standards applied.
    pub version: i64,
    pub passed: bool,
    pub results: Vec<RuleResultDto>,
}

pub fn check_dto(lang: Lang, c: &Check) -> CheckDto {
    CheckDto {
        version: c.version,
        passed: c.passed,
        results: c.results.iter().map(|r| rule_result_dto(lang, r)).collect(),
    }
}

/// The acceptance standards in force: what every submission must pass.
#[utoipa::path(get, path = "/acceptance-standards", operation_id = "get_acceptance_standards", tag = "quality",
    security(()), responses((status = 200, body = StandardDto, description = "the rules in force")))]
pub async fn get(State(app): State<AppState>) -> AppResult<Json<StandardDto>> {
    Ok(Json(standard_dto(&acceptance::current(&app.store).await?)))
}

/// Sets new standards (the administration institution's manager): a new version, audited.
#[utoipa::path(put, path = "/acceptance-standards", operation_id = "set_acceptance_standards", tag = "quality",
    request_body = RulesDto, responses((status = 200, body = StandardDto, description = "the new version in force"),
    (status = 403, body = ErrorBody, description = "not the administration institution's manager"),
    (status = 422, body = ErrorBody, description = "a score outside 0–100, an unknown element, …")))]
pub async fn put(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<RulesDto>,
) -> AppResult<Json<StandardDto>> {
    super::current_user(&ctx)?;
    if !acceptance::may_edit(&ctx.caller) {
        // Refused before the body is looked at.
        return Err(DomainError::Forbidden.into());
    }
    let s = acceptance::update(&app.store, &ctx.caller, rules_of(d)?).await?;
    Ok(Json(standard_dto(&s)))
}

/// Every version of the standards, newest first (the administration institution).
#[utoipa::path(get, path = "/acceptance-standards/history", operation_id = "acceptance_standards_history",
    tag = "quality", responses((status = 200, body = [StandardDto], description = "every version"),
    (status = 403, body = ErrorBody, description = "not the administration institution")))]
pub async fn history(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<StandardDto>>> {
    super::current_user(&ctx)?;
    let all = acceptance::history(&app.store, &ctx.caller).await?;
    Ok(Json(all.iter().map(standard_dto).collect()))
}

/// How a resource (as it would be submitted) fares against the standards now: each rule with
/// pass or fail. For its provider's staff and the administration institution's reviewers.
#[utoipa::path(get, path = "/resources/{id}/acceptance", operation_id = "resource_acceptance", tag = "review",
    params(("id" = i64, Path)), responses((status = 200, body = CheckDto, description = "each rule with its result"),
    (status = 404, body = ErrorBody, description = "no such resource visible to the caller")))]
pub async fn resource(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Json<CheckDto>> {
    super::current_user(&ctx)?;
    let c = acceptance::check_resource(&app.store, &ctx.caller, id).await?;
    Ok(Json(check_dto(ctx.lang, &c)))
}
