//! Turns what a user typed into a tantivy query, without tantivy's query syntax: the text is only
//! ever analysed into words, so no input can be a syntax error.
//!
//! Matching rules (AND across words):
//! - The text is cut with jieba like the documents. Every word must match in some text field
//!   (title, English title, tags, summary, 数据项, provider). A Chinese word matches as a whole or
//!   through all of its dictionary parts (住房公积金 = 住房 + 公积金), so a document cut
//!   differently still matches.
//! - A word of ASCII letters also matches the pinyin of titles and tags: the full spelling or
//!   the initials exactly (`gongjijin`, `gjj`), or as a prefix from 3 letters on (`gongji`).
//! - `"…"` (or `“…”`) is a phrase: its words in order in one field. A quote left open is ignored.
//! - Common words (的, 和, the, of, …) are ignored unless nothing else is left.

use std::collections::HashSet;

use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur, PhraseQuery, Query as TQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::Term as TTerm;

use crate::analysis::{self, Term};
use crate::schema::{self, Fields};
use crate::{Facet, Result, SearchError};

pub const MAX_TEXT_CHARS: usize = 500;
const MAX_WORDS: usize = 32;
/// A matching word also counts a little in the other fields it is found in.
const TIE_BREAKER: f32 = 0.1;
const PINYIN_PREFIX_BOOST: f32 = 1.0;
const CODE_BOOST: f32 = 20.0;

const STOP_WORDS: &[&str] = &[
    "的", "了", "和", "与", "及", "或", "在", "是", "之", "其", "等", "对", "以", "为", "有", "关于", "以及", "a",
    "an", "the", "of", "and", "or", "not", "in", "on", "for", "to", "by", "with", "at", "from", "is", "are",
];

/// One thing the user asked for; every one must match.
#[derive(Debug, Clone, PartialEq)]
enum Group {
    Word {
        whole: String,
        parts: Vec<String>,
        /// The word as typed (lower-case) when it may be pinyin.
        pinyin: Option<String>,
    },
    Phrase(Vec<(usize, String)>),
}

/// What to mark in titles and summaries.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    pub terms: HashSet<String>,
    pub pinyin: Vec<String>,
}

impl Marks {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.pinyin.is_empty()
    }
}

/// The text query (None when the text is blank) and what to highlight.
pub(crate) fn text_query(f: &Fields, text: &str) -> Result<(Option<Box<dyn TQuery>>, Marks)> {
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(SearchError::Query(format!(
            "the search text is longer than {MAX_TEXT_CHARS} characters; shorten it to a few words"
        )));
    }
    if text.trim().is_empty() {
        return Ok((None, Marks::default()));
    }
    let groups = parse(text)?;
    let mut marks = Marks::default();
    let mut clauses: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    for group in &groups {
        note_marks(group, &mut marks);
        clauses.push((Occur::Must, group_query(f, group)));
    }
    let mut query: Box<dyn TQuery> = Box::new(BooleanQuery::new(clauses));
    if let Some(code) = code_like(text) {
        let exact = term_query(TTerm::from_field_text(f.code, code));
        query = Box::new(BooleanQuery::new(vec![
            (Occur::Should, query),
            (Occur::Should, Box::new(BoostQuery::new(exact, CODE_BOOST))),
        ]));
    }
    Ok((Some(query), marks))
}

/// A query for the facet filters: values of one facet OR-ed, facets AND-ed; scores nothing.
pub(crate) fn filter_query(f: &Fields, filters: &[(Facet, String)]) -> Option<Box<dyn TQuery>> {
    let mut by_facet: Vec<(Facet, Vec<&str>)> = Vec::new();
    for (facet, value) in filters {
        match by_facet.iter_mut().find(|(f, _)| f == facet) {
            Some((_, values)) => values.push(value),
            None => by_facet.push((*facet, vec![value])),
        }
    }
    if by_facet.is_empty() {
        return None;
    }
    let clauses = by_facet
        .into_iter()
        .map(|(facet, values)| {
            let any: Vec<(Occur, Box<dyn TQuery>)> = values
                .into_iter()
                .map(|v| (Occur::Should, term_query(TTerm::from_field_text(f.facet(facet), v))))
                .collect();
            (Occur::Must, Box::new(BooleanQuery::new(any)) as Box<dyn TQuery>)
        })
        .collect();
    Some(Box::new(ConstScoreQuery::new(
        Box::new(BooleanQuery::new(clauses)),
        0.0,
    )))
}

