//! The domain error every layer speaks. Messages are translation keys (with parameters), so
//! the server can say what went wrong and how to fix it in the user's language.

use serde::Serialize;

/// One problem with one input field: `code` is a translation key under `error.field.`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    /// Named values the message interpolates, e.g. `min` and `max`.
    pub params: Vec<(String, String)>,
}

impl FieldError {
    pub fn new(field: &str, code: &str) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            params: Vec::new(),
        }
    }

    pub fn with(mut self, name: &str, value: impl ToString) -> Self {
        self.params.push((name.into(), value.to_string()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// One or more inputs are invalid; each says which field and why.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// The caller is not logged in (or the session/token expired or was revoked).
    #[error("authentication required ({reason})")]
    Unauthenticated { reason: &'static str },
    /// The caller is known but may not do this.
    #[error("forbidden")]
    Forbidden,
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness or state conflict, e.g. a login that is already taken.
    #[error("conflict: {code}")]
    Conflict {
        code: &'static str,
        field: Option<&'static str>,
    },
    /// Too many attempts; the caller may try again after `retry_after_secs`.
    #[error("throttled for {retry_after_secs}s")]
    Throttled { code: &'static str, retry_after_secs: u64 },
    #[error("cannot {action} from state {from}")]
    InvalidTransition { from: String, action: String },
}

impl DomainError {
    pub fn field(field: &str, code: &str) -> Self {
        DomainError::Validation(vec![FieldError::new(field, code)])
    }
}

/// Collects field errors so a form reports every problem at once, not the first only.
#[derive(Debug, Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn check(&mut self, ok: bool, field: &str, code: &str) -> bool {
        if !ok {
            self.0.push(FieldError::new(field, code));
        }
        ok
    }

    /// Character-count bounds (Chinese characters count as one each).
    pub fn length(&mut self, value: &str, field: &str, min: usize, max: usize) -> bool {
        let n = value.chars().count();
        if n < min || n > max {
            let code = if n == 0 { "required" } else { "length" };
            self.0
                .push(FieldError::new(field, code).with("min", min).with("max", max));
            return false;
        }
        true
    }

    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(self.0))
        }
    }
}
