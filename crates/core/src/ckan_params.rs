//! CKAN's Action API parameters as CKAN reads them: from the query string (GET), a JSON object
//! or a form (POST); numbers and booleans may come as strings, and unknown parameters are
//! ignored. Also the pure parts of reading `package_search`'s Solr-style `q`/`fq` and
//! `datastore_search`'s parameters. No IO: the server answers with these, the fuzz targets
//! (`fuzz/`) feed them arbitrary input.

use serde_json::{Map, Value};

use crate::datastore_query::{DatastoreQuery, Filter, Op, MAX_LIMIT};

/// Why parameters cannot be read; the server turns each into CKAN's error of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A parameter's value is not valid (CKAN's `Validation Error`).
    Invalid { field: String, message: String },
    /// The body or query string cannot be read (a bare `Bad request - …`).
    BadRequest(String),
    /// `q`, `fq` or `sort` that cannot be searched (`Search Query Error`).
    SearchQuery(String),
    /// The named thing does not exist (`Not Found Error`).
    NotFound(String),
}

impl ParamError {
    pub fn invalid(field: &str, message: impl Into<String>) -> ParamError {
        ParamError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Map<String, Value>);

/// `key=value` pairs, a key given more than once becoming a list (as CKAN's `mixed()` does).
fn from_pairs(pairs: Vec<(String, String)>) -> Params {
    let mut map = Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            Some(Value::Array(list)) => list.push(Value::String(v)),
            Some(old) => *old = Value::Array(vec![old.take(), Value::String(v)]),
            None => {
                map.insert(k, Value::String(v));
            }
        }
    }
    Params(map)
}

fn json_error(detail: impl std::fmt::Display) -> ParamError {
    ParamError::BadRequest(format!("JSON Error: {detail}"))
}

