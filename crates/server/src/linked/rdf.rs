//! A small RDF model: IRIs, blank nodes and literals, and a graph that keeps its triples in
//! insertion order grouped by subject, without repeats. The serialisers in `turtle`, `jsonld` and
//! `rdfxml` write the same triples, so every format of a page parses to the same graph.

use std::collections::{HashMap, HashSet};

/// Every vocabulary the output uses, as (prefix, namespace IRI): the same prefixes in Turtle,
/// JSON-LD and RDF/XML, declared once in each document.
pub const VOCABS: [(&str, &str); 10] = [
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("hydra", "http://www.w3.org/ns/hydra/core#"),
    ("spdx", "http://spdx.org/rdf/terms#"),
];

/// A term of a vocabulary, e.g. `dct:title`: written as a prefixed name where the syntax
/// allows, and as the full IRI otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    pub prefix: &'static str,
    pub local: &'static str,
}

impl Name {
    pub fn iri(self) -> String {
        let ns = VOCABS.iter().find(|v| v.0 == self.prefix).map_or("", |v| v.1);
        format!("{ns}{}", self.local)
    }
}

/// A vocabulary term: `name("dct", "title")` is `dct:title`.
pub const fn name(prefix: &'static str, local: &'static str) -> Name {
    Name { prefix, local }
}

pub const RDF_TYPE: Name = name("rdf", "type");

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LiteralKind {
    /// A plain string (`xsd:string`).
    Plain,
    Lang(&'static str),
    Typed(Name),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Literal {
    pub value: String,
    pub kind: LiteralKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Term {
    Iri(String),
    Blank(u32),
    Literal(Literal),
}

impl Term {
    /// An IRI; characters IRIs may not contain (spaces, `<>"{}|^`\`, controls) are
    /// percent-encoded, so the text is safe in every syntax.
    pub fn iri(s: &str) -> Term {
        Term::Iri(escape_iri(s))
    }

    pub fn vocab(n: Name) -> Term {
        Term::Iri(n.iri())
    }

    pub fn plain(s: &str) -> Term {
        literal(s, LiteralKind::Plain)
    }

    pub fn lang(s: &str, tag: &'static str) -> Term {
        literal(s, LiteralKind::Lang(tag))
    }

    pub fn typed(s: &str, datatype: Name) -> Term {
        literal(s, LiteralKind::Typed(datatype))
    }
}

fn literal(s: &str, kind: LiteralKind) -> Term {
    Term::Literal(Literal {
        value: xml_safe(s),
        kind,
    })
}

/// Drops the characters XML 1.0 cannot carry (controls other than tab and line ends, and the
/// non-characters U+FFFE/U+FFFF), so that RDF/XML holds the same literal as Turtle and JSON-LD.
fn xml_safe(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}')
        })
        .collect()
}

fn escape_iri(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c <= ' ' || c == '\u{7f}' || "<>\"{}|^`\\".contains(c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The triples about one subject, in the order they were added.
#[derive(Debug, Clone)]
pub struct Node {
    pub subject: Term,
    pub props: Vec<(Name, Term)>,
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    index: HashMap<Term, usize>,
    seen: HashSet<(Term, Name, Term)>,
    blanks: u32,
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new blank node, labelled uniquely within the graph.
    pub fn blank(&mut self) -> Term {
        self.blanks += 1;
        Term::Blank(self.blanks)
    }

    /// Adds a triple unless the graph has it already. Subjects are IRIs or blank nodes.
    pub fn add(&mut self, s: &Term, p: Name, o: Term) {
        debug_assert!(!matches!(s, Term::Literal(_)), "a literal cannot be a subject");
        if !self.seen.insert((s.clone(), p, o.clone())) {
            return;
        }
        let i = match self.index.get(s) {
            Some(&i) => i,
            None => {
                self.nodes.push(Node {
                    subject: s.clone(),
                    props: Vec::new(),
                });
                self.index.insert(s.clone(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        self.nodes[i].props.push((p, o));
    }

    pub fn add_type(&mut self, s: &Term, class: Name) {
        self.add(s, RDF_TYPE, Term::vocab(class));
    }

    /// Triples in the graph.
    pub(super) fn len(&self) -> usize {
        self.seen.len()
    }
}

/// The vocabulary and local name of an IRI, when it belongs to a declared vocabulary and the
/// local name is simple enough for a prefixed name in every syntax (a letter, then letters,
/// digits, `_` or `-`).
pub fn compact(iri: &str) -> Option<(&'static str, &str)> {
    VOCABS.iter().find_map(|&(prefix, ns)| {
        let local = iri.strip_prefix(ns)?;
        let mut chars = local.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        ok.then_some((prefix, local))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_are_made_safe_and_literals_lose_what_xml_cannot_hold() {
        assert_eq!(
            Term::iri("http://x/a b<c>\"{|}^`\\"),
            Term::Iri("http://x/a%20b%3Cc%3E%22%7B%7C%7D%5E%60%5C".into())
        );
        assert_eq!(Term::iri("http://x/数据"), Term::Iri("http://x/数据".into()));
        assert_eq!(
            Term::plain("a\u{0}b\u{8}c\td\ne\rf\u{ffff}"),
            Term::Literal(Literal {
                value: "abc\td\ne\rf".into(),
                kind: LiteralKind::Plain
            })
        );
    }

    #[test]
    fn the_graph_keeps_one_copy_of_each_triple_grouped_by_subject() {
        let mut g = Graph::new();
        let a = Term::iri("http://x/a");
        let b = g.blank();
        g.add(&a, name("dct", "title"), Term::lang("甲", "zh"));
        g.add(&b, name("dct", "title"), Term::plain("b"));
        g.add(&a, name("dct", "title"), Term::lang("甲", "zh"));
        g.add(&a, name("dct", "identifier"), Term::plain("1"));
        assert_eq!(g.len(), 3);
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[0].props.len(), 2);
        assert_eq!(compact("http://purl.org/dc/terms/title"), Some(("dct", "title")));
        assert_eq!(compact("http://purl.org/dc/terms/a.b"), None);
        assert_eq!(compact("http://example.com/x"), None);
    }
}
