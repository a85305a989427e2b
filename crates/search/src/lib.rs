//! The catalogue's search index (检索): a tantivy index derived from the store and rebuildable
//! at any time. It knows nothing of the store; callers hand it [`Doc`]s and [`Query`]s.
//!
//! How text matches:
//! - Text is cut with jieba in search mode (plus `dict/domain.txt`), lower-cased, full-width
//!   folded; English words are stemmed. Every word of the query must match in some text field
//!   (AND); a Chinese word matches as a whole or through all its dictionary parts.
//! - Words of ASCII letters also match the pinyin of titles and tags: full spelling or initials
//!   exactly, or as a prefix from 3 letters on.
//! - `"…"` is a phrase; a stray quote is ignored; common words (的, the, …) are dropped.
//! - Relevance weighs the title most, then the English title, tags, summary, 数据项, provider.
//! - Input never reaches a query syntax: it searches, or it is a [`SearchError::Query`] (no
//!   words, longer than [`MAX_TEXT_CHARS`], a page beyond [`MAX_LIMIT`] / [`MAX_WINDOW`]).

mod analysis;
mod collect;
mod highlight;
mod index;
mod query;
mod schema;
mod search;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use index::VERSION_FILE;
pub use query::MAX_TEXT_CHARS;
pub use schema::SCHEMA_VERSION;
pub use search::{MAX_LIMIT, MAX_WINDOW};

/// What the index holds of one published resource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    /// The resource's database id; the index's key.
    pub id: i64,
    /// 资源代码, e.g. `510000-008693034-000042`.
    pub code: String,
    /// 资源名称
    pub title: String,
    /// English title, empty when none.
    pub title_en: String,
    /// 资源摘要
    pub summary: String,
    /// 关键字
    pub tags: Vec<String>,
    /// 数据项: each field's name and its Chinese title.
    pub fields: Vec<String>,
    /// The provider's name (searchable text).
    pub provider: String,
    /// The provider's key, the value of [`Facet::Provider`] (lower-case provider code).
    pub provider_key: String,
    /// Domain key (领域), the value of [`Facet::Domain`].
    pub domain: String,
    /// `unconditional` or `conditional`.
    pub open_type: String,
    /// Formats of the current distributions, upper case: `CSV`, `XLSX`, `API`.
    pub formats: Vec<String>,
    /// Update frequency key: `daily`, `monthly`, …
    pub update_frequency: String,
    /// 空间范围 region code; empty when none.
    pub region: String,
    /// Licence key.
    pub licence: String,
    /// Milliseconds since the epoch.
    pub published_at: i64,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    pub downloads: u64,
    /// Rows of the current data file, when it was loaded into the datastore.
    pub row_count: Option<i64>,
}

/// The facets a search can count and filter by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Facet {
    Provider,
    Domain,
    OpenType,
    Format,
    UpdateFrequency,
    Region,
    Tag,
    Licence,
}

impl Facet {
    pub const ALL: [Facet; 8] = [
        Facet::Provider,
        Facet::Domain,
        Facet::OpenType,
        Facet::Format,
        Facet::UpdateFrequency,
        Facet::Region,
        Facet::Tag,
        Facet::Licence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Facet::Provider => "provider",
            Facet::Domain => "domain",
            Facet::OpenType => "open_type",
            Facet::Format => "format",
            Facet::UpdateFrequency => "update_frequency",
            Facet::Region => "region",
            Facet::Tag => "tag",
            Facet::Licence => "licence",
        }
    }

    pub fn parse(name: &str) -> Option<Facet> {
        Facet::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Result order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first; with no text, newest first.
    #[default]
    Relevance,
    /// Most recently updated first.
    Updated,
    /// Most downloaded first.
    Downloads,
    /// By title, ascending.
    Name,
}

impl Sort {
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Relevance => "relevance",
            Sort::Updated => "updated",
            Sort::Downloads => "downloads",
            Sort::Name => "name",
        }
    }

    pub fn parse(name: &str) -> Option<Sort> {
        [Sort::Relevance, Sort::Updated, Sort::Downloads, Sort::Name]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One search.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Free text as the user typed it: Chinese, English, pinyin or initials; `"…"` for a
    /// phrase. Empty matches everything.
    pub text: String,
    /// Facet filters: values of one facet are OR-ed, different facets AND-ed.
    pub filters: Vec<(Facet, String)>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    /// Facets to count over the matching documents.
    pub facets: Vec<Facet>,
    /// Values per facet, most frequent first.
    pub facet_limit: usize,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            text: String::new(),
            filters: Vec::new(),
            sort: Sort::Relevance,
            offset: 0,
            limit: 20,
            facets: Vec::new(),
            facet_limit: 20,
        }
    }
}

