//! The public catalogue of published resources, and how a resource's data versions and their
//! ingest reports are shown — here, in the provider workspace and to reviewers alike.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use pubdata_core::metadata::{DomainList, OpenType};
use pubdata_core::org::OrgKind;
use pubdata_core::DomainError;
use pubdata_search::{Facet, Sort};
use pubdata_service::published::{self, Published};
use pubdata_service::{resources, StoreError};
use pubdata_store::DistributionRow;
use serde::Serialize;
use serde_json::Value as Json;

use super::render;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{has, t, Lang};
use crate::AppState;

/// Resources per catalogue page.
const PAGE_SIZE: usize = 20;

/// One column of an ingest report.
#[derive(Debug, Serialize)]
pub(super) struct ColumnView {
    name: String,
    kind: Option<String>,
    nulls: Option<i64>,
}

/// A quality problem: the rule, where, and how often — never the values.
#[derive(Debug, Serialize)]
pub(super) struct FindingView {
    rule: String,
    column: String,
    count: Option<i64>,
}

/// Personal data found in a column, and whether a masking rule covers it.
#[derive(Debug, Serialize)]
pub(super) struct PrivacyView {
    column: String,
    kind: String,
    count: Option<i64>,
    masked: bool,
}

/// What pages show of an ingest report. The report's JSON is read defensively: a part that is
/// missing or shaped differently is left out rather than failing the page.
#[derive(Debug, Default, Serialize)]
pub(super) struct ReportView {
    rows: Option<i64>,
    format: Option<String>,
    encoding: Option<String>,
    columns: Vec<ColumnView>,
    score: Option<String>,
    findings: Vec<FindingView>,
    privacy: Vec<PrivacyView>,
    warnings: Vec<String>,
    error: Option<String>,
}

fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A translated name for a vocabulary value, or the value itself when there is none.
pub(super) fn term(lang: Lang, prefix: &str, key: &str) -> String {
    let k = format!("{prefix}.{key}");
    if has(lang, &k) {
        t(lang, &k, &[])
    } else {
        key.to_string()
    }
}

fn report_view(lang: Lang, d: &DistributionRow) -> Option<ReportView> {
    let r = d.report.as_ref()?;
    let array = |v: &Json| v.as_array().cloned().unwrap_or_default();
    let columns = array(&r["columns"])
        .iter()
        .map(|c| ColumnView {
            name: text(&c["name"]).unwrap_or_default(),
            kind: ["loaded_type", "type", "inferred_type"]
                .iter()
                .find_map(|k| text(&c[*k]))
                .map(|k| term(lang, "field_type", &k)),
            nulls: c["nulls"].as_i64(),
        })
        .collect();
    let quality = &r["quality"];
    let score = quality["score"]
        .as_f64()
        .or(quality["overall_score"].as_f64())
        .map(|s| format!("{s:.1}"));
    let findings = array(&quality["findings"])
        .iter()
        .map(|f| FindingView {
            rule: text(&f["rule"])
                .map(|k| term(lang, "quality_rule", &k))
                .unwrap_or_default(),
            column: text(&f["column"]).unwrap_or_default(),
            count: f["count"].as_i64(),
        })
        .collect();
    let privacy = array(&r["privacy"])
        .iter()
        .map(|p| {
            let column = text(&p["column"]).unwrap_or_default();
            PrivacyView {
                masked: pubdata_service::ingest::is_masked(d, &column),
                kind: text(&p["kind"]).map(|k| term(lang, "pii", &k)).unwrap_or_default(),
                count: p["count"].as_i64(),
                column,
            }
        })
        .collect();
    let warnings = array(&r["warnings"])
        .iter()
        .filter_map(|w| text(&w["message"]).or_else(|| text(w)))
        .collect();
    let error = text(&r["error"]).or_else(|| text(&r["error"]["message"]));
    Some(ReportView {
        rows: r["rows"].as_i64().or(d.row_count),
        format: text(&r["format"]),
        encoding: text(&r["encoding"]),
        columns,
        score,
        findings,
        privacy,
        warnings,
        error,
    })
}

#[derive(Debug, Serialize)]
pub(super) struct ApiParam {
    name: String,
    description: String,
}

