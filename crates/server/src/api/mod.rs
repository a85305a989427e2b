//! `/api/v1`: JSON over the same services as the web UI, authenticated by API token
//! (`Authorization: Bearer pdt_…`) or by session cookie with an `X-CSRF-Token` header.
//! The OpenAPI 3.1 document is generated from these handlers and types.

pub(crate) mod acceptance;
mod accounts;
mod applications;
mod corrections;
mod demands;
pub(crate) mod evaluation;
mod feedback;
mod notices;
pub(crate) mod quality;
mod regions;
mod resources;
pub(crate) mod search;
mod security;
pub(crate) mod security_reports;
pub(crate) mod self_evaluations;
pub(crate) mod showcases;
mod statistics;
mod tokens;

use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use minijinja::context;
use pubdata_core::DomainError;
use pubdata_store::UserRow;
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/me", get(accounts::me))
        .route("/register", post(accounts::register))
        .route("/organisations", get(accounts::list_orgs).post(accounts::create_org))
        .route("/organisations/{id}", get(accounts::get_org))
        .route("/users", get(accounts::list_users).post(accounts::create_staff))
        .route("/users/{id}", get(accounts::get_user))
        .route("/users/{id}/roles", post(accounts::grant_role))
        .route("/users/{id}/roles/{org_id}/{role}", delete(accounts::remove_role))
        .route("/users/{id}/disable", post(accounts::disable))
        .route("/users/{id}/enable", post(accounts::enable))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/audit", get(security::audit))
        .route("/audit/verify", get(accounts::audit_verify))
        .route("/resources", get(resources::list).post(resources::create))
        .route(
            "/resources/{id}",
            get(resources::get).put(resources::update).delete(resources::delete),
        )
        .route("/resources/{id}/submit", post(resources::submit))
        .route("/resources/{id}/decision", post(resources::decide))
        .route("/resources/{id}/withdraw", post(resources::withdraw))
        .route("/resources/{id}/distributions", get(resources::distributions))
        .route("/resources/{id}/rows", get(resources::rows))
        .route("/resources/{id}/distributions/api", post(resources::add_api))
        .route("/resources/{id}/distributions/file", post(resources::upload))
        .route("/review-queue", get(resources::review_queue))
        .route("/distributions/{id}", get(resources::get_distribution))
        .route("/distributions/{id}/privacy", post(resources::set_privacy))
        .route("/plans", post(resources::create_plan))
        .route("/plans/{id}", get(resources::get_plan))
        .route("/plans/{id}/items", post(resources::add_item))
        .route("/plan-items/{id}/cancel", post(resources::cancel_item))
        .route("/notices", get(notices::list))
        .route("/notices/{id}/read", post(notices::read))
        .route("/search", get(search::search))
        .route("/applications", get(applications::list).post(applications::create))
        .route("/applications/{id}", get(applications::get).put(applications::update))
        .route("/applications/{id}/submit", post(applications::submit))
        .route("/applications/{id}/withdraw", post(applications::withdraw))
        .route("/applications/{id}/answer", post(applications::answer))
        .route("/applications/{id}/decision", post(applications::decide))
        .route("/applications/{id}/attachments", post(applications::add_attachment))
        .route(
            "/applications/{id}/attachments/{attachment_id}",
            get(applications::get_attachment),
        )
        .route("/application-queue", get(applications::queue))
        .route("/resources/{id}/accept-terms", post(applications::accept_terms))
        .route("/grants", get(applications::grants))
        .route("/grants/{id}/app-key", post(applications::app_key))
        .route("/grants/{id}/revoke", post(applications::revoke))
        .route("/grants/{id}/usage-reports", get(feedback::get).post(feedback::submit))
        .route("/usage-reports", get(feedback::list))
        .route("/demands", get(demands::list).post(demands::submit))
        .route("/demands/mine", get(demands::mine))
        .route("/demands/{id}", get(demands::get))
        .route("/demands/{id}/route", post(demands::route))
        .route("/demands/{id}/decision", post(demands::decide))
        .route("/demands/{id}/withdraw", post(demands::withdraw))
        .route("/demand-queue", get(demands::queue))
        .route("/statistics/interaction", get(statistics::interaction))
        .route("/corrections", get(corrections::list).post(corrections::submit))
        .route("/corrections/mine", get(corrections::mine))
        .route("/corrections/{id}", get(corrections::get))
        .route("/corrections/{id}/decision", post(corrections::decide))
        .route("/correction-queue", get(corrections::queue))
        .route("/resources/{id}/correction-counts", get(corrections::counts))
        .route("/resources/{id}/quality", get(quality::resource))
        .route("/organisations/{id}/quality", get(quality::organisation))
        .route("/organisations/{id}/evaluation", get(evaluation::trend))
        .route(
            "/evaluation/system",
            get(evaluation::get_system).put(evaluation::put_system),
        )
        .route(
            "/evaluation/runs",
            get(evaluation::list_runs).post(evaluation::create_run),
        )
        .route("/evaluation/runs/{id}", get(evaluation::get_run))
        .route("/evaluation/runs/{id}/csv", get(evaluation::export_run))
        .route("/acceptance-standards", get(acceptance::get).put(acceptance::put))
        .route("/acceptance-standards/history", get(acceptance::history))
        .route("/resources/{id}/acceptance", get(acceptance::resource))
        .route(
            "/self-evaluations",
            get(self_evaluations::list).post(self_evaluations::open),
        )
        .route(
            "/self-evaluations/{id}",
            get(self_evaluations::get).put(self_evaluations::save),
        )
        .route("/self-evaluations/{id}/submit", post(self_evaluations::submit))
        .route("/self-evaluations/{id}/decision", post(self_evaluations::decide))
        .route("/showcases", get(showcases::list).post(showcases::submit))
        .route("/showcases/mine", get(showcases::mine))
        .route("/showcases/queue", get(showcases::queue))
        .route("/showcases/{id}", get(showcases::get))
        .route("/showcases/{id}/screenshot", get(showcases::screenshot))
        .route("/showcases/{id}/decision", post(showcases::decide))
        .route(
            "/security-reports",
            get(security_reports::queue).post(security_reports::submit),
        )
        .route("/security-reports/mine", get(security_reports::mine))
        .route("/security-reports/{id}", get(security_reports::get))
        .route("/security-reports/{id}/action", post(security_reports::act))
        .route("/resources/{id}/downloads", get(security::resource_downloads))
        .route("/grants/{id}/downloads", get(security::grant_downloads))
        .route("/lifecycle", get(security::lifecycle))
        .route("/lifecycle/distributions/{id}/destroy", post(security::destroy))
        .route("/regions", get(regions::list))
        .route("/regions/{code}", get(regions::path))
        .fallback(api_not_found)
}

