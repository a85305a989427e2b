//! The provider workspace (数据提供部门): a department's open plans with their progress and
//! items, and its resources from the first draft through data upload to submission for review.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::extract::multipart::Field;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use pubdata_core::metadata::{
    NewField, NewResourceMeta, OpenType, UpdateFrequency, DEFAULT_LICENCE, INDUSTRIES, STANDARD_DOMAINS,
};
use pubdata_core::plan::{ItemAction, NewPlan, NewPlanItem};
use pubdata_core::policy::{can, require, Action, Target};
use pubdata_core::resource::{self, ResourceState, RevisionState};
use pubdata_core::user::Role;
use pubdata_core::{DomainError, FieldError};
use pubdata_ingest::{DatePart, MaskMethod, MaskRule};
use pubdata_service::ingest::{self, NewApi, UploadInfo, UploadTicket};
use pubdata_service::plans;
use pubdata_service::resources::{self, Resource};
use pubdata_store::StoredFile;
use tower::{Layer, ServiceExt};

use super::catalogue::dist_views;
use super::review::history;
use super::{done_key, form_error, human_size, login_redirect, render, see_other, FormMap};
use crate::ctx::Ctx;
use crate::error::{field_problem, AppError, AppResult};
use crate::i18n::t;
use crate::AppState;

/// Empty 数据项 rows offered below the filled ones, and how many more `add_rows` adds.
const SPARE_ROWS: usize = 3;
const MORE_ROWS: usize = 5;
/// Rows the editor accepts from one form (the service's limit is 500 fields).
const MAX_FORM_ROWS: usize = 600;
/// Room in an upload's body for the form's other fields and the multipart framing.
const UPLOAD_FORM_OVERHEAD: usize = 64 * 1024;
/// The longest text field accepted alongside an upload.
const MAX_TEXT_FIELD: usize = 8 * 1024;

// Access -------------------------------------------------------------------------------------

/// Anonymous visitors log in first; others need the workspace.
fn gate(ctx: &Ctx) -> AppResult<Option<Response>> {
    if let Some(r) = login_redirect(ctx) {
        return Ok(Some(r));
    }
    require(&ctx.caller.actor, Action::UseProviderWorkspace, Target::Platform)?;
    Ok(None)
}

/// Resource pages are also where the administration institution's notices link to.
fn resource_gate(ctx: &Ctx) -> AppResult<Option<Response>> {
    if let Some(r) = login_redirect(ctx) {
        return Ok(Some(r));
    }
    let actor = &ctx.caller.actor;
    if !(can(actor, Action::UseProviderWorkspace, Target::Platform)
        || can(actor, Action::ReviewResources, Target::Platform))
    {
        return Err(DomainError::Forbidden.into());
    }
    Ok(None)
}

/// The provider departments the caller works for, `(id, name)`.
pub(super) fn departments(ctx: &Ctx) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = Vec::new();
    let provider_roles = [Role::ProviderManager, Role::ProviderEditor, Role::ProviderReviewer];
    for m in ctx.user.iter().flat_map(|u| u.memberships.iter()) {
        if let (Some(id), true) = (m.org_id, provider_roles.contains(&m.role)) {
            if !out.iter().any(|o| o.0 == id) {
                out.push((id, m.org_name.clone().unwrap_or_default()));
            }
        }
    }
    out
}

/// The department a page is about: `?org=ID` among the caller's, or the first.
pub(super) fn department(ctx: &Ctx, q: &HashMap<String, String>) -> AppResult<(i64, String)> {
    let depts = departments(ctx);
    match q.get("org").filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<i64>()
            .ok()
            .and_then(|id| depts.into_iter().find(|d| d.0 == id))
            .ok_or_else(|| DomainError::NotFound { what: "organisation" }.into()),
        None => depts.into_iter().next().ok_or_else(|| DomainError::Forbidden.into()),
    }
}

/// Editors and managers of the department plan and prepare; its reviewers only look.
fn is_planner(ctx: &Ctx, org_id: i64) -> bool {
    let c = resource::Caller::of(&ctx.caller.actor, org_id);
    c.owner_editor || c.owner_manager
}

fn org_id_of(form: &FormMap, name: &str) -> AppResult<i64> {
    form.get(name)
        .parse()
        .map_err(|_| DomainError::NotFound { what: "organisation" }.into())
}