fn parse(text: &str) -> Result<Vec<Group>> {
    let mut groups = Vec::new();
    for (segment, quoted) in split_quotes(text) {
        if quoted {
            groups.extend(phrase(segment));
        } else {
            groups.extend(words(segment));
        }
    }
    let meaningful: Vec<Group> = groups.iter().filter(|g| !is_stop_word(g)).cloned().collect();
    let mut groups = if meaningful.is_empty() { groups } else { meaningful };
    let mut seen = Vec::new();
    groups.retain(|g| {
        let new = !seen.contains(g);
        seen.push(g.clone());
        new
    });
    if groups.is_empty() {
        return Err(SearchError::Query(
            "the search text has no words to look for; type a word in Chinese, English or pinyin".into(),
        ));
    }
    if groups.len() > MAX_WORDS {
        return Err(SearchError::Query(format!(
            "the search text has more than {MAX_WORDS} words; search for fewer"
        )));
    }
    Ok(groups)
}

/// Splits at matching quotes: (segment, is it quoted). An unmatched quote is dropped.
fn split_quotes(text: &str) -> Vec<(&str, bool)> {
    let is_quote = |c: char| matches!(c, '"' | '“' | '”' | '＂');
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(is_quote) {
        let after_open = open + rest[open..].chars().next().map_or(1, char::len_utf8);
        let Some(close) = rest[after_open..].find(is_quote) else {
            out.push((&rest[..open], false));
            rest = &rest[after_open..];
            break;
        };
        out.push((&rest[..open], false));
        out.push((&rest[after_open..after_open + close], true));
        let close_at = after_open + close;
        rest = &rest[close_at + rest[close_at..].chars().next().map_or(1, char::len_utf8)..];
    }
    out.push((rest, false));
    out.retain(|(s, _)| !s.trim().is_empty());
    out
}

/// Analysed terms grouped by word: (whole, parts), in order.
fn by_word(text: &str) -> Vec<(Term, Vec<String>)> {
    let mut words: Vec<(Term, Vec<String>)> = Vec::new();
    let mut parts = Vec::new();
    analysis::analyze(text, |term| {
        if term.whole {
            words.push((term, std::mem::take(&mut parts)));
        } else if !parts.contains(&term.text) {
            parts.push(term.text);
        }
    });
    words
}

fn words(text: &str) -> Vec<Group> {
    by_word(text)
        .into_iter()
        .map(|(whole, parts)| {
            let typed: String = text[whole.from..whole.to].chars().map(analysis::fold_char).collect();
            let pinyin = (typed.len() >= 2 && typed.bytes().all(|b| b.is_ascii_lowercase())).then_some(typed);
            Group::Word {
                whole: whole.text,
                parts,
                pinyin,
            }
        })
        .collect()
}

fn phrase(text: &str) -> Vec<Group> {
    let words = by_word(text);
    if words.len() < 2 {
        return words
            .into_iter()
            .map(|(whole, parts)| Group::Word {
                whole: whole.text,
                parts,
                pinyin: None,
            })
            .collect();
    }
    let first = words[0].0.position;
    vec![Group::Phrase(
        words.into_iter().map(|(w, _)| (w.position - first, w.text)).collect(),
    )]
}

fn is_stop_word(group: &Group) -> bool {
    matches!(group, Group::Word { whole, .. } if STOP_WORDS.contains(&whole.as_str()))
}

fn note_marks(group: &Group, marks: &mut Marks) {
    match group {
        Group::Word { whole, parts, pinyin } => {
            marks.terms.insert(whole.clone());
            marks.terms.extend(parts.iter().cloned());
            marks.pinyin.extend(pinyin.iter().cloned());
        }
        Group::Phrase(words) => marks.terms.extend(words.iter().map(|(_, w)| w.clone())),
    }
}

