//! The server-rendered web UI: templates, the page context every page shares, and the
//! navigation each role sees. Pages work without JavaScript.

mod account;
mod admin;
mod application;
mod auth;
pub(crate) mod catalogue;
pub mod charts;
mod evaluation;
mod feedback;
mod inbox;
mod interaction;
mod provider;
mod quality_admin;
mod review;
mod security;
mod security_report;
mod showcase;

pub use inbox::notice_title;

use std::collections::{BTreeMap, HashMap};

use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::value::Kwargs;
use minijinja::{context, Environment, State, Value};
use pubdata_core::policy::{can, Action, Target};
use pubdata_core::DomainError;
use serde::Serialize;

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::i18n::{t, Lang};
use crate::AppState;

/// Every template, by name; the translation test reads the same list.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("register.html", include_str!("../../templates/register.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("orgs.html", include_str!("../../templates/orgs.html")),
    ("users.html", include_str!("../../templates/users.html")),
    ("user.html", include_str!("../../templates/user.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("timeliness.html", include_str!("../../templates/timeliness.html")),
    ("acceptance.html", include_str!("../../templates/acceptance.html")),
    (
        "self_evaluations.html",
        include_str!("../../templates/self_evaluations.html"),
    ),
    (
        "self_evaluation.html",
        include_str!("../../templates/self_evaluation.html"),
    ),
    ("downloads.html", include_str!("../../templates/downloads.html")),
    ("download_rows.html", include_str!("../../templates/download_rows.html")),
    (
        "grant_downloads.html",
        include_str!("../../templates/grant_downloads.html"),
    ),
    ("lifecycle.html", include_str!("../../templates/lifecycle.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("api_docs.html", include_str!("../../templates/api_docs.html")),
    ("regions.html", include_str!("../../templates/regions.html")),
    ("inbox.html", include_str!("../../templates/inbox.html")),
    (
        "resource_parts.html",
        include_str!("../../templates/resource_parts.html"),
    ),
    ("workspace.html", include_str!("../../templates/workspace.html")),
    ("plan_new.html", include_str!("../../templates/plan_new.html")),
    ("plan.html", include_str!("../../templates/plan.html")),
    ("resource_form.html", include_str!("../../templates/resource_form.html")),
    ("resource.html", include_str!("../../templates/resource.html")),
    ("review_queue.html", include_str!("../../templates/review_queue.html")),
    ("review.html", include_str!("../../templates/review.html")),
    ("catalogue.html", include_str!("../../templates/catalogue.html")),
    ("providers.html", include_str!("../../templates/providers.html")),
    ("dataset.html", include_str!("../../templates/dataset.html")),
    (
        "application_parts.html",
        include_str!("../../templates/application_parts.html"),
    ),
    ("apply.html", include_str!("../../templates/apply.html")),
    ("my.html", include_str!("../../templates/my.html")),
    (
        "my_application.html",
        include_str!("../../templates/my_application.html"),
    ),
    ("applications.html", include_str!("../../templates/applications.html")),
    ("application.html", include_str!("../../templates/application.html")),
    ("demands.html", include_str!("../../templates/demands.html")),
    ("demand_new.html", include_str!("../../templates/demand_new.html")),
    ("demand.html", include_str!("../../templates/demand.html")),
    ("demand_queue.html", include_str!("../../templates/demand_queue.html")),
    (
        "correction_new.html",
        include_str!("../../templates/correction_new.html"),
    ),
    ("correction.html", include_str!("../../templates/correction.html")),
    (
        "correction_queue.html",
        include_str!("../../templates/correction_queue.html"),
    ),
    ("my_requests.html", include_str!("../../templates/my_requests.html")),
    (
        "statistics_interaction.html",
        include_str!("../../templates/statistics_interaction.html"),
    ),
    ("showcases.html", include_str!("../../templates/showcases.html")),
    ("feedback_list.html", include_str!("../../templates/feedback_list.html")),
    (
        "feedback_grant.html",
        include_str!("../../templates/feedback_grant.html"),
    ),
    ("showcase_new.html", include_str!("../../templates/showcase_new.html")),
    ("showcase.html", include_str!("../../templates/showcase.html")),
    (
        "showcase_queue.html",
        include_str!("../../templates/showcase_queue.html"),
    ),
    (
        "security_report_new.html",
        include_str!("../../templates/security_report_new.html"),
    ),
    (
        "security_report.html",
        include_str!("../../templates/security_report.html"),
    ),
    (
        "security_reports.html",
        include_str!("../../templates/security_reports.html"),
    ),
    (
        "evaluation_admin.html",
        include_str!("../../templates/evaluation_admin.html"),
    ),
    (
        "evaluation_run.html",
        include_str!("../../templates/evaluation_run.html"),
    ),
    (
        "evaluation_tables.html",
        include_str!("../../templates/evaluation_tables.html"),
    ),
    (
        "evaluation_system.html",
        include_str!("../../templates/evaluation_system.html"),
    ),
    (
        "evaluation_report.html",
        include_str!("../../templates/evaluation_report.html"),
    ),
    (
        "statistics_evaluation.html",
        include_str!("../../templates/statistics_evaluation.html"),
    ),
];

const STYLE: &str = include_str!("../../static/style.css");

pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, src) in TEMPLATES {
        env.add_template(name, src).expect("templates are checked by tests");
    }
    env.add_function("t", template_t);
    env.add_filter("when", format_time);
    env.add_filter("bytes", |n: i64| human_size(u64::try_from(n).unwrap_or(0)));
    env
}

/// A size as people read it: `532 B`, `1.5 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// The templates' translation function, called with a key and named values, in the page's language.
fn template_t(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::ZhCn);
    let mut params = Vec::new();
    for name in kwargs.args() {
        let v: Value = kwargs.get(name)?;
        params.push((name, v.to_string()));
    }
    Ok(t(lang, key, &params))
}

