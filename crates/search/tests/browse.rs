//! Facet counts, filters, sort orders and paging: what the catalogue's list page relies on.

mod common;

use std::collections::HashMap;

use common::{catalogue, catalogue_index, ids};
use pubdata_search::{Doc, Facet, Query, Results, Sort};

fn run(index: &pubdata_search::Index, query: Query) -> Results {
    index.search(&query).unwrap_or_else(|e| panic!("{query:?}: {e}"))
}

fn values(doc: &Doc, facet: Facet) -> Vec<String> {
    let one = |v: &String| if v.is_empty() { vec![] } else { vec![v.clone()] };
    let mut all = match facet {
        Facet::Provider => one(&doc.provider_key),
        Facet::Domain => one(&doc.domain),
        Facet::OpenType => one(&doc.open_type),
        Facet::Format => doc.formats.clone(),
        Facet::UpdateFrequency => one(&doc.update_frequency),
        Facet::Region => one(&doc.region),
        Facet::Tag => doc.tags.clone(),
        Facet::Licence => one(&doc.licence),
    };
    all.dedup();
    all
}

/// The counts a facet should show over `docs`, computed the slow way.
fn expected_counts(docs: &[&Doc], facet: Facet, limit: usize) -> Vec<(String, u64)> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for doc in docs {
        for value in values(doc, facet) {
            *counts.entry(value).or_default() += 1;
        }
    }
    let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts.truncate(limit);
    counts
}

#[test]
fn facet_counts_are_exact_over_all_documents() {
    let docs = catalogue();
    let index = catalogue_index();
    let found = run(
        &index,
        Query {
            facets: Facet::ALL.to_vec(),
            facet_limit: 100,
            ..Query::default()
        },
    );
    assert_eq!(found.total, docs.len());
    let all: Vec<&Doc> = docs.iter().collect();
    for counts in &found.facets {
        assert_eq!(
            counts.values,
            expected_counts(&all, counts.facet, 100),
            "{:?}",
            counts.facet
        );
    }
    assert_eq!(found.facets.len(), Facet::ALL.len());
    // A spot check a person can read: 7 government documents, then 6 on the environment.
    let domain = &found
        .facets
        .iter()
        .find(|c| c.facet == Facet::Domain)
        .expect("domain counts")
        .values;
    assert_eq!(
        domain[..2],
        [("government".to_string(), 7), ("environment".to_string(), 6)]
    );
}

#[test]
fn facet_counts_follow_the_query_and_the_limit() {
    let docs = catalogue();
    let index = catalogue_index();
    let found = run(
        &index,
        Query {
            text: "公积金".into(),
            facets: vec![Facet::Provider, Facet::Format, Facet::Tag],
            facet_limit: 2,
            ..Query::default()
        },
    );
    let matching: Vec<&Doc> = docs.iter().filter(|d| d.id == 1 || d.id == 2).collect();
    assert_eq!(found.total, 2);
    assert_eq!(found.facets[0].values, vec![("cdgjj".to_string(), 2)]);
    assert_eq!(found.facets[1].values, expected_counts(&matching, Facet::Format, 2));
    assert_eq!(
        found.facets[1].values,
        vec![("CSV".to_string(), 2), ("XLSX".to_string(), 1)]
    );
    assert_eq!(
        found.facets[2].values,
        vec![("公积金".to_string(), 2), ("住房保障".to_string(), 1)]
    );
}

#[test]
fn filters_or_within_a_facet_and_across_facets() {
    let docs = catalogue();
    let index = catalogue_index();
    let expect = |keep: &dyn Fn(&Doc) -> bool| -> Vec<i64> {
        let mut ids: Vec<i64> = docs.iter().filter(|d| keep(d)).map(|d| d.id).collect();
        ids.sort();
        ids
    };
    let got = |filters: Vec<(Facet, &str)>| -> Vec<i64> {
        let found = run(
            &index,
            Query {
                filters: filters.into_iter().map(|(f, v)| (f, v.to_string())).collect(),
                limit: 100,
                ..Query::default()
            },
        );
        let mut ids = ids(&found);
        ids.sort();
        assert_eq!(found.total, ids.len());
        ids
    };
    let health_or_housing = got(vec![(Facet::Domain, "health"), (Facet::Domain, "housing")]);
    assert_eq!(
        health_or_housing,
        expect(&|d| d.domain == "health" || d.domain == "housing")
    );
    assert_eq!(health_or_housing.len(), 7);

    let and_csv = got(vec![
        (Facet::Domain, "health"),
        (Facet::Domain, "housing"),
        (Facet::Format, "XLSX"),
    ]);
    assert_eq!(
        and_csv,
        expect(&|d| (d.domain == "health" || d.domain == "housing") && d.formats.iter().any(|f| f == "XLSX"))
    );
    assert_eq!(and_csv, vec![1, 7, 23]);

    assert_eq!(got(vec![(Facet::Tag, "双公示")]), vec![16, 17]);
    assert!(got(vec![(Facet::Domain, "nonexistent")]).is_empty());

    // Filters narrow a text search too, and the facet counts with it.
    let found = run(
        &index,
        Query {
            text: "名录".into(),
            filters: vec![(Facet::Provider, "scmzt".into())],
            facets: vec![Facet::Provider],
            ..Query::default()
        },
    );
    let mut got_ids = ids(&found);
    got_ids.sort();
    assert_eq!(got_ids, vec![4, 5, 21]);
    assert_eq!(found.facets[0].values, vec![("scmzt".to_string(), 3)]);
}

