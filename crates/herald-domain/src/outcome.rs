//! What a provider call came to, as classified by the channel's error table.

use serde::{Deserialize, Serialize};

/// The class of a provider's answer; decides the next state of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Outcome {
    /// Done, and the channel has no receipts (webhook 2xx, inbox stored, robot ok).
    Delivered { provider_id: Option<String> },
    /// Handed over; a receipt will say `delivered` or `failed` later.
    Sent { provider_id: Option<String> },
    /// Try again later (5xx, throttling, busy codes), never before `retry_after_ms`.
    Retryable {
        code: String,
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// The request may or may not have arrived (timeout, broken connection after sending):
    /// reconcile with the provider before any resend.
    Unknown { code: String, message: String },
    /// The provider rejected the access token: refresh it and retry once at once.
    TokenExpired { code: String, message: String },
    /// Will never succeed (bad number, unsubscribed, bad template).
    Permanent { code: String, message: String },
}

impl Outcome {
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Delivered { .. } | Self::Sent { .. } => None,
            Self::Retryable { code, .. }
            | Self::Unknown { code, .. }
            | Self::TokenExpired { code, .. }
            | Self::Permanent { code, .. } => Some(code),
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Delivered { .. } | Self::Sent { .. } => None,
            Self::Retryable { message, .. }
            | Self::Unknown { message, .. }
            | Self::TokenExpired { message, .. }
            | Self::Permanent { message, .. } => Some(message),
        }
    }

    pub fn class(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Sent { .. } => "sent",
            Self::Retryable { .. } => "retryable",
            Self::Unknown { .. } => "unknown",
            Self::TokenExpired { .. } => "token_expired",
            Self::Permanent { .. } => "permanent",
        }
    }
}
