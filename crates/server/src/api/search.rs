//! `/api/v1/search`: the catalogue search with facets, and the parameter reading the search
//! pages share with it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query as QueryParams, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use pubdata_core::{DomainError, FieldError};
use pubdata_search::{Facet, Query, Sort};
use pubdata_service::published;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::ErrorBody;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::i18n::{has, t, Lang};
use crate::AppState;

/// The most results one request returns.
pub const MAX_LIMIT: usize = 100;
/// How deep paging may go: past this, narrow the search instead.
pub const MAX_OFFSET: usize = 10_000;
/// The longest search text accepted.
pub const MAX_TEXT: usize = 200;

fn invalid(field: &str, code: &str) -> FieldError {
    FieldError::new(field, code)
}

/// Reads a search from query parameters: `q`, one parameter per facet filter (repeatable:
/// `domain=jjjs&domain=whxx`), `sort`, `offset`/`limit` or `page`, and `facets` (which facets to
/// count, comma-separated; all by default). Every problem is reported, none ignored silently.
pub fn parse(params: &[(String, String)], page_size: usize) -> Result<Query, DomainError> {
    let mut q = Query {
        limit: page_size,
        facets: Facet::ALL.to_vec(),
        ..Query::default()
    };
    let mut errors = Vec::new();
    let mut page: Option<usize> = None;
    let number = |k: &str, v: &str, errors: &mut Vec<FieldError>| match v.trim().parse::<usize>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(invalid(k, "number"));
            None
        }
    };
    for (k, v) in params {
        match k.as_str() {
            "q" => {
                if v.chars().count() > MAX_TEXT {
                    errors.push(invalid("q", "length").with("min", 0).with("max", MAX_TEXT));
                }
                q.text = v.trim().to_string();
            }
            "sort" => match Sort::parse(v.trim()) {
                Some(s) => q.sort = s,
                None if v.trim().is_empty() => {}
                None => errors.push(invalid("sort", "search_sort")),
            },
            "offset" => q.offset = number(k, v, &mut errors).unwrap_or(0),
            "limit" => q.limit = number(k, v, &mut errors).unwrap_or(page_size),
            "page" => page = number(k, v, &mut errors),
            "facet_limit" => q.facet_limit = number(k, v, &mut errors).unwrap_or(q.facet_limit),
            "facets" => {
                q.facets.clear();
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match Facet::parse(name) {
                        Some(f) if !q.facets.contains(&f) => q.facets.push(f),
                        Some(_) => {}
                        None => errors.push(invalid("facets", "search_facet").with("name", name)),
                    }
                }
            }
            "lang" => {}
            name => match Facet::parse(name) {
                Some(f) => {
                    let v = v.trim();
                    if v.chars().count() > 100 {
                        errors.push(invalid(name, "length").with("min", 1).with("max", 100));
                    } else if !v.is_empty() && !q.filters.iter().any(|(g, w)| *g == f && w == v) {
                        q.filters.push((f, v.to_string()));
                    }
                }
                None => errors.push(invalid(name, "search_parameter")),
            },
        }
    }
    if !(1..=MAX_LIMIT).contains(&q.limit) {
        errors.push(invalid("limit", "range").with("min", 1).with("max", MAX_LIMIT));
    }
    if !(1..=100).contains(&q.facet_limit) {
        errors.push(invalid("facet_limit", "range").with("min", 1).with("max", 100));
    }
    if let Some(p) = page {
        if p == 0 {
            errors.push(
                invalid("page", "range")
                    .with("min", 1)
                    .with("max", MAX_OFFSET / page_size.max(1)),
            );
        } else {
            q.offset = (p - 1).saturating_mul(q.limit);
        }
    }
    if q.offset > MAX_OFFSET {
        errors.push(invalid("offset", "search_offset").with("max", MAX_OFFSET));
    }
    if errors.is_empty() {
        Ok(q)
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// A facet value with its name in the reader's language.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacetValue {
    pub value: String,
    pub label: String,
    pub count: u64,
    /// Whether the search is filtered by this value.
    pub selected: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacetDto {
    /// provider, domain, open_type, format, update_frequency, region, tag or licence.
    pub facet: String,
    pub values: Vec<FacetValue>,
}

/// One found resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchHit {
    pub id: i64,
    /// 资源代码
    pub code: String,
    /// The public name in URLs (`/dataset/{name}`) and CKAN: the code in lower case.
    pub name: String,
    pub title: String,
    /// The title, HTML-escaped, matched words in `<mark>`.
    pub title_html: String,
    /// A part of the summary, HTML-escaped, matched words in `<mark>`.
    pub snippet_html: String,
    pub provider: String,
    pub provider_key: String,
    pub domain: String,
    pub open_type: String,
    pub update_frequency: String,
    pub formats: Vec<String>,
    pub tags: Vec<String>,
    pub row_count: Option<i64>,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResults {
    /// Matching resources, all pages together.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub sort: String,
    pub results: Vec<SearchHit>,
    pub facets: Vec<FacetDto>,
}

/// Names of facet values: providers, domains, open types, frequencies and regions.
async fn labels(
    app: &AppState,
    lang: Lang,
    facets: &[pubdata_search::FacetCounts],
) -> AppResult<HashMap<(Facet, String), String>> {
    let mut out = HashMap::new();
    let term = |prefix: &str, key: &str| {
        let k = format!("{prefix}.{key}");
        has(lang, &k).then(|| t(lang, &k, &[]))
    };
    let mut regions = Vec::new();
    let mut need_orgs = false;
    for fc in facets {
        for (v, _) in &fc.values {
            let label = match fc.facet {
                Facet::Domain => term("domain", v),
                Facet::OpenType => term("open_type", v),
                Facet::UpdateFrequency => term("frequency", v),
                Facet::Region => {
                    regions.push(v.clone());
                    None
                }
                Facet::Provider => {
                    need_orgs = true;
                    None
                }
                _ => None,
            };
            if let Some(l) = label {
                out.insert((fc.facet, v.clone()), l);
            }
        }
    }
    if need_orgs {
        for (key, name) in app.search_cache.provider_names(&app.store).await?.iter() {
            out.insert((Facet::Provider, key.clone()), name.clone());
        }
    }
    for (code, name) in app.search_cache.region_names(&app.store, &regions).await? {
        out.insert((Facet::Region, code), name);
    }
    Ok(out)
}

/// Runs the search and assembles what pages and the API show of it. Everything a result shows
/// comes from the index; the same search under the same index generation is answered from
/// [`SearchCache`].
pub async fn run(app: &AppState, lang: Lang, query: &Query) -> AppResult<Arc<SearchResults>> {
    Ok(cached(app, lang, query).await?.results.clone())
}

/// [`run`], with the JSON of the results kept beside them.
async fn cached(app: &AppState, lang: Lang, query: &Query) -> AppResult<Arc<Cached>> {
    let generation = app.search.generation();
    let key = format!("{}|{query:?}", lang.code());
    if let Some(hit) = app.search_cache.get(&key, generation) {
        return Ok(hit);
    }
    let index = app.search.clone();
    let q = query.clone();
    // Matching, counting and highlighting are CPU work: off the async threads.
    let found = tokio::task::spawn_blocking(move || pubdata_service::catalogue::search(&index, &q))
        .await
        .map_err(|e| pubdata_service::StoreError::Other(format!("search task failed: {e}")))??;
    // A resource withdrawn since the index last caught up is left out.
    let ids: Vec<i64> = found.hits.iter().map(|h| h.id).collect();
    let published: HashSet<i64> = app.store.published_among(&ids).await?.into_iter().collect();
    let results = found
        .hits
        .into_iter()
        .filter(|h| published.contains(&h.id))
        .map(|h| SearchHit {
            id: h.id,
            name: published::name_of(&h.code),
            code: h.code,
            title: h.title,
            title_html: h.title_html,
            snippet_html: h.snippet_html,
            provider: h.provider,
            provider_key: h.provider_key,
            domain: h.domain,
            open_type: h.open_type,
            update_frequency: h.update_frequency,
            formats: h.formats,
            tags: h.tags,
            row_count: h.row_count,
            updated_at: h.updated_at,
            score: h.score,
        })
        .collect();
    let names = labels(app, lang, &found.facets).await?;
    let facets = found
        .facets
        .iter()
        .map(|fc| FacetDto {
            facet: fc.facet.as_str().to_string(),
            values: fc
                .values
                .iter()
                .map(|(v, n)| FacetValue {
                    label: names.get(&(fc.facet, v.clone())).cloned().unwrap_or_else(|| v.clone()),
                    selected: query.filters.iter().any(|(f, w)| *f == fc.facet && w == v),
                    value: v.clone(),
                    count: *n,
                })
                .collect(),
        })
        .collect();
    let results = Arc::new(SearchResults {
        total: found.total,
        offset: query.offset,
        limit: query.limit,
        sort: query.sort.as_str().to_string(),
        results,
        facets,
    });
    let json = serde_json::to_vec(&*results)
        .map(Bytes::from)
        .map_err(|e| pubdata_service::StoreError::Other(format!("encoding search results: {e}")))?;
    let entry = Arc::new(Cached { results, json });
    app.search_cache.put(key, generation, entry.clone());
    Ok(entry)
}

/// Search parameters (facet filters are named after their facet and may repeat).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchQuery {
    /// Words in Chinese or English, pinyin (`gongjijin`) or its initials (`gjj`); `"…"` for a phrase.
    q: Option<String>,
    /// relevance (default), updated, downloads or name.
    sort: Option<String>,
    /// Results to skip (≤ 10,000).
    offset: Option<usize>,
    /// Results to return (1–100, default 20).
    limit: Option<usize>,
    /// Facets to count, comma-separated (default: all).
    facets: Option<String>,
    /// Values per facet (1–100, default 20).
    facet_limit: Option<usize>,
    /// Only this provider (its key); repeat for any of several.
    provider: Option<String>,
    /// Only this domain key (领域).
    domain: Option<String>,
    /// unconditional or conditional.
    open_type: Option<String>,
    /// CSV, XLSX, JSON, API …
    format: Option<String>,
    update_frequency: Option<String>,
    /// A region code (空间范围).
    region: Option<String>,
    tag: Option<String>,
    licence: Option<String>,
}

