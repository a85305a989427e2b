//! Quality management pages: the acceptance standards (数据接收标准) the administration
//! institution sets, and the provider departments' self-evaluations (自评) — the staff's list
//! and form in the workspace, the administration institution's list and decision.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::acceptance::{AcceptanceRules, Element};
use pubdata_core::quality::Dimension;
use pubdata_core::self_evaluation::Period;
use pubdata_core::{DomainError, FieldError};
use pubdata_service::acceptance;
use pubdata_service::self_evaluation::{self as se, Text};

use super::provider::{department, departments};
use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::api::acceptance::rules_dto;
use crate::api::self_evaluations::dto;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

fn is_admin(ctx: &Ctx) -> bool {
    let a = &ctx.caller.actor;
    a.has_role(pubdata_core::user::Role::AdminReviewer) || a.has_role(pubdata_core::user::Role::AdminManager)
}

// Acceptance standards ----------------------------------------------------------------------------

async fn acceptance_values(app: &AppState, ctx: &Ctx) -> AppResult<Value> {
    let current = acceptance::current(&app.store).await?;
    let history: Vec<Value> = acceptance::history(&app.store, &ctx.caller)
        .await?
        .iter()
        .map(|s| {
            context! { version => s.version, changed_by => s.changed_by, changed_at => s.changed_at,
            rules => rules_dto(&s.rules) }
        })
        .collect();
    let dims: Vec<&str> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
    let elements: Vec<&str> = Element::ALL.iter().map(|e| e.as_str()).collect();
    Ok(context! {
        current => context! { version => current.version, changed_by => current.changed_by,
            changed_at => current.changed_at, rules => rules_dto(&current.rules) },
        history => history,
        dims => dims,
        elements => elements,
        editable => acceptance::may_edit(&ctx.caller),
    })
}

/// The standards in force with their history; the manager edits them here.
pub async fn acceptance_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let values = acceptance_values(&app, &ctx).await?;
    Ok(render(
        &app,
        &ctx,
        "acceptance.html",
        context! { done => done_key(&q), ..values },
    )?
    .into_response())
}

/// The form as rules: an empty minimum sets none; a checkbox is on when sent.
fn rules_from_form(form: &FormMap) -> Result<AcceptanceRules, DomainError> {
    let mut errors = Vec::new();
    let mut rules = AcceptanceRules {
        open_format: !form.get("open_format").is_empty(),
        personal_data: !form.get("personal_data").is_empty(),
        ..Default::default()
    };
    for d in Dimension::ALL {
        let key = format!("min_scores.{}", d.as_str());
        let raw = form.get(&key);
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        match raw.parse::<f64>() {
            Ok(v) => rules.min_scores.set(d, Some(v)),
            Err(_) => errors.push(FieldError::new(&key, "score_range").with("min", 0).with("max", 100)),
        }
    }
    let chars = form.get("min_summary_chars");
    match chars.trim() {
        "" => rules.min_summary_chars = 0,
        s => match s.parse::<u32>() {
            Ok(n) => rules.min_summary_chars = n,
            Err(_) => errors.push(FieldError::new("min_summary_chars", "number")),
        },
    }
    rules.required_elements = Element::ALL
        .into_iter()
        .filter(|e| !form.get(&format!("element.{}", e.as_str())).is_empty())
        .collect();
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(DomainError::Validation(errors))
    }
}

pub async fn save_acceptance(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    if !acceptance::may_edit(&ctx.caller) {
        return Err(DomainError::Forbidden.into());
    }
    let result = match rules_from_form(&form) {
        Ok(rules) => acceptance::update(&app.store, &ctx.caller, rules)
            .await
            .map_err(Into::into),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(_) => Ok(see_other("/admin/acceptance", "acceptance_saved")),
        Err(e) => {
            let values = acceptance_values(&app, &ctx).await?;
            form_error(
                &app,
                &ctx,
                "acceptance.html",
                context! { submitted => true, ..values },
                &form.0,
                e,
            )
        }
    }
}

// Self-evaluations ----------------------------------------------------------------------------------

