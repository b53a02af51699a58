//! Herald's domain: the vocabulary every other crate speaks.
//!
//! Nothing here does I/O. Types are plain data with serde, so they travel through queues,
//! databases and the HTTP API unchanged. Parsing constructors (`Receiver::parse_for`,
//! `RetrySchedule::new`, …) make invalid values unrepresentable past the edge.

pub mod account;
pub mod app;
pub mod channel;
mod first_task;
pub mod ids;
pub mod lifecycle;
pub mod message;
pub mod outcome;
pub mod search_text;
pub mod task;
pub mod template;
pub mod time;

pub use account::{Account, RateLimit, RetrySchedule};
pub use app::{ApiKey, App};
pub use channel::ChannelKind;
pub use ids::{AccountId, ApiKeyId, AppId, DeadLetterId, DeliveryId, MessageId, TemplateId};
pub use lifecycle::{DeliveryState, EventVersion, MessageStatus};
pub use message::{Delivery, Message, Priority, Receiver, Variables};
pub use outcome::Outcome;
pub use task::{DeliveryTask, ResultEvent, ResultKind, TaskEnvelope};
pub use template::{Template, TemplateContent, TemplateVersion, VariableSpec};
pub use time::Millis;

/// A field-level validation failure, reported to API callers as `{"field", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `receivers[3].to`.
    pub field: String,
    /// Human-readable reason.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