// The workspace ---------------------------------------------------------------------------------

pub async fn workspace(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let (org_id, org_name) = department(&ctx, &q)?;
    let (plans, total) = plans::provider_progress(&app.store, &ctx.caller, org_id).await?;
    let percent = |p: &pubdata_core::plan::Progress| p.completion().map(|c| (c * 100.0).round() as i64);
    let plans: Vec<Value> = plans
        .iter()
        .map(|(plan, progress)| context! { plan => plan, progress => progress, percent => percent(progress) })
        .collect();
    let rows: Vec<_> = resources::list_for_provider(&app.store, &ctx.caller, org_id)
        .await?
        .into_iter()
        .filter(|r| r.status.state != ResourceState::Deleted)
        .map(|r| r.row)
        .collect();
    let quality = pubdata_service::quality::of_provider(&app.store, org_id, pubdata_service::quality::today()).await?;
    let overdue = pubdata_service::quality::overdue(&app.store, &ctx.caller, Some(org_id)).await?;
    let depts: Vec<Value> = departments(&ctx)
        .into_iter()
        .map(|(id, name)| context! { id => id, name => name })
        .collect();
    let page = context! {
        org => context! { id => org_id, name => org_name },
        departments => depts,
        plans => plans,
        total => total,
        total_percent => percent(&total),
        resources => rows,
        quality => crate::api::quality::provider_dto(ctx.lang, &quality),
        overdue => overdue,
        planner => is_planner(&ctx, org_id),
        done => done_key(&q),
    };
    Ok(render(&app, &ctx, "workspace.html", page)?.into_response())
}

// Plans ------------------------------------------------------------------------------------------

fn plan_form_values(org: (i64, String)) -> Value {
    context! { org => context! { id => org.0, name => org.1 } }
}

pub async fn new_plan(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let org = department(&ctx, &q)?;
    if !is_planner(&ctx, org.0) {
        return Err(DomainError::Forbidden.into());
    }
    Ok(render(&app, &ctx, "plan_new.html", plan_form_values(org))?.into_response())
}

pub async fn create_plan(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let org_id = org_id_of(&form, "org")?;
    let new = NewPlan {
        title: form.get("title"),
        period_start: form.get("period_start"),
        period_end: form.get("period_end"),
        source: form.get("source"),
    };
    match plans::create_plan(&app.store, &ctx.caller, org_id, &new).await {
        Ok(id) => Ok(see_other(&format!("/provider/plans/{id}"), "plan_created")),
        Err(e) => {
            let q = HashMap::from([("org".to_string(), org_id.to_string())]);
            let values = plan_form_values(department(&ctx, &q)?);
            form_error(&app, &ctx, "plan_new.html", values, &form.0, e.into())
        }
    }
}

async fn plan_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let view = plans::view(&app.store, &ctx.caller, id).await?;
    let org_id = view.plan.provider_org_id;
    let linked: HashMap<i64, pubdata_store::ResourceRow> =
        resources::list_for_provider(&app.store, &ctx.caller, org_id)
            .await?
            .into_iter()
            .map(|r| (r.row.id, r.row))
            .collect();
    let items: Vec<Value> = view
        .items
        .iter()
        .map(|(item, overdue)| {
            let open = matches!(item.status.as_str(), "planned" | "preparing");
            let resource = item.resource_id.and_then(|id| linked.get(&id));
            context! { item => item, overdue => overdue, open => open, resource => resource }
        })
        .collect();
    let percent = view.progress.completion().map(|c| (c * 100.0).round() as i64);
    let domains: Vec<&str> = STANDARD_DOMAINS.iter().map(|d| d.0).collect();
    Ok(context! {
        plan => view.plan,
        items => items,
        progress => view.progress,
        percent => percent,
        planner => is_planner(ctx, org_id),
        domains => domains,
        open_types => [OpenType::Unconditional.as_str(), OpenType::Conditional.as_str()],
    })
}

pub async fn plan(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let values = plan_values(&app, &ctx, id).await?;
    Ok(render(&app, &ctx, "plan.html", context! { done => done_key(&q), ..values })?.into_response())
}

