//! 数据申请、审核与授权 pages (steps 4–8): a consumer accepts the terms of unconditional data or
//! applies for conditional data, follows the application and its grants on "my data", and the
//! administration institution and the provider decide on it from their queue. The rules live in
//! `core::application`; these handlers read forms, call `service::access` and render.

use std::collections::HashMap;

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Value};
use pubdata_core::application::{
    self, Action, ApplicationState, GrantState, NewApplication, NewRequest, NewResourceScope, NewRowFilter, NewScope,
    ResourceRef, RowFilter,
};
use pubdata_core::calendar::Date;
use pubdata_core::metadata::OpenType;
use pubdata_core::policy::Actor;
use pubdata_core::user::Role;
use pubdata_core::DomainError;
use pubdata_service::access::{self, ApplicationView};
use pubdata_service::published::{self, Published};
use pubdata_service::resources::{self, Resource};
use pubdata_service::StoreError;
use pubdata_store::{now_ms, ApplicationEventRow, ApplicationItemRow, ApplicationRow, GrantRow};
use serde::Serialize;

use super::{catalogue, done_key, form_error, login_redirect, render, see_other};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::AppState;

// Forms ---------------------------------------------------------------------------------------

/// A url-encoded form that keeps repeated names (a group of checkboxes): `get` is a name's last
/// value, `list` all its non-empty values.
pub(super) struct ListForm {
    pairs: Vec<(String, String)>,
    /// Each name once, repeated values joined by commas: what a re-shown form is given.
    map: HashMap<String, String>,
}

impl FromRequest<AppState> for ListForm {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(pairs)) => Ok(ListForm::new(pairs)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::BodyTooLarge(state.config.max_body_bytes))
            }
            Err(r) => Err(AppError::BadRequest(r.body_text())),
        }
    }
}

impl ListForm {
    fn new(pairs: Vec<(String, String)>) -> ListForm {
        let mut map: HashMap<String, String> = HashMap::new();
        for (k, v) in &pairs {
            map.entry(k.clone())
                .and_modify(|all| {
                    all.push(',');
                    all.push_str(v);
                })
                .or_insert_with(|| v.clone());
        }
        ListForm { pairs, map }
    }

    fn get(&self, name: &str) -> String {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name).trim(), "on" | "true" | "1" | "yes")
    }
}

/// The name of an input of a form's `i`th resource: plain (`fields`, `filter_op`) when the form
/// has one resource, `resources[i].fields` otherwise — the names its field problems carry.
fn input_name(i: usize, single: bool, part: &str) -> String {
    if single {
        part.replace("filters[0].", "filter_")
    } else {
        format!("resources[{i}].{part}")
    }
}

/// Field problems of a one-resource form under its inputs' names (`resources[0].fields` is the
/// `fields` checkboxes), so each message sits beside what the user has to fix.
fn for_form(e: AppError, single: bool) -> AppError {
    match e {
        AppError::Domain(DomainError::Validation(list)) if single => {
            let list = list
                .into_iter()
                .map(|mut f| {
                    if let Some(rest) = f.field.strip_prefix("resources[0].") {
                        f.field = input_name(0, true, rest);
                    }
                    f
                })
                .collect();
            AppError::Domain(DomainError::Validation(list))
        }
        other => other,
    }
}

/// The application form as posted, for the given resources (the form cannot change them).
fn application_input(form: &ListForm, resource_ids: &[i64]) -> NewApplication {
    let single = resource_ids.len() == 1;
    NewApplication {
        purpose: form.get("purpose"),
        scenario: form.get("scenario"),
        resources: resource_ids
            .iter()
            .enumerate()
            .map(|(i, id)| NewRequest {
                resource_id: id.to_string(),
                fields: form.list(&input_name(i, single, "fields")),
            })
            .collect(),
        period_from: form.get("period_from"),
        period_to: form.get("period_to"),
        security_measures: form.get("security_measures"),
        commitment_accepted: form.flag("commitment_accepted"),
    }
}

