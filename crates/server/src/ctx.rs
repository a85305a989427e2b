//! Per-request context, resolved once by middleware: language, the caller (session cookie or
//! API token), the CSRF check for every state-changing request, and rendering of errors.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use pubdata_core::DomainError;
use pubdata_service::accounts::actor_for;
use pubdata_service::auth::{resolve_session, resolve_token};
use pubdata_service::Caller;
use pubdata_store::UserRow;
use subtle::ConstantTimeEq;

use crate::error::{AppError, PendingError};
use crate::i18n::Lang;
use crate::AppState;

pub const SESSION_COOKIE: &str = "pd_session";
pub const CSRF_COOKIE: &str = "pd_csrf";
pub const LANG_COOKIE: &str = "pd_lang";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub user: Option<Arc<UserRow>>,
    pub caller: Caller,
    /// The token forms must echo back in `_csrf`.
    pub csrf: String,
    /// The hash of the session cookie, when logged in through the browser.
    pub session_hash: Option<String>,
    /// Why the caller was logged out, to tell them (e.g. `session_expired`).
    pub notice: Option<&'static str>,
    /// The request path, for language links and `next` redirects.
    pub path: String,
    /// An `/api` request: errors are JSON.
    pub api: bool,
    /// Unread notices, for the navigation (web pages only).
    pub unread: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| AppError::Internal("context missing".into()))
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn detect_lang(parts: &Parts) -> (Lang, bool) {
    if let Some(l) = query_param(parts.uri.query(), "lang").and_then(Lang::parse) {
        return (l, true);
    }
    if let Some(l) = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse) {
        return (l, false);
    }
    let accept = parts.headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    (accept.and_then(Lang::from_accept_language).unwrap_or(Lang::ZhCn), false)
}

