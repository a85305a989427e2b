//! 数据需求 and 数据纠错 pages (§5.4.1b, §7): anyone logged in asks for data that is not open
//! or reports an error in published data; the administration institution routes demands; the
//! provider assesses them (开放研判) and handles the error reports. The public list of demands
//! shows each outcome without who asked. The rules live in `core::{demand, correction}`; these
//! handlers read forms, call `service::{demands, corrections}` and render.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::correction::{Action as CorrectionAction, NewCorrection};
use pubdata_core::demand::{DemandState, NewDemand};
use pubdata_core::metadata::DomainList;
use pubdata_core::org::OrgKind;
use pubdata_core::plan::NewPlanItem;
use pubdata_core::policy::Actor;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_service::corrections::{self, CorrectionView};
use pubdata_service::demands::{self, Decision, DemandView, PublicQuery};
use pubdata_service::published;
use rand::RngCore;

use super::application::logged_in;
use super::catalogue::term;
use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::i18n::{has, t, Lang};
use crate::AppState;

/// Demands on one page of the public list.
const PAGE: i64 = 20;

/// A fresh key for a form, sent back with it: submitting the same form twice (a double click, a
/// reload) gives the first record instead of a second one.
fn form_key() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// Who has a queue of demands and error reports: the administration institution, and provider
/// staff (managers, editors, reviewers).
pub(super) fn handles_requests(actor: &Actor) -> bool {
    [
        Role::AdminReviewer,
        Role::AdminManager,
        Role::ProviderManager,
        Role::ProviderEditor,
        Role::ProviderReviewer,
    ]
    .into_iter()
    .any(|r| actor.has_role(r))
}

/// The domains for a select: key and name in the page's language.
fn domain_options(lang: Lang) -> Vec<Value> {
    DomainList::standard()
        .iter()
        .map(|(key, zh)| {
            let k = format!("domain.{key}");
            let name = if has(lang, &k) {
                t(lang, &k, &[])
            } else {
                zh.to_string()
            };
            context! { key => key, name => name }
        })
        .collect()
}

async fn provider_options(app: &AppState) -> AppResult<Vec<Value>> {
    Ok(app
        .store
        .list_orgs(Some(OrgKind::Provider))
        .await?
        .into_iter()
        .map(|o| context! { id => o.id, name => o.name })
        .collect())
}

fn demand_value(v: &DemandView) -> Value {
    context! {
        state => v.state.as_str(), full => v.full, overdue => v.overdue,
        ..Value::from_serialize(&v.row)
    }
}

// Demands ------------------------------------------------------------------------------------

/// 需求公开 — every demand and its outcome, newest first, de-identified; searchable by words and
/// filterable by state and domain.
pub async fn demands(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let get = |k: &str| q.get(k).map(|s| s.trim().to_string()).unwrap_or_default();
    let page = get("page").parse::<i64>().unwrap_or(1).clamp(1, 10_000);
    let query = PublicQuery {
        text: get("q"),
        state: get("state"),
        domain: get("domain"),
        provider_org_id: None,
        limit: PAGE,
        offset: (page - 1) * PAGE,
    };
    let (items, total) = demands::public_list(&app.store, &ctx.caller, &query).await?;
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let href = |n: i64| {
        let params = [
            ("q", query.text.as_str()),
            ("state", query.state.as_str()),
            ("domain", query.domain.as_str()),
        ];
        let given: Vec<&(&str, &str)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
        let mut s = serde_urlencoded::to_string(given).unwrap_or_default();
        if !s.is_empty() {
            s.push('&');
        }
        format!("/demands?{s}page={n}")
    };
    let states: Vec<&str> = DemandState::ALL.iter().map(|s| s.as_str()).collect();
    let staff = handles_requests(&ctx.caller.actor);
    let prev = (page > 1).then(|| href(page - 1));
    let next = (page < pages).then(|| href(page + 1));
    let page_values = context! {
        items => items.iter().map(demand_value).collect::<Vec<_>>(), total => total,
        q => query.text, state => query.state, domain => query.domain, states => states,
        domains => domain_options(ctx.lang), page => page, pages => pages, prev => prev, next => next,
        staff => staff, done => done_key(&q),
    };
    Ok(render(&app, &ctx, "demands.html", page_values)?.into_response())
}

