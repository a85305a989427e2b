//! CKAN's error bodies and status codes: `error.__type` with a message (and field lists for a
//! Validation Error), and a bare JSON string for a bad request, as `ckan/views/api.py` sends them.

use axum::http::StatusCode;
use pubdata_core::ckan_params::ParamError;
use pubdata_core::{DomainError, FieldError};
use pubdata_service::StoreError;
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum CkanError {
    /// 404 `Not Found Error`; the text follows "Not found: ".
    NotFound(String),
    /// 403 `Authorization Error`; the text follows "Access denied: ".
    Authorization(String),
    /// 409 `Validation Error`: messages per parameter.
    Validation(Vec<(String, Vec<String>)>),
    /// 400 `Search Query Error`: `q` or `fq` or `sort` that cannot be searched.
    SearchQuery(String),
    /// 400 with a bare JSON string `Bad request - …` (unknown action, unreadable body).
    BadRequest(String),
    /// 500 `Internal Server Error`; the detail is logged, never sent.
    Internal(String),
}

impl CkanError {
    pub fn invalid(field: &str, message: impl Into<String>) -> CkanError {
        CkanError::Validation(vec![(field.to_string(), vec![message.into()])])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CkanError::NotFound(_) => StatusCode::NOT_FOUND,
            CkanError::Authorization(_) => StatusCode::FORBIDDEN,
            CkanError::Validation(_) => StatusCode::CONFLICT,
            CkanError::SearchQuery(_) | CkanError::BadRequest(_) => StatusCode::BAD_REQUEST,
            CkanError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The value of the envelope's `error` (for a bad request: the whole body).
    pub fn body(&self) -> Value {
        let typed = |kind: &str, message: String| json!({"__type": kind, "message": message});
        match self {
            CkanError::NotFound(m) => typed("Not Found Error", format!("Not found: {m}")),
            CkanError::Authorization(m) => typed("Authorization Error", format!("Access denied: {m}")),
            CkanError::SearchQuery(m) => typed("Search Query Error", format!("Search Query is invalid: {m}")),
            CkanError::Internal(_) => typed("Internal Server Error", "Internal Server Error".into()),
            CkanError::BadRequest(m) => Value::String(format!("Bad request - {m}")),
            CkanError::Validation(fields) => {
                let mut map = Map::new();
                map.insert("__type".into(), "Validation Error".into());
                let summary: Vec<String> = fields.iter().map(|(f, m)| format!("{f}: {}", m.join(" "))).collect();
                map.insert("message".into(), summary.join("; ").into());
                for (field, messages) in fields {
                    map.insert(field.clone(), json!(messages));
                }
                Value::Object(map)
            }
        }
    }
}

/// What a field error's code means, in CKAN's plain English.
fn field_message(f: &FieldError) -> String {
    let param = |name: &str| {
        f.params
            .iter()
            .find(|p| p.0 == name)
            .map(|p| p.1.clone())
            .unwrap_or_default()
    };
    match f.code.as_str() {
        "unknown_field" => "No such field in this resource's data".into(),
        "filter_value" => format!("Value does not fit the field's type ({})", param("type")),
        "in_values" => "Give between 1 and 100 values".into(),
        "prefix_text_only" => "Prefix matching works on text fields only".into(),
        "range" => format!("Must be between {} and {}", param("min"), param("max")),
        "number" => "Invalid integer".into(),
        other => other.replace('_', " "),
    }
}

impl From<ParamError> for CkanError {
    fn from(e: ParamError) -> Self {
        match e {
            ParamError::Invalid { field, message } => CkanError::Validation(vec![(field, vec![message])]),
            ParamError::BadRequest(m) => CkanError::BadRequest(m),
            ParamError::SearchQuery(m) => CkanError::SearchQuery(m),
            ParamError::NotFound(m) => CkanError::NotFound(m),
        }
    }
}

impl From<StoreError> for CkanError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            other => CkanError::Internal(other.to_string()),
        }
    }
}

impl From<DomainError> for CkanError {
    fn from(d: DomainError) -> Self {
        match d {
            DomainError::NotFound { what } => CkanError::NotFound(match what {
                "resource" => "Dataset not found".into(),
                "distribution" => "Resource was not found.".into(),
                "datastore" => "Resource has no data in the datastore".into(),
                "organisation" => "Organization not found".into(),
                other => format!("{} not found", other.replace('_', " ")),
            }),
            DomainError::Unauthenticated { .. } => CkanError::Authorization(
                "log in, or send an API token in the Authorization header, to read data rows".into(),
            ),
            DomainError::Forbidden => CkanError::Authorization("you may not read this".into()),
            DomainError::Conflict {
                code: "terms_required", ..
            } => CkanError::Authorization(
                "accept the resource's usage terms first (on its page, or POST /api/v1/resources/{id}/accept-terms)"
                    .into(),
            ),
            DomainError::Conflict {
                code: "grant_required" | "api_not_granted",
                ..
            } => CkanError::Authorization("this data is open on conditions: apply for it and use your grant".into()),
            DomainError::Validation(fields) => {
                let mut out: Vec<(String, Vec<String>)> = Vec::new();
                for f in &fields {
                    let m = field_message(f);
                    match out.iter_mut().find(|(name, _)| *name == f.field) {
                        Some((_, list)) => list.push(m),
                        None => out.push((f.field.clone(), vec![m])),
                    }
                }
                CkanError::Validation(out)
            }
            other => CkanError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_follow_ckan() {
        let e = CkanError::from(DomainError::NotFound { what: "resource" });
        assert_eq!(
            (e.status(), e.body()),
            (
                StatusCode::NOT_FOUND,
                json!({"__type": "Not Found Error", "message": "Not found: Dataset not found"})
            )
        );
        let e = CkanError::from(DomainError::Unauthenticated {
            reason: "login_required",
        });
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(e.body()["__type"], "Authorization Error");
        let e = CkanError::from(DomainError::Validation(vec![
            FieldError::new("sort", "unknown_field"),
            FieldError::new("sort", "other_code"),
        ]));
        assert_eq!(e.status(), StatusCode::CONFLICT);
        assert_eq!(e.body()["__type"], "Validation Error");
        assert_eq!(
            e.body()["sort"],
            json!(["No such field in this resource's data", "other code"])
        );
        let e = CkanError::BadRequest("Action name not known: nope".into());
        assert_eq!(
            (e.status(), e.body()),
            (
                StatusCode::BAD_REQUEST,
                json!("Bad request - Action name not known: nope")
            )
        );
        let e = CkanError::Internal("disk on fire".into());
        assert!(!e.body().to_string().contains("disk"));
        let e = CkanError::SearchQuery("bad fq".into());
        assert_eq!(
            (e.status(), e.body()["__type"].clone()),
            (StatusCode::BAD_REQUEST, json!("Search Query Error"))
        );
    }
}