/// The form's text as saved, for editing.
fn saved_form(input: &NewApplication) -> HashMap<&'static str, String> {
    let mut form = HashMap::from([
        ("purpose", input.purpose.clone()),
        ("scenario", input.scenario.clone()),
        ("period_from", input.period_from.clone()),
        ("period_to", input.period_to.clone()),
        ("security_measures", input.security_measures.clone()),
    ]);
    if input.commitment_accepted {
        form.insert("commitment_accepted", "on".into());
    }
    form
}

/// The approval scope as posted. A row filter counts when its field or value is given.
fn scope_input(form: &ListForm, items: &[ApplicationItemRow]) -> NewScope {
    let single = items.len() == 1;
    NewScope {
        resources: items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let part = |p: &str| form.get(&input_name(i, single, p));
                let filter = NewRowFilter {
                    field: part("filters[0].field"),
                    op: part("filters[0].op"),
                    value: part("filters[0].value"),
                };
                let given = !(filter.field.trim().is_empty() && filter.value.trim().is_empty());
                NewResourceScope {
                    resource_id: item.resource_id.to_string(),
                    fields: form.list(&input_name(i, single, "fields")),
                    filters: if given { vec![filter] } else { Vec::new() },
                }
            })
            .collect(),
        valid_from: form.get("valid_from"),
        valid_to: form.get("valid_to"),
        methods: form.list("methods"),
    }
}

// Access --------------------------------------------------------------------------------------

fn today() -> Date {
    Date::from_unix_millis_cst(now_ms())
}

pub(super) fn logged_in(ctx: &Ctx) -> AppResult<()> {
    if ctx.user.is_none() {
        return Err(DomainError::Unauthenticated {
            reason: "login_required",
        }
        .into());
    }
    Ok(())
}

/// Who decides on applications: the administration institution's reviewers and managers, and the
/// providers' reviewers and managers.
pub(super) fn reviews_applications(actor: &Actor) -> bool {
    [
        Role::AdminReviewer,
        Role::AdminManager,
        Role::ProviderReviewer,
        Role::ProviderManager,
    ]
    .into_iter()
    .any(|r| actor.has_role(r))
}

fn staff_gate(ctx: &Ctx) -> AppResult<Option<Response>> {
    if let Some(r) = login_redirect(ctx) {
        return Ok(Some(r));
    }
    if !reviews_applications(&ctx.caller.actor) {
        return Err(DomainError::Forbidden.into());
    }
    Ok(None)
}

/// The caller's own application; anyone else's does not exist on "my data".
async fn own(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<ApplicationView> {
    let view = access::get(&app.store, &ctx.caller, id).await?;
    if !view.caller.applicant {
        return Err(DomainError::NotFound { what: "application" }.into());
    }
    Ok(view)
}

async fn resource(app: &AppState, id: i64) -> AppResult<Option<Resource>> {
    match app.store.resource(id).await? {
        Some(row) => Ok(Some(resources::parse(row)?)),
        None => Ok(None),
    }
}

fn resource_ref(r: &Resource) -> ResourceRef<'_> {
    ResourceRef {
        id: r.row.id,
        provider_org_id: r.row.provider_org_id,
        status: r.status,
        meta: &r.meta,
    }
}

/// The titles of an application's resources, for lists.
async fn titles(app: &AppState, id: i64) -> AppResult<String> {
    let items = app.store.application_items(id).await?;
    Ok(items
        .iter()
        .map(|i| i.resource_title.as_str())
        .collect::<Vec<_>>()
        .join("、"))
}

// Views ---------------------------------------------------------------------------------------

/// A 数据项 offered for choice.
#[derive(Debug, Serialize)]
struct FieldChoice {
    name: String,
    title: String,
    checked: bool,
}

