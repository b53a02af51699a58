//! The engine's error type. The API maps each variant to one HTTP status and a JSON body
//! `{"error": {"code", "message", "field"?}}`; infrastructure failures keep their cause chain
//! for the log and show callers only a generic message.

use herald_domain::FieldError;
use herald_ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is well-formed JSON but invalid; every problem is listed.
    #[error("invalid request: {}", .0.first().map(|e| e.to_string()).unwrap_or_default())]
    Invalid(Vec<FieldError>),
    /// A batch item (or several) is invalid: nothing was queued.
    #[error("{} invalid batch item(s)", .0.len())]
    InvalidItems(Vec<ItemError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or state rule forbids the change.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The same `Idempotency-Key` was used with a different request body.
    #[error("Idempotency-Key was already used with a different request")]
    IdempotencyConflict,
    #[error("authentication required")]
    Unauthenticated,
    #[error("this key may not do that")]
    Forbidden,
    /// Shutting down or overloaded; try again.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Problems of one batch item, by index.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ItemError {
    pub index: usize,
    pub errors: Vec<FieldError>,
}

impl EngineError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}
