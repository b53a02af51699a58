//! The FCM simulator: Google's token endpoint and FCM HTTP v1 `messages:send`.
//!
//! Sim account name = the Firebase project id; its `secret` = the service account's **PEM
//! public key** (what verifies the assertion's RS256 signature). The project of an assertion
//! is read from its `iss`, `<name>@<project>.iam.gserviceaccount.com`, as Google's own
//! service-account emails are formed.
//!
//! `POST /sim/fcm/token` (form `grant_type`, `assertion`), in order:
//! 1. `grant_type` must be the jwt-bearer grant (400 `unsupported_grant_type`), `assertion`
//!    present (400 `invalid_request`);
//! 2. the JWT must be RS256 with a known service account (400 `invalid_grant` "account not
//!    found"), a valid signature ("Invalid JWT Signature."), `aud` = this token URL, `iat` not
//!    in the future, `exp` not past and at most 1 h after `iat` (400 `invalid_grant`), the
//!    FCM scope (400 `invalid_scope`);
//! 3. 200 `{"access_token": "ya29.…", "expires_in": 3599, "token_type": "Bearer"}`.
//!
//! `POST /sim/fcm/v1/projects/{project}/messages:send`, in order:
//! 1. `Authorization: Bearer` with a token this simulator issued and that has not expired
//!    (401 `UNAUTHENTICATED`), issued for this project (403 `PERMISSION_DENIED`);
//! 2. a JSON `{"message": {token|topic|condition, …}}` of at most 4 KB whose token looks like
//!    a registration token and whose `data` values are strings (400 `INVALID_ARGUMENT`);
//! 3. the rate limit (429 `RESOURCE_EXHAUSTED` / `QUOTA_EXCEEDED`, `Retry-After: 1`);
//! 4. tokens set unregistered (`PUT /sim/fcm/_sim/unregistered/{project}`) → 404
//!    `NOT_FOUND` / `UNREGISTERED`;
//! 5. latency and faults (429 → `QUOTA_EXCEEDED`, 500 → `INTERNAL`, other → `UNAVAILABLE`;
//!    permanent → 400 `INVALID_ARGUMENT`);
//! 6. 200 `{"name": "projects/{project}/messages/0:…"}`.