/// A resource of an application with its 数据项 and the names of its inputs.
#[derive(Debug, Serialize)]
struct ItemView {
    resource_id: i64,
    title: String,
    code: String,
    /// The dataset page's name.
    name: String,
    open_conditions: Option<String>,
    /// The fields the form offers (all declared ones to the applicant, the requested ones to
    /// the provider), checked as given.
    fields: Vec<FieldChoice>,
    /// The fields the applicant asked for, with their titles.
    requested: Vec<FieldChoice>,
    inputs: HashMap<&'static str, String>,
}

/// The resources of a form: `(resource id, fields requested, fields checked)`. `offer_all`
/// offers every declared field (the applicant's form) rather than the requested ones.
async fn item_views(
    app: &AppState,
    items: &[(i64, Vec<String>, Vec<String>)],
    offer_all: bool,
) -> AppResult<Vec<ItemView>> {
    let single = items.len() == 1;
    let mut out = Vec::with_capacity(items.len());
    for (i, (id, requested, checked)) in items.iter().enumerate() {
        let Some(r) = resource(app, *id).await? else { continue };
        let title_of = |name: &str| {
            r.meta
                .fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.title.clone())
                .unwrap_or_default()
        };
        let choice = |name: &str| FieldChoice {
            name: name.to_string(),
            title: title_of(name),
            checked: checked.iter().any(|c| c.eq_ignore_ascii_case(name)),
        };
        let fields = if offer_all {
            r.meta.fields.iter().map(|f| choice(&f.name)).collect()
        } else {
            requested.iter().map(|n| choice(n)).collect()
        };
        let inputs = [
            ("fields", "fields"),
            ("filter_field", "filters[0].field"),
            ("filter_op", "filters[0].op"),
            ("filter_value", "filters[0].value"),
        ]
        .into_iter()
        .map(|(key, part)| (key, input_name(i, single, part)))
        .collect();
        out.push(ItemView {
            resource_id: r.row.id,
            title: r.meta.title.clone(),
            code: r.row.code.clone(),
            name: published::name_of(&r.row.code),
            open_conditions: r.meta.open_conditions.clone(),
            requested: requested
                .iter()
                .map(|n| FieldChoice {
                    name: n.clone(),
                    title: title_of(n),
                    checked: true,
                })
                .collect(),
            fields,
            inputs,
        });
    }
    Ok(out)
}

/// One step of an application's history. The applicant sees who acted by institution, and not
/// the provider's refusal before the administration institution relays it.
#[derive(Debug, Serialize)]
struct EventView {
    id: i64,
    action: String,
    at: i64,
    /// A name, or (`who_key`) a translated description such as "the administration institution".
    who: String,
    who_key: Option<&'static str>,
    from_state: String,
    to_state: String,
    reason: Option<String>,
    /// What the reason is: `missing`, `reply`, `note`, `reason` or `relayed`.
    reason_label: &'static str,
    /// The provider's own words behind a reworded relay (staff only).
    original_reason: Option<String>,
    /// The reason exists but reaches the applicant through the administration institution.
    withheld: bool,
    due: Option<String>,
}

fn event_views(events: &[ApplicationEventRow], row: &ApplicationRow, staff: bool) -> Vec<EventView> {
    events
        .iter()
        .map(|e| {
            let system = e.actor.starts_with("system:");
            let (who, who_key) = match (staff, e.action.as_str()) {
                (_, _) if system => (String::new(), Some("by_system")),
                (true, _) => (e.actor.clone(), None),
                (false, "request_info" | "reject" | "forward" | "relay") => (String::new(), Some("by_admin")),
                (false, "approve" | "provider_reject") => (row.provider_name.clone(), None),
                (false, _) => (String::new(), Some("by_applicant")),
            };
            let reason_label = match e.action.as_str() {
                "request_info" => "missing",
                "answer" => "reply",
                "forward" => "note",
                "relay" | "auto_relay" => "relayed",
                _ => "reason",
            };
            let hidden = !staff && matches!(e.action.as_str(), "provider_reject" | "forward");
            EventView {
                id: e.id,
                action: e.action.clone(),
                at: e.at,
                who,
                who_key,
                from_state: e.from_state.clone(),
                to_state: e.to_state.clone(),
                reason: e.reason.clone().filter(|r| !hidden && !r.trim().is_empty()),
                reason_label,
                original_reason: e.original_reason.clone().filter(|_| staff),
                withheld: !staff && e.action == "provider_reject",
                due: e.due.clone(),
            }
        })
        .collect()
}

