//! The RPC endpoint's pipeline (authenticate → version/action → rate limit → faults →
//! action), as listed in the [simulator doc](super).

use super::auth::{self, Arrival, Authenticated};
use super::{AliyunSim, business_error, gateway_error, query, send};
use crate::sms::config::API_VERSION;
use crate::sms::rpc::RETRY_AFTER_HEADER;
use axum::Extension;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use herald_channels::sim::account::Fault;
use herald_channels::sim::{SimState, unix_now};
use std::sync::Arc;
use std::time::Duration;

/// The actions this simulator implements.
const ACTIONS: &[&str] = &["SendSms", "SendBatchSms", "QuerySendDetails"];

/// `application/x-www-form-urlencoded` pairs (`+` is a space).
pub fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

/// `POST /sim/aliyun/` (and `GET`).
pub async fn rpc(
    State(state): State<SimState>,
    Extension(sim): Extension<Arc<AliyunSim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (now_sec, _) = unix_now();
    let query = parse_pairs(uri.query().unwrap_or_default().as_bytes());
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        parse_pairs(&body)
    } else {
        Vec::new()
    };
    let arrival = Arrival {
        method: &method,
        headers: &headers,
        query: &query,
        form: &form,
        body: &body,
        now_sec,
    };
    let authed = match auth::authenticate(&state, &sim, &arrival) {
        Ok(authed) => authed,
        Err(response) => return response,
    };
    let account = authed.account.clone();
    if authed.version != API_VERSION {
        account.reject(now_sec);
        let message = "Specified parameter Version is not valid.";
        return gateway_error(&sim, StatusCode::BAD_REQUEST, "InvalidVersion", message);
    }
    if !ACTIONS.contains(&authed.action.as_str()) {
        account.reject(now_sec);
        let message = "Specified api is not found, please check your url and method.";
        return gateway_error(
            &sim,
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            message,
        );
    }
    let config = account.config();
    if !account.admit(now_sec, config.rate_limit_per_sec) {
        let (_, now_ms) = unix_now();
        let wait_ms = 1000 - now_ms.rem_euclid(1000);
        let message = "Request was denied due to user flow control.";
        let mut response = gateway_error(&sim, StatusCode::BAD_REQUEST, "Throttling.User", message);
        response
            .headers_mut()
            .insert(RETRY_AFTER_HEADER, HeaderValue::from(wait_ms));
        return response;
    }
    let is_send = authed.action != "QuerySendDetails";
    let fault = if is_send {
        account.next_fault(&config)
    } else {
        Fault::None
    };
    let latency = Duration::from_millis(config.latency_ms);
    let stalled = matches!(fault, Fault::Stall(_));
    let work = finish(sim.clone(), authed, now_sec, latency, fault);
    if latency.is_zero() && !stalled {
        return work.await;
    }
    // A slow answer runs on its own task: a client that gives up cancels this handler, but the
    // simulated provider still sends (and counts) the message, which is what makes a
    // timed-out send `unknown` and its reconciliation meaningful.
    match tokio::spawn(work).await {
        Ok(response) => response,
        Err(_) => gateway_error(
            &sim,
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "simulator task failed",
        ),
    }
}

/// Latency and faults, then the action.
async fn finish(
    sim: Arc<AliyunSim>,
    authed: Authenticated,
    now_sec: i64,
    latency: Duration,
    fault: Fault,
) -> Response {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        Fault::None => {}
        Fault::Stall(pause) => tokio::time::sleep(pause).await,
        Fault::Permanent => {
            authed.account.count_fault(now_sec);
            return business_error(&sim, "isv.INVALID_PARAMETERS", "injected permanent failure");
        }
        Fault::Fail {
            status,
            retry_after_secs,
        } => {
            authed.account.count_fault(now_sec);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let (code, message) = match status.as_u16() {
                503 => (
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
                500..=599 => (
                    "InternalError",
                    "The request processing has failed due to some unknown error.",
                ),
                _ => (
                    "Throttling",
                    "Request was denied due to request throttling.",
                ),
            };
            let mut response = gateway_error(&sim, status, code, message);
            if let Some(secs) = retry_after_secs {
                let headers = response.headers_mut();
                headers.insert(RETRY_AFTER, HeaderValue::from(secs));
                headers.insert(RETRY_AFTER_HEADER, HeaderValue::from(secs * 1000));
            }
            return response;
        }
    }
    match authed.action.as_str() {
        "SendSms" => send::send_sms(&sim, &authed, now_sec),
        "SendBatchSms" => send::send_batch_sms(&sim, &authed, now_sec),
        _ => query::query_send_details(&sim, &authed),
    }
}
