//! CKAN's Action API, read side, at `/api/3/action/{name}` and `/api/action/{name}`: GET with a
//! query string, POST with JSON or a form, answered in CKAN's envelope so CKAN clients work.

mod actions;
mod datastore;
mod dicts;
mod error;
mod params;
mod search;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use self::dicts::Site;
use self::error::CkanError;
use self::params::Params;
use crate::ctx::Ctx;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/3/action/{name}", get(action).post(action))
        .route("/api/action/{name}", get(action).post(action))
        .route("/api/3", get(version))
}

/// `GET /api/3`: the API version, as CKAN answers it.
async fn version() -> Json<Value> {
    Json(json!({"version": 3}))
}

/// The portal's address: the configured public URL, or the scheme and host the request used.
fn site(app: &AppState, headers: &HeaderMap) -> Site {
    let base = app.config.public_url.clone().unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
            .unwrap_or("localhost");
        let https = app.config.trust_proxy
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.eq_ignore_ascii_case("https"));
        format!("{}://{host}", if https { "https" } else { "http" })
    });
    Site {
        base,
        domains: actions::domains(),
    }
}

fn params(method: &Method, headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Params, CkanError> {
    let from_query = Params::from_query(query.unwrap_or(""))?;
    if *method != Method::POST {
        return Ok(from_query);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(Params::from_body(&content_type, body)?.or(from_query))
}

fn json_response(status: axum::http::StatusCode, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    resp
}

async fn action(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if !actions::known(&name) {
        let e = CkanError::BadRequest(format!("Action name not known: {name}"));
        return json_response(e.status(), e.body());
    }
    let site = site(&app, &headers);
    let help = format!("{}/api/3/action/help_show?name={name}", site.base);
    let outcome = match params(&method, &headers, query.as_deref(), &body) {
        Ok(p) => actions::run(&app, &ctx, &site, &name, &p).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(result) => json_response(
            axum::http::StatusCode::OK,
            json!({"help": help, "success": true, "result": result}),
        ),
        Err(e @ CkanError::BadRequest(_)) => json_response(e.status(), e.body()),
        Err(e) => {
            if let CkanError::Internal(detail) = &e {
                tracing::error!("CKAN action {name} failed: {detail}");
            }
            json_response(e.status(), json!({"help": help, "success": false, "error": e.body()}))
        }
    }
}
