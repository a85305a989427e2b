//! The catalogue in the open-data world's formats: DCAT-AP 3 (Turtle, JSON-LD, RDF/XML) and
//! Frictionless data packages, and the CSV download both point at.

mod datapackage;
mod dcat;
mod download;
pub(crate) use download::content_disposition;
mod jsonld;
mod rdf;
mod rdfxml;
mod turtle;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use pubdata_core::org::OrgKind;
use pubdata_core::{DomainError, FieldError};
use pubdata_service::download as downloads;
use pubdata_service::published::{self, Published};

use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::AppState;

use dcat::Site;

/// Datasets per page of the catalogue.
pub const CATALOG_PAGE: i64 = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/catalog", get(catalog_negotiated))
        .route("/catalog.ttl", get(catalog_ttl))
        .route("/catalog.jsonld", get(catalog_jsonld))
        .route("/catalog.rdf", get(catalog_rdf))
        .route("/dataset/{name}", get(dataset))
        .route("/dataset/{name}/datapackage.json", get(data_package))
        .route("/dataset/{name}/resource/{dist_id}/download", get(download::csv))
}

/// The base of absolute URLs and identifiers: `public_url` when configured, else the request's
/// host (over https when a trusted proxy says so).
pub(crate) fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = app.config.public_url.as_deref().filter(|u| !u.is_empty()) {
        return u.trim_end_matches('/').to_string();
    }
    let valid = |h: &&str| {
        !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(valid)
        .unwrap_or(&app.config.addr);
    let https = app.config.trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// An RDF syntax the catalogue is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Turtle,
    JsonLd,
    RdfXml,
}

impl Syntax {
    const ALL: [Syntax; 3] = [Syntax::Turtle, Syntax::JsonLd, Syntax::RdfXml];

    pub fn extension(self) -> &'static str {
        match self {
            Syntax::Turtle => "ttl",
            Syntax::JsonLd => "jsonld",
            Syntax::RdfXml => "rdf",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Syntax::Turtle => "text/turtle",
            Syntax::JsonLd => "application/ld+json",
            Syntax::RdfXml => "application/rdf+xml",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Syntax::Turtle => "text/turtle; charset=utf-8",
            Syntax::JsonLd => "application/ld+json",
            Syntax::RdfXml => "application/rdf+xml; charset=utf-8",
        }
    }

    fn write(self, g: &rdf::Graph) -> String {
        match self {
            Syntax::Turtle => turtle::write(g),
            Syntax::JsonLd => jsonld::write(g),
            Syntax::RdfXml => rdfxml::write(g),
        }
    }

    fn respond(self, g: &rdf::Graph) -> Response {
        ([(header::CONTENT_TYPE, self.content_type())], self.write(g)).into_response()
    }

    /// `name.ttl` → (`name`, Turtle).
    fn split(file: &str) -> Option<(&str, Syntax)> {
        Syntax::ALL.into_iter().find_map(|s| {
            file.strip_suffix(s.extension())
                .and_then(|stem| stem.strip_suffix('.'))
                .map(|stem| (stem, s))
        })
    }

    /// The RDF syntax the `Accept` header prefers to HTML, if any: browsers (which list
    /// `text/html` first, or only `*/*`) get the page; harvesters asking for RDF get RDF.
    fn negotiate(headers: &HeaderMap) -> Option<Syntax> {
        let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
        let mut html = 0.0f32;
        let mut best: Option<(f32, Syntax)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .unwrap_or(1.0);
            if matches!(media.as_str(), "text/html" | "application/xhtml+xml" | "text/*" | "*/*") {
                html = html.max(q);
            } else if let Some(s) = Syntax::ALL.into_iter().find(|s| s.media_type() == media) {
                if best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, s));
                }
            }
        }
        best.filter(|(q, _)| *q > 0.0 && *q > html).map(|(_, s)| s)
    }
}

fn vary_accept(mut r: Response) -> Response {
    r.headers_mut().append(header::VARY, HeaderValue::from_static("Accept"));
    r
}

/// Region names for the datasets' `dct:spatial`.
async fn region_names(app: &AppState, datasets: &[Published]) -> AppResult<HashMap<String, String>> {
    let mut names = HashMap::new();
    for code in datasets.iter().filter_map(|p| p.resource.meta.spatial.as_deref()) {
        if !names.contains_key(code) {
            if let Some(r) = app.store.region(code).await? {
                names.insert(code.to_string(), r.name);
            }
        }
    }
    Ok(names)
}