pub async fn add_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    let new = NewPlanItem {
        name: form.get("name"),
        domain: form.get("domain"),
        open_type: form.get("open_type"),
        planned_date: form.get("planned_date"),
        notes: form.get("notes"),
        demand_id: None,
    };
    match plans::add_item(&app.store, &ctx.caller, id, &new).await {
        Ok(_) => Ok(see_other(&format!("/provider/plans/{id}"), "item_added")),
        Err(e) => {
            let values = plan_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "plan.html", values, &form.0, e.into())
        }
    }
}

pub async fn cancel_item(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, item)): Path<(i64, i64)>,
    form: FormMap,
) -> AppResult<Response> {
    let action = ItemAction::Cancel {
        reason: form.get("reason"),
    };
    match plans::item_action(&app.store, &ctx.caller, item, &action).await {
        Ok(()) => Ok(see_other(&format!("/provider/plans/{id}"), "item_cancelled")),
        Err(e) => {
            let values = plan_values(&app, &ctx, id).await?;
            let values = context! { cancel_item => item, ..values };
            form_error(&app, &ctx, "plan.html", values, &form.0, e.into())
        }
    }
}

/// The import's problems, one line each, with the spreadsheet row they are on.
fn import_problems(ctx: &Ctx, errors: Vec<FieldError>) -> Vec<String> {
    errors
        .into_iter()
        .map(|mut f| {
            // The service names a field in a row as `row 3: open_type`.
            let row = f
                .field
                .split_once(": ")
                .map(|(r, field)| (r.to_string(), field.to_string()));
            match row {
                Some((r, field)) => {
                    f.field = field;
                    let message = field_problem(ctx.lang, &f).message;
                    let row = r.trim_start_matches("row ").to_string();
                    t(ctx.lang, "plan.import_row", &[("row", row), ("message", message)])
                }
                None => field_problem(ctx.lang, &f).message,
            }
        })
        .collect()
}

async fn read_import(multipart: &mut Multipart) -> AppResult<(String, Vec<u8>)> {
    let bad = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::Domain(DomainError::field("file", "import_too_large")),
        _ => AppError::Domain(DomainError::field("file", "upload_interrupted")),
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(bad)?;
            return Ok((name, bytes.to_vec()));
        }
    }
    Ok((String::new(), Vec::new()))
}

