//! `datastore_search`: CKAN's parameters read into a data-API query, and the rows rendered in
//! CKAN's shape (`fields` with CKAN types, `records` as objects with `_id`, `total`, `_links`).

use pubdata_core::field::FieldType;
use pubdata_store::datastore::QueryResult;
use serde_json::{json, Map, Value};

use super::error::CkanError;
use super::params::Params;

pub use pubdata_core::ckan_params::{DatastoreRequest, DEFAULT_LIMIT};

/// Reads `datastore_search`'s parameters.
pub fn parse(p: &Params) -> Result<DatastoreRequest, CkanError> {
    Ok(pubdata_core::ckan_params::parse_datastore_search(p)?)
}

/// A pubdata field type as CKAN's datastore names column types.
pub fn ckan_type(t: FieldType) -> &'static str {
    match t {
        FieldType::Integer => "int",
        FieldType::Decimal => "numeric",
        FieldType::Date => "date",
        FieldType::Datetime => "timestamp",
        FieldType::Boolean => "bool",
        FieldType::String | FieldType::Code => "text",
    }
}

/// A cell as JSON of its column's type: numbers and booleans as such, the rest as text.
fn cell(t: Option<FieldType>, v: &Option<String>) -> Value {
    let Some(s) = v else { return Value::Null };
    let number = match t {
        Some(FieldType::Integer) => s.parse::<i64>().ok().map(Value::from),
        Some(FieldType::Decimal) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        Some(FieldType::Boolean) => match s.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    number.unwrap_or_else(|| Value::String(s.clone()))
}

fn link(path: &str, req: &DatastoreRequest, offset: u64) -> String {
    let mut pairs = vec![("resource_id".to_string(), req.resource_id.clone())];
    if offset > 0 {
        pairs.push(("offset".into(), offset.to_string()));
    }
    if req.limit != DEFAULT_LIMIT as u64 {
        pairs.push(("limit".into(), req.limit.to_string()));
    }
    format!("{path}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// The result: `_id` counts the rows of the whole result from 1 (in file order with no filters
/// it is the row's number in the file).
pub fn render(
    req: &DatastoreRequest,
    result: &QueryResult,
    columns: &[(String, FieldType)],
    action_path: &str,
) -> Value {
    let type_of = |name: &str| columns.iter().find(|c| c.0 == name).map(|c| c.1);
    let mut fields = vec![json!({"id": "_id", "type": "int"})];
    fields.extend(
        result
            .fields
            .iter()
            .map(|f| json!({"id": f, "type": type_of(f).map_or("text", ckan_type)})),
    );
    let shown = if req.limit == 0 { 0 } else { result.rows.len() };
    let records: Vec<Value> = result.rows[..shown]
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut rec = Map::new();
            rec.insert("_id".into(), json!(req.query.offset + i as u64 + 1));
            for (f, v) in result.fields.iter().zip(row) {
                rec.insert(f.clone(), cell(type_of(f), v));
            }
            Value::Object(rec)
        })
        .collect();
    let mut out = json!({
        "resource_id": req.resource_id,
        "fields": fields,
        "records": records,
        "limit": req.limit,
        "offset": req.query.offset,
        "_links": {
            "start": link(action_path, req, 0),
            "next": link(action_path, req, req.query.offset + req.limit),
        },
    });
    if req.include_total {
        out["total"] = json!(result.total);
        out["total_was_estimated"] = json!(false);
    }
    if let Some(q) = &req.query.q {
        out["q"] = json!(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use pubdata_store::datastore::{Filter, Op};

    use super::*;

    fn params(v: Value) -> Params {
        Params::from_body("application/json", v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn ckan_parameters_become_a_data_api_query() {
        let r = parse(&params(
            json!({"resource_id": "12", "filters": {"name": "春熙路街道", "code": [1, "2"]},
            "q": "街道", "limit": "5", "offset": 10, "fields": "code,name", "sort": "code desc", "plain": true}),
        ))
        .unwrap();
        assert_eq!((r.dist_id, r.limit, r.query.limit, r.query.offset), (12, 5, 5, 10));
        assert_eq!(r.query.q.as_deref(), Some("街道"));
        assert_eq!(r.query.fields, ["code", "name"]);
        assert_eq!(r.query.sort, Some(("code".to_string(), true)));
        let mut f = r.query.filters.clone();
        f.sort_by(|a, b| a.field.cmp(&b.field));
        assert_eq!(
            f,
            vec![
                Filter {
                    field: "code".into(),
                    op: Op::In,
                    value: "1,2".into()
                },
                Filter {
                    field: "name".into(),
                    op: Op::Eq,
                    value: "春熙路街道".into()
                },
            ]
        );
        let r = parse(&params(
            json!({"id": "3", "limit": 0, "filters": "{\"a\": true}", "sort": "_id"}),
        ))
        .unwrap();
        assert_eq!((r.limit, r.query.limit, r.query.sort.clone()), (0, 1, None));
        assert_eq!(r.query.filters[0].value, "true");
        assert!(parse(&params(json!({"resource_id": "3"}))).unwrap().include_total);
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let invalid = |v: Value| match parse(&params(v.clone())) {
            Err(CkanError::Validation(f)) => f[0].0.clone(),
            other => panic!("{v}: {other:?}"),
        };
        assert_eq!(invalid(json!({})), "resource_id");
        assert_eq!(invalid(json!({"resource_id": "1", "limit": 10_001})), "limit");
        assert_eq!(invalid(json!({"resource_id": "1", "limit": "x"})), "limit");
        assert_eq!(invalid(json!({"resource_id": "1", "offset": -1})), "offset");
        assert_eq!(invalid(json!({"resource_id": "1", "filters": "[1]"})), "filters");
        assert_eq!(
            invalid(json!({"resource_id": "1", "filters": {"a": {"b": 1}}})),
            "filters"
        );
        assert_eq!(
            invalid(json!({"resource_id": "1", "filters": {"a": ["x,y"]}})),
            "filters"
        );
        assert_eq!(invalid(json!({"resource_id": "1", "sort": "a, b"})), "sort");
        assert_eq!(invalid(json!({"resource_id": "1", "sort": "a sideways"})), "sort");
        assert_eq!(invalid(json!({"resource_id": "1", "sort": "_id desc"})), "sort");
        assert_eq!(invalid(json!({"resource_id": "1", "q": {"name": "x"}})), "q");
        assert_eq!(
            invalid(json!({"resource_id": "1", "records_format": "csv"})),
            "records_format"
        );
        assert!(matches!(
            parse(&params(json!({"resource_id": "abc"}))),
            Err(CkanError::NotFound(_))
        ));
    }

    #[test]
    fn rows_render_in_ckans_shape() {
        let req = parse(&params(json!({"resource_id": "7", "limit": 2, "offset": 4}))).unwrap();
        let result = QueryResult {
            fields: vec!["code".into(), "n".into(), "ok".into(), "x".into()],
            rows: vec![
                vec![
                    Some("510104".into()),
                    Some("3".into()),
                    Some("true".into()),
                    Some("1.5".into()),
                ],
                vec![Some("510105".into()), None, Some("false".into()), Some("bad".into())],
            ],
            total: 40,
            next_after: None,
        };
        let columns = vec![
            ("code".to_string(), FieldType::Code),
            ("n".to_string(), FieldType::Integer),
            ("ok".to_string(), FieldType::Boolean),
            ("x".to_string(), FieldType::Decimal),
        ];
        let v = render(&req, &result, &columns, "/api/3/action/datastore_search");
        assert_eq!(
            v["fields"],
            json!([{"id": "_id", "type": "int"}, {"id": "code", "type": "text"}, {"id": "n", "type": "int"},
                   {"id": "ok", "type": "bool"}, {"id": "x", "type": "numeric"}])
        );
        assert_eq!(
            v["records"],
            json!([{"_id": 5, "code": "510104", "n": 3, "ok": true, "x": 1.5},
                   {"_id": 6, "code": "510105", "n": null, "ok": false, "x": "bad"}])
        );
        assert_eq!(
            (v["total"].clone(), v["limit"].clone(), v["offset"].clone()),
            (json!(40), json!(2), json!(4))
        );
        assert_eq!(
            v["_links"]["start"],
            "/api/3/action/datastore_search?resource_id=7&limit=2"
        );
        assert_eq!(
            v["_links"]["next"],
            "/api/3/action/datastore_search?resource_id=7&offset=6&limit=2"
        );
        let fields_only = parse(&params(
            json!({"resource_id": "7", "limit": 0, "include_total": "false"}),
        ))
        .unwrap();
        let v = render(&fields_only, &result, &columns, "/api/action/datastore_search");
        assert_eq!(v["records"], json!([]));
        assert!(v.get("total").is_none());
    }
}