/// Searches the published catalogue, with facet counts and highlighted matches.
#[utoipa::path(get, path = "/search", operation_id = "search", tag = "catalogue", params(SearchQuery), security(()),
    responses((status = 200, body = SearchResults, description = "one page of matches with facet counts"),
    (status = 422, body = ErrorBody, description = "a parameter is invalid; the errors name it")))]
pub async fn search(
    State(app): State<AppState>,
    ctx: Ctx,
    QueryParams(params): QueryParams<Vec<(String, String)>>,
) -> AppResult<Response> {
    let query = parse(&params, 20)?;
    let found = cached(&app, ctx.lang, &query).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], found.json.clone()).into_response())
}

/// A search's results and their JSON, as kept in [`SearchCache`].
pub struct Cached {
    pub results: Arc<SearchResults>,
    pub json: Bytes,
}

/// (provider key, name) pairs.
type Names = Arc<Vec<(String, String)>>;

/// What searches reuse: whole results by search and index generation (a popular search is
/// answered without touching the index), provider names for facet labels (read at most every
/// 30 seconds), and region names (the region table changes only on import).
pub struct SearchCache {
    capacity: usize,
    results: Mutex<ResultsCache>,
    providers: tokio::sync::RwLock<Option<(Instant, Names)>>,
    regions: Mutex<HashMap<String, String>>,
}