/// A grant as pages show it.
#[derive(Debug, Serialize)]
struct GrantView {
    g: GrantRow,
    /// The dataset page's name.
    name: String,
    filters: Vec<RowFilter>,
    usable: bool,
    api: bool,
    /// `active`, `not_started`, `expired` (also when its last day has passed but the expiry job
    /// has not run yet) or `revoked`.
    status: &'static str,
}

fn grant_view(g: GrantRow) -> GrantView {
    let grant = access::grant_of(&g);
    let today = today();
    let usable = grant.is_usable(today);
    let status = match grant.state {
        GrantState::Revoked => "revoked",
        GrantState::Expired => "expired",
        GrantState::Active if usable => "active",
        GrantState::Active if grant.has_ended(today) => "expired",
        GrantState::Active => "not_started",
    };
    GrantView {
        name: published::name_of(&g.resource_code),
        usable,
        api: grant.methods.api,
        filters: grant.filters,
        status,
        g,
    }
}

// The dataset page's access part ----------------------------------------------------------------

/// 无条件开放 — the consumer accepts the usage terms and may download at once.
pub async fn accept_terms(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    form: ListForm,
) -> AppResult<Response> {
    let p = published::by_name(&app.store, &name).await?;
    let accepted = form.flag("terms_accepted");
    let result = access::accept_terms(&app.store, &ctx.caller, p.resource.row.id, accepted).await;
    match result {
        // Post/Redirect/Get: reloading the page does not send the form again.
        Ok(_) => Ok(super::see_other(&format!("/dataset/{}", p.name()), "terms_accepted")),
        Err(e) => {
            let values = catalogue::dataset_values(&app, &ctx, &p).await?;
            form_error(&app, &ctx, "dataset.html", values, &form.map, e.into())
        }
    }
}

// Applying --------------------------------------------------------------------------------------

async fn apply_values(app: &AppState, p: &Published, checked: Vec<String>) -> AppResult<Value> {
    let all: Vec<String> = p.resource.meta.fields.iter().map(|f| f.name.clone()).collect();
    let items = item_views(app, &[(p.resource.row.id, all, checked)], true).await?;
    Ok(context! {
        r => p.resource.row, meta => p.resource.meta, name => p.name(), items => items,
        max_months => app.access.rules.max_period_months,
    })
}

/// The application form for one conditional resource.
pub async fn apply_page(State(app): State<AppState>, ctx: Ctx, Path(name): Path<String>) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    application::may_apply(&ctx.caller.actor)?;
    let p = published::by_name(&app.store, &name).await?;
    if p.resource.meta.open_type != OpenType::Conditional {
        // Unconditional data needs no application: its terms are accepted on the dataset page.
        return Ok(Redirect::to(&format!("/dataset/{}#apply", p.name())).into_response());
    }
    let all = p.resource.meta.fields.iter().map(|f| f.name.clone()).collect();
    let form = HashMap::from([("period_from", today().to_string())]);
    let values = apply_values(&app, &p, all).await?;
    Ok(render(&app, &ctx, "apply.html", context! { form => form, ..values })?.into_response())
}

