//! QuerySendDetails as the simulator answers it: the account's messages to one number on one
//! China-time day, newest first, paged, each with its current `SendStatus`.

use super::auth::Authenticated;
use super::{AliyunSim, business_error, gateway_error};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_channels::sim::unix_now;
use serde_json::{Value, json};

fn param<'a>(authed: &'a Authenticated, name: &str) -> Option<&'a str> {
    authed
        .params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

pub fn query_send_details(sim: &AliyunSim, authed: &Authenticated) -> Response {
    for name in ["PhoneNumber", "SendDate", "PageSize", "CurrentPage"] {
        if param(authed, name).is_none() {
            let message = format!("{name} is mandatory for this action.");
            return gateway_error(
                sim,
                StatusCode::BAD_REQUEST,
                &format!("Missing{name}"),
                &message,
            );
        }
    }
    let phone = param(authed, "PhoneNumber").unwrap_or_default();
    let date = param(authed, "SendDate").unwrap_or_default();
    let page_size = param(authed, "PageSize")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=50).contains(n));
    let page = param(authed, "CurrentPage")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n >= 1);
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    let (Some(page_size), Some(page), true) = (page_size, page, date_ok) else {
        let message = "SendDate must be yyyyMMdd, PageSize 1-50, CurrentPage from 1";
        return business_error(sim, "isv.INVALID_PARAMETERS", message);
    };
    let found = sim
        .log
        .lock()
        .query(&authed.access_key_id, phone, date, param(authed, "BizId"));
    let (_, now_ms) = unix_now();
    let details: Vec<Value> = found
        .iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|sms| sms.detail(now_ms))
        .collect();
    Json(json!({
        "Code": "OK",
        "Message": "OK",
        "RequestId": sim.request_id(),
        "TotalCount": found.len(),
        "SmsSendDetailDTOs": { "SmsSendDetailDTO": details },
    }))
    .into_response()
}
