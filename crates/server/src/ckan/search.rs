//! `package_search`: CKAN's Solr-style parameters (`q`, `fq`, `sort`, `rows`, `start`,
//! `facet.*`) read into a search [`Query`], and the results rendered as CKAN renders them.

use std::collections::HashMap;

use pubdata_core::metadata::{DomainList, OpenType, UpdateFrequency};
use pubdata_search::{Facet, Query, Results, Sort, MAX_LIMIT, MAX_WINDOW};
use serde_json::{json, Map, Value};

use super::dicts;
use super::error::CkanError;
use super::params::Params;

/// CKAN's default page size.
pub const DEFAULT_ROWS: i64 = 10;
/// CKAN's default number of values per facet.
pub const DEFAULT_FACET_LIMIT: i64 = 50;
/// The sort CKAN reports when none is given.
pub const DEFAULT_SORT: &str = "score desc, metadata_modified desc";

/// The fields `fq` filters and `facet.field` counts by: CKAN's names first, then pubdata's own.
pub const FIELDS: [(&str, Facet); 8] = [
    ("organization", Facet::Provider),
    ("groups", Facet::Domain),
    ("tags", Facet::Tag),
    ("res_format", Facet::Format),
    ("license_id", Facet::Licence),
    ("open_type", Facet::OpenType),
    ("update_frequency", Facet::UpdateFrequency),
    ("spatial", Facet::Region),
];

/// Solr text fields a `q` may name; their value is searched as text.
const TEXT_FIELDS: [&str; 5] = ["text", "title", "notes", "name", "title_ngram"];

fn facet_of(field: &str) -> Option<Facet> {
    FIELDS.iter().find(|f| f.0 == field).map(|f| f.1)
}

fn field_names() -> String {
    FIELDS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
}

/// A `package_search` as the index takes it, with what the response echoes.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRequest {
    pub query: Query,
    /// The facet fields asked for, by their CKAN names, in order.
    pub facet_fields: Vec<String>,
    /// The sort as given (CKAN echoes it), or the default.
    pub sort: String,
}

