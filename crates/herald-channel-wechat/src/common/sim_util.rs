//! Simulator helpers the WeChat and WeCom simulators share: replies in the providers' shape
//! (HTTP 200 with `{"errcode", "errmsg"}`), injected latency and faults, and the listing of
//! accepted requests.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_channels::sim::SimAccountConfig;
use herald_channels::sim::account::{AccountSim, Fault};
use herald_channels::sim::stats::ReceivedRecord;
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// A provider error: HTTP 200, `{"errcode": code, "errmsg": message}`.
pub fn errcode(code: i64, message: &str) -> Response {
    Json(json!({ "errcode": code, "errmsg": message })).into_response()
}

/// A success reply: `{"errcode": 0, "errmsg": "ok"}` plus `extra`'s members.
pub fn ok_with(extra: Value) -> Response {
    let mut body = json!({ "errcode": 0, "errmsg": "ok" });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Json(body).into_response()
}

/// Runs the rest of a request on its own task: a client that times out and disconnects
/// cancels its handler, but the simulated provider still finishes (and counts) the work, as
/// a real one would. That is what makes a timed-out send `unknown` rather than lost.
pub async fn detached<F>(work: F) -> Response
where
    F: Future<Output = Response> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(response) => response,
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "simulator task failed").into_response(),
    }
}

/// What the injected faults decided for an authenticated, admitted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAnswer {
    /// Go on and accept.
    Proceed,
    /// Answer the provider's "system busy" (`-1`).
    Busy,
    /// Answer the provider's permanent refusal.
    Refuse,
}

/// Applies the account's latency and the next fault phase (stalls sleep, then proceed).
pub async fn injected_fault(
    account: &AccountSim,
    config: &SimAccountConfig,
    arrival: i64,
) -> FaultAnswer {
    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }
    match account.next_fault(config) {
        Fault::None => FaultAnswer::Proceed,
        Fault::Stall(pause) => {
            tokio::time::sleep(pause).await;
            FaultAnswer::Proceed
        }
        Fault::Fail { .. } => {
            account.count_fault(arrival);
            FaultAnswer::Busy
        }
        Fault::Permanent => {
            account.count_fault(arrival);
            FaultAnswer::Refuse
        }
    }
}

/// `{"items": [{"id", "received_at_ms", "duplicate", "body"}]}`, oldest first.
pub fn received_listing(records: Vec<ReceivedRecord>) -> Json<Value> {
    let items: Vec<_> = records
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice::<Value>(&r.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into_owned().into());
            json!({
                "id": r.id,
                "received_at_ms": r.received_at_ms,
                "duplicate": r.duplicate,
                "body": body,
            })
        })
        .collect();
    Json(json!({ "items": items }))
}

/// An accepted request as the shared counters keep it.
pub fn record(id: String, arrival_ms: i64, body: bytes::Bytes) -> ReceivedRecord {
    ReceivedRecord {
        id,
        timestamp: arrival_ms / 1000,
        signature: None,
        received_at_ms: arrival_ms,
        duplicate: false,
        body,
    }
}
