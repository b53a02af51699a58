//! SendSms and SendBatchSms as the simulator runs them: parameter checks with Aliyun's codes,
//! per-number flow control, then accept, log and schedule the receipt.

use super::auth::Authenticated;
use super::{AliyunSim, SentSms, business_error, gateway_error, push};
use crate::sms::errors::BUSINESS_LIMIT_CONTROL;
use crate::sms::limits::{CODE_LIMITS, NOTIFICATION_LIMITS, normalize_number};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use herald_channels::sim::stats::ReceivedRecord;
use herald_channels::sim::unix_now;
use serde_json::{Value, json};
use std::sync::Arc;

/// Most numbers of one SendSms call.
const MAX_SEND_SMS_NUMBERS: usize = 1000;
/// Most numbers of one SendBatchSms call.
const MAX_BATCH_NUMBERS: usize = 100;
/// `OutId` must be shorter than this.
const MAX_OUT_ID: usize = 256;

/// One number of a call, checked and ready to log.
struct Recipient {
    phone: String,
    sign_name: String,
    template_param: String,
}

/// Whether Aliyun would accept the number: mainland `1[3-9]` + 9 digits (with or without
/// `+86`), or an international number of 8 to 15 digits with its country code.
pub fn valid_number(number: &str) -> bool {
    let digits = normalize_number(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if digits.len() == 11 && digits.starts_with('1') {
        return matches!(digits.as_bytes()[1], b'3'..=b'9');
    }
    (8..=15).contains(&digits.len()) && !digits.starts_with('0') && !digits.starts_with("86")
}

/// A `TemplateParam` object: JSON, every value a string.
fn valid_template_param(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.values().all(Value::is_string))
}

fn param<'a>(authed: &'a Authenticated, name: &str) -> Option<&'a str> {
    authed
        .params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn missing(sim: &AliyunSim, authed: &Authenticated, name: &str, now_sec: i64) -> Response {
    authed.account.reject(now_sec);
    let message = format!("{name} is mandatory for this action.");
    gateway_error(
        sim,
        StatusCode::BAD_REQUEST,
        &format!("Missing{name}"),
        &message,
    )
}

fn refuse(
    sim: &AliyunSim,
    authed: &Authenticated,
    now_sec: i64,
    code: &str,
    message: &str,
) -> Response {
    authed.account.reject(now_sec);
    business_error(sim, code, message)
}

/// A per-number flow-control refusal, counted as throttled.
fn over_limit(sim: &AliyunSim, authed: &Authenticated, now_sec: i64, message: &str) -> Response {
    authed.account.count_throttled(now_sec);
    business_error(sim, BUSINESS_LIMIT_CONTROL, message)
}

/// Takes a send from every recipient's windows, or none: the first hit is Aliyun's answer.
fn admit_numbers(
    sim: &AliyunSim,
    authed: &Authenticated,
    template: &str,
    recipients: &[Recipient],
) -> Result<(), String> {
    let code = sim.settings().code_templates.contains(template);
    let (_, now_ms) = unix_now();
    let mut taken: Vec<(String, &[_])> = Vec::new();
    for r in recipients {
        let number = normalize_number(&r.phone);
        let (key, limits): (String, &[_]) = if code {
            (
                format!("{}|{}|{number}", authed.access_key_id, r.sign_name),
                &CODE_LIMITS,
            )
        } else {
            (
                format!(
                    "{}|{}|{template}|{number}",
                    authed.access_key_id, r.sign_name
                ),
                &NOTIFICATION_LIMITS,
            )
        };
        if let Err(hit) = sim.limits.try_acquire(&key, limits, now_ms) {
            for (key, limits) in &taken {
                sim.limits.release(key, limits, now_ms);
            }
            return Err(hit.message());
        }
        taken.push((key, limits));
    }
    Ok(())
}

/// Logs an accepted call, counts it, schedules its receipt and answers `OK`.
fn accept(
    sim: &Arc<AliyunSim>,
    authed: &Authenticated,
    now_sec: i64,
    template: &str,
    out_id: &str,
    recipients: Vec<Recipient>,
) -> Response {
    let biz_id = sim.biz_id();
    let settings = sim.settings();
    let (_, now_ms) = unix_now();
    let sent: Vec<SentSms> = recipients
        .into_iter()
        .map(|r| SentSms {
            access_key_id: authed.access_key_id.clone(),
            action: if authed.action == "SendBatchSms" {
                "SendBatchSms"
            } else {
                "SendSms"
            },
            biz_id: biz_id.clone(),
            delivered: !settings
                .undeliverable_numbers
                .contains(&normalize_number(&r.phone))
                && !settings.undeliverable_numbers.contains(&r.phone),
            phone_number: r.phone,
            sign_name: r.sign_name,
            template_code: template.to_owned(),
            template_param: r.template_param,
            out_id: out_id.to_owned(),
            sent_at_ms: now_ms,
            report_at_ms: now_ms + settings.receipt_delay_ms as i64,
        })
        .collect();
    {
        let mut log = sim.log.lock();
        for sms in &sent {
            log.push(sms.clone());
        }
    }
    let params: serde_json::Map<String, Value> = authed
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    authed.account.accept(
        now_sec,
        ReceivedRecord {
            id: if out_id.is_empty() {
                biz_id.clone()
            } else {
                out_id.to_owned()
            },
            timestamp: now_sec,
            signature: None,
            received_at_ms: now_ms,
            duplicate: false,
            body: Bytes::from(Value::Object(params).to_string()),
        },
    );
    push::schedule(sim, &sent);
    Json(json!({ "Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": sim.request_id() }))
        .into_response()
}

