//! The one place where errors become responses: problem JSON for `/api`, an HTML page for
//! the web, each message in the caller's language saying what was wrong and how to fix it.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pubdata_core::{DomainError, FieldError};
use pubdata_service::StoreError;
use serde::Serialize;

use crate::i18n::{t, Lang};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("missing or wrong CSRF token")]
    Csrf,
    #[error("request body larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => AppError::Domain(d),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Carried in the response extensions until the context middleware renders it.
#[derive(Clone)]
pub struct PendingError(pub Arc<AppError>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut r = self.status().into_response();
        self.add_headers(&mut r);
        r.extensions_mut().insert(PendingError(Arc::new(self)));
        r
    }
}

#[derive(Debug, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// The body of every `/api` error: `{"error": {"code", "message", "fields"}}`.
#[derive(Debug, Serialize)]
pub struct Problem {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
}

impl AppError {
    /// Headers that belong to the error whatever renders it, e.g. `Retry-After` on 429.
    pub fn add_headers(&self, r: &mut Response) {
        if let AppError::Domain(DomainError::Throttled { retry_after_secs, .. }) = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Domain(d) => match d {
                DomainError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
                DomainError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
                DomainError::Forbidden => StatusCode::FORBIDDEN,
                DomainError::NotFound { .. } => StatusCode::NOT_FOUND,
                DomainError::Conflict { .. } | DomainError::InvalidTransition { .. } => StatusCode::CONFLICT,
                DomainError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            },
            AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> String {
        match self {
            AppError::Domain(d) => match d {
                DomainError::Validation(_) => "validation".into(),
                DomainError::Unauthenticated { reason } => reason.to_string(),
                DomainError::Forbidden => "forbidden".into(),
                DomainError::NotFound { what } => format!("{what}_not_found"),
                DomainError::Conflict { code, .. } | DomainError::Throttled { code, .. } => code.to_string(),
                DomainError::InvalidTransition { .. } => "invalid_transition".into(),
            },
            AppError::Csrf => "csrf_failed".into(),
            AppError::BodyTooLarge(_) => "body_too_large".into(),
            AppError::BadRequest(_) => "bad_request".into(),
            AppError::Internal(_) => "internal".into(),
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        match self {
            AppError::Domain(d) => match d {
                DomainError::Validation(_) => t(lang, "error.validation", &[]),
                DomainError::Unauthenticated { reason } => t(lang, &format!("error.auth.{reason}"), &[]),
                DomainError::Forbidden => t(lang, "error.forbidden", &[]),
                DomainError::NotFound { what } => t(
                    lang,
                    "error.not_found",
                    &[("what", t(lang, &format!("object.{what}"), &[]))],
                ),
                DomainError::Conflict { code, .. } => t(lang, &format!("error.conflict.{code}"), &[]),
                DomainError::Throttled { code, retry_after_secs } => t(
                    lang,
                    &format!("error.throttled.{code}"),
                    &[
                        ("minutes", retry_after_secs.div_ceil(60).to_string()),
                        ("seconds", retry_after_secs.to_string()),
                    ],
                ),
                DomainError::InvalidTransition { from, action } => t(
                    lang,
                    "error.invalid_transition",
                    &[("from", from.clone()), ("action", action.clone())],
                ),
            },
            AppError::Csrf => t(lang, "error.csrf", &[]),
            AppError::BodyTooLarge(limit) => t(lang, "error.too_large", &[("limit", (limit / 1024).to_string())]),
            AppError::BadRequest(detail) => t(lang, "error.bad_request", &[("detail", detail.clone())]),
            AppError::Internal(_) => t(lang, "error.internal", &[]),
        }
    }

    /// Field problems, including a conflict on a named field (e.g. a taken login).
    pub fn fields(&self, lang: Lang) -> Vec<FieldProblem> {
        match self {
            AppError::Domain(DomainError::Validation(v)) => v.iter().map(|f| field_problem(lang, f)).collect(),
            AppError::Domain(DomainError::Conflict { field: Some(field), .. }) => vec![FieldProblem {
                field: field.to_string(),
                code: self.code(),
                message: self.message(lang),
            }],
            _ => Vec::new(),
        }
    }

    pub fn problem(&self, lang: Lang) -> Problem {
        Problem {
            code: self.code(),
            message: self.message(lang),
            fields: self.fields(lang),
        }
    }
}

pub fn field_problem(lang: Lang, f: &FieldError) -> FieldProblem {
    let params: Vec<(&str, String)> = f.params.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (label_key, row) = label_key(&f.field);
    let mut label = t(lang, &format!("label.{label_key}"), &[]);
    if let Some(row) = row {
        label = t(lang, "label.at_row", &[("label", label), ("row", row.to_string())]);
    }
    FieldProblem {
        field: f.field.clone(),
        code: f.code.clone(),
        message: format!("{label}: {}", t(lang, &format!("field.{}", f.code), &params)),
    }
}

/// The label of a field in a list shares one translation: `fields[2].name` is labelled by
/// `fields.name`, and the message names the row (the first index, counted from 1).
fn label_key(field: &str) -> (String, Option<usize>) {
    let (mut key, mut row, mut rest) = (String::new(), None, field);
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open..].find(']') else { break };
        let Ok(i) = rest[open + 1..open + len].parse::<usize>() else {
            break;
        };
        row.get_or_insert(i + 1);
        key.push_str(&rest[..open]);
        rest = &rest[open + len + 1..];
    }
    key.push_str(rest);
    (key, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_share_a_label_and_name_their_row() {
        assert_eq!(label_key("fields[2].name"), ("fields.name".to_string(), Some(3)));
        assert_eq!(label_key("reasons[0]"), ("reasons".to_string(), Some(1)));
        assert_eq!(label_key("title"), ("title".to_string(), None));
        assert_eq!(label_key("a[x]"), ("a[x]".to_string(), None));
        let f = FieldError::new("fields[2].name", "required");
        assert_eq!(field_problem(Lang::ZhCn, &f).message, "第 3 行的字段名: 必须填写。");
        assert_eq!(field_problem(Lang::En, &f).message, "Column name (row 3): is required.");
    }
}