/// Milliseconds since the epoch as China Standard Time, the platform's reference time.
pub fn format_time(ms: i64) -> String {
    let cst = time::UtcOffset::from_hms(8, 0, 0).expect("valid offset");
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .map(|t| t.to_offset(cst).format(&fmt).unwrap_or_default())
        .unwrap_or_default()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/style.css", get(style))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/register", get(auth::register_page).post(auth::register))
        .route("/account", get(account::page))
        .route("/account/profile", post(account::profile))
        .route("/account/password", post(account::password))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/{id}/revoke", post(account::revoke_token))
        .route("/admin/orgs", get(admin::orgs).post(admin::create_org))
        .route("/admin/users", get(admin::users).post(admin::create_staff))
        .route("/admin/users/{id}", get(admin::user))
        .route("/admin/users/{id}/disable", post(admin::disable))
        .route("/admin/users/{id}/enable", post(admin::enable))
        .route("/admin/users/{id}/roles", post(admin::grant_role))
        .route("/admin/users/{id}/roles/remove", post(admin::remove_role))
        .route("/admin/audit", get(security::audit))
        .route("/admin/timeliness", get(admin::timeliness))
        .route(
            "/admin/acceptance",
            get(quality_admin::acceptance_page).post(quality_admin::save_acceptance),
        )
        .route("/admin/self-evaluations", get(quality_admin::admin_list))
        .route("/admin/self-evaluations/{id}", get(quality_admin::admin_page))
        .route(
            "/admin/self-evaluations/{id}/decision",
            post(quality_admin::admin_decide),
        )
        .route(
            "/provider/self-evaluations",
            get(quality_admin::provider_list).post(quality_admin::provider_open),
        )
        .route(
            "/provider/self-evaluations/{id}",
            get(quality_admin::provider_page).post(quality_admin::provider_save),
        )
        .route("/admin/lifecycle", get(security::lifecycle))
        .route("/admin/lifecycle/{id}/destroy", post(security::destroy))
        .route("/provider/resources/{id}/downloads", get(security::resource_downloads))
        .route("/grants/{id}/downloads", get(security::grant_downloads))
        .route("/api/v1/docs", get(crate::api::docs_page))
        .route("/regions", get(regions))
        .route("/inbox", get(inbox::page))
        .route("/inbox/{id}/read", post(inbox::read))
        .route("/catalogue", get(catalogue::list))
        .route("/catalogue/{code}", get(catalogue::moved))
        .route("/org", get(catalogue::providers))
        .route("/org/{key}", get(catalogue::provider))
        .route("/domain/{key}", get(catalogue::domain))
        .route("/provider", get(provider::workspace))
        .route("/provider/plans", post(provider::create_plan))
        .route("/provider/plans/new", get(provider::new_plan))
        .route("/provider/plans/{id}", get(provider::plan))
        .route("/provider/plans/{id}/items", post(provider::add_item))
        .route("/provider/plans/{id}/import", post(provider::import_items))
        .route("/provider/plans/{id}/items/{item}/cancel", post(provider::cancel_item))
        .route("/provider/resources", post(provider::create_resource))
        .route("/provider/resources/new", get(provider::new_resource))
        .route("/provider/resources/{id}", get(provider::resource))
        .route(
            "/provider/resources/{id}/edit",
            get(provider::edit_resource).post(provider::update_resource),
        )
        .route("/provider/resources/{id}/submit", post(provider::submit))
        .route("/provider/resources/{id}/withdraw", post(provider::withdraw))
        .route("/provider/resources/{id}/delete", post(provider::delete))
        .route("/provider/resources/{id}/api", post(provider::add_api))
        .route(
            "/provider/resources/{id}/distributions/{dist}/privacy",
            post(provider::privacy),
        )
        .route("/provider/resources/{id}/upload", post(provider::upload))
        .route("/review", get(review::queue))
        .route("/review/{id}", get(review::page).post(review::decide))
        .route("/dataset/{name}/accept", post(application::accept_terms))
        .route("/apply/{name}", get(application::apply_page).post(application::apply))
        .route("/my", get(application::my_page))
        .route("/my/grants/{id}/key", post(application::rotate_key))
        .route(
            "/my/applications/{id}",
            get(application::my_application).post(application::save_application),
        )
        .route("/my/applications/{id}/attachments", post(application::attach))
        .route("/my/applications/{id}/withdraw", post(application::withdraw))
        .route("/applications", get(application::queue))
        .route("/applications/{id}", get(application::staff_page))
        .route("/applications/{id}/decision", post(application::decide))
        .route("/demands", get(interaction::demands).post(interaction::submit_demand))
        .route("/demands/new", get(interaction::new_demand))
        .route("/demands/queue", get(interaction::demand_queue))
        .route("/demands/{id}", get(interaction::demand))
        .route("/demands/{id}/route", post(interaction::route_demand))
        .route("/demands/{id}/decision", post(interaction::decide_demand))
        .route("/demands/{id}/withdraw", post(interaction::withdraw_demand))
        .route(
            "/dataset/{name}/report",
            get(interaction::report_page).post(interaction::report),
        )
        .route("/corrections/queue", get(interaction::correction_queue))
        .route("/corrections/{id}", get(interaction::correction))
        .route("/corrections/{id}/decision", post(interaction::handle_correction))
        .route("/my/requests", get(interaction::mine))
        .route("/statistics/interaction", get(interaction::statistics))
        .route("/showcases", get(showcase::gallery).post(showcase::submit))
        .route("/showcases/new", get(showcase::new_form))
        .route("/showcases/queue", get(showcase::queue))
        .route("/feedback", get(feedback::list))
        .route("/feedback/grants/{id}", get(feedback::grant).post(feedback::submit))
        .route("/showcases/{id}", get(showcase::page))
        .route("/showcases/{id}/screenshot", get(showcase::screenshot))
        .route("/showcases/{id}/decision", post(showcase::decide))
        .route(
            "/security-reports",
            get(security_report::queue).post(security_report::submit),
        )
        .route("/security-reports/new", get(security_report::new_form))
        .route("/security-reports/{id}", get(security_report::page))
        .route("/security-reports/{id}/action", post(security_report::act))
        .route("/admin/evaluation", get(evaluation::dashboard))
        .route("/admin/evaluation/runs", post(evaluation::create_run))
        .route("/admin/evaluation/runs/{id}", get(evaluation::admin_run))
        .route(
            "/admin/evaluation/system",
            get(evaluation::system_page).post(evaluation::save_system),
        )
        .route("/statistics/evaluation", get(evaluation::statistics))
        .route("/statistics/evaluation/{id}/report", get(evaluation::report))
        .fallback(not_found)
}

