//! Queue payloads: versioned envelopes so a rolling deploy can read the previous version's
//! tasks. Add a new variant (`delivery.v2`) rather than changing an existing one.

use crate::channel::ChannelKind;
use crate::ids::{AccountId, AppId, DeliveryId, MessageId, TemplateId};
use crate::lifecycle::{DeliveryState, EventVersion};
use crate::message::{Priority, Receiver, Variables};
use crate::time::Millis;
use serde::{Deserialize, Serialize};

/// Everything that travels through a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TaskEnvelope {
    /// Send one delivery (send and retry queues).
    #[serde(rename = "delivery.v1")]
    DeliveryV1(DeliveryTask),
    /// A state change of one delivery (result queue).
    #[serde(rename = "result.v1")]
    ResultV1(ResultEvent),
}

impl TaskEnvelope {
    pub fn app_id(&self) -> &AppId {
        match self {
            Self::DeliveryV1(t) => &t.app_id,
            Self::ResultV1(e) => &e.app_id,
        }
    }

    pub fn delivery_id(&self) -> &DeliveryId {
        match self {
            Self::DeliveryV1(t) => &t.delivery_id,
            Self::ResultV1(e) => &e.delivery_id,
        }
    }

    /// The account that keys this task (partitioning, ownership); results are keyed by none.
    pub fn account_id(&self) -> Option<&AccountId> {
        match self {
            Self::DeliveryV1(t) => Some(&t.account_id),
            Self::ResultV1(_) => None,
        }
    }

    /// Earliest time the task may be consumed.
    pub fn not_before(&self) -> Millis {
        match self {
            Self::DeliveryV1(t) => t.not_before,
            Self::ResultV1(_) => 0,
        }
    }

    pub fn priority(&self) -> Priority {
        match self {
            Self::DeliveryV1(t) => t.priority,
            Self::ResultV1(_) => Priority::Normal,
        }
    }

    /// A key unique to this task's content, for broker-side dedup (`Nats-Msg-Id`, …).
    pub fn dedup_key(&self) -> String {
        match self {
            Self::DeliveryV1(t) => format!("{}:{}", t.delivery_id, t.attempt),
            Self::ResultV1(e) => format!("{}:r{}", e.delivery_id, e.version.as_u64()),
        }
    }
}

/// Send one delivery of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryTask {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    pub template_id: TemplateId,
    /// The version the message was validated against (pinned at accept).
    pub template_version: u32,
    pub channel: ChannelKind,
    pub account_id: AccountId,
    pub receiver: Receiver,
    /// Merged message + receiver variables, in clear: the queue is not a record store.
    pub variables: Variables,
    /// 1 for the first attempt; grows with every retry and replay.
    pub attempt: u32,
    pub not_before: Millis,
    pub expire_at: Option<Millis>,
    pub priority: Priority,
    /// W3C `traceparent` of the accepting request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    pub accepted_at: Millis,
}

/// One attempt to hand a delivery to a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptLog {
    pub attempt: u32,
    pub at: Millis,
    pub account_id: AccountId,
    pub latency_ms: u64,
    /// Outcome class (`delivered`, `retryable`, …).
    pub outcome: String,
    pub provider_request_id: Option<String>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// What produced a result event (for metrics and callbacks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    Dispatch,
    Receipt,
    Cancel,
    Replay,
}

/// A state change of one delivery, applied to records only if its version is newer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultEvent {
    pub app_id: AppId,
    pub message_id: MessageId,
    pub delivery_id: DeliveryId,
    pub version: EventVersion,
    pub state: DeliveryState,
    pub kind: ResultKind,
    pub at: Millis,
    pub code: Option<String>,
    pub detail: Option<String>,
    /// When the next attempt is due (`retrying`).
    pub next_at: Option<Millis>,
    /// Rendered content with sensitive variables masked, for display and full-text search.
    pub content: Option<String>,
    pub attempt: Option<AttemptLog>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_tagged_with_its_schema_version() {
        let e = TaskEnvelope::ResultV1(ResultEvent {
            app_id: AppId::generate(),
            message_id: MessageId::generate(),
            delivery_id: DeliveryId::generate(),
            version: EventVersion::new(1, DeliveryState::Delivered),
            state: DeliveryState::Delivered,
            kind: ResultKind::Dispatch,
            at: 1,
            code: None,
            detail: None,
            next_at: None,
            content: None,
            attempt: None,
        });
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "result.v1");
        let back: TaskEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }
}
