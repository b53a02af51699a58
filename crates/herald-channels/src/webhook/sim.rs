//! The webhook simulator: a receiver that checks what a careful integrator's endpoint checks.
//!
//! `POST /sim/webhook/{name}`, in this order:
//! 1. `herald-id` and `herald-timestamp` must be present (400 `missing_header`);
//! 2. with a secret configured, `herald-signature` must verify (401 `invalid_signature`);
//! 3. the timestamp must be within ±5 minutes of now (400 `stale_timestamp`);
//! 4. the body must be JSON (400 `invalid_body`);
//! 5. the account's rate limit (429 `rate_limited`, `Retry-After: 1`, counted as throttled);
//! 6. injected latency and faults (see [`SimAccountConfig`](crate::sim::SimAccountConfig));
//! 7. 200 `{"ok":true}` with an `x-request-id`. A `herald-id` accepted before is a retry:
//!    accepted again (receivers must be idempotent) and counted as a duplicate.
//!
//! Steps 1–4 are counted as `rejected`, injected failures as `faulted`.

use super::payload::{HEADER_ID, HEADER_REQUEST_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use super::signature;
use crate::sim::account::{AccountSim, Fault};
use crate::sim::stats::ReceivedRecord;
use crate::sim::{SimState, error_response, unix_now};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// How far a `herald-timestamp` may be from the simulator's clock.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/sim/webhook/{name}", post(receive))
        .route("/sim/webhook/{name}/received", get(received))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn receive(
    State(state): State<SimState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (arrival, arrival_ms) = unix_now();
    let Some(account) = state.account(&name) else {
        return error_response(StatusCode::NOT_FOUND, "unknown_account", None);
    };
    let config = account.config();
    let reject = |status, code: &str| {
        account.reject(arrival);
        error_response(status, code, None)
    };

    let (Some(id), Some(raw_timestamp)) = (
        header(&headers, HEADER_ID),
        header(&headers, HEADER_TIMESTAMP),
    ) else {
        return reject(StatusCode::BAD_REQUEST, "missing_header");
    };
    let Ok(timestamp) = raw_timestamp.parse::<i64>() else {
        return reject(StatusCode::BAD_REQUEST, "invalid_timestamp");
    };
    let signature_header = header(&headers, HEADER_SIGNATURE);
    if let Some(secret) = &config.secret {
        let valid = signature_header
            .is_some_and(|sig| signature::verify(secret.0.as_bytes(), id, timestamp, &body, sig));
        if !valid {
            return reject(StatusCode::UNAUTHORIZED, "invalid_signature");
        }
    }
    if (arrival - timestamp).abs() > TIMESTAMP_TOLERANCE_SECS {
        return reject(StatusCode::BAD_REQUEST, "stale_timestamp");
    }
    if serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return reject(StatusCode::BAD_REQUEST, "invalid_body");
    }

    if !account.admit(arrival, config.rate_limit_per_sec) {
        let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, "rate_limited", None);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }

    let fault = account.next_fault(&config);
    let record = ReceivedRecord {
        id: id.to_owned(),
        timestamp,
        signature: signature_header.map(str::to_owned),
        received_at_ms: arrival_ms,
        duplicate: false,
        body,
    };
    let latency = Duration::from_millis(config.latency_ms);
    let stalled = matches!(fault, Fault::Stall(_));
    let finish = finish(state, account, arrival, latency, fault, record);
    if latency.is_zero() && !stalled {
        return finish.await;
    }
    // A slow answer runs on its own task: a client that gives up and disconnects cancels
    // the handler, but the simulated provider still finishes (and counts) the work, as a
    // real one would. That is what makes a timed-out send `unknown` rather than lost.
    match tokio::spawn(finish).await {
        Ok(response) => response,
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "simulator_panic", None),
    }
}

/// Steps 6–7: latency, faults, then accept and count.
async fn finish(
    state: SimState,
    account: Arc<AccountSim>,
    arrival: i64,
    latency: Duration,
    fault: Fault,
    record: ReceivedRecord,
) -> Response {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::None => {}
        Fault::Stall(pause) => tokio::time::sleep(pause).await,
        Fault::Permanent => {
            account.count_fault(arrival);
            return error_response(StatusCode::BAD_REQUEST, "injected_permanent", None);
        }
        Fault::Fail {
            status,
            retry_after_secs,
        } => {
            account.count_fault(arrival);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = error_response(status, "injected_failure", None);
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(secs));
            }
            return response;
        }
    }
    account.accept(arrival, record);
    let request_id = state.next_request_id();
    let mut response = Json(serde_json::json!({ "ok": true })).into_response();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(HEADER_REQUEST_ID, value);
    }
    response
}

#[derive(Debug, Deserialize)]
struct ReceivedQuery {
    limit: Option<usize>,
}

/// `{"items": [{"id", "timestamp", "signature", "received_at_ms", "duplicate", "body",
/// "raw_body"}]}`, oldest first (`raw_body` is the exact signed text); `limit` defaults to 100 (at most what is kept, 1,000).
async fn received(
    State(state): State<SimState>,
    Path(name): Path<String>,
    Query(query): Query<ReceivedQuery>,
) -> Json<serde_json::Value> {
    let limit = query.limit.unwrap_or(100);
    let records = state
        .existing_account(&name)
        .map(|account| account.last_received(limit))
        .unwrap_or_default();
    let items: Vec<_> = records
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice::<serde_json::Value>(&r.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into_owned().into());
            serde_json::json!({
                "id": r.id,
                "timestamp": r.timestamp,
                "signature": r.signature,
                "received_at_ms": r.received_at_ms,
                "duplicate": r.duplicate,
                "body": body,
                "raw_body": String::from_utf8_lossy(&r.body),
            })
        })
        .collect();
    Json(serde_json::json!({ "items": items }))
}