/// Imports the 开放数据清单 from a CSV, XLSX or JSON file: all rows or none, every bad row named.
pub async fn import_items(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Response> {
    let mut multipart = multipart.map_err(|r| AppError::BadRequest(r.body_text()))?;
    let result = match read_import(&mut multipart).await {
        Ok((name, bytes)) => match plans::read_sheet(&name, &bytes) {
            Ok((header, rows)) => plans::import_items(&app.store, &ctx.caller, id, &header, &rows)
                .await
                .map_err(AppError::from),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(see_other(&format!("/provider/plans/{id}"), "items_imported")),
        Err(AppError::Domain(DomainError::Validation(errors)))
            if errors.iter().any(|e| e.field.starts_with("row ")) =>
        {
            let values = plan_values(&app, &ctx, id).await?;
            let page = context! {
                import_errors => import_problems(&ctx, errors),
                error_summary => t(ctx.lang, "plan.import_failed", &[]),
                ..values
            };
            let html = render(&app, &ctx, "plan.html", page)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => {
            let values = plan_values(&app, &ctx, id).await?;
            form_error(&app, &ctx, "plan.html", values, &HashMap::new(), e)
        }
    }
}

// The resource form -----------------------------------------------------------------------------

/// Splits a list typed into one box, as the metadata's own reader does.
fn split_list(s: &str) -> Vec<String> {
    s.split([',', '，', '、', ';', '；', '\n', '\r'])
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn checked(form: &FormMap, name: &str) -> bool {
    !matches!(form.get(name).trim(), "" | "off" | "false" | "0")
}

/// The 数据项 rows of the form, in order, as typed (empty rows included).
fn form_rows(form: &FormMap) -> Vec<NewField> {
    let count = form
        .0
        .keys()
        .filter_map(|k| k.strip_prefix("fields[")?.split_once(']')?.0.parse::<usize>().ok())
        .filter(|i| *i < MAX_FORM_ROWS)
        .map(|i| i + 1)
        .max()
        .unwrap_or(0);
    (0..count)
        .map(|i| {
            let get = |part: &str| form.get(&format!("fields[{i}].{part}"));
            let flag = |part: &str| checked(form, &format!("fields[{i}].{part}"));
            NewField {
                name: get("name"),
                title: get("title"),
                field_type: get("type"),
                length: get("length"),
                precision: get("precision"),
                description: get("description"),
                required: flag("required"),
                key: flag("key"),
                sensitive: flag("sensitive"),
                classification: get("classification"),
            }
        })
        .collect()
}

/// A row nobody typed into (its selects keep their defaults).
fn is_blank(f: &NewField) -> bool {
    [&f.name, &f.title, &f.length, &f.precision, &f.description]
        .iter()
        .all(|s| s.trim().is_empty())
        && !(f.required || f.key || f.sensitive)
}

/// The metadata a resource form gives, and its rows as typed.
fn meta_from_form(form: &FormMap) -> (NewResourceMeta, Vec<NewField>) {
    let rows = form_rows(form);
    let meta = NewResourceMeta {
        title: form.get("title"),
        title_en: form.get("title_en"),
        summary: form.get("summary"),
        domain: form.get("domain"),
        industry: form.get("industry"),
        open_type: form.get("open_type"),
        open_conditions: form.get("open_conditions"),
        update_frequency: form.get("update_frequency"),
        tags: split_list(&form.get("tags")),
        spatial: form.get("spatial"),
        temporal_from: form.get("temporal_from"),
        temporal_to: form.get("temporal_to"),
        contact_phone: form.get("contact_phone"),
        contact_email: form.get("contact_email"),
        licence: form.get("licence"),
        related: split_list(&form.get("related")),
        fields: rows.iter().filter(|f| !is_blank(f)).cloned().collect(),
    };
    (meta, rows)
}

fn with_spare_rows(mut rows: Vec<NewField>, spare: usize) -> Vec<NewField> {
    rows.extend(std::iter::repeat_with(NewField::default).take(spare));
    rows
}

/// Everything the resource form shows: the values, the rows and the vocabularies.
fn form_values(meta: &NewResourceMeta, rows: Vec<NewField>, action: &str, hidden: Value) -> Value {
    let field_types: Vec<&str> = pubdata_core::field::FieldType::ALL.iter().map(|t| t.as_str()).collect();
    context! {
        m => meta,
        tags => meta.tags.join(", "),
        related => meta.related.join(", "),
        rows => rows,
        action => action,
        hidden => hidden,
        domains => STANDARD_DOMAINS.iter().map(|d| d.0).collect::<Vec<_>>(),
        industries => INDUSTRIES.iter().map(|i| i.0.to_string()).collect::<Vec<_>>(),
        open_types => OpenType::ALL.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        frequencies => UpdateFrequency::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        field_types => field_types,
        classifications => ["general", "important", "core"],
    }
}

pub async fn new_resource(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let (org_id, org_name) = department(&ctx, &q)?;
    if !is_planner(&ctx, org_id) {
        return Err(DomainError::Forbidden.into());
    }
    let mut meta = NewResourceMeta {
        licence: DEFAULT_LICENCE.into(),
        ..Default::default()
    };
    let item_id = q.get("plan_item").and_then(|s| s.parse::<i64>().ok());
    if let Some(item_id) = item_id {
        // The plan item names the resource and fixes its domain and open type.
        let items = app.store.provider_plan_items(org_id).await?;
        let item = items
            .into_iter()
            .find(|i| i.id == item_id)
            .ok_or(DomainError::NotFound { what: "plan_item" })?;
        meta.title = item.name;
        meta.domain = item.domain;
        meta.open_type = item.open_type;
    }
    let hidden = context! { org => org_id, org_name => org_name, plan_item => item_id };
    let values = form_values(
        &meta,
        with_spare_rows(Vec::new(), SPARE_ROWS),
        "/provider/resources",
        hidden,
    );
    Ok(render(&app, &ctx, "resource_form.html", values)?.into_response())
}

pub async fn create_resource(State(app): State<AppState>, ctx: Ctx, form: FormMap) -> AppResult<Response> {
    let org_id = org_id_of(&form, "org")?;
    let plan_item = form.get("plan_item").parse::<i64>().ok();
    let org_name = departments(&ctx)
        .into_iter()
        .find(|d| d.0 == org_id)
        .map(|d| d.1)
        .unwrap_or_default();
    let hidden = context! { org => org_id, org_name => org_name, plan_item => plan_item };
    let (meta, rows) = meta_from_form(&form);
    if !form.get("add_rows").is_empty() {
        let values = form_values(&meta, with_spare_rows(rows, MORE_ROWS), "/provider/resources", hidden);
        return Ok(render(&app, &ctx, "resource_form.html", values)?.into_response());
    }
    match resources::create_with(&app.store, &ctx.caller, org_id, &meta, plan_item, &app.config.security).await {
        Ok(id) => Ok(see_other(&format!("/provider/resources/{id}"), "resource_created")),
        Err(e) => {
            // Errors name rows by their place among the filled ones, so those are shown first.
            let rows = with_spare_rows(meta.fields.clone(), SPARE_ROWS);
            let values = form_values(&meta, rows, "/provider/resources", hidden);
            form_error(&app, &ctx, "resource_form.html", values, &form.0, e.into())
        }
    }
}

fn edit_hidden(r: &Resource) -> Value {
    context! { resource => r.row, revision => r.status.state == ResourceState::Published }
}

pub async fn edit_resource(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    if let Some(r) = gate(&ctx)? {
        return Ok(r);
    }
    let r = resources::get(&app.store, &ctx.caller, id).await?;
    let c = resource::Caller::of(&ctx.caller.actor, r.row.provider_org_id);
    if !resource::can_edit(r.status, c) {
        return Err(if c.owner_editor || c.owner_manager {
            DomainError::InvalidTransition {
                from: r.status.key(),
                action: "edit".into(),
            }
        } else {
            DomainError::Forbidden
        }
        .into());
    }
    let meta = NewResourceMeta::from(r.revision.as_ref().unwrap_or(&r.meta));
    let rows = with_spare_rows(meta.fields.clone(), SPARE_ROWS);
    let action = format!("/provider/resources/{id}/edit");
    let values = form_values(&meta, rows, &action, edit_hidden(&r));
    Ok(render(&app, &ctx, "resource_form.html", values)?.into_response())
}

pub async fn update_resource(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    let (meta, rows) = meta_from_form(&form);
    let action = format!("/provider/resources/{id}/edit");
    if !form.get("add_rows").is_empty() {
        let r = resources::get(&app.store, &ctx.caller, id).await?;
        let values = form_values(&meta, with_spare_rows(rows, MORE_ROWS), &action, edit_hidden(&r));
        return Ok(render(&app, &ctx, "resource_form.html", values)?.into_response());
    }
    match resources::update_with(&app.store, &ctx.caller, id, &meta, &app.config.security).await {
        Ok(()) => Ok(see_other(&format!("/provider/resources/{id}"), "resource_saved")),
        Err(e) => {
            let r = resources::get(&app.store, &ctx.caller, id).await?;
            let rows = with_spare_rows(meta.fields.clone(), SPARE_ROWS);
            let values = form_values(&meta, rows, &action, edit_hidden(&r));
            form_error(&app, &ctx, "resource_form.html", values, &form.0, e.into())
        }
    }
}

// The resource page -----------------------------------------------------------------------------

async fn resource_values(app: &AppState, ctx: &Ctx, id: i64) -> AppResult<Value> {
    let r = resources::get(&app.store, &ctx.caller, id).await?;
    let c = resource::Caller::of(&ctx.caller.actor, r.row.provider_org_id);
    let owner = c.owner_editor || c.owner_manager;
    let (state, revision) = (r.status.state, r.status.revision);
    let dists = dist_views(app, ctx.lang, id).await?;
    let reviews = history(app, id).await?;
    let ingesting = dists.iter().any(|d| d.state() == "ingesting");
    // What the reviewer said last, while the provider is asked to act on it.
    let returned = state == ResourceState::Returned || revision == RevisionState::Returned;
    let return_reasons = if returned {
        reviews.first().map(|rv| rv.reasons().to_vec()).unwrap_or_default()
    } else {
        Vec::new()
    };
    let submittable = match state {
        ResourceState::Draft | ResourceState::Returned | ResourceState::Withdrawn => true,
        ResourceState::Published => r.revision.is_some() && revision != RevisionState::PendingReview,
        ResourceState::PendingReview | ResourceState::Deleted => false,
    };
    let adds_data = owner && !r.status.awaits_review() && state != ResourceState::Deleted;
    let raw = app.store.distributions(id).await?;
    let privacy_forms = if adds_data { privacy_forms(&raw) } else { Vec::new() };
    let ingest_progress = ingest_progress(app, &raw).await?;
    Ok(context! {
        r => r.row,
        meta => r.revision.as_ref().unwrap_or(&r.meta),
        status => r.status,
        revision_copy => r.revision.is_some(),
        dists => dists,
        reviews => reviews,
        ingesting => ingesting,
        return_reasons => return_reasons,
        can_edit => resource::can_edit(r.status, c),
        can_submit => owner && submittable,
        can_withdraw => state == ResourceState::Published && (c.owner_manager || c.admin_manager || c.admin_reviewer),
        can_delete => owner && state == ResourceState::Draft,
        can_add_data => adds_data,
        max_upload => app.config.max_upload_bytes,
        privacy_forms => privacy_forms,
        ingest_progress => ingest_progress,
    })
}

/// Rows read and the share of the file done, for each running ingest: from this process's
/// live board, or from the job's last heartbeat when another node runs it.
async fn ingest_progress(app: &AppState, dists: &[pubdata_store::DistributionRow]) -> AppResult<Vec<Value>> {
    let mut out = Vec::new();
    for d in dists.iter().filter(|d| d.state == "ingesting") {
        let progress = match pubdata_service::ingest_job::live_progress(d.id) {
            Some(p) => Some(p),
            None => match d.job_id {
                Some(job) => app.store.job(job).await?.and_then(|j| j.progress),
                None => None,
            },
        };
        let rows = progress.as_ref().and_then(|p| p["rows"].as_u64()).unwrap_or(0);
        let bytes = progress.as_ref().and_then(|p| p["bytes"].as_u64()).unwrap_or(0);
        let percent = d
            .size_bytes
            .filter(|s| *s > 0)
            .map(|s| (100 * bytes / s as u64).min(100));
        out.push(context! { version => d.version, rows => rows, percent => percent });
    }
    Ok(out)
}

/// The masking methods offered per column, as `(key, rule)`; `none` leaves the column as is.
const MASK_CHOICES: [&str; 6] = ["none", "redact", "keep", "hash", "month", "year"];

fn mask_rule(column: &str, choice: &str) -> Option<MaskRule> {
    let method = match choice {
        "redact" => MaskMethod::Redact,
        "keep" => MaskMethod::Keep { first: 3, last: 4 },
        "hash" => MaskMethod::Hash,
        "month" => MaskMethod::GeneraliseDate { to: DatePart::Month },
        "year" => MaskMethod::GeneraliseDate { to: DatePart::Year },
        _ => return None,
    };
    Some(MaskRule {
        column: column.to_string(),
        method,
    })
}

fn mask_choice(rule: &MaskRule) -> &'static str {
    match rule.method {
        MaskMethod::Redact => "redact",
        MaskMethod::Keep { .. } => "keep",
        MaskMethod::Hash => "hash",
        MaskMethod::GeneraliseDate { to: DatePart::Month } => "month",
        MaskMethod::GeneraliseDate { to: DatePart::Year } => "year",
    }
}

/// For each ingested file with personal data: its columns with the current choice, and the
/// justification, to mask or justify them (脱敏) before submission.
fn privacy_forms(dists: &[pubdata_store::DistributionRow]) -> Vec<Value> {
    dists
        .iter()
        .filter(|d| d.kind == "file" && d.state == "ready")
        .filter_map(|d| {
            let columns = pubdata_service::ingest::privacy_columns(d);
            if columns.is_empty() {
                return None;
            }
            let rules: Vec<MaskRule> = d
                .masking
                .clone()
                .and_then(|m| serde_json::from_value(m).ok())
                .unwrap_or_default();
            let cols: Vec<Value> = columns
                .iter()
                .map(|c| {
                    let current = rules.iter().find(|r| &r.column == c).map(mask_choice).unwrap_or("none");
                    context! { name => c, current => current }
                })
                .collect();
            Some(context! {
                id => d.id, version => d.version, title => d.title, columns => cols,
                justification => d.privacy_justification.clone().unwrap_or_default(), choices => MASK_CHOICES,
            })
        })
        .collect()
}

/// Saves a file's masking choices and justification; changed rules ingest the file again.
pub async fn privacy(
    State(app): State<AppState>,
    ctx: Ctx,
    Path((id, dist)): Path<(i64, i64)>,
    form: FormMap,
) -> AppResult<Response> {
    let d = app.store.distribution(dist).await?.filter(|d| d.resource_id == id);
    let d = d.ok_or(DomainError::NotFound { what: "distribution" })?;
    let masks: Vec<MaskRule> = pubdata_service::ingest::privacy_columns(&d)
        .iter()
        .filter_map(|c| mask_rule(c, &form.get(&format!("mask.{c}"))))
        .collect();
    match pubdata_service::ingest::set_privacy(&app.store, &ctx.caller, dist, &masks, &form.get("justification")).await
    {
        Ok(()) => Ok(see_other(&format!("/provider/resources/{id}"), "privacy_saved")),
        Err(e) => resource_error(&app, &ctx, id, &form.0, "privacy", e.into()).await,
    }
}

pub async fn resource(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some(r) = resource_gate(&ctx)? {
        return Ok(r);
    }
    let values = resource_values(&app, &ctx, id).await?;
    Ok(render(&app, &ctx, "resource.html", context! { done => done_key(&q), ..values })?.into_response())
}

/// Re-shows the resource page with the problems of one of its forms.
async fn resource_error(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    form: &HashMap<String, String>,
    which: &str,
    e: AppError,
) -> AppResult<Response> {
    let values = resource_values(app, ctx, id).await?;
    form_error(
        app,
        ctx,
        "resource.html",
        context! { failed_form => which, ..values },
        form,
        e,
    )
}

pub async fn submit(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    match resources::submit_with(&app.store, &ctx.caller, id, &app.calendar, &app.config.security).await {
        Ok(()) => Ok(see_other(&format!("/provider/resources/{id}"), "resource_submitted")),
        Err(e) => resource_error(&app, &ctx, id, &HashMap::new(), "submit", e.into()).await,
    }
}

pub async fn withdraw(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
    form: FormMap,
) -> AppResult<Response> {
    match resources::withdraw(&app.store, &ctx.caller, id, &form.get("reason")).await {
        Ok(()) => {
            app.catalogue.refresh(&app.store).await;
            Ok(see_other(&format!("/provider/resources/{id}"), "resource_withdrawn"))
        }
        Err(e) => resource_error(&app, &ctx, id, &form.0, "withdraw", e.into()).await,
    }
}

pub async fn delete(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>) -> AppResult<Response> {
    let r = resources::get(&app.store, &ctx.caller, id).await?;
    resources::delete(&app.store, &ctx.caller, id).await?;
    Ok(see_other(
        &format!("/provider?org={}", r.row.provider_org_id),
        "resource_deleted",
    ))
}

/// Registers an external API. The form's names carry an `api.` prefix so its problems are not
/// confused with the upload form's on the same page.
pub async fn add_api(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, form: FormMap) -> AppResult<Response> {
    let api = NewApi {
        title: form.get("api.title"),
        url: form.get("api.url"),
        method: form.get("api.method"),
        params: form.get("api.params"),
        doc: form.get("api.doc"),
        change_note: form.get("api.change_note"),
    };
    match ingest::add_api(&app.store, &ctx.caller, id, &api).await {
        Ok(_) => Ok(see_other(&format!("/provider/resources/{id}"), "api_added")),
        Err(e) => {
            let e = match AppError::from(e) {
                AppError::Domain(DomainError::Validation(fields)) => AppError::Domain(DomainError::Validation(
                    fields
                        .into_iter()
                        .map(|mut f| {
                            f.field = format!("api.{}", f.field);
                            f
                        })
                        .collect(),
                )),
                other => other,
            };
            resource_error(&app, &ctx, id, &form.0, "api", e).await
        }
    }
}

// Uploads ----------------------------------------------------------------------------------------

fn file_problem(code: &str) -> AppError {
    AppError::Domain(DomainError::field("file", code))
}

fn too_large(limit: u64) -> AppError {
    AppError::Domain(DomainError::Validation(vec![
        FieldError::new("file", "file_too_large").with("limit", human_size(limit))
    ]))
}

fn multipart_problem(e: axum::extract::multipart::MultipartError, limit: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(limit)
    } else {
        file_problem("upload_interrupted")
    }
}

/// The upload's multipart body under the upload limit instead of the router's limit for
/// ordinary forms: the route's own `DefaultBodyLimit`, applied here because the limit comes
/// from the configuration in the state.
async fn upload_body(req: Request, limit: u64) -> AppResult<Multipart> {
    let max = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_add(UPLOAD_FORM_OVERHEAD);
    let extract =
        tower::service_fn(|req: Request| async move { Ok::<_, Infallible>(Multipart::from_request(req, &()).await) });
    match DefaultBodyLimit::max(max).layer(extract).oneshot(req).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(rejection)) => Err(AppError::BadRequest(rejection.body_text())),
        Err(never) => match never {},
    }
}

