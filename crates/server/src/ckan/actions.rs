//! The read actions: each parses its parameters, calls the services, and returns the `result`.

use std::collections::HashMap;

use pubdata_core::metadata::DomainList;
use pubdata_core::org::OrgKind;
use pubdata_search::{Facet, Query, Results, SearchError, Sort};
use pubdata_service::{ckan, published};
use pubdata_store::OrgRow;
use serde_json::{json, Value};

use super::dicts::{self, Site};
use super::error::CkanError;
use super::params::Params;
use super::{datastore, search};
use crate::ctx::Ctx;
use crate::i18n::t;
use crate::AppState;

/// The CKAN version whose Action API this one follows.
pub const CKAN_VERSION: &str = "2.10.4";

/// Most datasets `organization_show`/`group_show` include, and most rows of the list actions.
const MAX_LIST: i64 = 1000;

/// The actions served, with what `help_show` says of each.
const ACTIONS: [(&str, &str); 16] = [
    ("package_list", "Return the names of the site's published datasets. :param limit: :param offset:"),
    ("current_package_list_with_resources", "Return published datasets with their resources, most recently modified first. :param limit: :param offset:"),
    ("package_show", "Return a published dataset. :param id: the dataset's id or name"),
    ("package_search", "Search published datasets. :param q: :param fq: :param sort: :param rows: :param start: :param facet.field: :param facet.limit:"),
    ("resource_show", "Return a resource of a published dataset. :param id: the resource's id"),
    ("resource_view_list", "Return a resource's views (always none here). :param id: the resource's id"),
    ("organization_list", "Return the provider departments. :param all_fields: :param sort: :param limit: :param offset: :param organizations:"),
    ("organization_show", "Return a provider department. :param id: its id or name :param include_datasets:"),
    ("group_list", "Return the subject areas (领域). :param all_fields: :param sort: :param limit: :param offset: :param groups:"),
    ("group_show", "Return a subject area (领域). :param id: its name :param include_datasets:"),
    ("tag_list", "Return the tags of published datasets. :param query: a prefix :param all_fields:"),
    ("status_show", "Return the site's title, description, URL and CKAN version."),
    ("datastore_search", "Search a resource's data rows; needs a login or an API token. :param resource_id: :param filters: :param q: :param fields: :param sort: :param limit: :param offset: :param include_total:"),
    ("help_show", "Return an action's help. :param name: the action's name"),
    ("site_read", "Return whether the site may be read (always true)."),
    ("api_version", "Return 3, the version of this API."),
];

pub fn known(name: &str) -> bool {
    ACTIONS.iter().any(|a| a.0 == name)
}

/// Runs a known action.
pub async fn run(app: &AppState, ctx: &Ctx, site: &Site, name: &str, p: &Params) -> Result<Value, CkanError> {
    match name {
        "package_list" => package_list(app, p).await,
        "current_package_list_with_resources" => current_packages(app, site, p).await,
        "package_show" => package_show(app, site, p).await,
        "package_search" => package_search(app, site, p).await,
        "resource_show" => resource_show(app, site, p).await,
        "resource_view_list" => resource_view_list(app, p).await,
        "organization_list" => organization_list(app, p).await,
        "organization_show" => organization_show(app, site, p).await,
        "group_list" => group_list(app, site, p).await,
        "group_show" => group_show(app, site, p).await,
        "tag_list" => tag_list(app, p),
        "status_show" => Ok(status_show(ctx, site)),
        "datastore_search" => datastore_search(app, ctx, p).await,
        "help_show" => help_show(p),
        "site_read" => Ok(json!(true)),
        "api_version" => Ok(json!(3)),
        other => Err(CkanError::BadRequest(format!("Action name not known: {other}"))),
    }
}

fn required(p: &Params, name: &str) -> Result<String, CkanError> {
    p.text(name)?.ok_or_else(|| CkanError::invalid(name, "Missing value"))
}

