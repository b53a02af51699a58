//! [`UserApiError`]: a status code and `{"error": {"code", "message", "field"?}}`, the same
//! shape as Herald's main API. 401s carry `WWW-Authenticate: Bearer`.

use crate::token::TokenError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_ports::StoreError;
use serde_json::json;

#[derive(Debug)]
pub struct UserApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
}

impl UserApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
        }
    }

    pub fn message_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "message not found")
    }
}

impl From<TokenError> for UserApiError {
    fn from(e: TokenError) -> Self {
        let code = match e {
            TokenError::Missing => "missing_token",
            TokenError::Expired => "token_expired",
            TokenError::Malformed(_) | TokenError::UnknownApp | TokenError::BadSignature => {
                "invalid_token"
            }
        };
        Self::new(StatusCode::UNAUTHORIZED, code, e.to_string())
    }
}

impl From<StoreError> for UserApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidInput(message) => Self {
                field: Some("cursor"),
                ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor", message)
            },
            other => {
                tracing::error!(error = %other, "inbox storage failed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the inbox is unavailable, try again",
                )
            }
        }
    }
}

impl IntoResponse for UserApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"herald-inbox\""),
            );
        }
        response
    }
}
