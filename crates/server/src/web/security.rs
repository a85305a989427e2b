//! Security management pages (§7): the audit browser, the download trace of a resource and of a
//! grant, and destruction of data past retention (销毁).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use pubdata_core::policy::{require, Action, Target};
use pubdata_core::security::AuditQueryInput;
use pubdata_core::{DomainError, FieldError};
use pubdata_service::{lifecycle, security};
use pubdata_store::VerifyReport;

use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::i18n::t;
use crate::AppState;

const AUDIT_FILTERS: [&str; 7] = ["actor", "action", "object_type", "object_id", "from", "to", "limit"];

/// The link to the next page: the same filters, older than `before`.
fn next_href(base: &str, q: &HashMap<String, String>, names: &[&str], before: Option<i64>) -> Option<String> {
    let before = before?;
    let mut pairs: Vec<(&str, String)> = names
        .iter()
        .filter_map(|n| q.get(*n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v.clone())))
        .collect();
    pairs.push(("before", before.to_string()));
    Some(format!(
        "{base}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    ))
}

/// 审计日志 — the audit browser: filters, pages of events, the chain's head, verification.
pub async fn audit(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    require(&ctx.caller.actor, Action::ViewAudit, Target::Platform)?;
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let input = AuditQueryInput {
        actor: get("actor"),
        action: get("action"),
        object_type: get("object_type"),
        object_id: get("object_id"),
        from: get("from"),
        to: get("to"),
        before: get("before"),
        limit: get("limit"),
    };
    let verify = if q.contains_key("verify") {
        Some(match app.store.verify_audit().await? {
            VerifyReport::Intact { events } => {
                context! { ok => true, message => t(ctx.lang, "audit.intact", &[("events", events.to_string())]) }
            }
            VerifyReport::Broken(b) => {
                context! { ok => false, message => t(ctx.lang, "audit.broken", &[("detail", format!("{b:?}"))]) }
            }
        })
    } else {
        None
    };
    match security::browse_audit(&app.store, &ctx.caller, &input).await {
        Ok(b) => {
            let next = next_href("/admin/audit", &q, &AUDIT_FILTERS, b.page.next_before);
            let page = context! {
                events => b.page.events, next_href => next, head_seq => b.head_seq, head_hash => b.head_hash,
                verify => verify, form => q, paged => !input.before.is_empty(),
            };
            Ok(render(&app, &ctx, "audit.html", page)?.into_response())
        }
        Err(e) => {
            let (head_seq, head_hash) = app.store.audit_head().await?;
            let page =
                context! { events => Vec::<()>::new(), head_seq => head_seq, head_hash => head_hash, verify => verify };
            form_error(&app, &ctx, "audit.html", page, &q, e.into())
        }
    }
}

fn before_param(q: &HashMap<String, String>) -> AppResult<Option<i64>> {
    match q.get("before").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::Domain(DomainError::field("before", "range"))),
    }
}

/// 下载追溯 — a resource's downloads, for the administration institution and the providing
/// department's staff.
pub async fn resource_downloads(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let (r, trace) = security::resource_downloads(&app.store, &ctx.caller, id, before_param(&q)?).await?;
    let next = next_href(
        &format!("/provider/resources/{id}/downloads"),
        &q,
        &[],
        trace.next_before,
    );
    Ok(render(
        &app,
        &ctx,
        "downloads.html",
        context! { r => r, downloads => trace.downloads, next_href => next },
    )?
    .into_response())
}

/// A grant's downloads and its AppKeys' last use.
pub async fn grant_downloads(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let g = security::grant_downloads(&app.store, &ctx.caller, id, before_param(&q)?).await?;
    let next = next_href(&format!("/grants/{id}/downloads"), &q, &[], g.trace.next_before);
    Ok(render(
        &app,
        &ctx,
        "grant_downloads.html",
        context! { g => g.grant, app_keys => g.app_keys, downloads => g.trace.downloads, next_href => next },
    )?
    .into_response())
}

async fn lifecycle_page(app: &AppState, ctx: &Ctx) -> AppResult<minijinja::Value> {
    let o = lifecycle::overview(&app.store, &ctx.caller, &app.config.lifecycle, pubdata_store::now_ms()).await?;
    Ok(context! { retention => o.retention, planned => o.planned, destroyed => o.destroyed })
}

/// 销毁 — what is due for destruction, what was destroyed, and "destroy now".
pub async fn lifecycle(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let page = lifecycle_page(&app, &ctx).await?;
    Ok(render(&app, &ctx, "lifecycle.html", context! { done => done_key(&q), ..page })?.into_response())
}

/// Destroys one due version after the confirmation box was ticked.
pub async fn destroy(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    require(&ctx.caller.actor, Action::ManageLifecycle, Target::Platform)?;
    let outcome = if form.get("confirm") == "yes" {
        lifecycle::destroy_now(
            &app.store,
            &app.files,
            &ctx.caller,
            id,
            &app.config.lifecycle,
            pubdata_store::now_ms(),
        )
        .await
        .map_err(AppError::from)
    } else {
        Err(AppError::Domain(DomainError::Validation(vec![FieldError::new(
            "confirm",
            "confirm_destroy",
        )])))
    };
    match outcome {
        Ok(_) => Ok(see_other("/admin/lifecycle", "destroyed")),
        Err(e) => {
            let page = lifecycle_page(&app, &ctx).await?;
            form_error(&app, &ctx, "lifecycle.html", page, &form.0, e)
        }
    }
}