/// Saves the application as a draft, or submits it. A submission is checked in full before
/// anything is stored, so a refused form leaves nothing behind.
pub async fn apply(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    form: ListForm,
) -> AppResult<Response> {
    application::may_apply(&ctx.caller.actor)?;
    let p = published::by_name(&app.store, &name).await?;
    let input = application_input(&form, &[p.resource.row.id]);
    let submit = form.get("do") == "submit";
    let checked = || input.resources.first().map(|r| r.fields.clone()).unwrap_or_default();
    if submit {
        let refs = [resource_ref(&p.resource)];
        if let Err(e) = input.validate(&refs, today(), &app.access.rules) {
            let values = apply_values(&app, &p, checked()).await?;
            return form_error(&app, &ctx, "apply.html", values, &form.map, for_form(e.into(), true));
        }
    }
    let id = match access::save_draft(&app.store, &ctx.caller, None, &input).await {
        Ok(id) => id,
        Err(e) => {
            let values = apply_values(&app, &p, checked()).await?;
            return form_error(&app, &ctx, "apply.html", values, &form.map, for_form(e.into(), true));
        }
    };
    let path = format!("/my/applications/{id}");
    if !submit {
        return Ok(see_other(&path, "application_saved"));
    }
    match access::submit(&app.store, &ctx.caller, id, &app.access, &app.calendar).await {
        Ok(outcome) if outcome.feedback_overdue => Ok(see_other(&path, "application_submitted_feedback_overdue")),
        Ok(_) => Ok(see_other(&path, "application_submitted")),
        // Checked above; should the resource change meanwhile, the saved draft shows why.
        Err(e) => {
            let view = own(&app, &ctx, id).await?;
            let values = my_application_values(&app, &view, Some(vec![checked()])).await?;
            form_error(
                &app,
                &ctx,
                "my_application.html",
                values,
                &form.map,
                for_form(e.into(), true),
            )
        }
    }
}

// My data -----------------------------------------------------------------------------------

async fn my_values(app: &AppState, ctx: &Ctx) -> AppResult<Value> {
    let mut applications = Vec::new();
    // Accepting terms is recorded as an application too; those show as grants only.
    for row in access::mine(&app.store, &ctx.caller).await? {
        if row.kind == "conditional" {
            let title = titles(app, row.id).await?;
            applications.push(context! { a => row, title => title });
        }
    }
    let mut grants = Vec::new();
    for g in access::my_grants(&app.store, &ctx.caller).await? {
        let view = grant_view(g);
        let key = if view.api && view.usable {
            app.store
                .app_key_of(view.g.id)
                .await?
                .map(|(prefix, created_at, last_used_at)| context! { prefix, created_at, last_used_at })
        } else {
            None
        };
        grants.push(context! { key => key, ..Value::from_serialize(&view) });
    }
    let downloads = match ctx.caller.actor.user_id {
        Some(user) => app.store.downloads_of(user, 20).await?,
        None => Vec::new(),
    };
    // 应用成果 and 安全问题报告 of the caller, listed with the rest of their own things.
    let showcases = pubdata_service::showcases::mine(&app.store, &ctx.caller).await?;
    let showcases: Vec<Value> = showcases.iter().map(super::showcase::card).collect();
    let reports = pubdata_service::security_reports::mine(&app.store, &ctx.caller).await?;
    let security_reports: Vec<_> = reports.into_iter().map(|r| r.row).collect();
    Ok(context! { applications, grants, downloads, showcases, security_reports })
}

/// 我的数据 — the consumer's applications, grants and recent downloads.
pub async fn my_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let values = my_values(&app, &ctx).await?;
    Ok(render(&app, &ctx, "my.html", context! { done => done_key(&q), ..values })?.into_response())
}

/// Issues a new AppKey for one of the caller's grants; the key is shown on this response only.
pub async fn rotate_key(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    logged_in(&ctx)?;
    let key = access::rotate_app_key(&app.store, &ctx.caller, id).await?;
    let values = my_values(&app, &ctx).await?;
    let page = context! { new_key => key, key_grant => id, done => "app_key_created", ..values };
    Ok(render(&app, &ctx, "my.html", page)?.into_response())
}

