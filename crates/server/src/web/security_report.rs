//! The pages of security reports (安全问题报告): the report form, one report (the reporter's
//! limited view, or the handlers' full view with triage, routing, actions and resolution), and
//! the queue of the administration institution and of the providers reports are routed to.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::org::OrgKind;
use pubdata_core::security_report::{NewReport, ReportKind, Severity};
use pubdata_service::security_reports;

use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::api::security_reports::{action, SecurityReportActionDto};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

fn kinds() -> Vec<&'static str> {
    ReportKind::ALL.iter().map(|k| k.as_str()).collect()
}

fn new_page() -> Value {
    context! { kinds => kinds() }
}

/// The report form; `?resource=<id>` fills in the resource concerned.
pub async fn new_form(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let mut form = HashMap::new();
    for key in ["resource_id", "grant_id"] {
        if let Some(v) = q.get(key) {
            form.insert(key.to_string(), v.clone());
        }
    }
    form.insert("idempotency_key".to_string(), super::showcase::random_key());
    let page = context! { form => form, ..new_page() };
    Ok(render(&app, &ctx, "security_report_new.html", page)?.into_response())
}

pub async fn submit(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let input = NewReport {
        kind: form.get("kind"),
        resource_id: form.get("resource_id"),
        grant_id: form.get("grant_id"),
        description: form.get("description"),
        evidence: form.get("evidence"),
        idempotency_key: form.get("idempotency_key"),
    };
    match security_reports::submit(&app.store, &ctx.caller, &input, &app.security_reports, &app.calendar).await {
        Ok(s) => Ok(see_other(
            &format!("/security-reports/{}", s.id),
            "security_report_submitted",
        )),
        Err(e) => form_error(&app, &ctx, "security_report_new.html", new_page(), &form.0, e.into()),
    }
}

async fn page_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let v = security_reports::get(&app.store, &ctx.caller, id).await?;
    let handler = v.full && !v.caller.reporter && !v.state.is_final();
    let providers = if v.caller.admin {
        app.store.list_orgs(Some(OrgKind::Provider)).await?
    } else {
        Vec::new()
    };
    // The grants of the report's resource, for revocation (handlers only).
    let grants = match (handler, v.row.resource_id) {
        (true, Some(rid)) => app
            .store
            .list_grants(None, Some(rid))
            .await?
            .into_iter()
            .filter(|g| g.state == "active")
            .collect(),
        _ => Vec::new(),
    };
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    Ok(context! {
        r => v.row, state => v.state.as_str(), full => v.full, overdue => v.overdue, events => v.events,
        handler => handler, admin => v.caller.admin, providers => providers, grants => grants,
        severities => severities,
    })
}

/// One report, for those who may see it (404 for everyone else).
pub async fn page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let values = page_values(&app, &ctx, id).await?;
    Ok(render(
        &app,
        &ctx,
        "security_report.html",
        context! { done => done_key(&q), ..values },
    )?
    .into_response())
}

/// Triage, routing, withdrawal, revocation or resolution, each from its own form.
pub async fn act(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let report = security_reports::get(&app.store, &ctx.caller, id).await?;
    let d = SecurityReportActionDto {
        action: form.get("action"),
        severity: form.get("severity"),
        provider_org_id: form.get("provider_org_id").trim().parse().ok(),
        grant_id: form.get("grant_id").trim().parse().ok(),
        text: form.get("text"),
    };
    let result = match action(d, report.row.resource_id) {
        Ok(a) => security_reports::act(&app.store, &ctx.caller, id, &a, &app.security_reports, &app.calendar)
            .await
            .map_err(AppError::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(done) => {
            if done.withdrew_resource {
                app.catalogue.refresh(&app.store).await;
            }
            Ok(see_other(&format!("/security-reports/{id}"), "security_report_updated"))
        }
        Err(e) => {
            let values = page_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "security_report.html", values, &form.0, e)
        }
    }
}

/// The queue: all reports for the administration institution, those routed to the department
/// for a provider's staff. `?all=1` shows the resolved ones too.
pub async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let open_only = q.get("all").is_none_or(|v| v != "1");
    let entries = security_reports::queue(&app.store, &ctx.caller, open_only, &app.calendar).await?;
    let items: Vec<Value> = entries
        .iter()
        .map(|e| context! { r => e.report.row, overdue_days => e.overdue_days, overdue => e.report.overdue })
        .collect();
    Ok(render(
        &app,
        &ctx,
        "security_reports.html",
        context! { items => items, open_only => open_only },
    )?
    .into_response())
}
