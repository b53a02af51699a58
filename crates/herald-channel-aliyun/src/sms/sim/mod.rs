//! The Alibaba Cloud SMS simulator, served under `/sim/aliyun/` (the RPC endpoint `/` of
//! `dysmsapi.aliyuncs.com` below that prefix), so an account whose `endpoint` is
//! `/sim/aliyun` runs the real client code unchanged.
//!
//! | route | what |
//! |---|---|
//! | `POST /sim/aliyun/` (also `GET`) | RPC: `SendSms`, `SendBatchSms`, `QuerySendDetails` |
//! | `GET`/`PUT /sim/aliyun/settings` | the [`SimSettings`] below (partial JSON keeps defaults) |
//! | `PUT /sim/aliyun/receipts-target` | `{"url": "http://…" \| "/callbacks/…" \| null}`: only the receipt URL |
//! | `GET /sim/aliyun/messages?limit=N&phone=P` | the last N accepted messages (newest last) |
//!
//! The sim account is named by the `AccessKeyId`; its `secret` is the AccessKey secret
//! (`PUT /sim/accounts/{AccessKeyId} {"secret": "…"}`). Each RPC call, in order:
//! 1. authentication ([`auth`]): v3 `Authorization` (canonical headers rebuilt from the
//!    `SignedHeaders` actually sent; `x-acs-content-sha256` must hash the body) or v1
//!    `Signature`; an account without a secret → 404 `InvalidAccessKeyId.NotFound`, a wrong
//!    signature → 400 `SignatureDoesNotMatch` (echoing the server's string to sign), a
//!    timestamp more than 15 min off → 400 `InvalidTimeStamp.Expired`, a nonce seen in the
//!    last 15 min → 400 `SignatureNonceUsed`, missing pieces → 400 `IncompleteSignature`;
//! 2. `Version` must be `2017-05-25` (400 `InvalidVersion`), the action known (404
//!    `InvalidAction.NotFound`);
//! 3. the account's `rate_limit_per_sec` → 400 `Throttling.User` with `x-acs-retry-after`
//!    (ms to the next second);
//! 4. faults from the account config: `fail_first`/`error_rate` answer `fail_status` (5xx →
//!    `ServiceUnavailable`/`InternalError`, 4xx → `Throttling`; `retry_after_secs` → headers),
//!    `permanent_first` → HTTP 200 `isv.INVALID_PARAMETERS`, `timeout_first` stalls then
//!    does the work, `latency_ms` delays every answer;
//! 5. the action ([`actions`]): business errors as HTTP 200 with `Code` (phone numbers →
//!    `isv.MOBILE_NUMBER_ILLEGAL`, per-number limits → `isv.BUSINESS_LIMIT_CONTROL`, …).
//!
//! Steps 1–2 and refused parameters count as `rejected`, 3 and per-number flow control as
//! `throttled`, 4 as `faulted`; accepted sends count as
//! unique or duplicate by `OutId` (a resent delivery shows up as a duplicate), batches by
//! BizId. QuerySendDetails calls are rate limited but not counted as arrivals.
//!
//! Receipts: a send's numbers are reported `receipt_delay_ms` later (QuerySendDetails moves
//! from `SendStatus` 1 to 3, or 2 for `undeliverable_numbers`), and when `receipts_url` is set
//! the report is POSTed there as Aliyun's JSON array (retried twice, 1 s apart, on failure),
//! a second time with probability `duplicate_receipt_rate`.

pub mod actions;
pub mod auth;
mod log;
mod push;
mod query;
mod send;

pub use log::SentSms;

use crate::sms::limits::NumberLimits;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::HOST};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Json, Router};
use herald_channels::sim::SimState;
use log::SendLog;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The simulator's own settings (not per account: Aliyun's receipt push is console-wide).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Absolute URL receipts are POSTed to; none = receipts only via QuerySendDetails.
    pub receipts_url: Option<String>,
    /// Delay between a send and its receipt.
    pub receipt_delay_ms: u64,
    /// Probability (0–1) that a receipt push is sent twice.
    pub duplicate_receipt_rate: f64,
    /// Template codes of verification-code templates: 1/min, 5/h, 10/day per signature and
    /// number. Other templates get the notification limit, 50/day per signature, template and
    /// number.
    pub code_templates: BTreeSet<String>,
    /// Numbers whose receipts fail (`success: false`, `MOBILE_NOT_ON_SERVICE`).
    pub undeliverable_numbers: BTreeSet<String>,
}

impl Default for SimSettings {
    fn default() -> Self {
        Self {
            receipts_url: None,
            receipt_delay_ms: 100,
            duplicate_receipt_rate: 0.1,
            code_templates: BTreeSet::new(),
            undeliverable_numbers: BTreeSet::new(),
        }
    }
}