/// `limit`/`offset` of the list actions: `limit` defaults to `default`, at most [`MAX_LIST`].
fn page(p: &Params, default: i64) -> Result<(usize, usize), CkanError> {
    let limit = p.int("limit", default, 0, MAX_LIST)?;
    let offset = p.int("offset", 0, 0, i64::MAX)?;
    Ok((limit as usize, usize::try_from(offset).unwrap_or(usize::MAX)))
}

async fn package_list(app: &AppState, p: &Params) -> Result<Value, CkanError> {
    let names = ckan::names(&app.store).await?;
    let limit = p.int("limit", i64::MAX, 0, i64::MAX)?;
    let offset = p.int("offset", 0, 0, i64::MAX)?;
    let names: Vec<String> = names
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(json!(names))
}

async fn current_packages(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let (limit, offset) = page(p, MAX_LIST)?;
    if limit == 0 {
        return Ok(json!([]));
    }
    let list = published::list(&app.store, limit as i64, offset as i64).await?;
    Ok(json!(list.iter().map(|d| dicts::dataset(site, d)).collect::<Vec<_>>()))
}

async fn package_show(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let id = match p.text("id")? {
        Some(id) => id,
        None => p
            .text("name_or_id")?
            .ok_or_else(|| CkanError::invalid("id", "Missing value"))?,
    };
    let d = published::by_name(&app.store, id.trim()).await?;
    Ok(dicts::dataset(site, &d))
}

/// Provider keys to their names, for facet display names.
async fn provider_names(app: &AppState) -> Result<HashMap<String, String>, CkanError> {
    Ok(providers(app)
        .await?
        .iter()
        .map(|o| (published::provider_key(o), o.name.clone()))
        .collect())
}

fn search(app: &AppState, query: &Query) -> Result<Results, CkanError> {
    app.search.search(query).map_err(|e| match e {
        SearchError::Query(m) => CkanError::SearchQuery(m),
        other => CkanError::Internal(other.to_string()),
    })
}

/// The found datasets as CKAN dicts. The index may lag the store by a moment: a resource
/// withdrawn since is left out.
async fn datasets(app: &AppState, site: &Site, results: &Results) -> Result<Vec<Value>, CkanError> {
    let ids: Vec<i64> = results.hits.iter().map(|h| h.id).collect();
    Ok(published::many(&app.store, &ids)
        .await?
        .iter()
        .map(|d| dicts::dataset(site, d))
        .collect())
}

/// How many published datasets have each value of a facet, from the index (as CKAN counts
/// from Solr).
fn facet_counts(app: &AppState, facet: Facet) -> Result<HashMap<String, usize>, CkanError> {
    let query = Query {
        limit: 0,
        facets: vec![facet],
        facet_limit: usize::MAX,
        ..Default::default()
    };
    Ok(search(app, &query)?
        .facets
        .into_iter()
        .flat_map(|c| c.values)
        .map(|(v, n)| (v, usize::try_from(n).unwrap_or(usize::MAX)))
        .collect())
}

/// The newest datasets with a facet value (a provider's, a domain's), at most [`MAX_LIST`].
async fn datasets_with(app: &AppState, site: &Site, facet: Facet, value: &str) -> Result<Vec<Value>, CkanError> {
    let query = Query {
        filters: vec![(facet, value.to_string())],
        sort: Sort::Updated,
        limit: MAX_LIST as usize,
        ..Default::default()
    };
    datasets(app, site, &search(app, &query)?).await
}

async fn package_search(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let req = search::parse(p, &site.domains)?;
    let results = search(app, &req.query)?;
    let found = datasets(app, site, &results).await?;
    let orgs = if req.facet_fields.iter().any(|f| f == "organization") {
        provider_names(app).await?
    } else {
        HashMap::new()
    };
    let (facets, search_facets) = search::render_facets(&req, &results, &orgs, &site.domains);
    Ok(json!({
        "count": results.total,
        "results": found,
        "facets": facets,
        "search_facets": search_facets,
        "sort": req.sort,
    }))
}

