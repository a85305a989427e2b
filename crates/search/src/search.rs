//! Runs a [`Query`]: the tantivy query, one collecting pass, then the page's hits with highlights
//! and the facet values in their order.

use std::collections::HashMap;

use tantivy::query::{AllQuery, BooleanQuery, Occur, Query as TQuery};
use tantivy::schema::Value;
use tantivy::{Searcher, TantivyDocument};

use crate::collect::{Order, Ranked, SearchCollector};
use crate::highlight;
use crate::index::Shared;
use crate::query::{self, Marks};
use crate::{Facet, FacetCounts, Hit, Query, Result, Results, SearchError};

/// Most hits one page may ask for.
pub const MAX_LIMIT: usize = 1000;
/// Deepest result reachable by paging (`offset + limit`).
pub const MAX_WINDOW: usize = 100_000;

impl Shared {
    pub fn search(&self, q: &Query) -> Result<Results> {
        check_page(q)?;
        let (text, marks) = query::text_query(&self.fields, &q.text)?;
        let has_text = text.is_some();
        let filters = query::filter_query(&self.fields, &q.filters);
        let tantivy_query: Box<dyn TQuery> = match (text, filters) {
            (None, None) => Box::new(AllQuery),
            (Some(one), None) | (None, Some(one)) => one,
            (Some(text), Some(filters)) => {
                Box::new(BooleanQuery::new(vec![(Occur::Must, text), (Occur::Must, filters)]))
            }
        };
        let mut facets: Vec<Facet> = Vec::new();
        for facet in &q.facets {
            if !facets.contains(facet) {
                facets.push(*facet);
            }
        }
        let collector = SearchCollector {
            order: Order::of(q.sort, has_text),
            top: q.offset + q.limit,
            facets: facets.clone(),
        };
        let searcher = self.reader.searcher();
        let found = searcher
            .search(&*tantivy_query, &collector)
            .map_err(|e| SearchError::Index(format!("search failed: {e}")))?;
        let hits = found
            .top
            .iter()
            .skip(q.offset)
            .map(|ranked| self.hit(&searcher, ranked, &marks))
            .collect::<Result<Vec<_>>>()?;
        let facets = facets
            .into_iter()
            .zip(found.facets)
            .map(|(facet, counts)| FacetCounts {
                facet,
                values: most_frequent(counts, q.facet_limit),
            })
            .collect();
        Ok(Results {
            total: usize::try_from(found.total).unwrap_or(usize::MAX),
            hits,
            facets,
        })
    }

    fn hit(&self, searcher: &Searcher, ranked: &Ranked, marks: &Marks) -> Result<Hit> {
        let doc: TantivyDocument = searcher
            .doc(ranked.address)
            .map_err(|e| SearchError::Index(format!("cannot read a found document: {e}")))?;
        let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("");
        let facet = |facet| text(self.fields.facet(facet)).to_string();
        let all = |facet| {
            doc.get_all(self.fields.facet(facet))
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        Ok(Hit {
            id: ranked.id,
            code: text(self.fields.code).to_string(),
            score: ranked.score,
            title: text(self.fields.title).to_string(),
            provider: text(self.fields.provider).to_string(),
            provider_key: facet(Facet::Provider),
            domain: facet(Facet::Domain),
            open_type: facet(Facet::OpenType),
            update_frequency: facet(Facet::UpdateFrequency),
            formats: all(Facet::Format),
            tags: all(Facet::Tag),
            row_count: doc.get_first(self.fields.row_count).and_then(|v| v.as_i64()),
            updated_at: doc
                .get_first(self.fields.updated_at)
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
            title_html: highlight::title_html(text(self.fields.title), marks),
            snippet_html: highlight::snippet_html(text(self.fields.summary), marks),
        })
    }
}

fn check_page(q: &Query) -> Result<()> {
    if q.limit > MAX_LIMIT {
        return Err(SearchError::Query(format!(
            "a page holds at most {MAX_LIMIT} results; ask for fewer"
        )));
    }
    if q.offset.saturating_add(q.limit) > MAX_WINDOW {
        return Err(SearchError::Query(format!(
            "results beyond the first {MAX_WINDOW} cannot be paged to; narrow the search with filters"
        )));
    }
    Ok(())
}

/// Values by count, most frequent first, then by value; at most `limit`.
fn most_frequent(counts: HashMap<String, u64>, limit: usize) -> Vec<(String, u64)> {
    let mut values: Vec<(String, u64)> = counts.into_iter().collect();
    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    values.truncate(limit);
    values
}
