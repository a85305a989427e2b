//! Login, logout and consumer self-registration pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use pubdata_core::org::NewOrg;
use pubdata_core::user::NewUser;
use pubdata_service::accounts::{register_consumer, Registration};
use pubdata_service::auth;

use super::{done_key, form_error, render, see_other, FormMap};
use crate::ctx::{clear_session_cookie, cookie, session_cookie, Ctx, SESSION_COOKIE};
use crate::error::AppResult;
use crate::AppState;

/// Only same-site paths are followed after login, so `next` cannot send users elsewhere.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next
    } else {
        "/"
    }
}

pub async fn login_page(
    State(app): State<AppState>,
    mut ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if ctx.notice.is_none() {
        ctx.notice = match q.get("notice").map(String::as_str) {
            Some("session_expired") => Some("session_expired"),
            Some("account_disabled") => Some("account_disabled"),
            _ => None,
        };
    }
    let next = q.get("next").map(|n| safe_next(n)).unwrap_or("/");
    Ok(render(
        &app,
        &ctx,
        "login.html",
        context! { next => next, done => done_key(&q) },
    )?
    .into_response())
}

pub async fn login(State(app): State<AppState>, ctx: Ctx, headers: HeaderMap, form: FormMap) -> AppResult<Response> {
    let ip = ctx.caller.ip.clone().unwrap_or_default();
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let next = safe_next(&form.get("next")).to_string();
    match auth::login(
        &app.store,
        &app.auth,
        &form.get("login"),
        &form.get("password"),
        &ip,
        ua,
    )
    .await
    {
        Ok(session) => {
            // A new login, a new id: the session this browser had before (another account's,
            // or one an attacker planted) ends, so no id from before the login stays valid.
            if let Some(old) = cookie(&headers, SESSION_COOKIE).filter(|t| !t.is_empty()) {
                auth::logout(&app.store, &ctx.caller, old).await?;
            }
            let mut resp = Redirect::to(&next).into_response();
            let c = HeaderValue::from_str(&session_cookie(&app, &session.token))
                .map_err(|e| crate::error::AppError::Internal(e.to_string()))?;
            resp.headers_mut().append(header::SET_COOKIE, c);
            Ok(resp)
        }
        Err(e) => form_error(&app, &ctx, "login.html", context! { next => next }, &form.0, e.into()),
    }
}

pub async fn logout(State(app): State<AppState>, ctx: Ctx, headers: HeaderMap) -> AppResult<Response> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        auth::logout(&app.store, &ctx.caller, token).await?;
    }
    let mut resp = see_other("/", "logged_out");
    if let Ok(v) = HeaderValue::from_str(&clear_session_cookie(&app)) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

fn kind_of(q: Option<&String>) -> &'static str {
    match q.map(String::as_str) {
        Some("organisation") => "organisation",
        _ => "individual",
    }
}

pub async fn register_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let kind = kind_of(q.get("kind"));
    Ok(render(&app, &ctx, "register.html", context! { kind => kind })?.into_response())
}

pub async fn register(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let kind = kind_of(form.0.get("kind"));
    let user = NewUser {
        login: form.get("login"),
        display_name: form.get("display_name"),
        email: form.get("email"),
        phone: form.get("phone"),
        password: form.get("password"),
    };
    let org = (kind == "organisation").then(|| NewOrg {
        kind: String::new(),
        name: form.get("org.name"),
        credit_code: form.get("org.credit_code"),
        region_code: form.get("org.region_code"),
        contact_name: form.get("display_name"),
        ..Default::default()
    });
    match register_consumer(&app.store, &ctx.caller, Registration { user, org }).await {
        Ok(_) => Ok(see_other("/login", "registered")),
        Err(e) => form_error(
            &app,
            &ctx,
            "register.html",
            context! { kind => kind },
            &form.0,
            e.into(),
        ),
    }
}