/// The applicant's page of one application. `checked` re-shows the 数据项 a refused form had.
async fn my_application_values(
    app: &AppState,
    view: &ApplicationView,
    checked: Option<Vec<Vec<String>>>,
) -> AppResult<Value> {
    let items: Vec<(i64, Vec<String>, Vec<String>)> = view
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ticked = checked
                .as_ref()
                .and_then(|c| c.get(i).cloned())
                .unwrap_or_else(|| item.fields.clone());
            (item.resource_id, item.fields.clone(), ticked)
        })
        .collect();
    let state = view.state;
    let withdrawable = matches!(
        state,
        ApplicationState::Draft
            | ApplicationState::PreReview
            | ApplicationState::NeedsInfo
            | ApplicationState::ProviderReview
    );
    Ok(context! {
        a => view.row, state => state.as_str(), details => view.form, form => saved_form(&view.form),
        items => item_views(app, &items, true).await?,
        editable => application::can_edit(state, view.caller), answering => state == ApplicationState::NeedsInfo,
        withdrawable => withdrawable && view.caller.applicant,
        events => event_views(&view.events, &view.row, false),
        grants => view.grants.iter().cloned().map(grant_view).collect::<Vec<_>>(),
        attachments => view.attachments,
        max_months => app.access.rules.max_period_months,
    })
}

pub async fn my_application(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let view = own(&app, &ctx, id).await?;
    let values = my_application_values(&app, &view, None).await?;
    Ok(render(
        &app,
        &ctx,
        "my_application.html",
        context! { done => done_key(&q), ..values },
    )?
    .into_response())
}

/// Saves the edited application, then submits it (a draft) or answers the request for more
/// information (`needs_info`), as the button pressed says.
pub async fn save_application(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: ListForm,
) -> AppResult<Response> {
    logged_in(&ctx)?;
    let view = own(&app, &ctx, id).await?;
    let ids: Vec<i64> = view.items.iter().map(|i| i.resource_id).collect();
    let single = ids.len() == 1;
    let input = application_input(&form, &ids);
    let (store, caller) = (&app.store, &ctx.caller);
    let result: Result<&str, StoreError> = async {
        access::save_draft(store, caller, Some(id), &input).await?;
        match form.get("do").as_str() {
            "submit" => access::submit(store, caller, id, &app.access, &app.calendar)
                .await
                .map(|_| "application_submitted"),
            "answer" => access::answer(store, caller, id, &form.get("reply"), &app.access, &app.calendar)
                .await
                .map(|_| "application_answered"),
            _ => Ok("application_saved"),
        }
    }
    .await;
    match result {
        Ok(done) => Ok(see_other(&format!("/my/applications/{id}"), done)),
        Err(e) => {
            let view = own(&app, &ctx, id).await?;
            let checked = input.resources.iter().map(|r| r.fields.clone()).collect();
            let values = my_application_values(&app, &view, Some(checked)).await?;
            form_error(
                &app,
                &ctx,
                "my_application.html",
                values,
                &form.map,
                for_form(e.into(), single),
            )
        }
    }
}

pub async fn withdraw(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    logged_in(&ctx)?;
    access::act(
        &app.store,
        &ctx.caller,
        id,
        Action::Withdraw,
        &app.access,
        &app.calendar,
    )
    .await?;
    Ok(see_other(&format!("/my/applications/{id}"), "application_withdrawn"))
}

// The staff's queue and decisions ---------------------------------------------------------------

/// 数据初审, 数据审核 and 告知 waiting on the caller, oldest first, overdue ones marked.
pub async fn queue(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = staff_gate(&ctx)? {
        return Ok(r);
    }
    let mut entries = Vec::new();
    for e in access::queue(&app.store, &ctx.caller, &app.calendar).await? {
        let title = titles(&app, e.row.id).await?;
        entries.push(context! { title => title, ..Value::from_serialize(&e) });
    }
    let page = context! { entries => entries, done => done_key(&q) };
    Ok(render(&app, &ctx, "applications.html", page)?.into_response())
}

/// The approval form's starting point: what was asked, or (re-shown) what was posted.
struct ScopeChoice {
    checked: Vec<Vec<String>>,
    methods: Vec<String>,
    valid_from: String,
    valid_to: String,
}

