//! 审核发布 — the administration institution's review queue and review page: the checklist
//! (合规性, 可用性, 安全性), approval or return with reasons, and the history of decisions.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::policy::{require, Action, Target};
use pubdata_core::resource::{CheckResult, ReviewChecklist};
use pubdata_service::resources::{self, Decision, Resource};
use pubdata_store::ReviewRow;
use serde::Serialize;

use super::catalogue::dist_views;
use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

#[derive(Debug, Serialize)]
struct CheckView {
    kind: &'static str,
    pass: bool,
    note: String,
}

/// One past decision, for the resource's history.
#[derive(Debug, Serialize)]
pub(super) struct ReviewView {
    stage: String,
    decision: String,
    reviewer: String,
    checks: Vec<CheckView>,
    reasons: Vec<String>,
    due: Option<String>,
    created_at: i64,
}

impl ReviewView {
    pub(super) fn reasons(&self) -> &[String] {
        &self.reasons
    }
}

fn review_view(row: ReviewRow) -> ReviewView {
    let checks = serde_json::from_value::<ReviewChecklist>(row.checklist)
        .map(|c| {
            c.items()
                .into_iter()
                .map(|(kind, r)| CheckView {
                    kind: kind.as_str(),
                    pass: r.pass,
                    note: r.note.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    ReviewView {
        stage: row.stage,
        decision: row.decision,
        reviewer: row.reviewer,
        checks,
        reasons: row
            .reasons
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .filter(|l| !l.trim().is_empty())
            .collect(),
        due: row.due,
        created_at: row.created_at,
    }
}

/// A resource's decisions, newest first.
pub(super) async fn history(app: &AppState, resource_id: i64) -> AppResult<Vec<ReviewView>> {
    let rows = app.store.reviews("resource", resource_id).await?;
    Ok(rows.into_iter().map(review_view).collect())
}

fn gate(ctx: &Ctx) -> AppResult<Option<Response>> {
    if let Some(r) = login_redirect(ctx) {
        return Ok(Some(r));
    }
    require(&ctx.caller.actor, Action::ReviewResources, Target::Platform)?;
    Ok(None)
}

pub async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let entries: Vec<Value> = resources::review_queue(&app.store, &ctx.caller, &app.calendar)
        .await?
        .into_iter()
        .map(|e| {
            let revision = e.resource.status.revision != pubdata_core::resource::RevisionState::None;
            context! { r => e.resource.row, overdue_days => e.overdue_days, revision => revision }
        })
        .collect();
    let page = context! { entries => entries, done => done_key(&q) };
    Ok(render(&app, &ctx, "review_queue.html", page)?.into_response())
}

async fn page_values(app: &AppState, ctx: &Ctx, r: &Resource) -> AppResult<Value> {
    // A revision is reviewed as its working copy; the published version stays online meanwhile.
    let meta = r.revision.as_ref().unwrap_or(&r.meta);
    // 数据接收标准: each rule with pass or fail as the resource stands now.
    let check = pubdata_service::acceptance::check_resource(&app.store, &ctx.caller, r.row.id).await?;
    Ok(context! {
        acceptance => crate::api::acceptance::check_dto(ctx.lang, &check),
        r => r.row,
        meta => meta,
        status => r.status,
        revision => r.revision.is_some(),
        awaiting => r.status.awaits_review(),
        dists => dist_views(app, ctx.lang, r.row.id).await?,
        reviews => history(app, r.row.id).await?,
    })
}

pub async fn page(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let r = resources::get(&app.store, &ctx.caller, id).await?;
    let values = page_values(&app, &ctx, &r).await?;
    Ok(render(&app, &ctx, "review.html", values)?.into_response())
}

fn checklist(form: &FormMap) -> ReviewChecklist {
    let check = |kind: &str| CheckResult {
        pass: form.get(kind) == "pass",
        note: form.get(&format!("{kind}_note")).trim().to_string(),
    };
    ReviewChecklist {
        compliance: check("compliance"),
        availability: check("availability"),
        security: check("security"),
    }
}

/// Approves or returns; the button pressed decides which.
pub async fn decide(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    let checklist = checklist(&form);
    let (decision, done) = if form.get("decision") == "approve" {
        (Decision::Approve(checklist), "resource_approved")
    } else {
        let reasons = form.get("reasons").lines().map(|l| l.trim().to_string()).collect();
        (Decision::Return { checklist, reasons }, "resource_sent_back")
    };
    match resources::decide_with(&app.store, &ctx.caller, id, decision, &app.config.security).await {
        Ok(()) => {
            app.catalogue.refresh(&app.store).await;
            Ok(see_other("/review", done))
        }
        Err(e) => {
            let r = resources::get(&app.store, &ctx.caller, id).await?;
            let values = page_values(&app, &ctx, &r).await?;
            form_error(&app, &ctx, "review.html", values, &form.0, e.into())
        }
    }
}