async fn not_found() -> AppError {
    AppError::Domain(DomainError::NotFound { what: "page" })
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

#[derive(Serialize)]
struct NavItem {
    key: &'static str,
    href: &'static str,
    current: bool,
    /// A count shown beside the label (unread notices).
    count: i64,
}

/// What the navigation offers this caller: exactly the pages the policy lets them use.
fn nav(ctx: &Ctx) -> Vec<NavItem> {
    let actor = &ctx.caller.actor;
    let mut items = vec![
        ("home", "/"),
        ("catalogue", "/catalogue"),
        ("demands", "/demands"),
        ("showcases", "/showcases"),
    ];
    if ctx.user.is_none() {
        items.extend([("login", "/login"), ("register", "/register")]);
    } else {
        items.extend([("account", "/account"), ("inbox", "/inbox")]);
        if pubdata_core::application::may_apply(actor).is_ok() {
            items.push(("my", "/my"));
        }
        let platform = |action| can(actor, action, Target::Platform);
        let work_pages = [
            (platform(Action::UseProviderWorkspace), ("workspace", "/provider")),
            (platform(Action::ReviewResources), ("review", "/review")),
            (
                interaction::handles_requests(actor),
                ("requests_queue", "/demands/queue"),
            ),
            (
                application::reviews_applications(actor),
                ("applications", "/applications"),
            ),
            (platform(Action::ListOrgs), ("orgs", "/admin/orgs")),
            (platform(Action::ListUsers), ("users", "/admin/users")),
            (platform(Action::ViewAudit), ("audit", "/admin/audit")),
            (platform(Action::ManageLifecycle), ("lifecycle", "/admin/lifecycle")),
            (
                actor.has_role(pubdata_core::user::Role::AdminReviewer)
                    || actor.has_role(pubdata_core::user::Role::AdminManager),
                ("timeliness", "/admin/timeliness"),
            ),
            (showcase_reviewer(actor), ("showcase_queue", "/showcases/queue")),
            (
                security_report_handler(actor),
                ("security_reports", "/security-reports"),
            ),
        ];
        items.extend(work_pages.into_iter().filter(|(shown, _)| *shown).map(|(_, item)| item));
    }
    // A page below an entry (a plan in the workspace) keeps the entry marked; the closest entry
    // wins (the showcase queue, not the gallery above it).
    let under = |href: &str| ctx.path == href || (href != "/" && ctx.path.starts_with(&format!("{href}/")));
    let current = items
        .iter()
        .filter(|(_, href)| under(href))
        .map(|(_, href)| href.len())
        .max();
    items
        .into_iter()
        .map(|(key, href)| NavItem {
            key,
            href,
            current: under(href) && Some(href.len()) == current,
            count: if key == "inbox" { ctx.unread } else { 0 },
        })
        .collect()
}

/// The administration institution reviews showcases.
fn showcase_reviewer(actor: &pubdata_core::policy::Actor) -> bool {
    use pubdata_core::user::Role;
    actor.has_role(Role::AdminReviewer) || actor.has_role(Role::AdminManager)
}

/// Security reports are handled by the administration institution and the provider staff they
/// are routed to.
fn security_report_handler(actor: &pubdata_core::policy::Actor) -> bool {
    use pubdata_core::user::Role;
    showcase_reviewer(actor)
        || actor.memberships.iter().any(|m| {
            matches!(
                m.role,
                Role::ProviderManager | Role::ProviderEditor | Role::ProviderReviewer
            )
        })
}

/// The values every page's layout needs.
fn base(ctx: &Ctx) -> Value {
    let mut roles: Vec<&str> = Vec::new();
    let mut role_names: Vec<String> = Vec::new();
    if let Some(u) = &ctx.user {
        if u.is_sysadmin {
            roles.push("sysadmin");
        }
        roles.extend(u.memberships.iter().map(|m| m.role.as_str()));
        roles.dedup();
        role_names = roles.iter().map(|r| t(ctx.lang, &format!("role.{r}"), &[])).collect();
    }
    context! {
        lang => ctx.lang.code(),
        path => ctx.path,
        user => ctx.user.as_deref(),
        roles => roles,
        role_names => role_names,
        nav => nav(ctx),
        csrf => ctx.csrf,
        notice => ctx.notice,
        errors => BTreeMap::<String, String>::new(),
        form => HashMap::<String, String>::new(),
    }
}

pub fn render(app: &AppState, ctx: &Ctx, name: &str, page: Value) -> AppResult<Html<String>> {
    let tmpl = app
        .templates
        .get_template(name)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let html = tmpl
        .render(context! { ..page, ..base(ctx) })
        .map_err(|e| AppError::Internal(format!("rendering {name}: {e:#}")))?;
    Ok(Html(html))
}

/// A page with the form re-shown and the problems listed, or the error itself when it is not
/// about the form's fields.
pub fn form_error(
    app: &AppState,
    ctx: &Ctx,
    name: &str,
    page: Value,
    form: &HashMap<String, String>,
    e: AppError,
) -> AppResult<Response> {
    let recoverable = matches!(
        &e,
        AppError::Domain(
            DomainError::Validation(_)
                | DomainError::Conflict { .. }
                | DomainError::Throttled { .. }
                | DomainError::Unauthenticated {
                    reason: "bad_credentials" | "account_disabled"
                }
        )
    );
    if !recoverable {
        return Err(e);
    }
    let errors: BTreeMap<String, String> = e.fields(ctx.lang).into_iter().map(|f| (f.field, f.message)).collect();
    let mut form = form.clone();
    form.remove("password");
    form.remove(crate::ctx::CSRF_FIELD);
    let page = context! { errors => errors, form => form, error_summary => e.message(ctx.lang), ..page };
    let html = render(app, ctx, name, page)?;
    let mut resp = (e.status(), html).into_response();
    e.add_headers(&mut resp);
    Ok(resp)
}

/// Anonymous visitors to a members' page are sent to log in and brought back.
pub fn login_redirect(ctx: &Ctx) -> Option<Response> {
    if ctx.user.is_some() {
        return None;
    }
    let notice = ctx.notice.map(|n| format!("&notice={n}")).unwrap_or_default();
    let next: String = form_urlencoded_encode(&ctx.path);
    Some(Redirect::to(&format!("/login?next={next}{notice}")).into_response())
}

fn form_urlencoded_encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_string()
}