/// The scope as requested (`NewScope::as_requested`), or read from the saved form when the
/// application no longer validates (a resource changed during the review).
async fn requested_scope(app: &AppState, view: &ApplicationView) -> AppResult<ScopeChoice> {
    let mut found = Vec::new();
    for item in &view.items {
        if let Some(r) = resource(app, item.resource_id).await? {
            found.push(r);
        }
    }
    let refs: Vec<ResourceRef> = found.iter().map(resource_ref).collect();
    let today = today();
    Ok(match view.form.validate(&refs, today, &app.access.rules) {
        Ok(requested) => {
            let scope = NewScope::as_requested(&requested, today);
            ScopeChoice {
                checked: scope.resources.into_iter().map(|r| r.fields).collect(),
                methods: scope.methods,
                valid_from: scope.valid_from,
                valid_to: scope.valid_to,
            }
        }
        Err(_) => ScopeChoice {
            checked: view.items.iter().map(|i| i.fields.clone()).collect(),
            methods: vec!["download".into(), "api".into()],
            valid_from: view.form.period_from.clone(),
            valid_to: view.form.period_to.clone(),
        },
    })
}

/// The staff's page of one application, with the decisions the viewer may take now, and the
/// approval form's prefilled values. `posted` re-shows a refused approval's choices.
async fn staff_values(
    app: &AppState,
    view: &ApplicationView,
    posted: Option<&ListForm>,
) -> AppResult<(Value, HashMap<String, String>)> {
    let c = view.caller;
    let admin = (c.admin_reviewer || c.admin_manager) && !c.applicant;
    let provider = (c.provider_reviewer || c.provider_manager) && !c.applicant;
    let state = view.state;
    let deciding = provider && state == ApplicationState::ProviderReview;
    let mut scope = if deciding {
        requested_scope(app, view).await?
    } else {
        ScopeChoice {
            checked: Vec::new(),
            methods: Vec::new(),
            valid_from: String::new(),
            valid_to: String::new(),
        }
    };
    if let Some(form) = posted {
        let single = view.items.len() == 1;
        scope.checked = (0..view.items.len())
            .map(|i| form.list(&input_name(i, single, "fields")))
            .collect();
        scope.methods = form.list("methods");
    }
    let items: Vec<(i64, Vec<String>, Vec<String>)> = view
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ticked = scope.checked.get(i).cloned().unwrap_or_default();
            (item.resource_id, item.fields.clone(), ticked)
        })
        .collect();
    let applicant_org = match view.row.applicant_org_id {
        Some(org) => app.store.org(org).await?.map(|o| o.name),
        None => None,
    };
    let form = HashMap::from([
        ("valid_from".to_string(), scope.valid_from),
        ("valid_to".to_string(), scope.valid_to),
    ]);
    let values = context! {
        a => view.row, state => state.as_str(), details => view.form, applicant_org => applicant_org,
        items => item_views(app, &items, false).await?,
        events => event_views(&view.events, &view.row, true),
        grants => view.grants.iter().cloned().map(grant_view).collect::<Vec<_>>(),
        attachments => view.attachments,
        pre_review => admin && state == ApplicationState::PreReview,
        provider_review => deciding,
        relay => admin && state == ApplicationState::ProviderRejected,
        may_revoke => admin || provider,
        scope_methods => scope.methods, form => form,
        filter_ops => pubdata_core::datastore_query::Op::ALL.iter().map(|op| op.as_str()).collect::<Vec<_>>(),
    };
    Ok((values, form))
}

pub async fn staff_page(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    if let Some(r) = login_redirect(&ctx) {
        return Ok(r);
    }
    let view = access::get(&app.store, &ctx.caller, id).await?;
    if !reviews_applications(&ctx.caller.actor) {
        // The applicant follows their application on "my data".
        return Ok(Redirect::to(&format!("/my/applications/{id}")).into_response());
    }
    let (values, _) = staff_values(&app, &view, None).await?;
    Ok(render(&app, &ctx, "application.html", values)?.into_response())
}