async fn api_not_found() -> AppError {
    AppError::Domain(DomainError::NotFound { what: "endpoint" })
}

/// The error body of every `/api/v1` failure.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ProblemSchema,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct ProblemSchema {
    /// Stable machine code, e.g. `validation`, `login_taken`, `token_revoked`.
    code: String,
    /// What went wrong and how to fix it, in the caller's language (`Accept-Language`).
    message: String,
    fields: Option<Vec<FieldSchema>>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
struct FieldSchema {
    field: String,
    code: String,
    message: String,
}

/// A JSON body with malformed input turned into a clear 400 (or 413 when too large).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonBody<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::BodyTooLarge(state.config.max_body_bytes))
            }
            Err(r) => Err(AppError::BadRequest(r.body_text())),
        }
    }
}

/// The logged-in caller, or 401.
pub fn current_user(ctx: &Ctx) -> AppResult<&UserRow> {
    ctx.user
        .as_deref()
        .ok_or(AppError::Domain(DomainError::Unauthenticated {
            reason: "login_required",
        }))
}

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pdt_…")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "pubdata API", description = "公共数据开放平台 — public data opening platform. \
        Authenticate with `Authorization: Bearer <API token>` (create one on your account page) or a \
        browser session plus the `X-CSRF-Token` header for changes."),
    servers((url = "/api/v1")),
    paths(
        accounts::me, accounts::register, accounts::list_orgs, accounts::create_org, accounts::get_org,
        accounts::list_users, accounts::create_staff, accounts::get_user, accounts::grant_role,
        accounts::remove_role, accounts::disable, accounts::enable, security::audit, accounts::audit_verify,
        tokens::list, tokens::create, tokens::revoke, regions::list, regions::path, notices::list, notices::read,
        resources::list, resources::create, resources::get, resources::update, resources::delete, resources::submit,
        resources::decide, resources::withdraw, resources::distributions, resources::add_api, resources::upload,
        resources::review_queue, resources::get_distribution, resources::set_privacy, resources::rows, resources::create_plan, resources::get_plan, resources::add_item, resources::cancel_item,
        search::search, applications::list, applications::create, applications::get, applications::update,
        applications::submit, applications::withdraw, applications::answer, applications::decide,
        applications::queue, applications::accept_terms, applications::grants, applications::app_key,
        applications::revoke, applications::add_attachment, applications::get_attachment,
        demands::list, demands::submit, demands::mine, demands::get, demands::route, demands::decide, demands::withdraw,
        demands::queue, corrections::list, corrections::submit, corrections::mine, corrections::get,
        corrections::decide, corrections::queue, corrections::counts,
        showcases::list, showcases::submit, showcases::mine, showcases::queue, showcases::get,
        showcases::screenshot, showcases::decide, security_reports::queue, security_reports::submit,
        security_reports::mine, security_reports::get, security_reports::act, statistics::interaction,
        quality::resource, quality::organisation,
        feedback::get, feedback::submit, feedback::list,
        evaluation::get_system, evaluation::put_system, evaluation::list_runs, evaluation::create_run,
        evaluation::get_run, evaluation::export_run, evaluation::trend,
        acceptance::get, acceptance::put, acceptance::history, acceptance::resource,
        self_evaluations::list, self_evaluations::open, self_evaluations::get, self_evaluations::save,
        self_evaluations::submit, self_evaluations::decide,
        security::resource_downloads, security::grant_downloads, security::lifecycle, security::destroy
    ),
    components(schemas(ErrorBody)),
    security(("token" = [])),
    modifiers(&Security)
)]
pub struct ApiDoc;

