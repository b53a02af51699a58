//! The request bodies of template and subscribe messages, built from a rendered message's
//! template `fields` (documented in the [crate docs](crate)).

use crate::common::call::content_invalid;
use herald_domain::Outcome;
use herald_ports::OutboundMessage;
use serde_json::{Map, Value, json};

/// Which API a message goes through (`fields.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `/cgi-bin/message/template/send`; a TEMPLATESENDJOBFINISH receipt follows.
    Template,
    /// `/cgi-bin/message/subscribe/bizsend`; no receipt.
    Subscribe,
}

impl MessageKind {
    pub fn path(self) -> &'static str {
        match self {
            Self::Template => "/cgi-bin/message/template/send",
            Self::Subscribe => "/cgi-bin/message/subscribe/bizsend",
        }
    }
}

/// A message ready to post.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub kind: MessageKind,
    pub body: Value,
}

fn field<'a>(message: &'a OutboundMessage, key: &str) -> Option<&'a str> {
    message
        .content
        .fields
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// Builds the request body, or the permanent outcome of fields that cannot make one.
pub fn build(message: &OutboundMessage) -> Result<Request, Outcome> {
    let kind = match field(message, "kind").unwrap_or("template") {
        "template" => MessageKind::Template,
        "subscribe" => MessageKind::Subscribe,
        other => {
            return Err(content_invalid(format!(
                "fields.kind {other:?}: must be \"template\" or \"subscribe\""
            )));
        }
    };
    let template_id = field(message, "template_id")
        .ok_or_else(|| content_invalid("fields.template_id is required"))?;

    let mut data = Map::new();
    for (key, value) in &message.content.fields {
        if let Some(name) = key.strip_prefix("data.").filter(|n| !n.is_empty()) {
            let mut entry = Map::new();
            entry.insert("value".into(), Value::String(value.clone()));
            if kind == MessageKind::Template
                && let Some(color) = field(message, &format!("color.{name}"))
            {
                entry.insert("color".into(), Value::String(color.to_owned()));
            }
            data.insert(name.to_owned(), Value::Object(entry));
        }
    }
    if data.is_empty() {
        return Err(content_invalid(
            "no fields.data.<key> entries: a template message carries only template data",
        ));
    }

    let mut body = json!({
        "touser": message.receiver.to,
        "template_id": template_id,
        "data": data,
    });
    let target = match kind {
        MessageKind::Template => ("url", field(message, "url")),
        MessageKind::Subscribe => ("page", field(message, "page")),
    };
    if let (name, Some(value)) = target {
        body[name] = Value::String(value.to_owned());
    }
    match (
        field(message, "miniprogram_appid"),
        field(message, "miniprogram_pagepath"),
    ) {
        (Some(appid), pagepath) => {
            body["miniprogram"] = json!({ "appid": appid, "pagepath": pagepath.unwrap_or("") });
        }
        (None, Some(_)) => {
            return Err(content_invalid(
                "fields.miniprogram_pagepath needs fields.miniprogram_appid",
            ));
        }
        (None, None) => {}
    }
    if kind == MessageKind::Template {
        // WeChat sends one message per (openid, client_msg_id) within 10 minutes: a resent
        // delivery cannot become a duplicate.
        body["client_msg_id"] = Value::String(message.delivery_id.as_str().to_owned());
    }
    Ok(Request { kind, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{AppId, DeliveryId, MessageId, Receiver};
    use herald_ports::RenderedContent;
    use std::collections::BTreeMap;

    fn message(fields: &[(&str, &str)]) -> OutboundMessage {
        OutboundMessage {
            app_id: AppId::generate(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            receiver: Receiver::to("oUser_1"),
            content: RenderedContent {
                title: None,
                body: String::new(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            },
            attempt: 1,
        }
    }

    #[test]
    fn template_messages_carry_data_links_and_the_dedup_key() {
        let msg = message(&[
            ("template_id", "TPL1"),
            ("url", "https://shop.example/o/42"),
            ("data.order", "42"),
            ("color.order", "#173177"),
            ("data.amount", "9.90"),
            ("miniprogram_appid", "wxmini"),
            ("miniprogram_pagepath", "pages/o?id=42"),
        ]);
        let request = build(&msg).unwrap();
        assert_eq!(request.kind, MessageKind::Template);
        assert_eq!(
            request.body,
            json!({
                "touser": "oUser_1",
                "template_id": "TPL1",
                "url": "https://shop.example/o/42",
                "miniprogram": {"appid": "wxmini", "pagepath": "pages/o?id=42"},
                "client_msg_id": msg.delivery_id.as_str(),
                "data": {"order": {"value": "42", "color": "#173177"}, "amount": {"value": "9.90"}},
            })
        );
    }

    #[test]
    fn subscribe_messages_use_page_and_no_dedup_key() {
        let request = build(&message(&[
            ("kind", "subscribe"),
            ("template_id", "SUB1"),
            ("page", "pages/index"),
            ("data.thing1", "Parcel"),
        ]))
        .unwrap();
        assert_eq!(request.kind.path(), "/cgi-bin/message/subscribe/bizsend");
        assert_eq!(
            request.body,
            json!({"touser": "oUser_1", "template_id": "SUB1", "page": "pages/index",
                   "data": {"thing1": {"value": "Parcel"}}})
        );
    }

    #[test]
    fn unusable_fields_are_permanent() {
        for fields in [
            vec![("data.a", "1")],
            vec![("template_id", "T")],
            vec![("template_id", "T"), ("data.a", "1"), ("kind", "news")],
            vec![
                ("template_id", "T"),
                ("data.a", "1"),
                ("miniprogram_pagepath", "p"),
            ],
        ] {
            let outcome = build(&message(&fields)).unwrap_err();
            assert_eq!(outcome.code(), Some("content_invalid"), "{fields:?}");
        }
    }
}