/// The workspace list: the department's self-evaluations and the period to evaluate now.
pub async fn provider_list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let (org_id, org_name) = department(&ctx, &q)?;
    let schedule = app.config.self_evaluation;
    let period = Period::last_ended(schedule.period, pubdata_service::quality::today());
    let rows = se::list(&app.store, &ctx.caller, Some(org_id)).await?;
    let opened = rows.iter().find(|r| r.period == period.key()).map(|r| r.id);
    let rows: Vec<_> = rows.iter().map(|s| dto(ctx.lang, s)).collect();
    let depts: Vec<Value> = departments(&ctx)
        .into_iter()
        .map(|(id, name)| context! { id => id, name => name })
        .collect();
    let page = context! {
        org => context! { id => org_id, name => org_name },
        departments => depts,
        rows => rows,
        period => context! { key => period.key(), start => period.start().to_string(), end => period.end().to_string(),
            due => period.due(schedule.due_days).to_string() },
        opened => opened,
        admin => false,
        done => done_key(&q),
    };
    Ok(render(&app, &ctx, "self_evaluations.html", page)?.into_response())
}

/// Opens (or finds) the department's self-evaluation for the last period that has ended.
pub async fn provider_open(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let org_id: i64 = form
        .get("org_id")
        .parse()
        .map_err(|_| DomainError::NotFound { what: "organisation" })?;
    let today = pubdata_service::quality::today();
    let id = se::open(
        &app.store,
        &ctx.caller,
        &app.config.self_evaluation,
        org_id,
        None,
        today,
    )
    .await?;
    Ok(see_other(
        &format!("/provider/self-evaluations/{id}"),
        "self_evaluation_opened",
    ))
}

async fn page_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let s = se::get(&app.store, &ctx.caller, id).await?;
    let mine = departments(ctx).iter().any(|(org, _)| *org == s.org_id);
    Ok(context! {
        s => dto(ctx.lang, &s),
        editable => mine && s.state.editable(),
        decidable => is_admin(ctx) && s.state == pubdata_core::self_evaluation::State::Submitted,
        threshold => pubdata_core::self_evaluation::ACTION_THRESHOLD,
    })
}

/// One self-evaluation: the form while it is the staff's to write, else read-only.
pub async fn provider_page(
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
        "self_evaluation.html",
        context! { done => done_key(&q), ..values },
    )?
    .into_response())
}

/// Saves the draft, or (button `submit`) saves and submits it.
pub async fn provider_save(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let comments: BTreeMap<Dimension, String> = Dimension::ALL
        .iter()
        .map(|d| (*d, form.get(&format!("comment.{}", d.as_str()))))
        .collect();
    let text = Text {
        comments,
        action_plan: form.get("action_plan"),
    };
    let submit = form.get("action") == "submit";
    match se::save(&app.store, &ctx.caller, id, &text, submit).await {
        Ok(()) => Ok(see_other(
            &format!("/provider/self-evaluations/{id}"),
            if submit {
                "self_evaluation_submitted"
            } else {
                "self_evaluation_saved"
            },
        )),
        Err(e) => {
            let values = page_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "self_evaluation.html", values, &form.0, e.into())
        }
    }
}

/// Every department's self-evaluations, for the administration institution.
pub async fn admin_list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    if !is_admin(&ctx) {
        return Err(DomainError::Forbidden.into());
    }
    let rows: Vec<_> = se::list(&app.store, &ctx.caller, None)
        .await?
        .iter()
        .map(|s| dto(ctx.lang, s))
        .collect();
    let page = context! { rows => rows, admin => true, done => done_key(&q) };
    Ok(render(&app, &ctx, "self_evaluations.html", page)?.into_response())
}

pub async fn admin_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    if !is_admin(&ctx) {
        return Err(DomainError::Forbidden.into());
    }
    let values = page_values(&app, &ctx, id).await?;
    Ok(render(
        &app,
        &ctx,
        "self_evaluation.html",
        context! { done => done_key(&q), ..values },
    )?
    .into_response())
}

/// Acknowledges, or (button `return`) returns with the comment.
pub async fn admin_decide(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let acknowledge = form.get("decision") != "return";
    match se::decide(&app.store, &ctx.caller, id, acknowledge, &form.get("admin_comment")).await {
        Ok(()) => Ok(see_other(
            &format!("/admin/self-evaluations/{id}"),
            if acknowledge {
                "self_evaluation_acknowledged"
            } else {
                "self_evaluation_returned"
            },
        )),
        Err(e) => {
            let values = page_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "self_evaluation.html", values, &form.0, e.into())
        }
    }
}
