//! Bearer-key authentication: `Authorization: Bearer <key>` on every `/v1` route, resolved
//! by the engine to the admin or to one app.

use crate::ApiState;
use crate::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use herald_engine::Principal;

/// The authenticated caller.
pub struct Auth(pub Principal);

impl FromRequestParts<ApiState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "missing Authorization: Bearer <key>",
                )
                .with_field("Authorization")
            })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Authorization must be 'Bearer <key>'",
                )
                .with_field("Authorization")
            })?;
        let principal = state
            .engine
            .authenticate(key)
            .await
            .map_err(|e| ApiError::from(e).with_field("Authorization"))?;
        Ok(Self(principal))
    }
}

impl Auth {
    /// The caller's app; the admin key is refused for app-scoped resources.
    pub fn app(&self) -> Result<&herald_domain::AppId, ApiError> {
        self.0.app().map_err(|_| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the admin key manages apps and keys; use an app key for this resource",
            )
        })
    }
}
