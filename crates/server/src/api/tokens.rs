//! `/api/v1/tokens`: API tokens for scripts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use pubdata_service::auth;
use pubdata_store::ApiTokenRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorBody, JsonBody};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub struct TokenDto {
    pub id: i64,
    pub name: String,
    /// The token's first characters, to recognise it.
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<ApiTokenRow> for TokenDto {
    fn from(t: ApiTokenRow) -> Self {
        TokenDto {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewTokenDto {
    /// What the token is for, e.g. "nightly sync".
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTokenDto {
    pub token: TokenDto,
    /// The secret: shown this once, stored only as a hash. Send it as `Authorization: Bearer …`.
    pub secret: String,
}

/// The caller's tokens, active first, with their last use.
#[utoipa::path(get, path = "/tokens", operation_id = "list_tokens", tag = "tokens", responses(
    (status = 200, body = [TokenDto], description = "the caller's tokens"),
    (status = 401, body = ErrorBody, description = "not logged in")))]
pub async fn list(State(app): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<TokenDto>>> {
    let tokens = auth::list_tokens(&app.store, &ctx.caller).await?;
    Ok(Json(tokens.into_iter().map(TokenDto::from).collect()))
}

/// Creates a token; the response carries its secret once.
#[utoipa::path(post, path = "/tokens", operation_id = "create_token", tag = "tokens", request_body = NewTokenDto, responses(
    (status = 201, body = CreatedTokenDto, description = "created"),
    (status = 422, body = ErrorBody, description = "invalid name")))]
pub async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    JsonBody(d): JsonBody<NewTokenDto>,
) -> AppResult<impl IntoResponse> {
    let (row, secret) = auth::create_token(&app.store, &ctx.caller, &d.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenDto {
            token: row.into(),
            secret,
        }),
    ))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(delete, path = "/tokens/{id}", operation_id = "revoke_token", tag = "tokens", params(("id" = i64, Path)), responses(
    (status = 204, description = "revoked"),
    (status = 404, body = ErrorBody, description = "no such token of yours"),
    (status = 409, body = ErrorBody, description = "already revoked")))]
pub async fn revoke(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<StatusCode> {
    auth::revoke_token(&app.store, &ctx.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