/// A redirect after a successful POST, with a message key for the next page.
pub fn see_other(path: &str, done: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={done}")).into_response()
}

/// Only `done` keys the pages know are shown, so a crafted link cannot print arbitrary text.
pub fn done_key(q: &HashMap<String, String>) -> Option<String> {
    q.get("done")
        .filter(|d| crate::i18n::has(Lang::ZhCn, &format!("flash.{d}")))
        .cloned()
}

pub fn error_page(app: &AppState, lang: Lang, ctx: Option<&Ctx>, e: &AppError) -> String {
    let anonymous;
    let ctx = match ctx {
        Some(c) => c,
        None => {
            anonymous = Ctx {
                lang,
                user: None,
                caller: pubdata_service::Caller::anonymous(None),
                csrf: String::new(),
                session_hash: None,
                notice: None,
                path: "/".into(),
                api: false,
                unread: 0,
            };
            &anonymous
        }
    };
    let login_link = matches!(e, AppError::Domain(DomainError::Unauthenticated { .. }));
    let page = context! { message => e.message(lang), fields => e.fields(lang), login_link => login_link };
    render(app, ctx, "error.html", page)
        .map(|h| h.0)
        .unwrap_or_else(|_| e.message(lang))
}

/// A url-encoded form as a map, with body errors turned into clear messages.
pub struct FormMap(pub HashMap<String, String>);