fn group_query(f: &Fields, group: &Group) -> Box<dyn TQuery> {
    match group {
        Group::Word { whole, parts, pinyin } => {
            let mut alternatives = vec![(Occur::Should, anywhere(f, whole))];
            if !parts.is_empty() {
                let all_parts = parts.iter().map(|p| (Occur::Must, anywhere(f, p))).collect();
                alternatives.push((Occur::Should, Box::new(BooleanQuery::new(all_parts))));
            }
            if let Some(typed) = pinyin {
                alternatives.extend(pinyin_queries(f, typed).into_iter().map(|q| (Occur::Should, q)));
            }
            Box::new(BooleanQuery::new(alternatives))
        }
        Group::Phrase(words) => {
            let per_field = f
                .weighted_text()
                .into_iter()
                .map(|(field, boost)| {
                    let terms = words
                        .iter()
                        .map(|(at, w)| (*at, TTerm::from_field_text(field, w)))
                        .collect();
                    Box::new(BoostQuery::new(Box::new(PhraseQuery::new_with_offset(terms)), boost)) as Box<dyn TQuery>
                })
                .collect();
            Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, TIE_BREAKER))
        }
    }
}

/// The term in any text field, scored by its best field.
fn anywhere(f: &Fields, term: &str) -> Box<dyn TQuery> {
    let per_field = f
        .weighted_text()
        .into_iter()
        .map(|(field, boost)| {
            let q = term_query(TTerm::from_field_text(field, term));
            Box::new(BoostQuery::new(q, boost)) as Box<dyn TQuery>
        })
        .collect();
    Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, TIE_BREAKER))
}

fn pinyin_queries(f: &Fields, typed: &str) -> Vec<Box<dyn TQuery>> {
    let exact = term_query(TTerm::from_field_text(f.pinyin, typed));
    let mut out: Vec<Box<dyn TQuery>> = vec![Box::new(BoostQuery::new(exact, schema::PINYIN_BOOST))];
    if typed.len() >= 3 {
        // `typed` is only ASCII lower-case letters, so it is a literal in the pattern.
        let prefix: Box<dyn TQuery> = match RegexQuery::from_pattern(&format!("{typed}.+"), f.pinyin) {
            Ok(q) => Box::new(q),
            Err(_) => Box::new(EmptyQuery),
        };
        out.push(Box::new(ConstScoreQuery::new(prefix, PINYIN_PREFIX_BOOST)));
    }
    out
}

fn term_query(term: TTerm) -> Box<dyn TQuery> {
    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
}

/// The text itself when it looks like a 资源代码 (`510000-008693034-000042`).
fn code_like(text: &str) -> Option<&str> {
    let t = text.trim();
    let plausible = t.len() <= 64
        && t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    plausible.then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_make_phrases_and_a_stray_quote_is_ignored() {
        assert_eq!(
            split_quotes(r#"a "b c" d"#),
            vec![("a ", false), ("b c", true), (" d", false)]
        );
        assert_eq!(split_quotes(r#"a "b c"#), vec![("a ", false), ("b c", false)]);
        assert_eq!(split_quotes("“空气质量”"), vec![("空气质量", true)]);
    }

    #[test]
    fn stop_words_are_dropped_unless_alone() {
        let g = parse("公积金的缴存").unwrap_or_default();
        assert_eq!(g.len(), 2, "{g:?}");
        assert_eq!(parse("the").map(|g| g.len()).ok(), Some(1));
    }

    #[test]
    fn ascii_words_may_be_pinyin() {
        let g = parse("gjj").unwrap_or_default();
        assert!(
            matches!(&g[0], Group::Word { pinyin: Some(p), .. } if p == "gjj"),
            "{g:?}"
        );
    }

    #[test]
    fn nothing_to_search_is_the_users_error() {
        assert!(matches!(parse("(( ))"), Err(SearchError::Query(_))));
        assert!(matches!(parse("😀"), Err(SearchError::Query(_))));
    }
}
