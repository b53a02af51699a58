//! Reconciling a send whose answer was lost (timeout, broken connection): SendSms is not
//! idempotent, so before any resend Herald asks QuerySendDetails what became of it.
//!
//! The query covers the receiver's number on today's China-time `SendDate` (and yesterday's
//! in the first 15 minutes of a day), up to 4 pages of 50. A record whose `OutId` is the
//! delivery id is the send (single sends carry it). SendBatchSms has no `OutId`, so a
//! batched send is recognised by a record without `OutId`, of the same `TemplateCode`,
//! sent since the call started (`timeout` + 2 min ago): a heuristic, documented as such.
//!
//! | record | outcome |
//! |---|---|
//! | `SendStatus` 3 | `Delivered` |
//! | `SendStatus` 2 | `Permanent` with the record's `ErrCode` |
//! | `SendStatus` 1 (waiting for the receipt) | `Sent` (the receipt push settles it) |
//! | no matching record | `Retryable` `not_sent`: Aliyun never accepted it, resending is safe |
//! | the query itself failed | `None`: the delivery stays `unknown` for an operator |

use super::client::AliyunSmsChannel;
use super::clock::{parse_china_time, send_date};
use super::config::Settings;
use super::rpc::{RpcCall, invoke};
use super::template::TemplateSpec;
use herald_domain::time::now_ms;
use herald_domain::{Millis, Outcome};
use herald_ports::{AccountContext, OutboundMessage};
use serde_json::Value;

/// Records per QuerySendDetails page (the API's maximum).
const PAGE_SIZE: u64 = 50;
/// Pages read per day at most.
const MAX_PAGES: u64 = 4;
/// How far past the configured timeout a batched send's record may date back.
const BATCH_MATCH_SLACK_MS: i64 = 120_000;

/// What a QuerySendDetails record says about the send.
pub(super) fn record_outcome(record: &Value) -> Option<Outcome> {
    let status = match record.get("SendStatus")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    let err_code = record
        .get("ErrCode")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match status {
        3 => Some(Outcome::Delivered { provider_id: None }),
        2 => Some(Outcome::Permanent {
            code: if err_code.is_empty() {
                "failed".into()
            } else {
                err_code.to_owned()
            },
            message: "QuerySendDetails: SendStatus 2 (failed)".into(),
        }),
        1 => Some(Outcome::Sent { provider_id: None }),
        _ => None,
    }
}

/// The records of one page.
pub(super) fn records(body: &Value) -> Vec<Value> {
    body.pointer("/SmsSendDetailDTOs/SmsSendDetailDTO")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub(super) async fn reconcile(
    channel: &AliyunSmsChannel,
    account: &AccountContext,
    message: &OutboundMessage,
) -> Option<Outcome> {
    let settings = Settings::from_account(&channel.deps, account).ok()?;
    let template_code =
        TemplateSpec::from_fields(&message.content.fields, settings.sign_name.as_deref())
            .ok()
            .map(|spec| spec.template_code);
    let now = now_ms();
    let since = now - settings.timeout.as_millis() as Millis - BATCH_MATCH_SLACK_MS;
    let mut dates = vec![send_date(now)];
    let earlier = send_date(now - 15 * 60_000);
    if earlier != dates[0] {
        dates.push(earlier);
    }
    let delivery_id = message.delivery_id.as_str();
    let mut batch_match: Option<(Millis, Value)> = None;
    for date in dates {
        for page in 1..=MAX_PAGES {
            let call = RpcCall {
                action: "QuerySendDetails",
                query: vec![
                    ("PhoneNumber".into(), message.receiver.to.clone()),
                    ("SendDate".into(), date.clone()),
                    ("PageSize".into(), PAGE_SIZE.to_string()),
                    ("CurrentPage".into(), page.to_string()),
                ],
                form: Vec::new(),
            };
            let body = match invoke(&channel.deps.http, &settings, &call).await {
                Ok(body) if body.get("Code").and_then(Value::as_str) == Some("OK") => body,
                Ok(body) => {
                    tracing::warn!(%delivery_id, answer = %body, "aliyun_sms: QuerySendDetails refused");
                    return None;
                }
                Err(outcome) => {
                    tracing::warn!(%delivery_id, code = outcome.code(), "aliyun_sms: QuerySendDetails failed");
                    return None;
                }
            };
            let page_records = records(&body);
            for record in &page_records {
                let out_id = record
                    .get("OutId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if out_id == delivery_id {
                    return record_outcome(record);
                }
                let same_template = template_code.is_some()
                    && record.get("TemplateCode").and_then(Value::as_str)
                        == template_code.as_deref();
                let sent_at = record
                    .get("SendDate")
                    .and_then(Value::as_str)
                    .and_then(parse_china_time)
                    .unwrap_or(Millis::MIN);
                if out_id.is_empty()
                    && same_template
                    && sent_at >= since - 1000
                    && batch_match.as_ref().is_none_or(|(at, _)| *at < sent_at)
                {
                    batch_match = Some((sent_at, record.clone()));
                }
            }
            let total = body.get("TotalCount").and_then(Value::as_u64).unwrap_or(0);
            if page_records.is_empty() || page * PAGE_SIZE >= total {
                break;
            }
        }
    }
    if let Some((_, record)) = batch_match {
        return record_outcome(&record);
    }
    Some(Outcome::Retryable {
        code: "not_sent".into(),
        message: "QuerySendDetails has no record of this send".into(),
        retry_after_ms: None,
    })
}
