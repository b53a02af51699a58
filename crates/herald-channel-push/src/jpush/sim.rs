//! The JPush simulator: `POST /sim/jpush/v3/push`.
//!
//! Sim account name = the appKey; its `secret` = the masterSecret (compared with the one in
//! the Basic credentials). Checks, in order (errors are `{"error": {"code", "message"}}`):
//! 1. `Authorization: Basic base64(appKey:masterSecret)` matching a configured account →
//!    401 `1004` otherwise;
//! 2. a JSON body (400 `1003`) with `platform`, `audience` and `notification` (400 `1002`),
//!    1–1,000 `audience.registration_id`s (400 `1003`), `notification` + `message` of at
//!    most 4,000 bytes (400 `1005`);
//! 3. the rate limit → 429 `2002` with `X-Rate-Limit-Limit/-Remaining/-Reset`;
//! 4. when every registration id is set unregistered (`PUT /sim/jpush/_sim/unregistered/{appKey}`)
//!    → 400 `1011` "cannot find user by this audience";
//! 5. latency and faults (429 → `2002`, 503 → `1030`, other → `1000`; permanent → 400 `1003`);
//! 6. 200 `{"sendno": "0", "msg_id": "…"}` with the rate-limit headers.

// Validation steps return the provider's error answer itself; it is built either way, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::errors::{
    AUTH_FAILED, BAD_PARAMETER, NO_TARGET, RATE_LIMITED, SERVER_ERROR, SERVICE_TIMEOUT,
};
use crate::simkit::{Injected, PushSimState, admin_routes, detached, fault_stage, record};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::Engine;
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use std::sync::Arc;

const PROVIDER: &str = "jpush";
/// Largest `notification` + `message` content accepted (the audience does not count).
pub const MAX_CONTENT_BYTES: usize = 4000;
const MISSING_PARAMETER: i64 = 1002;
const TOO_LONG: i64 = 1005;

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/jpush/v3/push", post(push))
        .merge(admin_routes(PROVIDER))
}

fn jpush_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn with_rate_headers(mut response: Response, limit: u32, remaining: u32) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-rate-limit-limit", HeaderValue::from(limit));
    headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
    headers.insert("x-rate-limit-reset", HeaderValue::from_static("1"));
    response
}

/// The (appKey, masterSecret) of Basic credentials.
fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (key, secret) = String::from_utf8(decoded)
        .ok()?
        .split_once(':')
        .map(|(k, s)| (k.to_owned(), s.to_owned()))?;
    Some((key, secret))
}

/// Step 2: the registration ids of a valid push.
fn validate(body: &[u8]) -> Result<Vec<String>, Response> {
    let bad = |code, message| Err(jpush_error(StatusCode::BAD_REQUEST, code, message));
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body) else {
        return bad(BAD_PARAMETER, "Invalid json");
    };
    if ["platform", "audience", "notification"]
        .iter()
        .any(|k| parsed.get(k).is_none())
    {
        return bad(MISSING_PARAMETER, "Missing parameter");
    }
    let ids: Option<Vec<String>> = parsed["audience"]["registration_id"]
        .as_array()
        .and_then(|ids| ids.iter().map(|v| v.as_str().map(str::to_owned)).collect());
    let Some(ids) = ids.filter(|ids| (1..=1000).contains(&ids.len())) else {
        return bad(BAD_PARAMETER, "Invalid registration_id audience");
    };
    let content_len = ["notification", "message"]
        .iter()
        .filter_map(|k| parsed.get(*k))
        .map(|v| v.to_string().len())
        .sum::<usize>();
    if content_len > MAX_CONTENT_BYTES {
        return bad(TOO_LONG, "Msg content too long");
    }
    Ok(ids)
}

async fn push(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let auth_failed = || jpush_error(StatusCode::UNAUTHORIZED, AUTH_FAILED, "Authen failed");
    let Some((app_key, master_secret)) = credentials(&headers) else {
        return auth_failed();
    };
    let Some(account) = state.account(&app_key) else {
        return auth_failed();
    };
    let config = account.config();
    if config.secret.as_ref().is_none_or(|s| s.0 != master_secret) {
        account.reject(arrival);
        return auth_failed();
    }
    let ids = match validate(&body) {
        Ok(ids) => ids,
        Err(response) => {
            account.reject(arrival);
            return response;
        }
    };
    let limit = config.rate_limit_per_sec;
    if !account.admit(arrival, limit) {
        let response = jpush_error(
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMITED,
            "Request times of the app exceed the limit of current time window",
        );
        return with_rate_headers(response, limit, 0);
    }
    if ids
        .iter()
        .all(|id| push.is_unregistered(PROVIDER, &app_key, id))
    {
        account.reject(arrival);
        return jpush_error(
            StatusCode::BAD_REQUEST,
            NO_TARGET,
            "cannot find user by this audience",
        );
    }
    let finish = {
        let config = config.clone();
        async move {
            match fault_stage(&account, &config, arrival).await {
                Injected::None => {}
                Injected::Permanent => {
                    return jpush_error(
                        StatusCode::BAD_REQUEST,
                        BAD_PARAMETER,
                        "Invalid parameter",
                    );
                }
                Injected::Fail { status: 429, .. } => {
                    let response = jpush_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        RATE_LIMITED,
                        "Request times exceed the limit",
                    );
                    return with_rate_headers(response, limit, 0);
                }
                Injected::Fail {
                    status,
                    retry_after_secs,
                } => {
                    let (status, code) = if status == 503 {
                        (StatusCode::SERVICE_UNAVAILABLE, SERVICE_TIMEOUT)
                    } else {
                        (StatusCode::INTERNAL_SERVER_ERROR, SERVER_ERROR)
                    };
                    let mut response = jpush_error(status, code, "Server error");
                    if let Some(secs) = retry_after_secs {
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    }
                    return response;
                }
            }
            let msg_id = (rand::random::<u64>() >> 8).to_string();
            account.accept(arrival, record(&msg_id, body, arrival_ms));
            let response =
                Json(serde_json::json!({ "sendno": "0", "msg_id": msg_id })).into_response();
            with_rate_headers(response, limit, limit.saturating_sub(1))
        }
    };
    detached(&config, finish).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_validation() {
        let mut headers = HeaderMap::new();
        let auth = super::super::client::basic_auth("key", "secret");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&auth).unwrap());
        assert_eq!(credentials(&headers), Some(("key".into(), "secret".into())));
        let ok = br#"{"platform":"all","audience":{"registration_id":["r1"]},"notification":{"alert":"x"}}"#;
        assert_eq!(validate(ok).unwrap(), ["r1"]);
        assert!(validate(br#"{"platform":"all"}"#).is_err());
        assert!(
            validate(br#"{"platform":"all","audience":{"registration_id":[]},"notification":{}}"#)
                .is_err()
        );
    }
}