pub fn send_sms(sim: &Arc<AliyunSim>, authed: &Authenticated, now_sec: i64) -> Response {
    let (Some(phones), Some(sign_name), Some(template)) = (
        param(authed, "PhoneNumbers"),
        param(authed, "SignName"),
        param(authed, "TemplateCode"),
    ) else {
        let name = ["PhoneNumbers", "SignName", "TemplateCode"]
            .into_iter()
            .find(|n| param(authed, n).is_none())
            .unwrap_or("PhoneNumbers");
        return missing(sim, authed, name, now_sec);
    };
    let numbers: Vec<&str> = phones
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if numbers.len() > MAX_SEND_SMS_NUMBERS {
        return refuse(
            sim,
            authed,
            now_sec,
            "isv.MOBILE_COUNT_OVER_LIMIT",
            "手机号码数量超过限制",
        );
    }
    if let Some(bad) = numbers.iter().find(|n| !valid_number(n)) {
        return refuse(
            sim,
            authed,
            now_sec,
            "isv.MOBILE_NUMBER_ILLEGAL",
            &format!("invalid mobile number {bad}"),
        );
    }
    let template_param = match param(authed, "TemplateParam") {
        None => "{}".to_owned(),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(value) if valid_template_param(&value) => value.to_string(),
            _ => {
                return refuse(
                    sim,
                    authed,
                    now_sec,
                    "isv.INVALID_JSON_PARAM",
                    "JSON参数不合法，只接受字符串值",
                );
            }
        },
    };
    let out_id = param(authed, "OutId").unwrap_or_default();
    if out_id.len() >= MAX_OUT_ID {
        return refuse(
            sim,
            authed,
            now_sec,
            "isv.PARAM_LENGTH_LIMIT",
            "参数超出长度限制: OutId",
        );
    }
    let recipients: Vec<Recipient> = numbers
        .iter()
        .map(|n| Recipient {
            phone: (*n).to_owned(),
            sign_name: sign_name.to_owned(),
            template_param: template_param.clone(),
        })
        .collect();
    if let Err(message) = admit_numbers(sim, authed, template, &recipients) {
        return over_limit(sim, authed, now_sec, &message);
    }
    accept(sim, authed, now_sec, template, out_id, recipients)
}

/// A `*Json` parameter: a JSON array of strings (`TemplateParamJson`: of objects).
fn json_array(raw: &str) -> Option<Vec<Value>> {
    serde_json::from_str::<Value>(raw).ok()?.as_array().cloned()
}

pub fn send_batch_sms(sim: &Arc<AliyunSim>, authed: &Authenticated, now_sec: i64) -> Response {
    let (Some(phones), Some(signs), Some(template)) = (
        param(authed, "PhoneNumberJson"),
        param(authed, "SignNameJson"),
        param(authed, "TemplateCode"),
    ) else {
        let name = ["PhoneNumberJson", "SignNameJson", "TemplateCode"]
            .into_iter()
            .find(|n| param(authed, n).is_none())
            .unwrap_or("PhoneNumberJson");
        return missing(sim, authed, name, now_sec);
    };
    let bad_json = |sim, authed| {
        refuse(
            sim,
            authed,
            now_sec,
            "isv.INVALID_JSON_PARAM",
            "JSON参数不合法",
        )
    };
    let strings = |values: Vec<Value>| {
        values
            .into_iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
    };
    let (Some(phones), Some(signs)) = (
        json_array(phones).and_then(strings),
        json_array(signs).and_then(strings),
    ) else {
        return bad_json(sim, authed);
    };
    let params = match param(authed, "TemplateParamJson") {
        None => vec![Value::Object(Default::default()); phones.len()],
        Some(raw) => match json_array(raw) {
            Some(values) if values.iter().all(valid_template_param) => values,
            _ => return bad_json(sim, authed),
        },
    };
    if phones.len() > MAX_BATCH_NUMBERS {
        return refuse(
            sim,
            authed,
            now_sec,
            "isv.MOBILE_COUNT_OVER_LIMIT",
            "手机号码数量超过限制",
        );
    }
    if phones.is_empty() || signs.len() != phones.len() || params.len() != phones.len() {
        let message =
            "PhoneNumberJson, SignNameJson and TemplateParamJson must have the same length";
        return refuse(sim, authed, now_sec, "isv.INVALID_PARAMETERS", message);
    }
    if let Some(bad) = phones.iter().find(|n| !valid_number(n)) {
        return refuse(
            sim,
            authed,
            now_sec,
            "isv.MOBILE_NUMBER_ILLEGAL",
            &format!("invalid mobile number {bad}"),
        );
    }
    let recipients: Vec<Recipient> = phones
        .into_iter()
        .zip(signs)
        .zip(params)
        .map(|((phone, sign_name), param)| Recipient {
            phone,
            sign_name,
            template_param: param.to_string(),
        })
        .collect();
    if let Err(message) = admit_numbers(sim, authed, template, &recipients) {
        return over_limit(sim, authed, now_sec, &message);
    }
    accept(sim, authed, now_sec, template, "", recipients)
}

#[cfg(test)]
mod tests {
    use super::valid_number;

    #[test]
    fn numbers_are_checked_like_aliyun() {
        for ok in [
            "13800000000",
            "+8619912345678",
            "85291234567",
            "+14155550123",
        ] {
            assert!(valid_number(ok), "{ok}");
        }
        for bad in [
            "12345",
            "10000000000",
            "1380000000a",
            "",
            "+86123",
            "0123456789",
        ] {
            assert!(!valid_number(bad), "{bad}");
        }
    }
}