async fn openapi_json() -> impl IntoResponse {
    Json(ApiDoc::openapi())
}

/// A browsable rendering of the OpenAPI document that needs no JavaScript.
pub async fn docs_page(State(app): State<AppState>, ctx: Ctx) -> AppResult<Html<String>> {
    let doc = serde_json::to_value(ApiDoc::openapi()).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut operations = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (method, op) in item {
                let params: Vec<String> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                format!(
                                    "{} ({})",
                                    p["name"].as_str().unwrap_or(""),
                                    p["in"].as_str().unwrap_or("")
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|r| r.trim_start_matches("#/components/schemas/").to_string());
                let responses: Vec<String> = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.iter()
                            .map(|(code, v)| format!("{code} {}", v["description"].as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(context! {
                    id => op["operationId"].as_str(), method => method.to_uppercase(), path => format!("/api/v1{path}"),
                    summary => op["summary"].as_str().or(op["description"].as_str()).unwrap_or(""),
                    params => params, body => body, responses => responses,
                });
            }
        }
    }
    let mut schemas = std::collections::BTreeMap::new();
    if let Some(s) = doc["components"]["schemas"].as_object() {
        for (name, schema) in s {
            let fields: Vec<String> = schema["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            schemas.insert(name.clone(), fields);
        }
    }
    let base = format!("http://{}", app.config.addr);
    crate::web::render(
        &app,
        &ctx,
        "api_docs.html",
        context! { operations => operations, schemas => schemas, base => base },
    )
}
