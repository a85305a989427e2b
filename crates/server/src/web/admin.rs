//! Organisation, user and audit management for sysadmin and the admin institution's manager.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::org::{NewOrg, OrgKind};
use pubdata_core::policy::{can, require, Action, Target};
use pubdata_core::user::{NewUser, Role};
use pubdata_core::DomainError;
use pubdata_service::accounts::{self, NewStaff};

use super::{done_key, form_error, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

fn creatable_kinds(ctx: &Ctx) -> Vec<&'static str> {
    OrgKind::ALL
        .into_iter()
        .filter(|k| can(&ctx.caller.actor, Action::CreateOrg, Target::OrgKind(*k)))
        .map(OrgKind::as_str)
        .collect()
}

async fn orgs_values(app: &AppState, ctx: &Ctx, kind: Option<OrgKind>) -> AppResult<Value> {
    let orgs = accounts::list_orgs(&app.store, &ctx.caller, kind).await?;
    let kinds: Vec<_> = OrgKind::ALL.iter().map(|k| k.as_str()).collect();
    Ok(
        context! { orgs => orgs, kinds => kinds, kind => kind.map(OrgKind::as_str), creatable_kinds => creatable_kinds(ctx) },
    )
}

pub async fn orgs(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let kind = q.get("kind").and_then(|k| OrgKind::parse(k));
    let values = orgs_values(&app, &ctx, kind).await?;
    Ok(render(&app, &ctx, "orgs.html", context! { done => done_key(&q), ..values })?.into_response())
}

pub async fn create_org(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let new = NewOrg {
        kind: form.get("kind"),
        name: form.get("name"),
        credit_code: form.get("credit_code"),
        region_code: form.get("region_code"),
        contact_name: form.get("contact_name"),
        contact_phone: form.get("contact_phone"),
        contact_email: form.get("contact_email"),
    };
    match accounts::create_org(&app.store, &ctx.caller, new).await {
        Ok(_) => Ok(see_other("/admin/orgs", "org_created")),
        Err(e) => {
            let values = orgs_values(&app, &ctx, None).await?;
            form_error(&app, &ctx, "orgs.html", values, &form.0, e.into())
        }
    }
}

async fn users_values(app: &AppState, ctx: &Ctx, org_id: Option<i64>) -> AppResult<Value> {
    let users = accounts::list_users(&app.store, &ctx.caller, org_id).await?;
    let orgs = app.store.list_orgs(None).await?;
    let org = org_id.and_then(|id| orgs.iter().find(|o| o.id == id).cloned());
    let staff_orgs: Vec<_> = orgs
        .iter()
        .filter(|o| {
            can(
                &ctx.caller.actor,
                Action::CreateStaff,
                Target::Org { id: o.id, kind: o.kind },
            )
        })
        .cloned()
        .collect();
    let staff_roles: Vec<_> = Role::ALL
        .into_iter()
        .filter(|r| r.is_staff())
        .map(Role::as_str)
        .collect();
    Ok(context! { users => users, orgs => orgs, org => org, staff_orgs => staff_orgs, staff_roles => staff_roles })
}

pub async fn users(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let org_id = q.get("org").and_then(|o| o.parse().ok());
    let values = users_values(&app, &ctx, org_id).await?;
    Ok(render(&app, &ctx, "users.html", context! { done => done_key(&q), ..values })?.into_response())
}

pub async fn create_staff(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let org_id = form
        .get("org_id")
        .parse::<i64>()
        .map_err(|_| DomainError::field("org_id", "required"));
    let result = match org_id {
        Ok(org_id) => {
            let user = NewUser {
                login: form.get("login"),
                display_name: form.get("display_name"),
                email: form.get("email"),
                phone: form.get("phone"),
                password: form.get("password"),
            };
            accounts::create_staff(
                &app.store,
                &ctx.caller,
                NewStaff {
                    user,
                    org_id,
                    role: form.get("role"),
                },
            )
            .await
            .map_err(AppError::from)
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(id) => Ok(see_other(&format!("/admin/users/{id}"), "user_created")),
        Err(e) => {
            let values = users_values(&app, &ctx, None).await?;
            form_error(&app, &ctx, "users.html", values, &form.0, e)
        }
    }
}

pub async fn user(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    require(&ctx.caller.actor, Action::ListUsers, Target::Platform)?;
    let subject = accounts::get_user(&app.store, &ctx.caller, id).await?;
    let orgs: Vec<_> = app
        .store
        .list_orgs(None)
        .await?
        .into_iter()
        .filter(|o| {
            Role::ALL.iter().any(|r| {
                can(
                    &ctx.caller.actor,
                    Action::AssignRole(*r),
                    Target::Org { id: o.id, kind: o.kind },
                )
            })
        })
        .collect();
    let can_disable = can(
        &ctx.caller.actor,
        Action::DisableUser,
        Target::User {
            id: subject.id,
            sysadmin: subject.is_sysadmin,
        },
    );
    let roles_all: Vec<_> = Role::ALL.into_iter().map(Role::as_str).collect();
    let page = context! { subject => subject, orgs => orgs, roles_all => roles_all, can_disable => can_disable, done => done_key(&q) };
    Ok(render(&app, &ctx, "user.html", page)?.into_response())
}

async fn toggle(app: AppState, ctx: Ctx, id: i64, disabled: bool) -> AppResult<Response> {
    accounts::set_disabled(&app.store, &ctx.caller, id, disabled).await?;
    Ok(see_other(
        &format!("/admin/users/{id}"),
        if disabled { "user_disabled" } else { "user_enabled" },
    ))
}

pub async fn disable(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    toggle(app, ctx, id, true).await
}

pub async fn enable(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    toggle(app, ctx, id, false).await
}

fn role_form(form: &FormMap) -> AppResult<(i64, Role)> {
    let org_id = form
        .get("org_id")
        .parse()
        .map_err(|_| DomainError::field("org_id", "required"))?;
    let role = Role::parse(&form.get("role")).ok_or_else(|| DomainError::field("role", "role"))?;
    Ok((org_id, role))
}

pub async fn grant_role(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    let (org_id, role) = role_form(&form)?;
    accounts::set_role(&app.store, &ctx.caller, id, org_id, role, true).await?;
    Ok(see_other(&format!("/admin/users/{id}"), "role_granted"))
}

pub async fn remove_role(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    let (org_id, role) = role_form(&form)?;
    accounts::set_role(&app.store, &ctx.caller, id, org_id, role, false).await?;
    Ok(see_other(&format!("/admin/users/{id}"), "role_removed"))
}

/// 更新及时性 — published resources overdue for update, for the administration institution.
pub async fn timeliness(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let rows = pubdata_service::quality::overdue(&app.store, &ctx.caller, None).await?;
    Ok(render(&app, &ctx, "timeliness.html", context! { rows => rows })?.into_response())
}