// Validation steps return the provider's error answer itself; it is built either way, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::oauth::{ASSERTION_LIFETIME_SECS, AssertionClaims, GRANT_TYPE, SCOPE};
use crate::common::verify_jwt;
use crate::simkit::{
    Injected, PushSimState, TokenCheck, admin_routes, detached, fault_stage, record,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const PROVIDER: &str = "fcm";
/// Largest message accepted, as FCM documents (4 KB).
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// Allowed clock skew on assertion `iat`.
const CLOCK_SKEW_SECS: i64 = 300;

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/fcm/token", post(token))
        .route("/sim/fcm/v1/projects/{project}/messages:send", post(send))
        .merge(admin_routes(PROVIDER))
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn invalid_grant(description: &str) -> Response {
    oauth_error("invalid_grant", description)
}

/// The project of a service-account email.
fn project_of(email: &str) -> Option<&str> {
    let (_, domain) = email.split_once('@')?;
    domain
        .strip_suffix(".iam.gserviceaccount.com")
        .filter(|p| !p.is_empty())
}

async fn token(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    headers: HeaderMap,
    form: Result<axum::Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else {
        return oauth_error(
            "invalid_request",
            "Body must be application/x-www-form-urlencoded",
        );
    };
    if form.get("grant_type").map(String::as_str) != Some(GRANT_TYPE) {
        return oauth_error("unsupported_grant_type", "Invalid grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let Ok(unverified) =
        jsonwebtoken::dangerous::insecure_decode_claims::<AssertionClaims>(assertion)
    else {
        return invalid_grant("Invalid JWT: malformed assertion");
    };
    let (arrival, _) = unix_now();
    let account = project_of(&unverified.iss).and_then(|p| state.account(p));
    let Some(account) = account else {
        return invalid_grant("Invalid grant: account not found");
    };
    let reject = |response: Response| {
        account.reject(arrival);
        response
    };
    let Some(public_key) = account.config().secret.clone() else {
        return reject(invalid_grant("Invalid grant: account not found"));
    };
    let Ok(key) = DecodingKey::from_rsa_pem(public_key.0.as_bytes()) else {
        return reject(invalid_grant("Invalid grant: account not found"));
    };
    let claims = match verify_jwt::<AssertionClaims>(assertion, &key, Algorithm::RS256) {
        Ok(claims) => claims,
        Err(_) => return reject(invalid_grant("Invalid JWT Signature.")),
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !claims.aud.ends_with("/sim/fcm/token") || !claims.aud.contains(host) {
        return reject(invalid_grant("Invalid JWT: Failed audience check."));
    }
    let fresh = claims.iat <= arrival + CLOCK_SKEW_SECS
        && claims.exp > arrival
        && claims.exp - claims.iat <= ASSERTION_LIFETIME_SECS;
    if !fresh {
        return reject(invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    if !claims.scope.split(' ').any(|s| s == SCOPE) {
        return reject(oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let project = project_of(&claims.iss).unwrap_or_default();
    let (access_token, _) = push.issue(PROVIDER, project, "ya29.sim-", Duration::from_secs(3600));
    Json(serde_json::json!({
        "access_token": access_token,
        "expires_in": 3599,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// An FCM v1 error answer.
fn fcm_error(status: StatusCode, google: &str, fcm: Option<&str>, message: &str) -> Response {
    let details = fcm.map_or_else(Vec::new, |code| {
        vec![serde_json::json!({
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code,
        })]
    });
    let body = serde_json::json!({
        "error": { "code": status.as_u16(), "message": message, "status": google, "details": details }
    });
    (status, Json(body)).into_response()
}

fn invalid_argument(message: &str) -> Response {
    fcm_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        Some("INVALID_ARGUMENT"),
        message,
    )
}

fn quota_exceeded() -> Response {
    let mut response = fcm_error(
        StatusCode::TOO_MANY_REQUESTS,
        "RESOURCE_EXHAUSTED",
        Some("QUOTA_EXCEEDED"),
        "Quota exceeded for quota metric 'Send requests'.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Whether `token` looks like an FCM registration token.
fn valid_registration_token(token: &str) -> bool {
    (8..=4096).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
}

/// Checks the message; the device token when it targets one.
fn validate(body: &[u8]) -> Result<Option<String>, Response> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(invalid_argument("Message is too big"));
    }
    let parsed: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| invalid_argument("Invalid JSON payload received."))?;
    let Some(message) = parsed.get("message").and_then(|m| m.as_object()) else {
        return Err(invalid_argument(
            "Invalid JSON payload received. Unknown name \"message\".",
        ));
    };
    if let Some(data) = message.get("data") {
        let all_strings = data
            .as_object()
            .is_some_and(|d| d.values().all(|v| v.is_string()));
        if !all_strings {
            return Err(invalid_argument(
                "Invalid value at 'message.data': values must be strings",
            ));
        }
    }
    match message.get("token").and_then(|t| t.as_str()) {
        Some(token) if valid_registration_token(token) => Ok(Some(token.to_owned())),
        Some(_) => Err(invalid_argument(
            "The registration token is not a valid FCM registration token",
        )),
        None if message.contains_key("topic") || message.contains_key("condition") => Ok(None),
        None => Err(invalid_argument("Request contains an invalid argument.")),
    }
}

async fn send(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let Some(account) = state.account(&project) else {
        return fcm_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            None,
            "Requested entity was not found.",
        );
    };
    let reject = |response: Response| {
        account.reject(arrival);
        response
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    let unauthenticated = || {
        fcm_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            None,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        )
    };
    match bearer.map(|t| push.check(PROVIDER, t)) {
        Some(TokenCheck::Valid(owner)) if owner == project => {}
        Some(TokenCheck::Valid(_)) => {
            return reject(fcm_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                None,
                "Permission 'cloudmessaging.messages.create' denied on resource",
            ));
        }
        _ => return reject(unauthenticated()),
    }
    let device = match validate(&body) {
        Ok(device) => device,
        Err(response) => return reject(response),
    };
    let config = account.config();
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return quota_exceeded();
    }
    if device
        .as_deref()
        .is_some_and(|d| push.is_unregistered(PROVIDER, &project, d))
    {
        return reject(fcm_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            Some("UNREGISTERED"),
            "Requested entity was not found.",
        ));
    }
    let finish = {
        let config = config.clone();
        async move {
            match fault_stage(&account, &config, arrival).await {
                Injected::None => {}
                Injected::Permanent => {
                    return invalid_argument("Request contains an invalid argument.");
                }
                Injected::Fail { status: 429, .. } => return quota_exceeded(),
                Injected::Fail {
                    status,
                    retry_after_secs,
                } => {
                    let (status, google) = if status == 500 {
                        (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
                    };
                    let mut response = fcm_error(
                        status,
                        google,
                        Some(google),
                        "The service is currently unavailable.",
                    );
                    if let Some(secs) = retry_after_secs {
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    }
                    return response;
                }
            }
            let name = format!(
                "projects/{project}/messages/0:{arrival_ms}%{}",
                hex::encode(rand::random::<[u8; 8]>())
            );
            account.accept(arrival, record(&name, body, arrival_ms));
            Json(serde_json::json!({ "name": name })).into_response()
        }
    };
    detached(&config, finish).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_come_from_service_account_emails() {
        assert_eq!(
            project_of("herald@demo-123.iam.gserviceaccount.com"),
            Some("demo-123")
        );
        assert_eq!(project_of("user@gmail.com"), None);
        assert_eq!(project_of("@.iam.gserviceaccount.com"), None);
    }

    #[test]
    fn validation_answers_invalid_argument() {
        assert_eq!(
            validate(br#"{"message":{"token":"abcdefgh:1"}}"#).unwrap(),
            Some("abcdefgh:1".into())
        );
        assert_eq!(validate(br#"{"message":{"topic":"news"}}"#).unwrap(), None);
        for bad in [
            &br#"{"message":{"token":"bad token!"}}"#[..],
            br#"{"message":{"token":"abcdefgh","data":{"n":1}}}"#,
            br#"{"msg":{}}"#,
            b"nope",
        ] {
            assert_eq!(validate(bad).unwrap_err().status(), StatusCode::BAD_REQUEST);
        }
    }
}
