//! CKAN Action API parameters: a query string, a form or a JSON body (the first byte chooses),
//! then every accessor the actions use, `package_search`'s Solr `q`/`fq` tokenizer and
//! `datastore_search`'s parameters. Bad input is an `Err` (CKAN's error), never a panic, and
//! what is accepted is within the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubdata_core::ckan_params::{parse_datastore_search, solr_tokens, Params};
use pubdata_core::datastore_query::MAX_LIMIT;

const NAMES: &[&str] = &[
    "q",
    "fq",
    "fq_list",
    "sort",
    "rows",
    "start",
    "facet",
    "facet.field",
    "facet.limit",
    "id",
    "resource_id",
    "limit",
    "offset",
    "filters",
    "fields",
    "records_format",
    "include_total",
    "all_fields",
    "name",
];

fn check_tokens(s: &str) {
    if let Ok(tokens) = solr_tokens(s) {
        assert!(tokens.iter().all(|t| !t.is_empty()), "an empty token from {s:?}");
        // Only white space between tokens is dropped.
        let kept: String = tokens.concat().chars().filter(|c| !c.is_whitespace()).collect();
        let given: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(kept, given, "tokens of {s:?} lost text: {tokens:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let parsed = match kind % 4 {
        0 => Params::from_query(&String::from_utf8_lossy(rest)),
        1 => Params::from_body("application/x-www-form-urlencoded", rest),
        2 => Params::from_body("application/json", rest),
        _ => Params::from_body("text/plain", rest),
    };
    check_tokens(&String::from_utf8_lossy(rest));
    let Ok(p) = parsed else { return };
    let p = p.or(Params::from_query("rows=3&extra=1").expect("a fixed query string"));
    for &name in NAMES {
        if let Ok(Some(t)) = p.text(name) {
            assert!(!t.trim().is_empty());
            check_tokens(&t);
        }
        for (default, min, max) in [(10, 0, 1000), (-1, -1, i64::MAX), (5, 1, 1)] {
            if let Ok(n) = p.int(name, default, min, max) {
                assert!(
                    n == default || (min..=max).contains(&n),
                    "{name}: {n} outside {min}..={max}"
                );
            }
        }
        let _ = p.flag(name, true);
        if let Ok(Some(list)) = p.list(name) {
            if let Some(serde_json::Value::String(s)) = p.get(name) {
                if !s.trim_start().starts_with('[') {
                    assert!(list.iter().all(|v| !v.is_empty() && v.trim() == v), "{list:?}");
                }
            }
        }
        let _ = p.object(name);
    }
    if let Ok(r) = parse_datastore_search(&p) {
        assert!(r.limit <= MAX_LIMIT);
        assert_eq!(r.query.limit, r.limit.max(1));
        assert!(!r.query.fields.iter().any(|f| f == "_id"));
        assert!(r.query.sort.as_ref().is_none_or(|(f, _)| f != "_id"));
        assert_eq!(r.resource_id.trim().parse::<i64>().ok(), Some(r.dist_id));
    }
});
