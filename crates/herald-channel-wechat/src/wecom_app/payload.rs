//! Application-message bodies built from a rendered message's template fields, and the
//! grouping key that lets receivers of the same content share one call.

use crate::common::call::content_invalid;
use herald_domain::Outcome;
use herald_ports::OutboundMessage;
use serde_json::{Value, json};

/// Duplicate-check interval when `fields.duplicate_check_interval` is absent (WeCom's default).
pub const DEFAULT_DUPLICATE_CHECK_SECS: u32 = 1800;
/// WeCom's longest duplicate-check interval (4 hours).
const MAX_DUPLICATE_CHECK_SECS: u32 = 14_400;

/// What one message says, independent of its receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    pub msgtype: &'static str,
    /// The `<msgtype>` object.
    pub inner: Value,
    /// `safe`: 1 = confidential (no forwarding, watermark).
    pub safe: u8,
    pub duplicate_check_interval: u32,
}

impl Content {
    /// Messages with equal keys can go in one call.
    pub fn group_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.msgtype, self.safe, self.duplicate_check_interval, self.inner
        )
    }

    /// The `message/send` body for `users` (at most 1,000).
    pub fn body(&self, users: &[&str], agentid: i64) -> Value {
        let mut body = json!({
            "touser": users.join("|"),
            "msgtype": self.msgtype,
            "agentid": agentid,
            "safe": self.safe,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": self.duplicate_check_interval,
        });
        body[self.msgtype] = self.inner.clone();
        body
    }
}

fn field<'a>(message: &'a OutboundMessage, key: &str) -> Option<&'a str> {
    message
        .content
        .fields
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// The content of `message`, or the permanent outcome of fields that cannot make one.
pub fn content(message: &OutboundMessage) -> Result<Content, Outcome> {
    let body = message.content.body.as_str();
    let (msgtype, inner) = match field(message, "msgtype").unwrap_or("text") {
        "text" => ("text", json!({ "content": body })),
        "markdown" => ("markdown", json!({ "content": body })),
        "textcard" => {
            let title = field(message, "title")
                .or(message.content.title.as_deref())
                .ok_or_else(|| {
                    content_invalid("a textcard needs a title (template title or fields.title)")
                })?;
            let url = field(message, "url")
                .ok_or_else(|| content_invalid("a textcard needs fields.url"))?;
            let mut card = json!({ "title": title, "description": body, "url": url });
            if let Some(button) = field(message, "btntxt") {
                card["btntxt"] = Value::String(button.to_owned());
            }
            ("textcard", card)
        }
        other => {
            return Err(content_invalid(format!(
                "fields.msgtype {other:?}: must be text, textcard or markdown"
            )));
        }
    };
    if body.trim().is_empty() {
        return Err(content_invalid("the message body is empty"));
    }
    let safe = match field(message, "safe") {
        None | Some("0") => 0,
        Some("1") => 1,
        Some(other) => {
            return Err(content_invalid(format!(
                "fields.safe {other:?}: must be 0 or 1"
            )));
        }
    };
    let duplicate_check_interval = match field(message, "duplicate_check_interval") {
        None => DEFAULT_DUPLICATE_CHECK_SECS,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|s| (1..=MAX_DUPLICATE_CHECK_SECS).contains(s))
            .ok_or_else(|| {
                content_invalid(format!(
                    "fields.duplicate_check_interval {raw:?}: seconds from 1 to {MAX_DUPLICATE_CHECK_SECS}"
                ))
            })?,
    };
    Ok(Content {
        msgtype,
        inner,
        safe,
        duplicate_check_interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{AppId, DeliveryId, MessageId, Receiver};
    use herald_ports::RenderedContent;

    fn message(title: Option<&str>, body: &str, fields: &[(&str, &str)]) -> OutboundMessage {
        OutboundMessage {
            app_id: AppId::generate(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            receiver: Receiver::to("zhangsan"),
            content: RenderedContent {
                title: title.map(str::to_owned),
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
    fn text_is_the_default_and_bodies_carry_duplicate_checks() {
        let content = content(&message(None, "hello", &[])).unwrap();
        assert_eq!(
            content.body(&["a", "b"], 1_000_002),
            json!({"touser": "a|b", "msgtype": "text", "agentid": 1_000_002, "safe": 0,
                   "enable_duplicate_check": 1, "duplicate_check_interval": 1800,
                   "text": {"content": "hello"}})
        );
    }

    #[test]
    fn textcards_and_markdown() {
        let card = content(&message(
            Some("Order shipped"),
            "Order 42 left the warehouse",
            &[
                ("msgtype", "textcard"),
                ("url", "https://x/42"),
                ("btntxt", "Track"),
                ("safe", "1"),
            ],
        ))
        .unwrap();
        assert_eq!(card.msgtype, "textcard");
        assert_eq!(card.safe, 1);
        assert_eq!(
            card.inner,
            json!({"title": "Order shipped", "description": "Order 42 left the warehouse",
                   "url": "https://x/42", "btntxt": "Track"})
        );
        let md = content(&message(
            None,
            "**bold**",
            &[("msgtype", "markdown"), ("duplicate_check_interval", "60")],
        ))
        .unwrap();
        assert_eq!(md.inner, json!({"content": "**bold**"}));
        assert_eq!(md.duplicate_check_interval, 60);
        assert_ne!(md.group_key(), card.group_key());
    }

    #[test]
    fn unusable_fields_are_permanent() {
        for (title, body, fields) in [
            (None, "x", vec![("msgtype", "textcard"), ("url", "u")]),
            (Some("t"), "x", vec![("msgtype", "textcard")]),
            (None, "x", vec![("msgtype", "news")]),
            (None, " ", vec![]),
            (None, "x", vec![("safe", "2")]),
            (None, "x", vec![("duplicate_check_interval", "99999")]),
        ] {
            let outcome = content(&message(title, body, &fields)).unwrap_err();
            assert_eq!(outcome.code(), Some("content_invalid"), "{fields:?}");
        }
    }
}
