//! Turns a rendered message into an RFC 5322 email: template title → `Subject`, body → the
//! text part, optional `html` field → a `multipart/alternative` HTML part, optional
//! `reply_to` field → `Reply-To`, and a `Message-ID` derived from Herald's delivery id, so
//! a resend after an `unknown` outcome carries the same id and receivers can drop it.

use crate::robot::template_invalid;
use herald_domain::Outcome;
use herald_ports::OutboundMessage;
use lettre::Message;
use lettre::address::Envelope;
use lettre::message::{Mailbox, MultiPart, SinglePart};

/// A message ready for the SMTP session.
#[derive(Debug)]
pub struct Composed {
    pub envelope: Envelope,
    pub bytes: Vec<u8>,
    pub message_id: String,
}

/// `<delivery-id@sender-domain>`: stable across retries of one delivery.
pub fn message_id(message: &OutboundMessage, from: &Mailbox) -> String {
    format!("<{}@{}>", message.delivery_id, from.email.domain())
}

/// Builds the email for `message` from `from`.
pub fn compose(message: &OutboundMessage, from: &Mailbox) -> Result<Composed, Outcome> {
    let to: Mailbox = message
        .receiver
        .to
        .parse()
        .map_err(|e| Outcome::Permanent {
            code: "invalid_receiver".into(),
            message: format!("{:?} is not an email address: {e}", message.receiver.to),
        })?;
    let content = &message.content;
    let id = message_id(message, from);
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(content.title.clone().unwrap_or_default())
        .message_id(Some(id.clone()))
        .date_now();
    if let Some(reply_to) = content.fields.get("reply_to") {
        let reply_to: Mailbox = reply_to
            .parse()
            .map_err(|e| template_invalid(format!("reply_to {reply_to:?}: {e}")))?;
        builder = builder.reply_to(reply_to);
    }
    let built = match content.fields.get("html").filter(|h| !h.trim().is_empty()) {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            content.body.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(content.body.clone())),
    }
    .map_err(|e| template_invalid(format!("email: {e}")))?;
    Ok(Composed {
        envelope: built.envelope().clone(),
        bytes: built.formatted(),
        message_id: id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::{AppId, DeliveryId, MessageId, Receiver};
    use herald_ports::RenderedContent;
    use std::collections::BTreeMap;

    fn message(to: &str, fields: &[(&str, &str)]) -> OutboundMessage {
        OutboundMessage {
            app_id: AppId::generate(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            receiver: Receiver::to(to),
            content: RenderedContent {
                title: Some("订单已发货".into()),
                body: "Your order 42 is on its way".into(),
                fields: fields
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            },
            attempt: 1,
        }
    }

    #[test]
    fn plain_message_with_encoded_subject_and_stable_id() {
        let from: Mailbox = "Herald <no-reply@example.com>".parse().unwrap();
        let msg = message("ann@example.org", &[("reply_to", "help@example.com")]);
        let composed = compose(&msg, &from).unwrap();
        let text = String::from_utf8(composed.bytes.clone()).unwrap();
        assert!(text.is_ascii(), "headers and body are transfer-encoded");
        assert!(text.contains(&format!("Message-ID: <{}@example.com>", msg.delivery_id)));
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(text.contains("Reply-To: help@example.com"));
        assert!(text.contains("Content-Type: text/plain"));
        assert_eq!(composed.envelope.to()[0].to_string(), "ann@example.org");
        assert_eq!(
            compose(&msg, &from).unwrap().message_id,
            composed.message_id
        );
    }

    #[test]
    fn html_field_makes_a_multipart_alternative() {
        let from: Mailbox = "a@example.com".parse().unwrap();
        let composed = compose(&message("b@example.org", &[("html", "<p>hi</p>")]), &from).unwrap();
        let text = String::from_utf8(composed.bytes).unwrap();
        assert!(text.contains("multipart/alternative"));
        assert!(text.contains("text/html"));
        let bad = compose(&message("not-an-address", &[]), &from).unwrap_err();
        assert_eq!(bad.code(), Some("invalid_receiver"));
    }
}