impl Params {
    pub fn from_query(query: &str) -> Result<Params, ParamError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(from_pairs)
            .map_err(|e| ParamError::BadRequest(format!("Bad request data: the query string cannot be read: {e}")))
    }

    /// A POST body: a form when it says so, JSON otherwise (CKAN reads any other body as JSON).
    pub fn from_body(content_type: &str, body: &[u8]) -> Result<Params, ParamError> {
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| ParamError::BadRequest(format!("Bad request data: the form cannot be read: {e}")))?;
            // A form whose only key is a JSON object and whose value is empty or "1" carries that
            // object, as some clients post it.
            if let [(key, v)] = &pairs[..] {
                if v.is_empty() || v == "1" {
                    if let Ok(Value::Object(map)) = serde_json::from_str(key) {
                        return Ok(Params(map));
                    }
                }
            }
            return Ok(from_pairs(pairs));
        }
        if content_type.starts_with("multipart/form-data") {
            return Err(ParamError::BadRequest(
                "Bad request data: multipart bodies are not accepted here; send JSON or a form".into(),
            ));
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(other) => Err(json_error(format!(
                "Request data JSON decoded to {other} but it needs to be a dictionary."
            ))),
            Err(e) => Err(json_error(format!("Error decoding JSON data: {e}"))),
        }
    }

    /// Adds the pairs of `other` this one lacks (query-string values under a POST body).
    pub fn or(mut self, other: Params) -> Params {
        for (k, v) in other.0 {
            self.0.entry(k).or_insert(v);
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A text parameter: a string, or a number or boolean written as one; absent when empty.
    pub fn text(&self, name: &str) -> Result<Option<String>, ParamError> {
        let s = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(ParamError::invalid(name, "Must be a string")),
        };
        Ok((!s.trim().is_empty()).then_some(s))
    }

    /// A whole number within `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, ParamError> {
        let n = match self.get(name) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(default),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        let n = n.ok_or_else(|| ParamError::invalid(name, "Invalid integer"))?;
        if n < min {
            let msg = if min == 0 {
                "Must be a natural number".to_string()
            } else {
                format!("Must be at least {min}")
            };
            return Err(ParamError::invalid(name, msg));
        }
        if n > max {
            return Err(ParamError::invalid(name, format!("Must be at most {max}")));
        }
        Ok(n)
    }

    /// A boolean as CKAN's `asbool` reads it: true/false, yes/no, on/off, 1/0, any case.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        let invalid = || ParamError::invalid(name, "Must be a boolean: true or false");
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Ok(false),
                Some(1) => Ok(true),
                _ => Err(invalid()),
            },
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(default),
                "true" | "yes" | "on" | "y" | "t" | "1" => Ok(true),
                "false" | "no" | "off" | "n" | "f" | "0" => Ok(false),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }

    /// A list of strings: a JSON list, a string holding one (CKAN's `facet.field`), or one
    /// string split at commas.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ParamError> {
        let invalid = || ParamError::invalid(name, "Must be a list of strings, e.g. [\"a\", \"b\"]");
        let strings = |items: &[Value]| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(invalid))
                .collect::<Result<Vec<_>, _>>()
        };
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => strings(items).map(Some),
            Some(Value::String(s)) if s.trim_start().starts_with('[') => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => strings(&items).map(Some),
                _ => Err(invalid()),
            },
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            Some(_) => Err(invalid()),
        }
    }

    /// A JSON object, or a string holding one.
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>, ParamError> {
        let invalid = || ParamError::invalid(name, "Must be a JSON object, e.g. {\"field\": \"value\"}");
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(invalid()),
            },
            Some(_) => Err(invalid()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// package_search: the Solr query syntax

/// Splits at white space outside quotes and parentheses, keeping quotes in the tokens.
pub fn solr_tokens(s: &str) -> Result<Vec<String>, ParamError> {
    let (mut out, mut cur, mut quoted, mut depth) = (Vec::new(), String::new(), false, 0u32);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '(' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' if !quoted => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| ParamError::SearchQuery(format!("unbalanced ')' in {s:?}")))?;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(ParamError::SearchQuery(format!("a quote is not closed in {s:?}")));
    }
    if depth > 0 {
        return Err(ParamError::SearchQuery(format!("a '(' is not closed in {s:?}")));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

/// A value without its quotes and escapes.
pub fn solr_unquote(v: &str) -> String {
    let inner = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// datastore_search

/// CKAN's default page of rows.
pub const DEFAULT_LIMIT: i64 = 100;

/// What `datastore_search` asked for.
#[derive(Debug, Clone)]
pub struct DatastoreRequest {
    /// The distribution id the resource id names.
    pub dist_id: i64,
    pub resource_id: String,
    pub query: DatastoreQuery,
    /// `limit=0` asks for the fields only; the store always reads at least one row.
    pub limit: u64,
    pub include_total: bool,
}

fn text_of(field: &str, v: &Value) -> Result<String, ParamError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ParamError::invalid(
            "filters",
            format!("The value for {field:?} must be a string, number, boolean or a list of them"),
        )),
    }
}

/// `{"col": value}` is an equality, `{"col": [a, b]}` any of the values.
fn datastore_filters(map: &Map<String, Value>) -> Result<Vec<Filter>, ParamError> {
    let mut out = Vec::new();
    for (field, v) in map {
        let (op, value) = match v {
            Value::Array(items) => {
                let values = items.iter().map(|i| text_of(field, i)).collect::<Result<Vec<_>, _>>()?;
                if values.iter().any(|v| v.contains(',')) {
                    return Err(ParamError::invalid(
                        "filters",
                        format!("Values in a list for {field:?} cannot contain commas"),
                    ));
                }
                (Op::In, values.join(","))
            }
            other => (Op::Eq, text_of(field, other)?),
        };
        out.push(Filter {
            field: field.clone(),
            op,
            value,
        });
    }
    Ok(out)
}

