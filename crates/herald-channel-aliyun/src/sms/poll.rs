//! Receipt polling: QuerySendDetails for `sent` deliveries whose receipt was not pushed
//! (push disabled in the console, callback unreachable, receipts lost).
//!
//! Per delivery: `PhoneNumber` = receiver, `BizId` = the send's BizId (the attempt's
//! provider id), `SendDate` = the China-time day it was sent. The record whose `OutId` is the
//! delivery id answers (single sends); a batched send has no `OutId`, and its `BizId` +
//! number identify it. `SendStatus` 3 → delivered, 2 → failed with `ErrCode`, 1 → still
//! waiting (asked again on the next pass).

use super::client::AliyunSmsChannel;
use super::clock::send_date;
use super::config::Settings;
use super::reconcile::{record_outcome, records};
use super::rpc::{RpcCall, invoke};
use herald_domain::time::now_ms;
use herald_domain::{ChannelKind, DeliveryId, Outcome};
use herald_ports::{AccountContext, AwaitingReceipt, ProviderReceipt};
use serde_json::Value;

pub(super) async fn poll(
    channel: &AliyunSmsChannel,
    account: &AccountContext,
    awaiting: &[AwaitingReceipt],
) -> Vec<ProviderReceipt> {
    let Ok(settings) = Settings::from_account(&channel.deps, account) else {
        return Vec::new();
    };
    let mut receipts = Vec::new();
    for a in awaiting {
        let mut query = vec![
            ("PhoneNumber".to_owned(), a.receiver.clone()),
            ("SendDate".to_owned(), send_date(a.sent_at)),
            ("PageSize".to_owned(), "50".to_owned()),
            ("CurrentPage".to_owned(), "1".to_owned()),
        ];
        if let Some(biz) = &a.provider_id {
            query.push(("BizId".to_owned(), biz.clone()));
        }
        let call = RpcCall {
            action: "QuerySendDetails",
            query,
            form: Vec::new(),
        };
        let body = match invoke(&channel.deps.http, &settings, &call).await {
            Ok(body) if body.get("Code").and_then(Value::as_str) == Some("OK") => body,
            Ok(body) => {
                tracing::warn!(delivery = %a.delivery_id, answer = %body, "aliyun_sms: QuerySendDetails refused");
                continue;
            }
            Err(outcome) => {
                tracing::warn!(delivery = %a.delivery_id, code = outcome.code(), "aliyun_sms: QuerySendDetails failed");
                continue;
            }
        };
        let found = records(&body).into_iter().find(|r| {
            let out_id = r.get("OutId").and_then(Value::as_str).unwrap_or_default();
            out_id == a.delivery_id.as_str() || (out_id.is_empty() && a.provider_id.is_some())
        });
        let Some(record) = found else { continue };
        let (delivered, code) = match record_outcome(&record) {
            Some(Outcome::Delivered { .. }) => (true, Some("DELIVERED".to_owned())),
            Some(Outcome::Permanent { code, .. }) => (false, Some(code)),
            _ => continue,
        };
        receipts.push(ProviderReceipt {
            channel: ChannelKind::AliyunSms,
            delivery_id: Some(DeliveryId::from_trusted(a.delivery_id.as_str())),
            provider_id: a.provider_id.clone(),
            receiver: Some(a.receiver.clone()),
            delivered,
            code,
            message: Some("QuerySendDetails".into()),
            at: now_ms(),
        });
    }
    receipts
}