async fn new_demand_values(app: &AppState, ctx: &Ctx) -> AppResult<Value> {
    Ok(context! {
        domains => domain_options(ctx.lang), providers => provider_options(app).await?, key => form_key(),
    })
}

/// The form to ask for data.
pub async fn new_demand(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let page = new_demand_values(&app, &ctx).await?;
    Ok(render(&app, &ctx, "demand_new.html", page)?.into_response())
}

/// 提交数据需求.
pub async fn submit_demand(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    logged_in(&ctx)?;
    let input = NewDemand {
        title: form.get("title"),
        description: form.get("description"),
        purpose: form.get("purpose"),
        domain: form.get("domain"),
        provider_org_id: form.get("provider_org_id"),
        idempotency_key: form.get("idempotency_key"),
    };
    match demands::submit(&app.store, &ctx.caller, &input, &app.demands, &app.calendar).await {
        Ok(s) => Ok(see_other(&format!("/demands/{}", s.id), "demand_submitted")),
        Err(e) => {
            let mut page = new_demand_values(&app, &ctx).await?;
            // The same key again, so a corrected form still cannot make two demands.
            page = context! { key => input.idempotency_key, ..page };
            form_error(&app, &ctx, "demand_new.html", page, &form.0, e.into())
        }
    }
}

async fn demand_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let v = demands::get(&app.store, &ctx.caller, id).await?;
    let c = v.caller;
    let waiting = !v.state.is_answered();
    let may_route = c.admin && !c.requester && waiting;
    let may_assess = c.assessor && !c.requester && v.state == DemandState::Assessing;
    let providers = if may_route {
        provider_options(app)
            .await?
            .into_iter()
            .filter(|p| p.get_attr("id").ok().and_then(|id| i64::try_from(id).ok()) != v.row.provider_org_id)
            .collect()
    } else {
        Vec::new()
    };
    let plans: Vec<Value> = match (may_assess, v.row.provider_org_id) {
        (true, Some(org)) => app
            .store
            .plans(Some(org))
            .await?
            .into_iter()
            .map(|p| context! { id => p.id, title => p.title })
            .collect(),
        _ => Vec::new(),
    };
    let events: Vec<Value> = v.events.iter().map(Value::from_serialize).collect();
    Ok(context! {
        d => demand_value(&v), events => events, domain_name => term(ctx.lang, "domain", &v.row.domain),
        may_route => may_route, may_assess => may_assess, may_withdraw => c.requester && waiting,
        providers => providers, plans => plans,
    })
}

/// One demand: in full for its requester, the administration institution and the assessing
/// provider (with the forms each may use); de-identified for everyone else.
pub async fn demand(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let page = demand_values(&app, &ctx, id).await?;
    Ok(render(&app, &ctx, "demand.html", context! { done => done_key(&q), ..page })?.into_response())
}

/// The detail page again with the form's problems, or the error itself.
async fn demand_error(app: &AppState, ctx: &Ctx, id: i64, form: &FormMap, e: AppError) -> AppResult<Response> {
    let page = demand_values(app, ctx, id).await?;
    let page = context! { failed => form.get("form"), ..page };
    form_error(app, ctx, "demand.html", page, &form.0, e)
}

/// 分派 — the administration institution routes the demand to a provider.
pub async fn route_demand(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    logged_in(&ctx)?;
    let provider = form.get("provider_org_id");
    match demands::route(&app.store, &ctx.caller, id, &provider, &app.demands, &app.calendar).await {
        Ok(()) => Ok(see_other(&format!("/demands/{id}"), "demand_routed")),
        Err(e) => demand_error(&app, &ctx, id, &form, e.into()).await,
    }
}