/// `"col"`, `"col asc"` or `"col desc"`; one column (or `_id`, the file order).
fn datastore_sort(s: &str) -> Result<Option<(String, bool)>, ParamError> {
    let parts: Vec<&str> = s.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let invalid = |m: String| ParamError::invalid("sort", m);
    let [one] = parts[..] else {
        return match parts.len() {
            0 => Ok(None),
            _ => Err(invalid("Sort by one field only, e.g. \"name desc\"".into())),
        };
    };
    let words: Vec<&str> = one.split_whitespace().collect();
    let (field, desc) = match words[..] {
        [f] => (f, false),
        [f, dir] if dir.eq_ignore_ascii_case("asc") => (f, false),
        [f, dir] if dir.eq_ignore_ascii_case("desc") => (f, true),
        _ => {
            return Err(invalid(format!(
                "{one:?} is not \"field\", \"field asc\" or \"field desc\""
            )))
        }
    };
    let field = field.trim_matches('"');
    match (field, desc) {
        ("_id", false) => Ok(None),
        ("_id", true) => Err(invalid("Rows can be sorted by _id ascending only".into())),
        _ => Ok(Some((field.to_string(), desc))),
    }
}

/// Reads `datastore_search`'s parameters.
pub fn parse_datastore_search(p: &Params) -> Result<DatastoreRequest, ParamError> {
    let resource_id = p
        .text("resource_id")?
        .or(p.text("id")?)
        .ok_or_else(|| ParamError::invalid("resource_id", "Missing value"))?;
    let dist_id = resource_id
        .trim()
        .parse::<i64>()
        .map_err(|_| ParamError::NotFound(format!("Resource \"{resource_id}\" was not found.")))?;
    let limit = p.int("limit", DEFAULT_LIMIT, 0, MAX_LIMIT as i64)? as u64;
    let offset = p.int("offset", 0, 0, i64::MAX)? as u64;
    let q = match p.get("q") {
        Some(Value::Object(_)) => {
            return Err(ParamError::invalid(
                "q",
                "Searching single fields is not supported; give q as text, or use filters",
            ))
        }
        _ => p.text("q")?,
    };
    let fields = p
        .list("fields")?
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != "_id")
        .collect();
    let sort = match p.text("sort")? {
        Some(s) => datastore_sort(&s)?,
        None => None,
    };
    if let Some(format) = p.text("records_format")? {
        if format != "objects" {
            return Err(ParamError::invalid("records_format", "Only \"objects\" is supported"));
        }
    }
    Ok(DatastoreRequest {
        dist_id,
        resource_id,
        query: DatastoreQuery {
            filters: datastore_filters(&p.object("filters")?.unwrap_or_default())?,
            q,
            sort,
            fields,
            limit: limit.max(1),
            offset,
            after: None,
        },
        limit,
        include_total: p.flag("include_total", true)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn json(v: Value) -> Params {
        Params::from_body("application/json", v.to_string().as_bytes()).unwrap()
    }

    fn field_messages(e: ParamError) -> (String, Vec<String>) {
        match e {
            ParamError::Invalid { field, message } => (field, vec![message]),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn query_strings_forms_and_json_give_the_same_parameters() {
        let q = Params::from_query("rows=10&q=%E9%81%93%E8%B7%AF&x=1&x=2").unwrap();
        assert_eq!(q.int("rows", 0, 0, 100).unwrap(), 10);
        assert_eq!(q.text("q").unwrap().as_deref(), Some("道路"));
        assert_eq!(q.get("x"), Some(&json!(["1", "2"])));
        let f = Params::from_body("application/x-www-form-urlencoded", b"rows=10&q=%E9%81%93%E8%B7%AF").unwrap();
        assert_eq!(f.int("rows", 0, 0, 100).unwrap(), 10);
        let j = json(json!({"rows": "10", "q": "道路"}));
        assert_eq!(j.int("rows", 0, 0, 100).unwrap(), 10);
        assert_eq!(json(json!({"rows": 10})).int("rows", 0, 0, 100).unwrap(), 10);
        let packed = Params::from_body("application/x-www-form-urlencoded", b"%7B%22rows%22%3A+3%7D=1").unwrap();
        assert_eq!(packed.int("rows", 0, 0, 100).unwrap(), 3);
        assert_eq!(Params::from_body("application/json", b"  ").unwrap(), Params::default());
        let merged = j.or(Params::from_query("rows=99&start=5").unwrap());
        assert_eq!(
            (
                merged.int("rows", 0, 0, 100).unwrap(),
                merged.int("start", 0, 0, 100).unwrap()
            ),
            (10, 5)
        );
    }

    #[test]
    fn bad_bodies_are_ckan_json_errors() {
        for body in [&b"{not json"[..], b"[1, 2]", b"\"text\""] {
            match Params::from_body("application/json", body) {
                Err(ParamError::BadRequest(m)) => assert!(m.starts_with("JSON Error: "), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            Params::from_body("multipart/form-data; boundary=x", b"--x"),
            Err(ParamError::BadRequest(_))
        ));
    }

    #[test]
    fn numbers_are_checked_with_ckan_messages() {
        let p = |v: Value| json(json!({ "rows": v }));
        assert_eq!(p(json!("")).int("rows", 10, 0, 1000).unwrap(), 10);
        assert_eq!(p(Value::Null).int("rows", 10, 0, 1000).unwrap(), 10);
        assert_eq!(p(json!(" 7 ")).int("rows", 10, 0, 1000).unwrap(), 7);
        let cases = [
            (json!("abc"), "Invalid integer"),
            (json!(1.5), "Invalid integer"),
            (json!([1]), "Invalid integer"),
            (json!("-1"), "Must be a natural number"),
            (json!(5000), "Must be at most 1000"),
            (json!("99999999999999999999999"), "Invalid integer"),
        ];
        for (v, msg) in cases {
            let e = p(v.clone()).int("rows", 10, 0, 1000).unwrap_err();
            assert_eq!(field_messages(e), ("rows".to_string(), vec![msg.to_string()]), "{v}");
        }
        let e = p(json!(0)).int("rows", 10, 1, 1000).unwrap_err();
        assert_eq!(field_messages(e).1, ["Must be at least 1"]);
    }

    #[test]
    fn flags_lists_and_objects() {
        let p = json(json!({"a": "True", "b": "0", "c": "maybe", "d": true,
            "f1": "[\"tags\", \"organization\"]", "f2": ["x"], "f3": "a, b", "f4": "[1]",
            "o1": "{\"k\": 1}", "o2": {"k": [1, 2]}, "o3": "[]"}));
        assert!(p.flag("a", false).unwrap());
        assert!(!p.flag("b", true).unwrap());
        assert!(p.flag("c", false).is_err());
        assert!(p.flag("d", false).unwrap());
        assert!(p.flag("missing", true).unwrap());
        assert_eq!(p.list("f1").unwrap().unwrap(), ["tags", "organization"]);
        assert_eq!(p.list("f2").unwrap().unwrap(), ["x"]);
        assert_eq!(p.list("f3").unwrap().unwrap(), ["a", "b"]);
        assert!(p.list("f4").is_err());
        assert_eq!(p.list("missing").unwrap(), None);
        assert_eq!(p.object("o1").unwrap().unwrap()["k"], json!(1));
        assert_eq!(p.object("o2").unwrap().unwrap()["k"], json!([1, 2]));
        assert!(p.object("o3").is_err());
        assert!(p.text("o2").is_err());
        assert_eq!(p.text("b").unwrap().as_deref(), Some("0"));
    }

    #[test]
    fn solr_tokens_split_outside_quotes_and_parentheses() {
        assert_eq!(
            solr_tokens(r#"tags:"a b" organization:(x OR "y z")  +res_format:CSV"#).unwrap(),
            [r#"tags:"a b""#, r#"organization:(x OR "y z")"#, "+res_format:CSV"]
        );
        assert_eq!(solr_tokens(r"a\ b c\").unwrap(), [r"a\ b", r"c\"]);
        assert_eq!(solr_tokens("  ").unwrap(), Vec::<String>::new());
        for bad in ["a)", "(a", "\"a", "x:(\"y)\""] {
            assert!(matches!(solr_tokens(bad), Err(ParamError::SearchQuery(_))), "{bad}");
        }
        assert_eq!(solr_unquote(r#""a \"b\"""#), r#"a "b""#);
        assert_eq!(solr_unquote("plain"), "plain");
    }
}
