//! The index's schema and how a [`Doc`] becomes a tantivy document. Bump [`SCHEMA_VERSION`]
//! whenever either changes: an index built by another version is wiped and rebuilt.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::TantivyDocument;

use crate::analysis;
use crate::{Doc, Facet};

/// The version of the schema and of the analysis; stored beside the index.
pub const SCHEMA_VERSION: u32 = 2;

/// Relevance weights of the text fields: a word in the title counts most, in the provider's
/// name least.
pub(crate) const TITLE_BOOST: f32 = 5.0;
pub(crate) const TITLE_EN_BOOST: f32 = 4.0;
pub(crate) const TAGS_BOOST: f32 = 3.0;
pub(crate) const PINYIN_BOOST: f32 = 2.5;
pub(crate) const SUMMARY_BOOST: f32 = 1.5;
pub(crate) const FIELDS_BOOST: f32 = 1.0;
pub(crate) const PROVIDER_BOOST: f32 = 0.5;

#[derive(Clone)]
pub(crate) struct Fields {
    pub id: Field,
    pub code: Field,
    pub title: Field,
    pub title_en: Field,
    pub summary: Field,
    pub tags: Field,
    pub fields: Field,
    pub provider: Field,
    /// Pinyin spellings and initials of the title's and tags' words.
    pub pinyin: Field,
    facets: [Field; Facet::ALL.len()],
    pub published_at: Field,
    pub updated_at: Field,
    pub downloads: Field,
    /// Not indexed; a fast field for [`crate::Sort::Name`].
    pub title_sort: Field,
    /// Stored only: shown with a hit.
    pub row_count: Field,
}

pub(crate) const ID: &str = "id";
pub(crate) const PUBLISHED_AT: &str = "published_at";
pub(crate) const UPDATED_AT: &str = "updated_at";
pub(crate) const DOWNLOADS: &str = "downloads";
pub(crate) const TITLE_SORT: &str = "title_sort";

/// The name of a facet's raw (untokenised, fast) field.
pub(crate) fn facet_field_name(facet: Facet) -> &'static str {
    match facet {
        Facet::Provider => "f_provider",
        Facet::Domain => "f_domain",
        Facet::OpenType => "f_open_type",
        Facet::Format => "f_format",
        Facet::UpdateFrequency => "f_update_frequency",
        Facet::Region => "f_region",
        Facet::Tag => "f_tag",
        Facet::Licence => "f_licence",
    }
}

impl Fields {
    pub fn facet(&self, facet: Facet) -> Field {
        self.facets[Facet::ALL.iter().position(|f| *f == facet).unwrap_or(0)]
    }

    /// The text fields a word is looked for in, with their weights.
    pub fn weighted_text(&self) -> [(Field, f32); 6] {
        [
            (self.title, TITLE_BOOST),
            (self.title_en, TITLE_EN_BOOST),
            (self.tags, TAGS_BOOST),
            (self.summary, SUMMARY_BOOST),
            (self.fields, FIELDS_BOOST),
            (self.provider, PROVIDER_BOOST),
        ]
    }
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(analysis::TEXT)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let pinyin = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(analysis::PINYIN)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        id: b.add_i64_field(ID, INDEXED | FAST | STORED),
        code: b.add_text_field("code", STRING | STORED),
        title: b.add_text_field("title", text(true)),
        title_en: b.add_text_field("title_en", text(false)),
        summary: b.add_text_field("summary", text(true)),
        tags: b.add_text_field("tags", text(false)),
        fields: b.add_text_field("fields", text(false)),
        provider: b.add_text_field("provider", text(true)),
        pinyin: b.add_text_field("pinyin", pinyin),
        // Stored too: a hit is shown from the index alone, without a database read.
        facets: Facet::ALL.map(|f| b.add_text_field(facet_field_name(f), STRING | FAST | STORED)),
        published_at: b.add_i64_field(PUBLISHED_AT, NumericOptions::default().set_fast()),
        updated_at: b.add_i64_field(UPDATED_AT, NumericOptions::default().set_fast().set_stored()),
        downloads: b.add_u64_field(DOWNLOADS, NumericOptions::default().set_fast()),
        title_sort: b.add_text_field(TITLE_SORT, TextOptions::default().set_fast("raw")),
        row_count: b.add_i64_field("row_count", STORED),
    };
    (b.build(), fields)
}

pub(crate) fn to_document(f: &Fields, doc: &Doc) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_i64(f.id, doc.id);
    d.add_text(f.code, &doc.code);
    d.add_text(f.title, &doc.title);
    d.add_text(f.title_en, &doc.title_en);
    d.add_text(f.summary, &doc.summary);
    for tag in &doc.tags {
        d.add_text(f.tags, tag);
    }
    for field in &doc.fields {
        d.add_text(f.fields, field);
    }
    d.add_text(f.provider, &doc.provider);
    d.add_text(f.pinyin, &doc.title);
    for tag in &doc.tags {
        d.add_text(f.pinyin, tag);
    }
    let single = [
        (Facet::Provider, &doc.provider_key),
        (Facet::Domain, &doc.domain),
        (Facet::OpenType, &doc.open_type),
        (Facet::UpdateFrequency, &doc.update_frequency),
        (Facet::Region, &doc.region),
        (Facet::Licence, &doc.licence),
    ];
    for (facet, value) in single {
        if !value.is_empty() {
            d.add_text(f.facet(facet), value);
        }
    }
    for (facet, values) in [(Facet::Format, &doc.formats), (Facet::Tag, &doc.tags)] {
        let mut seen: Vec<&str> = Vec::new();
        for value in values.iter().filter(|v| !v.is_empty()) {
            if !seen.contains(&value.as_str()) {
                seen.push(value);
                d.add_text(f.facet(facet), value);
            }
        }
    }
    d.add_i64(f.published_at, doc.published_at);
    d.add_i64(f.updated_at, doc.updated_at);
    d.add_u64(f.downloads, doc.downloads);
    d.add_text(f.title_sort, analysis::sort_key(&doc.title));
    if let Some(rows) = doc.row_count {
        d.add_i64(f.row_count, rows);
    }
    d
}
