//! `/api/v1/regions`: the national region table, for pickers and clients.

use axum::extract::{Path, Query, State};
use axum::Json;
use pubdata_core::{DomainError, FieldError};
use pubdata_store::RegionRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ErrorBody;
use crate::error::AppResult;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct RegionDto {
    /// GB/T 2260 code (6 digits for province, city, county; 9 for streets; 12 for villages).
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    /// 1 province, 2 city, 3 county, 4 street, 5 village.
    pub level: i64,
}

impl From<RegionRow> for RegionDto {
    fn from(r: RegionRow) -> Self {
        RegionDto {
            code: r.code,
            name: r.name,
            parent_code: r.parent_code,
            level: r.level,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct RegionQuery {
    /// A name fragment (成都) or a code prefix (5101).
    pub q: Option<String>,
    /// List the children of this region instead (omit both for the provinces).
    pub parent: Option<String>,
    /// At most this many (1–200, default 20) when searching.
    pub limit: Option<i64>,
}

/// Searches regions by name or code, or lists a region's children.
#[utoipa::path(get, path = "/regions", operation_id = "list_regions", tag = "regions", params(RegionQuery), security(()), responses(
    (status = 200, body = [RegionDto], description = "matching regions, higher levels first"),
    (status = 422, body = ErrorBody, description = "limit out of range")))]
pub async fn list(State(app): State<AppState>, Query(q): Query<RegionQuery>) -> AppResult<Json<Vec<RegionDto>>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(
            DomainError::Validation(vec![FieldError::new("limit", "range").with("min", 1).with("max", 200)]).into(),
        );
    }
    let rows = match (
        q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        q.parent.as_deref(),
    ) {
        (Some(text), _) => app.store.search_regions(text, limit).await?,
        (None, parent) => app.store.child_regions(parent).await?,
    };
    Ok(Json(rows.into_iter().map(RegionDto::from).collect()))
}

/// One region with its path from the province down.
#[utoipa::path(get, path = "/regions/{code}", operation_id = "region_path", tag = "regions", params(("code" = String, Path)), security(()), responses(
    (status = 200, body = [RegionDto], description = "the path, province first, ending with the region"),
    (status = 404, body = ErrorBody, description = "no such region")))]
pub async fn path(State(app): State<AppState>, Path(code): Path<String>) -> AppResult<Json<Vec<RegionDto>>> {
    let path = app.store.region_path(&code).await?;
    if path.last().map(|r| r.code.as_str()) != Some(code.as_str()) {
        return Err(DomainError::NotFound { what: "region" }.into());
    }
    Ok(Json(path.into_iter().map(RegionDto::from).collect()))
}
