//! One pass over the matching documents: counts them, counts facet values from the fast fields,
//! and keeps the best `offset + limit` in the requested order, ties broken by id.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

use crate::schema;
use crate::{Facet, Sort};

/// The order of results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Order {
    Score,
    Published,
    Updated,
    Downloads,
    Name,
}

impl Order {
    pub fn of(sort: Sort, has_text: bool) -> Order {
        match sort {
            Sort::Relevance if has_text => Order::Score,
            Sort::Relevance => Order::Published,
            Sort::Updated => Order::Updated,
            Sort::Downloads => Order::Downloads,
            Sort::Name => Order::Name,
        }
    }
}

pub(crate) struct SearchCollector {
    pub order: Order,
    /// How many of the best to keep.
    pub top: usize,
    pub facets: Vec<Facet>,
}

/// A kept document; smaller `key` is better.
#[derive(Debug, Clone)]
pub(crate) struct Ranked {
    pub key: Key,
    pub id: i64,
    pub address: DocAddress,
    pub score: Score,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Num(u64),
    Text(String),
}

pub(crate) struct Found {
    pub total: u64,
    pub top: Vec<Ranked>,
    /// Per requested facet, value → count.
    pub facets: Vec<HashMap<String, u64>>,
}

impl Collector for SearchCollector {
    type Fruit = Found;
    type Child = SegmentSearch;

    fn for_segment(&self, segment_ord: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentSearch> {
        let fast = segment.fast_fields();
        let key = match self.order {
            Order::Score => SegmentKey::Score,
            Order::Published => SegmentKey::I64Desc(fast.i64(schema::PUBLISHED_AT)?),
            Order::Updated => SegmentKey::I64Desc(fast.i64(schema::UPDATED_AT)?),
            Order::Downloads => SegmentKey::U64Desc(fast.u64(schema::DOWNLOADS)?),
            Order::Name => SegmentKey::NameAsc(fast.str(schema::TITLE_SORT)?),
        };
        let mut facets = Vec::with_capacity(self.facets.len());
        for facet in &self.facets {
            let column = fast.str(schema::facet_field_name(*facet))?;
            let counts = vec![0; column.as_ref().map_or(0, |c| c.num_terms())];
            facets.push((column, counts));
        }
        Ok(SegmentSearch {
            segment_ord,
            ids: fast.i64(schema::ID)?,
            key,
            top: self.top,
            heap: BinaryHeap::with_capacity(self.top.min(1024) + 1),
            total: 0,
            facets,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == Order::Score
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFound>) -> tantivy::Result<Found> {
        let mut found = Found {
            total: 0,
            top: Vec::new(),
            facets: vec![HashMap::new(); self.facets.len()],
        };
        for fruit in fruits {
            found.total += fruit.total;
            found.top.extend(fruit.top);
            for (all, segment) in found.facets.iter_mut().zip(fruit.facets) {
                for (value, count) in segment {
                    *all.entry(value).or_default() += count;
                }
            }
        }
        found.top.sort_by(|a, b| a.key.cmp(&b.key).then(a.id.cmp(&b.id)));
        found.top.truncate(self.top);
        Ok(found)
    }
}

enum SegmentKey {
    Score,
    I64Desc(Column<i64>),
    U64Desc(Column<u64>),
    /// By the segment's ordinal of the sort key, which orders like the key itself.
    NameAsc(Option<StrColumn>),
}

#[derive(Debug, PartialEq, Eq)]
struct Entry {
    key: u64,
    id: i64,
    doc: DocId,
    score_bits: u32,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key).then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) struct SegmentSearch {
    segment_ord: SegmentOrdinal,
    ids: Column<i64>,
    key: SegmentKey,
    top: usize,
    /// A max-heap: the worst kept entry on top, to be pushed out by a better one.
    heap: BinaryHeap<Entry>,
    total: u64,
    facets: Vec<(Option<StrColumn>, Vec<u64>)>,
}

pub(crate) struct SegmentFound {
    total: u64,
    top: Vec<Ranked>,
    facets: Vec<HashMap<String, u64>>,
}

impl SegmentSearch {
    fn key(&self, doc: DocId, score: Score) -> u64 {
        match &self.key {
            SegmentKey::Score => score_desc(score),
            SegmentKey::I64Desc(column) => !((column.first(doc).unwrap_or(i64::MIN) as u64) ^ (1 << 63)),
            SegmentKey::U64Desc(column) => !column.first(doc).unwrap_or(0),
            SegmentKey::NameAsc(column) => column.as_ref().and_then(|c| c.ords().first(doc)).unwrap_or(u64::MAX),
        }
    }
}

/// Higher scores first: an order-preserving map of the float to an integer, reversed.
fn score_desc(score: Score) -> u64 {
    let bits = score.to_bits();
    let ascending = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    u64::from(!ascending)
}

impl SegmentCollector for SegmentSearch {
    type Fruit = SegmentFound;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        for (column, counts) in &mut self.facets {
            if let Some(column) = column {
                for ord in column.term_ords(doc) {
                    if let Some(count) = counts.get_mut(ord as usize) {
                        *count += 1;
                    }
                }
            }
        }
        if self.top == 0 {
            return;
        }
        let entry = Entry {
            key: self.key(doc, score),
            id: self.ids.first(doc).unwrap_or(i64::MAX),
            doc,
            score_bits: score.to_bits(),
        };
        if self.heap.len() < self.top {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            self.heap.pop();
            self.heap.push(entry);
        }
    }

    fn harvest(self) -> SegmentFound {
        let segment_ord = self.segment_ord;
        let (by_name, names) = match &self.key {
            SegmentKey::NameAsc(column) => (true, column.as_ref()),
            _ => (false, None),
        };
        let mut name = String::new();
        let top = self
            .heap
            .into_vec()
            .into_iter()
            .map(|e| {
                let key = if by_name {
                    name.clear();
                    if let Some(column) = names {
                        let _ = column.ord_to_str(e.key, &mut name);
                    }
                    Key::Text(name.clone())
                } else {
                    Key::Num(e.key)
                };
                Ranked {
                    key,
                    id: e.id,
                    address: DocAddress::new(segment_ord, e.doc),
                    score: f32::from_bits(e.score_bits),
                }
            })
            .collect();
        let facets = self
            .facets
            .into_iter()
            .map(|(column, counts)| facet_values(column, counts))
            .collect();
        SegmentFound {
            total: self.total,
            top,
            facets,
        }
    }
}

fn facet_values(column: Option<StrColumn>, counts: Vec<u64>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Some(column) = column else { return out };
    let ords: Vec<u64> = (0..counts.len() as u64).filter(|&o| counts[o as usize] > 0).collect();
    let mut values = ords.iter();
    let _ = column.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        if let Some(&ord) = values.next() {
            out.insert(String::from_utf8_lossy(bytes).into_owned(), counts[ord as usize]);
        }
    });
    out
}
