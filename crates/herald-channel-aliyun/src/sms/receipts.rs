//! Delivery receipts pushed by Aliyun (`SmsReport`, HTTP batch push enabled in the console):
//! `POST /callbacks/aliyun/sms/report` with a JSON **array** of
//! `{phone_number, send_time, report_time, success, err_code, err_msg, sms_size, biz_id, out_id}`
//! (times in China time, `yyyy-MM-dd HH:mm:ss`). Pushes are unsigned, retried by Aliyun at
//! 1, 5 and 10 minutes until answered `{"code":0,"msg":"成功"}`, and may repeat: the engine's
//! receipt handling is idempotent, so duplicates are passed on as they come.
//!
//! Each item becomes a [`ProviderReceipt`]: `delivery_id` = `out_id` when it is a Herald
//! delivery id (single sends), `provider_id` = `biz_id` and `receiver` = `phone_number` (how
//! batched sends are matched), `delivered` = `success`, `code` = `err_code`, `message` =
//! `err_msg`, `at` = `report_time` (else `send_time`, else now).

use super::clock::parse_china_time;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use herald_channels::CallbackDeps;
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, DeliveryId};
use herald_ports::ProviderReceipt;
use serde::Deserialize;
use serde_json::{Value, json};

/// Where an operator points Aliyun's receipt push (below Herald's public base URL).
pub const REPORT_PATH: &str = "/callbacks/aliyun/sms/report";

/// One item of Aliyun's push. Fields are lenient: `success` may be a boolean or a string,
/// `sms_size` a number or a string.
#[derive(Debug, Deserialize)]
pub struct SmsReport {
    pub phone_number: String,
    #[serde(default)]
    pub send_time: Option<String>,
    #[serde(default)]
    pub report_time: Option<String>,
    pub success: Value,
    #[serde(default)]
    pub err_code: Option<String>,
    #[serde(default)]
    pub err_msg: Option<String>,
    #[serde(default)]
    pub sms_size: Option<Value>,
    #[serde(default)]
    pub biz_id: Option<String>,
    #[serde(default)]
    pub out_id: Option<String>,
}

impl SmsReport {
    pub fn into_receipt(self) -> ProviderReceipt {
        let delivered = match &self.success {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        let at = self
            .report_time
            .as_deref()
            .and_then(parse_china_time)
            .or_else(|| self.send_time.as_deref().and_then(parse_china_time))
            .unwrap_or_else(now_ms);
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        ProviderReceipt {
            channel: ChannelKind::AliyunSms,
            delivery_id: self.out_id.as_deref().and_then(DeliveryId::parse),
            provider_id: non_empty(self.biz_id),
            receiver: Some(self.phone_number),
            delivered,
            code: non_empty(self.err_code),
            message: non_empty(self.err_msg),
            at,
        }
    }
}

/// `POST /callbacks/aliyun/sms/report`.
pub fn routes(deps: CallbackDeps) -> Router {
    Router::new()
        .route(REPORT_PATH, post(report))
        .with_state(deps)
}

fn answer(status: StatusCode, code: u8, msg: &str) -> Response {
    (status, Json(json!({ "code": code, "msg": msg }))).into_response()
}

async fn report(State(deps): State<CallbackDeps>, body: Bytes) -> Response {
    let reports: Vec<SmsReport> = match serde_json::from_slice(&body) {
        Ok(reports) => reports,
        Err(e) => {
            tracing::warn!(error = %e, "aliyun_sms: unreadable receipt push");
            return answer(StatusCode::BAD_REQUEST, 1, &format!("invalid body: {e}"));
        }
    };
    let receipts: Vec<ProviderReceipt> = reports.into_iter().map(SmsReport::into_receipt).collect();
    let count = receipts.len();
    match deps.receipts.receipts(receipts).await {
        Ok(matched) => {
            tracing::debug!(count, matched, "aliyun_sms receipts");
            answer(StatusCode::OK, 0, "成功")
        }
        Err(e) => {
            // Not acknowledged: Aliyun pushes again later.
            tracing::error!(error = %e, "aliyun_sms: storing receipts failed");
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                1,
                "receipts not stored, retry later",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_a_receipt() {
        let id = DeliveryId::generate();
        let report: SmsReport = serde_json::from_value(json!({
            "phone_number": "13800000000",
            "send_time": "2024-02-01 00:30:00",
            "report_time": "2024-02-01 00:30:05",
            "success": true,
            "err_code": "DELIVERED",
            "err_msg": "用户接收成功",
            "sms_size": "1",
            "biz_id": "932702304080415357^0",
            "out_id": id.as_str(),
        }))
        .unwrap();
        let receipt = report.into_receipt();
        assert_eq!(receipt.delivery_id, Some(id));
        assert_eq!(receipt.provider_id.as_deref(), Some("932702304080415357^0"));
        assert_eq!(receipt.receiver.as_deref(), Some("13800000000"));
        assert!(receipt.delivered);
        assert_eq!(receipt.code.as_deref(), Some("DELIVERED"));
        assert_eq!(receipt.at, 1_706_718_605_000);
        let batch: SmsReport = serde_json::from_value(json!({
            "phone_number": "13900000000", "success": "false", "err_code": "MOBILE_NOT_ON_SERVICE",
            "sms_size": 1, "biz_id": "1^0", "out_id": "not-a-delivery-id"
        }))
        .unwrap();
        let receipt = batch.into_receipt();
        assert_eq!(receipt.delivery_id, None);
        assert!(!receipt.delivered);
    }
}
