//! The Getui UniPush v2 simulator: `/sim/getui/v2/{appId}/auth` and
//! `/sim/getui/v2/{appId}/push/single/cid`. Answers are `{"code", "msg", "data"?}` with the
//! HTTP status Getui pairs with each code (401 for 100xx, 400 for 2xxxx).
//!
//! Sim account name = the appId; its `secret` = `"<appkey>:<mastersecret>"` (or the
//! mastersecret alone, then any appkey is accepted as long as the sign verifies).
//!
//! `auth`, in order: JSON `{sign, timestamp, appkey}` (400 `20001`); the appkey of the
//! account (400 `20001` "appkey is invalid"); `timestamp` (ms) within 10 minutes of the
//! simulator clock (400 `20001` "timestamp is invalid"); `sign` = hex sha256(appkey +
//! timestamp + mastersecret) (400 `20001` "sign is invalid"); then 200 `{"code": 0, "data":
//! {"expire_time": "<ms>", "token"}}`, valid 24 h. The codes of the failed-auth cases are not
//! published; 20001 is this simulator's choice.
//!
//! `push/single/cid`, in order: header `token` issued for this appId and not expired (401
//! `10001`); body with a 10–32 character `request_id`, exactly one `audience.cid`, a
//! notification with `title`, `body` and a known `click_type` (400 `20001`); the rate limit
//! (401 `10005`, Getui's per-minute limit code); cids set unregistered (`PUT
//! /sim/getui/_sim/unregistered/{appId}`) → 400 `21001`; latency and faults (429 → 401
//! `10005`, other → that HTTP status with `{"code": <status>}`; permanent → 400 `20001`);
//! then 200 `{"code": 0, "data": {"<taskid>": {"<cid>": "successed_online"}}}`. A repeated
//! `request_id` is accepted again and counted as a duplicate.

// Validation steps return the provider's error answer itself; it is built either way, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::errors::{BAD_PARAMETER, CALL_RATE, TOKEN_INVALID, USER_INVALID};
use super::signing::sign;
use crate::simkit::{
    Injected, PushSimState, TokenCheck, admin_routes, detached, fault_stage, record,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

const PROVIDER: &str = "getui";
/// How far an auth `timestamp` may be from the simulator's clock.
pub const TIMESTAMP_TOLERANCE_MS: i64 = 10 * 60 * 1000;
/// Lifetime of an auth token.
pub const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
const CLICK_TYPES: [&str; 6] = [
    "intent",
    "url",
    "payload",
    "payload_custom",
    "startapp",
    "none",
];

pub fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/getui/v2/{app_id}/auth", post(auth))
        .route("/sim/getui/v2/{app_id}/push/single/cid", post(push_single))
        .merge(admin_routes(PROVIDER))
}

fn answer(status: StatusCode, code: i64, msg: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "code": code, "msg": msg })),
    )
        .into_response()
}

fn bad_parameter(msg: &str) -> Response {
    answer(StatusCode::BAD_REQUEST, BAD_PARAMETER, msg)
}

#[derive(Debug, Deserialize)]
struct AuthBody {
    sign: String,
    timestamp: String,
    appkey: String,
}

async fn auth(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    Path(app_id): Path<String>,
    body: Bytes,
) -> Response {
    let (arrival, now_ms) = unix_now();
    let Some(account) = state.account(&app_id) else {
        return bad_parameter("appId is invalid");
    };
    let reject = |response: Response| {
        account.reject(arrival);
        response
    };
    let Ok(request) = serde_json::from_slice::<AuthBody>(&body) else {
        return reject(bad_parameter("sign, timestamp and appkey can not be empty"));
    };
    let Some(secret) = account.config().secret.clone() else {
        return reject(bad_parameter("appkey is invalid"));
    };
    let (expected_key, master_secret) = match secret.0.split_once(':') {
        Some((key, master)) => (Some(key.to_owned()), master.to_owned()),
        None => (None, secret.0.clone()),
    };
    if expected_key.is_some_and(|k| k != request.appkey) {
        return reject(bad_parameter("appkey is invalid"));
    }
    let Ok(timestamp) = request.timestamp.parse::<i64>() else {
        return reject(bad_parameter("timestamp is invalid"));
    };
    if (now_ms - timestamp).abs() > TIMESTAMP_TOLERANCE_MS {
        return reject(bad_parameter("timestamp is invalid"));
    }
    if sign(&request.appkey, timestamp, &master_secret) != request.sign.to_ascii_lowercase() {
        return reject(bad_parameter("sign is invalid"));
    }
    let (token, expires_at_ms) = push.issue(PROVIDER, &app_id, "", TOKEN_TTL);
    Json(serde_json::json!({
        "code": 0,
        "msg": "success",
        "data": { "expire_time": expires_at_ms.to_string(), "token": token },
    }))
    .into_response()
}