/// Provider-specific simulator state, shared by the routes of one [`routes`] call.
#[derive(Debug)]
pub struct AliyunSim {
    settings: RwLock<SimSettings>,
    nonces: Mutex<auth::NonceBook>,
    limits: NumberLimits,
    log: Mutex<SendLog>,
    /// Built on the first receipt push.
    push_client: std::sync::OnceLock<reqwest::Client>,
    next_id: AtomicU64,
    instance: u32,
}

impl Default for AliyunSim {
    fn default() -> Self {
        Self {
            settings: RwLock::new(SimSettings::default()),
            nonces: Mutex::new(auth::NonceBook::default()),
            limits: NumberLimits::default(),
            log: Mutex::new(SendLog::default()),
            push_client: std::sync::OnceLock::new(),
            next_id: AtomicU64::new(1),
            instance: rand::random(),
        }
    }
}

impl AliyunSim {
    pub fn settings(&self) -> SimSettings {
        self.settings.read().clone()
    }

    /// A `RequestId` in Aliyun's shape (uppercase UUID).
    pub fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let r = rand::random::<u64>();
        format!(
            "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
            self.instance,
            (n >> 16) & 0xffff,
            n & 0xffff,
            r & 0xffff,
            r >> 16
        )
    }

    /// A `BizId` in Aliyun's shape (`<digits>^0`), unique within this simulator.
    pub fn biz_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{}{:010}^0", 100_000 + self.instance % 900_000, n)
    }
}

/// Every route of the Aliyun simulator, with its own fresh state.
pub fn routes() -> Router<SimState> {
    let sim = Arc::new(AliyunSim::default());
    Router::new()
        .route("/sim/aliyun/", get(actions::rpc).post(actions::rpc))
        .route("/sim/aliyun", get(actions::rpc).post(actions::rpc))
        .route("/sim/aliyun/settings", get(get_settings).put(put_settings))
        .route("/sim/aliyun/receipts-target", put(put_receipts_target))
        .route("/sim/aliyun/messages", get(messages))
        .layer(Extension(sim))
}

/// A gateway error (HTTP 4xx/5xx) in Aliyun's shape.
pub fn gateway_error(sim: &AliyunSim, status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "RequestId": sim.request_id(),
        "HostId": "dysmsapi.aliyuncs.com",
        "Code": code,
        "Message": message,
        "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"),
    });
    (status, Json(body)).into_response()
}

/// A business answer (HTTP 200) with `Code` ≠ `OK`.
pub fn business_error(sim: &AliyunSim, code: &str, message: &str) -> Response {
    Json(json!({ "Code": code, "Message": message, "RequestId": sim.request_id() })).into_response()
}

/// Resolves a receipt URL: a path (`/callbacks/aliyun/sms/report`) is taken relative to the
/// host the settings request came to, so the embedded simulator can point at its own node.
fn resolve_url(url: Option<String>, headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(Some(url));
    }
    let host = headers
        .get(HOST)
        .and_then(|h: &HeaderValue| h.to_str().ok());
    match (url.starts_with('/'), host) {
        (true, Some(host)) => Ok(Some(format!("http://{host}{url}"))),
        _ => Err(format!(
            "receipts_url {url:?}: must be an http(s) URL or a path"
        )),
    }
}

fn invalid(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_settings", "message": message })),
    )
        .into_response()
}

async fn get_settings(Extension(sim): Extension<Arc<AliyunSim>>) -> Json<SimSettings> {
    Json(sim.settings())
}

async fn put_settings(
    Extension(sim): Extension<Arc<AliyunSim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut settings: SimSettings = match serde_json::from_slice(&body) {
        Ok(settings) => settings,
        Err(e) => return invalid(e.to_string()),
    };
    if !(0.0..=1.0).contains(&settings.duplicate_receipt_rate) {
        return invalid("duplicate_receipt_rate: must be between 0 and 1".into());
    }
    match resolve_url(settings.receipts_url.take(), &headers) {
        Ok(url) => settings.receipts_url = url,
        Err(message) => return invalid(message),
    }
    *sim.settings.write() = settings.clone();
    Json(settings).into_response()
}

#[derive(Deserialize)]
struct ReceiptsTarget {
    url: Option<String>,
}

async fn put_receipts_target(
    Extension(sim): Extension<Arc<AliyunSim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let target: ReceiptsTarget = match serde_json::from_slice(&body) {
        Ok(target) => target,
        Err(e) => return invalid(e.to_string()),
    };
    match resolve_url(target.url, &headers) {
        Ok(url) => {
            sim.settings.write().receipts_url = url.clone();
            Json(json!({ "url": url })).into_response()
        }
        Err(message) => invalid(message),
    }
}

#[derive(Deserialize)]
struct MessagesQuery {
    limit: Option<usize>,
    phone: Option<String>,
}

async fn messages(
    Extension(sim): Extension<Arc<AliyunSim>>,
    Query(query): Query<MessagesQuery>,
) -> Json<serde_json::Value> {
    let items = sim
        .log
        .lock()
        .last(query.limit.unwrap_or(100), query.phone.as_deref());
    Json(json!({ "items": items }))
}