fn order(index: &pubdata_search::Index, sort: Sort, text: &str) -> Vec<i64> {
    ids(&run(
        index,
        Query {
            text: text.into(),
            sort,
            limit: 100,
            ..Query::default()
        },
    ))
}

#[test]
fn each_sort_orders_as_documented_with_ties_by_id() {
    let docs = catalogue();
    let index = catalogue_index();
    let sorted = |key: &dyn Fn(&Doc) -> i128| -> Vec<i64> {
        let mut d: Vec<&Doc> = docs.iter().collect();
        d.sort_by_key(|d| (key(d), d.id));
        d.iter().map(|d| d.id).collect()
    };
    assert_eq!(
        order(&index, Sort::Relevance, ""),
        sorted(&|d| -i128::from(d.published_at))
    );
    assert_eq!(order(&index, Sort::Updated, ""), sorted(&|d| -i128::from(d.updated_at)));
    let by_downloads = order(&index, Sort::Downloads, "");
    assert_eq!(by_downloads, sorted(&|d| -i128::from(d.downloads)));
    // 13 and 14 both have 1800 downloads; 27..30 have 300: ties go by id.
    assert!(by_downloads.windows(2).any(|w| w == [13, 14]));
    assert!(by_downloads.windows(4).any(|w| w == [27, 28, 29, 30]));

    // By name, Chinese titles go by pinyin: 成都 (cheng) < 公积金 (gong) < 行政 (xing) < 中小学 (zhong).
    let by_name = order(&index, Sort::Name, "");
    let at = |id: i64| by_name.iter().position(|&i| i == id).expect("every document");
    assert!(at(11) < at(2) && at(2) < at(16) && at(16) < at(19), "{by_name:?}");
    // 行政处罚 (chu) before 行政区划 (qu) before 行政许可 (xu).
    assert!(at(17) < at(3) && at(3) < at(16), "{by_name:?}");

    // Sorts apply to text searches too.
    let credit = order(&index, Sort::Downloads, "信息");
    let downloads: Vec<u64> = credit
        .iter()
        .map(|id| docs.iter().find(|d| d.id == *id).map_or(0, |d| d.downloads))
        .collect();
    assert!(
        downloads.len() >= 4 && downloads.windows(2).all(|w| w[0] >= w[1]),
        "{downloads:?}"
    );
}

#[test]
fn pages_cover_every_result_once() {
    let index = catalogue_index();
    for sort in [Sort::Relevance, Sort::Updated, Sort::Downloads, Sort::Name] {
        for text in ["", "名录", "信息"] {
            let whole = order(&index, sort, text);
            let mut paged = Vec::new();
            let mut offset = 0;
            loop {
                let page = run(
                    &index,
                    Query {
                        text: text.into(),
                        sort,
                        offset,
                        limit: 4,
                        ..Query::default()
                    },
                );
                assert_eq!(page.total, whole.len());
                if page.hits.is_empty() {
                    break;
                }
                paged.extend(ids(&page));
                offset += 4;
            }
            assert_eq!(paged, whole, "{sort:?} {text:?}");
        }
    }
}

#[test]
fn a_page_past_the_end_is_empty_but_counts() {
    let index = catalogue_index();
    let found = run(
        &index,
        Query {
            offset: 500,
            ..Query::default()
        },
    );
    assert!(found.hits.is_empty());
    assert_eq!(found.total, catalogue().len());
    let counted = run(
        &index,
        Query {
            limit: 0,
            facets: vec![Facet::Domain],
            ..Query::default()
        },
    );
    assert!(counted.hits.is_empty());
    assert_eq!(counted.total, catalogue().len());
    assert!(!counted.facets[0].values.is_empty());
}