/// One data version (挂接资源) as pages show it.
#[derive(Debug, Serialize)]
pub(super) struct DistView {
    #[serde(flatten)]
    row: DistributionRow,
    /// The file's extension in capitals (CSV, XLSX), or API.
    format: String,
    sha256_prefix: Option<String>,
    params: Vec<ApiParam>,
    report: Option<ReportView>,
    /// Findings neither masked nor justified: they block submission.
    unresolved_privacy: usize,
}

impl DistView {
    pub(super) fn state(&self) -> &str {
        &self.row.state
    }
}

pub(super) fn dist_view(lang: Lang, d: DistributionRow) -> DistView {
    let format = published::format_of(&d);
    let params = d
        .api_params
        .as_ref()
        .and_then(Json::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| ApiParam {
                    name: text(&p["name"]).unwrap_or_default(),
                    description: text(&p["description"]).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let unresolved_privacy = resources::unresolved_privacy(std::slice::from_ref(&d));
    DistView {
        sha256_prefix: d.sha256.as_ref().map(|s| s.chars().take(12).collect()),
        report: report_view(lang, &d),
        format,
        params,
        unresolved_privacy,
        row: d,
    }
}

pub(super) async fn dist_views(app: &AppState, lang: Lang, resource_id: i64) -> AppResult<Vec<DistView>> {
    let rows = app.store.distributions(resource_id).await?;
    Ok(rows.into_iter().map(|d| dist_view(lang, d)).collect())
}

/// Builds `?…` for a search with one filter toggled and the page reset: facet links need no
/// JavaScript.
fn search_href(base: &str, params: &[(String, String)], toggle: Option<(&str, &str)>, set: &[(&str, &str)]) -> String {
    let mut out: Vec<(String, String)> = params
        .iter()
        .filter(|(k, v)| {
            k != "page" && !set.iter().any(|(s, _)| s == k) && toggle.is_none_or(|(tk, tv)| !(k == tk && v == tv))
        })
        .cloned()
        .collect();
    if let Some((tk, tv)) = toggle {
        if !params.iter().any(|(k, v)| k == tk && v == tv) {
            out.push((tk.to_string(), tv.to_string()));
        }
    }
    out.extend(
        set.iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    if out.is_empty() {
        return base.to_string();
    }
    let query: Vec<String> = out
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The search page: what a page of `/catalogue`, `/org/{key}` or `/domain/{key}` shows.
async fn search_page(
    app: &AppState,
    ctx: &Ctx,
    base: &str,
    mut params: Vec<(String, String)>,
    fixed: Option<(Facet, String)>,
    heading: minijinja::Value,
) -> AppResult<Response> {
    params.retain(|(k, _)| k != "lang");
    let query = match crate::api::search::parse(&params, PAGE_SIZE) {
        Ok(mut q) => {
            if let Some(f) = &fixed {
                q.filters.retain(|(g, _)| *g != f.0);
                q.filters.push(f.clone());
                q.facets.retain(|g| *g != f.0);
            }
            q
        }
        Err(e) => return Err(e.into()),
    };
    let found = crate::api::search::run(app, ctx.lang, &query).await?;
    let pages = found
        .total
        .div_ceil(PAGE_SIZE)
        .clamp(1, crate::api::search::MAX_OFFSET / PAGE_SIZE + 1);
    let page = query.offset / PAGE_SIZE + 1;
    let facets: Vec<_> = found
        .facets
        .iter()
        .filter(|f| !f.values.is_empty())
        .map(|f| {
            let values: Vec<_> = f
                .values
                .iter()
                .map(|v| {
                    let href = search_href(base, &params, Some((&f.facet, &v.value)), &[]);
                    context! { value => v.value, label => v.label, count => v.count, selected => v.selected, href => href }
                })
                .collect();
            context! { facet => f.facet, values => values }
        })
        .collect();
    let chosen: Vec<_> = query
        .filters
        .iter()
        .filter(|f| Some(*f) != fixed.as_ref())
        .map(|(f, v)| {
            let label = found
                .facets
                .iter()
                .find(|d| d.facet == f.as_str())
                .and_then(|d| d.values.iter().find(|x| &x.value == v))
                .map_or(v.clone(), |x| x.label.clone());
            context! { facet => f.as_str(), label => label, href => search_href(base, &params, Some((f.as_str(), v)), &[]) }
        })
        .collect();
    let sorts: Vec<_> = [Sort::Relevance, Sort::Updated, Sort::Downloads, Sort::Name]
        .iter()
        .map(|s| context! { key => s.as_str(), selected => *s == query.sort })
        .collect();
    let page_href = |n: usize| search_href(base, &params, None, &[("page", &n.to_string())]);
    let hidden: Vec<_> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "q" | "sort" | "page" | "offset"))
        .map(|(k, v)| context! { name => k, value => v })
        .collect();
    let values = context! {
        heading => heading, base => base, q => query.text, found => found, facets => facets, chosen => chosen,
        sorts => sorts, hidden => hidden, page => page, pages => pages,
        prev => (page > 1).then(|| page_href(page - 1)), next => (page < pages).then(|| page_href(page + 1)),
        clear => base,
    };
    Ok(render(app, ctx, "catalogue.html", values)?.into_response())
}

/// The catalogue: search with facets over the published resources.
pub async fn list(
    State(app): State<AppState>,
    ctx: Ctx,
    Query(params): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    search_page(&app, &ctx, "/catalogue", params, None, context! {}).await
}

/// A provider's public page: who it is and what it has opened.
pub async fn provider(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    let key = key.to_ascii_lowercase();
    let orgs = app.store.list_orgs(Some(OrgKind::Provider)).await?;
    let org = orgs
        .into_iter()
        .find(|o| published::provider_key(o) == key)
        .ok_or(DomainError::NotFound { what: "organisation" })?;
    let heading = context! { kind => "provider", title => org.name, org => org };
    let base = format!("/org/{key}");
    search_page(&app, &ctx, &base, params, Some((Facet::Provider, key)), heading).await
}

/// A domain's page (领域): the resources opened in it.
pub async fn domain(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(key): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> AppResult<Response> {
    let domains = DomainList::standard();
    let domain = domains.parse(&key).ok_or(DomainError::NotFound { what: "domain" })?;
    let k = domain.key().to_string();
    let heading = context! { kind => "domain", title => term(ctx.lang, "domain", &k), key => k };
    let base = format!("/domain/{k}");
    search_page(&app, &ctx, &base, params, Some((Facet::Domain, k)), heading).await
}

/// Every provider with how much it has opened.
pub async fn providers(State(app): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let counts = facet_counts(&app, Facet::Provider).await?;
    let mut items: Vec<_> = app
        .store
        .list_orgs(Some(OrgKind::Provider))
        .await?
        .into_iter()
        .map(|o| {
            let key = published::provider_key(&o);
            let n = counts.get(&key).copied().unwrap_or(0);
            (n, context! { key => key, name => o.name, count => n })
        })
        .collect();
    items.sort_by_key(|b| std::cmp::Reverse(b.0));
    let items: Vec<_> = items.into_iter().map(|(_, v)| v).collect();
    Ok(render(&app, &ctx, "providers.html", context! { items => items })?.into_response())
}

/// How many published resources each value of a facet has.
pub(super) async fn facet_counts(app: &AppState, facet: Facet) -> AppResult<HashMap<String, u64>> {
    let q = pubdata_search::Query {
        limit: 1,
        facets: vec![facet],
        facet_limit: 1000,
        ..Default::default()
    };
    let r = pubdata_service::catalogue::search(&app.search, &q)?;
    Ok(r.facets.into_iter().flat_map(|f| f.values).collect())
}

/// The dataset page's old address.
pub async fn moved(Path(code): Path<String>) -> Response {
    axum::response::Redirect::permanent(&format!("/dataset/{}", urlencode(&published::name_of(&code)))).into_response()
}

/// A published resource's public page: metadata, 数据项, a preview of its data, the quality of
/// its current data, its versions, and how to get it — by download, data API, CKAN, DCAT or
/// data package.
pub async fn dataset(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> AppResult<Response> {
    let p = published::by_name(&app.store, &name).await?;
    let page = dataset_values(&app, &ctx, &p).await?;
    let showcases = super::showcase::on_dataset(&app, p.resource.row.id).await?;
    Ok(render(
        &app,
        &ctx,
        "dataset.html",
        context! { done => super::done_key(&q), showcases => showcases, ..page },
    )?
    .into_response())
}

/// What the dataset page shows; also re-shown after the usage terms are accepted.
pub(super) async fn dataset_values(app: &AppState, ctx: &Ctx, p: &Published) -> AppResult<minijinja::Value> {
    let name = p.name();
    // Every version, for the history; only data that finished loading is offered.
    let versions: Vec<DistView> = dist_views(app, ctx.lang, p.resource.row.id)
        .await?
        .into_iter()
        .filter(|d| matches!(d.state(), "ready" | "superseded"))
        .collect();
    let dists: Vec<&DistView> = versions.iter().filter(|d| d.state() == "ready").collect();
    let current = dists.iter().find(|d| d.row.kind == "file");
    let preview = pubdata_service::data_api::preview(&app.store, p, PREVIEW_ROWS).await?;
    let access = data_access(app, ctx, p).await?;
    let corrections = pubdata_service::corrections::counts(&app.store, p.resource.row.id).await?;
    let today = pubdata_service::quality::today();
    let scores = pubdata_service::quality::score(&app.store, &p.resource, today).await?;
    let apply_href = if ctx.user.is_some() {
        format!("/apply/{name}")
    } else {
        format!("/login?next=%2Fapply%2F{}", urlencode(&name))
    };
    Ok(context! {
        r => p.resource.row, meta => p.resource.meta, name => name, provider_key => p.provider_key(),
        dists => dists, versions => versions, formats => p.formats(), row_count => p.row_count(),
        quality => current.and_then(|d| d.report.as_ref()), preview => preview,
        scores => crate::api::quality::resource_dto(ctx.lang, &scores),
        downloads_open => access.way == "open", access => access.way, grant => access.grant,
        pending => access.pending.map(|(id, state)| context! { id, state }), apply_href => apply_href, base => public_base(app),
        corrections => context! { submitted => corrections.submitted, under_review => corrections.under_review,
            accepted => corrections.accepted, rejected => corrections.rejected },
    })
}

/// How the caller may get a resource's data now.
struct DataAccess {
    /// `open` (download now), `login`, `terms` (accept the usage terms first), `apply` (a grant
    /// is needed), or `consumers_only` (the caller cannot apply: staff of another department).
    way: &'static str,
    /// The caller's usable grant, when they hold one.
    grant: Option<minijinja::Value>,
    /// The caller's application for it still under way: `(id, state)`.
    pending: Option<(i64, String)>,
}

async fn data_access(app: &AppState, ctx: &Ctx, p: &Published) -> AppResult<DataAccess> {
    let policy = pubdata_service::download::DownloadPolicy {
        open_downloads: app.config.open_downloads,
    };
    let consumer = pubdata_core::application::may_apply(&ctx.caller.actor).is_ok();
    let way = match pubdata_service::download::authorize(&app.store, &ctx.caller, policy, p).await {
        Ok(_) => "open",
        Err(StoreError::Domain(DomainError::Unauthenticated { .. })) => "login",
        Err(StoreError::Domain(DomainError::Conflict { .. })) if !consumer => "consumers_only",
        Err(StoreError::Domain(DomainError::Conflict {
            code: "terms_required", ..
        })) => "terms",
        Err(StoreError::Domain(DomainError::Conflict { .. })) => "apply",
        Err(e) => return Err(e.into()),
    };
    let (mut grant, mut pending) = (None, None);
    if let (Some(user), true) = (ctx.caller.actor.user_id, consumer) {
        let id = p.resource.row.id;
        grant = pubdata_service::access::usable_grant(&app.store, user, id)
            .await?
            .map(|g| {
                let filters = pubdata_service::access::grant_of(&g).filters;
                context! { filters => filters, ..minijinja::Value::from_serialize(&g) }
            });
        if grant.is_none() && p.resource.meta.open_type == OpenType::Conditional {
            pending = pending_application(app, ctx, id).await?;
        }
    }
    Ok(DataAccess { way, grant, pending })
}

/// The caller's application for the resource that is still under way, if any.
async fn pending_application(app: &AppState, ctx: &Ctx, resource_id: i64) -> AppResult<Option<(i64, String)>> {
    for row in pubdata_service::access::mine(&app.store, &ctx.caller).await? {
        let final_state = pubdata_core::application::ApplicationState::parse(&row.state).is_none_or(|s| s.is_final());
        if row.kind != "conditional" || final_state {
            continue;
        }
        let items = app.store.application_items(row.id).await?;
        if items.iter().any(|i| i.resource_id == resource_id) {
            return Ok(Some((row.id, row.state)));
        }
    }
    Ok(None)
}

/// Rows shown in a dataset page's preview.
const PREVIEW_ROWS: u64 = 10;

/// The portal's address for examples: the configured public URL, or the listen address.
fn public_base(app: &AppState) -> String {
    match &app.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", app.config.addr),
    }
}
