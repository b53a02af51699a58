//! The Feishu custom-bot simulator: `POST /sim/feishu/open-apis/bot/v2/hook/{id}` checked the
//! way Feishu checks it, in this order:
//!
//! 1. `{id}` must name a configured sim account: otherwise `19001 param invalid: incoming
//!    webhook access token invalid`;
//! 2. the body must be a JSON object (`9499 Bad Request`);
//! 3. with a secret on that account (a bot with "签名校验"): `timestamp` (unix seconds, string
//!    or number) within one hour of the simulator's clock and a `sign` that verifies
//!    ([`super::signing`]), else `19021 sign match fail or timestamp is not within one hour
//!    from current time`;
//! 4. `msg_type` text (`content.text`), post (`content.post`) or interactive (`card`), else
//!    `9499 Bad Request`;
//! 5. the sim account's `rate_limit_per_sec`, then Feishu's own 5 per second and 100 per
//!    minute per bot: over → `11232 frequency limited` (counted as throttled);
//! 6. injected faults: a transient one answers the configured HTTP status with `2200
//!    Internal Error`, a permanent one `19024 Key Words Not Found`;
//! 7. `{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}`.
//!
//! Steps 1–4 are counted as rejected. Feishu bots take no nonce: a replayed signed body is
//! accepted within the hour, as by Feishu itself. `GET /sim/feishu/hooks/{id}/received?limit=N`
//! lists what a bot posted.

use super::errors::{FREQUENCY_LIMITED, SIGN_MISMATCH};
use super::signing;
use crate::pacing::Window;
use crate::sim_common::{Admitted, Answers, ProviderLimits, json_answer, received_items};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// How far a signed `timestamp` may be from the simulator's clock (Feishu: one hour).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 3600;

pub fn routes() -> Router<SimState> {
    let limits = Arc::new(ProviderLimits::new(
        vec![
            Window::per_second(super::client::PER_SECOND),
            Window::per_minute(super::client::PER_MINUTE),
        ],
        None,
    ));
    Router::new()
        .route("/sim/feishu/open-apis/bot/v2/hook/{id}", post(hook))
        .route("/sim/feishu/hooks/{id}/received", get(received))
        .layer(Extension(limits))
}

fn error(code: i64, msg: &str) -> Value {
    json!({ "code": code, "data": {}, "msg": msg })
}

/// `timestamp` as Feishu reads it: a decimal string or a number.
fn timestamp_of(message: &Value) -> Option<i64> {
    match message.get("timestamp")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

async fn hook(
    State(state): State<SimState>,
    Extension(limits): Extension<Arc<ProviderLimits>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let Some(account) = state.existing_account(&id) else {
        return json_answer(
            StatusCode::OK,
            error(
                19001,
                "param invalid: incoming webhook access token invalid",
            ),
        );
    };
    let config = account.config();
    let reject = |code, msg: &str| {
        account.reject(arrival);
        json_answer(StatusCode::OK, error(code, msg))
    };
    let message = match serde_json::from_slice::<Value>(&body) {
        Ok(message) if message.is_object() => message,
        _ => return reject(9499, "Bad Request"),
    };

    let timestamp = timestamp_of(&message).unwrap_or_default();
    let signature = message
        .get("sign")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(secret) = &config.secret {
        let fresh = timestamp_of(&message)
            .is_some_and(|ts| (arrival - ts).abs() <= TIMESTAMP_TOLERANCE_SECS);
        let signed = signature
            .as_deref()
            .is_some_and(|sign| signing::verify(&secret.0, timestamp, sign));
        if !(fresh && signed) {
            return reject(
                SIGN_MISMATCH,
                "sign match fail or timestamp is not within one hour from current time",
            );
        }
    }
    if !valid_message(&message) {
        return reject(9499, "Bad Request");
    }

    let admitted = Admitted {
        state: state.clone(),
        account: account.clone(),
        name: id,
        arrival,
        arrival_ms,
        timestamp,
        signature,
        body,
    };
    let answers = Answers {
        throttled: error(
            FREQUENCY_LIMITED,
            "frequency limited psm[lark.oapi.app_platform_runtime]appID[-1]",
        ),
        busy: error(2200, "Internal Error"),
        permanent: error(19024, "Key Words Not Found"),
        ok: json!({
            "StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"
        }),
    };
    admitted.answer(&limits, answers).await
}

fn valid_message(message: &Value) -> bool {
    match message.get("msg_type").and_then(Value::as_str) {
        Some("text") => message
            .pointer("/content/text")
            .is_some_and(Value::is_string),
        Some("post") => message
            .pointer("/content/post")
            .is_some_and(Value::is_object),
        Some("interactive") => message.get("card").is_some_and(Value::is_object),
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(state): State<SimState>,
    Path(id): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Json<Value> {
    Json(received_items(&state, &id, query.limit.unwrap_or(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_timestamps_and_message_shapes_as_feishu_does() {
        assert_eq!(
            timestamp_of(&json!({"timestamp": "1700000000"})),
            Some(1_700_000_000)
        );
        assert_eq!(
            timestamp_of(&json!({"timestamp": 1_700_000_000})),
            Some(1_700_000_000)
        );
        assert_eq!(timestamp_of(&json!({"timestamp": "soon"})), None);
        assert!(valid_message(
            &json!({"msg_type": "text", "content": {"text": "hi"}})
        ));
        assert!(valid_message(
            &json!({"msg_type": "interactive", "card": {}})
        ));
        assert!(!valid_message(
            &json!({"msg_type": "interactive", "content": {}})
        ));
        assert!(!valid_message(&json!({"msg_type": "image"})));
    }
}
