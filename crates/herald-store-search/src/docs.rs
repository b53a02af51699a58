//! The documents stored in the three indices, and their conversion from and to the domain.
//!
//! A delivery document is *whole*: every write replaces it entirely under an external
//! version, so it carries the message facts that search filters on (template, channel,
//! account, created_at) next to its own state, content and the content's analysis.

use herald_domain::search_text::analyze_document;
use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, EventVersion, Message,
    MessageId, Millis, Receiver, ResultEvent, TemplateId, Variables,
};
use herald_ports::{DeliveryRef, DeliveryView, SearchHit, StoredState};
use serde::{Deserialize, Serialize};

/// One delivery, as indexed in `<prefix>-deliveries` (id = delivery id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryDoc {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    /// Place in the message's receiver list.
    pub position: u32,
    pub template_id: TemplateId,
    pub channel: ChannelKind,
    pub account_id: AccountId,
    /// The receiver's identifier (exact-match filter).
    pub receiver: String,
    pub receiver_detail: Receiver,
    #[serde(default)]
    pub variables: Variables,
    pub state: DeliveryState,
    /// [`EventVersion::as_u64`], also the document's external `_version`.
    pub version: u64,
    pub code: Option<String>,
    pub detail: Option<String>,
    pub next_at: Option<Millis>,
    pub content: Option<String>,
    /// Herald's analysis of `content` (words and CJK bigrams), whitespace-separated.
    pub content_terms: Option<String>,
    /// Last character of each CJK run of two or more characters.
    #[serde(default)]
    pub content_tail: Vec<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl DeliveryDoc {
    /// The document the intake writes at accept time: `accepted`, or `scheduled` when the
    /// message is due later, at version `(0, rank)`.
    pub fn accepted(message: &Message, position: usize, delivery: &Delivery) -> Self {
        let state = if message.send_at.is_some_and(|at| at > message.created_at) {
            DeliveryState::Scheduled
        } else {
            DeliveryState::Accepted
        };
        Self {
            app_id: message.app_id.clone(),
            message_id: message.id.clone(),
            delivery_id: delivery.id.clone(),
            position: position as u32,
            template_id: message.template_id.clone(),
            channel: message.channel,
            account_id: message.account_id.clone(),
            receiver: delivery.receiver.to.clone(),
            receiver_detail: delivery.receiver.clone(),
            variables: delivery.variables.clone(),
            state,
            version: EventVersion::new(0, state).as_u64(),
            code: None,
            detail: None,
            next_at: None,
            content: None,
            content_terms: None,
            content_tail: Vec::new(),
            created_at: message.created_at,
            updated_at: message.created_at,
        }
    }

    pub fn event_version(&self) -> EventVersion {
        EventVersion::from_u64(self.version)
    }

    /// Takes a newer event's state; content is replaced only by content (a receipt carries
    /// none and must not erase what the send recorded).
    pub fn apply(&mut self, event: &ResultEvent) {
        self.state = event.state;
        self.version = event.version.as_u64();
        self.code = event.code.clone();
        self.detail = event.detail.clone();
        self.next_at = event.next_at;
        self.updated_at = event.at;
        if let Some(content) = &event.content {
            let analyzed = analyze_document(content);
            self.content = Some(content.clone());
            self.content_terms = Some(analyzed.body);
            self.content_tail = analyzed
                .tail
                .split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect();
        }
    }

    pub fn stored_state(&self) -> StoredState {
        StoredState {
            state: self.state,
            version: self.event_version(),
        }
    }

    pub fn delivery_ref(&self) -> DeliveryRef {
        DeliveryRef {
            app_id: self.app_id.clone(),
            message_id: self.message_id.clone(),
            delivery_id: self.delivery_id.clone(),
            receiver: self.receiver.clone(),
            state: self.stored_state(),
        }
    }

    pub fn view(&self, attempts: Vec<AttemptLog>) -> DeliveryView {
        DeliveryView {
            id: self.delivery_id.clone(),
            receiver: self.receiver_detail.clone(),
            state: self.state,
            version: self.event_version(),
            code: self.code.clone(),
            detail: self.detail.clone(),
            next_at: self.next_at,
            content: self.content.clone(),
            updated_at: self.updated_at,
            attempts,
        }
    }

    pub fn hit(&self) -> SearchHit {
        SearchHit {
            message_id: self.message_id.clone(),
            delivery_id: self.delivery_id.clone(),
            template_id: self.template_id.clone(),
            channel: self.channel,
            account_id: self.account_id.clone(),
            receiver: self.receiver.clone(),
            state: self.state,
            code: self.code.clone(),
            content: self.content.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// One attempt, as created once in `<prefix>-attempts` (id = [`attempt_doc_id`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptDoc {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    /// The delivery's receiver, to pick one delivery of a batch send by provider id.
    pub receiver: String,
    pub attempt: u32,
    pub provider_request_id: Option<String>,
    pub log: AttemptLog,
}

/// `<delivery id>:<attempt>`: one document per attempt, whoever reports it how often.
pub fn attempt_doc_id(delivery: &DeliveryId, attempt: u32) -> String {
    format!("{delivery}:{attempt}")
}

/// A message as accepted, in `<prefix>-messages` (id = message id). Deliveries live in their
/// own documents; `delivery_ids` keeps their order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDoc {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub created_at: Millis,
    pub delivery_ids: Vec<DeliveryId>,
    /// The message with an empty delivery list.
    pub message: Message,
}

impl MessageDoc {
    pub fn new(message: &Message) -> Self {
        let mut bare = message.clone();
        bare.deliveries = Vec::new();
        Self {
            app_id: message.app_id.clone(),
            message_id: message.id.clone(),
            created_at: message.created_at,
            delivery_ids: message.deliveries.iter().map(|d| d.id.clone()).collect(),
            message: bare,
        }
    }
}
