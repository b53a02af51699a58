//! The JSON body and headers of a webhook request: what an integrator's endpoint receives.

use herald_domain::Receiver;
use serde::Serialize;
use std::collections::BTreeMap;

/// Header carrying Herald's delivery id: the receiver's dedup key (same on every retry).
pub const HEADER_ID: &str = "herald-id";
/// Header carrying the send time in unix seconds (signed; receivers reject stale ones).
pub const HEADER_TIMESTAMP: &str = "herald-timestamp";
/// Header carrying `v1=<hex hmac>` (see [`super::signature`]); absent without a secret.
pub const HEADER_SIGNATURE: &str = "herald-signature";
/// Response header a receiver may set; Herald records it as the provider request id.
pub const HEADER_REQUEST_ID: &str = "x-request-id";

/// The request body, borrowed from the outbound message so serializing copies nothing twice.
#[derive(Debug, Serialize)]
pub struct WebhookPayload<'a> {
    /// Delivery id (also the `herald-id` header).
    pub id: &'a str,
    pub message_id: &'a str,
    pub app_id: &'a str,
    pub receiver: &'a Receiver,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    pub body: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: &'a BTreeMap<String, String>,
    /// 1-based attempt number, so a receiver can tell a retry from the first try.
    pub attempt: u32,
    /// Unix seconds, equal to the `herald-timestamp` header.
    pub timestamp: i64,
}
