//! RDF/XML: one `rdf:Description` per subject, properties as prefixed elements.

use std::fmt::Write;

use super::rdf::{Graph, LiteralKind, Term, VOCABS};

pub fn write(g: &Graph) -> String {
    let mut out = String::with_capacity(g.len() * 100 + 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rdf:RDF");
    for (prefix, ns) in VOCABS {
        let _ = write!(out, "\n    xmlns:{prefix}=\"{}\"", attr(ns));
    }
    out.push_str(">\n");
    for node in &g.nodes {
        out.push_str("  <rdf:Description ");
        out.push_str(&reference(&node.subject, "rdf:about"));
        out.push_str(">\n");
        for (p, o) in &node.props {
            let el = format!("{}:{}", p.prefix, p.local);
            match o {
                Term::Literal(l) => {
                    let a = match &l.kind {
                        LiteralKind::Plain => String::new(),
                        LiteralKind::Lang(tag) => format!(" xml:lang=\"{tag}\""),
                        LiteralKind::Typed(dt) => format!(" rdf:datatype=\"{}\"", attr(&dt.iri())),
                    };
                    let _ = writeln!(out, "    <{el}{a}>{}</{el}>", text(&l.value));
                }
                other => {
                    let _ = writeln!(out, "    <{el} {}/>", reference(other, "rdf:resource"));
                }
            }
        }
        out.push_str("  </rdf:Description>\n");
    }
    out.push_str("</rdf:RDF>\n");
    out
}

/// `rdf:about="…"` / `rdf:resource="…"` for an IRI, `rdf:nodeID="…"` for a blank node.
fn reference(t: &Term, iri_attr: &str) -> String {
    match t {
        Term::Iri(iri) => format!("{iri_attr}=\"{}\"", attr(iri)),
        Term::Blank(n) => format!("rdf:nodeID=\"b{n}\""),
        Term::Literal(l) => format!("{iri_attr}=\"{}\"", attr(&l.value)),
    }
}

/// Character data: `&`, `<`, `>` escaped, and CR kept as a reference (parsers turn a raw CR
/// into LF).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value in double quotes; whitespace other than spaces as references, since
/// attribute normalisation would turn it into spaces.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::rdf::name;
    use super::*;

    #[test]
    fn writes_descriptions_with_escaped_text() {
        let mut g = Graph::new();
        let s = Term::iri("http://example.com/d?a=1&b=2");
        g.add_type(&s, name("dcat", "Dataset"));
        g.add(&s, name("dct", "title"), Term::lang("<数据> & \"引号\"\r\n", "zh"));
        let b = g.blank();
        g.add(&s, name("dcat", "contactPoint"), b.clone());
        g.add(
            &b,
            name("dcat", "startDate"),
            Term::typed("2023-01-01", name("xsd", "date")),
        );
        let xml = write(&g);
        assert!(
            xml.contains("<rdf:Description rdf:about=\"http://example.com/d?a=1&amp;b=2\">"),
            "{xml}"
        );
        assert!(
            xml.contains("<rdf:type rdf:resource=\"http://www.w3.org/ns/dcat#Dataset\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<dct:title xml:lang=\"zh\">&lt;数据&gt; &amp; \"引号\"&#13;\n</dct:title>"),
            "{xml}"
        );
        assert!(xml.contains("<dcat:contactPoint rdf:nodeID=\"b1\"/>"), "{xml}");
        assert!(xml.contains(
            "<dcat:startDate rdf:datatype=\"http://www.w3.org/2001/XMLSchema#date\">2023-01-01</dcat:startDate>"
        ));
    }
}
