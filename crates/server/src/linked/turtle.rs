//! Turtle (RDF 1.1): prefixes, then one block per subject.

use std::fmt::Write;

use super::rdf::{compact, Graph, LiteralKind, Term, RDF_TYPE, VOCABS};

pub fn write(g: &Graph) -> String {
    let mut out = String::with_capacity(g.len() * 80 + 1024);
    for (prefix, ns) in VOCABS {
        let _ = writeln!(out, "@prefix {prefix}: <{ns}> .");
    }
    for node in &g.nodes {
        out.push('\n');
        out.push_str(&term(&node.subject));
        for (i, (p, o)) in node.props.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { " ;\n    " });
            if *p == RDF_TYPE {
                out.push('a');
            } else {
                out.push_str(p.prefix);
                out.push(':');
                out.push_str(p.local);
            }
            out.push(' ');
            out.push_str(&term(o));
        }
        out.push_str(" .\n");
    }
    out
}

fn term(t: &Term) -> String {
    match t {
        Term::Iri(iri) => iri_ref(iri),
        Term::Blank(n) => format!("_:b{n}"),
        Term::Literal(l) => {
            let quoted = string(&l.value);
            match &l.kind {
                LiteralKind::Plain => quoted,
                LiteralKind::Lang(tag) => format!("{quoted}@{tag}"),
                LiteralKind::Typed(dt) => format!("{quoted}^^{}:{}", dt.prefix, dt.local),
            }
        }
    }
}

/// A prefixed name when the IRI is in a declared vocabulary, `<…>` otherwise. IRIs were
/// made safe when the term was built, so nothing inside the brackets needs escaping.
fn iri_ref(iri: &str) -> String {
    match compact(iri) {
        Some((prefix, local)) => format!("{prefix}:{local}"),
        None => format!("<{iri}>"),
    }
}

/// A `"…"` string with the escapes Turtle requires.
pub(super) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::rdf::name;
    use super::*;

    #[test]
    fn writes_prefixed_names_and_escaped_literals() {
        let mut g = Graph::new();
        let s = Term::iri("http://example.com/dataset/a");
        g.add_type(&s, name("dcat", "Dataset"));
        g.add(&s, name("dct", "title"), Term::lang("说 \"你好\"\\\n<b>", "zh"));
        g.add(
            &s,
            name("dcat", "startDate"),
            Term::typed("2023-01-01", name("xsd", "date")),
        );
        g.add(&s, name("dcat", "landingPage"), Term::iri("http://example.com/x y"));
        let b = g.blank();
        g.add(&s, name("dcat", "contactPoint"), b.clone());
        g.add(&b, name("vcard", "fn"), Term::plain("x"));
        let ttl = write(&g);
        assert!(ttl.contains("@prefix dcat: <http://www.w3.org/ns/dcat#> ."), "{ttl}");
        assert!(
            ttl.contains(
                "<http://example.com/dataset/a> a dcat:Dataset ;\n    dct:title \"说 \\\"你好\\\"\\\\\\n<b>\"@zh ;"
            ),
            "{ttl}"
        );
        assert!(ttl.contains("dcat:startDate \"2023-01-01\"^^xsd:date ;"), "{ttl}");
        assert!(ttl.contains("dcat:landingPage <http://example.com/x%20y> ;"), "{ttl}");
        assert!(
            ttl.contains("dcat:contactPoint _:b1 .\n\n_:b1 vcard:fn \"x\" .\n"),
            "{ttl}"
        );
    }
}
