//! The APNs simulator: `POST /sim/apns/3/device/{token}`, HTTP/2 only (h2c with prior
//! knowledge on the plain-HTTP simulator port; HTTP/1.1 gets 505).
//!
//! Sim account name = the Team ID (the JWT `iss`); its `secret` = the signing key's **PEM
//! public key** (`openssl ec -in AuthKey.p8 -pubout`), which verifies the ES256 signature.
//!
//! Checks, in order (errors are `{"reason": …}` as APNs sends them):
//! 1. HTTP/2 (505 otherwise);
//! 2. `authorization: bearer <jwt>`: missing → 403 `MissingProviderToken`; not ES256, no
//!    `kid`, unknown team, bad signature, `iat` in the future → 403 `InvalidProviderToken`;
//!    `iat` older than one hour → 403 `ExpiredProviderToken`;
//! 3. headers: no `apns-topic` → 400 `MissingTopic`; `apns-push-type` → `InvalidPushType`,
//!    `apns-priority` (1, 5, 10) → `BadPriority`, `apns-expiration` → `BadExpirationDate`,
//!    `apns-id` not a UUID → `BadMessageId`;
//! 4. device token of 64–200 hex digits → 400 `BadDeviceToken`; empty body → 400
//!    `PayloadEmpty`; body over 4 KB → 413 `PayloadTooLarge`;
//! 5. the rate limit → 429 `TooManyRequests`;
//! 6. tokens set unregistered (`PUT /sim/apns/_sim/unregistered/{team}`) → 410
//!    `{"reason": "Unregistered", "timestamp": ms}`;
//! 7. latency and faults (429 → `TooManyRequests`, 500 → `InternalServerError`, other →
//!    503 `ServiceUnavailable`; permanent → 400 `DeviceTokenNotForTopic`);
//! 8. 200, empty body, `apns-id` echoed (or generated). A repeated `apns-id` is counted as a
//!    duplicate.

// Validation steps return the provider's error answer itself; it is built either way, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::jwt::{MAX_TOKEN_AGE_SECS, ProviderClaims, apns_id, is_uuid};
use crate::common::verify_jwt;
use crate::simkit::{Injected, PushSimState, admin_routes, detached, fault_stage, record};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::sync::Arc;

const PROVIDER: &str = "apns";
/// Largest payload for regular remote notifications.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
const CLOCK_SKEW_SECS: i64 = 300;
const PUSH_TYPES: [&str; 11] = [
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
    "controls",
    "widgets",
];

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/apns/3/device/{token}", post(send))
        .merge(admin_routes(PROVIDER))
}