fn dist_id(id: &str) -> Result<i64, CkanError> {
    id.trim()
        .parse::<i64>()
        .map_err(|_| CkanError::NotFound("Resource was not found.".into()))
}

async fn resource_show(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let id = dist_id(&required(p, "id")?)?;
    let (d, dist) = ckan::distribution(&app.store, id).await?;
    let position = d.dists.iter().position(|x| x.id == dist.id).unwrap_or(0);
    Ok(dicts::resource(site, &d, &dist, position))
}

async fn resource_view_list(app: &AppState, p: &Params) -> Result<Value, CkanError> {
    let id = dist_id(&required(p, "id")?)?;
    ckan::distribution(&app.store, id).await?;
    Ok(json!([]))
}

async fn providers(app: &AppState) -> Result<Vec<OrgRow>, CkanError> {
    Ok(app.store.list_orgs(Some(OrgKind::Provider)).await?)
}

/// `sort` of the group and organisation lists: `name`, `title` or `package_count`, with
/// `asc` or `desc`; CKAN's default is `title asc`.
fn list_sort(p: &Params) -> Result<(String, bool), CkanError> {
    let s = p.text("sort")?.unwrap_or_else(|| "title asc".into());
    let words: Vec<String> = s.split_whitespace().map(str::to_ascii_lowercase).collect();
    let (field, desc) = match &words[..] {
        [f] => (f.clone(), false),
        [f, d] if d == "asc" => (f.clone(), false),
        [f, d] if d == "desc" => (f.clone(), true),
        _ => (String::new(), false),
    };
    match field.as_str() {
        "name" | "title" => Ok((field, desc)),
        "package_count" | "packages" => Ok(("package_count".into(), desc)),
        _ => Err(CkanError::invalid(
            "sort",
            format!("Cannot sort by {s:?}; use name, title or package_count, then asc or desc"),
        )),
    }
}

/// Sorts, filters to the names asked for, pages, and renders names or whole dictionaries.
fn list_result(
    p: &Params,
    filter_param: &str,
    mut items: Vec<(String, String, usize, Value)>,
) -> Result<Value, CkanError> {
    let (field, desc) = list_sort(p)?;
    let all_fields = p.flag("all_fields", false)?;
    let (limit, offset) = page(p, MAX_LIST)?;
    if let Some(only) = p.list(filter_param)? {
        items.retain(|i| only.contains(&i.0));
    }
    // Ties keep title order whichever way the list is sorted.
    items.sort_by(|a, b| {
        let o = match field.as_str() {
            "name" => a.0.cmp(&b.0),
            "package_count" => a.2.cmp(&b.2),
            _ => a.1.cmp(&b.1),
        };
        let o = if desc { o.reverse() } else { o };
        o.then_with(|| a.1.cmp(&b.1)).then_with(|| a.0.cmp(&b.0))
    });
    let page = items.into_iter().skip(offset).take(limit);
    Ok(if all_fields {
        json!(page.map(|i| i.3).collect::<Vec<_>>())
    } else {
        json!(page.map(|i| i.0).collect::<Vec<_>>())
    })
}

async fn organization_list(app: &AppState, p: &Params) -> Result<Value, CkanError> {
    list_sort(p)?;
    let counts = facet_counts(app, Facet::Provider)?;
    let items = providers(app)
        .await?
        .iter()
        .map(|o| {
            let key = published::provider_key(o);
            let n = counts.get(&key).copied().unwrap_or(0);
            (key, o.name.clone(), n, dicts::organization(o, Some(n)))
        })
        .collect();
    list_result(p, "organizations", items)
}

fn with_members(mut v: Value, datasets: Option<Vec<Value>>) -> Value {
    for k in ["extras", "groups", "tags", "users"] {
        v[k] = json!([]);
    }
    if let Some(d) = datasets {
        v["packages"] = json!(d);
    }
    v
}

