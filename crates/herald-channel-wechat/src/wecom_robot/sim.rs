//! The WeCom group-robot simulator: `POST /sim/wecom/cgi-bin/webhook/send?key=KEY`.
//!
//! The robot key is the identity: it must be a configured sim account
//! (`PUT /sim/accounts/{key}`, or `[sim.accounts.<key>]`), else 93000 (invalid webhook url).
//! Then, in order: a body that is not JSON 47001; the account's `rate_limit_per_sec` and
//! WeCom's 20 messages a minute per robot, 45009 over either; msgtype other than text or
//! markdown 40008; empty content (or mention lists that are not string arrays) 44004;
//! injected faults -1 (busy) or 93000; else `{"errcode":0,"errmsg":"ok"}`.
//! `GET /sim/wecom/robots/{key}/received?limit=N` lists accepted messages.

use crate::common::sim_util::{
    FaultAnswer, detached, errcode, injected_fault, ok_with, received_listing, record,
};
use crate::common::window::{Limits, Windows};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use herald_channels::sim::{SimState, unix_now};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// WeCom's limit per robot.
pub const PER_MINUTE: u32 = 20;

#[derive(Debug)]
struct RobotSim {
    windows: Windows,
}

pub fn routes() -> Router<SimState> {
    let sim = Arc::new(RobotSim {
        windows: Windows::new(Limits {
            short_limit: PER_MINUTE,
            short_ms: 60_000,
            long_limit: u32::MAX,
            long_ms: 60_000,
        }),
    });
    Router::new()
        .route("/sim/wecom/cgi-bin/webhook/send", post(webhook_send))
        .route("/sim/wecom/robots/{key}/received", get(received))
        .layer(Extension(sim))
}

#[derive(Debug, Default, Deserialize)]
struct KeyParam {
    #[serde(default)]
    key: String,
}

fn valid_content(body: &Value) -> Result<(), (i64, &'static str)> {
    let msgtype = body
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !matches!(msgtype, "text" | "markdown") {
        return Err((40008, "invalid message type"));
    }
    let inner = body.get(msgtype).unwrap_or(&Value::Null);
    let has_content = inner
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.trim().is_empty());
    let lists_ok = ["mentioned_list", "mentioned_mobile_list"]
        .iter()
        .all(|key| match inner.get(*key) {
            None => true,
            Some(Value::Array(items)) => items.iter().all(Value::is_string),
            Some(_) => false,
        });
    if has_content && lists_ok {
        Ok(())
    } else {
        Err((44004, "empty content"))
    }
}

async fn webhook_send(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<RobotSim>>,
    Query(param): Query<KeyParam>,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let Some(account) = state
        .existing_account(&param.key)
        .filter(|_| !param.key.is_empty())
    else {
        return errcode(93000, "invalid webhook url");
    };
    let config = account.config();
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        account.reject(arrival);
        return errcode(47001, "data format error");
    };
    if !account.admit(arrival, config.rate_limit_per_sec) {
        return errcode(45009, "api freq out of limit");
    }
    if let Err((code, message)) = valid_content(&request) {
        account.reject(arrival);
        return errcode(code, message);
    }
    if sim.windows.try_take(&param.key, arrival_ms).is_err() {
        account.reject(arrival);
        return errcode(45009, "api freq out of limit");
    }
    detached(async move {
        match injected_fault(&account, &config, arrival).await {
            FaultAnswer::Proceed => {}
            FaultAnswer::Busy => return errcode(-1, "system busy"),
            FaultAnswer::Refuse => return errcode(93000, "invalid webhook url"),
        }
        account.accept(
            arrival,
            record(
                format!("{arrival_ms}-{}", rand::random::<u32>()),
                arrival_ms,
                body,
            ),
        );
        ok_with(json!({}))
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

async fn received(
    State(state): State<SimState>,
    Path(key): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Response {
    let records = state
        .existing_account(&key)
        .map(|account| account.last_received(query.limit.unwrap_or(100)))
        .unwrap_or_default();
    received_listing(records).into_response()
}
