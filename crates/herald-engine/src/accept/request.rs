//! The accept API's request shapes. Unknown fields are rejected so a typo
//! (`"receiver"` for `"receivers"`) is a 422 naming the field, not a silent default.

use herald_domain::{Priority, Receiver, Variables};
use serde::Deserialize;

/// A receiver: a bare identifier, or an object with time zone and locale.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ReceiverInput {
    Id(String),
    Full(ReceiverObject),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverObject {
    pub to: String,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
}

impl ReceiverInput {
    pub fn into_receiver(self) -> Receiver {
        match self {
            Self::Id(to) => Receiver::to(to),
            Self::Full(o) => Receiver {
                to: o.to,
                timezone: o.timezone,
                locale: o.locale,
            },
        }
    }
}

/// `POST /v1/messages`: one template, one or more receivers, shared variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// Template id (`tpl_…`) or name.
    pub template: String,
    pub receivers: Vec<ReceiverInput>,
    #[serde(default)]
    pub variables: Variables,
    /// RFC 3339 with offset; absent or past = now.
    #[serde(default)]
    pub send_at: Option<String>,
    /// RFC 3339 with offset; deliveries not sent by then end `expired`.
    #[serde(default)]
    pub expire_at: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    /// An account of the template's channel (`acc_…`); default: the template's account.
    #[serde(default)]
    pub account: Option<String>,
}

/// `POST /v1/messages/batch`: up to 10,000 receivers, each with its own variables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub template: String,
    pub items: Vec<BatchItem>,
    /// Variables shared by every item (an item's own variables override them).
    #[serde(default)]
    pub variables: Variables,
    #[serde(default)]
    pub send_at: Option<String>,
    #[serde(default)]
    pub expire_at: Option<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    pub receiver: ReceiverInput,
    #[serde(default)]
    pub variables: Variables,
}

/// An `Idempotency-Key` with the hash of the canonical request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyInput {
    pub key: String,
    pub request_hash: String,
}

/// What the API answers for an accept (fresh or replayed).
#[derive(Debug, Clone)]
pub struct AcceptOutcome {
    pub status: u16,
    /// The answer as JSON text (an object).
    pub body: String,
    pub replayed: bool,
}

impl AcceptOutcome {
    /// The answer parsed (for callers that inspect it; the API sends the text as it is).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}