impl FromRequest<AppState> for FormMap {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Form::<Vec<(String, String)>>::from_request(req, state).await {
            Ok(axum::Form(pairs)) => Ok(FormMap(pairs.into_iter().collect())),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::BodyTooLarge(state.config.max_body_bytes))
            }
            Err(r) => Err(AppError::BadRequest(r.body_text())),
        }
    }
}

impl FormMap {
    pub fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

async fn home(
    axum::extract::State(app): axum::extract::State<AppState>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> AppResult<Html<String>> {
    let orgs = app.store.list_orgs(None).await?;
    let count = |k: pubdata_core::org::OrgKind| orgs.iter().filter(|o| o.kind == k).count();
    let by_domain = catalogue::facet_counts(&app, pubdata_search::Facet::Domain).await?;
    let domains: Vec<_> = pubdata_core::metadata::DomainList::standard()
        .iter()
        .map(|(key, _)| context! { key => key, count => by_domain.get(key).copied().unwrap_or(0) })
        .collect();
    let top = |sort: pubdata_search::Sort| pubdata_search::Query {
        limit: 6,
        sort,
        ..Default::default()
    };
    let newest = crate::api::search::run(&app, ctx.lang, &top(pubdata_search::Sort::Relevance)).await?;
    let most_used = crate::api::search::run(&app, ctx.lang, &top(pubdata_search::Sort::Downloads)).await?;
    let counts = context! {
        resources => newest.total,
        provider => count(pubdata_core::org::OrgKind::Provider),
        consumer_org => count(pubdata_core::org::OrgKind::ConsumerOrg),
        users => app.store.count_users().await?,
    };
    render(
        &app,
        &ctx,
        "home.html",
        context! { counts => counts, domains => domains, newest => newest.results, most_used => most_used.results,
        done => done_key(&q) },
    )
}

/// The region browser: search by name or code, or walk down from the provinces. Forms link
/// here to look up a code, so picking a region needs no JavaScript.
async fn regions(
    axum::extract::State(app): axum::extract::State<AppState>,
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> AppResult<Html<String>> {
    let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let parent = q.get("parent").filter(|p| !p.is_empty());
    let rows = if !text.is_empty() {
        app.store.search_regions(&text, 100).await?
    } else {
        app.store.child_regions(parent.map(String::as_str)).await?
    };
    let path = match parent {
        Some(p) => app.store.region_path(p).await?,
        None => Vec::new(),
    };
    let total = app.store.count_regions().await?;
    render(
        &app,
        &ctx,
        "regions.html",
        context! { rows => rows, path => path, q => text, total => total },
    )
}