async fn organization_show(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let id = required(p, "id")?;
    let id = id.trim();
    let org = providers(app)
        .await?
        .into_iter()
        .find(|o| o.id.to_string() == id || published::provider_key(o) == id.to_ascii_lowercase())
        .ok_or_else(|| CkanError::NotFound("Organization not found".into()))?;
    let key = published::provider_key(&org);
    let n = facet_counts(app, Facet::Provider)?.get(&key).copied().unwrap_or(0);
    let datasets = match p.flag("include_datasets", false)? {
        true => Some(datasets_with(app, site, Facet::Provider, &key).await?),
        false => None,
    };
    Ok(with_members(dicts::organization(&org, Some(n)), datasets))
}

async fn group_list(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    list_sort(p)?;
    let by_domain = facet_counts(app, Facet::Domain)?;
    let items = site
        .domains
        .iter()
        .map(|(key, name)| {
            let n = by_domain.get(key).copied().unwrap_or(0);
            (key.to_string(), name.to_string(), n, dicts::group(key, name, Some(n)))
        })
        .collect();
    list_result(p, "groups", items)
}

async fn group_show(app: &AppState, site: &Site, p: &Params) -> Result<Value, CkanError> {
    let id = required(p, "id")?;
    let domain = site
        .domains
        .parse(&id)
        .ok_or_else(|| CkanError::NotFound("Group not found".into()))?;
    let name = site.domains.name(&domain).unwrap_or(domain.key()).to_string();
    let key = domain.key();
    let n = facet_counts(app, Facet::Domain)?.get(key).copied().unwrap_or(0);
    let datasets = match p.flag("include_datasets", false)? {
        true => Some(datasets_with(app, site, Facet::Domain, key).await?),
        false => None,
    };
    Ok(with_members(dicts::group(key, &name, Some(n)), datasets))
}

fn tag_list(app: &AppState, p: &Params) -> Result<Value, CkanError> {
    if p.text("vocabulary_id")?.is_some() {
        return Err(CkanError::NotFound(
            "Could not find vocabulary; tags here are free tags".into(),
        ));
    }
    let prefix = p.text("query")?.unwrap_or_default().to_lowercase();
    let mut tags: Vec<String> = facet_counts(app, Facet::Tag)?
        .into_keys()
        .filter(|t| t.to_lowercase().starts_with(&prefix))
        .collect();
    tags.sort_unstable();
    Ok(if p.flag("all_fields", false)? {
        json!(tags.iter().map(|t| dicts::tag(t)).collect::<Vec<_>>())
    } else {
        json!(tags)
    })
}

fn status_show(ctx: &Ctx, site: &Site) -> Value {
    json!({
        "site_title": t(ctx.lang, "site.name", &[]),
        "site_description": t(ctx.lang, "site.tagline", &[]),
        "site_url": site.base,
        "ckan_version": CKAN_VERSION,
        "error_emails_to": null,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore"],
    })
}

async fn datastore_search(app: &AppState, ctx: &Ctx, p: &Params) -> Result<Value, CkanError> {
    let req = datastore::parse(p)?;
    let read = ckan::datastore(&app.store, &ctx.caller, req.dist_id, &req.query).await?;
    let path = if ctx.path.starts_with("/api/3/") {
        "/api/3/action/datastore_search"
    } else {
        "/api/action/datastore_search"
    };
    Ok(datastore::render(&req, &read.result, &read.columns, path))
}

fn help_show(p: &Params) -> Result<Value, CkanError> {
    let name = required(p, "name")?;
    ACTIONS
        .iter()
        .find(|a| a.0 == name)
        .map(|a| json!(a.1))
        .ok_or_else(|| CkanError::NotFound("Action function not found".into()))
}

/// The domains a site offers (the standard list until deployments configure their own).
pub fn domains() -> DomainList {
    DomainList::standard()
}