async fn small_text(mut field: Field<'_>, limit: u64) -> AppResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_problem(e, limit))? {
        if bytes.len() + chunk.len() > MAX_TEXT_FIELD {
            return Err(AppError::BodyTooLarge(MAX_TEXT_FIELD));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Streams the file into storage chunk by chunk; on any failure nothing is left behind.
async fn store_file(app: &AppState, ticket: &UploadTicket, mut field: Field<'_>, limit: u64) -> AppResult<StoredFile> {
    let mut writer = app.files.writer(&ticket.key, limit).await?;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                writer.abort().await;
                return Err(multipart_problem(e, limit));
            }
        };
        match writer.write(&chunk).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                writer.abort().await;
                return Err(too_large(limit));
            }
            Err(e) => {
                writer.abort().await;
                return Err(e.into());
            }
        }
    }
    Ok(writer.finish().await?)
}

/// Reads the upload form: its text fields, and its file into storage.
async fn read_upload(
    app: &AppState,
    ctx: &Ctx,
    id: i64,
    multipart: &mut Multipart,
    info: &mut UploadInfo,
    stored: &mut Option<(UploadTicket, StoredFile)>,
) -> AppResult<()> {
    let limit = app.config.max_upload_bytes;
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_problem(e, limit))? {
        match field.name().unwrap_or_default() {
            "title" => info.title = small_text(field, limit).await?,
            "change_note" => info.change_note = small_text(field, limit).await?,
            "file" if stored.is_none() => {
                let filename = field.file_name().unwrap_or_default().to_string();
                let ticket = ingest::begin_upload(&app.store, &ctx.caller, id, &filename).await?;
                let file = store_file(app, &ticket, field, limit).await?;
                *stored = Some((ticket, file));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn receive_upload(app: &AppState, ctx: &Ctx, id: i64, req: Request) -> AppResult<i64> {
    let mut multipart = upload_body(req, app.config.max_upload_bytes).await?;
    let mut info = UploadInfo::default();
    let mut stored = None;
    let read = read_upload(app, ctx, id, &mut multipart, &mut info, &mut stored).await;
    let (ticket, file) = match (read, stored) {
        (Ok(()), Some(s)) => s,
        (Ok(()), None) => return Err(file_problem("file_required")),
        (Err(e), Some((ticket, _))) => {
            app.files.delete(&ticket.key).await?;
            return Err(e);
        }
        (Err(e), None) => return Err(e),
    };
    match ingest::finish_upload(&app.store, &ctx.caller, &ticket, &file, &info).await {
        Ok(dist) => Ok(dist),
        Err(e) => {
            app.files.delete(&ticket.key).await?;
            Err(e.into())
        }
    }
}

/// Uploads a data file as the resource's next version and queues its ingest.
pub async fn upload(State(app): State<AppState>, ctx: Ctx, Path(id): Path<i64>, req: Request) -> AppResult<Response> {
    match receive_upload(&app, &ctx, id, req).await {
        Ok(_) => Ok(see_other(&format!("/provider/resources/{id}"), "file_uploaded")),
        Err(e) => {
            let over_limit = matches!(&e, AppError::Domain(DomainError::Validation(v))
                if v.iter().any(|f| f.code == "file_too_large"));
            let mut resp = resource_error(&app, &ctx, id, &HashMap::new(), "upload", e).await?;
            if over_limit {
                *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            }
            Ok(resp)
        }
    }
}