/// 开放研判 — the provider accepts into its open plan, declines, or points to open data.
pub async fn decide_demand(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    logged_in(&ctx)?;
    let decision = match form.get("decision").trim() {
        "accept" => Decision::Accept {
            reply: form.get("reply"),
            plan_id: form.get("plan_id").trim().parse().ok(),
            item: NewPlanItem {
                name: form.get("name"),
                domain: form.get("domain"),
                open_type: form.get("open_type"),
                planned_date: form.get("planned_date"),
                notes: form.get("notes"),
                demand_id: None,
            },
        },
        "decline" => Decision::Decline {
            reason: form.get("reason"),
        },
        "already_open" => Decision::AlreadyOpen {
            resource_id: form.get("resource_id"),
            reply: form.get("reply"),
        },
        _ => return Err(DomainError::field("decision", "demand_decision").into()),
    };
    match demands::decide(&app.store, &ctx.caller, id, &decision, &app.demands, &app.calendar).await {
        Ok(()) => Ok(see_other(&format!("/demands/{id}"), "demand_decided")),
        Err(e) => demand_error(&app, &ctx, id, &form, e.into()).await,
    }
}

/// 撤回 — the requester takes the demand back.
pub async fn withdraw_demand(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    logged_in(&ctx)?;
    demands::withdraw(&app.store, &ctx.caller, id, &app.demands, &app.calendar).await?;
    Ok(see_other(&format!("/demands/{id}"), "demand_withdrawn"))
}

/// What waits on the caller: demands to route (the administration institution) and to assess
/// (the provider), oldest first, overdue ones marked.
pub async fn demand_queue(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let entries: Vec<Value> = demands::queue(&app.store, &ctx.caller, &app.calendar)
        .await?
        .iter()
        .map(|e| {
            context! {
                d => demand_value(&e.demand), stage => e.stage.map(|s| s.as_str()), overdue_days => e.overdue_days,
            }
        })
        .collect();
    Ok(render(&app, &ctx, "demand_queue.html", context! { entries => entries })?.into_response())
}

// Corrections --------------------------------------------------------------------------------

fn correction_value(v: &CorrectionView) -> Value {
    context! {
        state => v.state.as_str(), full => v.full, overdue => v.overdue,
        ..Value::from_serialize(&v.row)
    }
}

async fn report_values(app: &AppState, name: &str) -> AppResult<Value> {
    let p = published::by_name(&app.store, name).await?;
    let dists: Vec<Value> = p
        .dists
        .iter()
        .filter(|d| d.kind == "file")
        .map(|d| context! { id => d.id, title => d.title, version => d.version, rows => d.row_count })
        .collect();
    let fields: Vec<&str> = p.resource.meta.fields.iter().map(|f| f.name.as_str()).collect();
    Ok(context! {
        name => name, title => p.resource.meta.title, resource_id => p.resource.row.id,
        dists => dists, fields => fields, key => form_key(),
    })
}

/// The form to report an error in a published resource.
pub async fn report_page(State(app): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let page = report_values(&app, &name).await?;
    Ok(render(&app, &ctx, "correction_new.html", page)?.into_response())
}

/// 数据纠错 — the report is filed with the resource's provider.
pub async fn report(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    form: FormMap,
) -> AppResult<Response> {
    logged_in(&ctx)?;
    let p = published::by_name(&app.store, &name).await?;
    let input = NewCorrection {
        resource_id: p.resource.row.id.to_string(),
        distribution_id: form.get("distribution_id"),
        row: form.get("row"),
        field: form.get("field"),
        description: form.get("description"),
        evidence: form.get("evidence"),
        idempotency_key: form.get("idempotency_key"),
    };
    match corrections::submit(&app.store, &ctx.caller, &input, &app.corrections, &app.calendar).await {
        Ok(s) => Ok(see_other(&format!("/corrections/{}", s.id), "correction_submitted")),
        Err(e) => {
            let page = report_values(&app, &name).await?;
            let page = context! { key => input.idempotency_key, ..page };
            form_error(&app, &ctx, "correction_new.html", page, &form.0, e.into())
        }
    }
}

