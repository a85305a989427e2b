//! `/api/v1/statistics/interaction`: how the provider departments answer data demands and error
//! reports (互动统计), public like the page that shows it.

use axum::extract::State;
use axum::Json;
use pubdata_service::statistics::{self, ResponseStats};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::AppState;

/// One provider's figures, or the platform's (`provider_org_id` null).
#[derive(Serialize, ToSchema)]
pub struct ResponseStatsDto {
    pub provider_org_id: Option<i64>,
    pub provider_name: String,
    /// Demands routed to the provider (withdrawn ones aside), and how many it answered.
    pub demands: u64,
    pub demands_answered: u64,
    /// Error reports on the provider's data, and how many it decided.
    pub corrections: u64,
    pub corrections_answered: u64,
    /// Answered no later than the deadline's day.
    pub answered_on_time: u64,
    /// Still unanswered after the deadline's day.
    pub overdue: u64,
    /// Answered / received, 0–1; null when nothing was received.
    pub response_rate: Option<f64>,
    /// On time / answered, 0–1; null when nothing was answered.
    pub on_time_rate: Option<f64>,
    /// Median days from reaching the provider to its answer (one decimal).
    pub median_days: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct InteractionStatsDto {
    pub total: ResponseStatsDto,
    /// Each provider that received any, most received first.
    pub providers: Vec<ResponseStatsDto>,
}

fn dto(s: ResponseStats) -> ResponseStatsDto {
    ResponseStatsDto {
        provider_org_id: s.provider_org_id,
        provider_name: s.provider_name,
        demands: s.demands,
        demands_answered: s.demands_answered,
        corrections: s.corrections,
        corrections_answered: s.corrections_answered,
        answered_on_time: s.answered_on_time,
        overdue: s.overdue,
        response_rate: s.response_rate,
        on_time_rate: s.on_time_rate,
        median_days: s.median_days,
    }
}

/// 互动统计 — per provider: demands and error reports received and answered, on time, overdue,
/// and the median days to an answer.
#[utoipa::path(get, path = "/statistics/interaction", operation_id = "interaction_statistics", tag = "statistics",
    security(()), responses((status = 200, body = InteractionStatsDto, description = "as of today")))]
pub async fn interaction(State(app): State<AppState>) -> AppResult<Json<InteractionStatsDto>> {
    let (total, providers) = statistics::responses(&app.store).await?;
    Ok(Json(InteractionStatsDto {
        total: dto(total),
        providers: providers.into_iter().map(dto).collect(),
    }))
}
