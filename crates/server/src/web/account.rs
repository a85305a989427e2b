//! The account page: profile, password and API tokens.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_service::accounts::{change_password, update_profile, ProfileChange};
use pubdata_service::auth;

use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

async fn page_values(app: &AppState, ctx: &Ctx) -> AppResult<Value> {
    let tokens = auth::list_tokens(&app.store, &ctx.caller).await?;
    Ok(context! { tokens => tokens })
}

pub async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let values = page_values(&app, &ctx).await?;
    Ok(render(&app, &ctx, "account.html", context! { done => done_key(&q), ..values })?.into_response())
}

pub async fn profile(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let change = ProfileChange {
        display_name: form.get("display_name"),
        email: form.get("email"),
        phone: form.get("phone"),
    };
    match update_profile(&app.store, &ctx.caller, change).await {
        Ok(()) => Ok(see_other("/account", "profile_saved")),
        Err(e) => {
            let values = page_values(&app, &ctx).await?;
            form_error(&app, &ctx, "account.html", values, &form.0, e.into())
        }
    }
}

pub async fn password(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let keep = ctx.session_hash.as_deref();
    match change_password(
        &app.store,
        &ctx.caller,
        &form.get("current_password"),
        &form.get("new_password"),
        keep,
    )
    .await
    {
        Ok(()) => Ok(see_other("/account", "password_changed")),
        Err(e) => {
            let values = page_values(&app, &ctx).await?;
            let mut fields = form.0.clone();
            fields.retain(|k, _| !k.contains("password"));
            form_error(&app, &ctx, "account.html", values, &fields, e.into())
        }
    }
}

pub async fn create_token(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    match auth::create_token(&app.store, &ctx.caller, &form.get("name")).await {
        // The secret is shown on this response only; it is never stored or shown again.
        Ok((_, secret)) => {
            let values = page_values(&app, &ctx).await?;
            Ok(render(
                &app,
                &ctx,
                "account.html",
                context! { new_token => secret, done => "token_created", ..values },
            )?
            .into_response())
        }
        Err(e) => {
            let values = page_values(&app, &ctx).await?;
            form_error(&app, &ctx, "account.html", values, &form.0, e.into())
        }
    }
}

pub async fn revoke_token(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    auth::revoke_token(&app.store, &ctx.caller, id).await?;
    Ok(see_other("/account", "token_revoked"))
}
