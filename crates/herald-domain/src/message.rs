//! Accepted messages and their deliveries (one per receiver).

use crate::channel::ChannelKind;
use crate::ids::{AccountId, AppId, DeliveryId, MessageId, TemplateId};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Template variables by name. Values are JSON so numbers and nested data render naturally.
pub type Variables = BTreeMap<String, serde_json::Value>;

/// The placeholder stored instead of a sensitive variable's value.
pub const REDACTED: &str = "******";

/// Who a delivery goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    /// Channel-specific identifier: phone, OpenID, device token, user id, email, …
    pub to: String,
    /// IANA time zone of the receiver (used by quiet hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// BCP 47 locale of the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl Receiver {
    pub fn to(to: impl Into<String>) -> Self {
        Self {
            to: to.into(),
            timezone: None,
            locale: None,
        }
    }
}

/// Queue priority; higher is dequeued first where the queue offers ordering.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
        }
    }

    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Low,
            2.. => Self::High,
            _ => Self::Normal,
        }
    }
}

/// An accepted send call, as the records store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub app_id: AppId,
    pub template_id: TemplateId,
    pub template_version: u32,
    pub channel: ChannelKind,
    pub account_id: AccountId,
    pub priority: Priority,
    pub send_at: Option<Millis>,
    pub expire_at: Option<Millis>,
    pub created_at: Millis,
    /// Message-level variables with sensitive values replaced by [`REDACTED`].
    pub variables: Variables,
    pub deliveries: Vec<Delivery>,
}

/// One receiver of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub receiver: Receiver,
    /// Per-receiver variables (batch sends), sensitive values redacted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: Variables,
}
