//! The DingTalk robot simulator: `POST /sim/dingtalk/robot/send?access_token=…&timestamp=…&sign=…`
//! checked the way DingTalk checks it, in this order:
//!
//! 1. `access_token` must name a configured sim account (`PUT /sim/accounts/{token}` or the
//!    sim config): otherwise `300001 token is not exist`;
//! 2. with a secret configured on that account (a robot with "加签" security): `timestamp`
//!    (unix ms) within one hour of the simulator's clock, else `310000 invalid timestamp`,
//!    and `sign` must verify ([`super::signing`]), else `310000 sign not match`;
//! 3. the body must be JSON (`40035 缺少参数 json`) with `msgtype` text or markdown and its
//!    content (`40008 不合法的消息类型` otherwise);
//! 4. the sim account's `rate_limit_per_sec`, then DingTalk's own 20 messages a minute per
//!    robot: over either → `130101 send too fast`, and going over the minute limit mutes the
//!    robot for ten minutes, as DingTalk does (counted as throttled);
//! 5. injected faults: a transient one answers the configured HTTP status with `-1 系统繁忙`,
//!    a permanent one `310000 keywords not in content`;
//! 6. `{"errcode":0,"errmsg":"ok"}`.
//!
//! Steps 1–3 are counted as rejected. DingTalk robots take no nonce, so a replayed signed
//! URL is accepted within the hour, as by DingTalk itself. Every answer is HTTP 200 except
//! injected transient failures. `GET /sim/dingtalk/robots/{access_token}/received?limit=N`
//! lists what a robot posted.

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

/// How far a signed `timestamp` may be from the simulator's clock (DingTalk: one hour).
pub const TIMESTAMP_TOLERANCE_MS: i64 = 3_600_000;

pub fn routes() -> Router<SimState> {
    let limits = Arc::new(ProviderLimits::new(
        vec![Window::per_minute(super::client::PER_MINUTE)],
        Some(super::errors::THROTTLE_MUTE),
    ));
    Router::new()
        .route("/sim/dingtalk/robot/send", post(send))
        .route("/sim/dingtalk/robots/{token}/received", get(received))
        .layer(Extension(limits))
}

#[derive(Debug, Deserialize)]
struct SendQuery {
    access_token: Option<String>,
    timestamp: Option<String>,
    sign: Option<String>,
}

fn error(errcode: i64, errmsg: &str) -> Value {
    json!({ "errcode": errcode, "errmsg": errmsg })
}

async fn send(
    State(state): State<SimState>,
    Extension(limits): Extension<Arc<ProviderLimits>>,
    Query(query): Query<SendQuery>,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let token = query.access_token.unwrap_or_default();
    let Some(account) = state.existing_account(&token) else {
        return json_answer(StatusCode::OK, error(300001, "token is not exist"));
    };
    let config = account.config();
    let reject = |errcode, errmsg: &str| {
        account.reject(arrival);
        json_answer(StatusCode::OK, error(errcode, errmsg))
    };

    let mut timestamp = 0;
    if let Some(secret) = &config.secret {
        let parsed = query
            .timestamp
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok());
        let Some(ts) = parsed.filter(|ts| (arrival_ms - ts).abs() <= TIMESTAMP_TOLERANCE_MS) else {
            return reject(310000, "invalid timestamp");
        };
        let signed = query
            .sign
            .as_deref()
            .is_some_and(|sign| signing::verify(&secret.0, ts, sign));
        if !signed {
            return reject(310000, "sign not match");
        }
        timestamp = ts;
    }

    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return reject(40035, "缺少参数 json");
    };
    if !valid_message(&message) {
        return reject(40008, "不合法的消息类型");
    }

    let admitted = Admitted {
        state: state.clone(),
        account: account.clone(),
        name: token,
        arrival,
        arrival_ms,
        timestamp,
        signature: query.sign,
        body,
    };
    let answers = Answers {
        throttled: error(
            super::errors::TOO_FAST,
            "send too fast, exceed 20 times per minute",
        ),
        busy: error(-1, "系统繁忙"),
        permanent: error(310000, "keywords not in content"),
        ok: error(0, "ok"),
    };
    admitted.answer(&limits, answers).await
}

/// `text.content` for text, `markdown.title` and `markdown.text` for markdown.
fn valid_message(message: &Value) -> bool {
    let has = |pointer: &str| message.pointer(pointer).is_some_and(Value::is_string);
    match message.get("msgtype").and_then(Value::as_str) {
        Some("text") => has("/text/content"),
        Some("markdown") => has("/markdown/title") && has("/markdown/text"),
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(state): State<SimState>,
    Path(token): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Json<Value> {
    Json(received_items(&state, &token, query.limit.unwrap_or(100)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_text_and_markdown_messages_pass() {
        assert!(valid_message(
            &json!({"msgtype": "text", "text": {"content": "hi"}})
        ));
        assert!(valid_message(
            &json!({"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}})
        ));
        assert!(!valid_message(
            &json!({"msgtype": "markdown", "markdown": {"text": "x"}})
        ));
        assert!(!valid_message(&json!({"msgtype": "link"})));
    }
}