/// Revokes one of the application's grants.
async fn revoke(app: &AppState, ctx: &Ctx, view: &ApplicationView, form: &ListForm) -> Result<(), StoreError> {
    let grant = form
        .get("grant_id")
        .parse::<i64>()
        .ok()
        .filter(|g| view.grants.iter().any(|x| x.id == *g))
        .ok_or(DomainError::NotFound { what: "grant" })?;
    access::revoke_grant(&app.store, &ctx.caller, grant, &form.get("reason")).await
}

/// Carries out the decision of the button pressed: forward, reject or ask for information
/// (pre-review), approve with a scope or refuse (provider review), relay a refusal, or revoke a
/// grant.
pub async fn decide(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: ListForm) -> AppResult<Response> {
    logged_in(&ctx)?;
    let view = access::get(&app.store, &ctx.caller, id).await?;
    let (store, caller, settings, calendar) = (&app.store, &ctx.caller, &*app.access, &*app.calendar);
    let act = |action: Action| access::act(store, caller, id, action, settings, calendar);
    let decision = form.get("decision");
    let result: Result<&str, StoreError> = match decision.as_str() {
        "forward" => act(Action::Forward { note: form.get("note") })
            .await
            .map(|_| "application_forwarded"),
        "reject" => act(Action::Reject {
            reason: form.get("reason"),
        })
        .await
        .map(|_| "application_rejected"),
        "request_info" => act(Action::RequestInfo {
            missing: form.get("missing"),
        })
        .await
        .map(|_| "application_info_requested"),
        "provider_reject" => act(Action::ProviderReject {
            reason: form.get("reason"),
        })
        .await
        .map(|_| "application_refused"),
        "relay" => act(Action::Relay {
            wording: form.get("wording"),
        })
        .await
        .map(|_| "application_relayed"),
        "approve" => access::approve(store, caller, id, &scope_input(&form, &view.items), settings, calendar)
            .await
            .map(|_| "application_approved"),
        "revoke" => revoke(&app, &ctx, &view, &form).await.map(|_| "grant_revoked"),
        _ => Err(DomainError::field("decision", "application_decision").into()),
    };
    match result {
        Ok("grant_revoked") => Ok(see_other(&format!("/applications/{id}"), "grant_revoked")),
        Ok(done) => Ok(see_other("/applications", done)),
        Err(e) => {
            let view = access::get(&app.store, &ctx.caller, id).await?;
            let posted = (decision == "approve").then_some(&form);
            let (values, mut shown) = staff_values(&app, &view, posted).await?;
            // The other forms keep their prefilled values; what was typed wins.
            shown.extend(form.map.clone());
            let single = view.items.len() == 1;
            form_error(
                &app,
                &ctx,
                "application.html",
                values,
                &shown,
                for_form(e.into(), single),
            )
        }
    }
}

/// Attaches a file (申请材料) to the applicant's editable application: a PDF or an image, judged
/// by its content.
pub async fn attach(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let mut multipart = multipart.map_err(|r| AppError::BadRequest(r.body_text()))?;
    let bad = |e: axum::extract::multipart::MultipartError| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => AppError::Domain(pubdata_core::DomainError::Validation(vec![
            pubdata_core::FieldError::new("attachment", "attachment_too_large")
                .with("max_mb", access::MAX_ATTACHMENT_BYTES / 1024 / 1024),
        ])),
        _ => AppError::Domain(pubdata_core::DomainError::field("attachment", "upload_interrupted")),
    };
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or_default().to_string();
            file = Some((name, field.bytes().await.map_err(bad)?));
        }
    }
    let (name, bytes) = file.unwrap_or_default();
    access::add_attachment(&app.store, &app.files, &ctx.caller, id, &name, &bytes).await?;
    Ok(see_other(&format!("/my/applications/{id}"), "attachment_added"))
}
