//! The pages of usage feedback (数据应用反馈): a consumer's grants with what they owe and the
//! report form, and the grants a provider department or the administration institution
//! oversees, with overdue marks.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::usage_report::NewUsageReport;
use pubdata_service::feedback::{self, GrantFeedback};

use super::showcase::random_key;
use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

fn row(f: &GrantFeedback) -> Value {
    let owed: Vec<String> = pubdata_core::usage_report::uncovered(&f.due, &f.covered)
        .iter()
        .map(|d| d.to_string())
        .collect();
    context! {
        g => f.grant, next_due => f.standing.next_due.map(|d| d.to_string()), overdue => f.standing.overdue,
        overdue_days => f.standing.overdue_days, reports => f.reports, owed => owed,
        due => f.due.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
    }
}

/// 我的反馈 / 反馈情况 — a consumer's own grants, or the grants the caller's department or the
/// administration institution oversees (`?overdue=1`: only those overdue).
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let rules = &app.access.feedback;
    let staff = ctx.caller.actor.memberships.iter().any(|m| m.role.is_staff());
    let overdue_only = q.get("overdue").is_some_and(|v| v == "1");
    let items = if staff {
        feedback::overseen(&app.store, &ctx.caller, rules, overdue_only).await?
    } else {
        feedback::mine(&app.store, &ctx.caller, rules).await?
    };
    let rows: Vec<Value> = items.iter().map(row).collect();
    let page = context! { items => rows, staff => staff, overdue_only => overdue_only, done => done_key(&q) };
    Ok(render(&app, &ctx, "feedback_list.html", page)?.into_response())
}

async fn grant_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let f = feedback::for_grant(&app.store, &ctx.caller, id, &app.access.feedback).await?;
    let holder = ctx.caller.actor.user_id == Some(f.grant.consumer_id);
    let item = row(&f);
    let may_report = holder && !pubdata_core::usage_report::uncovered(&f.due, &f.covered).is_empty();
    Ok(context! { x => item, holder => holder, may_report => may_report, key => random_key() })
}

/// One grant: its due dates, the reports made, and for its holder the report form.
pub async fn grant(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let page = grant_values(&app, &ctx, id).await?;
    let page = context! { done => done_key(&q), ..page };
    Ok(render(&app, &ctx, "feedback_grant.html", page)?.into_response())
}

pub async fn submit(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let input = NewUsageReport {
        purpose: form.get("purpose"),
        result: form.get("result"),
        users: form.get("users"),
        decisions: form.get("decisions"),
        problems: form.get("problems"),
        link: form.get("link"),
        idempotency_key: form.get("idempotency_key"),
    };
    match feedback::submit(&app.store, &ctx.caller, id, &input, &app.access.feedback).await {
        Ok(_) => Ok(see_other(&format!("/feedback/grants/{id}"), "usage_report_submitted")),
        Err(e) => {
            let page = grant_values(&app, &ctx, id).await?;
            // The same key again, so a corrected form still cannot make two reports.
            let page = context! { key => input.idempotency_key, ..page };
            form_error(&app, &ctx, "feedback_grant.html", page, &form.0, e.into())
        }
    }
}
