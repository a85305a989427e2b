//! An action's parameters as CKAN reads them: from the query string (GET), a JSON object or a
//! form (POST); numbers and booleans may come as strings, and unknown parameters are ignored.

use serde_json::{Map, Value};

use super::error::CkanError;

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

fn json_error(detail: impl std::fmt::Display) -> CkanError {
    CkanError::BadRequest(format!("JSON Error: {detail}"))
}

impl Params {
    pub fn from_query(query: &str) -> Result<Params, CkanError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .map(from_pairs)
            .map_err(|e| CkanError::BadRequest(format!("Bad request data: the query string cannot be read: {e}")))
    }

    /// A POST body: a form when it says so, JSON otherwise (CKAN reads any other body as JSON).
    pub fn from_body(content_type: &str, body: &[u8]) -> Result<Params, CkanError> {
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| CkanError::BadRequest(format!("Bad request data: the form cannot be read: {e}")))?;
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
            return Err(CkanError::BadRequest(
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
    pub fn text(&self, name: &str) -> Result<Option<String>, CkanError> {
        let s = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            Some(_) => return Err(CkanError::invalid(name, "Must be a string")),
        };
        Ok((!s.trim().is_empty()).then_some(s))
    }

    /// A whole number within `min..=max`, `default` when absent.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, CkanError> {
        let n = match self.get(name) {
            None => return Ok(default),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(default),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            Some(_) => None,
        };
        let n = n.ok_or_else(|| CkanError::invalid(name, "Invalid integer"))?;
        if n < min {
            let msg = if min == 0 {
                "Must be a natural number".to_string()
            } else {
                format!("Must be at least {min}")
            };
            return Err(CkanError::invalid(name, msg));
        }
        if n > max {
            return Err(CkanError::invalid(name, format!("Must be at most {max}")));
        }
        Ok(n)
    }

    /// A boolean as CKAN's `asbool` reads it: true/false, yes/no, on/off, 1/0, any case.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, CkanError> {
        let invalid = || CkanError::invalid(name, "Must be a boolean: true or false");
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
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, CkanError> {
        let invalid = || CkanError::invalid(name, "Must be a list of strings, e.g. [\"a\", \"b\"]");
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
    pub fn object(&self, name: &str) -> Result<Option<Map<String, Value>>, CkanError> {
        let invalid = || CkanError::invalid(name, "Must be a JSON object, e.g. {\"field\": \"value\"}");
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn json(v: Value) -> Params {
        Params::from_body("application/json", v.to_string().as_bytes()).unwrap()
    }

    fn field_messages(e: CkanError) -> (String, Vec<String>) {
        match e {
            CkanError::Validation(mut fields) => fields.remove(0),
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
                Err(CkanError::BadRequest(m)) => assert!(m.starts_with("JSON Error: "), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            Params::from_body("multipart/form-data; boundary=x", b"--x"),
            Err(CkanError::BadRequest(_))
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
}