fn apns_error(status: StatusCode, reason: &str) -> Response {
    (status, Json(serde_json::json!({ "reason": reason }))).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Step 2: the team whose key verified the provider token, or the 403 to answer.
fn authenticate(
    state: &SimState,
    headers: &HeaderMap,
    now: i64,
) -> Result<String, (Option<String>, Response)> {
    let forbidden = |reason| apns_error(StatusCode::FORBIDDEN, reason);
    let Some(jwt) = header_str(headers, "authorization").and_then(|h| h.strip_prefix("bearer "))
    else {
        return Err((None, forbidden("MissingProviderToken")));
    };
    let invalid = |team: Option<String>| Err((team, forbidden("InvalidProviderToken")));
    let header_ok = jsonwebtoken::decode_header(jwt)
        .is_ok_and(|h| h.alg == Algorithm::ES256 && h.kid.is_some_and(|k| !k.is_empty()));
    let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode_claims::<ProviderClaims>(jwt)
    else {
        return invalid(None);
    };
    let team = unverified.iss;
    if !header_ok {
        return invalid(Some(team));
    }
    let Some(account) = state.account(&team) else {
        return invalid(None);
    };
    let key = account
        .config()
        .secret
        .as_ref()
        .and_then(|pem| DecodingKey::from_ec_pem(pem.0.as_bytes()).ok());
    let Some(key) = key else {
        return invalid(Some(team));
    };
    let Ok(claims) = verify_jwt::<ProviderClaims>(jwt, &key, Algorithm::ES256) else {
        return invalid(Some(team));
    };
    if claims.iat > now + CLOCK_SKEW_SECS {
        return invalid(Some(team));
    }
    if now - claims.iat > MAX_TOKEN_AGE_SECS {
        return Err((Some(team), forbidden("ExpiredProviderToken")));
    }
    Ok(team)
}

/// Steps 3–4: the request's headers, device token and payload.
fn validate(headers: &HeaderMap, device: &str, body: &[u8]) -> Result<(), Response> {
    let bad = |reason| Err(apns_error(StatusCode::BAD_REQUEST, reason));
    if header_str(headers, "apns-topic").is_none_or(str::is_empty) {
        return bad("MissingTopic");
    }
    if header_str(headers, "apns-push-type").is_some_and(|t| !PUSH_TYPES.contains(&t)) {
        return bad("InvalidPushType");
    }
    if header_str(headers, "apns-priority").is_some_and(|p| !["1", "5", "10"].contains(&p)) {
        return bad("BadPriority");
    }
    if header_str(headers, "apns-expiration").is_some_and(|e| e.parse::<i64>().is_err()) {
        return bad("BadExpirationDate");
    }
    if header_str(headers, "apns-id").is_some_and(|id| !is_uuid(id)) {
        return bad("BadMessageId");
    }
    let hex_token = (64..=200).contains(&device.len())
        && device.len().is_multiple_of(2)
        && device.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex_token {
        return bad("BadDeviceToken");
    }
    if body.is_empty() {
        return bad("PayloadEmpty");
    }
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(apns_error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"));
    }
    Ok(())
}

async fn send(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    Path(device): Path<String>,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if version != Version::HTTP_2 {
        return apns_error(StatusCode::HTTP_VERSION_NOT_SUPPORTED, "HTTP2Required");
    }
    let (arrival, arrival_ms) = unix_now();
    let team = match authenticate(&state, &headers, arrival) {
        Ok(team) => team,
        Err((team, response)) => {
            if let Some(account) = team.and_then(|t| state.existing_account(&t)) {
                account.reject(arrival);
            }
            return response;
        }
    };
    let Some(account) = state.account(&team) else {
        return apns_error(StatusCode::FORBIDDEN, "InvalidProviderToken");
    };
    if let Err(response) = validate(&headers, &device, &body) {
        account.reject(arrival);
        return response;
    }
    let config = account.config();
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return apns_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests");
    }
    if push.is_unregistered(PROVIDER, &team, &device) {
        account.reject(arrival);
        let body = serde_json::json!({ "reason": "Unregistered", "timestamp": arrival_ms });
        return (StatusCode::GONE, Json(body)).into_response();
    }
    let id = header_str(&headers, "apns-id")
        .map(str::to_owned)
        .unwrap_or_else(|| apns_id(&format!("{arrival_ms}-{}", rand::random::<u64>())));
    let finish = {
        let config = config.clone();
        async move {
            match fault_stage(&account, &config, arrival).await {
                Injected::None => {}
                Injected::Permanent => {
                    return apns_error(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic");
                }
                Injected::Fail {
                    status,
                    retry_after_secs,
                } => {
                    let (status, reason) = match status {
                        429 => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
                        500 => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
                        _ => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
                    };
                    let mut response = apns_error(status, reason);
                    if let Some(secs) = retry_after_secs {
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                    }
                    return response;
                }
            }
            account.accept(arrival, record(&id, body, arrival_ms));
            let mut response = StatusCode::OK.into_response();
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert("apns-id", value);
            }
            response
        }
    };
    detached(&config, finish).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn validation_answers_apns_reasons() {
        let token = "ab".repeat(32);
        let ok = [
            ("apns-topic", "com.example.app"),
            ("apns-push-type", "alert"),
            ("apns-priority", "10"),
        ];
        assert!(validate(&headers(&ok), &token, b"{}").is_ok());
        let reason = |h: &[(&'static str, &'static str)], device: &str, body: &[u8]| {
            let response = validate(&headers(h), device, body).unwrap_err();
            response.status().as_u16()
        };
        assert_eq!(reason(&[], &token, b"{}"), 400);
        assert_eq!(
            reason(
                &[("apns-topic", "t"), ("apns-priority", "7")],
                &token,
                b"{}"
            ),
            400
        );
        assert_eq!(
            reason(&[("apns-topic", "t"), ("apns-id", "x")], &token, b"{}"),
            400
        );
        assert_eq!(reason(&ok, "xyz", b"{}"), 400);
        assert_eq!(reason(&ok, &token, b""), 400);
        assert_eq!(reason(&ok, &token, &[b' '; 5000]), 413);
    }
}
