//! JSON shapes of the user API (times in RFC 3339 UTC).

use herald_domain::time::to_rfc3339;
use herald_ports::InboxItem;
use serde::Serialize;
use std::collections::BTreeMap;

/// One inbox message as end-user apps see it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    /// The item id (Herald's delivery id): what the mark/delete routes take.
    pub id: String,
    pub message_id: String,
    pub title: Option<String>,
    pub body: String,
    pub fields: BTreeMap<String, String>,
    /// `unread`, `read` or `archived`.
    pub state: &'static str,
    pub created_at: String,
    pub read_at: Option<String>,
}

impl From<&InboxItem> for MessageView {
    fn from(item: &InboxItem) -> Self {
        Self {
            id: item.id.to_string(),
            message_id: item.message_id.to_string(),
            title: item.title.clone(),
            body: item.body.clone(),
            fields: item.fields.clone(),
            state: item.state.as_str(),
            created_at: to_rfc3339(item.created_at),
            read_at: item.read_at.map(to_rfc3339),
        }
    }
}

/// `GET /v1/inbox/messages`.
#[derive(Debug, Serialize)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
    pub next_cursor: Option<String>,
}

/// `GET /v1/inbox/unread-count` and the `unread_count` stream event.
#[derive(Debug, Serialize)]
pub struct UnreadCount {
    pub unread: u64,
}

/// The answer to marking one message.
#[derive(Debug, Serialize)]
pub struct Marked {
    pub message: MessageView,
    pub unread: u64,
}

/// The answer to `POST /v1/inbox/read-all`.
#[derive(Debug, Serialize)]
pub struct ReadAll {
    pub updated: u64,
    pub unread: u64,
}