async fn correction_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    // The caller's standing decides what is shown and which forms.
    let v = corrections::get(&app.store, &ctx.caller, id).await?;
    let c = v.caller;
    let handler = c.may(&CorrectionAction::StartReview);
    let open = !v.state.is_final();
    let versions: Vec<Value> = if handler && open {
        app.store
            .distributions(v.row.resource_id)
            .await?
            .into_iter()
            .filter(|d| d.kind == "file" && d.state == "ready")
            .map(|d| context! { id => d.id, title => d.title, version => d.version })
            .collect()
    } else {
        Vec::new()
    };
    let events: Vec<Value> = v.events.iter().map(Value::from_serialize).collect();
    Ok(context! {
        c => correction_value(&v), events => events, may_handle => handler && open,
        may_start => handler && v.state.as_str() == "submitted", versions => versions,
        dataset => published::name_of(&v.row.resource_code),
    })
}

/// One error report: in full for its reporter, the provider and the administration institution.
pub async fn correction(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let page = correction_values(&app, &ctx, id).await?;
    Ok(render(&app, &ctx, "correction.html", context! { done => done_key(&q), ..page })?.into_response())
}

/// The provider takes the report up, accepts it (saying how it will be fixed) or rejects it.
pub async fn handle_correction(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    logged_in(&ctx)?;
    let action = match form.get("decision").trim() {
        "start_review" => CorrectionAction::StartReview,
        "accept" => CorrectionAction::Accept {
            fix: form.get("fix"),
            fixed_distribution_id: form.get("fixed_distribution_id").trim().parse().ok(),
        },
        "reject" => CorrectionAction::Reject {
            reason: form.get("reason"),
        },
        _ => return Err(DomainError::field("decision", "correction_decision").into()),
    };
    match corrections::act(&app.store, &ctx.caller, id, &action).await {
        Ok(()) => Ok(see_other(&format!("/corrections/{id}"), "correction_handled")),
        Err(e) => {
            let page = correction_values(&app, &ctx, id).await?;
            let page = context! { failed => form.get("decision"), ..page };
            form_error(&app, &ctx, "correction.html", page, &form.0, e.into())
        }
    }
}

/// The reports the caller's department handles (or, for the administration institution, all
/// of them): the open ones oldest first, or with `?all=1` every one newest first.
pub async fn correction_queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let all = q.get("all").is_some_and(|v| v == "1");
    let entries: Vec<Value> = corrections::handled(&app.store, &ctx.caller, !all, &app.calendar)
        .await?
        .iter()
        .map(|e| context! { c => correction_value(&e.correction), overdue_days => e.overdue_days })
        .collect();
    Ok(render(
        &app,
        &ctx,
        "correction_queue.html",
        context! { entries => entries, all => all },
    )?
    .into_response())
}

/// The caller's own demands and error reports.
pub async fn mine(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let demands: Vec<Value> = demands::mine(&app.store, &ctx.caller)
        .await?
        .iter()
        .map(demand_value)
        .collect();
    let corrections: Vec<Value> = corrections::mine(&app.store, &ctx.caller)
        .await?
        .iter()
        .map(correction_value)
        .collect();
    let page = context! { demands => demands, corrections => corrections };
    Ok(render(&app, &ctx, "my_requests.html", page)?.into_response())
}

// Statistics ---------------------------------------------------------------------------------

/// 互动统计 — how each provider answers demands and error reports, for everyone to see.
pub async fn statistics(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let (total, providers) = pubdata_service::statistics::responses(&app.store).await?;
    let pct = |r: Option<f64>| r.map(|r| format!("{:.0}%", r * 100.0));
    let row = |s: &pubdata_service::statistics::ResponseStats| {
        context! {
            response_rate => pct(s.response_rate), on_time_rate => pct(s.on_time_rate),
            ..Value::from_serialize(s)
        }
    };
    let page = context! { total => row(&total), providers => providers.iter().map(row).collect::<Vec<_>>() };
    Ok(render(&app, &ctx, "statistics_interaction.html", page)?.into_response())
}
