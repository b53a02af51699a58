//! The end-user authentication of the user API: a `hkusr.v1` token (see [`crate::token`])
//! as `Authorization: Bearer <token>`. The stream route also takes `?access_token=`, because
//! browsers' `EventSource` cannot set headers.

use super::UserApi;
use super::error::UserApiError;
use crate::token::{EndUser, TokenError};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The bearer token of a request, if any (an `Authorization` that is not `Bearer` counts
/// as none).
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies `token` (a missing one is `missing_token`).
pub(super) async fn authenticate(
    api: &UserApi,
    token: Option<&str>,
) -> Result<EndUser, UserApiError> {
    let token = token.ok_or(TokenError::Missing)?;
    Ok(api.verifier.verify(token).await?)
}

/// An end user authenticated by the `Authorization` header.
#[derive(Debug, Clone)]
pub struct User(pub EndUser);

impl FromRequestParts<UserApi> for User {
    type Rejection = UserApiError;

    async fn from_request_parts(parts: &mut Parts, api: &UserApi) -> Result<Self, Self::Rejection> {
        authenticate(api, bearer(&parts.headers)).await.map(User)
    }
}
