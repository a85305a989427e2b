//! `/api/v1/notices`: the caller's inbox.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use pubdata_service::notices;
use serde::Serialize;
use utoipa::ToSchema;

use super::ErrorBody;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::web::notice_title;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct NoticeDto {
    pub id: i64,
    /// What happened, e.g. `role_granted`.
    pub kind: String,
    /// The notice in the caller's language.
    pub title: String,
    /// The reason a person wrote, when there is one.
    pub reason: Option<String>,
    pub link: Option<String>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

/// The caller's notices, unread first.
#[utoipa::path(get, path = "/notices", operation_id = "list_notices", tag = "notices", responses(
    (status = 200, body = [NoticeDto], description = "unread first, newest first"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<NoticeDto>>> {
    let rows = notices::inbox(&app.store, &ctx.caller).await?;
    Ok(Json(
        rows.into_iter()
            .map(|n| NoticeDto {
                id: n.id,
                title: notice_title(ctx.lang, &n),
                kind: n.kind,
                reason: n.reason,
                link: n.link,
                created_at: n.created_at,
                read_at: n.read_at,
            })
            .collect(),
    ))
}

/// Marks one of the caller's notices read.
#[utoipa::path(post, path = "/notices/{id}/read", operation_id = "read_notice", tag = "notices",
    params(("id" = i64, Path)), responses(
    (status = 204, description = "read"),
    (status = 404, body = ErrorBody, description = "no such notice of yours")))]
pub async fn read(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<StatusCode> {
    notices::mark_read(&app.store, &ctx.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