/// Reads `package_search`'s parameters. `include_private`, `include_drafts`, `facet.mincount`
/// and parameters it does not know are ignored.
pub fn parse(p: &Params, domains: &DomainList) -> Result<SearchRequest, CkanError> {
    let rows = p.int("rows", DEFAULT_ROWS, 0, MAX_LIMIT as i64)?;
    let max_start = MAX_WINDOW as i64 - rows;
    let start = p.int("start", 0, 0, max_start)?;
    let mut filters = Vec::new();
    let mut seen = Vec::new();
    let text = match p.text("q")? {
        Some(q) => split_q(&q, domains, &mut filters, &mut seen)?,
        None => String::new(),
    };
    if let Some(fq) = p.text("fq")? {
        for clause in tokens(&fq)? {
            filter_clause(&clause, domains, &mut filters, &mut seen)?;
        }
    }
    if let Some(list) = p.list("fq_list")? {
        for fq in list {
            for clause in tokens(&fq)? {
                filter_clause(&clause, domains, &mut filters, &mut seen)?;
            }
        }
    }
    let sort_text = p.text("sort")?;
    let sort = match &sort_text {
        Some(s) => parse_sort(s)?,
        None => Sort::Relevance,
    };
    let facet_fields = if p.flag("facet", true)? {
        p.list("facet.field")?.unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut facets = Vec::new();
    for name in &facet_fields {
        let facet = facet_of(name).ok_or_else(|| {
            CkanError::invalid(
                "facet.field",
                format!("Cannot count by {name:?}; the fields are {}", field_names()),
            )
        })?;
        facets.push(facet);
    }
    let facet_limit = match p.int("facet.limit", DEFAULT_FACET_LIMIT, -1, i64::from(u32::MAX))? {
        -1 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    Ok(SearchRequest {
        query: Query {
            text,
            filters,
            sort,
            offset: start as usize,
            limit: rows as usize,
            facets,
            facet_limit,
        },
        facet_fields,
        sort: sort_text.unwrap_or_else(|| DEFAULT_SORT.to_string()),
    })
}

fn query_error(msg: impl Into<String>) -> CkanError {
    CkanError::SearchQuery(msg.into())
}

/// Splits at white space outside quotes and parentheses, keeping quotes in the tokens.
fn tokens(s: &str) -> Result<Vec<String>, CkanError> {
    Ok(pubdata_core::ckan_params::solr_tokens(s)?)
}

use pubdata_core::ckan_params::solr_unquote as unquote;

/// The values of `field:value`, `field:"a value"` or `field:(a OR "b c")`.
fn values(field: &str, v: &str) -> Result<Vec<String>, CkanError> {
    if v.is_empty() {
        return Err(query_error(format!("{field}: has no value")));
    }
    if v.starts_with('[') || v.starts_with('{') {
        return Err(query_error(format!(
            "ranges such as {field}:{v} are not supported; filter by {}",
            field_names()
        )));
    }
    if v == "*" {
        return Err(query_error(format!("{field}:* is not supported; give a value")));
    }
    let Some(inner) = v.strip_prefix('(').and_then(|v| v.strip_suffix(')')) else {
        return Ok(vec![unquote(v)]);
    };
    let mut out = Vec::new();
    let mut expect_value = true;
    for t in tokens(inner)? {
        match (expect_value, t.as_str()) {
            (false, "OR" | "||") => expect_value = true,
            (true, "OR" | "||" | "AND" | "&&" | "NOT") | (false, _) => {
                return Err(query_error(format!(
                    "{field}:({inner}) must list values joined by OR, e.g. {field}:(a OR b)"
                )))
            }
            (true, value) => {
                out.push(unquote(value));
                expect_value = false;
            }
        }
    }
    if expect_value {
        return Err(query_error(format!("{field}:({inner}) ends without a value")));
    }
    Ok(out)
}

/// A value as the index holds it: provider keys in lower case, formats in upper case, a
/// 领域, 开放属性 or 更新周期 by its key (its Chinese name is accepted too).
fn normalise(facet: Facet, field: &str, v: &str, domains: &DomainList) -> Result<String, CkanError> {
    let unknown = |what: &str| query_error(format!("{field}:{v:?} is not a known {what}"));
    Ok(match facet {
        Facet::Provider => v.to_ascii_lowercase(),
        Facet::Format => v.to_ascii_uppercase(),
        Facet::Domain => domains.parse(v).ok_or_else(|| unknown("group"))?.key().to_string(),
        Facet::OpenType => OpenType::parse(v)
            .ok_or_else(|| unknown("open type"))?
            .as_str()
            .to_string(),
        Facet::UpdateFrequency => UpdateFrequency::parse(v)
            .ok_or_else(|| unknown("update frequency"))?
            .as_str()
            .to_string(),
        Facet::Tag | Facet::Licence | Facet::Region => v.to_string(),
    })
}

/// One `fq` clause: `field:value`, optionally with `+`; `AND` between clauses is implied.
fn filter_clause(
    clause: &str,
    domains: &DomainList,
    filters: &mut Vec<(Facet, String)>,
    seen: &mut Vec<Facet>,
) -> Result<(), CkanError> {
    let clause = clause.strip_prefix('+').unwrap_or(clause);
    match clause {
        "AND" | "&&" | "" => return Ok(()),
        "OR" | "||" | "NOT" => {
            return Err(query_error(format!(
                "{clause} between clauses is not supported; every clause must hold (to accept \
                 several values of one field write field:(a OR b))"
            )))
        }
        _ => {}
    }
    if clause.starts_with('-') || clause.starts_with('!') {
        return Err(query_error(format!(
            "excluding clauses such as {clause} is not supported"
        )));
    }
    let Some((field, value)) = clause.split_once(':') else {
        return Err(query_error(format!("{clause:?} is not field:value")));
    };
    let facet = facet_of(field)
        .ok_or_else(|| query_error(format!("cannot filter by {field:?}; filter by {}", field_names())))?;
    if seen.contains(&facet) {
        return Err(query_error(format!(
            "{field} is filtered twice; a dataset must match all clauses but pubdata can only \
             match any of several values of one field: write {field}:(a OR b)"
        )));
    }
    seen.push(facet);
    for v in values(field, value)? {
        filters.push((facet, normalise(facet, field, &v, domains)?));
    }
    Ok(())
}

/// The free text of `q`; `field:value` terms for filter fields become filters, Solr text
/// fields (`title:…`) are searched as text, and `*:*` matches everything.
fn split_q(
    q: &str,
    domains: &DomainList,
    filters: &mut Vec<(Facet, String)>,
    seen: &mut Vec<Facet>,
) -> Result<String, CkanError> {
    let Ok(parts) = tokens(q) else {
        return Ok(q.trim().to_string());
    };
    let mut text = Vec::new();
    for t in parts {
        if t == "*:*" || t == "*" {
            continue;
        }
        let plain = t.strip_prefix('+').unwrap_or(&t);
        match plain.split_once(':') {
            Some((field, _)) if facet_of(field).is_some() => filter_clause(plain, domains, filters, seen)?,
            Some((field, value)) if TEXT_FIELDS.contains(&field) => text.push(value.to_string()),
            _ => text.push(t),
        }
    }
    Ok(text.join(" "))
}

/// CKAN's sorts, as far as the index can order: relevance, last modified, title, popularity.
fn parse_sort(s: &str) -> Result<Sort, CkanError> {
    let parts: Vec<String> = s
        .split(',')
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(match parts[..] {
        [] | ["score desc"] | ["score desc", "metadata_modified desc"] | ["rank desc"] => Sort::Relevance,
        ["metadata_modified desc"] | ["metadata_modified desc", "score desc"] => Sort::Updated,
        ["name asc"] | ["title_string asc"] | ["title asc"] | ["id asc"] => Sort::Name,
        ["views_recent desc"] | ["views_total desc"] | ["downloads desc"] => Sort::Downloads,
        _ => {
            return Err(query_error(format!(
                "cannot sort by {s:?}; use \"score desc, metadata_modified desc\", \
                 \"metadata_modified desc\", \"name asc\", \"title_string asc\" or \"views_recent desc\""
            )))
        }
    })
}

/// How a facet value is shown: organisations by name, groups and pubdata's vocabularies by
/// their Chinese names, licences by title.
fn display_name(facet: Facet, value: &str, orgs: &HashMap<String, String>, domains: &DomainList) -> String {
    let shown = match facet {
        Facet::Provider => orgs.get(value).cloned(),
        Facet::Domain => domains.parse(value).and_then(|d| domains.name(&d).map(str::to_string)),
        Facet::Licence => Some(dicts::licence(value).0),
        Facet::OpenType => OpenType::parse(value).map(|t| t.name_zh().to_string()),
        Facet::UpdateFrequency => UpdateFrequency::parse(value).map(|f| f.name_zh().to_string()),
        Facet::Tag | Facet::Format | Facet::Region => None,
    };
    shown.unwrap_or_else(|| value.to_string())
}

/// `facets` ({field: {value: count}}) and `search_facets` ({field: {title, items}}), in the
/// order the fields were asked for. `orgs` maps provider keys to names.
pub fn render_facets(
    req: &SearchRequest,
    results: &Results,
    orgs: &HashMap<String, String>,
    domains: &DomainList,
) -> (Value, Value) {
    let (mut facets, mut search_facets) = (Map::new(), Map::new());
    for field in &req.facet_fields {
        let Some(facet) = facet_of(field) else { continue };
        let values = results
            .facets
            .iter()
            .find(|c| c.facet == facet)
            .map(|c| c.values.as_slice())
            .unwrap_or_default();
        let counts: Map<String, Value> = values.iter().map(|(v, n)| (v.clone(), json!(n))).collect();
        let items: Vec<Value> = values
            .iter()
            .map(|(v, n)| json!({"name": v, "display_name": display_name(facet, v, orgs, domains), "count": n}))
            .collect();
        facets.insert(field.clone(), Value::Object(counts));
        search_facets.insert(field.clone(), json!({"title": field, "items": items}));
    }
    (Value::Object(facets), Value::Object(search_facets))
}

#[cfg(test)]
mod tests {
    use pubdata_search::FacetCounts;

    use super::*;

    fn params(v: Value) -> Params {
        Params::from_body("application/json", v.to_string().as_bytes()).unwrap()
    }

    fn parsed(v: Value) -> SearchRequest {
        parse(&params(v), &DomainList::standard()).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn error(v: Value) -> CkanError {
        parse(&params(v.clone()), &DomainList::standard()).expect_err(&v.to_string())
    }

    #[test]
    fn defaults_are_ckans() {
        let r = parsed(json!({}));
        assert_eq!(
            r,
            SearchRequest {
                query: Query {
                    text: String::new(),
                    filters: vec![],
                    sort: Sort::Relevance,
                    offset: 0,
                    limit: 10,
                    facets: vec![],
                    facet_limit: 50,
                },
                facet_fields: vec![],
                sort: DEFAULT_SORT.into(),
            }
        );
        let r = parsed(json!({"q": "*:*", "rows": "1000", "start": "20", "include_private": true, "whatever": 1}));
        assert_eq!((r.query.text.as_str(), r.query.limit, r.query.offset), ("", 1000, 20));
    }

    #[test]
    fn q_keeps_chinese_text_and_phrases_and_lifts_filters() {
        assert_eq!(parsed(json!({"q": "乡镇 街道"})).query.text, "乡镇 街道");
        assert_eq!(parsed(json!({"q": "\"统计用 区划\""})).query.text, "\"统计用 区划\"");
        let r = parsed(json!({"q": "title:区划 tags:\"行政 区划\" 街道"}));
        assert_eq!(r.query.text, "区划 街道");
        assert_eq!(r.query.filters, vec![(Facet::Tag, "行政 区划".to_string())]);
        assert_eq!(parsed(json!({"q": "unclosed \"quote"})).query.text, "unclosed \"quote");
        assert_eq!(parsed(json!({"q": "http://x.cn/a"})).query.text, "http://x.cn/a");
    }

    #[test]
    fn fq_clauses_map_to_facet_filters() {
        let r = parsed(
            json!({"fq": "organization:\"008693034\" +tags:区划 AND res_format:csv groups:道路交通 license_id:cc-by-4.0"}),
        );
        assert_eq!(
            r.query.filters,
            vec![
                (Facet::Provider, "008693034".to_string()),
                (Facet::Tag, "区划".to_string()),
                (Facet::Format, "CSV".to_string()),
                (Facet::Domain, "transport".to_string()),
                (Facet::Licence, "cc-by-4.0".to_string()),
            ]
        );
        let r = parsed(json!({"fq": "tags:(区划 OR \"行政 区划\") open_type:无条件开放 update_frequency:yearly"}));
        assert_eq!(
            r.query.filters,
            vec![
                (Facet::Tag, "区划".to_string()),
                (Facet::Tag, "行政 区划".to_string()),
                (Facet::OpenType, "unconditional".to_string()),
                (Facet::UpdateFrequency, "yearly".to_string()),
            ]
        );
        let r = parsed(json!({"fq": "groups:transport", "fq_list": ["organization:abc"]}));
        assert_eq!(r.query.filters.len(), 2);
    }

    #[test]
    fn malformed_fq_is_a_search_query_error_that_says_why() {
        let cases = [
            ("organization:\"abc", "not closed"),
            ("tags:(a OR b", "not closed"),
            ("tags:a)", "unbalanced"),
            ("nocolon", "is not field:value"),
            ("author:x", "cannot filter by \"author\""),
            ("metadata_modified:[2024-01-01T00:00:00Z TO *]", "cannot filter by"),
            ("tags:[a TO b]", "ranges"),
            ("tags:", "has no value"),
            ("tags:*", "give a value"),
            ("-tags:a", "excluding"),
            ("tags:a OR tags:b", "OR between clauses"),
            ("tags:a tags:b", "filtered twice"),
            ("tags:(a AND b)", "joined by OR"),
            ("tags:(a OR)", "ends without a value"),
            ("groups:nowhere", "not a known group"),
            ("open_type:sometimes", "not a known open type"),
        ];
        for (fq, why) in cases {
            match error(json!({ "fq": fq })) {
                CkanError::SearchQuery(m) => assert!(m.contains(why), "{fq}: {m}"),
                other => panic!("{fq}: {other:?}"),
            }
        }
    }

    #[test]
    fn sorts_map_to_the_index_orders() {
        let sort = |s: &str| parsed(json!({ "sort": s })).query.sort;
        assert_eq!(sort("score desc, metadata_modified desc"), Sort::Relevance);
        assert_eq!(sort("  Score  DESC ,metadata_modified desc "), Sort::Relevance);
        assert_eq!(sort("metadata_modified desc"), Sort::Updated);
        assert_eq!(sort("name asc"), Sort::Name);
        assert_eq!(sort("title_string asc"), Sort::Name);
        assert_eq!(sort("id asc"), Sort::Name);
        assert_eq!(sort("views_recent desc"), Sort::Downloads);
        assert_eq!(parsed(json!({"sort": "name asc"})).sort, "name asc");
        for bad in ["name desc", "metadata_modified asc", "random", "score desc, name asc"] {
            assert!(
                matches!(error(json!({ "sort": bad })), CkanError::SearchQuery(m) if m.contains("cannot sort")),
                "{bad}"
            );
        }
    }

    #[test]
    fn paging_is_checked_with_validation_errors() {
        let field = |v: Value| match error(v) {
            CkanError::Validation(f) => f[0].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(json!({"rows": -1})),
            ("rows".into(), vec!["Must be a natural number".into()])
        );
        assert_eq!(
            field(json!({"rows": "abc"})),
            ("rows".into(), vec!["Invalid integer".into()])
        );
        assert_eq!(
            field(json!({"rows": 5000})),
            ("rows".into(), vec!["Must be at most 1000".into()])
        );
        assert_eq!(field(json!({"start": "-3"})).0, "start");
        assert_eq!(
            field(json!({"start": 99_999_999})),
            ("start".into(), vec!["Must be at most 99990".into()])
        );
        assert_eq!(field(json!({"start": "1e9"})).1, ["Invalid integer"]);
        assert_eq!(parsed(json!({"rows": 0})).query.limit, 0);
    }

    #[test]
    fn facet_fields_come_as_a_json_list_string() {
        let r = parsed(
            json!({"facet.field": "[\"organization\", \"tags\", \"res_format\", \"groups\", \"license_id\"]",
            "facet.limit": "-1"}),
        );
        assert_eq!(
            r.query.facets,
            vec![
                Facet::Provider,
                Facet::Tag,
                Facet::Format,
                Facet::Domain,
                Facet::Licence
            ]
        );
        assert_eq!(r.query.facet_limit, usize::MAX);
        assert_eq!(
            parsed(json!({"facet.field": ["tags"], "facet.limit": 5}))
                .query
                .facet_limit,
            5
        );
        assert!(parsed(json!({"facet.field": ["tags"], "facet": "false"}))
            .query
            .facets
            .is_empty());
        assert!(matches!(error(json!({"facet.field": "[\"author\"]"})),
            CkanError::Validation(f) if f[0].0 == "facet.field" && f[0].1[0].contains("\"author\"")));
        assert!(matches!(
            error(json!({"facet.field": "[tags"})),
            CkanError::Validation(_)
        ));
        assert!(matches!(error(json!({"facet.limit": "-2"})), CkanError::Validation(_)));
    }

    #[test]
    fn facets_render_in_both_ckan_shapes() {
        let req = parsed(json!({"facet.field": ["organization", "groups", "tags"]}));
        let results = Results {
            total: 3,
            hits: vec![],
            facets: vec![
                FacetCounts {
                    facet: Facet::Provider,
                    values: vec![("008693034".into(), 2)],
                },
                FacetCounts {
                    facet: Facet::Domain,
                    values: vec![("transport".into(), 3)],
                },
            ],
        };
        let orgs = HashMap::from([("008693034".to_string(), "四川省交通运输厅".to_string())]);
        let (facets, search_facets) = render_facets(&req, &results, &orgs, &DomainList::standard());
        assert_eq!(
            facets,
            json!({"organization": {"008693034": 2}, "groups": {"transport": 3}, "tags": {}})
        );
        assert_eq!(
            search_facets["organization"],
            json!({"title": "organization", "items": [{"name": "008693034", "display_name": "四川省交通运输厅", "count": 2}]})
        );
        assert_eq!(search_facets["groups"]["items"][0]["display_name"], "道路交通");
        assert_eq!(search_facets["tags"], json!({"title": "tags", "items": []}));
    }
}