/// `GET /catalog.{ttl,jsonld,rdf}?page=N`: the catalogue, [`CATALOG_PAGE`] datasets a page.
async fn catalog(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    syntax: Syntax,
) -> AppResult<Response> {
    let total = published::count(&app.store).await?;
    let last = ((total + CATALOG_PAGE - 1) / CATALOG_PAGE).max(1);
    let page = match q.get("page") {
        None => 1,
        Some(p) => p.trim().parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
            DomainError::Validation(vec![FieldError::new("page", "range").with("min", 1).with("max", last)])
        })?,
    };
    if page > last {
        return Err(DomainError::NotFound { what: "page" }.into());
    }
    let datasets = published::list(&app.store, CATALOG_PAGE, (page - 1) * CATALOG_PAGE).await?;
    let regions = region_names(&app, &datasets).await?;
    let institutions = app.store.list_orgs(Some(OrgKind::AdminInstitution)).await?;
    let base = base_url(&app, &headers);
    let site = Site {
        base: &base,
        regions: &regions,
    };
    let publisher = match institutions.first() {
        Some(org) => dcat::CatalogPublisher::Institution(org),
        None => dcat::CatalogPublisher::Portal,
    };
    let document = format!("{base}/catalog.{}", syntax.extension());
    let paging = dcat::Paging {
        document: &document,
        page,
        last,
        total,
        per_page: CATALOG_PAGE,
    };
    let mut g = rdf::Graph::new();
    dcat::catalog(&mut g, &site, publisher, &datasets, &paging);
    Ok(syntax.respond(&g))
}

async fn catalog_ttl(s: State<AppState>, h: HeaderMap, q: Query<HashMap<String, String>>) -> AppResult<Response> {
    catalog(s, h, q, Syntax::Turtle).await
}

async fn catalog_jsonld(s: State<AppState>, h: HeaderMap, q: Query<HashMap<String, String>>) -> AppResult<Response> {
    catalog(s, h, q, Syntax::JsonLd).await
}

async fn catalog_rdf(s: State<AppState>, h: HeaderMap, q: Query<HashMap<String, String>>) -> AppResult<Response> {
    catalog(s, h, q, Syntax::RdfXml).await
}

/// `GET /catalog`: the catalogue's identifier. RDF clients get the first page in the syntax
/// they ask for; everyone else goes to the catalogue page.
async fn catalog_negotiated(
    state: State<AppState>,
    headers: HeaderMap,
    q: Query<HashMap<String, String>>,
) -> AppResult<Response> {
    match Syntax::negotiate(&headers) {
        Some(s) => Ok(vary_accept(catalog(state, headers, q, s).await?)),
        None => Ok(vary_accept(Redirect::to("/catalogue").into_response())),
    }
}

/// `GET /dataset/{name}` is the dataset's page, or its DCAT description when the name ends in
/// `.ttl`, `.jsonld` or `.rdf` or the client asks for RDF.
async fn dataset(
    State(app): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Path(name): Path<String>,
    query: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> AppResult<Response> {
    if let Some((stem, syntax)) = Syntax::split(&name) {
        return dataset_rdf(&app, &headers, stem, syntax).await;
    }
    let resp = match Syntax::negotiate(&headers) {
        Some(syntax) => dataset_rdf(&app, &headers, &name, syntax).await?,
        None => crate::web::catalogue::dataset(State(app), ctx, Path(name), query).await?,
    };
    Ok(vary_accept(resp))
}

async fn dataset_rdf(app: &AppState, headers: &HeaderMap, name: &str, syntax: Syntax) -> AppResult<Response> {
    let p = published::by_name(&app.store, name).await?;
    let regions = region_names(app, std::slice::from_ref(&p)).await?;
    let base = base_url(app, headers);
    let site = Site {
        base: &base,
        regions: &regions,
    };
    let mut g = rdf::Graph::new();
    dcat::dataset(&mut g, &site, &p);
    Ok(syntax.respond(&g))
}

/// `GET /dataset/{name}/datapackage.json`: the Frictionless data package of the resource's
/// loaded files; not found when it has none (a package needs at least one resource).
async fn data_package(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> AppResult<Response> {
    let p = published::by_name(&app.store, &name).await?;
    let mut tables = Vec::new();
    for d in p.dists.iter().filter(|d| downloads::is_downloadable(d)) {
        let columns = downloads::columns(&app.store, d).await?;
        if !columns.is_empty() {
            tables.push((d.clone(), columns));
        }
    }
    if tables.is_empty() {
        return Err(DomainError::NotFound { what: "datastore" }.into());
    }
    let regions = HashMap::new();
    let base = base_url(&app, &headers);
    let site = Site {
        base: &base,
        regions: &regions,
    };
    Ok(Json(datapackage::package(&site, &p, &tables)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn browsers_get_pages_and_harvesters_rdf() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(Syntax::negotiate(&accept(browser)), None);
        assert_eq!(Syntax::negotiate(&accept("*/*")), None);
        assert_eq!(Syntax::negotiate(&accept("text/turtle")), Some(Syntax::Turtle));
        assert_eq!(
            Syntax::negotiate(&accept("application/ld+json;q=0.5, application/rdf+xml")),
            Some(Syntax::RdfXml)
        );
        assert_eq!(
            Syntax::negotiate(&accept("text/turtle;q=0.9, */*;q=0.1")),
            Some(Syntax::Turtle)
        );
        assert_eq!(Syntax::negotiate(&accept("text/html, text/turtle")), None);
        assert_eq!(Syntax::negotiate(&HeaderMap::new()), None);
        assert_eq!(Syntax::split("a-1.ttl"), Some(("a-1", Syntax::Turtle)));
        assert_eq!(Syntax::split("a-1.jsonld"), Some(("a-1", Syntax::JsonLd)));
        assert_eq!(Syntax::split("a-1rdf"), None);
        assert_eq!(Syntax::split("a-1"), None);
    }
}
