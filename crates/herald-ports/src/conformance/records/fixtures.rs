//! Builders for the records checks: messages as the intake would record them, and result
//! events as the dispatcher and receipt handlers would publish them.

use herald_domain::task::AttemptLog;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, EventVersion, Message,
    MessageId, Millis, Priority, Receiver, ResultEvent, ResultKind, TemplateId,
};

/// A webhook message accepted at `created_at` with one delivery per receiver.
pub fn message(app: &AppId, created_at: Millis, receivers: &[&str]) -> Message {
    Message {
        id: MessageId::generate(),
        app_id: app.clone(),
        template_id: TemplateId::generate(),
        template_version: 1,
        channel: ChannelKind::Webhook,
        account_id: AccountId::generate(),
        priority: Priority::Normal,
        send_at: None,
        expire_at: None,
        created_at,
        variables: [
            ("name".to_string(), serde_json::json!("Ann")),
            ("code".to_string(), serde_json::json!("******")),
        ]
        .into(),
        deliveries: receivers
            .iter()
            .map(|to| Delivery {
                id: DeliveryId::generate(),
                receiver: Receiver::to(*to),
                variables: Default::default(),
            })
            .collect(),
    }
}

/// The `index`-th delivery id of a message.
pub fn dlv(message: &Message, index: usize) -> DeliveryId {
    message.deliveries[index].id.clone()
}

/// A dispatch event for attempt `seq` reaching `state`.
pub fn event(
    message: &Message,
    delivery: &DeliveryId,
    seq: u32,
    state: DeliveryState,
) -> ResultEvent {
    let version = EventVersion::new(seq, state);
    ResultEvent {
        app_id: message.app_id.clone(),
        message_id: message.id.clone(),
        delivery_id: delivery.clone(),
        version,
        state,
        kind: ResultKind::Dispatch,
        at: message.created_at + version.as_u64() as i64,
        code: None,
        detail: None,
        next_at: None,
        content: None,
        attempt: None,
    }
}

/// The same event carrying rendered content.
pub fn with_content(mut event: ResultEvent, content: &str) -> ResultEvent {
    event.content = Some(content.to_string());
    event
}

/// The same event carrying the log of its attempt.
pub fn with_attempt(mut event: ResultEvent, outcome: &str) -> ResultEvent {
    event.attempt = Some(attempt_log(&event, outcome));
    event
}

pub fn attempt_log(event: &ResultEvent, outcome: &str) -> AttemptLog {
    AttemptLog {
        attempt: event.version.seq,
        at: event.at,
        account_id: AccountId::from_trusted("acc_01jconformance0000000000000"),
        latency_ms: 40 + u64::from(event.version.seq),
        outcome: outcome.to_string(),
        provider_request_id: Some(format!("req-{}", event.version.seq)),
        code: Some(format!("code-{}", event.version.seq)),
        message: Some("provider said so".into()),
    }
}
