//! The JSON body of a Feishu custom-bot message, built from rendered template content.
//!
//! - `text`: `{"msg_type": "text", "content": {"text": body}}`, mentions as
//!   `<at user_id="…"></at>` tags in front;
//! - `post` (rich text): `{"msg_type": "post", "content": {"post": {"zh_cn": {"title",
//!   "content": [[{"tag": "text", "text": line}], …]}}}}`, one paragraph per body line and
//!   a first paragraph of `{"tag": "at", "user_id"}` mentions;
//! - `interactive` (card): `{"msg_type": "interactive", "card": {…}}` with the card from the
//!   `card` field (JSON text), else the body parsed as JSON.
//!
//! The client adds `timestamp` and `sign` when the bot has a signing secret.

use crate::robot::{flag_field, list_field, template_invalid, title_or_first_line};
use herald_domain::Outcome;
use herald_ports::RenderedContent;
use serde_json::{Value, json};

/// Template field choosing the message type (`text` when absent).
pub const FIELD_MSG_TYPE: &str = "msg_type";

/// Mentioned user ids (`all` for everyone), from `at_user_ids` and `at_all`.
fn mentions(content: &RenderedContent) -> Vec<String> {
    let mut ids = list_field(content, "at_user_ids");
    if flag_field(content, "at_all") && !ids.iter().any(|id| id == "all") {
        ids.push("all".into());
    }
    ids
}

/// The request body for `content` (without signature), or `template_invalid`.
pub fn build(content: &RenderedContent) -> Result<Value, Outcome> {
    let mentions = mentions(content);
    let msg_type = content
        .fields
        .get(FIELD_MSG_TYPE)
        .map_or("text", |s| s.trim());
    match msg_type {
        "text" => {
            let mut text = String::new();
            for id in &mentions {
                let name = if id == "all" { "所有人" } else { "" };
                text.push_str(&format!("<at user_id=\"{id}\">{name}</at> "));
            }
            text.push_str(&content.body);
            Ok(json!({ "msg_type": "text", "content": { "text": text } }))
        }
        "post" => {
            let mut paragraphs: Vec<Value> = Vec::new();
            if !mentions.is_empty() {
                let tags: Vec<Value> = mentions
                    .iter()
                    .map(|id| json!({ "tag": "at", "user_id": id }))
                    .collect();
                paragraphs.push(Value::Array(tags));
            }
            for line in content.body.lines() {
                paragraphs.push(json!([{ "tag": "text", "text": line }]));
            }
            Ok(json!({
                "msg_type": "post",
                "content": { "post": { "zh_cn": {
                    "title": title_or_first_line(content),
                    "content": paragraphs,
                } } },
            }))
        }
        "interactive" => {
            let source = content.fields.get("card").unwrap_or(&content.body);
            let card: Value = serde_json::from_str(source)
                .map_err(|e| template_invalid(format!("feishu card is not JSON: {e}")))?;
            if !card.is_object() {
                return Err(template_invalid("feishu card must be a JSON object"));
            }
            Ok(json!({ "msg_type": "interactive", "card": card }))
        }
        other => Err(template_invalid(format!(
            "feishu msg_type {other:?}: must be text, post or interactive"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn content(body: &str, fields: &[(&str, &str)]) -> RenderedContent {
        RenderedContent {
            title: Some("Deploy".into()),
            body: body.into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn text_post_and_card_bodies() {
        let text = build(&content("live", &[("at_all", "1")])).unwrap();
        assert_eq!(
            text["content"]["text"],
            "<at user_id=\"all\">所有人</at> live"
        );
        let post = build(&content(
            "a\nb",
            &[("msg_type", "post"), ("at_user_ids", "ou_1")],
        ))
        .unwrap();
        let zh = &post["content"]["post"]["zh_cn"];
        assert_eq!(zh["title"], "Deploy");
        assert_eq!(zh["content"][0][0], json!({"tag": "at", "user_id": "ou_1"}));
        assert_eq!(zh["content"][2][0]["text"], "b");
        let card = build(&content(
            r#"{"elements": []}"#,
            &[("msg_type", "interactive")],
        ))
        .unwrap();
        assert_eq!(card["card"], json!({"elements": []}));
        let bad = build(&content("not json", &[("msg_type", "interactive")])).unwrap_err();
        assert_eq!(bad.code(), Some("template_invalid"));
        assert!(build(&content("x", &[("msg_type", "image")])).is_err());
    }
}