/// The (request_id, cid) of a valid single push.
fn validate(body: &[u8]) -> Result<(String, String), Response> {
    let Ok(parsed) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(bad_parameter("body is invalid"));
    };
    let request_id = parsed["request_id"]
        .as_str()
        .filter(|r| (10..=32).contains(&r.len()));
    let Some(request_id) = request_id else {
        return Err(bad_parameter("request_id is invalid"));
    };
    let cids = parsed["audience"]["cid"]
        .as_array()
        .filter(|c| c.len() == 1);
    let Some(cid) = cids.and_then(|c| c[0].as_str()).filter(|c| !c.is_empty()) else {
        return Err(bad_parameter("audience is invalid"));
    };
    let notification = &parsed["push_message"]["notification"];
    for field in ["title", "body"] {
        if notification[field].as_str().is_none_or(str::is_empty) {
            return Err(bad_parameter(&format!("{field} is invalid")));
        }
    }
    if !notification["click_type"]
        .as_str()
        .is_some_and(|c| CLICK_TYPES.contains(&c))
    {
        return Err(bad_parameter("click_type is invalid"));
    }
    Ok((request_id.to_owned(), cid.to_owned()))
}

async fn push_single(
    State(state): State<SimState>,
    Extension(push): Extension<Arc<PushSimState>>,
    Path(app_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let token_invalid = || answer(StatusCode::UNAUTHORIZED, TOKEN_INVALID, "token错误/失效");
    let Some(account) = state.account(&app_id) else {
        return token_invalid();
    };
    let token = headers.get("token").and_then(|t| t.to_str().ok());
    match token.map(|t| push.check(PROVIDER, t)) {
        Some(TokenCheck::Valid(owner)) if owner == app_id => {}
        _ => {
            account.reject(arrival);
            return token_invalid();
        }
    }
    let (request_id, cid) = match validate(&body) {
        Ok(ids) => ids,
        Err(response) => {
            account.reject(arrival);
            return response;
        }
    };
    let config = account.config();
    let over_limit = || answer(StatusCode::UNAUTHORIZED, CALL_RATE, "每分钟调用频率超限");
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return over_limit();
    }
    if push.is_unregistered(PROVIDER, &app_id, &cid) {
        account.reject(arrival);
        return answer(
            StatusCode::BAD_REQUEST,
            USER_INVALID,
            "target user is invalid",
        );
    }
    let finish = {
        let config = config.clone();
        async move {
            match fault_stage(&account, &config, arrival).await {
                Injected::None => {}
                Injected::Permanent => return bad_parameter("param is invalid"),
                Injected::Fail { status: 429, .. } => return over_limit(),
                Injected::Fail { status, .. } => {
                    let http =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    return answer(http, i64::from(status), "server error");
                }
            }
            account.accept(arrival, record(&request_id, body, arrival_ms));
            let task_id = format!(
                "RASS_{}_{}",
                arrival_ms,
                hex::encode(rand::random::<[u8; 8]>())
            );
            Json(serde_json::json!({
                "code": 0,
                "msg": "",
                "data": { task_id: { cid: "successed_online" } },
            }))
            .into_response()
        }
    };
    detached(&config, finish).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_answers_20001() {
        let ok = br#"{"request_id":"dlv0123456789","audience":{"cid":["c1"]},"push_message":{"notification":{"title":"t","body":"b","click_type":"startapp"}}}"#;
        assert_eq!(validate(ok).unwrap(), ("dlv0123456789".into(), "c1".into()));
        for bad in [
            br#"{"request_id":"short","audience":{"cid":["c1"]}}"#.as_slice(),
            br#"{"request_id":"dlv0123456789","audience":{"cid":["a","b"]}}"#,
            br#"{"request_id":"dlv0123456789","audience":{"cid":["c1"]},"push_message":{"notification":{"title":"t","body":"b","click_type":"open"}}}"#,
        ] {
            assert_eq!(validate(bad).unwrap_err().status(), StatusCode::BAD_REQUEST);
        }
    }
}
