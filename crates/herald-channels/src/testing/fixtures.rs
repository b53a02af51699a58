//! Accounts, messages and a one-message send, as the channel tests build them.

use herald_domain::{
    Account, AccountId, AppId, ChannelKind, DeliveryId, MessageId, RateLimit, Receiver,
    RetrySchedule,
};
use herald_ports::{
    AccountContext, Channel, OutboundMessage, RenderedContent, SecretValue, SendResult,
};
use serde_json::Value;

/// An enabled account of `channel` with the given config and secret, fresh ids.
pub fn account(channel: ChannelKind, config: Value, secret: Option<Value>) -> AccountContext {
    AccountContext {
        account: Account {
            id: AccountId::generate(),
            app_id: AppId::generate(),
            name: "test".into(),
            channel,
            config,
            rate_limit: RateLimit::default(),
            retry: RetrySchedule::default(),
            enabled: true,
            has_secret: secret.is_some(),
            created_at: 0,
            updated_at: 0,
        },
        secret: secret.map(SecretValue),
    }
}

/// A first-attempt message to `to` with the given rendered content, fresh ids.
pub fn message(
    to: &str,
    title: Option<&str>,
    body: &str,
    fields: &[(&str, &str)],
) -> OutboundMessage {
    OutboundMessage {
        app_id: AppId::generate(),
        message_id: MessageId::generate(),
        delivery_id: DeliveryId::generate(),
        receiver: Receiver::to(to),
        content: RenderedContent {
            title: title.map(str::to_owned),
            body: body.to_owned(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        attempt: 1,
    }
}

/// Sends one message through `channel`, asserting exactly one result comes back.
pub async fn send_one(
    channel: &dyn Channel,
    account: &AccountContext,
    message: &OutboundMessage,
) -> SendResult {
    let mut results = channel.send(account, std::slice::from_ref(message)).await;
    assert_eq!(results.len(), 1, "one result per message");
    results.remove(0)
}

/// Current unix time in seconds (signature timestamps).
pub fn unix_now() -> i64 {
    unix_millis() / 1000
}

/// Current unix time in milliseconds.
pub fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as i64)
        .unwrap_or_default()
}
