//! The API error: one status code and `{"error": {"code", "message", "field"?, …}}` per
//! failure. Internal failures are logged with their cause chain; callers see only a generic
//! message and a code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_engine::EngineError;
use herald_ports::StoreError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Extra members of the error object (`errors`, `items`).
    pub extra: Option<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            extra: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(errors) => {
                let first = errors.first().cloned();
                let message = first
                    .as_ref()
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "invalid request".into());
                let mut err =
                    Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message);
                err.field = first.map(|f| f.field);
                err.extra = Some(("errors", json!(errors)));
                err
            }
            EngineError::InvalidItems(items) => {
                let first = items.first().and_then(|i| i.errors.first()).cloned();
                let mut err = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_items",
                    format!("{} item(s) are invalid; nothing was queued", items.len()),
                );
                err.field = first.map(|f| f.field);
                err.extra = Some(("items", json!(items)));
                err
            }
            EngineError::NotFound(what) => Self::not_found(what),
            EngineError::Conflict { code, message } => {
                Self::new(StatusCode::CONFLICT, code, message)
            }
            EngineError::IdempotencyConflict => Self::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was already used with a different request",
            )
            .with_field("Idempotency-Key"),
            EngineError::Unauthenticated => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "a valid API key is required",
            ),
            EngineError::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key may not do that",
            ),
            EngineError::Unavailable(m) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", m)
            }
            EngineError::Store(StoreError::Unavailable(m)) => {
                tracing::error!(error = %m, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "storage is unavailable; retry later",
                )
            }
            EngineError::Store(StoreError::InvalidInput(m)) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m)
            }
            EngineError::Store(StoreError::Conflict(m)) => {
                Self::new(StatusCode::CONFLICT, "conflict", m)
            }
            EngineError::Store(StoreError::NotFound(m)) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", m)
            }
            EngineError::Store(e) => {
                tracing::error!(error = %herald_ports::error::error_chain(&e), "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            EngineError::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(f) = self.field {
            error["field"] = Value::String(f);
        }
        if let Some((k, v)) = self.extra {
            error[k] = v;
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
