//! The channel port: one provider protocol.
//!
//! The dispatcher renders, paces and then hands a channel a batch of messages for one
//! account (size up to [`Channel::max_batch`], so providers with batch APIs — Aliyun
//! SendBatchSms, WeCom's 1,000 users per call — get them). The channel classifies every
//! answer into an [`Outcome`] from its provider's error table; it never retries by itself
//! beyond one token refresh. It must pass the delivery id as the provider's dedup key where
//! one exists, so a redelivered task cannot become a duplicate send.
//! Providers with a receipt query implement [`Channel::poll_receipts`]; the engine calls it for
//! `sent` deliveries whose receipt has not been pushed.

use async_trait::async_trait;
use herald_domain::{Account, AppId, ChannelKind, DeliveryId, MessageId, Outcome, Receiver};
use std::collections::BTreeMap;
use std::time::Duration;

/// Decrypted account secret (JSON). Its `Debug` never prints the value.
#[derive(Clone)]
pub struct SecretValue(pub serde_json::Value);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl SecretValue {
    /// A string field of the secret, e.g. `secret.str("access_key_secret")`.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.as_str())
    }
}

/// An account as a channel needs it: settings plus decrypted secret.
#[derive(Debug, Clone)]
pub struct AccountContext {
    pub account: Account,
    pub secret: Option<SecretValue>,
}

impl AccountContext {
    /// A non-secret setting from the account's config.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.account.config.get(key).and_then(|v| v.as_str())
    }
}

/// Rendered template content in clear (never logged).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderedContent {
    pub title: Option<String>,
    pub body: String,
    pub fields: BTreeMap<String, String>,
}

/// One message for one receiver, ready to send.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub app_id: AppId,
    pub message_id: MessageId,
    /// Herald's delivery id: the provider dedup key (OutId, client_msg_id, apns-id, …).
    pub delivery_id: DeliveryId,
    pub receiver: Receiver,
    pub content: RenderedContent,
    pub attempt: u32,
}

/// The answer for one message of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct SendResult {
    pub outcome: Outcome,
    pub provider_request_id: Option<String>,
    pub latency: Duration,
}

#[async_trait]
pub trait Channel: Send + Sync + 'static {
    fn kind(&self) -> ChannelKind;

    /// Most messages one provider call can carry (1 = no batch API).
    fn max_batch(&self) -> usize {
        1
    }

    /// Sends a batch for one account; returns one result per message, in order.
    async fn send(&self, account: &AccountContext, batch: &[OutboundMessage]) -> Vec<SendResult>;

    /// Drops and refetches the account's access token (after a `TokenExpired` outcome).
    async fn refresh_token(&self, _account: &AccountContext) {}

    /// Asks the provider what became of a send that ended `Unknown`; `None` when the
    /// provider cannot be asked (the delivery then stays `unknown` for an operator).
    async fn reconcile(
        &self,
        _account: &AccountContext,
        _message: &OutboundMessage,
    ) -> Option<Outcome> {
        None
    }

    /// Asks the provider for the receipts of `sent` deliveries that got none pushed
    /// (Aliyun QuerySendDetails). Channels without a receipt query return nothing.
    async fn poll_receipts(
        &self,
        _account: &AccountContext,
        _awaiting: &[AwaitingReceipt],
    ) -> Vec<crate::receipt::ProviderReceipt> {
        Vec::new()
    }
}

/// A delivery handed to a provider that reports receipts, still waiting for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitingReceipt {
    pub app_id: AppId,
    pub account_id: herald_domain::AccountId,
    pub channel: ChannelKind,
    pub delivery_id: DeliveryId,
    pub receiver: String,
    /// The provider's id of the send (the attempt's `provider_request_id`).
    pub provider_id: Option<String>,
    /// When the delivery became `sent`.
    pub sent_at: herald_domain::Millis,
}

/// Looks up an account with its opened secret — for provider callback endpoints that must
/// verify a signature with the account's credentials (WeChat's callback token, …).
#[async_trait]
pub trait AccountDirectory: Send + Sync + 'static {
    async fn account(
        &self,
        app: &herald_domain::AppId,
        id: &herald_domain::AccountId,
    ) -> Option<std::sync::Arc<AccountContext>>;
}
