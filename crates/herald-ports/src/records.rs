//! The records port: what happened to every message, and search over it.
//!
//! Records are written by [`Intake::accept`](crate::Intake::accept) (state `accepted` or
//! `scheduled`) and then only through [`Records::apply`], which keeps an event only if its
//! [`EventVersion`] is greater than the stored one — older events never win.

use crate::error::StoreError;
use async_trait::async_trait;
use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, DeliveryId, DeliveryState, EventVersion, Message, MessageId,
    MessageStatus, Millis, Receiver, ResultEvent, TemplateId,
};
use std::collections::HashMap;

/// A delivery as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub receiver: Receiver,
    pub state: DeliveryState,
    pub version: EventVersion,
    pub code: Option<String>,
    pub detail: Option<String>,
    pub next_at: Option<Millis>,
    /// Rendered content, sensitive values masked.
    pub content: Option<String>,
    pub updated_at: Millis,
    pub attempts: Vec<AttemptLog>,
}

/// A message with its deliveries and derived status.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    /// The message as accepted (variables redacted); `deliveries` carries receivers and
    /// per-receiver variables.
    pub message: Message,
    pub status: MessageStatus,
    pub deliveries: Vec<DeliveryView>,
}

/// A delivery's current state, as the dispatcher checks it before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredState {
    pub state: DeliveryState,
    pub version: EventVersion,
}

/// Where a delivery lives, with its current state (for receipts and reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRef {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    pub receiver: String,
    pub state: StoredState,
}

/// Search criteria, all optional and combined with AND. One shape for every backend: SQL,
/// SQLite FTS and Elasticsearch translate the same filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Any of these delivery states.
    pub states: Vec<DeliveryState>,
    pub template_id: Option<TemplateId>,
    pub channel: Option<ChannelKind>,
    pub account_id: Option<AccountId>,
    pub message_id: Option<MessageId>,
    /// Exact receiver identifier.
    pub receiver: Option<String>,
    /// Accepted at or after (inclusive).
    pub from: Option<Millis>,
    /// Accepted before (exclusive).
    pub to: Option<Millis>,
    /// Full-text query over rendered content (CJK-aware; two characters are enough).
    pub text: Option<String>,
}

/// One search result: a delivery with its message's key facts.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    pub template_id: TemplateId,
    pub channel: ChannelKind,
    pub account_id: AccountId,
    pub receiver: String,
    pub state: DeliveryState,
    pub code: Option<String>,
    pub content: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A page of hits, newest first, with the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}

#[async_trait]
pub trait Records: Send + Sync + 'static {
    /// Applies events, each only if newer than the stored version (events for unknown
    /// deliveries are ignored). Returns how many changed a record. Durable on return.
    async fn apply(&self, events: Vec<ResultEvent>) -> Result<usize, StoreError>;

    async fn get_message(
        &self,
        app: &AppId,
        id: &MessageId,
    ) -> Result<Option<MessageView>, StoreError>;

    /// Current states of these deliveries (missing ids are absent from the map).
    async fn delivery_states(
        &self,
        ids: &[DeliveryId],
    ) -> Result<HashMap<DeliveryId, StoredState>, StoreError>;

    /// A delivery by id, in any app (receipts carry no app).
    async fn find_delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryRef>, StoreError>;

    /// The delivery whose attempt recorded `provider_id` as its `provider_request_id`; when
    /// one provider id covers several receivers (batch sends), `receiver` picks the one.
    async fn find_by_provider_id(
        &self,
        provider_id: &str,
        receiver: Option<&str>,
    ) -> Result<Option<DeliveryRef>, StoreError>;

    /// Deliveries in state `sent` whose last change is between `since` and `until`, oldest
    /// first, across apps: the ones whose receipt is overdue.
    async fn awaiting_receipts(
        &self,
        since: Millis,
        until: Millis,
        limit: usize,
    ) -> Result<Vec<crate::channel::AwaitingReceipt>, StoreError>;

    /// Newest first; `cursor` is a previous page's `next_cursor`; `limit` is 1–1000.
    async fn search(
        &self,
        app: &AppId,
        filter: &SearchFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<SearchPage, StoreError>;
}