fn client_ip(parts: &Parts, trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        if let Some(first) = forwarded.and_then(|v| v.split(',').next()) {
            return first.trim().to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".into())
}

fn set_cookie(app: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if app.config.secure_cookies { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

pub fn session_cookie(app: &AppState, token: &str) -> String {
    set_cookie(app, SESSION_COOKIE, token, app.config.session_max_hours * 3600)
}

pub fn clear_session_cookie(app: &AppState) -> String {
    set_cookie(app, SESSION_COOKIE, "", 0)
}

/// Routes that receive data files: `…/distributions/file` (API) and `…/upload` (web forms).
pub fn is_upload_path(path: &str) -> bool {
    path.ends_with("/distributions/file") || path.ends_with("/upload")
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

struct Resolved {
    user: Option<UserRow>,
    session: Option<(String, String)>,
    bearer: bool,
    notice: Option<&'static str>,
    clear_session: bool,
}

async fn resolve_caller(app: &AppState, parts: &Parts) -> Result<Resolved, AppError> {
    let mut r = Resolved {
        user: None,
        session: None,
        bearer: false,
        notice: None,
        clear_session: false,
    };
    let auth = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(secret) = auth.and_then(api_token) {
        r.user = Some(resolve_token(&app.store, secret).await?);
        r.bearer = true;
        return Ok(r);
    }
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(r);
    };
    match resolve_session(&app.store, &app.auth, token).await {
        Ok(Some(s)) => {
            r.session = Some((s.token_hash, s.session.csrf_token));
            r.user = Some(s.user);
        }
        Ok(None) => r.clear_session = true,
        Err(pubdata_service::StoreError::Domain(DomainError::Unauthenticated { reason })) => {
            r.notice = Some(reason);
            r.clear_session = true;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(r)
}

/// The API token of an `Authorization` header: `Bearer <token>`, or the bare token as CKAN
/// clients (ckanapi) send it.
fn api_token(value: &str) -> Option<&str> {
    let value = value.trim();
    match value.strip_prefix("Bearer ") {
        Some(secret) => Some(secret.trim()),
        None => value.starts_with(pubdata_service::auth::TOKEN_PREFIX).then_some(value),
    }
}

/// Reads `_csrf` from a url-encoded body (re-attaching the bytes), the header, or the query.
async fn submitted_csrf(parts: &Parts, body: Body, limit: usize) -> Result<(Option<String>, Body), AppError> {
    if let Some(v) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return Ok((Some(v.to_string()), body));
    }
    if let Some(v) = query_param(parts.uri.query(), CSRF_FIELD) {
        return Ok((Some(v.to_string()), body));
    }
    let form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Ok((None, body));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| AppError::BodyTooLarge(limit))?;
    let token = form_urlencoded_field(&bytes, CSRF_FIELD);
    Ok((token, Body::from(bytes)))
}

fn form_urlencoded_field(bytes: &[u8], name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

pub async fn context(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let (lang, lang_chosen) = detect_lang(&parts);
    let api = parts.uri.path().starts_with("/api/");
    let fail = |e: AppError| render_error(&app, lang, api, None, &e);
    // Data uploads stream to file storage under their own, larger limit.
    let limit = if is_upload_path(parts.uri.path()) {
        usize::try_from(app.config.max_upload_bytes).unwrap_or(usize::MAX)
    } else if parts.uri.path().ends_with("/attachments") {
        // Application attachments: the service checks their own limit; room for a form's overhead.
        pubdata_service::access::MAX_ATTACHMENT_BYTES + 64 * 1024
    } else {
        app.config.max_body_bytes
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return fail(AppError::BodyTooLarge(limit));
    }
    let resolved = match resolve_caller(&app, &parts).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let anon_csrf = cookie(&parts.headers, CSRF_COOKIE)
        .filter(|c| c.len() == 64)
        .map(str::to_string);
    let new_anon_csrf = anon_csrf.is_none().then(random_hex);
    let expected = match &resolved.session {
        Some((_, csrf)) => csrf.clone(),
        None => anon_csrf.clone().or(new_anon_csrf.clone()).unwrap_or_default(),
    };
    let mut body = body;
    // Cookies are the only ambient credential: API calls without a session cookie (token
    // scripts, anonymous registration) cannot be forged cross-site; web forms always check.
    let has_session_cookie = cookie(&parts.headers, SESSION_COOKIE).is_some_and(|c| !c.is_empty());
    if unsafe_method(&parts.method) && !resolved.bearer && (!api || has_session_cookie) {
        let (submitted, b) = match submitted_csrf(&parts, body, limit).await {
            Ok(x) => x,
            Err(e) => return fail(e),
        };
        body = b;
        let ok = submitted.is_some_and(|s| !expected.is_empty() && bool::from(s.as_bytes().ct_eq(expected.as_bytes())));
        if !ok {
            // An expired session explains a stale form better than "CSRF".
            let e = match resolved.notice {
                Some(reason) => AppError::Domain(DomainError::Unauthenticated { reason }),
                None => AppError::Csrf,
            };
            let mut resp = fail(e);
            if resolved.clear_session {
                if let Ok(v) = HeaderValue::from_str(&clear_session_cookie(&app)) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            return resp;
        }
    }
    let ip = client_ip(&parts, app.config.trust_proxy);
    let (actor, label) = match &resolved.user {
        Some(u) => (actor_for(u), u.login.clone()),
        None => (Default::default(), "anonymous".to_string()),
    };
    let unread = match (&resolved.user, api) {
        (Some(u), false) => app.store.unread_notices(u.id).await.unwrap_or(0),
        _ => 0,
    };
    let ctx = Ctx {
        unread,
        lang,
        user: resolved.user.map(Arc::new),
        caller: Caller {
            actor,
            label,
            ip: Some(ip),
        },
        csrf: expected,
        session_hash: resolved.session.map(|s| s.0),
        notice: resolved.notice,
        path: parts.uri.path().to_string(),
        api,
    };
    // An AppKey stands for a grant, not a login: its refusals stay 403.
    let app_key = parts.headers.contains_key("x-app-key")
        || parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("app_key=")));
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(ctx.clone());
    let mut resp = next.run(req).await;
    if let Some(PendingError(e)) = resp.extensions_mut().remove::<PendingError>() {
        let mut status = resp.status();
        let retry = resp.headers().get(header::RETRY_AFTER).cloned();
        // Refused to someone who has not logged in: the answer is "log in" (401), not "you may
        // not" (403), whichever check refused.
        let e = match &*e {
            AppError::Domain(DomainError::Forbidden) if !ctx.caller.actor.is_authenticated() && !app_key => {
                let e = AppError::Domain(DomainError::Unauthenticated {
                    reason: "login_required",
                });
                status = e.status();
                std::sync::Arc::new(e)
            }
            _ => e,
        };
        // "Log in" is more helpful as "your session expired" when that is what happened.
        let e = match (&*e, ctx.notice) {
            (
                AppError::Domain(DomainError::Unauthenticated {
                    reason: "login_required",
                }),
                Some(reason),
            ) => std::sync::Arc::new(AppError::Domain(DomainError::Unauthenticated { reason })),
            _ => e,
        };
        resp = render_error(&app, lang, api, Some(&ctx), &e);
        *resp.status_mut() = status;
        if let Some(v) = retry {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    let headers = resp.headers_mut();
    let mut cookies = Vec::new();
    if let Some(c) = new_anon_csrf {
        cookies.push(set_cookie(&app, CSRF_COOKIE, &c, 7 * 24 * 3600));
    }
    if lang_chosen {
        cookies.push(set_cookie(&app, LANG_COOKIE, lang.code(), 365 * 24 * 3600));
    }
    if resolved.clear_session {
        cookies.push(clear_session_cookie(&app));
    }
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn random_hex() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Renders an error as problem JSON or as an HTML page.
pub fn render_error(app: &AppState, lang: Lang, api: bool, ctx: Option<&Ctx>, e: &AppError) -> Response {
    if let AppError::Internal(detail) = e {
        tracing::error!("internal error: {detail}");
    }
    let status = e.status();
    let mut resp = if api {
        (status, Json(serde_json::json!({ "error": e.problem(lang) }))).into_response()
    } else {
        let page = crate::web::error_page(app, lang, ctx, e);
        (status, Html(page)).into_response()
    };
    if status == StatusCode::UNAUTHORIZED && api {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// Security headers on every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_with_bearer_or_bare_as_ckan_clients_send_them() {
        assert_eq!(api_token("Bearer pdt_abc"), Some("pdt_abc"));
        assert_eq!(api_token("Bearer  pdt_abc "), Some("pdt_abc"));
        assert_eq!(api_token("pdt_abc"), Some("pdt_abc"));
        assert_eq!(api_token(" pdt_abc\t"), Some("pdt_abc"));
        assert_eq!(api_token("Basic dXNlcjpwYXNz"), None);
        assert_eq!(api_token("something-else"), None);
        assert_eq!(api_token(""), None);
    }
}