struct ResultsCache {
    entries: HashMap<String, Entry>,
    /// Counts lookups: the least recently used entries go first when the cache is full.
    tick: u64,
}

struct Entry {
    generation: u64,
    made: Instant,
    used: u64,
    value: Arc<Cached>,
}

impl SearchCache {
    /// Keeps up to `capacity` searches' results (about 20 KB each); 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        SearchCache {
            capacity,
            results: Mutex::new(ResultsCache {
                entries: HashMap::new(),
                tick: 0,
            }),
            providers: Default::default(),
            regions: Default::default(),
        }
    }
    /// A result is reused for at most this long even when the index has not changed, so that
    /// renamed providers and regions show within the same time as the facet labels.
    const RESULTS_FRESH: Duration = Duration::from_secs(30);
    const PROVIDERS_FRESH: Duration = Duration::from_secs(30);
    /// Region names remembered (codes seen in facets, never the whole table).
    const REGION_CAPACITY: usize = 50_000;

    fn get(&self, key: &str, generation: u64) -> Option<Arc<Cached>> {
        let mut cache = self.results.lock().unwrap_or_else(|e| e.into_inner());
        cache.tick += 1;
        let tick = cache.tick;
        let entry = cache.entries.get_mut(key)?;
        if entry.generation != generation || entry.made.elapsed() > Self::RESULTS_FRESH {
            return None;
        }
        entry.used = tick;
        Some(entry.value.clone())
    }

    fn put(&self, key: String, generation: u64, value: Arc<Cached>) {
        if self.capacity == 0 {
            return;
        }
        let mut cache = self.results.lock().unwrap_or_else(|e| e.into_inner());
        if cache.entries.len() >= self.capacity && !cache.entries.contains_key(&key) {
            // Entries of an older generation are of no use any more; then the least recently
            // used quarter.
            cache.entries.retain(|_, e| e.generation == generation);
            if cache.entries.len() >= self.capacity {
                let mut used: Vec<u64> = cache.entries.values().map(|e| e.used).collect();
                used.sort_unstable();
                let cut = used[used.len() / 4];
                cache.entries.retain(|_, e| e.used > cut);
            }
        }
        cache.tick += 1;
        let used = cache.tick;
        cache.entries.insert(
            key,
            Entry {
                generation,
                made: Instant::now(),
                used,
                value,
            },
        );
    }

    pub async fn provider_names(&self, store: &pubdata_service::Store) -> AppResult<Names> {
        if let Some((at, names)) = self.providers.read().await.as_ref() {
            if at.elapsed() < Self::PROVIDERS_FRESH {
                return Ok(names.clone());
            }
        }
        let names: Vec<(String, String)> = store
            .list_orgs(Some(pubdata_core::org::OrgKind::Provider))
            .await?
            .into_iter()
            .map(|o| (published::provider_key(&o), o.name))
            .collect();
        let names = Arc::new(names);
        *self.providers.write().await = Some((Instant::now(), names.clone()));
        Ok(names)
    }

    /// The names of these region codes (those the table has).
    async fn region_names(&self, store: &pubdata_service::Store, codes: &[String]) -> AppResult<Vec<(String, String)>> {
        let missing: Vec<String> = {
            let known = self.regions.lock().unwrap_or_else(|e| e.into_inner());
            codes.iter().filter(|c| !known.contains_key(*c)).cloned().collect()
        };
        let found = store.regions_by_codes(&missing).await?;
        let mut known = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + found.len() > Self::REGION_CAPACITY {
            known.clear();
        }
        for r in found {
            known.insert(r.code, r.name);
        }
        Ok(codes
            .iter()
            .filter_map(|c| known.get(c).map(|n| (c.clone(), n.clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn codes(e: DomainError) -> Vec<(String, String)> {
        match e {
            DomainError::Validation(v) => v.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn reads_text_filters_sort_and_paging() {
        let q = parse(
            &p(&[
                ("q", " 公积金 "),
                ("domain", "ms"),
                ("domain", "jj"),
                ("format", "CSV"),
                ("sort", "updated"),
                ("page", "3"),
            ]),
            20,
        )
        .unwrap();
        assert_eq!(q.text, "公积金");
        assert_eq!(
            q.filters,
            vec![
                (Facet::Domain, "ms".into()),
                (Facet::Domain, "jj".into()),
                (Facet::Format, "CSV".into())
            ]
        );
        assert_eq!((q.sort, q.offset, q.limit), (Sort::Updated, 40, 20));
        assert_eq!(q.facets, Facet::ALL.to_vec());
        let q = parse(&p(&[("facets", "domain, tag"), ("limit", "5"), ("offset", "10")]), 20).unwrap();
        assert_eq!((q.facets, q.limit, q.offset), (vec![Facet::Domain, Facet::Tag], 5, 10));
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let e = parse(
            &p(&[
                ("sort", "price"),
                ("limit", "-1"),
                ("offset", "abc"),
                ("facets", "colour"),
                ("colour", "red"),
                ("page", "0"),
            ]),
            20,
        )
        .unwrap_err();
        let got = codes(e);
        for want in [
            ("sort", "search_sort"),
            ("limit", "number"),
            ("offset", "number"),
            ("facets", "search_facet"),
            ("colour", "search_parameter"),
            ("page", "range"),
        ] {
            assert!(
                got.contains(&(want.0.into(), want.1.into())),
                "{want:?} missing from {got:?}"
            );
        }
        assert_eq!(
            codes(parse(&p(&[("limit", "101")]), 20).unwrap_err()),
            vec![("limit".into(), "range".into())]
        );
        assert_eq!(
            codes(parse(&p(&[("offset", "99999999")]), 20).unwrap_err()),
            vec![("offset".into(), "search_offset".into())]
        );
        assert_eq!(
            codes(parse(&p(&[("q", &"长".repeat(201))]), 20).unwrap_err()),
            vec![("q".into(), "length".into())]
        );
    }
}
