//! What the DingTalk and Feishu robot simulators share once a request has passed
//! authentication: the provider's own rate windows, the sim account's per-second limit,
//! injected faults and latency, and the accepted answer, all counted in `/sim/stats`.
//!
//! Robots have no dedup key or nonce (neither DingTalk nor Feishu lets a sender pass one),
//! so every accepted request is recorded under a fresh simulator request id: a resend after
//! an `unknown` outcome shows up as a second message, exactly as in the real group.

use crate::pacing::{Pacer, Window};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header::RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herald_channels::sim::SimState;
use herald_channels::sim::account::{AccountSim, Fault};
use herald_channels::sim::stats::ReceivedRecord;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A provider's fixed limits per robot, kept by the simulator as the provider does.
#[derive(Debug)]
pub struct ProviderLimits {
    /// Sliding windows per robot name.
    pub windows: Vec<Window>,
    /// How long the provider mutes a robot that went over (DingTalk: ten minutes).
    pub mute: Option<Duration>,
    /// The windows' state, per robot name.
    pub pacer: Pacer,
}

impl ProviderLimits {
    pub fn new(windows: Vec<Window>, mute: Option<Duration>) -> Self {
        Self {
            windows,
            mute,
            pacer: Pacer::default(),
        }
    }

    /// Whether robot `name` may send now; a refusal starts the mute when there is one.
    fn allow(&self, name: &str) -> bool {
        let now = Instant::now();
        match self.pacer.try_take(name, &self.windows, now) {
            Ok(()) => true,
            Err(_) => {
                if let Some(mute) = self.mute {
                    self.pacer.mute(name, now + mute);
                }
                false
            }
        }
    }
}

/// The provider's JSON answers for each way an authenticated request can end.
pub struct Answers {
    /// Over a rate limit (HTTP 200).
    pub throttled: Value,
    /// An injected transient failure (sent with the configured HTTP status).
    pub busy: Value,
    /// An injected permanent failure (HTTP 200).
    pub permanent: Value,
    /// Accepted (HTTP 200).
    pub ok: Value,
}

/// A JSON answer with `status`.
pub fn json_answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// Everything after authentication: limits, faults, latency, then accept and count.
pub struct Admitted {
    pub state: SimState,
    pub account: Arc<AccountSim>,
    pub name: String,
    pub arrival: i64,
    pub arrival_ms: i64,
    pub timestamp: i64,
    pub signature: Option<String>,
    pub body: Bytes,
}

impl Admitted {
    pub async fn answer(self, limits: &ProviderLimits, answers: Answers) -> Response {
        let config = self.account.config();
        if !self.account.admit(self.arrival, config.rate_limit_per_sec) {
            return json_answer(StatusCode::OK, answers.throttled);
        }
        if !limits.allow(&self.name) {
            self.account.count_throttled(self.arrival);
            return json_answer(StatusCode::OK, answers.throttled);
        }
        let fault = self.account.next_fault(&config);
        let latency = Duration::from_millis(config.latency_ms);
        let stalled = matches!(fault, Fault::Stall(_));
        let finish = self.finish(latency, fault, answers);
        if latency.is_zero() && !stalled {
            return finish.await;
        }
        // A slow answer runs on its own task: a client that gives up cancels the handler,
        // but the simulated provider still posts the message, as the real one would.
        match tokio::spawn(finish).await {
            Ok(response) => response,
            Err(_) => json_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "simulator_panic"}),
            ),
        }
    }

    async fn finish(self, latency: Duration, fault: Fault, answers: Answers) -> Response {
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match fault {
            Fault::None => {}
            Fault::Stall(pause) => tokio::time::sleep(pause).await,
            Fault::Permanent => {
                self.account.count_fault(self.arrival);
                return json_answer(StatusCode::OK, answers.permanent);
            }
            Fault::Fail {
                status,
                retry_after_secs,
            } => {
                self.account.count_fault(self.arrival);
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let mut response = json_answer(status, answers.busy);
                if let Some(secs) = retry_after_secs {
                    response
                        .headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from(secs));
                }
                return response;
            }
        }
        let record = ReceivedRecord {
            id: self.state.next_request_id(),
            timestamp: self.timestamp,
            signature: self.signature,
            received_at_ms: self.arrival_ms,
            duplicate: false,
            body: self.body,
        };
        self.account.accept(self.arrival, record);
        json_answer(StatusCode::OK, answers.ok)
    }
}

/// `{"items": [{"id", "timestamp", "signature", "received_at_ms", "body"}]}`: the last
/// `limit` messages robot `name` posted, oldest first.
pub fn received_items(state: &SimState, name: &str, limit: usize) -> Value {
    let records = state
        .existing_account(name)
        .map(|account| account.last_received(limit))
        .unwrap_or_default();
    let items: Vec<_> = records
        .into_iter()
        .map(|r| {
            let body = serde_json::from_slice::<Value>(&r.body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&r.body).into_owned().into());
            serde_json::json!({
                "id": r.id,
                "timestamp": r.timestamp,
                "signature": r.signature,
                "received_at_ms": r.received_at_ms,
                "body": body,
            })
        })
        .collect();
    serde_json::json!({ "items": items })
}
