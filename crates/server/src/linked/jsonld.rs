//! JSON-LD 1.1: a context of the vocabulary prefixes and a `@graph` of node objects, one per
//! subject. Keys are prefixed names; values are explicit (`@id`, `@value` with `@language` or
//! `@type`), so the document needs no remote context and expands to exactly the graph.

use serde_json::{json, Map, Value};

use super::rdf::{Graph, LiteralKind, Term, RDF_TYPE, VOCABS};

pub fn write(g: &Graph) -> String {
    let context: Map<String, Value> = VOCABS
        .iter()
        .map(|(prefix, ns)| (prefix.to_string(), Value::String(ns.to_string())))
        .collect();
    let nodes: Vec<Value> = g
        .nodes
        .iter()
        .map(|node| {
            let mut obj = Map::new();
            obj.insert("@id".into(), Value::String(id(&node.subject)));
            for (p, o) in &node.props {
                if *p == RDF_TYPE {
                    if let Term::Iri(class) = o {
                        push(&mut obj, "@type", Value::String(class.clone()));
                        continue;
                    }
                }
                push(&mut obj, &format!("{}:{}", p.prefix, p.local), value(o));
            }
            Value::Object(obj)
        })
        .collect();
    let doc = json!({ "@context": context, "@graph": nodes });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn push(obj: &mut Map<String, Value>, key: &str, v: Value) {
    match obj.get_mut(key) {
        Some(Value::Array(items)) => items.push(v),
        _ => {
            obj.insert(key.to_string(), Value::Array(vec![v]));
        }
    }
}

fn id(t: &Term) -> String {
    match t {
        Term::Iri(iri) => iri.clone(),
        Term::Blank(n) => format!("_:b{n}"),
        Term::Literal(l) => l.value.clone(),
    }
}

fn value(t: &Term) -> Value {
    match t {
        Term::Literal(l) => match &l.kind {
            LiteralKind::Plain => json!({ "@value": l.value }),
            LiteralKind::Lang(tag) => json!({ "@value": l.value, "@language": tag }),
            LiteralKind::Typed(dt) => json!({ "@value": l.value, "@type": dt.iri() }),
        },
        other => json!({ "@id": id(other) }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::rdf::name;
    use super::*;

    #[test]
    fn writes_node_objects_with_explicit_values() {
        let mut g = Graph::new();
        let s = Term::iri("http://example.com/d");
        g.add_type(&s, name("dcat", "Dataset"));
        g.add(&s, name("dcat", "keyword"), Term::lang("交通", "zh"));
        g.add(&s, name("dcat", "keyword"), Term::lang("\"路\"\n", "zh"));
        g.add(
            &s,
            name("dcat", "byteSize"),
            Term::typed("12", name("xsd", "nonNegativeInteger")),
        );
        let doc: Value = serde_json::from_str(&write(&g)).unwrap();
        let node = &doc["@graph"][0];
        assert_eq!(doc["@context"]["dct"], "http://purl.org/dc/terms/");
        assert_eq!(node["@type"], json!(["http://www.w3.org/ns/dcat#Dataset"]));
        assert_eq!(
            node["dcat:keyword"][1],
            json!({"@value": "\"路\"\n", "@language": "zh"})
        );
        assert_eq!(
            node["dcat:byteSize"][0]["@type"],
            "http://www.w3.org/2001/XMLSchema#nonNegativeInteger"
        );
    }
}
