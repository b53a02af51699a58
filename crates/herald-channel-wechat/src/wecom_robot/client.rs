//! [`WecomRobotChannel`]: one webhook call per message to a group robot, paced to the
//! robot's 20 messages a minute before calling.

use super::errors::classify;
use crate::common::call::{self, content_invalid, endpoint, required_secret, timeout};
use crate::common::window::{Limits, Windows};
use async_trait::async_trait;
use herald_channels::ChannelDeps;
use herald_domain::{ChannelKind, Outcome};
use herald_ports::{AccountContext, Channel, OutboundMessage, SendResult};
use serde_json::{Value, json};
use std::time::Instant;

/// The production API.
pub const PRODUCTION: &str = "https://qyapi.weixin.qq.com";
/// Secret field holding the webhook key.
pub const SECRET_KEY: &str = "key";

/// Messages a robot accepts per minute; WeCom answers 45009 beyond it.
pub const PER_MINUTE: u32 = 20;

/// The WeCom group-robot channel.
pub struct WecomRobotChannel {
    deps: ChannelDeps,
    /// Per robot key: at most [`PER_MINUTE`] sends in any 60 s, taken before calling so the
    /// excess waits (Retryable with the time until a slot frees) instead of burning calls on
    /// 45009. Per node, like the other in-process windows.
    pacing: Windows,
}

/// A comma-separated field as a JSON list (`@all` allowed).
fn list(message: &OutboundMessage, key: &str) -> Option<Value> {
    let items: Vec<Value> = message
        .content
        .fields
        .get(key)?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The webhook body of a message (`fields.msgtype` text or markdown; mentions for text).
pub fn body(message: &OutboundMessage) -> Result<Value, Outcome> {
    let content = message.content.body.as_str();
    if content.trim().is_empty() {
        return Err(content_invalid("the message body is empty"));
    }
    let msgtype = message
        .content
        .fields
        .get("msgtype")
        .map_or("text", String::as_str);
    match msgtype {
        "text" => {
            let mut text = json!({ "content": content });
            for key in ["mentioned_list", "mentioned_mobile_list"] {
                if let Some(values) = list(message, key) {
                    text[key] = values;
                }
            }
            Ok(json!({ "msgtype": "text", "text": text }))
        }
        "markdown" => Ok(json!({ "msgtype": "markdown", "markdown": { "content": content } })),
        other => Err(content_invalid(format!(
            "fields.msgtype {other:?}: must be text or markdown"
        ))),
    }
}

impl WecomRobotChannel {
    pub fn new(deps: ChannelDeps) -> Self {
        let limits = Limits {
            short_limit: PER_MINUTE,
            short_ms: 60_000,
            long_limit: PER_MINUTE * 60,
            long_ms: 3_600_000,
        };
        Self {
            deps,
            pacing: Windows::new(limits),
        }
    }

    async fn try_send(&self, account: &AccountContext, message: &OutboundMessage) -> Outcome {
        let prepared = (|| {
            Ok::<_, Outcome>((
                endpoint(&self.deps, account, PRODUCTION)?,
                required_secret(account, SECRET_KEY)?.to_owned(),
                body(message)?,
            ))
        })();
        let (base, key, body) = match prepared {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        let taken_at = herald_domain::time::now_ms();
        if let Err(wait_ms) = self.pacing.try_take(&key, taken_at) {
            return Outcome::Retryable {
                code: "paced".into(),
                message: format!("WeCom robots accept {PER_MINUTE} messages a minute"),
                retry_after_ms: Some(wait_ms),
            };
        }
        let request = self
            .deps
            .http
            .post(format!("{base}/cgi-bin/webhook/send"))
            .query(&[("key", key.as_str())])
            .timeout(timeout(account))
            .json(&body);
        match call::call(request).await {
            Ok(reply) if reply.errcode == 0 => Outcome::Delivered { provider_id: None },
            Ok(reply) => {
                if reply.errcode == 45009 {
                    // Refused, so it did not count on WeCom's side either.
                    self.pacing.release(&key, taken_at);
                }
                classify(reply.errcode, &reply.errmsg)
            }
            Err(outcome) => outcome,
        }
    }
}

#[async_trait]
impl Channel for WecomRobotChannel {
    fn kind(&self) -> ChannelKind {
        ChannelKind::WecomRobot
    }

    fn max_batch(&self) -> usize {
        1
    }

    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult> {
        let mut results = Vec::with_capacity(batch.len());
        // In order, one at a time: a robot posts into one chat, where order matters.
        for message in batch {
            let started = Instant::now();
            let outcome = self.try_send(account, message).await;
            results.push(SendResult {
                outcome,
                provider_request_id: None,
                latency: started.elapsed(),
            });
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{AppId, DeliveryId, MessageId, Receiver};
    use herald_ports::RenderedContent;

    fn message(body: &str, fields: &[(&str, &str)]) -> OutboundMessage {
        OutboundMessage {
            app_id: AppId::generate(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            receiver: Receiver::to("ops-group"),
            content: RenderedContent {
                title: None,
                body: body.into(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            attempt: 1,
        }
    }

    #[test]
    fn text_with_mentions_and_markdown() {
        let text = body(&message(
            "disk full",
            &[
                ("mentioned_list", "wangqing, @all"),
                ("mentioned_mobile_list", "13800001111"),
            ],
        ))
        .unwrap();
        assert_eq!(
            text,
            json!({"msgtype": "text", "text": {"content": "disk full",
                   "mentioned_list": ["wangqing", "@all"], "mentioned_mobile_list": ["13800001111"]}})
        );
        let md = body(&message("# up", &[("msgtype", "markdown")])).unwrap();
        assert_eq!(
            md,
            json!({"msgtype": "markdown", "markdown": {"content": "# up"}})
        );
        assert!(body(&message("x", &[("msgtype", "news")])).is_err());
        assert!(body(&message("", &[])).is_err());
    }
}