/// One matching resource, with what a result list shows of it (read from the index, so a page
/// of results needs no database).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: i64,
    pub code: String,
    pub score: f32,
    pub title: String,
    /// The provider's name and key.
    pub provider: String,
    pub provider_key: String,
    pub domain: String,
    pub open_type: String,
    pub update_frequency: String,
    pub formats: Vec<String>,
    /// Tags, without repeats.
    pub tags: Vec<String>,
    pub row_count: Option<i64>,
    /// Milliseconds since the epoch.
    pub updated_at: i64,
    /// The title, HTML-escaped, with matched terms in `<mark>…</mark>`.
    pub title_html: String,
    /// A fragment of the summary, HTML-escaped, with matched terms in `<mark>…</mark>`.
    pub snippet_html: String,
}

/// Counts of one facet's values among the matching documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacetCounts {
    pub facet: Facet,
    /// (value, count), most frequent first, then by value.
    pub values: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    /// All matching documents, not just this page.
    pub total: usize,
    pub hits: Vec<Hit>,
    pub facets: Vec<FacetCounts>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The user's query cannot be searched; the text says why.
    #[error("invalid query: {0}")]
    Query(String),
    /// The index on disk could not be opened, read or written.
    #[error("search index: {0}")]
    Index(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// The index. Cheap to clone; clones share the same index. Searches run concurrently with one
/// writer.
#[derive(Clone)]
pub struct Index {
    inner: Arc<index::Shared>,
}

impl Index {
    /// Opens the index in `dir`, creating it (empty) when absent or when it was built with
    /// another schema version; [`Index::was_reset`] then tells the caller to rebuild it.
    pub fn open(dir: &Path) -> Result<Index> {
        Ok(Index {
            inner: Arc::new(index::Shared::open(dir)?),
        })
    }

    /// An index in memory, for tests.
    pub fn in_memory() -> Result<Index> {
        Ok(Index {
            inner: Arc::new(index::Shared::in_memory()?),
        })
    }

    pub fn search(&self, query: &Query) -> Result<Results> {
        self.inner.search(query)
    }

    /// The writer. Only one exists at a time; a second call waits for the first to be committed
    /// or dropped (up to 30 s, then errs).
    pub fn writer(&self) -> Result<Writer> {
        index::Shared::writer(&self.inner, index::WRITER_WAIT).map(Writer)
    }

    /// The writer if no other is open, else [`SearchError::Index`] at once.
    pub fn try_writer(&self) -> Result<Writer> {
        index::Shared::writer(&self.inner, std::time::Duration::ZERO).map(Writer)
    }

    /// The catalogue change sequence number the last commit recorded (0 for a new index).
    pub fn applied_seq(&self) -> i64 {
        self.inner.applied_seq()
    }

    /// True when [`Index::open`] found an index of another schema version (or an unreadable one)
    /// and replaced it with an empty one: the caller must rebuild it from the store.
    pub fn was_reset(&self) -> bool {
        self.inner.was_reset
    }

    /// Changes whenever what searches see changes (each commit): results computed under one
    /// generation can be reused while it lasts.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// Documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.inner.num_docs()
    }

    /// Picks up commits made by another process on the same directory. Commits made through this
    /// index are visible without it.
    pub fn reload(&self) -> Result<()> {
        self.inner.reload()
    }
}

/// Changes made to the index, visible to searches after [`Writer::commit`]. Dropping it
/// without a commit discards the changes.
pub struct Writer(index::WriterGuard);

impl Writer {
    /// Adds the document, replacing any with the same id.
    pub fn upsert(&mut self, doc: &Doc) -> Result<()> {
        self.0.upsert(doc)
    }

    /// [`Writer::upsert`] for many documents (a rebuild).
    pub fn upsert_many<'a>(&mut self, docs: impl IntoIterator<Item = &'a Doc>) -> Result<()> {
        docs.into_iter().try_for_each(|doc| self.0.upsert(doc))
    }

    pub fn delete(&mut self, id: i64) -> Result<()> {
        self.0.delete(id)
    }

    /// Removes every document (before a full rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.0.clear()
    }

    /// Makes the changes visible and records `seq` as the applied change sequence number.
    pub fn commit(mut self, seq: i64) -> Result<()> {
        self.0.commit(seq)
    }
}
