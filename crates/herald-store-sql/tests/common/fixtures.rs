//! Builders for this crate's own checks: accept batches and result events.

use herald_domain::task::AttemptLog;
use herald_domain::time::now_ms;
use herald_domain::{
    AccountId, AppId, ChannelKind, Delivery, DeliveryId, DeliveryState, DeliveryTask, EventVersion,
    Message, MessageId, Priority, Receiver, ResultEvent, ResultKind, TaskEnvelope, TemplateId,
    Variables,
};
use herald_ports::{AcceptBatch, IdempotencyEntry};

/// A webhook message accepted now, one delivery per receiver.
pub fn message(app: &AppId, receivers: &[&str]) -> Message {
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
        created_at: now_ms(),
        variables: Variables::new(),
        deliveries: receivers
            .iter()
            .map(|to| Delivery {
                id: DeliveryId::generate(),
                receiver: Receiver::to(*to),
                variables: Variables::new(),
            })
            .collect(),
    }
}

/// The send task of a message's `index`-th delivery, first attempt.
pub fn task(message: &Message, index: usize) -> TaskEnvelope {
    let delivery = &message.deliveries[index];
    TaskEnvelope::DeliveryV1(DeliveryTask {
        app_id: message.app_id.clone(),
        message_id: message.id.clone(),
        delivery_id: delivery.id.clone(),
        template_id: message.template_id.clone(),
        template_version: message.template_version,
        channel: message.channel,
        account_id: message.account_id.clone(),
        receiver: delivery.receiver.clone(),
        variables: Variables::new(),
        attempt: 1,
        not_before: message.created_at,
        expire_at: None,
        priority: Priority::Normal,
        trace: None,
        accepted_at: message.created_at,
    })
}

/// An accept batch of one message with `receivers` deliveries and their tasks.
pub fn accept_batch(app: &AppId, receivers: usize, key: Option<&str>) -> AcceptBatch {
    let names: Vec<String> = (0..receivers)
        .map(|i| format!("https://h.invalid/{i}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let message = message(app, &names);
    let tasks = (0..receivers).map(|i| task(&message, i)).collect();
    let idempotency = key.map(|key| IdempotencyEntry {
        app_id: app.clone(),
        key: key.to_owned(),
        request_hash: format!("hash-of-{}", message.id),
        status: 202,
        response: serde_json::json!({ "message_id": message.id }),
        created_at: now_ms(),
    });
    AcceptBatch {
        app_id: app.clone(),
        messages: vec![message],
        tasks: Some(tasks),
        idempotency,
    }
}

/// A dispatch event of attempt `seq` reaching `state` for a message's `index`-th delivery.
pub fn event(message: &Message, index: usize, seq: u32, state: DeliveryState) -> ResultEvent {
    let version = EventVersion::new(seq, state);
    ResultEvent {
        app_id: message.app_id.clone(),
        message_id: message.id.clone(),
        delivery_id: message.deliveries[index].id.clone(),
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

/// The same event with content.
pub fn with_content(mut event: ResultEvent, content: &str) -> ResultEvent {
    event.content = Some(content.to_owned());
    event
}

/// The same event with an attempt log naming `provider_id`.
pub fn with_provider_id(mut event: ResultEvent, provider_id: &str) -> ResultEvent {
    event.attempt = Some(AttemptLog {
        attempt: event.version.seq,
        at: event.at,
        account_id: AccountId::generate(),
        latency_ms: 12,
        outcome: "sent".into(),
        provider_request_id: Some(provider_id.to_owned()),
        code: Some("OK".into()),
        message: None,
    });
    event
}
