//! The JSON body of a DingTalk robot message, built from rendered template content.
//!
//! `{"msgtype": "text", "text": {"content": body}, "at": {...}}` or
//! `{"msgtype": "markdown", "markdown": {"title": title, "text": body}, "at": {...}}` with
//! `at = {"atMobiles": [...], "atUserIds": [...], "isAtAll": bool}`. In markdown, DingTalk
//! only highlights a mention whose `@<mobile>` appears in the text, so missing ones are
//! appended.

use crate::robot::{flag_field, list_field, template_invalid, title_or_first_line};
use herald_domain::Outcome;
use herald_ports::RenderedContent;
use serde_json::{Value, json};

/// Template field choosing the message type (`text` when absent).
pub const FIELD_MSGTYPE: &str = "msgtype";

/// The request body for `content`, or `template_invalid`.
pub fn build(content: &RenderedContent) -> Result<Value, Outcome> {
    let mobiles = list_field(content, "at_mobiles");
    let user_ids = list_field(content, "at_user_ids");
    let at = json!({
        "atMobiles": mobiles,
        "atUserIds": user_ids,
        "isAtAll": flag_field(content, "at_all"),
    });
    let msgtype = content
        .fields
        .get(FIELD_MSGTYPE)
        .map_or("text", |s| s.trim());
    match msgtype {
        "text" => Ok(json!({
            "msgtype": "text",
            "text": { "content": content.body },
            "at": at,
        })),
        "markdown" => {
            let mut text = content.body.clone();
            for mention in mobiles.iter().chain(&user_ids) {
                let tag = format!("@{mention}");
                if !text.contains(&tag) {
                    text.push(' ');
                    text.push_str(&tag);
                }
            }
            Ok(json!({
                "msgtype": "markdown",
                "markdown": { "title": title_or_first_line(content), "text": text },
                "at": at,
            }))
        }
        other => Err(template_invalid(format!(
            "dingtalk msgtype {other:?}: must be text or markdown"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn content(fields: &[(&str, &str)]) -> RenderedContent {
        RenderedContent {
            title: Some("Deploy".into()),
            body: "build 7 is live".into(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn text_is_the_default_and_carries_mentions() {
        let body = build(&content(&[("at_mobiles", "138, 139"), ("at_all", "true")])).unwrap();
        assert_eq!(body["msgtype"], "text");
        assert_eq!(body["text"]["content"], "build 7 is live");
        assert_eq!(body["at"]["atMobiles"], json!(["138", "139"]));
        assert_eq!(body["at"]["isAtAll"], true);
    }

    #[test]
    fn markdown_has_a_title_and_visible_mentions() {
        let body = build(&content(&[("msgtype", "markdown"), ("at_user_ids", "u1")])).unwrap();
        assert_eq!(body["markdown"]["title"], "Deploy");
        assert_eq!(body["markdown"]["text"], "build 7 is live @u1");
        let err = build(&content(&[("msgtype", "link")])).unwrap_err();
        assert_eq!(err.code(), Some("template_invalid"));
    }
}
